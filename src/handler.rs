//! Request handling: the order of checks of DESIGN.md and the two paths (thumbnail, event).
//!
//! Nothing touches the store or the queue before the signature is verified.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use lambda_http::http::{HeaderMap, Method, StatusCode, header};
use lambda_http::tracing::warn;
use lambda_http::{Body, Request, RequestExt, Response};
use sha2::{Digest, Sha256};

use crate::clock::now_ms;
use crate::config::Config;
use crate::error::{RelayError, json_response};
use crate::event::Envelope;
use crate::keys::{claim_check_key, undelivered_key};
use crate::message::{ClaimCheck, QueueMessage, sqs_accepts_body};
use crate::metrics::{RequestRecord, emf_line};
use crate::signature::{SIGNATURE_HEADER, SecretUsed, Signature, SignatureVerifier};
use crate::store::{EventQueue, IoError, ObjectPut, ObjectStore, PutOutcome};
use crate::thumbnail::{
    FEED_ID_HEADER, STREAM_ID_HEADER, TIMESTAMP_HEADER, TOKEN_ID_HEADER, ThumbnailHeaders,
    ThumbnailPlan,
};

/// What a verified request became.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// The event is on the queue.
    Forwarded,
    /// The body is in S3 and a pointer to it is on the queue.
    ClaimChecked,
    /// SQS failed; the event is in S3 under `undelivered/` for `relayctl redrive`.
    Spilled,
    /// The thumbnail is in S3.
    Stored,
    /// The same thumbnail (same key, hence same bytes) was already stored.
    Duplicate,
}

impl Accepted {
    pub fn status_word(self) -> &'static str {
        match self {
            Self::Forwarded => "forwarded",
            Self::ClaimChecked => "claim_checked",
            Self::Spilled => "spilled",
            Self::Stored => "stored",
            Self::Duplicate => "duplicate",
        }
    }

    fn to_response(self) -> Response<Body> {
        json_response(
            StatusCode::OK,
            format!(r#"{{"status":"{}"}}"#, self.status_word()),
        )
    }
}

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

/// The Content-Type an image is stored with. The header is not signed, so only plain raster
/// types are kept (an `image/svg+xml` label could make a replayed body active content).
pub fn stored_content_type(header: Option<&str>) -> String {
    const RASTER: [&str; 5] = [
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/gif",
        "image/avif",
    ];
    let media_type = header
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if RASTER.contains(&media_type.as_str()) {
        media_type
    } else {
        "application/octet-stream".to_owned()
    }
}

/// The settings request handling needs, taken from [`Config`] at init.
#[derive(Debug, Clone)]
struct Settings {
    thumbnail_prefix: String,
    thumbnail_latest: bool,
    thumbnail_events: bool,
    replay_window_seconds: u64,
    max_body_bytes: usize,
    sqs_max_message_bytes: usize,
    fifo: bool,
    function_name: String,
}

/// What the log line of a request reports besides its outcome.
#[derive(Debug, Default)]
struct Summary {
    kind: Option<String>,
    event: Option<String>,
    size: usize,
    secret: Option<SecretUsed>,
    /// Content hash of a body that could not be parsed (the body itself is never logged).
    sha256: Option<String>,
    key: Option<String>,
}

/// Where the relay writes its JSON log records (one per request, plus one per lost event).
pub type LogSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Writes each record as a line on standard output, where Lambda collects it.
pub fn stdout_sink() -> LogSink {
    Arc::new(|line: &str| {
        // A closed stdout must not fail the request: the event is already durable.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    })
}

/// The webhook relay: verifies, routes and makes durable.
pub struct Relay<S, Q> {
    verifier: SignatureVerifier,
    settings: Settings,
    store: S,
    queue: Q,
    log: LogSink,
}

impl<S, Q> std::fmt::Debug for Relay<S, Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("verifier", &self.verifier)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn body_bytes(body: Body) -> Vec<u8> {
    match body {
        Body::Empty => Vec::new(),
        Body::Text(text) => text.into_bytes(),
        Body::Binary(bytes) => bytes,
        other => other.to_vec(),
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Printable ASCII, bounded: fit for S3 metadata.
fn metadata_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(512)
        .collect()
}

/// The ERROR record of an event that neither SQS nor S3 accepted: it carries the whole body,
/// its attributes and the signature, so the event can be recovered from the logs.
pub fn lost_event_line(
    message: &QueueMessage,
    request_id: &str,
    errors: &[(&str, &str)],
) -> String {
    let attributes: serde_json::Map<String, serde_json::Value> = message
        .attributes
        .iter()
        .map(|(name, value)| {
            let text = match value {
                crate::message::AttributeValue::String(v)
                | crate::message::AttributeValue::Number(v) => v,
            };
            ((*name).to_owned(), text.clone().into())
        })
        .collect();
    let mut line = serde_json::json!({
        "level": "ERROR",
        "message": "event lost: neither SQS nor S3 accepted it; recover it from this record",
        "requestId": request_id,
        "body": message.body,
        "attributes": attributes,
    });
    for (name, error) in errors {
        line[*name] = (*error).into();
    }
    line.to_string()
}

impl<S: ObjectStore, Q: EventQueue> Relay<S, Q> {
    pub fn new(config: &Config, store: S, queue: Q) -> Self {
        Self {
            verifier: SignatureVerifier::new(
                config.webhook_secret.bytes(),
                config.webhook_secret_previous.as_ref().map(|s| s.bytes()),
            ),
            settings: Settings {
                thumbnail_prefix: config.thumbnail_prefix.clone(),
                thumbnail_latest: config.thumbnail_latest,
                thumbnail_events: config.thumbnail_events,
                replay_window_seconds: config.replay_window_seconds,
                max_body_bytes: config.max_body_bytes,
                sqs_max_message_bytes: config.sqs_max_message_bytes,
                fifo: config.queue_is_fifo(),
                function_name: config.function_name.clone(),
            },
            store,
            queue,
            log: stdout_sink(),
        }
    }

    /// Sends the log records somewhere else than standard output (tests capture them).
    pub fn with_log_sink(mut self, sink: LogSink) -> Self {
        self.log = sink;
        self
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn queue(&self) -> &Q {
        &self.queue
    }

    /// Handles one function-URL request; always answers (errors become their status codes)
    /// and writes one log record with the outcome and the request's metrics.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let request_id = request
            .lambda_context_ref()
            .map(|context| context.request_id.clone())
            .unwrap_or_default();
        let mut summary = Summary::default();
        let result = self.process(request, &mut summary, &request_id).await;
        let (status, outcome, response) = match &result {
            Ok(accepted) => (200, accepted.status_word(), accepted.to_response()),
            Err(rejection) => (
                rejection.status().as_u16(),
                rejection.code(),
                rejection.to_response(),
            ),
        };
        let record = RequestRecord {
            status,
            outcome,
            kind: summary.kind.as_deref().unwrap_or_default(),
            event: summary.event.as_deref().unwrap_or_default(),
            size: summary.size,
            secret: match summary.secret {
                Some(SecretUsed::Current) => "current",
                Some(SecretUsed::Previous) => "previous",
                None => "",
            },
            key: summary.key.as_deref().unwrap_or_default(),
            sha256: summary.sha256.as_deref().unwrap_or_default(),
            latency_ms: started.elapsed().as_secs_f64() * 1000.0,
            request_id: &request_id,
        };
        (self.log)(&emf_line(&record, &self.settings.function_name, now_ms()));
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
        summary: &mut Summary,
        request_id: &str,
    ) -> Result<Accepted, RelayError> {
        let (parts, body) = request.into_parts();
        if parts.method != Method::POST {
            return Err(RelayError::MethodNotAllowed);
        }
        let body = body_bytes(body);
        summary.size = body.len();
        if body.len() > self.settings.max_body_bytes {
            return Err(RelayError::PayloadTooLarge {
                size: body.len(),
                limit: self.settings.max_body_bytes,
            });
        }

        let mut signatures = parts.headers.get_all(SIGNATURE_HEADER).iter();
        let signature_header = signatures.next().ok_or(RelayError::MissingSignature)?;
        if signatures.next().is_some() {
            // Two signature headers: which one is meant is ambiguous.
            return Err(RelayError::MalformedSignature);
        }
        let signature = Signature::parse(signature_header.as_bytes())?;
        summary.secret = Some(self.verifier.verify(&body, &signature)?);
        // A parsed signature is `sha1=` + hex: valid text.
        let signature_text = signature_header.to_str().unwrap_or_default().trim();

        match route(header_str(&parts.headers, header::CONTENT_TYPE.as_str())) {
            Route::Thumbnail => {
                self.store_thumbnail(&parts.headers, body, summary, request_id)
                    .await
            }
            Route::Event => {
                self.forward_event(body, signature_text, summary, request_id)
                    .await
            }
        }
    }

    async fn forward_event(
        &self,
        body: Vec<u8>,
        signature: &str,
        summary: &mut Summary,
        request_id: &str,
    ) -> Result<Accepted, RelayError> {
        let envelope = Envelope::parse(&body).inspect_err(|_| {
            summary.sha256 = Some(sha256_hex(&body));
        })?;
        summary.kind = Some(envelope.kind.clone());
        summary.event.clone_from(&envelope.event);
        let now = now_ms();
        envelope.check_fresh(now, self.settings.replay_window_seconds)?;
        // JSON parsing has validated the bytes as UTF-8.
        let body = String::from_utf8(body).map_err(|_| RelayError::MalformedEvent)?;

        let message = QueueMessage::for_event(&envelope, body, Some(signature), self.settings.fifo);
        let fits = message.size() <= self.settings.sqs_max_message_bytes
            && sqs_accepts_body(&message.body);
        if fits {
            return self
                .deliver(&message, envelope.timestamp_ms, now, request_id)
                .await;
        }

        let sha256 = sha256_hex(message.body.as_bytes());
        let key = claim_check_key(&sha256);
        let stored = self
            .store
            .put(ObjectPut {
                key: key.clone(),
                body: Bytes::from(message.body.clone()),
                content_type: "application/json".into(),
                metadata: vec![("signature", signature.to_owned())],
                if_absent: true,
            })
            .await;
        if let Err(IoError(cause)) = stored {
            (self.log)(&lost_event_line(
                &message,
                request_id,
                &[("s3Error", &cause)],
            ));
            return Err(RelayError::EventNotDelivered(cause));
        }
        summary.key = Some(key.clone());
        let pointer = ClaimCheck {
            bucket: self.store.bucket(),
            key: &key,
            size: message.body.len(),
            sha256_hex: &sha256,
        };
        let pointer_message =
            QueueMessage::claim_check(&message, &envelope, &pointer, self.settings.fifo);
        match self
            .deliver(&pointer_message, envelope.timestamp_ms, now, request_id)
            .await?
        {
            Accepted::Forwarded => Ok(Accepted::ClaimChecked),
            other => Ok(other),
        }
    }

    /// Sends to SQS; when that fails, spills the message body to S3 `undelivered/`.
    /// Fails only when both fail, after logging the whole body so it can be recovered.
    async fn deliver(
        &self,
        message: &QueueMessage,
        timestamp_ms: Option<i64>,
        now: i64,
        request_id: &str,
    ) -> Result<Accepted, RelayError> {
        let Err(IoError(queue_error)) = self.queue.send(message).await else {
            return Ok(Accepted::Forwarded);
        };
        let key = undelivered_key(
            now,
            timestamp_ms.unwrap_or(now),
            &sha256_hex(message.body.as_bytes()),
        );
        let mut metadata = vec![("error", metadata_text(&queue_error))];
        if let Some(signature) = message.signature() {
            metadata.push(("signature", signature.to_owned()));
        }
        let spill = ObjectPut {
            key: key.clone(),
            body: Bytes::from(message.body.clone()),
            content_type: "application/json".into(),
            metadata,
            if_absent: true,
        };
        match self.store.put(spill).await {
            Ok(_) => {
                warn!(key, cause = queue_error, "SQS failed: event spilled to S3");
                Ok(Accepted::Spilled)
            }
            Err(IoError(store_error)) => {
                (self.log)(&lost_event_line(
                    message,
                    request_id,
                    &[("sqsError", &queue_error), ("s3Error", &store_error)],
                ));
                Err(RelayError::EventNotDelivered(format!(
                    "sqs: {queue_error}; s3: {store_error}"
                )))
            }
        }
    }

    async fn store_thumbnail(
        &self,
        headers: &HeaderMap,
        image: Vec<u8>,
        summary: &mut Summary,
        request_id: &str,
    ) -> Result<Accepted, RelayError> {
        summary.kind = Some("thumbnail".into());
        let now = now_ms();
        let received = ThumbnailHeaders {
            stream_id: header_str(headers, STREAM_ID_HEADER),
            feed_id: header_str(headers, FEED_ID_HEADER),
            token_id: header_str(headers, TOKEN_ID_HEADER),
            timestamp: header_str(headers, TIMESTAMP_HEADER),
        };
        let plan = ThumbnailPlan::new(
            &self.settings.thumbnail_prefix,
            &received,
            &image,
            u64::try_from(now).unwrap_or(0),
        );
        summary.key = Some(plan.key.clone());
        let content_type = stored_content_type(header_str(headers, header::CONTENT_TYPE.as_str()));
        let size = image.len();
        let object = ObjectPut {
            key: plan.key.clone(),
            body: Bytes::from(image),
            content_type: content_type.clone(),
            metadata: plan.metadata.clone(),
            if_absent: true,
        };
        // `latest.jpg` is written alongside, not after: it is a convenience copy and
        // a replay could rewrite it anyway (the headers naming it are unsigned).
        let latest = self.settings.thumbnail_latest.then(|| ObjectPut {
            key: plan.latest_key.clone(),
            if_absent: false,
            ..object.clone()
        });
        let (stored, latest_result) = tokio::join!(self.store.put(object), async {
            match latest {
                Some(latest) => Some(self.store.put(latest).await),
                None => None,
            }
        });
        if let Some(Err(IoError(cause))) = latest_result {
            warn!(key = plan.latest_key, cause, "latest.jpg not updated");
        }
        match stored.map_err(|IoError(cause)| RelayError::ThumbnailNotStored(cause))? {
            PutOutcome::AlreadyExists => Ok(Accepted::Duplicate),
            PutOutcome::Stored => {
                if self.settings.thumbnail_events {
                    let announcement = QueueMessage::for_thumbnail(
                        plan.stored_event(self.store.bucket(), size, &content_type),
                        plan.timestamp_ms,
                        plan.stream_id.as_deref(),
                        self.settings.fifo,
                    );
                    // The image is durable either way; a lost announcement was logged whole.
                    let _ = self
                        .deliver(
                            &announcement,
                            i64::try_from(plan.timestamp_ms).ok(),
                            now,
                            request_id,
                        )
                        .await;
                }
                Ok(Accepted::Stored)
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
