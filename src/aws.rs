//! AWS SDK clients, built once at init, with the relay's retries and deadlines.
//!
//! The platform never retries, so every call must end in time for the fallback to run inside
//! the function timeout (30 s in template.yaml). Retries use the SDK's standard mode (3 attempts,
//! jittered exponential backoff capped at 1 s, retry quota); deadlines bound each attempt and
//! each operation:
//! - SQS: 2 s per attempt, 5 s per operation (a send normally takes milliseconds);
//! - S3: 5 s per attempt, 10 s per operation (a 6 MB thumbnail upload included);
//! - Secrets Manager: 1 s per attempt, 3 s per operation (a read at init, or a re-read while a
//!   request waits; when it is down, the delivery goes to quarantine instead).
//!
//! Worst cases: an event whose SQS send fails, then spills to S3: 5 + 10 = 15 s; a thumbnail:
//! 10 (image) + 5 (announcement) + 10 (its spill) = 25 s; either after a re-read of the secret
//! on a mismatch (3 s): 18 and 28 s, inside the 30 s function timeout.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
pub const SQS_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
pub const SQS_OPERATION_TIMEOUT: Duration = Duration::from_secs(5);
pub const S3_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
pub const S3_OPERATION_TIMEOUT: Duration = Duration::from_secs(10);
pub const SECRETS_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);
pub const SECRETS_OPERATION_TIMEOUT: Duration = Duration::from_secs(3);

/// The retry policy shared by both clients.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_max_backoff(Duration::from_secs(1))
}

fn timeouts(attempt: Duration, operation: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(attempt)
        .operation_timeout(operation)
        .build()
}

/// Applies the relay's retry policy to a config loader.
pub fn with_relay_defaults(loader: ConfigLoader) -> ConfigLoader {
    loader.retry_config(retry_config())
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
        .timeout_config(timeouts(S3_ATTEMPT_TIMEOUT, S3_OPERATION_TIMEOUT))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

pub fn sqs_client(sdk_config: &SdkConfig) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::config::Builder::from(sdk_config)
        .timeout_config(timeouts(SQS_ATTEMPT_TIMEOUT, SQS_OPERATION_TIMEOUT))
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

pub fn secrets_client(sdk_config: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    let config = aws_sdk_secretsmanager::config::Builder::from(sdk_config)
        .timeout_config(timeouts(SECRETS_ATTEMPT_TIMEOUT, SECRETS_OPERATION_TIMEOUT))
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

/// The clients relayctl and its library operations use (S3, SQS, Secrets Manager).
#[derive(Debug, Clone)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

impl Clients {
    /// From an SDK config; S3 path-style when an endpoint override is configured (local S3).
    pub fn new(sdk_config: &SdkConfig) -> Self {
        let path_style =
            crate::config::Config::endpoint_overridden(|name| std::env::var(name).ok());
        Self {
            s3: s3_client(sdk_config, path_style),
            sqs: sqs_client(sdk_config),
            secrets: secrets_client(sdk_config),
        }
    }
}
