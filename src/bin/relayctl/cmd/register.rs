//! `relayctl register`: connect the relay to the platform.

use std::time::Duration;

use clap::Args;
use millicast_webhook_relay::aws::secretsmanager::SecretStored;
use millicast_webhook_relay::operator::error::OperatorError;
use millicast_webhook_relay::operator::lifecycle::{RegisterOptions, describe_webhooks, register};
use millicast_webhook_relay::operator::platform::{HookSet, HookType};

use crate::aws_clients::clients;
use crate::error::Error;
use crate::platform::{platform, progress, round_trip_line};
use crate::target::RelayArgs;

#[derive(Args)]
pub struct RegisterArgs {
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
}

impl RegisterArgs {
    pub async fn run(self) -> Result<(), Error> {
        let hooks = self
            .hooks
            .map(|words| {
                words.iter().try_fold(HookSet::none(), |set, word| {
                    word.parse::<HookType>()
                        .map(|hook| set.with(hook))
                        .map_err(|e| OperatorError::usage(e.to_string()))
                })
            })
            .transpose()?;
        let platform = platform()?;
        let target = self.relay.resolve().await?;
        let clients = clients().await?;
        let options = RegisterOptions {
            hooks,
            filter: self.filter,
            add: self.add,
            webhook_id: self.webhook_id,
            probe_timeout: Duration::from_secs(self.timeout),
        };
        let mut say = progress;
        let registered = register(&platform, &clients, &target, &options, &mut say).await?;
        let how = match (registered.created, registered.updated) {
            (true, _) => "created",
            (false, true) => "adopted and updated",
            (false, false) => "adopted",
        };
        let secret = match registered.secret {
            SecretStored::Replaced { .. } => "secret stored",
            SecretStored::Unchanged => "secret already stored",
        };
        let round_trip = round_trip_line(&registered.round_trip);
        out!(
            "webhook {} {how} for {} (hooks {}); {secret}; {} recovered from quarantine; {}",
            registered.webhook.id,
            registered.webhook.url,
            registered.webhook.hooks(),
            registered.recovered,
            round_trip.as_deref().unwrap_or("round trip not proven")
        );
        if !registered.others.is_empty() {
            out!(
                "also pointing at the relay: {}",
                describe_webhooks(&registered.others)
            );
        }
        round_trip.map(|_| ())
    }
}
