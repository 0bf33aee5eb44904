//! Objects waiting under a prefix of the bucket: spilled events, quarantined deliveries.

use crate::aws::sdk::Clients;
use crate::operator::error::OperatorError;

use super::{Check, Level, read_failure};

/// Objects under `prefix` (up to one listing page).
pub(super) async fn count_objects(
    clients: &Clients,
    bucket: &str,
    prefix: &str,
) -> Result<(i32, bool), OperatorError> {
    let listing = clients
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .map_err(|e| OperatorError::aws(format!("cannot list s3://{bucket}/{prefix}"), e))?;
    Ok((
        listing.key_count().unwrap_or(0),
        listing.is_truncated().unwrap_or(false),
    ))
}

pub(super) async fn waiting_check(
    clients: &Clients,
    bucket: &str,
    prefix: &str,
    name: &'static str,
    what: &str,
    command: String,
) -> Check {
    match count_objects(clients, bucket, prefix).await {
        Ok((0, _)) => Check::new(name, Level::Green, format!("nothing under {prefix}")),
        Ok((count, more)) => Check::new(
            name,
            Level::Red,
            format!(
                "{count}{} {what} under s3://{bucket}/{prefix}",
                if more { "+" } else { "" }
            ),
        )
        .with_command(command),
        Err(error) => Check::new(name, Level::Red, read_failure(&error)),
    }
}
