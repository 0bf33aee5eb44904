//! AWS clients from the environment, as the relay builds them, and one-line error messages.

use millicast_webhook_relay::{aws, config};

/// The SDK clients relayctl uses.
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

/// SDK clients from the environment (credentials, region, `AWS_ENDPOINT_URL`…).
pub async fn clients() -> Result<Clients, String> {
    let sdk = aws::load_sdk_config().await;
    if sdk.region().is_none() {
        return Err("no AWS region: set AWS_REGION (or configure a profile)".into());
    }
    let path_style = config::Config::endpoint_overridden(|name| std::env::var(name).ok());
    Ok(Clients {
        s3: aws::s3_client(&sdk, path_style),
        sqs: aws::sqs_client(&sdk),
        secrets: aws::secrets_client(&sdk),
    })
}

/// A one-line message for an SDK failure.
pub fn sdk_error(action: &str, error: impl std::error::Error) -> String {
    one_line(
        action,
        &aws_sdk_sqs::error::DisplayErrorContext(&error).to_string(),
    )
}

/// A one-line message for a failure described by `text` (credentials and refused connections
/// get a hint instead of the SDK's whole error chain).
pub fn one_line(action: &str, text: &str) -> String {
    if text.contains("no credentials found") || text.contains("CredentialsNotLoaded") {
        return format!(
            "{action}: no AWS credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"
        );
    }
    if text.contains("Connection refused") {
        return format!("{action}: connection refused (check the URL, or AWS_ENDPOINT_URL)");
    }
    if text.contains("AccessDenied") {
        return format!("{action}: access denied (see README, \"IAM permissions for relayctl\")");
    }
    format!(
        "{action}: {}",
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    )
}
