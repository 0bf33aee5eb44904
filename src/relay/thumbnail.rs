//! Thumbnail hooks: the S3 key and object metadata, built from unsigned (untrusted) headers.
//!
//! Only the image bytes are signed. The stream id and timestamp headers are checked segment by
//! segment so that no value can steer a key outside the configured prefix.

use crate::relay::message::sha256_hex;
use millicast_webhooks::ThumbnailHeaders;

use crate::ports::ObjectHead;

/// Replaces a key segment that is missing or unsafe.
pub const UNKNOWN_SEGMENT: &str = "_unknown";
const MAX_SEGMENT_LEN: usize = 128;
/// Longest metadata value kept; S3 allows 2 KB of user metadata in all.
const MAX_METADATA_VALUE_LEN: usize = 256;

/// True for a segment of `[A-Za-z0-9._~-]{1,128}` other than `.` and `..`.
pub fn is_safe_segment(segment: &str) -> bool {
    (1..=MAX_SEGMENT_LEN).contains(&segment.len())
        && segment != "."
        && segment != ".."
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'))
}

fn safe_segment(segment: Option<&str>) -> &str {
    segment
        .filter(|s| is_safe_segment(s))
        .unwrap_or(UNKNOWN_SEGMENT)
}

/// A header value fit to be an S3 metadata value or a JSON field: printable ASCII, bounded.
pub fn clean_value(value: Option<&str>) -> Option<&str> {
    value.filter(|v| {
        !v.is_empty()
            && v.len() <= MAX_METADATA_VALUE_LEN
            && v.bytes().all(|b| (0x20..0x7f).contains(&b))
    })
}

/// How far after the receive time a capture time may lie: clocks differ a little, but a capture
/// cannot come from the future. An earlier capture time is taken as it is (a late delivery; an
/// older image never replaces a newer `latest.jpg` anyway).
pub const CAPTURE_AHEAD_TOLERANCE_MS: i64 = 5 * 60 * 1000;

/// A thumbnail's capture time that cannot be a capture time at all: more than a signed 64-bit
/// integer of milliseconds, which the contract's `timestamp` is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("X-Millicast-Timestamp is larger than a signed 64-bit number of milliseconds")]
pub struct CaptureTimeOutOfRange;

/// Where a thumbnail's capture time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureTime {
    /// The header: not after the receive time by more than [`CAPTURE_AHEAD_TOLERANCE_MS`].
    Header,
    /// No usable header: the receive time stands in.
    Missing,
    /// The header, but further ahead of the receive time: the receive time stands in, and the
    /// image never becomes `latest.jpg` (the header is unsigned; a far-future value would pin
    /// it there for good).
    OutsideWindow,
}

/// The name of every stream's newest capture in its folder.
pub const LATEST_FILE: &str = "latest.jpg";

/// Everything needed to store one thumbnail and announce it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThumbnailPlan {
    /// `{prefix}{account}/{stream}/{timestampMs}-{sha256[..16]}.jpg`
    pub key: String,
    /// `{prefix}{account}/{stream}/latest.jpg`
    pub latest_key: String,
    /// The capture time (or the receive time standing in for it): at most `i64::MAX`.
    pub timestamp_ms: u64,
    pub capture_time: CaptureTime,
    pub sha256_hex: String,
    /// Cleaned header values (`None` when absent or unfit).
    pub stream_id: Option<String>,
    /// The stream's name (the stream id's part after `/`): the stream key of its messages.
    pub stream_name: Option<String>,
    pub feed_id: Option<String>,
    pub token_id: Option<String>,
    /// S3 user metadata: `stream-id`, `feed-id`, `token-id`, `timestamp`, `claimed-timestamp`,
    /// `sha256`, `webhook-id` (decimal), `delivery-id` (those present).
    pub metadata: Vec<(&'static str, String)>,
}

impl ThumbnailPlan {
    /// Builds the plan for `image` of delivery `delivery_id`, received at `received_ms`, which
    /// stands in for a capture time that is missing, not digits, or in the future
    /// ([`CAPTURE_AHEAD_TOLERANCE_MS`]). `webhook_id` is the webhook whose secret verified the
    /// delivery (`None` for the secret held without id).
    pub fn new(
        prefix: &str,
        headers: &ThumbnailHeaders<'_>,
        image: &[u8],
        received_ms: i64,
        webhook_id: Option<i64>,
        delivery_id: &str,
    ) -> Result<Self, CaptureTimeOutOfRange> {
        let sha256_hex = sha256_hex(image);
        let (account, stream) = headers.account_and_stream();
        let folder = format!(
            "{prefix}{}/{}/",
            safe_segment(account),
            safe_segment(stream)
        );
        let digits = headers
            .timestamp
            .filter(|value| !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()));
        let header_timestamp = match digits {
            Some(digits) => Some(digits.parse::<i64>().map_err(|_| CaptureTimeOutOfRange)?),
            None => None,
        };
        let received_ms = received_ms.max(0);
        let (timestamp_ms, capture_time) = match header_timestamp {
            None => (received_ms, CaptureTime::Missing),
            Some(captured)
                if captured <= received_ms.saturating_add(CAPTURE_AHEAD_TOLERANCE_MS) =>
            {
                (captured, CaptureTime::Header)
            }
            Some(_) => (received_ms, CaptureTime::OutsideWindow),
        };
        let timestamp_ms = u64::try_from(timestamp_ms).unwrap_or(0);

        let stream_id = clean_value(headers.stream_id).map(str::to_owned);
        let stream_name = clean_value(stream).map(str::to_owned);
        let feed_id = clean_value(headers.feed_id).map(str::to_owned);
        let token_id = clean_value(headers.token_id).map(str::to_owned);
        let (timestamp, claimed) = match capture_time {
            CaptureTime::Header => (Some(timestamp_ms.to_string()), None),
            CaptureTime::Missing => (None, None),
            CaptureTime::OutsideWindow => (None, header_timestamp.map(|t| t.to_string())),
        };
        let metadata = [
            ("stream-id", stream_id.clone()),
            ("feed-id", feed_id.clone()),
            ("token-id", token_id.clone()),
            ("timestamp", timestamp),
            ("claimed-timestamp", claimed),
            ("sha256", Some(sha256_hex.clone())),
            ("webhook-id", webhook_id.map(|id| id.to_string())),
            (
                "delivery-id",
                Some(delivery_id.to_owned()).filter(|id| !id.is_empty()),
            ),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name, v)))
        .collect();

        Ok(Self {
            key: format!("{folder}{timestamp_ms}-{}.jpg", &sha256_hex[..16]),
            latest_key: format!("{folder}{LATEST_FILE}"),
            timestamp_ms,
            capture_time,
            sha256_hex,
            stream_id,
            stream_name,
            feed_id,
            token_id,
            metadata,
        })
    }

    /// Whether this image may become `latest.jpg`: not when its capture time claimed the future
    /// (then its real capture time is unknown).
    pub fn may_become_latest(&self) -> bool {
        self.capture_time != CaptureTime::OutsideWindow
    }

    /// Whether the object found at [`Self::key`] is this delivery's own earlier write (an SDK
    /// retry whose first answer was lost), not another delivery's identical image.
    pub fn is_own_object(&self, head: &ObjectHead) -> bool {
        let ours = self
            .metadata
            .iter()
            .find(|(name, _)| *name == "delivery-id")
            .map(|(_, id)| id.as_str());
        ours.is_some() && head.metadata("delivery-id") == ours
    }

    /// The metadata of `latest.jpg`: the image's (its `webhook-id` too: the webhook of the
    /// delivery that writes `latest.jpg`), without `delivery-id`, with the capture time it is
    /// compared by always present (the receive time when the header had none).
    pub fn latest_metadata(&self) -> Vec<(&'static str, String)> {
        let mut metadata: Vec<_> = self
            .metadata
            .iter()
            .filter(|(name, _)| !matches!(*name, "timestamp" | "claimed-timestamp" | "delivery-id"))
            .cloned()
            .collect();
        metadata.push(("timestamp", self.timestamp_ms.to_string()));
        metadata
    }

    /// Whether this thumbnail should replace `current` as `latest.jpg`: captured later, or at
    /// the same millisecond with a greater content hash (so every writer, in any order, ends
    /// on the same image). A `latest.jpg` without a readable capture time is replaced.
    pub fn is_newer_than(&self, current: &ObjectHead) -> bool {
        let Some(current_ms) = current
            .metadata("timestamp")
            .and_then(millicast_webhooks::thumbnail::parse_timestamp_ms)
        else {
            return true;
        };
        (self.timestamp_ms, self.sha256_hex.as_str())
            > (current_ms, current.metadata("sha256").unwrap_or_default())
    }

    /// The SQS message announcing a stored thumbnail (docs/contract.md).
    pub fn stored_event(&self, bucket: &str, size: usize, content_type: &str) -> String {
        serde_json::json!({
            "type": "thumbnail",
            "event": "stored",
            "timestamp": self.timestamp_ms,
            "data": {
                "streamId": self.stream_id,
                "feedId": self.feed_id,
                "tokenId": self.token_id,
                "bucket": bucket,
                "key": self.key,
                "size": size,
                "sha256": self.sha256_hex,
                "contentType": content_type,
            }
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minute after the sample capture time (1638463486489).
    const NOW: i64 = 1_638_463_546_489;
    // sha256("jpeg") computed with `printf jpeg | sha256sum`.
    const IMAGE: &[u8] = b"jpeg";
    const IMAGE_SHA256: &str = "41e5787e9f28562d07b891b1816b492309d646c0f2829743fa4963a9f9cc1d61";

    fn plan(stream_id: Option<&str>, timestamp: Option<&str>) -> ThumbnailPlan {
        let headers = ThumbnailHeaders {
            stream_id,
            feed_id: Some("feed-1"),
            token_id: None,
            timestamp,
        };
        ThumbnailPlan::new("thumbnails/", &headers, IMAGE, NOW, None, "").unwrap()
    }

    #[test]
    fn only_a_newer_capture_replaces_latest() {
        let head = |timestamp: Option<&str>, sha256: &str| ObjectHead {
            etag: "\"1\"".into(),
            metadata: timestamp
                .map(|t| ("timestamp".to_owned(), t.to_owned()))
                .into_iter()
                .chain([("sha256".to_owned(), sha256.to_owned())])
                .collect(),
        };
        let at = |ms: i64| (NOW - 5_000 + ms).to_string();
        let plan = plan(Some("a/b"), Some(&at(0)));
        assert!(plan.is_newer_than(&head(Some(&at(-1)), "ff")));
        assert!(!plan.is_newer_than(&head(Some(&at(1)), "00")));
        // Same capture time: the greater hash wins, whichever arrives first.
        assert!(plan.is_newer_than(&head(Some(&at(0)), "00")));
        assert!(!plan.is_newer_than(&head(Some(&at(0)), "ff")));
        assert!(!plan.is_newer_than(&head(Some(&at(0)), IMAGE_SHA256)));
        assert!(plan.is_newer_than(&head(None, "ff")));
        assert!(plan.is_newer_than(&head(Some("soon"), "ff")));
        assert_eq!(plan.stream_name.as_deref(), Some("b"));
        assert!(plan.latest_metadata().contains(&("timestamp", at(0))));
        let untimed = super::tests::plan(Some("a/b"), None);
        assert!(
            untimed
                .latest_metadata()
                .contains(&("timestamp", NOW.to_string()))
        );
    }

    #[test]
    fn key_follows_the_documented_scheme() {
        let plan = plan(Some("ZG6NWV/sample_stream"), Some("1638463486489"));
        assert_eq!(plan.sha256_hex, IMAGE_SHA256);
        assert_eq!(
            plan.key,
            format!(
                "thumbnails/ZG6NWV/sample_stream/1638463486489-{}.jpg",
                &IMAGE_SHA256[..16]
            )
        );
        assert_eq!(
            plan.latest_key,
            "thumbnails/ZG6NWV/sample_stream/latest.jpg"
        );
        assert_eq!(plan.timestamp_ms, 1_638_463_486_489);
    }

    #[test]
    fn metadata_holds_the_present_headers_only() {
        let plan = plan(Some("ZG6NWV/sample_stream"), Some("1638463486489"));
        assert_eq!(
            plan.metadata,
            vec![
                ("stream-id", "ZG6NWV/sample_stream".to_owned()),
                ("feed-id", "feed-1".to_owned()),
                ("timestamp", "1638463486489".to_owned()),
                ("sha256", IMAGE_SHA256.to_owned()),
            ]
        );
    }

    #[test]
    fn the_webhook_id_is_kept_on_the_image_and_on_latest_jpg() {
        let headers = ThumbnailHeaders {
            stream_id: Some("ZG6NWV/sample_stream"),
            feed_id: Some("feed-1"),
            token_id: None,
            timestamp: Some("1638463486489"),
        };
        let with_id = |id| ThumbnailPlan::new("", &headers, IMAGE, NOW, id, "req-1").unwrap();
        let plan = with_id(Some(4242));
        assert_eq!(
            plan.metadata,
            vec![
                ("stream-id", "ZG6NWV/sample_stream".to_owned()),
                ("feed-id", "feed-1".to_owned()),
                ("timestamp", "1638463486489".to_owned()),
                ("sha256", IMAGE_SHA256.to_owned()),
                ("webhook-id", "4242".to_owned()),
                ("delivery-id", "req-1".to_owned()),
            ]
        );
        assert_eq!(
            plan.latest_metadata(),
            vec![
                ("stream-id", "ZG6NWV/sample_stream".to_owned()),
                ("feed-id", "feed-1".to_owned()),
                ("sha256", IMAGE_SHA256.to_owned()),
                ("webhook-id", "4242".to_owned()),
                ("timestamp", "1638463486489".to_owned()),
            ]
        );
        // The extremes, in decimal: at most 20 characters.
        for (id, decimal) in [
            (i64::MIN, "-9223372036854775808"),
            (i64::MAX, "9223372036854775807"),
            (0, "0"),
        ] {
            assert!(
                with_id(Some(id))
                    .latest_metadata()
                    .contains(&("webhook-id", decimal.to_owned()))
            );
        }
        // Verified by the secret held without id: no webhook-id on either object.
        let plan = with_id(None);
        assert_eq!(
            plan.metadata,
            vec![
                ("stream-id", "ZG6NWV/sample_stream".to_owned()),
                ("feed-id", "feed-1".to_owned()),
                ("timestamp", "1638463486489".to_owned()),
                ("sha256", IMAGE_SHA256.to_owned()),
                ("delivery-id", "req-1".to_owned()),
            ]
        );
        assert_eq!(
            plan.latest_metadata(),
            vec![
                ("stream-id", "ZG6NWV/sample_stream".to_owned()),
                ("feed-id", "feed-1".to_owned()),
                ("sha256", IMAGE_SHA256.to_owned()),
                ("timestamp", "1638463486489".to_owned()),
            ]
        );
    }

    #[test]
    fn unsafe_stream_segments_become_unknown() {
        let long = "a".repeat(129);
        let exactly_max = "b".repeat(128);
        let long_stream = format!("acct/{long}");
        let max_stream = format!("acct/{exactly_max}");
        let cases: Vec<(Option<&str>, &str, &str)> = vec![
            (None, UNKNOWN_SEGMENT, UNKNOWN_SEGMENT),
            (Some(""), UNKNOWN_SEGMENT, UNKNOWN_SEGMENT),
            (Some("acct"), "acct", UNKNOWN_SEGMENT),
            (Some("acct/"), "acct", UNKNOWN_SEGMENT),
            (Some("/etc/passwd"), UNKNOWN_SEGMENT, UNKNOWN_SEGMENT),
            (Some("../../etc"), UNKNOWN_SEGMENT, UNKNOWN_SEGMENT),
            (Some("acct/../../x"), "acct", UNKNOWN_SEGMENT),
            (Some("./."), UNKNOWN_SEGMENT, UNKNOWN_SEGMENT),
            (Some("acct/%2e%2e"), "acct", UNKNOWN_SEGMENT),
            (Some("acct/na\0me"), "acct", UNKNOWN_SEGMENT),
            (Some("acct/na\nme"), "acct", UNKNOWN_SEGMENT),
            (Some("acct/stréam"), "acct", UNKNOWN_SEGMENT),
            (Some("acct/stream\u{2215}x"), "acct", UNKNOWN_SEGMENT),
            (Some("ac ct/stream"), UNKNOWN_SEGMENT, "stream"),
            (Some(long.as_str()), UNKNOWN_SEGMENT, UNKNOWN_SEGMENT),
            (Some(long_stream.as_str()), "acct", UNKNOWN_SEGMENT),
            (Some(max_stream.as_str()), "acct", exactly_max.as_str()),
            (Some("a.b~c-d_e/..."), "a.b~c-d_e", "..."),
        ];
        for (stream_id, account, stream) in cases {
            let plan = plan(stream_id, Some("1638463486489"));
            let expected = format!("thumbnails/{account}/{stream}/1638463486489-");
            assert!(
                plan.key.starts_with(&expected),
                "{stream_id:?} gave {}",
                plan.key
            );
            // Nothing but the prefix, two segments and the file name.
            let rest = plan.key.strip_prefix("thumbnails/").unwrap();
            assert_eq!(
                rest.split('/').count(),
                3,
                "{stream_id:?} gave {}",
                plan.key
            );
            assert!(rest.split('/').all(is_safe_segment), "{}", plan.key);
        }
    }

    #[test]
    fn missing_or_invalid_timestamp_becomes_the_receive_time() {
        for timestamp in [
            None,
            Some(""),
            Some("abc"),
            Some("-5"),
            Some("+5"),
            Some(" 5"),
            Some("1.5"),
        ] {
            let plan = plan(Some("a/b"), timestamp);
            assert_eq!(plan.timestamp_ms, NOW as u64, "{timestamp:?}");
            assert!(plan.key.contains(&format!("/{NOW}-")));
            assert!(!plan.metadata.iter().any(|(name, _)| *name == "timestamp"));
        }
    }

    #[test]
    fn unfit_metadata_values_are_dropped() {
        let long = "x".repeat(300);
        let headers = ThumbnailHeaders {
            stream_id: Some("a/b\nInjected: yes"),
            feed_id: Some(&long),
            token_id: Some("tökén"),
            timestamp: None,
        };
        let plan = ThumbnailPlan::new("", &headers, IMAGE, NOW, None, "").unwrap();
        assert_eq!(plan.metadata, vec![("sha256", IMAGE_SHA256.to_owned())]);
        assert!(plan.key.starts_with("a/_unknown/"));
    }

    #[test]
    fn stored_event_has_the_documented_shape() {
        let plan = plan(Some("ZG6NWV/sample_stream"), Some("1638463486489"));
        let event: serde_json::Value =
            serde_json::from_str(&plan.stored_event("bucket-1", 4, "image/jpeg")).unwrap();
        assert_eq!(
            event,
            serde_json::json!({
                "type": "thumbnail", "event": "stored", "timestamp": 1638463486489u64,
                "data": {
                    "streamId": "ZG6NWV/sample_stream", "feedId": "feed-1", "tokenId": null,
                    "bucket": "bucket-1", "key": plan.key, "size": 4,
                    "sha256": IMAGE_SHA256, "contentType": "image/jpeg"
                }
            })
        );
    }

    #[test]
    fn a_capture_time_in_the_future_never_becomes_latest() {
        let ahead = (NOW + CAPTURE_AHEAD_TOLERANCE_MS + 1).to_string();
        for claimed in ["99999999999999", ahead.as_str()] {
            let plan = plan(Some("a/b"), Some(claimed));
            assert_eq!(plan.capture_time, CaptureTime::OutsideWindow, "{claimed}");
            assert!(!plan.may_become_latest());
            // Filed under the receive time; the claim is kept, not trusted.
            assert_eq!(plan.timestamp_ms, NOW as u64);
            assert!(plan.key.contains(&format!("/{NOW}-")));
            assert!(
                plan.metadata
                    .contains(&("claimed-timestamp", claimed.to_owned()))
            );
            assert!(!plan.metadata.iter().any(|(name, _)| *name == "timestamp"));
        }
        // Up to the tolerance ahead, and any time before, the capture time is taken.
        for edge in [NOW + CAPTURE_AHEAD_TOLERANCE_MS, NOW - 86_400_000, 0] {
            let plan = plan(Some("a/b"), Some(&edge.to_string()));
            assert_eq!(plan.capture_time, CaptureTime::Header);
            assert!(plan.may_become_latest());
            assert_eq!(plan.timestamp_ms, edge as u64);
        }
    }

    #[test]
    fn a_capture_time_beyond_a_signed_64_bit_integer_is_refused() {
        let headers = |timestamp| ThumbnailHeaders {
            stream_id: Some("a/b"),
            feed_id: None,
            token_id: None,
            timestamp: Some(timestamp),
        };
        for value in [
            "9223372036854775808",
            "18446744073709551616",
            "99999999999999999999999",
        ] {
            assert_eq!(
                ThumbnailPlan::new("", &headers(value), IMAGE, NOW, None, ""),
                Err(CaptureTimeOutOfRange),
                "{value}"
            );
        }
        // i64::MAX itself is a number, just not a plausible capture: outside the window.
        let plan =
            ThumbnailPlan::new("", &headers("9223372036854775807"), IMAGE, NOW, None, "").unwrap();
        assert_eq!(plan.capture_time, CaptureTime::OutsideWindow);
    }

    #[test]
    fn the_object_of_a_retry_is_told_from_another_deliverys() {
        let headers = ThumbnailHeaders {
            stream_id: Some("a/b"),
            feed_id: None,
            token_id: None,
            timestamp: None,
        };
        let plan = ThumbnailPlan::new("", &headers, IMAGE, NOW, None, "req-1").unwrap();
        let head = |id: Option<&str>| ObjectHead {
            etag: "\"1\"".into(),
            metadata: id
                .map(|id| ("delivery-id".to_owned(), id.to_owned()))
                .into_iter()
                .collect(),
        };
        assert!(plan.is_own_object(&head(Some("req-1"))));
        assert!(!plan.is_own_object(&head(Some("req-2"))));
        assert!(!plan.is_own_object(&head(None)));
        // Without an id of its own, nothing is taken for its own.
        let anonymous = ThumbnailPlan::new("", &headers, IMAGE, NOW, None, "").unwrap();
        assert!(!anonymous.is_own_object(&head(None)));
    }
}
