//! `contract/message.schema.json` is generated from the typed model (`make contract`), never
//! edited by hand: fail when the committed file differs from what the model gives.
#![cfg(feature = "schema")]

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
