//! The secrets in force on one instance, and when they are re-read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use lambda_http::tracing::{error, info, warn};
use millicast_webhooks::{SecretUsed, Signature, SignatureVerifier};

use super::SecretSet;
use crate::ports::{IoError, SecretSource};
use crate::relay::error::RelayError;

/// What verification found, and whether it re-read the secret to find it.
#[derive(Debug, PartialEq, Eq)]
pub struct Verification {
    /// `InvalidSignature` (no known secret matches) or `SecretUnavailable` (none is known).
    pub result: Result<SecretUsed, RelayError>,
    pub refreshed: bool,
}

struct Refresh {
    source: Arc<dyn SecretSource>,
    interval: Duration,
    /// When the last read started. The async mutex makes reads single flight: requests that
    /// miss while a read is in flight wait for it, then find it too recent to repeat.
    last_read: tokio::sync::Mutex<Option<Instant>>,
    reads: AtomicU64,
}

/// The secrets in force on this instance.
pub struct SecretStore {
    verifier: RwLock<Option<Arc<SignatureVerifier>>>,
    refresh: Option<Refresh>,
}

impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretStore")
            .field("available", &self.is_available())
            .field("refreshable", &self.refresh.is_some())
            .finish()
    }
}

impl SecretStore {
    /// Secrets that never change (literal environment values).
    pub fn fixed(secrets: &SecretSet) -> Self {
        Self {
            verifier: RwLock::new(Some(Arc::new(secrets.verifier()))),
            refresh: None,
        }
    }

    /// Reads the secret from `source` now (init) and re-reads it on a mismatch at most once
    /// per `interval`. A failed first read leaves the store unavailable, not the process dead.
    pub async fn load(source: Arc<dyn SecretSource>, interval: Duration) -> Self {
        let store = Self {
            verifier: RwLock::new(None),
            refresh: Some(Refresh {
                source,
                interval,
                last_read: tokio::sync::Mutex::new(None),
                reads: AtomicU64::new(0),
            }),
        };
        store.reread_if_due().await;
        if !store.is_available() {
            error!(
                "the webhook secret could not be read at init: deliveries are quarantined and \
                 answered 503 until a later read succeeds"
            );
        }
        store
    }

    /// True once some secret is known.
    pub fn is_available(&self) -> bool {
        self.current().is_some()
    }

    /// How many times the secret has been read from its source (init included).
    pub fn reads(&self) -> u64 {
        self.refresh
            .as_ref()
            .map_or(0, |refresh| refresh.reads.load(Ordering::Relaxed))
    }

    fn current(&self) -> Option<Arc<SignatureVerifier>> {
        // A poisoned lock still holds a consistent `Option<Arc<…>>`.
        match self.verifier.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn check(&self, body: &[u8], signature: &Signature) -> Result<SecretUsed, RelayError> {
        match self.current() {
            Some(verifier) => verifier.verify(body, signature).map_err(RelayError::from),
            None => Err(RelayError::SecretUnavailable),
        }
    }

    /// Verifies `signature` over `body`; on a miss, re-reads the secret if due and verifies again.
    pub async fn verify(&self, body: &[u8], signature: &Signature) -> Verification {
        let first = self.check(body, signature);
        if first.is_ok() || self.refresh.is_none() {
            return Verification {
                result: first,
                refreshed: false,
            };
        }
        let refreshed = self.reread_if_due().await;
        Verification {
            result: self.check(body, signature),
            refreshed,
        }
    }

    /// Reads the secret unless a read started less than the interval ago (true if it read).
    async fn reread_if_due(&self) -> bool {
        let Some(refresh) = &self.refresh else {
            return false;
        };
        let mut last_read = refresh.last_read.lock().await;
        if last_read.is_some_and(|at| at.elapsed() < refresh.interval) {
            return false;
        }
        *last_read = Some(Instant::now());
        refresh.reads.fetch_add(1, Ordering::Relaxed);
        let read = refresh.source.fetch().await;
        match read.map(|text| SecretSet::parse_value(&text)) {
            Ok(Ok(secrets)) => {
                let verifier = Some(Arc::new(secrets.verifier()));
                match self.verifier.write() {
                    Ok(mut guard) => *guard = verifier,
                    Err(poisoned) => *poisoned.into_inner() = verifier,
                }
                info!(previous = secrets.previous.is_some(), "webhook secret read");
            }
            // Keep what we have: a failed read must not turn a working relay off.
            Ok(Err(problem)) => {
                warn!("the stored webhook secret {problem}; keeping the secrets in use")
            }
            Err(IoError(cause)) => warn!(
                cause,
                "reading the webhook secret failed; keeping the secrets in use"
            ),
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::memory::MemorySecretSource;
    use crate::relay::secrets::testing::*;
    use futures_util::future::join_all;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    #[test]
    fn a_valid_signature_never_reads() {
        runtime().block_on(async {
            let source = Arc::new(MemorySecretSource::new(OLD));
            let store = SecretStore::load(source.clone(), Duration::ZERO).await;
            assert_eq!(source.reads(), 1);
            for _ in 0..100 {
                let v = store.verify(b"body", &signed(OLD, b"body")).await;
                assert_eq!(v.result, Ok(SecretUsed::Current));
                assert!(!v.refreshed);
            }
            assert_eq!(source.reads(), 1);
        });
    }

    #[test]
    fn a_mismatch_rereads_and_finds_the_renewed_secret() {
        runtime().block_on(async {
            let source = Arc::new(MemorySecretSource::new(OLD));
            let store = SecretStore::load(source.clone(), Duration::ZERO).await;
            source.set(&format!(r#"{{"current":"{NEW}","previous":"{OLD}"}}"#));
            let v = store.verify(b"x", &signed(NEW, b"x")).await;
            assert_eq!(v.result, Ok(SecretUsed::Current));
            assert!(v.refreshed);
            let old = store.verify(b"x", &signed(OLD, b"x")).await;
            assert_eq!(old.result, Ok(SecretUsed::Previous));
            assert!(!old.refreshed);
        });
    }

    #[test]
    fn a_flood_of_bad_signatures_reads_at_most_once_per_interval() {
        runtime().block_on(async {
            let source = Arc::new(MemorySecretSource::new(OLD));
            let store = SecretStore::load(source.clone(), Duration::from_millis(300)).await;
            let forged = signed(NEW, b"forged");
            // Immediately after init: the read is too recent to repeat.
            let flood = (0..200).map(|_| store.verify(b"forged", &forged));
            let results = join_all(flood).await;
            assert!(
                results
                    .iter()
                    .all(|v| v.result == Err(RelayError::InvalidSignature))
            );
            assert_eq!(source.reads(), 1);
            tokio::time::sleep(Duration::from_millis(320)).await;
            // Concurrent misses after the interval: one read in flight, the rest wait for it.
            let results = join_all((0..200).map(|_| store.verify(b"forged", &forged))).await;
            assert_eq!(source.reads(), 2);
            assert_eq!(results.iter().filter(|v| v.refreshed).count(), 1);
            for _ in 0..50 {
                store.verify(b"forged", &forged).await;
            }
            assert_eq!(source.reads(), 2);
        });
    }

    #[test]
    fn unreadable_at_init_is_unavailable_then_recovers() {
        runtime().block_on(async {
            let source = Arc::new(MemorySecretSource::new(OLD));
            source.set_failing(true);
            let store = SecretStore::load(source.clone(), Duration::from_millis(100)).await;
            assert!(!store.is_available());
            let v = store.verify(b"x", &signed(OLD, b"x")).await;
            assert_eq!(v.result, Err(RelayError::SecretUnavailable));
            assert_eq!(source.reads(), 1, "too soon to read again");
            source.set_failing(false);
            tokio::time::sleep(Duration::from_millis(120)).await;
            let v = store.verify(b"x", &signed(OLD, b"x")).await;
            assert_eq!(v.result, Ok(SecretUsed::Current));
            assert!(v.refreshed);
        });
    }

    #[test]
    fn a_failed_or_bad_reread_keeps_the_secrets_in_use() {
        runtime().block_on(async {
            let source = Arc::new(MemorySecretSource::new(OLD));
            let store = SecretStore::load(source.clone(), Duration::ZERO).await;
            source.set_failing(true);
            let v = store.verify(b"x", &signed(NEW, b"x")).await;
            assert_eq!(v.result, Err(RelayError::InvalidSignature));
            source.set_failing(false);
            source.set("not base64!");
            assert_eq!(
                store.verify(b"x", &signed(NEW, b"x")).await.result,
                Err(RelayError::InvalidSignature)
            );
            assert_eq!(
                store.verify(b"x", &signed(OLD, b"x")).await.result,
                Ok(SecretUsed::Current)
            );
        });
    }

    #[test]
    fn fixed_secrets_never_read() {
        runtime().block_on(async {
            let store = SecretStore::fixed(&SecretSet::parse_value(OLD).unwrap());
            let v = store.verify(b"x", &signed(NEW, b"x")).await;
            assert_eq!(v.result, Err(RelayError::InvalidSignature));
            assert!(!v.refreshed);
            assert_eq!(store.reads(), 0);
        });
    }
}
