//! Function-URL request events (payload format 2.0) built from the platform's sample webhooks:
//! the one source for `relayctl send` and `relayctl events`, the committed `events/` files, the
//! benchmarks and the tests.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use millicast_webhooks::samples::{
    JSON_SAMPLES, SAMPLE_JPEG, SAMPLE_STREAM_ID, SAMPLE_TIME_MS, TEST_SECRET, WRONG_SECRET,
    json_sample, thumbnail_headers,
};
use millicast_webhooks::sign;
use serde_json::{Value, json};

/// A function-URL request event (payload format 2.0) as AWS delivers it to the function:
/// header names in lower case, repeated headers joined by commas, and a body that is
/// base64-encoded when `binary` (as AWS does for non-text content types).
pub fn function_url_event(
    method: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    binary: bool,
) -> Value {
    let mut header_map = serde_json::Map::new();
    header_map.insert(
        "host".into(),
        "abcdefghij.lambda-url.us-east-1.on.aws".into(),
    );
    header_map.insert("user-agent".into(), "Millicast-Webhooks/1.0".into());
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        let joined = match header_map.get(&name).and_then(Value::as_str) {
            Some(existing) => format!("{existing},{value}"),
            None => (*value).to_owned(),
        };
        header_map.insert(name, joined.into());
    }
    let body = if binary {
        STANDARD.encode(body)
    } else {
        String::from_utf8_lossy(body).into_owned()
    };
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": header_map,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghij",
            "domainName": "abcdefghij.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefghij",
            "http": {
                "method": method,
                "path": "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "Millicast-Webhooks/1.0"
            },
            "requestId": "2a1c5e2d-0b4f-4f4e-9d51-5d3b1f6a8c70",
            "routeKey": "$default",
            "stage": "$default",
            "time": "02/Dec/2021:16:44:46 +0000",
            "timeEpoch": SAMPLE_TIME_MS
        },
        "body": body,
        "isBase64Encoded": binary
    })
}

/// One committed file of `events/` and what the relay answers to it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventFile {
    pub file_name: String,
    pub event: Value,
    pub status: u16,
    /// The `error` code of a rejection.
    pub error: Option<&'static str>,
    /// Whether the answer holds with the replay window off (`REPLAY_WINDOW_SECONDS=0`, as for
    /// all fixed-time samples) rather than with the default window.
    pub window_off: bool,
}

fn signed_json_event(body: &str, secret_b64: &str) -> Value {
    let secret = STANDARD.decode(secret_b64).unwrap_or_default();
    let signature = sign(&secret, body.as_bytes());
    function_url_event(
        "POST",
        &[
            ("content-type", "application/json"),
            ("x-millicast-signature", &signature),
        ],
        body.as_bytes(),
        false,
    )
}

/// Every file of `events/`, generated from the samples above with [`TEST_SECRET`].
pub fn event_files() -> Vec<EventFile> {
    let ok = |file_name: String, event: Value| EventFile {
        file_name,
        event,
        status: 200,
        error: None,
        window_off: true,
    };
    let rejected =
        |file_name: &str, event: Value, status: u16, error: &'static str, window_off: bool| {
            EventFile {
                file_name: file_name.to_owned(),
                event,
                status,
                error: Some(error),
                window_off,
            }
        };
    let mut files: Vec<EventFile> = JSON_SAMPLES
        .iter()
        .filter_map(|name| {
            let body = json_sample(name, SAMPLE_TIME_MS)?;
            Some(ok(
                format!("{name}.json"),
                signed_json_event(&body, TEST_SECRET),
            ))
        })
        .collect();

    let secret = STANDARD.decode(TEST_SECRET).unwrap_or_default();
    let thumbnail_signature = sign(&secret, SAMPLE_JPEG);
    let mut headers = thumbnail_headers(SAMPLE_STREAM_ID, SAMPLE_TIME_MS);
    headers.push(("x-millicast-signature", thumbnail_signature));
    let header_refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    files.push(ok(
        "thumbnail.json".into(),
        function_url_event("POST", &header_refs, SAMPLE_JPEG, true),
    ));

    let feeds = json_sample("feeds-started", SAMPLE_TIME_MS).unwrap_or_default();
    let mut bad_signature = sign(&secret, feeds.as_bytes());
    let flipped = if bad_signature.ends_with('0') {
        '1'
    } else {
        '0'
    };
    bad_signature.pop();
    bad_signature.push(flipped);
    files.push(rejected(
        "invalid-signature.json",
        function_url_event(
            "POST",
            &[
                ("content-type", "application/json"),
                ("x-millicast-signature", &bad_signature),
            ],
            feeds.as_bytes(),
            false,
        ),
        401,
        "invalid_signature",
        true,
    ));
    files.push(rejected(
        "wrong-secret.json",
        signed_json_event(&feeds, WRONG_SECRET),
        401,
        "invalid_signature",
        true,
    ));
    files.push(rejected(
        "missing-signature.json",
        function_url_event(
            "POST",
            &[("content-type", "application/json")],
            feeds.as_bytes(),
            false,
        ),
        401,
        "missing_signature",
        true,
    ));
    files.push(rejected(
        "stale-timestamp.json",
        signed_json_event(&feeds, TEST_SECRET),
        401,
        "stale_timestamp",
        false,
    ));
    files.push(rejected(
        "get-request.json",
        function_url_event("GET", &[], b"", false),
        405,
        "method_not_allowed",
        true,
    ));
    files.push(rejected(
        "malformed-event.json",
        signed_json_event(r#"[{"type":"feeds","event":"started"}]"#, TEST_SECRET),
        400,
        "malformed_event",
        true,
    ));
    files
}

/// The text of an event file as committed (pretty JSON, trailing newline).
pub fn event_file_text(file: &EventFile) -> String {
    let mut text = serde_json::to_string_pretty(&file.event).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feeds_started_event_file_carries_the_documented_signature() {
        let files = event_files();
        let file = files
            .iter()
            .find(|f| f.file_name == "feeds-started.json")
            .unwrap();
        assert_eq!(
            file.event["headers"]["x-millicast-signature"],
            "sha1=dfde8e23a8c06e6c522a67d50fe7412283f653f9"
        );
    }

    #[test]
    fn sample_events_parse_as_function_url_requests() {
        for file in event_files() {
            let request = lambda_http::request::from_str(&file.event.to_string()).unwrap();
            assert_eq!(request.uri().path(), "/", "{}", file.file_name);
        }
    }
}
