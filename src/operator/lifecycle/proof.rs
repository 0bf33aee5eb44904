//! The round-trip proof: a test thumbnail from the platform, looked for where the relay stores
//! it, and which hop failed when it does not arrive.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use crate::aws::sdk::Clients;
use crate::aws::secretsmanager::read_secrets;
use crate::operator::error::OperatorError;
use crate::operator::platform::{HookType, PlatformClient, TestDelivery, Webhook};
use crate::operator::replay::{list_quarantine, read_delivery};
use crate::relay::clock::now_ms;
use millicast_webhooks::samples;
use millicast_webhooks::signature::{Signature, sign};

use super::{RelayTarget, one_line, points_at};

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

pub(super) fn probe_stream_name() -> String {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_i64(now_ms());
    format!(
        "{PROBE_STREAM_PREFIX}{:012x}",
        hasher.finish() & 0xffff_ffff_ffff
    )
}

/// The key of a thumbnail stored under `stream` (any account folder), if there is one.
pub(super) async fn find_thumbnail(
    clients: &Clients,
    bucket: &str,
    prefix: &str,
    stream: &str,
) -> Result<Option<String>, OperatorError> {
    let accounts = clients
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .delimiter("/")
        .send()
        .await
        .map_err(|e| OperatorError::aws(format!("s3 ListObjectsV2 {bucket}/{prefix}"), e))?;
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
            .map_err(|e| OperatorError::aws("s3 ListObjectsV2", e))?;
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
pub(super) async fn find_quarantined(
    clients: &Clients,
    bucket: &str,
    webhook: &Webhook,
    stream: &str,
    since_ms: i64,
) -> Option<String> {
    let secret = webhook.secret.decode().ok()?;
    let verifier = millicast_webhooks::SignatureVerifier::new(secret.bytes(), None);
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
                return RoundTrip::Failed(format!(
                    "cannot look for the test thumbnail: {}",
                    error.one_line()
                ));
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

/// The relay holds the platform's current secret for the webhook as a current secret
/// (None: unknown).
pub(super) async fn secrets_agree(
    clients: &Clients,
    target: &RelayTarget,
    webhook: &Webhook,
) -> Option<bool> {
    let stored = read_secrets(&clients.secrets, &target.secret_id)
        .await
        .ok()?;
    let platform = webhook.secret.decode().ok()?;
    Some(
        stored
            .holder_of(&platform)
            .is_some_and(|(_, used)| used == millicast_webhooks::SecretUsed::Current),
    )
}

pub(super) async fn diagnose_quarantined(
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

pub(super) async fn diagnose_missing(
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
    if !points_at(&current, &target.function_url) {
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
        // The webhook's own secret when the relay holds it, else any it holds: the question
        // is whether the relay answers at all.
        Ok(secrets) => match secrets
            .get(current.id)
            .or_else(|| secrets.webhooks().first())
        {
            Some(held) => held.current.clone(),
            None => return format!("{waited}, and the relay holds no webhook secret at all"),
        },
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
            assert!(crate::relay::thumbnail::is_safe_segment(&name), "{name}");
        }
    }
}
