//! millicast-webhook-relay: receives Dolby.io Real-time Streaming (Millicast) webhooks on an
//! AWS Lambda function URL, verifies their signature, stores thumbnails in S3 and forwards
//! every JSON event to SQS; deliveries it cannot verify are kept in quarantine for replay.
//!
//! The platform's webhooks themselves — signature, envelope, typed model — are the
//! `millicast_webhooks` crate (`crates/millicast-webhooks`). This library is the relay around
//! them, one folder per place it runs:
//! - [`relay`]: the Lambda's request path ([`relay::handler::Relay`]), pure logic over the ports;
//! - [`ports`]: the object store, event queue and secret source it needs, and in-memory
//!   adapters for tests, benchmarks and fuzzing;
//! - [`aws`] (feature `aws`): those ports over S3, SQS and Secrets Manager, and the SDK set-up;
//! - [`operator`] (feature `operator`): what `relayctl` drives — the platform's REST API,
//!   register/rotate, status, quarantine replay, redrive, stack outputs;
//! - [`contract`]: the messages consumers read from the queue;
//! - [`events`]: function-URL request events built from the platform's samples.

#[cfg(feature = "aws")]
pub mod aws;
pub mod contract;
pub mod events;
#[cfg(feature = "operator")]
pub mod operator;
pub mod ports;
pub mod relay;

pub use relay::config::Config;
pub use relay::error::RelayError;
pub use relay::handler::Relay;
