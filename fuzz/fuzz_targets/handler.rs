//! The whole handler with in-memory adapters: random method, headers and body. It never
//! panics, answers only documented statuses, and writes nothing for a rejected request but
//! its quarantine object (a well-formed signature of an unknown secret).
#![no_main]

use std::sync::{Arc, OnceLock};

use lambda_http::http::{Method, Request};
use lambda_http::Body;
use libfuzzer_sys::fuzz_target;
use millicast_webhook_relay::ports::memory::{MemoryQueue, MemoryStore};
use millicast_webhook_relay::relay::secrets::{SecretSet, SecretStore};
use millicast_webhook_relay::relay::thumbnail::is_safe_segment;
use millicast_webhook_relay::{Config, Relay};
use millicast_webhooks::sign;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().build().expect("runtime"))
}

fn config() -> Config {
    Config::from_lookup(|name| match name {
        "WEBHOOK_SECRET" => Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into()),
        "THUMBNAIL_BUCKET" => Some("fuzz-bucket".into()),
        "EVENT_QUEUE_URL" => Some("https://sqs.us-east-1.amazonaws.com/1/q.fifo".into()),
        "REPLAY_WINDOW_SECONDS" => Some("0".into()),
        "MAX_BODY_BYTES" => Some("4096".into()),
        "SQS_MAX_MESSAGE_BYTES" => Some("1024".into()),
        _ => None,
    })
    .expect("valid config")
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else { return };
    let mut parts = rest.splitn(4, |&b| b == 0xFF);
    let (content_type, stream_id, timestamp, body) =
        (parts.next().unwrap_or_default(), parts.next().unwrap_or_default(), parts.next().unwrap_or_default(), parts.next().unwrap_or_default());

    let method = match control & 3 {
        0 => Method::POST,
        1 => Method::GET,
        2 => Method::PUT,
        _ => Method::DELETE,
    };
    let mut request = Request::builder().method(method).uri("/");
    for (name, value) in [
        ("content-type", content_type),
        ("x-millicast-stream-id", stream_id),
        ("x-millicast-timestamp", timestamp),
    ] {
        if let Ok(value) = lambda_http::http::HeaderValue::from_bytes(value) {
            request = request.header(name, value);
        }
    }
    // Mostly a valid signature, so that the fuzzer reaches the routing behind the gate.
    match control >> 2 & 3 {
        0 => request = request.header("x-millicast-signature", sign(SECRET, body)),
        1 => {}
        2 => request = request.header("x-millicast-signature", sign(b"wrong", body)),
        _ => {
            if let Ok(value) = lambda_http::http::HeaderValue::from_bytes(stream_id) {
                request = request.header("x-millicast-signature", value);
            }
        }
    }
    let body = if control & 16 == 0 { Body::Binary(body.to_vec()) } else { Body::Text(String::from_utf8_lossy(body).into_owned()) };
    let Ok(request) = request.body(body) else { return };

    let secrets = SecretSet::parse_value("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=").expect("secret");
    let relay = Relay::new(&config(), SecretStore::fixed(&secrets), MemoryStore::new("fuzz-bucket"), MemoryQueue::default())
        .with_log_sink(Arc::new(|_: &str| {}));
    let response = runtime().block_on(relay.handle(request));
    let status = response.status().as_u16();
    assert!([200, 400, 401, 405, 413].contains(&status), "status {status}");
    let (objects, messages) = (relay.store().objects(), relay.queue().messages());
    if status != 200 {
        // Only a delivery with a well-formed signature that matches no secret is kept, and
        // only in quarantine; nothing reaches the queue.
        let kept = objects.iter().filter(|o| o.key.starts_with("quarantine/")).count();
        assert!(messages.is_empty(), "a rejected request reached the queue");
        assert_eq!(kept, objects.len(), "a rejected request wrote outside quarantine/");
        assert!(kept == 0 || status == 401, "quarantined with status {status}");
    }
    for object in objects {
        let key = object.key;
        let safe = if let Some(rest) = key.strip_prefix("thumbnails/") {
            let segments: Vec<&str> = rest.split('/').collect();
            segments.len() == 3 && segments.iter().all(|s| is_safe_segment(s))
        } else if let Some(rest) = key.strip_prefix("quarantine/") {
            // yyyy/mm/dd/{receivedMs}-{sha256}
            let segments: Vec<&str> = rest.split('/').collect();
            segments.len() == 4 && segments.iter().all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        } else {
            key.starts_with("events/oversize/") || key.starts_with("undelivered/")
        };
        assert!(safe, "unsafe key {key}");
    }
});
