//! The CloudWatch dashboard of template.yaml, checked against the relay itself:
//! - its body is valid JSON once CloudFormation has substituted it, and names only resources
//!   and pseudo parameters that exist;
//! - every metric of the relay's namespace it shows is one the relay emits (`metrics.rs`), every
//!   AWS metric a documented one;
//! - its alarm widget holds every alarm of the template;
//! - every field its Logs Insights queries read is in the relay's real log records, captured
//!   here from the handler against moto (forwarded, rejected, quarantined, spilled, lost).

mod support;

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use millicast_webhook_relay::relay::metrics::{COUNT_METRICS, LATENCY_METRIC, NAMESPACE};
use millicast_webhooks::samples::{self, SAMPLE_JPEG};
use serde_json::Value;
use support::*;

/// Metrics AWS publishes for these namespaces (Lambda: function and function URL metrics;
/// SQS: queue metrics), as documented by AWS.
const AWS_METRICS: &[(&str, &[&str])] = &[
    (
        "AWS/Lambda",
        &[
            "Invocations",
            "Errors",
            "Throttles",
            "Duration",
            "ConcurrentExecutions",
            "UrlRequestCount",
            "Url4xxCount",
            "Url5xxCount",
            "UrlRequestLatency",
        ],
    ),
    (
        "AWS/SQS",
        &[
            "ApproximateNumberOfMessagesVisible",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateAgeOfOldestMessage",
            "NumberOfMessagesSent",
            "NumberOfMessagesReceived",
            "NumberOfMessagesDeleted",
        ],
    ),
];

/// Fields of Lambda's own JSON log records (LogFormat JSON: `platform.report` and the like),
/// which the relay does not write.
const PLATFORM_FIELDS: &[&str] = &["type", "record.metrics.initDurationMs"];

fn template() -> Value {
    let output = Command::new(project_dir().join(".venv/bin/python"))
        .arg(project_dir().join("scripts/template_json.py"))
        .arg(project_dir().join("template.yaml"))
        .output()
        .expect("run scripts/template_json.py (make test creates .venv)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The dashboard body as CloudFormation would deliver it: every `${…}` replaced by a value of
/// the right shape, after checking that it names a pseudo parameter or a template resource.
fn substituted_body(template: &Value) -> Value {
    let resources = template["Resources"].as_object().unwrap();
    let body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
        .as_str()
        .expect("DashboardBody is a Fn::Sub string");
    let mut text = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("${") {
        text.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closed ${") + start;
        let reference = &rest[start + 2..end];
        let value = match reference.split_once('.') {
            _ if reference == "AWS::Region" => "us-east-1".to_owned(),
            Some((resource, "Arn")) => {
                assert!(
                    resources.contains_key(resource),
                    "${{{reference}}}: no resource {resource}"
                );
                format!("arn:aws:cloudwatch:us-east-1:123456789012:alarm:{resource}")
            }
            Some((resource, attribute)) => {
                assert!(
                    resources.contains_key(resource),
                    "${{{reference}}}: no resource {resource}"
                );
                format!("{resource}-{attribute}")
            }
            None => {
                assert!(
                    resources.contains_key(reference),
                    "${{{reference}}}: no resource"
                );
                format!("stack-{reference}")
            }
        };
        text.push_str(&value);
        rest = &rest[end + 1..];
    }
    text.push_str(rest);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("dashboard body is not JSON: {e}"))
}

/// (namespace, metric name) of every metric a widget shows, expressions' included.
fn widget_metrics(widget: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let Some(metrics) = widget["properties"]["metrics"].as_array() else {
        return found;
    };
    let mut previous: Vec<String> = Vec::new();
    for line in metrics {
        let items = line.as_array().unwrap();
        if let Some(expression) = items.first().and_then(|i| i["expression"].as_str()) {
            // SEARCH('{Namespace,Dims…} MetricName="X" …', …)
            let namespace = expression
                .split('{')
                .nth(1)
                .and_then(|s| s.split(',').next())
                .unwrap_or_default();
            let name = expression
                .split("MetricName=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or_default();
            found.push((namespace.to_owned(), name.to_owned()));
            continue;
        }
        // Positional form; "." repeats the value above (CloudWatch's shorthand).
        let strings: Vec<String> = items
            .iter()
            .filter_map(Value::as_str)
            .enumerate()
            .map(|(i, s)| {
                if s == "." {
                    previous.get(i).cloned().unwrap_or_default()
                } else {
                    s.to_owned()
                }
            })
            .collect();
        found.push((strings[0].clone(), strings[1].clone()));
        previous = strings;
    }
    found
}

/// The record fields a Logs Insights query reads (not its functions, keywords, aliases,
/// literals or `@` fields).
fn query_fields(query: &str) -> BTreeSet<String> {
    const WORDS: &[&str] = &[
        "SOURCE",
        "fields",
        "filter",
        "stats",
        "sort",
        "limit",
        "by",
        "as",
        "and",
        "or",
        "not",
        "like",
        "desc",
        "asc",
        "in",
        "ispresent",
        "count",
        "avg",
        "max",
        "min",
        "sum",
        "bin",
        "pct",
    ];
    let mut cleaned = String::new();
    let mut quote = None;
    for c in query.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if matches!(c, '"' | '\'' | '/') => quote = Some(c),
            None => cleaned.push(c),
        }
    }
    let tokens: Vec<&str> = cleaned
        .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@')))
        .filter(|t| !t.is_empty())
        .collect();
    let aliases: BTreeSet<&str> = tokens
        .windows(2)
        .filter(|w| w[0] == "as")
        .map(|w| w[1])
        .collect();
    tokens
        .into_iter()
        .filter(|t| !t.starts_with('@'))
        .filter(|t| !t.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .filter(|t| !WORDS.contains(t) && !aliases.contains(t))
        .map(str::to_owned)
        .collect()
}

fn has_field(record: &Value, path: &str) -> bool {
    path.split('.')
        .try_fold(record, |value, key| value.get(key))
        .is_some()
}

/// Log records of the relay on every path, from the handler against moto.
async fn captured_records() -> Vec<Value> {
    let fixture = Fixture::new(false).await;
    let log = CapturedLog::default();
    let config = fixture.config(&[("SQS_MAX_MESSAGE_BYTES", "1024")]);
    let relay = fixture.relay(&config).with_log_sink(log.sink());
    let now = now_ms();
    let event = samples::json_sample("feeds-started", now).unwrap();
    let headers = samples::thumbnail_headers("acct/stream", now);
    let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let oversize = format!(
        r#"{{"type":"media","event":"completed","timestamp":{now},"pad":"{}"}}"#,
        "x".repeat(2000)
    );
    for request in [
        json_webhook(&event, SECRET),
        json_webhook(&oversize, SECRET),
        thumbnail_request(SAMPLE_JPEG, &refs, SECRET),
        thumbnail_request(SAMPLE_JPEG, &refs, SECRET),
        json_webhook(&event, OTHER_SECRET),
        json_webhook(r#"{"no":"type"}"#, SECRET),
        function_url_request(
            "POST",
            &[("content-type", "application/json")],
            event.as_bytes(),
            false,
        ),
        function_url_request("GET", &[], b"", false),
    ] {
        relay.handle(request).await;
    }
    // SQS down: spilled; SQS and S3 down: lost, in an ERROR record carrying the event.
    let dead = sdk_config(&closed_port_endpoint()).await;
    let spilling = fixture
        .relay_with(&config, &fixture.sdk, &dead)
        .with_log_sink(log.sink());
    spilling.handle(json_webhook(&event, SECRET)).await;
    let losing = fixture
        .relay_with(&config, &dead, &dead)
        .with_log_sink(log.sink());
    losing.handle(json_webhook(&event, SECRET)).await;
    log.records()
}

#[tokio::test]
async fn the_dashboard_shows_what_the_relay_emits() {
    let template = template();
    let body = substituted_body(&template);
    let widgets = body["widgets"].as_array().expect("widgets");
    let records = captured_records().await;
    let outcomes: BTreeSet<&str> = records
        .iter()
        .filter_map(|r| r["outcome"].as_str())
        .collect();
    for expected in [
        "forwarded",
        "claim_checked",
        "stored",
        "duplicate",
        "spilled",
        "invalid_signature",
        "internal_error",
    ] {
        assert!(
            outcomes.contains(expected),
            "no {expected} record: {outcomes:?}"
        );
    }

    let aws: HashMap<&str, &[&str]> = AWS_METRICS.iter().copied().collect();
    let mut relay_metrics = BTreeSet::new();
    let mut shown_alarms = BTreeSet::new();
    let mut queries = 0;
    for widget in widgets {
        let title = widget["properties"]["title"].as_str().unwrap_or_default();
        for key in ["x", "y", "width", "height"] {
            assert!(widget[key].is_u64(), "{title}: {key}");
        }
        for (namespace, name) in widget_metrics(widget) {
            if namespace == NAMESPACE {
                assert!(
                    COUNT_METRICS.contains(&name.as_str()) || name == LATENCY_METRIC,
                    "{title}: the relay emits no metric {name}"
                );
                relay_metrics.insert(name);
            } else {
                let known = aws
                    .get(namespace.as_str())
                    .unwrap_or_else(|| panic!("{title}: namespace {namespace}"));
                assert!(
                    known.contains(&name.as_str()),
                    "{title}: {namespace} has no metric {name}"
                );
            }
        }
        if widget["type"] == "alarm" {
            for alarm in widget["properties"]["alarms"].as_array().unwrap() {
                let arn = alarm.as_str().unwrap();
                shown_alarms.insert(arn.rsplit(':').next().unwrap().to_owned());
            }
        }
        if widget["type"] == "log" {
            queries += 1;
            let query = widget["properties"]["query"].as_str().unwrap();
            assert!(
                query.starts_with("SOURCE 'stack-FunctionLogGroup' |"),
                "{title}: {query}"
            );
            for field in query_fields(query) {
                if PLATFORM_FIELDS.contains(&field.as_str()) {
                    continue;
                }
                assert!(
                    records.iter().any(|r| has_field(r, &field)),
                    "{title}: no relay record has the field {field}"
                );
            }
        }
    }
    // Every metric the relay emits has its place on the dashboard.
    let emitted: BTreeSet<String> = COUNT_METRICS
        .iter()
        .chain([LATENCY_METRIC].iter())
        .map(|m| (*m).to_owned())
        .collect();
    assert_eq!(relay_metrics, emitted);
    let alarms: BTreeSet<String> = template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .map(|(name, _)| name.clone())
        .collect();
    assert_eq!(
        shown_alarms, alarms,
        "the alarm widget must hold every alarm"
    );
    assert!(queries >= 3);
    assert!(
        template["Outputs"]["DashboardUrl"]["Value"]["Fn::Sub"]
            .as_str()
            .is_some_and(|url| url.contains("${Dashboard}"))
    );
}

#[test]
fn query_fields_are_read_as_logs_insights_does() {
    let fields = query_fields(
        r#"SOURCE 'g' | fields @timestamp, Reason, attributes.type | filter status >= 400 and message like /event lost/ and level = "ERROR" | stats count(*) as n by bin(5m)"#,
    );
    let expected: BTreeSet<String> = ["Reason", "attributes.type", "status", "message", "level"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(fields, expected);
}
