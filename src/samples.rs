//! Realistic sample webhooks, as the platform sends them: the one source for `relayctl send`,
//! the committed `events/` files and the tests.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::signature::sign;

/// MILLICAST.md's documented test secret (base64).
pub const TEST_SECRET: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
/// A secret the relay is not configured with, for the `wrong-secret` sample.
pub const WRONG_SECRET: &str = "c29tZWJvZHktZWxzZXMtc2VjcmV0";
/// The time stamped into the committed `events/` files: the documented example's, so that
/// `events/feeds-started.json` carries exactly the documented test vector.
pub const SAMPLE_TIME_MS: i64 = 1_638_463_486_489;
/// A small real JPEG (160x90).
pub const SAMPLE_JPEG: &[u8] = include_bytes!("../samples/thumbnail.jpg");
pub const SAMPLE_STREAM_ID: &str = "ZG6NWV/sample_stream";
pub const SAMPLE_FEED_ID: &str = "369e4a86-f937-4254-bd9f-99dc484d2bd6";
pub const SAMPLE_TOKEN_ID: &str = "142366";

/// Names of the built-in JSON samples: one per documented hook type and event.
pub const JSON_SAMPLES: &[&str] = &[
    "feeds-started",
    "feeds-ended",
    "recordings-started",
    "recordings-completed",
    "recordings-error",
    "recordings-deleted",
    "media-processing",
    "media-completed",
    "media-errored",
    "media-deleted",
    "transcoder-active",
    "transcoder-stopped",
    "transcoder-deleted",
    "viewer-attempt",
    "first-viewer-connection",
    "no-active-viewers",
];

/// The body of the JSON sample `name` stamped with `ts` (epoch ms), exactly as the platform
/// would serialize it (compact, documented field order).
pub fn json_sample(name: &str, ts: i64) -> Option<String> {
    let feed = |event: &str, extra: &str| {
        format!(
            r#"{{"type":"feeds","event":"{event}","timestamp":{ts},"data":{{"feedId":"{SAMPLE_FEED_ID}","accountId":"ZG6NWV","name":"sample_stream","streamId":"{SAMPLE_STREAM_ID}",{extra}}}}}"#
        )
    };
    let recording = |event: &str, extra: &str| {
        format!(
            r#"{{"type":"recordings","event":"{event}","timestamp":{ts},"data":{{"recordFileId":7975,"tokenId":{SAMPLE_TOKEN_ID},"streamName":"sample_stream","recordedOn":{}{extra}}}}}"#,
            ts - 152
        )
    };
    let media = |event: &str| {
        format!(
            r#"{{"type":"media","event":"{event}","timestamp":{ts},"data":{{"mediaAssetId":"e0ca421e3ee748629d073b6991d4d93d","tokenId":{SAMPLE_TOKEN_ID},"streamName":"sample_stream","streamId":"{SAMPLE_STREAM_ID}","startTime":{},"metadata":{{}},"type":"clip","expiration":{}}}}}"#,
            ts - 468_904,
            ts + 8_640_000_000
        )
    };
    let transcoder = |event: &str, status: &str| {
        format!(
            r#"{{"type":"transcoder","event":"{event}","timestamp":{ts},"data":{{"transcoderId":"fddcbce0-1a2b-4c3d-9e8f-0a1b2c3d4e5f","transcoderName":"sample_transcoder","cluster":"lon-1","createdOn":"2024-08-29T00:00:00Z","status":"{status}"}}}}"#
        )
    };
    let viewer = |event: &str| {
        format!(
            r#"{{"type":"viewerConnection","event":"{event}","timestamp":{ts},"data":{{"name":"sample_stream","accountId":"ZG6NWV","streamId":"{SAMPLE_STREAM_ID}"}}}}"#
        )
    };
    let body = match name {
        "feeds-started" => feed(
            "started",
            &format!(r#""started":{},"active":true"#, ts - 130),
        ),
        "feeds-ended" => feed("ended", &format!(r#""active":false,"ended":{}"#, ts - 112)),
        "recordings-started" => recording("started", ""),
        "recordings-completed" => recording(
            "completed",
            r#","metadata":{"format":"mp4","sizes":{"concat":7340032,"dash":0,"thumbnails":20480},"duration":61.2,"tracks":[{"type":"video","codec":"h264","bitrate":2500000,"width":1280,"height":720,"framerate":30},{"type":"audio","codec":"opus","bitrate":64000,"channels":2,"samplerate":48000}]}"#,
        ),
        "recordings-error" => recording("error", ""),
        "recordings-deleted" => recording("deleted", ""),
        "media-processing" => media("processing"),
        "media-completed" => media("completed"),
        "media-errored" => media("errored"),
        "media-deleted" => media("deleted"),
        "transcoder-active" => transcoder("ACTIVE", "Active"),
        "transcoder-stopped" => transcoder("STOPPED", "Shutdown"),
        "transcoder-deleted" => transcoder("DELETED", "Deleted"),
        "viewer-attempt" => viewer("ViewerAttempt"),
        "first-viewer-connection" => viewer("FirstViewerConnection"),
        "no-active-viewers" => viewer("NoActiveViewers"),
        _ => return None,
    };
    Some(body)
}

/// The headers the platform sends with a thumbnail (signature excluded).
pub fn thumbnail_headers(stream_id: &str, ts: i64) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "image/jpeg".to_owned()),
        ("x-millicast-timestamp", ts.to_string()),
        ("x-millicast-feed-id", SAMPLE_FEED_ID.to_owned()),
        ("x-millicast-stream-id", stream_id.to_owned()),
        ("x-millicast-token-id", SAMPLE_TOKEN_ID.to_owned()),
    ]
}

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
    fn feeds_started_sample_is_the_documented_vector() {
        let body = json_sample("feeds-started", SAMPLE_TIME_MS).unwrap();
        assert_eq!(
            body,
            r#"{"type":"feeds","event":"started","timestamp":1638463486489,"data":{"feedId":"369e4a86-f937-4254-bd9f-99dc484d2bd6","accountId":"ZG6NWV","name":"sample_stream","streamId":"ZG6NWV/sample_stream","started":1638463486359,"active":true}}"#
        );
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
    fn every_sample_is_a_valid_envelope_of_its_type() {
        for name in JSON_SAMPLES {
            let body = json_sample(name, 1).unwrap();
            let envelope = crate::event::Envelope::parse(body.as_bytes()).unwrap();
            let expected_kind = match name.split('-').next().unwrap() {
                "viewer" | "first" | "no" => "viewerConnection",
                kind => kind,
            };
            assert_eq!(envelope.kind, expected_kind, "{name}");
            assert_eq!(envelope.timestamp_ms, Some(1));
            assert!(
                !matches!(
                    crate::model::WebhookEvent::parse(body.as_bytes()).unwrap(),
                    crate::model::WebhookEvent::Unknown(_)
                ),
                "{name} should match the typed model"
            );
        }
        assert_eq!(json_sample("nope", 1), None);
    }

    #[test]
    fn sample_events_parse_as_function_url_requests() {
        for file in event_files() {
            let request = lambda_http::request::from_str(&file.event.to_string()).unwrap();
            assert_eq!(request.uri().path(), "/", "{}", file.file_name);
        }
    }
}
