//! The `data` of each hook type. Every field is optional: the documentation marks all but the
//! ids as possibly absent, and the platform adds fields over time (unknown ones are ignored).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `data` of `feeds` hooks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct FeedData {
    /// The feed (uuid).
    pub feed_id: Option<String>,
    /// The account the stream belongs to.
    pub account_id: Option<String>,
    /// The stream name.
    pub name: Option<String>,
    /// `accountId/name`.
    pub stream_id: Option<String>,
    /// Whether the feed is live.
    pub active: Option<bool>,
    /// When the feed started (epoch ms).
    pub started: Option<i64>,
    /// When the feed ended (epoch ms).
    pub ended: Option<i64>,
    /// The feed's priority (its type is not documented).
    pub priority: Option<Value>,
    /// The source id of a multi-source stream.
    pub source_id: Option<String>,
    /// The simulcast layer id.
    pub simulcast_id: Option<String>,
}

/// A track of a completed recording.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct RecordingTrack {
    /// `video` or `audio`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// For example `h264` or `opus`.
    pub codec: Option<String>,
    /// Bits per second.
    pub bitrate: Option<f64>,
    /// Pixels (video).
    pub width: Option<u32>,
    /// Pixels (video).
    pub height: Option<u32>,
    /// Frames per second (video).
    pub framerate: Option<f64>,
    /// Audio channels.
    pub channels: Option<u32>,
    /// Audio samples per second.
    pub samplerate: Option<u32>,
}

/// `metadata` of a completed recording.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct RecordingMetadata {
    /// The container, for example `mp4`.
    pub format: Option<String>,
    /// `{concat, dash, thumbnails}` sizes in bytes.
    pub sizes: Option<Value>,
    /// Seconds.
    pub duration: Option<f64>,
    /// The recorded tracks.
    pub tracks: Vec<RecordingTrack>,
}

/// `data` of `recordings` hooks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct RecordingData {
    /// The recording file.
    pub record_file_id: Option<i64>,
    /// The publish token that recorded.
    pub token_id: Option<i64>,
    /// The stream name (recordings carry no account id).
    pub stream_name: Option<String>,
    /// When the recording started (epoch ms).
    pub recorded_on: Option<i64>,
    /// What was recorded (on `completed`).
    pub metadata: Option<RecordingMetadata>,
}

/// `data` of `media` hooks (recordings and clips).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct MediaData {
    /// The media asset (hex).
    pub media_asset_id: Option<String>,
    /// `clip` or `recording` (a second `type`, nested in `data`).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// When the asset starts (epoch ms).
    pub start_time: Option<i64>,
    /// The publish token.
    pub token_id: Option<i64>,
    /// The stream name.
    pub stream_name: Option<String>,
    /// `accountId/streamName`.
    pub stream_id: Option<String>,
    /// When the asset expires (epoch ms).
    pub expiration: Option<i64>,
    /// Asset metadata (shape not documented).
    pub metadata: Option<Value>,
    /// The channel (type not documented).
    pub channel_id: Option<Value>,
}

/// `data` of `transcoder` hooks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct TranscoderData {
    /// The transcoder (uuid).
    pub transcoder_id: Option<String>,
    /// Its name (not a stream name).
    pub transcoder_name: Option<String>,
    /// The cluster it runs in, for example `lon-1`.
    pub cluster: Option<String>,
    /// When it was created (a date string).
    pub created_on: Option<String>,
    /// `Active`, `Shutdown` or `Deleted`.
    pub status: Option<String>,
}

/// `data` of `viewerConnection` hooks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct ViewerConnectionData {
    /// The stream name.
    pub name: Option<String>,
    /// The account.
    pub account_id: Option<String>,
    /// `accountId/name`.
    pub stream_id: Option<String>,
}
