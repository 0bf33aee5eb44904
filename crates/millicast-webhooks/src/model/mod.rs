//! The typed webhook model: one variant per hook type, with its event names and `data`.
//!
//! Parsing is tolerant: optional fields may be missing, event names match case-insensitively,
//! and a type (or payload) this model does not know is kept as [`WebhookEvent::Unknown`] rather
//! than rejected, because the platform adds types and fields over time.
//!
//! ```
//! use millicast_webhooks::model::{FeedEvent, WebhookEvent};
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

mod data;
mod names;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use data::{
    FeedData, MediaData, RecordingData, RecordingMetadata, RecordingTrack, TranscoderData,
    ViewerConnectionData,
};
pub use names::{FeedEvent, MediaEvent, RecordingEvent, TranscoderEvent, ViewerConnectionEvent};

use crate::envelope::ParseError;

/// One hook: its event name, envelope timestamp and typed `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook<E, D> {
    /// The event name.
    pub event: E,
    /// The envelope's `timestamp` (epoch ms); order events by it, not by arrival.
    pub timestamp: Option<i64>,
    /// The typed `data`.
    pub data: D,
}

/// A JSON webhook of any type.
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookEvent {
    /// `feeds`.
    Feeds(Hook<FeedEvent, FeedData>),
    /// `recordings`, or the older `recording`.
    Recordings(Hook<RecordingEvent, RecordingData>),
    /// `media`.
    Media(Hook<MediaEvent, MediaData>),
    /// `transcoder`.
    Transcoder(Hook<TranscoderEvent, TranscoderData>),
    /// `viewerConnection`.
    ViewerConnection(Hook<ViewerConnectionEvent, ViewerConnectionData>),
    /// A type this model does not know, or a payload that does not match it: the whole JSON.
    Unknown(Value),
}

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
    /// Parses a body. Fails only when it is not a JSON object with a string `type`.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let whole: Value = serde_json::from_slice(body).map_err(ParseError::new)?;
        Self::from_value(whole)
    }

    /// Whether the model types webhooks whose `type` is `kind` (in any case, as [`Self::parse`]
    /// reads it): a body of such a type that still parses as [`Self::Unknown`] lacks what its
    /// type requires, while any other type is one the platform added later.
    pub fn is_typed_kind(kind: &str) -> bool {
        matches!(
            kind.to_ascii_lowercase().as_str(),
            "feeds" | "recordings" | "recording" | "media" | "transcoder" | "viewerconnection"
        )
    }

    /// The same, from a JSON value already parsed.
    pub fn from_value(whole: Value) -> Result<Self, ParseError> {
        if !whole.is_object() {
            // Derived structs would accept an array (fields by position).
            return Err(ParseError::new("not a JSON object"));
        }
        if !whole.get("type").is_some_and(Value::is_string) {
            return Err(ParseError::new("no string `type`"));
        }
        let Ok(raw) = RawEnvelope::deserialize(&whole) else {
            // Not an envelope with the usual field types, but it has a type: keep it whole.
            return Ok(Self::Unknown(whole));
        };
        let event = raw.event.as_deref().unwrap_or_default();
        let ts = raw.timestamp;
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
    fn non_envelopes_are_errors() {
        for body in [&b"[]"[..], b"[\"feeds\"]", b"{}", b"{\"type\":3}", b"nope"] {
            assert!(WebhookEvent::parse(body).is_err());
        }
    }
}
