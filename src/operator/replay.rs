//! Replaying quarantined deliveries (`relayctl quarantine replay`; docs/architecture.md,
//! "Quarantine and replay").
//!
//! Each kept delivery is verified again against the secrets given; one that verifies goes down
//! exactly the relay's own paths ([`accept_verified`]: event → SQS with its attributes, claim
//! check or spill; thumbnail → its key, `latest.jpg`, announcement), with the replay window
//! checked against the time the relay *received* it. Its object is deleted only once the
//! delivery is durable. What does not verify, is stale or malformed, or cannot be made durable
//! now, stays. A delivery made durable whose delete then failed is replayed again by the next
//! run: a thumbnail is then a `duplicate`, an event reaches the queue twice.

use aws_sdk_s3::error::DisplayErrorContext;
use futures_util::StreamExt as _;

use crate::aws::eventbridge::EventBridgeBus;
use crate::aws::s3::S3ObjectStore;
use crate::aws::sdk::Clients;
use crate::aws::sqs::SqsEventQueue;
use crate::operator::error::OperatorError;
use crate::operator::redrive::read_object;
use crate::ports::{EventQueue, ObjectStore};
use crate::relay::clock::date_path;
use crate::relay::config::PathSettings;
use crate::relay::deadline::{DEFAULT_BUDGET, Deadline};
use crate::relay::delivery::{Accepted, Delivery};
use crate::relay::handler::{Planned, VerifiedWebhook, deliver_planned, plan};
use crate::relay::keys::key_safe_id;
use crate::relay::metrics::Summary;
use crate::relay::quarantine::{KeptDelivery, QUARANTINE_PREFIX, received_ms_from_key};
use crate::relay::secrets::WebhookVerifier;
use millicast_webhooks::Signature;

/// The relay's own delivery paths for a replay: its bucket and queue, and — when the relay's
/// bus output is on (`event_bus`) — its event bus, so a replayed event reaches every output a
/// live one does.
pub fn relay_delivery(
    clients: &Clients,
    paths: PathSettings,
    bucket: &str,
    queue_url: &str,
    event_bus: Option<&str>,
) -> Delivery<S3ObjectStore, SqsEventQueue> {
    let delivery = Delivery::new(
        paths,
        S3ObjectStore::new(clients.s3.clone(), bucket),
        SqsEventQueue::new(clients.sqs.clone(), queue_url),
    )
    // A delivery neither SQS nor S3 takes stays in quarantine: nothing to log here.
    .with_log_sink(std::sync::Arc::new(|_: &str| {}));
    match event_bus {
        Some(bus) => delivery.with_bus(std::sync::Arc::new(EventBridgeBus::new(
            clients.eventbridge.clone(),
            bus,
        ))),
        None => delivery,
    }
}

/// Objects replayed at once.
const CONCURRENCY: usize = 8;

/// One object under `quarantine/`, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedDelivery {
    pub key: String,
    pub size: i64,
    pub received_ms: Option<i64>,
}

/// Lists the quarantine in the order the deliveries were received, from `since_ms` on.
pub async fn list_quarantine(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    since_ms: Option<i64>,
) -> Result<Vec<ListedDelivery>, OperatorError> {
    let mut request = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(QUARANTINE_PREFIX);
    if let Some(since) = since_ms {
        // Keys are dated folders, so earlier days need not be listed at all.
        request = request.start_after(format!("{QUARANTINE_PREFIX}{}/", date_path(since)));
    }
    let mut pages = request.into_paginator().send();
    let mut listed = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| OperatorError::aws("s3 ListObjectsV2", e))?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            let received_ms = received_ms_from_key(key);
            if since_ms.is_some_and(|since| received_ms.is_some_and(|at| at < since)) {
                continue;
            }
            listed.push(ListedDelivery {
                key: key.to_owned(),
                size: object.size().unwrap_or_default(),
                received_ms,
            });
        }
    }
    // Lexical order is receive order within a day; across days too (dated folders).
    listed.sort_by(|a, b| (a.received_ms, &a.key).cmp(&(b.received_ms, &b.key)));
    Ok(listed)
}

/// A kept delivery and its body.
#[derive(Debug, Clone)]
pub struct QuarantinedDelivery {
    pub key: String,
    pub kept: KeptDelivery,
    pub body: Vec<u8>,
}

/// Reads one quarantine object: its body and what the relay kept about it.
pub async fn read_delivery(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<QuarantinedDelivery, OperatorError> {
    let (body, metadata) = read_object(s3, bucket, key).await?;
    Ok(QuarantinedDelivery {
        key: key.to_owned(),
        kept: KeptDelivery::from_metadata(key, &metadata),
        body,
    })
}

/// What replay did with one kept delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replayed {
    /// Made durable (how) and deleted from the quarantine.
    Delivered(Accepted),
    /// `--dry-run`: it verifies and would take this path (`thumbnail` or `event`).
    WouldDeliver(&'static str),
    /// Left in place, and why.
    Kept(String),
}

/// Options of one replay run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayOptions {
    /// Only deliveries received at or after this time (epoch ms).
    pub since_ms: Option<i64>,
    pub dry_run: bool,
    /// Deliver verified events that were outside the replay window when they came (kept as
    /// `stale`), on the operator's word, with their original receive time.
    pub accept_stale: bool,
}

/// Replays every kept delivery of `bucket` (see the module documentation), calling `on_object`
/// with each outcome. `verifiers` are tried in order; any one may match.
pub async fn replay_quarantine<S: ObjectStore, Q: EventQueue>(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    verifiers: &[WebhookVerifier],
    delivery: &Delivery<S, Q>,
    options: ReplayOptions,
    mut on_object: impl FnMut(&str, &Replayed),
) -> Result<(), OperatorError> {
    let listed = list_quarantine(s3, bucket, options.since_ms).await?;
    let mut outcomes = futures_util::stream::iter(listed)
        .map(|entry| async move {
            let outcome = replay_one(s3, bucket, &entry.key, verifiers, delivery, options).await;
            (entry.key, outcome)
        })
        .buffer_unordered(CONCURRENCY);
    while let Some((key, outcome)) = outcomes.next().await {
        on_object(&key, &outcome);
    }
    Ok(())
}

async fn replay_one<S: ObjectStore, Q: EventQueue>(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    verifiers: &[WebhookVerifier],
    delivery: &Delivery<S, Q>,
    options: ReplayOptions,
) -> Replayed {
    let QuarantinedDelivery { kept, body, .. } = match read_delivery(s3, bucket, key).await {
        Ok(read) => read,
        Err(error) => return Replayed::Kept(error.one_line()),
    };
    // A delivery kept before delivery ids existed is named by its object.
    let delivery_id = match kept.delivery_id.as_str() {
        "" => key_safe_id(key.rsplit('/').next().unwrap_or(key)),
        id => id.to_owned(),
    };
    let webhook = match verified(
        kept.headers(),
        body,
        kept.received_ms,
        verifiers,
        delivery_id,
    ) {
        Ok(webhook) => webhook,
        Err(reason) => return Replayed::Kept(reason),
    };
    let mut summary = Summary::default();
    // The window is checked against the time the relay received it, unless the operator
    // accepts what came too late.
    let window = if options.accept_stale {
        0
    } else {
        delivery.settings().replay_window_seconds
    };
    let planned = match plan(&webhook, window, &mut summary) {
        Ok(planned) => planned,
        Err(rejection) => return Replayed::Kept(rejection.code().to_owned()),
    };
    if options.dry_run {
        return Replayed::WouldDeliver(match planned {
            Planned::Thumbnail => "thumbnail",
            Planned::Event(_) => "event",
        });
    }
    let deadline = Deadline::after(DEFAULT_BUDGET);
    match deliver_planned(
        delivery,
        webhook,
        planned,
        &mut summary,
        "quarantine-replay",
        &deadline,
    )
    .await
    {
        Ok(accepted) => match s3.delete_object().bucket(bucket).key(key).send().await {
            Ok(_) => Replayed::Delivered(accepted),
            Err(e) => Replayed::Kept(format!(
                "{} but not deleted (a rerun replays it again): {}",
                accepted.status_word(),
                DisplayErrorContext(&e)
            )),
        },
        Err(rejection) => Replayed::Kept(match rejection.status().as_u16() {
            500.. => format!("not delivered: {rejection}"),
            _ => rejection.code().to_owned(),
        }),
    }
}

/// The kept delivery as a verified webhook, if one of `verifiers` matches its signature (the
/// webhook whose secret it is becomes the delivery's).
fn verified<'a>(
    headers: crate::relay::quarantine::DeliveryHeaders<'a>,
    body: Vec<u8>,
    received_ms: Option<i64>,
    verifiers: &[WebhookVerifier],
    delivery_id: String,
) -> Result<VerifiedWebhook<'a>, String> {
    let signature = Signature::parse(headers.signature.as_bytes())
        .map_err(|_| "no well-formed signature kept".to_owned())?;
    let webhook_id = verifiers
        .iter()
        .find(|webhook| webhook.verifier.verify(&body, &signature).is_ok())
        .map(|webhook| webhook.id)
        .ok_or_else(|| "invalid_signature (no given secret matches)".to_owned())?;
    let received_ms = received_ms.ok_or_else(|| "no receive time kept".to_owned())?;
    Ok(VerifiedWebhook {
        body,
        headers,
        received_ms,
        webhook_id,
        delivery_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use millicast_webhooks::ThumbnailHeaders;
    use millicast_webhooks::signature::sign;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn headers(signature: &str) -> crate::relay::quarantine::DeliveryHeaders<'_> {
        crate::relay::quarantine::DeliveryHeaders {
            signature,
            webhook_id: None,
            content_type: Some("application/json"),
            thumbnail: ThumbnailHeaders::default(),
        }
    }

    fn verifier(id: Option<i64>, secret: &[u8]) -> WebhookVerifier {
        WebhookVerifier {
            id,
            verifier: millicast_webhooks::SignatureVerifier::new(secret, None),
        }
    }

    #[test]
    fn only_a_matching_secret_makes_a_kept_delivery_verified() {
        let body = b"{}".to_vec();
        let good = sign(SECRET, &body);
        let verifier = verifier(Some(7), SECRET);
        let other = self::verifier(Some(3), b"other");
        let replayed = verified(
            headers(&good),
            body.clone(),
            Some(1),
            &[other.clone(), verifier.clone()],
            "d".into(),
        )
        .unwrap();
        assert_eq!(
            replayed.webhook_id,
            Some(7),
            "the webhook whose secret matched"
        );
        assert!(verified(headers(&good), body.clone(), Some(1), &[other], "d".into()).is_err());
        assert!(verified(headers(&good), body.clone(), Some(1), &[], "d".into()).is_err());
        assert!(
            verified(
                headers("sha1=zz"),
                body.clone(),
                Some(1),
                std::slice::from_ref(&verifier),
                "d".into(),
            )
            .is_err()
        );
        assert!(verified(headers(&good), body, None, &[verifier], "d".into()).is_err());
    }
}
