//! The three consumers (consumers/README.md) on what the real relay put on the queue, in moto:
//! every sample hook, a type nobody knows yet, a thumbnail announcement, a claim check, and a
//! duplicate made the way it happens — a spill redriven twice because the first redrive's
//! delete failed — plus two records no consumer may acknowledge: a body that is not JSON and a
//! claim check whose object is gone. Each consumer runs on the same SQS event, built as Lambda
//! delivers it, and all must agree: the same batch item failures, every delivery handled once.
//! Also runs the Python and Node local runners against the queue itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::emulator::{Owned, cargo_lambda, start_emulator};
use crate::support::*;
use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};
use millicast_webhooks::samples::{self, JSON_SAMPLES, SAMPLE_JPEG};
use serde_json::{Value, json};

/// What one consumer did with one record, in a form shared by the three.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    outcome: String,
    idempotency_key: Option<String>,
    kind: Option<String>,
    event: Option<String>,
    claim_check: Option<bool>,
    body_sha256: Option<String>,
}

/// One consumer's run: its outcomes by message id, and the ids it reported as failed.
#[derive(Debug)]
struct Run {
    outcomes: BTreeMap<String, Outcome>,
    failures: BTreeSet<String>,
}

fn string(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

/// Python and Node log one JSON object per record, in camelCase.
fn outcome_from_json(line: &Value) -> (String, Outcome) {
    (
        string(&line["messageId"]).expect("messageId"),
        Outcome {
            outcome: string(&line["outcome"]).unwrap(),
            idempotency_key: string(&line["idempotencyKey"]),
            kind: string(&line["type"]),
            event: string(&line["event"]),
            claim_check: line["claimCheck"].as_bool(),
            body_sha256: string(&line["bodySha256"]),
        },
    )
}

/// The Rust consumer logs through `tracing` (JSON with AWS_LAMBDA_LOG_FORMAT=JSON): fields in
/// snake_case, `kind` for the type.
fn outcome_from_tracing(fields: &Value) -> (String, Outcome) {
    (
        string(&fields["message_id"]).expect("message_id"),
        Outcome {
            outcome: string(&fields["outcome"]).unwrap(),
            idempotency_key: string(&fields["idempotency_key"]),
            kind: string(&fields["kind"]),
            event: string(&fields["event"]),
            claim_check: fields["claim_check"].as_bool(),
            body_sha256: string(&fields["body_sha256"]),
        },
    )
}

fn failures(response: &Value) -> BTreeSet<String> {
    response["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("not a batch response: {response}"))
        .iter()
        .map(|f| string(&f["itemIdentifier"]).unwrap())
        .collect()
}

fn checked_stdout(what: &str, output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what}: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The JSON lines of a consumer's output: per-record outcomes and the batch response.
fn parse_json_lines(what: &str, stdout: &str) -> Run {
    let mut run = Run {
        outcomes: BTreeMap::new(),
        failures: BTreeSet::new(),
    };
    let mut responses = 0;
    for line in stdout.lines() {
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            continue; // the example handlers' own log lines
        };
        if value.get("batchItemFailures").is_some() {
            run.failures = failures(&value);
            responses += 1;
        } else if value.get("outcome").is_some() {
            let (id, outcome) = outcome_from_json(&value);
            assert!(run.outcomes.insert(id, outcome).is_none(), "{what}: {line}");
        }
    }
    assert_eq!(responses, 1, "{what}: {stdout}");
    run
}

fn aws_env(command: &mut Command) -> &mut Command {
    command
        .env("AWS_ENDPOINT_URL", &moto().endpoint)
        .env("AWS_REGION", "us-east-1")
        // boto3 reads the region from this one only (Lambda sets both).
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
}

fn python() -> PathBuf {
    project_dir().join(".venv/bin/python")
}

fn run_python(event_file: &Path) -> Run {
    let output = aws_env(Command::new(python()).arg("consumers/python/invoke.py"))
        .arg(event_file)
        .current_dir(project_dir())
        .output()
        .expect("run the Python consumer (make test creates .venv)");
    parse_json_lines("python", &checked_stdout("python", &output))
}

fn node_modules_installed() {
    assert!(
        project_dir().join("consumers/node/node_modules").is_dir(),
        "consumers/node/node_modules is missing: run `make consumers-test` (or make test)"
    );
}

fn run_node(event_file: &Path) -> Run {
    node_modules_installed();
    let output = aws_env(Command::new("node").arg("consumers/node/invoke.mjs"))
        .arg(event_file)
        .current_dir(project_dir())
        .output()
        .expect("run the Node consumer");
    parse_json_lines("node", &checked_stdout("node", &output))
}

/// The `example-consumer` binary as Lambda runs it: polling cargo-lambda's Runtime API, which
/// `cargo lambda invoke` feeds the event; its JSON log lines tell what it did.
fn run_rust(event_file: &Path) -> Run {
    let (_emulator, port) = start_emulator();
    let log_path = event_file.with_extension("rust.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let consumer = Owned(
        aws_env(Command::new(env!("CARGO_BIN_EXE_example-consumer")).env_clear())
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{port}/.rt"),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start example-consumer"),
    );
    let output = Command::new(cargo_lambda())
        .args(["lambda", "invoke", "-A", "127.0.0.1", "-P"])
        .arg(port.to_string())
        .arg("--data-file")
        .arg(event_file)
        .arg("_")
        .current_dir(project_dir())
        .output()
        .expect("run cargo lambda invoke");
    let response: Value = serde_json::from_str(checked_stdout("rust", &output).trim()).unwrap();
    drop(consumer);
    let logged = std::fs::read_to_string(&log_path).unwrap();
    let _ = std::fs::remove_file(&log_path);
    let mut run = Run {
        outcomes: BTreeMap::new(),
        failures: failures(&response),
    };
    for line in logged.lines() {
        let Ok(record) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if record["fields"].get("outcome").is_some() {
            let (id, outcome) = outcome_from_tracing(&record["fields"]);
            assert!(run.outcomes.insert(id, outcome).is_none(), "rust: {line}");
        }
    }
    run
}

/// Every message on the queue now, as the records of the SQS event Lambda would deliver
/// (<https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html>, "Example standard queue
/// message event"; field for field as aws_lambda_events' SqsMessage reads them). The messages
/// are deleted, as Lambda does after a batch.
async fn receive_as_lambda_records(fixture: &Fixture) -> Vec<Value> {
    let arn = fixture
        .sqs
        .get_queue_attributes()
        .queue_url(&fixture.queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .unwrap();
    let mut records = Vec::new();
    for message in fixture.drain_queue().await {
        let attributes: serde_json::Map<String, Value> = message
            .attributes()
            .into_iter()
            .flatten()
            .map(|(name, value)| (name.as_str().to_owned(), value.clone().into()))
            .collect();
        let message_attributes: serde_json::Map<String, Value> = message
            .message_attributes()
            .into_iter()
            .flatten()
            .map(|(name, value)| {
                (
                    name.clone(),
                    json!({"stringValue": value.string_value(), "stringListValues": [],
                           "binaryListValues": [], "dataType": value.data_type()}),
                )
            })
            .collect();
        records.push(json!({
            "messageId": message.message_id(),
            "receiptHandle": message.receipt_handle(),
            "body": message.body(),
            "attributes": attributes,
            "messageAttributes": message_attributes,
            "md5OfBody": message.md5_of_body(),
            "md5OfMessageAttributes": message.md5_of_message_attributes(),
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": "us-east-1",
        }));
    }
    records
}

fn relayctl_redrive(fixture: &Fixture) -> String {
    let output = aws_env(Command::new(env!("CARGO_BIN_EXE_relayctl")).args([
        "redrive",
        "--bucket",
        &fixture.bucket,
        "--queue-url",
        &fixture.queue_url,
    ]))
    .output()
    .unwrap();
    checked_stdout("relayctl redrive", &output)
        .trim()
        .to_owned()
}

fn attribute<'a>(record: &'a Value, name: &str) -> Option<&'a str> {
    record["messageAttributes"][name]["stringValue"].as_str()
}

async fn accepted(relay: &MotoRelay, request: lambda_http::Request) -> String {
    let (status, body) = status_and_body(&relay.handle(request).await);
    assert_eq!(status, 200, "{body}");
    string(&body["status"]).unwrap()
}

fn oversize_media(ts: i64, notes: char) -> String {
    samples::json_sample("media-completed", ts)
        .unwrap()
        .replace(
            r#""metadata":{}"#,
            &format!(
                r#""metadata":{{"notes":"{}"}}"#,
                notes.to_string().repeat(4000)
            ),
        )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_three_consumers_agree_on_what_the_relay_sent() {
    let fixture = Fixture::new(false).await;
    let relay = fixture.relay(&fixture.config(&[]));
    let ts = now_ms();

    // Forwarded as they are: every sample hook and a type nobody knows yet.
    let mut forwarded: Vec<String> = JSON_SAMPLES
        .iter()
        .map(|name| samples::json_sample(name, ts).unwrap())
        .collect();
    let unknown = format!(
        r#"{{"type":"analytics","event":"hourlyReport","timestamp":{ts},"data":{{"accountId":"ZG6NWV","name":"sample_stream","viewers":17}}}}"#
    );
    forwarded.push(unknown.clone());
    for body in &forwarded {
        assert_eq!(
            accepted(&relay, json_webhook(body, SECRET)).await,
            "forwarded"
        );
    }

    // A thumbnail: stored, and announced.
    let headers = samples::thumbnail_headers(samples::SAMPLE_STREAM_ID, ts);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let thumbnail = thumbnail_request(SAMPLE_JPEG, &headers, SECRET);
    assert_eq!(accepted(&relay, thumbnail).await, "stored");

    // Two bodies too large for the queue: claim checks. The second one's object goes away.
    let small_queue = fixture.relay(&fixture.config(&[("SQS_MAX_MESSAGE_BYTES", "2048")]));
    let claim_checked = oversize_media(ts, 'x');
    let gone = oversize_media(ts, 'y');
    for body in [&claim_checked, &gone] {
        let request = json_webhook(body, SECRET);
        assert_eq!(accepted(&small_queue, request).await, "claim_checked");
    }

    // A duplicate, as it really happens: SQS is down, so the event is spilled; `relayctl
    // redrive` sends it, but (say) its DeleteObject fails, so the spill is still there when
    // redrive runs again, and sends it a second time. A FIFO queue would drop the second copy
    // within its 5-minute window; this standard queue keeps both, as any queue does later.
    let dead_sqs = sdk_config(&closed_port_endpoint()).await;
    let spilling = fixture.relay_with(&fixture.config(&[]), &fixture.sdk, &dead_sqs);
    let redriven = samples::json_sample("feeds-ended", ts + 1).unwrap();
    let request = json_webhook(&redriven, SECRET);
    assert_eq!(accepted(&spilling, request).await, "spilled");
    let spills = fixture.objects_under("undelivered/").await;
    let [spill] = &spills[..] else {
        panic!("one spill expected: {spills:?}")
    };
    assert_eq!(relayctl_redrive(&fixture), "redriven 1, kept 0");
    assert!(fixture.objects_under("undelivered/").await.is_empty());
    // What a failed DeleteObject leaves behind: the same object, metadata and all.
    fixture
        .s3
        .put_object()
        .bucket(&fixture.bucket)
        .key(&spill.key)
        .body(spill.body.clone().into())
        .content_type(spill.content_type.clone().unwrap())
        .set_metadata(Some(spill.metadata.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(relayctl_redrive(&fixture), "redriven 1, kept 0");

    // A message no relay wrote: not JSON, yet labelled like one.
    fixture
        .sqs
        .send_message()
        .queue_url(&fixture.queue_url)
        .message_body("this is not JSON")
        .message_attributes("type", string_attribute("feeds"))
        .message_attributes("contractVersion", string_attribute("1"))
        .message_attributes("idempotencyKey", string_attribute(&"f".repeat(32)))
        .send()
        .await
        .unwrap();

    // Claim-check objects are named by their delivery: find the one holding `gone`.
    let gone_key = fixture
        .objects_under("events/oversize/")
        .await
        .into_iter()
        .find(|object| object.body == gone.as_bytes())
        .expect("the claim check of the second body")
        .key;
    fixture
        .s3
        .delete_object()
        .bucket(&fixture.bucket)
        .key(&gone_key)
        .send()
        .await
        .unwrap();

    let records = receive_as_lambda_records(&fixture).await;
    // 16 samples + unknown + announcement + 2 pointers + 2 redriven copies + the broken one.
    assert_eq!(records.len(), forwarded.len() + 6, "{records:#?}");
    let body_of = |record: &Value| record["body"].as_str().unwrap().to_owned();
    let id_of = |record: &Value| record["messageId"].as_str().unwrap().to_owned();
    let broken_id = id_of(
        records
            .iter()
            .find(|r| body_of(r) == "this is not JSON")
            .unwrap(),
    );
    let gone_id = id_of(
        records
            .iter()
            .find(|r| body_of(r).contains(&gone_key))
            .unwrap(),
    );
    let copies: Vec<&Value> = records.iter().filter(|r| body_of(r) == redriven).collect();
    assert_eq!(
        copies.len(),
        2,
        "the redriven delivery is on the queue twice"
    );
    let duplicate_key = attribute(copies[0], "idempotencyKey").unwrap().to_owned();
    assert_eq!(
        attribute(copies[1], "idempotencyKey"),
        Some(duplicate_key.as_str()),
        "one delivery, one idempotency key"
    );
    let pointer = records
        .iter()
        .find(|r| body_of(r).contains("claimCheck") && !body_of(r).contains(&gone_key))
        .unwrap();
    assert_eq!(attribute(pointer, "claimCheck"), Some("true"));

    // Every body the relay produced (the claim-checked ones as stored) against the contract,
    // with a validator independent of the relay's code: Python's jsonschema.
    let mut produced: Vec<String> = records
        .iter()
        .map(body_of)
        .filter(|b| b != "this is not JSON")
        .collect();
    produced.extend([claim_checked.clone(), gone.clone()]);
    assert_eq!(validate_with_jsonschema(&produced), produced.len());

    // The event Lambda would deliver with a batch size above 10 (a batching window allows up
    // to 10,000 records on a standard queue): all of it in one batch, so the duplicate is too.
    let event = json!({ "Records": records });
    let _: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_value(event.clone()).expect("the shape aws_lambda_events reads");
    let event_file = std::env::temp_dir().join(format!("consumers-{}.json", std::process::id()));
    std::fs::write(&event_file, event.to_string()).unwrap();
    let runs = [
        ("rust", run_rust(&event_file)),
        ("python", run_python(&event_file)),
        ("node", run_node(&event_file)),
    ];
    let _ = std::fs::remove_file(&event_file);

    // What every consumer must have done.
    let unique_keys: BTreeSet<&str> = records
        .iter()
        .filter(|r| ![&broken_id, &gone_id].contains(&&id_of(r)))
        .map(|r| attribute(r, "idempotencyKey").unwrap())
        .collect();
    assert_eq!(unique_keys.len(), records.len() - 3);
    for (name, run) in &runs {
        let count = |kind: &str| run.outcomes.values().filter(|o| o.outcome == kind).count();
        eprintln!(
            "{name}: {} records, handled {}, duplicate {}, failed {} {:?}",
            run.outcomes.len(),
            count("handled"),
            count("duplicate"),
            count("failed"),
            run.failures
        );
        assert_eq!(
            run.failures,
            BTreeSet::from([broken_id.clone(), gone_id.clone()]),
            "{name}: exactly the two broken records fail"
        );
        assert_eq!(run.outcomes.len(), records.len(), "{name}: {run:#?}");
        let handled: Vec<&Outcome> = run
            .outcomes
            .values()
            .filter(|o| o.outcome == "handled")
            .collect();
        let handled_keys: BTreeSet<&str> = handled
            .iter()
            .map(|o| o.idempotency_key.as_deref().unwrap())
            .collect();
        assert_eq!(handled.len(), handled_keys.len(), "{name}: handled twice");
        assert_eq!(handled_keys, unique_keys, "{name}");
        let duplicates: Vec<_> = run
            .outcomes
            .values()
            .filter(|o| o.outcome == "duplicate")
            .collect();
        assert_eq!(duplicates.len(), 1, "{name}");
        assert_eq!(
            duplicates[0].idempotency_key.as_deref(),
            Some(&*duplicate_key)
        );

        let handled_bodies: BTreeSet<&str> = handled
            .iter()
            .map(|o| o.body_sha256.as_deref().unwrap())
            .collect();
        for body in forwarded.iter().chain([&redriven]) {
            assert!(
                handled_bodies.contains(sha256_hex(body.as_bytes()).as_str()),
                "{name}: {body}"
            );
        }
        let resolved = handled
            .iter()
            .find(|o| o.claim_check == Some(true))
            .unwrap();
        assert_eq!(
            resolved.body_sha256.as_deref(),
            Some(sha256_hex(claim_checked.as_bytes()).as_str()),
            "{name}: the claim check resolves to the original body"
        );
        assert_eq!(
            (resolved.kind.as_deref(), resolved.event.as_deref()),
            (Some("media"), Some("completed"))
        );
        assert!(
            handled
                .iter()
                .any(|o| o.kind.as_deref() == Some("thumbnail")
                    && o.event.as_deref() == Some("stored")),
            "{name}"
        );
        assert!(
            handled
                .iter()
                .any(|o| o.kind.as_deref() == Some("analytics")
                    && o.body_sha256 == Some(sha256_hex(unknown.as_bytes()))),
            "{name}"
        );
    }
    // And record by record, the three did the same.
    let (_, rust) = &runs[0];
    for (name, run) in &runs[1..] {
        for (id, outcome) in &run.outcomes {
            let theirs = &rust.outcomes[id];
            if outcome.outcome == "failed" {
                assert_eq!(theirs.outcome, "failed", "{name}/rust: {id}");
            } else {
                assert_eq!(outcome, theirs, "{name}/rust: {id}");
            }
        }
    }

    // The local runners drain the queue as an event source mapping would.
    for runner in [
        ["python", "consumers/python/invoke.py"],
        ["node", "consumers/node/invoke.mjs"],
    ] {
        let body = samples::json_sample("feeds-started", now_ms()).unwrap();
        assert_eq!(
            accepted(&relay, json_webhook(&body, SECRET)).await,
            "forwarded"
        );
        let program = if runner[0] == "python" {
            python()
        } else {
            node_modules_installed();
            PathBuf::from("node")
        };
        let output = aws_env(Command::new(program).arg(runner[1]))
            .args(["--queue-url", &fixture.queue_url])
            .current_dir(project_dir())
            .output()
            .unwrap();
        let run = parse_json_lines(runner[0], &checked_stdout(runner[0], &output));
        assert!(run.failures.is_empty(), "{}: {run:?}", runner[0]);
        let handled: Vec<_> = run.outcomes.values().collect();
        assert_eq!(handled.len(), 1, "{}: {run:?}", runner[0]);
        assert_eq!(
            handled[0].body_sha256,
            Some(sha256_hex(body.as_bytes())),
            "{}",
            runner[0]
        );
        // Deleted, not merely received (and so invisible for a while).
        assert_eq!(
            messages_on_queue(&fixture).await,
            0,
            "{} deletes",
            runner[0]
        );
    }
}

/// Messages on the queue, visible or in flight.
async fn messages_on_queue(fixture: &Fixture) -> usize {
    let output = fixture
        .sqs
        .get_queue_attributes()
        .queue_url(&fixture.queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let attributes = output.attributes().unwrap();
    [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .map(|name| attributes[name].parse::<usize>().unwrap())
    .sum()
}

fn string_attribute(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .unwrap()
}

/// How many of `bodies` Python's jsonschema (Draft 2020-12) finds valid against the committed
/// contract/message.schema.json; each invalid one is printed.
fn validate_with_jsonschema(bodies: &[String]) -> usize {
    const SCRIPT: &str = r#"
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open("contract/message.schema.json"))
Draft202012Validator.check_schema(schema)
validator = Draft202012Validator(schema)
valid = 0
for body in json.load(sys.stdin):
    errors = list(validator.iter_errors(json.loads(body)))
    if errors:
        print(f"INVALID {body[:200]}: {errors[0].message}", file=sys.stderr)
    else:
        valid += 1
print(valid)
"#;
    let mut command = Command::new(python());
    command.args(["-c", SCRIPT]).current_dir(project_dir());
    let output = run_with_input(command, serde_json::to_string(bodies).unwrap().as_bytes());
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    checked_stdout("jsonschema", &output)
        .trim()
        .parse()
        .unwrap()
}
