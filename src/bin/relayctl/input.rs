//! Reading what the operator gives: secrets and files.

use std::io::Read;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use millicast_webhook_relay::operator::error::OperatorError;

pub fn decode_secret(secret: &str) -> Result<Vec<u8>, OperatorError> {
    match STANDARD.decode(secret.trim()) {
        Ok(bytes) if !bytes.is_empty() => Ok(bytes),
        _ => Err(OperatorError::usage(
            "the secret is not valid base64 (use it exactly as the dashboard shows it)",
        )),
    }
}

pub fn read_input(file: Option<&Path>) -> Result<Vec<u8>, OperatorError> {
    match file {
        None => read_stdin(),
        Some(path) if path == Path::new("-") => read_stdin(),
        Some(path) => std::fs::read(path)
            .map_err(|e| OperatorError::io(format!("cannot read {}", path.display()), e)),
    }
}

fn read_stdin() -> Result<Vec<u8>, OperatorError> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| OperatorError::io("cannot read standard input", e))?;
    Ok(bytes)
}
