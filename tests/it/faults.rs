//! Never lose a verified event: faults injected over real sockets (refused, silent, switched
//! mid-run) between the relay and moto. Every verified event must end in SQS, in
//! `undelivered/`, or — only when S3 was down too — in an ERROR log record with its body.

use std::time::{Duration, Instant};

use crate::support::faults::black_hole;
#[cfg(feature = "cli")]
use crate::support::faults::{FaultProxy, Mode};
use crate::support::*;
use millicast_webhook_relay::aws::sdk as aws;
#[cfg(feature = "cli")]
use millicast_webhooks::samples::JSON_SAMPLES;
use millicast_webhooks::samples::{self, SAMPLE_JPEG};

/// A signed thumbnail with the platform's sample headers, stamped `ts`.
fn thumbnail(image: &[u8], ts: i64) -> lambda_http::Request {
    let headers = samples::thumbnail_headers(samples::SAMPLE_STREAM_ID, ts);
    let refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    thumbnail_request(image, &refs, SECRET)
}

#[tokio::test]
async fn s3_down_still_forwards_events_and_fails_thumbnails_loudly() {
    let fixture = Fixture::new(false).await;
    let dead_s3 = sdk_config(&closed_port_endpoint()).await;
    let relay = fixture.relay_with(&fixture.config(&[]), &dead_s3, &fixture.sdk);
    let body = samples::json_sample("media-completed", now_ms()).unwrap();
    assert_eq!(
        status_and_body(&relay.handle(json_webhook(&body, SECRET)).await).0,
        200
    );
    let messages = fixture.messages().await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body, body);

    let (status, answer) = status_and_body(&relay.handle(thumbnail(SAMPLE_JPEG, now_ms())).await);
    assert_eq!(
        (status, answer),
        (500, serde_json::json!({"error": "internal_error"}))
    );
    assert!(
        fixture.messages().await.is_empty(),
        "no announcement for an image not stored"
    );
}

#[tokio::test]
async fn both_down_answers_500_and_logs_the_whole_event() {
    let fixture = Fixture::new(false).await;
    let dead = sdk_config(&closed_port_endpoint()).await;
    let log = CapturedLog::default();
    let relay = fixture
        .relay_with(&fixture.config(&[]), &dead, &dead)
        .with_log_sink(log.sink());
    let body = samples::json_sample("feeds-ended", now_ms()).unwrap();
    let (status, _) = status_and_body(&relay.handle(json_webhook(&body, SECRET)).await);
    assert_eq!(status, 500);
    let lost = log.lost_events();
    assert_eq!(lost.len(), 1);
    assert_eq!(
        lost[0]["body"], body,
        "the body is recoverable from the log"
    );
    assert_eq!(lost[0]["level"], "ERROR");
    assert_eq!(
        lost[0]["attributes"]["signature"],
        sign(SECRET, body.as_bytes())
    );
    assert_eq!(lost[0]["attributes"]["type"], "feeds");
    assert!(
        lost[0]["sqsError"]
            .as_str()
            .unwrap()
            .contains("SendMessage")
    );
    assert!(lost[0]["s3Error"].as_str().unwrap().contains("PutObject"));
    let request = log
        .records()
        .into_iter()
        .find(|r| r.get("_aws").is_some())
        .unwrap();
    assert_eq!(
        (request["Failed"].as_u64(), request["Verified"].as_u64()),
        (Some(1), Some(1))
    );
}

#[tokio::test]
async fn black_hole_sqs_spills_within_the_sqs_deadline() {
    let fixture = Fixture::new(false).await;
    let silent_sqs = sdk_config(&black_hole().await).await;
    let relay = fixture.relay_with(&fixture.config(&[]), &fixture.sdk, &silent_sqs);
    let body = samples::json_sample("transcoder-active", now_ms()).unwrap();
    let started = Instant::now();
    let answer = status_and_body(&relay.handle(json_webhook(&body, SECRET)).await);
    let elapsed = started.elapsed();
    eprintln!("black-hole SQS: answered {answer:?} in {elapsed:?}");
    assert_eq!(answer, (200, serde_json::json!({"status": "spilled"})));
    assert!(
        elapsed >= aws::SQS_OPERATION_TIMEOUT - Duration::from_millis(100),
        "{elapsed:?}"
    );
    assert!(
        elapsed < aws::SQS_OPERATION_TIMEOUT + Duration::from_secs(2),
        "{elapsed:?}"
    );
    let objects = fixture.objects().await;
    assert_eq!(objects.len(), 1);
    assert!(objects[0].key.starts_with("undelivered/"));
    assert_eq!(objects[0].body, body.as_bytes());
    assert!(
        objects[0].metadata["error"].contains("timeout")
            || objects[0].metadata["error"].contains("Timeout"),
        "{:?}",
        objects[0].metadata
    );
}

#[tokio::test]
async fn black_hole_everywhere_still_answers_inside_the_function_timeout() {
    let fixture = Fixture::new(false).await;
    let silent = sdk_config(&black_hole().await).await;
    let log = CapturedLog::default();
    let relay = fixture
        .relay_with(&fixture.config(&[]), &silent, &silent)
        .with_log_sink(log.sink());
    let body = samples::json_sample("recordings-completed", now_ms()).unwrap();
    let started = Instant::now();
    let (status, _) = status_and_body(&relay.handle(json_webhook(&body, SECRET)).await);
    let elapsed = started.elapsed();
    eprintln!("black-hole SQS and S3: answered {status} in {elapsed:?}");
    assert_eq!(status, 500);
    // SQS deadline, then the S3 spill's deadline; the template's function timeout is 30 s.
    assert!(
        elapsed < aws::SQS_OPERATION_TIMEOUT + aws::S3_OPERATION_TIMEOUT + Duration::from_secs(2),
        "{elapsed:?}"
    );
    assert_eq!(log.lost_events()[0]["body"], body);
}

/// The outcome of one request of the mixed run.
#[cfg(feature = "cli")]
struct Sent {
    body: Vec<u8>,
    thumbnail: bool,
    status: u16,
    outcome: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg(feature = "cli")]
async fn a_thousand_requests_with_faults_switched_mid_run_lose_nothing() {
    let fixture = Fixture::new(false).await;
    let s3_proxy = FaultProxy::start(&moto().endpoint).await;
    let sqs_proxy = FaultProxy::start(&moto().endpoint).await;
    // The relay's retry policy with a shorter first backoff, to keep 1,000 requests (a few
    // hundred of them failing over) within seconds; attempts, deadlines and quota unchanged.
    let retry = aws::retry_config().with_initial_backoff(Duration::from_millis(5));
    let s3_sdk = sdk_config_with(&s3_proxy.endpoint, retry.clone()).await;
    let sqs_sdk = sdk_config_with(&sqs_proxy.endpoint, retry).await;
    let log = CapturedLog::default();
    let relay = fixture
        .relay_with(
            &fixture.config(&[("SQS_MAX_MESSAGE_BYTES", "4096")]),
            &s3_sdk,
            &sqs_sdk,
        )
        .with_log_sink(log.sink());

    // (from request, S3 mode, SQS mode)
    let schedule = [
        (0, Mode::Up, Mode::Up),
        (150, Mode::Up, Mode::Refuse),
        (300, Mode::Up, Mode::Up),
        (400, Mode::Refuse, Mode::Refuse),
        (450, Mode::Up, Mode::Up),
        (600, Mode::Refuse, Mode::Up),
        (700, Mode::Up, Mode::Up),
        (800, Mode::Up, Mode::Refuse),
        (850, Mode::Up, Mode::Up),
    ];
    let base = now_ms();
    let mut sent = Vec::with_capacity(1000);
    let mut worst = Duration::ZERO;
    for i in 0..1000usize {
        if let Some((_, s3_mode, sqs_mode)) = schedule.iter().find(|(at, ..)| *at == i) {
            s3_proxy.set(*s3_mode);
            sqs_proxy.set(*sqs_mode);
        }
        let ts = base + i as i64;
        let (request, body, thumbnail) = if i % 10 == 9 {
            let mut image = SAMPLE_JPEG.to_vec();
            image.extend_from_slice(&(i as u32).to_be_bytes());
            (thumbnail(&image, ts), image, true)
        } else if i % 50 == 25 {
            let body = format!(
                r#"{{"type":"media","event":"completed","timestamp":{ts},"data":{{"streamId":"a/b","notes":"{}"}}}}"#,
                "n".repeat(6000)
            );
            (json_webhook(&body, SECRET), body.into_bytes(), false)
        } else {
            let body = samples::json_sample(JSON_SAMPLES[i % JSON_SAMPLES.len()], ts).unwrap();
            (json_webhook(&body, SECRET), body.into_bytes(), false)
        };
        let started = Instant::now();
        let response = relay.handle(request).await;
        worst = worst.max(started.elapsed());
        let (status, answer) = status_and_body(&response);
        let outcome = answer
            .get("status")
            .or(answer.get("error"))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        sent.push(Sent {
            body,
            thumbnail,
            status,
            outcome,
        });
    }
    s3_proxy.set(Mode::Up);
    sqs_proxy.set(Mode::Up);

    let count = |pred: &dyn Fn(&Sent) -> bool| sent.iter().filter(|s| pred(s)).count();
    let events = count(&|s| !s.thumbnail);
    let forwarded = count(&|s| !s.thumbnail && s.outcome == "forwarded");
    let claim_checked = count(&|s| !s.thumbnail && s.outcome == "claim_checked");
    let spilled = count(&|s| !s.thumbnail && s.outcome == "spilled");
    let failed = count(&|s| !s.thumbnail && s.status == 500);
    let thumbnails_stored = count(&|s| s.thumbnail && s.outcome == "stored");
    let thumbnails_failed = count(&|s| s.thumbnail && s.status == 500);
    eprintln!(
        "mixed run: {events} events = {forwarded} forwarded + {claim_checked} claim-checked + {spilled} spilled + {failed} failed (logged); \
         {thumbnails_stored} thumbnails stored, {thumbnails_failed} failed with S3 down; worst request {worst:?}"
    );
    assert_eq!(sent.len(), 1000);
    assert_eq!(
        forwarded + claim_checked + spilled + failed,
        events,
        "every event has an outcome"
    );
    assert!(
        spilled > 100 && failed > 0 && forwarded > 500,
        "the faults really happened"
    );
    assert!(
        sent.iter().all(|s| s.status == 200 || s.status == 500),
        "no other status"
    );

    // Failed events: each in exactly one ERROR record, with its whole body.
    let lost: Vec<String> = log
        .lost_events()
        .iter()
        .map(|r| r["body"].as_str().unwrap().to_owned())
        .collect();
    for s in sent.iter().filter(|s| !s.thumbnail && s.status == 500) {
        let body = std::str::from_utf8(&s.body).unwrap();
        assert_eq!(
            lost.iter().filter(|l| *l == body).count(),
            1,
            "not recoverable: {body:.80}"
        );
    }

    // Spilled events are in undelivered/, byte for byte.
    let objects = fixture.objects().await;
    let undelivered: Vec<&StoredObject> = objects
        .iter()
        .filter(|o| o.key.starts_with("undelivered/"))
        .collect();
    let spilled_pointer_to = |object: &StoredObject, body: &[u8]| {
        serde_json::from_slice::<serde_json::Value>(&object.body)
            .is_ok_and(|v| v["claimCheck"]["sha256"] == sha256_hex(body).as_str())
    };
    for s in sent
        .iter()
        .filter(|s| !s.thumbnail && s.outcome == "spilled")
    {
        assert!(
            undelivered
                .iter()
                .any(|o| o.body == s.body || spilled_pointer_to(o, &s.body)),
            "spill missing"
        );
    }
    for s in sent.iter().filter(|s| s.thumbnail && s.outcome == "stored") {
        assert!(
            objects
                .iter()
                .any(|o| o.body == s.body && !o.key.ends_with("latest.jpg")),
            "thumbnail missing"
        );
    }
    assert!(
        sent.iter()
            .filter(|s| s.thumbnail && s.status == 500)
            .count()
            > 0
    );

    // relayctl redrive empties undelivered/ into SQS.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_relayctl"))
        .args([
            "redrive",
            "--bucket",
            &fixture.bucket,
            "--queue-url",
            &fixture.queue_url,
        ])
        .env("AWS_ENDPOINT_URL", &moto().endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    eprintln!("relayctl redrive: {}", report.trim());
    assert!(
        output.status.success(),
        "{report} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        report.contains(&format!("redriven {}, kept 0", undelivered.len())),
        "{report}"
    );
    assert!(
        fixture
            .objects()
            .await
            .iter()
            .all(|o| !o.key.starts_with("undelivered/"))
    );

    // Now every event answered 200 is on the queue exactly once (claim checks by pointer),
    // and the queue holds nothing else but the announcements of stored thumbnails.
    let messages = fixture.messages().await;
    let pointers: Vec<serde_json::Value> = messages
        .iter()
        .filter_map(|m| serde_json::from_str::<serde_json::Value>(&m.body).ok())
        .filter(|v| v.get("claimCheck").is_some())
        .collect();
    let mut expected_messages = 0;
    for s in sent.iter().filter(|s| !s.thumbnail && s.status == 200) {
        let body = std::str::from_utf8(&s.body).unwrap();
        let direct = messages.iter().filter(|m| m.body == body).count();
        let sha = sha256_hex(&s.body);
        let by_pointer = pointers
            .iter()
            .filter(|p| p["claimCheck"]["sha256"] == sha.as_str())
            .count();
        assert_eq!(
            direct + by_pointer,
            1,
            "event not on the queue exactly once: {body:.80}"
        );
        expected_messages += 1;
    }
    let announcements = messages
        .iter()
        .filter(|m| m.attribute("type") == Some(("String", "thumbnail")))
        .count();
    assert_eq!(announcements, thumbnails_stored);
    assert_eq!(messages.len(), expected_messages + announcements);
    eprintln!(
        "after redrive: {} messages = {expected_messages} events + {announcements} announcements; lost without a trace: 0",
        messages.len()
    );
}
