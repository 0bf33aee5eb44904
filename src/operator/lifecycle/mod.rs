//! The webhook's life across the platform, Secrets Manager and the relay (`relayctl register`
//! and `relayctl rotate`), and the proof that a delivery makes the whole trip.
//!
//! - **register** adopts the webhook that already points at the function URL (or creates one;
//!   with `add`, creates another beside those there, at its own path `w/{id}`), stores its
//!   secret under its id with `secret set` semantics, replays what the relay kept meanwhile, and
//!   proves the round trip. Running it again changes nothing on the platform or in the secret.
//! - **rotate** renews the secret on the platform, stores the new one at once (the old one as
//!   `previous`), waits out the relay's refresh interval, replays the quarantine window twice
//!   (to catch a delivery kept while the first pass listed), and proves the round trip.
//! - **The proof** asks the platform for a test *thumbnail* under a stream name nobody else uses
//!   and looks for it where the relay stores it, in S3: it never reads the queue, so it neither
//!   consumes nor delays anyone's messages. On a timeout it says which hop failed, from the
//!   evidence: the quarantine, the webhook's state, both secrets, and a delivery relayctl sends
//!   the function URL itself.

mod proof;
mod register;
mod rotate;
mod unregister;

use std::time::Duration;

use crate::aws::sdk::Clients;
use crate::aws::secretsmanager::read_secrets;
use crate::operator::error::OperatorError;
use crate::operator::platform::{PlatformClient, Webhook, same_url};
use crate::operator::replay::{ReplayOptions, Replayed, relay_delivery, replay_quarantine};
use crate::relay::config::PathSettings;
use crate::relay::secrets::WebhookSecret;

pub use proof::{PROBE_STREAM_PREFIX, RoundTrip, prove_round_trip};
pub use register::{RegisterOptions, Registered, register};
pub use rotate::{RotateFailure, Rotated, rotate};
pub use unregister::{Unregistered, unregister};

/// Where the relay is and how it is configured.
#[derive(Debug, Clone)]
pub struct RelayTarget {
    pub function_url: String,
    pub bucket: String,
    pub queue_url: String,
    pub secret_id: String,
    /// The relay's own settings (the stack's `RelaySettings`, or the environment).
    pub paths: PathSettings,
    /// `SECRET_REFRESH_SECONDS` of the relay.
    pub refresh_interval: Duration,
    /// The relay's event bus when its bus output is on: what replay delivers goes there too.
    pub event_bus: Option<String>,
}

/// Progress lines for the operator.
pub type Say<'a> = &'a mut (dyn FnMut(&str) + Send);

/// The URL of a webhook at its own path: the relay verifies deliveries that arrive there
/// against that webhook's secrets only (one HMAC however many webhooks share the relay).
pub fn webhook_url(function_url: &str, id: i64) -> String {
    format!("{}/w/{id}", function_url.trim_end_matches('/'))
}

/// Whether `webhook` points at the relay: at the function URL itself, or at its own path.
pub fn points_at(webhook: &Webhook, function_url: &str) -> bool {
    same_url(&webhook.url, function_url)
        || same_url(&webhook.url, &webhook_url(function_url, webhook.id))
}

/// Every webhook of the account that points at the relay, by id.
pub async fn webhooks_at(
    platform: &PlatformClient,
    function_url: &str,
) -> Result<Vec<Webhook>, OperatorError> {
    let mut webhooks: Vec<Webhook> = platform
        .all_webhooks()
        .await
        .map_err(|e| OperatorError::platform("cannot list the webhooks", e))?
        .into_iter()
        .filter(|webhook| points_at(webhook, function_url))
        .collect();
    webhooks.sort_by_key(|webhook| webhook.id);
    Ok(webhooks)
}

/// Each webhook's id with the secret the platform signs its deliveries with now.
pub fn platform_secrets(webhooks: &[Webhook]) -> Vec<(i64, WebhookSecret)> {
    webhooks
        .iter()
        .filter_map(|webhook| Some((webhook.id, webhook.secret.decode().ok()?)))
        .collect()
}

/// `webhook 12 (hooks feeds,…); webhook 15 (hooks thumbnails, filter ^cam-)`.
pub fn describe_webhooks(webhooks: &[Webhook]) -> String {
    webhooks
        .iter()
        .map(|webhook| {
            let filter = webhook
                .filter
                .as_deref()
                .map(|f| format!(", filter {f}"))
                .unwrap_or_default();
            format!("webhook {} (hooks {}{filter})", webhook.id, webhook.hooks())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The webhook a command is about: `id` if given (it must point at the relay), else the only
/// one pointing at the relay. `Ok(None)`: none points at it.
pub async fn pick_webhook(
    platform: &PlatformClient,
    function_url: &str,
    id: Option<i64>,
) -> Result<Option<Webhook>, OperatorError> {
    let pointing = webhooks_at(platform, function_url).await?;
    match id {
        Some(id) => pointing
            .into_iter()
            .find(|webhook| webhook.id == id)
            .map(Some)
            .ok_or_else(|| {
                OperatorError::usage(format!("webhook {id} does not point at {function_url}"))
            }),
        None => match pointing.len() {
            0 | 1 => Ok(pointing.into_iter().next()),
            _ => Err(OperatorError::usage(format!(
                "several webhooks point at {function_url}: {}; name one with --webhook-id",
                describe_webhooks(&pointing)
            ))),
        },
    }
}

pub(super) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Replays every kept delivery (received since `since_ms`) that the stored secrets verify:
/// (recovered, still kept, the latest receive time among the recovered).
pub(super) async fn replay_window(
    clients: &Clients,
    target: &RelayTarget,
    since_ms: Option<i64>,
) -> Result<(usize, usize, Option<i64>), OperatorError> {
    let secrets = read_secrets(&clients.secrets, &target.secret_id).await?;
    let delivery = relay_delivery(
        clients,
        target.paths.clone(),
        &target.bucket,
        &target.queue_url,
        target.event_bus.as_deref(),
    );
    let (mut recovered, mut kept, mut latest) = (0, 0, None::<i64>);
    replay_quarantine(
        &clients.s3,
        &target.bucket,
        &secrets.verifiers(),
        &delivery,
        ReplayOptions {
            since_ms,
            dry_run: false,
            // Register and rotate recover a renewal's window; stale events wait for the operator.
            accept_stale: false,
        },
        |key, outcome| match outcome {
            Replayed::Delivered(_) => {
                recovered += 1;
                let received = crate::relay::quarantine::received_ms_from_key(key);
                latest = latest.max(received);
            }
            Replayed::WouldDeliver(_) => {}
            Replayed::Kept(_) => kept += 1,
        },
    )
    .await?;
    Ok((recovered, kept, latest))
}
