//! The CloudWatch dashboard and alarms of template.yaml, checked against what the relay and
//! AWS really put in front of them:
//! - the dashboard body is valid JSON once CloudFormation has substituted it, and names only
//!   resources and pseudo parameters that exist; its alarm widget holds every alarm;
//! - what reaches the log group is derived from the function's own LoggingConfig (log format,
//!   application and system log levels, as Lambda filters them) applied to the relay's real log
//!   records, captured here from the handler against moto on every path, and to the platform
//!   records Lambda writes: every Logs Insights query must find records that match its filter and
//!   carry the fields it reads, and every metric a widget or alarm names must be one that those
//!   records declare (EMF namespace, metric, exact dimension set) or one AWS publishes with
//!   those dimensions; an alarm's metric must also be non-zero in some record, or it never fires;
//! - every EMF record the relay wrote validates against the published EMF specification
//!   (scripts/check_emf.py, AWS's JSON Schema plus the rules a schema cannot express).
//!
//! Mutations of the template (the system log level at WARN, …) must each be caught.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::support::*;
use millicast_webhook_relay::relay::metrics::{COUNT_METRICS, LATENCY_METRIC, NAMESPACE};
use millicast_webhooks::samples::{self, SAMPLE_JPEG};
use serde_json::Value;

/// Metrics AWS publishes in these namespaces and the one dimension the template may name them by:
/// Lambda's function metrics and its function URL metrics per FunctionName (function URLs:
/// docs.aws.amazon.com/lambda/latest/dg/urls-monitoring.html), SQS queue metrics per QueueName
/// (docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html).
const AWS_METRICS: &[(&str, &str, &[&str])] = &[
    (
        "AWS/Lambda",
        "FunctionName",
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
        "QueueName",
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

/// Log levels from most to least detailed, as Lambda's log-level filtering orders them.
const LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

fn rank(level: &str) -> usize {
    LEVELS
        .iter()
        .position(|l| l.eq_ignore_ascii_case(level))
        .unwrap_or_else(|| panic!("unknown log level {level}"))
}

/// The records Lambda itself writes under LogFormat JSON, in the shape of the Telemetry API
/// schema (docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html), with the least
/// system log level that lets them through: "By default, Lambda sets the system log level to
/// INFO. With this setting, Lambda automatically sends "start" and "report" log messages"
/// (docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html); WARN drops them.
fn platform_records() -> Vec<(&'static str, Value)> {
    let request = "8f507cfc-example";
    vec![
        (
            "INFO",
            serde_json::json!({"time": "2026-11-27T10:00:00.000Z", "type": "platform.start",
                "record": {"requestId": request, "version": "$LATEST"}}),
        ),
        (
            "INFO",
            serde_json::json!({"time": "2026-11-27T10:00:00.004Z", "type": "platform.report",
                "record": {"requestId": request, "status": "success", "metrics": {
                    "durationMs": 3.2, "billedDurationMs": 4, "memorySizeMB": 512,
                    "maxMemoryUsedMB": 19, "initDurationMs": 25.1}}}),
        ),
    ]
}

/// The level Lambda files an application record under: its "level" member, but INFO when it has
/// no valid RFC 3339 "timestamp" member (monitoring-cloudwatchlogs-log-level.html: "If you don't
/// supply a valid timestamp, Lambda will assign the log the level INFO"). The relay writes none.
fn application_level(record: &Value) -> &str {
    let rfc3339 = record["timestamp"]
        .as_str()
        .is_some_and(|t| t.len() >= 20 && t.as_bytes()[10] == b'T');
    match record["level"].as_str() {
        Some(level) if rfc3339 => level,
        _ => "INFO",
    }
}

/// The relay's and Lambda's records that reach the function's log group, by its LoggingConfig.
fn reaching_the_log_group(template: &Value, relay_records: &[Value]) -> Vec<Value> {
    let logging = &template["Resources"]["WebhookRelayFunction"]["Properties"]["LoggingConfig"];
    let json = logging["LogFormat"] == "JSON";
    // Log-level filtering needs the JSON format; INFO is Lambda's default for both.
    let application = logging["ApplicationLogLevel"].as_str().unwrap_or("INFO");
    let system = logging["SystemLogLevel"].as_str().unwrap_or("INFO");
    let mut records: Vec<Value> = relay_records
        .iter()
        .filter(|r| !json || rank(application_level(r)) >= rank(application))
        .cloned()
        .collect();
    // In the text format Lambda's records are lines like "REPORT RequestId: …", without these
    // JSON members.
    if json {
        records.extend(
            platform_records()
                .into_iter()
                .filter(|(level, _)| rank(level) >= rank(system))
                .map(|(_, record)| record),
        );
    }
    records
}

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
/// A metric a widget or an alarm names: namespace, name, and its dimensions (name → value; no
/// value where a SEARCH leaves it open).
#[derive(Debug)]
struct MetricUse {
    namespace: String,
    name: String,
    dimensions: BTreeMap<String, Option<String>>,
}

/// Every metric a widget shows, expressions' included.
fn widget_metrics(widget: &Value) -> Vec<MetricUse> {
    let mut found = Vec::new();
    let Some(metrics) = widget["properties"]["metrics"].as_array() else {
        return found;
    };
    let mut previous: Vec<String> = Vec::new();
    for line in metrics {
        let items = line.as_array().unwrap();
        if let Some(expression) = items.first().and_then(|i| i["expression"].as_str()) {
            // SEARCH('{Namespace,Dim1,Dim2} MetricName="X" Dim1="v"', …)
            let schema = expression
                .split('{')
                .nth(1)
                .and_then(|s| s.split('}').next())
                .unwrap_or_default();
            let mut names = schema.split(',').map(str::to_owned);
            let namespace = names.next().unwrap_or_default();
            let value_of = |key: &str| {
                expression
                    .split(&format!("{key}=\\\""))
                    .nth(1)
                    .or_else(|| expression.split(&format!("{key}=\"")).nth(1))
                    .and_then(|s| s.split(['"', '\\']).next())
                    .map(str::to_owned)
            };
            found.push(MetricUse {
                namespace,
                name: value_of("MetricName").unwrap_or_default(),
                dimensions: names.map(|n| (n.clone(), value_of(&n))).collect(),
            });
            continue;
        }
        // Positional form: namespace, name, then dimension name/value pairs; "." repeats the
        // value above (CloudWatch's shorthand).
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
        found.push(MetricUse {
            namespace: strings[0].clone(),
            name: strings[1].clone(),
            dimensions: strings[2..]
                .chunks(2)
                .map(|pair| (pair[0].clone(), pair.get(1).cloned()))
                .collect(),
        });
        previous = strings;
    }
    found
}

/// The metric an alarm watches, with its dimension values as the dashboard body would
/// substitute them (`Ref X` → `stack-X`, `GetAtt X.A` → `X-A`).
fn alarm_metric(alarm: &Value) -> MetricUse {
    let properties = &alarm["Properties"];
    let value = |v: &Value| match (v["Ref"].as_str(), v["Fn::GetAtt"].as_array()) {
        (Some(reference), _) => format!("stack-{reference}"),
        (None, Some(parts)) => format!(
            "{}-{}",
            parts[0].as_str().unwrap_or_default(),
            parts[1].as_str().unwrap_or_default()
        ),
        _ => v.to_string(),
    };
    MetricUse {
        namespace: properties["Namespace"].as_str().unwrap_or_default().into(),
        name: properties["MetricName"].as_str().unwrap_or_default().into(),
        dimensions: properties["Dimensions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| {
                (
                    d["Name"].as_str().unwrap_or_default().into(),
                    Some(value(&d["Value"])),
                )
            })
            .collect(),
    }
}

/// EMF metrics the records declare: (namespace, metric, dimension set) → whether some record
/// gives it a non-zero value (an alarm on a metric that is never above 0 cannot fire).
type Declared = BTreeMap<(String, String, BTreeSet<String>), bool>;

fn declared_metrics(records: &[Value]) -> Declared {
    let mut declared = Declared::new();
    for record in records {
        for directive in record["_aws"]["CloudWatchMetrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let namespace = directive["Namespace"].as_str().unwrap_or_default();
            for set in directive["Dimensions"].as_array().into_iter().flatten() {
                let dimensions: BTreeSet<String> = set
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|d| d.as_str().map(str::to_owned))
                    .collect();
                for metric in directive["Metrics"].as_array().into_iter().flatten() {
                    let name = metric["Name"].as_str().unwrap_or_default();
                    let non_zero = record[name].as_f64().is_some_and(|v| v > 0.0);
                    *declared
                        .entry((namespace.into(), name.into(), dimensions.clone()))
                        .or_default() |= non_zero;
                }
            }
        }
    }
    declared
}

/// What is wrong with one metric use, given what the records declare (`None`: fine).
fn metric_problem(
    metric: &MetricUse,
    declared: &Declared,
    queues: &BTreeSet<String>,
    alarm: bool,
) -> Option<String> {
    let MetricUse {
        namespace,
        name,
        dimensions,
    } = metric;
    let names: BTreeSet<String> = dimensions.keys().cloned().collect();
    let function = Some("stack-WebhookRelayFunction".to_owned());
    if namespace == NAMESPACE {
        let key = (namespace.clone(), name.clone(), names.clone());
        return match declared.get(&key) {
            None => Some(format!(
                "{namespace} {name} {names:?}: no record reaching the log group declares it"
            )),
            Some(false) if alarm => Some(format!(
                "{namespace} {name}: no record reaching the log group is ever above 0"
            )),
            // The relay's FunctionName is AWS_LAMBDA_FUNCTION_NAME, the function's Ref.
            _ if dimensions.get("FunctionName") != Some(&function) => Some(format!(
                "{namespace} {name}: FunctionName is not the relay function's name: {dimensions:?}"
            )),
            _ => None,
        };
    }
    let Some((_, dimension, metrics)) = AWS_METRICS.iter().find(|(n, ..)| n == namespace) else {
        return Some(format!("{namespace} {name}: no such namespace"));
    };
    if !metrics.contains(&name.as_str()) {
        return Some(format!("{namespace} has no metric {name}"));
    }
    if names != BTreeSet::from([(*dimension).to_owned()]) {
        return Some(format!(
            "{namespace} {name}: published per {dimension}, not {names:?}"
        ));
    }
    let value = dimensions[*dimension].clone().unwrap_or_default();
    let ok = match *dimension {
        "FunctionName" => Some(&value) == function.as_ref(),
        _ => queues.contains(&value),
    };
    (!ok).then(|| format!("{namespace} {name}: {dimension} {value} is not the stack's"))
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

/// Whether `record` passes one condition of a query's `filter` clause (the forms the dashboard
/// uses; any other panics, so a new query extends this instead of passing unchecked).
fn passes(record: &Value, condition: &str) -> bool {
    let condition = condition.trim();
    if let Some(field) = condition
        .strip_prefix("ispresent(")
        .and_then(|c| c.strip_suffix(')'))
    {
        return has_field(record, field);
    }
    let value = |field: &str| {
        field
            .split('.')
            .try_fold(record, |value, key| value.get(key))
    };
    if let Some((field, pattern)) = condition.split_once(" like /") {
        let pattern = pattern.strip_suffix('/').unwrap();
        return value(field)
            .and_then(Value::as_str)
            .is_some_and(|text| text.contains(pattern));
    }
    for operator in [">=", "<=", "=", "<", ">"] {
        let Some((field, literal)) = condition.split_once(&format!(" {operator} ")) else {
            continue;
        };
        let Some(found) = value(field.trim()) else {
            return false;
        };
        let literal = literal.trim();
        if let Some(text) = literal.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
            return operator == "=" && found.as_str() == Some(text);
        }
        let (Some(left), Ok(right)) = (found.as_f64(), literal.parse::<f64>()) else {
            return false;
        };
        return match operator {
            ">=" => left >= right,
            "<=" => left <= right,
            "<" => left < right,
            ">" => left > right,
            _ => left == right,
        };
    }
    panic!("filter condition not understood: {condition}");
}

/// The records a query's `filter` clauses let through.
fn matching<'a>(query: &str, records: &'a [Value]) -> Vec<&'a Value> {
    let conditions: Vec<&str> = query
        .split('|')
        .filter_map(|stage| stage.trim().strip_prefix("filter "))
        .flat_map(|clause| {
            assert!(!clause.contains(" or "), "filter with or: {clause}");
            clause.split(" and ")
        })
        .collect();
    records
        .iter()
        .filter(|r| conditions.iter().all(|c| passes(r, c)))
        .collect()
}

/// Names of the stack's SQS queues as the dashboard body substitutes them.
fn queue_names(template: &Value) -> BTreeSet<String> {
    template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::SQS::Queue")
        .map(|(name, _)| format!("{name}-QueueName"))
        .collect()
}

/// Every query, widget metric and alarm of the template that would show nothing on AWS: its
/// inputs derived from the template's LoggingConfig and the relay's real records.
fn observability_problems(template: &Value, relay_records: &[Value]) -> Vec<String> {
    let records = reaching_the_log_group(template, relay_records);
    let declared = declared_metrics(&records);
    let queues = queue_names(template);
    let mut problems = Vec::new();
    let body = substituted_body(template);
    for widget in body["widgets"].as_array().expect("widgets") {
        let title = widget["properties"]["title"].as_str().unwrap_or_default();
        for metric in widget_metrics(widget) {
            if let Some(problem) = metric_problem(&metric, &declared, &queues, false) {
                problems.push(format!("widget {title}: {problem}"));
            }
        }
        if widget["type"] == "log" {
            let query = widget["properties"]["query"].as_str().unwrap();
            let found = matching(query, &records);
            if found.is_empty() {
                problems.push(format!(
                    "widget {title}: no record reaching the log group matches {query}"
                ));
            }
            for field in query_fields(query) {
                if !found.iter().any(|r| has_field(r, &field)) {
                    problems.push(format!(
                        "widget {title}: no record it matches has the field {field}"
                    ));
                }
            }
        }
    }
    for (name, resource) in template["Resources"].as_object().unwrap() {
        if resource["Type"] == "AWS::CloudWatch::Alarm"
            && let Some(problem) = metric_problem(&alarm_metric(resource), &declared, &queues, true)
        {
            problems.push(format!("alarm {name}: {problem}"));
        }
    }
    problems
}

/// The relay's log lines on every path, from the handler against moto.
async fn captured_log() -> CapturedLog {
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
    // A delivery over the quarantine's size cap: not kept (QuarantineDropped).
    let capped = fixture.config(&[("QUARANTINE_MAX_BYTES", "1")]);
    let capped = fixture.relay(&capped).with_log_sink(log.sink());
    capped.handle(json_webhook(&event, OTHER_SECRET)).await;
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
    // The bus output on, EventBridge down: on the queue, its bus copy kept (BusFailed).
    let bus_down = fixture
        .relay(&config)
        .with_bus(std::sync::Arc::new(
            millicast_webhook_relay::aws::eventbridge::EventBridgeBus::new(
                millicast_webhook_relay::aws::sdk::eventbridge_client(&dead),
                "relay-events",
            ),
        ))
        .with_log_sink(log.sink());
    bus_down.handle(json_webhook(&event, SECRET)).await;
    log
}

/// Runs scripts/check_emf.py on the relay's raw log lines.
fn check_emf(lines: &[String]) -> (bool, String) {
    let mut child = Command::new(project_dir().join(".venv/bin/python"))
        .arg(project_dir().join("scripts/check_emf.py"))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run scripts/check_emf.py (make test creates .venv)");
    let mut stdin = child.stdin.take().unwrap();
    for line in lines {
        writeln!(stdin, "{line}").unwrap();
    }
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[tokio::test]
async fn the_dashboard_and_alarms_show_what_reaches_cloudwatch() {
    let template = template();
    let body = substituted_body(&template);
    let widgets = body["widgets"].as_array().expect("widgets");
    let log = captured_log().await;
    let lines = log.0.lock().unwrap().clone();
    let records = log.records();
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
    assert!(records.iter().any(|r| r["QuarantineDropped"] == 1));

    // Every EMF record the relay wrote, against the published specification.
    let (valid, report) = check_emf(&lines);
    assert!(valid, "{report}");
    println!("{report}");
    let mut broken = lines.clone();
    let first = broken.iter().position(|l| l.contains("\"_aws\"")).unwrap();
    broken[first] = broken[first].replace("\"Unit\":\"Count\"", "\"Unit\":\"Counts\"");
    assert!(
        !check_emf(&broken).0,
        "a unit CloudWatch does not know passed"
    );

    let problems = observability_problems(&template, &records);
    assert!(problems.is_empty(), "{problems:#?}");

    // Every metric the relay emits has its place on the dashboard; every alarm is on it.
    let mut relay_metrics = BTreeSet::new();
    let mut shown_alarms = BTreeSet::new();
    let mut queries = 0;
    for widget in widgets {
        let title = widget["properties"]["title"].as_str().unwrap_or_default();
        for key in ["x", "y", "width", "height"] {
            assert!(widget[key].is_u64(), "{title}: {key}");
        }
        for metric in widget_metrics(widget) {
            if metric.namespace == NAMESPACE {
                relay_metrics.insert(metric.name);
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
        }
    }
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

    // Settings under which something on the dashboard or an alarm would stay empty on AWS.
    fn logging(t: &mut Value) -> &mut Value {
        &mut t["Resources"]["WebhookRelayFunction"]["Properties"]["LoggingConfig"]
    }
    fn alarm<'a>(t: &'a mut Value, name: &str) -> &'a mut Value {
        &mut t["Resources"][name]["Properties"]
    }
    fn body_edit(t: &mut Value, from: &str, to: &str) {
        let sub = &mut t["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"];
        let text = sub.as_str().unwrap();
        assert!(text.contains(from), "{from}");
        *sub = text.replacen(from, to, 1).into();
    }
    type Mutation = Box<dyn Fn(&mut Value)>;
    let mutations: Vec<(&str, Mutation)> = vec![
        (
            "system log level WARN (no platform.report)",
            Box::new(|t| logging(t)["SystemLogLevel"] = "WARN".into()),
        ),
        (
            "text log format (no JSON platform records)",
            Box::new(|t| logging(t)["LogFormat"] = "Text".into()),
        ),
        (
            "application log level WARN (no EMF records)",
            Box::new(|t| logging(t)["ApplicationLogLevel"] = "WARN".into()),
        ),
        (
            "alarm on a dimension set the EMF does not declare",
            Box::new(|t| {
                alarm(t, "SpilledEventsAlarm")["Dimensions"]
                    .as_array_mut()
                    .unwrap()
                    .push(serde_json::json!({"Name": "Reason", "Value": "x"}))
            }),
        ),
        (
            "alarm on another namespace",
            Box::new(|t| alarm(t, "FailedEventsAlarm")["Namespace"] = "MillicastWebhook".into()),
        ),
        (
            "alarm on a metric the relay does not emit",
            Box::new(|t| alarm(t, "QuarantinedAlarm")["MetricName"] = "Quarantine".into()),
        ),
        (
            "DLQ alarm on the queue URL instead of its name",
            Box::new(|t| {
                alarm(t, "DeadLetterQueueDepthAlarm")["Dimensions"][0]["Value"] =
                    serde_json::json!({"Ref": "DeadLetterQueue"})
            }),
        ),
        (
            "SQS metric name that does not exist",
            Box::new(|t| {
                alarm(t, "DeadLetterQueueDepthAlarm")["MetricName"] =
                    "ApproximateNumberOfMessages".into()
            }),
        ),
        (
            "widget metric without its FunctionName dimension",
            Box::new(|t| {
                body_edit(
                    t,
                    "\"Verified\",\n      \"FunctionName\",\n      \"${WebhookRelayFunction}\",",
                    "\"Verified\",",
                )
            }),
        ),
        (
            "query on a field the relay does not write",
            Box::new(|t| body_edit(t, "filter Quarantined = 1", "filter quarantined = 1")),
        ),
    ];
    for (name, mutate) in mutations {
        let mut mutated = template.clone();
        mutate(&mut mutated);
        assert!(
            !observability_problems(&mutated, &records).is_empty(),
            "not caught: {name}"
        );
    }
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
