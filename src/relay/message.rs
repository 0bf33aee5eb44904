//! SQS messages the relay sends: their body, attributes and FIFO ids (pure, no I/O). The
//! contract they follow is `contract/asyncapi.yaml`; [`CONTRACT_VERSION`] travels with each.

use sha2::{Digest, Sha256};

use millicast_webhooks::Envelope;

// The message is the queue port's vocabulary; this module builds the relay's messages.
pub use crate::ports::queue::{AttributeValue, FifoIds, QueueMessage};

/// The version of the message contract (`contract/asyncapi.yaml`), in the `contractVersion`
/// attribute of every message. Raised when a change could break a consumer.
pub const CONTRACT_VERSION: &str = "1";

/// What the relay knows of a delivery beyond its body. Every message sent for the delivery
/// carries it, however often it is sent (SDK retries, claim check, spill and redrive, replay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// The `X-Millicast-Signature` header the body came with (platform bodies only).
    pub signature: Option<String>,
    /// The webhook whose secret verified the delivery, when the relay holds its id.
    pub webhook_id: Option<i64>,
    /// See [`idempotency_key`].
    pub idempotency_key: String,
}

/// The idempotency key of a delivery: 32 hex digits of SHA-256 over the webhook's id, the time
/// the relay received the delivery (ms), the SHA-256 of its body and the delivery's own id (the
/// Lambda request id of the invocation that received it). The same for the same delivery however
/// often it reaches the queue — each of those is kept with it (a quarantined delivery's metadata,
/// a spill's) — and different for any two deliveries, even of identical bodies from one webhook
/// in one millisecond. A delivery kept before delivery ids existed has none (`""`): its key is
/// then what it always was, over the first three.
pub fn idempotency_key(
    webhook_id: Option<i64>,
    received_ms: i64,
    body_sha256_hex: &str,
    delivery_id: &str,
) -> String {
    let webhook = webhook_id.map_or_else(|| "-".to_owned(), |id| id.to_string());
    let mut input = format!("{webhook}\n{received_ms}\n{body_sha256_hex}");
    if !delivery_id.is_empty() {
        input.push('\n');
        input.push_str(delivery_id);
    }
    let digest = Sha256::digest(input);
    hex::encode(&digest[..16])
}

/// Lowercase hex SHA-256 of `bytes`: the relay's content hash (S3 keys, metadata, logs, the
/// idempotency key).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Where an oversize event body was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimCheck<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub size: usize,
    pub sha256_hex: &'a str,
}

/// The longest `type` a claim-check pointer repeats (an `event` longer than this is left out).
const POINTER_TEXT_MAX: usize = 256;

/// `text` as a pointer's `type`: characters SQS refuses replaced, at most [`POINTER_TEXT_MAX`]
/// bytes (cut at a character boundary).
fn pointer_text(text: &str) -> String {
    let mut cleaned = String::with_capacity(text.len().min(POINTER_TEXT_MAX));
    for c in text.chars() {
        let c = if sqs_allows(c) { c } else { '\u{FFFD}' };
        if cleaned.len() + c.len_utf8() > POINTER_TEXT_MAX {
            break;
        }
        cleaned.push(c);
    }
    cleaned
}

/// The attribute that marks a claim-check pointer: `claimCheck` = `true`.
pub fn claim_check_attribute() -> (&'static str, AttributeValue) {
    ("claimCheck", AttributeValue::String("true".into()))
}

/// SQS allows these characters in a message body and attribute values (its XML subset).
fn sqs_allows(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// True when SQS accepts `text` as a message body (JSON may hold characters it refuses).
pub fn sqs_accepts_body(text: &str) -> bool {
    text.chars().all(sqs_allows)
}

/// Attribute values must be non-empty, in the allowed character set and reasonably short;
/// values that are not are left out rather than failing the whole message.
const MAX_ATTRIBUTE_VALUE_LEN: usize = 1024;

fn string_attribute(value: &str) -> Option<AttributeValue> {
    (!value.is_empty() && value.len() <= MAX_ATTRIBUTE_VALUE_LEN && value.chars().all(sqs_allows))
        .then(|| AttributeValue::String(value.to_owned()))
}

/// FIFO group ids: 1-128 characters of ASCII letters, digits and punctuation.
fn group_id(candidate: &str) -> String {
    let cleaned: String = candidate
        .chars()
        .take(128)
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .collect();
    if cleaned.is_empty() {
        "_".to_owned()
    } else {
        cleaned
    }
}

/// FIFO ids: grouped by the stream key (so a stream's messages stay in order whatever their
/// hook type), else by `kind`; deduplicated by the delivery's idempotency key.
fn fifo_ids(
    fifo: bool,
    stream_key: Option<&str>,
    kind: &str,
    provenance: &Provenance,
) -> Option<FifoIds> {
    fifo.then(|| FifoIds {
        group_id: group_id(stream_key.unwrap_or(kind)),
        deduplication_id: provenance.idempotency_key.clone(),
    })
}

/// The attributes every message carries after its own labels.
fn push_provenance(
    attributes: &mut Vec<(&'static str, AttributeValue)>,
    stream_key: Option<&str>,
    provenance: &Provenance,
) {
    let mut push = |name: &'static str, value: Option<AttributeValue>| {
        if let Some(value) = value {
            attributes.push((name, value));
        }
    };
    push("streamKey", stream_key.and_then(string_attribute));
    push(
        "signature",
        provenance.signature.as_deref().and_then(string_attribute),
    );
    push(
        "webhookId",
        provenance
            .webhook_id
            .map(|id| AttributeValue::Number(id.to_string())),
    );
    push(
        "idempotencyKey",
        string_attribute(&provenance.idempotency_key),
    );
    push("contractVersion", string_attribute(CONTRACT_VERSION));
}

impl QueueMessage {
    /// The message for a verified JSON event: the body byte for byte, labelled with `type`,
    /// `event`, `timestamp`, `streamId`, `streamKey` and the delivery's provenance. Also
    /// rebuilds a spilled message for `relayctl redrive`.
    pub fn for_event(
        envelope: &Envelope,
        body: String,
        provenance: &Provenance,
        fifo: bool,
    ) -> Self {
        let mut attributes = Vec::with_capacity(9);
        let mut push = |name: &'static str, value: Option<AttributeValue>| {
            if let Some(value) = value {
                attributes.push((name, value));
            }
        };
        push("type", string_attribute(&envelope.kind));
        push(
            "event",
            envelope.event.as_deref().and_then(string_attribute),
        );
        push(
            "timestamp",
            envelope
                .timestamp_ms
                .map(|ts| AttributeValue::Number(ts.to_string())),
        );
        push(
            "streamId",
            envelope.stream_id.as_deref().and_then(string_attribute),
        );
        let stream_key = envelope.stream_name.as_deref();
        push_provenance(&mut attributes, stream_key, provenance);
        Self {
            fifo: fifo_ids(fifo, stream_key, &envelope.kind, provenance),
            body,
            attributes,
        }
    }

    /// The "thumbnail stored" announcement (its body is ours, so it carries no signature).
    pub fn for_thumbnail(
        body: String,
        timestamp_ms: u64,
        stream_id: Option<&str>,
        stream_key: Option<&str>,
        provenance: &Provenance,
        fifo: bool,
    ) -> Self {
        let mut attributes = vec![
            ("type", AttributeValue::String("thumbnail".into())),
            ("event", AttributeValue::String("stored".into())),
            (
                "timestamp",
                AttributeValue::Number(timestamp_ms.to_string()),
            ),
        ];
        if let Some(value) = stream_id.and_then(string_attribute) {
            attributes.push(("streamId", value));
        }
        push_provenance(&mut attributes, stream_key, provenance);
        Self {
            fifo: fifo_ids(fifo, stream_key, "thumbnail", provenance),
            body,
            attributes,
        }
    }

    /// The pointer sent instead of a body too large for (or not representable in) SQS; the body
    /// itself is at `bucket`/`key` (its S3 metadata keeps the signature). Keeps the event's
    /// attributes but `signature` (it signs a body the message no longer carries) and adds
    /// `claimCheck=true`; FIFO ids stay the event's.
    pub fn claim_check(
        event: &QueueMessage,
        envelope: &Envelope,
        pointer: &ClaimCheck<'_>,
    ) -> Self {
        // The pointer must pass the checks every message passes: a `type` or `event` that SQS
        // could not carry (too long, or characters it refuses) is cut or left out here; the
        // stored body keeps it whole.
        let body = serde_json::json!({
            "type": pointer_text(&envelope.kind),
            "event": envelope.event.as_deref().filter(|event| string_attribute(event).is_some() && event.len() <= POINTER_TEXT_MAX),
            "timestamp": envelope.timestamp_ms,
            "claimCheck": {
                "bucket": pointer.bucket,
                "key": pointer.key,
                "size": pointer.size,
                "sha256": pointer.sha256_hex,
            }
        })
        .to_string();
        let mut attributes: Vec<_> = event
            .attributes
            .iter()
            .filter(|(name, _)| *name != "signature")
            .cloned()
            .collect();
        attributes.push(claim_check_attribute());
        Self {
            fifo: event.fifo.clone(),
            body,
            attributes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"type":"feeds","event":"started","timestamp":1638463486489,"data":{"name":"sample_stream","streamId":"ZG6NWV/sample_stream"}}"#;

    fn envelope(body: &str) -> Envelope {
        Envelope::parse(body.as_bytes()).unwrap()
    }

    fn string(value: &str) -> AttributeValue {
        AttributeValue::String(value.to_owned())
    }

    fn provenance() -> Provenance {
        Provenance {
            signature: Some("sha1=ab".into()),
            webhook_id: Some(7),
            idempotency_key: "0123456789abcdef0123456789abcdef".into(),
        }
    }

    fn event(body: &str, fifo: bool) -> QueueMessage {
        QueueMessage::for_event(&envelope(body), body.to_owned(), &provenance(), fifo)
    }

    #[test]
    fn event_message_keeps_the_body_and_labels_it() {
        let message = event(BODY, false);
        assert_eq!(message.body, BODY);
        let expected = [
            ("type", string("feeds")),
            ("event", string("started")),
            ("timestamp", AttributeValue::Number("1638463486489".into())),
            ("streamId", string("ZG6NWV/sample_stream")),
            ("streamKey", string("sample_stream")),
            ("signature", string("sha1=ab")),
            ("webhookId", AttributeValue::Number("7".into())),
            ("idempotencyKey", string("0123456789abcdef0123456789abcdef")),
            ("contractVersion", string(CONTRACT_VERSION)),
        ];
        assert_eq!(message.attributes, expected);
        // SQS takes at most 10 attributes; a claim-check pointer trades `signature` for its own.
        assert!(message.attributes.len() < 10);
        assert_eq!(message.fifo, None);
        assert_eq!(message.webhook_id(), Some(7));
    }

    #[test]
    fn fifo_ids_use_the_stream_key_and_the_idempotency_key() {
        let ids = event(BODY, true).fifo.unwrap();
        assert_eq!(ids.group_id, "sample_stream");
        assert_eq!(ids.deduplication_id, "0123456789abcdef0123456789abcdef");
        // A recording of the same stream (no account id in it) joins the same group.
        let recording = r#"{"type":"recordings","event":"started","timestamp":1,"data":{"streamName":"sample_stream"}}"#;
        assert_eq!(
            event(recording, true).fifo.unwrap().group_id,
            "sample_stream"
        );
    }

    #[test]
    fn fifo_group_falls_back_to_the_type_and_is_cleaned() {
        let body = r#"{"type":"transcoder","event":"ACTIVE"}"#;
        assert_eq!(event(body, true).fifo.unwrap().group_id, "transcoder");

        let body = format!(
            r#"{{"type":"x","data":{{"streamName":"a b/é{}"}}}}"#,
            "z".repeat(200)
        );
        let ids = event(&body, true).fifo.unwrap();
        assert_eq!(ids.group_id.len(), 128);
        assert!(ids.group_id.starts_with("a_b/_zz"));

        assert_eq!(event(r#"{"type":""}"#, true).fifo.unwrap().group_id, "_");
    }

    #[test]
    fn unsendable_attribute_values_are_left_out() {
        let body = "{\"type\":\"\",\"event\":\"\u{FFFF}\",\"timestamp\":\"x\"}";
        let message = event(body, false);
        let names: Vec<_> = message.attributes.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "signature",
                "webhookId",
                "idempotencyKey",
                "contractVersion"
            ]
        );
    }

    #[test]
    fn claim_check_points_at_the_stored_body_without_its_signature() {
        let original = event(BODY, true);
        let pointer = ClaimCheck {
            bucket: "b",
            key: "events/oversize/x.json",
            size: 9,
            sha256_hex: "x",
        };
        let message = QueueMessage::claim_check(&original, &envelope(BODY), &pointer);
        let body: serde_json::Value = serde_json::from_str(&message.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"type": "feeds", "event": "started", "timestamp": 1638463486489i64,
                "claimCheck": {"bucket": "b", "key": "events/oversize/x.json", "size": 9, "sha256": "x"}})
        );
        assert_eq!(message.attribute("claimCheck"), Some(&string("true")));
        assert_eq!(message.signature(), None);
        assert_eq!(
            message.attribute("streamKey"),
            Some(&string("sample_stream"))
        );
        assert_eq!(message.idempotency_key(), original.idempotency_key());
        assert_eq!(message.fifo, original.fifo);
        assert_eq!(message.attributes.len(), original.attributes.len());
    }

    #[test]
    fn the_idempotency_key_tells_deliveries_apart_not_sends() {
        let body = "ab12";
        let key = idempotency_key(Some(7), 1_000, body, "");
        assert_eq!(key.len(), 32);
        assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(idempotency_key(Some(7), 1_000, body, ""), key);
        for other in [
            idempotency_key(Some(8), 1_000, body, ""),
            idempotency_key(None, 1_000, body, ""),
            idempotency_key(Some(7), 1_001, body, ""),
            idempotency_key(Some(7), 1_000, "ab13", ""),
        ] {
            assert_ne!(other, key);
        }
        // `printf '7\n1000\nab12' | sha256sum | cut -c1-32`
        assert_eq!(key, "7bcb1b319a22774aa30f17660d2998b0");
        // With the delivery's id, two deliveries of one body in one millisecond differ.
        let delivery = "0f4b6c1e-2d1a-4a8e-9b5c-3e7f1a2b4c6d";
        let first = idempotency_key(Some(7), 1_000, body, delivery);
        // `printf '7\n1000\nab12\n0f4b6c1e-2d1a-4a8e-9b5c-3e7f1a2b4c6d' | sha256sum | cut -c1-32`
        assert_eq!(first, "3e893f2162f86b5f326e060c3cbac495");
        assert_ne!(
            first,
            idempotency_key(Some(7), 1_000, body, "another-request")
        );
    }

    #[test]
    fn a_claim_check_pointer_never_carries_what_sqs_refuses() {
        let long_event = "e".repeat(300);
        // U+FFFE is valid JSON text but not a character SQS takes.
        let kind = format!("t\u{FFFE}{}", "x".repeat(400));
        let body =
            serde_json::json!({"type": kind, "event": long_event, "timestamp": 1}).to_string();
        let envelope = envelope(&body);
        let event = QueueMessage::for_event(&envelope, body.clone(), &provenance(), false);
        let pointer = ClaimCheck {
            bucket: "b",
            key: "events/oversize/k.json",
            size: body.len(),
            sha256_hex: "ab",
        };
        let message = QueueMessage::claim_check(&event, &envelope, &pointer);
        assert!(sqs_accepts_body(&message.body), "{}", message.body);
        let parsed: serde_json::Value = serde_json::from_str(&message.body).unwrap();
        let kind = parsed["type"].as_str().unwrap();
        assert!(
            kind.len() <= POINTER_TEXT_MAX && kind.starts_with("t\u{FFFD}xxx"),
            "{kind}"
        );
        assert_eq!(parsed["event"], serde_json::Value::Null);
        // Short, sendable names pass through unchanged.
        let plain = envelope_of_kind("feeds");
        let event = QueueMessage::for_event(&plain, BODY.to_owned(), &provenance(), false);
        let message = QueueMessage::claim_check(&event, &plain, &pointer);
        let parsed: serde_json::Value = serde_json::from_str(&message.body).unwrap();
        assert_eq!(
            (parsed["type"].as_str(), parsed["event"].as_str()),
            (Some("feeds"), Some("started"))
        );
    }

    fn envelope_of_kind(kind: &str) -> Envelope {
        envelope(&BODY.replace("feeds", kind))
    }

    #[test]
    fn size_counts_body_and_attributes() {
        let provenance = Provenance {
            signature: None,
            webhook_id: None,
            idempotency_key: "k".into(),
        };
        let message = QueueMessage::for_thumbnail("{}".into(), 42, None, None, &provenance, false);
        // body 2 + type(4+6+9) + event(5+6+6) + timestamp(9+6+2) + idempotencyKey(14+6+1)
        // + contractVersion(15+6+1)
        assert_eq!(message.size(), 2 + 19 + 17 + 17 + 21 + 22);
    }

    #[test]
    fn sqs_character_set() {
        assert!(sqs_accepts_body("{\"a\":\"tab\tnewline\n é 😀\"}"));
        assert!(!sqs_accepts_body("\u{FFFE}"));
        assert!(!sqs_accepts_body("\u{1}"));
    }

    #[test]
    fn thumbnail_message_is_labelled() {
        let provenance = Provenance {
            signature: None,
            ..provenance()
        };
        let message =
            QueueMessage::for_thumbnail("{}".into(), 42, Some("a/b"), Some("b"), &provenance, true);
        assert_eq!(message.attribute("type"), Some(&string("thumbnail")));
        assert_eq!(message.attribute("event"), Some(&string("stored")));
        assert_eq!(
            message.attribute("timestamp"),
            Some(&AttributeValue::Number("42".into()))
        );
        assert_eq!(message.attribute("streamId"), Some(&string("a/b")));
        assert_eq!(message.attribute("streamKey"), Some(&string("b")));
        assert_eq!(message.attribute("signature"), None);
        assert_eq!(message.fifo.unwrap().group_id, "b");
    }
}
