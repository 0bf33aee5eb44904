//! SQS messages the relay sends: their body, attributes and FIFO ids (pure, no I/O).

use sha2::{Digest, Sha256};

use millicast_webhooks::Envelope;

/// A typed SQS message attribute value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    String(String),
    /// Sent with SQS data type `Number`.
    Number(String),
}

/// One message for the event queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub body: String,
    pub attributes: Vec<(&'static str, AttributeValue)>,
    /// Set for FIFO queues only.
    pub fifo: Option<FifoIds>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FifoIds {
    pub group_id: String,
    pub deduplication_id: String,
}

/// Where an oversize event body was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimCheck<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub size: usize,
    pub sha256_hex: &'a str,
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

/// What a FIFO message is grouped by: the stream, else the event type.
fn group_hint(envelope: &Envelope) -> &str {
    envelope.stream_id.as_deref().unwrap_or(&envelope.kind)
}

fn fifo_ids(fifo: bool, group_hint: &str, body: &str) -> Option<FifoIds> {
    fifo.then(|| FifoIds {
        group_id: group_id(group_hint),
        deduplication_id: hex::encode(Sha256::digest(body.as_bytes())),
    })
}

impl QueueMessage {
    /// The message for a verified JSON event: the body byte for byte, labelled with
    /// `type`, `event`, `timestamp`, `streamId` and the original `signature` header.
    /// Also rebuilds a spilled message for `relayctl redrive` (the relay's own messages have no
    /// signature; redrive adds `claimCheck` back to a spilled pointer).
    pub fn for_event(
        envelope: &Envelope,
        body: String,
        signature: Option<&str>,
        fifo: bool,
    ) -> Self {
        let mut attributes = Vec::with_capacity(5);
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
        push("signature", signature.and_then(string_attribute));
        Self {
            fifo: fifo_ids(fifo, group_hint(envelope), &body),
            body,
            attributes,
        }
    }

    /// The "thumbnail stored" announcement (its body is ours, so it carries no signature).
    pub fn for_thumbnail(
        body: String,
        timestamp_ms: u64,
        stream_id: Option<&str>,
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
        Self {
            fifo: fifo_ids(fifo, stream_id.unwrap_or("thumbnail"), &body),
            body,
            attributes,
        }
    }

    /// The pointer sent instead of a body too large for (or not representable in) SQS; the body
    /// itself is at `bucket`/`key`. Keeps the event's attributes and adds `claimCheck=true`.
    pub fn claim_check(
        event: &QueueMessage,
        envelope: &Envelope,
        pointer: &ClaimCheck<'_>,
        fifo: bool,
    ) -> Self {
        let body = serde_json::json!({
            "type": envelope.kind,
            "event": envelope.event,
            "timestamp": envelope.timestamp_ms,
            "claimCheck": {
                "bucket": pointer.bucket,
                "key": pointer.key,
                "size": pointer.size,
                "sha256": pointer.sha256_hex,
            }
        })
        .to_string();
        let mut attributes = event.attributes.clone();
        attributes.push(claim_check_attribute());
        Self {
            fifo: fifo_ids(fifo, group_hint(envelope), &body),
            body,
            attributes,
        }
    }

    /// Size as SQS counts it against its limit: body plus attribute names, types and values.
    pub fn size(&self) -> usize {
        self.body.len()
            + self
                .attributes
                .iter()
                .map(|(name, value)| {
                    name.len()
                        + match value {
                            AttributeValue::String(v) => "String".len() + v.len(),
                            AttributeValue::Number(v) => "Number".len() + v.len(),
                        }
                })
                .sum::<usize>()
    }

    /// The `signature` attribute, when the message has one.
    pub fn signature(&self) -> Option<&str> {
        match self.attribute("signature") {
            Some(AttributeValue::String(value)) => Some(value),
            _ => None,
        }
    }

    pub fn attribute(&self, name: &str) -> Option<&AttributeValue> {
        self.attributes
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"type":"feeds","event":"started","timestamp":1638463486489,"data":{"streamId":"ZG6NWV/sample_stream"}}"#;
    // `printf '%s' "$BODY" | sha256sum`
    const BODY_SHA256: &str = "129f209916219bc37e0040e31cae2d7ffe12cacadb6f6d1b4fdb8f0ae9ef20d4";

    fn envelope(body: &str) -> Envelope {
        Envelope::parse(body.as_bytes()).unwrap()
    }

    fn string(value: &str) -> AttributeValue {
        AttributeValue::String(value.to_owned())
    }

    #[test]
    fn event_message_keeps_the_body_and_labels_it() {
        let message =
            QueueMessage::for_event(&envelope(BODY), BODY.to_owned(), Some("sha1=ab"), false);
        assert_eq!(message.body, BODY);
        assert_eq!(message.attribute("type"), Some(&string("feeds")));
        assert_eq!(message.attribute("event"), Some(&string("started")));
        assert_eq!(
            message.attribute("timestamp"),
            Some(&AttributeValue::Number("1638463486489".into()))
        );
        assert_eq!(
            message.attribute("streamId"),
            Some(&string("ZG6NWV/sample_stream"))
        );
        assert_eq!(message.attribute("signature"), Some(&string("sha1=ab")));
        assert_eq!(message.fifo, None);
    }

    #[test]
    fn fifo_ids_use_the_stream_and_the_body_hash() {
        let message =
            QueueMessage::for_event(&envelope(BODY), BODY.to_owned(), Some("sha1=ab"), true);
        let ids = message.fifo.unwrap();
        assert_eq!(ids.group_id, "ZG6NWV/sample_stream");
        assert_eq!(ids.deduplication_id, BODY_SHA256);
    }

    #[test]
    fn fifo_group_falls_back_to_the_type_and_is_cleaned() {
        let body = r#"{"type":"transcoder","event":"ACTIVE"}"#;
        let ids = QueueMessage::for_event(&envelope(body), body.into(), Some("s"), true)
            .fifo
            .unwrap();
        assert_eq!(ids.group_id, "transcoder");

        let body = format!(
            r#"{{"type":"x","data":{{"streamId":"a b/é{}"}}}}"#,
            "z".repeat(200)
        );
        let ids = QueueMessage::for_event(&envelope(&body), body.clone(), Some("s"), true)
            .fifo
            .unwrap();
        assert_eq!(ids.group_id.len(), 128);
        assert!(ids.group_id.starts_with("a_b/_zz"));

        let body = r#"{"type":""}"#;
        let ids = QueueMessage::for_event(&envelope(body), body.into(), Some("s"), true)
            .fifo
            .unwrap();
        assert_eq!(ids.group_id, "_");
    }

    #[test]
    fn unsendable_attribute_values_are_left_out() {
        let body = "{\"type\":\"\",\"event\":\"\u{FFFF}\",\"timestamp\":\"x\"}";
        let message = QueueMessage::for_event(&envelope(body), body.into(), Some("sha1=ab"), false);
        let names: Vec<_> = message.attributes.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["signature"]);
    }

    #[test]
    fn claim_check_points_at_the_stored_body() {
        let event =
            QueueMessage::for_event(&envelope(BODY), BODY.to_owned(), Some("sha1=ab"), false);
        let pointer = ClaimCheck {
            bucket: "b",
            key: "events/oversize/x.json",
            size: 9,
            sha256_hex: "x",
        };
        let message = QueueMessage::claim_check(&event, &envelope(BODY), &pointer, false);
        let body: serde_json::Value = serde_json::from_str(&message.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"type": "feeds", "event": "started", "timestamp": 1638463486489i64,
                "claimCheck": {"bucket": "b", "key": "events/oversize/x.json", "size": 9, "sha256": "x"}})
        );
        assert_eq!(message.attribute("claimCheck"), Some(&string("true")));
        assert_eq!(message.signature(), Some("sha1=ab"));
        assert_eq!(
            message.attribute("streamId"),
            Some(&string("ZG6NWV/sample_stream"))
        );
    }

    #[test]
    fn size_counts_body_and_attributes() {
        let message = QueueMessage::for_thumbnail("{}".into(), 42, None, false);
        // body 2 + type(4+6+9) + event(5+6+6) + timestamp(9+6+2)
        assert_eq!(message.size(), 2 + 19 + 17 + 17);
    }

    #[test]
    fn sqs_character_set() {
        assert!(sqs_accepts_body("{\"a\":\"tab\tnewline\n é 😀\"}"));
        assert!(!sqs_accepts_body("\u{FFFE}"));
        assert!(!sqs_accepts_body("\u{1}"));
    }

    #[test]
    fn thumbnail_message_is_labelled() {
        let message = QueueMessage::for_thumbnail("{}".into(), 42, Some("a/b"), true);
        assert_eq!(message.attribute("type"), Some(&string("thumbnail")));
        assert_eq!(message.attribute("event"), Some(&string("stored")));
        assert_eq!(
            message.attribute("timestamp"),
            Some(&AttributeValue::Number("42".into()))
        );
        assert_eq!(message.attribute("streamId"), Some(&string("a/b")));
        assert_eq!(message.attribute("signature"), None);
        assert_eq!(message.fifo.unwrap().group_id, "a/b");
    }
}
