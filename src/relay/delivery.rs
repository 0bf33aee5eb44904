//! Making a verified delivery durable (docs/architecture.md, "The durability ladder"): thumbnails to S3, events to SQS — by claim check when too large, spilled
//! to S3 `undelivered/` when SQS fails, logged whole when S3 fails too.
//!
//! The Lambda and `relayctl quarantine replay` both deliver through [`Delivery`], so a replayed
//! delivery takes exactly the relay's own paths.

use bytes::Bytes;
use lambda_http::http::StatusCode;
use lambda_http::tracing::warn;
use lambda_http::{Body, Response};

use crate::ports::{EventQueue, IoError, ObjectPut, ObjectStore, PutCondition, PutOutcome};
use crate::relay::clock::{now_ms, rfc3339_ms};
use crate::relay::config::PathSettings;
use crate::relay::error::{RelayError, json_response};
use crate::relay::keys::{claim_check_key, undelivered_key};
use crate::relay::message::{
    AttributeValue, ClaimCheck, Provenance, QueueMessage, idempotency_key, sha256_hex,
    sqs_accepts_body,
};
use crate::relay::metrics::{LogSink, Summary, stdout_sink};
use crate::relay::thumbnail::ThumbnailPlan;
use millicast_webhooks::Envelope;
use millicast_webhooks::ThumbnailHeaders;

/// What a verified delivery became.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// The event is on the queue.
    Forwarded,
    /// The body is in S3 and a pointer to it is on the queue.
    ClaimChecked,
    /// SQS failed; the event is in S3 under `undelivered/` for `relayctl redrive`.
    Spilled,
    /// The thumbnail is in S3.
    Stored,
    /// The same thumbnail (same key, hence same bytes) was already stored.
    Duplicate,
}

impl Accepted {
    pub fn status_word(self) -> &'static str {
        match self {
            Self::Forwarded => "forwarded",
            Self::ClaimChecked => "claim_checked",
            Self::Spilled => "spilled",
            Self::Stored => "stored",
            Self::Duplicate => "duplicate",
        }
    }

    pub fn to_response(self) -> Response<Body> {
        json_response(
            StatusCode::OK,
            format!(r#"{{"status":"{}"}}"#, self.status_word()),
        )
    }
}

/// The Content-Type an image is stored with. The header is not signed, so only plain raster
/// types are kept (an `image/svg+xml` label could make a replayed body active content).
pub fn stored_content_type(header: Option<&str>) -> String {
    const RASTER: [&str; 5] = [
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/gif",
        "image/avif",
    ];
    let media_type = header
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if RASTER.contains(&media_type.as_str()) {
        media_type
    } else {
        "application/octet-stream".to_owned()
    }
}

/// Printable ASCII, bounded: fit for S3 metadata.
fn metadata_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(512)
        .collect()
}

/// The ERROR record of an event that neither SQS nor S3 accepted: it carries the whole body,
/// its attributes and the signature, so the event can be recovered from the logs.
pub fn lost_event_line(
    message: &QueueMessage,
    request_id: &str,
    errors: &[(&str, &str)],
) -> String {
    let attributes: serde_json::Map<String, serde_json::Value> = message
        .attributes
        .iter()
        .map(|(name, value)| {
            let text = match value {
                AttributeValue::String(v) | AttributeValue::Number(v) => v,
            };
            ((*name).to_owned(), text.clone().into())
        })
        .collect();
    let mut line = serde_json::json!({
        "level": "ERROR",
        // With an RFC 3339 `timestamp`, Lambda's JSON log format files the record at its own
        // level: kept even when ApplicationLogLevel is raised to WARN or ERROR.
        "timestamp": rfc3339_ms(now_ms()),
        "message": "event lost: neither SQS nor S3 accepted it; recover it from this record",
        "requestId": request_id,
        "body": message.body,
        "attributes": attributes,
    });
    for (name, error) in errors {
        line[*name] = (*error).into();
    }
    line.to_string()
}

/// The durable paths over an object store and an event queue.
pub struct Delivery<S, Q> {
    settings: PathSettings,
    store: S,
    queue: Q,
    log: LogSink,
}

impl<S, Q> std::fmt::Debug for Delivery<S, Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl<S: ObjectStore, Q: EventQueue> Delivery<S, Q> {
    pub fn new(settings: PathSettings, store: S, queue: Q) -> Self {
        Self {
            settings,
            store,
            queue,
            log: stdout_sink(),
        }
    }

    /// Where ERROR records of lost events go (standard output by default).
    pub fn with_log_sink(mut self, sink: LogSink) -> Self {
        self.log = sink;
        self
    }

    pub fn settings(&self) -> &PathSettings {
        &self.settings
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn queue(&self) -> &Q {
        &self.queue
    }

    /// Puts a verified event on the queue (by claim check when it does not fit), spilling to
    /// S3 when SQS fails. `received_ms` dates a spill.
    pub async fn forward_event(
        &self,
        envelope: &Envelope,
        body: String,
        provenance: &Provenance,
        received_ms: i64,
        summary: &mut Summary,
        request_id: &str,
    ) -> Result<Accepted, RelayError> {
        let fifo = self.settings.fifo;
        let message = QueueMessage::for_event(envelope, body, provenance, fifo);
        let fits = message.size() <= self.settings.sqs_max_message_bytes
            && sqs_accepts_body(&message.body);
        if fits {
            return self
                .deliver(&message, envelope.timestamp_ms, received_ms, request_id)
                .await;
        }

        let sha256 = sha256_hex(message.body.as_bytes());
        let key = claim_check_key(&sha256);
        let mut metadata = provenance_metadata(&message);
        if let Some(signature) = &provenance.signature {
            // The pointer message no longer carries the signature: the body keeps it.
            metadata.push(("signature", signature.clone()));
        }
        let stored = self
            .store
            .put(ObjectPut {
                key: key.clone(),
                body: Bytes::from(message.body.clone()),
                content_type: "application/json".into(),
                metadata,
                condition: PutCondition::IfAbsent,
            })
            .await;
        if let Err(IoError(cause)) = stored {
            (self.log)(&lost_event_line(
                &message,
                request_id,
                &[("s3Error", &cause)],
            ));
            return Err(RelayError::EventNotDelivered(cause));
        }
        summary.key = Some(key.clone());
        let pointer = ClaimCheck {
            bucket: self.store.bucket(),
            key: &key,
            size: message.body.len(),
            sha256_hex: &sha256,
        };
        let pointer_message = QueueMessage::claim_check(&message, envelope, &pointer);
        match self
            .deliver(
                &pointer_message,
                envelope.timestamp_ms,
                received_ms,
                request_id,
            )
            .await?
        {
            Accepted::Forwarded => Ok(Accepted::ClaimChecked),
            other => Ok(other),
        }
    }

    /// Sends to SQS; when that fails, spills the message body to S3 `undelivered/` with what
    /// `relayctl redrive` needs to send it as it was (signature, webhook, idempotency key).
    /// Fails only when both fail, after logging the whole body so it can be recovered.
    async fn deliver(
        &self,
        message: &QueueMessage,
        timestamp_ms: Option<i64>,
        received_ms: i64,
        request_id: &str,
    ) -> Result<Accepted, RelayError> {
        let Err(IoError(queue_error)) = self.queue.send(message).await else {
            return Ok(Accepted::Forwarded);
        };
        let key = undelivered_key(
            received_ms,
            timestamp_ms.unwrap_or(received_ms),
            &sha256_hex(message.body.as_bytes()),
        );
        let mut metadata = vec![("error", metadata_text(&queue_error))];
        if let Some(signature) = message.signature() {
            metadata.push(("signature", signature.to_owned()));
        }
        metadata.extend(provenance_metadata(message));
        let spill = ObjectPut {
            key: key.clone(),
            body: Bytes::from(message.body.clone()),
            content_type: "application/json".into(),
            metadata,
            condition: PutCondition::IfAbsent,
        };
        match self.store.put(spill).await {
            Ok(_) => {
                warn!(key, cause = queue_error, "SQS failed: event spilled to S3");
                Ok(Accepted::Spilled)
            }
            Err(IoError(store_error)) => {
                (self.log)(&lost_event_line(
                    message,
                    request_id,
                    &[("sqsError", &queue_error), ("s3Error", &store_error)],
                ));
                Err(RelayError::EventNotDelivered(format!(
                    "sqs: {queue_error}; s3: {store_error}"
                )))
            }
        }
    }

    /// Stores a verified thumbnail under its content-addressed key (never overwriting), makes
    /// it `latest.jpg` if it is the newest, and announces it on the queue. `received_ms` stands
    /// in for a missing or invalid timestamp header.
    #[allow(clippy::too_many_arguments)]
    pub async fn store_thumbnail(
        &self,
        headers: &ThumbnailHeaders<'_>,
        content_type: Option<&str>,
        image: Vec<u8>,
        webhook_id: Option<i64>,
        received_ms: i64,
        summary: &mut Summary,
        request_id: &str,
    ) -> Result<Accepted, RelayError> {
        summary.kind = Some("thumbnail".into());
        let plan = ThumbnailPlan::new(
            &self.settings.thumbnail_prefix,
            headers,
            &image,
            u64::try_from(received_ms).unwrap_or(0),
        );
        summary.key = Some(plan.key.clone());
        let content_type = stored_content_type(content_type);
        let size = image.len();
        let object = ObjectPut {
            key: plan.key.clone(),
            body: Bytes::from(image),
            content_type: content_type.clone(),
            metadata: plan.metadata.clone(),
            condition: PutCondition::IfAbsent,
        };
        // `latest.jpg` is written alongside, not after: it is a convenience copy, never the
        // durable one, and it only ever moves forward in capture time.
        let latest = self.settings.thumbnail_latest.then(|| ObjectPut {
            key: plan.latest_key.clone(),
            metadata: plan.latest_metadata(),
            condition: PutCondition::Always,
            ..object.clone()
        });
        let (stored, latest_result) = tokio::join!(self.store.put(object), async {
            match latest {
                Some(latest) => Some(self.update_latest(&plan, latest).await),
                None => None,
            }
        });
        if let Some(Err(cause)) = latest_result {
            warn!(key = plan.latest_key, cause, "latest.jpg not updated");
        }
        match stored.map_err(|IoError(cause)| RelayError::ThumbnailNotStored(cause))? {
            PutOutcome::ConditionFailed => Ok(Accepted::Duplicate),
            PutOutcome::Stored => {
                if self.settings.thumbnail_events {
                    let provenance = Provenance {
                        signature: None,
                        webhook_id,
                        idempotency_key: idempotency_key(webhook_id, received_ms, &plan.sha256_hex),
                    };
                    let announcement = QueueMessage::for_thumbnail(
                        plan.stored_event(self.store.bucket(), size, &content_type),
                        plan.timestamp_ms,
                        plan.stream_id.as_deref(),
                        plan.stream_name.as_deref(),
                        &provenance,
                        self.settings.fifo,
                    );
                    // The image is durable either way; a lost announcement was logged whole.
                    let _ = self
                        .deliver(
                            &announcement,
                            i64::try_from(plan.timestamp_ms).ok(),
                            received_ms,
                            request_id,
                        )
                        .await;
                }
                Ok(Accepted::Stored)
            }
        }
    }

    /// Makes `latest` the `latest.jpg` if no newer thumbnail (by capture time) is there:
    /// compare, then write only if the object compared is still the one there (`If-Match`),
    /// else compare again — so a late, duplicate or replayed thumbnail never replaces a newer
    /// one, even when instances write at once. A failed call ends it (the SDK has retried).
    async fn update_latest(&self, plan: &ThumbnailPlan, latest: ObjectPut) -> Result<(), String> {
        for _ in 0..LATEST_ATTEMPTS {
            let current = self
                .store
                .head(&latest.key)
                .await
                .map_err(|IoError(cause)| cause)?;
            let condition = match current {
                None => PutCondition::IfAbsent,
                Some(head) if plan.is_newer_than(&head) => PutCondition::IfMatch(head.etag),
                Some(_) => return Ok(()),
            };
            let attempt = ObjectPut {
                condition,
                ..latest.clone()
            };
            match self.store.put(attempt).await {
                Ok(PutOutcome::Stored) => return Ok(()),
                Ok(PutOutcome::ConditionFailed) => {
                    // Another writer won this round: let the writers of the same stream spread
                    // out before comparing again (each loser either wins later or finds a
                    // newer image there and stops).
                    tokio::time::sleep(latest_backoff(&plan.sha256_hex)).await;
                }
                Err(IoError(cause)) => return Err(cause),
            }
        }
        Err(format!(
            "changed by other writers {LATEST_ATTEMPTS} times in a row"
        ))
    }
}

/// Compare-and-write rounds of `latest.jpg` before giving up (only concurrent writers of the
/// same stream make a round fail; each round that fails lets one writer through).
const LATEST_ATTEMPTS: usize = 12;

/// 5–36 ms, different for each writer and each round: no two losers retry in step.
fn latest_backoff(image_sha256_hex: &str) -> std::time::Duration {
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    let image = image_sha256_hex
        .get(..8)
        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
        .unwrap_or(0);
    std::time::Duration::from_millis(5 + u64::from((clock ^ image) % 32))
}

/// What a spill or claim check keeps of a message for `relayctl redrive`: its provenance, and
/// the stream a claim-check pointer's body no longer names.
fn provenance_metadata(message: &QueueMessage) -> Vec<(&'static str, String)> {
    let mut metadata = Vec::with_capacity(4);
    if let Some(key) = message.idempotency_key() {
        metadata.push(("idempotency-key", key.to_owned()));
    }
    if let Some(id) = message.webhook_id() {
        metadata.push(("webhook-id", id.to_string()));
    }
    for (attribute, name) in [("streamId", "stream-id"), ("streamKey", "stream-key")] {
        if let Some(AttributeValue::String(value)) = message.attribute(attribute) {
            // S3 metadata is printable ASCII; a stream that is not stays out (as the relay
            // leaves unsendable attribute values out).
            if value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
                metadata.push((name, value.clone()));
            }
        }
    }
    metadata
}
