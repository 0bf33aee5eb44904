//! An example consumer of the relay's queue (message contract version 1): a Lambda with an SQS
//! event source and `ReportBatchItemFailures`. For each record of a batch, in order:
//! 1. the body is read with the typed model (`millicast_webhook_relay::contract::Message`, from
//!    which contract/message.schema.json is generated): it must be a message, and a hook type
//!    the contract describes must have a payload the model can type; a type it does not
//!    describe yet is accepted;
//! 2. the record must carry the contract's `contractVersion` ("1") and `idempotencyKey`;
//! 3. a delivery whose idempotency key was already handled is skipped ([`IdempotencyStore`]);
//! 4. a claim check is resolved: its S3 object is fetched, its sha256 checked against the
//!    pointer, and that body read in turn;
//! 5. [`handle_event`] gets the message (replace its body with your own logic); only then is the
//!    key recorded, so a failure before this point is retried.
//!
//! Whatever fails is reported as a batch item failure: SQS retries only those and finally moves
//! them to the dead-letter queue. Nothing unreadable is acknowledged. One log line per record
//! says what happened (`outcome`: handled, duplicate or failed).
//!
//! Deployed by `template.yaml` when `DeployExampleConsumer=true` (it needs `s3:GetObject` on
//! the bucket's `events/oversize/` for claim checks).

use std::collections::HashSet;
use std::sync::Mutex;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_s3::error::DisplayErrorContext;
use lambda_http::lambda_runtime::{self, Error, LambdaEvent, service_fn};
use lambda_http::tracing::{self, info, warn};
use millicast_webhook_relay::Config;
use millicast_webhook_relay::aws::sdk;
use millicast_webhook_relay::contract::{ClaimCheckPointer, Message};
use millicast_webhook_relay::relay::message::CONTRACT_VERSION;
use millicast_webhooks::{Envelope, WebhookEvent};
use sha2::{Digest, Sha256};

/// What to do with one message (claim checks already resolved). Returning `Err` reports the
/// message as failed, so it is retried.
fn handle_event(message: &Message) -> Result<(), String> {
    let event = match message {
        Message::Webhook(event) => event,
        Message::ThumbnailStored(hook) => {
            info!(
                bucket = hook.data.bucket,
                key = hook.data.key,
                size = hook.data.size,
                "thumbnail"
            );
            return Ok(());
        }
        Message::ClaimCheck { .. } => return Err("claim checks are resolved before".into()),
    };
    match event {
        WebhookEvent::Feeds(hook) => info!(
            event = hook.event.as_str(),
            stream = hook.data.stream_id.as_deref().unwrap_or_default(),
            active = ?hook.data.active,
            "feed"
        ),
        WebhookEvent::Recordings(hook) => info!(
            event = hook.event.as_str(),
            record_file_id = ?hook.data.record_file_id,
            stream = hook.data.stream_name.as_deref().unwrap_or_default(),
            "recording"
        ),
        WebhookEvent::Media(hook) => info!(
            event = hook.event.as_str(),
            media_asset_id = hook.data.media_asset_id.as_deref().unwrap_or_default(),
            "media"
        ),
        WebhookEvent::Transcoder(hook) => info!(
            event = hook.event.as_str(),
            transcoder = hook.data.transcoder_id.as_deref().unwrap_or_default(),
            status = hook.data.status.as_deref().unwrap_or_default(),
            "transcoder"
        ),
        WebhookEvent::ViewerConnection(hook) => info!(
            event = hook.event.as_str(),
            stream = hook.data.stream_id.as_deref().unwrap_or_default(),
            "viewer connection"
        ),
        // The platform adds hook types over time: not an error.
        WebhookEvent::Unknown(value) => {
            info!(kind = %value["type"], "unknown webhook type, skipped")
        }
    }
    Ok(())
}

/// Where the idempotency keys of handled messages are kept.
trait IdempotencyStore {
    async fn seen(&self, key: &str) -> Result<bool, String>;
    async fn record(&self, key: &str) -> Result<(), String>;
}

/// The keys this Lambda instance handled: enough for the example and for duplicates within one
/// batch, but lost when the instance is recycled and not shared between concurrent instances.
/// In production, use a shared store with a conditional write, e.g. a DynamoDB table keyed by
/// idempotencyKey: `seen` is a consistent GetItem, `record` a PutItem with
/// `ConditionExpression: attribute_not_exists(idempotencyKey)` and a TTL attribute set well
/// beyond the queue's retention (redrive and replay can come days later). A failed condition
/// there means a concurrent instance handled the same delivery: nothing to undo. Because the
/// key is recorded after handling, a crash in between makes the delivery be handled again;
/// when that matters, first claim the key with a short-lived "in progress" item.
#[derive(Default)]
struct MemoryStore(Mutex<HashSet<String>>);

impl IdempotencyStore for MemoryStore {
    async fn seen(&self, key: &str) -> Result<bool, String> {
        Ok(self.0.lock().map_err(|e| e.to_string())?.contains(key))
    }

    async fn record(&self, key: &str) -> Result<(), String> {
        self.0
            .lock()
            .map_err(|e| e.to_string())?
            .insert(key.to_owned());
        Ok(())
    }
}

/// Where claim-checked bodies are read from: S3 (a map in the unit tests).
trait ObjectSource {
    async fn fetch(&self, bucket: &str, key: &str) -> Result<Vec<u8>, String>;
}

impl ObjectSource for aws_sdk_s3::Client {
    async fn fetch(&self, bucket: &str, key: &str) -> Result<Vec<u8>, String> {
        let object = self
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| format!("s3://{bucket}/{key}: {}", DisplayErrorContext(&e)))?;
        let data = object.body.collect().await.map_err(|e| e.to_string())?;
        Ok(data.into_bytes().to_vec())
    }
}

/// A body read with the typed model, held to what the contract requires of it.
fn read(body: &[u8]) -> Result<Message, String> {
    let message = Message::parse(body).map_err(|e| format!("not a message: {e}"))?;
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let kind = value["type"].as_str().unwrap_or_default();
    let mismatch = || Err(format!("not a `{kind}` message of the contract"));
    match &message {
        Message::ClaimCheck { .. } => Ok(message),
        // A pointer the model could not read would otherwise pass for the event itself.
        _ if value.get("claimCheck").is_some() => Err("a malformed claim check".into()),
        // A hook type the contract describes (or the relay's own `thumbnail`) that the model
        // can only keep whole does not match the contract.
        Message::Webhook(WebhookEvent::Unknown(_))
            if kind == "thumbnail" || WebhookEvent::is_typed_kind(kind) =>
        {
            mismatch()
        }
        Message::Webhook(WebhookEvent::Unknown(_)) => Ok(message),
        // The model defaults a missing `event`, `timestamp` or `data`; the contract requires them.
        _ if value["event"].is_string()
            && value["timestamp"].is_i64()
            && value["data"].is_object() =>
        {
            Ok(message)
        }
        _ => mismatch(),
    }
}

fn string_attribute<'a>(record: &'a SqsMessage, name: &str) -> Option<&'a str> {
    record.message_attributes.get(name)?.string_value.as_deref()
}

fn idempotency_key(record: &SqsMessage) -> Result<&str, String> {
    let version = string_attribute(record, "contractVersion");
    if version != Some(CONTRACT_VERSION) {
        return Err(format!(
            "contractVersion {version:?}; this consumer reads {CONTRACT_VERSION:?}"
        ));
    }
    string_attribute(record, "idempotencyKey")
        .filter(|key| key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| "no idempotencyKey of 32 hex digits".to_owned())
}

/// The body a claim check points to, checked against the pointer's sha256, and read.
async fn resolve(
    pointer: &ClaimCheckPointer,
    objects: &impl ObjectSource,
) -> Result<(Message, Vec<u8>), String> {
    let bytes = objects.fetch(&pointer.bucket, &pointer.key).await?;
    if hex::encode(Sha256::digest(&bytes)) != pointer.sha256 {
        return Err(format!(
            "s3://{}/{} does not have the pointer's sha256",
            pointer.bucket, pointer.key
        ));
    }
    // The relay claim-checks platform webhooks only.
    match read(&bytes)? {
        message @ Message::Webhook(_) => Ok((message, bytes)),
        _ => Err("a claim check must hold a platform webhook".into()),
    }
}

/// What became of a record that did not fail.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Handled { claim_check: bool },
    Duplicate,
}

/// Handles one record; fails when it cannot.
async fn process_message(
    record: &SqsMessage,
    objects: &impl ObjectSource,
    store: &impl IdempotencyStore,
) -> Result<Outcome, String> {
    let id = record.message_id.as_deref().unwrap_or_default();
    let body = record.body.as_deref().unwrap_or_default().as_bytes();
    let message = read(body)?;
    let key = idempotency_key(record)?;
    // For the log: `type` and `event` as sent (the model normalizes event names).
    let envelope = Envelope::parse(body).map_err(|e| e.to_string())?;
    let (kind, event) = (envelope.kind.as_str(), envelope.event.as_deref());
    // Before resolving: a duplicate needs no S3 read (its object may even have expired).
    if store.seen(key).await? {
        info!(
            outcome = "duplicate",
            message_id = id,
            idempotency_key = key,
            kind,
            event
        );
        return Ok(Outcome::Duplicate);
    }
    let (message, handled_body, claim_check) = match message {
        Message::ClaimCheck { pointer, .. } => {
            let (message, bytes) = resolve(&pointer, objects).await?;
            (message, bytes, true)
        }
        other => (other, body.to_vec(), false),
    };
    handle_event(&message)?;
    store.record(key).await?;
    info!(
        outcome = "handled",
        message_id = id,
        idempotency_key = key,
        kind,
        event,
        claim_check,
        body_sha256 = hex::encode(Sha256::digest(&handled_body))
    );
    Ok(Outcome::Handled { claim_check })
}

/// Handles a batch; the ids of the messages that failed are returned for SQS to retry.
async fn process_batch(
    batch: &SqsEvent,
    objects: &impl ObjectSource,
    store: &impl IdempotencyStore,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    // In order, one at a time: a duplicate within the batch must see its first copy recorded.
    for record in &batch.records {
        if let Err(reason) = process_message(record, objects, store).await {
            let id = record.message_id.clone().unwrap_or_default();
            warn!(outcome = "failed", message_id = id, reason);
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let sdk_config = sdk::load_lambda_sdk_config().await?;
    // Local S3 servers (moto) cannot serve bucket.host addresses.
    let path_style = Config::endpoint_overridden(|name| std::env::var(name).ok());
    let s3 = sdk::s3_client(&sdk_config, path_style);
    let store = MemoryStore::default();
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let (s3, store) = (&s3, &store);
        async move { Ok::<_, Error>(process_batch(&event.payload, s3, store).await) }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const KEY_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const KEY_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const OVERSIZE_KEY: &str = "events/oversize/k.json";

    /// Objects by key, in bucket `b`.
    impl ObjectSource for HashMap<&'static str, Vec<u8>> {
        async fn fetch(&self, _bucket: &str, key: &str) -> Result<Vec<u8>, String> {
            self.get(key).cloned().ok_or_else(|| "NoSuchKey".into())
        }
    }

    fn record(id: &str, body: &str, key: Option<&str>, version: Option<&str>) -> serde_json::Value {
        let attribute = |value: &str| {
            serde_json::json!({"stringValue": value, "stringListValues": [], "binaryListValues": [],
                               "dataType": "String"})
        };
        let mut attributes = serde_json::Map::new();
        if let Some(key) = key {
            attributes.insert("idempotencyKey".into(), attribute(key));
        }
        if let Some(version) = version {
            attributes.insert("contractVersion".into(), attribute(version));
        }
        serde_json::json!({
            "messageId": id,
            "receiptHandle": format!("handle-{id}"),
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1638463486489",
                           "SenderId": "AROAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1638463486500"},
            "messageAttributes": attributes,
            "md5OfBody": "0",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:relay-events",
            "awsRegion": "us-east-1"
        })
    }

    fn good(id: &str, body: &str, key: &str) -> serde_json::Value {
        record(id, body, Some(key), Some("1"))
    }

    fn pointer(body: &str) -> String {
        serde_json::json!({"type": "media", "event": "completed", "timestamp": 1,
            "claimCheck": {"bucket": "b", "key": OVERSIZE_KEY, "size": body.len(),
                           "sha256": hex::encode(Sha256::digest(body))}})
        .to_string()
    }

    fn big_media() -> String {
        serde_json::json!({"type": "media", "event": "completed", "timestamp": 1,
            "data": {"mediaAssetId": "m", "metadata": {"notes": "x".repeat(300)}}})
        .to_string()
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        let runtime = tokio::runtime::Builder::new_current_thread().build();
        runtime.unwrap().block_on(future)
    }

    /// Runs a batch; the ids reported as failed.
    fn failed(
        records: Vec<serde_json::Value>,
        objects: &HashMap<&'static str, Vec<u8>>,
        store: &MemoryStore,
    ) -> Vec<String> {
        let event: SqsEvent =
            serde_json::from_value(serde_json::json!({ "Records": records })).unwrap();
        block_on(process_batch(&event, objects, store))
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect()
    }

    #[test]
    fn only_unreadable_messages_are_reported_as_batch_item_failures() {
        let feeds = millicast_webhooks::samples::json_sample("feeds-started", 1).unwrap();
        let records = vec![
            good("good", &feeds, KEY_A),
            good(
                "unknown-type",
                r#"{"type":"analytics","event":"report","timestamp":1,"data":{}}"#,
                "1".repeat(32).as_str(),
            ),
            good("broken", "this is not JSON", "2".repeat(32).as_str()),
            good("not-an-envelope", "[1,2,3]", "3".repeat(32).as_str()),
            // A described type whose payload does not match it.
            good(
                "mistyped",
                r#"{"type":"feeds","event":"started","timestamp":1,"data":{"active":"yes"}}"#,
                "4".repeat(32).as_str(),
            ),
            good(
                "no-timestamp",
                r#"{"type":"feeds","event":"started","data":{"active":true}}"#,
                "6".repeat(32).as_str(),
            ),
            good(
                "malformed-pointer",
                r#"{"type":"media","event":"completed","timestamp":1,"data":{},"claimCheck":{"bucket":"b"}}"#,
                "7".repeat(32).as_str(),
            ),
            good(
                "bad-announcement",
                r#"{"type":"thumbnail","event":"stored","timestamp":1,"data":{"key":"k"}}"#,
                "5".repeat(32).as_str(),
            ),
            record("no-key", &feeds, None, Some("1")),
            record("short-key", &feeds, Some("abc"), Some("1")),
            record("other-version", &feeds, Some(KEY_B), Some("2")),
            record("no-version", &feeds, Some(KEY_B), None),
        ];
        let failures = failed(records, &HashMap::new(), &MemoryStore::default());
        assert_eq!(
            failures,
            [
                "broken",
                "not-an-envelope",
                "mistyped",
                "no-timestamp",
                "malformed-pointer",
                "bad-announcement",
                "no-key",
                "short-key",
                "other-version",
                "no-version"
            ]
        );
    }

    #[test]
    fn every_sample_is_handled_and_a_duplicate_once() {
        let store = MemoryStore::default();
        let records: Vec<_> = millicast_webhooks::samples::JSON_SAMPLES
            .iter()
            .enumerate()
            .map(|(n, name)| {
                let body = millicast_webhooks::samples::json_sample(name, 1).unwrap();
                good(&n.to_string(), &body, &format!("{n:032x}"))
            })
            .collect();
        let again: SqsMessage = serde_json::from_value(records[0].clone()).unwrap();
        assert!(failed(records, &HashMap::new(), &store).is_empty());
        assert_eq!(store.0.lock().unwrap().len(), 16);
        let outcome = block_on(process_message(&again, &HashMap::new(), &store));
        assert_eq!(outcome, Ok(Outcome::Duplicate));
    }

    #[test]
    fn claim_check_is_resolved_and_its_sha256_checked() {
        let body = big_media();
        let store = MemoryStore::default();
        let objects = HashMap::from([(OVERSIZE_KEY, body.clone().into_bytes())]);
        let record: SqsMessage =
            serde_json::from_value(good("ok", &pointer(&body), KEY_A)).unwrap();
        let outcome = block_on(process_message(&record, &objects, &store));
        assert_eq!(outcome, Ok(Outcome::Handled { claim_check: true }));
        assert!(store.0.lock().unwrap().contains(KEY_A));

        // A different object under the key, or none at all, is a failure, not an acknowledgement.
        let tampered = HashMap::from([(OVERSIZE_KEY, format!("{body} ").into_bytes())]);
        let store = MemoryStore::default();
        let record = good("tampered", &pointer(&body), KEY_A);
        assert_eq!(
            failed(vec![record.clone()], &tampered, &store),
            ["tampered"]
        );
        assert_eq!(failed(vec![record], &HashMap::new(), &store), ["tampered"]);
        // A pointer must lead to a platform webhook.
        let nested = pointer(&body);
        let objects = HashMap::from([(OVERSIZE_KEY, nested.clone().into_bytes())]);
        let record = good("nested", &pointer(&nested), KEY_A);
        assert_eq!(failed(vec![record], &objects, &store), ["nested"]);
        assert!(store.0.lock().unwrap().is_empty(), "nothing was handled");
    }
}
