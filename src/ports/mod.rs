//! The ports of the relay: an object store (S3), an event queue (SQS), an optional event bus
//! (EventBridge) and the source of the webhook secret (Secrets Manager).
//!
//! Request handling depends only on these traits; `crate::aws` implements them over the AWS
//! SDK, and [`memory`] in process for unit tests, benchmarks and fuzzing.

pub mod memory;
pub mod queue;

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

pub use queue::QueueMessage;

/// S3's limit on an object's user metadata: 2 KB, measured as the UTF-8 bytes of each name and
/// value. A PUT over it is refused (`400 MetadataTooLarge`).
pub const S3_USER_METADATA_LIMIT: usize = 2048;

/// The size of `metadata` as S3 measures it against [`S3_USER_METADATA_LIMIT`], counting each
/// name with its `x-amz-meta-` prefix (whether S3 counts the prefix is not documented: counting
/// it errs on the safe side).
pub fn metadata_size(metadata: &[(&str, String)]) -> usize {
    metadata
        .iter()
        .map(|(name, value)| "x-amz-meta-".len() + name.len() + value.len())
        .sum()
}

/// When a write may happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutCondition {
    /// Always (overwrite).
    Always,
    /// Only if no object has the key yet (`If-None-Match: *`).
    IfAbsent,
    /// Only if the object is still the one with this ETag (`If-Match`).
    IfMatch(String),
}

/// One object to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPut {
    pub key: String,
    pub body: Bytes,
    pub content_type: String,
    /// S3 user metadata (names without the `x-amz-meta-` prefix).
    pub metadata: Vec<(&'static str, String)>,
    pub condition: PutCondition,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Stored,
    /// The condition did not hold: the key already held an object (`IfAbsent`), or another
    /// object than the one expected (`IfMatch`).
    ConditionFailed,
}

/// What a store knows of an object without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHead {
    /// Names the object's current version, for [`PutCondition::IfMatch`].
    pub etag: String,
    /// Its user metadata (names in lower case, without the `x-amz-meta-` prefix).
    pub metadata: Vec<(String, String)>,
}

impl ObjectHead {
    pub fn metadata(&self, name: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A failed store or queue call, described for the log (never for the HTTP response).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IoError(pub String);

pub trait ObjectStore: Send + Sync {
    /// The bucket objects go to (named in "thumbnail stored" and claim-check messages).
    fn bucket(&self) -> &str;
    fn put(&self, object: ObjectPut) -> impl Future<Output = Result<PutOutcome, IoError>> + Send;
    /// The object's ETag and metadata; `None` when there is none (or it cannot be read: the
    /// relay may read only what it compares, and S3 answers 403 rather than 404 for a missing
    /// key to a caller that may not list the bucket).
    fn head(&self, key: &str) -> impl Future<Output = Result<Option<ObjectHead>, IoError>> + Send;
}

pub trait EventQueue: Send + Sync {
    fn send(&self, message: &QueueMessage) -> impl Future<Output = Result<(), IoError>> + Send;
}

/// One event for the bus: what EventBridge's `PutEvents` takes of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusEvent {
    pub source: &'static str,
    pub detail_type: String,
    /// A JSON object, as text.
    pub detail: String,
}

/// The optional second output (EventBridge in the Lambda; in memory in unit tests). A trait
/// object: the relay holds one only when the bus is on.
pub trait EventBus: Send + Sync {
    fn put<'a>(
        &'a self,
        event: &'a BusEvent,
    ) -> Pin<Box<dyn Future<Output = Result<(), IoError>> + Send + 'a>>;
}

/// Reads the stored secret value (Secrets Manager in the Lambda; in memory in unit tests).
pub trait SecretSource: Send + Sync {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<String, IoError>> + Send + '_>>;
}
