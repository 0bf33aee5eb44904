//! `relayctl contract`: `contract/message.schema.json`, from the typed model.

use std::path::PathBuf;

use clap::Args;
use millicast_webhook_relay::operator::error::OperatorError;

use crate::error::Error;
use crate::generated::write_generated;

/// The committed schema file's name under `contract/`.
pub const MESSAGE_SCHEMA_FILE: &str = "message.schema.json";

#[derive(Args)]
pub struct ContractArgs {
    #[arg(long, default_value = "contract")]
    dir: PathBuf,
    /// Only check that the files are up to date.
    #[arg(long)]
    check: bool,
}

impl ContractArgs {
    pub fn run(self) -> Result<(), Error> {
        let schema = millicast_webhook_relay::contract::message_schema();
        let mut text = serde_json::to_string_pretty(&schema)
            .map_err(|e| OperatorError::io("cannot write the schema as JSON", e))?;
        text.push('\n');
        write_generated(
            &self.dir,
            &[(MESSAGE_SCHEMA_FILE.to_owned(), text)],
            self.check,
            "make contract",
        )
    }
}
