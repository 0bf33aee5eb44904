//! S3 keys for events that do not travel through SQS as they are: spills and claim checks.

use crate::relay::clock::date_path;

/// Where an event goes when SQS fails: `undelivered/{yyyy}/{mm}/{dd}/{timestampMs}-{sha256}.json`,
/// dated by the receive time (`now_ms`); `timestamp_ms` is the event's own when it has one.
pub fn undelivered_key(now_ms: i64, timestamp_ms: i64, sha256_hex: &str) -> String {
    format!(
        "undelivered/{}/{timestamp_ms}-{sha256_hex}.json",
        date_path(now_ms)
    )
}

/// Prefix under which `relayctl redrive` finds spilled events.
pub const UNDELIVERED_PREFIX: &str = "undelivered/";

/// Where a body too large for SQS is kept; the SQS message carries this key instead.
pub fn claim_check_key(sha256_hex: &str) -> String {
    format!("events/oversize/{sha256_hex}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undelivered_key_is_dated_by_receive_time() {
        assert_eq!(
            undelivered_key(1_638_463_486_489, 1_638_463_486_000, "ab12"),
            "undelivered/2021/12/02/1638463486000-ab12.json"
        );
    }

    #[test]
    fn claim_check_key_is_content_addressed() {
        assert_eq!(claim_check_key("ff"), "events/oversize/ff.json");
    }
}
