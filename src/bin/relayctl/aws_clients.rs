//! AWS clients from the environment, as the relay builds them, and one-line error messages.

use aws_config::SdkConfig;
use millicast_webhook_relay::aws::sdk as aws;
pub use millicast_webhook_relay::aws::sdk::Clients;

/// The SDK configuration from the environment (credentials, region, `AWS_ENDPOINT_URL`…).
pub async fn sdk_config() -> Result<SdkConfig, String> {
    let sdk = aws::load_sdk_config().await;
    if sdk.region().is_none() {
        return Err("no AWS region: set AWS_REGION (or configure a profile)".into());
    }
    Ok(sdk)
}

/// The S3, SQS and Secrets Manager clients, from the environment.
pub async fn clients() -> Result<Clients, String> {
    Ok(Clients::new(&sdk_config().await?))
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
