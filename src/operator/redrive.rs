//! Moving spilled events from S3 `undelivered/` back onto the queue (`relayctl redrive`).
//!
//! Each object is sent with the attributes the relay would have set, and deleted only after
//! the send succeeded. An object whose delete failed is sent again by the next run: a FIFO
//! queue drops that copy within its 5-minute deduplication window (deduplication id = body
//! sha256); otherwise, and on a standard queue, a consumer may see the event twice.

use aws_sdk_s3::error::DisplayErrorContext;

use crate::contract::Message;
use crate::ports::{EventQueue, IoError};
use crate::relay::keys::UNDELIVERED_PREFIX;
use crate::relay::message::{QueueMessage, claim_check_attribute};
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

/// Redrives every object under `undelivered/` in `bucket`; `on_object` sees each outcome.
pub async fn redrive_bucket<Q: EventQueue>(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    queue: &Q,
    fifo: bool,
    dry_run: bool,
    mut on_object: impl FnMut(&str, &Redriven),
) -> Result<(), IoError> {
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(UNDELIVERED_PREFIX)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| IoError(format!("s3 ListObjectsV2: {}", DisplayErrorContext(&e))))?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            let outcome = redrive_object(s3, bucket, key, queue, fifo, dry_run).await;
            on_object(key, &outcome);
        }
    }
    Ok(())
}

async fn redrive_object<Q: EventQueue>(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    queue: &Q,
    fifo: bool,
    dry_run: bool,
) -> Redriven {
    let object = match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(object) => object,
        Err(e) => return Redriven::Kept(format!("s3 GetObject: {}", DisplayErrorContext(&e))),
    };
    let signature = object.metadata().and_then(|m| m.get("signature")).cloned();
    let bytes = match object.body.collect().await {
        Ok(data) => data.into_bytes().to_vec(),
        Err(e) => return Redriven::Kept(format!("reading the object: {e}")),
    };
    let message = match spilled_message(bytes, signature.as_deref(), fifo) {
        Ok(message) => message,
        Err(reason) => return Redriven::Kept(reason),
    };
    if dry_run {
        return Redriven::WouldSend;
    }
    if let Err(IoError(e)) = queue.send(&message).await {
        return Redriven::Kept(e);
    }
    match s3.delete_object().bucket(bucket).key(key).send().await {
        Ok(_) => Redriven::Sent,
        Err(e) => Redriven::Kept(format!(
            "sent, but not deleted (a rerun sends it again): {}",
            DisplayErrorContext(&e)
        )),
    }
}

/// The queue message for a spilled body: the same body and attributes the relay builds.
pub fn spilled_message(
    body: Vec<u8>,
    signature: Option<&str>,
    fifo: bool,
) -> Result<QueueMessage, String> {
    let envelope = Envelope::parse(&body).map_err(|_| "not a webhook envelope".to_owned())?;
    let pointer = matches!(Message::parse(&body), Ok(Message::ClaimCheck { .. }));
    let body = String::from_utf8(body).map_err(|_| "not UTF-8".to_owned())?;
    let mut message = QueueMessage::for_event(&envelope, body, signature, fifo);
    if pointer {
        message.attributes.push(claim_check_attribute());
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::message::AttributeValue;

    #[test]
    fn spilled_event_gets_the_relays_attributes_back() {
        let body = r#"{"type":"feeds","event":"started","timestamp":5,"data":{"streamId":"a/b"}}"#;
        let envelope = Envelope::parse(body.as_bytes()).unwrap();
        let original = QueueMessage::for_event(&envelope, body.into(), Some("sha1=ab"), true);
        let rebuilt = spilled_message(body.as_bytes().to_vec(), Some("sha1=ab"), true).unwrap();
        assert_eq!(rebuilt, original);
    }

    #[test]
    fn spilled_pointer_keeps_its_claim_check_attribute() {
        let pointer = r#"{"type":"media","event":"completed","timestamp":5,"claimCheck":{"bucket":"b","key":"events/oversize/x.json","size":9,"sha256":"x"}}"#;
        let message = spilled_message(pointer.as_bytes().to_vec(), Some("sha1=ab"), false).unwrap();
        assert_eq!(
            message.attribute("claimCheck"),
            Some(&AttributeValue::String("true".into()))
        );
        assert_eq!(message.body, pointer);
    }

    #[test]
    fn garbage_is_kept_not_sent() {
        assert!(spilled_message(b"[1]".to_vec(), None, false).is_err());
    }
}
