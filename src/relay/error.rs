//! The one error type of request handling and its mapping to HTTP responses.
//!
//! Every status code and error code the relay answers with is decided here, nowhere else.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use millicast_webhooks::SignatureError;

/// Why a request was not accepted. Client errors carry the `{"error":"<code>"}` codes of docs/architecture.md, "Order of checks";
/// server errors never reveal their cause to the caller (it is logged instead).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RelayError {
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("body of {size} bytes is larger than the limit of {limit}")]
    PayloadTooLarge { size: usize, limit: usize },
    #[error("no X-Millicast-Signature header")]
    MissingSignature,
    #[error("X-Millicast-Signature is not `sha1=` followed by 40 hex digits")]
    MalformedSignature,
    #[error("signature does not match the current or the previous secret")]
    InvalidSignature,
    #[error("the webhook secret cannot be read, so no delivery can be verified")]
    SecretUnavailable,
    #[error("timestamp outside the replay window")]
    StaleTimestamp,
    #[error("body is neither an image nor a JSON object with a string `type`")]
    MalformedEvent,
    #[error("X-Millicast-Timestamp is larger than a signed 64-bit number of milliseconds")]
    InvalidThumbnailTimestamp,
    #[error("storing the thumbnail failed: {0}")]
    ThumbnailNotStored(String),
    #[error("the event could not be made durable: {0}")]
    EventNotDelivered(String),
}

impl From<SignatureError> for RelayError {
    fn from(error: SignatureError) -> Self {
        match error {
            SignatureError::Missing => Self::MissingSignature,
            SignatureError::Malformed => Self::MalformedSignature,
            SignatureError::Invalid => Self::InvalidSignature,
        }
    }
}

impl RelayError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MissingSignature
            | Self::MalformedSignature
            | Self::InvalidSignature
            | Self::StaleTimestamp => StatusCode::UNAUTHORIZED,
            Self::MalformedEvent | Self::InvalidThumbnailTimestamp => StatusCode::BAD_REQUEST,
            // Ours, not the sender's: the delivery is kept in quarantine for replay.
            Self::SecretUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::ThumbnailNotStored(_) | Self::EventNotDelivered(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The machine-readable code put in the response body and the log line.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::MissingSignature => "missing_signature",
            Self::MalformedSignature => "malformed_signature",
            Self::InvalidSignature => "invalid_signature",
            Self::SecretUnavailable => "secret_unavailable",
            Self::StaleTimestamp => "stale_timestamp",
            Self::MalformedEvent => "malformed_event",
            Self::InvalidThumbnailTimestamp => "invalid_thumbnail_timestamp",
            Self::ThumbnailNotStored(_) | Self::EventNotDelivered(_) => "internal_error",
        }
    }

    pub fn to_response(&self) -> Response<Body> {
        let mut response =
            json_response(self.status(), format!(r#"{{"error":"{}"}}"#, self.code()));
        if *self == Self::MethodNotAllowed {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        response
    }
}

/// A response with a small JSON body.
pub fn json_response(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_maps_to_its_documented_status_and_code() {
        let cases = [
            (RelayError::MethodNotAllowed, 405, "method_not_allowed"),
            (
                RelayError::PayloadTooLarge { size: 2, limit: 1 },
                413,
                "payload_too_large",
            ),
            (RelayError::MissingSignature, 401, "missing_signature"),
            (RelayError::MalformedSignature, 401, "malformed_signature"),
            (RelayError::InvalidSignature, 401, "invalid_signature"),
            (RelayError::StaleTimestamp, 401, "stale_timestamp"),
            (RelayError::MalformedEvent, 400, "malformed_event"),
            (
                RelayError::InvalidThumbnailTimestamp,
                400,
                "invalid_thumbnail_timestamp",
            ),
            (RelayError::SecretUnavailable, 503, "secret_unavailable"),
            (
                RelayError::ThumbnailNotStored("x".into()),
                500,
                "internal_error",
            ),
            (
                RelayError::EventNotDelivered("x".into()),
                500,
                "internal_error",
            ),
        ];
        for (error, status, code) in cases {
            let response = error.to_response();
            assert_eq!(response.status().as_u16(), status, "{error:?}");
            let Body::Text(body) = response.body() else {
                panic!("text body expected");
            };
            assert_eq!(body, &format!(r#"{{"error":"{code}"}}"#));
        }
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let response =
            RelayError::EventNotDelivered("bucket my-secret-bucket".into()).to_response();
        let Body::Text(body) = response.body() else {
            panic!("text body expected");
        };
        assert!(!body.contains("my-secret-bucket"));
    }

    #[test]
    fn method_not_allowed_names_post() {
        let response = RelayError::MethodNotAllowed.to_response();
        assert_eq!(response.headers()[header::ALLOW], "POST");
    }
}
