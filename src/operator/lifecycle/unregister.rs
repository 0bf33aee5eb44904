//! `relayctl unregister`: the way out. Each webhook is deleted on the platform (so it stops
//! posting to a relay that may soon be gone) and its secret removed from the relay's.

use crate::aws::sdk::Clients;
use crate::aws::secretsmanager::{put_secrets, read_secrets};
use crate::operator::error::OperatorError;
use crate::operator::platform::{PlatformClient, Webhook};

use super::{RelayTarget, Say, webhooks_at};

/// What happened to one webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unregistered {
    pub webhook_id: i64,
    /// Deleted on the platform (false with `keep_webhook`, or when it was already gone).
    pub deleted: bool,
    /// Its secret was removed from the relay's.
    pub secret_removed: bool,
}

/// Unregisters webhook `webhook_id`, or every webhook pointing at the relay. A webhook that no
/// longer exists on the platform but whose secret the relay still holds loses its secret.
///
/// Without the platform (`None`: no API secret) only `keep_webhook` can be done, from the
/// relay's secret alone: webhook `webhook_id`'s secret, or every secret it holds, is removed.
pub async fn unregister(
    platform: Option<&PlatformClient>,
    clients: &Clients,
    target: &RelayTarget,
    webhook_id: Option<i64>,
    keep_webhook: bool,
    say: Say<'_>,
) -> Result<Vec<Unregistered>, OperatorError> {
    let Some(platform) = platform else {
        if !keep_webhook {
            return Err(OperatorError::usage(
                "deleting webhooks on the platform needs the account's API secret in \
                 MILLICAST_API_SECRET (--keep-webhook removes only the relay's secrets, without it)",
            ));
        }
        return forget_secrets(clients, target, webhook_id, say).await;
    };
    let pointing = webhooks_at(platform, &target.function_url).await?;
    let mut secrets = read_secrets(&clients.secrets, &target.secret_id).await?;
    let chosen: Vec<Webhook> = pointing
        .iter()
        .filter(|webhook| webhook_id.is_none_or(|id| webhook.id == id))
        .cloned()
        .collect();
    let mut ids: Vec<i64> = chosen.iter().map(|webhook| webhook.id).collect();
    if let Some(id) = webhook_id {
        if chosen.is_empty() && secrets.get(id).is_none() {
            return Err(OperatorError::usage(format!(
                "webhook {id} neither points at {} nor has a secret in {}",
                target.function_url, target.secret_id
            )));
        }
        if chosen.is_empty() {
            ids.push(id);
        }
    }
    if ids.is_empty() {
        say(&format!("no webhook points at {}", target.function_url));
    }
    let mut done = Vec::new();
    let before = secrets.clone();
    for id in ids {
        let webhook = chosen.iter().find(|webhook| webhook.id == id);
        let mut deleted = false;
        if let Some(webhook) = webhook.filter(|_| !keep_webhook) {
            platform.delete_webhook(webhook.id).await.map_err(|e| {
                OperatorError::platform(format!("cannot delete webhook {}", webhook.id), e)
            })?;
            deleted = true;
            say(&format!("deleted webhook {} ({})", webhook.id, webhook.url));
        }
        // Its secret, under its id — or without id, as stored before the relay knew ids.
        let platform_secret = webhook.and_then(|webhook| webhook.secret.decode().ok());
        let unnamed = platform_secret
            .as_ref()
            .and_then(|secret| secrets.holder_of(secret))
            .filter(|(holder, _)| holder.is_none())
            .is_some();
        let held = secrets.get(id).is_some() || unnamed;
        if secrets.get(id).is_some() {
            secrets = secrets.without(id);
        }
        if unnamed {
            secrets = secrets.without_unnamed();
        }
        done.push(Unregistered {
            webhook_id: id,
            deleted,
            secret_removed: held,
        });
    }
    store_without(clients, target, &before, &secrets, say).await?;
    Ok(done)
}

/// `--keep-webhook` without the platform: the relay's secrets alone say which webhooks it
/// verifies. Webhook `webhook_id`'s secret is removed, or every one (the one held without id
/// included).
async fn forget_secrets(
    clients: &Clients,
    target: &RelayTarget,
    webhook_id: Option<i64>,
    say: Say<'_>,
) -> Result<Vec<Unregistered>, OperatorError> {
    let before = read_secrets(&clients.secrets, &target.secret_id).await?;
    let ids: Vec<i64> = match webhook_id {
        Some(id) if before.get(id).is_none() => {
            return Err(OperatorError::usage(format!(
                "the relay holds no secret of webhook {id} in {}",
                target.secret_id
            )));
        }
        Some(id) => vec![id],
        None => before.webhooks().iter().filter_map(|w| w.id).collect(),
    };
    let mut secrets = ids.iter().fold(before.clone(), |set, id| set.without(*id));
    if webhook_id.is_none() && before.webhooks().iter().any(|w| w.id.is_none()) {
        secrets = secrets.without_unnamed();
        say("removing the secret held without a webhook id too");
    }
    if secrets == before {
        say(&format!("{} holds no webhook secret", target.secret_id));
    }
    store_without(clients, target, &before, &secrets, say).await?;
    Ok(ids
        .into_iter()
        .map(|webhook_id| Unregistered {
            webhook_id,
            deleted: false,
            secret_removed: true,
        })
        .collect())
}

/// Stores `secrets` when it differs from `before`, and says what the relay holds now.
async fn store_without(
    clients: &Clients,
    target: &RelayTarget,
    before: &crate::relay::secrets::SecretSet,
    secrets: &crate::relay::secrets::SecretSet,
    say: Say<'_>,
) -> Result<(), OperatorError> {
    if secrets == before {
        return Ok(());
    }
    put_secrets(&clients.secrets, &target.secret_id, secrets)
        .await
        .map_err(OperatorError::SecretWrite)?;
    say(&format!(
        "removed {} webhook secret(s) from {}; it now holds {}",
        before.webhooks().len() - secrets.webhooks().len(),
        target.secret_id,
        match secrets.webhooks().len() {
            0 => "none: every delivery is refused and kept in quarantine".to_owned(),
            _ => crate::relay::secrets::describe_ids(secrets.webhooks()),
        }
    ));
    Ok(())
}
