//! The optional event bus output: beside every message the relay puts on the queue, one
//! EventBridge event, so that rules can route by content, an archive can keep history, and a
//! replay can send a time window again (docs/contract.md, "The event bus").
//!
//! The mapping (pure, no I/O):
//! - `source` = [`BUS_SOURCE`];
//! - `detail-type` = the message's `type` attribute: the hook type (`feeds`, `recordings`, …,
//!   a type not invented yet) or `thumbnail` for an announcement;
//! - `detail` = the message's attributes as members (`type`, `event`, `timestamp`, `streamId`,
//!   `streamKey`, `webhookId`, `idempotencyKey`, `contractVersion`, `claimCheck`; numbers as
//!   numbers), and the message body itself — the webhook's JSON, an announcement, or a
//!   claim-check pointer — as the member `webhook`. `signature` is left out: EventBridge keeps
//!   the detail as JSON, not as the bytes the platform signed.

use crate::ports::queue::AttributeValue;
use crate::ports::{BusEvent, QueueMessage};

/// The `source` of every event the relay puts on the bus.
pub const BUS_SOURCE: &str = "millicast-webhook-relay";

/// The largest `PutEvents` entry EventBridge takes, as it counts it (the source, detail type,
/// detail and a 14-byte time): 1 MB, less a margin (what is larger goes by claim check).
pub const EVENTBRIDGE_ENTRY_LIMIT: usize = 1_000_000;

/// The bus event for a queue message (module documentation).
pub fn bus_event(message: &QueueMessage) -> BusEvent {
    let mut detail = String::with_capacity(message.body.len() + 512);
    detail.push('{');
    let mut detail_type = String::new();
    for (name, value) in &message.attributes {
        if *name == "signature" {
            continue;
        }
        if *name == "type"
            && let AttributeValue::String(kind) = value
        {
            kind.clone_into(&mut detail_type);
        }
        push_member_name(&mut detail, name);
        match value {
            AttributeValue::String(text) if *name == "claimCheck" && text == "true" => {
                detail.push_str("true");
            }
            AttributeValue::String(text) => {
                detail.push_str(&serde_json::Value::from(text.as_str()).to_string())
            }
            // Validated numbers (ids, epoch milliseconds) when the message was built.
            AttributeValue::Number(number) => detail.push_str(number),
        }
        detail.push(',');
    }
    detail.push_str("\"webhook\":");
    // A message body is always a JSON document: the parsed webhook, or the relay's own.
    detail.push_str(&message.body);
    detail.push('}');
    BusEvent {
        source: BUS_SOURCE,
        detail_type: if detail_type.is_empty() {
            "webhook".to_owned()
        } else {
            detail_type
        },
        detail,
    }
}

/// What EventBridge counts against [`EVENTBRIDGE_ENTRY_LIMIT`].
pub fn entry_size(event: &BusEvent) -> usize {
    14 + event.source.len() + event.detail_type.len() + event.detail.len()
}

fn push_member_name(detail: &mut String, name: &str) {
    detail.push('"');
    detail.push_str(name);
    detail.push_str("\":");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::message::Provenance;
    use millicast_webhooks::Envelope;

    const BODY: &str = r#"{"type":"feeds","event":"started","timestamp":1638463486489,"data":{"name":"cam","streamId":"ZG6NWV/cam"}}"#;

    fn message(body: &str) -> QueueMessage {
        QueueMessage::for_event(
            &Envelope::parse(body.as_bytes()).unwrap(),
            body.to_owned(),
            &Provenance {
                signature: Some("sha1=ab".into()),
                webhook_id: Some(7),
                idempotency_key: "0123456789abcdef0123456789abcdef".into(),
            },
            false,
        )
    }

    #[test]
    fn the_detail_carries_the_attributes_and_the_body_unchanged() {
        let event = bus_event(&message(BODY));
        assert_eq!(event.source, "millicast-webhook-relay");
        assert_eq!(event.detail_type, "feeds");
        let detail: serde_json::Value = serde_json::from_str(&event.detail).unwrap();
        assert_eq!(
            detail,
            serde_json::json!({
                "type": "feeds", "event": "started", "timestamp": 1638463486489_i64,
                "streamId": "ZG6NWV/cam", "streamKey": "cam", "webhookId": 7,
                "idempotencyKey": "0123456789abcdef0123456789abcdef", "contractVersion": "1",
                "webhook": serde_json::from_str::<serde_json::Value>(BODY).unwrap()
            })
        );
        assert_eq!(entry_size(&event), 14 + 23 + 5 + event.detail.len());
    }

    /// docs/cost.md sizes the archive by this event: the sample `feeds/started` of webhook 1,
    /// with a 13-digit timestamp, as EventBridge counts it.
    #[test]
    fn the_sample_feeds_started_is_the_size_cost_md_says() {
        let body =
            millicast_webhooks::samples::json_sample("feeds-started", 1_796_087_530_275).unwrap();
        let message = QueueMessage::for_event(
            &Envelope::parse(body.as_bytes()).unwrap(),
            body.clone(),
            &Provenance {
                signature: Some(format!("sha1={}", "f".repeat(40))),
                webhook_id: Some(1),
                idempotency_key: "0123456789abcdef0123456789abcdef".into(),
            },
            false,
        );
        assert_eq!(entry_size(&bus_event(&message)), 496);
    }

    #[test]
    fn names_and_values_are_escaped_as_json() {
        let body = r#"{"type":"a\"b","event":"q\\u0001","timestamp":1,"data":{}}"#;
        let event = bus_event(&message(body));
        let detail: serde_json::Value = serde_json::from_str(&event.detail).unwrap();
        assert_eq!(detail["type"], "a\"b");
        assert_eq!(detail["webhook"]["type"], "a\"b");
        assert_eq!(event.detail_type, "a\"b");
    }

    #[test]
    fn a_claim_check_pointer_is_marked_with_a_boolean() {
        let mut pointer = message(BODY);
        pointer
            .attributes
            .push(crate::relay::message::claim_check_attribute());
        let detail: serde_json::Value = serde_json::from_str(&bus_event(&pointer).detail).unwrap();
        assert_eq!(detail["claimCheck"], true);
        assert!(detail.get("signature").is_none());
    }
}
