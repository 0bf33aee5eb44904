//! End-to-end rig: the built `webhook-relay` binary served through cargo-lambda's Runtime API
//! and function-URL emulator (`cargo lambda watch --only-lambda-apis`), against moto.
//! Every process started here listens on 127.0.0.1 and is killed by PID when dropped.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Fixture, free_port, project_dir};

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on 127.0.0.1:{port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn cargo_lambda() -> PathBuf {
    std::env::var_os("RELAY_CARGO_LAMBDA")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_dir().join(".venv/bin/cargo-lambda"))
}

/// A process killed (by its PID) when dropped.
pub struct Owned(pub Child);

/// `cargo lambda watch --only-lambda-apis` on a free loopback port, listening: the Runtime API
/// (`http://127.0.0.1:{port}/.rt`) and the function URLs. Stopped when the `Owned` is dropped.
pub fn start_emulator() -> (Owned, u16) {
    let port = free_port();
    let emulator = Owned(
        Command::new(cargo_lambda())
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            .current_dir(project_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start cargo lambda watch (run `make test`, which installs it in .venv)"),
    );
    wait_for_port(port, "cargo lambda watch");
    (emulator, port)
}

impl Drop for Owned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One relay deployment: its own bucket and queue in moto, an emulator, and the binary.
pub struct Deployment {
    pub fixture: Fixture,
    pub port: u16,
    pub log_path: PathBuf,
    // Dropped in order: the relay instances first, then the emulator.
    _relays: Vec<Owned>,
    _emulator: Owned,
}

impl Deployment {
    /// Starts the relay with a new fixture's settings plus `env` (which may override them).
    pub async fn start(fifo: bool, env: &[(&str, &str)]) -> Self {
        Self::start_at(Fixture::new(fifo).await, env).await
    }

    /// Starts the relay for `fixture` (its moto, bucket and queue) plus `env`.
    pub async fn start_at(fixture: Fixture, env: &[(&str, &str)]) -> Self {
        Self::start_instances(fixture, env, 1).await
    }

    /// Starts `instances` relay processes polling the same Runtime API, as Lambda runs several
    /// instances of a function under load (each with its own secrets and quarantine cap).
    pub async fn start_instances(fixture: Fixture, env: &[(&str, &str)], instances: usize) -> Self {
        let (emulator, port) = start_emulator();

        let log_path =
            std::env::temp_dir().join(format!("relay-e2e-{}-{port}.log", std::process::id()));
        let log = std::fs::File::create(&log_path).unwrap();
        let relays = (0..instances)
            .map(|_| Self::start_relay(&fixture, port, env, &log))
            .collect();
        Self {
            fixture,
            port,
            log_path,
            _relays: relays,
            _emulator: emulator,
        }
    }

    fn start_relay(
        fixture: &Fixture,
        port: u16,
        env: &[(&str, &str)],
        log: &std::fs::File,
    ) -> Owned {
        let mut relay = Command::new(env!("CARGO_BIN_EXE_webhook-relay"));
        relay
            .env_clear()
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{port}/.rt"),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_ENDPOINT_URL", &fixture.endpoint)
            .envs(
                fixture
                    .sqs_endpoint
                    .iter()
                    .map(|e| ("AWS_ENDPOINT_URL_SQS", e)),
            )
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("WEBHOOK_SECRET", super::SECRET)
            .env("THUMBNAIL_BUCKET", &fixture.bucket)
            .env("EVENT_QUEUE_URL", &fixture.queue_url);
        for (name, value) in env {
            relay.env(name, value);
        }
        Owned(
            relay
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log.try_clone().unwrap())
                .spawn()
                .expect("start webhook-relay"),
        )
    }

    /// The emulated function URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/lambda-url/_/", self.port)
    }

    /// What the relay logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// `cargo lambda invoke --data-file FILE` against this deployment: (statusCode, body).
    pub fn invoke_file(&self, file: &std::path::Path) -> (u16, serde_json::Value) {
        let output = Command::new(cargo_lambda())
            .args(["lambda", "invoke", "-A", "127.0.0.1", "-P"])
            .arg(self.port.to_string())
            .arg("--data-file")
            .arg(file)
            .arg("_")
            .current_dir(project_dir())
            .output()
            .expect("run cargo lambda invoke");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "invoke {file:?} failed: {stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let response: serde_json::Value =
            serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
        let status = response["statusCode"].as_u64().unwrap() as u16;
        let body =
            serde_json::from_str(response["body"].as_str().unwrap_or("null")).unwrap_or_default();
        (status, body)
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.log_path);
    }
}
