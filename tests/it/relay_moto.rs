//! Integration tier: the handler, fed function-URL requests, against moto S3/SQS over HTTP.
//! Every assertion reads back what landed in S3 or SQS.

use crate::support::*;

/// The documented `feeds`/`started` body, stamped `timestamp`.
fn feeds_started(timestamp: i64) -> String {
    millicast_webhooks::samples::json_sample("feeds-started", timestamp).expect("built-in sample")
}

/// One realistic body per documented hook type and event (plus the old `recording` spelling
/// and a type nobody knows yet), with the expected type, event and streamId attributes.
fn every_hook(ts: i64) -> Vec<(String, &'static str, &'static str, Option<&'static str>)> {
    let mut hooks = vec![
        (
            feeds_started(ts),
            "feeds",
            "started",
            Some("ZG6NWV/sample_stream"),
        ),
        (
            format!(
                r#"{{"type":"feeds","event":"ended","timestamp":{ts},"data":{{"feedId":"369e4a86-f937-4254-bd9f-99dc484d2bd6","accountId":"ZG6NWV","name":"sample_stream","streamId":"ZG6NWV/sample_stream","active":false,"ended":{ts}}}}}"#
            ),
            "feeds",
            "ended",
            Some("ZG6NWV/sample_stream"),
        ),
        (
            format!(
                r#"{{"type":"recordings","event":"completed","timestamp":{ts},"data":{{"recordFileId":7975,"tokenId":142366,"streamName":"testy","recordedOn":{ts},"metadata":{{"format":"mp4","sizes":{{"concat":1048576,"dash":0,"thumbnails":2048}},"duration":61.2,"tracks":[{{"type":"video","codec":"h264","bitrate":2500000,"width":1280,"height":720,"framerate":30}},{{"type":"audio","codec":"opus","channels":2,"samplerate":48000}}]}}}}}}"#
            ),
            "recordings",
            "completed",
            Some("testy"),
        ),
        (
            format!(
                r#"{{"type":"recording","event":"started","timestamp":{ts},"data":{{"recordFileId":7975,"tokenId":142366,"streamName":"testy","recordedOn":{ts}}}}}"#
            ),
            "recording",
            "started",
            Some("testy"),
        ),
    ];
    for event in ["error", "deleted"] {
        hooks.push((
            format!(r#"{{"type":"recordings","event":"{event}","timestamp":{ts},"data":{{"recordFileId":7976,"tokenId":142366,"streamName":"testy","recordedOn":{ts}}}}}"#),
            "recordings", event, Some("testy"),
        ));
    }
    for event in ["processing", "completed", "errored", "deleted"] {
        hooks.push((
            format!(r#"{{"type":"media","event":"{event}","timestamp":{ts},"data":{{"mediaAssetId":"e0ca421e3ee748629d073b6991d4d93d","tokenId":1187282,"streamName":"test-record-clip","streamId":"dkxfvY/test-record-clip","startTime":{ts},"metadata":{{}},"type":"clip","expiration":1733900336143}}}}"#),
            "media", event, Some("dkxfvY/test-record-clip"),
        ));
    }
    for (event, status) in [
        ("ACTIVE", "Active"),
        ("STOPPED", "Shutdown"),
        ("DELETED", "Deleted"),
    ] {
        hooks.push((
            format!(r#"{{"type":"transcoder","event":"{event}","timestamp":{ts},"data":{{"transcoderId":"fddcbce0-1a2b-4c3d-9e8f-0a1b2c3d4e5f","transcoderName":"test_webhooks","cluster":"lon-1","createdOn":"2024-08-29T00:00:00Z","status":"{status}"}}}}"#),
            "transcoder", event, None,
        ));
    }
    for event in ["ViewerAttempt", "FirstViewerConnection", "NoActiveViewers"] {
        hooks.push((
            format!(r#"{{"type":"viewerConnection","event":"{event}","timestamp":{ts},"data":{{"name":"myAwesomeStream","accountId":"ABC123","streamId":"ABC123/myAwesomeStream"}}}}"#),
            "viewerConnection", event, Some("ABC123/myAwesomeStream"),
        ));
    }
    hooks.push((
        format!(r#"{{"type":"analytics","event":"hourlyReport","timestamp":{ts},"data":{{"accountId":"ABC123","name":"s1","viewers":17}}}}"#),
        "analytics", "hourlyReport", Some("ABC123/s1"),
    ));
    hooks
}

#[tokio::test]
async fn documented_vector_is_forwarded_byte_for_byte() {
    let fixture = Fixture::new(false).await;
    // The documented body is from 2021: turn the replay window off for it.
    let relay = fixture.relay(&fixture.config(&[("REPLAY_WINDOW_SECONDS", "0")]));
    let body = r#"{"type":"feeds","event":"started","timestamp":1638463486489,"data":{"feedId":"369e4a86-f937-4254-bd9f-99dc484d2bd6","accountId":"ZG6NWV","name":"sample_stream","streamId":"ZG6NWV/sample_stream","started":1638463486359,"active":true}}"#;
    let request = function_url_request(
        "POST",
        &[
            ("Content-Type", "application/json"),
            (
                "X-Millicast-Signature",
                "sha1=dfde8e23a8c06e6c522a67d50fe7412283f653f9",
            ),
        ],
        body.as_bytes(),
        false,
    );
    let (status, response) = status_and_body(&relay.handle(request).await);
    assert_eq!(
        (status, response),
        (200, serde_json::json!({"status": "forwarded"}))
    );

    let messages = fixture.messages().await;
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.body, body);
    assert_eq!(message.attribute("type"), Some(("String", "feeds")));
    assert_eq!(message.attribute("event"), Some(("String", "started")));
    assert_eq!(
        message.attribute("timestamp"),
        Some(("Number", "1638463486489"))
    );
    assert_eq!(
        message.attribute("streamId"),
        Some(("String", "ZG6NWV/sample_stream"))
    );
    assert_eq!(
        message.attribute("signature"),
        Some(("String", "sha1=dfde8e23a8c06e6c522a67d50fe7412283f653f9"))
    );
    assert_eq!(message.group_id, None);
    assert!(fixture.objects().await.is_empty(), "events do not touch S3");
}

#[tokio::test]
async fn every_hook_type_is_forwarded_with_its_attributes() {
    let fixture = Fixture::new(false).await;
    let relay = fixture.relay(&fixture.config(&[]));
    let hooks = every_hook(now_ms());
    for (body, ..) in &hooks {
        let (status, _) = status_and_body(&relay.handle(json_webhook(body, SECRET)).await);
        assert_eq!(status, 200, "{body}");
    }
    let messages = fixture.messages().await;
    assert_eq!(messages.len(), hooks.len());
    for (body, kind, event, stream_id) in &hooks {
        // Standard queues do not keep order: find each body.
        let message = messages
            .iter()
            .find(|m| &m.body == body)
            .unwrap_or_else(|| panic!("lost {body}"));
        assert_eq!(message.attribute("type"), Some(("String", *kind)));
        assert_eq!(message.attribute("event"), Some(("String", *event)));
        assert_eq!(message.attribute("streamId").map(|(_, v)| v), *stream_id);
        // One stream key on every hook type: the stream's name (transcoders name none).
        let stream_key = stream_id.map(|id| id.rsplit('/').next().unwrap());
        assert_eq!(
            message.attribute("streamKey").map(|(_, v)| v),
            stream_key,
            "{body}"
        );
        assert_eq!(
            message.attribute("signature"),
            Some(("String", sign(SECRET, body.as_bytes()).as_str()))
        );
        let (kind_of_key, key) = message.attribute("idempotencyKey").unwrap();
        assert_eq!(kind_of_key, "String");
        assert!(
            key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit()),
            "{key}"
        );
        assert_eq!(message.attribute("contractVersion"), Some(("String", "1")));
        let timestamp: i64 = message.attribute("timestamp").unwrap().1.parse().unwrap();
        assert_eq!(message.attribute("timestamp").unwrap().0, "Number");
        assert!((timestamp - now_ms()).abs() < 60_000);
    }
    assert!(fixture.objects().await.is_empty());
}

#[tokio::test]
async fn fifo_queue_groups_by_stream_key_and_deduplicates_by_delivery() {
    let fixture = Fixture::new(true).await;
    let relay = fixture.relay(&fixture.config(&[]));
    let ts = now_ms();
    let feeds = feeds_started(ts);
    let recording = format!(
        r#"{{"type":"recordings","event":"started","timestamp":{ts},"data":{{"recordFileId":1,"streamName":"sample_stream","recordedOn":{ts}}}}}"#
    );
    let transcoder = format!(
        r#"{{"type":"transcoder","event":"ACTIVE","timestamp":{ts},"data":{{"transcoderId":"t1","status":"Active"}}}}"#
    );
    for body in [&feeds, &recording, &transcoder, &feeds] {
        let (status, _) = status_and_body(&relay.handle(json_webhook(body, SECRET)).await);
        assert_eq!(status, 200);
        // Two deliveries of one body are two deliveries: apart in receive time.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let messages = fixture.messages().await;
    assert_eq!(messages.len(), 4, "{messages:?}");
    for message in &messages {
        let key = message.attribute("idempotencyKey").unwrap().1;
        assert_eq!(message.deduplication_id.as_deref(), Some(key));
    }
    // A stream's feeds and recordings share one group, so they stay in order together.
    let groups: Vec<_> = messages
        .iter()
        .filter(|m| m.body != transcoder)
        .map(|m| m.group_id.as_deref())
        .collect();
    assert_eq!(groups, [Some("sample_stream"); 3]);
    let feeds_keys: std::collections::HashSet<_> = messages
        .iter()
        .filter(|m| m.body == feeds)
        .map(|m| m.attribute("idempotencyKey").unwrap().1)
        .collect();
    assert_eq!(
        feeds_keys.len(),
        2,
        "identical bodies, different deliveries"
    );
    let transcoder_message = messages.iter().find(|m| m.body == transcoder).unwrap();
    assert_eq!(transcoder_message.group_id.as_deref(), Some("transcoder"));
}

#[tokio::test]
async fn previous_secret_is_accepted_and_a_third_is_rejected() {
    let fixture = Fixture::new(false).await;
    let relay = fixture.relay(&fixture.config(&[("WEBHOOK_SECRET_PREVIOUS", PREVIOUS_SECRET)]));
    let body = feeds_started(now_ms());

    let (status, response) =
        status_and_body(&relay.handle(json_webhook(&body, OTHER_SECRET)).await);
    assert_eq!(
        (status, response),
        (401, serde_json::json!({"error": "invalid_signature"}))
    );
    // Kept for replay (in case the third secret is a renewal the relay has not seen), never sent.
    let kept = fixture.take_quarantined("third secret", 1).await;
    assert_eq!(kept[0].body, body.as_bytes());

    for secret in [PREVIOUS_SECRET, SECRET] {
        let (status, _) = status_and_body(&relay.handle(json_webhook(&body, secret)).await);
        assert_eq!(status, 200);
    }
    let messages = fixture.messages().await;
    assert_eq!(messages.len(), 2);
    assert!(messages.iter().all(|m| m.body == body));
}

#[tokio::test]
async fn replay_window_rejects_stale_and_future_events() {
    let fixture = Fixture::new(false).await;
    let relay = fixture.relay(&fixture.config(&[("REPLAY_WINDOW_SECONDS", "300")]));
    let now = now_ms();
    for timestamp in [now - 301_000, now + 301_000, now / 1000] {
        let (status, response) = status_and_body(
            &relay
                .handle(json_webhook(&feeds_started(timestamp), SECRET))
                .await,
        );
        assert_eq!(
            (status, response),
            (401, serde_json::json!({"error": "stale_timestamp"})),
            "{timestamp}"
        );
    }
    let untimed = r#"{"type":"feeds","event":"started","data":{}}"#;
    let (status, _) = status_and_body(&relay.handle(json_webhook(untimed, SECRET)).await);
    assert_eq!(status, 401, "no timestamp cannot be shown fresh");
    // Verified, so kept (the platform may have delivered late; never forwarded by the relay):
    // each in its own quarantine object, as `stale`.
    for kept in fixture.take_quarantined("stale events", 4).await {
        assert_eq!(kept.metadata["reason"], "stale", "{}", kept.key);
    }
    fixture.assert_untouched("stale events").await;

    for timestamp in [now - 290_000, now + 290_000] {
        let (status, _) = status_and_body(
            &relay
                .handle(json_webhook(&feeds_started(timestamp), SECRET))
                .await,
        );
        assert_eq!(status, 200);
    }
    assert_eq!(fixture.messages().await.len(), 2);

    // With the window off, the same stale body goes through.
    let relay = fixture.relay(&fixture.config(&[("REPLAY_WINDOW_SECONDS", "0")]));
    let (status, _) = status_and_body(
        &relay
            .handle(json_webhook(&feeds_started(now - 86_400_000), SECRET))
            .await,
    );
    assert_eq!(status, 200);
    let (status, _) = status_and_body(&relay.handle(json_webhook(untimed, SECRET)).await);
    assert_eq!(status, 200);
    assert_eq!(fixture.messages().await.len(), 2);
}

const THUMBNAIL_HEADERS: [(&str, &str); 4] = [
    ("X-Millicast-Timestamp", "1638463486489"),
    (
        "X-Millicast-Feed-Id",
        "369e4a86-f937-4254-bd9f-99dc484d2bd6",
    ),
    ("X-Millicast-Stream-Id", "ZG6NWV/sample_stream"),
    ("X-Millicast-Token-Id", "142366"),
];

#[tokio::test]
async fn thumbnail_is_stored_with_metadata_latest_copy_and_announcement() {
    let fixture = Fixture::new(false).await;
    let relay = fixture.relay(&fixture.config(&[]));
    let image = thumbnail_jpeg();
    let sha = sha256_hex(&image);
    let (status, response) = status_and_body(
        &relay
            .handle(invocation(
                thumbnail_request(&image, &THUMBNAIL_HEADERS, SECRET),
                "req-thumbnail",
            ))
            .await,
    );
    assert_eq!(
        (status, response),
        (200, serde_json::json!({"status": "stored"}))
    );

    let key = format!(
        "thumbnails/ZG6NWV/sample_stream/1638463486489-{}.jpg",
        &sha[..16]
    );
    let stored = fixture.object(&key).await;
    assert_eq!(stored.body, image, "exact JPEG bytes");
    assert_eq!(stored.content_type.as_deref(), Some("image/jpeg"));
    let expected_metadata: std::collections::HashMap<String, String> = [
        ("stream-id", "ZG6NWV/sample_stream"),
        ("feed-id", "369e4a86-f937-4254-bd9f-99dc484d2bd6"),
        ("token-id", "142366"),
        ("timestamp", "1638463486489"),
        ("sha256", sha.as_str()),
        // Tells this delivery's own object from another's (a retry after a lost answer).
        ("delivery-id", "req-thumbnail"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(stored.metadata, expected_metadata);

    let latest = fixture
        .object("thumbnails/ZG6NWV/sample_stream/latest.jpg")
        .await;
    assert_eq!(latest.body, image);
    assert_eq!(latest.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(fixture.objects().await.len(), 2);

    let messages = fixture.messages().await;
    assert_eq!(messages.len(), 1);
    let announcement: serde_json::Value = serde_json::from_str(&messages[0].body).unwrap();
    assert_eq!(
        announcement,
        serde_json::json!({
            "type": "thumbnail", "event": "stored", "timestamp": 1638463486489i64,
            "data": {
                "streamId": "ZG6NWV/sample_stream", "feedId": "369e4a86-f937-4254-bd9f-99dc484d2bd6",
                "tokenId": "142366", "bucket": fixture.bucket, "key": key, "size": image.len(),
                "sha256": sha, "contentType": "image/jpeg"
            }
        })
    );
    assert_eq!(messages[0].attribute("type"), Some(("String", "thumbnail")));
    assert_eq!(messages[0].attribute("event"), Some(("String", "stored")));
    assert_eq!(
        messages[0].attribute("streamId"),
        Some(("String", "ZG6NWV/sample_stream"))
    );
}

#[tokio::test]
async fn replayed_thumbnail_is_a_duplicate_and_never_overwrites() {
    let fixture = Fixture::new(false).await;
    let relay = fixture.relay(&fixture.config(&[]));
    let image = thumbnail_jpeg();
    let first = relay
        .handle(thumbnail_request(&image, &THUMBNAIL_HEADERS, SECRET))
        .await;
    assert_eq!(status_and_body(&first).1["status"], "stored");
    let again = relay
        .handle(thumbnail_request(&image, &THUMBNAIL_HEADERS, SECRET))
        .await;
    assert_eq!(
        status_and_body(&again),
        (200, serde_json::json!({"status": "duplicate"}))
    );
    assert_eq!(fixture.objects().await.len(), 2, "the image and latest.jpg");
    assert_eq!(fixture.messages().await.len(), 1, "announced once");
}

/// The webhook that delivered a thumbnail, on the image and on `latest.jpg` (`webhook-id`): an
/// image two webhooks deliver keeps the first one's; a newer frame from another webhook makes
/// `latest.jpg` name that one; the secret held without id leaves none.
#[tokio::test]
async fn a_thumbnail_names_the_webhook_that_delivered_it() {
    let fixture = Fixture::new(false).await;
    let relay = fixture.relay_holding(&webhooks_secret()).await;
    let image = thumbnail_jpeg();
    let latest_key = "thumbnails/ZG6NWV/sample_stream/latest.jpg";
    let webhook_ids = async |key: &str| {
        let image = fixture
            .object(key)
            .await
            .metadata
            .get("webhook-id")
            .cloned();
        let latest = fixture
            .object(latest_key)
            .await
            .metadata
            .get("webhook-id")
            .cloned();
        (image, latest)
    };
    for (secret, status) in [(SECRET, "stored"), (PREVIOUS_SECRET, "duplicate")] {
        let answer = relay
            .handle(thumbnail_request(&image, &THUMBNAIL_HEADERS, secret))
            .await;
        assert_eq!(status_and_body(&answer).1["status"], status);
    }
    let key = format!(
        "thumbnails/ZG6NWV/sample_stream/1638463486489-{}.jpg",
        &sha256_hex(&image)[..16]
    );
    let first = Some(WEBHOOK.to_string());
    assert_eq!(webhook_ids(&key).await, (first.clone(), first));

    // A newer frame from the other webhook, then one verified by the secret held without id.
    let mut captured = 1_638_463_486_489;
    for (secret, expected) in [
        (PREVIOUS_SECRET, Some(OTHER_WEBHOOK.to_string())),
        (OTHER_SECRET, None),
    ] {
        captured += 30_000;
        let answer = relay
            .handle(thumbnail_at(
                "ZG6NWV/sample_stream",
                captured,
                &image,
                secret,
            ))
            .await;
        assert_eq!(status_and_body(&answer).1["status"], "stored");
        let key = format!(
            "thumbnails/ZG6NWV/sample_stream/{captured}-{}.jpg",
            &sha256_hex(&image)[..16]
        );
        assert_eq!(webhook_ids(&key).await, (expected.clone(), expected));
    }
}

/// A thumbnail of `stream` captured at `captured_ms`, signed with `secret`.
fn thumbnail_at(
    stream: &str,
    captured_ms: i64,
    image: &[u8],
    secret: &str,
) -> lambda_http::Request {
    let captured = captured_ms.to_string();
    let headers = [
        ("x-millicast-stream-id", stream),
        ("x-millicast-timestamp", captured.as_str()),
    ];
    thumbnail_request(image, &headers, secret)
}

#[tokio::test]
async fn latest_jpg_is_the_newest_capture_whatever_the_order_of_arrival() {
    let fixture = Fixture::new(false).await;
    let relay = fixture.relay(&fixture.config(&[]));
    // Late, out of order, a duplicate of the newest, and a replay of an old one.
    let mut newest = 0;
    for captured in [3_000, 1_000, 5_000, 2_000, 5_000, 4_000, 1_000] {
        let image = format!("image captured at {captured}");
        let answer = relay
            .handle(thumbnail_at("acct/cam", captured, image.as_bytes(), SECRET))
            .await;
        assert_eq!(status_and_body(&answer).0, 200);
        newest = newest.max(captured);
        let latest = fixture.object("thumbnails/acct/cam/latest.jpg").await;
        assert_eq!(
            String::from_utf8(latest.body).unwrap(),
            format!("image captured at {newest}"),
            "after {captured}"
        );
    }
    let latest = fixture.object("thumbnails/acct/cam/latest.jpg").await;
    assert_eq!(latest.body, b"image captured at 5000");
    assert_eq!(latest.metadata["timestamp"], "5000");
    // Every image is kept under its own key, each once.
    assert_eq!(fixture.objects_under("thumbnails/acct/cam/").await.len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_writing_at_once_agree_on_the_newest_latest_jpg() {
    let fixture = Fixture::new(false).await;
    let config = fixture.config(&[]);
    // Eight instances (relays with their own clients), 48 captures in a shuffled order.
    let relays: Vec<_> = (0..8)
        .map(|_| std::sync::Arc::new(fixture.relay(&config)))
        .collect();
    let mut captures: Vec<i64> = (1..=48).map(|n| n * 1_000).collect();
    captures.sort_by_key(|ts| (ts * 7919) % 48_000);
    let writers = captures.into_iter().enumerate().map(|(n, captured)| {
        let relay = relays[n % relays.len()].clone();
        tokio::spawn(async move {
            let image = format!("image captured at {captured}");
            let answer = relay
                .handle(thumbnail_at(
                    "acct/race",
                    captured,
                    image.as_bytes(),
                    SECRET,
                ))
                .await;
            status_and_body(&answer).0
        })
    });
    for writer in writers.collect::<Vec<_>>() {
        assert_eq!(writer.await.unwrap(), 200);
    }
    let latest = fixture.object("thumbnails/acct/race/latest.jpg").await;
    assert_eq!(latest.body, b"image captured at 48000");
    assert_eq!(
        fixture.objects_under("thumbnails/acct/race/").await.len(),
        49
    );
}

#[tokio::test]
async fn thumbnail_switches_turn_off_latest_and_announcement() {
    let fixture = Fixture::new(false).await;
    let relay = fixture.relay(&fixture.config(&[
        ("THUMBNAIL_LATEST", "false"),
        ("THUMBNAIL_EVENTS", "false"),
        ("THUMBNAIL_PREFIX", "img/"),
    ]));
    let image = thumbnail_jpeg();
    let (status, _) = status_and_body(
        &relay
            .handle(thumbnail_request(&image, &THUMBNAIL_HEADERS, SECRET))
            .await,
    );
    assert_eq!(status, 200);
    let keys: Vec<String> = fixture.objects().await.into_iter().map(|o| o.key).collect();
    assert_eq!(keys.len(), 1);
    assert!(
        keys[0].starts_with("img/ZG6NWV/sample_stream/1638463486489-"),
        "{keys:?}"
    );
    assert!(fixture.messages().await.is_empty());
}

#[tokio::test]
async fn hostile_thumbnail_headers_stay_inside_the_prefix() {
    let fixture = Fixture::new(false).await;
    let relay = fixture
        .relay(&fixture.config(&[("THUMBNAIL_EVENTS", "false"), ("THUMBNAIL_LATEST", "false")]));
    let image = thumbnail_jpeg();
    let cases = [
        ("../../etc", "not-a-number"),
        ("acct/../../x", "-1"),
        ("/absolute/path", "1e3"),
        ("acct/%2e%2e", ""),
        ("acct/stre\u{0430}m", "12"), // Cyrillic look-alike: not a valid header value, so absent
    ];
    for (n, (stream_id, timestamp)) in cases.iter().enumerate() {
        // Each image differs so that each gets its own key.
        let mut bytes = image.clone();
        bytes.extend_from_slice(&[n as u8]);
        let mut headers: Vec<(&str, &str)> = vec![("X-Millicast-Timestamp", timestamp)];
        if stream_id.is_ascii() {
            headers.push(("X-Millicast-Stream-Id", stream_id));
        }
        let (status, _) = status_and_body(
            &relay
                .handle(thumbnail_request(&bytes, &headers, SECRET))
                .await,
        );
        assert_eq!(status, 200, "{stream_id}");
    }
    let objects = fixture.objects().await;
    assert_eq!(objects.len(), cases.len());
    for object in objects {
        let rest = object
            .key
            .strip_prefix("thumbnails/")
            .expect("inside the prefix");
        let segments: Vec<&str> = rest.split('/').collect();
        assert_eq!(segments.len(), 3, "{}", object.key);
        assert!(
            segments
                .iter()
                .all(|s| !s.is_empty() && *s != "." && *s != ".."),
            "{}",
            object.key
        );
        assert!(
            segments[..2]
                .iter()
                .all(|s| *s == "_unknown" || *s == "acct"),
            "{}",
            object.key
        );
    }
}

#[tokio::test]
async fn rejected_requests_leave_s3_and_sqs_untouched() {
    let fixture = Fixture::new(false).await;
    let relay = fixture.relay(&fixture.config(&[("MAX_BODY_BYTES", "4096")]));
    let body = feeds_started(now_ms());
    let signature = sign(SECRET, body.as_bytes());
    let image = thumbnail_jpeg(); // 5.7 KB: over the 4 KB limit set here
    let small_image = &image[..1000];
    let text_key_signature = {
        // The classic bug: keyed with the base64 text instead of the decoded secret.
        use hmac::{KeyInit, Mac};
        let mut mac =
            <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        format!("sha1={}", hex::encode(mac.finalize().into_bytes()))
    };
    let json = ("content-type", "application/json");
    let cases: Vec<(&str, lambda_http::Request, u16, &str)> = vec![
        (
            "GET",
            function_url_request(
                "GET",
                &[json, ("x-millicast-signature", &signature)],
                b"",
                false,
            ),
            405,
            "method_not_allowed",
        ),
        (
            "PUT",
            function_url_request(
                "PUT",
                &[json, ("x-millicast-signature", &signature)],
                body.as_bytes(),
                false,
            ),
            405,
            "method_not_allowed",
        ),
        (
            "too large",
            thumbnail_request(&image, &THUMBNAIL_HEADERS, SECRET),
            413,
            "payload_too_large",
        ),
        (
            "no signature",
            function_url_request("POST", &[json], body.as_bytes(), false),
            401,
            "missing_signature",
        ),
        (
            "sha256",
            function_url_request(
                "POST",
                &[
                    json,
                    (
                        "x-millicast-signature",
                        &signature.replace("sha1=", "sha256="),
                    ),
                ],
                body.as_bytes(),
                false,
            ),
            401,
            "malformed_signature",
        ),
        (
            "39 digits",
            function_url_request(
                "POST",
                &[json, ("x-millicast-signature", &signature[..44])],
                body.as_bytes(),
                false,
            ),
            401,
            "malformed_signature",
        ),
        (
            "two headers",
            function_url_request(
                "POST",
                &[
                    json,
                    ("x-millicast-signature", &signature),
                    ("X-Millicast-Signature", &signature),
                ],
                body.as_bytes(),
                false,
            ),
            401,
            "malformed_signature",
        ),
        (
            "wrong secret",
            json_webhook(&body, OTHER_SECRET),
            401,
            "invalid_signature",
        ),
        (
            "base64 text as key",
            function_url_request(
                "POST",
                &[json, ("x-millicast-signature", &text_key_signature)],
                body.as_bytes(),
                false,
            ),
            401,
            "invalid_signature",
        ),
        (
            "body changed",
            function_url_request(
                "POST",
                &[json, ("x-millicast-signature", &signature)],
                body.replace("started", "STARTED").as_bytes(),
                false,
            ),
            401,
            "invalid_signature",
        ),
        (
            "unsigned image",
            function_url_request("POST", &[("content-type", "image/jpeg")], small_image, true),
            401,
            "missing_signature",
        ),
        (
            "image, wrong secret",
            thumbnail_request(small_image, &THUMBNAIL_HEADERS, OTHER_SECRET),
            401,
            "invalid_signature",
        ),
        (
            "array",
            json_webhook(r#"[{"type":"feeds"}]"#, SECRET),
            400,
            "malformed_event",
        ),
        (
            "no type",
            json_webhook(r#"{"event":"started"}"#, SECRET),
            400,
            "malformed_event",
        ),
        (
            "numeric type",
            json_webhook(r#"{"type":5}"#, SECRET),
            400,
            "malformed_event",
        ),
        (
            "not json",
            json_webhook("hello", SECRET),
            400,
            "malformed_event",
        ),
        ("empty", json_webhook("", SECRET), 400, "malformed_event"),
    ];
    for (name, request, status, code) in cases {
        let response = relay.handle(request).await;
        assert_eq!(
            status_and_body(&response),
            (status, serde_json::json!({ "error": code })),
            "{name}"
        );
        if status == 405 {
            assert_eq!(response.headers()["allow"], "POST");
        }
        // Only a well-formed signature that matches no secret is kept (in quarantine).
        let quarantined = usize::from(code == "invalid_signature");
        fixture.take_quarantined(name, quarantined).await;
    }
    fixture.assert_untouched("rejected requests").await;
}

#[tokio::test]
async fn oversize_event_goes_by_claim_check() {
    let fixture = Fixture::new(false).await;
    let relay = fixture.relay(&fixture.config(&[("SQS_MAX_MESSAGE_BYTES", "2048")]));
    let ts = now_ms();
    let body = format!(
        r#"{{"type":"media","event":"completed","timestamp":{ts},"data":{{"mediaAssetId":"e0ca","streamId":"dkxfvY/clip","metadata":{{"notes":"{}"}}}}}}"#,
        "x".repeat(4000)
    );
    let (status, response) = status_and_body(
        &relay
            .handle(invocation(json_webhook(&body, SECRET), "req-oversize"))
            .await,
    );
    assert_eq!(
        (status, response),
        (200, serde_json::json!({"status": "claim_checked"}))
    );

    let sha = sha256_hex(body.as_bytes());
    // Named by the delivery: two deliveries of one body are two objects.
    let key = "events/oversize/req-oversize.json".to_owned();
    let stored = fixture.object(&key).await;
    assert_eq!(stored.body, body.as_bytes());
    let messages = fixture.messages().await;
    assert_eq!(messages.len(), 1);
    let pointer: serde_json::Value = serde_json::from_str(&messages[0].body).unwrap();
    assert_eq!(
        pointer,
        serde_json::json!({"type": "media", "event": "completed", "timestamp": ts,
            "claimCheck": {"bucket": fixture.bucket, "key": key, "size": body.len(), "sha256": sha}})
    );
    assert_eq!(
        messages[0].attribute("claimCheck"),
        Some(("String", "true"))
    );
    assert_eq!(messages[0].attribute("type"), Some(("String", "media")));
    // The signature signs the body, so it stays with the body: on the S3 object, not on the
    // pointer; the idempotency key stays with both.
    assert_eq!(messages[0].attribute("signature"), None);
    assert_eq!(
        stored.metadata["signature"],
        sign(SECRET, body.as_bytes()).as_str()
    );
    assert_eq!(
        messages[0].attribute("idempotencyKey").unwrap().1,
        stored.metadata["idempotency-key"]
    );
}

#[tokio::test]
async fn sqs_down_spills_the_event_to_s3() {
    let fixture = Fixture::new(false).await;
    let config = fixture.config(&[]);
    let dead_sqs = sdk_config(&closed_port_endpoint()).await;
    let relay = fixture.relay_with(&config, &fixture.sdk, &dead_sqs);
    let ts = now_ms();
    let body = feeds_started(ts);
    let (status, response) = status_and_body(
        &relay
            .handle(invocation(json_webhook(&body, SECRET), "req-spill"))
            .await,
    );
    assert_eq!(
        (status, response),
        (200, serde_json::json!({"status": "spilled"}))
    );

    let objects = fixture.objects().await;
    assert_eq!(objects.len(), 1);
    let spilled = &objects[0];
    assert!(spilled.key.starts_with("undelivered/"), "{}", spilled.key);
    assert!(
        spilled.key.ends_with(&format!("/{ts}-req-spill.json")),
        "{}",
        spilled.key
    );
    assert_eq!(spilled.body, body.as_bytes());
    assert_eq!(
        spilled.metadata.get("signature"),
        Some(&sign(SECRET, body.as_bytes()))
    );
    assert!(
        spilled
            .metadata
            .get("error")
            .is_some_and(|e| e.contains("SendMessage")),
        "{:?}",
        spilled.metadata
    );
    assert!(fixture.messages().await.is_empty());
}

#[tokio::test]
async fn sqs_and_s3_down_is_a_500_without_details() {
    let fixture = Fixture::new(false).await;
    let config = fixture.config(&[]);
    let dead = sdk_config(&closed_port_endpoint()).await;
    let relay = fixture.relay_with(&config, &dead, &dead);
    let (status, response) = status_and_body(
        &relay
            .handle(json_webhook(&feeds_started(now_ms()), SECRET))
            .await,
    );
    assert_eq!(
        (status, response),
        (500, serde_json::json!({"error": "internal_error"}))
    );

    let image = thumbnail_jpeg();
    let (status, response) = status_and_body(
        &relay
            .handle(thumbnail_request(&image, &THUMBNAIL_HEADERS, SECRET))
            .await,
    );
    assert_eq!(
        (status, response),
        (500, serde_json::json!({"error": "internal_error"}))
    );
}

#[cfg(feature = "operator")]
#[tokio::test]
async fn a_spilled_claim_check_is_redriven_with_the_events_attributes() {
    let fixture = Fixture::new(true).await;
    let config = fixture.config(&[("SQS_MAX_MESSAGE_BYTES", "2048")]);
    let dead_sqs = sdk_config(&closed_port_endpoint()).await;
    let relay = fixture.relay_with(&config, &fixture.sdk, &dead_sqs);
    let ts = now_ms();
    let body = format!(
        r#"{{"type":"media","event":"completed","timestamp":{ts},"data":{{"streamName":"cam","streamId":"acct/cam","metadata":{{"notes":"{}"}}}}}}"#,
        "x".repeat(4000)
    );
    let answer = status_and_body(
        &relay
            .handle(invocation(json_webhook(&body, SECRET), "req-pointer"))
            .await,
    );
    assert_eq!(answer, (200, serde_json::json!({"status": "spilled"})));
    // Nothing about the stream is copied into the spill's metadata: redrive reads it from the
    // body the pointer names.
    let spill = &fixture.objects_under("undelivered/").await[0];
    assert!(
        !spill.metadata.contains_key("stream-id"),
        "{:?}",
        spill.metadata
    );

    let queue = millicast_webhook_relay::aws::sqs::SqsEventQueue::new(
        fixture.sqs.clone(),
        &fixture.queue_url,
    );
    let mut outcomes = Vec::new();
    millicast_webhook_relay::operator::redrive::redrive_bucket(
        &fixture.s3,
        &fixture.bucket,
        &queue,
        true,
        false,
        None,
        |key, outcome| outcomes.push((key.to_owned(), outcome.clone())),
    )
    .await
    .unwrap();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    let messages = fixture.messages().await;
    assert_eq!(messages.len(), 1);
    let pointer = &messages[0];
    assert!(pointer.body.contains("\"claimCheck\""), "{}", pointer.body);
    for (name, value) in [
        ("claimCheck", "true"),
        ("streamId", "acct/cam"),
        ("streamKey", "cam"),
        ("type", "media"),
    ] {
        assert_eq!(
            pointer.attribute(name).map(|(_, v)| v),
            Some(value),
            "{name}"
        );
    }
    assert_eq!(pointer.attribute("signature"), None);
    assert_eq!(pointer.group_id.as_deref(), Some("cam"));
    let key = pointer.attribute("idempotencyKey").unwrap().1;
    assert_eq!(pointer.deduplication_id.as_deref(), Some(key));
    let stored = fixture.object("events/oversize/req-pointer.json").await;
    assert_eq!(stored.body, body.as_bytes());
    assert_eq!(stored.metadata["idempotency-key"], key);
}
