//! relayctl's AWS set-up, apart from the Lambda's (`crate::aws::sdk`, which this never changes):
//!
//! - **Credentials and region the way the AWS CLI finds them**: the environment, the shared
//!   config and credentials files, a named profile (`--profile`, else `AWS_PROFILE`) with
//!   `source_profile`/`role_arn` chains, `credential_process`, IAM Identity Center (SSO, the
//!   token cache `aws sso login` writes) and `aws login` sessions. aws-config's `sso`,
//!   `credentials-process` and `credentials-login` features are enabled by the `operator` feature
//!   only: the Lambda's default build keeps its lean chain. Endpoint overrides
//!   (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`, a profile's `endpoint_url`) apply to
//!   every client, the credential providers' own (SSO, STS, Sign-In) included.
//! - **The region**: `--region`, else `AWS_REGION`/`AWS_DEFAULT_REGION`, else — for a command
//!   about a stack — the region of the `samconfig.toml` in the working directory that a guided
//!   deploy of that stack wrote (relayctl says so on standard error), else the profile's.
//! - **Client settings for an operator's commands**, not the Lambda's per-request deadlines: a
//!   long poll waits its 20 s, a redrive of many objects is bounded per call, not by a
//!   function's timeout. The retry policy is the relay's (3 attempts, backoff capped at 1 s).

use std::path::Path;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::aws::sdk::{Clients, retry_config, timeout_config};
use crate::operator::error::OperatorError;

/// Connecting to an AWS endpoint (a TCP and TLS handshake).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// SQS: one attempt outlasts the longest long poll (`WaitTimeSeconds` 20) by 10 s.
pub const SQS_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
pub const SQS_OPERATION_TIMEOUT: Duration = Duration::from_secs(90);
/// S3: one object (a quarantined body up to 6 MiB, a thumbnail) over an operator's link.
pub const S3_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);
pub const S3_OPERATION_TIMEOUT: Duration = Duration::from_secs(180);
/// Secrets Manager, CloudFormation, CloudWatch, Lambda, EventBridge: small requests.
pub const CONTROL_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
pub const CONTROL_OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest long poll SQS allows (`WaitTimeSeconds`).
pub const MAX_WAIT_SECONDS: u64 = 20;

/// What the operator chose on the command line (`--profile`, `--region`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
}

/// Where the region came from, when relayctl chose it (to say so).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionFromSamConfig {
    pub region: String,
    pub file: String,
}

/// The SDK configuration for relayctl: `options` first, then the environment and the shared
/// files; `stack` (the `--stack` a command is about) lets a `samconfig.toml` in `dir` name the
/// region when nothing else does. `Ok((config, Some(..)))` when the region came from that file.
pub async fn load_sdk_config(
    options: &AwsOptions,
    stack: Option<&str>,
    dir: &Path,
) -> Result<(SdkConfig, Option<RegionFromSamConfig>), OperatorError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(timeouts(CONTROL_ATTEMPT_TIMEOUT, CONTROL_OPERATION_TIMEOUT));
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    let mut from_file = None;
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    } else if !region_in_environment()
        && let Some(stack) = stack
        && let Some(found) = samconfig_region(dir, stack)?
    {
        loader = loader.region(Region::new(found.region.clone()));
        from_file = Some(found);
    }
    let sdk = loader.load().await;
    if sdk.region().is_none() {
        return Err(OperatorError::usage(
            "no AWS region: pass --region, set AWS_REGION, or set one in the profile",
        ));
    }
    Ok((sdk, from_file))
}

fn region_in_environment() -> bool {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|value| !value.trim().is_empty()))
}

/// The `region` that `sam deploy --guided` saved for `stack` in `dir/samconfig.toml`: the
/// `default` environment's `deploy` parameters (else its `global` ones), when their
/// `stack_name` is `stack` or names none. No file: `Ok(None)`; a file that is not TOML: an error.
pub fn samconfig_region(
    dir: &Path,
    stack: &str,
) -> Result<Option<RegionFromSamConfig>, OperatorError> {
    let path = dir.join("samconfig.toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(OperatorError::io(
                format!("cannot read {}", path.display()),
                e,
            ));
        }
    };
    let table: toml::Table = text.parse().map_err(|e| {
        OperatorError::io(
            format!("{} is not a SAM configuration file", path.display()),
            e,
        )
    })?;
    let parameters = |command: &str| {
        table
            .get("default")
            .and_then(|env| env.get(command))
            .and_then(|command| command.get("parameters"))
            .and_then(toml::Value::as_table)
    };
    let text_of = |name: &str| {
        ["deploy", "global"]
            .into_iter()
            .find_map(|command| parameters(command)?.get(name)?.as_str())
            .map(str::trim)
    };
    if text_of("stack_name").is_some_and(|name| name != stack) {
        return Ok(None);
    }
    Ok(text_of("region")
        .filter(|region| !region.is_empty())
        .map(|region| RegionFromSamConfig {
            region: region.to_owned(),
            file: path.display().to_string(),
        }))
}

fn timeouts(attempt: Duration, operation: Duration) -> TimeoutConfig {
    timeout_config(CONNECT_TIMEOUT, attempt, operation)
}

/// Whether an endpoint is overridden (local S3 stand-ins want path-style addressing).
fn endpoint_overridden(sdk: &SdkConfig) -> bool {
    sdk.endpoint_url().is_some()
        || crate::relay::config::Config::endpoint_overridden(|name| std::env::var(name).ok())
}

/// S3 with relayctl's timeouts (path-style when an endpoint is overridden).
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let s3 = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(endpoint_overridden(sdk))
        .timeout_config(timeouts(S3_ATTEMPT_TIMEOUT, S3_OPERATION_TIMEOUT))
        .build();
    aws_sdk_s3::Client::from_conf(s3)
}

/// EventBridge (`history`, `redrive` onto the bus) with relayctl's timeouts: its calls are
/// small, and a replay is followed by polling, one call at a time.
pub fn eventbridge_client(sdk: &SdkConfig) -> aws_sdk_eventbridge::Client {
    let config = aws_sdk_eventbridge::config::Builder::from(sdk)
        .timeout_config(timeouts(CONTROL_ATTEMPT_TIMEOUT, CONTROL_OPERATION_TIMEOUT))
        .build();
    aws_sdk_eventbridge::Client::from_conf(config)
}

/// The S3, SQS and Secrets Manager clients with relayctl's timeouts.
pub fn clients(sdk: &SdkConfig) -> Clients {
    let sqs = aws_sdk_sqs::config::Builder::from(sdk)
        .timeout_config(timeouts(SQS_ATTEMPT_TIMEOUT, SQS_OPERATION_TIMEOUT))
        .build();
    let secrets = aws_sdk_secretsmanager::config::Builder::from(sdk)
        .timeout_config(timeouts(CONTROL_ATTEMPT_TIMEOUT, CONTROL_OPERATION_TIMEOUT))
        .build();
    Clients {
        s3: s3_client(sdk),
        sqs: aws_sdk_sqs::Client::from_conf(sqs),
        secrets: aws_sdk_secretsmanager::Client::from_conf(secrets),
        eventbridge: eventbridge_client(sdk),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(samconfig: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "relayctl-samconfig-{}-{}",
            std::process::id(),
            samconfig.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("samconfig.toml"), samconfig).unwrap();
        dir
    }

    /// What `sam deploy --guided` (SAM CLI 1.170.0) writes.
    const GUIDED: &str = r#"# More information about the configuration file can be found here:
# https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/serverless-sam-cli-config.html
version = 0.1

[default.deploy.parameters]
stack_name = "relay"
resolve_s3 = true
s3_prefix = "relay"
region = "eu-west-1"
confirm_changeset = true
capabilities = "CAPABILITY_IAM"
parameter_overrides = "ReplayWindowSeconds=\"300\""
image_repositories = []
"#;

    #[test]
    fn the_guided_deploys_region_names_its_stack_only() {
        let dir = dir_with(GUIDED);
        assert_eq!(
            samconfig_region(&dir, "relay").unwrap(),
            Some(RegionFromSamConfig {
                region: "eu-west-1".into(),
                file: dir.join("samconfig.toml").display().to_string(),
            })
        );
        assert_eq!(samconfig_region(&dir, "other").unwrap(), None);
        assert_eq!(
            samconfig_region(&dir.join("absent"), "relay").unwrap(),
            None
        );
    }

    #[test]
    fn a_global_region_serves_and_a_broken_file_is_an_error() {
        let dir = dir_with("version = 0.1\n[default.global.parameters]\nregion = \"ap-south-1\"\n");
        assert_eq!(
            samconfig_region(&dir, "any").unwrap().map(|r| r.region),
            Some("ap-south-1".into())
        );
        let dir = dir_with("[default.deploy.parameters\nregion = ");
        assert!(samconfig_region(&dir, "relay").is_err());
    }

    /// Every client relayctl builds (`wall`, `history` and `redrive --bus` included) carries
    /// relayctl's timeouts, never the Lambda's per-request ones.
    #[test]
    fn every_operator_client_has_relayctls_timeouts() {
        let sdk = SdkConfig::builder()
            .region(Region::new("us-east-1"))
            .behavior_version(BehaviorVersion::latest())
            .build();
        let attempt_and_operation = |config: Option<&TimeoutConfig>| {
            let config = config.expect("a timeout configuration");
            (
                config.operation_attempt_timeout(),
                config.operation_timeout(),
                config.connect_timeout(),
            )
        };
        let clients = clients(&sdk);
        assert_eq!(
            attempt_and_operation(clients.s3.config().timeout_config()),
            (
                Some(S3_ATTEMPT_TIMEOUT),
                Some(S3_OPERATION_TIMEOUT),
                Some(CONNECT_TIMEOUT)
            )
        );
        assert_eq!(
            attempt_and_operation(s3_client(&sdk).config().timeout_config()),
            (
                Some(S3_ATTEMPT_TIMEOUT),
                Some(S3_OPERATION_TIMEOUT),
                Some(CONNECT_TIMEOUT)
            )
        );
        assert_eq!(
            attempt_and_operation(clients.sqs.config().timeout_config()),
            (
                Some(SQS_ATTEMPT_TIMEOUT),
                Some(SQS_OPERATION_TIMEOUT),
                Some(CONNECT_TIMEOUT)
            )
        );
        let control = (
            Some(CONTROL_ATTEMPT_TIMEOUT),
            Some(CONTROL_OPERATION_TIMEOUT),
            Some(CONNECT_TIMEOUT),
        );
        assert_eq!(
            attempt_and_operation(clients.secrets.config().timeout_config()),
            control
        );
        assert_eq!(
            attempt_and_operation(eventbridge_client(&sdk).config().timeout_config()),
            control
        );
        // The Lambda's own clients differ: the test above would catch a swap.
        assert_ne!(
            attempt_and_operation(crate::aws::sdk::sqs_client(&sdk).config().timeout_config()).0,
            Some(SQS_ATTEMPT_TIMEOUT)
        );
    }
}
