//! The event queue (oldest message) and the dead-letter queue.

use std::time::Duration;

use crate::aws::sdk::Clients;
use crate::operator::dead_letters::visible_messages;

use super::cloudwatch::metric_value;
use super::{Check, Level, OLDEST_MESSAGE_RED, OLDEST_MESSAGE_YELLOW, read_failure};

pub(super) fn queue_name(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
}

pub(super) async fn queue_check(
    clients: &Clients,
    cloudwatch: &aws_sdk_cloudwatch::Client,
    url: &str,
    stack: &str,
) -> Check {
    let (visible, in_flight) = match visible_messages(&clients.sqs, url, "the event queue").await {
        Ok(counts) => counts,
        Err(error) => return Check::new("queue", Level::Red, read_failure(&error)),
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

pub(super) async fn dead_letter_check(clients: &Clients, url: &str, stack: &str) -> Check {
    match visible_messages(&clients.sqs, url, "the dead-letter queue").await {
        Ok((0, 0)) => Check::new("dead-letter", Level::Green, "empty"),
        Ok((visible, in_flight)) => Check::new(
            "dead-letter",
            Level::Red,
            format!(
                "{} message(s) consumers failed five times",
                visible + in_flight
            ),
        )
        .with_command(format!(
            "relayctl tail --queue-url {url}, fix the consumer, then relayctl dead-letters move-back --stack {stack}"
        )),
        Err(error) => Check::new("dead-letter", Level::Red, read_failure(&error)),
    }
}
