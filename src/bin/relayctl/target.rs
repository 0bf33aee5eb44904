//! Which relay a command is about: `--stack NAME` (its outputs) with explicit flags overriding
//! each value, or the flags (and their environment variables) alone.

use std::collections::HashMap;
use std::time::Duration;

use clap::Args;
use millicast_webhook_relay::operator::error::OperatorError;
use millicast_webhook_relay::operator::lifecycle::RelayTarget;
use millicast_webhook_relay::operator::stack::{StackOutputs, read_outputs};
use millicast_webhook_relay::relay::config::PathSettings;
use millicast_webhook_relay::relay::secrets::DEFAULT_REFRESH_INTERVAL;

use crate::aws_clients::sdk_config;
use crate::error::Error;

/// The relay's stack, and flags that override its outputs.
#[derive(Args, Debug, Clone, Default)]
pub struct StackArgs {
    /// The relay's CloudFormation stack: FunctionUrl, QueueUrl, BucketName, WebhookSecretArn and
    /// RelaySettings come from its outputs (the flags below override each).
    #[arg(long, env = "RELAY_STACK")]
    pub stack: Option<String>,
}

impl StackArgs {
    /// The stack's outputs, when `--stack` is given.
    pub async fn outputs(&self) -> Result<Option<StackOutputs>, Error> {
        let Some(name) = &self.stack else {
            return Ok(None);
        };
        crate::aws_clients::about_stack(name);
        let client = aws_sdk_cloudformation::Client::new(&sdk_config().await?);
        read_outputs(&client, name)
            .await
            .map(Some)
            .map_err(|e| Error::context("cannot read the stack", e))
    }

    /// The relayctl arguments naming this relay, for the commands a message suggests.
    pub fn as_args(&self) -> String {
        self.stack
            .as_ref()
            .map(|name| format!("--stack {name}"))
            .unwrap_or_default()
    }
}

/// A value from its flag, else from the stack's output, else an error naming both.
pub fn pick(
    flag: Option<&String>,
    outputs: Option<&StackOutputs>,
    output: &str,
    flag_name: &str,
) -> Result<String, OperatorError> {
    if let Some(value) = flag {
        return Ok(value.clone());
    }
    match outputs {
        Some(outputs) => {
            outputs
                .get(output)
                .map(str::to_owned)
                .ok_or_else(|| OperatorError::MissingOutput {
                    stack: outputs.stack_name.clone(),
                    output: output.to_owned(),
                    flag: flag_name.to_owned(),
                })
        }
        None => Err(OperatorError::MissingFlag {
            flag: flag_name.to_owned(),
        }),
    }
}

/// The relay's settings: the stack's `RelaySettings`, overridden by the same variables in the
/// environment (THUMBNAIL_PREFIX, REPLAY_WINDOW_SECONDS, …).
pub fn relay_settings(outputs: Option<&StackOutputs>) -> HashMap<String, String> {
    let mut settings = outputs
        .map(StackOutputs::relay_settings)
        .unwrap_or_default();
    for name in [
        "THUMBNAIL_PREFIX",
        "THUMBNAIL_LATEST",
        "THUMBNAIL_EVENTS",
        "REPLAY_WINDOW_SECONDS",
        "SQS_MAX_MESSAGE_BYTES",
        "SECRET_REFRESH_SECONDS",
    ] {
        if let Ok(value) = std::env::var(name) {
            settings.insert(name.to_owned(), value);
        }
    }
    settings
}

/// The paths a replay takes for a queue at `queue_url`, as the relay would.
pub fn path_settings(
    outputs: Option<&StackOutputs>,
    queue_url: &str,
) -> Result<PathSettings, OperatorError> {
    let settings = relay_settings(outputs);
    Ok(PathSettings::from_lookup(
        |name| settings.get(name).cloned(),
        queue_url,
    )?)
}

/// The relay's event bus, when its bus output is on.
#[derive(Args, Debug, Clone, Default)]
pub struct BusArgs {
    /// The relay's event bus (name or ARN; the stack's EventBusArn when its bus output is on):
    /// what is sent to the queue is put on it too, as the relay does.
    #[arg(long, env = "EVENT_BUS_NAME")]
    pub bus: Option<String>,
}

impl BusArgs {
    /// `--bus`, else the stack's EventBusArn; none when the bus output is off.
    pub fn resolve(&self, outputs: Option<&StackOutputs>) -> Option<String> {
        self.bus
            .clone()
            .or_else(|| outputs?.get("EventBusArn").map(str::to_owned))
    }
}

/// The relay's flags for register and rotate.
#[derive(Args, Debug, Clone, Default)]
pub struct RelayArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// The relay's function URL (the stack's FunctionUrl).
    #[arg(long)]
    pub function_url: Option<String>,
    /// The Secrets Manager secret the relay reads (the stack's WebhookSecretArn).
    #[arg(long, env = "WEBHOOK_SECRET_ID")]
    pub secret_id: Option<String>,
    /// The event queue (the stack's QueueUrl).
    #[arg(long, env = "EVENT_QUEUE_URL")]
    pub queue_url: Option<String>,
    /// The relay's bucket (the stack's BucketName).
    #[arg(long, env = "THUMBNAIL_BUCKET")]
    pub bucket: Option<String>,
    #[command(flatten)]
    pub bus: BusArgs,
}

impl RelayArgs {
    pub async fn resolve(&self) -> Result<RelayTarget, Error> {
        let outputs = self.stack.outputs().await?;
        let outputs = outputs.as_ref();
        let queue_url = pick(self.queue_url.as_ref(), outputs, "QueueUrl", "--queue-url")?;
        let settings = relay_settings(outputs);
        let refresh_interval = match settings.get("SECRET_REFRESH_SECONDS") {
            Some(seconds) => Duration::from_secs(seconds.trim().parse().map_err(|_| {
                OperatorError::usage(format!(
                    "SECRET_REFRESH_SECONDS={seconds} is not a number of seconds"
                ))
            })?),
            None => DEFAULT_REFRESH_INTERVAL,
        };
        Ok(RelayTarget {
            function_url: pick(
                self.function_url.as_ref(),
                outputs,
                "FunctionUrl",
                "--function-url",
            )?,
            bucket: pick(self.bucket.as_ref(), outputs, "BucketName", "--bucket")?,
            secret_id: pick(
                self.secret_id.as_ref(),
                outputs,
                "WebhookSecretArn",
                "--secret-id",
            )?,
            paths: path_settings(outputs, &queue_url)?,
            queue_url,
            refresh_interval,
            event_bus: self.bus.resolve(outputs),
        })
    }
}
