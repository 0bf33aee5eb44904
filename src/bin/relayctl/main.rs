//! relayctl — the operator CLI of millicast-webhook-relay: sign bodies, send realistic signed
//! webhooks to a relay, watch the queue, redrive spilled events, replay quarantined deliveries,
//! store the webhook secret, regenerate `events/`.
//!
//! This file parses the command line and dispatches; each group of commands has its module,
//! and what is not about the command line lives in the library.

mod aws_clients;
mod input;
mod quarantine;
mod queue;
mod secret;
mod send;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use millicast_webhook_relay::replay::ReplayOptions;
use millicast_webhook_relay::samples;

use quarantine::ReplaySecrets;

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
    /// Deliveries the relay could not verify, kept under `quarantine/`.
    #[command(subcommand)]
    Quarantine(QuarantineCommand),
    /// The webhook secret in Secrets Manager.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Write the function-URL sample events of `events/` (or check them with --check).
    Events {
        #[arg(long, default_value = "events")]
        dir: PathBuf,
        /// Fail if a file differs from what would be written, instead of writing.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Subcommand)]
enum QuarantineCommand {
    /// A table of the kept deliveries: received, reason, size, kind, stream.
    List {
        #[arg(long, env = "THUMBNAIL_BUCKET")]
        bucket: String,
        /// Only deliveries received at or after this time (epoch ms).
        #[arg(long)]
        since: Option<i64>,
    },
    /// Verify each kept delivery again and deliver those that verify, exactly as the relay
    /// would have; each is deleted once durable. Honours THUMBNAIL_PREFIX, THUMBNAIL_LATEST,
    /// THUMBNAIL_EVENTS, REPLAY_WINDOW_SECONDS and SQS_MAX_MESSAGE_BYTES like the relay.
    Replay {
        #[arg(long, env = "THUMBNAIL_BUCKET")]
        bucket: String,
        #[arg(long, env = "EVENT_QUEUE_URL")]
        queue_url: String,
        #[command(flatten)]
        secrets: SecretChoice,
        /// Only deliveries received at or after this time (epoch ms).
        #[arg(long)]
        since: Option<i64>,
        /// Say what would be replayed; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// The secrets to verify with: the stored ones, or values given.
#[derive(Args)]
#[group(required = true, multiple = false)]
struct SecretChoice {
    /// Secrets Manager secret (name or ARN) holding {"current","previous"}.
    #[arg(long, env = "WEBHOOK_SECRET_ID")]
    secret_id: Option<String>,
    /// A webhook secret (base64); repeat for several.
    #[arg(long)]
    secret: Vec<String>,
}

impl SecretChoice {
    fn into_replay_secrets(self) -> ReplaySecrets {
        match self.secret_id {
            Some(id) if self.secret.is_empty() => ReplaySecrets::SecretId(id),
            _ => ReplaySecrets::Given(self.secret),
        }
    }
}

#[derive(Subcommand)]
enum SecretCommand {
    /// Store the secret read from standard input (never echoed) as the current one, keeping
    /// the one it replaces as `previous`.
    Set {
        /// Secrets Manager secret (name or ARN): the stack's WebhookSecretArn output.
        #[arg(long, env = "WEBHOOK_SECRET_ID")]
        secret_id: String,
    },
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Sign { secret, file } => send::run_sign(&secret, file.as_deref()),
        Command::Send { list: true, .. } => {
            send::list_samples();
            Ok(())
        }
        Command::Send {
            url,
            secret,
            event,
            image,
            stream_id,
            ..
        } => send::run_send(
            &url,
            &secret,
            event.as_deref().unwrap_or_default(),
            image.as_deref(),
            &stream_id,
        ),
        Command::Events { dir, check } => send::run_events(&dir, check),
        Command::Tail {
            queue_url,
            delete,
            json,
            exit_when_empty,
            wait_seconds,
        } => block_on(queue::run_tail(
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
        } => block_on(queue::run_redrive(&bucket, &queue_url, dry_run)),
        Command::Quarantine(QuarantineCommand::List { bucket, since }) => {
            block_on(quarantine::run_list(&bucket, since))
        }
        Command::Quarantine(QuarantineCommand::Replay {
            bucket,
            queue_url,
            secrets,
            since,
            dry_run,
        }) => block_on(quarantine::run_replay(
            &bucket,
            &queue_url,
            &secrets.into_replay_secrets(),
            ReplayOptions {
                since_ms: since,
                dry_run,
            },
        )),
        Command::Secret(SecretCommand::Set { secret_id }) => block_on(secret::run_set(&secret_id)),
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
