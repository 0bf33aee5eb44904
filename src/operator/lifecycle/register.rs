//! `relayctl register`: adopt or create the webhook, store its secret, replay, prove.

use std::time::Duration;

use crate::aws::sdk::Clients;
use crate::aws::secretsmanager::{NewSecret, Previous, SecretStored, store_new_secret};
use crate::operator::error::OperatorError;
use crate::operator::platform::{HookSet, NewWebhook, PlatformClient, Webhook, WebhookUpdate};

use super::{
    RelayTarget, RoundTrip, Say, describe_webhooks, platform_secrets, prove_round_trip,
    replay_window, webhook_url, webhooks_at,
};

/// What `register` asks of the webhook.
#[derive(Debug, Clone)]
pub struct RegisterOptions {
    /// The hook types (`None`: all for a new webhook, unchanged for an adopted one).
    pub hooks: Option<HookSet>,
    /// A regex on stream names (`None`: none for a new webhook, unchanged for an adopted one).
    pub filter: Option<String>,
    /// Create another webhook beside those already pointing at the relay (at its own path).
    pub add: bool,
    /// The webhook to adopt when several point at the relay.
    pub webhook_id: Option<i64>,
    pub probe_timeout: Duration,
}

/// What `register` did.
#[derive(Debug, Clone)]
pub struct Registered {
    pub webhook: Webhook,
    /// Every other webhook pointing at the relay.
    pub others: Vec<Webhook>,
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
) -> Result<Registered, OperatorError> {
    let pointing = webhooks_at(platform, &target.function_url).await?;
    if !pointing.is_empty() {
        say(&format!(
            "pointing at {}: {}",
            target.function_url,
            describe_webhooks(&pointing)
        ));
    }
    let existing = if options.add {
        None
    } else {
        match (options.webhook_id, pointing.as_slice()) {
            (Some(id), _) => Some(
                pointing
                    .iter()
                    .find(|webhook| webhook.id == id)
                    .cloned()
                    .ok_or_else(|| {
                        OperatorError::usage(format!(
                            "webhook {id} does not point at {}",
                            target.function_url
                        ))
                    })?,
            ),
            (None, []) => None,
            (None, [only]) => Some(only.clone()),
            (None, several) => {
                return Err(OperatorError::usage(format!(
                    "several webhooks point at {}: {}; name the one to adopt with --webhook-id, \
                     or create another with --add",
                    target.function_url,
                    describe_webhooks(several)
                )));
            }
        }
    };
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
            let mut webhook = platform
                .create_webhook(&new)
                .await
                .map_err(|e| OperatorError::platform("cannot create the webhook", e))?;
            // Beside other webhooks, at its own path: the relay then verifies its deliveries
            // against its secrets only. (Its id is known only now.)
            if !pointing.is_empty() {
                let url = webhook_url(&target.function_url, webhook.id);
                webhook = platform
                    .update_webhook(
                        webhook.id,
                        &WebhookUpdate {
                            url: Some(url),
                            ..WebhookUpdate::default()
                        },
                    )
                    .await
                    .map_err(|e| {
                        OperatorError::platform(
                            format!("cannot point webhook {} at its own path", webhook.id),
                            e,
                        )
                    })?;
            }
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
            .map_err(|e| {
                OperatorError::platform(format!("cannot update webhook {}", webhook.id), e)
            })?;
        say(&format!(
            "updated webhook {}: hooks {}, filter {}",
            webhook.id,
            webhook.hooks(),
            webhook.filter.as_deref().unwrap_or("none")
        ));
    }
    let secret = webhook.secret.decode().map_err(|problem| {
        OperatorError::invalid_secret(
            format!("the platform's secret for webhook {}", webhook.id),
            problem,
        )
    })?;
    let mut at_relay = pointing.clone();
    if !at_relay.iter().any(|w| w.id == webhook.id) {
        at_relay.push(webhook.clone());
    }
    let known = platform_secrets(&at_relay);
    let stored = store_new_secret(
        &clients.secrets,
        &target.secret_id,
        secret,
        NewSecret {
            webhook_id: Some(webhook.id),
            replaced: None,
            pointing: &known,
        },
        Previous::Keep,
    )
    .await
    .map_err(OperatorError::SecretWrite)?;
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
    let others = pointing
        .into_iter()
        .filter(|w| w.id != webhook.id)
        .collect();
    Ok(Registered {
        webhook,
        others,
        created,
        updated,
        secret: stored,
        recovered,
        unverified,
        round_trip,
    })
}
