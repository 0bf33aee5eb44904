//! The template's IAM policies, proven per code path against moto with IAM enforced
//! (scripts/moto_iam.py resolves them from template.yaml; nothing is copied by hand):
//! - the relay, under the emulator with the function's policy: event, thumbnail, claim check,
//!   spill, quarantine and the secret read all succeed;
//! - each statement of the function's policy, removed in turn, makes its path fail;
//! - relayctl with the operator policy the README documents: every command it grants works,
//!   and without one statement the matching command fails with a one-line reason.
//!
//! moto authorizes Secrets Manager by action only, so moto_iam.py widens that statement to
//! `*` for the run; its scoping to the stack's secret is checked by scripts/check_template.py.
#![cfg(feature = "cli")]

mod support;

use std::process::Command;

use millicast_webhooks::samples::{self, SAMPLE_JPEG};
use support::emulator::Deployment;
use support::iam::IamMoto;
use support::*;

/// A JSON event larger than the 2 KiB SQS limit the tests configure: it goes by claim check.
fn oversize_event() -> String {
    format!(
        r#"{{"type":"media","event":"completed","timestamp":{},"data":{{"streamId":"acct/big","metadata":{{"note":"{}"}}}}}}"#,
        now_ms(),
        "x".repeat(4096)
    )
}

fn thumbnail(secret: &str) -> lambda_http::Request {
    thumbnail_at(secret, now_ms(), SAMPLE_JPEG)
}

fn thumbnail_at(secret: &str, captured_ms: i64, image: &[u8]) -> lambda_http::Request {
    let headers = samples::thumbnail_headers("acct/iam-stream", captured_ms);
    let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    thumbnail_request(image, &refs, secret)
}

fn relayctl_as(moto: &IamMoto, user: &str, args: &[&str]) -> (bool, String, String) {
    let (id, secret) = moto.keys(user);
    let output = Command::new(env!("CARGO_BIN_EXE_relayctl"))
        .args(args)
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", id)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env_remove("WEBHOOK_SECRET")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    )
}

/// POSTs `body` to the relay with the signature of `secret`; the answer's status.
async fn post(
    url: &str,
    body: Vec<u8>,
    content_type: &str,
    secret: &str,
    extra: &[(&str, String)],
) -> u16 {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", content_type)
        .header("x-millicast-signature", sign(secret, &body));
    for (name, value) in extra {
        request = request.header(*name, value);
    }
    request.body(body).send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_function_policy_allows_every_path_under_the_emulator() {
    let moto = IamMoto::start();
    let (id, key) = moto.keys("relay");
    let relay_env = [
        ("WEBHOOK_SECRET", ""),
        ("WEBHOOK_SECRET_ID", moto.secret_arn.as_str()),
        ("AWS_ACCESS_KEY_ID", id),
        ("AWS_SECRET_ACCESS_KEY", key),
        ("SQS_MAX_MESSAGE_BYTES", "2048"),
    ];
    let deployment = Deployment::start_at(moto.fixture().await, &relay_env).await;
    let url = deployment.url();
    let event = samples::json_sample("feeds-started", now_ms()).unwrap();
    // Verified with the secret read from Secrets Manager at init (ReadWebhookSecret).
    assert_eq!(
        post(
            &url,
            event.clone().into_bytes(),
            "application/json",
            SECRET,
            &[]
        )
        .await,
        200
    );
    let headers = samples::thumbnail_headers("acct/iam-stream", now_ms());
    assert_eq!(
        post(&url, SAMPLE_JPEG.to_vec(), "image/jpeg", SECRET, &headers).await,
        200
    );
    assert_eq!(
        post(
            &url,
            oversize_event().into_bytes(),
            "application/json",
            SECRET,
            &[]
        )
        .await,
        200
    );
    let forged = samples::json_sample("feeds-ended", now_ms()).unwrap();
    assert_eq!(
        post(
            &url,
            forged.into_bytes(),
            "application/json",
            OTHER_SECRET,
            &[]
        )
        .await,
        401
    );

    // SQS unreachable: the same user's spill to undelivered/.
    let mut spill_env = relay_env.to_vec();
    let dead = closed_port_endpoint();
    spill_env.push(("AWS_ENDPOINT_URL_SQS", dead.as_str()));
    let spilling = Deployment::start_at(moto.fixture().await, &spill_env).await;
    let spilled = samples::json_sample("media-completed", now_ms()).unwrap();
    assert_eq!(
        post(
            &spilling.url(),
            spilled.clone().into_bytes(),
            "application/json",
            SECRET,
            &[]
        )
        .await,
        200
    );

    let fixture = &deployment.fixture;
    let keys = fixture.keys().await;
    for prefix in [
        "thumbnails/acct/iam-stream/",
        "events/oversize/",
        "quarantine/",
        "undelivered/",
    ] {
        assert!(
            keys.iter().any(|k| k.starts_with(prefix)),
            "nothing under {prefix}: {keys:?}\n{}",
            deployment.log()
        );
    }
    let bodies: Vec<String> = fixture
        .messages()
        .await
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert!(bodies.contains(&event));
    assert!(bodies.iter().any(|b| b.contains(r#""event":"stored""#)));
    assert!(bodies.iter().any(|b| b.contains(r#""claimCheck""#)));
    assert_eq!(bodies.len(), 3, "{bodies:?}");
}

#[tokio::test]
async fn each_statement_of_the_function_policy_is_needed() {
    let moto = IamMoto::start();
    let fixture = moto.fixture().await;
    let mut sids = moto.sids.clone();
    sids.sort();
    let config = fixture.config(&[("SQS_MAX_MESSAGE_BYTES", "2048")]);
    let mut proven = Vec::new();
    for sid in &sids {
        let user = format!("relay-without-{sid}");
        let sdk = moto.sdk_as(&user, &moto.endpoint).await;
        let log = CapturedLog::default();
        let relay = fixture
            .relay_with(&config, &sdk, &sdk)
            .with_log_sink(log.sink());
        let event = || {
            json_webhook(
                &samples::json_sample("feeds-started", now_ms()).unwrap(),
                SECRET,
            )
        };
        let (status, answer) = match sid.as_str() {
            "WriteThumbnails" => status_and_body(&relay.handle(thumbnail(SECRET)).await),
            "WriteClaimChecks" => {
                status_and_body(&relay.handle(json_webhook(&oversize_event(), SECRET)).await)
            }
            "WriteSpilledEvents" => {
                // SQS unreachable, so the event must be spilled, which this user may not do.
                let sqs_down = moto.sdk_as(&user, &closed_port_endpoint()).await;
                let relay = fixture
                    .relay_with(&config, &sdk, &sqs_down)
                    .with_log_sink(log.sink());
                status_and_body(&relay.handle(event()).await)
            }
            "WriteQuarantine" => status_and_body(
                &relay
                    .handle(json_webhook(
                        &samples::json_sample("feeds-ended", now_ms()).unwrap(),
                        OTHER_SECRET,
                    ))
                    .await,
            ),
            "SendEvents" => status_and_body(&relay.handle(event()).await),
            "CompareLatestThumbnails" => {
                // Both images are stored, but latest.jpg cannot be compared, so the newer one
                // never replaces the first.
                let older = relay.handle(thumbnail_at(SECRET, 1_000, b"older")).await;
                assert_eq!(status_and_body(&older).0, 200);
                let answer =
                    status_and_body(&relay.handle(thumbnail_at(SECRET, 2_000, b"newer")).await);
                let latest = fixture
                    .objects()
                    .await
                    .into_iter()
                    .find(|o| o.key.ends_with("iam-stream/latest.jpg"))
                    .expect("latest.jpg");
                assert_eq!(latest.body, b"older");
                answer
            }
            "ReadWebhookSecret" => {
                let config = fixture.config(&[
                    ("WEBHOOK_SECRET", ""),
                    ("WEBHOOK_SECRET_ID", &moto.secret_arn),
                ]);
                let relay = fixture.relay_with_secrets(&config, &sdk).await;
                status_and_body(&relay.handle(event()).await)
            }
            other => panic!("template statement {other} has no path in this test: add one"),
        };
        let expected = match sid.as_str() {
            // Its path fails: the image, the oversize event, the spilled event are not durable.
            "WriteThumbnails" | "WriteClaimChecks" | "WriteSpilledEvents" => {
                (500, serde_json::json!({"error": "internal_error"}))
            }
            // The image is durable and announced; only latest.jpg lags.
            "CompareLatestThumbnails" => (200, serde_json::json!({"status": "stored"})),
            // The forged delivery is still refused, but cannot be kept.
            "WriteQuarantine" => (401, serde_json::json!({"error": "invalid_signature"})),
            // SQS refuses: the event goes to undelivered/ instead.
            "SendEvents" => (200, serde_json::json!({"status": "spilled"})),
            "ReadWebhookSecret" => (503, serde_json::json!({"error": "secret_unavailable"})),
            _ => unreachable!(),
        };
        assert_eq!((status, answer), expected, "without {sid}");
        if sid == "WriteQuarantine" {
            assert!(
                log.records()
                    .iter()
                    .any(|r| r["quarantineDropped"] == "store_failed")
            );
        }
        proven.push(sid.clone());
    }
    assert_eq!(proven.len(), 7, "{proven:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relayctl_works_with_the_operator_policy() {
    let moto = IamMoto::start();
    let fixture = moto.fixture().await;
    // What an operator finds after a renewal and an SQS outage: quarantined and spilled events.
    let relay_sdk = moto.sdk_as("relay", &moto.endpoint).await;
    let config = fixture.config(&[]);
    let relay = fixture.relay_with(&config, &relay_sdk, &relay_sdk);
    let renewed = samples::json_sample("feeds-started", now_ms()).unwrap();
    assert_eq!(
        status_and_body(&relay.handle(json_webhook(&renewed, OTHER_SECRET)).await).0,
        401
    );
    let relay_sqs_down = moto.sdk_as("relay", &closed_port_endpoint()).await;
    let spilling = fixture.relay_with(&config, &relay_sdk, &relay_sqs_down);
    let spilled = samples::json_sample("media-completed", now_ms()).unwrap();
    assert_eq!(
        status_and_body(&spilling.handle(json_webhook(&spilled, SECRET)).await).1["status"],
        "spilled"
    );

    let bucket = moto.bucket.as_str();
    let queue = moto.queue_url.as_str();
    let secret_id = moto.secret_arn.as_str();
    let (ok, out, err) = relayctl_as(
        &moto,
        "operator",
        &["quarantine", "list", "--bucket", bucket],
    );
    assert!(ok && out.contains("feeds/started"), "{out} {err}");
    // Without GetObject/DeleteObject on quarantine/ and undelivered/: a one-line refusal.
    let replay = [
        "quarantine",
        "replay",
        "--bucket",
        bucket,
        "--queue-url",
        queue,
        "--secret",
        OTHER_SECRET,
    ];
    let (ok, _, err) = relayctl_as(&moto, "operator-without-DrainQuarantineAndSpills", &replay);
    assert!(!ok);
    assert!(
        err.contains("AccessDenied") || err.contains("access denied") || err.contains("403"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("relayctl:")).count(),
        1,
        "{err}"
    );

    let (ok, out, err) = relayctl_as(&moto, "operator", &replay);
    assert!(ok, "{err}");
    assert_eq!(out, "replayed 1, kept 0");
    let (ok, out, err) = relayctl_as(
        &moto,
        "operator",
        &["redrive", "--bucket", bucket, "--queue-url", queue],
    );
    assert!(ok, "{err}");
    assert_eq!(out, "redriven 1, kept 0");
    let tail = [
        "tail",
        "--queue-url",
        queue,
        "--delete",
        "--json",
        "--exit-when-empty",
        "--wait-seconds",
        "0",
    ];
    let (ok, out, err) = relayctl_as(&moto, "operator", &tail);
    assert!(ok, "{err}");
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    let mut expected = vec![renewed.as_str(), spilled.as_str()];
    expected.sort();
    assert_eq!(lines, expected);
    // secret set reads and writes the stack's secret.
    let (id, key) = moto.keys("operator");
    let mut set = Command::new(env!("CARGO_BIN_EXE_relayctl"));
    set.args(["secret", "set", "--secret-id", secret_id])
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", id)
        .env("AWS_SECRET_ACCESS_KEY", key);
    let output = run_with_input(set, format!("{OTHER_SECRET}\n").as_bytes());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(fixture.messages().await.is_empty());
}
