//! The one error type of the platform client: one line, never quoting a secret.

use std::fmt;

use reqwest::StatusCode;

use super::{API_SECRET_VAR, API_URL_VAR};

/// Why a call to the platform failed. `Display` is one line and quotes neither the API secret
/// nor a webhook secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformError {
    /// `MILLICAST_API_SECRET` unset or empty.
    MissingApiSecret,
    /// The API secret cannot be sent in an HTTP header.
    InvalidApiSecret,
    InvalidBaseUrl {
        url: String,
        reason: String,
    },
    /// The HTTP client could not be set up (TLS).
    HttpClient {
        cause: String,
    },
    /// 401 or 403: the API secret was refused.
    Unauthorized {
        status: u16,
        message: String,
    },
    /// 404 in the `error` envelope; `id` when the call was about one webhook.
    NotFound {
        id: Option<i64>,
        message: String,
    },
    /// The `fail` envelope: what is wrong, field by field (an empty name when the platform
    /// gave no field).
    Invalid {
        fields: Vec<(String, String)>,
    },
    /// Any other `error` envelope.
    Api {
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// No HTTP answer: connection refused, timeout, DNS, TLS...
    Network {
        url: String,
        cause: String,
    },
    /// An answer that is not one of the platform's envelopes, or whose `data` is not what the
    /// call returns.
    BadResponse {
        url: String,
        status: u16,
        cause: String,
    },
    /// [`PlatformClient::all_webhooks`] could not reach the end of the list: still new ids
    /// after [`MAX_LIST_PAGES`] pages, or pages that do not advance.
    Paging {
        pages: usize,
        webhooks: usize,
        cause: String,
    },
}

impl fmt::Display for PlatformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlatformError::MissingApiSecret => write!(
                f,
                "{API_SECRET_VAR} is not set: set it to the account's API secret from the \
                 dashboard (not a webhook secret)"
            ),
            PlatformError::InvalidApiSecret => write!(
                f,
                "the API secret contains characters that cannot be sent in an HTTP header: \
                 check {API_SECRET_VAR}"
            ),
            PlatformError::InvalidBaseUrl { url, reason } => write!(
                f,
                "invalid platform API URL `{url}`: {reason} (check {API_URL_VAR})"
            ),
            PlatformError::HttpClient { cause } => {
                write!(f, "cannot set up the HTTP client: {cause}")
            }
            PlatformError::Unauthorized { status, message } => write!(
                f,
                "the platform refused the API secret ({}: {message}): check {API_SECRET_VAR}",
                status_text(*status)
            ),
            PlatformError::NotFound { id: Some(id), .. } => write!(f, "webhook {id} not found"),
            PlatformError::NotFound { id: None, message } => write!(f, "not found: {message}"),
            PlatformError::Invalid { fields } if fields.is_empty() => {
                f.write_str("the platform rejected the request (without saying why)")
            }
            PlatformError::Invalid { fields } => {
                f.write_str("the platform rejected the request: ")?;
                for (i, (field, message)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    if field.is_empty() {
                        f.write_str(message)?;
                    } else {
                        write!(f, "{field}: {message}")?;
                    }
                }
                Ok(())
            }
            PlatformError::Api {
                status,
                code,
                message,
            } => {
                write!(
                    f,
                    "the platform answered {}: {message}",
                    status_text(*status)
                )?;
                match code {
                    Some(code) if *code != status.to_string() => write!(f, " (code {code})"),
                    _ => Ok(()),
                }
            }
            PlatformError::Network { url, cause } => write!(f, "cannot reach {url}: {cause}"),
            PlatformError::BadResponse { url, status, cause } => write!(
                f,
                "unexpected answer from {url} (HTTP {}): {cause}",
                status_text(*status)
            ),
            PlatformError::Paging {
                pages,
                webhooks,
                cause,
            } => write!(
                f,
                "cannot list every webhook (stopped after {pages} pages, {webhooks} webhooks): \
                 {cause}"
            ),
        }
    }
}

impl std::error::Error for PlatformError {}

pub(super) fn status_text(status: u16) -> String {
    match StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}
