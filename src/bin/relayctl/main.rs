//! relayctl — the operator CLI of millicast-webhook-relay: sign bodies, send realistic signed
//! webhooks to a relay, watch the queue, redrive spilled events, regenerate `events/`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::{Parser, Subcommand};
use millicast_webhook_relay::clock::{now_ms, rfc3339_ms};
use millicast_webhook_relay::model::WebhookEvent;
use millicast_webhook_relay::redrive::{Redriven, redrive_bucket};
use millicast_webhook_relay::samples::{self, JSON_SAMPLES};
use millicast_webhook_relay::signature::sign;
use millicast_webhook_relay::sqs::SqsEventQueue;
use millicast_webhook_relay::{aws, config};

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
    /// Long-poll the event queue and print one line per message (Ctrl-C stops).
    Tail {
        #[arg(long, env = "EVENT_QUEUE_URL")]
        queue_url: String,
        /// Delete each message after printing it (otherwise it reappears after its visibility timeout).
        #[arg(long)]
        delete: bool,
        /// Print each message body as it is (one JSON document per line).
        #[arg(long)]
        json: bool,
        /// Stop at the first poll that returns nothing.
        #[arg(long)]
        exit_when_empty: bool,
        /// Long-poll wait, 0-20 seconds.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i32).range(0..=20))]
        wait_seconds: i32,
    },
    /// Send the events spilled to `undelivered/` back to the queue, deleting each once sent.
    Redrive {
        #[arg(long, env = "THUMBNAIL_BUCKET")]
        bucket: String,
        #[arg(long, env = "EVENT_QUEUE_URL")]
        queue_url: String,
        /// List what would be sent; change nothing.
        #[arg(long)]
        dry_run: bool,
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
        Command::Tail {
            queue_url,
            delete,
            json,
            exit_when_empty,
            wait_seconds,
        } => block_on(run_tail(
            &queue_url,
            delete,
            json,
            exit_when_empty,
            wait_seconds,
        )),
        Command::Redrive {
            bucket,
            queue_url,
            dry_run,
        } => block_on(run_redrive(&bucket, &queue_url, dry_run)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("relayctl: {message}");
            ExitCode::FAILURE
        }
    }
}

fn block_on<T>(work: impl std::future::Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?
        .block_on(work)
}

/// SDK clients from the environment (credentials, region, `AWS_ENDPOINT_URL`…), as the relay builds them.
async fn aws_clients() -> Result<(aws_sdk_s3::Client, aws_sdk_sqs::Client), String> {
    let sdk = aws::load_sdk_config().await;
    if sdk.region().is_none() {
        return Err("no AWS region: set AWS_REGION (or configure a profile)".into());
    }
    let path_style = config::Config::endpoint_overridden(|name| std::env::var(name).ok());
    Ok((aws::s3_client(&sdk, path_style), aws::sqs_client(&sdk)))
}

/// A one-line message for an SDK failure.
fn sdk_error(action: &str, error: impl std::error::Error) -> String {
    one_line(
        action,
        &aws_sdk_sqs::error::DisplayErrorContext(&error).to_string(),
    )
}

/// A one-line message for a failure described by `text` (credentials and refused connections
/// get a hint instead of the SDK's whole error chain).
fn one_line(action: &str, text: &str) -> String {
    if text.contains("no credentials found") || text.contains("CredentialsNotLoaded") {
        return format!(
            "{action}: no AWS credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"
        );
    }
    if text.contains("Connection refused") {
        return format!("{action}: connection refused (check the URL, or AWS_ENDPOINT_URL)");
    }
    format!(
        "{action}: {}",
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    )
}

/// One line per message: time, type/event, stream, and the fields that identify it.
fn message_line(
    body: &str,
    attributes: Option<
        &std::collections::HashMap<String, aws_sdk_sqs::types::MessageAttributeValue>,
    >,
) -> String {
    let attribute = |name: &str| {
        attributes
            .and_then(|a| a.get(name))
            .and_then(|v| v.string_value())
            .unwrap_or("-")
            .to_owned()
    };
    let time = attribute("timestamp")
        .parse::<i64>()
        .map(rfc3339_ms)
        .unwrap_or_else(|_| "-".into());
    let detail = match WebhookEvent::parse(body.as_bytes()) {
        Ok(WebhookEvent::Feeds(h)) => format!("feedId={}", h.data.feed_id.unwrap_or_default()),
        Ok(WebhookEvent::Recordings(h)) => {
            format!("recordFileId={}", h.data.record_file_id.unwrap_or_default())
        }
        Ok(WebhookEvent::Media(h)) => format!(
            "mediaAssetId={} kind={}",
            h.data.media_asset_id.unwrap_or_default(),
            h.data.kind.unwrap_or_default()
        ),
        Ok(WebhookEvent::Transcoder(h)) => format!(
            "transcoderId={} status={}",
            h.data.transcoder_id.unwrap_or_default(),
            h.data.status.unwrap_or_default()
        ),
        Ok(WebhookEvent::ThumbnailStored(h)) => format!("key={} size={}", h.data.key, h.data.size),
        Ok(WebhookEvent::ClaimCheck { pointer, .. }) => format!(
            "claimCheck s3://{}/{} size={}",
            pointer.bucket, pointer.key, pointer.size
        ),
        Ok(WebhookEvent::ViewerConnection(_) | WebhookEvent::Unknown(_)) => String::new(),
        Err(_) => "(not a webhook envelope)".into(),
    };
    format!(
        "{time} {}/{} {} {detail}",
        attribute("type"),
        attribute("event"),
        attribute("streamId")
    )
    .trim_end()
    .to_owned()
}

async fn run_tail(
    queue_url: &str,
    delete: bool,
    json: bool,
    exit_when_empty: bool,
    wait_seconds: i32,
) -> Result<(), String> {
    let (_, sqs) = aws_clients().await?;
    loop {
        let receive = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_seconds)
            .message_attribute_names("All")
            .send();
        let output = tokio::select! {
            output = receive => output.map_err(|e| sdk_error("cannot receive from the queue", e))?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let messages = output.messages();
        if messages.is_empty() && exit_when_empty {
            return Ok(());
        }
        for message in messages {
            let body = message.body().unwrap_or_default();
            let line = if json {
                body.to_owned()
            } else {
                message_line(body, message.message_attributes())
            };
            // The reader went away (`relayctl tail | head`): stop quietly, before deleting
            // a message nobody saw.
            if writeln!(std::io::stdout().lock(), "{line}").is_err() {
                return Ok(());
            }
            if delete && let Some(handle) = message.receipt_handle() {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| sdk_error("cannot delete a message", e))?;
            }
        }
    }
}

async fn run_redrive(bucket: &str, queue_url: &str, dry_run: bool) -> Result<(), String> {
    let (s3, sqs) = aws_clients().await?;
    let queue = SqsEventQueue::new(sqs, queue_url);
    let (mut sent, mut kept) = (0usize, 0usize);
    redrive_bucket(
        &s3,
        bucket,
        &queue,
        queue_url.ends_with(".fifo"),
        dry_run,
        |key, outcome| match outcome {
            Redriven::Sent => sent += 1,
            Redriven::WouldSend => {
                sent += 1;
                println!("would send {key}");
            }
            Redriven::Kept(reason) => {
                kept += 1;
                eprintln!("kept {key}: {reason}");
            }
        },
    )
    .await
    .map_err(|e| one_line(&format!("cannot list s3://{bucket}/undelivered/"), &e.0))?;
    let verb = if dry_run { "would redrive" } else { "redriven" };
    println!("{verb} {sent}, kept {kept}");
    if kept == 0 {
        Ok(())
    } else {
        Err(format!("{kept} object(s) kept in undelivered/"))
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
    let (status, answer) = block_on(async {
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
