//! relayctl — the operator CLI of millicast-webhook-relay: sign bodies, send realistic signed
//! webhooks to a relay, watch the queue, redrive spilled events, replay quarantined deliveries,
//! store the webhook secret, regenerate `events/`.
//!
//! This file is the command line's table of contents: each command's flags and what it does
//! live in its module under `cmd/`, and what is not about the command line lives in the
//! library (`millicast_webhook_relay::operator`).

/// Writes a line to standard output. A reader that went away (`relayctl … | head`) ends
/// relayctl quietly, as it ends any Unix tool, instead of a panic on the closed pipe.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::write_out(format_args!($($arg)*))
    };
}

mod aws_clients;
mod cmd;
mod error;
mod generated;
mod input;
mod platform;
mod target;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use millicast_webhook_relay::operator::error::OperatorError;
use millicast_webhook_relay::operator::sdk::AwsOptions;

use cmd::{
    contract, dead_letters, events, history, quarantine, redrive, register, rotate, secret, send,
    sign, status, tail, unregister, wall, webhooks,
};
use error::{Error, rust_log_wants_detail};

#[derive(Parser)]
#[command(
    name = "relayctl",
    version,
    about = "Operate and test millicast-webhook-relay"
)]
struct Cli {
    /// On failure, print every cause of the error, one `caused by:` line each (also with
    /// RUST_LOG=debug or trace).
    // Listed last: clap would otherwise place it among each command's own flags.
    #[arg(short, long, global = true, display_order = 1000)]
    verbose: bool,
    /// The AWS profile of the shared config and credentials files (SSO, credential_process,
    /// role_arn with source_profile, `aws login`), as the AWS CLI's --profile [default:
    /// AWS_PROFILE, else default].
    #[arg(long, global = true, value_name = "NAME", display_order = 1001)]
    profile: Option<String>,
    /// The AWS region [default: AWS_REGION; with --stack, the region of that stack's
    /// samconfig.toml in the working directory; else the profile's].
    #[arg(long, global = true, value_name = "REGION", display_order = 1002)]
    region: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the X-Millicast-Signature value for the bytes of FILE (or standard input).
    Sign(sign::SignArgs),
    /// POST a correctly signed webhook, as the platform would, and print the answer.
    Send(send::SendArgs),
    /// Long-poll the event queue and print one line per message (Ctrl-C stops).
    Tail(tail::TailArgs),
    /// Send the events spilled to `undelivered/` back to the queue, deleting each once sent.
    Redrive(redrive::RedriveArgs),
    /// The dead-letter queue: messages consumers failed five times.
    #[command(subcommand)]
    DeadLetters(dead_letters::DeadLettersCommand),
    /// Deliveries the relay could not verify, kept under `quarantine/`.
    #[command(subcommand)]
    Quarantine(quarantine::QuarantineCommand),
    /// The event bus's archive: its size, event count and oldest event; `history replay`
    /// sends a time window of it back onto the bus.
    History(history::HistoryArgs),
    /// The webhook secret in Secrets Manager.
    #[command(subcommand)]
    Secret(secret::SecretCommand),
    /// Connect the relay to the platform: adopt or create the webhook for the function URL,
    /// store its secret, replay what was kept meanwhile, and prove the round trip.
    /// Needs MILLICAST_API_SECRET (and MILLICAST_API_URL for another platform endpoint).
    Register(register::RegisterArgs),
    /// Renew the webhook's secret with zero loss: renew, store at once, wait for the relay,
    /// replay the quarantine window, prove the round trip.
    Rotate(rotate::RotateArgs),
    /// Disconnect webhooks from the relay: delete each on the platform (so it stops posting
    /// here) and remove its secret from the relay's. Default: every webhook pointing at the
    /// function URL. Needs MILLICAST_API_SECRET, except with --keep-webhook.
    Unregister(unregister::UnregisterArgs),
    /// The relay's health at a glance: the stack, the webhook on the platform, the queues,
    /// what waits in the bucket, alarms and the last hour's metrics. Exit code 1 when a check is
    /// red. The webhook is checked when MILLICAST_API_SECRET is set.
    Status(status::StatusArgs),
    /// Every stream's newest frame (its latest.jpg) on a local web page, live first, refreshed
    /// in place. Prints the page's address; Ctrl-C stops.
    Wall(wall::WallArgs),
    /// The account's webhooks (`*` marks those pointing at this relay's function URL, with
    /// whether the relay holds their secret).
    Webhooks(webhooks::WebhooksArgs),
    /// Write the message contract's JSON Schema, generated from the typed model (or check it
    /// with --check).
    Contract(contract::ContractArgs),
    /// Write the function-URL sample events of `events/` (or check them with --check).
    Events(events::EventsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    aws_clients::configure(AwsOptions {
        profile: cli.profile.clone(),
        region: cli.region.clone(),
    });
    let result = match cli.command {
        Command::Sign(args) => args.run(),
        Command::Send(args) => args.run(),
        Command::Tail(args) => block_on(args.run()),
        Command::Redrive(args) => block_on(args.run()),
        Command::DeadLetters(command) => block_on(command.run()),
        Command::Quarantine(command) => block_on(command.run()),
        Command::History(args) => block_on(args.run()),
        Command::Secret(command) => block_on(command.run()),
        Command::Register(args) => block_on(args.run()),
        Command::Rotate(args) => block_on(args.run()),
        Command::Unregister(args) => block_on(args.run()),
        Command::Status(args) => block_on(args.run()),
        Command::Wall(args) => block_on(args.run()),
        Command::Webhooks(args) => block_on(args.run()),
        Command::Contract(args) => args.run(),
        Command::Events(args) => args.run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let detail = cli.verbose
                || std::env::var("RUST_LOG").is_ok_and(|filter| rust_log_wants_detail(&filter));
            if detail {
                for line in error.verbose_lines() {
                    eprintln!("{line}");
                }
            } else {
                eprintln!("relayctl: {}", error.one_line());
            }
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

fn block_on<T>(work: impl std::future::Future<Output = Result<T, Error>>) -> Result<T, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| OperatorError::io("cannot start the async runtime", e))?
        .block_on(work)
}
