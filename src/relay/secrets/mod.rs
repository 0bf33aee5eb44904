//! Where the webhook secrets come from and when they are re-read (docs/architecture.md, "Secrets
//! and their refresh").
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

mod store;
mod value;

use std::time::Duration;

pub use millicast_webhooks::WebhookSecret;
pub use store::{Matched, SecretStore, Verification};
pub use value::{
    SecretSet, SecretSetError, SecretValueError, WebhookId, WebhookSecrets, WebhookVerifier,
    describe_ids,
};

/// Least time between two re-reads of the secret (`SECRET_REFRESH_SECONDS`).
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(5);

/// Secrets and signatures shared by the unit tests of `value` and `store`.
#[cfg(test)]
mod testing {
    use millicast_webhooks::{Signature, WebhookSecret, sign};

    pub const OLD: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // the test vector's
    pub const NEW: &str = "bmV3LXNlY3JldC1hZnRlci1yZW5ld2Fs"; // base64 of "new-secret-after-renewal"

    pub fn secret(b64: &str) -> WebhookSecret {
        WebhookSecret::from_base64(b64).unwrap()
    }

    pub fn signed(secret_b64: &str, body: &[u8]) -> Signature {
        Signature::parse(sign(secret(secret_b64).bytes(), body).as_bytes()).unwrap()
    }
}
