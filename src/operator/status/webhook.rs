//! The webhook check: every webhook pointing at the stack's function URL is enabled, the relay
//! holds its secret, and none of its deliveries are being kept in quarantine.

use millicast_webhooks::{SecretUsed, Signature, SignatureVerifier};

use crate::aws::sdk::Clients;
use crate::aws::secretsmanager::read_secrets;
use crate::operator::lifecycle::{describe_webhooks, points_at};
use crate::operator::platform::{PlatformClient, PlatformError, Webhook};
use crate::operator::replay::{list_quarantine, read_delivery};
use crate::relay::clock::now_ms;

use super::{Check, Level};

/// Quarantined deliveries read to tell whose they are (the newest of the last hour).
const QUARANTINE_SAMPLE: usize = 50;

/// Where the relay keeps what status reads besides the platform.
pub(super) struct RelayPlaces<'a> {
    pub clients: &'a Clients,
    pub function_url: &'a str,
    pub bucket: &'a str,
    pub secret_id: &'a str,
}

pub(super) async fn webhook_check(
    platform: &PlatformClient,
    relay: &RelayPlaces<'_>,
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
    let ours: Vec<Webhook> = webhooks
        .into_iter()
        .filter(|w| points_at(w, relay.function_url))
        .collect();
    if ours.is_empty() {
        return Check::new(
            "webhook",
            Level::Red,
            format!("no webhook points at {}", relay.function_url),
        )
        .with_command(format!("relayctl register --stack {stack}"));
    }
    if let Some((id, disabled)) = ours
        .iter()
        .find_map(|w| w.disabled.as_ref().map(|d| (w.id, d)))
    {
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
    if !relay.secret_id.is_empty() {
        match read_secrets(&relay.clients.secrets, relay.secret_id).await {
            Ok(stored) => {
                let lacking: Vec<&Webhook> = ours
                    .iter()
                    .filter(|w| {
                        w.secret.decode().ok().is_none_or(|secret| {
                            stored.holder_of(&secret).map(|(_, used)| used)
                                != Some(SecretUsed::Current)
                        })
                    })
                    .collect();
                if let Some(webhook) = lacking.first() {
                    return Check::new(
                        "webhook",
                        Level::Red,
                        format!(
                            "the relay does not hold the secret of webhook {}: its deliveries are \
                             refused and kept in quarantine",
                            webhook.id
                        ),
                    )
                    .with_command(format!(
                        "relayctl rotate --webhook-id {0} --stack {stack} (or paste its secret: \
                         relayctl secret set --webhook-id {0} --stack {stack}, then relayctl \
                         quarantine replay --stack {stack})",
                        webhook.id
                    ));
                }
            }
            Err(error) => {
                return Check::new(
                    "webhook",
                    Level::Red,
                    format!("cannot read the relay's secret: {error}"),
                );
            }
        }
    }
    if let Some((id, count)) = quarantined_by_webhook(relay, &ours).await {
        return Check::new(
            "webhook",
            Level::Red,
            format!(
                "{count} recent delivery(ies) of webhook {id} are in quarantine: the relay could \
                 not verify them when they came"
            ),
        )
        .with_command(format!(
            "relayctl quarantine replay --stack {stack} (and relayctl webhooks --stack {stack} \
             to see whether the relay holds its secret)"
        ));
    }
    Check::new("webhook", Level::Green, describe_webhooks(&ours))
}

/// The webhook with the most deliveries kept in quarantine during the last hour (verified with
/// the secrets the platform signs with now), if any: its deliveries are being refused even
/// though nothing else says so (the relay reads another secret, or re-reads too late).
async fn quarantined_by_webhook(relay: &RelayPlaces<'_>, ours: &[Webhook]) -> Option<(i64, usize)> {
    let verifiers: Vec<(i64, SignatureVerifier)> = ours
        .iter()
        .filter_map(|w| {
            let secret = w.secret.decode().ok()?;
            Some((w.id, SignatureVerifier::new(secret.bytes(), None)))
        })
        .collect();
    let listed = list_quarantine(&relay.clients.s3, relay.bucket, Some(now_ms() - 3_600_000))
        .await
        .ok()?;
    let mut counts: Vec<(i64, usize)> = Vec::new();
    for entry in listed.iter().rev().take(QUARANTINE_SAMPLE) {
        let Ok(kept) = read_delivery(&relay.clients.s3, relay.bucket, &entry.key).await else {
            continue;
        };
        let Some(signature) = kept
            .kept
            .signature
            .as_deref()
            .and_then(|s| Signature::parse(s.as_bytes()).ok())
        else {
            continue;
        };
        if let Some((id, _)) = verifiers
            .iter()
            .find(|(_, verifier)| verifier.verify(&kept.body, &signature).is_ok())
        {
            match counts.iter_mut().find(|(seen, _)| seen == id) {
                Some((_, count)) => *count += 1,
                None => counts.push((*id, 1)),
            }
        }
    }
    counts.into_iter().max_by_key(|(_, count)| *count)
}
