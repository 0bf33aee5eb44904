//! Files relayctl generates into the repository (`events/`, `contract/`), or checks.

use std::path::Path;

use millicast_webhook_relay::operator::error::OperatorError;

use crate::error::Error;

/// Writes generated files into `dir`, or (`check`) fails naming those that differ.
pub fn write_generated(
    dir: &Path,
    files: &[(String, String)],
    check: bool,
    regenerate: &str,
) -> Result<(), Error> {
    let mut stale = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        if check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(path.display().to_string());
            }
        } else {
            std::fs::create_dir_all(dir)
                .map_err(|e| OperatorError::io(format!("cannot create {}", dir.display()), e))?;
            std::fs::write(&path, text)
                .map_err(|e| OperatorError::io(format!("cannot write {}", path.display()), e))?;
            out!("{}", path.display());
        }
    }
    if stale.is_empty() {
        Ok(())
    } else {
        Err(Error::failed(format!(
            "out of date (run `{regenerate}`): {}",
            stale.join(", ")
        )))
    }
}
