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
//! These bound each call; the request as a whole is bounded by its one deadline
//! (relay/deadline.rs), drawn from the function's, which every call runs within: a thumbnail's
//! `latest.jpg` rounds, or slow calls that each succeed, can no longer add up past the function
//! timeout.
//!
//! TLS: the Lambda trusts the five Amazon Trust Services roots, compiled in, instead of the
//! system trust store, which the SDK's default client loads from `/etc/ssl` (147 files opened
//! per cold start on the build machine; init 9.9 → 4.1 ms without it, docs/performance.md). AWS
//! service endpoints chain to these roots; relayctl, run on operators' machines (perhaps behind
//! a TLS-inspecting proxy), keeps the system store.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_sdk_sqs::config::SharedHttpClient;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore};

use crate::relay::deadline;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
pub const SQS_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
pub const SQS_OPERATION_TIMEOUT: Duration = deadline::SQS_CALL;
pub const S3_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
pub const S3_OPERATION_TIMEOUT: Duration = deadline::S3_CALL;
pub const SECRETS_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);
pub const SECRETS_OPERATION_TIMEOUT: Duration = deadline::SECRETS_CALL;

/// The retry policy shared by both clients.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_max_backoff(Duration::from_secs(1))
}

/// Stalled-stream protection ends a call whose body moves under 1 B/s for its grace period
/// (20 s); every attempt here ends within 1–5 s, so it could never act, yet it wraps each request
/// and response body with throughput bookkeeping and a timer.
fn no_stalled_stream_protection() -> StalledStreamProtectionConfig {
    StalledStreamProtectionConfig::disabled()
}

/// A connect, attempt and operation timeout (relayctl builds its own with longer ones).
pub fn timeout_config(connect: Duration, attempt: Duration, operation: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(connect)
        .operation_attempt_timeout(attempt)
        .operation_timeout(operation)
        .build()
}

fn timeouts(attempt: Duration, operation: Duration) -> TimeoutConfig {
    timeout_config(CONNECT_TIMEOUT, attempt, operation)
}

/// Applies the relay's retry policy to a config loader.
pub fn with_relay_defaults(loader: ConfigLoader) -> ConfigLoader {
    loader.retry_config(retry_config())
}

/// The Lambda's SDK config: region, credentials and endpoint overrides (`AWS_ENDPOINT_URL`, …)
/// from the environment, the relay's retries ([`with_relay_defaults`]), HTTPS trusting only
/// [`AMAZON_ROOTS_PEM`].
///
/// Region and credentials come from the default chains, as for relayctl: taking them from
/// Lambda's environment directly was tried and made no difference to init (alternated A/B,
/// 25 cold starts each: 3.15 vs 3.15 ms median).
///
/// The China partition (`cn-*` regions) keeps the system trust store: its endpoints are run
/// apart from the other partitions, and nothing here has checked which roots they chain to.
pub async fn load_lambda_sdk_config() -> Result<SdkConfig, aws_smithy_http_client::HttpClientError>
{
    let region = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()));
    let trust_store = match &region {
        Some(region) if region.starts_with("cn-") => TrustStore::default(),
        _ => amazon_trust_store(),
    };
    Ok(
        with_relay_defaults(aws_config::defaults(BehaviorVersion::latest()))
            .http_client(https_client(trust_store)?)
            .load()
            .await,
    )
}

/// The self-signed certificates of the Amazon Trust Services roots — Amazon Root CA 1 to 4 and
/// Starfield Services Root Certificate Authority - G2 — which Amazon recommends a custom trust
/// store include, all five (<https://www.amazontrust.com/repository/>). Taken from Debian's
/// ca-certificates 20230311 (Mozilla's root store); tests/it/tls.rs checks each against the
/// SHA-256 fingerprints Amazon publishes there.
pub const AMAZON_ROOTS_PEM: &str = include_str!("amazon_roots.pem");

/// A trust store of [`AMAZON_ROOTS_PEM`] only: nothing read from disk.
pub fn amazon_trust_store() -> TrustStore {
    TrustStore::empty().with_pem_certificate(AMAZON_ROOTS_PEM.as_bytes())
}

/// An HTTPS client on the SDK's own TLS stack (hyper 1, rustls with aws-lc, the SDK's cipher
/// suites) that trusts `trust_store`. Plain `http://` endpoints (local moto) work as well.
pub fn https_client(
    trust_store: TrustStore,
) -> Result<SharedHttpClient, aws_smithy_http_client::HttpClientError> {
    let context = TlsContext::builder()
        .with_trust_store(trust_store)
        .build()?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https())
}

/// `force_path_style` for local S3 servers, which cannot serve `bucket.host` addresses.
pub fn s3_client(sdk_config: &SdkConfig, force_path_style: bool) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk_config)
        .force_path_style(force_path_style)
        .timeout_config(timeouts(S3_ATTEMPT_TIMEOUT, S3_OPERATION_TIMEOUT))
        .stalled_stream_protection(no_stalled_stream_protection())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

pub fn sqs_client(sdk_config: &SdkConfig) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::config::Builder::from(sdk_config)
        .timeout_config(timeouts(SQS_ATTEMPT_TIMEOUT, SQS_OPERATION_TIMEOUT))
        .stalled_stream_protection(no_stalled_stream_protection())
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// EventBridge: deadlines as SQS's (one small call per delivery, alongside the send).
pub fn eventbridge_client(sdk_config: &SdkConfig) -> aws_sdk_eventbridge::Client {
    let config = aws_sdk_eventbridge::config::Builder::from(sdk_config)
        .timeout_config(timeouts(SQS_ATTEMPT_TIMEOUT, SQS_OPERATION_TIMEOUT))
        .stalled_stream_protection(no_stalled_stream_protection())
        .build();
    aws_sdk_eventbridge::Client::from_conf(config)
}

pub fn secrets_client(sdk_config: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    let config = aws_sdk_secretsmanager::config::Builder::from(sdk_config)
        .timeout_config(timeouts(SECRETS_ATTEMPT_TIMEOUT, SECRETS_OPERATION_TIMEOUT))
        .stalled_stream_protection(no_stalled_stream_protection())
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

/// The clients relayctl and its library operations use (S3, SQS, Secrets Manager, and
/// EventBridge for a relay whose bus output is on); relayctl builds them
/// (`crate::operator::sdk::clients`).
#[derive(Debug, Clone)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
}
