//! What the relay keeps of a delivery it could not verify (docs/architecture.md, "Quarantine and
//! replay").
//!
//! The platform switches to a renewed secret at once and never retries, so a delivery signed
//! with a secret the relay does not know yet is kept — never forwarded — until
//! `relayctl quarantine replay` can verify it:
//! - only deliveries with a well-formed signature that matches no known secret
//!   (`invalid_signature`), that arrive while no secret can be read (`secret_unavailable`), or
//!   verified events outside the replay window (`stale`: a platform may deliver late, and never
//!   delivers again);
//! - at `quarantine/{yyyy}/{mm}/{dd}/{receivedMs}-{sha256 of body}-{deliveryId}`, one object per
//!   delivery: the raw body, with user metadata `signature`, `content-type`, `stream-id`,
//!   `feed-id`, `token-id`, `timestamp` (the request's headers, those present and fit for S3
//!   metadata), `reason`, `received`, `webhook-id` and `delivery-id`;
//! - bounded: bodies up to `QUARANTINE_MAX_BYTES`, at most `QUARANTINE_PER_MINUTE` objects per
//!   instance and calendar minute; a lifecycle rule (template.yaml) expires them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;

use crate::ports::{IoError, ObjectPut, ObjectStore, PutCondition};
use crate::relay::clock::date_path;
use crate::relay::config::QuarantineConfig;
use crate::relay::delivery::DeliveryRun;
use crate::relay::thumbnail::clean_value;
use millicast_webhooks::ThumbnailHeaders;

/// Prefix under which `relayctl quarantine list|replay` finds kept deliveries.
pub const QUARANTINE_PREFIX: &str = "quarantine/";

/// Why a delivery was kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuarantineReason {
    /// No known secret matches its signature (after any refresh).
    InvalidSignature,
    /// No secret could be read at all.
    SecretUnavailable,
    /// Verified, but an event outside the replay window.
    Stale,
}

impl QuarantineReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidSignature => "invalid_signature",
            Self::SecretUnavailable => "secret_unavailable",
            Self::Stale => "stale",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "invalid_signature" => Some(Self::InvalidSignature),
            "secret_unavailable" => Some(Self::SecretUnavailable),
            "stale" => Some(Self::Stale),
            _ => None,
        }
    }
}

/// `quarantine/{yyyy}/{mm}/{dd}/{receivedMs}-{sha256}-{deliveryId}`, dated by the receive time:
/// two deliveries of one body (two webhooks sending the same event) are two objects.
pub fn quarantine_key(received_ms: i64, sha256_hex: &str, delivery_id: &str) -> String {
    format!(
        "{QUARANTINE_PREFIX}{}/{received_ms}-{sha256_hex}-{delivery_id}",
        date_path(received_ms)
    )
}

/// The headers of a delivery that are kept with it (as received; unsigned, untrusted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryHeaders<'a> {
    /// The `X-Millicast-Signature` value (well-formed, or nothing is kept).
    pub signature: &'a str,
    /// The webhook the request's path names (`/w/{id}`; claimed, not verified), or, for a
    /// stale delivery, the webhook whose secret verified it.
    pub webhook_id: Option<i64>,
    pub content_type: Option<&'a str>,
    pub thumbnail: ThumbnailHeaders<'a>,
}

/// The object that keeps one delivery (`sha256_hex`: of the body). Header values that are not
/// printable ASCII or are longer than S3 metadata should carry are left out.
pub fn quarantine_object(
    body: Bytes,
    sha256_hex: &str,
    headers: &DeliveryHeaders<'_>,
    reason: QuarantineReason,
    received_ms: i64,
    delivery_id: &str,
) -> ObjectPut {
    let metadata = [
        ("signature", Some(headers.signature)),
        ("content-type", headers.content_type),
        ("stream-id", headers.thumbnail.stream_id),
        ("feed-id", headers.thumbnail.feed_id),
        ("token-id", headers.thumbnail.token_id),
        ("timestamp", headers.thumbnail.timestamp),
    ]
    .into_iter()
    .filter_map(|(name, value)| clean_value(value.map(str::trim)).map(|v| (name, v.to_owned())))
    .chain([
        ("reason", reason.as_str().to_owned()),
        ("received", received_ms.to_string()),
    ])
    .chain(headers.webhook_id.map(|id| ("webhook-id", id.to_string())))
    .chain((!delivery_id.is_empty()).then(|| ("delivery-id", delivery_id.to_owned())))
    .collect();
    ObjectPut {
        key: quarantine_key(received_ms, sha256_hex, delivery_id),
        body,
        // Never served as what the unsigned header claims.
        content_type: "application/octet-stream".into(),
        metadata,
        condition: PutCondition::IfAbsent,
    }
}

/// A kept delivery read back from its object (for replay and listing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptDelivery {
    pub signature: Option<String>,
    pub content_type: Option<String>,
    pub stream_id: Option<String>,
    pub feed_id: Option<String>,
    pub token_id: Option<String>,
    pub timestamp: Option<String>,
    pub reason: Option<QuarantineReason>,
    /// Epoch ms the relay received it (from the metadata, else from the key).
    pub received_ms: Option<i64>,
    /// The webhook its request's path named (claimed, not verified).
    pub webhook_id: Option<i64>,
    /// The delivery's id (`""` for one kept before delivery ids existed).
    pub delivery_id: String,
}

impl KeptDelivery {
    /// Reads the user metadata of a quarantine object (S3 gives the names in lower case).
    pub fn from_metadata(key: &str, metadata: &HashMap<String, String>) -> Self {
        let get = |name: &str| metadata.get(name).cloned();
        Self {
            signature: get("signature"),
            content_type: get("content-type"),
            stream_id: get("stream-id"),
            feed_id: get("feed-id"),
            token_id: get("token-id"),
            timestamp: get("timestamp"),
            reason: metadata
                .get("reason")
                .and_then(|reason| QuarantineReason::parse(reason)),
            received_ms: metadata
                .get("received")
                .and_then(|ms| ms.parse().ok())
                .or_else(|| received_ms_from_key(key)),
            webhook_id: metadata.get("webhook-id").and_then(|id| id.parse().ok()),
            delivery_id: metadata.get("delivery-id").cloned().unwrap_or_default(),
        }
    }

    /// The delivery's headers, as the relay saw them.
    pub fn headers(&self) -> DeliveryHeaders<'_> {
        DeliveryHeaders {
            signature: self.signature.as_deref().unwrap_or_default(),
            webhook_id: self.webhook_id,
            content_type: self.content_type.as_deref(),
            thumbnail: ThumbnailHeaders {
                stream_id: self.stream_id.as_deref(),
                feed_id: self.feed_id.as_deref(),
                token_id: self.token_id.as_deref(),
                timestamp: self.timestamp.as_deref(),
            },
        }
    }
}

/// The `{receivedMs}` of a `quarantine/…/{receivedMs}-{sha256}` key (listing filters by it
/// without reading each object).
pub fn received_ms_from_key(key: &str) -> Option<i64> {
    let name = key.strip_prefix(QUARANTINE_PREFIX)?.rsplit('/').next()?;
    name.split_once('-')?.0.parse().ok()
}

/// Whether one more delivery may be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// `QUARANTINE=false`.
    Disabled,
    /// Body over `QUARANTINE_MAX_BYTES`.
    TooLarge,
    /// `QUARANTINE_PER_MINUTE` objects already kept this minute by this instance.
    RateLimited,
}

impl Admission {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admitted => "admitted",
            Self::Disabled => "disabled",
            Self::TooLarge => "too_large",
            Self::RateLimited => "rate_limited",
        }
    }
}

/// The size and rate bounds of one instance's quarantine.
#[derive(Debug)]
pub struct QuarantineGate {
    config: QuarantineConfig,
    /// (calendar minute since the epoch, objects admitted in it)
    window: Mutex<(i64, u32)>,
}

impl QuarantineGate {
    pub fn new(config: QuarantineConfig) -> Self {
        Self {
            config,
            window: Mutex::new((i64::MIN, 0)),
        }
    }

    /// Admits a body of `size` bytes at `now_ms`, counting it against this minute's cap.
    pub fn admit(&self, size: usize, now_ms: i64) -> Admission {
        if !self.config.enabled {
            return Admission::Disabled;
        }
        if size > self.config.max_bytes {
            return Admission::TooLarge;
        }
        let minute = now_ms.div_euclid(60_000);
        let mut window = match self.window.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if window.0 != minute {
            *window = (minute, 0);
        }
        if window.1 >= self.config.per_minute {
            return Admission::RateLimited;
        }
        window.1 += 1;
        Admission::Admitted
    }
}

/// What happened to a delivery that qualified for quarantine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quarantined {
    /// Kept at this key.
    Kept(String),
    /// Not kept: disabled, too large or over the rate.
    NotAdmitted(Admission),
    /// The write failed (the delivery is lost; its hash and size are logged).
    NotStored(String),
}

/// Keeps `body` (whose hash is `sha256_hex`) if the gate admits it, within the delivery's
/// deadline.
pub async fn keep<S: ObjectStore>(
    store: &S,
    gate: &QuarantineGate,
    body: Bytes,
    sha256_hex: &str,
    headers: &DeliveryHeaders<'_>,
    reason: QuarantineReason,
    run: &DeliveryRun<'_>,
) -> Quarantined {
    match gate.admit(body.len(), run.received_ms) {
        Admission::Admitted => {}
        refused => return Quarantined::NotAdmitted(refused),
    }
    let object = quarantine_object(
        body,
        sha256_hex,
        headers,
        reason,
        run.received_ms,
        run.delivery_id,
    );
    let key = object.key.clone();
    let write = run.deadline.run(
        "s3 PutObject (quarantine)",
        Duration::ZERO,
        store.put(object),
    );
    match write.await {
        Ok(_) => Quarantined::Kept(key),
        Err(IoError(cause)) => Quarantined::NotStored(cause),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// `quarantine_object` with the body's hash computed here.
    fn object(
        body: &'static [u8],
        headers: &DeliveryHeaders<'_>,
        reason: QuarantineReason,
        received_ms: i64,
    ) -> ObjectPut {
        let sha256 = hex::encode(Sha256::digest(body));
        quarantine_object(
            Bytes::from_static(body),
            &sha256,
            headers,
            reason,
            received_ms,
            "req-1",
        )
    }

    const RECEIVED: i64 = 1_638_463_486_489; // 2021-12-02T16:44:46.489Z (GNU date)

    fn config(per_minute: u32, max_bytes: usize) -> QuarantineConfig {
        QuarantineConfig {
            enabled: true,
            max_bytes,
            per_minute,
        }
    }

    #[test]
    fn key_is_dated_by_receive_time_and_named_by_content_and_delivery() {
        // sha256("body") from `printf body | sha256sum`.
        let object = object(
            b"body",
            &DeliveryHeaders {
                signature: "sha1=00",
                webhook_id: None,
                ..Default::default()
            },
            QuarantineReason::InvalidSignature,
            RECEIVED,
        );
        assert_eq!(
            object.key,
            "quarantine/2021/12/02/1638463486489-230d8358dc8e8890b4c58deeb62912ee2f20357ae92a5cc861b98e68fe31acb5-req-1"
        );
        assert_eq!(
            object.metadata.last(),
            Some(&("delivery-id", "req-1".to_owned()))
        );
        assert_eq!(received_ms_from_key(&object.key), Some(RECEIVED));
        assert_eq!(object.condition, PutCondition::IfAbsent);
        assert_eq!(object.content_type, "application/octet-stream");
    }

    #[test]
    fn metadata_keeps_the_headers_present_and_why() {
        let headers = DeliveryHeaders {
            signature: "sha1=dfde8e23a8c06e6c522a67d50fe7412283f653f9",
            webhook_id: None,
            content_type: Some("image/jpeg"),
            thumbnail: ThumbnailHeaders {
                stream_id: Some("ABC123/myStream"),
                feed_id: Some("feed-1"),
                token_id: None,
                timestamp: Some("1638463486000"),
            },
        };
        let object = object(
            b"\xff\xd8",
            &headers,
            QuarantineReason::SecretUnavailable,
            RECEIVED,
        );
        let metadata: HashMap<String, String> = object
            .metadata
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        assert_eq!(
            metadata,
            HashMap::from([
                ("signature".into(), headers.signature.into()),
                ("content-type".into(), "image/jpeg".into()),
                ("stream-id".into(), "ABC123/myStream".into()),
                ("feed-id".into(), "feed-1".into()),
                ("timestamp".into(), "1638463486000".into()),
                ("reason".into(), "secret_unavailable".into()),
                ("received".into(), RECEIVED.to_string()),
                ("delivery-id".into(), "req-1".into()),
            ])
        );
        // Read back, the kept delivery gives the same headers.
        let kept = KeptDelivery::from_metadata(&object.key, &metadata);
        assert_eq!(kept.headers(), headers);
        assert_eq!(kept.reason, Some(QuarantineReason::SecretUnavailable));
        assert_eq!(kept.received_ms, Some(RECEIVED));
        assert_eq!(kept.delivery_id, "req-1");
    }

    #[test]
    fn hostile_headers_never_reach_metadata_or_the_key() {
        let long = "a".repeat(10_000);
        for hostile in [
            "../../etc/passwd\u{0}",
            "line\r\nx-amz-meta-evil: 1",
            "caf\u{e9}",
            "\u{202e}gpj.exe",
            long.as_str(),
            "",
        ] {
            let headers = DeliveryHeaders {
                signature: "sha1=00",
                webhook_id: None,
                content_type: Some(hostile),
                thumbnail: ThumbnailHeaders {
                    stream_id: Some(hostile),
                    feed_id: Some(hostile),
                    token_id: Some(hostile),
                    timestamp: Some(hostile),
                },
            };
            let object = object(b"x", &headers, QuarantineReason::InvalidSignature, RECEIVED);
            let names: Vec<&str> = object.metadata.iter().map(|(name, _)| *name).collect();
            assert_eq!(
                names,
                ["signature", "reason", "received", "delivery-id"],
                "{hostile:?}"
            );
            assert!(
                object
                    .key
                    .starts_with("quarantine/2021/12/02/1638463486489-")
            );
            assert_eq!(
                object.key.len(),
                "quarantine/2021/12/02/1638463486489-".len() + 64 + "-req-1".len()
            );
        }
        // Path-like but printable values are kept as metadata (never as key parts).
        let headers = DeliveryHeaders {
            signature: "sha1=00",
            webhook_id: None,
            thumbnail: ThumbnailHeaders {
                stream_id: Some("../../x"),
                ..Default::default()
            },
            ..Default::default()
        };
        let object = object(b"", &headers, QuarantineReason::InvalidSignature, RECEIVED);
        assert!(object.metadata.contains(&("stream-id", "../../x".into())));
        assert!(!object.key.contains(".."));
    }

    #[test]
    fn a_key_without_metadata_still_gives_its_receive_time() {
        let kept =
            KeptDelivery::from_metadata("quarantine/2021/12/02/1638463486489-abc", &HashMap::new());
        assert_eq!(kept.received_ms, Some(RECEIVED));
        assert_eq!(
            received_ms_from_key("undelivered/2021/12/02/5-abc.json"),
            None
        );
        assert_eq!(received_ms_from_key("quarantine/x/y"), None);
    }

    #[test]
    fn the_gate_caps_each_minute() {
        let gate = QuarantineGate::new(config(3, 100));
        let minute = 60_000 * 28_000_000;
        let admitted: Vec<Admission> = (0..5).map(|i| gate.admit(10, minute + i)).collect();
        assert_eq!(
            admitted,
            [
                Admission::Admitted,
                Admission::Admitted,
                Admission::Admitted,
                Admission::RateLimited,
                Admission::RateLimited
            ]
        );
        // The next minute starts afresh.
        assert_eq!(gate.admit(10, minute + 60_000), Admission::Admitted);
    }

    #[test]
    fn the_gate_refuses_large_bodies_without_counting_them() {
        let gate = QuarantineGate::new(config(1, 100));
        assert_eq!(gate.admit(101, 0), Admission::TooLarge);
        assert_eq!(gate.admit(100, 0), Admission::Admitted);
        assert_eq!(gate.admit(1, 0), Admission::RateLimited);
    }

    #[test]
    fn a_disabled_quarantine_keeps_nothing() {
        let gate = QuarantineGate::new(QuarantineConfig {
            enabled: false,
            ..config(10, 10)
        });
        assert_eq!(gate.admit(1, 0), Admission::Disabled);
    }
}
