//! `relayctl events`: the function-URL sample events of `events/`.

use std::path::PathBuf;

use clap::Args;
use millicast_webhook_relay::events;

use crate::error::Error;
use crate::generated::write_generated;

#[derive(Args)]
pub struct EventsArgs {
    #[arg(long, default_value = "events")]
    dir: PathBuf,
    /// Fail if a file differs from what would be written, instead of writing.
    #[arg(long)]
    check: bool,
}

impl EventsArgs {
    pub fn run(self) -> Result<(), Error> {
        let files: Vec<(String, String)> = events::event_files()
            .iter()
            .map(|file| (file.file_name.clone(), events::event_file_text(file)))
            .collect();
        write_generated(&self.dir, &files, self.check, "make events")
    }
}
