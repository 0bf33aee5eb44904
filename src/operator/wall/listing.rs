//! Every stream's `latest.jpg` from one `ListObjectsV2`, however many thumbnails the prefix holds.
//!
//! The thumbnail prefix holds `{account}/{stream}/{captureMs}-{hash}.jpg` — one key per
//! thumbnail, 2,880 a day for each live stream, kept `ThumbnailRetentionDays` — and one
//! `{account}/{stream}/latest.jpg` per stream. Listing every key to find the `latest.jpg`s would
//! cost a request per 1,000 thumbnails. Instead the listing asks S3 to roll the thumbnails up:
//! the delimiter is `/` followed by the first digit of the current epoch milliseconds (`/1` until
//! 2033), so every thumbnail key of a stream (`…/cam-1/1796…-ab.jpg`) collapses into one common
//! prefix (`…/cam-1/1`) while `…/cam-1/latest.jpg`, which has no `/1` after the prefix, is
//! returned as an object with its ETag, size and time. A stream costs two entries of a page of
//! 1,000: about 500 streams per request.
//!
//! A stream or account name that itself starts with that digit puts the delimiter earlier
//! (`{account}/1…`): such a common prefix is listed once more, from itself, where the next
//! occurrence is the thumbnails'. Thumbnails whose capture time starts with another digit are
//! not rolled up and come back as objects: still correct, only more entries.

use std::collections::BTreeSet;

use aws_sdk_s3::primitives::DateTime;

use crate::operator::error::OperatorError;
use crate::relay::keys::{CLAIM_CHECK_PREFIX, UNDELIVERED_BUS_PREFIX, UNDELIVERED_PREFIX};
use crate::relay::quarantine::QUARANTINE_PREFIX;
pub use crate::relay::thumbnail::LATEST_FILE as LATEST;
use crate::relay::thumbnail::is_safe_segment;

/// The relay's other prefixes: not streams, when the thumbnail prefix is the bucket's root.
const RELAY_PREFIXES: [&str; 4] = [
    QUARANTINE_PREFIX,
    UNDELIVERED_PREFIX,
    UNDELIVERED_BUS_PREFIX,
    CLAIM_CHECK_PREFIX,
];

/// One `latest.jpg`, as the listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestObject {
    pub key: String,
    pub account: String,
    pub stream: String,
    /// S3's ETag, quotes included.
    pub etag: String,
    pub size: i64,
    pub last_modified_ms: Option<i64>,
}

/// What one listing of the prefix found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub latest: Vec<LatestObject>,
    /// Streams with thumbnails (rolled up or not), `latest.jpg` or none.
    pub streams_with_thumbnails: BTreeSet<(String, String)>,
    /// `ListObjectsV2` requests made.
    pub requests: u32,
}

/// The delimiter that rolls up the thumbnails captured around `now_ms`: `/` and the first
/// digit of the epoch milliseconds.
pub fn delimiter(now_ms: i64) -> String {
    let digit = now_ms.max(0).to_string().chars().next().unwrap_or('1');
    format!("/{digit}")
}

/// What an entry of the listing is, relative to the thumbnail prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// `{account}/{stream}/latest.jpg`.
    Latest { account: String, stream: String },
    /// `{account}/{stream}/{digit}…`: the stream's thumbnails (rolled up, or one of them).
    Thumbnails { account: String, stream: String },
    /// `{account}/{digit}`: a stream name starting with the digit; list again from there.
    ListAgain,
    /// Not the relay's layout (or one of the relay's other folders at the bucket's root).
    Other,
}

fn classify(relative: &str, prefix_is_root: bool) -> Entry {
    let parts: Vec<&str> = relative.split('/').collect();
    let safe = |segment: &str| is_safe_segment(segment);
    if prefix_is_root
        && RELAY_PREFIXES
            .iter()
            .any(|prefix| relative.starts_with(prefix))
    {
        return Entry::Other;
    }
    let starts_with_digit = |s: &str| s.bytes().next().is_some_and(|b| b.is_ascii_digit());
    match parts.as_slice() {
        [account, stream, LATEST] if safe(account) && safe(stream) => Entry::Latest {
            account: (*account).to_owned(),
            stream: (*stream).to_owned(),
        },
        [account, stream, file] if safe(account) && safe(stream) && starts_with_digit(file) => {
            Entry::Thumbnails {
                account: (*account).to_owned(),
                stream: (*stream).to_owned(),
            }
        }
        [account, digit] if safe(account) && digit.len() == 1 && starts_with_digit(digit) => {
            Entry::ListAgain
        }
        _ => Entry::Other,
    }
}

pub(super) fn millis(time: Option<&DateTime>) -> Option<i64> {
    time.and_then(|t| t.to_millis().ok())
}

/// Lists `prefix` of `bucket` as the module describes, every page.
pub async fn list_latest(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    now_ms: i64,
) -> Result<Listing, OperatorError> {
    let delimiter = delimiter(now_ms);
    let mut listing = Listing::default();
    let mut pending = vec![prefix.to_owned()];
    while let Some(from) = pending.pop() {
        let mut token: Option<String> = None;
        loop {
            listing.requests += 1;
            let page = s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(&from)
                .delimiter(&delimiter)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| OperatorError::aws(format!("cannot list s3://{bucket}/{from}"), e))?;
            let objects = page.contents().iter().filter_map(|object| {
                let key = object.key()?;
                Some((key, Some(object)))
            });
            let rolled_up = page
                .common_prefixes()
                .iter()
                .filter_map(|common| Some((common.prefix()?, None)));
            for (key, object) in objects.chain(rolled_up) {
                let Some(relative) = key.strip_prefix(prefix) else {
                    continue;
                };
                match (classify(relative, prefix.is_empty()), object) {
                    (Entry::Latest { account, stream }, Some(object)) => {
                        listing
                            .streams_with_thumbnails
                            .insert((account.clone(), stream.clone()));
                        listing.latest.push(LatestObject {
                            key: key.to_owned(),
                            account,
                            stream,
                            etag: object.e_tag().unwrap_or_default().to_owned(),
                            size: object.size().unwrap_or(0),
                            last_modified_ms: millis(object.last_modified()),
                        });
                    }
                    (Entry::Thumbnails { account, stream }, _) => {
                        listing.streams_with_thumbnails.insert((account, stream));
                    }
                    // Only a common prefix is listed again (an object named `{account}/1` is
                    // nobody's thumbnail).
                    (Entry::ListAgain, None) if from == prefix => pending.push(key.to_owned()),
                    _ => {}
                }
            }
            match page.next_continuation_token() {
                Some(next) if page.is_truncated().unwrap_or(false) => token = Some(next.to_owned()),
                _ => break,
            }
        }
    }
    listing
        .latest
        .sort_by(|a, b| (&a.account, &a.stream).cmp(&(&b.account, &b.stream)));
    Ok(listing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latest(account: &str, stream: &str) -> Entry {
        Entry::Latest {
            account: account.into(),
            stream: stream.into(),
        }
    }

    fn thumbnails(account: &str, stream: &str) -> Entry {
        Entry::Thumbnails {
            account: account.into(),
            stream: stream.into(),
        }
    }

    #[test]
    fn the_delimiter_is_a_slash_and_the_first_digit_of_now() {
        assert_eq!(delimiter(1_796_087_530_275), "/1");
        // 2033-05-18, when epoch milliseconds start with 2.
        assert_eq!(delimiter(2_000_000_000_000), "/2");
        assert_eq!(delimiter(-5), "/0");
    }

    #[test]
    fn entries_are_told_apart_by_the_relays_layout() {
        assert_eq!(
            classify("LOCAL1/cam-1/latest.jpg", false),
            latest("LOCAL1", "cam-1")
        );
        assert_eq!(
            classify("LOCAL1/cam-1/1", false),
            thumbnails("LOCAL1", "cam-1")
        );
        assert_eq!(
            classify("LOCAL1/cam-1/1796087523690-8766a1d97c2424d1.jpg", false),
            thumbnails("LOCAL1", "cam-1")
        );
        // A thumbnail captured at another leading digit is not rolled up: still a thumbnail.
        assert_eq!(
            classify("LOCAL1/cam-1/0-8766a1d97c2424d1.jpg", false),
            thumbnails("LOCAL1", "cam-1")
        );
        // A stream named "1…": the delimiter matched at its name; list from there.
        assert_eq!(classify("LOCAL1/1", false), Entry::ListAgain);
        assert_eq!(
            classify("LOCAL1/1cam/1", false),
            thumbnails("LOCAL1", "1cam")
        );
        assert_eq!(
            classify("LOCAL1/1/latest.jpg", false),
            latest("LOCAL1", "1")
        );
        assert_eq!(
            classify("_unknown/_unknown/latest.jpg", false),
            latest("_unknown", "_unknown")
        );
        for other in [
            "readme.txt",
            "LOCAL1/latest.jpg",
            "LOCAL1/cam-1/notes.txt",
            "LOCAL1/cam-1/x/latest.jpg",
            "LOCAL1/../latest.jpg",
            "LOCAL1/12",
            "a b/cam/latest.jpg",
        ] {
            assert_eq!(classify(other, false), Entry::Other, "{other}");
        }
    }

    #[test]
    fn at_the_buckets_root_the_relays_other_folders_are_not_streams() {
        assert_eq!(classify("quarantine/2026/1", true), Entry::Other);
        assert_eq!(classify("undelivered/2026/12", true), Entry::Other);
        assert_eq!(classify("undelivered-bus/2026/1", true), Entry::Other);
        assert_eq!(classify("events/oversize/1", true), Entry::Other);
        assert_eq!(
            classify("quarantine/2026/1", false),
            thumbnails("quarantine", "2026")
        );
        assert_eq!(
            classify("LOCAL1/cam-1/latest.jpg", true),
            latest("LOCAL1", "cam-1")
        );
    }
}
