//! `X-Millicast-Signature` parsing: never panics; whatever parses is exactly `sha1=` + 40 hex.
#![no_main]

use libfuzzer_sys::fuzz_target;
use millicast_webhooks::{Signature, SignatureVerifier};

fuzz_target!(|data: &[u8]| {
    if let Ok(signature) = Signature::parse(data) {
        let text = std::str::from_utf8(data).expect("a parsed signature is ASCII").trim_ascii();
        assert_eq!(text.len(), 45);
        assert!(text.starts_with("sha1="));
        assert_eq!(Signature::parse(text.to_ascii_lowercase().as_bytes()), Ok(signature));
        // Verifying against an arbitrary body never panics either.
        let _ = SignatureVerifier::new(b"secret", Some(b"old")).verify(data, &signature);
    }
});
