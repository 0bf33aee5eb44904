//! The envelope every JSON webhook shares, `{"type", "event", "timestamp", "data"}`: enough to
//! route an event, check its freshness and name its stream, without depending on `data`
//! matching a typed model (see [`crate::model`] for that).

use std::fmt;

use serde::Deserialize;
use serde_json::Value;

/// Why a body is not a webhook envelope: not a JSON object with a string `type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(String);

impl ParseError {
    pub(crate) fn new(reason: impl fmt::Display) -> Self {
        Self(reason.to_string())
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a webhook envelope: {}", self.0)
    }
}

impl std::error::Error for ParseError {}

/// The envelope of a JSON webhook, as far as routing needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `type`: `feeds`, `recordings` (older: `recording`), `media`, `transcoder`,
    /// `viewerConnection`, or a type the platform adds later.
    pub kind: String,
    /// `event`, when it is a string (its case varies across documentation versions).
    pub event: Option<String>,
    /// `timestamp` in epoch milliseconds, when the body has an integer `timestamp`.
    pub timestamp_ms: Option<i64>,
    /// `data.streamId`, else `accountId/name`, else the stream name, when the body has them
    /// (see [`stream_id_of`]).
    pub stream_id: Option<String>,
    /// The stream's name, the one name every hook type about a stream carries (see
    /// [`stream_name_of`]): feeds `ZG6NWV/sample_stream` and recordings `sample_stream` are both
    /// `sample_stream`.
    pub stream_name: Option<String>,
}

#[derive(Deserialize)]
struct RawEnvelope {
    // A duplicated `type` key is an error: two parsers could route the body differently.
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    event: Option<Value>,
    #[serde(default)]
    timestamp: Option<Value>,
    #[serde(default)]
    data: Option<Value>,
}

impl Envelope {
    /// Parses a body. Anything but a JSON object with a string `type` is an error (serde_json
    /// also bounds nesting depth, so deep input cannot overflow the stack).
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        // Derived structs also accept JSON arrays (fields by position): require an object.
        if body.trim_ascii_start().first() != Some(&b'{') {
            return Err(ParseError::new("not a JSON object"));
        }
        let raw: RawEnvelope = serde_json::from_slice(body).map_err(ParseError::new)?;
        Ok(Self {
            kind: raw.kind,
            event: raw.event.and_then(|e| e.as_str().map(str::to_owned)),
            timestamp_ms: raw.timestamp.as_ref().and_then(Value::as_i64),
            stream_id: raw.data.as_ref().and_then(stream_id_of),
            stream_name: raw.data.as_ref().and_then(stream_name_of),
        })
    }

    /// The replay check: true when `window_seconds` is 0 (off) or the timestamp is within
    /// `window_seconds` of `now_ms`, either way. A body without an integer timestamp cannot be
    /// shown fresh. Only the body is signed, so this is what bounds the replay of a captured
    /// delivery.
    pub fn is_fresh(&self, now_ms: i64, window_seconds: u64) -> bool {
        if window_seconds == 0 {
            return true;
        }
        let window_ms = i128::from(window_seconds) * 1000;
        self.timestamp_ms
            .is_some_and(|ts| (i128::from(now_ms) - i128::from(ts)).abs() <= window_ms)
    }
}

fn non_empty_str<'a>(data: &'a Value, field: &str) -> Option<&'a str> {
    data.get(field)?.as_str().filter(|s| !s.is_empty())
}

/// The name of the stream a webhook's `data` is about: `streamName` (recordings, media), else
/// `name` (feeds, viewerConnection), else the part of `streamId` after its `/`. Stream names are
/// unique within an account, and recordings carry no account id, so the name is what identifies
/// a stream on every hook type. Transcoder events name no stream (`transcoderName` is not one).
pub fn stream_name_of(data: &Value) -> Option<String> {
    non_empty_str(data, "streamName")
        .or_else(|| non_empty_str(data, "name"))
        .or_else(|| {
            non_empty_str(data, "streamId")
                .and_then(|id| id.split_once('/'))
                .map(|(_, name)| name)
                .filter(|name| !name.is_empty())
        })
        .map(str::to_owned)
}

/// The stream a webhook's `data` names: `streamId` (`account/name`) when present, else
/// `accountId/name` (or `accountId/streamName`), else the bare stream name, else the account.
pub fn stream_id_of(data: &Value) -> Option<String> {
    if let Some(id) = non_empty_str(data, "streamId") {
        return Some(id.to_owned());
    }
    let name = non_empty_str(data, "name").or_else(|| non_empty_str(data, "streamName"));
    match (non_empty_str(data, "accountId"), name) {
        (Some(account), Some(name)) => Some(format!("{account}/{name}")),
        (_, Some(name)) => Some(name.to_owned()),
        (Some(account), None) => Some(account.to_owned()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<Envelope, ParseError> {
        Envelope::parse(body.as_bytes())
    }

    #[test]
    fn documented_examples_parse() {
        let cases = [
            (
                r#"{"type":"feeds","event":"ended","timestamp":1638463501075,"data":{"feedId":"369e4a86-f937-4254-bd9f-99dc484d2bd6","accountId":"ZG6NWV","name":"sample_stream","streamId":"ZG6NWV/sample_stream","active":false,"ended":1638463500963}}"#,
                (
                    "feeds",
                    Some("ended"),
                    Some(1638463501075),
                    Some("ZG6NWV/sample_stream"),
                ),
            ),
            (
                r#"{"type":"recordings","event":"started","timestamp":1639296462907,"data":{"recordFileId":7975,"tokenId":142366,"streamName":"testy","recordedOn":1639296462755}}"#,
                (
                    "recordings",
                    Some("started"),
                    Some(1639296462907),
                    Some("testy"),
                ),
            ),
            (
                r#"{"type":"media","event":"completed","timestamp":1725260343575,"data":{"mediaAssetId":"e0ca421e3ee748629d073b6991d4d93d","tokenId":1187282,"streamName":"test-record-clip","streamId":"dkxfvY/test-record-clip","startTime":1725259874671,"metadata":{},"type":"clip","expiration":1733900336143}}"#,
                (
                    "media",
                    Some("completed"),
                    Some(1725260343575),
                    Some("dkxfvY/test-record-clip"),
                ),
            ),
            (
                r#"{"type":"transcoder","event":"STOPPED","timestamp":1724891135725,"data":{"transcoderId":"fddcbce0-1a2b-4c3d-9e8f-0a1b2c3d4e5f","transcoderName":"test_webhooks","cluster":"lon-1","createdOn":"2024-08-29T00:00:00Z","status":"Shutdown"}}"#,
                ("transcoder", Some("STOPPED"), Some(1724891135725), None),
            ),
            (
                r#"{"type":"viewerConnection","event":"ViewerAttempt","timestamp":1727442713604,"data":{"name":"myAwesomeStream","accountId":"ABC123","streamId":"ABC123/myAwesomeStream"}}"#,
                (
                    "viewerConnection",
                    Some("ViewerAttempt"),
                    Some(1727442713604),
                    Some("ABC123/myAwesomeStream"),
                ),
            ),
        ];
        for (body, (kind, event, timestamp, stream_id)) in cases {
            let envelope = parse(body).unwrap();
            assert_eq!(envelope.kind, kind);
            assert_eq!(envelope.event.as_deref(), event);
            assert_eq!(envelope.timestamp_ms, timestamp);
            assert_eq!(envelope.stream_id.as_deref(), stream_id);
        }
    }

    #[test]
    fn unknown_types_and_odd_fields_still_parse() {
        let envelope =
            parse(r#"{"type":"futureThing","event":7,"timestamp":"soon","data":[1]}"#).unwrap();
        assert_eq!(envelope.kind, "futureThing");
        assert_eq!(envelope.event, None);
        assert_eq!(envelope.timestamp_ms, None);
        assert_eq!(envelope.stream_id, None);
        assert_eq!(parse(r#"{"type":""}"#).unwrap().kind, "");
    }

    #[test]
    fn every_hook_type_about_a_stream_names_it_the_same_way() {
        let bodies = [
            r#"{"type":"feeds","data":{"accountId":"ZG6NWV","name":"cam","streamId":"ZG6NWV/cam"}}"#,
            r#"{"type":"recordings","data":{"recordFileId":1,"streamName":"cam"}}"#,
            r#"{"type":"media","data":{"streamName":"cam","streamId":"ZG6NWV/cam","type":"clip"}}"#,
            r#"{"type":"viewerConnection","data":{"name":"cam","accountId":"ZG6NWV"}}"#,
            r#"{"type":"future","data":{"streamId":"ZG6NWV/cam"}}"#,
        ];
        for body in bodies {
            assert_eq!(
                parse(body).unwrap().stream_name.as_deref(),
                Some("cam"),
                "{body}"
            );
        }
        let transcoder = r#"{"type":"transcoder","data":{"transcoderName":"t","cluster":"lon-1"}}"#;
        assert_eq!(parse(transcoder).unwrap().stream_name, None);
        for nameless in [
            r#"{"type":"x","data":{"streamId":"A/"}}"#,
            r#"{"type":"x","data":{"streamId":"A"}}"#,
        ] {
            assert_eq!(parse(nameless).unwrap().stream_name, None, "{nameless}");
        }
    }

    #[test]
    fn stream_id_falls_back_to_account_and_name() {
        let envelope = parse(r#"{"type":"x","data":{"accountId":"A","name":"n"}}"#).unwrap();
        assert_eq!(envelope.stream_id.as_deref(), Some("A/n"));
        let envelope = parse(r#"{"type":"x","data":{"accountId":"A","streamId":""}}"#).unwrap();
        assert_eq!(envelope.stream_id.as_deref(), Some("A"));
    }

    #[test]
    fn anything_but_an_object_with_a_string_type_is_malformed() {
        let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let deep_object = format!(
            r#"{{"type":"x","data":{}1{}}}"#,
            r#"{"a":"#.repeat(10_000),
            "}".repeat(10_000)
        );
        let cases = [
            "",
            " ",
            "null",
            "[]",
            r#"["type"]"#,
            r#""feeds""#,
            "42",
            "{}",
            r#"{"type":1}"#,
            r#"{"type":null}"#,
            r#"{"type":{"a":1}}"#,
            r#"{"event":"started"}"#,
            r#"{"type":"a","type":"b"}"#,
            r#"{"type":"feeds"} trailing"#,
            r#"{"type":"feeds""#,
            "not json",
            nested.as_str(),
            deep_object.as_str(),
        ];
        for body in cases {
            assert!(parse(body).is_err(), "{:.40}", body);
        }
        assert!(Envelope::parse(b"{\"type\":\"fe\xffds\"}").is_err());
    }

    #[test]
    fn replay_window_applies_both_ways() {
        let now = 1_700_000_000_000;
        let at = |ts: Option<i64>| Envelope {
            kind: "feeds".into(),
            event: None,
            timestamp_ms: ts,
            stream_id: None,
            stream_name: None,
        };
        assert!(at(Some(now)).is_fresh(now, 300));
        assert!(at(Some(now - 300_000)).is_fresh(now, 300));
        assert!(at(Some(now + 300_000)).is_fresh(now, 300));
        for stale in [
            Some(now - 300_001),
            Some(now + 300_001),
            Some(-1),
            Some(i64::MIN),
            Some(i64::MAX),
            None,
        ] {
            assert!(!at(stale).is_fresh(now, 300), "{stale:?}");
            assert!(at(stale).is_fresh(now, 0), "window off");
        }
        // Seconds instead of milliseconds (one old doc page) are decades stale.
        assert!(!at(Some(now / 1000)).is_fresh(now, 300));
    }
}
