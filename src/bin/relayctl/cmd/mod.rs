//! One module per command: its flags (`#[derive(Args)]`) and what it does (`run`).

pub mod contract;
pub mod dead_letters;
pub mod events;
pub mod history;
pub mod quarantine;
pub mod redrive;
pub mod register;
pub mod rotate;
pub mod secret;
pub mod send;
pub mod sign;
pub mod status;
pub mod tail;
pub mod unregister;
pub mod wall;
pub mod webhooks;
