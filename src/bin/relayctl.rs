//! relayctl — the operator CLI of millicast-webhook-relay: sign bodies, send realistic signed
//! webhooks to a relay, and regenerate the `events/` files.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::{Parser, Subcommand};
use millicast_webhook_relay::samples::{self, JSON_SAMPLES};
use millicast_webhook_relay::signature::sign;

#[derive(Parser)]
#[command(
    name = "relayctl",
    version,
    about = "Operate and test millicast-webhook-relay"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the X-Millicast-Signature value for the bytes of FILE (or standard input).
    Sign {
        /// Webhook secret (base64, as the dashboard shows it).
        #[arg(long, env = "WEBHOOK_SECRET", hide_env_values = true)]
        secret: String,
        /// File to sign; `-` or nothing reads standard input.
        file: Option<PathBuf>,
    },
    /// POST a correctly signed webhook, as the platform would, and print the answer.
    Send {
        /// The relay's function URL.
        #[arg(long)]
        url: String,
        /// Webhook secret (base64).
        #[arg(long, env = "WEBHOOK_SECRET", hide_env_values = true)]
        secret: String,
        /// A built-in sample (see --list), `thumbnail`, or a path to a JSON body.
        #[arg(required_unless_present = "list")]
        event: Option<String>,
        /// JPEG to send with `thumbnail` (default: a built-in 160x90 image).
        #[arg(long)]
        image: Option<PathBuf>,
        /// `accountId/streamName` for `thumbnail`.
        #[arg(long, default_value = samples::SAMPLE_STREAM_ID)]
        stream_id: String,
        /// List the built-in samples and exit.
        #[arg(long)]
        list: bool,
    },
    /// Write the function-URL sample events of `events/` (or check them with --check).
    Events {
        #[arg(long, default_value = "events")]
        dir: PathBuf,
        /// Fail if a file differs from what would be written, instead of writing.
        #[arg(long)]
        check: bool,
    },
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Sign { secret, file } => run_sign(&secret, file.as_deref()),
        Command::Send { list: true, .. } => {
            JSON_SAMPLES
                .iter()
                .chain(["thumbnail"].iter())
                .for_each(|name| println!("{name}"));
            Ok(())
        }
        Command::Send {
            url,
            secret,
            event,
            image,
            stream_id,
            ..
        } => run_send(
            &url,
            &secret,
            event.as_deref().unwrap_or_default(),
            image.as_deref(),
            &stream_id,
        ),
        Command::Events { dir, check } => run_events(&dir, check),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("relayctl: {message}");
            ExitCode::FAILURE
        }
    }
}

fn decode_secret(secret: &str) -> Result<Vec<u8>, String> {
    match STANDARD.decode(secret.trim()) {
        Ok(bytes) if !bytes.is_empty() => Ok(bytes),
        _ => {
            Err("the secret is not valid base64 (use it exactly as the dashboard shows it)".into())
        }
    }
}

fn read_input(file: Option<&Path>) -> Result<Vec<u8>, String> {
    match file {
        None => read_stdin(),
        Some(path) if path == Path::new("-") => read_stdin(),
        Some(path) => {
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        }
    }
}

fn read_stdin() -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    Ok(bytes)
}

fn run_sign(secret: &str, file: Option<&Path>) -> Result<(), String> {
    let secret = decode_secret(secret)?;
    println!("{}", sign(&secret, &read_input(file)?));
    Ok(())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The body and headers (signature excluded) of a webhook to send.
struct Webhook {
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
}

fn build_webhook(
    event: &str,
    image: Option<&Path>,
    stream_id: &str,
    ts: i64,
) -> Result<Webhook, String> {
    if event == "thumbnail" {
        let bytes = match image {
            Some(path) => {
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
            }
            None => samples::SAMPLE_JPEG.to_vec(),
        };
        return Ok(Webhook {
            body: bytes,
            headers: samples::thumbnail_headers(stream_id, ts),
        });
    }
    let headers = vec![("content-type", "application/json".to_owned())];
    if let Some(body) = samples::json_sample(event, ts) {
        return Ok(Webhook {
            body: body.into_bytes(),
            headers,
        });
    }
    let path = Path::new(event);
    if path.is_file() {
        let body = std::fs::read(path).map_err(|e| format!("cannot read {event}: {e}"))?;
        return Ok(Webhook { body, headers });
    }
    Err(format!(
        "unknown event `{event}`: use a built-in sample ({}, thumbnail) or a JSON file",
        JSON_SAMPLES.join(", ")
    ))
}

fn run_send(
    url: &str,
    secret: &str,
    event: &str,
    image: Option<&Path>,
    stream_id: &str,
) -> Result<(), String> {
    let secret = decode_secret(secret)?;
    let parsed: reqwest::Url = url.parse().map_err(|e| format!("bad --url {url}: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("bad --url {url}: use an http(s) URL"));
    }
    let Webhook { body, headers } = build_webhook(event, image, stream_id, now_ms())?;
    let signature = sign(&secret, &body);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let (status, answer) = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("relayctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let mut request = client
            .post(parsed)
            .header("x-millicast-signature", signature)
            .body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("cannot reach {url}: {e}"))?;
        let status = response.status();
        let answer = response.text().await.unwrap_or_default();
        Ok::<_, String>((status, answer))
    })?;
    println!("{} {answer}", status.as_u16());
    if status.is_success() {
        Ok(())
    } else {
        let code = serde_json::from_str::<serde_json::Value>(&answer)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
        Err(format!("the relay answered {} {code}", status.as_u16()))
    }
}

fn run_events(dir: &Path, check: bool) -> Result<(), String> {
    let files = samples::event_files();
    let mut stale = Vec::new();
    for file in &files {
        let path = dir.join(&file.file_name);
        let text = samples::event_file_text(file);
        if check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(path.display().to_string());
            }
        } else {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            std::fs::write(&path, text)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            println!("{}", path.display());
        }
    }
    if stale.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "out of date (run `make events`): {}",
            stale.join(", ")
        ))
    }
}
