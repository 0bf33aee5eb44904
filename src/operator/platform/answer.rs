//! Answers: the platform's three envelopes into typed `data` or a [`PlatformError`].

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::redact::sanitize;
use super::{API_URL_VAR, CONNECT_TIMEOUT, PlatformError, REQUEST_TIMEOUT};

/// What an answer is interpreted with.
pub(super) struct Context<'a> {
    /// The request URL, as shown in errors.
    pub(super) url: &'a str,
    /// The webhook the call was about.
    pub(super) about: Option<i64>,
    pub(super) api_secret: &'a str,
}

/// The `data` of a success envelope.
pub(super) struct Success {
    pub(super) url: String,
    pub(super) status: u16,
    pub(super) data: Value,
}

impl Success {
    pub(super) fn decode<T: DeserializeOwned>(
        self,
        what: &str,
        api_secret: &str,
    ) -> Result<T, PlatformError> {
        match T::deserialize(&self.data) {
            Ok(value) => Ok(value),
            Err(err) => Err(PlatformError::BadResponse {
                cause: sanitize(
                    &format!("`data` is not {what} ({err}): {}", self.data),
                    api_secret,
                ),
                url: self.url,
                status: self.status,
            }),
        }
    }

    /// `true`, or an object whose `id` is the removed webhook's (only the id is read: the rest
    /// of a removed webhook is not worth failing a delete that happened).
    pub(super) fn expect_deleted(self, id: i64, api_secret: &str) -> Result<(), PlatformError> {
        if self.data == Value::Bool(true) || self.data.get("id").and_then(Value::as_i64) == Some(id)
        {
            return Ok(());
        }
        Err(PlatformError::BadResponse {
            cause: sanitize(
                &format!(
                    "`data` is neither `true` nor the removed webhook {id}: {}",
                    self.data
                ),
                api_secret,
            ),
            url: self.url,
            status: self.status,
        })
    }

    pub(super) fn expect_true(self, api_secret: &str) -> Result<(), PlatformError> {
        if self.data == Value::Bool(true) {
            return Ok(());
        }
        Err(PlatformError::BadResponse {
            cause: sanitize(&format!("`data` is not `true`: {}", self.data), api_secret),
            url: self.url,
            status: self.status,
        })
    }
}

/// An HTTP answer → the success envelope's `data`, or the error it stands for.
pub(super) fn interpret(
    status: u16,
    body: &[u8],
    location: Option<&str>,
    context: &Context,
) -> Result<Value, PlatformError> {
    let text = String::from_utf8_lossy(body);
    let secret = context.api_secret;
    let bad = |cause: String| PlatformError::BadResponse {
        url: context.url.to_owned(),
        status,
        cause: sanitize(&cause, secret),
    };
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let envelope = parsed.as_ref().and_then(|value| {
        let kind = value.get("status")?.as_str()?;
        Some((kind, value))
    });

    // Whatever the body, these statuses mean the secret was refused (gateways answer them too).
    if status == 401 || status == 403 {
        let message = match envelope {
            Some(("error", value)) => message_of(value),
            Some(("fail", value)) => fail_fields(value.get("data"), secret)
                .into_iter()
                .map(|(field, message)| format!("{field}: {message}"))
                .collect::<Vec<_>>()
                .join("; "),
            _ if text.trim().is_empty() => "no details".to_owned(),
            _ => text.to_string(),
        };
        return Err(PlatformError::Unauthorized {
            status,
            message: sanitize(&message, secret),
        });
    }
    if (300..400).contains(&status) {
        return Err(bad(format!(
            "redirected to {}: set {API_URL_VAR} to the address that answers",
            location.unwrap_or("nowhere")
        )));
    }
    let Some((kind, value)) = envelope else {
        return Err(bad(match parsed {
            _ if text.trim().is_empty() => "empty answer".to_owned(),
            None => format!("not JSON: {text}"),
            Some(_) => format!("not one of the platform's envelopes: {text}"),
        }));
    };
    let data = value.get("data").cloned().unwrap_or(Value::Null);
    match kind {
        "success" if (200..300).contains(&status) => Ok(data),
        "success" => Err(bad(format!(
            "a success envelope with an error status: {text}"
        ))),
        "fail" => Err(PlatformError::Invalid {
            fields: fail_fields(Some(&data), secret),
        }),
        "error" if status == 404 => Err(PlatformError::NotFound {
            id: context.about,
            message: sanitize(&message_of(value), secret),
        }),
        "error" => Err(PlatformError::Api {
            status,
            code: value
                .get("code")
                .filter(|code| !code.is_null())
                .map(|code| sanitize(&json_text(code), secret)),
            message: sanitize(&message_of(value), secret),
        }),
        other => Err(bad(format!("unknown envelope status `{other}`: {text}"))),
    }
}

/// The `error` envelope's `message` (its text when it is not a string).
pub(super) fn message_of(envelope: &Value) -> String {
    match envelope.get("message") {
        None | Some(Value::Null) => "no message".to_owned(),
        Some(message) => json_text(message),
    }
}

/// The `fail` envelope's `data` as (field, message) pairs: an object gives one pair per field;
/// anything else one pair without a field name.
pub(super) fn fail_fields(data: Option<&Value>, api_secret: &str) -> Vec<(String, String)> {
    match data {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(fields)) => fields
            .iter()
            .map(|(field, message)| {
                (
                    sanitize(field, api_secret),
                    sanitize(&json_text(message), api_secret),
                )
            })
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| (String::new(), sanitize(&json_text(item), api_secret)))
            .collect(),
        Some(other) => vec![(String::new(), sanitize(&json_text(other), api_secret))],
    }
}

/// A string as is; other JSON as compact JSON.
pub(super) fn json_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Why no answer came, in a few words and without the URL (the error shows it once).
pub(super) fn network_cause(err: &reqwest::Error) -> String {
    let mut sources = Vec::new();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        sources.push(cause);
        source = cause.source();
    }
    let io_kind = sources
        .iter()
        .find_map(|cause| cause.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind);
    let innermost = sources
        .last()
        .map(|cause| cause.to_string())
        .unwrap_or_else(|| err.to_string());
    if io_kind == Some(std::io::ErrorKind::ConnectionRefused) {
        return "connection refused".to_owned();
    }
    if err.is_timeout() || io_kind == Some(std::io::ErrorKind::TimedOut) {
        return if err.is_connect() {
            format!(
                "timed out connecting (no connection within {} s)",
                CONNECT_TIMEOUT.as_secs()
            )
        } else {
            format!(
                "timed out (no complete answer within {} s)",
                REQUEST_TIMEOUT.as_secs()
            )
        };
    }
    if sources.iter().any(|cause| cause.to_string() == "dns error") {
        return format!("DNS lookup failed ({innermost})");
    }
    if err.is_connect() {
        return format!("cannot connect ({innermost})");
    }
    innermost
}

/// `err` and its causes, `: `-separated.
pub(super) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
