//! System benchmark of the built relay binary (`target/release/webhook-relay`) under a minimal
//! Lambda Runtime API served here on 127.0.0.1, against moto S3/SQS/Secrets Manager:
//! - init: process start → its first `GET /runtime/invocation/next` (config read, clients built),
//!   with `WEBHOOK_SECRET` and with `WEBHOOK_SECRET_ID` (the secret read from moto at init),
//!   and one local `GetSecretValue` round trip on a new connection, for comparison;
//! - first invocation after a cold start vs warm invocations (Runtime API round trip included);
//! - CPU of the whole process per JSON event (utime + stime from `/proc/<pid>/stat`, the SQS
//!   send, the Runtime API client and logging included), over rounds of 1,000 events;
//! - peak RSS (VmHWM) after 1,000 mixed events;
//! - the event bus output on vs off (init and warm invocation, alternating runs), with
//!   EventBridge in a moto of its own as it is a separate service on AWS, and warm again with
//!   10 ms added to every AWS call (a proxy in front of each moto).
//!
//! Prints one JSON object on stdout (read by scripts/bench_report.py). Run with `make bench`.
//! `RELAY_BENCH_ONLY=init|invoke|cpu|rss|bus` runs one section (for profiling; `cpu` prints the
//! relay's pid on stderr and waits `RELAY_BENCH_CPU_DELAY` seconds before its rounds).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{Credentials, Region};
use millicast_webhook_relay::events;
use millicast_webhooks::samples::{self, JSON_SAMPLES, SAMPLE_JPEG};
use millicast_webhooks::signature::sign;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as TokioBufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const COLD_STARTS: usize = 25;
const INVOKE_RUNS: usize = 7;
const WARM_INVOCATIONS: usize = 30;
const RSS_EVENTS: usize = 1000;
const CPU_WARM_UP: usize = 100;
const CPU_ROUNDS: usize = 5;
const CPU_EVENTS: usize = 1000;

/// What the Runtime API saw.
enum Seen {
    Next(Instant),
    Response(Instant, String),
}

/// Serves the Runtime API on `listener`: each `next` is answered with the next event from
/// `events` (or held forever when there is none), each response is reported.
async fn runtime_api(
    listener: TcpListener,
    mut events: mpsc::Receiver<String>,
    seen: mpsc::UnboundedSender<Seen>,
) {
    let (stream, _) = listener.accept().await.unwrap();
    // No Nagle: a response must not wait for the client's delayed ACK.
    stream.set_nodelay(true).unwrap();
    let (read, mut write) = stream.into_split();
    let mut reader = TokioBufReader::new(read);
    let mut request_id = 0u64;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut content_length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).await.unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                content_length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0u8; content_length];
        reader.read_exact(&mut body).await.unwrap();
        if request_line.starts_with("GET ") && request_line.contains("/invocation/next") {
            let _ = seen.send(Seen::Next(Instant::now()));
            let Some(event) = events.recv().await else {
                std::future::pending::<()>().await;
                return;
            };
            request_id += 1;
            let deadline = millicast_webhook_relay::relay::clock::now_ms() + 30_000;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nlambda-runtime-aws-request-id: req-{request_id}\r\n\
                 lambda-runtime-deadline-ms: {deadline}\r\nlambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:relay\r\n\
                 lambda-runtime-trace-id: Root=1-00000000-000000000000000000000000;Sampled=0\r\ncontent-length: {}\r\n\r\n",
                event.len()
            );
            write
                .write_all(format!("{head}{event}").as_bytes())
                .await
                .unwrap();
        } else {
            if request_line.contains("/response") {
                let _ = seen.send(Seen::Response(
                    Instant::now(),
                    String::from_utf8_lossy(&body).into_owned(),
                ));
            } else {
                panic!(
                    "the relay reported an error: {request_line} {}",
                    String::from_utf8_lossy(&body)
                );
            }
            write
                .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
        }
    }
}

#[derive(Clone)]
struct Env {
    binary: PathBuf,
    moto: String,
    bucket: String,
    queue_url: String,
    secret_id: String,
    /// An EventBridge bus, for the bus output's runs, in a moto of its own (`bus_moto`): one moto
    /// process serves one request at a time, so sharing it with SQS would serialize the two calls
    /// the relay makes alongside; on AWS they are two services.
    bus: String,
    bus_moto: String,
}

/// Where the relay reads its webhook secret.
#[derive(Clone, Copy)]
enum SecretMode {
    /// `WEBHOOK_SECRET`: no I/O at init.
    Literal,
    /// `WEBHOOK_SECRET_ID`: one `GetSecretValue` at init.
    SecretsManager,
    /// `WEBHOOK_SECRET` with `QUARANTINE=false`: a delivery that does not verify is answered
    /// 401 without any AWS call.
    LiteralNoQuarantine,
    /// As `Literal`, with the event bus output on (EVENT_BUS_NAME).
    LiteralWithBus,
}

struct Process {
    child: Child,
    events: mpsc::Sender<String>,
    seen: mpsc::UnboundedReceiver<Seen>,
    started: Instant,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(env: &Env, mode: SecretMode) -> Process {
    start_binary(env, &env.binary, mode).await
}

async fn start_binary(env: &Env, binary: &std::path::Path, mode: SecretMode) -> Process {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (events_tx, events_rx) = mpsc::channel(1);
    let (seen_tx, seen_rx) = mpsc::unbounded_channel();
    tokio::spawn(runtime_api(listener, events_rx, seen_tx));
    let mut command = Command::new(binary);
    command.env_clear();
    match mode {
        SecretMode::Literal => command.env("WEBHOOK_SECRET", samples::TEST_SECRET),
        SecretMode::SecretsManager => command.env("WEBHOOK_SECRET_ID", &env.secret_id),
        SecretMode::LiteralNoQuarantine => command
            .env("WEBHOOK_SECRET", samples::TEST_SECRET)
            .env("QUARANTINE", "false"),
        SecretMode::LiteralWithBus => command
            .env("WEBHOOK_SECRET", samples::TEST_SECRET)
            .env("EVENT_BUS_NAME", &env.bus)
            .env("AWS_ENDPOINT_URL_EVENTBRIDGE", &env.bus_moto),
    };
    let started = Instant::now();
    let mut child = command
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "relay")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_ENDPOINT_URL", &env.moto)
        .env("THUMBNAIL_BUCKET", &env.bucket)
        .env("EVENT_QUEUE_URL", &env.queue_url)
        .stdin(Stdio::null())
        // A pipe, as on Lambda (its log records are written there), read and dropped here.
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run target/release/webhook-relay (cargo build --release --bin webhook-relay)");
    if let Some(mut stdout) = child.stdout.take() {
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    }
    Process {
        child,
        events: events_tx,
        seen: seen_rx,
        started,
    }
}

impl Process {
    async fn next_poll(&mut self) -> Instant {
        loop {
            match tokio::time::timeout(Duration::from_secs(30), self.seen.recv()).await {
                Ok(Some(Seen::Next(at))) => return at,
                Ok(Some(Seen::Response(..))) => continue,
                _ => panic!("the relay did not poll for an invocation"),
            }
        }
    }

    /// Sends one invocation and returns (latency from dispatch to response, response body).
    async fn invoke(&mut self, event: String) -> (Duration, String) {
        let sent = Instant::now();
        self.events.send(event).await.unwrap();
        loop {
            match tokio::time::timeout(Duration::from_secs(30), self.seen.recv()).await {
                Ok(Some(Seen::Response(at, body))) => return (at - sent, body),
                Ok(Some(Seen::Next(_))) => continue,
                _ => panic!("no response from the relay"),
            }
        }
    }

    /// CPU time the whole process (all threads) has used so far, in clock ticks: (user, system).
    fn cpu_ticks(&self) -> (u64, u64) {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after the command name, which ends at the last ')': state is field 3,
        // utime 14 and stime 15 (proc(5)).
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
            .split_whitespace()
            .collect();
        (fields[11].parse().unwrap(), fields[12].parse().unwrap())
    }

    /// The first invocation after a cold start (a feeds event, answered 200): its latency.
    async fn invoke_first(&mut self) -> Duration {
        let event = json_event(
            "feeds-started",
            millicast_webhook_relay::relay::clock::now_ms(),
        );
        let (latency, body) = self.invoke(event).await;
        assert!(body.contains("200"), "{body}");
        latency
    }

    /// Sends `count` JSON events signed with `key` (built before the round, so that signing
    /// them does not compete with the relay), each answered with `outcome`; returns the
    /// process's CPU ticks spent meanwhile: (user, system).
    async fn cpu_round(&mut self, key: &[u8], outcome: &str, count: usize) -> (u64, u64) {
        let events = json_events_signed_with(count, key);
        let before = self.cpu_ticks();
        for event in events {
            let (_, body) = self.invoke(event).await;
            assert!(body.contains(outcome), "{body}");
        }
        let after = self.cpu_ticks();
        (after.0 - before.0, after.1 - before.1)
    }

    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

fn json_event(name: &str, ts: i64) -> String {
    json_event_signed_with(name, ts, SECRET)
}

fn json_event_signed_with(name: &str, ts: i64, key: &[u8]) -> String {
    let body = samples::json_sample(name, ts).unwrap();
    let signature = sign(key, body.as_bytes());
    events::function_url_event(
        "POST",
        &[
            ("content-type", "application/json"),
            ("x-millicast-signature", &signature),
        ],
        body.as_bytes(),
        false,
    )
    .to_string()
}

fn thumbnail_event(image: &[u8], ts: i64) -> String {
    let signature = sign(SECRET, image);
    let headers = samples::thumbnail_headers(samples::SAMPLE_STREAM_ID, ts);
    let mut refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    refs.push(("x-millicast-signature", &signature));
    events::function_url_event("POST", &refs, image, true).to_string()
}

fn stats(mut values: Vec<f64>) -> serde_json::Value {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    serde_json::json!({"n": values.len(), "min": values[0], "median": at(0.5), "p95": at(0.95), "max": values[values.len() - 1]})
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Converts CPU clock ticks spent on `events` events into ms per event.
fn per_event_ms(events: usize) -> impl Fn(u64) -> f64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().unwrap();
    let ticks_per_second: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    move |ticks| ticks as f64 / ticks_per_second * 1000.0 / events as f64
}

fn json_events_signed_with(count: usize, key: &[u8]) -> Vec<String> {
    (0..count)
        .map(|i| {
            json_event_signed_with(
                JSON_SAMPLES[i % JSON_SAMPLES.len()],
                millicast_webhook_relay::relay::clock::now_ms(),
                key,
            )
        })
        .collect()
}

/// An SDK config for moto (the harness's own clients).
/// The delay a [`latency_proxy`] adds to each AWS call: a round trip to a service in the same
/// region is milliseconds, which moto on loopback does not have.
const AWS_CALL_LATENCY: Duration = Duration::from_millis(10);

/// A loopback proxy in front of `endpoint` that holds each connection for `delay` before it
/// reaches the server: moto closes every connection after its answer, so each call waits once.
async fn latency_proxy(endpoint: &str, delay: Duration) -> String {
    let upstream = endpoint.trim_start_matches("http://").to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    format!("http://{address}")
}

/// Warm JSON events through a relay with the bus off and one with it on, event by event
/// alternating, so that both see the same machine and the same moto: (off, on) latencies.
async fn warm_bus_off_and_on(env: &Env, events: usize) -> (Vec<f64>, Vec<f64>) {
    let mut off = start(env, SecretMode::Literal).await;
    let mut on = start(env, SecretMode::LiteralWithBus).await;
    for process in [&mut off, &mut on] {
        process.next_poll().await;
        process.invoke_first().await;
    }
    let (mut warm_off, mut warm_on) = (Vec::new(), Vec::new());
    for i in 0..events {
        let name = JSON_SAMPLES[i % JSON_SAMPLES.len()];
        for (process, samples) in [(&mut off, &mut warm_off), (&mut on, &mut warm_on)] {
            let now = millicast_webhook_relay::relay::clock::now_ms();
            let (latency, body) = process.invoke(json_event(name, now)).await;
            assert!(body.contains("forwarded"), "{body}");
            samples.push(ms(latency));
        }
    }
    (warm_off, warm_on)
}

async fn moto_sdk(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "bench"))
        .load()
        .await
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without it.
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("cold_start: a benchmark of the release binary; run it with `make bench`");
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let binary = std::env::var_os("RELAY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/release/webhook-relay"));
    // moto, as in the tests: it stops when this process's end of its stdin closes.
    let mut moto = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("scripts/moto_server.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto (run make bench, which creates .venv)");
    let mut port = String::new();
    BufReader::new(moto.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let moto_endpoint = format!("http://127.0.0.1:{}", port.trim());
    let sdk = moto_sdk(&moto_endpoint).await;
    let s3 = millicast_webhook_relay::aws::sdk::s3_client(&sdk, true);
    let sqs = millicast_webhook_relay::aws::sdk::sqs_client(&sdk);
    s3.create_bucket().bucket("bench").send().await.unwrap();
    let queue_url = sqs
        .create_queue()
        .queue_name("bench")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let secret_id = "bench-webhook-secret".to_owned();
    millicast_webhook_relay::aws::sdk::secrets_client(&sdk)
        .create_secret()
        .name(&secret_id)
        .secret_string(format!(r#"{{"current":"{}"}}"#, samples::TEST_SECRET))
        .send()
        .await
        .unwrap();
    let mut bus_moto = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("scripts/moto_server.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto for EventBridge");
    let mut bus_port = String::new();
    BufReader::new(bus_moto.stdout.take().unwrap())
        .read_line(&mut bus_port)
        .unwrap();
    let bus_moto_endpoint = format!("http://127.0.0.1:{}", bus_port.trim());
    let bus = "bench-events".to_owned();
    millicast_webhook_relay::aws::sdk::eventbridge_client(&moto_sdk(&bus_moto_endpoint).await)
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .unwrap();
    let env = Env {
        binary,
        moto: moto_endpoint,
        bucket: "bench".into(),
        queue_url,
        secret_id,
        bus,
        bus_moto: bus_moto_endpoint,
    };
    // A development aid, not part of `make bench`: `RELAY_BENCH_AB=/path/a,/path/b` compares
    // builds, alternating cold starts (init, then the first invocation: the first SQS send
    // builds the HTTPS connector and its trust store), then CPU rounds of JSON events, between
    // them (so that both see the same machine).
    if let Ok(ab) = std::env::var("RELAY_BENCH_AB") {
        let binaries: Vec<PathBuf> = ab.split(',').map(PathBuf::from).collect();
        let mut init = vec![Vec::new(); binaries.len()];
        let mut first = vec![Vec::new(); binaries.len()];
        for _ in 0..COLD_STARTS {
            for ((binary, init), first) in binaries.iter().zip(&mut init).zip(&mut first) {
                let mut process = start_binary(&env, binary, SecretMode::Literal).await;
                let polled = process.next_poll().await;
                init.push(ms(polled - process.started));
                first.push(ms(process.invoke_first().await));
            }
        }
        let mut processes = Vec::new();
        for binary in &binaries {
            let mut process = start_binary(&env, binary, SecretMode::Literal).await;
            process.next_poll().await;
            process.cpu_round(SECRET, "forwarded", CPU_WARM_UP).await;
            processes.push(process);
        }
        let per_event = per_event_ms(CPU_EVENTS);
        let mut cpu_ms = vec![Vec::new(); binaries.len()];
        for _ in 0..CPU_ROUNDS {
            for (process, samples) in processes.iter_mut().zip(&mut cpu_ms) {
                let (user, system) = process.cpu_round(SECRET, "forwarded", CPU_EVENTS).await;
                samples.push(per_event(user + system));
            }
        }
        drop(processes);
        for server in [&mut moto, &mut bus_moto] {
            let _ = server.kill();
            let _ = server.wait();
        }
        for (((binary, init), first), cpu) in binaries.iter().zip(init).zip(first).zip(cpu_ms) {
            println!(
                "{} init_ms {} first_invoke_ms {} cpu_ms_per_event {}",
                binary.display(),
                stats(init),
                stats(first),
                stats(cpu)
            );
        }
        return;
    }
    let only = std::env::var("RELAY_BENCH_ONLY").ok();
    let runs = |section: &str| only.as_deref().is_none_or(|only| only == section);
    let mut report = serde_json::Map::new();
    report.insert(
        "binary_bytes".into(),
        std::fs::metadata(&env.binary)
            .map(|m| m.len())
            .unwrap_or(0)
            .into(),
    );

    if runs("init") {
        // Init: process start to the first poll, no invocation. The two secret modes and one
        // GetSecretValue round trip of our own (a new client, so a new connection: what the
        // Secrets Manager mode adds to init at best) alternate, so that all three see the same
        // machine and the same moto: moto answers a request after an idle moment more slowly
        // (~5 ms) than one of a back-to-back series (~3 ms), and the relay's read at init is
        // always the former.
        let (mut literal, mut secrets_manager, mut round_trip) =
            (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..COLD_STARTS {
            for (mode, samples) in [
                (SecretMode::Literal, &mut literal),
                (SecretMode::SecretsManager, &mut secrets_manager),
            ] {
                let mut process = start(&env, mode).await;
                let polled = process.next_poll().await;
                samples.push(ms(polled - process.started));
                // The secret was read: the relay verifies (200), it does not quarantine (503).
                process.invoke_first().await;
                drop(process);
                if let SecretMode::Literal = mode {
                    let client = millicast_webhook_relay::aws::sdk::secrets_client(
                        &moto_sdk(&env.moto).await,
                    );
                    // As long as a relay's init before its read.
                    tokio::time::sleep(Duration::from_millis(3)).await;
                    let sent = Instant::now();
                    client
                        .get_secret_value()
                        .secret_id(&env.secret_id)
                        .send()
                        .await
                        .unwrap();
                    round_trip.push(ms(sent.elapsed()));
                }
            }
        }
        report.insert("init_ms".into(), stats(literal));
        report.insert("init_secrets_manager_ms".into(), stats(secrets_manager));
        report.insert("secret_round_trip_ms".into(), stats(round_trip));
    }

    if runs("invoke") {
        // First invocation after a cold start vs warm ones.
        let (mut first, mut warm) = (Vec::new(), Vec::new());
        for _ in 0..INVOKE_RUNS {
            let mut process = start(&env, SecretMode::Literal).await;
            process.next_poll().await;
            first.push(ms(process.invoke_first().await));
            for i in 0..WARM_INVOCATIONS {
                let name = JSON_SAMPLES[i % JSON_SAMPLES.len()];
                let (latency, _) = process
                    .invoke(json_event(
                        name,
                        millicast_webhook_relay::relay::clock::now_ms(),
                    ))
                    .await;
                warm.push(ms(latency));
            }
        }
        report.insert("first_invoke_ms".into(), stats(first));
        report.insert("warm_invoke_ms".into(), stats(warm));
    }

    if runs("cpu") {
        // CPU of the whole relay process per JSON event: rounds of CPU_EVENTS events after a
        // warm-up, each round's utime + stime delta divided by its events. Beside it, rounds of
        // the same events signed with another key to a relay that answers them 401 without any
        // AWS call (QUARANTINE=false): the same runtime, parsing, verification and log record,
        // no SQS send. The two alternate, round by round, so that both see the same machine.
        let wrong_key = b"another key, not the relay's one".as_slice();
        let mut forwarding = start(&env, SecretMode::Literal).await;
        forwarding.next_poll().await;
        let mut rejecting = start(&env, SecretMode::LiteralNoQuarantine).await;
        rejecting.next_poll().await;
        forwarding.cpu_round(SECRET, "forwarded", CPU_WARM_UP).await;
        rejecting
            .cpu_round(wrong_key, "invalid_signature", CPU_WARM_UP)
            .await;
        if let Some(delay) = std::env::var("RELAY_BENCH_CPU_DELAY")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            eprintln!("relay pid {}", forwarding.child.id());
            tokio::time::sleep(Duration::from_secs(delay)).await;
        }
        let per_event = per_event_ms(CPU_EVENTS);
        let (mut total_ms, mut user_ms, mut system_ms, mut rejected_ms) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..CPU_ROUNDS {
            let (user, system) = forwarding.cpu_round(SECRET, "forwarded", CPU_EVENTS).await;
            total_ms.push(per_event(user + system));
            user_ms.push(per_event(user));
            system_ms.push(per_event(system));
            let (user, system) = rejecting
                .cpu_round(wrong_key, "invalid_signature", CPU_EVENTS)
                .await;
            rejected_ms.push(per_event(user + system));
        }
        report.insert("cpu_per_json_event_ms".into(), stats(total_ms));
        report.insert("cpu_user_per_json_event_ms".into(), stats(user_ms));
        report.insert("cpu_system_per_json_event_ms".into(), stats(system_ms));
        report.insert("cpu_per_rejected_event_ms".into(), stats(rejected_ms));
        report.insert("cpu_events_per_round".into(), CPU_EVENTS.into());
    }

    if runs("bus") {
        // The event bus output: init and warm JSON events with it off and on, the same binary,
        // alternating (cold starts one by one; warm invocations event by event across two
        // processes), so that both see the same machine and the same moto.
        let (mut init_off, mut init_on) = (Vec::new(), Vec::new());
        for _ in 0..COLD_STARTS {
            for (mode, samples) in [
                (SecretMode::Literal, &mut init_off),
                (SecretMode::LiteralWithBus, &mut init_on),
            ] {
                let mut process = start(&env, mode).await;
                let polled = process.next_poll().await;
                samples.push(ms(polled - process.started));
            }
        }
        let (warm_off, warm_on) = warm_bus_off_and_on(&env, INVOKE_RUNS * WARM_INVOCATIONS).await;
        // The same with each AWS call made a network round trip long: waiting dominates, as it
        // does on AWS, rather than moto's CPU, which two servers on two cores may have to share.
        let distant = Env {
            moto: latency_proxy(&env.moto, AWS_CALL_LATENCY).await,
            bus_moto: latency_proxy(&env.bus_moto, AWS_CALL_LATENCY).await,
            ..env.clone()
        };
        let (distant_off, distant_on) =
            warm_bus_off_and_on(&distant, INVOKE_RUNS * WARM_INVOCATIONS).await;
        // Every copy reached the bus: a copy EventBridge refused would have cost an S3 write
        // (undelivered-bus/) on top, and the figures would measure that instead.
        let spilled = s3
            .list_objects_v2()
            .bucket(&env.bucket)
            .prefix("undelivered-bus/")
            .send()
            .await
            .unwrap()
            .key_count
            .unwrap_or(0);
        assert_eq!(spilled, 0, "copies the bus did not take");
        report.insert("init_bus_off_ms".into(), stats(init_off));
        report.insert("init_bus_on_ms".into(), stats(init_on));
        report.insert("warm_invoke_bus_off_ms".into(), stats(warm_off));
        report.insert("warm_invoke_bus_on_ms".into(), stats(warm_on));
        report.insert(
            "aws_call_latency_ms".into(),
            (AWS_CALL_LATENCY.as_millis() as u64).into(),
        );
        report.insert("warm_invoke_bus_off_latency_ms".into(), stats(distant_off));
        report.insert("warm_invoke_bus_on_latency_ms".into(), stats(distant_on));
    }

    if runs("rss") {
        // Peak RSS after 1,000 mixed events: JSON events, 6 KB thumbnails, and a 1 MB one
        // every 100.
        let mut process = start(&env, SecretMode::Literal).await;
        let big: Vec<u8> = SAMPLE_JPEG.iter().copied().cycle().take(1 << 20).collect();
        for i in 0..RSS_EVENTS {
            let ts = millicast_webhook_relay::relay::clock::now_ms();
            let event = match i % 10 {
                9 if i % 100 == 99 => {
                    let mut image = big.clone();
                    image.extend_from_slice(&(i as u32).to_be_bytes());
                    thumbnail_event(&image, ts)
                }
                9 => {
                    let mut image = SAMPLE_JPEG.to_vec();
                    image.extend_from_slice(&(i as u32).to_be_bytes());
                    thumbnail_event(&image, ts)
                }
                _ => json_event(JSON_SAMPLES[i % JSON_SAMPLES.len()], ts),
            };
            let (_, body) = process.invoke(event).await;
            assert!(body.contains("200"), "event {i}: {body}");
        }
        report.insert(
            "peak_rss_kib_after_1000_events".into(),
            process.peak_rss_kib().into(),
        );
    }
    let _ = moto.kill();
    let _ = moto.wait();
    let _ = bus_moto.kill();
    let _ = bus_moto.wait();
    println!("{}", serde_json::Value::Object(report));
}
