//! Zero loss across a secret renewal (docs/architecture.md, "Quarantine and replay"), against moto's
//! S3, SQS and Secrets Manager over HTTP: the relay reads its secret from Secrets Manager,
//! re-reads it on a mismatch, keeps what it cannot verify, and replay recovers every delivery.
//! Forged deliveries are never forwarded, not even by replay.

use std::collections::HashSet;
use std::time::Duration;

use crate::support::faults::{FaultProxy, Mode};
use crate::support::*;
use millicast_webhook_relay::aws::secretsmanager::read_secrets;
use millicast_webhook_relay::aws::{sdk as aws, secretsmanager};
use millicast_webhook_relay::operator::replay::ReplayOptions;
use millicast_webhook_relay::relay::config::Config;
use millicast_webhook_relay::relay::secrets::SecretSet;
use millicast_webhook_relay::relay::secrets::WebhookVerifier;
use millicast_webhooks::samples::{self, JSON_SAMPLES, SAMPLE_JPEG};

/// The renewed secret (base64 of "renewed-secret-0123456789").
const NEW_SECRET: &str = "cmVuZXdlZC1zZWNyZXQtMDEyMzQ1Njc4OQ==";

/// One delivery as the platform sent it, to compare with what arrived.
#[derive(Debug, Clone)]
enum Sent {
    Event(String),
    Thumbnail { sha256: String },
}

/// The `n`-th delivery of a realistic mix (every JSON sample, every fourth a thumbnail),
/// signed with `secret`; distinct content each time.
fn delivery(n: usize, secret: &str) -> (lambda_http::Request, Sent) {
    let ts = now_ms();
    if n % 4 == 3 {
        let mut image = SAMPLE_JPEG.to_vec();
        // Bytes after the JPEG's end marker are ignored by decoders: a distinct image.
        image.extend_from_slice(format!("delivery-{n}").as_bytes());
        let headers = samples::thumbnail_headers(&format!("acct/stream-{}", n % 3), ts);
        let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let sha256 = sha256_hex(&image);
        (
            thumbnail_request(&image, &refs, secret),
            Sent::Thumbnail { sha256 },
        )
    } else {
        let name = JSON_SAMPLES[n % JSON_SAMPLES.len()];
        // A distinct body: the sample stamped with a distinct time.
        let body = samples::json_sample(name, ts + n as i64).unwrap();
        (json_webhook(&body, secret), Sent::Event(body))
    }
}

/// Asserts that every sent delivery arrived (events on the queue by body, thumbnails in S3 by
/// content hash) and that nothing is left in quarantine; returns how many were checked.
async fn assert_all_arrived(fixture: &Fixture, sent: &[Sent]) -> usize {
    let messages = fixture.messages().await;
    let bodies: HashSet<&str> = messages.iter().map(|m| m.body.as_str()).collect();
    let objects = fixture.objects().await;
    let images: HashSet<&str> = objects
        .iter()
        .filter(|o| o.key.starts_with("thumbnails/") && !o.key.ends_with("latest.jpg"))
        .filter(|o| o.metadata.get("sha256") == Some(&sha256_hex(&o.body)))
        .map(|o| o.metadata["sha256"].as_str())
        .collect();
    let mut lost = Vec::new();
    for delivery in sent {
        let arrived = match delivery {
            Sent::Event(body) => bodies.contains(body.as_str()),
            Sent::Thumbnail { sha256 } => images.contains(sha256.as_str()),
        };
        if !arrived {
            lost.push(delivery.clone());
        }
    }
    assert!(lost.is_empty(), "lost {} deliveries: {lost:?}", lost.len());
    let left: Vec<&str> = objects
        .iter()
        .map(|o| o.key.as_str())
        .filter(|k| k.starts_with("quarantine/"))
        .collect();
    assert!(left.is_empty(), "left in quarantine: {left:?}");
    sent.len()
}

fn secrets_manager_config(
    fixture: &Fixture,
    secret_id: &str,
    extra: &[(&'static str, &str)],
) -> Config {
    let mut overrides = vec![
        ("WEBHOOK_SECRET", ""),
        ("WEBHOOK_SECRET_ID", secret_id),
        ("SECRET_REFRESH_SECONDS", "1"),
    ];
    overrides.extend_from_slice(extra);
    fixture.config(&overrides)
}

async fn stored_verifiers(fixture: &Fixture, secret_id: &str) -> Vec<WebhookVerifier> {
    let client = aws::secrets_client(&fixture.sdk);
    read_secrets(&client, secret_id).await.unwrap().verifiers()
}

#[tokio::test]
async fn a_renewal_loses_nothing() {
    let fixture = Fixture::new(false).await;
    let secret_id = fixture
        .create_secret(&format!(r#"{{"current":"{SECRET}"}}"#))
        .await;
    let config = secrets_manager_config(&fixture, &secret_id, &[]);
    let relay = fixture.relay_with_secrets(&config, &fixture.sdk).await;
    let mut sent = Vec::new();
    let (mut accepted, mut quarantined) = (0, 0);
    let handle = async |n: usize, secret: &str, sent: &mut Vec<Sent>| {
        let (request, delivery) = delivery(n, secret);
        sent.push(delivery);
        status_and_body(&relay.handle(request).await).0
    };

    // Before the renewal: the stored secret verifies, without a single re-read.
    for n in 0..20 {
        assert_eq!(handle(n, SECRET, &mut sent).await, 200);
        accepted += 1;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // The platform renews: every delivery from now on is signed with the new secret, which
    // the relay cannot know yet (the re-read still finds the old one). All are kept.
    for n in 20..40 {
        assert_eq!(handle(n, NEW_SECRET, &mut sent).await, 401);
        quarantined += 1;
    }
    // The operator stores the new secret (the old one becomes `previous`).
    secretsmanager::store_new_secret(
        &aws::secrets_client(&fixture.sdk),
        &secret_id,
        millicast_webhook_relay::relay::secrets::WebhookSecret::from_base64(NEW_SECRET).unwrap(),
        secretsmanager::NewSecret::default(),
        secretsmanager::Previous::Keep,
    )
    .await
    .unwrap();
    // Within the refresh interval of the last read the relay still keeps them; after it, it
    // re-reads once and accepts; old-secret deliveries still in flight verify as `previous`.
    let mut n = 40;
    let until = std::time::Instant::now() + Duration::from_millis(1600);
    while std::time::Instant::now() < until {
        match handle(n, NEW_SECRET, &mut sent).await {
            200 => accepted += 1,
            401 => quarantined += 1,
            other => panic!("status {other}"),
        }
        n += 1;
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    assert_eq!(
        handle(n, SECRET, &mut sent).await,
        200,
        "previous still accepted"
    );
    accepted += 1;
    assert!(
        quarantined >= 20,
        "new-secret deliveries before the re-read are kept"
    );
    let kept = fixture.objects_under("quarantine/").await;
    assert_eq!(kept.len(), quarantined);

    let (replayed, kept) = fixture
        .replay(
            &config,
            &stored_verifiers(&fixture, &secret_id).await,
            ReplayOptions::default(),
        )
        .await;
    assert!(kept.is_empty(), "kept: {kept:?}");
    assert_eq!(replayed, quarantined);
    let checked = assert_all_arrived(&fixture, &sent).await;
    println!(
        "renewal: sent {checked}, accepted at once {accepted}, quarantined {quarantined}, replayed {replayed}, lost 0"
    );
}

#[tokio::test]
async fn secrets_manager_unreachable_at_init_quarantines_then_recovers() {
    let fixture = Fixture::new(false).await;
    let secret_id = fixture
        .create_secret(&format!(r#"{{"current":"{SECRET}"}}"#))
        .await;
    let proxy = FaultProxy::start(&moto().endpoint).await;
    proxy.set(Mode::Refuse);
    let secrets_sdk = sdk_config(&proxy.endpoint).await;
    let config = secrets_manager_config(&fixture, &secret_id, &[]);
    let log = CapturedLog::default();
    let relay = fixture
        .relay_with_secrets(&config, &secrets_sdk)
        .await
        .with_log_sink(log.sink());
    assert!(!relay.secrets().is_available());

    let mut sent = Vec::new();
    for n in 0..8 {
        let (request, delivery) = delivery(n, SECRET);
        sent.push(delivery);
        assert_eq!(
            status_and_body(&relay.handle(request).await),
            (503, serde_json::json!({"error": "secret_unavailable"}))
        );
    }
    let kept = fixture.objects_under("quarantine/").await;
    assert_eq!(kept.len(), 8);
    assert!(
        kept.iter()
            .all(|o| o.metadata["reason"] == "secret_unavailable")
    );
    let records = log.records();
    assert!(
        records
            .iter()
            .all(|r| r["Quarantined"] == 1 && r["Failed"] == 0)
    );

    // Secrets Manager is back: after the refresh interval the next delivery re-reads it.
    proxy.set(Mode::Up);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (request, delivery) = delivery(8, SECRET);
    sent.push(delivery);
    assert_eq!(status_and_body(&relay.handle(request).await).0, 200);
    assert!(relay.secrets().is_available());

    let (replayed, kept) = fixture
        .replay(
            &config,
            &stored_verifiers(&fixture, &secret_id).await,
            ReplayOptions::default(),
        )
        .await;
    assert_eq!((replayed, kept), (8, vec![]));
    assert_eq!(assert_all_arrived(&fixture, &sent).await, 9);
}

#[tokio::test]
async fn forged_and_stale_deliveries_stay_in_quarantine() {
    let fixture = Fixture::new(false).await;
    let secret_id = fixture
        .create_secret(&format!(r#"{{"current":"{SECRET}"}}"#))
        .await;
    // A short replay window, to tell "stale when received" from "replayed late".
    let config = secrets_manager_config(&fixture, &secret_id, &[("REPLAY_WINDOW_SECONDS", "2")]);
    let relay = fixture.relay_with_secrets(&config, &fixture.sdk).await;
    let now = now_ms();

    // Signed with a secret nobody will ever store: a forgery.
    let forged = samples::json_sample("feeds-started", now).unwrap();
    // Signed with the renewed secret, but already stale when it arrived.
    let stale = samples::json_sample("feeds-ended", now - 60_000).unwrap();
    // Signed with the renewed secret, fresh when it arrived, replayed after the window.
    let fresh = samples::json_sample("media-completed", now).unwrap();
    for (body, secret) in [
        (&forged, OTHER_SECRET),
        (&stale, NEW_SECRET),
        (&fresh, NEW_SECRET),
    ] {
        assert_eq!(
            status_and_body(&relay.handle(json_webhook(body, secret)).await).0,
            401
        );
    }
    assert_eq!(fixture.objects_under("quarantine/").await.len(), 3);
    fixture
        .put_secret(
            &secret_id,
            &SecretSet::parse_value(NEW_SECRET).unwrap().to_value(),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let verifiers = stored_verifiers(&fixture, &secret_id).await;
    let (replayed, kept) = fixture
        .replay(&config, &verifiers, ReplayOptions::default())
        .await;
    assert_eq!(replayed, 1, "only the fresh delivery: {kept:?}");
    let reasons: Vec<&str> = kept.iter().map(|(_, reason)| reason.as_str()).collect();
    assert_eq!(kept.len(), 2);
    assert!(reasons.contains(&"stale_timestamp"), "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.starts_with("invalid_signature")),
        "{reasons:?}"
    );
    // Only the fresh one reached the queue; a second replay changes nothing.
    let messages = fixture.messages().await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body, fresh);
    let (again, kept_again) = fixture
        .replay(&config, &verifiers, ReplayOptions::default())
        .await;
    assert_eq!((again, kept_again.len()), (0, 2));
    assert!(fixture.messages().await.is_empty());
}

#[tokio::test]
async fn the_caps_hold_under_a_flood() {
    let fixture = Fixture::new(false).await;
    let config = fixture.config(&[
        ("QUARANTINE_PER_MINUTE", "5"),
        ("QUARANTINE_MAX_BYTES", "2000"),
    ]);
    let log = CapturedLog::default();
    let relay = fixture.relay(&config).with_log_sink(log.sink());
    // The per-minute cap counts calendar minutes: start the flood well inside one.
    let into_minute = now_ms() % 60_000;
    if into_minute > 55_000 {
        tokio::time::sleep(Duration::from_millis((60_000 - into_minute + 100) as u64)).await;
    }
    let large = format!(r#"{{"type":"feeds","pad":"{}"}}"#, "x".repeat(3000));
    for n in 0..60 {
        let body = if n % 6 == 0 {
            large.clone()
        } else {
            format!(r#"{{"type":"feeds","n":{n}}}"#)
        };
        let (status, _) = status_and_body(&relay.handle(json_webhook(&body, OTHER_SECRET)).await);
        assert_eq!(status, 401);
    }
    let kept = fixture.objects_under("quarantine/").await;
    assert_eq!(kept.len(), 5, "the per-minute cap");
    assert!(kept.iter().all(|o| o.body.len() <= 2000), "the size cap");
    assert!(fixture.messages().await.is_empty());
    let records = log.records();
    let sum = |name: &str| {
        records
            .iter()
            .map(|r| r[name].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!((sum("Quarantined"), sum("QuarantineDropped")), (5, 55));
    let too_large = records
        .iter()
        .filter(|r| r["quarantineDropped"] == "too_large")
        .count();
    assert_eq!(too_large, 10);
}

#[tokio::test]
async fn quarantine_can_be_turned_off() {
    let fixture = Fixture::new(false).await;
    let relay = fixture.relay(&fixture.config(&[("QUARANTINE", "false")]));
    let body = samples::json_sample("feeds-started", now_ms()).unwrap();
    let (status, _) = status_and_body(&relay.handle(json_webhook(&body, OTHER_SECRET)).await);
    assert_eq!(status, 401);
    fixture.assert_untouched("quarantine off").await;
}
