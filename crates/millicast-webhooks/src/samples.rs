//! Realistic sample webhooks, exactly as the platform serializes them, for tests and tools
//! (feature `samples`).

/// The secret of the signature test vector (base64; docs/platform.md, "Signature", in the
/// relay's repository).
pub const TEST_SECRET: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
/// A secret the relay is not configured with, for the `wrong-secret` sample.
pub const WRONG_SECRET: &str = "c29tZWJvZHktZWxzZXMtc2VjcmV0";
/// The time stamped into the committed `events/` files: the documented example's, so that
/// `events/feeds-started.json` carries exactly the documented test vector.
pub const SAMPLE_TIME_MS: i64 = 1_638_463_486_489;
/// A small real JPEG (160x90).
pub const SAMPLE_JPEG: &[u8] = include_bytes!("../samples/thumbnail.jpg");
/// The stream of every sample (`accountId/name`).
pub const SAMPLE_STREAM_ID: &str = "ZG6NWV/sample_stream";
/// The feed of the feeds samples and thumbnails.
pub const SAMPLE_FEED_ID: &str = "369e4a86-f937-4254-bd9f-99dc484d2bd6";
/// The publish token of the samples.
pub const SAMPLE_TOKEN_ID: &str = "142366";

/// Names of the built-in JSON samples: one per documented hook type and event.
pub const JSON_SAMPLES: &[&str] = &[
    "feeds-started",
    "feeds-ended",
    "recordings-started",
    "recordings-completed",
    "recordings-error",
    "recordings-deleted",
    "media-processing",
    "media-completed",
    "media-errored",
    "media-deleted",
    "transcoder-active",
    "transcoder-stopped",
    "transcoder-deleted",
    "viewer-attempt",
    "first-viewer-connection",
    "no-active-viewers",
];

/// The body of the JSON sample `name` stamped with `ts` (epoch ms), exactly as the platform
/// would serialize it (compact, documented field order).
pub fn json_sample(name: &str, ts: i64) -> Option<String> {
    let feed = |event: &str, extra: &str| {
        format!(
            r#"{{"type":"feeds","event":"{event}","timestamp":{ts},"data":{{"feedId":"{SAMPLE_FEED_ID}","accountId":"ZG6NWV","name":"sample_stream","streamId":"{SAMPLE_STREAM_ID}",{extra}}}}}"#
        )
    };
    let recording = |event: &str, extra: &str| {
        format!(
            r#"{{"type":"recordings","event":"{event}","timestamp":{ts},"data":{{"recordFileId":7975,"tokenId":{SAMPLE_TOKEN_ID},"streamName":"sample_stream","recordedOn":{}{extra}}}}}"#,
            ts - 152
        )
    };
    let media = |event: &str| {
        format!(
            r#"{{"type":"media","event":"{event}","timestamp":{ts},"data":{{"mediaAssetId":"e0ca421e3ee748629d073b6991d4d93d","tokenId":{SAMPLE_TOKEN_ID},"streamName":"sample_stream","streamId":"{SAMPLE_STREAM_ID}","startTime":{},"metadata":{{}},"type":"clip","expiration":{}}}}}"#,
            ts - 468_904,
            ts + 8_640_000_000
        )
    };
    let transcoder = |event: &str, status: &str| {
        format!(
            r#"{{"type":"transcoder","event":"{event}","timestamp":{ts},"data":{{"transcoderId":"fddcbce0-1a2b-4c3d-9e8f-0a1b2c3d4e5f","transcoderName":"sample_transcoder","cluster":"lon-1","createdOn":"2024-08-29T00:00:00Z","status":"{status}"}}}}"#
        )
    };
    let viewer = |event: &str| {
        format!(
            r#"{{"type":"viewerConnection","event":"{event}","timestamp":{ts},"data":{{"name":"sample_stream","accountId":"ZG6NWV","streamId":"{SAMPLE_STREAM_ID}"}}}}"#
        )
    };
    let body = match name {
        "feeds-started" => feed(
            "started",
            &format!(r#""started":{},"active":true"#, ts - 130),
        ),
        "feeds-ended" => feed("ended", &format!(r#""active":false,"ended":{}"#, ts - 112)),
        "recordings-started" => recording("started", ""),
        "recordings-completed" => recording(
            "completed",
            r#","metadata":{"format":"mp4","sizes":{"concat":7340032,"dash":0,"thumbnails":20480},"duration":61.2,"tracks":[{"type":"video","codec":"h264","bitrate":2500000,"width":1280,"height":720,"framerate":30},{"type":"audio","codec":"opus","bitrate":64000,"channels":2,"samplerate":48000}]}"#,
        ),
        "recordings-error" => recording("error", ""),
        "recordings-deleted" => recording("deleted", ""),
        "media-processing" => media("processing"),
        "media-completed" => media("completed"),
        "media-errored" => media("errored"),
        "media-deleted" => media("deleted"),
        "transcoder-active" => transcoder("ACTIVE", "Active"),
        "transcoder-stopped" => transcoder("STOPPED", "Shutdown"),
        "transcoder-deleted" => transcoder("DELETED", "Deleted"),
        "viewer-attempt" => viewer("ViewerAttempt"),
        "first-viewer-connection" => viewer("FirstViewerConnection"),
        "no-active-viewers" => viewer("NoActiveViewers"),
        _ => return None,
    };
    Some(body)
}

/// The headers the platform sends with a thumbnail (signature excluded).
pub fn thumbnail_headers(stream_id: &str, ts: i64) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "image/jpeg".to_owned()),
        ("x-millicast-timestamp", ts.to_string()),
        ("x-millicast-feed-id", SAMPLE_FEED_ID.to_owned()),
        ("x-millicast-stream-id", stream_id.to_owned()),
        ("x-millicast-token-id", SAMPLE_TOKEN_ID.to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feeds_started_sample_is_the_documented_vector() {
        let body = json_sample("feeds-started", SAMPLE_TIME_MS).unwrap();
        assert_eq!(
            body,
            r#"{"type":"feeds","event":"started","timestamp":1638463486489,"data":{"feedId":"369e4a86-f937-4254-bd9f-99dc484d2bd6","accountId":"ZG6NWV","name":"sample_stream","streamId":"ZG6NWV/sample_stream","started":1638463486359,"active":true}}"#
        );
        let secret = crate::WebhookSecret::from_base64(TEST_SECRET).unwrap();
        assert_eq!(
            crate::sign(secret.bytes(), body.as_bytes()),
            "sha1=dfde8e23a8c06e6c522a67d50fe7412283f653f9"
        );
    }

    #[test]
    fn every_sample_is_a_valid_envelope_of_its_type() {
        for name in JSON_SAMPLES {
            let body = json_sample(name, 1).unwrap();
            let envelope = crate::envelope::Envelope::parse(body.as_bytes()).unwrap();
            let expected_kind = match name.split('-').next().unwrap() {
                "viewer" | "first" | "no" => "viewerConnection",
                kind => kind,
            };
            assert_eq!(envelope.kind, expected_kind, "{name}");
            assert_eq!(envelope.timestamp_ms, Some(1));
            assert!(
                !matches!(
                    crate::model::WebhookEvent::parse(body.as_bytes()).unwrap(),
                    crate::model::WebhookEvent::Unknown(_)
                ),
                "{name} should match the typed model"
            );
        }
        assert_eq!(json_sample("nope", 1), None);
    }
}
