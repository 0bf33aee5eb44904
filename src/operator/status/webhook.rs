//! The webhook check: one points at the stack's function URL, enabled.

use super::*;

use crate::operator::platform::{PlatformClient, PlatformError, same_url};

pub(super) async fn webhook_check(
    platform: &PlatformClient,
    function_url: &str,
    stack: &str,
) -> Check {
    let webhooks = match platform.all_webhooks().await {
        Ok(webhooks) => webhooks,
        Err(error @ PlatformError::Unauthorized { .. }) => {
            return Check::new("webhook", Level::Red, error.to_string());
        }
        Err(error) => {
            return Check::new(
                "webhook",
                Level::Red,
                format!("cannot list the webhooks: {error}"),
            );
        }
    };
    let ours: Vec<_> = webhooks
        .iter()
        .filter(|w| same_url(&w.url, function_url))
        .collect();
    if ours.is_empty() {
        return Check::new(
            "webhook",
            Level::Red,
            format!("no webhook points at {function_url}"),
        )
        .with_command(format!("relayctl register --stack {stack}"));
    }
    if let Some(disabled) = ours
        .iter()
        .find_map(|w| w.disabled.as_ref().map(|d| (w.id, d)))
    {
        let (id, disabled) = disabled;
        return Check::new(
            "webhook",
            Level::Red,
            format!(
                "webhook {id} is disabled by the platform until {}: {}",
                disabled.until, disabled.reason
            ),
        )
        .with_command(format!("relayctl webhooks --reenable {id}"));
    }
    let described: Vec<String> = ours
        .iter()
        .map(|w| {
            format!(
                "webhook {} (hooks {}{})",
                w.id,
                w.hooks(),
                w.filter
                    .as_deref()
                    .map(|f| format!(", filter {f}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    Check::new("webhook", Level::Green, described.join("; "))
}
