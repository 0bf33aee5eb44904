//! Hostile input through the real handler against moto: every bad request is answered with
//! its documented status and code and leaves S3 and SQS untouched; verified requests with
//! hostile (unsigned) thumbnail headers are stored under a safe key inside the prefix.
//! All log output of the suite is captured and must never contain a secret.

use std::sync::{Arc, Mutex};

use crate::support::*;
use lambda_http::Request;
use millicast_webhook_relay::events;
use millicast_webhooks::samples::{self, SAMPLE_JPEG};

const MAX_BODY: usize = 65_536;

/// What a case must produce.
enum Expect {
    /// Rejected with this status and error code; nothing written.
    Rejected(u16, &'static str),
    /// Accepted as a JSON event: the body is on the queue.
    Forwarded,
    /// Accepted as a thumbnail: stored inside the prefix, with these account/stream segments.
    Stored(&'static str, &'static str),
}

struct Case {
    name: String,
    request: Request,
    expect: Expect,
}

fn signed(method: &str, content_type: &str, body: &[u8], secret: &str, binary: bool) -> Request {
    let signature = sign(secret, body);
    function_url_request(
        method,
        &[
            ("content-type", content_type),
            ("x-millicast-signature", &signature),
        ],
        body,
        binary,
    )
}

fn with_signature(signature: &str, body: &[u8]) -> Request {
    function_url_request(
        "POST",
        &[
            ("content-type", "application/json"),
            ("x-millicast-signature", signature),
        ],
        body,
        false,
    )
}

fn json(body: &str) -> Request {
    signed("POST", "application/json", body.as_bytes(), SECRET, false)
}

fn thumbnail(image: &[u8], headers: &[(&str, &str)]) -> Request {
    thumbnail_request(image, headers, SECRET)
}

fn case(name: impl Into<String>, request: Request, expect: Expect) -> Case {
    Case {
        name: name.into(),
        request,
        expect,
    }
}

fn signature_cases(now: i64) -> Vec<Case> {
    use Expect::Rejected;
    let body = samples::json_sample("feeds-started", now).unwrap();
    let good = sign(SECRET, body.as_bytes());
    let digits = &good[5..];
    let b = body.as_bytes();
    let text_key = {
        use hmac::{KeyInit, Mac};
        let mut mac =
            <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(b);
        format!("sha1={}", hex::encode(mac.finalize().into_bytes()))
    };
    let flipped = |index: usize| {
        let mut copy = b.to_vec();
        copy[index] ^= 0x20;
        with_signature(&good, &copy)
    };
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&body).unwrap())
            .unwrap();
    let malformed = |name: &str, value: String| {
        case(
            name,
            with_signature(&value, b),
            Rejected(401, "malformed_signature"),
        )
    };
    let invalid =
        |name: &str, request: Request| case(name, request, Rejected(401, "invalid_signature"));
    vec![
        case(
            "no signature header",
            function_url_request("POST", &[("content-type", "application/json")], b, false),
            Rejected(401, "missing_signature"),
        ),
        malformed("empty signature", String::new()),
        malformed("blank signature", "   ".into()),
        case(
            "two signature headers",
            function_url_request(
                "POST",
                &[
                    ("content-type", "application/json"),
                    ("x-millicast-signature", &good),
                    ("X-Millicast-Signature", &good),
                ],
                b,
                false,
            ),
            Rejected(401, "malformed_signature"),
        ),
        malformed("prefix only", "sha1=".into()),
        malformed("39 hex digits", format!("sha1={}", &digits[..39])),
        malformed("41 hex digits", format!("sha1={digits}a")),
        malformed("38 hex digits", format!("sha1={}", &digits[..38])),
        malformed("non-hex digit", format!("sha1={}z", &digits[..39])),
        malformed("uppercase prefix", format!("SHA1={digits}")),
        malformed("sha256 algorithm", format!("sha256={}", "ab".repeat(32))),
        malformed("md5 algorithm", format!("md5={}", &digits[..32])),
        malformed("space before =", format!("sha1 ={digits}")),
        malformed("0x prefix", format!("sha1=0x{}", &digits[..38])),
        malformed("trailing parameter", format!("sha1={digits};v=1")),
        malformed("bare hex", digits.to_owned()),
        malformed("base64 digest", "sha1=3f6OI6jAbmxSKmfVD+dBIoP2U/k=".into()),
        invalid(
            "signature of another body",
            with_signature(&sign(SECRET, b"{}"), b),
        ),
        invalid("keyed with the base64 text", with_signature(&text_key, b)),
        invalid("first byte flipped", flipped(0)),
        invalid("middle byte flipped", flipped(b.len() / 2)),
        invalid("last byte flipped", flipped(b.len() - 1)),
        invalid("truncated body", with_signature(&good, &b[..b.len() - 1])),
        invalid(
            "trailing newline",
            with_signature(&good, format!("{body}\n").as_bytes()),
        ),
        invalid(
            "re-serialized JSON",
            with_signature(&good, pretty.as_bytes()),
        ),
        invalid(
            "all-zero signature",
            with_signature(&format!("sha1={}", "0".repeat(40)), b),
        ),
        invalid("wrong secret", json_webhook(&body, OTHER_SECRET)),
        invalid(
            "previous secret not configured",
            json_webhook(&body, PREVIOUS_SECRET),
        ),
        invalid("image signed with the wrong secret", {
            let signature = sign(OTHER_SECRET, SAMPLE_JPEG);
            function_url_request(
                "POST",
                &[
                    ("content-type", "image/jpeg"),
                    ("x-millicast-signature", &signature),
                ],
                SAMPLE_JPEG,
                true,
            )
        }),
        case(
            "uppercase hex digits verify",
            with_signature(&format!("sha1={}", digits.to_ascii_uppercase()), b),
            Expect::Forwarded,
        ),
    ]
}

fn size_and_method_cases(now: i64) -> Vec<Case> {
    use Expect::Rejected;
    let body = samples::json_sample("media-completed", now).unwrap();
    let over: Vec<u8> = SAMPLE_JPEG
        .iter()
        .copied()
        .cycle()
        .take(MAX_BODY + 1)
        .collect();
    // A valid event of exactly MAX_BODY bytes.
    let prefix =
        format!(r#"{{"type":"media","event":"completed","timestamp":{now},"data":{{"pad":""#);
    let exact = format!("{prefix}{}\"}}}}", "p".repeat(MAX_BODY - prefix.len() - 3));
    assert_eq!(exact.len(), MAX_BODY);
    let mut cases = vec![
        case(
            "one byte over the limit, signed",
            signed("POST", "image/jpeg", &over, SECRET, true),
            Rejected(413, "payload_too_large"),
        ),
        case(
            "over the limit, unsigned",
            function_url_request("POST", &[("content-type", "image/jpeg")], &over, true),
            Rejected(413, "payload_too_large"),
        ),
        case("exactly the limit", json(&exact), Expect::Forwarded),
        case("empty body", json(""), Rejected(400, "malformed_event")),
    ];
    for method in ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"] {
        cases.push(case(
            format!("{method} method"),
            signed(method, "application/json", body.as_bytes(), SECRET, false),
            Rejected(405, "method_not_allowed"),
        ));
    }
    cases
}

fn shape_cases() -> Vec<Case> {
    let malformed = |name: &str, request: Request| {
        case(name, request, Expect::Rejected(400, "malformed_event"))
    };
    let nested_array = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let nested_object = format!(
        r#"{{"type":"feeds","data":{}0{}}}"#,
        r#"{"a":"#.repeat(10_000),
        "}".repeat(10_000)
    );
    vec![
        malformed("array", json(r#"[{"type":"feeds"}]"#)),
        malformed("string", json(r#""feeds""#)),
        malformed("number", json("42")),
        malformed("null", json("null")),
        malformed("no type", json(r#"{"event":"started","timestamp":1}"#)),
        malformed("type is a number", json(r#"{"type":5}"#)),
        malformed("type is null", json(r#"{"type":null}"#)),
        malformed("type is an object", json(r#"{"type":{"name":"feeds"}}"#)),
        malformed("type is an array", json(r#"{"type":["feeds"]}"#)),
        malformed("10,000 nested arrays", json(&nested_array)),
        malformed("10,000 nested objects in data", json(&nested_object)),
        malformed(
            "duplicate type keys",
            json(r#"{"type":"feeds","type":"media"}"#),
        ),
        malformed(
            "invalid UTF-8",
            signed(
                "POST",
                "application/json",
                b"{\"type\":\"fe\xffds\"}",
                SECRET,
                true,
            ),
        ),
        malformed(
            "trailing garbage",
            json(r#"{"type":"feeds"} {"type":"media"}"#),
        ),
        malformed("byte order mark", json("\u{feff}{\"type\":\"feeds\"}")),
        malformed("plain text", json("hello")),
        malformed("XML", json("<type>feeds</type>")),
        malformed(
            "form body",
            signed(
                "POST",
                "application/x-www-form-urlencoded",
                b"type=feeds&event=started",
                SECRET,
                true,
            ),
        ),
        malformed(
            "image content type without subtype",
            signed("POST", "image/", b"{}", SECRET, false),
        ),
    ]
}

fn timestamp_cases(now: i64) -> Vec<Case> {
    let stale = |name: &str, timestamp: String| {
        let body = format!(
            r#"{{"type":"feeds","event":"started","timestamp":{timestamp},"data":{{"streamId":"a/b"}}}}"#
        );
        case(name, json(&body), Expect::Rejected(401, "stale_timestamp"))
    };
    vec![
        case(
            "no timestamp",
            json(r#"{"type":"feeds","event":"started","data":{}}"#),
            Expect::Rejected(401, "stale_timestamp"),
        ),
        stale("negative timestamp", "-1".into()),
        stale("huge timestamp", "9223372036854775807".into()),
        stale("beyond i64", "99999999999999999999".into()),
        stale("timestamp as a string", format!("\"{now}\"")),
        stale("timestamp as a float", format!("{now}.5")),
        stale("timestamp null", "null".into()),
        stale("400 s old", (now - 400_000).to_string()),
        stale("400 s ahead", (now + 400_000).to_string()),
        stale("seconds, not milliseconds", (now / 1000).to_string()),
        // A thumbnail's capture time in digits beyond a signed 64-bit number: not a value the
        // announcement's `timestamp` could carry (it is refused before anything is written).
        case(
            "overflowing thumbnail timestamp header",
            thumbnail(
                SAMPLE_JPEG,
                &[
                    ("x-millicast-timestamp", "99999999999999999999999"),
                    ("x-millicast-stream-id", "acct/stream"),
                ],
            ),
            Expect::Rejected(400, "invalid_thumbnail_timestamp"),
        ),
    ]
}

fn thumbnail_cases() -> Vec<Case> {
    use Expect::Stored;
    let long = "x".repeat(10 * 1024);
    let mut n = 0u8;
    let mut unique = move || {
        // Each image differs (a trailing byte) so that each is stored under its own key.
        n += 1;
        let mut image = SAMPLE_JPEG.to_vec();
        image.push(n);
        image
    };
    let stored = |name: &str,
                  image: Vec<u8>,
                  headers: &[(&str, &str)],
                  account: &'static str,
                  stream: &'static str| {
        case(name, thumbnail(&image, headers), Stored(account, stream))
    };
    let ts = ("x-millicast-timestamp", "1638463486489");
    vec![
        stored(
            "stream id ../../etc",
            unique(),
            &[ts, ("x-millicast-stream-id", "../../etc")],
            "_unknown",
            "_unknown",
        ),
        stored(
            "stream id acct/../../x",
            unique(),
            &[ts, ("x-millicast-stream-id", "acct/../../x")],
            "acct",
            "_unknown",
        ),
        stored(
            "absolute stream id",
            unique(),
            &[ts, ("x-millicast-stream-id", "/etc/passwd")],
            "_unknown",
            "_unknown",
        ),
        stored(
            "10 KB stream id",
            unique(),
            &[ts, ("x-millicast-stream-id", &format!("acct/{long}"))],
            "acct",
            "_unknown",
        ),
        stored(
            "percent-encoded dots",
            unique(),
            &[ts, ("x-millicast-stream-id", "%2e%2e/%2e%2e")],
            "_unknown",
            "_unknown",
        ),
        stored(
            "fullwidth solidus look-alike",
            unique(),
            &[ts, ("x-millicast-stream-id", "acct\u{ff0f}stream")],
            "_unknown",
            "_unknown",
        ),
        stored(
            "Cyrillic look-alike",
            unique(),
            &[ts, ("x-millicast-stream-id", "acct/str\u{0435}am")],
            "acct",
            "_unknown",
        ),
        stored(
            "dot segments",
            unique(),
            &[ts, ("x-millicast-stream-id", "./.")],
            "_unknown",
            "_unknown",
        ),
        stored(
            "extra segment",
            unique(),
            &[ts, ("x-millicast-stream-id", "acct/stream/extra")],
            "acct",
            "_unknown",
        ),
        stored(
            "duplicated stream id headers",
            unique(),
            &[
                ts,
                ("x-millicast-stream-id", "a/b"),
                ("x-millicast-stream-id", "c/d"),
            ],
            "a",
            "_unknown",
        ),
        stored("no stream id", unique(), &[ts], "_unknown", "_unknown"),
        stored(
            "no timestamp header",
            unique(),
            &[("x-millicast-stream-id", "acct/stream")],
            "acct",
            "stream",
        ),
        stored(
            "timestamp not a number",
            unique(),
            &[
                ("x-millicast-timestamp", "soon"),
                ("x-millicast-stream-id", "acct/stream"),
            ],
            "acct",
            "stream",
        ),
        stored(
            "negative timestamp header",
            unique(),
            &[
                ("x-millicast-timestamp", "-5"),
                ("x-millicast-stream-id", "acct/stream"),
            ],
            "acct",
            "stream",
        ),
        // A capture time far ahead of the clock is stored under the receive time, never
        // becoming latest.jpg (relay_moto.rs tests latest.jpg).
        stored(
            "timestamp far in the future",
            unique(),
            &[
                ("x-millicast-timestamp", "99999999999999"),
                ("x-millicast-stream-id", "acct/stream"),
            ],
            "acct",
            "stream",
        ),
        stored(
            "account only",
            unique(),
            &[ts, ("x-millicast-stream-id", "acct")],
            "acct",
            "_unknown",
        ),
    ]
}

#[tokio::test]
async fn unsigned_content_types_cannot_make_a_stored_image_active_content() {
    // Content-Type is not signed: a replayed image relabelled as SVG or HTML-ish must not be
    // stored with a type a browser would run.
    let fixture = Fixture::new(false).await;
    let relay = fixture
        .relay(&fixture.config(&[("THUMBNAIL_EVENTS", "false"), ("THUMBNAIL_LATEST", "false")]));
    let cases = [
        ("image/svg+xml", "application/octet-stream"),
        ("image/jpeg; charset=x", "image/jpeg"),
        ("IMAGE/PNG", "image/png"),
        ("image/webp", "image/webp"),
        ("image/x-unknown", "application/octet-stream"),
    ];
    for (n, (sent, stored)) in cases.iter().enumerate() {
        let mut image = SAMPLE_JPEG.to_vec();
        image.push(n as u8);
        let signature = sign(SECRET, &image);
        let request = function_url_request(
            "POST",
            &[
                ("content-type", sent),
                ("x-millicast-signature", &signature),
            ],
            &image,
            true,
        );
        assert_eq!(
            status_and_body(&relay.handle(request).await).0,
            200,
            "{sent}"
        );
        let objects = fixture.objects().await;
        let object = objects.iter().find(|o| o.body == image).unwrap();
        assert_eq!(object.content_type.as_deref(), Some(*stored), "{sent}");
    }
}

/// A writer for the tracing subscriber that keeps everything in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn every_hostile_request_is_answered_as_documented() {
    // Everything the relay logs through `tracing` during the suite, at every level.
    let traced = Captured::default();
    let writer = traced.clone();
    let subscriber = lambda_http::tracing::subscriber::fmt()
        .json()
        .with_max_level(lambda_http::tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = lambda_http::tracing::dispatcher::set_default(
        &lambda_http::tracing::Dispatch::new(subscriber),
    );

    let fixture = Fixture::new(false).await;
    let log = CapturedLog::default();
    let config = fixture.config(&[
        ("MAX_BODY_BYTES", &MAX_BODY.to_string()),
        ("WEBHOOK_SECRET_PREVIOUS", ""),
    ]);
    let relay = fixture.relay(&config).with_log_sink(log.sink());

    let now = now_ms();
    let mut cases = signature_cases(now);
    cases.extend(size_and_method_cases(now));
    cases.extend(shape_cases());
    cases.extend(timestamp_cases(now));
    cases.extend(thumbnail_cases());
    let total = cases.len();
    assert!(total >= 60, "only {total} cases");

    let mut keys_seen = 0;
    for Case {
        name,
        request,
        expect,
    } in cases
    {
        let response = relay.handle(request).await;
        let (status, answer) = status_and_body(&response);
        match expect {
            Expect::Rejected(expected_status, code) => {
                assert_eq!(
                    (status, answer),
                    (expected_status, serde_json::json!({ "error": code })),
                    "{name}"
                );
                // A well-formed signature that matches no secret, and a verified event
                // outside the replay window, are kept in quarantine (and never forwarded);
                // every other rejection writes nothing at all.
                let quarantined =
                    usize::from(matches!(code, "invalid_signature" | "stale_timestamp"));
                for kept in fixture.take_quarantined(&name, quarantined).await {
                    assert_quarantine_key_is_safe(&kept.key, &name);
                }
            }
            Expect::Forwarded => {
                assert_eq!(status, 200, "{name}: {answer}");
                assert_eq!(fixture.messages().await.len(), 1, "{name}");
            }
            Expect::Stored(account, stream) => {
                assert_eq!(
                    (status, answer),
                    (200, serde_json::json!({"status": "stored"})),
                    "{name}"
                );
                let objects = fixture.objects().await;
                let new: Vec<&StoredObject> = objects
                    .iter()
                    .filter(|o| !o.key.ends_with("latest.jpg"))
                    .collect();
                keys_seen += 1;
                assert_eq!(new.len(), keys_seen, "{name}");
                let folder = format!("thumbnails/{account}/{stream}/");
                let object = new.iter().find(|o| {
                    o.key.starts_with(&folder)
                        && o.metadata
                            .get("sha256")
                            .is_some_and(|h| *h == sha256_hex(&o.body))
                });
                let object = object.unwrap_or_else(|| {
                    panic!(
                        "{name}: no object under {folder}: {:?}",
                        new.iter().map(|o| &o.key).collect::<Vec<_>>()
                    )
                });
                for key in objects.iter().map(|o| o.key.as_str()) {
                    assert_key_is_safe(key, &name);
                }
                assert!(object.key.ends_with(".jpg"));
                fixture.messages().await; // the "stored" announcement
            }
        }
    }
    eprintln!("hostile suite: {total} cases answered as documented");

    // No secret, in any form, reached any log output.
    let mut output = String::from_utf8(traced.0.lock().unwrap().clone()).unwrap();
    output.push_str(&log.0.lock().unwrap().join("\n"));
    assert!(
        output.contains("webhook"),
        "the capture saw the relay's records"
    );
    for secret in [SECRET, PREVIOUS_SECRET, OTHER_SECRET] {
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(secret)
            .unwrap();
        assert!(!output.contains(secret), "base64 secret logged");
        assert!(
            !output.contains(&hex::encode(&decoded)),
            "hex secret logged"
        );
        if let Ok(text) = std::str::from_utf8(&decoded) {
            assert!(!output.contains(text), "decoded secret logged");
        }
    }
    assert!(!output.contains("/9j/"), "image bytes (base64 JPEG) logged");
}

fn assert_key_is_safe(key: &str, case: &str) {
    let rest = key
        .strip_prefix("thumbnails/")
        .unwrap_or_else(|| panic!("{case}: {key} is outside the prefix"));
    let segments: Vec<&str> = rest.split('/').collect();
    assert_eq!(segments.len(), 3, "{case}: {key}");
    for segment in segments {
        assert!(
            !segment.is_empty() && segment != "." && segment != "..",
            "{case}: {key}"
        );
        assert!(
            segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b)),
            "{case}: {key}"
        );
    }
}

/// `quarantine/{yyyy}/{mm}/{dd}/{receivedMs}-{sha256}-{deliveryId}`: nothing from the request
/// but its hash (the delivery id is the invocation's).
fn assert_quarantine_key_is_safe(key: &str, case: &str) {
    let rest = key
        .strip_prefix("quarantine/")
        .unwrap_or_else(|| panic!("{case}: {key} is outside quarantine/"));
    let segments: Vec<&str> = rest.split('/').collect();
    assert_eq!(segments.len(), 4, "{case}: {key}");
    let (received, rest) = segments[3]
        .split_once('-')
        .expect("receivedMs-sha256-delivery");
    let (sha256, delivery) = rest.split_once('-').expect("sha256-deliveryId");
    assert!(
        !delivery.is_empty()
            && delivery
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        "{case}: {key}"
    );
    assert!(
        received.bytes().all(|b| b.is_ascii_digit()),
        "{case}: {key}"
    );
    assert_eq!(sha256.len(), 64, "{case}: {key}");
    assert!(
        sha256.bytes().all(|b| b.is_ascii_hexdigit()),
        "{case}: {key}"
    );
}

#[test]
fn header_values_with_control_characters_never_reach_the_handler() {
    // HTTP forbids them, and lambda_http refuses such an event before any handler runs,
    // so the relay cannot be handed a NUL or a line break in a thumbnail header.
    for value in ["acct/../../x\n", "acct/na\0me", "a\r\nX-Injected: 1"] {
        let event =
            events::function_url_event("POST", &[("x-millicast-stream-id", value)], b"x", false);
        assert!(
            lambda_http::request::from_str(&event.to_string()).is_err(),
            "{value:?}"
        );
    }
}
