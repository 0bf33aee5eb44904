//! Moving spilled events from S3 `undelivered/` back onto the queue (`relayctl redrive`).
//!
//! Each object is sent with the attributes the relay would have set — its signature, webhook
//! and idempotency key from the spill's metadata — and deleted only after the send succeeded.
//! An object whose delete failed is sent again by the next run, with the same idempotency key:
//! a FIFO queue drops that copy within its 5-minute deduplication window; otherwise a consumer
//! sees it twice and tells by the key.

use std::collections::HashMap;

use aws_sdk_s3::error::DisplayErrorContext;

use crate::contract::Message;
use crate::operator::error::OperatorError;
use crate::ports::{EventBus, EventQueue, IoError};
use crate::relay::bus::bus_event;
use crate::relay::keys::{UNDELIVERED_BUS_PREFIX, UNDELIVERED_PREFIX};
use crate::relay::message::{
    ClaimCheck, Provenance, QueueMessage, claim_check_attribute, idempotency_key, sha256_hex,
    sqs_accepts_body,
};
use millicast_webhooks::Envelope;

/// What happened to one spilled object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redriven {
    /// Sent and deleted.
    Sent,
    /// `--dry-run`: would be sent.
    WouldSend,
    /// Left in place: the reason.
    Kept(String),
}

/// Redrives every object under `undelivered/` in `bucket`; `on_object` sees each outcome. With
/// the queue's `MaximumMessageSize` known (`max_message_bytes`), a message over it is kept with
/// that reason rather than refused by SQS.
pub async fn redrive_bucket<Q: EventQueue>(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    queue: &Q,
    fifo: bool,
    dry_run: bool,
    max_message_bytes: Option<usize>,
    on_object: impl FnMut(&str, &Redriven),
) -> Result<(), OperatorError> {
    let send = |message: QueueMessage| async move { queue.send(&message).await };
    redrive_prefix(
        s3,
        bucket,
        UNDELIVERED_PREFIX,
        (fifo, max_message_bytes),
        dry_run,
        send,
        on_object,
    )
    .await
}

/// Puts the copies the event bus did not take (under `undelivered-bus/`) on `bus`, each as the
/// relay would have put it, deleting each once put.
pub async fn redrive_bus(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    bus: &dyn EventBus,
    dry_run: bool,
    on_object: impl FnMut(&str, &Redriven),
) -> Result<(), OperatorError> {
    let put = |message: QueueMessage| async move { bus.put(&bus_event(&message)).await };
    redrive_prefix(
        s3,
        bucket,
        UNDELIVERED_BUS_PREFIX,
        (false, None),
        dry_run,
        put,
        on_object,
    )
    .await
}

/// Rebuilds each object under `prefix` (with `(fifo, max_message_bytes)`), hands it to `send`,
/// and deletes it once sent.
async fn redrive_prefix<F, Fut>(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    (fifo, max_message_bytes): (bool, Option<usize>),
    dry_run: bool,
    send: F,
    mut on_object: impl FnMut(&str, &Redriven),
) -> Result<(), OperatorError>
where
    F: Fn(QueueMessage) -> Fut,
    Fut: std::future::Future<Output = Result<(), IoError>>,
{
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| OperatorError::aws("s3 ListObjectsV2", e))?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            let outcome = match rebuild(s3, bucket, key, fifo, max_message_bytes).await {
                Err(reason) => Redriven::Kept(reason),
                Ok(_) if dry_run => Redriven::WouldSend,
                Ok(message) => match send(message).await {
                    Err(IoError(e)) => Redriven::Kept(e),
                    Ok(()) => delete(s3, bucket, key).await,
                },
            };
            on_object(key, &outcome);
        }
    }
    Ok(())
}

/// The spills of `bucket` (the first `limit`) that redrive could not send as they are, each
/// with the reason — what `relayctl status` reports beside the count. (Inspected, unsendable.)
pub async fn unsendable_spills(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    fifo: bool,
    max_message_bytes: Option<usize>,
    limit: i32,
) -> Result<(usize, Vec<(String, String)>), OperatorError> {
    let listing = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(UNDELIVERED_PREFIX)
        .max_keys(limit)
        .send()
        .await
        .map_err(|e| OperatorError::aws("s3 ListObjectsV2", e))?;
    let mut unsendable = Vec::new();
    let keys: Vec<&str> = listing.contents().iter().filter_map(|o| o.key()).collect();
    for key in &keys {
        if let Err(reason) = rebuild(s3, bucket, key, fifo, max_message_bytes).await {
            unsendable.push(((*key).to_owned(), reason));
        }
    }
    Ok((keys.len(), unsendable))
}

/// The message a spill is sent as, or why it cannot be: unreadable, not an envelope, a
/// pointer whose body is gone, or (with the queue's limit known) more than SQS takes.
async fn rebuild(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    fifo: bool,
    max_message_bytes: Option<usize>,
) -> Result<QueueMessage, String> {
    let (bytes, metadata) = read_object(s3, bucket, key)
        .await
        .map_err(|e| e.one_line())?;
    let spill = Spill {
        key,
        signature: metadata.get("signature").map(String::as_str),
        webhook_id: metadata.get("webhook-id").and_then(|id| id.parse().ok()),
        idempotency_key: metadata.get("idempotency-key").map(String::as_str),
        stream_id: metadata.get("stream-id").map(String::as_str),
        stream_key: metadata.get("stream-key").map(String::as_str),
    };
    // A spilled claim-check pointer is rebuilt from the body it points to, which names the
    // stream (the pointer does not, and the spill's metadata does not copy it).
    let claimed = match Message::parse(&bytes) {
        Ok(Message::ClaimCheck { pointer, .. }) => {
            match read_object(s3, &pointer.bucket, &pointer.key).await {
                Ok((body, _)) => Some(body),
                // An older relay kept the stream in the spill's metadata: it is enough.
                Err(_) if spill.stream_id.is_some() || spill.stream_key.is_some() => None,
                Err(reason) => {
                    return Err(format!(
                        "a claim-check pointer whose object cannot be read: {}",
                        reason.one_line()
                    ));
                }
            }
        }
        _ => None,
    };
    let message = spilled_message(bytes, &spill, fifo, claimed)?;
    if !sqs_accepts_body(&message.body) {
        return Err("the body holds characters SQS refuses".into());
    }
    match max_message_bytes {
        Some(limit) if message.size() > limit => Err(format!(
            "{} bytes with attributes, over the queue's MaximumMessageSize ({limit})",
            message.size()
        )),
        _ => Ok(message),
    }
}

/// Deletes a spill once its message is sent.
async fn delete(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Redriven {
    match s3.delete_object().bucket(bucket).key(key).send().await {
        Ok(_) => Redriven::Sent,
        Err(e) => Redriven::Kept(format!(
            "sent, but not deleted (a rerun sends it again): {}",
            DisplayErrorContext(&e)
        )),
    }
}

/// The queue's `MaximumMessageSize`, when it can be read.
pub async fn max_message_bytes(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Option<usize> {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::MaximumMessageSize)
        .send()
        .await
        .ok()?;
    attributes
        .attributes()?
        .get(&aws_sdk_sqs::types::QueueAttributeName::MaximumMessageSize)?
        .parse()
        .ok()
}

/// An object's body and user metadata (redrive's spills, replay's quarantine).
pub(crate) async fn read_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<(Vec<u8>, HashMap<String, String>), OperatorError> {
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| OperatorError::aws("s3 GetObject", e))?;
    let metadata = object.metadata().cloned().unwrap_or_default();
    let body = object
        .body
        .collect()
        .await
        .map_err(|e| OperatorError::io("reading the object", e))?
        .into_bytes()
        .to_vec();
    Ok((body, metadata))
}

/// What a spill keeps beside the body.
#[derive(Debug, Clone, Copy, Default)]
pub struct Spill<'a> {
    /// `undelivered/{date}/{timestampMs}-{deliveryId}.json`.
    pub key: &'a str,
    pub signature: Option<&'a str>,
    pub webhook_id: Option<i64>,
    pub idempotency_key: Option<&'a str>,
    /// The stream of a spilled claim-check pointer, as relays before the per-delivery keys
    /// copied it into the spill's metadata (the pointer's body names none).
    pub stream_id: Option<&'a str>,
    pub stream_key: Option<&'a str>,
}

/// The queue message for a spilled body: the same body and attributes the relay builds. A
/// spilled claim-check pointer is rebuilt from `claimed`, the body it points to (checked against
/// the pointer's sha256), as the relay built it; without it, from the stream an older relay kept
/// in the spill's metadata. A spill written before idempotency keys existed gets one from its
/// key's time and body hash, the same on every run.
pub fn spilled_message(
    body: Vec<u8>,
    spill: &Spill<'_>,
    fifo: bool,
    claimed: Option<Vec<u8>>,
) -> Result<QueueMessage, String> {
    let mut envelope = Envelope::parse(&body).map_err(|_| "not a webhook envelope".to_owned())?;
    let pointer = match Message::parse(&body) {
        Ok(Message::ClaimCheck { pointer, .. }) => Some(pointer),
        _ => None,
    };
    let idempotency_key = match spill.idempotency_key {
        Some(key) => key.to_owned(),
        None => {
            let name = spill.key.rsplit('/').next().unwrap_or_default();
            let time = name
                .split('-')
                .next()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            idempotency_key(spill.webhook_id, time, &sha256_hex(&body), "")
        }
    };
    let provenance = Provenance {
        signature: spill.signature.map(str::to_owned),
        webhook_id: spill.webhook_id,
        idempotency_key,
    };
    if let (Some(pointer), Some(claimed)) = (&pointer, claimed) {
        if sha256_hex(&claimed) != pointer.sha256 {
            return Err(format!(
                "s3://{}/{} does not hold the body its pointer names (sha256 differs)",
                pointer.bucket, pointer.key
            ));
        }
        let event_envelope = Envelope::parse(&claimed)
            .map_err(|_| "the claim-check object is not a webhook envelope".to_owned())?;
        let event_body = String::from_utf8(claimed)
            .map_err(|_| "the claim-check object is not UTF-8".to_owned())?;
        let event = QueueMessage::for_event(&event_envelope, event_body, &provenance, fifo);
        return Ok(QueueMessage::claim_check(
            &event,
            &event_envelope,
            &ClaimCheck {
                bucket: &pointer.bucket,
                key: &pointer.key,
                size: usize::try_from(pointer.size).unwrap_or(usize::MAX),
                sha256_hex: &pointer.sha256,
            },
        ));
    }
    if pointer.is_some() {
        // The event's stream, as an older relay kept it beside the spilled pointer.
        envelope.stream_id = spill.stream_id.map(str::to_owned);
        envelope.stream_name = spill.stream_key.map(str::to_owned);
    }
    let body = String::from_utf8(body).map_err(|_| "not UTF-8".to_owned())?;
    let mut message = QueueMessage::for_event(&envelope, body, &provenance, fifo);
    if pointer.is_some() {
        message.attributes.push(claim_check_attribute());
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::message::AttributeValue;

    const KEY: &str = "undelivered/2021/12/02/5-ab.json";

    #[test]
    fn spilled_event_gets_the_relays_attributes_back() {
        let body = r#"{"type":"feeds","event":"started","timestamp":5,"data":{"streamId":"a/b"}}"#;
        let envelope = Envelope::parse(body.as_bytes()).unwrap();
        let provenance = Provenance {
            signature: Some("sha1=ab".into()),
            webhook_id: Some(3),
            idempotency_key: "k".repeat(32),
        };
        let original = QueueMessage::for_event(&envelope, body.into(), &provenance, true);
        let spill = Spill {
            key: KEY,
            signature: Some("sha1=ab"),
            webhook_id: Some(3),
            idempotency_key: Some(&provenance.idempotency_key),
            ..Spill::default()
        };
        let rebuilt = spilled_message(body.as_bytes().to_vec(), &spill, true, None).unwrap();
        assert_eq!(rebuilt, original);
    }

    #[test]
    fn an_old_spill_gets_the_same_idempotency_key_on_every_run() {
        let body = r#"{"type":"feeds","event":"started","timestamp":5}"#;
        let spill = Spill {
            key: KEY,
            ..Spill::default()
        };
        let first = spilled_message(body.as_bytes().to_vec(), &spill, false, None).unwrap();
        let again = spilled_message(body.as_bytes().to_vec(), &spill, false, None).unwrap();
        assert_eq!(first.idempotency_key(), again.idempotency_key());
        assert_eq!(first.idempotency_key().map(str::len), Some(32));
    }

    #[test]
    fn a_spilled_pointer_is_rebuilt_from_the_body_it_points_to() {
        let stream = format!("acct/{}", "c".repeat(1000));
        let event = format!(
            r#"{{"type":"media","event":"completed","timestamp":5,"data":{{"streamId":"{stream}","streamName":"{}"}}}}"#,
            "c".repeat(1000)
        );
        let provenance = Provenance {
            signature: Some("sha1=ab".into()),
            webhook_id: Some(2),
            idempotency_key: "k".repeat(32),
        };
        let envelope = Envelope::parse(event.as_bytes()).unwrap();
        let message = QueueMessage::for_event(&envelope, event.clone(), &provenance, true);
        let sha256 = sha256_hex(event.as_bytes());
        let claim = ClaimCheck {
            bucket: "b",
            key: "events/oversize/r-1.json",
            size: event.len(),
            sha256_hex: &sha256,
        };
        let pointer = QueueMessage::claim_check(&message, &envelope, &claim);
        // What the relay's spill keeps beside the pointer (delivery.rs): no stream.
        let spill = Spill {
            key: KEY,
            signature: None,
            webhook_id: Some(2),
            idempotency_key: Some(&provenance.idempotency_key),
            ..Spill::default()
        };
        let rebuilt = spilled_message(
            pointer.body.as_bytes().to_vec(),
            &spill,
            true,
            Some(event.clone().into_bytes()),
        )
        .unwrap();
        assert_eq!(rebuilt, pointer);
        assert!(rebuilt.attribute("streamId").is_some());
        // A body that is not the one pointed to is refused, not sent with wrong attributes.
        let other = spilled_message(
            pointer.body.as_bytes().to_vec(),
            &spill,
            true,
            Some(b"{\"type\":\"x\"}".to_vec()),
        );
        assert!(other.unwrap_err().contains("sha256 differs"));
    }

    #[test]
    fn a_pointer_spilled_by_an_older_relay_is_sent_as_the_relay_sent_it() {
        let event =
            r#"{"type":"media","event":"completed","timestamp":5,"data":{"streamId":"acct/cam"}}"#;
        let provenance = Provenance {
            signature: Some("sha1=ab".into()),
            webhook_id: Some(2),
            idempotency_key: "k".repeat(32),
        };
        let event = QueueMessage::for_event(
            &Envelope::parse(event.as_bytes()).unwrap(),
            event.into(),
            &provenance,
            true,
        );
        let claim = crate::relay::message::ClaimCheck {
            bucket: "b",
            key: "events/oversize/x.json",
            size: 9,
            sha256_hex: "x",
        };
        let pointer = QueueMessage::claim_check(
            &event,
            &Envelope::parse(event.body.as_bytes()).unwrap(),
            &claim,
        );
        // What an older relay's spill kept beside the pointer.
        let spill = Spill {
            key: KEY,
            signature: None,
            webhook_id: Some(2),
            idempotency_key: Some(&provenance.idempotency_key),
            stream_id: Some("acct/cam"),
            stream_key: Some("cam"),
        };
        let rebuilt =
            spilled_message(pointer.body.as_bytes().to_vec(), &spill, true, None).unwrap();
        assert_eq!(rebuilt, pointer);
    }

    #[test]
    fn spilled_pointer_keeps_its_claim_check_attribute() {
        let pointer = r#"{"type":"media","event":"completed","timestamp":5,"claimCheck":{"bucket":"b","key":"events/oversize/x.json","size":9,"sha256":"x"}}"#;
        let spill = Spill {
            key: KEY,
            ..Spill::default()
        };
        let message = spilled_message(pointer.as_bytes().to_vec(), &spill, false, None).unwrap();
        assert_eq!(
            message.attribute("claimCheck"),
            Some(&AttributeValue::String("true".into()))
        );
        assert_eq!(message.signature(), None);
        assert_eq!(message.body, pointer);
    }

    #[test]
    fn garbage_is_kept_not_sent() {
        assert!(spilled_message(b"[1]".to_vec(), &Spill::default(), false, None).is_err());
    }
}
