//! What consumers read from the queue: the platform's events forwarded byte for byte, plus the
//! two bodies the relay writes itself — the `thumbnail`/`stored` announcement and the claim-check
//! pointer to a body too large for SQS.

use millicast_webhooks::model::Hook;
use millicast_webhooks::{ParseError, WebhookEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `data` of the relay's own `thumbnail`/`stored` message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ThumbnailStoredData {
    pub stream_id: Option<String>,
    pub feed_id: Option<String>,
    pub token_id: Option<String>,
    pub bucket: String,
    pub key: String,
    pub size: u64,
    pub sha256: String,
    pub content_type: String,
}

/// Where the relay put a body too large for SQS (`claimCheck` in the message).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClaimCheckPointer {
    pub bucket: String,
    pub key: String,
    pub size: u64,
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
