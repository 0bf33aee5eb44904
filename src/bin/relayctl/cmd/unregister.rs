//! `relayctl unregister`: disconnect webhooks from the relay.

use clap::Args;
use millicast_webhook_relay::operator::lifecycle::unregister;

use crate::aws_clients::clients;
use crate::error::Error;
use crate::platform::{platform, progress};
use crate::target::RelayArgs;

#[derive(Args)]
pub struct UnregisterArgs {
    #[command(flatten)]
    relay: RelayArgs,
    /// Only this webhook.
    #[arg(long)]
    webhook_id: Option<i64>,
    /// Keep the webhook on the platform; only remove its secret from the relay (it keeps
    /// posting here, and its deliveries are kept in quarantine, until you point it elsewhere).
    /// Needs no MILLICAST_API_SECRET: without it, every secret the relay holds is removed (or
    /// --webhook-id's).
    #[arg(long)]
    keep_webhook: bool,
}

impl UnregisterArgs {
    pub async fn run(self) -> Result<(), Error> {
        // --keep-webhook leaves the platform alone: without the API secret it works from the
        // relay's secret only (and anything else is refused, saying so).
        let api_secret =
            std::env::var("MILLICAST_API_SECRET").is_ok_and(|secret| !secret.trim().is_empty());
        let platform = if api_secret { Some(platform()?) } else { None };
        let target = self.relay.resolve().await?;
        let clients = clients().await?;
        let mut say = progress;
        let done = unregister(
            platform.as_ref(),
            &clients,
            &target,
            self.webhook_id,
            self.keep_webhook,
            &mut say,
        )
        .await?;
        for webhook in &done {
            out!(
                "webhook {}: {}; {}",
                webhook.webhook_id,
                if webhook.deleted {
                    "deleted on the platform"
                } else {
                    "kept on the platform"
                },
                if webhook.secret_removed {
                    "its secret removed from the relay"
                } else {
                    "the relay held no secret for it"
                }
            );
        }
        if done.is_empty() {
            out!("nothing to unregister");
        }
        Ok(())
    }
}
