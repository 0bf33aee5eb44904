//! Request handling, in the order of checks of docs/architecture.md:
//!
//! 1. method;
//! 2. size;
//! 3. signature — the secrets and their refresh live in `secrets`, what happens to a delivery
//!    that cannot be verified in `quarantine`;
//! 4. route;
//! 5. replay window;
//! 6. make it durable (`delivery`).
//!
//! Nothing but the quarantine is written before a signature verified. Steps 4–6 are
//! [`accept_verified`], which `relayctl quarantine replay` calls too. Every step runs within the
//! request's one [`Deadline`]; a verified delivery that is stale is kept in quarantine too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use lambda_http::http::{HeaderMap, HeaderValue, Method, header};
use lambda_http::tracing::warn;
use lambda_http::{Body, Request, RequestExt, Response};

use millicast_webhooks::{Envelope, SIGNATURE_HEADER, Signature, ThumbnailHeaders};

use crate::ports::{EventQueue, ObjectStore};
use crate::relay::clock::now_ms;
use crate::relay::config::Config;
use crate::relay::deadline::Deadline;
pub use crate::relay::delivery::Accepted;
use crate::relay::delivery::{Delivery, DeliveryRun};
use crate::relay::error::RelayError;
use crate::relay::keys::key_safe_id;
use crate::relay::message::{Provenance, idempotency_key, sha256_hex};
use crate::relay::metrics::{LogSink, Summary, emf_line, stdout_sink};
use crate::relay::quarantine::{
    Admission, DeliveryHeaders, QuarantineGate, QuarantineReason, Quarantined, keep,
};
use crate::relay::secrets::{SecretStore, WebhookId};

/// Which path a verified body takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Thumbnail,
    Event,
}

/// `image/*` bodies are thumbnails; everything else must be a JSON event.
pub fn route(content_type: Option<&str>) -> Route {
    let is_image = content_type
        .and_then(|value| value.split(';').next())
        .map(str::trim)
        .and_then(|media_type| {
            media_type
                .get(..6)
                .filter(|head| head.eq_ignore_ascii_case("image/"))
                .map(|_| media_type.len() > 6)
        })
        .unwrap_or(false);
    if is_image {
        Route::Thumbnail
    } else {
        Route::Event
    }
}

/// A delivery whose signature verified (just now, or when a quarantined one is replayed).
#[derive(Debug, Clone)]
pub struct VerifiedWebhook<'a> {
    pub body: Vec<u8>,
    pub headers: DeliveryHeaders<'a>,
    /// When the relay received it: the replay window is checked against it, it dates spills,
    /// stands in for a missing thumbnail timestamp and goes into the idempotency key.
    pub received_ms: i64,
    /// The webhook whose secret verified it, when the relay holds that secret under an id.
    pub webhook_id: Option<i64>,
    /// The delivery's id: the Lambda request id of the invocation that received it (kept with
    /// a quarantined delivery for its replay). It names the delivery's objects in S3 and goes
    /// into its idempotency key.
    pub delivery_id: String,
}

/// Where a verified delivery goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    Thumbnail,
    Event(Envelope),
}

/// Steps 4 and 5 for a verified delivery, without I/O: the path it takes, or why it takes none
/// (`relayctl quarantine replay --dry-run` stops here).
pub fn plan(
    webhook: &VerifiedWebhook<'_>,
    replay_window_seconds: u64,
    summary: &mut Summary,
) -> Result<Planned, RelayError> {
    // 4. Route: images are thumbnails; everything else must be a JSON event envelope.
    if route(webhook.headers.content_type) == Route::Thumbnail {
        return Ok(Planned::Thumbnail);
    }
    let envelope = Envelope::parse(&webhook.body).map_err(|_| {
        summary.sha256 = Some(sha256_hex(&webhook.body));
        RelayError::MalformedEvent
    })?;
    summary.kind = Some(envelope.kind.clone());
    summary.event.clone_from(&envelope.event);
    // 5. Replay window, against the time the relay received it.
    if !envelope.is_fresh(webhook.received_ms, replay_window_seconds) {
        return Err(RelayError::StaleTimestamp);
    }
    Ok(Planned::Event(envelope))
}

/// Steps 4–6 for a verified delivery: route it, check the replay window (events), and make it
/// durable before answering, within `deadline`. The Lambda and `relayctl quarantine replay`
/// both come through here.
pub async fn accept_verified<S: ObjectStore, Q: EventQueue>(
    delivery: &Delivery<S, Q>,
    webhook: VerifiedWebhook<'_>,
    summary: &mut Summary,
    request_id: &str,
    deadline: &Deadline,
) -> Result<Accepted, RelayError> {
    let planned = plan(&webhook, delivery.settings().replay_window_seconds, summary)?;
    deliver_planned(delivery, webhook, planned, summary, request_id, deadline).await
}

/// Step 6 for a verified delivery whose path [`plan`] chose.
pub async fn deliver_planned<S: ObjectStore, Q: EventQueue>(
    delivery: &Delivery<S, Q>,
    webhook: VerifiedWebhook<'_>,
    planned: Planned,
    summary: &mut Summary,
    request_id: &str,
    deadline: &Deadline,
) -> Result<Accepted, RelayError> {
    let VerifiedWebhook {
        body,
        headers,
        received_ms,
        webhook_id,
        delivery_id,
    } = webhook;
    let run = DeliveryRun {
        delivery_id: &delivery_id,
        received_ms,
        request_id,
        deadline: *deadline,
    };
    // 6. Durable before the answer.
    match planned {
        Planned::Thumbnail => {
            delivery
                .store_thumbnail(
                    &headers.thumbnail,
                    headers.content_type,
                    body,
                    webhook_id,
                    &run,
                    summary,
                )
                .await
        }
        Planned::Event(envelope) => {
            let provenance = Provenance {
                signature: Some(headers.signature.to_owned()),
                webhook_id,
                idempotency_key: idempotency_key(
                    webhook_id,
                    received_ms,
                    &sha256_hex(&body),
                    &delivery_id,
                ),
            };
            // JSON parsing has validated the bytes as UTF-8.
            let body = String::from_utf8(body).map_err(|_| RelayError::MalformedEvent)?;
            delivery
                .forward_event(&envelope, body, &provenance, &run, summary)
                .await
        }
    }
}

/// The id of a delivery received by the invocation `request_id`: that id, made safe for keys;
/// outside Lambda (no request id: tests, benches) one unique in this process.
pub fn delivery_id_for(request_id: &str, received_ms: i64) -> String {
    let id = key_safe_id(request_id);
    if !id.is_empty() {
        return id;
    }
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "local-{received_ms:x}-{:x}-{:x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn body_bytes(body: Body) -> Vec<u8> {
    match body {
        Body::Empty => Vec::new(),
        Body::Text(text) => text.into_bytes(),
        Body::Binary(bytes) => bytes,
        other => other.to_vec(),
    }
}

/// The one `X-Millicast-Signature` header and its parsed value.
fn signature_of(headers: &HeaderMap) -> Result<(&HeaderValue, Signature), RelayError> {
    let mut signatures = headers.get_all(SIGNATURE_HEADER).iter();
    let header = signatures.next().ok_or(RelayError::MissingSignature)?;
    if signatures.next().is_some() {
        // Two signature headers: which one is meant is ambiguous.
        return Err(RelayError::MalformedSignature);
    }
    Ok((header, Signature::parse(header.as_bytes())?))
}

/// The webhook a request's path names: `/w/{id}` (a webhook registered at its own path, so
/// that only its secrets are tried). Any other path names none.
pub fn webhook_named_by_path(path: &str) -> Option<WebhookId> {
    let id = path.trim_end_matches('/').strip_prefix("/w/")?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok()
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The webhook relay: verifies, routes and makes durable; keeps what it cannot verify.
pub struct Relay<S, Q> {
    secrets: SecretStore,
    quarantine: QuarantineGate,
    delivery: Delivery<S, Q>,
    max_body_bytes: usize,
    function_name: String,
    log: LogSink,
}

impl<S, Q> std::fmt::Debug for Relay<S, Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("secrets", &self.secrets)
            .field("quarantine", &self.quarantine)
            .field("delivery", &self.delivery)
            .finish_non_exhaustive()
    }
}

impl<S: ObjectStore, Q: EventQueue> Relay<S, Q> {
    /// The relay for `config`, verifying with `secrets` (see [`SecretStore`]).
    pub fn new(config: &Config, secrets: SecretStore, store: S, queue: Q) -> Self {
        Self {
            secrets,
            quarantine: QuarantineGate::new(config.quarantine.clone()),
            delivery: Delivery::new(config.paths.clone(), store, queue),
            max_body_bytes: config.max_body_bytes,
            function_name: config.function_name.clone(),
            log: stdout_sink(),
        }
    }

    /// Puts a copy of every queue message on `bus` too (the optional event bus output).
    pub fn with_bus(mut self, bus: std::sync::Arc<dyn crate::ports::EventBus>) -> Self {
        self.delivery = self.delivery.with_bus(bus);
        self
    }

    /// Sends the log records somewhere else than standard output (tests capture them).
    pub fn with_log_sink(mut self, sink: LogSink) -> Self {
        self.delivery = self.delivery.with_log_sink(sink.clone());
        self.log = sink;
        self
    }

    pub fn store(&self) -> &S {
        self.delivery.store()
    }

    pub fn queue(&self) -> &Q {
        self.delivery.queue()
    }

    pub fn secrets(&self) -> &SecretStore {
        &self.secrets
    }

    /// Handles one function-URL request; always answers (errors become their status codes)
    /// and writes one log record with the outcome and the request's metrics.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let received_ms = now_ms();
        let context = request.lambda_context_ref();
        let request_id = context
            .map(|context| context.request_id.clone())
            .unwrap_or_default();
        let deadline =
            Deadline::for_invocation(context.map(|context| context.deadline), received_ms);
        let run = DeliveryRun {
            delivery_id: &delivery_id_for(&request_id, received_ms),
            received_ms,
            request_id: &request_id,
            deadline,
        };
        let mut summary = Summary::default();
        let result = self.process(request, &run, &mut summary).await;
        let (status, outcome, response) = match &result {
            Ok(accepted) => (200, accepted.status_word(), accepted.to_response()),
            Err(rejection) => (
                rejection.status().as_u16(),
                rejection.code(),
                rejection.to_response(),
            ),
        };
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let record = summary.record(status, outcome, latency_ms, &request_id);
        (self.log)(&emf_line(&record, &self.function_name, now_ms()));
        if let Err(error @ (RelayError::ThumbnailNotStored(_) | RelayError::EventNotDelivered(_))) =
            &result
        {
            warn!(cause = %error, "webhook failed");
        }
        response
    }

    async fn process(
        &self,
        request: Request,
        run: &DeliveryRun<'_>,
        summary: &mut Summary,
    ) -> Result<Accepted, RelayError> {
        let (parts, body) = request.into_parts();
        // 1. Method.
        if parts.method != Method::POST {
            return Err(RelayError::MethodNotAllowed);
        }
        // 2. Size.
        let body = body_bytes(body);
        summary.size = body.len();
        if body.len() > self.max_body_bytes {
            return Err(RelayError::PayloadTooLarge {
                size: body.len(),
                limit: self.max_body_bytes,
            });
        }

        // 3. Signature: present, well-formed, and made with a secret we know. A rejected body is
        // logged by its hash (never its bytes), to tell a replay from a new forgery.
        let (signature_header, signature) = match signature_of(&parts.headers) {
            Ok(found) => found,
            Err(error) => {
                summary.sha256 = Some(sha256_hex(&body));
                return Err(error);
            }
        };
        let mut headers = DeliveryHeaders {
            // A parsed signature is `sha1=` + hex: valid text.
            signature: signature_header.to_str().unwrap_or_default().trim(),
            webhook_id: webhook_named_by_path(parts.uri.path()),
            content_type: header_str(&parts.headers, header::CONTENT_TYPE.as_str()),
            thumbnail: ThumbnailHeaders::from_lookup(|name| header_str(&parts.headers, name)),
        };
        let verification = self
            .secrets
            .verify_within(&body, &signature, headers.webhook_id, &run.deadline)
            .await;
        summary.secret_refreshed = verification.refreshed;
        let matched = match verification.result {
            Ok(matched) => matched,
            Err(error) => {
                // Signed with a secret we do not know (yet), or no secret is readable: keep it
                // for `relayctl quarantine replay`, never forward it.
                let reason = match error {
                    RelayError::SecretUnavailable => QuarantineReason::SecretUnavailable,
                    _ => QuarantineReason::InvalidSignature,
                };
                let sha256 = sha256_hex(&body);
                self.keep(body, &sha256, &headers, reason, run, summary)
                    .await;
                summary.sha256 = Some(sha256);
                return Err(error);
            }
        };
        summary.secret = Some(matched.secret);
        summary.webhook_id = matched.webhook_id;

        // 4–5. A verified event outside the replay window is kept too (the platform never
        // sends it again; it may have delivered late): `quarantine replay --accept-stale`.
        let webhook = VerifiedWebhook {
            body,
            headers: headers.clone(),
            received_ms: run.received_ms,
            webhook_id: matched.webhook_id,
            delivery_id: run.delivery_id.to_owned(),
        };
        let planned = match plan(
            &webhook,
            self.delivery.settings().replay_window_seconds,
            summary,
        ) {
            Err(RelayError::StaleTimestamp) => {
                headers.webhook_id = matched.webhook_id.or(headers.webhook_id);
                let sha256 = sha256_hex(&webhook.body);
                self.keep(
                    webhook.body,
                    &sha256,
                    &headers,
                    QuarantineReason::Stale,
                    run,
                    summary,
                )
                .await;
                return Err(RelayError::StaleTimestamp);
            }
            other => other?,
        };
        // 6.
        deliver_planned(
            &self.delivery,
            webhook,
            planned,
            summary,
            run.request_id,
            &run.deadline,
        )
        .await
    }

    async fn keep(
        &self,
        body: Vec<u8>,
        sha256: &str,
        headers: &DeliveryHeaders<'_>,
        reason: QuarantineReason,
        run: &DeliveryRun<'_>,
        summary: &mut Summary,
    ) {
        let size = body.len();
        match keep(
            self.delivery.store(),
            &self.quarantine,
            Bytes::from(body),
            sha256,
            headers,
            reason,
            run,
        )
        .await
        {
            Quarantined::Kept(key) => summary.quarantine_key = Some(key),
            Quarantined::NotAdmitted(admission) => {
                if admission != Admission::Disabled {
                    summary.quarantine_dropped = Some(admission.as_str());
                }
            }
            Quarantined::NotStored(cause) => {
                // Its body is not logged (unverified, or a stale copy), only what identifies it.
                warn!(
                    cause,
                    sha256, size, "quarantine write failed: delivery not kept"
                );
                summary.quarantine_dropped = Some("store_failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_route_to_the_thumbnail_path() {
        for content_type in [
            "image/jpeg",
            "IMAGE/JPEG",
            "image/png; q=1",
            " image/webp ",
            "Image/Jpeg;charset=x",
        ] {
            assert_eq!(
                route(Some(content_type)),
                Route::Thumbnail,
                "{content_type}"
            );
        }
    }

    #[test]
    fn everything_else_routes_to_the_event_path() {
        for content_type in [
            None,
            Some("application/json"),
            Some("text/plain"),
            Some("image/"),
            Some("image"),
            Some("imagex/jpeg"),
            Some("application/image/jpeg"),
            Some(""),
        ] {
            assert_eq!(route(content_type), Route::Event, "{content_type:?}");
        }
    }
}
