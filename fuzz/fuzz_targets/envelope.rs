//! Envelope parsing: never panics (deep nesting included); what the relay routes as an event,
//! the consumers' typed model also parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use millicast_webhook_relay::relay::message::{Provenance, QueueMessage};
use millicast_webhooks::{Envelope, WebhookEvent};

fuzz_target!(|data: &[u8]| {
    let model = WebhookEvent::parse(data);
    if let Ok(envelope) = Envelope::parse(data) {
        assert!(model.is_ok(), "relayed but unreadable by consumers");
        let _ = envelope.is_fresh(1_700_000_000_000, 300);
        let body = String::from_utf8(data.to_vec()).expect("parsed JSON is UTF-8");
        let provenance = Provenance {
            signature: Some("sha1=00".to_owned()),
            webhook_id: Some(1),
            idempotency_key: "0".repeat(32),
        };
        let message = QueueMessage::for_event(&envelope, body, &provenance, true);
        let ids = message.fifo.expect("fifo ids");
        assert!((1..=128).contains(&ids.group_id.len()));
        assert!(ids.group_id.bytes().all(|b| b.is_ascii_graphic()));
    }
});
