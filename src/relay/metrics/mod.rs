//! One log line per request in CloudWatch Embedded Metric Format: CloudWatch turns the counts
//! into metrics (no API calls, no extra latency), and the same line is the request's log record.

mod emf;

use std::io::Write as _;

use std::sync::Arc;

use millicast_webhooks::SecretUsed;

pub use emf::emf_line;

/// Namespace of the relay's metrics.
pub const NAMESPACE: &str = "MillicastWebhookRelay";

/// Every count the relay emits, in the order of the record (dashboards and alarms name these).
pub const COUNT_METRICS: [&str; 11] = [
    "Verified",
    "Rejected",
    "Forwarded",
    "ClaimChecked",
    "ThumbnailsStored",
    "Duplicates",
    "Spilled",
    "Failed",
    "Quarantined",
    "QuarantineDropped",
    "BusFailed",
];

/// The relay's one timing metric (milliseconds).
pub const LATENCY_METRIC: &str = "Latency";

/// Where the relay writes its JSON log records (one per request, plus one per lost event).
pub type LogSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Writes each record as a line on standard output, where Lambda collects it.
pub fn stdout_sink() -> LogSink {
    Arc::new(|line: &str| {
        // A closed stdout must not fail the request: the event is already durable.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    })
}

/// What handling one request found out, for its log record (owned; filled in as it goes).
#[derive(Debug, Default)]
pub struct Summary {
    pub kind: Option<String>,
    pub event: Option<String>,
    pub size: usize,
    pub secret: Option<SecretUsed>,
    /// The webhook whose secret verified the delivery, when the relay holds its id.
    pub webhook_id: Option<i64>,
    /// The secret was re-read from Secrets Manager while handling this request.
    pub secret_refreshed: bool,
    /// Content hash of a body that could not be parsed (the body itself is never logged).
    pub sha256: Option<String>,
    pub key: Option<String>,
    /// Key under `quarantine/` when the delivery was kept.
    pub quarantine_key: Option<String>,
    /// Why a delivery that qualified for quarantine was not kept (`rate_limited`, …).
    pub quarantine_dropped: Option<&'static str>,
    /// What became of the event bus copy, when the bus is on (`put`, `kept`, `lost`).
    pub bus: Option<&'static str>,
}

impl Summary {
    /// The record of a finished request.
    pub fn record<'a>(
        &'a self,
        status: u16,
        outcome: &'a str,
        latency_ms: f64,
        request_id: &'a str,
    ) -> RequestRecord<'a> {
        RequestRecord {
            status,
            outcome,
            kind: self.kind.as_deref().unwrap_or_default(),
            event: self.event.as_deref().unwrap_or_default(),
            size: self.size,
            secret: match self.secret {
                Some(SecretUsed::Current) => "current",
                Some(SecretUsed::Previous) => "previous",
                None => "",
            },
            secret_refreshed: self.secret_refreshed,
            webhook_id: self.webhook_id,
            key: self.key.as_deref().unwrap_or_default(),
            sha256: self.sha256.as_deref().unwrap_or_default(),
            quarantine_key: self.quarantine_key.as_deref().unwrap_or_default(),
            quarantine_dropped: self.quarantine_dropped.unwrap_or_default(),
            bus: self.bus.unwrap_or_default(),
            latency_ms,
            request_id,
        }
    }
}

/// What happened to one request, as logged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestRecord<'a> {
    pub status: u16,
    /// `forwarded`, `claim_checked`, `spilled`, `stored`, `duplicate`, or an error code.
    pub outcome: &'a str,
    pub kind: &'a str,
    pub event: &'a str,
    pub size: usize,
    /// `current` / `previous` when the signature verified, empty otherwise.
    pub secret: &'a str,
    pub secret_refreshed: bool,
    pub webhook_id: Option<i64>,
    pub key: &'a str,
    /// Hash of a body that could not be parsed (the body itself is never logged).
    pub sha256: &'a str,
    /// Where an unverifiable delivery was kept, or why it was not (empty when neither applies).
    pub quarantine_key: &'a str,
    pub quarantine_dropped: &'a str,
    /// `put` (on the bus), `kept` (under `undelivered-bus/` for redrive), `lost` (neither: in its
    /// ERROR record, and still on the queue or under `undelivered/`), or empty (bus off).
    pub bus: &'a str,
    pub latency_ms: f64,
    pub request_id: &'a str,
}

/// Metric name → value for a request: every count is present (0 or 1) so sums are exact.
pub(super) fn counts(record: &RequestRecord<'_>) -> [(&'static str, u8); COUNT_METRICS.len()] {
    let outcome = record.outcome;
    let is = |names: &[&str]| u8::from(names.contains(&outcome));
    let values = [
        u8::from(!record.secret.is_empty()),
        u8::from((400..500).contains(&record.status)),
        is(&["forwarded", "claim_checked"]),
        is(&["claim_checked"]),
        is(&["stored"]),
        is(&["duplicate"]),
        is(&["spilled"]),
        // A verified delivery neither SQS nor S3 took (not a 503 for an unreadable secret:
        // that delivery is in quarantine).
        is(&["internal_error"]),
        u8::from(!record.quarantine_key.is_empty()),
        u8::from(!record.quarantine_dropped.is_empty()),
        // The event bus did not take the delivery's copy (the queue's answer stands).
        u8::from(matches!(record.bus, "kept" | "lost")),
    ];
    std::array::from_fn(|i| (COUNT_METRICS[i], values[i]))
}

/// The record's log level and message, by its HTTP status.
pub(super) fn level_and_message(status: u16) -> (&'static str, &'static str) {
    match status {
        200..=299 => ("INFO", "webhook accepted"),
        500.. => ("ERROR", "webhook failed"),
        _ => ("INFO", "webhook rejected"),
    }
}
