//! The secrets in force on one instance, and when they are re-read.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use lambda_http::tracing::{error, info, warn};
use millicast_webhooks::{SecretUsed, Signature};

use super::{SecretSet, WebhookId, WebhookVerifier};
use crate::ports::{IoError, SecretSource};
use crate::relay::deadline::{DEFAULT_BUDGET, DELIVERY_RESERVE, Deadline};
use crate::relay::error::RelayError;

/// Whose secret verified a delivery, and which of its two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Matched {
    /// `None` for the secret the relay holds without a webhook id.
    pub webhook_id: Option<WebhookId>,
    pub secret: SecretUsed,
}

/// What verification found, and whether it re-read the secret to find it.
#[derive(Debug, PartialEq, Eq)]
pub struct Verification {
    /// `InvalidSignature` (no known secret matches) or `SecretUnavailable` (none is known).
    pub result: Result<Matched, RelayError>,
    pub refreshed: bool,
}

/// The verifiers of every webhook held, and which one matched last: tried first next time, so
/// the common case — one webhook, or most deliveries from one — costs one HMAC per secret tried.
struct Verifiers {
    webhooks: Vec<WebhookVerifier>,
    last_match: AtomicUsize,
}

impl Verifiers {
    fn new(secrets: &SecretSet) -> Self {
        Self {
            webhooks: secrets.verifiers(),
            last_match: AtomicUsize::new(0),
        }
    }

    /// Tries the webhook `named` by the request path only (or, when none is held under that
    /// id, the secret held without id); otherwise every webhook, the last match first.
    fn find(
        &self,
        body: &[u8],
        signature: &Signature,
        named: Option<WebhookId>,
        tried: &AtomicU64,
    ) -> Result<Matched, RelayError> {
        let count = self.webhooks.len();
        let first = self
            .last_match
            .load(Ordering::Relaxed)
            .min(count.saturating_sub(1));
        let named_held = named.is_some_and(|id| self.webhooks.iter().any(|w| w.id == Some(id)));
        let order = (0..count).map(|n| (first + n) % count);
        for index in order {
            let webhook = &self.webhooks[index];
            let candidate = match named {
                Some(id) if named_held => webhook.id == Some(id),
                Some(_) => webhook.id.is_none(),
                None => true,
            };
            if !candidate {
                continue;
            }
            tried.fetch_add(1, Ordering::Relaxed);
            if let Ok(secret) = webhook.verifier.verify(body, signature) {
                self.last_match.store(index, Ordering::Relaxed);
                return Ok(Matched {
                    webhook_id: webhook.id,
                    secret,
                });
            }
        }
        Err(RelayError::InvalidSignature)
    }
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
    verifiers: RwLock<Option<Arc<Verifiers>>>,
    refresh: Option<Refresh>,
    /// Webhooks whose secrets were tried against a body (one or two HMACs of it each): what
    /// verification costs.
    tried: AtomicU64,
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
            verifiers: RwLock::new(Some(Arc::new(Verifiers::new(secrets)))),
            refresh: None,
            tried: AtomicU64::new(0),
        }
    }

    /// Reads the secret from `source` now (init) and re-reads it on a mismatch at most once
    /// per `interval`. A failed first read leaves the store unavailable, not the process dead.
    pub async fn load(source: Arc<dyn SecretSource>, interval: Duration) -> Self {
        let store = Self {
            verifiers: RwLock::new(None),
            refresh: Some(Refresh {
                source,
                interval,
                last_read: tokio::sync::Mutex::new(None),
                reads: AtomicU64::new(0),
            }),
            tried: AtomicU64::new(0),
        };
        // At init no request waits: the read has the SDK's own deadline.
        store
            .reread_if_due(&Deadline::after(DELIVERY_RESERVE + DEFAULT_BUDGET))
            .await;
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

    fn current(&self) -> Option<Arc<Verifiers>> {
        // A poisoned lock still holds a consistent `Option<Arc<…>>`.
        match self.verifiers.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn check(
        &self,
        held: Option<&Arc<Verifiers>>,
        body: &[u8],
        signature: &Signature,
        named: Option<WebhookId>,
    ) -> Result<Matched, RelayError> {
        match held {
            Some(verifiers) => verifiers.find(body, signature, named, &self.tried),
            None => Err(RelayError::SecretUnavailable),
        }
    }

    /// How many times a webhook's secrets have been tried against a body so far.
    pub fn webhooks_tried(&self) -> u64 {
        self.tried.load(Ordering::Relaxed)
    }

    /// Verifies `signature` over `body` against every webhook held.
    pub async fn verify(&self, body: &[u8], signature: &Signature) -> Verification {
        self.verify_for(body, signature, None).await
    }

    /// [`Self::verify_within`] with a request's whole budget.
    pub async fn verify_for(
        &self,
        body: &[u8],
        signature: &Signature,
        named: Option<WebhookId>,
    ) -> Verification {
        self.verify_within(body, signature, named, &Deadline::after(DEFAULT_BUDGET))
            .await
    }

    /// Verifies `signature` over `body` — against the webhook `named` by the request's path
    /// only, when one is — and on a miss re-reads the secret if due (and if the re-read leaves
    /// the delivery its time before `deadline`) and verifies again, only if the secrets changed:
    /// a forged delivery costs one HMAC per secret tried, not two.
    pub async fn verify_within(
        &self,
        body: &[u8],
        signature: &Signature,
        named: Option<WebhookId>,
        deadline: &Deadline,
    ) -> Verification {
        let held = self.current();
        let first = self.check(held.as_ref(), body, signature, named);
        if first.is_ok() || self.refresh.is_none() {
            return Verification {
                result: first,
                refreshed: false,
            };
        }
        let refreshed = self.reread_if_due(deadline).await;
        let now_held = self.current();
        let changed = match (&held, &now_held) {
            (Some(before), Some(after)) => !Arc::ptr_eq(before, after),
            (None, None) => false,
            _ => true,
        };
        Verification {
            // The secrets a concurrent request's re-read brought count too.
            result: if changed {
                self.check(now_held.as_ref(), body, signature, named)
            } else {
                first
            },
            refreshed,
        }
    }

    /// Reads the secret unless a read started less than the interval ago, or the read would not
    /// leave the delivery its time before `deadline` (true if it read).
    async fn reread_if_due(&self, deadline: &Deadline) -> bool {
        let Some(refresh) = &self.refresh else {
            return false;
        };
        if deadline.remaining().is_zero() {
            return false;
        }
        let mut last_read = refresh.last_read.lock().await;
        if last_read.is_some_and(|at| at.elapsed() < refresh.interval) {
            return false;
        }
        *last_read = Some(Instant::now());
        refresh.reads.fetch_add(1, Ordering::Relaxed);
        let read = deadline
            .run(
                "secretsmanager GetSecretValue",
                DELIVERY_RESERVE,
                refresh.source.fetch(),
            )
            .await;
        match read.map(|text| SecretSet::parse_value(&text)) {
            Ok(Ok(secrets)) => {
                let verifiers = Some(Arc::new(Verifiers::new(&secrets)));
                match self.verifiers.write() {
                    Ok(mut guard) => *guard = verifiers,
                    Err(poisoned) => *poisoned.into_inner() = verifiers,
                }
                info!(webhooks = secrets.webhooks().len(), "webhook secrets read");
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

    fn used(v: &Verification) -> Result<SecretUsed, RelayError> {
        v.result.clone().map(|matched| matched.secret)
    }

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
                assert_eq!(used(&v), Ok(SecretUsed::Current));
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
            assert_eq!(used(&v), Ok(SecretUsed::Current));
            assert!(v.refreshed);
            let old = store.verify(b"x", &signed(OLD, b"x")).await;
            assert_eq!(used(&old), Ok(SecretUsed::Previous));
            assert!(!old.refreshed);
        });
    }

    #[test]
    fn a_forged_delivery_is_verified_once_when_no_reread_happens() {
        runtime().block_on(async {
            let source = Arc::new(MemorySecretSource::new(OLD));
            let store = SecretStore::load(source.clone(), Duration::from_secs(3600)).await;
            let forged = signed(NEW, b"forged");
            for _ in 0..10 {
                let v = store.verify(b"forged", &forged).await;
                assert_eq!(used(&v), Err(RelayError::InvalidSignature));
                assert!(!v.refreshed);
            }
            // One try of the one webhook per delivery: no second pass without new secrets.
            assert_eq!(store.webhooks_tried(), 10);
            assert_eq!(source.reads(), 1);

            // With a re-read that brings the renewed secret, the second pass finds it.
            let store = SecretStore::load(source.clone(), Duration::ZERO).await;
            source.set(NEW);
            let v = store.verify(b"x", &signed(NEW, b"x")).await;
            assert_eq!(used(&v), Ok(SecretUsed::Current));
            assert!(v.refreshed);
            assert_eq!(store.webhooks_tried(), 2);
        });
    }

    #[test]
    fn a_reread_at_the_deadline_is_not_started() {
        runtime().block_on(async {
            let source = Arc::new(MemorySecretSource::new(OLD));
            let store = SecretStore::load(source.clone(), Duration::ZERO).await;
            source.set(NEW);
            let late = Deadline::after(Duration::ZERO);
            let v = store
                .verify_within(b"x", &signed(NEW, b"x"), None, &late)
                .await;
            // Not re-read (the delivery needs its time): kept in quarantine by the caller.
            assert_eq!(used(&v), Err(RelayError::InvalidSignature));
            assert!(!v.refreshed);
            assert_eq!(source.reads(), 1);
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
                    .all(|v| used(v) == Err(RelayError::InvalidSignature))
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
            assert_eq!(used(&v), Err(RelayError::SecretUnavailable));
            assert_eq!(source.reads(), 1, "too soon to read again");
            source.set_failing(false);
            tokio::time::sleep(Duration::from_millis(120)).await;
            let v = store.verify(b"x", &signed(OLD, b"x")).await;
            assert_eq!(used(&v), Ok(SecretUsed::Current));
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
            assert_eq!(used(&v), Err(RelayError::InvalidSignature));
            source.set_failing(false);
            source.set("not base64!");
            assert_eq!(
                used(&store.verify(b"x", &signed(NEW, b"x")).await),
                Err(RelayError::InvalidSignature)
            );
            assert_eq!(
                used(&store.verify(b"x", &signed(OLD, b"x")).await),
                Ok(SecretUsed::Current)
            );
        });
    }

    #[test]
    fn fixed_secrets_never_read() {
        runtime().block_on(async {
            let store = SecretStore::fixed(&SecretSet::parse_value(OLD).unwrap());
            let v = store.verify(b"x", &signed(NEW, b"x")).await;
            assert_eq!(used(&v), Err(RelayError::InvalidSignature));
            assert!(!v.refreshed);
            assert_eq!(store.reads(), 0);
        });
    }

    const OTHER: &str = "b3RoZXItd2ViaG9vay1zZWNyZXQ=";
    const THIRD: &str = "dGhpcmQtd2ViaG9vay1zZWNyZXQ=";

    fn three_webhooks() -> SecretSet {
        SecretSet::parse_value(&format!(
            r#"{{"webhooks":[{{"id":1,"current":"{OLD}"}},{{"id":2,"current":"{OTHER}"}},{{"id":3,"current":"{NEW}","previous":"{THIRD}"}}]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn each_webhook_verifies_with_its_own_secrets_and_is_named() {
        runtime().block_on(async {
            let store = SecretStore::fixed(&three_webhooks());
            for (secret, id, which) in [
                (OLD, 1, SecretUsed::Current),
                (OTHER, 2, SecretUsed::Current),
                (NEW, 3, SecretUsed::Current),
                (THIRD, 3, SecretUsed::Previous),
            ] {
                let v = store.verify(b"x", &signed(secret, b"x")).await;
                assert_eq!(
                    v.result,
                    Ok(Matched {
                        webhook_id: Some(id),
                        secret: which
                    })
                );
            }
            let forged = "Zm9yZ2VkLWJ5LXNvbWVib2R5";
            assert_eq!(
                used(&store.verify(b"x", &signed(forged, b"x")).await),
                Err(RelayError::InvalidSignature)
            );
        });
    }

    #[test]
    fn a_path_naming_a_webhook_verifies_against_that_webhook_only() {
        runtime().block_on(async {
            let store = SecretStore::fixed(&three_webhooks());
            let by_two = signed(OTHER, b"x");
            assert!(
                store
                    .verify_for(b"x", &by_two, Some(2))
                    .await
                    .result
                    .is_ok()
            );
            // Webhook 2's delivery at webhook 1's path does not verify.
            assert_eq!(
                used(&store.verify_for(b"x", &by_two, Some(1)).await),
                Err(RelayError::InvalidSignature)
            );
            // A path naming a webhook the relay holds no secret for: the secret held without
            // id (the one-webhook forms) is tried, nothing else.
            let legacy = SecretStore::fixed(&SecretSet::parse_value(OLD).unwrap());
            let by_old = signed(OLD, b"x");
            let v = legacy.verify_for(b"x", &by_old, Some(9)).await;
            assert_eq!(v.result.unwrap().webhook_id, None);
            assert_eq!(
                used(&store.verify_for(b"x", &by_two, Some(9)).await),
                Err(RelayError::InvalidSignature)
            );
        });
    }

    #[test]
    fn an_empty_set_verifies_nothing_but_is_available() {
        runtime().block_on(async {
            let store = SecretStore::fixed(&SecretSet::parse_value(r#"{"webhooks":[]}"#).unwrap());
            assert!(store.is_available());
            assert_eq!(
                used(&store.verify(b"x", &signed(OLD, b"x")).await),
                Err(RelayError::InvalidSignature)
            );
        });
    }
}
