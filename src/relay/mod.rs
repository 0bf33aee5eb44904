//! The Lambda's request path, in the order of docs/architecture.md: method, size, signature (secrets,
//! quarantine), route, replay window, then making the delivery durable (thumbnails to S3, events
//! to SQS, claim checks and spills). Pure logic over the [`crate::ports`]; no AWS types.

pub mod allocator;
pub mod bus;
pub mod clock;
pub mod config;
pub mod deadline;
pub mod delivery;
pub mod error;
pub mod handler;
pub mod keys;
pub mod message;
pub mod metrics;
pub mod quarantine;
pub mod secrets;
pub mod thumbnail;
