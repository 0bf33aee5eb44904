//! `relayctl rotate`: renew the secret with zero loss.

use std::time::Duration;

use crate::aws::sdk::Clients;
use crate::aws::secretsmanager::{NewSecret, Previous, read_secrets, store_new_secret};
use crate::operator::error::OperatorError;
use crate::operator::platform::{PlatformClient, WebhookUpdate};
use crate::relay::clock::{now_ms, rfc3339_ms};

use super::{RelayTarget, RoundTrip, Say, pick_webhook, prove_round_trip, replay_window};

/// What `rotate` did.
#[derive(Debug, Clone)]
pub struct Rotated {
    pub webhook_id: i64,
    pub recovered: usize,
    pub unverified: usize,
    /// From the renewal to the last delivery the relay had to keep.
    pub quarantine_window: Option<Duration>,
    pub round_trip: RoundTrip,
}

/// Why a rotation failed (the source), where it left things, and the command that resumes it.
#[derive(Debug, thiserror::Error)]
#[error("rotate failed; state: {state}; resume with: {resume}")]
pub struct RotateFailure {
    #[source]
    pub error: OperatorError,
    pub state: String,
    pub resume: String,
}

impl RotateFailure {
    /// The failure, its cause, the state and the resume command on one line.
    pub fn one_line(&self) -> String {
        format!(
            "rotate failed: {}; state: {}; resume with: {}",
            self.error.one_line(),
            self.state,
            self.resume
        )
    }
}

/// Renews the webhook's secret with zero loss (see the module documentation). `resume_args`
/// are the relayctl arguments that name the relay (`--stack NAME` …), for the resume commands.
pub async fn rotate(
    platform: &PlatformClient,
    clients: &Clients,
    target: &RelayTarget,
    webhook_id: Option<i64>,
    probe_timeout: Duration,
    resume_args: &str,
    say: Say<'_>,
) -> Result<Rotated, RotateFailure> {
    let untouched = |error: OperatorError| RotateFailure {
        error,
        state: "nothing changed: the webhook still signs with its old secret".into(),
        resume: format!("relayctl rotate {resume_args}"),
    };
    let webhook = pick_webhook(platform, &target.function_url, webhook_id)
        .await
        .map_err(untouched)?
        .ok_or_else(|| RotateFailure {
            error: OperatorError::usage(format!("no webhook points at {}", target.function_url)),
            state: "nothing changed".into(),
            resume: format!("relayctl register {resume_args}"),
        })?;
    // The relay must hold the secret the platform signs with now, or the rotation would start
    // from a broken state.
    let old = webhook
        .secret
        .decode()
        .map_err(|p| untouched(OperatorError::invalid_secret("the platform's secret", p)))?;
    let known = [(webhook.id, old.clone())];
    let stored = read_secrets(&clients.secrets, &target.secret_id)
        .await
        .map_err(|e| untouched(e.into()))?;
    if stored.holder_of(&old).is_none() {
        say(&format!(
            "{} did not hold webhook {}'s current secret: storing it first",
            target.secret_id, webhook.id
        ));
        store_new_secret(
            &clients.secrets,
            &target.secret_id,
            old.clone(),
            NewSecret {
                webhook_id: Some(webhook.id),
                replaced: None,
                pointing: &known,
            },
            Previous::Keep,
        )
        .await
        .map_err(|e| untouched(OperatorError::SecretWrite(e)))?;
        tokio::time::sleep(target.refresh_interval + Duration::from_secs(1)).await;
    }

    // The quarantine window starts a little before the renewal (clocks differ slightly).
    let renewed_at = now_ms();
    let since = renewed_at - 5_000;
    let renewed = platform
        .update_webhook(
            webhook.id,
            &WebhookUpdate {
                refresh_secret: Some(true),
                ..WebhookUpdate::default()
            },
        )
        .await
        .map_err(|e| {
            untouched(OperatorError::platform(
                format!("cannot renew webhook {}'s secret", webhook.id),
                e,
            ))
        })?;
    say(&format!(
        "renewed webhook {}'s secret at {}: the platform signs with the new one from now on",
        webhook.id,
        rfc3339_ms(renewed_at)
    ));
    let resume_replay = format!("relayctl quarantine replay {resume_args} --since {since}");
    let new = renewed.secret.decode().map_err(|p| RotateFailure {
        error: OperatorError::invalid_secret("the platform's new secret", p),
        state: format!(
            "the platform signs with a new secret since {} that is not stored: deliveries are kept in quarantine",
            rfc3339_ms(renewed_at)
        ),
        resume: format!("relayctl register {resume_args}"),
    })?;
    store_new_secret(
        &clients.secrets,
        &target.secret_id,
        new,
        NewSecret {
            webhook_id: Some(webhook.id),
            replaced: Some(&old),
            pointing: &known,
        },
        Previous::Keep,
    )
    .await
        .map_err(|error| RotateFailure {
            error: OperatorError::SecretWrite(error),
            state: format!(
                "the platform signs with a new secret since {} that is not stored: deliveries are kept in quarantine",
                rfc3339_ms(renewed_at)
            ),
            // register adopts the webhook, stores its current secret and replays the quarantine.
            resume: format!("relayctl register {resume_args}"),
        })?;
    let wait = target.refresh_interval + Duration::from_secs(1);
    say(&format!(
        "stored the new secret in {} (the old one as previous); waiting {} s for the relay to re-read it",
        target.secret_id,
        wait.as_secs()
    ));
    tokio::time::sleep(wait).await;

    let mut recovered = 0;
    let mut unverified = 0;
    let mut latest = None;
    // Two passes: a delivery kept while the first pass was listing is caught by the second.
    for pass in 0..2 {
        if pass == 1 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let (n, kept, last) = replay_window(clients, target, Some(since)).await.map_err(
            |error| RotateFailure {
                error,
                state: format!(
                    "the new secret is stored (the old one as previous); deliveries since {} may \
                     still be in quarantine",
                    rfc3339_ms(since)
                ),
                resume: resume_replay.clone(),
            },
        )?;
        recovered += n;
        unverified = kept;
        latest = latest.max(last);
    }
    say(&format!(
        "{recovered} delivery(ies) recovered from quarantine"
    ));
    say("proving the round trip with a test thumbnail");
    let round_trip = prove_round_trip(platform, clients, target, &renewed, probe_timeout).await;
    Ok(Rotated {
        webhook_id: webhook.id,
        recovered,
        unverified,
        quarantine_window: latest
            .map(|last| Duration::from_millis(u64::try_from(last - renewed_at).unwrap_or(0))),
        round_trip,
    })
}
