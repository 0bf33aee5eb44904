//! History on EventBridge's own engine (`relayctl history`): the archive of the relay's event
//! bus, and replays of a time window back onto the bus, which EventBridge sends to the bus's
//! rules (or only to the rules a replay names), each replayed event marked with its
//! `replay-name`.

use std::time::Duration;

use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::{ReplayDestination, ReplayState};

use crate::operator::error::OperatorError;

/// What `relayctl history` shows of the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveSummary {
    pub name: String,
    pub state: String,
    pub size_bytes: i64,
    pub event_count: i64,
    /// 0: events are kept for good.
    pub retention_days: i32,
    pub created_ms: Option<i64>,
}

impl ArchiveSummary {
    /// The oldest time the archive can still hold events from: its creation, or as far back as
    /// its retention reaches (EventBridge does not say which event is the oldest).
    pub fn oldest_possible_ms(&self, now_ms: i64) -> Option<i64> {
        let created = self.created_ms?;
        Some(match self.retention_days {
            0 => created,
            days => created.max(now_ms - i64::from(days) * 86_400_000),
        })
    }
}

fn epoch_ms(time: &DateTime) -> Option<i64> {
    time.to_millis().ok()
}

pub async fn describe_archive(
    client: &aws_sdk_eventbridge::Client,
    archive: &str,
) -> Result<ArchiveSummary, OperatorError> {
    let name = archive.rsplit('/').next().unwrap_or(archive);
    let output = client
        .describe_archive()
        .archive_name(name)
        .send()
        .await
        .map_err(|e| OperatorError::aws(format!("cannot read the archive {name}"), e))?;
    Ok(ArchiveSummary {
        name: output.archive_name().unwrap_or(name).to_owned(),
        state: output
            .state()
            .map(|state| state.as_str().to_owned())
            .unwrap_or_default(),
        size_bytes: output.size_bytes(),
        event_count: output.event_count(),
        retention_days: output.retention_days().unwrap_or(0),
        created_ms: output.creation_time().and_then(epoch_ms),
    })
}

/// A replay of the events archived between `from_ms` and `to_ms` (inclusive) back onto the bus,
/// to every rule, or only to `rule_arns` when some are named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayRequest {
    pub name: String,
    pub archive_arn: String,
    pub bus_arn: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub rule_arns: Vec<String>,
}

/// Where a replay stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayProgress {
    pub state: String,
    /// The time of the last event replayed so far (EventBridge's own progress mark).
    pub last_replayed_ms: Option<i64>,
    pub reason: Option<String>,
}

impl ReplayProgress {
    pub fn finished(&self) -> bool {
        matches!(self.state.as_str(), "COMPLETED" | "FAILED" | "CANCELLED")
    }
}

fn date_time(ms: i64) -> DateTime {
    DateTime::from_millis(ms)
}

pub async fn start_replay(
    client: &aws_sdk_eventbridge::Client,
    request: &ReplayRequest,
) -> Result<ReplayProgress, OperatorError> {
    let mut destination = ReplayDestination::builder().arn(&request.bus_arn);
    for rule in &request.rule_arns {
        destination = destination.filter_arns(rule);
    }
    let destination = destination
        .build()
        .map_err(|e| OperatorError::usage(format!("the replay's destination: {e}")))?;
    let output = client
        .start_replay()
        .replay_name(&request.name)
        .event_source_arn(&request.archive_arn)
        .event_start_time(date_time(request.from_ms))
        .event_end_time(date_time(request.to_ms))
        .destination(destination)
        .send()
        .await
        .map_err(|e| OperatorError::aws("cannot start the replay", e))?;
    Ok(ReplayProgress {
        state: output
            .state()
            .map(|state| state.as_str().to_owned())
            .unwrap_or_else(|| ReplayState::Starting.as_str().to_owned()),
        last_replayed_ms: None,
        reason: output.state_reason().map(str::to_owned),
    })
}

pub async fn replay_progress(
    client: &aws_sdk_eventbridge::Client,
    name: &str,
) -> Result<ReplayProgress, OperatorError> {
    let output = client
        .describe_replay()
        .replay_name(name)
        .send()
        .await
        .map_err(|e| OperatorError::aws(format!("cannot read the replay {name}"), e))?;
    Ok(ReplayProgress {
        state: output
            .state()
            .map(|state| state.as_str().to_owned())
            .unwrap_or_default(),
        last_replayed_ms: output.event_last_replayed_time().and_then(epoch_ms),
        reason: output.state_reason().map(str::to_owned),
    })
}

/// Follows a replay until it ends, calling `on_progress` each time its state or progress moves;
/// polls every `every`.
pub async fn follow_replay(
    client: &aws_sdk_eventbridge::Client,
    name: &str,
    every: Duration,
    mut on_progress: impl FnMut(&ReplayProgress),
) -> Result<ReplayProgress, OperatorError> {
    let mut last: Option<ReplayProgress> = None;
    loop {
        let progress = replay_progress(client, name).await?;
        if last.as_ref() != Some(&progress) {
            on_progress(&progress);
        }
        if progress.finished() {
            return Ok(progress);
        }
        last = Some(progress);
        tokio::time::sleep(every).await;
    }
}

/// The rules of `bus` that route hook type `kind` — their pattern names it as the
/// `detail-type`, or as the detail's `type` — for a replay of that type only.
pub async fn rules_for_type(
    client: &aws_sdk_eventbridge::Client,
    bus: &str,
    kind: &str,
) -> Result<Vec<String>, OperatorError> {
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_rules()
            .event_bus_name(bus)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| OperatorError::aws(format!("cannot list the rules of {bus}"), e))?;
        for rule in page.rules() {
            let routes = rule
                .event_pattern()
                .is_some_and(|pattern| pattern_routes_type(pattern, kind));
            if routes && let Some(arn) = rule.arn() {
                found.push(arn.to_owned());
            }
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(found);
        }
    }
}

/// Whether an event pattern selects events of hook type `kind` by name (`detail-type` or
/// `detail.type` listing it). A pattern that routes by other means is not taken for one.
pub fn pattern_routes_type(pattern: &str, kind: &str) -> bool {
    let Ok(pattern) = serde_json::from_str::<serde_json::Value>(pattern) else {
        return false;
    };
    let lists = |value: Option<&serde_json::Value>| {
        value
            .and_then(|v| v.as_array())
            .is_some_and(|values| values.iter().any(|v| v.as_str() == Some(kind)))
    };
    lists(pattern.get("detail-type")) || lists(pattern.pointer("/detail/type"))
}

/// A replay name EventBridge takes (`[.\-_A-Za-z0-9]+`, at most 64), unique enough: the stack's
/// and the time it was asked for.
pub fn replay_name(stack: &str, now_ms: i64) -> String {
    let stamp = now_ms.max(0);
    let stack: String = stack
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(40)
        .collect();
    format!("{stack}-replay-{stamp}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_routes_a_type_it_names() {
        assert!(pattern_routes_type(
            r#"{"detail-type":["recordings"]}"#,
            "recordings"
        ));
        assert!(pattern_routes_type(
            r#"{"source":["millicast-webhook-relay"],"detail":{"type":["media","recordings"]}}"#,
            "recordings"
        ));
        assert!(!pattern_routes_type(
            r#"{"detail-type":["feeds"]}"#,
            "recordings"
        ));
        assert!(!pattern_routes_type(
            r#"{"source":["millicast-webhook-relay"]}"#,
            "feeds"
        ));
        assert!(!pattern_routes_type("not json", "feeds"));
    }

    #[test]
    fn replay_names_are_what_eventbridge_takes() {
        let name = replay_name("relay local/x", 42);
        assert_eq!(name, "relaylocalx-replay-42");
        let long = replay_name(&"s".repeat(100), 0);
        assert!(long.len() <= 64, "{long}");
    }

    #[test]
    fn the_oldest_event_is_bounded_by_creation_and_retention() {
        let day = 86_400_000;
        let archive = |retention_days, created_ms| ArchiveSummary {
            name: "a".into(),
            state: "ENABLED".into(),
            size_bytes: 0,
            event_count: 0,
            retention_days,
            created_ms,
        };
        assert_eq!(archive(0, Some(5)).oldest_possible_ms(100 * day), Some(5));
        assert_eq!(
            archive(30, Some(5)).oldest_possible_ms(100 * day),
            Some(70 * day)
        );
        assert_eq!(archive(30, None).oldest_possible_ms(100 * day), None);
    }
}
