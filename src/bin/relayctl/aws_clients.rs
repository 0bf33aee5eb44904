//! AWS clients for relayctl: credentials and region as the AWS CLI finds them (with `--profile`
//! and `--region`), relayctl's own timeouts (`millicast_webhook_relay::operator::sdk`). The SDK
//! configuration is resolved once per run.

use std::sync::OnceLock;

use aws_config::SdkConfig;
pub use millicast_webhook_relay::aws::sdk::Clients;
use millicast_webhook_relay::operator::error::OperatorError;
use millicast_webhook_relay::operator::sdk::{self, AwsOptions};
use tokio::sync::OnceCell;

static OPTIONS: OnceLock<AwsOptions> = OnceLock::new();
static STACK: OnceLock<String> = OnceLock::new();
static SDK: OnceCell<SdkConfig> = OnceCell::const_new();

/// The global `--profile` and `--region`, set once before the command runs.
pub fn configure(options: AwsOptions) {
    let _ = OPTIONS.set(options);
}

/// The stack the command is about: without `--region` or `AWS_REGION`, a `samconfig.toml` of
/// that stack in the working directory names the region.
pub fn about_stack(name: &str) {
    let _ = STACK.set(name.to_owned());
}

/// The SDK configuration (credentials, region, endpoint overrides).
pub async fn sdk_config() -> Result<SdkConfig, OperatorError> {
    SDK.get_or_try_init(|| async {
        let options = OPTIONS.get().cloned().unwrap_or_default();
        let dir = std::env::current_dir()
            .map_err(|e| OperatorError::io("cannot read the working directory", e))?;
        let (config, from_file) =
            sdk::load_sdk_config(&options, STACK.get().map(String::as_str), &dir).await?;
        if let Some(found) = from_file {
            eprintln!(
                "region {} from {} (stack {}); --region or AWS_REGION chooses another",
                found.region,
                found.file,
                STACK.get().map(String::as_str).unwrap_or_default()
            );
        }
        Ok(config)
    })
    .await
    .cloned()
}

/// The S3, SQS and Secrets Manager clients.
pub async fn clients() -> Result<Clients, OperatorError> {
    Ok(sdk::clients(&sdk_config().await?))
}

/// S3 alone (`wall`).
pub async fn s3_client() -> Result<aws_sdk_s3::Client, OperatorError> {
    Ok(sdk::s3_client(&sdk_config().await?))
}

/// EventBridge (`history`, `redrive` onto the bus).
pub async fn eventbridge_client() -> Result<aws_sdk_eventbridge::Client, OperatorError> {
    Ok(sdk::eventbridge_client(&sdk_config().await?))
}
