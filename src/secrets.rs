//! Where the webhook secrets come from and when they are re-read (DESIGN.md, "Secrets and
//! quarantine": *Where the secrets live* and *Refresh on mismatch*).
//!
//! - Literal secrets (`WEBHOOK_SECRET`, `WEBHOOK_SECRET_PREVIOUS`) never change.
//! - A Secrets Manager secret (`WEBHOOK_SECRET_ID`) holding `{"current","previous"}` (or a plain
//!   base64 string) is read once at init. A well-formed signature that matches no known secret
//!   makes the store re-read it — one read in flight per instance, at most one per
//!   `SECRET_REFRESH_SECONDS` — and verify again. A valid signature never causes I/O.
//! - When the secret cannot be read at all, verification answers "unavailable" (the handler
//!   quarantines and answers 503) and the read is retried, bounded the same way, on later
//!   requests.
//!
//! Secret values never appear in errors, logs or `Debug` output.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lambda_http::tracing::{error, info, warn};

use crate::error::RelayError;
use crate::signature::{SecretUsed, Signature, SignatureVerifier};
use crate::store::IoError;

/// Least time between two re-reads of the secret (`SECRET_REFRESH_SECONDS`).
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(5);

/// Decoded secret bytes; `Debug` never prints them.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Decodes a secret exactly as the dashboard or the API shows it (standard base64).
    pub fn from_base64(text: &str) -> Result<Self, SecretValueError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| SecretValueError::NotBase64)?;
        if bytes.is_empty() {
            return Err(SecretValueError::Empty);
        }
        Ok(Self(bytes))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The base64 form the platform shows.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.0)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Why a secret value cannot be used (never quoting the value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretValueError {
    #[error("is not valid base64 (use the secret exactly as the dashboard or API shows it)")]
    NotBase64,
    #[error("decodes to an empty secret")]
    Empty,
    #[error("is a JSON document without a string `current`")]
    NoCurrent,
    #[error("`{field}` {problem}")]
    Field {
        field: &'static str,
        problem: Box<SecretValueError>,
    },
    #[error("is not a JSON object {{\"current\", \"previous\"}} nor a base64 string")]
    NotJson,
}

/// The secrets a delivery may be signed with: the current one and, during a rotation, the
/// previous one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSet {
    pub current: Secret,
    pub previous: Option<Secret>,
}

impl SecretSet {
    /// Parses a Secrets Manager value: `{"current": "<base64>", "previous": "<base64>"}`
    /// (`previous` optional, empty or null meaning none; other members ignored) or a plain
    /// base64 string, which is `current` alone.
    pub fn parse_value(text: &str) -> Result<Self, SecretValueError> {
        let text = text.trim();
        if !text.starts_with('{') {
            return Ok(Self {
                current: Secret::from_base64(text)?,
                previous: None,
            });
        }
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|_| SecretValueError::NotJson)?;
        let field = |name: &'static str| -> Result<Option<Secret>, SecretValueError> {
            match value.get(name) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) if s.trim().is_empty() => Ok(None),
                Some(serde_json::Value::String(s)) => {
                    Secret::from_base64(s)
                        .map(Some)
                        .map_err(|problem| SecretValueError::Field {
                            field: name,
                            problem: Box::new(problem),
                        })
                }
                Some(_) => Err(SecretValueError::Field {
                    field: name,
                    problem: Box::new(SecretValueError::NotBase64),
                }),
            }
        };
        Ok(Self {
            current: field("current")?.ok_or(SecretValueError::NoCurrent)?,
            previous: field("previous")?,
        })
    }

    /// The value stored in Secrets Manager.
    pub fn to_value(&self) -> String {
        let mut value = serde_json::json!({ "current": self.current.to_base64() });
        if let Some(previous) = &self.previous {
            value["previous"] = previous.to_base64().into();
        }
        value.to_string()
    }

    /// `relayctl secret set`: `new` becomes current and the one it replaces becomes previous.
    /// Storing the current secret again changes nothing (so reruns are harmless).
    pub fn with_new_current(&self, new: Secret) -> Self {
        if new == self.current {
            return self.clone();
        }
        Self {
            current: new,
            previous: Some(self.current.clone()),
        }
    }

    pub fn verifier(&self) -> SignatureVerifier {
        SignatureVerifier::new(
            self.current.bytes(),
            self.previous.as_ref().map(Secret::bytes),
        )
    }
}

/// Reads the stored secret value (Secrets Manager in the Lambda; in memory in unit tests).
pub trait SecretSource: Send + Sync {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<String, IoError>> + Send + '_>>;
}

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
            Some(verifier) => verifier.verify(body, signature),
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
    use crate::memory::MemorySecretSource;
    use crate::signature::sign;
    use futures_util::future::join_all;

    const OLD: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // MILLICAST.md's
    const NEW: &str = "bmV3LXNlY3JldC1hZnRlci1yZW5ld2Fs"; // base64 of "new-secret-after-renewal"

    fn secret(b64: &str) -> Secret {
        Secret::from_base64(b64).unwrap()
    }

    fn signed(secret_b64: &str, body: &[u8]) -> Signature {
        Signature::parse(sign(secret(secret_b64).bytes(), body).as_bytes()).unwrap()
    }

    #[test]
    fn json_value_with_current_and_previous() {
        let set = SecretSet::parse_value(&format!(r#"{{"current":"{NEW}","previous":"{OLD}"}}"#))
            .unwrap();
        assert_eq!(set.current.bytes(), b"new-secret-after-renewal");
        assert_eq!(
            set.previous.as_ref().map(Secret::bytes),
            Some(&b"0123456789abcdef0123456789abcdef"[..])
        );
    }

    #[test]
    fn plain_string_is_current_only() {
        let set = SecretSet::parse_value(&format!("  {OLD}\n")).unwrap();
        assert_eq!(set.current, secret(OLD));
        assert_eq!(set.previous, None);
    }

    #[test]
    fn empty_or_null_previous_means_none() {
        for value in [
            format!(r#"{{"current":"{NEW}","previous":""}}"#),
            format!(r#"{{"current":"{NEW}","previous":null}}"#),
            format!(r#"{{"current":"{NEW}","previous":"  "}}"#),
            format!(r#"{{"current":"{NEW}","note":"unknown members are ignored"}}"#),
        ] {
            assert_eq!(
                SecretSet::parse_value(&value).unwrap().previous,
                None,
                "{value}"
            );
        }
    }

    #[test]
    fn bad_values_are_rejected_without_quoting_them() {
        let cases = [
            ("not base64!", SecretValueError::NotBase64),
            ("", SecretValueError::Empty),
            ("====", SecretValueError::NotBase64),
            (r#"{"previous":"AAAA"}"#, SecretValueError::NoCurrent),
            (r#"{"current":""}"#, SecretValueError::NoCurrent),
            (
                r#"{"current":"c2VjcmV0LXZhbHVl!"}"#,
                SecretValueError::Field {
                    field: "current",
                    problem: Box::new(SecretValueError::NotBase64),
                },
            ),
            (
                r#"{"current":"AAAA","previous":"%%%"}"#,
                SecretValueError::Field {
                    field: "previous",
                    problem: Box::new(SecretValueError::NotBase64),
                },
            ),
            (
                r#"{"current":42}"#,
                SecretValueError::Field {
                    field: "current",
                    problem: Box::new(SecretValueError::NotBase64),
                },
            ),
            (r#"{"current":"AAAA""#, SecretValueError::NotJson),
        ];
        for (value, expected) in cases {
            let error = SecretSet::parse_value(value).unwrap_err();
            assert_eq!(error, expected, "{value}");
            assert!(!error.to_string().contains("c2VjcmV0LXZhbHVl"));
        }
    }

    #[test]
    fn value_round_trips() {
        let set = SecretSet {
            current: secret(NEW),
            previous: Some(secret(OLD)),
        };
        assert_eq!(SecretSet::parse_value(&set.to_value()).unwrap(), set);
        let alone = SecretSet::parse_value(OLD).unwrap();
        assert_eq!(alone.to_value(), format!(r#"{{"current":"{OLD}"}}"#));
    }

    #[test]
    fn a_new_current_keeps_the_replaced_one_as_previous() {
        let before = SecretSet::parse_value(OLD).unwrap();
        let after = before.with_new_current(secret(NEW));
        assert_eq!(after.current, secret(NEW));
        assert_eq!(after.previous, Some(secret(OLD)));
        // Setting the same secret again is a no-op (the previous one is not lost).
        assert_eq!(after.with_new_current(secret(NEW)), after);
    }

    #[test]
    fn debug_output_is_redacted() {
        let set = SecretSet::parse_value(OLD).unwrap();
        let debug = format!("{set:?}");
        assert!(!debug.contains(OLD) && !debug.contains("0123456789abcdef"));
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
