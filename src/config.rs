//! Configuration from the environment, read once at init.
//!
//! Every invalid value fails init with a message naming the variable; secret values are never
//! part of any message.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Defaults of DESIGN.md.
pub const DEFAULT_THUMBNAIL_PREFIX: &str = "thumbnails/";
pub const DEFAULT_REPLAY_WINDOW_SECONDS: u64 = 300;
pub const DEFAULT_MAX_BODY_BYTES: usize = 6 * 1024 * 1024;
pub const DEFAULT_SQS_MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// SQS refuses messages over 1 MiB whatever the queue says.
const SQS_HARD_LIMIT_BYTES: usize = 1024 * 1024;

/// A configuration variable that is missing or invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {variable} {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl ConfigError {
    fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
        }
    }
}

/// Decoded secret bytes; `Debug` never prints them.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub webhook_secret: Secret,
    pub webhook_secret_previous: Option<Secret>,
    pub thumbnail_bucket: String,
    pub thumbnail_prefix: String,
    pub thumbnail_latest: bool,
    pub thumbnail_events: bool,
    pub event_queue_url: String,
    /// 0 turns the replay check off.
    pub replay_window_seconds: u64,
    pub max_body_bytes: usize,
    pub sqs_max_message_bytes: usize,
    /// True when an endpoint override is configured (local S3 servers need path-style URLs).
    pub s3_force_path_style: bool,
    /// `AWS_LAMBDA_FUNCTION_NAME`, the dimension of the relay's metrics.
    pub function_name: String,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup`; an empty value counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let required = |name: &'static str| {
            get(name).ok_or_else(|| ConfigError::new(name, "is required but not set"))
        };

        let webhook_secret = parse_secret("WEBHOOK_SECRET", &required("WEBHOOK_SECRET")?)?;
        let webhook_secret_previous = get("WEBHOOK_SECRET_PREVIOUS")
            .map(|value| parse_secret("WEBHOOK_SECRET_PREVIOUS", &value))
            .transpose()?;
        let thumbnail_bucket = parse_bucket(required("THUMBNAIL_BUCKET")?)?;
        let thumbnail_prefix = match lookup("THUMBNAIL_PREFIX") {
            // Unlike other variables, an explicitly empty prefix is meaningful: the bucket root.
            Some(value) => parse_prefix(value.trim())?,
            None => DEFAULT_THUMBNAIL_PREFIX.to_owned(),
        };
        let event_queue_url = parse_queue_url(required("EVENT_QUEUE_URL")?)?;
        let sqs_max_message_bytes = get("SQS_MAX_MESSAGE_BYTES")
            .map(|value| parse_size("SQS_MAX_MESSAGE_BYTES", &value))
            .transpose()?
            .unwrap_or(DEFAULT_SQS_MAX_MESSAGE_BYTES);
        if sqs_max_message_bytes > SQS_HARD_LIMIT_BYTES {
            return Err(ConfigError::new(
                "SQS_MAX_MESSAGE_BYTES",
                format!("must be at most {SQS_HARD_LIMIT_BYTES} (the SQS limit)"),
            ));
        }

        Ok(Self {
            webhook_secret,
            webhook_secret_previous,
            thumbnail_bucket,
            thumbnail_prefix,
            thumbnail_latest: get("THUMBNAIL_LATEST")
                .map(|value| parse_bool("THUMBNAIL_LATEST", &value))
                .transpose()?
                .unwrap_or(true),
            thumbnail_events: get("THUMBNAIL_EVENTS")
                .map(|value| parse_bool("THUMBNAIL_EVENTS", &value))
                .transpose()?
                .unwrap_or(true),
            event_queue_url,
            replay_window_seconds: get("REPLAY_WINDOW_SECONDS")
                .map(|value| {
                    value.trim().parse::<u64>().map_err(|_| {
                        ConfigError::new(
                            "REPLAY_WINDOW_SECONDS",
                            "must be a whole number of seconds (0 turns the check off)",
                        )
                    })
                })
                .transpose()?
                .unwrap_or(DEFAULT_REPLAY_WINDOW_SECONDS),
            max_body_bytes: get("MAX_BODY_BYTES")
                .map(|value| parse_size("MAX_BODY_BYTES", &value))
                .transpose()?
                .unwrap_or(DEFAULT_MAX_BODY_BYTES),
            sqs_max_message_bytes,
            s3_force_path_style: Self::endpoint_overridden(&lookup),
            function_name: get("AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or_else(|| "webhook-relay".into()),
        })
    }

    /// True when `AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_S3` points S3 elsewhere (a local
    /// server, which needs path-style addressing).
    pub fn endpoint_overridden(lookup: impl Fn(&str) -> Option<String>) -> bool {
        ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"]
            .iter()
            .any(|name| lookup(name).is_some_and(|value| !value.trim().is_empty()))
    }

    pub fn queue_is_fifo(&self) -> bool {
        self.event_queue_url.ends_with(".fifo")
    }
}

fn parse_secret(variable: &'static str, value: &str) -> Result<Secret, ConfigError> {
    let bytes = STANDARD.decode(value.trim()).map_err(|_| {
        ConfigError::new(
            variable,
            "is not valid base64 (use the secret exactly as the dashboard or API shows it)",
        )
    })?;
    if bytes.is_empty() {
        return Err(ConfigError::new(variable, "decodes to an empty secret"));
    }
    Ok(Secret(bytes))
}

fn parse_bucket(value: String) -> Result<String, ConfigError> {
    let name = value.trim();
    let valid = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric();
    if !valid {
        return Err(ConfigError::new(
            "THUMBNAIL_BUCKET",
            "is not a valid S3 bucket name (3-63 lowercase letters, digits, '.', '-')",
        ));
    }
    Ok(name.to_owned())
}

fn parse_prefix(value: &str) -> Result<String, ConfigError> {
    if value.is_empty() {
        return Ok(String::new());
    }
    let segments_safe = value
        .strip_suffix('/')
        .is_some_and(|inner| inner.split('/').all(crate::thumbnail::is_safe_segment));
    if !segments_safe {
        return Err(ConfigError::new(
            "THUMBNAIL_PREFIX",
            "must be empty or path segments of [A-Za-z0-9._~-] ending in '/' (e.g. thumbnails/)",
        ));
    }
    Ok(value.to_owned())
}

fn parse_queue_url(value: String) -> Result<String, ConfigError> {
    let url = value.trim();
    let valid = (url.starts_with("https://") || url.starts_with("http://"))
        && !url.contains(char::is_whitespace);
    if !valid {
        return Err(ConfigError::new(
            "EVENT_QUEUE_URL",
            "must be an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)",
        ));
    }
    Ok(url.to_owned())
}

fn parse_bool(variable: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::new(variable, "must be true or false")),
    }
}

fn parse_size(variable: &'static str, value: &str) -> Result<usize, ConfigError> {
    match value.trim().parse::<usize>() {
        Ok(size) if size > 0 => Ok(size),
        _ => Err(ConfigError::new(
            variable,
            "must be a positive whole number of bytes",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SECRET: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    fn minimal() -> HashMap<&'static str, String> {
        HashMap::from([
            ("WEBHOOK_SECRET", SECRET.to_owned()),
            ("THUMBNAIL_BUCKET", "my-thumbnails".to_owned()),
            (
                "EVENT_QUEUE_URL",
                "https://sqs.us-east-1.amazonaws.com/123456789012/events".to_owned(),
            ),
        ])
    }

    fn load(vars: &HashMap<&'static str, String>) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    fn error_for(variable: &'static str, value: &str) -> ConfigError {
        let mut vars = minimal();
        vars.insert(variable, value.to_owned());
        load(&vars).unwrap_err()
    }

    #[test]
    fn defaults_apply() {
        let config = load(&minimal()).unwrap();
        assert_eq!(
            config.webhook_secret.bytes(),
            b"0123456789abcdef0123456789abcdef"
        );
        assert_eq!(config.webhook_secret_previous, None);
        assert_eq!(config.thumbnail_prefix, "thumbnails/");
        assert!(config.thumbnail_latest);
        assert!(config.thumbnail_events);
        assert_eq!(config.replay_window_seconds, 300);
        assert_eq!(config.max_body_bytes, 6_291_456);
        assert_eq!(config.sqs_max_message_bytes, 262_144);
        assert!(!config.s3_force_path_style);
        assert!(!config.queue_is_fifo());
    }

    #[test]
    fn every_variable_is_read() {
        let mut vars = minimal();
        vars.insert("WEBHOOK_SECRET_PREVIOUS", "AAAA".into());
        vars.insert("THUMBNAIL_PREFIX", "img/thumbs/".into());
        vars.insert("THUMBNAIL_LATEST", "false".into());
        vars.insert("THUMBNAIL_EVENTS", "0".into());
        vars.insert(
            "EVENT_QUEUE_URL",
            "https://sqs.eu-west-1.amazonaws.com/1/e.fifo".into(),
        );
        vars.insert("REPLAY_WINDOW_SECONDS", "0".into());
        vars.insert("MAX_BODY_BYTES", "1024".into());
        vars.insert("SQS_MAX_MESSAGE_BYTES", "1048576".into());
        vars.insert("AWS_ENDPOINT_URL", "http://127.0.0.1:5000".into());
        let config = load(&vars).unwrap();
        assert_eq!(
            config.webhook_secret_previous.as_ref().map(Secret::bytes),
            Some(&[0u8, 0, 0][..])
        );
        assert_eq!(config.thumbnail_prefix, "img/thumbs/");
        assert!(!config.thumbnail_latest);
        assert!(!config.thumbnail_events);
        assert!(config.queue_is_fifo());
        assert_eq!(config.replay_window_seconds, 0);
        assert_eq!(config.max_body_bytes, 1024);
        assert_eq!(config.sqs_max_message_bytes, 1_048_576);
        assert!(config.s3_force_path_style);
    }

    #[test]
    fn service_specific_s3_endpoint_forces_path_style_too() {
        let mut vars = minimal();
        vars.insert("AWS_ENDPOINT_URL_S3", "http://localhost:4566".into());
        assert!(load(&vars).unwrap().s3_force_path_style);
    }

    #[test]
    fn empty_prefix_means_bucket_root() {
        let mut vars = minimal();
        vars.insert("THUMBNAIL_PREFIX", String::new());
        assert_eq!(load(&vars).unwrap().thumbnail_prefix, "");
    }

    #[test]
    fn missing_required_variables_are_named() {
        for variable in ["WEBHOOK_SECRET", "THUMBNAIL_BUCKET", "EVENT_QUEUE_URL"] {
            let mut vars = minimal();
            vars.remove(variable);
            let error = load(&vars).unwrap_err();
            assert_eq!(error.variable, variable);
            assert!(error.to_string().contains(variable));
            vars.insert(variable, "   ".into());
            assert_eq!(load(&vars).unwrap_err().variable, variable);
        }
    }

    #[test]
    fn invalid_values_fail_naming_the_variable() {
        let cases = [
            ("WEBHOOK_SECRET", "not base64!"),
            ("WEBHOOK_SECRET", "===="),
            ("WEBHOOK_SECRET_PREVIOUS", "%%%"),
            ("THUMBNAIL_BUCKET", "Upper_Case"),
            ("THUMBNAIL_BUCKET", "ab"),
            ("THUMBNAIL_PREFIX", "thumbs"),
            ("THUMBNAIL_PREFIX", "/abs/"),
            ("THUMBNAIL_PREFIX", "../up/"),
            ("THUMBNAIL_PREFIX", "a//b/"),
            ("THUMBNAIL_LATEST", "maybe"),
            ("THUMBNAIL_EVENTS", "2"),
            ("EVENT_QUEUE_URL", "sqs-queue-name"),
            ("REPLAY_WINDOW_SECONDS", "five minutes"),
            ("REPLAY_WINDOW_SECONDS", "-1"),
            ("MAX_BODY_BYTES", "0"),
            ("MAX_BODY_BYTES", "6MB"),
            ("SQS_MAX_MESSAGE_BYTES", "2000000"),
        ];
        for (variable, value) in cases {
            let error = error_for(variable, value);
            assert_eq!(error.variable, variable, "{variable}={value}");
            assert!(error.to_string().contains(variable));
        }
    }

    #[test]
    fn errors_and_debug_output_never_contain_the_secret() {
        let error = error_for("WEBHOOK_SECRET", "c2VjcmV0LXZhbHVl!");
        assert!(!error.to_string().contains("c2VjcmV0LXZhbHVl"));
        let debug = format!("{:?}", load(&minimal()).unwrap());
        assert!(!debug.contains(SECRET));
        assert!(!debug.contains("0123456789abcdef"));
    }
}
