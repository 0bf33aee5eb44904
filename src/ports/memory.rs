//! In-process implementations of the ports, for unit tests, benchmarks and fuzzing.
//! They keep what they are given and can be told to fail.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::ports::QueueMessage;
use crate::ports::SecretSource;
use crate::ports::{BusEvent, EventBus};
use crate::ports::{
    EventQueue, IoError, ObjectHead, ObjectPut, ObjectStore, PutCondition, PutOutcome,
    S3_USER_METADATA_LIMIT, metadata_size,
};

#[derive(Debug, Default)]
pub struct MemoryStore {
    bucket: String,
    /// Each object with its ETag (a write counter, as unique as S3's).
    objects: Mutex<Vec<(ObjectPut, String)>>,
    writes: AtomicU64,
    failing: AtomicBool,
}

impl MemoryStore {
    pub fn new(bucket: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            ..Self::default()
        }
    }

    /// Every object currently stored, in write order (an overwrite replaces in place).
    pub fn objects(&self) -> Vec<ObjectPut> {
        self.objects
            .lock()
            .map(|o| o.iter().map(|(object, _)| object.clone()).collect())
            .unwrap_or_default()
    }

    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

impl ObjectStore for MemoryStore {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn put(&self, object: ObjectPut) -> Result<PutOutcome, IoError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(IoError("memory store set to fail".into()));
        }
        // As S3 refuses it (moto does not: scripts/moto_server.py adds the check there).
        let size = metadata_size(&object.metadata);
        if size > S3_USER_METADATA_LIMIT {
            return Err(IoError(format!(
                "MetadataTooLarge: {size} bytes of user metadata, over {S3_USER_METADATA_LIMIT}"
            )));
        }
        let mut objects = self
            .objects
            .lock()
            .map_err(|_| IoError("memory store poisoned".into()))?;
        let etag = format!("\"{}\"", self.writes.fetch_add(1, Ordering::SeqCst));
        let existing = objects.iter_mut().find(|(o, _)| o.key == object.key);
        let holds = match (&object.condition, &existing) {
            (PutCondition::Always, _) | (PutCondition::IfAbsent, None) => true,
            (PutCondition::IfAbsent, Some(_)) | (PutCondition::IfMatch(_), None) => false,
            (PutCondition::IfMatch(expected), Some((_, current))) => expected == current,
        };
        if !holds {
            return Ok(PutOutcome::ConditionFailed);
        }
        match existing {
            Some(slot) => *slot = (object, etag),
            None => objects.push((object, etag)),
        }
        Ok(PutOutcome::Stored)
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectHead>, IoError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(IoError("memory store set to fail".into()));
        }
        let objects = self
            .objects
            .lock()
            .map_err(|_| IoError("memory store poisoned".into()))?;
        Ok(objects
            .iter()
            .find(|(o, _)| o.key == key)
            .map(|(object, etag)| ObjectHead {
                etag: etag.clone(),
                metadata: object
                    .metadata
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), v.clone()))
                    .collect(),
            }))
    }
}

#[derive(Debug, Default)]
pub struct MemoryQueue {
    messages: Mutex<Vec<QueueMessage>>,
    failing: AtomicBool,
}

impl MemoryQueue {
    pub fn messages(&self) -> Vec<QueueMessage> {
        self.messages.lock().map(|m| m.clone()).unwrap_or_default()
    }

    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

impl EventQueue for MemoryQueue {
    async fn send(&self, message: &QueueMessage) -> Result<(), IoError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(IoError("memory queue set to fail".into()));
        }
        self.messages
            .lock()
            .map_err(|_| IoError("memory queue poisoned".into()))?
            .push(message.clone());
        Ok(())
    }
}

/// A stored secret value in memory; counts its reads.
#[derive(Debug, Default)]
pub struct MemorySecretSource {
    value: Mutex<String>,
    failing: AtomicBool,
    reads: AtomicU64,
}

impl MemorySecretSource {
    pub fn new(value: &str) -> Self {
        Self {
            value: Mutex::new(value.to_owned()),
            ..Self::default()
        }
    }

    pub fn set(&self, value: &str) {
        if let Ok(mut stored) = self.value.lock() {
            value.clone_into(&mut stored);
        }
    }

    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::SeqCst)
    }
}

impl SecretSource for MemorySecretSource {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<String, IoError>> + Send + '_>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let result = if self.failing.load(Ordering::SeqCst) {
            Err(IoError("memory secret source set to fail".into()))
        } else {
            self.value
                .lock()
                .map(|value| value.clone())
                .map_err(|_| IoError("memory secret poisoned".into()))
        };
        Box::pin(std::future::ready(result))
    }
}

/// An event bus in memory: keeps what it is given, can be told to fail.
#[derive(Debug, Default)]
pub struct MemoryBus {
    events: Mutex<Vec<BusEvent>>,
    failing: AtomicBool,
}

impl MemoryBus {
    pub fn events(&self) -> Vec<BusEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

impl EventBus for MemoryBus {
    fn put<'a>(
        &'a self,
        event: &'a BusEvent,
    ) -> Pin<Box<dyn Future<Output = Result<(), IoError>> + Send + 'a>> {
        let result = if self.failing.load(Ordering::SeqCst) {
            Err(IoError("memory bus set to fail".into()))
        } else {
            self.events
                .lock()
                .map(|mut events| events.push(event.clone()))
                .map_err(|_| IoError("memory bus poisoned".into()))
        };
        Box::pin(std::future::ready(result))
    }
}
