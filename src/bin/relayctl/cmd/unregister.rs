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
    #[arg(long)]
    keep_webhook: bool,
}

impl UnregisterArgs {
    pub async fn run(self) -> Result<(), Error> {
        let platform = platform()?;
        let target = self.relay.resolve().await?;
        let clients = clients().await?;
        let mut say = progress;
        let done = unregister(
            &platform,
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
