//! AWS SDK clients, built once at init.

use aws_config::{BehaviorVersion, SdkConfig};

/// Loads region, credentials and endpoint overrides (`AWS_ENDPOINT_URL`, …) from the environment.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
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
