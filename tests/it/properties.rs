//! Property tests: for random bodies and secrets, a signature made by an independent HMAC
//! implementation (AWS-LC) verifies, and any single-byte change of body or signature fails.

use aws_lc_rs::hmac;

use millicast_webhooks::{SecretUsed, Signature, SignatureError, SignatureVerifier};
use proptest::prelude::*;

fn independent_header(secret: &[u8], body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    format!("sha1={}", hex::encode(hmac::sign(&key, body).as_ref()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn independent_signatures_verify(secret in prop::collection::vec(any::<u8>(), 1..160),
                                     body in prop::collection::vec(any::<u8>(), 0..4096)) {
        let header = independent_header(&secret, &body);
        let verifier = SignatureVerifier::new(&secret, None);
        prop_assert_eq!(verifier.verify(&body, &Signature::parse(header.as_bytes()).unwrap()), Ok(SecretUsed::Current));
    }

    #[test]
    fn any_changed_body_byte_fails(secret in prop::collection::vec(any::<u8>(), 1..64),
                                   body in prop::collection::vec(any::<u8>(), 1..2048),
                                   index in any::<prop::sample::Index>(),
                                   flip in 1u8..=255) {
        let header = independent_header(&secret, &body);
        let mut changed = body.clone();
        let i = index.index(changed.len());
        changed[i] ^= flip;
        let verifier = SignatureVerifier::new(&secret, None);
        prop_assert_eq!(verifier.verify(&changed, &Signature::parse(header.as_bytes()).unwrap()), Err(SignatureError::Invalid));
    }

    #[test]
    fn any_changed_signature_digit_fails(secret in prop::collection::vec(any::<u8>(), 1..64),
                                         body in prop::collection::vec(any::<u8>(), 0..1024),
                                         position in 5usize..45,
                                         replacement in prop::sample::select(b"0123456789abcdef".to_vec())) {
        let header = independent_header(&secret, &body);
        let mut changed = header.clone().into_bytes();
        prop_assume!(changed[position] != replacement);
        changed[position] = replacement;
        let verifier = SignatureVerifier::new(&secret, None);
        prop_assert_eq!(verifier.verify(&body, &Signature::parse(&changed).unwrap()), Err(SignatureError::Invalid));
    }

    #[test]
    fn a_third_secret_never_verifies(current in prop::collection::vec(any::<u8>(), 1..64),
                                     previous in prop::collection::vec(any::<u8>(), 1..64),
                                     other in prop::collection::vec(any::<u8>(), 1..64),
                                     body in prop::collection::vec(any::<u8>(), 0..512)) {
        prop_assume!(other != current && other != previous);
        let verifier = SignatureVerifier::new(&current, Some(&previous));
        let signature = Signature::parse(independent_header(&other, &body).as_bytes()).unwrap();
        prop_assert_eq!(verifier.verify(&body, &signature), Err(SignatureError::Invalid));
        let signature = Signature::parse(independent_header(&previous, &body).as_bytes()).unwrap();
        prop_assert_eq!(verifier.verify(&body, &signature), Ok(SecretUsed::Previous));
    }

    #[test]
    fn signature_parsing_never_panics(value in prop::collection::vec(any::<u8>(), 0..128)) {
        let _ = Signature::parse(&value);
    }
}
