//! `relayctl register`: adopt or create the webhook, store its secret, replay, prove.

use super::*;
use std::time::Duration;

use crate::aws::sdk::Clients;
use crate::aws::secretsmanager::{Previous, SecretStored, store_new_secret};
use crate::operator::platform::{HookSet, NewWebhook, PlatformClient, Webhook, WebhookUpdate};

/// What `register` asks of the webhook.
#[derive(Debug, Clone)]
pub struct RegisterOptions {
    /// The hook types (`None`: all for a new webhook, unchanged for an adopted one).
    pub hooks: Option<HookSet>,
    /// A regex on stream names (`None`: none for a new webhook, unchanged for an adopted one).
    pub filter: Option<String>,
    pub probe_timeout: Duration,
}

/// What `register` did.
#[derive(Debug, Clone)]
pub struct Registered {
    pub webhook: Webhook,
    pub created: bool,
    pub updated: bool,
    pub secret: SecretStored,
    pub recovered: usize,
    pub unverified: usize,
    pub round_trip: RoundTrip,
}

/// Connects the relay to the platform (see the module documentation).
pub async fn register(
    platform: &PlatformClient,
    clients: &Clients,
    target: &RelayTarget,
    options: &RegisterOptions,
    say: Say<'_>,
) -> Result<Registered, String> {
    let existing = platform
        .find_by_url(&target.function_url)
        .await
        .map_err(|e| e.to_string())?;
    let (mut webhook, created) = match existing {
        Some(webhook) => {
            say(&format!(
                "adopting webhook {} (it already points at {})",
                webhook.id, webhook.url
            ));
            (webhook, false)
        }
        None => {
            let new = NewWebhook {
                url: target.function_url.clone(),
                hooks: options.hooks.unwrap_or(HookSet::all()),
                filter: options.filter.clone(),
            };
            let webhook = platform
                .create_webhook(&new)
                .await
                .map_err(|e| e.to_string())?;
            say(&format!(
                "created webhook {} for {} (hooks {})",
                webhook.id,
                webhook.url,
                webhook.hooks()
            ));
            (webhook, true)
        }
    };
    let mut update = WebhookUpdate::default();
    if let Some(hooks) = options.hooks.filter(|h| !created && *h != webhook.hooks()) {
        update = update.with_hooks(hooks);
    }
    if let Some(filter) = options
        .filter
        .as_ref()
        .filter(|f| !created && webhook.filter.as_ref() != Some(*f))
    {
        update.filter = Some(Some(filter.clone()));
    }
    let updated = !update.is_empty();
    if updated {
        webhook = platform
            .update_webhook(webhook.id, &update)
            .await
            .map_err(|e| e.to_string())?;
        say(&format!(
            "updated webhook {}: hooks {}, filter {}",
            webhook.id,
            webhook.hooks(),
            webhook.filter.as_deref().unwrap_or("none")
        ));
    }
    let secret = webhook
        .secret
        .decode()
        .map_err(|problem| format!("the platform's secret for webhook {} {problem}", webhook.id))?;
    let stored =
        store_new_secret(&clients.secrets, &target.secret_id, secret, Previous::Keep).await?;
    match &stored {
        SecretStored::Replaced { .. } => {
            say(&format!(
                "stored webhook {}'s secret in {}; waiting {} s for the relay to re-read it",
                webhook.id,
                target.secret_id,
                target.refresh_interval.as_secs() + 1
            ));
            tokio::time::sleep(target.refresh_interval + Duration::from_secs(1)).await;
        }
        SecretStored::Unchanged => say(&format!(
            "{} already holds webhook {}'s secret",
            target.secret_id, webhook.id
        )),
    }
    // Deliveries that came before the relay knew the secret were kept: replay them.
    let (recovered, unverified, _) = replay_window(clients, target, None).await?;
    if recovered > 0 {
        say(&format!(
            "{recovered} delivery(ies) recovered from quarantine"
        ));
    }
    say("proving the round trip with a test thumbnail");
    let round_trip =
        prove_round_trip(platform, clients, target, &webhook, options.probe_timeout).await;
    Ok(Registered {
        webhook,
        created,
        updated,
        secret: stored,
        recovered,
        unverified,
        round_trip,
    })
}
