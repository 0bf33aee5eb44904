//! One log line per request in CloudWatch Embedded Metric Format: CloudWatch turns the counts
//! into metrics (no API calls, no extra latency), and the same line is the request's log record.

use serde_json::{Map, Value, json};

/// Namespace of the relay's metrics.
pub const NAMESPACE: &str = "MillicastWebhookRelay";

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
    pub key: &'a str,
    /// Hash of a body that could not be parsed (the body itself is never logged).
    pub sha256: &'a str,
    pub latency_ms: f64,
    pub request_id: &'a str,
}

/// Metric name → value for a request: every count is present (0 or 1) so sums are exact.
fn counts(record: &RequestRecord<'_>) -> [(&'static str, u8); 8] {
    let outcome = record.outcome;
    let is = |names: &[&str]| u8::from(names.contains(&outcome));
    [
        ("Verified", u8::from(!record.secret.is_empty())),
        ("Rejected", u8::from((400..500).contains(&record.status))),
        ("Forwarded", is(&["forwarded", "claim_checked"])),
        ("ClaimChecked", is(&["claim_checked"])),
        ("ThumbnailsStored", is(&["stored"])),
        ("Duplicates", is(&["duplicate"])),
        ("Spilled", is(&["spilled"])),
        ("Failed", u8::from(record.status >= 500)),
    ]
}

/// The EMF log line for `record`, for the function `function_name`, at `timestamp_ms`.
pub fn emf_line(record: &RequestRecord<'_>, function_name: &str, timestamp_ms: i64) -> String {
    let counts = counts(record);
    let mut metric_definitions: Vec<Value> = counts
        .iter()
        .map(|(name, _)| json!({"Name": name, "Unit": "Count"}))
        .collect();
    metric_definitions.push(json!({"Name": "Latency", "Unit": "Milliseconds"}));
    let mut directives = vec![json!({
        "Namespace": NAMESPACE,
        "Dimensions": [["FunctionName"]],
        "Metrics": metric_definitions,
    })];
    let rejected = (400..500).contains(&record.status);
    if rejected {
        // Rejections also by reason, so a flood of bad signatures is told from stale replays.
        directives.push(json!({
            "Namespace": NAMESPACE,
            "Dimensions": [["FunctionName", "Reason"]],
            "Metrics": [{"Name": "Rejected", "Unit": "Count"}],
        }));
    }

    let level = match record.status {
        500.. => "ERROR",
        _ => "INFO",
    };
    let message = match record.status {
        200..=299 => "webhook accepted",
        500.. => "webhook failed",
        _ => "webhook rejected",
    };
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": directives}),
    );
    line.insert("level".into(), level.into());
    line.insert("message".into(), message.into());
    line.insert("FunctionName".into(), function_name.into());
    if rejected {
        line.insert("Reason".into(), record.outcome.into());
    }
    if !record.request_id.is_empty() {
        line.insert("requestId".into(), record.request_id.into());
    }
    line.insert("status".into(), record.status.into());
    line.insert("outcome".into(), record.outcome.into());
    for (name, value) in [
        ("type", record.kind),
        ("event", record.event),
        ("secret", record.secret),
        ("key", record.key),
        ("sha256", record.sha256),
    ] {
        if !value.is_empty() {
            line.insert(name.into(), value.into());
        }
    }
    line.insert("size".into(), record.size.into());
    for (name, value) in counts {
        line.insert(name.into(), value.into());
    }
    line.insert(
        "Latency".into(),
        json!((record.latency_ms * 1000.0).round() / 1000.0),
    );
    Value::Object(line).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Value {
        serde_json::from_str(line).unwrap()
    }

    #[test]
    fn accepted_event_counts_once_as_verified_and_forwarded() {
        let record = RequestRecord {
            status: 200,
            outcome: "forwarded",
            kind: "feeds",
            event: "started",
            size: 233,
            secret: "current",
            latency_ms: 4.25,
            request_id: "req-1",
            ..Default::default()
        };
        let line = parse(&emf_line(&record, "relay-fn", 1_700_000_000_000));
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000i64);
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["FunctionName"]]));
        // Every metric a directive names must be a top-level member of the line.
        for metric in directive["Metrics"].as_array().unwrap() {
            assert!(
                line.get(metric["Name"].as_str().unwrap()).is_some(),
                "{metric}"
            );
        }
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"].as_array().unwrap().len(),
            1
        );
        assert_eq!(
            (line["Verified"].as_u64(), line["Forwarded"].as_u64()),
            (Some(1), Some(1))
        );
        for zero in [
            "Rejected",
            "ClaimChecked",
            "ThumbnailsStored",
            "Duplicates",
            "Spilled",
            "Failed",
        ] {
            assert_eq!(line[zero], 0, "{zero}");
        }
        assert_eq!(line["Latency"], 4.25);
        assert_eq!(line["FunctionName"], "relay-fn");
        assert_eq!(line["requestId"], "req-1");
        assert_eq!(line["type"], "feeds");
        assert_eq!(line["level"], "INFO");
        assert!(line.get("Reason").is_none());
    }

    #[test]
    fn rejections_are_counted_by_reason() {
        let record = RequestRecord {
            status: 401,
            outcome: "invalid_signature",
            size: 10,
            ..Default::default()
        };
        let line = parse(&emf_line(&record, "f", 1));
        assert_eq!(line["Rejected"], 1);
        assert_eq!(line["Verified"], 0);
        assert_eq!(line["Reason"], "invalid_signature");
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][1]["Dimensions"],
            json!([["FunctionName", "Reason"]])
        );
        assert_eq!(line["message"], "webhook rejected");
    }

    #[test]
    fn outcomes_map_to_their_metrics() {
        let cases = [
            (
                200,
                "claim_checked",
                ["Forwarded", "ClaimChecked"].as_slice(),
            ),
            (200, "spilled", &["Spilled"]),
            (200, "stored", &["ThumbnailsStored"]),
            (200, "duplicate", &["Duplicates"]),
            (500, "internal_error", &["Failed"]),
        ];
        for (status, outcome, ones) in cases {
            let record = RequestRecord {
                status,
                outcome,
                secret: "current",
                ..Default::default()
            };
            let line = parse(&emf_line(&record, "f", 1));
            for (name, value) in counts(&record) {
                let expected = u8::from(ones.contains(&name) || name == "Verified");
                assert_eq!(value, expected, "{outcome}: {name}");
                assert_eq!(line[name], expected);
            }
        }
        let failed = parse(&emf_line(
            &RequestRecord {
                status: 500,
                outcome: "internal_error",
                ..Default::default()
            },
            "f",
            1,
        ));
        assert_eq!(failed["level"], "ERROR");
    }
}
