//! The ports of the relay: an object store (S3), an event queue (SQS) and the source of the
//! webhook secret (Secrets Manager).
//!
//! Request handling depends only on these traits; `crate::aws` implements them over the AWS
//! SDK, and [`memory`] in process for unit tests, benchmarks and fuzzing.

pub mod memory;

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

use crate::relay::message::QueueMessage;

/// One object to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPut {
    pub key: String,
    pub body: Bytes,
    pub content_type: String,
    /// S3 user metadata (names without the `x-amz-meta-` prefix).
    pub metadata: Vec<(&'static str, String)>,
    /// Write only if no object has the key yet (`If-None-Match: *`).
    pub if_absent: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Stored,
    /// `if_absent` was set and the key already held an object.
    AlreadyExists,
}

/// A failed store or queue call, described for the log (never for the HTTP response).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IoError(pub String);

pub trait ObjectStore: Send + Sync {
    /// The bucket objects go to (named in "thumbnail stored" and claim-check messages).
    fn bucket(&self) -> &str;
    fn put(&self, object: ObjectPut) -> impl Future<Output = Result<PutOutcome, IoError>> + Send;
}

pub trait EventQueue: Send + Sync {
    fn send(&self, message: &QueueMessage) -> impl Future<Output = Result<(), IoError>> + Send;
}

/// Reads the stored secret value (Secrets Manager in the Lambda; in memory in unit tests).
pub trait SecretSource: Send + Sync {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<String, IoError>> + Send + '_>>;
}
