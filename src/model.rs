//! The typed webhook model, for consumers of the queue.
//!
//! The relay forwards bodies byte for byte and never depends on these types; consumers use them
//! to read what arrives. Parsing is tolerant: optional fields may be missing, event names match
//! case-insensitively, and a type (or payload) this model does not know is kept as
//! [`WebhookEvent::Unknown`] rather than rejected.
//!
//! ```
//! use millicast_webhook_relay::model::{FeedEvent, WebhookEvent};
//!
//! let body = br#"{"type":"feeds","event":"started","timestamp":1638463486489,
//!   "data":{"feedId":"369e4a86","accountId":"ZG6NWV","name":"sample_stream",
//!           "streamId":"ZG6NWV/sample_stream","started":1638463486359,"active":true}}"#;
//! match WebhookEvent::parse(body).unwrap() {
//!     WebhookEvent::Feeds(hook) => {
//!         assert_eq!(hook.event, FeedEvent::Started);
//!         assert_eq!(hook.data.stream_id.as_deref(), Some("ZG6NWV/sample_stream"));
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! ```

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Declares an event-name enum that parses case-insensitively and keeps unknown names.
macro_rules! event_names {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $name {
            $($variant,)+
            /// A name this model does not know yet, as sent.
            Other(String),
        }

        impl $name {
            pub fn parse(name: &str) -> Self {
                $(if name.eq_ignore_ascii_case($text) { return Self::$variant; })+
                Self::Other(name.to_owned())
            }

            /// The name as the documentation spells it (or as sent, for `Other`).
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Other(name) => name,
                }
            }
        }
    };
}

event_names!(
    /// `feeds` events.
    FeedEvent { Started = "started", Ended = "ended" }
);
event_names!(
    /// `recordings` (older: `recording`) events.
    RecordingEvent { Started = "started", Completed = "completed", Error = "error", Deleted = "deleted" }
);
event_names!(
    /// `media` events.
    MediaEvent { Processing = "processing", Completed = "completed", Errored = "errored", Deleted = "deleted" }
);
event_names!(
    /// `transcoder` events.
    TranscoderEvent { Active = "ACTIVE", Stopped = "STOPPED", Deleted = "DELETED" }
);
event_names!(
    /// `viewerConnection` events.
    ViewerConnectionEvent {
        ViewerAttempt = "ViewerAttempt",
        FirstViewerConnection = "FirstViewerConnection",
        NoActiveViewers = "NoActiveViewers",
    }
);

/// `data` of `feeds` hooks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FeedData {
    pub feed_id: Option<String>,
    pub account_id: Option<String>,
    /// The stream name.
    pub name: Option<String>,
    /// `accountId/name`.
    pub stream_id: Option<String>,
    pub active: Option<bool>,
    /// Epoch ms.
    pub started: Option<i64>,
    /// Epoch ms.
    pub ended: Option<i64>,
    pub priority: Option<Value>,
    pub source_id: Option<String>,
    pub simulcast_id: Option<String>,
}

/// A track of a completed recording.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RecordingTrack {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub codec: Option<String>,
    pub bitrate: Option<f64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub framerate: Option<f64>,
    pub channels: Option<u32>,
    pub samplerate: Option<u32>,
}

/// `metadata` of a completed recording.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RecordingMetadata {
    pub format: Option<String>,
    /// `{concat, dash, thumbnails}` byte sizes.
    pub sizes: Option<Value>,
    pub duration: Option<f64>,
    pub tracks: Vec<RecordingTrack>,
}

/// `data` of `recordings` hooks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RecordingData {
    pub record_file_id: Option<i64>,
    pub token_id: Option<i64>,
    pub stream_name: Option<String>,
    /// Epoch ms.
    pub recorded_on: Option<i64>,
    pub metadata: Option<RecordingMetadata>,
}

/// `data` of `media` hooks (recordings and clips).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MediaData {
    pub media_asset_id: Option<String>,
    /// `clip` or `recording`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Epoch ms.
    pub start_time: Option<i64>,
    pub token_id: Option<i64>,
    pub stream_name: Option<String>,
    pub stream_id: Option<String>,
    /// Epoch ms.
    pub expiration: Option<i64>,
    pub metadata: Option<Value>,
    pub channel_id: Option<Value>,
}

/// `data` of `transcoder` hooks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TranscoderData {
    pub transcoder_id: Option<String>,
    pub transcoder_name: Option<String>,
    pub cluster: Option<String>,
    pub created_on: Option<String>,
    /// `Active`, `Shutdown` or `Deleted`.
    pub status: Option<String>,
}

/// `data` of `viewerConnection` hooks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ViewerConnectionData {
    pub name: Option<String>,
    pub account_id: Option<String>,
    pub stream_id: Option<String>,
}

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

/// One hook: its event name, envelope timestamp (epoch ms) and typed `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook<E, D> {
    pub event: E,
    pub timestamp: Option<i64>,
    pub data: D,
}

/// A message from the event queue.
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookEvent {
    Feeds(Hook<FeedEvent, FeedData>),
    Recordings(Hook<RecordingEvent, RecordingData>),
    Media(Hook<MediaEvent, MediaData>),
    Transcoder(Hook<TranscoderEvent, TranscoderData>),
    ViewerConnection(Hook<ViewerConnectionEvent, ViewerConnectionData>),
    /// The relay stored a thumbnail.
    ThumbnailStored(Hook<String, ThumbnailStoredData>),
    /// The body is in S3; fetch it from the pointer and parse that.
    ClaimCheck {
        kind: String,
        event: Option<String>,
        timestamp: Option<i64>,
        pointer: ClaimCheckPointer,
    },
    /// A type this model does not know, or a payload that does not match it: the whole JSON.
    Unknown(Value),
}

/// Why a message is not a webhook at all.
#[derive(Debug, thiserror::Error)]
#[error("not a webhook envelope: {0}")]
pub struct ParseError(#[from] serde_json::Error);

#[derive(Deserialize)]
struct RawEnvelope {
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

fn hook<E, D: DeserializeOwned>(
    event: E,
    timestamp: Option<i64>,
    data: Option<Value>,
) -> Option<Hook<E, D>> {
    let data = serde_json::from_value(data.unwrap_or(Value::Object(Default::default()))).ok()?;
    Some(Hook {
        event,
        timestamp,
        data,
    })
}

impl WebhookEvent {
    /// Parses a message body. Fails only when it is not a JSON object with a string `type`.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let whole: Value = serde_json::from_slice(body)?;
        if !whole.is_object() {
            // Derived structs would accept an array (fields by position).
            return Err(ParseError(serde::de::Error::custom("not a JSON object")));
        }
        let Ok(raw) = RawEnvelope::deserialize(&whole) else {
            // Not even an envelope with the usual field types: keep it if it has a type.
            RawEnvelope::deserialize(&serde_json::json!({"type": whole.get("type")}))?;
            return Ok(Self::Unknown(whole));
        };
        let event = raw.event.as_deref().unwrap_or_default();
        let ts = raw.timestamp;
        if let Some(pointer) = raw.claim_check {
            return Ok(Self::ClaimCheck {
                kind: raw.kind,
                event: raw.event,
                timestamp: ts,
                pointer,
            });
        }
        let typed = match raw.kind.to_ascii_lowercase().as_str() {
            "feeds" => hook(FeedEvent::parse(event), ts, raw.data).map(Self::Feeds),
            "recordings" | "recording" => {
                hook(RecordingEvent::parse(event), ts, raw.data).map(Self::Recordings)
            }
            "media" => hook(MediaEvent::parse(event), ts, raw.data).map(Self::Media),
            "transcoder" => hook(TranscoderEvent::parse(event), ts, raw.data).map(Self::Transcoder),
            "viewerconnection" => {
                hook(ViewerConnectionEvent::parse(event), ts, raw.data).map(Self::ViewerConnection)
            }
            "thumbnail" => hook(event.to_owned(), ts, raw.data).map(Self::ThumbnailStored),
            _ => None,
        };
        Ok(typed.unwrap_or(Self::Unknown(whole)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_examples_become_typed_events() {
        let feeds = br#"{"type":"feeds","event":"ended","timestamp":1638463501075,"data":{"feedId":"369e4a86-f937-4254-bd9f-99dc484d2bd6","accountId":"ZG6NWV","name":"sample_stream","streamId":"ZG6NWV/sample_stream","active":false,"ended":1638463500963}}"#;
        let WebhookEvent::Feeds(hook) = WebhookEvent::parse(feeds).unwrap() else {
            panic!()
        };
        assert_eq!(hook.event, FeedEvent::Ended);
        assert_eq!(hook.timestamp, Some(1638463501075));
        assert_eq!(hook.data.ended, Some(1638463500963));
        assert_eq!(hook.data.active, Some(false));

        let recording = br#"{"type":"recording","event":"started","timestamp":1639296462907,"data":{"recordFileId":7975,"tokenId":142366,"streamName":"testy","recordedOn":1639296462755}}"#;
        let WebhookEvent::Recordings(hook) = WebhookEvent::parse(recording).unwrap() else {
            panic!()
        };
        assert_eq!(hook.data.record_file_id, Some(7975));
        assert_eq!(hook.data.stream_name.as_deref(), Some("testy"));

        let media = br#"{"type":"media","event":"completed","timestamp":1725260343575,"data":{"mediaAssetId":"e0ca421e3ee748629d073b6991d4d93d","tokenId":1187282,"streamName":"test-record-clip","streamId":"dkxfvY/test-record-clip","startTime":1725259874671,"metadata":{},"type":"clip","expiration":1733900336143}}"#;
        let WebhookEvent::Media(hook) = WebhookEvent::parse(media).unwrap() else {
            panic!()
        };
        assert_eq!(hook.event, MediaEvent::Completed);
        assert_eq!(hook.data.kind.as_deref(), Some("clip"));

        let transcoder = br#"{"type":"transcoder","event":"STOPPED","timestamp":1724891135725,"data":{"transcoderId":"fddcbce0","transcoderName":"test_webhooks","cluster":"lon-1","createdOn":"2024-08-29T00:00:00Z","status":"Shutdown"}}"#;
        let WebhookEvent::Transcoder(hook) = WebhookEvent::parse(transcoder).unwrap() else {
            panic!()
        };
        assert_eq!(hook.event, TranscoderEvent::Stopped);
        assert_eq!(hook.data.status.as_deref(), Some("Shutdown"));

        let viewer = br#"{"type":"viewerConnection","event":"viewerAttempt","timestamp":1727442713604,"data":{"name":"myAwesomeStream","accountId":"ABC123","streamId":"ABC123/myAwesomeStream"}}"#;
        let WebhookEvent::ViewerConnection(hook) = WebhookEvent::parse(viewer).unwrap() else {
            panic!()
        };
        assert_eq!(hook.event, ViewerConnectionEvent::ViewerAttempt);
        assert_eq!(hook.event.as_str(), "ViewerAttempt");
    }

    #[test]
    fn completed_recording_metadata_is_typed() {
        let body = br#"{"type":"recordings","event":"completed","timestamp":1,"data":{"recordFileId":1,"metadata":{"format":"mp4","sizes":{"concat":10},"duration":12.5,"tracks":[{"type":"video","codec":"h264","width":1280,"height":720,"framerate":30}]}}}"#;
        let WebhookEvent::Recordings(hook) = WebhookEvent::parse(body).unwrap() else {
            panic!()
        };
        let metadata = hook.data.metadata.unwrap();
        assert_eq!(metadata.duration, Some(12.5));
        assert_eq!(metadata.tracks[0].kind.as_deref(), Some("video"));
        assert_eq!(metadata.tracks[0].width, Some(1280));
    }

    #[test]
    fn unknown_types_and_mismatched_payloads_are_kept_whole() {
        let future = br#"{"type":"analytics","event":"report","timestamp":1,"data":{"x":1}}"#;
        assert!(
            matches!(WebhookEvent::parse(future).unwrap(), WebhookEvent::Unknown(v) if v["data"]["x"] == 1)
        );
        let odd = br#"{"type":"feeds","event":"started","data":{"active":"yes"}}"#;
        assert!(matches!(
            WebhookEvent::parse(odd).unwrap(),
            WebhookEvent::Unknown(_)
        ));
        let odd_envelope = br#"{"type":"feeds","event":5}"#;
        assert!(matches!(
            WebhookEvent::parse(odd_envelope).unwrap(),
            WebhookEvent::Unknown(_)
        ));
        let unknown_event = br#"{"type":"feeds","event":"paused"}"#;
        let WebhookEvent::Feeds(hook) = WebhookEvent::parse(unknown_event).unwrap() else {
            panic!()
        };
        assert_eq!(hook.event, FeedEvent::Other("paused".into()));
    }

    #[test]
    fn relay_messages_are_typed() {
        let stored = br#"{"type":"thumbnail","event":"stored","timestamp":5,"data":{"streamId":"a/b","feedId":null,"tokenId":null,"bucket":"bk","key":"k.jpg","size":3,"sha256":"ab","contentType":"image/jpeg"}}"#;
        let WebhookEvent::ThumbnailStored(hook) = WebhookEvent::parse(stored).unwrap() else {
            panic!()
        };
        assert_eq!(hook.data.key, "k.jpg");
        let pointer = br#"{"type":"media","event":"completed","timestamp":5,"claimCheck":{"bucket":"bk","key":"events/oversize/ab.json","size":300000,"sha256":"ab"}}"#;
        let WebhookEvent::ClaimCheck { kind, pointer, .. } = WebhookEvent::parse(pointer).unwrap()
        else {
            panic!()
        };
        assert_eq!(kind, "media");
        assert_eq!(pointer.size, 300000);
    }

    #[test]
    fn non_envelopes_are_errors() {
        for body in [&b"[]"[..], b"[\"feeds\"]", b"{}", b"{\"type\":3}", b"nope"] {
            assert!(WebhookEvent::parse(body).is_err());
        }
    }
}
