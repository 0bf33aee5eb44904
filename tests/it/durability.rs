//! Never lose a verified event, second audit: a test per way the first audit found one could
//! still be lost or answered wrongly — against moto over real sockets (S3's 2 KB metadata limit
//! enforced by scripts/moto_server.py as S3 enforces it), with faults from support/faults.rs
//! (a slow service, an answer lost after the write).

use std::sync::Arc;
use std::time::{Duration, Instant};

use millicast_webhook_relay::operator::redrive::{
    Redriven, max_message_bytes, redrive_bucket, unsendable_spills,
};
use millicast_webhook_relay::operator::replay::ReplayOptions;
use millicast_webhook_relay::ports::memory::MemorySecretSource;
use millicast_webhook_relay::relay::config::SecretConfig;
use millicast_webhook_relay::relay::message::idempotency_key;
use millicast_webhook_relay::relay::secrets::{SecretSet, SecretStore};
use millicast_webhook_relay::{Config, Relay};
use millicast_webhooks::samples::{self, SAMPLE_JPEG};

use crate::support::faults::{FaultProxy, black_hole};
use crate::support::*;

/// A relay holding webhooks 1 and 2 (`SECRET`, `PREVIOUS_SECRET` as their current secrets),
/// reaching S3 and SQS through `s3_sdk` and `sqs_sdk`; its records go to `log`.
async fn two_webhook_relay(
    fixture: &Fixture,
    config: &Config,
    s3_sdk: &aws_config::SdkConfig,
    sqs_sdk: &aws_config::SdkConfig,
    log: &CapturedLog,
) -> MotoRelay {
    let value = format!(
        r#"{{"webhooks":[{{"id":1,"current":"{SECRET}"}},{{"id":2,"current":"{PREVIOUS_SECRET}"}}]}}"#
    );
    let secrets = SecretStore::load(
        Arc::new(MemorySecretSource::new(&value)),
        Duration::from_secs(5),
    )
    .await;
    let (store, queue) = fixture.ports(config, s3_sdk, sqs_sdk);
    Relay::new(config, secrets, store, queue).with_log_sink(log.sink())
}

/// Runs the library's redrive of `fixture`'s spills onto its queue: each key's outcome.
async fn redrive(fixture: &Fixture) -> Vec<(String, Redriven)> {
    let queue = millicast_webhook_relay::aws::sqs::SqsEventQueue::new(
        fixture.sqs.clone(),
        &fixture.queue_url,
    );
    let limit = max_message_bytes(&fixture.sqs, &fixture.queue_url).await;
    let mut outcomes = Vec::new();
    redrive_bucket(
        &fixture.s3,
        &fixture.bucket,
        &queue,
        false,
        false,
        limit,
        |key, outcome| outcomes.push((key.to_owned(), outcome.clone())),
    )
    .await
    .expect("list undelivered/");
    outcomes
}

#[tokio::test]
async fn two_deliveries_of_one_body_are_two_spills_and_two_messages() {
    // Two webhooks subscribed to the same hooks send identical bytes, each signed with its own
    // secret. SQS is down: each delivery is spilled to an object of its own.
    let fixture = Fixture::new(false).await;
    let config = fixture.config(&[]);
    let dead_sqs = sdk_config(&closed_port_endpoint()).await;
    let log = CapturedLog::default();
    let relay = two_webhook_relay(&fixture, &config, &fixture.sdk, &dead_sqs, &log).await;
    let body = samples::json_sample("feeds-started", now_ms()).unwrap();
    for (secret, request_id) in [
        (SECRET, "delivery-by-1"),
        (PREVIOUS_SECRET, "delivery-by-2"),
    ] {
        let answer = relay
            .handle(invocation(json_webhook(&body, secret), request_id))
            .await;
        assert_eq!(
            status_and_body(&answer),
            (200, serde_json::json!({"status": "spilled"}))
        );
    }
    let spills = fixture.objects_under("undelivered/").await;
    assert_eq!(spills.len(), 2, "one object per delivery");
    let mut webhooks: Vec<&str> = spills
        .iter()
        .map(|s| s.metadata["webhook-id"].as_str())
        .collect();
    webhooks.sort();
    assert_eq!(webhooks, ["1", "2"]);
    assert_ne!(
        spills[0].metadata["signature"],
        spills[1].metadata["signature"]
    );

    // Redrive sends both, each as its own delivery.
    let outcomes = redrive(&fixture).await;
    assert!(
        outcomes.iter().all(|(_, o)| *o == Redriven::Sent),
        "{outcomes:?}"
    );
    let messages = fixture.messages().await;
    assert_eq!(messages.len(), 2);
    let mut ids: Vec<&str> = messages
        .iter()
        .map(|m| m.attribute("webhookId").unwrap().1)
        .collect();
    ids.sort();
    assert_eq!(ids, ["1", "2"]);
    assert_ne!(
        messages[0].attribute("idempotencyKey"),
        messages[1].attribute("idempotencyKey")
    );
    assert!(messages.iter().all(|m| m.body == body));
}

#[tokio::test]
async fn two_deliveries_of_one_large_body_are_two_claim_checks_each_with_its_signature() {
    let fixture = Fixture::new(false).await;
    let config = fixture.config(&[("SQS_MAX_MESSAGE_BYTES", "2048")]);
    let log = CapturedLog::default();
    let relay = two_webhook_relay(&fixture, &config, &fixture.sdk, &fixture.sdk, &log).await;
    let body = format!(
        r#"{{"type":"media","event":"completed","timestamp":{},"data":{{"streamId":"a/cam","metadata":{{"notes":"{}"}}}}}}"#,
        now_ms(),
        "x".repeat(4000)
    );
    for (secret, request_id) in [(SECRET, "large-by-1"), (PREVIOUS_SECRET, "large-by-2")] {
        let answer = relay
            .handle(invocation(json_webhook(&body, secret), request_id))
            .await;
        assert_eq!(
            status_and_body(&answer),
            (200, serde_json::json!({"status": "claim_checked"}))
        );
    }
    for (secret, request_id) in [(SECRET, "large-by-1"), (PREVIOUS_SECRET, "large-by-2")] {
        let object = fixture
            .object(&format!("events/oversize/{request_id}.json"))
            .await;
        assert_eq!(object.body, body.as_bytes());
        // The signature a consumer re-verifies the body with is this delivery's own.
        assert_eq!(object.metadata["signature"], sign(secret, body.as_bytes()));
    }
    let pointers = fixture.messages().await;
    assert_eq!(pointers.len(), 2);
    assert_ne!(
        pointers[0].body, pointers[1].body,
        "each names its own object"
    );
}

#[tokio::test]
async fn two_unverifiable_deliveries_of_one_body_are_two_quarantine_objects() {
    let fixture = Fixture::new(false).await;
    let relay = fixture.relay(&fixture.config(&[]));
    let body = samples::json_sample("feeds-started", now_ms()).unwrap();
    for request_id in ["forged-1", "forged-2"] {
        let answer = relay
            .handle(invocation(json_webhook(&body, OTHER_SECRET), request_id))
            .await;
        assert_eq!(status_and_body(&answer).0, 401);
    }
    let kept = fixture.take_quarantined("identical bodies", 2).await;
    let mut ids: Vec<&str> = kept
        .iter()
        .map(|k| k.metadata["delivery-id"].as_str())
        .collect();
    ids.sort();
    assert_eq!(ids, ["forged-1", "forged-2"]);
}

#[tokio::test]
async fn the_longest_stream_names_fit_s3s_metadata_limit_on_every_path() {
    let fixture = Fixture::new(false).await;
    // The stand-in refuses what S3 refuses (the control: 2,100 bytes of metadata).
    let refused = fixture
        .s3
        .put_object()
        .bucket(&fixture.bucket)
        .key("control")
        .metadata("m", "x".repeat(2_100))
        .body(Vec::new().into())
        .send()
        .await;
    let error = aws_sdk_s3::error::DisplayErrorContext(refused.unwrap_err()).to_string();
    assert!(error.contains("MetadataTooLarge"), "{error}");

    // Stream names as long as the attributes carry (1,001 + 500 characters): with SQS down, the
    // spill used to copy both, with the error text, past 2 KB.
    let name = "n".repeat(500);
    let body = format!(
        r#"{{"type":"feeds","event":"started","timestamp":{},"data":{{"name":"{name}","streamId":"{}/{name}"}}}}"#,
        now_ms(),
        "a".repeat(500)
    );
    let dead_sqs = sdk_config(&closed_port_endpoint()).await;
    let spilling = fixture.relay_with(&fixture.config(&[]), &fixture.sdk, &dead_sqs);
    let answer = spilling
        .handle(invocation(json_webhook(&body, SECRET), "long-spill"))
        .await;
    assert_eq!(
        status_and_body(&answer),
        (200, serde_json::json!({"status": "spilled"}))
    );
    // Claim-checked with SQS down: the body's object, then the pointer's spill.
    let large = body.replace(
        "\"started\"",
        &format!("\"started\",\"pad\":\"{}\"", "p".repeat(3_000)),
    );
    let small_queue = fixture.relay_with(
        &fixture.config(&[("SQS_MAX_MESSAGE_BYTES", "4096")]),
        &fixture.sdk,
        &dead_sqs,
    );
    let answer = small_queue
        .handle(invocation(json_webhook(&large, SECRET), "long-pointer"))
        .await;
    assert_eq!(
        status_and_body(&answer),
        (200, serde_json::json!({"status": "spilled"}))
    );
    assert_eq!(
        fixture
            .object("events/oversize/long-pointer.json")
            .await
            .body,
        large.as_bytes()
    );

    // Redrive rebuilds both with the stream's attributes read from the bodies.
    let outcomes = redrive(&fixture).await;
    assert_eq!(outcomes.len(), 2);
    assert!(
        outcomes.iter().all(|(_, o)| *o == Redriven::Sent),
        "{outcomes:?}"
    );
    for message in fixture.messages().await {
        assert_eq!(
            message.attribute("streamId").map(|(_, v)| v.len()),
            Some(1_001),
            "{}",
            message.body
        );
        assert_eq!(
            message.attribute("streamKey").map(|(_, v)| v),
            Some(name.as_str())
        );
    }

    // A thumbnail and a quarantined delivery with every header as long as is kept.
    let longest = "v".repeat(256);
    let stream_id = format!("{}/{}", "a".repeat(128), "s".repeat(127));
    let headers = [
        ("x-millicast-stream-id", stream_id.as_str()),
        ("x-millicast-feed-id", longest.as_str()),
        ("x-millicast-token-id", longest.as_str()),
        ("x-millicast-timestamp", "99999999999999"),
    ];
    let relay = fixture.relay(&fixture.config(&[]));
    let stored = relay
        .handle(invocation(
            thumbnail_request(SAMPLE_JPEG, &headers, SECRET),
            "long-thumbnail",
        ))
        .await;
    assert_eq!(
        status_and_body(&stored),
        (200, serde_json::json!({"status": "stored"}))
    );
    let kept = relay
        .handle(invocation(
            thumbnail_request(SAMPLE_JPEG, &headers, OTHER_SECRET),
            "long-quarantine",
        ))
        .await;
    assert_eq!(status_and_body(&kept).0, 401);
    let kept = fixture.objects_under("quarantine/").await;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].metadata["feed-id"], longest);
}

#[tokio::test]
async fn a_thumbnail_whose_answer_was_lost_after_the_write_is_stored_and_announced() {
    let fixture = Fixture::new(false).await;
    let s3 = FaultProxy::start(&fixture.endpoint).await;
    let config = fixture.config(&[("THUMBNAIL_LATEST", "false")]);
    let relay = fixture.relay_with(&config, &sdk_config(&s3.endpoint).await, &fixture.sdk);
    // The image's PUT reaches S3, its answer does not: the SDK retries, and the retry's
    // conditional write finds the key taken — by this very delivery.
    s3.lose_next_answers(1);
    let ts = now_ms();
    let headers = samples::thumbnail_headers(samples::SAMPLE_STREAM_ID, ts);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let answer = relay
        .handle(invocation(
            thumbnail_request(SAMPLE_JPEG, &headers, SECRET),
            "lost-answer",
        ))
        .await;
    assert_eq!(
        status_and_body(&answer),
        (200, serde_json::json!({"status": "stored"})),
        "stored, not a duplicate"
    );
    let images = fixture.objects_under("thumbnails/").await;
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].metadata["delivery-id"], "lost-answer");
    let announcements = fixture.messages().await;
    assert_eq!(announcements.len(), 1, "announced once");
    assert!(announcements[0].body.contains(&images[0].key));

    // The same image delivered again (another delivery) is still a duplicate.
    let again = relay
        .handle(invocation(
            thumbnail_request(SAMPLE_JPEG, &headers, SECRET),
            "replayed",
        ))
        .await;
    assert_eq!(
        status_and_body(&again),
        (200, serde_json::json!({"status": "duplicate"}))
    );
    assert!(
        fixture.messages().await.is_empty(),
        "a duplicate is not announced"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_s3_and_a_silent_sqs_end_within_the_requests_deadline() {
    // S3 answers every call, each 2.5 s late; SQS never answers. Each call's own SDK bound is
    // met, but their sum is not: image 2.5 s, announcement 5 s, its spill 2.5 s, latest.jpg's
    // rounds beside them. The invocation has 8 s.
    let fixture = Fixture::new(false).await;
    let s3 = FaultProxy::start(&fixture.endpoint).await;
    s3.delay(Duration::from_millis(2_500));
    let silent_sqs = sdk_config(&black_hole().await).await;
    let log = CapturedLog::default();
    let relay = fixture
        .relay_with(
            &fixture.config(&[]),
            &sdk_config(&s3.endpoint).await,
            &silent_sqs,
        )
        .with_log_sink(log.sink());
    let ts = now_ms();
    let headers = samples::thumbnail_headers(samples::SAMPLE_STREAM_ID, ts);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let budget = Duration::from_secs(8);
    let started = Instant::now();
    let answer = relay
        .handle(in_lambda(
            thumbnail_request(SAMPLE_JPEG, &headers, SECRET),
            "slow-thumbnail",
            budget,
        ))
        .await;
    let elapsed = started.elapsed();
    // Answered before Lambda would stop the function, and for what it is: a stored image.
    assert!(elapsed < budget, "answered after {elapsed:?}");
    assert_eq!(
        status_and_body(&answer),
        (200, serde_json::json!({"status": "stored"}))
    );
    s3.delay(Duration::ZERO);
    let images: Vec<_> = fixture
        .objects_under("thumbnails/")
        .await
        .into_iter()
        .filter(|o| !o.key.ends_with("latest.jpg"))
        .collect();
    assert_eq!(images.len(), 1);
    // The announcement could not be sent nor spilled in time: it is in its ERROR record whole.
    let lost = log.lost_events();
    assert_eq!(lost.len(), 1, "{:?}", log.records());
    assert!(lost[0]["body"].as_str().unwrap().contains(&images[0].key));

    // An event: the send is cut at half of what is left, so the spill still has its time.
    s3.delay(Duration::from_millis(1_000));
    let budget = Duration::from_secs(6);
    let started = Instant::now();
    let answer = relay
        .handle(in_lambda(
            json_webhook(
                &samples::json_sample("feeds-started", now_ms()).unwrap(),
                SECRET,
            ),
            "slow-event",
            budget,
        ))
        .await;
    let elapsed = started.elapsed();
    assert!(elapsed < budget, "answered after {elapsed:?}");
    assert_eq!(
        status_and_body(&answer),
        (200, serde_json::json!({"status": "spilled"}))
    );
}

#[tokio::test]
async fn a_capture_time_in_the_future_never_pins_latest_jpg() {
    let fixture = Fixture::new(false).await;
    let relay = fixture.relay(&fixture.config(&[]));
    let at = |captured: &str, image: &[u8], request_id: &str| {
        invocation(
            thumbnail_request(
                image,
                &[
                    ("x-millicast-stream-id", "acct/cam"),
                    ("x-millicast-timestamp", captured),
                ],
                SECRET,
            ),
            request_id,
        )
    };
    // Signed, stamped 99,999,999,999,999: stored under its receive time, not made latest.jpg.
    let far = relay
        .handle(at("99999999999999", b"far future", "far"))
        .await;
    assert_eq!(status_and_body(&far).0, 200);
    let images = fixture.objects_under("thumbnails/acct/cam/").await;
    assert_eq!(images.len(), 1, "no latest.jpg: {images:?}");
    assert_eq!(images[0].metadata["claimed-timestamp"], "99999999999999");
    let announcement = &fixture.messages().await[0];
    let announced: serde_json::Value = serde_json::from_str(&announcement.body).unwrap();
    assert!(announced["timestamp"].as_i64().unwrap() <= now_ms());

    // A frame taken now becomes latest.jpg.
    let now = now_ms().to_string();
    let current = relay.handle(at(&now, b"taken now", "now")).await;
    assert_eq!(status_and_body(&current).0, 200);
    let latest = fixture.object("thumbnails/acct/cam/latest.jpg").await;
    assert_eq!(latest.body, b"taken now");

    // Not a number the contract's timestamp can carry: refused, nothing written.
    let overflow = relay
        .handle(at("9223372036854775808", b"overflow", "overflow"))
        .await;
    assert_eq!(
        status_and_body(&overflow),
        (
            400,
            serde_json::json!({"error": "invalid_thumbnail_timestamp"})
        )
    );
    assert_eq!(fixture.objects_under("thumbnails/").await.len(), 3);
}

#[tokio::test]
async fn a_claim_check_pointer_passes_the_checks_every_message_passes() {
    // A type 400 characters long with a character SQS refuses: the body goes by claim check,
    // and its pointer must not carry what SQS would refuse (it would be spilled and refused by
    // every redrive after).
    let fixture = Fixture::new(false).await;
    let relay = fixture.relay(&fixture.config(&[]));
    let kind = format!("t\u{FFFE}{}", "x".repeat(400));
    let body = serde_json::json!({"type": kind, "event": "e", "timestamp": now_ms()}).to_string();
    let answer = relay
        .handle(invocation(json_webhook(&body, SECRET), "odd-type"))
        .await;
    assert_eq!(
        status_and_body(&answer),
        (200, serde_json::json!({"status": "claim_checked"}))
    );
    let messages = fixture.messages().await;
    assert_eq!(messages.len(), 1);
    let pointer: serde_json::Value = serde_json::from_str(&messages[0].body).unwrap();
    assert_eq!(
        pointer["claimCheck"]["key"],
        "events/oversize/odd-type.json"
    );
    assert!(pointer["type"].as_str().unwrap().len() <= 256);
    assert_eq!(
        fixture.object("events/oversize/odd-type.json").await.body,
        body.as_bytes()
    );
}

#[tokio::test]
async fn a_spill_redrive_cannot_send_is_reported_with_its_reason_and_left() {
    // A message that no longer fits the queue (its limit lowered since): SQS refuses it on every
    // redrive; redrive says why and leaves it where it is.
    let fixture = Fixture::new(false).await;
    let dead_sqs = sdk_config(&closed_port_endpoint()).await;
    let relay = fixture.relay_with(&fixture.config(&[]), &fixture.sdk, &dead_sqs);
    let body = format!(
        r#"{{"type":"media","event":"completed","timestamp":{},"data":{{"notes":"{}"}}}}"#,
        now_ms(),
        "x".repeat(3_000)
    );
    let answer = relay
        .handle(invocation(json_webhook(&body, SECRET), "too-big-later"))
        .await;
    assert_eq!(status_and_body(&answer).0, 200);
    fixture
        .sqs
        .set_queue_attributes()
        .queue_url(&fixture.queue_url)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::MaximumMessageSize,
            "1024",
        )
        .send()
        .await
        .unwrap();
    let outcomes = redrive(&fixture).await;
    let [(key, Redriven::Kept(reason))] = &outcomes[..] else {
        panic!("kept expected: {outcomes:?}")
    };
    assert!(
        reason.contains("over the queue's MaximumMessageSize (1024)"),
        "{reason}"
    );
    assert_eq!(fixture.objects_under("undelivered/").await[0].key, *key);
    // What `relayctl status` reports beside the count (tests/it/status.rs shows the line).
    let (inspected, unsendable) =
        unsendable_spills(&fixture.s3, &fixture.bucket, false, Some(1024), 100)
            .await
            .unwrap();
    assert_eq!(inspected, 1);
    assert_eq!(unsendable, [(key.clone(), reason.clone())]);
    // Without the limit known, SQS's own refusal is the reason.
    let queue = millicast_webhook_relay::aws::sqs::SqsEventQueue::new(
        fixture.sqs.clone(),
        &fixture.queue_url,
    );
    let mut refused = Vec::new();
    redrive_bucket(
        &fixture.s3,
        &fixture.bucket,
        &queue,
        false,
        false,
        None,
        |_, outcome| refused.push(outcome.clone()),
    )
    .await
    .unwrap();
    let [Redriven::Kept(reason)] = &refused[..] else {
        panic!("kept expected: {refused:?}")
    };
    assert!(reason.contains("SendMessage"), "{reason}");
}

#[tokio::test]
async fn a_late_delivery_is_kept_as_stale_and_replayed_on_the_operators_word() {
    let fixture = Fixture::new(false).await;
    let config = fixture.config(&[("REPLAY_WINDOW_SECONDS", "300")]);
    let relay = fixture.relay(&config);
    // The platform delivers, an hour late, an event it signed an hour ago.
    let body = samples::json_sample("feeds-ended", now_ms() - 3_600_000).unwrap();
    let answer = relay
        .handle(invocation(json_webhook(&body, SECRET), "late-one"))
        .await;
    assert_eq!(
        status_and_body(&answer),
        (401, serde_json::json!({"error": "stale_timestamp"}))
    );
    let kept = fixture.objects_under("quarantine/").await;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].metadata["reason"], "stale");
    let received: i64 = kept[0].metadata["received"].parse().unwrap();

    let SecretConfig::Literal(secrets) = &config.secrets else {
        unreachable!()
    };
    let verifiers = SecretSet::verifiers(secrets);
    // Without the operator's word, it stays: still stale against its receive time.
    let (replayed, still) = fixture
        .replay(&config, &verifiers, ReplayOptions::default())
        .await;
    assert_eq!((replayed, still.len()), (0, 1));
    assert_eq!(still[0].1, "stale_timestamp");
    assert!(fixture.messages().await.is_empty());

    // With it, delivered with its original receive time in its idempotency key.
    let options = ReplayOptions {
        accept_stale: true,
        ..ReplayOptions::default()
    };
    let (replayed, still) = fixture.replay(&config, &verifiers, options).await;
    assert_eq!((replayed, still.len()), (1, 0));
    let messages = fixture.messages().await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body, body);
    assert_eq!(
        messages[0].attribute("idempotencyKey").unwrap().1,
        idempotency_key(None, received, &sha256_hex(body.as_bytes()), "late-one")
    );
    assert!(fixture.objects_under("quarantine/").await.is_empty());
}
