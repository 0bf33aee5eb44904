//! The relay's health at a glance (`relayctl status`): each check green, yellow or red, with
//! the reason and, when something waits for the operator, the command that handles it.
//!
//! Thresholds: the event queue's oldest message is yellow from 5 minutes (consumers lag) and red
//! from 1 hour; any message in the dead-letter queue, any spilled event or quarantined delivery
//! waiting, any alarm in ALARM, a failed or dropped delivery in the last hour, a disabled or
//! missing webhook are red; spilled or quarantined deliveries in the last hour are yellow (they
//! are handled, but someone should know why).

use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, StateValue};
use aws_sdk_sqs::types::QueueAttributeName;
use serde::Serialize;

use crate::aws::Clients;
use crate::keys::UNDELIVERED_PREFIX;
use crate::metrics::{COUNT_METRICS, NAMESPACE};
use crate::platform::{PlatformClient, PlatformError, same_url};
use crate::quarantine::QUARANTINE_PREFIX;
use crate::stack::StackOutputs;

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

/// Every check, in screen order. `platform` is `None` when `MILLICAST_API_SECRET` is unset.
pub async fn checks(
    outputs: &StackOutputs,
    clients: &Clients,
    cloudwatch: &aws_sdk_cloudwatch::Client,
    platform: Option<&PlatformClient>,
) -> Vec<Check> {
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
        Some(platform) => webhook_check(platform, &function_url, stack).await,
    });
    if !queue_url.is_empty() {
        checks.push(queue_check(clients, cloudwatch, &queue_url, stack).await);
    }
    if !dlq_url.is_empty() {
        checks.push(dead_letter_check(clients, &dlq_url).await);
    }
    if !bucket.is_empty() {
        checks.push(
            waiting_check(
                clients,
                &bucket,
                UNDELIVERED_PREFIX,
                "spilled",
                "spilled event(s) waiting for the queue",
                format!("relayctl redrive --stack {stack}"),
            )
            .await,
        );
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
    if !function_name.is_empty() {
        checks.push(metrics_check(cloudwatch, &function_name).await);
    }
    checks
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn webhook_check(platform: &PlatformClient, function_url: &str, stack: &str) -> Check {
    let webhooks = match platform.all_webhooks().await {
        Ok(webhooks) => webhooks,
        Err(error @ PlatformError::Unauthorized { .. }) => {
            return Check::new("webhook", Level::Red, error.to_string());
        }
        Err(error) => {
            return Check::new(
                "webhook",
                Level::Red,
                format!("cannot list the webhooks: {error}"),
            );
        }
    };
    let ours: Vec<_> = webhooks
        .iter()
        .filter(|w| same_url(&w.url, function_url))
        .collect();
    if ours.is_empty() {
        return Check::new(
            "webhook",
            Level::Red,
            format!("no webhook points at {function_url}"),
        )
        .with_command(format!("relayctl register --stack {stack}"));
    }
    if let Some(disabled) = ours
        .iter()
        .find_map(|w| w.disabled.as_ref().map(|d| (w.id, d)))
    {
        let (id, disabled) = disabled;
        return Check::new(
            "webhook",
            Level::Red,
            format!(
                "webhook {id} is disabled by the platform until {}: {}",
                disabled.until, disabled.reason
            ),
        )
        .with_command(format!("relayctl webhooks --reenable {id}"));
    }
    let described: Vec<String> = ours
        .iter()
        .map(|w| {
            format!(
                "webhook {} (hooks {}{})",
                w.id,
                w.hooks(),
                w.filter
                    .as_deref()
                    .map(|f| format!(", filter {f}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    Check::new("webhook", Level::Green, described.join("; "))
}

fn queue_name(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
}

async fn visible_messages(clients: &Clients, url: &str) -> Result<(i64, i64), String> {
    let attributes = clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(|e| one_line(&aws_sdk_sqs::error::DisplayErrorContext(&e).to_string()))?;
    let count = |name: QueueAttributeName| {
        attributes
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    Ok((
        count(QueueAttributeName::ApproximateNumberOfMessages),
        count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    ))
}

async fn queue_check(
    clients: &Clients,
    cloudwatch: &aws_sdk_cloudwatch::Client,
    url: &str,
    stack: &str,
) -> Check {
    let (visible, in_flight) = match visible_messages(clients, url).await {
        Ok(counts) => counts,
        Err(error) => {
            return Check::new(
                "queue",
                Level::Red,
                format!("cannot read the event queue: {error}"),
            );
        }
    };
    let age = metric_value(
        cloudwatch,
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        "QueueName",
        queue_name(url),
        "Maximum",
        Duration::from_secs(15 * 60),
    )
    .await
    .ok()
    .flatten();
    let age_text = age.map_or_else(
        || "age of the oldest unknown".to_owned(),
        |a| format!("oldest {a:.0} s"),
    );
    let summary = format!("{visible} waiting, {in_flight} being processed; {age_text}");
    let age = age.map(|a| Duration::from_secs_f64(a.max(0.0)));
    match age {
        Some(age) if age >= OLDEST_MESSAGE_RED => Check::new(
            "queue",
            Level::Red,
            format!("{summary}: consumers are not keeping up"),
        )
        .with_command(format!("relayctl tail --stack {stack}")),
        Some(age) if age >= OLDEST_MESSAGE_YELLOW => {
            Check::new("queue", Level::Yellow, format!("{summary}: consumers lag"))
        }
        _ => Check::new("queue", Level::Green, summary),
    }
}

async fn dead_letter_check(clients: &Clients, url: &str) -> Check {
    match visible_messages(clients, url).await {
        Ok((0, 0)) => Check::new("dead-letter", Level::Green, "empty"),
        Ok((visible, in_flight)) => Check::new(
            "dead-letter",
            Level::Red,
            format!(
                "{} message(s) consumers failed five times",
                visible + in_flight
            ),
        )
        .with_command(format!("relayctl tail --queue-url {url}")),
        Err(error) => Check::new(
            "dead-letter",
            Level::Red,
            format!("cannot read the dead-letter queue: {error}"),
        ),
    }
}

/// Objects under `prefix` (up to one listing page).
async fn count_objects(
    clients: &Clients,
    bucket: &str,
    prefix: &str,
) -> Result<(i32, bool), String> {
    let listing = clients
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .map_err(|e| one_line(&aws_sdk_s3::error::DisplayErrorContext(&e).to_string()))?;
    Ok((
        listing.key_count().unwrap_or(0),
        listing.is_truncated().unwrap_or(false),
    ))
}

async fn waiting_check(
    clients: &Clients,
    bucket: &str,
    prefix: &str,
    name: &'static str,
    what: &str,
    command: String,
) -> Check {
    match count_objects(clients, bucket, prefix).await {
        Ok((0, _)) => Check::new(name, Level::Green, format!("nothing under {prefix}")),
        Ok((count, more)) => Check::new(
            name,
            Level::Red,
            format!(
                "{count}{} {what} under s3://{bucket}/{prefix}",
                if more { "+" } else { "" }
            ),
        )
        .with_command(command),
        Err(error) => Check::new(
            name,
            Level::Red,
            format!("cannot list s3://{bucket}/{prefix}: {error}"),
        ),
    }
}

async fn alarms_check(cloudwatch: &aws_sdk_cloudwatch::Client, stack: &str) -> Check {
    // CloudFormation names a stack's alarms `<stack>-<LogicalId>-<suffix>`.
    let prefix = format!("{stack}-");
    let alarms = match cloudwatch
        .describe_alarms()
        .alarm_name_prefix(&prefix)
        .send()
        .await
    {
        Ok(output) => output,
        Err(error) => {
            return Check::new(
                "alarms",
                Level::Red,
                format!(
                    "cannot read the alarms: {}",
                    one_line(&aws_sdk_cloudwatch::error::DisplayErrorContext(&error).to_string())
                ),
            );
        }
    };
    let all = alarms.metric_alarms();
    let firing: Vec<&str> = all
        .iter()
        .filter(|a| a.state_value() == Some(&StateValue::Alarm))
        .filter_map(|a| a.alarm_name())
        .collect();
    if firing.is_empty() {
        Check::new(
            "alarms",
            Level::Green,
            format!("{} alarm(s), none in ALARM", all.len()),
        )
    } else {
        Check::new(
            "alarms",
            Level::Red,
            format!("in ALARM: {}", firing.join(", ")),
        )
    }
}

/// One statistic of one metric over the last `window` (None: no data).
async fn metric_value(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    name: &str,
    dimension: &str,
    value: &str,
    stat: &str,
    window: Duration,
) -> Result<Option<f64>, String> {
    let values = metric_values(
        cloudwatch,
        namespace,
        &[name],
        dimension,
        value,
        stat,
        window,
    )
    .await?;
    Ok(values.into_iter().next().flatten())
}

async fn metric_values(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    names: &[&str],
    dimension: &str,
    value: &str,
    stat: &str,
    window: Duration,
) -> Result<Vec<Option<f64>>, String> {
    // The window ends a minute ahead: datapoints of the current second count (CloudWatch
    // compares timestamps to the end time at second precision), and the future holds none.
    let now = std::time::SystemTime::now();
    let (start, end) = (now - window, now + Duration::from_secs(60));
    let period = i32::try_from(window.as_secs() + 60).unwrap_or(3660);
    let mut request = cloudwatch
        .get_metric_data()
        .start_time(start.into())
        .end_time(end.into());
    for (i, name) in names.iter().enumerate() {
        let metric = Metric::builder()
            .namespace(namespace)
            .metric_name(*name)
            .dimensions(Dimension::builder().name(dimension).value(value).build())
            .build();
        request = request.metric_data_queries(
            MetricDataQuery::builder()
                .id(format!("m{i}"))
                .metric_stat(
                    MetricStat::builder()
                        .metric(metric)
                        .period(period)
                        .stat(stat)
                        .build(),
                )
                .build(),
        );
    }
    let output = request
        .send()
        .await
        .map_err(|e| one_line(&aws_sdk_cloudwatch::error::DisplayErrorContext(&e).to_string()))?;
    Ok((0..names.len())
        .map(|i| {
            let id = format!("m{i}");
            output
                .metric_data_results()
                .iter()
                .find(|r| r.id() == Some(id.as_str()))
                .and_then(|r| {
                    let values = r.values();
                    match stat {
                        "Sum" if !values.is_empty() => Some(values.iter().sum()),
                        _ => values.iter().copied().reduce(f64::max),
                    }
                })
        })
        .collect())
}

async fn metrics_check(cloudwatch: &aws_sdk_cloudwatch::Client, function_name: &str) -> Check {
    let sums = match metric_values(
        cloudwatch,
        NAMESPACE,
        &COUNT_METRICS,
        "FunctionName",
        function_name,
        "Sum",
        Duration::from_secs(3600),
    )
    .await
    {
        Ok(sums) => sums,
        Err(error) => {
            return Check::new(
                "last hour",
                Level::Red,
                format!("cannot read the metrics: {error}"),
            );
        }
    };
    let sum = |name: &str| {
        COUNT_METRICS
            .iter()
            .position(|m| *m == name)
            .and_then(|i| sums[i])
            .unwrap_or(0.0)
    };
    let summary = COUNT_METRICS
        .iter()
        .map(|name| format!("{name} {}", sum(name)))
        .collect::<Vec<_>>()
        .join(", ");
    let level = if sum("Failed") > 0.0 || sum("QuarantineDropped") > 0.0 {
        Level::Red
    } else if sum("Spilled") > 0.0 || sum("Quarantined") > 0.0 {
        Level::Yellow
    } else {
        Level::Green
    };
    Check::new("last hour", level, summary)
}
