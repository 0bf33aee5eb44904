//! The EMF record itself: the request's counts, latency and fields as one JSON line.

use serde_json::Value;

use super::{LATENCY_METRIC, NAMESPACE, RequestRecord, counts, level_and_message};

/// The EMF log line for `record`, for the function `function_name`, at `timestamp_ms`.
///
/// Written directly (one buffer, no JSON tree): it runs once per request. The members come in
/// the order serde_json's default map gives them (sorted by key), so the line is byte for byte
/// the one a `serde_json::Map` of the same members would print (a test holds it to that).
pub fn emf_line(record: &RequestRecord<'_>, function_name: &str, timestamp_ms: i64) -> String {
    let counts = counts(record);
    let rejected = (400..500).contains(&record.status);
    let quarantined = !record.quarantine_key.is_empty();
    // Rejections and quarantined deliveries also by reason, so a flood of bad signatures is
    // told from stale replays, and a renewal from an unreadable secret.
    let with_reason = rejected || quarantined;
    let (level, message) = level_and_message(record.status);
    // Upper-case keys (the metrics and their dimensions) sort before `_aws`, which sorts before
    // the lower-case ones.
    let mut metrics_and_dimensions: Vec<(&str, UpperMember)> = counts
        .iter()
        .map(|&(name, value)| (name, UpperMember::Count(value)))
        .collect();
    metrics_and_dimensions.push(("FunctionName", UpperMember::Text(function_name)));
    let latency_ms = (record.latency_ms * 1000.0).round() / 1000.0;
    metrics_and_dimensions.push((LATENCY_METRIC, UpperMember::Milliseconds(latency_ms)));
    if with_reason {
        metrics_and_dimensions.push(("Reason", UpperMember::Text(record.outcome)));
    }
    metrics_and_dimensions.sort_unstable_by_key(|(name, _)| *name);

    let mut line = JsonLine::with_capacity(1024);
    for (name, value) in metrics_and_dimensions {
        match value {
            UpperMember::Count(count) => line.number(name, count),
            UpperMember::Text(text) => line.string(name, text),
            UpperMember::Milliseconds(ms) => {
                line.key(name);
                line.float(ms);
            }
        }
    }

    line.key("_aws");
    line.raw("{");
    line.key("CloudWatchMetrics");
    line.raw("[");
    line.directive(
        &["FunctionName"],
        counts
            .iter()
            .map(|(name, _)| (*name, "Count"))
            .chain([(LATENCY_METRIC, "Milliseconds")]),
    );
    if with_reason {
        let by_reason = [("Rejected", rejected), ("Quarantined", quarantined)]
            .into_iter()
            .filter(|(_, applies)| *applies)
            .map(|(name, _)| (name, "Count"));
        line.directive(&["FunctionName", "Reason"], by_reason);
    }
    line.raw("]");
    line.number("Timestamp", timestamp_ms);
    line.raw("}");

    line.optional_string("bus", record.bus);
    line.optional_string("event", record.event);
    line.optional_string("key", record.key);
    line.string("level", level);
    line.string("message", message);
    line.string("outcome", record.outcome);
    line.optional_string("quarantineDropped", record.quarantine_dropped);
    line.optional_string("quarantineKey", record.quarantine_key);
    line.optional_string("requestId", record.request_id);
    line.optional_string("secret", record.secret);
    if record.secret_refreshed {
        line.key("secretRefreshed");
        line.raw("true");
    }
    line.optional_string("sha256", record.sha256);
    line.number("size", record.size);
    line.number("status", record.status);
    line.optional_string("type", record.kind);
    if let Some(id) = record.webhook_id {
        line.number("webhookId", id);
    }
    line.finish()
}

/// The value of a metric or dimension member of the record.
enum UpperMember<'a> {
    Count(u8),
    Text(&'a str),
    Milliseconds(f64),
}

/// A JSON object written member by member into one buffer, with serde_json's escaping and
/// number formatting.
struct JsonLine {
    buffer: Vec<u8>,
    /// Whether the object or array being written has no member yet.
    first: bool,
}

impl JsonLine {
    fn with_capacity(capacity: usize) -> Self {
        let mut buffer = Vec::with_capacity(capacity);
        buffer.push(b'{');
        Self {
            buffer,
            first: true,
        }
    }

    fn raw(&mut self, text: &str) {
        self.buffer.extend_from_slice(text.as_bytes());
        // Inside a new object or array the next member needs no comma.
        self.first = text.ends_with(['{', '[']);
    }

    fn key(&mut self, name: &str) {
        if !self.first {
            self.buffer.push(b',');
        }
        self.first = false;
        self.text(name);
        self.buffer.push(b':');
    }

    fn text(&mut self, value: &str) {
        // Writing a &str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.buffer, value);
    }

    fn string(&mut self, name: &str, value: &str) {
        self.key(name);
        self.text(value);
    }

    fn optional_string(&mut self, name: &str, value: &str) {
        if !value.is_empty() {
            self.string(name, value);
        }
    }

    fn number(&mut self, name: &str, value: impl serde::Serialize) {
        self.key(name);
        let _ = serde_json::to_writer(&mut self.buffer, &value);
    }

    fn float(&mut self, value: f64) {
        // As `serde_json::Value` prints it (`null` when not finite).
        let _ = serde_json::to_writer(&mut self.buffer, &Value::from(value));
    }

    /// `{"Dimensions":[[...]],"Metrics":[{"Name":..,"Unit":..},...],"Namespace":..}`.
    fn directive<'m>(
        &mut self,
        dimensions: &[&str],
        metrics: impl Iterator<Item = (&'m str, &'m str)>,
    ) {
        if !self.first {
            self.buffer.push(b',');
        }
        self.raw("{");
        self.key("Dimensions");
        self.raw("[[");
        for (i, dimension) in dimensions.iter().enumerate() {
            if i > 0 {
                self.buffer.push(b',');
            }
            self.text(dimension);
        }
        self.raw("]]");
        self.key("Metrics");
        self.raw("[");
        for (name, unit) in metrics {
            if !self.first {
                self.buffer.push(b',');
            }
            self.raw("{");
            self.string("Name", name);
            self.string("Unit", unit);
            self.raw("}");
        }
        self.raw("]");
        self.string("Namespace", NAMESPACE);
        self.raw("}");
    }

    fn finish(mut self) -> String {
        self.buffer.push(b'}');
        // Only UTF-8 went in: `&str`s, serde_json's output and ASCII punctuation.
        String::from_utf8(self.buffer).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    /// The record as a serde_json tree (how it was built before it was written directly): the
    /// reference for its exact bytes.
    fn reference_emf_line(
        record: &RequestRecord<'_>,
        function_name: &str,
        timestamp_ms: i64,
    ) -> String {
        let counts = counts(record);
        let mut metric_definitions: Vec<Value> = counts
            .iter()
            .map(|(name, _)| json!({"Name": name, "Unit": "Count"}))
            .collect();
        metric_definitions.push(json!({"Name": LATENCY_METRIC, "Unit": "Milliseconds"}));
        let mut directives = vec![json!({
            "Namespace": NAMESPACE,
            "Dimensions": [["FunctionName"]],
            "Metrics": metric_definitions,
        })];
        let rejected = (400..500).contains(&record.status);
        let quarantined = !record.quarantine_key.is_empty();
        let by_reason: Vec<Value> = [("Rejected", rejected), ("Quarantined", quarantined)]
            .into_iter()
            .filter(|(_, applies)| *applies)
            .map(|(name, _)| json!({"Name": name, "Unit": "Count"}))
            .collect();
        let with_reason = !by_reason.is_empty();
        if with_reason {
            directives.push(json!({
                "Namespace": NAMESPACE,
                "Dimensions": [["FunctionName", "Reason"]],
                "Metrics": by_reason,
            }));
        }
        let (level, message) = level_and_message(record.status);
        let mut line = Map::new();
        line.insert(
            "_aws".into(),
            json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": directives}),
        );
        line.insert("level".into(), level.into());
        line.insert("message".into(), message.into());
        line.insert("FunctionName".into(), function_name.into());
        if with_reason {
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
            ("quarantineKey", record.quarantine_key),
            ("quarantineDropped", record.quarantine_dropped),
            ("bus", record.bus),
        ] {
            if !value.is_empty() {
                line.insert(name.into(), value.into());
            }
        }
        if record.secret_refreshed {
            line.insert("secretRefreshed".into(), true.into());
        }
        if let Some(id) = record.webhook_id {
            line.insert("webhookId".into(), id.into());
        }
        line.insert("size".into(), record.size.into());
        for (name, value) in counts {
            line.insert(name.into(), value.into());
        }
        line.insert(
            LATENCY_METRIC.into(),
            json!((record.latency_ms * 1000.0).round() / 1000.0),
        );
        Value::Object(line).to_string()
    }

    #[test]
    fn the_line_is_byte_for_byte_the_serde_json_tree() {
        let odd = "qu\"ote\\ \u{1} \n tab\t é 😀 \u{7f}";
        let mut records = Vec::new();
        for (status, outcome) in [
            (200, "forwarded"),
            (200, "claim_checked"),
            (200, "spilled"),
            (200, "stored"),
            (200, "duplicate"),
            (401, "invalid_signature"),
            (401, "stale_timestamp"),
            (400, "malformed_event"),
            (405, "method_not_allowed"),
            (413, "payload_too_large"),
            (500, "internal_error"),
            (503, "secret_unavailable"),
        ] {
            for variant in 0..4 {
                let full = variant % 2 == 1;
                records.push(RequestRecord {
                    status,
                    outcome,
                    kind: if full { odd } else { "feeds" },
                    event: if full { "started" } else { "" },
                    size: [0, 1, 233, usize::MAX][variant],
                    secret: if variant > 1 { "previous" } else { "" },
                    secret_refreshed: variant == 3,
                    webhook_id: [None, Some(7), Some(i64::MAX), Some(-1)][variant],
                    key: if full { "thumbnails/a/b/1-ab.jpg" } else { "" },
                    sha256: if variant == 2 { "ab" } else { "" },
                    quarantine_key: if variant == 3 { "quarantine/k" } else { "" },
                    quarantine_dropped: if variant == 2 { "rate_limited" } else { "" },
                    bus: ["", "put", "kept", "lost"][variant],
                    latency_ms: [0.0, 4.25, 1234.56789, f64::NAN][variant],
                    request_id: if full { odd } else { "" },
                });
            }
        }
        for record in &records {
            for (function_name, timestamp_ms) in
                [("relay-fn", 1_700_000_000_000), ("", -1), (odd, i64::MAX)]
            {
                assert_eq!(
                    emf_line(record, function_name, timestamp_ms),
                    reference_emf_line(record, function_name, timestamp_ms),
                    "{record:?}"
                );
            }
        }
    }

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
            "Quarantined",
            "QuarantineDropped",
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

    #[test]
    fn a_quarantined_delivery_counts_by_reason() {
        let record = RequestRecord {
            status: 401,
            outcome: "invalid_signature",
            quarantine_key: "quarantine/2026/11/27/1-ab",
            secret_refreshed: true,
            ..Default::default()
        };
        let line = parse(&emf_line(&record, "f", 1));
        assert_eq!(
            (line["Rejected"].as_u64(), line["Quarantined"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(line["QuarantineDropped"], 0);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][1]["Metrics"],
            json!([{"Name": "Rejected", "Unit": "Count"}, {"Name": "Quarantined", "Unit": "Count"}])
        );
        assert_eq!(line["quarantineKey"], "quarantine/2026/11/27/1-ab");
        assert_eq!(line["secretRefreshed"], true);
    }

    #[test]
    fn an_unreadable_secret_is_quarantined_not_failed() {
        let record = RequestRecord {
            status: 503,
            outcome: "secret_unavailable",
            quarantine_key: "quarantine/k",
            ..Default::default()
        };
        let line = parse(&emf_line(&record, "f", 1));
        assert_eq!(
            (line["Failed"].as_u64(), line["Rejected"].as_u64()),
            (Some(0), Some(0))
        );
        assert_eq!(line["Quarantined"], 1);
        assert_eq!(line["Reason"], "secret_unavailable");
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][1]["Metrics"],
            json!([{"Name": "Quarantined", "Unit": "Count"}])
        );
        let dropped = RequestRecord {
            status: 401,
            outcome: "invalid_signature",
            quarantine_dropped: "rate_limited",
            ..Default::default()
        };
        let line = parse(&emf_line(&dropped, "f", 1));
        assert_eq!(
            (
                line["Quarantined"].as_u64(),
                line["QuarantineDropped"].as_u64()
            ),
            (Some(0), Some(1))
        );
        assert_eq!(line["quarantineDropped"], "rate_limited");
    }
}
