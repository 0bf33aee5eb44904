//! The relay as a user runs it, for relayctl's lifecycle tests: the local platform really sends,
//! the relay runs under the emulator (several instances, Secrets Manager mode, against moto),
//! relayctl runs with `--stack` read from a moto stack, and a consumer drains the queue while
//! traffic flows. Every delivery the platform recorded is then looked for where the relay put
//! it, by content (and by the webhook it came from).

use std::collections::{HashMap, HashSet};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use super::emulator::Deployment;
use super::platform::{API_SECRET, LocalPlatform};
use super::*;

/// A secret no sender has, as the stack creates it.
pub const PLACEHOLDER: &str = r#"{"current":"cGxhY2Vob2xkZXJwbGFjZWhvbGRlcjAx"}"#;

/// The tests of this file load the whole machine: they run one at a time.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub struct Rig {
    _turn: tokio::sync::MutexGuard<'static, ()>,
    pub platform: LocalPlatform,
    pub deployment: Deployment,
    pub secret_id: String,
    pub stack: String,
}

impl Rig {
    /// The relay (`instances` processes), a stack whose outputs name it, and the platform.
    /// With `misconfigured`, the relay reads another secret than the stack's.
    pub async fn start(instances: usize, refresh_seconds: &str, misconfigured: bool) -> Self {
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

    pub fn relayctl(&self, args: &[&str]) -> Command {
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

    pub fn run(&self, args: &[&str]) -> (bool, String, String) {
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

    pub async fn stored_secret(&self) -> String {
        let client =
            millicast_webhook_relay::aws::sdk::secrets_client(&self.deployment.fixture.sdk);
        millicast_webhook_relay::aws::secretsmanager::read_secrets(&client, &self.secret_id)
            .await
            .unwrap()
            .webhooks()[0]
            .current
            .to_base64()
    }
}

/// A message taken off the queue: its body and its `webhookId` attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Consumed {
    pub body: String,
    pub webhook_id: Option<i64>,
}

/// A consumer attached to the queue while traffic flows (the normal case during a rotation):
/// it receives and deletes in batches, keeping every message.
pub struct Consumer {
    bodies: std::sync::Arc<std::sync::Mutex<Vec<Consumed>>>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Consumer {
    pub fn start(fixture: &Fixture) -> Self {
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

    /// Stops, then drains what is left; every message consumed.
    pub async fn finish(self, fixture: &Fixture) -> Vec<Consumed> {
        let _ = self.stop.send(true);
        self.task.await.unwrap();
        let mut bodies = std::mem::take(&mut *self.bodies.lock().unwrap());
        bodies.extend(drain(fixture).await);
        bodies
    }
}

/// Receives up to 10 messages (waiting up to `wait` s) and deletes them in one batch. A failed
/// receive returns nothing (the messages stay on the queue for the next one).
pub async fn receive_batch(sqs: &aws_sdk_sqs::Client, queue_url: &str, wait: i32) -> Vec<Consumed> {
    let Ok(batch) = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .message_attribute_names("webhookId")
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
        bodies.push(Consumed {
            body: message.body().unwrap_or_default().to_owned(),
            webhook_id: message
                .message_attributes()
                .and_then(|a| a.get("webhookId"))
                .and_then(|v| v.string_value())
                .and_then(|v| v.parse().ok()),
        });
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
pub async fn drain(fixture: &Fixture) -> Vec<Consumed> {
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
/// its hash (and announced on the queue) — each with the `webhookId` of the webhook that sent
/// it when `by_webhook` (an image two webhooks sent is announced once, by either). Returns (checked, answered 401 at delivery time).
pub async fn assert_every_delivery_arrived(
    rig: &Rig,
    consumed: Vec<Consumed>,
    by_webhook: bool,
) -> (usize, usize) {
    let fixture = &rig.deployment.fixture;
    let deliveries = rig.platform.deliveries().await;
    let webhook_of = |c: &Consumed| if by_webhook { c.webhook_id } else { None };
    let bodies: HashSet<(String, Option<i64>)> = consumed
        .iter()
        .map(|c| (c.body.clone(), webhook_of(c)))
        .collect();
    // Thumbnail announcements by the image's sha256, with the webhook that sent the image.
    let announced: HashMap<String, Option<i64>> = consumed
        .iter()
        .filter_map(|c| {
            let body: Value = serde_json::from_str(&c.body).ok()?;
            let sha256 = body["data"]["sha256"]
                .as_str()
                .filter(|_| body["type"] == "thumbnail")?;
            Some((sha256.to_owned(), webhook_of(c)))
        })
        .collect();
    // The webhooks each image was delivered by: an image two webhooks deliver is stored and
    // announced once, by whichever delivery the relay accepted first.
    let mut senders: HashMap<&str, HashSet<Option<i64>>> = HashMap::new();
    for delivery in deliveries.iter().filter(|d| d["kind"] == "thumbnail") {
        let webhook = by_webhook.then(|| delivery["webhookId"].as_i64()).flatten();
        senders
            .entry(delivery["sha256"].as_str().unwrap())
            .or_default()
            .insert(webhook);
    }
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
        let webhook = by_webhook.then(|| delivery["webhookId"].as_i64()).flatten();
        let arrived = match delivery["kind"].as_str() {
            Some("json") => {
                bodies.contains(&(delivery["body"].as_str().unwrap().to_owned(), webhook))
            }
            Some("thumbnail") => {
                let sha256 = delivery["sha256"].as_str().unwrap();
                hashes.contains(&sha256[..16])
                    && (!by_webhook
                        || announced
                            .get(sha256)
                            .is_some_and(|announcer| senders[sha256].contains(announcer)))
            }
            other => panic!("unknown delivery kind {other:?}"),
        };
        if !arrived {
            missing.push(format!(
                "seq {} webhook {} {} {:?} status {} error {}",
                delivery["seq"],
                delivery["webhookId"],
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

pub fn only_webhook(webhooks: &[Value]) -> &Value {
    assert_eq!(webhooks.len(), 1, "{webhooks:?}");
    &webhooks[0]
}
