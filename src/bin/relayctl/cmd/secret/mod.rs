//! `relayctl secret set`: the webhook secret in Secrets Manager.

mod set;

use clap::Subcommand;

use crate::error::Error;

#[derive(Subcommand)]
pub enum SecretCommand {
    /// Store the secret read from standard input (never echoed) as a webhook's current one,
    /// keeping the one it replaces as `previous`.
    Set(set::SetArgs),
}

impl SecretCommand {
    pub async fn run(self) -> Result<(), Error> {
        match self {
            SecretCommand::Set(args) => args.run().await,
        }
    }
}
