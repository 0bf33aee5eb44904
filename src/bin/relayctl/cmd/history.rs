//! `relayctl history`: the archive of the relay's event bus, and `history replay`, a time
//! window of it sent back onto the bus by EventBridge's own replay.

use std::time::Duration;

use clap::{Args, Subcommand};
use millicast_webhook_relay::operator::error::OperatorError;
use millicast_webhook_relay::operator::history::{
    ReplayRequest, describe_archive, follow_replay, replay_name, rules_for_type, start_replay,
};
use millicast_webhook_relay::relay::clock::{now_ms, rfc3339_ms};

use crate::aws_clients::eventbridge_client;
use crate::error::Error;
use crate::target::{StackArgs, pick};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct HistoryArgs {
    #[command(subcommand)]
    command: Option<HistoryCommand>,
    #[command(flatten)]
    archive: ArchiveArgs,
}

#[derive(Subcommand)]
enum HistoryCommand {
    /// Send the events archived in a time window back onto the bus (EventBridge's replay), to
    /// every rule or only those that route one hook type, and follow it until it ends.
    Replay(ReplayArgs),
}

/// Where the history is: the stack's EventArchiveArn and EventBusArn outputs, or the flags.
#[derive(Args)]
struct ArchiveArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// The archive (its ARN; the stack's EventArchiveArn).
    #[arg(long)]
    archive: Option<String>,
}

#[derive(Args)]
struct ReplayArgs {
    #[command(flatten)]
    archive: ArchiveArgs,
    /// The bus to replay onto (its ARN; the stack's EventBusArn): the archive's own.
    #[arg(long)]
    bus: Option<String>,
    /// Start of the window: a time (2026-12-05T10:00:00Z), epoch milliseconds, or how long ago
    /// (90s, 15m, 2h, 3d).
    #[arg(long)]
    from: String,
    /// End of the window (same forms; default: now).
    #[arg(long)]
    to: Option<String>,
    /// Only to the rules that route this hook type (their pattern names it as the detail-type
    /// or the detail's type), e.g. recordings.
    #[arg(long = "type", value_name = "TYPE")]
    kind: Option<String>,
}

impl HistoryArgs {
    pub async fn run(self) -> Result<(), Error> {
        match self.command {
            Some(HistoryCommand::Replay(args)) => args.run().await,
            None => self.archive.show().await,
        }
    }
}

impl ArchiveArgs {
    async fn show(self) -> Result<(), Error> {
        let outputs = self.stack.outputs().await?;
        let archive = pick(
            self.archive.as_ref(),
            outputs.as_ref(),
            "EventArchiveArn",
            "--archive (the bus output is off on this stack?)",
        )?;
        let client = eventbridge_client().await?;
        let summary = describe_archive(&client, &archive)
            .await
            .map_err(|e| Error::context("cannot read the history", e))?;
        let retention = match summary.retention_days {
            0 => "kept for good".to_owned(),
            days => format!("kept {days} days"),
        };
        out!(
            "archive {} ({}): {} event(s), {} bytes, {retention}",
            summary.name,
            summary.state,
            summary.event_count,
            summary.size_bytes
        );
        match summary.oldest_possible_ms(now_ms()) {
            Some(oldest) => out!(
                "oldest event: not before {} (EventBridge does not name the oldest event: the \
                 archive's creation, or its retention, whichever is later)",
                rfc3339_ms(oldest)
            ),
            None => out!("oldest event: unknown (no creation time)"),
        }
        Ok(())
    }
}

impl ReplayArgs {
    async fn run(self) -> Result<(), Error> {
        let now = now_ms();
        let from_ms = parse_time(&self.from, now)?;
        let to_ms = match &self.to {
            Some(to) => parse_time(to, now)?,
            None => now,
        };
        if from_ms > to_ms {
            return Err(OperatorError::usage(format!(
                "--from ({}) is after --to ({})",
                rfc3339_ms(from_ms),
                rfc3339_ms(to_ms)
            ))
            .into());
        }
        let outputs = self.archive.stack.outputs().await?;
        let outputs = outputs.as_ref();
        let archive_arn = pick(
            self.archive.archive.as_ref(),
            outputs,
            "EventArchiveArn",
            "--archive",
        )?;
        let bus_arn = pick(self.bus.as_ref(), outputs, "EventBusArn", "--bus")?;
        let client = eventbridge_client().await?;
        let rule_arns = match &self.kind {
            None => Vec::new(),
            Some(kind) => {
                let rules = rules_for_type(&client, &bus_arn, kind)
                    .await
                    .map_err(|e| Error::context("cannot choose the rules", e))?;
                if rules.is_empty() {
                    return Err(OperatorError::usage(format!(
                        "no rule of the bus routes type {kind} (by detail-type or detail.type): \
                         nothing would receive the replay"
                    ))
                    .into());
                }
                rules
            }
        };
        let stack = self.archive.stack.stack.as_deref().unwrap_or("relay");
        let request = ReplayRequest {
            name: replay_name(stack, now),
            archive_arn,
            bus_arn,
            from_ms,
            to_ms,
            rule_arns,
        };
        let destination = if request.rule_arns.is_empty() {
            "every rule of the bus".to_owned()
        } else {
            format!("the rules {}", request.rule_arns.join(", "))
        };
        out!(
            "replay {}: events archived from {} to {}, onto {} ({destination})",
            request.name,
            rfc3339_ms(from_ms),
            rfc3339_ms(to_ms),
            request.bus_arn
        );
        start_replay(&client, &request)
            .await
            .map_err(|e| Error::context("cannot start the replay", e))?;
        let end =
            follow_replay(
                &client,
                &request.name,
                Duration::from_secs(2),
                |progress| match progress.last_replayed_ms {
                    Some(at) => out!("{}: replayed up to {}", progress.state, rfc3339_ms(at)),
                    None => out!("{}", progress.state),
                },
            )
            .await
            .map_err(|e| Error::context("cannot follow the replay", e))?;
        if end.state != "COMPLETED" {
            return Err(Error::failed(format!(
                "replay {} ended {}{}",
                request.name,
                end.state,
                end.reason
                    .map(|reason| format!(": {reason}"))
                    .unwrap_or_default()
            )));
        }
        out!(
            "done: each replayed event went to {destination} again, marked with \
             \"replay-name\": \"{}\" (the events' own ids are new; their detail, idempotencyKey \
             included, is the original's)",
            request.name
        );
        Ok(())
    }
}

/// A time as an operator writes it: RFC 3339 in UTC (`2026-12-05T10:00:00Z`, fractions
/// allowed), epoch milliseconds, or a duration before `now_ms` (`90s`, `15m`, `2h`, `3d`).
fn parse_time(text: &str, now_ms: i64) -> Result<i64, OperatorError> {
    let text = text.trim();
    let unit_ms = match text.chars().last() {
        Some('s') => Some(1_000),
        Some('m') => Some(60_000),
        Some('h') => Some(3_600_000),
        Some('d') => Some(86_400_000),
        _ => None,
    };
    if let Some(unit) = unit_ms
        && let Ok(count) = text[..text.len() - 1].parse::<i64>()
    {
        return Ok(now_ms - count.saturating_mul(unit));
    }
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    parse_rfc3339_utc(text).ok_or_else(|| {
        OperatorError::usage(format!(
            "{text:?} is not a time: give 2026-12-05T10:00:00Z, epoch milliseconds, or 15m (ago)"
        ))
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.fff]Z` as epoch milliseconds (the SDK's RFC 3339 reader).
fn parse_rfc3339_utc(text: &str) -> Option<i64> {
    use aws_sdk_eventbridge::primitives::{DateTime, DateTimeFormat};
    DateTime::from_str(text, DateTimeFormat::DateTime)
        .ok()?
        .to_millis()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_in_each_form() {
        let now = 1_700_000_000_000;
        assert_eq!(parse_time("15m", now).unwrap(), now - 900_000);
        assert_eq!(parse_time("90s", now).unwrap(), now - 90_000);
        assert_eq!(parse_time("2h", now).unwrap(), now - 7_200_000);
        assert_eq!(parse_time("1d", now).unwrap(), now - 86_400_000);
        assert_eq!(parse_time("1638463486489", now).unwrap(), 1_638_463_486_489);
        // `date -u -d 2021-12-02T16:44:46.489Z +%s%3N` = 1638463486489
        assert_eq!(
            parse_time("2021-12-02T16:44:46.489Z", now).unwrap(),
            1_638_463_486_489
        );
        assert_eq!(
            parse_time("2021-12-02T16:44:46Z", now).unwrap(),
            1_638_463_486_000
        );
        for wrong in [
            "yesterday",
            "2021-13-02T16:44:46Z",
            "m",
            "2021-12-02 16:44:46",
        ] {
            assert!(parse_time(wrong, now).is_err(), "{wrong}");
        }
    }
}
