//! The webhook secret: a base64 string in the dashboard and the REST API, a key of raw bytes
//! for the HMAC.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// A webhook's signing secret, decoded. `Debug` never shows it.
///
/// The platform keys its HMAC with the base64-*decoded* secret; keying with the base64 text
/// itself is the classic mistake this type exists to prevent.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// Decodes a secret exactly as the dashboard or the API shows it (standard base64;
    /// surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Self, SecretError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| SecretError::NotBase64)?;
        if bytes.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Self(bytes))
    }

    /// A secret from key bytes that are already decoded.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The key bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The base64 form the platform shows.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.0)
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// Why a secret's text cannot be used (never quoting the text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretError {
    /// Not standard base64.
    NotBase64,
    /// Base64 of nothing.
    Empty,
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotBase64 => {
                "is not valid base64 (use the secret exactly as the dashboard or API shows it)"
            }
            Self::Empty => "decodes to an empty secret",
        })
    }
}

impl std::error::Error for SecretError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_documented_secret_and_round_trips() {
        let text = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
        let secret = WebhookSecret::from_base64(&format!(" {text}\n")).unwrap();
        assert_eq!(secret.bytes(), b"0123456789abcdef0123456789abcdef");
        assert_eq!(secret.to_base64(), text);
    }

    #[test]
    fn rejects_what_is_not_a_usable_secret() {
        assert_eq!(
            WebhookSecret::from_base64("not base64!"),
            Err(SecretError::NotBase64)
        );
        assert_eq!(WebhookSecret::from_base64(""), Err(SecretError::Empty));
        assert_eq!(WebhookSecret::from_base64("  "), Err(SecretError::Empty));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let secret = WebhookSecret::from_bytes(b"0123456789abcdef".to_vec());
        let text = format!("{secret:?}");
        assert!(!text.contains("0123"), "{text}");
        assert!(!text.contains(&secret.to_base64()), "{text}");
    }
}
