#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod envelope;
pub mod model;
#[cfg(feature = "samples")]
pub mod samples;
#[cfg(feature = "schema")]
pub mod schema;
pub mod secret;
pub mod signature;
pub mod thumbnail;

pub use envelope::{Envelope, ParseError};
pub use model::WebhookEvent;
pub use secret::{SecretError, WebhookSecret};
pub use signature::{
    SIGNATURE_HEADER, SecretUsed, Signature, SignatureError, SignatureVerifier, sign,
};
pub use thumbnail::ThumbnailHeaders;
