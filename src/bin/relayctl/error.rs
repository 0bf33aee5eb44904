//! relayctl's error and how it is printed.
//!
//! [`Error`] is the library's [`OperatorError`] as the library reported it, or with what relayctl
//! was doing around it; for those, a failure the operator can fix at once (no credentials, a
//! refused connection, access denied) gets a [`Hint`] instead of the SDK's error chain.
//!
//! By default an error is one line on standard error, `relayctl: <message>`. With `-v` (or
//! `RUST_LOG` at debug or trace) it is the error, then one `caused by: …` line per
//! [`source()`](std::error::Error::source), then the hint if there is one.

use std::error::Error as StdError;
use std::fmt;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use millicast_webhook_relay::operator::error::{BoxError, OperatorError};
use millicast_webhook_relay::operator::lifecycle::RotateFailure;

/// Advice given instead of an SDK error chain that shows one of `markers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hint {
    /// Text of the SDK's error (its chain and `Debug`) that the hint recognises.
    pub markers: &'static [&'static str],
    /// What to say instead.
    pub says: &'static str,
    /// The documentation to read, as `docs/<page>.md#<anchor>` (a test checks that the page
    /// has that heading).
    pub see: Option<&'static str>,
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.says)?;
        match self.see {
            Some(see) => write!(f, " (see {see})"),
            None => Ok(()),
        }
    }
}

/// Where the operator policy (the stack's `OperatorPolicyArn`) and what each statement allows
/// are documented.
pub const OPERATOR_POLICY_DOC: &str = "docs/operate.md#iam-for-relayctl";

/// Every hint, in the order they are tried.
pub const HINTS: [Hint; 3] = [
    Hint {
        markers: &["no credentials found", "CredentialsNotLoaded"],
        says: "no AWS credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)",
        see: None,
    },
    Hint {
        markers: &["Connection refused"],
        says: "connection refused (check the URL, or AWS_ENDPOINT_URL)",
        see: None,
    },
    Hint {
        markers: &["AccessDenied"],
        says: "access denied",
        see: Some(OPERATOR_POLICY_DOC),
    },
];

/// The first hint whose marker `text` shows.
pub fn hint_for(text: &str) -> Option<&'static Hint> {
    HINTS
        .iter()
        .find(|hint| hint.markers.iter().any(|marker| text.contains(marker)))
}

/// Why a relayctl command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// What the library reported, printed as it reported it.
    #[error(transparent)]
    Operator(#[from] OperatorError),
    /// An AWS SDK call relayctl makes itself failed while doing `action` (`cannot receive from
    /// the queue`); the SDK's error is the source.
    #[error("{action}{}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Aws {
        action: String,
        status: Option<u16>,
        #[source]
        source: BoxError,
    },
    /// The library's `source` failed while relayctl was doing `action` (`cannot list
    /// s3://bucket/undelivered/`).
    #[error("{action}")]
    Context {
        action: String,
        #[source]
        source: Box<OperatorError>,
    },
    /// `relayctl rotate` stopped: where it left things and how to resume.
    #[error(transparent)]
    Rotate(Box<RotateFailure>),
    /// The command ran, and what it found or did is a failure (exit code 1): red checks,
    /// objects kept, the relay's refusal, a round trip not proven, files out of date.
    #[error("{0}")]
    Failed(String),
}

impl From<RotateFailure> for Error {
    fn from(failure: RotateFailure) -> Self {
        Error::Rotate(Box::new(failure))
    }
}

impl Error {
    pub fn aws<E>(action: impl Into<String>, error: SdkError<E, HttpResponse>) -> Self
    where
        E: StdError + Send + Sync + 'static,
    {
        Error::Aws {
            action: action.into(),
            status: error.raw_response().map(|raw| raw.status().as_u16()),
            source: Box::new(error),
        }
    }

    pub fn context(action: impl Into<String>, source: impl Into<OperatorError>) -> Self {
        Error::Context {
            action: action.into(),
            source: Box::new(source.into()),
        }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Error::Failed(message.into())
    }

    /// The text a hint is looked for in, for the errors that get one.
    fn hinted_text(&self) -> Option<String> {
        match self {
            Error::Aws { source, .. } => Some(DisplayErrorContext(source.as_ref()).to_string()),
            Error::Context { source, .. } => Some(source.one_line()),
            Error::Operator(_) | Error::Rotate(_) | Error::Failed(_) => None,
        }
    }

    /// The hint for this error, if it gets one and one applies.
    pub fn hint(&self) -> Option<&'static Hint> {
        hint_for(&self.hinted_text()?)
    }

    /// The error on one line, as relayctl prints it by default.
    pub fn one_line(&self) -> String {
        match self {
            Error::Operator(error) => error.one_line(),
            Error::Rotate(failure) => failure.one_line(),
            Error::Failed(message) => message.clone(),
            Error::Aws { action, .. } | Error::Context { action, .. } => {
                let text = self.hinted_text().unwrap_or_default();
                match hint_for(&text) {
                    Some(hint) => format!("{action}: {hint}"),
                    None => format!("{action}: {}", fold_whitespace(&text)),
                }
            }
        }
    }

    /// The lines `-v` prints: the error, each cause, the hint.
    pub fn verbose_lines(&self) -> Vec<String> {
        let mut lines = vec![format!("relayctl: {}", fold_whitespace(&self.to_string()))];
        let mut cause = self.source();
        while let Some(error) = cause {
            lines.push(format!(
                "caused by: {}",
                fold_whitespace(&error.to_string())
            ));
            cause = error.source();
        }
        if let Some(hint) = self.hint() {
            lines.push(format!("hint: {hint}"));
        }
        lines
    }
}

fn fold_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `RUST_LOG` asks for debug or trace output (`debug`, `relayctl=trace`,
/// `info,aws_config=debug`): relayctl then prints errors as `-v` does.
pub fn rust_log_wants_detail(filter: &str) -> bool {
    filter.split(',').any(|directive| {
        let level = directive.rsplit('=').next().unwrap_or_default().trim();
        level.eq_ignore_ascii_case("debug") || level.eq_ignore_ascii_case("trace")
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::io;
    use std::path::Path;

    use aws_sdk_s3::error::ConnectorError;
    use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error;
    use millicast_webhook_relay::operator::platform::PlatformError;

    use super::*;

    fn refused() -> SdkError<ListObjectsV2Error, HttpResponse> {
        SdkError::dispatch_failure(ConnectorError::io(Box::new(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "tcp connect error: Connection refused (os error 111)",
        ))))
    }

    /// GitHub's anchor of a heading: lower case, spaces to `-`, punctuation other than `-` and
    /// `_` dropped.
    fn slug(heading: &str) -> String {
        heading
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect()
    }

    /// The anchors of a Markdown page's headings (outside fenced code).
    fn anchors(markdown: &str) -> BTreeSet<String> {
        let mut in_code = false;
        let mut anchors = BTreeSet::new();
        for line in markdown.lines() {
            if line.trim_start().starts_with("```") {
                in_code = !in_code;
            } else if !in_code && line.starts_with('#') {
                anchors.insert(slug(line.trim_start_matches('#')));
            }
        }
        anchors
    }

    #[test]
    fn every_documentation_hint_names_a_page_and_heading_that_exist() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut named: Vec<&str> = HINTS.iter().filter_map(|hint| hint.see).collect();
        assert!(named.contains(&OPERATOR_POLICY_DOC));
        // The pages the wall's notices name.
        named.extend([
            millicast_webhook_relay::operator::wall::WALL_DOC,
            millicast_webhook_relay::operator::wall::SETTINGS_DOC,
        ]);
        for see in named {
            let (page, anchor) = see
                .split_once('#')
                .unwrap_or_else(|| panic!("{see}: no #anchor"));
            assert!(
                page.starts_with("docs/") && page.ends_with(".md"),
                "{see}: not a page under docs/"
            );
            let text = std::fs::read_to_string(root.join(page))
                .unwrap_or_else(|e| panic!("{see}: cannot read {page}: {e}"));
            assert!(
                anchors(&text).contains(anchor),
                "{see}: {page} has no heading whose anchor is #{anchor}"
            );
        }
    }

    #[test]
    fn the_slug_follows_githubs_rules() {
        assert_eq!(slug(" IAM for relayctl"), "iam-for-relayctl");
        assert_eq!(
            slug("Connect the platform: `relayctl register`"),
            "connect-the-platform-relayctl-register"
        );
        assert_eq!(slug("make_run -- now"), "make_run----now");
    }

    #[test]
    fn hints_replace_the_chain_on_one_line_and_follow_it_with_v() {
        let error = Error::aws("cannot receive from the queue", refused());
        assert_eq!(
            error.one_line(),
            "cannot receive from the queue: connection refused (check the URL, or AWS_ENDPOINT_URL)"
        );
        let lines = error.verbose_lines();
        assert_eq!(lines[0], "relayctl: cannot receive from the queue");
        assert_eq!(lines[1], "caused by: dispatch failure");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("caused by: ") && l.contains("os error 111")),
            "{lines:?}"
        );
        assert_eq!(
            lines.last().map(String::as_str),
            Some("hint: connection refused (check the URL, or AWS_ENDPOINT_URL)")
        );
    }

    #[test]
    fn a_context_names_the_action_then_the_hint_or_the_library_line() {
        let listing = OperatorError::aws("s3 ListObjectsV2", refused());
        let error = Error::context("cannot list s3://b/undelivered/", listing);
        assert_eq!(
            error.one_line(),
            "cannot list s3://b/undelivered/: connection refused (check the URL, or AWS_ENDPOINT_URL)"
        );
        let lines = error.verbose_lines();
        assert_eq!(lines[0], "relayctl: cannot list s3://b/undelivered/");
        assert_eq!(lines[1], "caused by: s3 ListObjectsV2");
        assert_eq!(lines[2], "caused by: dispatch failure");

        let platform =
            OperatorError::platform("cannot list the webhooks", PlatformError::MissingApiSecret);
        let error = Error::context("cannot read the stack", platform);
        assert_eq!(
            error.one_line(),
            format!("cannot read the stack: {}", PlatformError::MissingApiSecret)
        );
        assert_eq!(error.hint(), None);
    }

    #[test]
    fn access_denied_points_at_the_operator_policy() {
        let denied = OperatorError::usage("service error: AccessDenied: not authorized");
        let error = Error::context("cannot store the secret", denied);
        assert_eq!(
            error.one_line(),
            format!("cannot store the secret: access denied (see {OPERATOR_POLICY_DOC})")
        );
    }

    #[test]
    fn the_librarys_errors_print_as_the_library_wrote_them() {
        let error = Error::from(OperatorError::aws("s3 GetObject", refused()));
        assert!(
            error
                .one_line()
                .starts_with("s3 GetObject: dispatch failure: "),
            "{}",
            error.one_line()
        );
        assert_eq!(error.hint(), None);
        assert_eq!(error.verbose_lines()[0], "relayctl: s3 GetObject");
    }

    #[test]
    fn rust_log_at_debug_or_trace_asks_for_the_chain() {
        for filter in ["debug", "TRACE", "relayctl=debug", "info,aws_config=trace"] {
            assert!(rust_log_wants_detail(filter), "{filter}");
        }
        for filter in ["", "info", "warn,relayctl=info", "error"] {
            assert!(!rust_log_wants_detail(filter), "{filter}");
        }
    }
}
