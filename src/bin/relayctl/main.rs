//! relayctl — the operator CLI of millicast-webhook-relay: sign bodies, send realistic signed
//! webhooks to a relay, watch the queue, redrive spilled events, replay quarantined deliveries,
//! store the webhook secret, regenerate `events/`.
//!
//! This file parses the command line and dispatches; each group of commands has its module,
//! and what is not about the command line lives in the library.

/// Writes a line to standard output. A reader that went away (`relayctl … | head`) ends
/// relayctl quietly, as it ends any Unix tool, instead of a panic on the closed pipe.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::write_out(format_args!($($arg)*))
    };
}

mod aws_clients;
mod input;
mod platform;
mod quarantine;
mod queue;
mod secret;
mod send;
mod status;
mod target;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use millicast_webhook_relay::operator::replay::ReplayOptions;
use millicast_webhooks::samples;

use quarantine::ReplaySecrets;
use target::{RelayArgs, StackArgs};

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
        #[command(flatten)]
        stack: StackArgs,
        #[arg(long, env = "EVENT_QUEUE_URL")]
        queue_url: Option<String>,
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
        #[command(flatten)]
        stack: StackArgs,
        #[arg(long, env = "THUMBNAIL_BUCKET")]
        bucket: Option<String>,
        #[arg(long, env = "EVENT_QUEUE_URL")]
        queue_url: Option<String>,
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
    /// Connect the relay to the platform: adopt or create the webhook for the function URL,
    /// store its secret, replay what was kept meanwhile, and prove the round trip.
    /// Needs MILLICAST_API_SECRET (and MILLICAST_API_URL for another platform endpoint).
    Register {
        #[command(flatten)]
        relay: RelayArgs,
        /// Hook types, comma-separated (feeds, recordings, media, thumbnails, transcoder,
        /// viewer-connection); default: all for a new webhook, unchanged for an adopted one.
        #[arg(long, value_delimiter = ',')]
        hooks: Option<Vec<String>>,
        /// Only streams whose name matches this regular expression.
        #[arg(long)]
        filter: Option<String>,
        /// Create another webhook beside those already pointing at the relay (at its own
        /// path, function URL + `w/{id}`), e.g. thumbnails only with a filter.
        #[arg(long, conflicts_with = "webhook_id")]
        add: bool,
        /// The webhook to adopt when several point at the relay.
        #[arg(long)]
        webhook_id: Option<i64>,
        /// Seconds to wait for the test delivery.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Renew the webhook's secret with zero loss: renew, store at once, wait for the relay,
    /// replay the quarantine window, prove the round trip.
    Rotate {
        #[command(flatten)]
        relay: RelayArgs,
        /// The webhook to renew (default: the only one pointing at the function URL).
        #[arg(long)]
        webhook_id: Option<i64>,
        /// Seconds to wait for the test delivery.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Disconnect webhooks from the relay: delete each on the platform (so it stops posting
    /// here) and remove its secret from the relay's. Default: every webhook pointing at the
    /// function URL. Needs MILLICAST_API_SECRET.
    Unregister {
        #[command(flatten)]
        relay: RelayArgs,
        /// Only this webhook.
        #[arg(long)]
        webhook_id: Option<i64>,
        /// Keep the webhook on the platform; only remove its secret from the relay (it keeps
        /// posting here, and its deliveries are kept in quarantine, until you point it elsewhere).
        #[arg(long)]
        keep_webhook: bool,
    },
    /// The relay's health at a glance: the stack, the webhook on the platform, the queues,
    /// what waits in the bucket, alarms and the last hour's metrics. Exit code 1 when a check is
    /// red. The webhook is checked when MILLICAST_API_SECRET is set.
    Status {
        #[command(flatten)]
        stack: StackArgs,
        /// One JSON document instead of the screen.
        #[arg(long)]
        json: bool,
    },
    /// The account's webhooks (`*` marks those pointing at this relay's function URL, with
    /// whether the relay holds their secret).
    Webhooks {
        #[command(flatten)]
        stack: StackArgs,
        #[arg(long)]
        function_url: Option<String>,
        /// Re-enable a webhook the platform disabled.
        #[arg(long, value_name = "ID")]
        reenable: Option<i64>,
        /// Also print each webhook's signing secret.
        #[arg(long)]
        show_secret: bool,
    },
    /// Write the message contract's JSON Schema, generated from the typed model (or check it
    /// with --check).
    Contract {
        #[arg(long, default_value = "contract")]
        dir: PathBuf,
        /// Only check that the files are up to date.
        #[arg(long)]
        check: bool,
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

#[derive(Subcommand)]
enum QuarantineCommand {
    /// A table of the kept deliveries: received, reason, size, kind, stream.
    List {
        #[command(flatten)]
        stack: StackArgs,
        #[arg(long, env = "THUMBNAIL_BUCKET")]
        bucket: Option<String>,
        /// Only deliveries received at or after this time (epoch ms).
        #[arg(long)]
        since: Option<i64>,
    },
    /// Verify each kept delivery again and deliver those that verify, exactly as the relay
    /// would have; each is deleted once durable. Honours THUMBNAIL_PREFIX, THUMBNAIL_LATEST,
    /// THUMBNAIL_EVENTS, REPLAY_WINDOW_SECONDS and SQS_MAX_MESSAGE_BYTES like the relay.
    Replay {
        #[command(flatten)]
        stack: StackArgs,
        #[arg(long, env = "THUMBNAIL_BUCKET")]
        bucket: Option<String>,
        #[arg(long, env = "EVENT_QUEUE_URL")]
        queue_url: Option<String>,
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

/// The secrets to verify with: the stored ones (`--secret-id`, or the stack's), or values given.
#[derive(Args)]
#[group(required = false, multiple = false)]
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
            Some(id) if self.secret.is_empty() => ReplaySecrets::SecretId(Some(id)),
            _ if self.secret.is_empty() => ReplaySecrets::SecretId(None),
            _ => ReplaySecrets::Given(self.secret),
        }
    }
}

#[derive(Subcommand)]
enum SecretCommand {
    /// Store the secret read from standard input (never echoed) as a webhook's current one,
    /// keeping the one it replaces as `previous`.
    Set {
        #[command(flatten)]
        stack: StackArgs,
        /// Secrets Manager secret (name or ARN): the stack's WebhookSecretArn output.
        #[arg(long, env = "WEBHOOK_SECRET_ID")]
        secret_id: Option<String>,
        /// The webhook whose secret this is (required once the relay holds several).
        #[arg(long)]
        webhook_id: Option<i64>,
        /// Keep no `previous` secret (after a leak, once the renewal is complete).
        #[arg(long)]
        drop_previous: bool,
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
        Command::Contract { dir, check } => send::run_contract(&dir, check),
        Command::Tail {
            stack,
            queue_url,
            delete,
            json,
            exit_when_empty,
            wait_seconds,
        } => block_on(queue::run_tail(
            &stack,
            queue_url.as_ref(),
            delete,
            json,
            exit_when_empty,
            wait_seconds,
        )),
        Command::Redrive {
            stack,
            bucket,
            queue_url,
            dry_run,
        } => block_on(queue::run_redrive(
            &stack,
            bucket.as_ref(),
            queue_url.as_ref(),
            dry_run,
        )),
        Command::Quarantine(QuarantineCommand::List {
            stack,
            bucket,
            since,
        }) => block_on(quarantine::run_list(&stack, bucket.as_ref(), since)),
        Command::Quarantine(QuarantineCommand::Replay {
            stack,
            bucket,
            queue_url,
            secrets,
            since,
            dry_run,
        }) => block_on(quarantine::run_replay(
            &stack,
            bucket.as_ref(),
            queue_url.as_ref(),
            &secrets.into_replay_secrets(),
            ReplayOptions {
                since_ms: since,
                dry_run,
            },
        )),
        Command::Secret(SecretCommand::Set {
            stack,
            secret_id,
            webhook_id,
            drop_previous,
        }) => block_on(secret::run_set(
            &stack,
            secret_id.as_ref(),
            webhook_id,
            drop_previous,
        )),
        Command::Register {
            relay,
            hooks,
            filter,
            add,
            webhook_id,
            timeout,
        } => block_on(platform::run_register(
            &relay,
            hooks.as_deref(),
            filter,
            add,
            webhook_id,
            timeout,
        )),
        Command::Unregister {
            relay,
            webhook_id,
            keep_webhook,
        } => block_on(platform::run_unregister(&relay, webhook_id, keep_webhook)),
        Command::Rotate {
            relay,
            webhook_id,
            timeout,
        } => block_on(platform::run_rotate(&relay, webhook_id, timeout)),
        Command::Status { stack, json } => block_on(status::run_status(&stack, json)),
        Command::Webhooks {
            stack,
            function_url,
            reenable,
            show_secret,
        } => block_on(platform::run_webhooks(
            &stack,
            function_url.as_ref(),
            reenable,
            show_secret,
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("relayctl: {message}");
            ExitCode::FAILURE
        }
    }
}

fn write_out(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    if writeln!(std::io::stdout().lock(), "{line}").is_err() {
        std::process::exit(0);
    }
}

fn block_on<T>(work: impl std::future::Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?
        .block_on(work)
}
