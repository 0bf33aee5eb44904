//! `relayctl rotate`: renew the webhook's secret with zero loss.

use std::time::Duration;

use clap::Args;
use millicast_webhook_relay::operator::lifecycle::rotate;

use crate::aws_clients::clients;
use crate::error::Error;
use crate::platform::{platform, progress, round_trip_line};
use crate::target::RelayArgs;

#[derive(Args)]
pub struct RotateArgs {
    #[command(flatten)]
    relay: RelayArgs,
    /// The webhook to renew (default: the only one pointing at the function URL).
    #[arg(long)]
    webhook_id: Option<i64>,
    /// Seconds to wait for the test delivery.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

impl RotateArgs {
    pub async fn run(self) -> Result<(), Error> {
        let platform = platform()?;
        let target = self.relay.resolve().await?;
        let clients = clients().await?;
        let resume_args = relay_args_text(&self.relay);
        let mut say = progress;
        let rotated = rotate(
            &platform,
            &clients,
            &target,
            self.webhook_id,
            Duration::from_secs(self.timeout),
            &resume_args,
            &mut say,
        )
        .await?;
        if let Some(window) = rotated.quarantine_window {
            eprintln!(
                "longest quarantine window: {:.2} s after the renewal",
                window.as_secs_f64()
            );
        }
        let round_trip = round_trip_line(&rotated.round_trip);
        match &round_trip {
            Ok(line) => eprintln!("{line}"),
            Err(line) => eprintln!("{line}"),
        }
        if rotated.unverified == 0 {
            out!(
                "rotated webhook {}: {} deliveries recovered from quarantine, 0 lost",
                rotated.webhook_id,
                rotated.recovered
            );
        } else {
            out!(
                "rotated webhook {}: {} deliveries recovered from quarantine, {} in quarantine verify with \
                 neither secret (forged, or lost: relayctl quarantine list)",
                rotated.webhook_id,
                rotated.recovered,
                rotated.unverified
            );
        }
        round_trip.map(|_| ())
    }
}

/// The flags naming the relay, for resume commands.
fn relay_args_text(relay: &RelayArgs) -> String {
    let mut args = vec![relay.stack.as_args()];
    for (flag, value) in [
        ("--function-url", &relay.function_url),
        ("--secret-id", &relay.secret_id),
        ("--queue-url", &relay.queue_url),
        ("--bucket", &relay.bucket),
    ] {
        if let Some(value) = value {
            args.push(format!("{flag} {value}"));
        }
    }
    args.retain(|a| !a.is_empty());
    args.join(" ")
}
