//! `relayctl wall`: every stream's newest frame on one local web page.
//!
//! It reads only what the relay writes: the thumbnail prefix, and each stream's `latest.jpg`
//! with its capture time and the webhook that delivered it (`timestamp` and `webhook-id`
//! metadata). A look at the bucket is one `ListObjectsV2`
//! ([`listing`]) plus a `HeadObject` for each `latest.jpg` whose ETag or write time changed
//! since the last look; looks happen only while a page asks for them, at most once per refresh
//! interval, whatever the number of pages open. The images go through relayctl ([`server`]):
//! the browser asks for `/img/{account}/{stream}/latest.jpg?v={etag}`, relayctl reads the
//! object with the operator's credentials (once per ETag, kept in memory) and the browser
//! caches it under that URL. Nothing in the bucket is made public, and no presigned URL (a
//! credential in a link) leaves relayctl.

pub mod listing;
pub mod server;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt as _;
use serde::Serialize;

use crate::operator::error::OperatorError;
use crate::relay::clock::now_ms;
use listing::{LATEST, LatestObject, Listing, list_latest};

/// The platform's thumbnail interval: while a stream has a publisher, a thumbnail at most every
/// 30 seconds, not configurable (docs/platform.md).
pub const THUMBNAIL_INTERVAL: Duration = Duration::from_secs(30);

/// A tile goes quiet when its newest frame is older than three thumbnail intervals: the
/// platform never resends, so one lost or refused delivery must not flip a live stream; two in
/// a row, plus the capture-to-store delay and a refresh interval, still happen to a live one.
pub const DEFAULT_QUIET_AFTER: Duration = Duration::from_secs(3 * 30);

/// `HeadObject`s in flight at once during a look.
const CONCURRENCY: usize = 16;

/// The page that explains the wall, and the one that explains the relay's thumbnail settings:
/// the notices name them (a test checks that both headings exist).
pub const WALL_DOC: &str = "docs/operate.md#the-wall";
pub const SETTINGS_DOC: &str = "docs/configuration.md#template-parameters";

/// What the wall shows, and how often it looks.
#[derive(Debug, Clone)]
pub struct WallSettings {
    pub bucket: String,
    /// The relay's `THUMBNAIL_PREFIX` (possibly empty: the bucket's root).
    pub prefix: String,
    /// The relay's `THUMBNAIL_LATEST`: without it there is no `latest.jpg` to show.
    pub thumbnail_latest: bool,
    /// At most one look at the bucket per interval (while a page asks).
    pub refresh: Duration,
    pub quiet_after: Duration,
    /// The relayctl arguments naming the relay (`--stack NAME`), for the commands a notice shows.
    pub relay_args: String,
}

/// Advice for an error the operator can fix (relayctl's hints).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Advice {
    pub says: String,
    pub see: Option<String>,
}

/// Turns an error into advice, when there is one (relayctl passes its hints).
pub type Adviser = Arc<dyn Fn(&OperatorError) -> Option<Advice> + Send + Sync>;

/// One stream's tile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tile {
    /// `account/stream`.
    pub id: String,
    pub account: String,
    pub stream: String,
    /// The capture time of the newest frame (`latest.jpg`'s `timestamp`), else when the object
    /// was written.
    pub capture_ms: Option<i64>,
    /// Whether `capture_ms` is the capture time (false: the object's write time stands in).
    pub capture_known: bool,
    /// The webhook that delivered the newest frame (`latest.jpg`'s `webhook-id`), in decimal:
    /// a string, which a browser's numbers could not always hold exactly. `None` when
    /// `latest.jpg` has none (the relay held the secret without id, or is older than the
    /// metadata) or it was not read yet.
    pub webhook_id: Option<String>,
    /// The image's address on this server, naming its ETag.
    pub image: String,
    pub bytes: i64,
    #[serde(skip)]
    pub key: String,
    #[serde(skip)]
    pub etag: String,
}

/// Something the page says above the tiles: a failure, or why there is nothing to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// `problem` or `empty`.
    pub kind: &'static str,
    pub title: String,
    pub text: String,
    /// Commands that help, shown as code.
    pub commands: Vec<String>,
    /// The documentation to read (`docs/<page>.md#<anchor>`).
    pub see: Option<String>,
    /// The error itself, on one line.
    pub detail: Option<String>,
}

/// S3 requests made since relayctl started, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Requests {
    pub list: u64,
    pub head: u64,
    pub get: u64,
}

/// What one look cost: its S3 requests and how long it took.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LookCost {
    pub list: u64,
    pub head: u64,
    pub ms: u64,
}

/// What the page shows: the last look at the bucket.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub source: String,
    pub refreshed_at: i64,
    pub refresh_ms: u64,
    pub quiet_after_ms: u64,
    pub thumbnail_interval_ms: u64,
    pub tiles: Vec<Tile>,
    pub notices: Vec<Notice>,
    pub last_look: LookCost,
    pub looks: u64,
    #[serde(skip)]
    taken: Option<Instant>,
}

impl Snapshot {
    /// Tiles whose newest frame is at most `quiet_after` old at `now_ms`.
    pub fn live_count(&self, now_ms: i64) -> usize {
        let quiet_after = i64::try_from(self.quiet_after_ms).unwrap_or(i64::MAX);
        self.tiles
            .iter()
            .filter(|tile| {
                tile.capture_ms
                    .is_some_and(|at| now_ms.saturating_sub(at) <= quiet_after)
            })
            .count()
    }
}

/// What a look remembers of each `latest.jpg`: the version it read (ETag and write time: a
/// newer capture of the very same bytes has the same ETag) and the capture time and webhook id
/// read for it.
#[derive(Debug, Clone)]
struct Known {
    etag: String,
    /// S3's write time, in whole seconds (what both the listing and HeadObject give).
    written_s: Option<i64>,
    capture_ms: Option<i64>,
    webhook_id: Option<String>,
}

impl Known {
    fn is_version_of(&self, object: &LatestObject) -> bool {
        self.etag == object.etag
            && self.written_s == object.last_modified_ms.map(|ms| ms.div_euclid(1000))
    }
}

/// An image read for the browser, under the ETag it was read with.
#[derive(Debug, Clone)]
pub struct Image {
    pub etag: String,
    pub content_type: String,
    pub body: Bytes,
}

/// The wall: its settings, the last snapshot, what it knows of each `latest.jpg`, the images
/// read, and the requests made.
pub struct Wall {
    s3: aws_sdk_s3::Client,
    settings: WallSettings,
    adviser: Adviser,
    current: RwLock<Arc<Snapshot>>,
    /// Held while looking (one look at a time); what the last look read.
    looking: tokio::sync::Mutex<HashMap<String, Known>>,
    images: std::sync::Mutex<HashMap<String, Image>>,
    list_requests: AtomicU64,
    head_requests: AtomicU64,
    get_requests: AtomicU64,
}

impl Wall {
    pub fn new(s3: aws_sdk_s3::Client, settings: WallSettings, adviser: Adviser) -> Self {
        Self {
            s3,
            settings,
            adviser,
            current: RwLock::new(Arc::new(Snapshot::default())),
            looking: tokio::sync::Mutex::new(HashMap::new()),
            images: std::sync::Mutex::new(HashMap::new()),
            list_requests: AtomicU64::new(0),
            head_requests: AtomicU64::new(0),
            get_requests: AtomicU64::new(0),
        }
    }

    /// Every S3 request made so far.
    pub fn requests(&self) -> Requests {
        Requests {
            list: self.list_requests.load(Ordering::Relaxed),
            head: self.head_requests.load(Ordering::Relaxed),
            get: self.get_requests.load(Ordering::Relaxed),
        }
    }

    fn last(&self) -> Arc<Snapshot> {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// A snapshot taken less than three quarters of the refresh interval ago (so that a page
    /// polling at the interval finds it due), else a new look. One look at a time: a page
    /// asking meanwhile waits for it and shares it.
    pub async fn snapshot(&self) -> Arc<Snapshot> {
        let due = self.settings.refresh.mul_f64(0.75);
        let fresh = |snapshot: &Snapshot| snapshot.taken.is_some_and(|at| at.elapsed() < due);
        let last = self.last();
        if fresh(&last) {
            return last;
        }
        let mut known = self.looking.lock().await;
        let last = self.last();
        if fresh(&last) {
            return last;
        }
        let snapshot = Arc::new(self.look(&mut known).await);
        match self.current.write() {
            Ok(mut current) => *current = snapshot.clone(),
            Err(poisoned) => *poisoned.into_inner() = snapshot.clone(),
        }
        snapshot
    }

    /// The current tile of `account/stream`, if the last look found one.
    fn tile(&self, account: &str, stream: &str) -> Option<Tile> {
        self.last()
            .tiles
            .iter()
            .find(|tile| tile.account == account && tile.stream == stream)
            .cloned()
    }

    /// Where the wall looks: `s3://{bucket}/{prefix}`.
    pub fn source(&self) -> String {
        format!("s3://{}/{}", self.settings.bucket, self.settings.prefix)
    }

    fn problem(&self, title: String, needs: &str, error: &OperatorError) -> Notice {
        let advice = (self.adviser)(error);
        let text = match &advice {
            Some(advice) => format!("{}: relayctl needs {needs}.", advice.says),
            None => format!("relayctl needs {needs}, and S3 to answer."),
        };
        Notice {
            kind: "problem",
            title,
            text,
            commands: Vec::new(),
            see: advice.and_then(|advice| advice.see),
            detail: Some(error.one_line()),
        }
    }

    /// One look: list, then read the capture time and webhook id of each `latest.jpg` that
    /// changed.
    async fn look(&self, known: &mut HashMap<String, Known>) -> Snapshot {
        let started = Instant::now();
        let now = now_ms();
        let mut snapshot = Snapshot {
            source: self.source(),
            refreshed_at: now,
            refresh_ms: u64::try_from(self.settings.refresh.as_millis()).unwrap_or(u64::MAX),
            quiet_after_ms: u64::try_from(self.settings.quiet_after.as_millis())
                .unwrap_or(u64::MAX),
            thumbnail_interval_ms: u64::try_from(THUMBNAIL_INTERVAL.as_millis()).unwrap_or(30_000),
            looks: self.last().looks + 1,
            ..Snapshot::default()
        };
        let listed = list_latest(&self.s3, &self.settings.bucket, &self.settings.prefix, now).await;
        let listing = match listed {
            Ok(listing) => listing,
            Err(error) => {
                self.list_requests.fetch_add(1, Ordering::Relaxed);
                snapshot.last_look.list = 1;
                snapshot.notices.push(self.problem(
                    format!("Cannot list {}", snapshot.source),
                    "s3:ListBucket on the bucket (the operator policy's ListBucket statement)",
                    &error,
                ));
                // Keep showing what the last look found.
                snapshot.tiles = self.last().tiles.clone();
                snapshot.last_look.ms = elapsed_ms(started);
                snapshot.taken = Some(Instant::now());
                return snapshot;
            }
        };
        self.list_requests
            .fetch_add(u64::from(listing.requests), Ordering::Relaxed);
        snapshot.last_look.list = u64::from(listing.requests);

        let changed: Vec<&LatestObject> = listing
            .latest
            .iter()
            .filter(|object| {
                known
                    .get(&object.key)
                    .is_none_or(|seen| !seen.is_version_of(object))
            })
            .collect();
        snapshot.last_look.head = changed.len() as u64;
        self.head_requests
            .fetch_add(changed.len() as u64, Ordering::Relaxed);
        // The futures made first, then run a few at a time (a closure inside the stream would
        // make the future's lifetimes too general for the server's spawned tasks).
        let reads: Vec<_> = changed
            .into_iter()
            .map(|object| self.head(object))
            .collect();
        let heads: Vec<(String, Result<Known, OperatorError>)> = futures_util::stream::iter(reads)
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut unreadable = None;
        for (key, head) in heads {
            match head {
                Ok(read) => {
                    known.insert(key, read);
                }
                Err(error) => {
                    known.remove(&key);
                    unreadable.get_or_insert((key, error));
                }
            }
        }
        known.retain(|key, _| listing.latest.iter().any(|object| object.key == *key));
        if let Some((key, error)) = unreadable {
            snapshot.notices.push(self.problem(
                format!("Cannot read s3://{}/{key}", self.settings.bucket),
                "s3:GetObject on the thumbnail prefix (the operator policy's FindTestThumbnails \
                 statement)",
                &error,
            ));
        }
        snapshot.tiles = listing
            .latest
            .iter()
            .map(|object| tile(object, known.get(&object.key)))
            .collect();
        if snapshot.tiles.is_empty() && snapshot.notices.is_empty() {
            snapshot.notices.push(self.nothing_to_show(&listing));
        }
        self.forget_images(&snapshot.tiles);
        snapshot.last_look.ms = elapsed_ms(started);
        snapshot.taken = Some(Instant::now());
        snapshot
    }

    async fn head(&self, object: &LatestObject) -> (String, Result<Known, OperatorError>) {
        (object.key.clone(), self.read_head(object).await)
    }

    async fn read_head(&self, object: &LatestObject) -> Result<Known, OperatorError> {
        let head = self
            .s3
            .head_object()
            .bucket(&self.settings.bucket)
            .key(&object.key)
            .send()
            .await
            .map_err(|e| OperatorError::aws("s3 HeadObject", e))?;
        let metadata = |name: &str| head.metadata().and_then(|metadata| metadata.get(name));
        let capture_ms = metadata("timestamp")
            .and_then(|value| millicast_webhooks::thumbnail::parse_timestamp_ms(value))
            .and_then(|ms| i64::try_from(ms).ok());
        let webhook_id = metadata("webhook-id").and_then(|value| webhook_id(value));
        // The object may have changed since the listing: what was read is what it is now.
        let written_s = listing::millis(head.last_modified()).or(object.last_modified_ms);
        Ok(Known {
            etag: head.e_tag().unwrap_or(&object.etag).to_owned(),
            written_s: written_s.map(|ms| ms.div_euclid(1000)),
            capture_ms,
            webhook_id,
        })
    }

    /// Why there is no tile: no `latest.jpg` is written, or no thumbnail came yet.
    fn nothing_to_show(&self, listing: &Listing) -> Notice {
        let stack = &self.settings.relay_args;
        let args = if stack.is_empty() {
            String::new()
        } else {
            format!(" {stack}")
        };
        if !self.settings.thumbnail_latest || !listing.streams_with_thumbnails.is_empty() {
            let found = listing.streams_with_thumbnails.len();
            return Notice {
                kind: "empty",
                title: "No latest.jpg to show".to_owned(),
                text: format!(
                    "{} The wall shows each stream's {LATEST}, which the relay writes only \
                     with THUMBNAIL_LATEST on: deploy the stack with ThumbnailLatest=true.",
                    if found > 0 {
                        format!(
                            "{found} stream(s) have thumbnails under {}, but none has a {LATEST}.",
                            self.source()
                        )
                    } else {
                        format!(
                            "The relay's THUMBNAIL_LATEST is off, and {} holds no thumbnail.",
                            self.source()
                        )
                    }
                ),
                commands: Vec::new(),
                see: Some(SETTINGS_DOC.to_owned()),
                detail: None,
            };
        }
        Notice {
            kind: "empty",
            title: "No thumbnails yet".to_owned(),
            text: format!(
                "Nothing under {} yet. The platform sends a thumbnail of each live stream every 30 \
                 seconds to webhooks with thumbnail hooks on, for publish tokens with thumbnails \
                 enabled. Turn the hooks on with relayctl register (a new webhook gets every hook \
                 type; on an existing one --hooks replaces its list, so name them all), or in the \
                 dashboard: Settings, Webhooks, Thumbnail Hooks. relayctl webhooks shows each \
                 webhook's hooks.",
                self.source()
            ),
            commands: vec![
                format!(
                    "relayctl register{args} --hooks feeds,recordings,media,thumbnails,transcoder,viewer-connection"
                ),
                format!("relayctl webhooks{args}"),
            ],
            see: Some(WALL_DOC.to_owned()),
            detail: None,
        }
    }

    /// The image of the tile `account/stream` for the browser: from memory when it was read
    /// under the tile's ETag, else read now (and kept when it is the tile's).
    pub async fn image(&self, account: &str, stream: &str) -> Option<Result<Image, OperatorError>> {
        let tile = self.tile(account, stream)?;
        if let Some(image) = self.kept_image(&tile) {
            return Some(Ok(image));
        }
        self.get_requests.fetch_add(1, Ordering::Relaxed);
        let read = async {
            let object = self
                .s3
                .get_object()
                .bucket(&self.settings.bucket)
                .key(&tile.key)
                .send()
                .await
                .map_err(|e| OperatorError::aws("s3 GetObject", e))?;
            let etag = object.e_tag().unwrap_or_default().to_owned();
            let content_type = object
                .content_type()
                .filter(|t| t.starts_with("image/"))
                .unwrap_or("image/jpeg")
                .to_owned();
            let body = object
                .body
                .collect()
                .await
                .map_err(|e| OperatorError::io("reading the image", e))?
                .into_bytes();
            Ok(Image {
                etag,
                content_type,
                body,
            })
        };
        let image = match read.await {
            Ok(image) => image,
            Err(error) => return Some(Err(error)),
        };
        if image.etag == tile.etag
            && let Ok(mut images) = self.images.lock()
        {
            images.insert(tile.key.clone(), image.clone());
        }
        Some(Ok(image))
    }

    fn kept_image(&self, tile: &Tile) -> Option<Image> {
        let images = self.images.lock().ok()?;
        images
            .get(&tile.key)
            .filter(|image| image.etag == tile.etag)
            .cloned()
    }

    /// Drops the images no tile shows any more.
    fn forget_images(&self, tiles: &[Tile]) {
        if let Ok(mut images) = self.images.lock() {
            images.retain(|key, image| {
                tiles
                    .iter()
                    .any(|tile| tile.key == *key && tile.etag == image.etag)
            });
        }
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The ETag as a URL query value: S3's quotes dropped, anything but `[A-Za-z0-9-]` escaped.
pub fn etag_version(etag: &str) -> String {
    let mut version = String::new();
    for byte in etag.trim_matches('"').bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            version.push(char::from(byte));
        } else {
            version.push_str(&format!("%{byte:02X}"));
        }
    }
    version
}

/// A `webhook-id` value as the relay writes it (a signed 64-bit decimal), in its canonical form;
/// anything else is not a webhook id.
fn webhook_id(value: &str) -> Option<String> {
    value.parse::<i64>().ok().map(|id| id.to_string())
}

fn tile(object: &LatestObject, known: Option<&Known>) -> Tile {
    let capture = known.and_then(|known| known.capture_ms);
    let etag = known.map_or(object.etag.as_str(), |known| known.etag.as_str());
    Tile {
        id: format!("{}/{}", object.account, object.stream),
        account: object.account.clone(),
        stream: object.stream.clone(),
        capture_ms: capture.or(object.last_modified_ms),
        capture_known: capture.is_some(),
        webhook_id: known.and_then(|known| known.webhook_id.clone()),
        image: format!(
            "/img/{}/{}/{LATEST}?v={}",
            object.account,
            object.stream,
            etag_version(etag)
        ),
        bytes: object.size,
        key: object.key.clone(),
        etag: etag.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(etag: &str) -> LatestObject {
        LatestObject {
            key: "thumbnails/LOCAL1/cam-1/latest.jpg".into(),
            account: "LOCAL1".into(),
            stream: "cam-1".into(),
            etag: etag.into(),
            size: 5734,
            last_modified_ms: Some(1_000),
        }
    }

    #[test]
    fn a_tile_names_its_image_by_etag_and_prefers_the_capture_time() {
        let known = Known {
            etag: "\"abc\"".into(),
            written_s: Some(1),
            capture_ms: Some(900),
            webhook_id: Some("4242".into()),
        };
        assert!(known.is_version_of(&object("\"abc\"")));
        assert!(!known.is_version_of(&object("\"abd\"")));
        // The same bytes written again a second later: another version.
        let rewritten = LatestObject {
            last_modified_ms: Some(2_000),
            ..object("\"abc\"")
        };
        assert!(!known.is_version_of(&rewritten));
        let tile = tile(&object("\"abc\""), Some(&known));
        assert_eq!(tile.id, "LOCAL1/cam-1");
        assert_eq!(tile.image, "/img/LOCAL1/cam-1/latest.jpg?v=abc");
        assert_eq!((tile.capture_ms, tile.capture_known), (Some(900), true));
        assert_eq!(tile.webhook_id.as_deref(), Some("4242"));
        // Not read (yet): the write time stands in, and says so; no webhook id is known.
        let unread = super::tile(&object("\"abc\""), None);
        assert_eq!(
            (
                unread.capture_ms,
                unread.capture_known,
                unread.webhook_id.as_deref()
            ),
            (Some(1_000), false, None)
        );
        let json = serde_json::to_value(&tile).unwrap();
        assert_eq!(json["webhookId"], "4242");
        assert_eq!(
            serde_json::to_value(&unread).unwrap()["webhookId"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn webhook_ids_are_read_as_the_relay_writes_them() {
        assert_eq!(webhook_id("4242").as_deref(), Some("4242"));
        assert_eq!(
            webhook_id("-9223372036854775808").as_deref(),
            Some("-9223372036854775808")
        );
        assert_eq!(webhook_id("+7").as_deref(), Some("7"));
        for not_an_id in ["", "9223372036854775808", "12a", " 1", "1.0", "<b>1</b>"] {
            assert_eq!(webhook_id(not_an_id), None, "{not_an_id:?}");
        }
    }

    #[test]
    fn etags_become_query_values() {
        assert_eq!(
            etag_version("\"9b2cf535f27731c974343645a3985328\""),
            "9b2cf535f27731c974343645a3985328"
        );
        assert_eq!(etag_version("\"d41d8cd9-2\""), "d41d8cd9-2");
        assert_eq!(etag_version("a&b=c"), "a%26b%3Dc");
    }

    #[test]
    fn live_means_at_most_quiet_after_old() {
        let snapshot = Snapshot {
            quiet_after_ms: 90_000,
            tiles: [Some(10_000), Some(100_001), None]
                .into_iter()
                .map(|capture_ms| Tile {
                    capture_ms,
                    ..super::tile(&object("e"), None)
                })
                .collect(),
            ..Snapshot::default()
        };
        assert_eq!(snapshot.live_count(100_000), 2);
        assert_eq!(snapshot.live_count(190_001), 1);
        assert_eq!(snapshot.live_count(190_002), 0);
    }

    #[test]
    fn the_default_quiet_threshold_is_three_thumbnail_intervals() {
        assert_eq!(DEFAULT_QUIET_AFTER, THUMBNAIL_INTERVAL * 3);
    }
}
