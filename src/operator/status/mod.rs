//! The relay's health at a glance (`relayctl status`): each check green, yellow or red, with
//! the reason and, when something waits for the operator, the command that handles it.
//!
//! Thresholds: the event queue's oldest message is yellow from 5 minutes (consumers lag) and red
//! from 1 hour; any message in the dead-letter queue, any spilled event or quarantined delivery
//! waiting, any alarm in ALARM, a failed or dropped delivery in the last hour, a disabled or
//! missing webhook are red; spilled or quarantined deliveries in the last hour are yellow (they
//! are handled, but someone should know why); an account whose unreserved Lambda concurrency is
//! under 100 is yellow (deliveries beyond it are throttled, and a throttled delivery is lost).

mod bucket;
mod cloudwatch;
mod concurrency;
mod queue;
mod webhook;

use std::time::Duration;

use serde::Serialize;

use crate::aws::sdk::Clients;
use crate::operator::error::OperatorError;
use crate::operator::platform::PlatformClient;
use crate::operator::redrive::{max_message_bytes, unsendable_spills};
use crate::operator::stack::StackOutputs;
use crate::relay::keys::{UNDELIVERED_BUS_PREFIX, UNDELIVERED_PREFIX};
use crate::relay::quarantine::QUARANTINE_PREFIX;

use bucket::waiting_check;
use cloudwatch::{alarms_check, metrics_check};
use concurrency::concurrency_check;
use queue::{dead_letter_check, queue_check};
use webhook::{RelayPlaces, webhook_check};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Green,
    Yellow,
    Red,
}

/// One line of the status screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub level: Level,
    pub summary: String,
    /// What to run about it, when something waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

impl Check {
    fn new(name: &'static str, level: Level, summary: impl Into<String>) -> Self {
        Self {
            name,
            level,
            summary: summary.into(),
            command: None,
        }
    }

    fn with_command(mut self, command: impl Into<String>) -> Self {
        self.command = Some(command.into());
        self
    }
}

/// The outputs status needs, read from the stack.
const NEEDED_OUTPUTS: [&str; 6] = [
    "FunctionUrl",
    "FunctionName",
    "QueueUrl",
    "DeadLetterQueueUrl",
    "BucketName",
    "WebhookSecretArn",
];

pub const OLDEST_MESSAGE_YELLOW: Duration = Duration::from_secs(5 * 60);
pub const OLDEST_MESSAGE_RED: Duration = Duration::from_secs(60 * 60);

/// The AWS clients the checks read with.
pub struct StatusClients<'a> {
    pub clients: &'a Clients,
    pub cloudwatch: &'a aws_sdk_cloudwatch::Client,
    pub lambda: &'a aws_sdk_lambda::Client,
}

/// Every check, in screen order. `platform` is `None` when `MILLICAST_API_SECRET` is unset.
pub async fn checks(
    outputs: &StackOutputs,
    aws: &StatusClients<'_>,
    platform: Option<&PlatformClient>,
) -> Vec<Check> {
    let (clients, cloudwatch) = (aws.clients, aws.cloudwatch);
    let stack = &outputs.stack_name;
    let mut checks = Vec::new();
    let missing: Vec<&str> = NEEDED_OUTPUTS
        .iter()
        .copied()
        .filter(|name| outputs.get(name).is_none())
        .collect();
    if missing.is_empty() {
        checks.push(Check::new(
            "stack",
            Level::Green,
            format!(
                "{stack}: {}",
                outputs.get("FunctionUrl").unwrap_or_default()
            ),
        ));
    } else {
        checks.push(
            Check::new(
                "stack",
                Level::Red,
                format!(
                    "{stack} lacks the outputs {} (deployed from an older template?)",
                    missing.join(", ")
                ),
            )
            .with_command("sam deploy"),
        );
    }
    let get = |name: &str| outputs.get(name).unwrap_or_default().to_owned();
    let (function_url, function_name) = (get("FunctionUrl"), get("FunctionName"));
    let (queue_url, dlq_url, bucket) = (
        get("QueueUrl"),
        get("DeadLetterQueueUrl"),
        get("BucketName"),
    );

    checks.push(match platform {
        None => Check::new(
            "webhook",
            Level::Yellow,
            "not checked: MILLICAST_API_SECRET is not set",
        ),
        Some(platform) => {
            let secret_id = get("WebhookSecretArn");
            let relay = RelayPlaces {
                clients,
                function_url: &function_url,
                bucket: &bucket,
                secret_id: &secret_id,
            };
            webhook_check(platform, &relay, stack).await
        }
    });
    if !queue_url.is_empty() {
        checks.push(queue_check(clients, cloudwatch, &queue_url, stack).await);
    }
    if !dlq_url.is_empty() {
        checks.push(dead_letter_check(clients, &dlq_url, stack).await);
    }
    if !bucket.is_empty() {
        let spilled = waiting_check(
            clients,
            &bucket,
            UNDELIVERED_PREFIX,
            "spilled",
            "spilled event(s) waiting for the queue",
            format!("relayctl redrive --stack {stack}"),
        )
        .await;
        checks.push(if spilled.level == Level::Red && !queue_url.is_empty() {
            with_unsendable_spills(spilled, clients, &bucket, &queue_url).await
        } else {
            spilled
        });
        if outputs.get("EventBusArn").is_some() {
            checks.push(
                waiting_check(
                    clients,
                    &bucket,
                    UNDELIVERED_BUS_PREFIX,
                    "bus",
                    "event(s) the event bus did not take (the queue did)",
                    format!("relayctl redrive --stack {stack}"),
                )
                .await,
            );
        }
        checks.push(
            waiting_check(
                clients,
                &bucket,
                QUARANTINE_PREFIX,
                "quarantine",
                "delivery(ies) that could not be verified, kept",
                format!("relayctl quarantine list --stack {stack}, then relayctl quarantine replay --stack {stack}"),
            )
            .await,
        );
    }
    checks.push(alarms_check(cloudwatch, stack).await);
    checks.push(concurrency_check(aws.lambda).await);
    if !function_name.is_empty() {
        checks.push(metrics_check(cloudwatch, &function_name).await);
    }
    checks
}

/// How many spills status looks into for ones redrive could not send.
const SPILLS_INSPECTED: i32 = 100;

/// The spilled check, with the spills redrive could not send as they are and why (the first
/// reason; `relayctl redrive` prints each).
async fn with_unsendable_spills(
    mut check: Check,
    clients: &Clients,
    bucket: &str,
    queue_url: &str,
) -> Check {
    let limit = max_message_bytes(&clients.sqs, queue_url).await;
    let fifo = queue_url.ends_with(".fifo");
    match unsendable_spills(&clients.s3, bucket, fifo, limit, SPILLS_INSPECTED).await {
        Ok((_, unsendable)) if unsendable.is_empty() => {}
        Ok((inspected, unsendable)) => {
            let (key, reason) = &unsendable[0];
            check.summary = format!(
                "{}; {} of the first {inspected} cannot be sent as they are ({key}: {reason})",
                check.summary,
                unsendable.len()
            );
        }
        Err(error) => {
            check.summary = format!(
                "{}; could not look into them: {}",
                check.summary,
                read_failure(&error)
            );
        }
    }
    check
}

/// A failed read as a check's summary: the error's line, whitespace folded.
pub(super) fn read_failure(error: &OperatorError) -> String {
    error
        .one_line()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
