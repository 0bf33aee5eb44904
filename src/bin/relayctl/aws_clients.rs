//! AWS clients from the environment, as the relay builds them.

use aws_config::SdkConfig;
use millicast_webhook_relay::aws::sdk as aws;
pub use millicast_webhook_relay::aws::sdk::Clients;
use millicast_webhook_relay::operator::error::OperatorError;

/// The SDK configuration from the environment (credentials, region, `AWS_ENDPOINT_URL`…).
pub async fn sdk_config() -> Result<SdkConfig, OperatorError> {
    let sdk = aws::load_sdk_config().await;
    if sdk.region().is_none() {
        return Err(OperatorError::usage(
            "no AWS region: set AWS_REGION (or configure a profile)",
        ));
    }
    Ok(sdk)
}

/// The S3, SQS and Secrets Manager clients, from the environment.
pub async fn clients() -> Result<Clients, OperatorError> {
    Ok(Clients::new(&sdk_config().await?))
}
