//! relayctl register / rotate / webhooks end to end: the local platform (scripts/local_platform.py)
//! really sends, the relay runs under the emulator (several instances, Secrets Manager mode,
//! against moto), and relayctl runs as a user runs it, with `--stack` read from a moto stack.
//! Every delivery the platform recorded is looked for where the relay put it, by content.
#![cfg(feature = "cli")]

mod support;

use std::collections::HashSet;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::emulator::Deployment;
use support::platform::{API_SECRET, LocalPlatform};
use support::*;

/// A secret no sender has, as the stack creates it.
const PLACEHOLDER: &str = r#"{"current":"cGxhY2Vob2xkZXJwbGFjZWhvbGRlcjAx"}"#;

/// The tests of this file load the whole machine: they run one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Rig {
    _turn: tokio::sync::MutexGuard<'static, ()>,
    platform: LocalPlatform,
    deployment: Deployment,
    secret_id: String,
    stack: String,
}

impl Rig {
    /// The relay (`instances` processes), a stack whose outputs name it, and the platform.
    /// With `misconfigured`, the relay reads another secret than the stack's.
    async fn start(instances: usize, refresh_seconds: &str, misconfigured: bool) -> Self {
        let turn = ONE_AT_A_TIME.lock().await;
        // Under load the queue needs a moto server of its own (see `moto_for_sqs`).
        let fixture = if instances > 1 {
            Fixture::with_separate_sqs().await
        } else {
            Fixture::new(false).await
        };
        let secret_id = fixture.create_secret(PLACEHOLDER).await;
        let relay_reads = if misconfigured {
            let other = format!("{}-another-secret", fixture.bucket);
            fixture.create_secret_named(&other, PLACEHOLDER).await
        } else {
            secret_id.clone()
        };
        let deployment = Deployment::start_instances(
            fixture,
            &[
                ("WEBHOOK_SECRET", ""),
                ("WEBHOOK_SECRET_ID", &relay_reads),
                ("SECRET_REFRESH_SECONDS", refresh_seconds),
                // The default (1,200 per instance and calendar minute) assumes one S3 PUT per
                // quarantined delivery bounds an instance to ~20/s, as on AWS; against local
                // moto three instances take 115/s, and a 36 s renewal window inside one
                // calendar minute would hit it (the cap has its own test).
                ("QUARANTINE_PER_MINUTE", "6000"),
            ],
            instances,
        )
        .await;
        let settings = format!(r#"{{"SECRET_REFRESH_SECONDS":"{refresh_seconds}"}}"#);
        let fixture = &deployment.fixture;
        let stack = fixture
            .create_stack(&[
                ("FunctionUrl", &deployment.url()),
                ("BucketName", &fixture.bucket),
                ("QueueUrl", &fixture.queue_url),
                ("WebhookSecretArn", &secret_id),
                ("RelaySettings", &settings),
            ])
            .await;
        Self {
            _turn: turn,
            platform: LocalPlatform::start(&[]),
            deployment,
            secret_id,
            stack,
        }
    }

    fn relayctl(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_relayctl"));
        command
            .args(args)
            .env("AWS_ENDPOINT_URL", &self.deployment.fixture.endpoint)
            .envs(
                self.deployment
                    .fixture
                    .sqs_endpoint
                    .iter()
                    .map(|e| ("AWS_ENDPOINT_URL_SQS", e)),
            )
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("MILLICAST_API_URL", &self.platform.url)
            .env("MILLICAST_API_SECRET", API_SECRET)
            .env("RELAY_STACK", &self.stack)
            .env_remove("WEBHOOK_SECRET");
        command
    }

    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let Output {
            status,
            stdout,
            stderr,
        } = self.relayctl(args).output().unwrap();
        (
            status.success(),
            String::from_utf8_lossy(&stdout).trim().to_owned(),
            String::from_utf8_lossy(&stderr).trim().to_owned(),
        )
    }

    async fn stored_secret(&self) -> String {
        let client =
            millicast_webhook_relay::aws::sdk::secrets_client(&self.deployment.fixture.sdk);
        millicast_webhook_relay::aws::secretsmanager::read_secrets(&client, &self.secret_id)
            .await
            .unwrap()
            .current
            .to_base64()
    }
}

/// A consumer attached to the queue while traffic flows (the normal case during a rotation):
/// it receives and deletes in batches, keeping every body.
struct Consumer {
    bodies: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Consumer {
    fn start(fixture: &Fixture) -> Self {
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let (sqs, queue_url, sink) = (
            fixture.sqs.clone(),
            fixture.queue_url.clone(),
            bodies.clone(),
        );
        let task = tokio::spawn(async move {
            while !*stopped.borrow_and_update() {
                // No long polling: moto busy-waits through it, taking the CPU the relay needs.
                let got = receive_batch(&sqs, &queue_url, 0).await;
                if got.is_empty() {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                sink.lock().unwrap().extend(got);
            }
        });
        Self { bodies, stop, task }
    }

    /// Stops, then drains what is left; every body consumed.
    async fn finish(self, fixture: &Fixture) -> Vec<String> {
        let _ = self.stop.send(true);
        self.task.await.unwrap();
        let mut bodies = std::mem::take(&mut *self.bodies.lock().unwrap());
        bodies.extend(drain(fixture).await);
        bodies
    }
}

/// Receives up to 10 messages (waiting up to `wait` s) and deletes them in one batch. A failed
/// receive returns nothing (the messages stay on the queue for the next one).
async fn receive_batch(sqs: &aws_sdk_sqs::Client, queue_url: &str, wait: i32) -> Vec<String> {
    let Ok(batch) = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait)
        .send()
        .await
    else {
        return Vec::new();
    };
    let messages = batch.messages();
    let mut bodies = Vec::new();
    if messages.is_empty() {
        return bodies;
    }
    let mut delete = sqs.delete_message_batch().queue_url(queue_url);
    for (i, message) in messages.iter().enumerate() {
        bodies.push(message.body().unwrap_or_default().to_owned());
        delete = delete.entries(
            aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(message.receipt_handle().unwrap())
                .build()
                .unwrap(),
        );
    }
    delete.send().await.unwrap();
    bodies
}

/// Every message left on the queue (three empty receives in a row end it).
async fn drain(fixture: &Fixture) -> Vec<String> {
    let mut bodies = Vec::new();
    let mut empty = 0;
    while empty < 3 {
        let batch = receive_batch(&fixture.sqs, &fixture.queue_url, 0).await;
        if batch.is_empty() {
            empty += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        } else {
            empty = 0;
            bodies.extend(batch);
        }
    }
    bodies
}

/// Compares, one by one and by content, every delivery the platform recorded with what the
/// relay stored: a JSON body on the queue byte for byte, a thumbnail in S3 under a key naming
/// its hash. Returns (checked, answered 401 at delivery time).
async fn assert_every_delivery_arrived(rig: &Rig, consumed: Vec<String>) -> (usize, usize) {
    let fixture = &rig.deployment.fixture;
    let deliveries = rig.platform.deliveries().await;
    let bodies: HashSet<String> = consumed.into_iter().collect();
    let keys = fixture.keys().await;
    let hashes: HashSet<&str> = keys
        .iter()
        .filter(|k| k.starts_with("thumbnails/") && !k.ends_with("/latest.jpg"))
        .filter_map(|k| k.rsplit('-').next()?.strip_suffix(".jpg"))
        .collect();
    let mut missing = Vec::new();
    let mut rejected = 0;
    for delivery in &deliveries {
        if delivery["status"] == 401 {
            rejected += 1;
        }
        let arrived = match delivery["kind"].as_str() {
            Some("json") => bodies.contains(delivery["body"].as_str().unwrap()),
            Some("thumbnail") => hashes.contains(&delivery["sha256"].as_str().unwrap()[..16]),
            other => panic!("unknown delivery kind {other:?}"),
        };
        if !arrived {
            missing.push(format!(
                "seq {} {} {:?} status {} error {}",
                delivery["seq"],
                delivery["kind"],
                delivery["event"],
                delivery["status"],
                delivery["error"]
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} deliveries missing: {missing:?}",
        missing.len(),
        deliveries.len()
    );
    let left: Vec<&String> = keys
        .iter()
        .filter(|k| k.starts_with("quarantine/"))
        .collect();
    assert!(left.is_empty(), "left in quarantine: {}", left.len());
    (deliveries.len(), rejected)
}

fn only_webhook(webhooks: &[Value]) -> &Value {
    assert_eq!(webhooks.len(), 1, "{webhooks:?}");
    &webhooks[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_is_idempotent_and_passes_hooks_and_filter_through() {
    let rig = Rig::start(1, "1", false).await;
    let args = [
        "register",
        "--hooks",
        "feeds,thumbnails,media",
        "--filter",
        "^(relayctl-probe-|live)",
    ];
    let (ok, out, err) = rig.run(&args);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains(" created for ") && out.contains("round trip proven"),
        "{out}"
    );
    let webhooks = rig.platform.webhooks().await;
    let webhook = only_webhook(&webhooks);
    assert_eq!(webhook["url"], rig.deployment.url());
    assert_eq!(webhook["filter"], "^(relayctl-probe-|live)");
    for (flag, on) in [
        ("isFeedHooks", true),
        ("isThumbnailHooks", true),
        ("isMediaHooks", true),
        ("isRecordingHooks", false),
        ("isTranscoderHooks", false),
        ("isViewerConnectionHooks", false),
    ] {
        assert_eq!(webhook[flag], on, "{flag}");
    }
    assert_eq!(
        rig.stored_secret().await,
        webhook["secret"].as_str().unwrap()
    );
    assert!(
        !out.contains(webhook["secret"].as_str().unwrap())
            && !err.contains(webhook["secret"].as_str().unwrap())
    );

    // Again: the same webhook is adopted, nothing is created or stored twice.
    let (ok, out, err) = rig.run(&["register"]);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains(" adopted for ") && out.contains("secret already stored"),
        "{out}"
    );
    assert_eq!(rig.platform.webhooks().await.len(), 1);

    let (ok, out, _) = rig.run(&["webhooks"]);
    assert!(ok);
    let id = webhook["id"].to_string();
    assert!(
        out.lines().any(|l| l.starts_with('*') && l.contains(&id)),
        "{out}"
    );
    assert!(!out.contains(webhook["secret"].as_str().unwrap()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_under_load_loses_nothing() {
    let rig = Rig::start(3, "5", false).await;
    let (ok, out, err) = rig.run(&["register"]);
    assert!(ok, "{out}\n{err}");
    let consumer = Consumer::start(&rig.deployment.fixture);
    let (count, rate) = (2400, 125.0);
    let run = rig.platform.start_traffic(count, rate).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let rotate = rig.relayctl(&["rotate"]);
    let rotation = tokio::task::spawn_blocking(move || {
        let mut rotate = rotate;
        let started = Instant::now();
        let output = rotate.output().unwrap();
        (output, started.elapsed())
    });
    let traffic = rig
        .platform
        .wait_traffic(&run, Duration::from_secs(120))
        .await;
    let (output, took) = rotation.await.unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    );
    if !output.status.success() {
        for d in rig
            .platform
            .deliveries()
            .await
            .iter()
            .filter(|d| d["test"] == true)
        {
            eprintln!(
                "TEST DELIVERY {} {} {} status {} error {} started {} finished {} stream {}",
                d["seq"],
                d["kind"],
                d["secretVersion"],
                d["status"],
                d["error"],
                d["started"],
                d["finished"],
                d["streamId"]
            );
        }
        eprintln!("TRAFFIC {traffic}");
    }
    assert!(output.status.success(), "{out}\n{err}");
    assert!(out.ends_with(", 0 lost"), "{out}");
    assert!(traffic["rate"].as_f64().unwrap() >= 100.0, "{traffic}");
    let consumed = consumer.finish(&rig.deployment.fixture).await;
    let (checked, rejected) = assert_every_delivery_arrived(&rig, consumed).await;
    assert!(checked >= 2000, "{checked}");
    println!(
        "rotation under load: {checked} deliveries ({} events at {:.0}/s), {rejected} quarantined, {out}; rotate took {:.1} s; {}",
        traffic["events"],
        traffic["rate"].as_f64().unwrap(),
        took.as_secs_f64(),
        err.lines()
            .filter(|l| l.starts_with("longest"))
            .collect::<Vec<_>>()
            .join(" ")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_renewal_then_secret_set_and_replay_30_s_later_loses_nothing() {
    let rig = Rig::start(3, "5", false).await;
    let (ok, out, err) = rig.run(&["register"]);
    assert!(ok, "{out}\n{err}");
    let id = only_webhook(&rig.platform.webhooks().await)["id"]
        .as_i64()
        .unwrap();
    let consumer = Consumer::start(&rig.deployment.fixture);
    let run = rig.platform.start_traffic(4200, 115.0).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The Renew button: the platform signs with a new secret from now on; relayctl is not told.
    let renewed = rig.platform.renew(id).await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    // The operator copies the new secret from the dashboard into relayctl, then replays.
    let output = run_with_input(
        rig.relayctl(&["secret", "set"]),
        format!("{renewed}\n").as_bytes(),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The relay instances re-read the secret on their next mismatch (within the refresh interval).
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (ok, replay_out, err) = rig.run(&["quarantine", "replay"]);
    assert!(ok, "{replay_out}\n{err}");
    let traffic = rig
        .platform
        .wait_traffic(&run, Duration::from_secs(120))
        .await;
    // Deliveries kept after the first replay (before every instance had re-read) go too.
    let (ok, again, err) = rig.run(&["quarantine", "replay"]);
    assert!(ok, "{again}\n{err}");
    let consumed = consumer.finish(&rig.deployment.fixture).await;
    let (checked, rejected) = assert_every_delivery_arrived(&rig, consumed).await;
    assert!(rejected > 2500, "{rejected} quarantined in 30 s at 115/s");
    println!(
        "dashboard renewal: {checked} deliveries at {:.0}/s, {rejected} quarantined, {replay_out} then {again}, lost 0",
        traffic["rate"].as_f64().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_says_which_hop_failed() {
    // The relay reads another secret than the one register stores.
    let rig = Rig::start(1, "1", true).await;
    let (ok, out, err) = rig.run(&["register", "--timeout", "8"]);
    assert!(!ok, "{out}\n{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(last.contains("could not verify it"), "{err}");
    assert!(last.contains("the relay reads another secret"), "{err}");

    // The platform refuses the API secret.
    let (ok, _, err) = {
        let mut command = rig.relayctl(&["register"]);
        let output = command
            .env("MILLICAST_API_SECRET", "not-the-api-secret")
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        )
    };
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("refused the API secret"), "{err}");
    assert!(!err.contains("not-the-api-secret"));

    // The relay is down: the function URL does not answer (a platform of its own, so that the
    // webhook above does not receive this probe).
    drop(rig);
    let rig = Rig::start(1, "1", false).await;
    let down = format!("{}/lambda-url/_/", closed_port_endpoint());
    let (ok, out, err) = rig.run(&["register", "--function-url", &down, "--timeout", "4"]);
    assert!(!ok, "{out}");
    assert!(
        err.lines()
            .last()
            .unwrap_or_default()
            .contains("does not answer"),
        "{err}"
    );
}
