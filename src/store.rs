//! The two ports of the relay: an object store (S3) and an event queue (SQS).
//!
//! Request handling depends only on these traits; `s3` and `sqs` implement them over the AWS SDK,
//! and `memory` implements them in process for unit tests and benchmarks.

use std::future::Future;

use bytes::Bytes;

use crate::message::QueueMessage;

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
