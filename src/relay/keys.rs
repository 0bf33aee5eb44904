//! S3 keys for events that do not travel through SQS as they are: spills and claim checks.
//!
//! Both are named by the delivery (its id, the Lambda request id of the invocation that received
//! it), never by content alone: two deliveries of one body — two webhooks subscribed to the same
//! hooks send identical bytes — are two objects, each with its own signature, webhook id and
//! idempotency key in its metadata. Every write of the same delivery (an SDK retry, a replay)
//! meets its own object.

use crate::relay::clock::date_path;

/// Where an event goes when SQS fails:
/// `undelivered/{yyyy}/{mm}/{dd}/{timestampMs}-{deliveryId}.json`, dated by the receive time
/// (`received_ms`); `timestamp_ms` is the event's own when it has one.
pub fn undelivered_key(received_ms: i64, timestamp_ms: i64, delivery_id: &str) -> String {
    format!(
        "undelivered/{}/{timestamp_ms}-{delivery_id}.json",
        date_path(received_ms)
    )
}

/// Prefix under which `relayctl redrive` finds spilled events.
pub const UNDELIVERED_PREFIX: &str = "undelivered/";

/// Prefix of the copies the event bus did not take (the queue did, or `undelivered/` has them).
pub const UNDELIVERED_BUS_PREFIX: &str = "undelivered-bus/";

/// Where a message's copy for the event bus goes when EventBridge fails:
/// `undelivered-bus/{yyyy}/{mm}/{dd}/{timestampMs}-{deliveryId}.json`, as [`undelivered_key`].
pub fn undelivered_bus_key(received_ms: i64, timestamp_ms: i64, delivery_id: &str) -> String {
    format!(
        "{UNDELIVERED_BUS_PREFIX}{}/{timestamp_ms}-{delivery_id}.json",
        date_path(received_ms)
    )
}

/// Prefix of the bodies too large for SQS.
pub const CLAIM_CHECK_PREFIX: &str = "events/oversize/";

/// Where a body too large for SQS is kept: `events/oversize/{deliveryId}.json`; the SQS message
/// carries this key (and the body's sha256) instead.
pub fn claim_check_key(delivery_id: &str) -> String {
    format!("{CLAIM_CHECK_PREFIX}{delivery_id}.json")
}

/// A delivery id fit for a key: the Lambda request id as it comes (a UUID), with anything but
/// ASCII letters, digits and `-` dropped and at most 64 characters kept.
pub fn key_safe_id(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undelivered_key_is_dated_by_receive_time_and_named_by_the_delivery() {
        assert_eq!(
            undelivered_key(
                1_638_463_486_489,
                1_638_463_486_000,
                "0f4b6c1e-2d1a-4a8e-9b5c-3e7f1a2b4c6d"
            ),
            "undelivered/2021/12/02/1638463486000-0f4b6c1e-2d1a-4a8e-9b5c-3e7f1a2b4c6d.json"
        );
    }

    #[test]
    fn claim_check_key_is_the_deliverys() {
        assert_eq!(claim_check_key("r-1"), "events/oversize/r-1.json");
    }

    #[test]
    fn delivery_ids_are_made_safe_for_keys() {
        assert_eq!(key_safe_id("0f4b6c1e-2d1a-4a8e"), "0f4b6c1e-2d1a-4a8e");
        assert_eq!(key_safe_id("../../x y/z"), "xyz");
        assert_eq!(key_safe_id(&"a".repeat(100)).len(), 64);
    }
}
