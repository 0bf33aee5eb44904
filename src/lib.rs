//! millicast-webhook-relay: receives Dolby.io Real-time Streaming (Millicast) webhooks on an
//! AWS Lambda function URL, verifies their signature, stores thumbnails in S3 and forwards
//! every JSON event to SQS; deliveries it cannot verify are kept in quarantine for replay.
//!
//! Pure logic (signature, envelope, keys, messages) is free of I/O; [`handler::Relay`] runs it
//! against the [`store::ObjectStore`] and [`store::EventQueue`] ports, with the secrets of a
//! [`secrets::SecretStore`].

pub mod allocator;
#[cfg(feature = "aws")]
pub mod aws;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod error;
pub mod event;
pub mod handler;
pub mod keys;
#[cfg(feature = "cli")]
pub mod lifecycle;
pub mod memory;
pub mod message;
pub mod metrics;
pub mod model;
#[cfg(feature = "platform")]
pub mod platform;
pub mod quarantine;
#[cfg(feature = "aws")]
pub mod redrive;
#[cfg(feature = "aws")]
pub mod replay;
#[cfg(feature = "aws")]
pub mod s3;
pub mod samples;
pub mod secrets;
#[cfg(feature = "aws")]
pub mod secretsmanager;
pub mod signature;
#[cfg(feature = "aws")]
pub mod sqs;
#[cfg(feature = "cli")]
pub mod stack;
#[cfg(feature = "cli")]
pub mod status;
pub mod store;
pub mod thumbnail;

pub use config::Config;
pub use error::RelayError;
pub use handler::Relay;
