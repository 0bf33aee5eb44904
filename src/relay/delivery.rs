//! Making a verified delivery durable (docs/architecture.md, "The durability ladder"): thumbnails to S3, events to SQS — by claim check when too large, spilled
//! to S3 `undelivered/` when SQS fails, logged whole when S3 fails too.
//!
//! The Lambda and `relayctl quarantine replay` both deliver through [`Delivery`], so a replayed
//! delivery takes exactly the relay's own paths.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use lambda_http::http::StatusCode;
use lambda_http::tracing::warn;
use lambda_http::{Body, Response};

use crate::ports::{
    BusEvent, EventBus, EventQueue, IoError, ObjectPut, ObjectStore, PutCondition, PutOutcome,
};
use crate::relay::bus::{EVENTBRIDGE_ENTRY_LIMIT, bus_event, entry_size};
use crate::relay::clock::{now_ms, rfc3339_ms};
use crate::relay::config::PathSettings;
use crate::relay::deadline::{ANNOUNCEMENT_RESERVE, Deadline, SPILL_RESERVE};
use crate::relay::error::{RelayError, json_response};
use crate::relay::keys::{claim_check_key, undelivered_bus_key, undelivered_key};
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

/// The longest error text a spill keeps in its metadata (S3 allows 2 KB of user metadata in
/// all; see [`crate::ports::metadata_size`]).
pub const ERROR_TEXT_MAX: usize = 512;

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
        .take(ERROR_TEXT_MAX)
        .collect()
}

/// A message on its way out: its bus copy (with the bus on) and whether both outputs take it.
struct Outgoing<'m> {
    message: &'m QueueMessage,
    bus_event: Option<BusEvent>,
    fits: bool,
}

/// Who a delivery is and how long its steps may take: what every step of one delivery shares.
#[derive(Debug, Clone)]
pub struct DeliveryRun<'a> {
    /// The delivery's id: the Lambda request id of the invocation that received it. It names
    /// the objects the delivery leaves in S3 and goes into its idempotency key.
    pub delivery_id: &'a str,
    /// When the relay received the delivery (ms): it dates spills and stands in for a missing
    /// thumbnail capture time.
    pub received_ms: i64,
    /// The invocation that handles it now, for log records (`""` outside Lambda).
    pub request_id: &'a str,
    pub deadline: Deadline,
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

/// The durable paths over an object store and an event queue, and the optional event bus.
pub struct Delivery<S, Q> {
    settings: PathSettings,
    store: S,
    queue: Q,
    bus: Option<Arc<dyn EventBus>>,
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
            bus: None,
            log: stdout_sink(),
        }
    }

    /// Puts a copy of every queue message on `bus` too (EVENT_BUS_NAME): alongside the send,
    /// never in its way (see [`Self::deliver`]).
    pub fn with_bus(mut self, bus: Arc<dyn EventBus>) -> Self {
        self.bus = Some(bus);
        self
    }

    pub fn bus(&self) -> Option<&Arc<dyn EventBus>> {
        self.bus.as_ref()
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

    /// `message` with its bus copy (built once, with the bus on), and whether both outputs take
    /// it as it is: SQS within its size limit and character set (the attributes are cleaned
    /// when they are built), EventBridge within its entry limit. Both outputs get the same
    /// message, the event or its claim check.
    fn outgoing<'m>(&self, message: &'m QueueMessage) -> Outgoing<'m> {
        let bus_event = self.bus.as_ref().map(|_| bus_event(message));
        let fits = message.size() <= self.settings.sqs_max_message_bytes
            && sqs_accepts_body(&message.body)
            && bus_event
                .as_ref()
                .is_none_or(|event| entry_size(event) <= EVENTBRIDGE_ENTRY_LIMIT);
        Outgoing {
            message,
            bus_event,
            fits,
        }
    }

    /// Puts a verified event on the queue (by claim check when it does not fit), spilling to
    /// S3 when SQS fails.
    pub async fn forward_event(
        &self,
        envelope: &Envelope,
        body: String,
        provenance: &Provenance,
        run: &DeliveryRun<'_>,
        summary: &mut Summary,
    ) -> Result<Accepted, RelayError> {
        let fifo = self.settings.fifo;
        let message = QueueMessage::for_event(envelope, body, provenance, fifo);
        let outgoing = self.outgoing(&message);
        if outgoing.fits {
            return self
                .deliver(outgoing, envelope.timestamp_ms, run, summary)
                .await;
        }
        // Its bus copy is not what goes out (the pointer's is): free it before the S3 write.
        drop(outgoing);

        let sha256 = sha256_hex(message.body.as_bytes());
        let key = claim_check_key(run.delivery_id);
        let mut metadata = delivery_metadata(&message, run);
        if let Some(signature) = &provenance.signature {
            // The pointer message no longer carries the signature: the body keeps it.
            metadata.push(("signature", signature.clone()));
        }
        // The key is this delivery's: a failed condition is its own earlier write (an SDK
        // retry whose first answer was lost, or an earlier replay), as good as this one.
        let stored = run
            .deadline
            .run(
                "s3 PutObject (claim check)",
                ANNOUNCEMENT_RESERVE,
                self.store.put(ObjectPut {
                    key: key.clone(),
                    body: Bytes::from(message.body.clone()),
                    content_type: "application/json".into(),
                    metadata,
                    condition: PutCondition::IfAbsent,
                }),
            )
            .await;
        if let Err(IoError(cause)) = stored {
            (self.log)(&lost_event_line(
                &message,
                run.request_id,
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
                self.outgoing(&pointer_message),
                envelope.timestamp_ms,
                run,
                summary,
            )
            .await?
        {
            Accepted::Forwarded => Ok(Accepted::ClaimChecked),
            other => Ok(other),
        }
    }

    /// Sends to SQS; when that fails (or the message could never be sent as it is), spills the
    /// message body to S3 `undelivered/` with what `relayctl redrive` needs to send it as it
    /// was. Fails only when both fail, after logging the whole body so it can be recovered.
    ///
    /// With the bus on, its copy is put alongside the send, within the same allowance; the queue
    /// stays the delivery of record, so the bus never changes the answer. A copy the bus did not
    /// take is kept under `undelivered-bus/` for `relayctl redrive` (or, if S3 fails too, logged).
    async fn deliver(
        &self,
        outgoing: Outgoing<'_>,
        timestamp_ms: Option<i64>,
        run: &DeliveryRun<'_>,
        summary: &mut Summary,
    ) -> Result<Accepted, RelayError> {
        let Outgoing {
            message,
            bus_event,
            fits,
        } = outgoing;
        let send = async {
            if fits {
                run.deadline
                    .run("sqs SendMessage", SPILL_RESERVE, self.queue.send(message))
                    .await
            } else {
                Err(IoError(format!(
                    "not sent: {} bytes with attributes, over SQS_MAX_MESSAGE_BYTES ({}), or \
                     characters SQS refuses",
                    message.size(),
                    self.settings.sqs_max_message_bytes
                )))
            }
        };
        let put = async {
            let (bus, event) = self.bus.as_ref().zip(bus_event.as_ref())?;
            Some(
                run.deadline
                    .run("eventbridge PutEvents", SPILL_RESERVE, bus.put(event))
                    .await,
            )
        };
        let (sent, put) = tokio::join!(send, put);
        let (answer, bus) = tokio::join!(
            async {
                match sent {
                    Ok(()) => Ok(Accepted::Forwarded),
                    Err(IoError(queue_error)) => {
                        self.spill(message, timestamp_ms, run, &queue_error).await
                    }
                }
            },
            async {
                match put {
                    None => None,
                    Some(Ok(())) => Some("put"),
                    Some(Err(IoError(bus_error))) => Some(
                        self.keep_for_the_bus(message, timestamp_ms, run, &bus_error)
                            .await,
                    ),
                }
            }
        );
        // One delivery puts at most one copy on the bus (an announcement, or an event or its
        // pointer): the first outcome is the delivery's.
        if summary.bus.is_none() {
            summary.bus = bus;
        }
        answer
    }

    /// Writes the message body to `undelivered/` (the queue's spill).
    async fn spill(
        &self,
        message: &QueueMessage,
        timestamp_ms: Option<i64>,
        run: &DeliveryRun<'_>,
        queue_error: &str,
    ) -> Result<Accepted, RelayError> {
        let key = undelivered_key(
            run.received_ms,
            timestamp_ms.unwrap_or(run.received_ms),
            run.delivery_id,
        );
        match self
            .write_spill(
                message,
                key.clone(),
                queue_error,
                run,
                "s3 PutObject (spill)",
            )
            .await
        {
            Ok(()) => {
                warn!(key, cause = queue_error, "SQS failed: event spilled to S3");
                Ok(Accepted::Spilled)
            }
            Err(IoError(store_error)) => {
                (self.log)(&lost_event_line(
                    message,
                    run.request_id,
                    &[("sqsError", queue_error), ("s3Error", &store_error)],
                ));
                Err(RelayError::EventNotDelivered(format!(
                    "sqs: {queue_error}; s3: {store_error}"
                )))
            }
        }
    }

    /// Keeps the bus copy EventBridge did not take under `undelivered-bus/`: `kept`, or, when S3
    /// fails too, `lost` from the bus (logged whole; the queue has the event, or `undelivered/`).
    async fn keep_for_the_bus(
        &self,
        message: &QueueMessage,
        timestamp_ms: Option<i64>,
        run: &DeliveryRun<'_>,
        bus_error: &str,
    ) -> &'static str {
        let key = undelivered_bus_key(
            run.received_ms,
            timestamp_ms.unwrap_or(run.received_ms),
            run.delivery_id,
        );
        match self
            .write_spill(
                message,
                key.clone(),
                bus_error,
                run,
                "s3 PutObject (bus spill)",
            )
            .await
        {
            Ok(()) => {
                warn!(
                    key,
                    cause = bus_error,
                    "EventBridge failed: its copy kept in S3"
                );
                "kept"
            }
            Err(IoError(store_error)) => {
                (self.log)(&lost_event_line(
                    message,
                    run.request_id,
                    &[("busError", bus_error), ("s3Error", &store_error)],
                ));
                "lost"
            }
        }
    }

    /// Writes a message body with what redrive needs to send it as it was (this delivery's own
    /// key: a failed condition means it is already written).
    async fn write_spill(
        &self,
        message: &QueueMessage,
        key: String,
        error: &str,
        run: &DeliveryRun<'_>,
        what: &str,
    ) -> Result<(), IoError> {
        let mut metadata = vec![("error", metadata_text(error))];
        if let Some(signature) = message.signature() {
            metadata.push(("signature", signature.to_owned()));
        }
        metadata.extend(delivery_metadata(message, run));
        let spill = ObjectPut {
            key,
            body: Bytes::from(message.body.clone()),
            content_type: "application/json".into(),
            metadata,
            condition: PutCondition::IfAbsent,
        };
        run.deadline
            .run(what, Duration::ZERO, self.store.put(spill))
            .await
            .map(|_| ())
    }

    /// Stores a verified thumbnail under its content-addressed key (never overwriting),
    /// announces it on the queue, and makes it `latest.jpg` if it is the newest: best effort,
    /// alongside, within the deadline, never the reason for an error.
    pub async fn store_thumbnail(
        &self,
        headers: &ThumbnailHeaders<'_>,
        content_type: Option<&str>,
        image: Vec<u8>,
        webhook_id: Option<i64>,
        run: &DeliveryRun<'_>,
        summary: &mut Summary,
    ) -> Result<Accepted, RelayError> {
        summary.kind = Some("thumbnail".into());
        let plan = ThumbnailPlan::new(
            &self.settings.thumbnail_prefix,
            headers,
            &image,
            run.received_ms,
            webhook_id,
            run.delivery_id,
        )
        .map_err(|_| RelayError::InvalidThumbnailTimestamp)?;
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
        let latest =
            (self.settings.thumbnail_latest && plan.may_become_latest()).then(|| ObjectPut {
                key: plan.latest_key.clone(),
                metadata: plan.latest_metadata(),
                condition: PutCondition::Always,
                ..object.clone()
            });
        let stored_and_announced = async {
            let outcome = self.put_thumbnail(&plan, object, run).await?;
            if outcome == Accepted::Stored && self.settings.thumbnail_events {
                self.announce(&plan, size, &content_type, webhook_id, run, summary)
                    .await;
            }
            Ok(outcome)
        };
        // `latest.jpg` is written alongside, not after: it is a convenience copy, never the
        // durable one, and it only ever moves forward in capture time.
        let (outcome, latest_result) = tokio::join!(stored_and_announced, async {
            match latest {
                Some(latest) => Some(self.update_latest(&plan, latest, &run.deadline).await),
                None => None,
            }
        });
        if let Some(Err(cause)) = latest_result {
            warn!(key = plan.latest_key, cause, "latest.jpg not updated");
        }
        outcome
    }

    /// Writes the image if its key is free. A failed condition is told apart by what is there:
    /// this delivery's own earlier write — an SDK retry whose first answer was lost — is
    /// `Stored`; another delivery's identical image is a `Duplicate`.
    async fn put_thumbnail(
        &self,
        plan: &ThumbnailPlan,
        object: ObjectPut,
        run: &DeliveryRun<'_>,
    ) -> Result<Accepted, RelayError> {
        let reserve = if self.settings.thumbnail_events {
            ANNOUNCEMENT_RESERVE
        } else {
            Duration::ZERO
        };
        let written = run
            .deadline
            .run("s3 PutObject (thumbnail)", reserve, self.store.put(object))
            .await
            .map_err(|IoError(cause)| RelayError::ThumbnailNotStored(cause))?;
        if written == PutOutcome::Stored {
            return Ok(Accepted::Stored);
        }
        match run
            .deadline
            .run(
                "s3 HeadObject (thumbnail)",
                reserve,
                self.store.head(&plan.key),
            )
            .await
        {
            Ok(Some(head)) if !plan.is_own_object(&head) => Ok(Accepted::Duplicate),
            Ok(Some(_)) => {
                warn!(
                    key = plan.key,
                    "the key was taken by this delivery's own earlier attempt (its answer was \
                     lost): stored"
                );
                Ok(Accepted::Stored)
            }
            // The condition failed, so an object is there; whose cannot be read: announce it
            // rather than risk never announcing this delivery.
            Ok(None) | Err(_) => {
                warn!(
                    key = plan.key,
                    "the key was taken, by whom could not be read: counted as stored"
                );
                Ok(Accepted::Stored)
            }
        }
    }

    /// Puts the "thumbnail stored" announcement on the queue (or spills it). The image is
    /// durable either way; an announcement that is lost was logged whole.
    async fn announce(
        &self,
        plan: &ThumbnailPlan,
        size: usize,
        content_type: &str,
        webhook_id: Option<i64>,
        run: &DeliveryRun<'_>,
        summary: &mut Summary,
    ) {
        let provenance = Provenance {
            signature: None,
            webhook_id,
            idempotency_key: idempotency_key(
                webhook_id,
                run.received_ms,
                &plan.sha256_hex,
                run.delivery_id,
            ),
        };
        let announcement = QueueMessage::for_thumbnail(
            plan.stored_event(self.store.bucket(), size, content_type),
            plan.timestamp_ms,
            plan.stream_id.as_deref(),
            plan.stream_name.as_deref(),
            &provenance,
            self.settings.fifo,
        );
        let _ = self
            .deliver(
                self.outgoing(&announcement),
                i64::try_from(plan.timestamp_ms).ok(),
                run,
                summary,
            )
            .await;
    }

    /// Makes `latest` the `latest.jpg` if no newer thumbnail (by capture time) is there:
    /// compare, then write only if the object compared is still the one there (`If-Match`),
    /// else compare again — so a late, duplicate or replayed thumbnail never replaces a newer
    /// one, even when instances write at once. Rounds go on until one ends it or the deadline
    /// comes; a failed call ends it (the SDK has retried).
    async fn update_latest(
        &self,
        plan: &ThumbnailPlan,
        latest: ObjectPut,
        deadline: &Deadline,
    ) -> Result<(), String> {
        for _ in 0..LATEST_ROUNDS {
            let current = deadline
                .run(
                    "s3 HeadObject (latest.jpg)",
                    Duration::ZERO,
                    self.store.head(&latest.key),
                )
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
            match deadline
                .run(
                    "s3 PutObject (latest.jpg)",
                    Duration::ZERO,
                    self.store.put(attempt),
                )
                .await
            {
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
            "changed by other writers {LATEST_ROUNDS} times in a row"
        ))
    }
}

/// Compare-and-write rounds of `latest.jpg` at most: only writers of the same stream at the
/// same moment make a round fail, and each failed round lets one of them through; the deadline
/// ends it sooner when S3 is slow.
const LATEST_ROUNDS: usize = 32;

/// 5–36 ms, different for each writer and each round: no two losers retry in step.
fn latest_backoff(image_sha256_hex: &str) -> Duration {
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    let image = image_sha256_hex
        .get(..8)
        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
        .unwrap_or(0);
    Duration::from_millis(5 + u64::from((clock ^ image) % 32))
}

/// What a spill or claim check keeps of a message for `relayctl redrive`: who the delivery is
/// and its provenance. Nothing the body says itself (its stream) is copied: redrive reads it
/// from the body again, so the metadata stays within S3's 2 KB whatever the body holds.
fn delivery_metadata(message: &QueueMessage, run: &DeliveryRun<'_>) -> Vec<(&'static str, String)> {
    let mut metadata = Vec::with_capacity(4);
    if let Some(key) = message.idempotency_key() {
        metadata.push(("idempotency-key", key.to_owned()));
    }
    if let Some(id) = message.webhook_id() {
        metadata.push(("webhook-id", id.to_string()));
    }
    if !run.delivery_id.is_empty() {
        metadata.push(("delivery-id", run.delivery_id.to_owned()));
    }
    metadata
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::memory::{MemoryQueue, MemoryStore};
    use crate::ports::{S3_USER_METADATA_LIMIT, metadata_size};
    use crate::relay::quarantine::{DeliveryHeaders, QuarantineReason, quarantine_object};

    /// A queue that is down, with the longest error text an SDK might give.
    struct DownQueue;

    impl EventQueue for DownQueue {
        async fn send(&self, _: &QueueMessage) -> Result<(), IoError> {
            Err(IoError(format!("sqs SendMessage: {}", "é".repeat(5_000))))
        }
    }

    const DELIVERY_ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn run() -> DeliveryRun<'static> {
        DeliveryRun {
            delivery_id: DELIVERY_ID,
            received_ms: 1_638_463_546_489,
            request_id: "r",
            deadline: Deadline::after(Duration::from_secs(29)),
        }
    }

    fn settings(sqs_max: &str) -> PathSettings {
        PathSettings::from_lookup(
            |name| (name == "SQS_MAX_MESSAGE_BYTES").then(|| sqs_max.to_owned()),
            "https://sqs.example/1/q",
        )
        .unwrap()
    }

    /// An event whose stream names are as long as a body may make them.
    fn long_named_event() -> (Envelope, String) {
        let name = "n".repeat(1_000);
        let body = serde_json::json!({
            "type": "feeds", "event": "started", "timestamp": 1_638_463_546_000_i64,
            "data": {"name": name, "streamId": format!("{}/{name}", "a".repeat(1_000))}
        })
        .to_string();
        (Envelope::parse(body.as_bytes()).unwrap(), body)
    }

    fn provenance() -> Provenance {
        Provenance {
            signature: Some(format!("sha1={}", "f".repeat(40))),
            webhook_id: Some(i64::MIN),
            idempotency_key: "k".repeat(32),
        }
    }

    fn assert_within_the_limit(objects: &[ObjectPut]) {
        assert!(!objects.is_empty());
        for object in objects {
            let size = metadata_size(&object.metadata);
            assert!(
                size <= S3_USER_METADATA_LIMIT,
                "{}: {size} bytes of metadata",
                object.key
            );
        }
    }

    #[tokio::test]
    async fn a_spill_of_the_longest_stream_names_and_error_fits_s3s_metadata() {
        let delivery = Delivery::new(settings("262144"), MemoryStore::new("b"), DownQueue);
        let (envelope, body) = long_named_event();
        let mut summary = Summary::default();
        let accepted = delivery
            .forward_event(&envelope, body, &provenance(), &run(), &mut summary)
            .await;
        assert_eq!(accepted, Ok(Accepted::Spilled));
        let objects = delivery.store().objects();
        assert_within_the_limit(&objects);
        assert_eq!(
            objects[0].key,
            format!("undelivered/2021/12/02/1638463546000-{DELIVERY_ID}.json")
        );
    }

    #[tokio::test]
    async fn a_claim_check_and_its_spilled_pointer_fit_s3s_metadata() {
        // The body over the queue's limit, the queue down: a claim check, then its pointer spilled.
        let delivery = Delivery::new(settings("1024"), MemoryStore::new("b"), DownQueue);
        let (envelope, body) = long_named_event();
        let mut summary = Summary::default();
        let accepted = delivery
            .forward_event(&envelope, body, &provenance(), &run(), &mut summary)
            .await;
        assert_eq!(accepted, Ok(Accepted::Spilled));
        let objects = delivery.store().objects();
        assert_eq!(objects.len(), 2);
        assert_within_the_limit(&objects);
        assert_eq!(
            objects[0].key,
            format!("events/oversize/{DELIVERY_ID}.json")
        );
    }

    #[tokio::test]
    async fn a_thumbnail_and_latest_jpg_with_the_longest_headers_fit_s3s_metadata() {
        let delivery = Delivery::new(
            settings("262144"),
            MemoryStore::new("b"),
            MemoryQueue::default(),
        );
        let longest = "v".repeat(256); // the longest header value kept (thumbnail.rs)
        let stream_id = format!("{}/{}", "a".repeat(100), "s".repeat(155));
        let headers = ThumbnailHeaders {
            stream_id: Some(&stream_id),
            feed_id: Some(&longest),
            token_id: Some(&longest),
            // Outside the window: kept as claimed-timestamp, 19 digits.
            timestamp: Some("9223372036854775807"),
        };
        let mut summary = Summary::default();
        let accepted = delivery
            .store_thumbnail(
                &headers,
                Some("image/jpeg"),
                b"jpeg".to_vec(),
                Some(i64::MIN),
                &run(),
                &mut summary,
            )
            .await;
        assert_eq!(accepted, Ok(Accepted::Stored));
        // A capture time in the window makes a latest.jpg too.
        let headers = ThumbnailHeaders {
            timestamp: Some("1638463546000"),
            ..headers
        };
        let accepted = delivery
            .store_thumbnail(
                &headers,
                Some("image/jpeg"),
                b"jpeg 2".to_vec(),
                Some(i64::MIN),
                &run(),
                &mut summary,
            )
            .await;
        assert_eq!(accepted, Ok(Accepted::Stored));
        let objects = delivery.store().objects();
        assert_eq!(objects.len(), 3, "two images and latest.jpg");
        // The longest webhook id, on each of them.
        for object in &objects {
            assert!(
                object
                    .metadata
                    .contains(&("webhook-id", i64::MIN.to_string())),
                "{}",
                object.key
            );
        }
        assert_within_the_limit(&objects);
    }

    #[test]
    fn a_quarantine_object_with_every_header_at_its_longest_fits_s3s_metadata() {
        let longest = "v".repeat(256);
        let headers = DeliveryHeaders {
            signature: &longest,
            webhook_id: Some(i64::MIN),
            content_type: Some(&longest),
            thumbnail: ThumbnailHeaders {
                stream_id: Some(&longest),
                feed_id: Some(&longest),
                token_id: Some(&longest),
                timestamp: Some(&longest),
            },
        };
        let object = quarantine_object(
            Bytes::from_static(b"x"),
            &"0".repeat(64),
            &headers,
            QuarantineReason::SecretUnavailable,
            i64::MIN,
            DELIVERY_ID,
        );
        assert_eq!(object.metadata.len(), 10, "every header kept");
        assert_within_the_limit(&[object]);
    }

    #[tokio::test]
    async fn the_memory_store_refuses_metadata_over_the_limit_as_s3_does() {
        let store = MemoryStore::new("b");
        let object = |value: String| ObjectPut {
            key: "k".into(),
            body: Bytes::new(),
            content_type: "application/json".into(),
            metadata: vec![("a", value)],
            condition: PutCondition::Always,
        };
        // "x-amz-meta-a" is 12 bytes.
        assert!(store.put(object("x".repeat(2_036))).await.is_ok());
        let refused = store.put(object("x".repeat(2_037))).await;
        assert!(refused.unwrap_err().0.starts_with("MetadataTooLarge"));
    }
}
