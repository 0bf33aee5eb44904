//! The template's IAM policies, proven per code path against moto with IAM enforced
//! (scripts/moto_iam.py resolves them from template.yaml; nothing is copied by hand):
//! - the relay, under the emulator with the function's policy: event, thumbnail, claim check,
//!   spill, quarantine and the secret read all succeed;
//! - each statement of the function's policy, removed in turn, makes its path fail;
//! - relayctl with the operator policy the README documents: every command it grants works,
//!   and without one statement the matching command fails with a one-line reason;
//! - a consumer with the consumer policy reads what the relay sent (claim check and thumbnail
//!   included) and nothing else; each of its statements, removed in turn, denies its action.
//!
//! - `relayctl wall` with the operator policy shows a stream the relay stored; without
//!   ListBucket, or without GetObject on the thumbnail prefix (FindTestThumbnails), it says which
//!   permission is missing and where the policy is documented;
//! - under a customer-managed key (KmsKeyArn, the rig's `--kms-key`): every resource encrypted
//!   with it, the relay's paths, relayctl (the wall too), the consumer policy and the Python and
//!   Node consumers all work, and without each kms statement its paths fail.
//!
//! moto authorizes Secrets Manager by action only, so moto_iam.py widens that statement to
//! `*` for the run; its scoping to the stack's secret is checked by scripts/check_template.py.
//! moto never authorizes the KMS use of S3, SQS and Secrets Manager calls: the rig does, on the
//! key's ARN, for the calls and actions AWS documents (scripts/moto_iam.py, KMS_NEEDS).

use std::process::Command;

use crate::support::emulator::Deployment;
use crate::support::iam::IamMoto;
use crate::support::wall::{WallProcess, send_thumbnail, unique_jpeg};
use crate::support::*;
use millicast_webhook_relay::aws::sdk as aws;
use millicast_webhooks::samples::{self, SAMPLE_JPEG};

/// The two tests that run the relay under the emulator take turns: on two cores, each with its
/// emulators, moto and (the key's) consumers beside the other tests of this file, a first
/// delivery has been seen to miss the SQS and S3 deadlines and be answered 500.
static EMULATOR: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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
    let _turn = EMULATOR.lock().await;
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
        200,
        "{}",
        deployment.log()
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
            // The bus output: the put is denied, so the copy is kept for redrive instead.
            "PublishToEventBus" => {
                let relay = with_bus(&fixture, &config, &sdk, &sdk, &moto, &log).await;
                let answer = status_and_body(&relay.handle(event()).await);
                assert_eq!(
                    log.records().last().unwrap()["bus"],
                    "kept",
                    "without {sid}"
                );
                answer
            }
            // EventBridge unreachable: its copy must be kept, which this user may not do.
            "WriteBusSpills" => {
                let bus_down = moto.sdk_as(&user, &closed_port_endpoint()).await;
                let relay = with_bus(&fixture, &config, &sdk, &bus_down, &moto, &log).await;
                let answer = status_and_body(&relay.handle(event()).await);
                assert_eq!(
                    log.records().last().unwrap()["bus"],
                    "lost",
                    "without {sid}"
                );
                answer
            }
            // Without KmsKeyArn these name key/none and grant nothing: every path works without
            // them (a_customer_managed_key_serves_every_path shows them needed with a key).
            "EncryptWithKey" => status_and_body(&relay.handle(thumbnail(SECRET)).await),
            "DecryptWithKey" => status_and_body(&relay.handle(event()).await),
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
            "EncryptWithKey" => (200, serde_json::json!({"status": "stored"})),
            // The queue is the delivery of record: the answer is its, whatever the bus did.
            "PublishToEventBus" | "WriteBusSpills" => {
                (200, serde_json::json!({"status": "forwarded"}))
            }
            "DecryptWithKey" => (200, serde_json::json!({"status": "forwarded"})),
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
    // Every statement was removed in turn; all but the key's two are needed without a key
    // (a_customer_managed_key_serves_every_path shows those two needed with one).
    assert_eq!(proven.len(), 11, "{proven:?}");
    let key_statements = ["EncryptWithKey", "DecryptWithKey"];
    assert_eq!(
        proven
            .iter()
            .filter(|sid| !key_statements.contains(&sid.as_str()))
            .count(),
        9,
        "{proven:?}"
    );
}

/// A relay with the bus output on, on a bus the rig's admin creates: `sdk` reaches S3 and SQS,
/// `bus_sdk` EventBridge, as the user they sign for.
async fn with_bus(
    fixture: &Fixture,
    config: &millicast_webhook_relay::Config,
    sdk: &aws_config::SdkConfig,
    bus_sdk: &aws_config::SdkConfig,
    moto: &IamMoto,
    log: &CapturedLog,
) -> MotoRelay {
    let admin = moto.sdk_as("admin", &moto.endpoint).await;
    let name = format!("{}-events", fixture.bucket);
    let _ = aws::eventbridge_client(&admin)
        .create_event_bus()
        .name(&name)
        .send()
        .await;
    fixture
        .relay_with(config, sdk, sdk)
        .with_bus(std::sync::Arc::new(
            millicast_webhook_relay::aws::eventbridge::EventBridgeBus::new(
                aws::eventbridge_client(bus_sdk),
                name,
            ),
        ))
        .with_log_sink(log.sink())
}

#[tokio::test]
async fn the_function_policy_allows_the_bus_output() {
    // With every statement: the copy goes on the bus; with EventBridge unreachable, it is kept.
    let moto = IamMoto::start();
    let fixture = moto.fixture().await;
    let config = fixture.config(&[]);
    let sdk = moto.sdk_as("relay", &moto.endpoint).await;
    let log = CapturedLog::default();
    let relay = with_bus(&fixture, &config, &sdk, &sdk, &moto, &log).await;
    let event = samples::json_sample("feeds-started", now_ms()).unwrap();
    let answer = status_and_body(&relay.handle(json_webhook(&event, SECRET)).await);
    assert_eq!(answer, (200, serde_json::json!({"status": "forwarded"})));
    assert_eq!(log.records().last().unwrap()["bus"], "put");
    let bus_down = moto.sdk_as("relay", &closed_port_endpoint()).await;
    let relay = with_bus(&fixture, &config, &sdk, &bus_down, &moto, &log).await;
    let answer = status_and_body(&relay.handle(json_webhook(&event, SECRET)).await);
    assert_eq!(answer, (200, serde_json::json!({"status": "forwarded"})));
    assert_eq!(log.records().last().unwrap()["bus"], "kept");
    assert_eq!(fixture.objects_under("undelivered-bus/").await.len(), 1);
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

/// `relayctl wall` as `user`, over the rig's bucket.
fn wall_as(moto: &IamMoto, user: &str) -> WallProcess {
    wall_with(moto, user, &["--bucket", &moto.bucket, "--refresh", "1"])
}

/// `relayctl wall <args>` as `user`.
fn wall_with(moto: &IamMoto, user: &str, args: &[&str]) -> WallProcess {
    let (id, secret) = moto.keys(user);
    WallProcess::start(
        args,
        &[
            ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", id),
            ("AWS_SECRET_ACCESS_KEY", secret),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wall_needs_the_operator_policys_list_and_read_statements() {
    let moto = IamMoto::start();
    let fixture = moto.fixture().await;
    // The relay, with its own policy, stores a stream's thumbnail and latest.jpg.
    let relay_sdk = moto.sdk_as("relay", &moto.endpoint).await;
    let relay = fixture.relay_with(&fixture.config(&[]), &relay_sdk, &relay_sdk);
    let image = unique_jpeg("iam");
    send_thumbnail(&relay, "acct/iam-stream", now_ms(), &image, SECRET).await;
    let latest = format!("s3://{}/thumbnails/acct/iam-stream/latest.jpg", moto.bucket);

    // With the operator policy: the tile, its capture time, its image.
    let wall = wall_as(&moto, "operator");
    let said = wall.wait_for_stderr("stream(s)").await;
    assert!(said.contains("1 stream(s): 1 live, 0 quiet"), "{said}");
    let streams = wall.streams().await;
    assert_eq!(streams["notices"], serde_json::json!([]), "{streams}");
    let tile = &streams["tiles"][0];
    assert_eq!(
        (tile["id"].as_str(), &tile["captureKnown"]),
        (Some("acct/iam-stream"), &serde_json::json!(true))
    );
    let answer = wall.get(tile["image"].as_str().unwrap()).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.bytes().await.unwrap().as_ref(), image.as_slice());
    drop(wall);

    // Without ListBucket: nothing to list; the terminal and the page name the permission and
    // the policy's documentation.
    let wall = wall_as(&moto, "operator-without-ListBucket");
    let said = wall.wait_for_stderr("stream(s)").await;
    let expected = format!(
        "Cannot list s3://{}/thumbnails/: access denied: relayctl needs s3:ListBucket on the \
         bucket (the operator policy's ListBucket statement). (see docs/operate.md#iam-for-relayctl)",
        moto.bucket
    );
    assert!(said.contains(&expected), "{said}");
    let notice = &wall.streams().await["notices"][0];
    assert_eq!(notice["kind"], "problem");
    assert_eq!(notice["see"], "docs/operate.md#iam-for-relayctl");
    drop(wall);

    // Without FindTestThumbnails (GetObject on the thumbnail prefix): the stream is listed but
    // neither its capture time nor its image can be read.
    let wall = wall_as(&moto, "operator-without-FindTestThumbnails");
    let said = wall.wait_for_stderr("stream(s)").await;
    assert!(
        said.contains(&format!(
            "Cannot read {latest}: access denied: relayctl needs s3:GetObject on the thumbnail \
             prefix (the operator policy's FindTestThumbnails statement)."
        )),
        "{said}"
    );
    let streams = wall.streams().await;
    let tile = &streams["tiles"][0];
    assert_eq!(tile["captureKnown"], false, "{streams}");
    assert_eq!(
        wall.get(tile["image"].as_str().unwrap()).await.status(),
        502
    );
}

async fn clients_as(moto: &IamMoto, user: &str) -> (aws_sdk_sqs::Client, aws_sdk_s3::Client) {
    let sdk = moto.sdk_as(user, &moto.endpoint).await;
    (aws::sqs_client(&sdk), aws::s3_client(&sdk, true))
}

/// IAM refused the call: HTTP 403 with AccessDenied in the body (read raw: moto answers the
/// JSON-protocol SQS calls with an XML error body).
macro_rules! assert_denied {
    ($call:expr, $what:expr) => {{
        match $call {
            Ok(_) => panic!("{} was allowed", $what),
            Err(error) => {
                let raw = error
                    .raw_response()
                    .unwrap_or_else(|| panic!("{}: no HTTP answer: {error:?}", $what));
                let body = String::from_utf8_lossy(raw.body().bytes().unwrap_or_default());
                assert_eq!(raw.status().as_u16(), 403, "{}: {body}", $what);
                assert!(body.contains("AccessDenied"), "{}: {body}", $what);
            }
        }
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_needs_exactly_the_consumer_policy() {
    let moto = IamMoto::start();
    let fixture = moto.fixture().await;
    let bucket = moto.bucket.as_str();
    let queue = moto.queue_url.as_str();
    // What the relay (with its own policy) leaves for consumers: an event, a claim check, a
    // thumbnail and its announcement; and what is not theirs: a quarantined and a spilled delivery.
    let relay_sdk = moto.sdk_as("relay", &moto.endpoint).await;
    let config = fixture.config(&[("SQS_MAX_MESSAGE_BYTES", "2048")]);
    let relay = fixture.relay_with(&config, &relay_sdk, &relay_sdk);
    let feeds = samples::json_sample("feeds-started", now_ms()).unwrap();
    for (request, status) in [
        (json_webhook(&feeds, SECRET), "forwarded"),
        (json_webhook(&oversize_event(), SECRET), "claim_checked"),
        (thumbnail(SECRET), "stored"),
    ] {
        assert_eq!(
            status_and_body(&relay.handle(request).await).1["status"],
            status
        );
    }
    let forged = samples::json_sample("feeds-ended", now_ms()).unwrap();
    assert_eq!(
        status_and_body(&relay.handle(json_webhook(&forged, OTHER_SECRET)).await).0,
        401
    );
    let sqs_down = moto.sdk_as("relay", &closed_port_endpoint()).await;
    let spilling = fixture.relay_with(&config, &relay_sdk, &sqs_down);
    let spilled = samples::json_sample("media-completed", now_ms()).unwrap();
    assert_eq!(
        status_and_body(&spilling.handle(json_webhook(&spilled, SECRET)).await).1["status"],
        "spilled"
    );
    let keys = fixture.keys().await;
    let under = |prefix: &str| keys.iter().find(|k| k.starts_with(prefix)).unwrap().clone();
    let (quarantined, undelivered) = (under("quarantine/"), under("undelivered/"));

    // The consumer: receives the three messages, reads the claim check (and checks its
    // sha256) and the thumbnail, holds one message longer, reads the queue's attributes.
    let (sqs, s3) = clients_as(&moto, "consumer").await;
    let mut received = Vec::new();
    for _ in 0..10 {
        let batch = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        received.extend(batch.messages().iter().cloned());
        if received.len() >= 3 {
            break;
        }
    }
    assert_eq!(received.len(), 3, "{received:?}");
    let kind = |message: &aws_sdk_sqs::types::Message| {
        let attribute = |name: &str| {
            message
                .message_attributes()
                .and_then(|a| a.get(name))
                .and_then(|v| v.string_value())
                .unwrap_or_default()
                .to_owned()
        };
        (attribute("type"), attribute("claimCheck"))
    };
    let body = |message: &aws_sdk_sqs::types::Message| -> serde_json::Value {
        serde_json::from_str(message.body().unwrap()).unwrap()
    };
    let get = |key: String| s3.get_object().bucket(bucket).key(key).send();
    let pointer = received.iter().find(|m| kind(m).1 == "true").unwrap();
    let claim = &body(pointer)["claimCheck"];
    let stored = get(claim["key"].as_str().unwrap().to_owned())
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(sha256_hex(&stored), claim["sha256"]);
    let announcement = received.iter().find(|m| kind(m).0 == "thumbnail").unwrap();
    let image_key = body(announcement)["data"]["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let latest_key = format!(
        "{}latest.jpg",
        &image_key[..image_key.rfind('/').unwrap() + 1]
    );
    for key in [&image_key, &latest_key] {
        let image = get(key.clone())
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap();
        assert_eq!(image.into_bytes().as_ref(), SAMPLE_JPEG, "{key}");
    }
    let handle =
        |message: &aws_sdk_sqs::types::Message| message.receipt_handle().unwrap().to_owned();
    sqs.change_message_visibility()
        .queue_url(queue)
        .receipt_handle(handle(&received[0]))
        .visibility_timeout(120)
        .send()
        .await
        .unwrap();
    sqs.get_queue_attributes()
        .queue_url(queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    // docs/contract.md's example message is this line's output (`-- --nocapture`), in the
    // shape of SQS's ReceiveMessage answer.
    let event = received.iter().find(|m| kind(m).0 == "feeds").unwrap();
    let shown: std::collections::BTreeMap<_, _> = event
        .message_attributes()
        .unwrap()
        .iter()
        .map(|(name, value)| {
            let value = serde_json::json!({"DataType": value.data_type(), "StringValue": value.string_value()});
            (name.clone(), value)
        })
        .collect();
    let shown = serde_json::json!({"Body": event.body(), "MessageAttributes": shown});
    println!("{}", serde_json::to_string_pretty(&shown).unwrap());

    // Nothing else: no sending, no dead-letter queue, no quarantine or spills, no listing.
    assert_denied!(
        sqs.send_message()
            .queue_url(queue)
            .message_body("{}")
            .send()
            .await,
        "SendMessage"
    );
    assert_denied!(
        sqs.receive_message().queue_url(&moto.dlq_url).send().await,
        "ReceiveMessage on the dead-letter queue"
    );
    assert_denied!(get(quarantined.clone()).await, "GetObject quarantine/");
    assert_denied!(get(undelivered.clone()).await, "GetObject undelivered/");
    assert_denied!(
        s3.list_objects_v2().bucket(bucket).send().await,
        "ListBucket"
    );
    assert_denied!(
        s3.delete_object()
            .bucket(bucket)
            .key(&image_key)
            .send()
            .await,
        "DeleteObject of a thumbnail"
    );

    // Each statement is needed: without it, its action is denied.
    let mut sids = moto.consumer_sids.clone();
    sids.sort();
    for sid in &sids {
        let (sqs, s3) = clients_as(&moto, &format!("consumer-without-{sid}")).await;
        let get = |key: String| s3.get_object().bucket(bucket).key(key).send();
        match sid.as_str() {
            "ReceiveEvents" => {
                assert_denied!(sqs.receive_message().queue_url(queue).send().await, sid)
            }
            "DeleteEvents" => assert_denied!(
                sqs.delete_message()
                    .queue_url(queue)
                    .receipt_handle(handle(&received[1]))
                    .send()
                    .await,
                sid
            ),
            "ChangeEventVisibility" => assert_denied!(
                sqs.change_message_visibility()
                    .queue_url(queue)
                    .receipt_handle(handle(&received[1]))
                    .visibility_timeout(0)
                    .send()
                    .await,
                sid
            ),
            "ReadQueueAttributes" => assert_denied!(
                sqs.get_queue_attributes()
                    .queue_url(queue)
                    .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
                    .send()
                    .await,
                sid
            ),
            "ReadClaimChecks" => {
                assert_denied!(get(claim["key"].as_str().unwrap().to_owned()).await, sid)
            }
            "ReadThumbnails" => assert_denied!(get(image_key.clone()).await, sid),
            // Without KmsKeyArn it names key/none and grants nothing: receiving works without it
            // (a_customer_managed_key_serves_every_path shows it needed with a key).
            "DecryptWithKey" => {
                sqs.receive_message()
                    .queue_url(queue)
                    .visibility_timeout(0)
                    .send()
                    .await
                    .unwrap();
            }
            other => panic!("consumer statement {other} has no action in this test: add one"),
        }
    }
    assert_eq!(sids.len(), 7, "{sids:?}");

    // Done with them: delete (DeleteEvents), and the queue is empty for the admin too.
    for message in &received {
        sqs.delete_message()
            .queue_url(queue)
            .receipt_handle(handle(message))
            .send()
            .await
            .unwrap();
    }
    assert!(fixture.messages().await.is_empty());
}

/// The key an object is stored under, as S3 reports it to the admin.
async fn object_key(fixture: &Fixture, key: &str) -> (Option<String>, Option<String>) {
    let head = fixture
        .s3
        .head_object()
        .bucket(&fixture.bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    (
        head.server_side_encryption().map(|s| s.as_str().to_owned()),
        head.ssekms_key_id().map(str::to_owned),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_managed_key_serves_every_path() {
    let _turn = EMULATOR.lock().await;
    let moto = IamMoto::start_with_kms_key();
    let key = moto.kms_key_arn.clone().unwrap();
    let fixture = moto.fixture().await;
    let (id, secret_key) = moto.keys("relay");
    let relay_env = [
        ("WEBHOOK_SECRET", ""),
        ("WEBHOOK_SECRET_ID", moto.secret_arn.as_str()),
        ("AWS_ACCESS_KEY_ID", id),
        ("AWS_SECRET_ACCESS_KEY", secret_key),
        ("SQS_MAX_MESSAGE_BYTES", "2048"),
    ];

    // The relay under the emulator with the function's policy: the secret read at init (Decrypt),
    // an event (SendMessage: GenerateDataKey + Decrypt), a thumbnail and latest.jpg (PutObject:
    // GenerateDataKey; the HEAD of latest.jpg), a claim check, a quarantined forgery, a spill.
    let deployment = Deployment::start_at(moto.fixture().await, &relay_env).await;
    let url = deployment.url();
    let event = samples::json_sample("feeds-started", now_ms()).unwrap();
    let headers = samples::thumbnail_headers("acct/iam-stream", now_ms());
    let forged = samples::json_sample("feeds-ended", now_ms()).unwrap();
    for (body, content_type, secret, extra, status) in [
        (
            event.clone().into_bytes(),
            "application/json",
            SECRET,
            &[][..],
            200,
        ),
        (
            SAMPLE_JPEG.to_vec(),
            "image/jpeg",
            SECRET,
            &headers[..],
            200,
        ),
        (
            oversize_event().into_bytes(),
            "application/json",
            SECRET,
            &[][..],
            200,
        ),
        (
            forged.into_bytes(),
            "application/json",
            OTHER_SECRET,
            &[][..],
            401,
        ),
    ] {
        assert_eq!(
            post(&url, body, content_type, secret, extra).await,
            status,
            "{}",
            deployment.log()
        );
    }
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
    // Everything the relay wrote is under the key (it names no encryption; the bucket does).
    let keys = fixture.keys().await;
    for prefix in [
        "thumbnails/acct/iam-stream/",
        "events/oversize/",
        "quarantine/",
        "undelivered/",
    ] {
        let stored = keys.iter().find(|k| k.starts_with(prefix));
        let stored = stored.unwrap_or_else(|| panic!("nothing under {prefix}: {keys:?}"));
        assert_eq!(
            object_key(&fixture, stored).await,
            (Some("aws:kms".to_owned()), Some(key.clone())),
            "{stored}"
        );
    }
    assert!(keys.iter().any(|k| k.ends_with("iam-stream/latest.jpg")));

    // Without each kms statement (in process, the same user's paths).
    let config = fixture.config(&[("SQS_MAX_MESSAGE_BYTES", "2048")]);
    let feeds = || {
        json_webhook(
            &samples::json_sample("feeds-started", now_ms()).unwrap(),
            SECRET,
        )
    };
    let sdk = moto
        .sdk_as("relay-without-EncryptWithKey", &moto.endpoint)
        .await;
    let relay = fixture.relay_with(&config, &sdk, &sdk);
    // No data key for S3 or SQS: neither the image nor the event (nor its spill) is durable.
    assert_eq!(
        status_and_body(&relay.handle(thumbnail(SECRET)).await).0,
        500
    );
    assert_eq!(status_and_body(&relay.handle(feeds()).await).0, 500);
    let sdk = moto
        .sdk_as("relay-without-DecryptWithKey", &moto.endpoint)
        .await;
    let relay = fixture.relay_with(&config, &sdk, &sdk);
    // SQS refuses (a producer needs Decrypt too); S3 takes the spill (PutObject needs none).
    assert_eq!(
        status_and_body(&relay.handle(feeds()).await).1,
        serde_json::json!({"status": "spilled"})
    );
    assert_eq!(
        status_and_body(&relay.handle(thumbnail(SECRET)).await).1["status"],
        "stored"
    );

    // relayctl with the operator policy: the quarantine listed and replayed, the spills
    // redriven, the queue tailed, the secret set (PutSecretValue: GenerateDataKey + Decrypt).
    let bucket = moto.bucket.as_str();
    let queue = moto.queue_url.as_str();
    let (ok, out, err) = relayctl_as(
        &moto,
        "operator",
        &["quarantine", "list", "--bucket", bucket],
    );
    assert!(ok && out.contains("feeds/ended"), "{out} {err}");
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
    let (ok, out, err) = relayctl_as(&moto, "operator", &replay);
    assert!(ok, "{err}");
    assert_eq!(out, "replayed 1, kept 0");
    let redrive = ["redrive", "--bucket", bucket, "--queue-url", queue];
    // Without kms:Decrypt the spills cannot be read (GetObject of an SSE-KMS object): kept.
    let (ok, _, err) = relayctl_as(&moto, "operator-without-DecryptWithKey", &redrive);
    assert!(
        !ok && err.contains("s3 GetObject") && err.contains("AccessDenied"),
        "{err}"
    );
    let (ok, out, err) = relayctl_as(&moto, "operator", &redrive);
    assert!(ok, "{err}");
    // The emulator's spill, and the event and thumbnail announcement SQS refused above.
    assert_eq!(out, "redriven 3, kept 0");
    let tail = [
        "tail",
        "--queue-url",
        queue,
        "--json",
        "--exit-when-empty",
        "--wait-seconds",
        "0",
    ];
    let (ok, _, err) = relayctl_as(&moto, "operator-without-DecryptWithKey", &tail);
    assert!(!ok, "tail without kms:Decrypt: {err}");
    let (ok, out, err) = relayctl_as(&moto, "operator", &tail);
    assert!(ok, "{err}");
    assert!(out.contains(&spilled), "{out}");
    // relayctl wall with the operator policy reads the SSE-KMS latest.jpg and its image
    // (GetObject: kms:Decrypt); without kms:Decrypt the image cannot be read.
    let wall = wall_as(&moto, "operator");
    wall.wait_for_stderr("stream(s)").await;
    let streams = wall.streams().await;
    let tile = &streams["tiles"][0];
    assert_eq!(tile["id"], "acct/iam-stream", "{streams}");
    let answer = wall.get(tile["image"].as_str().unwrap()).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.bytes().await.unwrap().as_ref(), SAMPLE_JPEG);
    drop(wall);
    let wall = wall_as(&moto, "operator-without-DecryptWithKey");
    wall.wait_for_stderr("stream(s)").await;
    let streams = wall.streams().await;
    let image = streams["tiles"][0]["image"].as_str().unwrap().to_owned();
    assert_eq!(wall.get(&image).await.status(), 502, "{streams}");
    drop(wall);
    // A new value each (relayctl leaves a secret it already holds unchanged).
    for (user, value) in [
        ("operator", PREVIOUS_SECRET),
        ("operator-without-EncryptWithKey", OTHER_SECRET),
    ] {
        let (id, secret_key) = moto.keys(user);
        let mut set = Command::new(env!("CARGO_BIN_EXE_relayctl"));
        set.args(["secret", "set", "--secret-id", &moto.secret_arn])
            .env("AWS_ENDPOINT_URL", &moto.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", id)
            .env("AWS_SECRET_ACCESS_KEY", secret_key);
        let output = run_with_input(set, format!("{value}\n").as_bytes());
        assert_eq!(
            output.status.success(),
            user == "operator",
            "{user}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    // The consumers (consumers/README.md) with the consumer policy drain the queue, claim
    // checks (GetObject: Decrypt) included; without kms:Decrypt nothing can be received.
    let (sqs, _) = clients_as(&moto, "consumer-without-DecryptWithKey").await;
    assert_denied!(
        sqs.receive_message().queue_url(queue).send().await,
        "ReceiveMessage without kms:Decrypt"
    );
    let (consumer_id, consumer_key) = moto.keys("consumer");
    for runner in ["consumers/python/invoke.py", "consumers/node/invoke.mjs"] {
        // One claim-checked event each (relayctl's replay and redrive left the rest).
        let relay_sdk = moto.sdk_as("relay", &moto.endpoint).await;
        let relay = fixture.relay_with(&config, &relay_sdk, &relay_sdk);
        let (_, answer) =
            status_and_body(&relay.handle(json_webhook(&oversize_event(), SECRET)).await);
        assert_eq!(answer["status"], "claim_checked");
        let program = if runner.ends_with(".py") {
            project_dir().join(".venv/bin/python")
        } else {
            assert!(
                project_dir().join("consumers/node/node_modules").is_dir(),
                "consumers/node/node_modules is missing: run `make consumers-test` (or make test)"
            );
            std::path::PathBuf::from("node")
        };
        let output = Command::new(program)
            .arg(runner)
            .args(["--queue-url", queue])
            .current_dir(project_dir())
            .env("AWS_ENDPOINT_URL", &moto.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", consumer_id)
            .env("AWS_SECRET_ACCESS_KEY", consumer_key)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{runner}: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let handled: Vec<serde_json::Value> = stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .filter(|v: &serde_json::Value| v.get("outcome").is_some())
            .collect();
        assert!(
            handled
                .iter()
                .any(|v| v["claimCheck"] == true && v["outcome"] != "failed"),
            "{runner}: {stdout}"
        );
        assert!(
            handled.iter().all(|v| v["outcome"] != "failed"),
            "{runner}: {stdout}"
        );
    }
    assert!(fixture.messages().await.is_empty());

    // Last (it leaves a delivery in quarantine): without kms:Decrypt the secret cannot be read.
    let sdk = moto
        .sdk_as("relay-without-DecryptWithKey", &moto.endpoint)
        .await;
    let secrets = fixture.config(&[
        ("WEBHOOK_SECRET", ""),
        ("WEBHOOK_SECRET_ID", &moto.secret_arn),
    ]);
    let relay = fixture.relay_with_secrets(&secrets, &sdk).await;
    assert_eq!(status_and_body(&relay.handle(feeds()).await).0, 503);
}

/// relayctl as `user` with `--stack`-style arguments, the platform's API, and `stdin`.
fn operator_run(
    moto: &IamMoto,
    user: &str,
    args: &[&str],
    platform: Option<&crate::support::platform::LocalPlatform>,
    stdin: Option<&str>,
) -> (bool, String, String) {
    let (id, secret) = moto.keys(user);
    let mut command = Command::new(env!("CARGO_BIN_EXE_relayctl"));
    command
        .args(args)
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", id)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env_remove("AWS_PROFILE")
        .env_remove("WEBHOOK_SECRET")
        .env_remove("MILLICAST_API_SECRET")
        .env_remove("RELAY_STACK");
    if let Some(platform) = platform {
        command
            .env("MILLICAST_API_URL", &platform.url)
            .env("MILLICAST_API_SECRET", crate::support::platform::API_SECRET);
    }
    let output = match stdin {
        Some(input) => run_with_input(command, input.as_bytes()),
        None => command.output().unwrap(),
    };
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    )
}

/// A thumbnail of `stream` signed with `secret`.
fn thumbnail_of(stream: &str, secret: &str) -> lambda_http::Request {
    let headers = samples::thumbnail_headers(stream, now_ms());
    let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    thumbnail_request(SAMPLE_JPEG, &refs, secret)
}

/// What relayctl finds after a renewal and an SQS outage: a quarantined event and thumbnail
/// (of `stream`), a spilled event and a spilled claim-check pointer; the keys kept.
async fn leave_work_for_the_operator(moto: &IamMoto, fixture: &Fixture, stream: &str) {
    let relay_sdk = moto.sdk_as("relay", &moto.endpoint).await;
    let config = fixture.config(&[("SQS_MAX_MESSAGE_BYTES", "2048")]);
    let relay = fixture.relay_with(&config, &relay_sdk, &relay_sdk);
    let renewed = samples::json_sample("feeds-started", now_ms()).unwrap();
    for request in [
        json_webhook(&renewed, OTHER_SECRET),
        thumbnail_of(stream, OTHER_SECRET),
    ] {
        assert_eq!(status_and_body(&relay.handle(request).await).0, 401);
    }
    let sqs_down = moto.sdk_as("relay", &closed_port_endpoint()).await;
    let spilling = fixture.relay_with(&config, &relay_sdk, &sqs_down);
    for request in [
        json_webhook(
            &samples::json_sample("media-completed", now_ms()).unwrap(),
            SECRET,
        ),
        json_webhook(&oversize_event(), SECRET),
    ] {
        assert_eq!(
            status_and_body(&spilling.handle(request).await).1["status"],
            "spilled"
        );
    }
}

fn denied(what: &str, (ok, out, err): (bool, String, String)) {
    assert!(!ok, "{what} succeeded: {out}");
    // AccessDenied in the answer, or a 403 without a body (HeadObject).
    assert!(
        err.contains("AccessDenied")
            || err.contains("access denied")
            || err.contains("StatusCode(403)")
            || err.contains("HTTP 403"),
        "{what}: {out}\n{err}"
    );
}

/// Every relayctl command docs/operate.md (and the teardown of docs/deploy.md) shows that calls
/// AWS, as shown (`--stack`), with exactly OperatorPolicy under moto's IAM enforcement: register
/// and rotate against the local platform and the relay under the emulator, webhooks, secret set,
/// quarantine list and replay, redrive, tail of both queues, dead-letters move-back, status,
/// unregister. Then each statement, removed in turn, denies the command that needs it.
///
/// What moto cannot show and the rig stands in for (scripts/moto_iam.py): SQS's message-move
/// task (moto 5.2.5 has none: the rig authorizes it as the SQS Developer Guide describes and
/// moves the messages at once) and Lambda's GetAccountSettings (scripts/lambda_stand_in.py).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_command_needs_exactly_the_operator_policy() {
    let _turn = EMULATOR.lock().await;
    let moto = IamMoto::start_args(&["--param", "SecretRefreshSeconds=1"]);
    let stack = moto.stack_name.clone();
    let (id, key) = moto.keys("relay");
    let relay_env = [
        ("WEBHOOK_SECRET", ""),
        ("WEBHOOK_SECRET_ID", moto.secret_arn.as_str()),
        ("AWS_ACCESS_KEY_ID", id),
        ("AWS_SECRET_ACCESS_KEY", key),
        ("SECRET_REFRESH_SECONDS", "1"),
    ];
    let deployment = Deployment::start_at(moto.fixture().await, &relay_env).await;
    let fixture = &deployment.fixture;
    let url = deployment.url();
    let platform = crate::support::platform::LocalPlatform::start(&[]);
    let with_stack = |args: &[&str]| -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend(["--stack".to_owned(), stack.clone()]);
        all
    };
    // The stack's FunctionUrl cannot name the relay started after it: --function-url does.
    let at_relay = |args: &[&str]| -> Vec<String> {
        let mut all = with_stack(args);
        all.extend(["--function-url".to_owned(), url.clone()]);
        all
    };
    let run = |user: &str, args: &[String], with_platform: bool, stdin: Option<&str>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        operator_run(
            &moto,
            user,
            &args,
            with_platform.then_some(&platform),
            stdin,
        )
    };

    // Connect, a second webhook, the webhooks, a rotation.
    let (ok, out, err) = run("operator", &at_relay(&["register"]), true, None);
    assert!(ok && out.contains("round trip proven"), "{out}\n{err}");
    let add = at_relay(&[
        "register",
        "--add",
        "--hooks",
        "thumbnails",
        "--filter",
        "^(cam-|relayctl-probe-)",
    ]);
    let (ok, out, err) = run("operator", &add, true, None);
    assert!(ok && out.contains("round trip proven"), "{out}\n{err}");
    let (ok, out, err) = run("operator", &at_relay(&["webhooks"]), true, None);
    assert!(ok && out.contains("its secret"), "{out}\n{err}");
    let (ok, out, err) = run(
        "operator",
        &at_relay(&["rotate", "--webhook-id", "1"]),
        true,
        None,
    );
    assert!(ok && out.starts_with("rotated webhook 1"), "{out}\n{err}");
    assert!(err.contains("round trip proven"), "{err}");

    // The dashboard path: a secret set, the quarantine listed and replayed, spills redriven.
    leave_work_for_the_operator(&moto, fixture, "acct/cam-replayed").await;
    let (ok, out, err) = run(
        "operator",
        &with_stack(&["secret", "set", "--webhook-id", "2"]),
        false,
        Some(&format!("{PREVIOUS_SECRET}\n")),
    );
    assert!(ok, "{out}\n{err}");
    let (ok, out, err) = run(
        "operator",
        &with_stack(&["quarantine", "list"]),
        false,
        None,
    );
    assert!(ok && out.contains("feeds/started"), "{out}\n{err}");
    let replay = with_stack(&["quarantine", "replay", "--secret", OTHER_SECRET]);
    let (ok, out, err) = run("operator", &replay, false, None);
    assert!(ok && out == "replayed 2, kept 0", "{out}\n{err}");
    let latest = "thumbnails/acct/cam-replayed/latest.jpg".to_owned();
    assert!(fixture.keys().await.contains(&latest), "no {latest}");
    let (ok, out, err) = run(
        "operator",
        &with_stack(&["redrive", "--dry-run"]),
        false,
        None,
    );
    assert!(
        ok && out.ends_with("would redrive 2, kept 0"),
        "{out}\n{err}"
    );
    let (ok, out, err) = run("operator", &with_stack(&["redrive"]), false, None);
    assert!(ok && out == "redriven 2, kept 0", "{out}\n{err}");
    let tail = with_stack(&[
        "tail",
        "--delete",
        "--exit-when-empty",
        "--wait-seconds",
        "0",
    ]);
    let (ok, out, err) = run("operator", &tail, false, None);
    assert!(ok && out.contains("feeds/started"), "{out}\n{err}");

    // The dead-letter queue: read it, then move what arrived since back (SQS's message-move
    // task: the rig's stand-in moves the visible messages at once).
    let admin = &fixture.sqs;
    for body in [r#"{"type":"poison","n":1}"#, r#"{"type":"poison","n":2}"#] {
        admin
            .send_message()
            .queue_url(&moto.dlq_url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    let tail_dlq = [
        "tail",
        "--queue-url",
        moto.dlq_url.as_str(),
        "--json",
        "--exit-when-empty",
        "--wait-seconds",
        "0",
    ];
    let tail_dlq: Vec<String> = tail_dlq.iter().map(|a| a.to_string()).collect();
    let (ok, out, err) = run("operator", &tail_dlq, false, None);
    assert!(
        ok && out.contains(r#""n":1"#) && out.contains(r#""n":2"#),
        "{out}\n{err}"
    );
    admin
        .send_message()
        .queue_url(&moto.dlq_url)
        .message_body(r#"{"type":"poison","n":3}"#)
        .send()
        .await
        .unwrap();
    let move_back = with_stack(&["dead-letters", "move-back", "--wait"]);
    let (ok, out, err) = run("operator", &move_back, false, None);
    assert!(ok, "{out}\n{err}");
    assert_eq!(
        out,
        format!("moved 1 message(s) back to {}", moto.queue_url)
    );
    let bodies: Vec<String> = fixture
        .messages()
        .await
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(bodies, [r#"{"type":"poison","n":3}"#], "{bodies:?}");

    // The wall: the streams' newest frames (ListBucket, GetObject of latest.jpg).
    let wall = wall_with(&moto, "operator", &["--stack", &stack]);
    let streams = wall.streams().await.to_string();
    drop(wall);
    assert!(
        streams.contains("cam-replayed") && !streams.contains("AccessDenied"),
        "{streams}"
    );

    // Status reads every check (the dead-letter queue is red: two messages are in flight).
    let (_, json, err) = run("operator", &with_stack(&["status", "--json"]), false, None);
    let report: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}\n{err}"));
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 9, "{report}");
    for check in checks {
        let summary = check["summary"].as_str().unwrap();
        assert!(
            !summary.contains("cannot") && !summary.contains("AccessDenied"),
            "{report}"
        );
    }

    // Each statement removed in turn denies what needs it. Fresh work for the operator first.
    leave_work_for_the_operator(&moto, fixture, "acct/cam-denied").await;
    let mut sids = moto.operator_sids.clone();
    sids.sort();
    for sid in &sids {
        let user = format!("operator-without-{sid}");
        let user = user.as_str();
        match sid.as_str() {
            "ReadStackOutputs" => denied(
                sid,
                run(user, &with_stack(&["quarantine", "list"]), false, None),
            ),
            "ReadAndSetWebhookSecret" => denied(
                sid,
                run(
                    user,
                    &with_stack(&["secret", "set", "--webhook-id", "1"]),
                    false,
                    Some(&format!("{OTHER_SECRET}\n")),
                ),
            ),
            "ListBucket" => denied(sid, run(user, &with_stack(&["redrive"]), false, None)),
            "DrainQuarantineAndSpills" => denied(
                sid,
                run(user, &with_stack(&["quarantine", "list"]), false, None),
            ),
            "ReplayLikeTheRelay" => {
                // A thumbnail cannot be written where the relay writes: it stays in quarantine.
                let relay_sdk = moto.sdk_as("relay", &moto.endpoint).await;
                let relay = fixture.relay_with(&fixture.config(&[]), &relay_sdk, &relay_sdk);
                let kept = relay
                    .handle(thumbnail_of("acct/cam-unwritable", OTHER_SECRET))
                    .await;
                assert_eq!(status_and_body(&kept).0, 401);
                let (ok, out, err) = run(user, &replay, false, None);
                assert!(!ok && out.ends_with("kept 1"), "{sid}: {out}\n{err}");
                assert!(err.contains("AccessDenied"), "{sid}: {err}");
                let keys = fixture.keys().await;
                assert!(
                    !keys
                        .iter()
                        .any(|k| k.starts_with("thumbnails/acct/cam-unwritable/")),
                    "{sid}: {keys:?}"
                );
            }
            "FindTestThumbnails" => {
                // Both thumbnails are stored, but latest.jpg cannot be compared (HeadObject is
                // s3:GetObject), so the newer one never replaces the older.
                let relay_sdk = moto.sdk_as("relay", &moto.endpoint).await;
                let relay = fixture.relay_with(&fixture.config(&[]), &relay_sdk, &relay_sdk);
                // One replay each, the older first (a replay works on several at once).
                for (captured, image) in [(1_000, &b"older"[..]), (2_000, &b"newer"[..])] {
                    let headers = samples::thumbnail_headers("acct/cam-compare", captured);
                    let refs: Vec<(&str, &str)> =
                        headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    let request = thumbnail_request(image, &refs, OTHER_SECRET);
                    assert_eq!(status_and_body(&relay.handle(request).await).0, 401);
                    let (ok, out, err) = run(user, &replay, false, None);
                    assert!(ok && out.ends_with("kept 0"), "{sid}: {out}\n{err}");
                }
                let latest = fixture
                    .objects()
                    .await
                    .into_iter()
                    .find(|o| o.key == "thumbnails/acct/cam-compare/latest.jpg")
                    .expect("latest.jpg");
                assert_eq!(latest.body, b"older", "{sid}");
            }
            "ReadClaimChecks" => {
                // The spilled pointer cannot be rebuilt from the body it names: kept; the
                // spilled event goes.
                let (ok, out, err) = run(user, &with_stack(&["redrive"]), false, None);
                assert!(!ok && out == "redriven 1, kept 1", "{sid}: {out}\n{err}");
                assert!(err.contains("AccessDenied"), "{sid}: {err}");
            }
            "UseEventQueue" => denied(sid, run(user, &tail, false, None)),
            "UseDeadLetterQueue" => denied(sid, run(user, &tail_dlq, false, None)),
            "MoveDeadLettersBack" => {
                admin
                    .send_message()
                    .queue_url(&moto.dlq_url)
                    .message_body(r#"{"type":"poison","n":4}"#)
                    .send()
                    .await
                    .unwrap();
                let (ok, out, err) = run(user, &move_back, false, None);
                assert!(
                    !ok && err.contains("AccessDenied") && err.contains("StartMessageMoveTask"),
                    "{sid}: {out}\n{err}"
                );
            }
            "ReadMetricsAndAlarms" | "ReadAccountConcurrency" => {
                let (_, json, err) = run(user, &with_stack(&["status", "--json"]), false, None);
                let report: serde_json::Value =
                    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}\n{err}"));
                let name = if sid == "ReadAccountConcurrency" {
                    "concurrency"
                } else {
                    "alarms"
                };
                let check = report["checks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["name"] == name)
                    .unwrap_or_else(|| panic!("{report}"));
                assert!(
                    check["summary"].as_str().unwrap().contains("AccessDenied"),
                    "{sid}: {check}"
                );
            }
            // Without KmsKeyArn these name key/none and grant nothing: the commands work
            // without them (a_customer_managed_key_serves_every_path shows them needed).
            "EncryptWithKey" | "DecryptWithKey" => {
                let (ok, out, err) = run(user, &tail, false, None);
                assert!(ok, "{sid}: {out}\n{err}");
            }
            // Without EventBus (this stack has none) these name archive/none, rule/none/* and
            // event-bus/none and grant nothing; `history` and the bus half of `redrive` need a
            // bus (tests/it/bus.rs runs them, without IAM). Redrive works without them.
            "ReadAndReplayHistory" | "FollowReplays" | "ChooseReplayRules" | "PutOnEventBus" => {
                let (ok, out, err) = run(user, &with_stack(&["redrive", "--dry-run"]), false, None);
                assert!(ok, "{sid}: {out}\n{err}");
                let (ok, _, err) = run(user, &with_stack(&["history"]), false, None);
                assert!(!ok && err.contains("EventArchiveArn"), "{sid}: {err}");
            }
            other => panic!("operator statement {other} has no command in this test: add one"),
        }
    }
    assert_eq!(sids.len(), 18, "{sids:?}");

    // Disconnect: one webhook's secret only (no API secret needed), then everything.
    let (ok, out, err) = run(
        "operator",
        &at_relay(&["unregister", "--webhook-id", "2", "--keep-webhook"]),
        false,
        None,
    );
    assert!(ok, "{out}\n{err}");
    let (ok, out, err) = run("operator", &at_relay(&["unregister"]), true, None);
    assert!(
        ok && out.contains("webhook 1: deleted on the platform"),
        "{out}\n{err}"
    );
}
