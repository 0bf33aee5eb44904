//! System benchmark of the built relay binary (`target/release/webhook-relay`) under a minimal
//! Lambda Runtime API served here on 127.0.0.1, against moto S3/SQS:
//! - init: process start → its first `GET /runtime/invocation/next` (config read, clients built);
//! - first invocation after a cold start vs warm invocations (Runtime API round trip included);
//! - peak RSS (VmHWM) after 1,000 mixed events.
//!
//! Prints one JSON object on stdout (read by scripts/bench_report.py). Run with `make bench`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{Credentials, Region};
use millicast_webhook_relay::samples::{self, JSON_SAMPLES, SAMPLE_JPEG};
use millicast_webhook_relay::signature::sign;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as TokioBufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const COLD_STARTS: usize = 25;
const INVOKE_RUNS: usize = 7;
const WARM_INVOCATIONS: usize = 30;
const RSS_EVENTS: usize = 1000;

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
            let deadline = millicast_webhook_relay::clock::now_ms() + 30_000;
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

struct Env {
    binary: PathBuf,
    moto: String,
    bucket: String,
    queue_url: String,
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

async fn start(env: &Env) -> Process {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (events_tx, events_rx) = mpsc::channel(1);
    let (seen_tx, seen_rx) = mpsc::unbounded_channel();
    tokio::spawn(runtime_api(listener, events_rx, seen_tx));
    let started = Instant::now();
    let child = Command::new(&env.binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "relay")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_ENDPOINT_URL", &env.moto)
        .env("WEBHOOK_SECRET", samples::TEST_SECRET)
        .env("THUMBNAIL_BUCKET", &env.bucket)
        .env("EVENT_QUEUE_URL", &env.queue_url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run target/release/webhook-relay (cargo build --release --bin webhook-relay)");
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
    let body = samples::json_sample(name, ts).unwrap();
    let signature = sign(SECRET, body.as_bytes());
    samples::function_url_event(
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
    samples::function_url_event("POST", &refs, image, true).to_string()
}

fn stats(mut values: Vec<f64>) -> serde_json::Value {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    serde_json::json!({"n": values.len(), "min": values[0], "median": at(0.5), "p95": at(0.95), "max": values[values.len() - 1]})
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
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
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&moto_endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "bench"))
        .load()
        .await;
    let s3 = millicast_webhook_relay::aws::s3_client(&sdk, true);
    let sqs = millicast_webhook_relay::aws::sqs_client(&sdk);
    s3.create_bucket().bucket("bench").send().await.unwrap();
    let queue_url = sqs
        .create_queue()
        .queue_name("bench")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let env = Env {
        binary,
        moto: moto_endpoint,
        bucket: "bench".into(),
        queue_url,
    };

    // Init: process start to the first poll, no invocation.
    let mut init = Vec::new();
    for _ in 0..COLD_STARTS {
        let mut process = start(&env).await;
        let polled = process.next_poll().await;
        init.push(ms(polled - process.started));
    }

    // First invocation after a cold start vs warm ones.
    let (mut first, mut warm) = (Vec::new(), Vec::new());
    for _ in 0..INVOKE_RUNS {
        let mut process = start(&env).await;
        process.next_poll().await;
        let (latency, body) = process
            .invoke(json_event(
                "feeds-started",
                millicast_webhook_relay::clock::now_ms(),
            ))
            .await;
        assert!(body.contains("200"), "{body}");
        first.push(ms(latency));
        for i in 0..WARM_INVOCATIONS {
            let name = JSON_SAMPLES[i % JSON_SAMPLES.len()];
            let (latency, _) = process
                .invoke(json_event(name, millicast_webhook_relay::clock::now_ms()))
                .await;
            warm.push(ms(latency));
        }
    }

    // Peak RSS after 1,000 mixed events: JSON events, 6 KB thumbnails, and a 1 MB one every 100.
    let mut process = start(&env).await;
    let big: Vec<u8> = SAMPLE_JPEG.iter().copied().cycle().take(1 << 20).collect();
    for i in 0..RSS_EVENTS {
        let ts = millicast_webhook_relay::clock::now_ms();
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
    let peak_rss_kib = process.peak_rss_kib();
    drop(process);
    let _ = moto.kill();
    let _ = moto.wait();

    let report = serde_json::json!({
        "init_ms": stats(init),
        "first_invoke_ms": stats(first),
        "warm_invoke_ms": stats(warm),
        "peak_rss_kib_after_1000_events": peak_rss_kib,
        "binary_bytes": std::fs::metadata(&env.binary).map(|m| m.len()).unwrap_or(0),
    });
    println!("{report}");
}
