//! The `X-Millicast-Signature` header: strict parsing, constant-time verification against a
//! current and a previous secret, and signing (for tests and tools).
//!
//! The platform signs the raw body bytes with HMAC-SHA1, keyed with the base64-*decoded* secret,
//! and sends `sha1=<40 hex digits>`. Only the body is signed: no timestamp, id or header.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

/// The header carrying the signature, in lower case (HTTP header names match in any case).
pub const SIGNATURE_HEADER: &str = "x-millicast-signature";

const PREFIX: &str = "sha1=";
const DIGEST_LEN: usize = 20;

/// Why a delivery's signature does not prove it authentic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// No `X-Millicast-Signature` header.
    Missing,
    /// The header is not `sha1=` followed by 40 hex digits.
    Malformed,
    /// Well formed, but no secret given matches the body.
    Invalid,
}

impl SignatureError {
    /// A stable, machine-readable code: `missing_signature`, `malformed_signature` or
    /// `invalid_signature`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Missing => "missing_signature",
            Self::Malformed => "malformed_signature",
            Self::Invalid => "invalid_signature",
        }
    }
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Missing => "no X-Millicast-Signature header",
            Self::Malformed => "X-Millicast-Signature is not `sha1=` followed by 40 hex digits",
            Self::Invalid => "signature does not match the current or the previous secret",
        })
    }
}

impl std::error::Error for SignatureError {}

/// A parsed signature: the 20 bytes of an HMAC-SHA1 tag. Displays as the header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature([u8; DIGEST_LEN]);

impl Signature {
    /// Parses `sha1=` followed by exactly 40 hex digits (surrounding whitespace is ignored,
    /// as HTTP does; hex digits of either case decode to the same bytes).
    pub fn parse(header_value: &[u8]) -> Result<Self, SignatureError> {
        let value = header_value.trim_ascii();
        let hex_digits = value
            .strip_prefix(PREFIX.as_bytes())
            .ok_or(SignatureError::Malformed)?;
        let mut tag = [0u8; DIGEST_LEN];
        hex::decode_to_slice(hex_digits, &mut tag).map_err(|_| SignatureError::Malformed)?;
        Ok(Self(tag))
    }
}

impl FromStr for Signature {
    type Err = SignatureError;

    fn from_str(header_value: &str) -> Result<Self, Self::Err> {
        Self::parse(header_value.as_bytes())
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}", hex::encode(self.0))
    }
}

/// Which secret a body was signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretUsed {
    /// The current secret.
    Current,
    /// The previous secret, accepted while a renewal reaches every sender and receiver.
    Previous,
}

/// Verifies bodies against the current and, during a rotation, the previous secret.
///
/// The HMAC key schedule is computed once; each verification clones the keyed state and
/// compares tags in constant time. `Debug` never shows key material.
#[derive(Clone)]
pub struct SignatureVerifier {
    current: HmacSha1,
    previous: Option<HmacSha1>,
}

impl fmt::Debug for SignatureVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignatureVerifier")
            .field("previous", &self.previous.is_some())
            .finish_non_exhaustive()
    }
}

impl SignatureVerifier {
    /// `current` and `previous` are the *decoded* secret bytes (see
    /// [`WebhookSecret::bytes`](crate::WebhookSecret::bytes); HMAC accepts keys of any length).
    pub fn new(current: &[u8], previous: Option<&[u8]>) -> Self {
        Self {
            current: keyed(current),
            previous: previous.map(keyed),
        }
    }

    /// Checks a parsed `signature` against `body` (the raw bytes as received), trying the
    /// current secret first.
    pub fn verify(&self, body: &[u8], signature: &Signature) -> Result<SecretUsed, SignatureError> {
        if tag_matches(&self.current, body, signature) {
            return Ok(SecretUsed::Current);
        }
        match &self.previous {
            Some(previous) if tag_matches(previous, body, signature) => Ok(SecretUsed::Previous),
            _ => Err(SignatureError::Invalid),
        }
    }

    /// Checks the header value as received (`None` when the request has no such header).
    pub fn verify_header(
        &self,
        header_value: Option<&[u8]>,
        body: &[u8],
    ) -> Result<SecretUsed, SignatureError> {
        let signature = Signature::parse(header_value.ok_or(SignatureError::Missing)?)?;
        self.verify(body, &signature)
    }
}

fn keyed(key: &[u8]) -> HmacSha1 {
    // HMAC is defined for keys of any length, so this cannot fail; an empty fallback key
    // would only ever reject, never accept.
    <HmacSha1 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| <HmacSha1 as KeyInit>::new(&Default::default()))
}

fn tag_matches(key: &HmacSha1, body: &[u8], signature: &Signature) -> bool {
    let mut mac = key.clone();
    mac.update(body);
    mac.verify_slice(&signature.0).is_ok()
}

/// The `X-Millicast-Signature` value for `body` under the decoded `secret`, as the platform
/// computes it: for tests and tools that send webhooks.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = keyed(secret);
    mac.update(body);
    format!("{PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    // The platform test vector (docs/platform.md, "Signature"), computed with Python's hmac.
    const DOC_SECRET_B64: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    const DOC_BODY: &[u8] = br#"{"type":"feeds","event":"started","timestamp":1638463486489,"data":{"feedId":"369e4a86-f937-4254-bd9f-99dc484d2bd6","accountId":"ZG6NWV","name":"sample_stream","streamId":"ZG6NWV/sample_stream","started":1638463486359,"active":true}}"#;
    const DOC_HEADER: &str = "sha1=dfde8e23a8c06e6c522a67d50fe7412283f653f9";
    const DOC_HEADER_TEXT_KEY: &str = "sha1=c46ca674c65f3217a7c88d056f1b89fd01efe10f";

    fn decode(b64: &str) -> Vec<u8> {
        STANDARD.decode(b64).unwrap()
    }

    fn verifier(secret_b64: &str) -> SignatureVerifier {
        SignatureVerifier::new(&decode(secret_b64), None)
    }

    fn parse(header: &str) -> Result<Signature, SignatureError> {
        Signature::parse(header.as_bytes())
    }

    #[test]
    fn documented_vector_verifies() {
        let signature = parse(DOC_HEADER).unwrap();
        assert_eq!(
            verifier(DOC_SECRET_B64).verify(DOC_BODY, &signature),
            Ok(SecretUsed::Current)
        );
    }

    #[test]
    fn signature_keyed_with_the_base64_text_is_rejected() {
        let signature = parse(DOC_HEADER_TEXT_KEY).unwrap();
        assert_eq!(
            verifier(DOC_SECRET_B64).verify(DOC_BODY, &signature),
            Err(SignatureError::Invalid)
        );
    }

    // Vectors computed with Python's `hmac` module and `openssl dgst -sha1 -mac HMAC`,
    // not with this crate: (base64 secret, body, expected header).
    #[test]
    fn independent_vectors_verify() {
        let rfc2202_key = STANDARD.encode([0x0b_u8; 20]);
        let long_body: Vec<u8> = (0..=255u8).cycle().take(1024).collect();
        let cases: Vec<(String, Vec<u8>, &str)> = vec![
            (
                "AAAA".into(),
                Vec::new(),
                "sha1=fbdb1d1b18aa6c08324b7d64b71fb76370690e1d",
            ),
            (
                "a2V5LXJvdGF0aW9uLXByZXZpb3VzLXNlY3JldCE=".into(),
                br#"{"type":"media","event":"deleted"}"#.to_vec(),
                "sha1=a156b579a953c6630c61ba01e8301363955bacde",
            ),
            (
                // A 200-byte key: longer than SHA-1's block, so HMAC hashes it first.
                STANDARD.encode((0..200u8).collect::<Vec<_>>()),
                long_body,
                "sha1=62e71b5981307b5ab83ba68cf70bfd4e3efbaf0f",
            ),
            (
                // RFC 2202, test case 1.
                rfc2202_key,
                b"Hi There".to_vec(),
                "sha1=b617318655057264e28bc0b6fb378c8ef146be00",
            ),
        ];
        for (secret, body, header) in cases {
            let signature = parse(header).unwrap();
            assert_eq!(
                verifier(&secret).verify(&body, &signature),
                Ok(SecretUsed::Current),
                "{header}"
            );
            assert_eq!(sign(&decode(&secret), &body), header);
        }
    }

    #[test]
    fn previous_secret_is_accepted_during_rotation_and_a_third_is_not() {
        let current = b"the-new-secret".as_slice();
        let previous = decode(DOC_SECRET_B64);
        let rotating = SignatureVerifier::new(current, Some(&previous));
        let signature = parse(DOC_HEADER).unwrap();
        assert_eq!(
            rotating.verify(DOC_BODY, &signature),
            Ok(SecretUsed::Previous)
        );

        let unrelated = SignatureVerifier::new(current, Some(b"yet-another-secret"));
        assert_eq!(
            unrelated.verify(DOC_BODY, &signature),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn any_changed_byte_of_the_body_fails() {
        let signature = parse(DOC_HEADER).unwrap();
        let verifier = verifier(DOC_SECRET_B64);
        for index in [0, DOC_BODY.len() / 2, DOC_BODY.len() - 1] {
            let mut body = DOC_BODY.to_vec();
            body[index] ^= 0x01;
            assert_eq!(
                verifier.verify(&body, &signature),
                Err(SignatureError::Invalid)
            );
        }
        let mut with_newline = DOC_BODY.to_vec();
        with_newline.push(b'\n');
        assert!(verifier.verify(&with_newline, &signature).is_err());
        assert!(
            verifier
                .verify(&DOC_BODY[..DOC_BODY.len() - 1], &signature)
                .is_err()
        );
    }

    #[test]
    fn parsing_is_strict() {
        let digits = "dfde8e23a8c06e6c522a67d50fe7412283f653f9";
        let malformed = [
            String::new(),
            "sha1=".into(),
            digits.into(),
            format!("sha1={}", &digits[..39]),
            format!("sha1={digits}0"),
            format!("sha1={}", &digits[..38]),
            format!("sha1={}g", &digits[..39]),
            format!("sha256={digits}"),
            format!("SHA1={digits}"),
            format!("sha1 ={digits}"),
            format!("sha1={digits},sha1={digits}"),
            format!("sha1=0x{}", &digits[..38]),
        ];
        for value in malformed {
            assert_eq!(parse(&value), Err(SignatureError::Malformed), "{value:?}");
        }
    }

    #[test]
    fn parsing_tolerates_surrounding_whitespace_and_uppercase_hex() {
        let expected = parse(DOC_HEADER).unwrap();
        assert_eq!(parse(&format!("  {DOC_HEADER}\t")).unwrap(), expected);
        let upper = format!("sha1={}", DOC_HEADER[5..].to_ascii_uppercase());
        assert_eq!(parse(&upper).unwrap(), expected);
    }

    #[test]
    fn display_and_from_str_round_trip_the_header() {
        let signature: Signature = DOC_HEADER.parse().unwrap();
        assert_eq!(signature.to_string(), DOC_HEADER);
        assert_eq!("sha1=".parse::<Signature>(), Err(SignatureError::Malformed));
    }

    #[test]
    fn verify_header_tells_missing_from_malformed_from_invalid() {
        let verifier = verifier(DOC_SECRET_B64);
        let check =
            |header: Option<&str>| verifier.verify_header(header.map(str::as_bytes), DOC_BODY);
        assert_eq!(check(Some(DOC_HEADER)), Ok(SecretUsed::Current));
        assert_eq!(check(None), Err(SignatureError::Missing));
        assert_eq!(check(Some("sha1=12")), Err(SignatureError::Malformed));
        assert_eq!(
            check(Some(DOC_HEADER_TEXT_KEY)),
            Err(SignatureError::Invalid)
        );
        assert_eq!(SignatureError::Invalid.code(), "invalid_signature");
    }

    #[test]
    fn debug_output_never_shows_key_material() {
        let text = format!("{:?}", verifier(DOC_SECRET_B64));
        assert!(!text.contains("0123456789abcdef"));
        assert!(!text.contains(DOC_SECRET_B64));
    }
}
