//! The operator's library, which `relayctl` drives: the platform's webhooks REST API
//! ([`platform`]), register and rotate with zero loss ([`lifecycle`]), health at a glance
//! ([`status`]), quarantine replay ([`replay`]), redrive of spilled events ([`redrive`]), the
//! stack's outputs ([`stack`]) and every stream's newest frame on a local page (`wall`, feature
//! `wall`); what fails says why in one [`error::OperatorError`]. Never
//! linked into the Lambda.

pub mod dead_letters;
pub mod error;
pub mod history;
pub mod lifecycle;
pub mod platform;
pub mod redrive;
pub mod replay;
pub mod sdk;
pub mod stack;
pub mod status;
#[cfg(feature = "wall")]
pub mod wall;
