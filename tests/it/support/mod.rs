//! Shared rig for the integration tier: a moto server (S3 + SQS) on a free loopback port,
//! per-test buckets and queues, function-URL requests built as AWS delivers them, and
//! read-back helpers. Nothing here is mocked: the relay talks to moto over HTTP through the
//! real AWS SDK clients.
#![allow(dead_code)] // a build without the cli feature uses a subset

pub mod emulator;
pub mod faults;
pub mod iam;
pub mod platform;
#[cfg(feature = "cli")]
pub mod rig;
pub mod stand_in;
#[cfg(feature = "cli")]
pub mod wall;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use lambda_http::{Body, Request, Response};
use millicast_webhook_relay::aws::s3::S3ObjectStore;
use millicast_webhook_relay::aws::sdk as aws;
use millicast_webhook_relay::aws::secretsmanager::secret_store;
use millicast_webhook_relay::aws::sqs::SqsEventQueue;
#[cfg(feature = "operator")]
use millicast_webhook_relay::operator::replay::{ReplayOptions, Replayed, replay_quarantine};
use millicast_webhook_relay::relay::config::SecretConfig;
use millicast_webhook_relay::relay::delivery::Delivery;
use millicast_webhook_relay::relay::secrets::SecretStore;
#[cfg(feature = "operator")]
use millicast_webhook_relay::relay::secrets::WebhookVerifier;
use millicast_webhook_relay::{Config, Relay, events};
use millicast_webhooks::samples;

/// The secret of the platform's signature test vector (docs/platform.md).
pub const SECRET: &str = samples::TEST_SECRET;
/// A secret being rotated out.
pub const PREVIOUS_SECRET: &str = "cHJldmlvdXMtc2VjcmV0LWR1cmluZy1yb3RhdGlvbg==";
/// A secret the relay does not know.
pub const OTHER_SECRET: &str = samples::WRONG_SECRET;

/// The webhook whose secret is [`SECRET`] in [`webhooks_secret`].
pub const WEBHOOK: i64 = 4242;
/// The webhook whose secret is [`PREVIOUS_SECRET`] in [`webhooks_secret`].
pub const OTHER_WEBHOOK: i64 = 77;
/// A secret value naming two webhooks ([`WEBHOOK`], [`OTHER_WEBHOOK`]) and holding
/// [`OTHER_SECRET`] without id (the `webhooks` form: docs/operate.md).
pub fn webhooks_secret() -> String {
    serde_json::json!({"webhooks": [
        {"id": WEBHOOK, "current": SECRET},
        {"id": OTHER_WEBHOOK, "current": PREVIOUS_SECRET},
        {"current": OTHER_SECRET},
    ]})
    .to_string()
}

pub fn project_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The moto server shared by one test binary. It exits when this process does: its stdin is
/// a pipe from us, and the launcher stops the server at EOF.
pub struct Moto {
    _process: Child,
    pub endpoint: String,
}

pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(start_moto)
}

/// A second moto server, for SQS alone: under sustained load one moto process (one core, one
/// interpreter lock) cannot serve S3 and SQS at 100+ deliveries a second on this machine.
pub fn moto_for_sqs() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(start_moto)
}

fn start_moto() -> Moto {
    let (process, first_line) = start_script("moto_server.py", std::iter::empty::<&str>());
    let port: u16 = first_line.trim().parse().expect("moto port");
    Moto {
        _process: process,
        endpoint: format!("http://127.0.0.1:{port}"),
    }
}

/// A moto server of its own whose Lambda GetAccountSettings stand-in
/// (scripts/lambda_stand_in.py) answers `concurrency` ("QUOTA[,UNRESERVED]"). It stops when
/// dropped (its stdin closes).
pub fn moto_with_lambda_concurrency(concurrency: &str) -> Moto {
    let (process, first_line) = start_script_with(
        "moto_server.py",
        std::iter::empty::<&str>(),
        &[("LOCAL_LAMBDA_CONCURRENCY", concurrency)],
    );
    let port: u16 = first_line.trim().parse().expect("moto port");
    Moto {
        _process: process,
        endpoint: format!("http://127.0.0.1:{port}"),
    }
}

/// Starts `scripts/<script>` with the project's Python (`RELAY_PYTHON`, else `.venv`) and
/// returns it with the first line it prints (its port or its set-up). Its stdin is a pipe from
/// this process: the scripts stop at EOF, so none outlives the test binary.
pub fn start_script<S: AsRef<std::ffi::OsStr>>(
    script: &str,
    args: impl IntoIterator<Item = S>,
) -> (Child, String) {
    start_script_with(script, args, &[])
}

/// [`start_script`] with more environment variables.
pub fn start_script_with<S: AsRef<std::ffi::OsStr>>(
    script: &str,
    args: impl IntoIterator<Item = S>,
    env: &[(&str, &str)],
) -> (Child, String) {
    let python = std::env::var_os("RELAY_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_dir().join(".venv/bin/python"));
    let mut process = Command::new(&python)
        .arg(project_dir().join("scripts").join(script))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(project_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {script} with {python:?} ({e}); run `make test`, which creates .venv"
            )
        });
    let mut first_line = String::new();
    BufReader::new(process.stdout.take().expect("piped stdout"))
        .read_line(&mut first_line)
        .unwrap_or_else(|e| panic!("{script} prints a first line: {e}"));
    (process, first_line)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The signature header value, computed here with the hmac crate directly.
pub fn sign(secret_b64: &str, body: &[u8]) -> String {
    let mut mac =
        <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(&STANDARD.decode(secret_b64).unwrap())
            .unwrap();
    mac.update(body);
    format!("sha1={}", hex::encode(mac.finalize().into_bytes()))
}

/// An SDK config pointing at `endpoint` with dummy credentials and the relay's retry policy
/// (the relay's deadlines come with the clients built by `aws::s3_client` / `aws::sqs_client`).
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    sdk_config_with(endpoint, aws::retry_config()).await
}

pub async fn sdk_config_with(
    endpoint: &str,
    retry: aws_config::retry::RetryConfig,
) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry)
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .load()
        .await
}

/// Runs `command` with `stdin` as its standard input and waits for it. A command that fails
/// before reading its input closes the pipe: that is not an error here.
pub fn run_with_input(mut command: Command, stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the command");
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin);
    }
    child.wait_with_output().expect("wait for the command")
}

/// A loopback port that was free a moment ago (nothing listens on it when this returns).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// An endpoint with nothing listening on it.
pub fn closed_port_endpoint() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

/// A function-URL request built as AWS delivers it (`events::function_url_event`), parsed
/// the way the runtime does (`lambda_http::request::from_str`). `base64` marks a binary body.
pub fn function_url_request(
    method: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    base64: bool,
) -> Request {
    let event = events::function_url_event(method, headers, body, base64);
    lambda_http::request::from_str(&event.to_string()).expect("valid function URL event")
}

/// `request` as Lambda hands it to the function: invocation `request_id` (the delivery's id,
/// which names its objects in S3), ending `budget` from now.
pub fn in_lambda(request: Request, request_id: &str, budget: std::time::Duration) -> Request {
    use lambda_http::RequestExt as _;
    let mut context = lambda_http::Context::default();
    context.request_id = request_id.to_owned();
    context.deadline = (now_ms() + budget.as_millis() as i64) as u64;
    request.with_lambda_context(context)
}

/// [`in_lambda`] with the template's 30 s function timeout.
pub fn invocation(request: Request, request_id: &str) -> Request {
    in_lambda(request, request_id, std::time::Duration::from_secs(30))
}

/// A signed JSON webhook as the platform sends it.
pub fn json_webhook(body: &str, secret: &str) -> Request {
    let signature = sign(secret, body.as_bytes());
    function_url_request(
        "POST",
        &[
            ("content-type", "application/json"),
            ("x-millicast-signature", &signature),
        ],
        body.as_bytes(),
        false,
    )
}

/// A signed JPEG thumbnail webhook (base64 body, as the function URL delivers it), with the
/// metadata headers given.
pub fn thumbnail_request(image: &[u8], headers: &[(&str, &str)], secret: &str) -> Request {
    let signature = sign(secret, image);
    let mut all = vec![
        ("content-type", "image/jpeg"),
        ("x-millicast-signature", signature.as_str()),
    ];
    all.extend_from_slice(headers);
    function_url_request("POST", &all, image, true)
}

pub fn thumbnail_jpeg() -> Vec<u8> {
    samples::SAMPLE_JPEG.to_vec()
}

pub fn status_and_body(response: &Response<Body>) -> (u16, serde_json::Value) {
    let body = match response.body() {
        Body::Text(text) => text.clone(),
        other => panic!("expected a text body, got {other:?}"),
    };
    (
        response.status().as_u16(),
        serde_json::from_str(&body).unwrap(),
    )
}

pub type MotoRelay = Relay<S3ObjectStore, SqsEventQueue>;

/// A bucket and a queue of its own for one test.
pub struct Fixture {
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub bucket: String,
    pub queue_url: String,
    pub sdk: aws_config::SdkConfig,
    /// The moto server the bucket (and, unless `sqs_endpoint` says otherwise, the queue) live in.
    pub endpoint: String,
    /// A separate moto server for SQS (`AWS_ENDPOINT_URL_SQS`), when set.
    pub sqs_endpoint: Option<String>,
}

/// Collects the relay's log records in memory (`Relay::with_log_sink`).
#[derive(Clone, Default)]
pub struct CapturedLog(pub std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl CapturedLog {
    pub fn sink(&self) -> millicast_webhook_relay::relay::metrics::LogSink {
        let lines = self.0.clone();
        std::sync::Arc::new(move |line: &str| lines.lock().unwrap().push(line.to_owned()))
    }

    pub fn records(&self) -> Vec<serde_json::Value> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str(l).expect("JSON log record"))
            .collect()
    }

    /// The records of lost events (ERROR, carrying the whole body).
    pub fn lost_events(&self) -> Vec<serde_json::Value> {
        self.records()
            .into_iter()
            .filter(|r| r.get("body").is_some())
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct StoredObject {
    pub key: String,
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub metadata: HashMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    pub body: String,
    /// Attribute name → (data type, value).
    pub attributes: HashMap<String, (String, String)>,
    pub group_id: Option<String>,
    pub deduplication_id: Option<String>,
}

impl ReceivedMessage {
    pub fn attribute(&self, name: &str) -> Option<(&str, &str)> {
        self.attributes
            .get(name)
            .map(|(t, v)| (t.as_str(), v.as_str()))
    }
}

impl Fixture {
    pub async fn new(fifo: bool) -> Self {
        Self::create(fifo, None).await
    }

    /// A fixture whose queue lives in its own moto server (see [`moto_for_sqs`]).
    pub async fn with_separate_sqs() -> Self {
        Self::create(false, Some(moto_for_sqs().endpoint.clone())).await
    }

    async fn create(fifo: bool, sqs_endpoint: Option<String>) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let name = format!("relay-{}-{n}", std::process::id());
        let sdk = sdk_config(&moto().endpoint).await;
        let s3 = aws::s3_client(&sdk, true);
        let sqs = match &sqs_endpoint {
            Some(endpoint) => aws::sqs_client(&sdk_config(endpoint).await),
            None => aws::sqs_client(&sdk),
        };
        s3.create_bucket()
            .bucket(&name)
            .send()
            .await
            .expect("create bucket");
        let queue_name = if fifo {
            format!("{name}.fifo")
        } else {
            name.clone()
        };
        let mut create = sqs.create_queue().queue_name(queue_name);
        if fifo {
            create = create.attributes(QueueAttributeName::FifoQueue, "true");
        }
        let queue_url = create
            .send()
            .await
            .expect("create queue")
            .queue_url
            .unwrap();
        Self {
            s3,
            sqs,
            bucket: name,
            queue_url,
            sdk,
            endpoint: moto().endpoint.clone(),
            sqs_endpoint,
        }
    }

    /// A bucket and a queue that already exist at `endpoint`, read back through `sdk`.
    pub fn existing(
        sdk: aws_config::SdkConfig,
        endpoint: &str,
        bucket: &str,
        queue_url: &str,
    ) -> Self {
        Self {
            s3: aws::s3_client(&sdk, true),
            sqs: aws::sqs_client(&sdk),
            bucket: bucket.to_owned(),
            queue_url: queue_url.to_owned(),
            sdk,
            endpoint: endpoint.to_owned(),
            sqs_endpoint: None,
        }
    }

    /// Relay variables for this fixture; `overrides` replace or add (an empty value unsets).
    pub fn config(&self, overrides: &[(&'static str, &str)]) -> Config {
        let mut vars: HashMap<&str, String> = HashMap::from([
            ("WEBHOOK_SECRET", SECRET.to_owned()),
            ("THUMBNAIL_BUCKET", self.bucket.clone()),
            ("EVENT_QUEUE_URL", self.queue_url.clone()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
        ]);
        if let Some(sqs) = &self.sqs_endpoint {
            vars.insert("AWS_ENDPOINT_URL_SQS", sqs.clone());
        }
        for (name, value) in overrides {
            vars.insert(name, (*value).to_owned());
        }
        Config::from_lookup(|name| vars.get(name).cloned()).expect("valid test config")
    }

    /// The relay as `main` wires it, over SDK clients pointed at moto.
    pub fn relay(&self, config: &Config) -> MotoRelay {
        self.relay_with(config, &self.sdk, &self.sdk)
    }

    /// The relay with S3 and SQS reached through separate SDK configs (to take one down).
    pub fn relay_with(
        &self,
        config: &Config,
        s3_sdk: &aws_config::SdkConfig,
        sqs_sdk: &aws_config::SdkConfig,
    ) -> MotoRelay {
        let SecretConfig::Literal(secrets) = &config.secrets else {
            panic!(
                "Fixture::relay takes literal secrets; use relay_with_secrets for Secrets Manager"
            );
        };
        let (store, queue) = self.ports(config, s3_sdk, sqs_sdk);
        // Records go to memory, not to the test output; tests that read them set their own sink.
        Relay::new(config, SecretStore::fixed(secrets), store, queue)
            .with_log_sink(CapturedLog::default().sink())
    }

    /// The relay's S3 and SQS ports, reached through separate SDK configs.
    pub fn ports(
        &self,
        config: &Config,
        s3_sdk: &aws_config::SdkConfig,
        sqs_sdk: &aws_config::SdkConfig,
    ) -> (S3ObjectStore, SqsEventQueue) {
        // The SDK keeps one retry budget per service and process (a static token bucket): a
        // relay is one Lambda process, but these tests run many relays in one, and a test that
        // drains the budget with timeouts would take the retries of the next one away.
        let partition = format!("{}-{}", self.bucket, config.event_queue_url);
        let s3 = aws::s3_client(s3_sdk, config.s3_force_path_style);
        let s3 = aws_sdk_s3::Client::from_conf(
            s3.config()
                .to_builder()
                .retry_partition(aws_sdk_s3::config::retry::RetryPartition::new(
                    partition.clone(),
                ))
                .build(),
        );
        let sqs = aws::sqs_client(sqs_sdk);
        let sqs = aws_sdk_sqs::Client::from_conf(
            sqs.config()
                .to_builder()
                .retry_partition(aws_sdk_sqs::config::retry::RetryPartition::new(partition))
                .build(),
        );
        (
            S3ObjectStore::new(s3, &config.thumbnail_bucket),
            SqsEventQueue::new(sqs, &config.event_queue_url),
        )
    }

    /// The relay as `main` wires it, secrets included: with a `WEBHOOK_SECRET_ID` config they
    /// are read (now, and on a mismatch) from Secrets Manager through `secrets_sdk`.
    pub async fn relay_with_secrets(
        &self,
        config: &Config,
        secrets_sdk: &aws_config::SdkConfig,
    ) -> MotoRelay {
        let store = S3ObjectStore::new(
            aws::s3_client(&self.sdk, config.s3_force_path_style),
            &config.thumbnail_bucket,
        );
        let queue = SqsEventQueue::new(self.sqs.clone(), &config.event_queue_url);
        let secrets = secret_store(&config.secrets, || aws::secrets_client(secrets_sdk)).await;
        Relay::new(config, secrets, store, queue).with_log_sink(CapturedLog::default().sink())
    }

    /// The relay as deployed, reading `value` from a Secrets Manager secret of this fixture
    /// (`WEBHOOK_SECRET_ID`): [`webhooks_secret`] makes it know webhook ids.
    pub async fn relay_holding(&self, value: &str) -> MotoRelay {
        let secret_id = self.create_secret(value).await;
        let config = self.config(&[("WEBHOOK_SECRET", ""), ("WEBHOOK_SECRET_ID", &secret_id)]);
        self.relay_with_secrets(&config, &self.sdk).await
    }

    /// A Secrets Manager secret (in moto) named after this fixture, holding `value`.
    pub async fn create_secret(&self, value: &str) -> String {
        self.create_secret_named(&format!("{}-webhook-secret", self.bucket), value)
            .await
    }

    pub async fn create_secret_named(&self, name: &str, value: &str) -> String {
        let name = name.to_owned();
        aws::secrets_client(&self.sdk)
            .create_secret()
            .name(&name)
            .secret_string(value)
            .send()
            .await
            .expect("create secret");
        name
    }

    /// Replaces the secret's value, as `relayctl secret set` or the console would.
    pub async fn put_secret(&self, secret_id: &str, value: &str) {
        aws::secrets_client(&self.sdk)
            .put_secret_value()
            .secret_id(secret_id)
            .secret_string(value)
            .send()
            .await
            .expect("put secret value");
    }

    /// The durable paths of the relay for `config`, as `relayctl quarantine replay` builds them.
    pub fn delivery(&self, config: &Config) -> Delivery<S3ObjectStore, SqsEventQueue> {
        Delivery::new(
            config.paths.clone(),
            S3ObjectStore::new(aws::s3_client(&self.sdk, true), &config.thumbnail_bucket),
            SqsEventQueue::new(self.sqs.clone(), &config.event_queue_url),
        )
        .with_log_sink(CapturedLog::default().sink())
    }

    /// Runs the library's quarantine replay with `verifiers`; (replayed, kept with reasons).
    #[cfg(feature = "operator")]
    pub async fn replay(
        &self,
        config: &Config,
        verifiers: &[WebhookVerifier],
        options: ReplayOptions,
    ) -> (usize, Vec<(String, String)>) {
        let delivery = self.delivery(config);
        let (mut replayed, mut kept) = (0, Vec::new());
        replay_quarantine(
            &self.s3,
            &self.bucket,
            verifiers,
            &delivery,
            options,
            |key, outcome| match outcome {
                Replayed::Delivered(_) | Replayed::WouldDeliver(_) => replayed += 1,
                Replayed::Kept(reason) => kept.push((key.to_owned(), reason.clone())),
            },
        )
        .await
        .expect("list the quarantine");
        (replayed, kept)
    }

    /// A CloudFormation stack (in moto) whose outputs are `outputs`, as `relayctl --stack`
    /// reads them from a deployed template.yaml; its name.
    #[cfg(feature = "cli")]
    pub async fn create_stack(&self, outputs: &[(&str, &str)]) -> String {
        let name = format!("{}-stack", self.bucket);
        let outputs: serde_json::Map<String, serde_json::Value> = outputs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), serde_json::json!({ "Value": value })))
            .collect();
        let template = serde_json::json!({
            "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": outputs,
        });
        aws_sdk_cloudformation::Client::new(&self.sdk)
            .create_stack()
            .stack_name(&name)
            .template_body(template.to_string())
            .send()
            .await
            .expect("create stack");
        name
    }

    /// Objects under `prefix`.
    pub async fn objects_under(&self, prefix: &str) -> Vec<StoredObject> {
        self.objects()
            .await
            .into_iter()
            .filter(|o| o.key.starts_with(prefix))
            .collect()
    }

    pub async fn delete(&self, key: &str) {
        self.s3
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .unwrap();
    }

    pub async fn objects(&self) -> Vec<StoredObject> {
        let mut objects = Vec::new();
        for key in self.keys().await {
            let object = self
                .s3
                .get_object()
                .bucket(&self.bucket)
                .key(&key)
                .send()
                .await
                .unwrap();
            let content_type = object.content_type().map(str::to_owned);
            let metadata = object.metadata().cloned().unwrap_or_default();
            let body = object.body.collect().await.unwrap().into_bytes().to_vec();
            objects.push(StoredObject {
                key,
                body,
                content_type,
                metadata,
            });
        }
        objects
    }

    /// Every key in the bucket (all pages).
    pub async fn keys(&self) -> Vec<String> {
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            keys.extend(
                page.unwrap()
                    .contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        keys
    }

    pub async fn object(&self, key: &str) -> StoredObject {
        self.objects()
            .await
            .into_iter()
            .find(|o| o.key == key)
            .unwrap_or_else(|| panic!("no object {key}"))
    }

    /// Another queue beside the fixture's: `{bucket}-{suffix}`; its URL.
    pub async fn create_queue(&self, suffix: &str) -> String {
        self.sqs
            .create_queue()
            .queue_name(format!("{}-{suffix}", self.bucket))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap()
    }

    /// Receives (and deletes) every message currently on the queue, as SQS returns them (every
    /// message and system attribute).
    pub async fn drain_queue(&self) -> Vec<aws_sdk_sqs::types::Message> {
        self.drain_queue_at(&self.queue_url).await
    }

    /// [`Self::drain_queue`] for the queue at `queue_url`.
    pub async fn drain_queue_at(&self, queue_url: &str) -> Vec<aws_sdk_sqs::types::Message> {
        let mut all = Vec::new();
        loop {
            let output = self
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .message_attribute_names("All")
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .unwrap();
            let batch = output.messages().to_vec();
            if batch.is_empty() {
                return all;
            }
            for message in batch {
                self.sqs
                    .delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
                all.push(message);
            }
        }
    }

    /// Receives (and deletes) every message currently on the queue.
    pub async fn messages(&self) -> Vec<ReceivedMessage> {
        let mut all = Vec::new();
        for message in self.drain_queue().await {
            let attributes = message
                .message_attributes()
                .map(|attrs| {
                    attrs
                        .iter()
                        .map(|(name, value)| {
                            (
                                name.clone(),
                                (
                                    value.data_type().to_owned(),
                                    value.string_value().unwrap_or_default().to_owned(),
                                ),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let system = message.attributes();
            let system_value =
                |name: MessageSystemAttributeName| system.and_then(|s| s.get(&name)).cloned();
            all.push(ReceivedMessage {
                body: message.body().unwrap_or_default().to_owned(),
                attributes,
                group_id: system_value(MessageSystemAttributeName::MessageGroupId),
                deduplication_id: system_value(MessageSystemAttributeName::MessageDeduplicationId),
            });
        }
        all
    }

    /// Asserts that nothing reached SQS and that S3 holds exactly `count` objects, all kept in
    /// quarantine (a well-formed signature of an unknown secret); returns them.
    pub async fn assert_only_quarantined(&self, what: &str, count: usize) -> Vec<StoredObject> {
        let objects = self.objects().await;
        let keys: Vec<&str> = objects.iter().map(|o| o.key.as_str()).collect();
        assert!(
            keys.iter().all(|k| k.starts_with("quarantine/")),
            "{what}: S3 holds {keys:?}"
        );
        assert_eq!(objects.len(), count, "{what}: S3 holds {keys:?}");
        let messages = self.messages().await;
        assert!(messages.is_empty(), "{what}: SQS holds {messages:?}");
        objects
    }

    /// Asserts that nothing but `count` quarantine objects reached S3 or SQS, then deletes
    /// them (so that the next case starts clean) and returns them.
    pub async fn take_quarantined(&self, what: &str, count: usize) -> Vec<StoredObject> {
        let kept = self.assert_only_quarantined(what, count).await;
        for object in &kept {
            self.s3
                .delete_object()
                .bucket(&self.bucket)
                .key(&object.key)
                .send()
                .await
                .unwrap();
        }
        kept
    }

    /// Asserts that nothing reached S3 or SQS.
    pub async fn assert_untouched(&self, what: &str) {
        let keys: Vec<String> = self.objects().await.into_iter().map(|o| o.key).collect();
        assert!(keys.is_empty(), "{what}: S3 holds {keys:?}");
        let messages = self.messages().await;
        assert!(messages.is_empty(), "{what}: SQS holds {messages:?}");
    }
}
