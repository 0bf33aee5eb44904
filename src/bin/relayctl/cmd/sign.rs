//! `relayctl sign`: the signature of a body, as the platform computes it.

use std::path::PathBuf;

use clap::Args;
use millicast_webhooks::signature::sign;

use crate::error::Error;
use crate::input::{decode_secret, read_input};

#[derive(Args)]
pub struct SignArgs {
    /// Webhook secret (base64, as the dashboard shows it).
    #[arg(long, env = "WEBHOOK_SECRET", hide_env_values = true)]
    secret: String,
    /// File to sign; `-` or nothing reads standard input.
    file: Option<PathBuf>,
}

impl SignArgs {
    pub fn run(self) -> Result<(), Error> {
        let secret = decode_secret(&self.secret)?;
        out!("{}", sign(&secret, &read_input(self.file.as_deref())?));
        Ok(())
    }
}
