//! `contract/message.schema.json` is generated from the typed model (`make contract`), never
//! edited by hand: fail when the committed file differs from what the model gives.

#[test]
fn the_committed_message_schema_is_the_models() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contract/message.schema.json");
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} missing ({e}): run `make contract`", path.display()));
    let mut generated =
        serde_json::to_string_pretty(&millicast_webhook_relay::contract::message_schema()).unwrap();
    generated.push('\n');
    assert!(
        committed == generated,
        "contract/message.schema.json differs from the typed model: run `make contract`"
    );
}

// contract/asyncapi.yaml against the relay's own message builders: the attributes it documents
// are exactly the ones the relay sends (names, SQS data types, which kind of message carries
// which), every example's headers are what the relay sends for that example's payload, and the
// FIFO ids are where the document says. Nothing here is a hand-kept copy of the attribute list.

use std::collections::{BTreeMap, BTreeSet};

use millicast_webhook_relay::relay::message::{
    AttributeValue, CONTRACT_VERSION, ClaimCheck, Provenance, QueueMessage,
};
use millicast_webhook_relay::relay::thumbnail::ThumbnailPlan;
use millicast_webhooks::{Envelope, ThumbnailHeaders};
use serde_json::Value;

/// contract/asyncapi.yaml as JSON. There is no YAML parser among the crate's dependencies: the
/// project's Python (RELAY_PYTHON, else .venv, which `make test` creates) has PyYAML.
fn asyncapi() -> Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var_os("RELAY_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join(".venv/bin/python"));
    let output = std::process::Command::new(&python)
        .args([
            "-c",
            "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)",
        ])
        .arg(root.join("contract/asyncapi.yaml"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python:?} ({e}); run `make venv`"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
}

/// A message's attributes as a consumer reads them: name -> (SQS data type, value).
fn attributes(message: &QueueMessage) -> BTreeMap<String, (&'static str, String)> {
    message
        .attributes
        .iter()
        .map(|(name, value)| {
            let typed = match value {
                AttributeValue::String(v) => ("String", v.clone()),
                AttributeValue::Number(v) => ("Number", v.clone()),
            };
            ((*name).to_owned(), typed)
        })
        .collect()
}

/// The provenance an example's headers state (what the relay knew of that delivery).
fn provenance(headers: &Value) -> Provenance {
    Provenance {
        signature: headers.get("signature").map(|s| text(s).to_owned()),
        webhook_id: headers.get("webhookId").map(|id| text(id).parse().unwrap()),
        idempotency_key: text(&headers["idempotencyKey"]).to_owned(),
    }
}

fn event_message(payload: &Value, headers: &Value, fifo: bool) -> QueueMessage {
    let body = payload.to_string();
    let envelope = Envelope::parse(body.as_bytes()).unwrap();
    QueueMessage::for_event(&envelope, body, &provenance(headers), fifo)
}

/// The relay's message for each example of asyncapi.yaml, built by the relay's own code from the
/// example's payload and provenance: (message name, example name, example headers, message).
fn relay_messages(doc: &Value, fifo: bool) -> Vec<(String, String, Value, QueueMessage)> {
    let messages = doc["components"]["messages"].as_object().unwrap();
    let mut built = Vec::new();
    for (name, message) in messages {
        for example in message["examples"].as_array().unwrap() {
            let (payload, headers) = (&example["payload"], &example["headers"]);
            let relay = match name.as_str() {
                "ThumbnailStored" => {
                    // From the thumbnail's headers, as the relay plans a stored image.
                    let data = &payload["data"];
                    let timestamp = payload["timestamp"].to_string();
                    let plan = ThumbnailPlan::new(
                        "thumbnails/",
                        &ThumbnailHeaders {
                            stream_id: data["streamId"].as_str(),
                            feed_id: data["feedId"].as_str(),
                            token_id: data["tokenId"].as_str(),
                            timestamp: Some(&timestamp),
                        },
                        b"image",
                        // Received as it was captured: inside the capture-time window.
                        payload["timestamp"].as_i64().unwrap_or(0),
                        provenance(headers).webhook_id,
                        "",
                    )
                    .expect("a capture time within a signed 64-bit integer");
                    QueueMessage::for_thumbnail(
                        payload.to_string(),
                        plan.timestamp_ms,
                        plan.stream_id.as_deref(),
                        plan.stream_name.as_deref(),
                        &provenance(headers),
                        fifo,
                    )
                }
                "ClaimCheck" => {
                    // The pointer stands for the example named before "-claim-checked".
                    let original_name = text(&example["name"])
                        .strip_suffix("-claim-checked")
                        .expect("a ClaimCheck example is named <original example>-claim-checked");
                    let original = messages
                        .values()
                        .flat_map(|m| m["examples"].as_array().unwrap())
                        .find(|e| e["name"] == original_name)
                        .unwrap_or_else(|| panic!("no example {original_name}"));
                    let event = event_message(&original["payload"], &original["headers"], fifo);
                    let body = original["payload"].to_string();
                    let envelope = Envelope::parse(body.as_bytes()).unwrap();
                    let claim = &payload["claimCheck"];
                    let pointer = QueueMessage::claim_check(
                        &event,
                        &envelope,
                        &ClaimCheck {
                            bucket: text(&claim["bucket"]),
                            key: text(&claim["key"]),
                            size: claim["size"].as_u64().unwrap() as usize,
                            sha256_hex: text(&claim["sha256"]),
                        },
                    );
                    let pointer_body: Value = serde_json::from_str(&pointer.body).unwrap();
                    assert_eq!(
                        &pointer_body, payload,
                        "the relay's pointer body differs from the example's"
                    );
                    pointer
                }
                _ => event_message(payload, headers, fifo),
            };
            built.push((
                name.clone(),
                text(&example["name"]).to_owned(),
                headers.clone(),
                relay,
            ));
        }
    }
    built
}

#[test]
fn the_documented_attributes_are_exactly_the_ones_the_relay_sends() {
    let doc = asyncapi();
    let schemas = &doc["components"]["schemas"];
    let documented = schemas["MessageAttributes"]["properties"]
        .as_object()
        .unwrap();
    let mut sent = BTreeSet::new();
    for (message, example, headers, relay) in relay_messages(&doc, false) {
        let at = format!("{message} example {example}");
        let relay = attributes(&relay);
        // The example shows exactly what the relay sends for its payload.
        let shown: BTreeMap<String, String> = headers
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), text(v).to_owned()))
            .collect();
        let values: BTreeMap<String, String> = relay
            .iter()
            .map(|(k, (_, v))| (k.clone(), v.clone()))
            .collect();
        assert_eq!(shown, values, "{at}: headers differ from the relay's");
        for (name, (data_type, _)) in &relay {
            let spec = documented
                .get(name)
                .unwrap_or_else(|| panic!("{at}: the relay sends {name}, undocumented"));
            assert_eq!(
                spec["x-sqs-data-type"], *data_type,
                "{at}: {name}'s SQS data type"
            );
        }
        // The message's own header schema: what it always and never carries.
        let reference = text(&doc["components"]["messages"][&message]["headers"]["$ref"]);
        let own = &schemas[reference.rsplit('/').next().unwrap()]["allOf"][1];
        for required in own["required"].as_array().unwrap() {
            assert!(relay.contains_key(text(required)), "{at}: lacks {required}");
        }
        for (name, rule) in own["properties"].as_object().unwrap() {
            if *rule == Value::Bool(false) {
                assert!(!relay.contains_key(name), "{at}: carries {name}");
            }
        }
        sent.extend(relay.into_keys());
    }
    let documented: BTreeSet<String> = documented.keys().cloned().collect();
    assert_eq!(
        sent, documented,
        "asyncapi.yaml's MessageAttributes and what the relay's builders send differ"
    );
}

#[test]
fn the_fifo_ids_are_where_the_contract_says() {
    let doc = asyncapi();
    let fifo = &doc["operations"]["sendToFifoQueue"]["x-sqs-fifo"];
    let header = |location: &Value| {
        text(location)
            .strip_prefix("$message.header#/")
            .unwrap()
            .to_owned()
    };
    let group: Vec<String> = fifo["messageGroupId"]["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(header)
        .collect();
    let dedup: Vec<String> = fifo["messageDeduplicationId"]["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(header)
        .collect();
    let mut fell_back = false;
    for (message, example, _, relay) in relay_messages(&doc, true) {
        let ids = relay.fifo.clone().expect("FIFO ids");
        let values = attributes(&relay);
        let first = |names: &[String]| {
            names
                .iter()
                .position(|n| values.contains_key(n))
                .map(|i| (i, values[&names[i]].1.clone()))
        };
        let (index, group_id) = first(&group).unwrap();
        fell_back |= index > 0;
        assert_eq!(ids.group_id, group_id, "{message} {example}: group id");
        assert_eq!(
            Some(ids.deduplication_id),
            first(&dedup).map(|(_, v)| v),
            "{message} {example}: deduplication id"
        );
    }
    assert!(fell_back, "no example shows the group id's fallback");
}

#[test]
fn the_contract_version_is_the_relays() {
    let doc = asyncapi();
    assert_eq!(doc["info"]["version"], CONTRACT_VERSION);
    assert_eq!(
        doc["components"]["schemas"]["MessageAttributes"]["properties"]["contractVersion"]["const"],
        CONTRACT_VERSION
    );
}
