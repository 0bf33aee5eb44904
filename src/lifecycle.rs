//! The webhook's life across the platform, Secrets Manager and the relay (`relayctl register`
//! and `relayctl rotate`), and the proof that a delivery makes the whole trip.
//!
//! - **register** adopts the webhook that already points at the function URL (or creates one),
//!   stores its secret with `secret set` semantics, replays what the relay kept meanwhile, and
//!   proves the round trip. Running it again changes nothing on the platform or in the secret.
//! - **rotate** renews the secret on the platform, stores the new one at once (the old one as
//!   `previous`), waits out the relay's refresh interval, replays the quarantine window twice
//!   (to catch a delivery kept while the first pass listed), and proves the round trip.
//! - **The proof** asks the platform for a test *thumbnail* under a stream name nobody else uses
//!   and looks for it where the relay stores it, in S3: it never reads the queue, so it neither
//!   consumes nor delays anyone's messages. On a timeout it says which hop failed, from the
//!   evidence: the quarantine, the webhook's state, both secrets, and a delivery relayctl sends
//!   the function URL itself.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use aws_sdk_s3::error::DisplayErrorContext;

use crate::aws::Clients;
use crate::clock::{now_ms, rfc3339_ms};
use crate::config::PathSettings;
use crate::delivery::Delivery;
use crate::platform::{
    HookSet, HookType, NewWebhook, PlatformClient, TestDelivery, Webhook, WebhookUpdate, same_url,
};
use crate::replay::{ReplayOptions, Replayed, list_quarantine, read_delivery, replay_quarantine};
use crate::s3::S3ObjectStore;
use crate::samples;
use crate::secrets::SecretSet;
use crate::secretsmanager::{Previous, SecretStored, read_secrets, store_new_secret};
use crate::signature::{Signature, sign};
use crate::sqs::SqsEventQueue;

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
}

/// Progress lines for the operator.
pub type Say<'a> = &'a mut (dyn FnMut(&str) + Send);

/// The result of the round-trip proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoundTrip {
    /// The test delivery went platform → relay → S3 in this time.
    Proven { elapsed: Duration, key: String },
    /// It did not arrive: what failed, as precisely as the evidence allows.
    Failed(String),
    /// It could not be tried (why).
    NotTried(String),
}

/// Stream names of the probes (`relayctl-probe-<random>`): consumers may ignore them.
pub const PROBE_STREAM_PREFIX: &str = "relayctl-probe-";

fn probe_stream_name() -> String {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_i64(now_ms());
    format!(
        "{PROBE_STREAM_PREFIX}{:012x}",
        hasher.finish() & 0xffff_ffff_ffff
    )
}

/// The key of a thumbnail stored under `stream` (any account folder), if there is one.
async fn find_thumbnail(
    clients: &Clients,
    bucket: &str,
    prefix: &str,
    stream: &str,
) -> Result<Option<String>, String> {
    let accounts = clients
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .delimiter("/")
        .send()
        .await
        .map_err(|e| {
            format!(
                "s3 ListObjectsV2 {bucket}/{prefix}: {}",
                DisplayErrorContext(&e)
            )
        })?;
    for account in accounts.common_prefixes() {
        let Some(folder) = account.prefix() else {
            continue;
        };
        let found = clients
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(format!("{folder}{stream}/"))
            .send()
            .await
            .map_err(|e| format!("s3 ListObjectsV2: {}", DisplayErrorContext(&e)))?;
        if let Some(key) = found
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .find(|k| !k.ends_with("/latest.jpg"))
        {
            return Ok(Some(key.to_owned()));
        }
    }
    Ok(None)
}

/// A delivery of `webhook` (signed with its secret) for `stream` that the relay kept in
/// quarantine since `since_ms`: its reason. Deliveries of other webhooks are not evidence.
async fn find_quarantined(
    clients: &Clients,
    bucket: &str,
    webhook: &Webhook,
    stream: &str,
    since_ms: i64,
) -> Option<String> {
    let verifier = SecretSet {
        current: webhook.secret.decode().ok()?,
        previous: None,
    }
    .verifier();
    let listed = list_quarantine(&clients.s3, bucket, Some(since_ms))
        .await
        .ok()?;
    // Newest first: the probe is recent. Bounded, for a quarantine under a flood.
    for entry in listed.iter().rev().take(200) {
        let Ok(kept) = read_delivery(&clients.s3, bucket, &entry.key).await else {
            continue;
        };
        let for_probe = kept
            .kept
            .stream_id
            .as_deref()
            .is_some_and(|id| id == stream || id.ends_with(&format!("/{stream}")));
        let signed_by_webhook = kept
            .kept
            .signature
            .as_deref()
            .and_then(|s| Signature::parse(s.as_bytes()).ok())
            .is_some_and(|signature| verifier.verify(&kept.body, &signature).is_ok());
        if for_probe && signed_by_webhook {
            return Some(
                kept.kept
                    .reason
                    .map_or("unknown", |r| r.as_str())
                    .to_owned(),
            );
        }
    }
    None
}

/// Asks the platform for a test thumbnail under a fresh stream name and waits up to `timeout`
/// for it in S3.
pub async fn prove_round_trip(
    platform: &PlatformClient,
    clients: &Clients,
    target: &RelayTarget,
    webhook: &Webhook,
    timeout: Duration,
) -> RoundTrip {
    if !webhook.hooks().contains(HookType::Thumbnail) {
        return RoundTrip::NotTried(format!(
            "webhook {} does not receive thumbnails, and the proof is a test thumbnail (found in S3 \
             without reading anyone's queue); check events with relayctl tail",
            webhook.id
        ));
    }
    if let Some(disabled) = &webhook.disabled {
        return RoundTrip::Failed(format!(
            "the platform has disabled webhook {} until {}: {} (relayctl webhooks --reenable {})",
            webhook.id, disabled.until, disabled.reason, webhook.id
        ));
    }
    let stream = probe_stream_name();
    let started_ms = now_ms();
    let started = Instant::now();
    let test = TestDelivery {
        stream_name: Some(stream.clone()),
        transcoder_name: None,
    };
    if let Err(error) = platform.send_test(HookType::Thumbnail, &test).await {
        return RoundTrip::Failed(format!("the platform refused the test delivery: {error}"));
    }
    let prefix = &target.paths.thumbnail_prefix;
    let mut next_quarantine_check = Instant::now() + Duration::from_millis(1500);
    while started.elapsed() < timeout {
        match find_thumbnail(clients, &target.bucket, prefix, &stream).await {
            Ok(Some(key)) => {
                return RoundTrip::Proven {
                    elapsed: started.elapsed(),
                    key,
                };
            }
            Ok(None) => {}
            Err(error) => {
                return RoundTrip::Failed(format!("cannot look for the test thumbnail: {error}"));
            }
        }
        if Instant::now() >= next_quarantine_check {
            if let Some(reason) =
                find_quarantined(clients, &target.bucket, webhook, &stream, started_ms - 2000).await
            {
                return RoundTrip::Failed(
                    diagnose_quarantined(platform, clients, target, webhook, &reason).await,
                );
            }
            next_quarantine_check = Instant::now() + Duration::from_millis(1500);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    RoundTrip::Failed(
        diagnose_missing(
            platform, clients, target, webhook, &stream, started_ms, timeout,
        )
        .await,
    )
}

/// The platform's secret for the webhook equals the one stored for the relay (None: unknown).
async fn secrets_agree(clients: &Clients, target: &RelayTarget, webhook: &Webhook) -> Option<bool> {
    let stored = read_secrets(&clients.secrets, &target.secret_id)
        .await
        .ok()?;
    let platform = webhook.secret.decode().ok()?;
    Some(stored.current == platform)
}

async fn diagnose_quarantined(
    platform: &PlatformClient,
    clients: &Clients,
    target: &RelayTarget,
    webhook: &Webhook,
    reason: &str,
) -> String {
    let received = "the relay received the test delivery but could not verify it";
    if reason == "secret_unavailable" {
        return format!(
            "{received}: it cannot read its secret (kept in quarantine as secret_unavailable) — \
             check the function's access to {} and Secrets Manager",
            target.secret_id
        );
    }
    let current = platform
        .get_webhook(webhook.id)
        .await
        .unwrap_or_else(|_| webhook.clone());
    match secrets_agree(clients, target, &current).await {
        Some(false) => format!(
            "{received}: the secret stored in {} is not webhook {}'s (kept in quarantine) — run \
             relayctl register, which stores the webhook's secret",
            target.secret_id, webhook.id
        ),
        _ => format!(
            "{received} (kept in quarantine as {reason}) although {} holds the webhook's secret: \
             the relay reads another secret (check its WEBHOOK_SECRET_ID) or has not re-read it \
             yet (SECRET_REFRESH_SECONDS)",
            target.secret_id
        ),
    }
}

async fn diagnose_missing(
    platform: &PlatformClient,
    clients: &Clients,
    target: &RelayTarget,
    webhook: &Webhook,
    stream: &str,
    started_ms: i64,
    timeout: Duration,
) -> String {
    let waited = format!("no test thumbnail after {} s", timeout.as_secs());
    let current = match platform.get_webhook(webhook.id).await {
        Ok(current) => current,
        Err(error) => return format!("{waited}, and the platform cannot be asked why: {error}"),
    };
    if let Some(disabled) = &current.disabled {
        return format!(
            "{waited}: the platform has disabled webhook {} until {}: {} (relayctl webhooks --reenable {})",
            current.id, disabled.until, disabled.reason, current.id
        );
    }
    if !same_url(&current.url, &target.function_url) {
        return format!(
            "{waited}: webhook {} points at {}, not at the relay's {}",
            current.id, current.url, target.function_url
        );
    }
    if let Some(reason) =
        find_quarantined(clients, &target.bucket, &current, stream, started_ms - 2000).await
    {
        return diagnose_quarantined(platform, clients, target, &current, &reason).await;
    }
    // Nothing reached the relay: does it answer a delivery relayctl makes itself?
    let secret = match read_secrets(&clients.secrets, &target.secret_id).await {
        Ok(secrets) => secrets.current,
        Err(error) => return format!("{waited}, and the relay's secret cannot be read: {error}"),
    };
    let direct_stream = format!("{stream}-direct");
    let mut image = samples::SAMPLE_JPEG.to_vec();
    image.extend_from_slice(direct_stream.as_bytes());
    let headers = samples::thumbnail_headers(&format!("relayctl/{direct_stream}"), now_ms());
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
    {
        Ok(http) => http,
        Err(error) => return format!("{waited}; cannot build an HTTP client: {error}"),
    };
    let mut request = http
        .post(&target.function_url)
        .header("x-millicast-signature", sign(secret.bytes(), &image));
    for (name, value) in &headers {
        request = request.header(*name, value);
    }
    let filter_hint = current
        .filter
        .as_deref()
        .map(|f| format!("; its filter `{f}` must match the stream name {stream}"))
        .unwrap_or_default();
    let answer = match request.body(image).send().await {
        Ok(answer) => answer.status().as_u16(),
        Err(error) => {
            return format!(
                "{waited}: the relay's function URL {} does not answer ({}) — the relay is down or \
                 the URL is wrong",
                target.function_url,
                one_line(&error.to_string())
            );
        }
    };
    match answer {
        200 => {
            let direct_started = Instant::now();
            while direct_started.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = find_thumbnail(
                    clients,
                    &target.bucket,
                    &target.paths.thumbnail_prefix,
                    &direct_stream,
                )
                .await
                {
                    return format!(
                        "{waited}, but a thumbnail relayctl sent the function URL itself arrived: \
                         the relay works, so the platform did not deliver to {}{filter_hint}",
                        current.url
                    );
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            format!(
                "{waited}; the relay answered 200 to a thumbnail relayctl sent it, but it is not under \
                 s3://{}/{}: the relay writes to another bucket or prefix (check --bucket and \
                 THUMBNAIL_PREFIX)",
                target.bucket, target.paths.thumbnail_prefix
            )
        }
        401 => format!(
            "{waited}: the relay refuses deliveries signed with the secret stored in {} (401): it \
             reads another secret (check its WEBHOOK_SECRET_ID)",
            target.secret_id
        ),
        503 => format!("{waited}: the relay cannot read its secret (503 secret_unavailable)"),
        status => format!(
            "{waited}: the relay answers {status} to a delivery relayctl sent it (see the relay's log)"
        ),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Replays every kept delivery (received since `since_ms`) that the stored secrets verify:
/// (recovered, still kept, the latest receive time among the recovered).
async fn replay_window(
    clients: &Clients,
    target: &RelayTarget,
    since_ms: Option<i64>,
) -> Result<(usize, usize, Option<i64>), String> {
    let secrets = read_secrets(&clients.secrets, &target.secret_id)
        .await
        .map_err(|e| e.to_string())?;
    let delivery = Delivery::new(
        target.paths.clone(),
        S3ObjectStore::new(clients.s3.clone(), &target.bucket),
        SqsEventQueue::new(clients.sqs.clone(), &target.queue_url),
    )
    // A delivery neither SQS nor S3 takes stays in quarantine: nothing to log here.
    .with_log_sink(std::sync::Arc::new(|_: &str| {}));
    let (mut recovered, mut kept, mut latest) = (0, 0, None::<i64>);
    replay_quarantine(
        &clients.s3,
        &target.bucket,
        &[secrets.verifier()],
        &delivery,
        ReplayOptions {
            since_ms,
            dry_run: false,
        },
        |key, outcome| match outcome {
            Replayed::Delivered(_) => {
                recovered += 1;
                let received = crate::quarantine::received_ms_from_key(key);
                latest = latest.max(received);
            }
            Replayed::WouldDeliver(_) => {}
            Replayed::Kept(_) => kept += 1,
        },
    )
    .await
    .map_err(|e| e.0)?;
    Ok((recovered, kept, latest))
}

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

/// Where a failed rotation left things, and the command that resumes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotateFailure {
    pub error: String,
    pub state: String,
    pub resume: String,
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
    let untouched = |error: String| RotateFailure {
        error,
        state: "nothing changed: the webhook still signs with its old secret".into(),
        resume: format!("relayctl rotate {resume_args}"),
    };
    let webhook = match webhook_id {
        Some(id) => platform
            .get_webhook(id)
            .await
            .map_err(|e| untouched(e.to_string()))?,
        None => platform
            .find_by_url(&target.function_url)
            .await
            .map_err(|e| untouched(e.to_string()))?
            .ok_or_else(|| RotateFailure {
                error: format!("no webhook points at {}", target.function_url),
                state: "nothing changed".into(),
                resume: format!("relayctl register {resume_args}"),
            })?,
    };
    // The relay must hold the secret the platform signs with now, or the rotation would start
    // from a broken state.
    let old = webhook
        .secret
        .decode()
        .map_err(|p| untouched(format!("the platform's secret {p}")))?;
    let stored = read_secrets(&clients.secrets, &target.secret_id)
        .await
        .map_err(|e| untouched(e.to_string()))?;
    if stored.current != old {
        say(&format!(
            "{} did not hold webhook {}'s current secret: storing it first",
            target.secret_id, webhook.id
        ));
        store_new_secret(&clients.secrets, &target.secret_id, old, Previous::Keep)
            .await
            .map_err(untouched)?;
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
        .map_err(|e| untouched(e.to_string()))?;
    say(&format!(
        "renewed webhook {}'s secret at {}: the platform signs with the new one from now on",
        webhook.id,
        rfc3339_ms(renewed_at)
    ));
    let resume_replay = format!("relayctl quarantine replay {resume_args} --since {since}");
    let new = renewed.secret.decode().map_err(|p| RotateFailure {
        error: format!("the platform's new secret {p}"),
        state: format!(
            "the platform signs with a new secret since {} that is not stored: deliveries are kept in quarantine",
            rfc3339_ms(renewed_at)
        ),
        resume: format!("relayctl register {resume_args}"),
    })?;
    store_new_secret(&clients.secrets, &target.secret_id, new, Previous::Keep)
        .await
        .map_err(|error| RotateFailure {
            error,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_streams_are_fresh_and_safe_key_segments() {
        let a = probe_stream_name();
        let b = probe_stream_name();
        assert_ne!(a, b);
        for name in [a, b] {
            assert!(name.starts_with(PROBE_STREAM_PREFIX));
            assert!(crate::thumbnail::is_safe_segment(&name), "{name}");
        }
    }
}
