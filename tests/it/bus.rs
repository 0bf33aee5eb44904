//! The event bus output against moto's EventBridge (bus, rules with SQS targets, an archive,
//! replays — moto 5.2.5 replays every archived event whatever the window, so
//! scripts/moto_server.py applies the window and the rule filter as EventBridge does): every
//! verified event and announcement on the queue and on the bus, a rule routing by hook type,
//! `relayctl history replay` re-delivering exactly a window, and a bus outage losing nothing.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use millicast_webhook_relay::aws::eventbridge::EventBridgeBus;
use millicast_webhook_relay::aws::sdk as aws;
use millicast_webhooks::samples::{self, JSON_SAMPLES, SAMPLE_JPEG};
use serde_json::Value;

use crate::support::*;

/// A bus of its own in moto, its archive, and a rule that routes one hook type to a queue.
struct Bus {
    name: String,
    arn: String,
    archive_arn: String,
    /// The queue the `recordings` rule sends to.
    routed_queue: String,
    client: aws_sdk_eventbridge::Client,
}

impl Bus {
    async fn create(fixture: &Fixture) -> Self {
        let client = aws::eventbridge_client(&fixture.sdk);
        let name = format!("{}-events", fixture.bucket);
        let arn = client
            .create_event_bus()
            .name(&name)
            .send()
            .await
            .unwrap()
            .event_bus_arn()
            .unwrap()
            .to_owned();
        let archive_arn = client
            .create_archive()
            .archive_name(format!("{}-archive", fixture.bucket))
            .event_source_arn(&arn)
            .event_pattern(r#"{"source":["millicast-webhook-relay"]}"#)
            .retention_days(30)
            .send()
            .await
            .unwrap()
            .archive_arn()
            .unwrap()
            .to_owned();
        let routed_queue = fixture.create_queue("recordings").await;
        let queue_arn = fixture
            .sqs
            .get_queue_attributes()
            .queue_url(&routed_queue)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes()
            .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
            .clone();
        // The template's example rule: one hook type to a queue of its own.
        client
            .put_rule()
            .name("recordings-to-their-queue")
            .event_bus_name(&name)
            .event_pattern(r#"{"source":["millicast-webhook-relay"],"detail-type":["recordings"]}"#)
            .send()
            .await
            .unwrap();
        client
            .put_targets()
            .rule("recordings-to-their-queue")
            .event_bus_name(&name)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("queue")
                    .arn(queue_arn)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        Self {
            name,
            arn,
            archive_arn,
            routed_queue,
            client,
        }
    }

    /// The events the rule delivered so far (received and deleted).
    async fn routed(&self, fixture: &Fixture) -> Vec<Value> {
        fixture
            .drain_queue_at(&self.routed_queue)
            .await
            .iter()
            .map(|message| serde_json::from_str(message.body().unwrap()).unwrap())
            .collect()
    }

    async fn archived(&self) -> i64 {
        self.client
            .describe_archive()
            .archive_name(self.archive_arn.rsplit('/').next().unwrap())
            .send()
            .await
            .unwrap()
            .event_count()
    }
}

/// The relay with the bus output on, reaching EventBridge through `bus_sdk`.
fn relay_with_bus(
    fixture: &Fixture,
    bus: &str,
    bus_sdk: &aws_config::SdkConfig,
    log: &CapturedLog,
) -> MotoRelay {
    fixture
        .relay(&fixture.config(&[("SQS_MAX_MESSAGE_BYTES", "4096")]))
        .with_bus(Arc::new(EventBridgeBus::new(
            aws::eventbridge_client(bus_sdk),
            bus,
        )))
        .with_log_sink(log.sink())
}

fn recording(ts: i64, file: i64) -> String {
    format!(
        r#"{{"type":"recordings","event":"completed","timestamp":{ts},"data":{{"recordFileId":{file},"streamName":"cam-1"}}}}"#
    )
}

#[tokio::test]
async fn every_message_goes_to_the_queue_and_the_bus_where_a_rule_routes_by_type() {
    let fixture = Fixture::new(false).await;
    let bus = Bus::create(&fixture).await;
    let log = CapturedLog::default();
    let relay = relay_with_bus(&fixture, &bus.name, &fixture.sdk, &log);
    let ts = now_ms();
    let bodies: Vec<String> = JSON_SAMPLES
        .iter()
        .map(|name| samples::json_sample(name, ts).unwrap())
        .collect();
    for (n, body) in bodies.iter().enumerate() {
        let answer = relay
            .handle(invocation(
                json_webhook(body, SECRET),
                &format!("sample-{n}"),
            ))
            .await;
        assert_eq!(status_and_body(&answer).0, 200, "{body}");
    }
    // A thumbnail's announcement and a claim-checked recording go on the bus as on the queue.
    let headers = samples::thumbnail_headers(samples::SAMPLE_STREAM_ID, ts);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let answer = relay
        .handle(invocation(
            thumbnail_request(SAMPLE_JPEG, &headers, SECRET),
            "thumb",
        ))
        .await;
    assert_eq!(status_and_body(&answer).0, 200);
    let large = recording(ts, 99).replace(
        "\"streamName\"",
        &format!("\"notes\":\"{}\",\"streamName\"", "n".repeat(5_000)),
    );
    let answer = relay
        .handle(invocation(json_webhook(&large, SECRET), "large"))
        .await;
    assert_eq!(
        status_and_body(&answer),
        (200, serde_json::json!({"status": "claim_checked"}))
    );

    let queued = fixture.messages().await;
    assert_eq!(queued.len(), bodies.len() + 2);
    assert_eq!(
        bus.archived().await,
        queued.len() as i64,
        "every message archived"
    );
    // Every record says the bus took its copy.
    assert!(
        log.records().iter().all(|r| r["bus"] == "put"),
        "{:?}",
        log.records()
    );

    // The rule routed the recordings (each sample's, and the claim check's pointer) by type.
    let routed = bus.routed(&fixture).await;
    let recordings: Vec<&String> = bodies
        .iter()
        .filter(|b| b.contains(r#""type":"recordings""#))
        .collect();
    assert_eq!(routed.len(), recordings.len() + 1);
    for event in &routed {
        assert_eq!(event["source"], "millicast-webhook-relay");
        assert_eq!(event["detail-type"], "recordings");
        assert_eq!(event["detail"]["type"], "recordings");
        assert_eq!(event["detail"]["contractVersion"], "1");
        assert!(event["detail"]["idempotencyKey"].as_str().unwrap().len() == 32);
    }
    // The body is the detail's `webhook`, unchanged in meaning; its attributes beside it.
    for body in recordings {
        let expected: Value = serde_json::from_str(body).unwrap();
        assert!(
            routed.iter().any(|e| e["detail"]["webhook"] == expected),
            "{body} not routed"
        );
    }
    let pointer = routed
        .iter()
        .find(|e| e["detail"]["claimCheck"] == true)
        .expect("the claim check's pointer");
    assert_eq!(
        pointer["detail"]["webhook"]["claimCheck"]["key"],
        "events/oversize/large.json"
    );
}

/// relayctl with the AWS environment pointing at moto.
fn relayctl(fixture: &Fixture, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_relayctl"))
        .args(args)
        .env("AWS_ENDPOINT_URL", &fixture.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_replay_of_a_window_redelivers_exactly_that_window_marked_as_a_replay() {
    let fixture = Fixture::new(false).await;
    let bus = Bus::create(&fixture).await;
    let log = CapturedLog::default();
    let relay = relay_with_bus(&fixture, &bus.name, &fixture.sdk, &log);
    let stack = fixture
        .create_stack(&[
            ("EventBusArn", &bus.arn),
            ("EventArchiveArn", &bus.archive_arn),
            ("BucketName", &fixture.bucket),
            ("QueueUrl", &fixture.queue_url),
        ])
        .await;
    let send = |ts: i64, file: i64| {
        let request = invocation(
            json_webhook(&recording(ts, file), SECRET),
            &format!("r{file}"),
        );
        relay.handle(request)
    };
    // Before the window, then the window (its bounds read from the clock around it), then after.
    for file in [1, 2] {
        assert_eq!(status_and_body(&send(now_ms(), file).await).0, 200);
    }
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let from = now_ms();
    for file in [3, 4, 5] {
        assert_eq!(status_and_body(&send(now_ms(), file).await).0, 200);
    }
    let to = now_ms();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(status_and_body(&send(now_ms(), 6).await).0, 200);
    assert_eq!(bus.routed(&fixture).await.len(), 6, "delivered once, live");
    fixture.messages().await;

    let (ok, out, err) = relayctl(&fixture, &["history", "--stack", &stack]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("6 event(s)"), "{out}");

    let (ok, out, err) = relayctl(
        &fixture,
        &[
            "history",
            "replay",
            "--stack",
            &stack,
            "--from",
            &from.to_string(),
            "--to",
            &to.to_string(),
            "--type",
            "recordings",
        ],
    );
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("COMPLETED"), "{out}");
    let replayed = bus.routed(&fixture).await;
    let mut files: Vec<i64> = replayed
        .iter()
        .map(|e| {
            e["detail"]["webhook"]["data"]["recordFileId"]
                .as_i64()
                .unwrap()
        })
        .collect();
    files.sort();
    assert_eq!(
        files,
        [3, 4, 5],
        "exactly the window, to the rule of that type"
    );
    let name = replayed[0]["replay-name"]
        .as_str()
        .expect("marked as a replay");
    assert!(out.contains(name), "{out}");
    assert!(replayed.iter().all(|e| e["replay-name"] == name));
    // The relay's queue is not the bus's target: the replay does not reach it.
    assert!(fixture.messages().await.is_empty());

    // A type no rule routes: said, and nothing started.
    let (ok, _, err) = relayctl(
        &fixture,
        &[
            "history", "replay", "--stack", &stack, "--from", "10m", "--type", "feeds",
        ],
    );
    assert!(!ok);
    assert!(
        err.contains("no rule of the bus routes type feeds"),
        "{err}"
    );
}

#[tokio::test]
async fn a_bus_outage_loses_nothing_and_redrive_puts_what_it_missed() {
    let fixture = Fixture::new(false).await;
    let bus = Bus::create(&fixture).await;
    let log = CapturedLog::default();
    let dead = sdk_config(&closed_port_endpoint()).await;
    let relay = relay_with_bus(&fixture, &bus.name, &dead, &log);
    let ts = now_ms();
    let body = recording(ts, 7);
    let answer = relay
        .handle(invocation(
            json_webhook(&body, SECRET),
            "while-the-bus-is-down",
        ))
        .await;
    // The queue is the delivery of record: the answer is its.
    assert_eq!(
        status_and_body(&answer),
        (200, serde_json::json!({"status": "forwarded"}))
    );
    let queued = fixture.messages().await;
    assert_eq!(queued.len(), 1);
    let key = queued[0].attribute("idempotencyKey").unwrap().1.to_owned();
    let records = log.records();
    assert_eq!(records[0]["bus"], "kept");
    assert_eq!(records[0]["BusFailed"], 1);
    let kept = fixture.objects_under("undelivered-bus/").await;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].body, body.as_bytes());
    assert!(kept[0].metadata["error"].contains("PutEvents"));

    // Redrive puts it on the bus as the relay would have (and leaves the queue alone).
    let (ok, out, err) = relayctl(
        &fixture,
        &[
            "redrive",
            "--bucket",
            &fixture.bucket,
            "--queue-url",
            &fixture.queue_url,
            "--bus",
            &bus.name,
        ],
    );
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("redriven to the bus 1, kept 0"), "{out}");
    assert!(fixture.objects_under("undelivered-bus/").await.is_empty());
    let routed = bus.routed(&fixture).await;
    assert_eq!(routed.len(), 1);
    assert_eq!(
        routed[0]["detail"]["webhook"],
        serde_json::from_str::<Value>(&body).unwrap()
    );
    // The same delivery: the queue's message and the bus's event share its idempotency key.
    assert_eq!(routed[0]["detail"]["idempotencyKey"], key.as_str());
    assert!(
        fixture.messages().await.is_empty(),
        "the queue had it already"
    );
}

#[tokio::test]
async fn a_quarantine_replay_puts_what_it_delivers_on_the_bus_as_the_relay_does() {
    let fixture = Fixture::new(false).await;
    let bus = Bus::create(&fixture).await;
    let log = CapturedLog::default();
    let relay = relay_with_bus(&fixture, &bus.name, &fixture.sdk, &log);
    // Signed with a secret the relay does not hold yet (a renewal): kept in quarantine.
    let body = recording(now_ms(), 11);
    let answer = relay
        .handle(invocation(json_webhook(&body, OTHER_SECRET), "renewed"))
        .await;
    assert_eq!(status_and_body(&answer).0, 401);
    assert_eq!(fixture.objects_under("quarantine/").await.len(), 1);
    assert!(bus.routed(&fixture).await.is_empty());
    let stack = fixture
        .create_stack(&[
            ("EventBusArn", &bus.arn),
            ("BucketName", &fixture.bucket),
            ("QueueUrl", &fixture.queue_url),
        ])
        .await;

    let (ok, out, err) = relayctl(
        &fixture,
        &[
            "quarantine",
            "replay",
            "--stack",
            &stack,
            "--secret",
            OTHER_SECRET,
        ],
    );
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("replayed 1, kept 0"), "{out}");
    // On the queue, and on the bus where the rule routes it: the same delivery on both.
    let queued = fixture.messages().await;
    assert_eq!(queued.len(), 1);
    let routed = bus.routed(&fixture).await;
    assert_eq!(routed.len(), 1, "the replayed event on the bus");
    assert_eq!(
        routed[0]["detail"]["webhook"],
        serde_json::from_str::<Value>(&body).unwrap()
    );
    assert_eq!(
        routed[0]["detail"]["idempotencyKey"],
        queued[0].attribute("idempotencyKey").unwrap().1
    );
    assert!(fixture.objects_under("undelivered-bus/").await.is_empty());
}
