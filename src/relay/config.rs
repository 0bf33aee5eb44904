//! Configuration from the environment, read once at init.
//!
//! Every invalid value fails init with a message naming the variable; secret values are never
//! part of any message.

use std::time::Duration;

use crate::relay::secrets::{DEFAULT_REFRESH_INTERVAL, SecretSet, WebhookSecret};

/// The defaults (docs/configuration.md lists them).
pub const DEFAULT_THUMBNAIL_PREFIX: &str = "thumbnails/";
pub const DEFAULT_REPLAY_WINDOW_SECONDS: u64 = 300;
pub const DEFAULT_MAX_BODY_BYTES: usize = 6 * 1024 * 1024;
pub const DEFAULT_SQS_MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Every body the relay would accept can be kept: a renewal must not lose a 4K thumbnail.
pub const DEFAULT_QUARANTINE_MAX_BYTES: usize = DEFAULT_MAX_BODY_BYTES;
/// One instance serves one request at a time, and a quarantine write costs one S3 PUT
/// (tens of ms), so legitimate traffic during a renewal stays under ~20 per second per
/// instance; the cap bounds what a flood of forged deliveries can store.
pub const DEFAULT_QUARANTINE_PER_MINUTE: u32 = 1200;
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

/// Where the webhook secrets come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretConfig {
    /// `WEBHOOK_SECRET` (+ `WEBHOOK_SECRET_PREVIOUS`): fixed for the life of the process.
    Literal(SecretSet),
    /// `WEBHOOK_SECRET_ID`: read from Secrets Manager at init, re-read on a mismatch at most
    /// once per `refresh_interval` (`SECRET_REFRESH_SECONDS`).
    SecretsManager {
        secret_id: String,
        refresh_interval: Duration,
    },
}

/// What is kept of deliveries that could not be verified (docs/architecture.md, "Quarantine and replay").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineConfig {
    /// `QUARANTINE`
    pub enabled: bool,
    /// `QUARANTINE_MAX_BYTES`: larger bodies are not kept.
    pub max_bytes: usize,
    /// `QUARANTINE_PER_MINUTE`: objects kept per instance and calendar minute.
    pub per_minute: u32,
}

/// How a verified delivery is routed and made durable: shared by the Lambda and by
/// `relayctl quarantine replay`, which must take exactly the relay's paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathSettings {
    pub thumbnail_prefix: String,
    pub thumbnail_latest: bool,
    pub thumbnail_events: bool,
    /// 0 turns the replay check off.
    pub replay_window_seconds: u64,
    pub sqs_max_message_bytes: usize,
    /// The queue URL ends in `.fifo`.
    pub fifo: bool,
}

impl PathSettings {
    /// `THUMBNAIL_PREFIX`, `THUMBNAIL_LATEST`, `THUMBNAIL_EVENTS`, `REPLAY_WINDOW_SECONDS` and
    /// `SQS_MAX_MESSAGE_BYTES` through `lookup`, for a queue at `queue_url`.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        queue_url: &str,
    ) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let thumbnail_prefix = match lookup("THUMBNAIL_PREFIX") {
            // Unlike other variables, an explicitly empty prefix is meaningful: the bucket root.
            Some(value) => parse_prefix(value.trim())?,
            None => DEFAULT_THUMBNAIL_PREFIX.to_owned(),
        };
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
            thumbnail_prefix,
            thumbnail_latest: get("THUMBNAIL_LATEST")
                .map(|value| parse_bool("THUMBNAIL_LATEST", &value))
                .transpose()?
                .unwrap_or(true),
            thumbnail_events: get("THUMBNAIL_EVENTS")
                .map(|value| parse_bool("THUMBNAIL_EVENTS", &value))
                .transpose()?
                .unwrap_or(true),
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
            sqs_max_message_bytes,
            fifo: queue_url.trim().ends_with(".fifo"),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub secrets: SecretConfig,
    pub quarantine: QuarantineConfig,
    pub thumbnail_bucket: String,
    pub event_queue_url: String,
    pub paths: PathSettings,
    pub max_body_bytes: usize,
    /// True when an endpoint override is configured (local S3 servers need path-style URLs).
    pub s3_force_path_style: bool,
    /// `AWS_LAMBDA_FUNCTION_NAME`, the dimension of the relay's metrics.
    pub function_name: String,
    /// `EVENT_BUS_NAME`: the EventBridge bus (name or ARN) that gets a copy of every queue
    /// message; unset or empty, the bus output is off.
    pub event_bus: Option<String>,
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

        let secrets = secret_config(&get)?;
        let thumbnail_bucket = parse_bucket(required("THUMBNAIL_BUCKET")?)?;
        let event_queue_url = parse_queue_url(required("EVENT_QUEUE_URL")?)?;
        let paths = PathSettings::from_lookup(&lookup, &event_queue_url)?;
        let quarantine = QuarantineConfig {
            enabled: get("QUARANTINE")
                .map(|value| parse_bool("QUARANTINE", &value))
                .transpose()?
                .unwrap_or(true),
            max_bytes: get("QUARANTINE_MAX_BYTES")
                .map(|value| parse_size("QUARANTINE_MAX_BYTES", &value))
                .transpose()?
                .unwrap_or(DEFAULT_QUARANTINE_MAX_BYTES),
            per_minute: get("QUARANTINE_PER_MINUTE")
                .map(|value| match value.trim().parse::<u32>() {
                    Ok(count) => Ok(count),
                    Err(_) => Err(ConfigError::new(
                        "QUARANTINE_PER_MINUTE",
                        "must be a whole number of objects per minute",
                    )),
                })
                .transpose()?
                .unwrap_or(DEFAULT_QUARANTINE_PER_MINUTE),
        };

        Ok(Self {
            secrets,
            quarantine,
            thumbnail_bucket,
            event_queue_url,
            paths,
            max_body_bytes: get("MAX_BODY_BYTES")
                .map(|value| parse_size("MAX_BODY_BYTES", &value))
                .transpose()?
                .unwrap_or(DEFAULT_MAX_BODY_BYTES),
            s3_force_path_style: Self::endpoint_overridden(&lookup),
            function_name: get("AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or_else(|| "webhook-relay".into()),
            event_bus: get("EVENT_BUS_NAME")
                .map(|value| parse_event_bus(value.trim()))
                .transpose()?,
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
        self.paths.fifo
    }
}

const BOTH_SECRET_FORMS: &str = "WEBHOOK_SECRET, WEBHOOK_SECRET_ID";

/// Exactly one of `WEBHOOK_SECRET` (literal, with an optional `WEBHOOK_SECRET_PREVIOUS`) and
/// `WEBHOOK_SECRET_ID` (Secrets Manager, whose value holds both).
fn secret_config(get: &impl Fn(&str) -> Option<String>) -> Result<SecretConfig, ConfigError> {
    let refresh_interval = get("SECRET_REFRESH_SECONDS")
        .map(|value| match value.trim().parse::<u64>() {
            Ok(seconds) if seconds > 0 => Ok(Duration::from_secs(seconds)),
            _ => Err(ConfigError::new(
                "SECRET_REFRESH_SECONDS",
                "must be a whole number of seconds, at least 1",
            )),
        })
        .transpose()?
        .unwrap_or(DEFAULT_REFRESH_INTERVAL);
    match (get("WEBHOOK_SECRET"), get("WEBHOOK_SECRET_ID")) {
        (Some(current), None) => Ok(SecretConfig::Literal(SecretSet::single(
            parse_secret("WEBHOOK_SECRET", &current)?,
            get("WEBHOOK_SECRET_PREVIOUS")
                .map(|value| parse_secret("WEBHOOK_SECRET_PREVIOUS", &value))
                .transpose()?,
        ))),
        (None, Some(secret_id)) => {
            if get("WEBHOOK_SECRET_PREVIOUS").is_some() {
                return Err(ConfigError::new(
                    "WEBHOOK_SECRET_PREVIOUS",
                    "goes with WEBHOOK_SECRET only (with WEBHOOK_SECRET_ID the secret's value holds `previous`)",
                ));
            }
            Ok(SecretConfig::SecretsManager {
                secret_id: secret_id.trim().to_owned(),
                refresh_interval,
            })
        }
        (Some(_), Some(_)) => Err(ConfigError::new(
            BOTH_SECRET_FORMS,
            "are both set: set exactly one (a literal secret, or a Secrets Manager secret id)",
        )),
        (None, None) => Err(ConfigError::new(
            BOTH_SECRET_FORMS,
            "are both unset: set exactly one (a literal secret, or a Secrets Manager secret id)",
        )),
    }
}

fn parse_secret(variable: &'static str, value: &str) -> Result<WebhookSecret, ConfigError> {
    WebhookSecret::from_base64(value)
        .map_err(|problem| ConfigError::new(variable, problem.to_string()))
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
    let segments_safe = value.strip_suffix('/').is_some_and(|inner| {
        inner
            .split('/')
            .all(crate::relay::thumbnail::is_safe_segment)
    });
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

/// An EventBridge bus name (`[/.\-_A-Za-z0-9]{1,256}`) or ARN.
fn parse_event_bus(value: &str) -> Result<String, ConfigError> {
    let valid = (1..=1600).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-' | b'_' | b':'));
    if !valid {
        return Err(ConfigError::new(
            "EVENT_BUS_NAME",
            "must be an EventBridge bus name or ARN (letters, digits, / . - _ :)",
        ));
    }
    Ok(value.to_owned())
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
        let SecretConfig::Literal(secrets) = &config.secrets else {
            panic!("literal secrets expected");
        };
        let [webhook] = secrets.webhooks() else {
            panic!("one webhook expected");
        };
        assert_eq!(webhook.id, None);
        assert_eq!(webhook.current.bytes(), b"0123456789abcdef0123456789abcdef");
        assert_eq!(webhook.previous, None);
        assert_eq!(config.paths.thumbnail_prefix, "thumbnails/");
        assert!(config.paths.thumbnail_latest);
        assert!(config.paths.thumbnail_events);
        assert_eq!(config.paths.replay_window_seconds, 300);
        assert_eq!(config.max_body_bytes, 6_291_456);
        assert_eq!(config.paths.sqs_max_message_bytes, 262_144);
        assert!(!config.s3_force_path_style);
        assert!(!config.queue_is_fifo());
        assert_eq!(
            config.quarantine,
            QuarantineConfig {
                enabled: true,
                max_bytes: 6_291_456,
                per_minute: 1200
            }
        );
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
        vars.insert("QUARANTINE", "off".into());
        vars.insert("QUARANTINE_MAX_BYTES", "2048".into());
        vars.insert("QUARANTINE_PER_MINUTE", "0".into());
        let config = load(&vars).unwrap();
        let SecretConfig::Literal(secrets) = &config.secrets else {
            panic!("literal secrets expected");
        };
        assert_eq!(
            secrets.webhooks()[0]
                .previous
                .as_ref()
                .map(WebhookSecret::bytes),
            Some(&[0u8, 0, 0][..])
        );
        assert_eq!(config.paths.thumbnail_prefix, "img/thumbs/");
        assert!(!config.paths.thumbnail_latest);
        assert!(!config.paths.thumbnail_events);
        assert!(config.queue_is_fifo());
        assert_eq!(config.paths.replay_window_seconds, 0);
        assert_eq!(config.max_body_bytes, 1024);
        assert_eq!(config.paths.sqs_max_message_bytes, 1_048_576);
        assert!(config.s3_force_path_style);
        assert_eq!(
            config.quarantine,
            QuarantineConfig {
                enabled: false,
                max_bytes: 2048,
                per_minute: 0
            }
        );
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
        assert_eq!(load(&vars).unwrap().paths.thumbnail_prefix, "");
    }

    #[test]
    fn secrets_manager_form() {
        let mut vars = minimal();
        vars.remove("WEBHOOK_SECRET");
        vars.insert(
            "WEBHOOK_SECRET_ID",
            " arn:aws:secretsmanager:us-east-1:1:secret:relay-AbCdEf ".into(),
        );
        let config = load(&vars).unwrap();
        assert_eq!(
            config.secrets,
            SecretConfig::SecretsManager {
                secret_id: "arn:aws:secretsmanager:us-east-1:1:secret:relay-AbCdEf".into(),
                refresh_interval: Duration::from_secs(5),
            }
        );
        vars.insert("SECRET_REFRESH_SECONDS", "60".into());
        let SecretConfig::SecretsManager {
            refresh_interval, ..
        } = load(&vars).unwrap().secrets
        else {
            panic!("secrets manager expected");
        };
        assert_eq!(refresh_interval, Duration::from_secs(60));
        // `previous` lives in the secret's value, not beside it.
        vars.insert("WEBHOOK_SECRET_PREVIOUS", "AAAA".into());
        assert_eq!(load(&vars).unwrap_err().variable, "WEBHOOK_SECRET_PREVIOUS");
    }

    #[test]
    fn exactly_one_secret_form() {
        let mut both = minimal();
        both.insert("WEBHOOK_SECRET_ID", "relay-secret".into());
        let mut neither = minimal();
        neither.remove("WEBHOOK_SECRET");
        for vars in [both, neither] {
            let error = load(&vars).unwrap_err();
            assert!(error.to_string().contains("WEBHOOK_SECRET,"), "{error}");
            assert!(error.to_string().contains("WEBHOOK_SECRET_ID"), "{error}");
        }
    }

    #[test]
    fn path_settings_alone_for_tools() {
        let paths = PathSettings::from_lookup(|_| None, "https://sqs.x/1/q.fifo").unwrap();
        assert_eq!(paths.thumbnail_prefix, "thumbnails/");
        assert!(paths.fifo);
        let error = PathSettings::from_lookup(
            |name| (name == "THUMBNAIL_EVENTS").then(|| "sometimes".to_owned()),
            "https://sqs.x/1/q",
        )
        .unwrap_err();
        assert_eq!(error.variable, "THUMBNAIL_EVENTS");
    }

    #[test]
    fn missing_required_variables_are_named() {
        for variable in ["THUMBNAIL_BUCKET", "EVENT_QUEUE_URL"] {
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
            ("SECRET_REFRESH_SECONDS", "0"),
            ("SECRET_REFRESH_SECONDS", "soon"),
            ("QUARANTINE", "maybe"),
            ("QUARANTINE_MAX_BYTES", "0"),
            ("QUARANTINE_PER_MINUTE", "-5"),
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
