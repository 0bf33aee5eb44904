//! End-to-end tier: the built binary under cargo-lambda's emulator, real HTTP requests to the
//! emulated function URL (which base64-encodes binary bodies exactly as AWS does), and results
//! read back from moto S3/SQS.

use crate::support::emulator::Deployment;
use crate::support::*;
use millicast_webhook_relay::events;
use millicast_webhooks::samples::{self, JSON_SAMPLES, SAMPLE_JPEG};

async fn post(url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, serde_json::Value) {
    post_with(url, "POST", headers, body).await
}

async fn post_with(
    url: &str,
    method: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let client = reqwest::Client::new();
    let mut request = client.request(method.parse().unwrap(), url).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("emulator reachable");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

async fn post_json(url: &str, body: &str, secret: &str) -> (u16, serde_json::Value) {
    let signature = sign(secret, body.as_bytes());
    post(
        url,
        &[
            ("Content-Type", "application/json"),
            ("X-Millicast-Signature", &signature),
        ],
        body.as_bytes().to_vec(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_json_hook_arrives_in_sqs_byte_for_byte() {
    let deployment = Deployment::start(false, &[]).await;
    let ts = now_ms();
    let bodies: Vec<String> = JSON_SAMPLES
        .iter()
        .map(|name| samples::json_sample(name, ts).unwrap())
        .collect();
    for body in &bodies {
        assert_eq!(
            post_json(&deployment.url(), body, SECRET).await,
            (200, serde_json::json!({"status": "forwarded"}))
        );
    }
    let messages = deployment.fixture.messages().await;
    assert_eq!(messages.len(), bodies.len());
    for body in &bodies {
        let message = messages
            .iter()
            .find(|m| &m.body == body)
            .unwrap_or_else(|| panic!("lost {body}"));
        let envelope: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(message.attribute("type").unwrap().1, envelope["type"]);
        assert_eq!(message.attribute("event").unwrap().1, envelope["event"]);
        assert_eq!(
            message.attribute("timestamp"),
            Some(("Number", ts.to_string().as_str()))
        );
        assert_eq!(
            message.attribute("signature").unwrap().1,
            sign(SECRET, body.as_bytes())
        );
    }
    // Logs are JSON lines, one per request, and never carry the secret.
    let log = deployment.log();
    let accepted = log
        .lines()
        .filter(|l| l.contains("\"webhook accepted\""))
        .count();
    assert_eq!(accepted, bodies.len(), "{log}");
    assert!(!log.contains(SECRET));
    assert!(
        !log.contains("0123456789abcdef0123456789abcdef"),
        "decoded secret in the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jpeg_thumbnail_is_stored_exactly() {
    let deployment = Deployment::start(false, &[]).await;
    let signature = sign(SECRET, SAMPLE_JPEG);
    let timestamp = now_ms().to_string();
    let headers = [
        ("Content-Type", "image/jpeg"),
        ("X-Millicast-Signature", signature.as_str()),
        ("X-Millicast-Timestamp", timestamp.as_str()),
        ("X-Millicast-Feed-Id", samples::SAMPLE_FEED_ID),
        ("X-Millicast-Stream-Id", samples::SAMPLE_STREAM_ID),
    ];
    assert_eq!(
        post(&deployment.url(), &headers, SAMPLE_JPEG.to_vec()).await,
        (200, serde_json::json!({"status": "stored"}))
    );

    let objects = deployment.fixture.objects().await;
    assert_eq!(
        objects.len(),
        2,
        "{:?}",
        objects.iter().map(|o| &o.key).collect::<Vec<_>>()
    );
    for object in &objects {
        assert_eq!(object.body, SAMPLE_JPEG, "{}", object.key);
        assert_eq!(object.content_type.as_deref(), Some("image/jpeg"));
        assert!(
            object.key.starts_with("thumbnails/ZG6NWV/sample_stream/"),
            "{}",
            object.key
        );
    }
    assert!(objects.iter().any(|o| o.key.ends_with("/latest.jpg")));
    assert!(
        objects
            .iter()
            .any(|o| o.key.contains(&format!("/{timestamp}-")))
    );
    let messages = deployment.fixture.messages().await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].attribute("type"), Some(("String", "thumbnail")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_and_every_rejection_over_http() {
    let deployment = Deployment::start(
        false,
        &[
            ("WEBHOOK_SECRET_PREVIOUS", PREVIOUS_SECRET),
            ("MAX_BODY_BYTES", "100000"),
        ],
    )
    .await;
    let url = deployment.url();
    let now = now_ms();
    let body = samples::json_sample("feeds-started", now).unwrap();

    let json = ("Content-Type", "application/json");
    let cases = [
        (
            post_json(&url, &body, OTHER_SECRET).await,
            401,
            "invalid_signature",
        ),
        (
            post(&url, &[json], body.as_bytes().to_vec()).await,
            401,
            "missing_signature",
        ),
        (
            post(
                &url,
                &[json, ("X-Millicast-Signature", "sha1=xyz")],
                body.as_bytes().to_vec(),
            )
            .await,
            401,
            "malformed_signature",
        ),
        (
            post_json(
                &url,
                &samples::json_sample("feeds-started", now - 3_600_000).unwrap(),
                SECRET,
            )
            .await,
            401,
            "stale_timestamp",
        ),
        (
            post_with(&url, "GET", &[], Vec::new()).await,
            405,
            "method_not_allowed",
        ),
        (
            post_json(&url, r#"{"no":"type"}"#, SECRET).await,
            400,
            "malformed_event",
        ),
    ];
    for (answer, status, code) in cases {
        assert_eq!(answer, (status, serde_json::json!({ "error": code })));
    }
    let oversize: Vec<u8> = SAMPLE_JPEG.iter().copied().cycle().take(150_000).collect();
    let signature = sign(SECRET, &oversize);
    let answer = post(
        &url,
        &[
            ("Content-Type", "image/jpeg"),
            ("X-Millicast-Signature", &signature),
        ],
        oversize,
    )
    .await;
    assert_eq!(
        answer,
        (413, serde_json::json!({"error": "payload_too_large"}))
    );
    // Only the delivery signed with an unknown secret is kept, in quarantine, with its headers,
    // and the verified event that came too late (kept as `stale`, for a replay on the
    // operator's word).
    let mut kept = deployment
        .fixture
        .assert_only_quarantined("rejections", 2)
        .await;
    kept.sort_by_key(|object| object.metadata["reason"].clone());
    assert_eq!(kept[1].metadata["reason"], "stale");
    assert_eq!(kept[0].body, body.as_bytes());
    assert_eq!(kept[0].metadata["reason"], "invalid_signature");
    assert_eq!(
        kept[0].metadata["signature"],
        sign(OTHER_SECRET, body.as_bytes())
    );
    assert_eq!(kept[0].metadata["content-type"], "application/json");

    assert_eq!(post_json(&url, &body, PREVIOUS_SECRET).await.0, 200);
    let messages = deployment.fixture.messages().await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body, body);
    assert!(deployment.log().contains("\"secret\":\"previous\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_committed_event_gives_its_documented_status_under_cargo_lambda_invoke() {
    // The files carry the documentation's fixed timestamps: they are answered as documented by
    // a relay with the replay window off, except stale-timestamp.json, which is for the default.
    let window_off = Deployment::start(false, &[("REPLAY_WINDOW_SECONDS", "0")]).await;
    let default_window = Deployment::start(false, &[]).await;
    for file in events::event_files() {
        let deployment = if file.window_off {
            &window_off
        } else {
            &default_window
        };
        let path = project_dir().join("events").join(&file.file_name);
        let (status, body) = deployment.invoke_file(&path);
        assert_eq!(status, file.status, "{}: {body}", file.file_name);
        if let Some(code) = file.error {
            assert_eq!(
                body,
                serde_json::json!({ "error": code }),
                "{}",
                file.file_name
            );
        }
    }
    let forwarded = window_off.fixture.messages().await;
    // 16 JSON samples plus the thumbnail announcement.
    assert_eq!(forwarded.len(), JSON_SAMPLES.len() + 1);
    let stored = window_off.fixture.objects().await;
    assert!(
        stored
            .iter()
            .any(|o| o.body == SAMPLE_JPEG && o.key.contains("/1638463486489-"))
    );
    // The stale one is kept, verified, for `quarantine replay --accept-stale`.
    let kept = default_window
        .fixture
        .assert_only_quarantined("stale event", 1)
        .await;
    assert_eq!(kept[0].metadata["reason"], "stale");
}
