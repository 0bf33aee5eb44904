//! S3 keys from unsigned thumbnail headers: always inside the prefix, always three safe segments.
#![no_main]

use libfuzzer_sys::fuzz_target;
use millicast_webhook_relay::relay::thumbnail::{ThumbnailPlan, is_safe_segment};
use millicast_webhooks::ThumbnailHeaders;

fuzz_target!(|data: &[u8]| {
    // Header values separated by 0xFF (which never occurs in UTF-8 text).
    let mut parts = data.split(|&b| b == 0xFF).map(String::from_utf8_lossy);
    let stream_id = parts.next();
    let timestamp = parts.next();
    let feed_id = parts.next();
    let image = parts.next().map(|p| p.into_owned()).unwrap_or_default();
    let headers = ThumbnailHeaders {
        stream_id: stream_id.as_deref(),
        feed_id: feed_id.as_deref(),
        token_id: None,
        timestamp: timestamp.as_deref(),
    };
    // A capture time beyond a signed 64-bit number is refused (400), never planned.
    let Ok(plan) = ThumbnailPlan::new(
        "thumbnails/",
        &headers,
        image.as_bytes(),
        1_700_000_000_000,
        Some(i64::MIN),
        "0f4b6c1e-2d1a-4a8e-9b5c-3e7f1a2b4c6d",
    ) else {
        return;
    };
    assert!(plan.timestamp_ms <= i64::MAX as u64);
    for key in [&plan.key, &plan.latest_key] {
        let rest = key.strip_prefix("thumbnails/").expect("inside the prefix");
        let segments: Vec<&str> = rest.split('/').collect();
        assert_eq!(segments.len(), 3, "{key}");
        assert!(segments.iter().all(|s| is_safe_segment(s)), "{key}");
    }
    for (_, value) in &plan.metadata {
        assert!(value.bytes().all(|b| (0x20..0x7f).contains(&b)) && value.len() <= 256);
    }
});
