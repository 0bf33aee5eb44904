//! `relayctl quarantine list` and `quarantine replay`: deliveries the relay could not verify.

mod list;
mod replay;

use clap::Subcommand;

use crate::error::Error;

#[derive(Subcommand)]
pub enum QuarantineCommand {
    /// A table of the kept deliveries: received, reason, size, kind, stream.
    List(list::ListArgs),
    /// Verify each kept delivery again and deliver those that verify, exactly as the relay
    /// would have; each is deleted once durable. Honours THUMBNAIL_PREFIX, THUMBNAIL_LATEST,
    /// THUMBNAIL_EVENTS, REPLAY_WINDOW_SECONDS and SQS_MAX_MESSAGE_BYTES like the relay.
    Replay(replay::ReplayArgs),
}

impl QuarantineCommand {
    pub async fn run(self) -> Result<(), Error> {
        match self {
            QuarantineCommand::List(args) => args.run().await,
            QuarantineCommand::Replay(args) => args.run().await,
        }
    }
}
