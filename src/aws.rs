//! AWS SDK clients, built once at init.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};

/// Retries and deadlines: the SDK's standard retry mode (3 attempts, jittered backoff capped
/// at 1 s) inside per-attempt and per-operation timeouts, so that an SQS failure can still be
/// spilled to S3 well inside the function timeout.
pub fn with_relay_defaults(loader: ConfigLoader) -> ConfigLoader {
    loader
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_max_backoff(Duration::from_secs(1)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(12))
                .build(),
        )
}

/// Loads region, credentials and endpoint overrides (`AWS_ENDPOINT_URL`, …) from the environment.
pub async fn load_sdk_config() -> SdkConfig {
    with_relay_defaults(aws_config::defaults(BehaviorVersion::latest()))
        .load()
        .await
}

/// `force_path_style` for local S3 servers, which cannot serve `bucket.host` addresses.
pub fn s3_client(sdk_config: &SdkConfig, force_path_style: bool) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk_config)
        .force_path_style(force_path_style)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

pub fn sqs_client(sdk_config: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(sdk_config)
}
