//! The operator library's one error type, [`OperatorError`]: what failed, with what caused it
//! kept as [`source()`](std::error::Error::source) — the SDK's error (the service's code and
//! message, the dispatch failure, the credentials provider that found nothing), the platform's
//! [`PlatformError`], an I/O error — instead of flattened into a string.
//!
//! Two renderings:
//! - `Display` is this error alone, without its causes, so that a reader walking `source()`
//!   (`relayctl -v`) prints each cause once.
//! - [`OperatorError::one_line`] is the whole story on one line, the way relayctl prints it by
//!   default (an SDK error as the SDK writes it with `DisplayErrorContext`).

use std::error::Error as StdError;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};

use crate::aws::secretsmanager::SecretReadError;
use crate::operator::platform::PlatformError;
use crate::relay::config::ConfigError;
use crate::relay::secrets::SecretValueError;

/// Any error, kept as a cause.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Why an operator action failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OperatorError {
    /// An AWS SDK call failed. `action` is the call (`s3 GetObject`, `cloudformation
    /// DescribeStacks relay-prod`) or what it was for (`cannot list s3://bucket/quarantine/`);
    /// `status` the HTTP status of the answer, when one came; the SDK's error is the source.
    #[error("{action}{}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Aws {
        action: String,
        status: Option<u16>,
        #[source]
        source: BoxError,
    },
    /// A call to the platform's REST API failed while doing `action` (`cannot list the
    /// webhooks`).
    #[error("{action}")]
    Platform {
        action: String,
        #[source]
        source: PlatformError,
    },
    /// The stack named by `--stack` does not exist (in this region); the SDK's error, when it
    /// said so, is the source.
    #[error("no stack {stack} (check --stack and the region: --region, AWS_REGION)")]
    NoStack {
        stack: String,
        #[source]
        source: Option<BoxError>,
    },
    /// The stack lacks an output a command needs.
    #[error("stack {stack} has no {output} output (deployed from an older template?): pass {flag}")]
    MissingOutput {
        stack: String,
        output: String,
        flag: String,
    },
    /// A value neither a flag nor a stack gave.
    #[error("no {flag}: pass it, or --stack NAME")]
    MissingFlag { flag: String },
    /// What the operator gave or asked cannot be done as given (a value, a choice among
    /// webhooks); the message says what to change.
    #[error("{0}")]
    Usage(String),
    /// A secret (`whose`: `the secret`, `--secret`, `the platform's secret for webhook 7`) is
    /// not one: `problem` says why, never quoting it.
    #[error("{whose} {problem}")]
    InvalidSecret {
        whose: String,
        problem: SecretValueError,
    },
    /// The relay's settings (`RelaySettings`, or the same variables in the environment).
    #[error(transparent)]
    Settings(#[from] ConfigError),
    /// The webhook secrets could not be read from Secrets Manager.
    #[error(transparent)]
    SecretRead(#[from] SecretReadError),
    /// The webhook secrets could not be stored (`store_new_secret` and `put_secrets` report in
    /// words: they are shared with the relay's own code).
    #[error("{0}")]
    SecretWrite(String),
    /// Reading or writing failed while doing `action` (`cannot read FILE`, `cannot
    /// reach https://…`, `reading the object`): a file, standard input, an HTTP exchange, an
    /// object's body.
    #[error("{action}")]
    Io {
        action: String,
        #[source]
        source: BoxError,
    },
}

impl OperatorError {
    /// An SDK call's error: `action` is the call, or what it was for.
    pub fn aws<E>(action: impl Into<String>, error: SdkError<E, HttpResponse>) -> Self
    where
        E: StdError + Send + Sync + 'static,
    {
        OperatorError::Aws {
            action: action.into(),
            status: error.raw_response().map(|raw| raw.status().as_u16()),
            source: Box::new(error),
        }
    }

    pub fn platform(action: impl Into<String>, source: PlatformError) -> Self {
        OperatorError::Platform {
            action: action.into(),
            source,
        }
    }

    pub fn io(
        action: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        OperatorError::Io {
            action: action.into(),
            source: source.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        OperatorError::Usage(message.into())
    }

    pub fn invalid_secret(whose: impl Into<String>, problem: SecretValueError) -> Self {
        OperatorError::InvalidSecret {
            whose: whose.into(),
            problem,
        }
    }

    /// The SDK's error of an [`OperatorError::Aws`], as the SDK writes it: its chain, `: `
    /// separated, and its `Debug` (the service's code, the HTTP answer).
    pub fn sdk_text(&self) -> Option<String> {
        match self {
            OperatorError::Aws { source, .. } => {
                Some(DisplayErrorContext(source.as_ref()).to_string())
            }
            _ => None,
        }
    }

    /// The error and its causes on one line, as relayctl prints it without `-v`.
    pub fn one_line(&self) -> String {
        match self {
            OperatorError::Aws { action, source, .. } => {
                format!("{action}: {}", DisplayErrorContext(source.as_ref()))
            }
            OperatorError::Platform { source, .. } => source.to_string(),
            OperatorError::Io { action, source } => format!("{action}: {source}"),
            other => other.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::io;

    use aws_sdk_s3::error::ConnectorError;
    use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error;

    use super::*;

    fn refused() -> SdkError<ListObjectsV2Error, HttpResponse> {
        SdkError::dispatch_failure(ConnectorError::io(Box::new(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "tcp connect error: Connection refused (os error 111)",
        ))))
    }

    #[test]
    fn an_sdk_error_keeps_its_whole_chain_as_source() {
        let error = OperatorError::aws("s3 ListObjectsV2", refused());
        assert_eq!(error.to_string(), "s3 ListObjectsV2");
        let sdk = error.source().expect("the SDK's error is the source");
        assert!(
            sdk.downcast_ref::<SdkError<ListObjectsV2Error, HttpResponse>>()
                .is_some()
        );
        let mut chain = Vec::new();
        let mut cause = error.source();
        while let Some(error) = cause {
            chain.push(error);
            cause = error.source();
        }
        assert!(chain.len() >= 3, "{chain:?}");
        let innermost = chain
            .iter()
            .find_map(|cause| cause.downcast_ref::<io::Error>())
            .expect("the connection's io::Error is reached through source()");
        assert_eq!(innermost.kind(), io::ErrorKind::ConnectionRefused);
    }

    #[test]
    fn the_one_line_form_is_the_sdk_error_as_the_sdk_writes_it() {
        let error = OperatorError::aws("s3 ListObjectsV2", refused());
        let line = error.one_line();
        assert!(
            line.starts_with("s3 ListObjectsV2: dispatch failure: "),
            "{line}"
        );
        assert!(line.contains("Connection refused"), "{line}");
        assert_eq!(
            error.sdk_text().map(|text| text.len()),
            Some(line.len() - 18)
        );
    }

    #[test]
    fn a_platform_error_is_the_source_and_its_own_line() {
        let error =
            OperatorError::platform("cannot list the webhooks", PlatformError::MissingApiSecret);
        assert_eq!(error.to_string(), "cannot list the webhooks");
        assert_eq!(
            error.one_line(),
            PlatformError::MissingApiSecret.to_string()
        );
        let source = error.source().expect("the platform's error");
        assert_eq!(
            source.downcast_ref::<PlatformError>(),
            Some(&PlatformError::MissingApiSecret)
        );
    }

    #[test]
    fn an_io_error_names_what_was_done_then_why() {
        let error = OperatorError::io(
            "cannot read x.json",
            io::Error::new(
                io::ErrorKind::NotFound,
                "No such file or directory (os error 2)",
            ),
        );
        assert_eq!(error.to_string(), "cannot read x.json");
        assert_eq!(
            error.one_line(),
            "cannot read x.json: No such file or directory (os error 2)"
        );
        assert!(error.source().is_some());
    }
}
