//! Thumbnail hooks: the body is the JPEG itself (`Content-Type: image/jpeg`), described by
//! headers. Only the image bytes are signed: treat every header here as untrusted input (never
//! put one in a file path or object key unchecked).

/// `X-Millicast-Stream-Id`: `accountId/streamName`.
pub const STREAM_ID_HEADER: &str = "x-millicast-stream-id";
/// `X-Millicast-Feed-Id`.
pub const FEED_ID_HEADER: &str = "x-millicast-feed-id";
/// `X-Millicast-Token-Id` (newer senders only).
pub const TOKEN_ID_HEADER: &str = "x-millicast-token-id";
/// `X-Millicast-Timestamp`: capture time, epoch milliseconds.
pub const TIMESTAMP_HEADER: &str = "x-millicast-timestamp";

/// The metadata headers of a thumbnail request, as received (`None` when absent or not text).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThumbnailHeaders<'a> {
    /// `X-Millicast-Stream-Id`.
    pub stream_id: Option<&'a str>,
    /// `X-Millicast-Feed-Id`.
    pub feed_id: Option<&'a str>,
    /// `X-Millicast-Token-Id`.
    pub token_id: Option<&'a str>,
    /// `X-Millicast-Timestamp`, unparsed (see [`ThumbnailHeaders::timestamp_ms`]).
    pub timestamp: Option<&'a str>,
}

impl<'a> ThumbnailHeaders<'a> {
    /// Reads the four headers through `header`, which returns a header's value by its
    /// lower-case name (for example `|name| headers.get(name)?.to_str().ok()`).
    pub fn from_lookup(header: impl Fn(&str) -> Option<&'a str>) -> Self {
        Self {
            stream_id: header(STREAM_ID_HEADER),
            feed_id: header(FEED_ID_HEADER),
            token_id: header(TOKEN_ID_HEADER),
            timestamp: header(TIMESTAMP_HEADER),
        }
    }

    /// The capture time, when the timestamp header is plain decimal digits.
    pub fn timestamp_ms(&self) -> Option<u64> {
        self.timestamp.and_then(parse_timestamp_ms)
    }

    /// The stream id split at its first `/` into account and stream name (a value without
    /// `/` is taken as the account alone).
    pub fn account_and_stream(&self) -> (Option<&'a str>, Option<&'a str>) {
        match self.stream_id {
            Some(id) => match id.split_once('/') {
                Some((account, stream)) => (Some(account), Some(stream)),
                None => (Some(id), None),
            },
            None => (None, None),
        }
    }
}

/// Parses a timestamp header: ASCII digits only (no sign, no spaces), fitting in `u64`.
pub fn parse_timestamp_ms(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_read_by_their_lower_case_names() {
        let pairs = [
            ("x-millicast-stream-id", "ZG6NWV/sample_stream"),
            ("x-millicast-timestamp", "1638463486489"),
            ("x-millicast-feed-id", "feed"),
        ];
        let headers = ThumbnailHeaders::from_lookup(|name| {
            pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
        });
        assert_eq!(headers.timestamp_ms(), Some(1_638_463_486_489));
        assert_eq!(
            headers.account_and_stream(),
            (Some("ZG6NWV"), Some("sample_stream"))
        );
        assert_eq!(headers.feed_id, Some("feed"));
        assert_eq!(headers.token_id, None);
    }

    #[test]
    fn timestamps_are_plain_digits_only() {
        for bad in [
            "",
            "-1",
            "+1",
            " 1",
            "1 ",
            "1e3",
            "0x10",
            "99999999999999999999",
        ] {
            assert_eq!(parse_timestamp_ms(bad), None, "{bad:?}");
        }
        assert_eq!(parse_timestamp_ms("0"), Some(0));
    }

    #[test]
    fn a_stream_id_without_slash_is_the_account() {
        let headers = ThumbnailHeaders {
            stream_id: Some("ACCOUNT"),
            ..Default::default()
        };
        assert_eq!(headers.account_and_stream(), (Some("ACCOUNT"), None));
    }
}
