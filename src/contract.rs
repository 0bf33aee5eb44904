//! What consumers read from the queue: the platform's events forwarded byte for byte, plus the
//! two bodies the relay writes itself — the `thumbnail`/`stored` announcement and the claim-check
//! pointer to a body too large for SQS.

use millicast_webhooks::model::Hook;
use millicast_webhooks::{ParseError, WebhookEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `data` of the relay's own `thumbnail`/`stored` message: a thumbnail is in S3.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ThumbnailStoredData {
    /// `X-Millicast-Stream-Id` as received (`accountId/streamName`; unsigned), when fit.
    #[serde(default)]
    pub stream_id: Option<String>,
    /// `X-Millicast-Feed-Id` as received (unsigned), when fit.
    #[serde(default)]
    pub feed_id: Option<String>,
    /// `X-Millicast-Token-Id` as received (unsigned), when fit.
    #[serde(default)]
    pub token_id: Option<String>,
    /// The bucket holding the image.
    pub bucket: String,
    /// The image's key: `{prefix}{account}/{stream}/{capture ms}-{sha256[..16]}.jpg`.
    pub key: String,
    /// Bytes.
    pub size: u64,
    /// Hex SHA-256 of the image.
    pub sha256: String,
    /// The Content-Type it is stored with.
    pub content_type: String,
}

/// Where the relay put a body too large for SQS (`claimCheck` in the message). The object's
/// metadata keeps the delivery's `signature`, so the body can be verified again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ClaimCheckPointer {
    /// The bucket holding the body.
    pub bucket: String,
    /// `events/oversize/{deliveryId}.json`: one object per delivery.
    pub key: String,
    /// Bytes.
    pub size: u64,
    /// Hex SHA-256 of the body.
    pub sha256: String,
}

/// A message body from the event queue.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A webhook as the platform sent it (typed, or `Unknown` for types the model lacks).
    Webhook(WebhookEvent),
    /// The relay stored a thumbnail.
    ThumbnailStored(Hook<String, ThumbnailStoredData>),
    /// The body is in S3; fetch it from the pointer and parse that.
    ClaimCheck {
        kind: String,
        event: Option<String>,
        timestamp: Option<i64>,
        pointer: ClaimCheckPointer,
    },
}

#[derive(Deserialize)]
struct RelayEnvelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default, rename = "claimCheck")]
    claim_check: Option<ClaimCheckPointer>,
}

impl Message {
    /// Parses a message body. Fails only when it is not a JSON object with a string `type`.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let whole: Value = match serde_json::from_slice(body) {
            Ok(value) => value,
            Err(_) => return WebhookEvent::parse(body).map(Self::Webhook),
        };
        if let Ok(relay) = RelayEnvelope::deserialize(&whole) {
            if let Some(pointer) = relay.claim_check {
                return Ok(Self::ClaimCheck {
                    kind: relay.kind,
                    event: relay.event,
                    timestamp: relay.timestamp,
                    pointer,
                });
            }
            if relay.kind == "thumbnail" {
                let data = relay.data.unwrap_or(Value::Object(Default::default()));
                if let Ok(data) = serde_json::from_value(data) {
                    return Ok(Self::ThumbnailStored(Hook {
                        event: relay.event.unwrap_or_default(),
                        timestamp: relay.timestamp,
                        data,
                    }));
                }
            }
        }
        WebhookEvent::from_value(whole).map(Self::Webhook)
    }
}

/// The JSON Schema (2020-12) of every message body on the queue (`contract/message.schema.json`):
/// the platform's hook types, any other type, and the relay's own two bodies. Generated from the
/// typed model; `relayctl contract` writes it, and a test fails when the committed file drifts.
#[cfg(feature = "schema")]
pub fn message_schema() -> Value {
    use schemars::generate::SchemaSettings;
    use schemars::json_schema;

    let mut generator = SchemaSettings::draft2020_12().into_generator();
    millicast_webhooks::schema::add_webhook_definitions(&mut generator, &["thumbnail"]);
    let stored = json_schema!({
        "title": "ThumbnailStoredMessage",
        "description": "The relay stored a thumbnail (the platform's thumbnail hook is a JPEG, not JSON: this is the relay's announcement of it). Sent only when the image was new.",
        "type": "object",
        "required": ["type", "event", "timestamp", "data"],
        "properties": {
            "type": { "const": "thumbnail" },
            "event": { "const": "stored" },
            "timestamp": {
                "type": "integer",
                "description": "Capture time from X-Millicast-Timestamp (epoch ms); the receive time when the header was missing or invalid.",
            },
            "data": generator.subschema_for::<ThumbnailStoredData>(),
        },
    });
    let pointer = json_schema!({
        "title": "ClaimCheckMessage",
        "description": "A body too large for SQS (or with characters SQS refuses) is in S3: fetch `claimCheck.key` from `claimCheck.bucket`, check its sha256, and read that as the message. `type`, `event` and `timestamp` are the stored body's.",
        "type": "object",
        "required": ["type", "claimCheck"],
        "properties": {
            "type": { "type": "string" },
            "event": { "type": ["string", "null"] },
            "timestamp": { "type": ["integer", "null"] },
            "claimCheck": generator.subschema_for::<ClaimCheckPointer>(),
        },
    });
    let definitions = generator.definitions_mut();
    definitions.insert("ThumbnailStoredMessage".into(), stored.to_value());
    definitions.insert("ClaimCheckMessage".into(), pointer.to_value());
    let mut bodies: Vec<&str> = millicast_webhooks::schema::HOOK_BODIES
        .iter()
        .map(|hook| hook.definition)
        .collect();
    bodies.extend([
        millicast_webhooks::schema::OTHER_WEBHOOK,
        "ThumbnailStoredMessage",
        "ClaimCheckMessage",
    ]);
    let any_of: Vec<Value> = bodies
        .iter()
        .map(|name| serde_json::json!({ "$ref": format!("#/$defs/{name}") }))
        .collect();
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("urn:millicast-webhook-relay:message:{}", crate::relay::message::CONTRACT_VERSION),
        "title": "A message body on the relay's event queue",
        "description": "Platform webhooks are forwarded byte for byte; the relay adds thumbnail announcements and claim-check pointers. Members not described here may appear: ignore them. The message's attributes (contract/asyncapi.yaml) tell the kinds apart without parsing.",
        "anyOf": any_of,
        "$defs": generator.take_definitions(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_messages_are_typed() {
        let stored = br#"{"type":"thumbnail","event":"stored","timestamp":5,"data":{"streamId":"a/b","feedId":null,"tokenId":null,"bucket":"bk","key":"k.jpg","size":3,"sha256":"ab","contentType":"image/jpeg"}}"#;
        let Message::ThumbnailStored(hook) = Message::parse(stored).unwrap() else {
            panic!()
        };
        assert_eq!(hook.data.key, "k.jpg");
        let pointer = br#"{"type":"media","event":"completed","timestamp":5,"claimCheck":{"bucket":"bk","key":"events/oversize/ab.json","size":300000,"sha256":"ab"}}"#;
        let Message::ClaimCheck { kind, pointer, .. } = Message::parse(pointer).unwrap() else {
            panic!()
        };
        assert_eq!(kind, "media");
        assert_eq!(pointer.size, 300000);
    }

    #[test]
    fn platform_events_and_non_envelopes_parse_as_the_model_does() {
        let feeds = br#"{"type":"feeds","event":"started","timestamp":1,"data":{"name":"n"}}"#;
        assert!(matches!(
            Message::parse(feeds).unwrap(),
            Message::Webhook(WebhookEvent::Feeds(_))
        ));
        for body in [&b"[]"[..], b"{}", b"{\"type\":3}", b"nope"] {
            assert!(Message::parse(body).is_err());
        }
    }
}
