//! `relayctl webhooks`: the account's webhooks, and which point at this relay.

use clap::Args;
use millicast_webhook_relay::aws::secretsmanager::read_secrets;
use millicast_webhook_relay::operator::error::OperatorError;
use millicast_webhook_relay::operator::lifecycle::{describe_webhooks, points_at};
use millicast_webhook_relay::operator::platform::{Webhook, WebhookUpdate};
use millicast_webhook_relay::relay::secrets::SecretSet;
use millicast_webhooks::SecretUsed;

use crate::aws_clients::clients;
use crate::error::Error;
use crate::platform::platform;
use crate::target::{StackArgs, pick};

#[derive(Args)]
pub struct WebhooksArgs {
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
}

impl WebhooksArgs {
    pub async fn run(self) -> Result<(), Error> {
        let platform = platform()?;
        if let Some(id) = self.reenable {
            let webhook = platform
                .update_webhook(
                    id,
                    &WebhookUpdate {
                        re_enable: Some(true),
                        ..WebhookUpdate::default()
                    },
                )
                .await
                .map_err(|e| {
                    OperatorError::platform(format!("cannot re-enable webhook {id}"), e)
                })?;
            out!("re-enabled webhook {} ({})", webhook.id, webhook.url);
            return Ok(());
        }
        let outputs = self.stack.outputs().await?;
        let function_url = self.function_url.as_ref();
        let ours = match (function_url, &outputs) {
            (None, None) => None,
            _ => Some(pick(
                function_url,
                outputs.as_ref(),
                "FunctionUrl",
                "--function-url",
            )?),
        };
        // Whether the relay holds each webhook's secret, when the stack names its secret.
        let stored: Option<SecretSet> =
            match outputs.as_ref().and_then(|o| o.get("WebhookSecretArn")) {
                Some(secret_id) => {
                    let clients = clients().await?;
                    read_secrets(&clients.secrets, secret_id).await.ok()
                }
                None => None,
            };
        let webhooks = platform
            .all_webhooks()
            .await
            .map_err(|e| OperatorError::platform("cannot list the webhooks", e))?;
        out!(
            "  {:>6}  {:<56}  {:<58}  {:<16}  {:<24}  RELAY HOLDS",
            "ID",
            "URL",
            "HOOKS",
            "FILTER",
            "DISABLED"
        );
        let mut pointing = Vec::new();
        for webhook in &webhooks {
            let ours = ours.as_ref().is_some_and(|url| points_at(webhook, url));
            if ours {
                pointing.push(webhook.clone());
            }
            let disabled = webhook
                .disabled
                .as_ref()
                .map(|d| format!("until {}: {}", d.until, d.reason))
                .unwrap_or_else(|| "-".into());
            let holds = match (&stored, ours) {
                (_, false) => "-".to_owned(),
                (None, true) => "? (no WebhookSecretArn to read)".to_owned(),
                (Some(stored), true) => relay_holds(stored, webhook).to_owned(),
            };
            out!(
                "{} {:>6}  {:<56}  {:<58}  {:<16}  {disabled:<24}  {holds}",
                if ours { '*' } else { ' ' },
                webhook.id,
                webhook.url,
                webhook.hooks().to_string(),
                webhook.filter.as_deref().unwrap_or("-"),
            );
            if self.show_secret {
                out!("          secret {}", webhook.secret.expose());
            }
        }
        eprintln!(
            "{} webhook(s){}",
            webhooks.len(),
            match pointing.len() {
                0 => String::new(),
                _ => format!("; pointing at the relay: {}", describe_webhooks(&pointing)),
            }
        );
        Ok(())
    }
}

/// Whether the relay can verify `webhook`'s deliveries: it holds the secret the platform signs
/// with now (under the webhook's id, or without id), only as previous, or not at all.
fn relay_holds(stored: &SecretSet, webhook: &Webhook) -> &'static str {
    let Ok(secret) = webhook.secret.decode() else {
        return "? (the platform's secret is not base64)";
    };
    match stored.holder_of(&secret) {
        Some((_, SecretUsed::Current)) => "its secret",
        Some((_, SecretUsed::Previous)) => "its secret, as previous only",
        None => "no: its deliveries are quarantined (relayctl secret set --webhook-id)",
    }
}
