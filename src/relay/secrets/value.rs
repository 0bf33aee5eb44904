//! The stored secret value: `{"current","previous"}` or a plain base64 string, parsed and
//! written without ever quoting a secret.

use millicast_webhooks::{SecretError, SignatureVerifier, WebhookSecret};

/// Why a secret value cannot be used (never quoting the value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretValueError {
    #[error("is not valid base64 (use the secret exactly as the dashboard or API shows it)")]
    NotBase64,
    #[error("decodes to an empty secret")]
    Empty,
    #[error("is a JSON document without a string `current`")]
    NoCurrent,
    #[error("`{field}` {problem}")]
    Field {
        field: &'static str,
        problem: Box<SecretValueError>,
    },
    #[error("is not a JSON object {{\"current\", \"previous\"}} nor a base64 string")]
    NotJson,
}

/// The secrets a delivery may be signed with: the current one and, during a rotation, the
/// previous one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSet {
    pub current: WebhookSecret,
    pub previous: Option<WebhookSecret>,
}

impl From<SecretError> for SecretValueError {
    fn from(error: SecretError) -> Self {
        match error {
            SecretError::NotBase64 => Self::NotBase64,
            SecretError::Empty => Self::Empty,
        }
    }
}

impl SecretSet {
    /// Parses a Secrets Manager value: `{"current": "<base64>", "previous": "<base64>"}`
    /// (`previous` optional, empty or null meaning none; other members ignored) or a plain
    /// base64 string, which is `current` alone.
    pub fn parse_value(text: &str) -> Result<Self, SecretValueError> {
        let text = text.trim();
        if !text.starts_with('{') {
            return Ok(Self {
                current: WebhookSecret::from_base64(text)?,
                previous: None,
            });
        }
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|_| SecretValueError::NotJson)?;
        let field = |name: &'static str| -> Result<Option<WebhookSecret>, SecretValueError> {
            match value.get(name) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) if s.trim().is_empty() => Ok(None),
                Some(serde_json::Value::String(s)) => WebhookSecret::from_base64(s)
                    .map(Some)
                    .map_err(|problem| SecretValueError::Field {
                        field: name,
                        problem: Box::new(problem.into()),
                    }),
                Some(_) => Err(SecretValueError::Field {
                    field: name,
                    problem: Box::new(SecretValueError::NotBase64),
                }),
            }
        };
        Ok(Self {
            current: field("current")?.ok_or(SecretValueError::NoCurrent)?,
            previous: field("previous")?,
        })
    }

    /// The value stored in Secrets Manager.
    pub fn to_value(&self) -> String {
        let mut value = serde_json::json!({ "current": self.current.to_base64() });
        if let Some(previous) = &self.previous {
            value["previous"] = previous.to_base64().into();
        }
        value.to_string()
    }

    /// `relayctl secret set`: `new` becomes current and the one it replaces becomes previous.
    /// Storing the current secret again changes nothing (so reruns are harmless).
    pub fn with_new_current(&self, new: WebhookSecret) -> Self {
        if new == self.current {
            return self.clone();
        }
        Self {
            current: new,
            previous: Some(self.current.clone()),
        }
    }

    pub fn verifier(&self) -> SignatureVerifier {
        SignatureVerifier::new(
            self.current.bytes(),
            self.previous.as_ref().map(WebhookSecret::bytes),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::secrets::testing::*;

    #[test]
    fn json_value_with_current_and_previous() {
        let set = SecretSet::parse_value(&format!(r#"{{"current":"{NEW}","previous":"{OLD}"}}"#))
            .unwrap();
        assert_eq!(set.current.bytes(), b"new-secret-after-renewal");
        assert_eq!(
            set.previous.as_ref().map(WebhookSecret::bytes),
            Some(&b"0123456789abcdef0123456789abcdef"[..])
        );
    }

    #[test]
    fn plain_string_is_current_only() {
        let set = SecretSet::parse_value(&format!("  {OLD}\n")).unwrap();
        assert_eq!(set.current, secret(OLD));
        assert_eq!(set.previous, None);
    }

    #[test]
    fn empty_or_null_previous_means_none() {
        for value in [
            format!(r#"{{"current":"{NEW}","previous":""}}"#),
            format!(r#"{{"current":"{NEW}","previous":null}}"#),
            format!(r#"{{"current":"{NEW}","previous":"  "}}"#),
            format!(r#"{{"current":"{NEW}","note":"unknown members are ignored"}}"#),
        ] {
            assert_eq!(
                SecretSet::parse_value(&value).unwrap().previous,
                None,
                "{value}"
            );
        }
    }

    #[test]
    fn bad_values_are_rejected_without_quoting_them() {
        let cases = [
            ("not base64!", SecretValueError::NotBase64),
            ("", SecretValueError::Empty),
            ("====", SecretValueError::NotBase64),
            (r#"{"previous":"AAAA"}"#, SecretValueError::NoCurrent),
            (r#"{"current":""}"#, SecretValueError::NoCurrent),
            (
                r#"{"current":"c2VjcmV0LXZhbHVl!"}"#,
                SecretValueError::Field {
                    field: "current",
                    problem: Box::new(SecretValueError::NotBase64),
                },
            ),
            (
                r#"{"current":"AAAA","previous":"%%%"}"#,
                SecretValueError::Field {
                    field: "previous",
                    problem: Box::new(SecretValueError::NotBase64),
                },
            ),
            (
                r#"{"current":42}"#,
                SecretValueError::Field {
                    field: "current",
                    problem: Box::new(SecretValueError::NotBase64),
                },
            ),
            (r#"{"current":"AAAA""#, SecretValueError::NotJson),
        ];
        for (value, expected) in cases {
            let error = SecretSet::parse_value(value).unwrap_err();
            assert_eq!(error, expected, "{value}");
            assert!(!error.to_string().contains("c2VjcmV0LXZhbHVl"));
        }
    }

    #[test]
    fn value_round_trips() {
        let set = SecretSet {
            current: secret(NEW),
            previous: Some(secret(OLD)),
        };
        assert_eq!(SecretSet::parse_value(&set.to_value()).unwrap(), set);
        let alone = SecretSet::parse_value(OLD).unwrap();
        assert_eq!(alone.to_value(), format!(r#"{{"current":"{OLD}"}}"#));
    }

    #[test]
    fn a_new_current_keeps_the_replaced_one_as_previous() {
        let before = SecretSet::parse_value(OLD).unwrap();
        let after = before.with_new_current(secret(NEW));
        assert_eq!(after.current, secret(NEW));
        assert_eq!(after.previous, Some(secret(OLD)));
        // Setting the same secret again is a no-op (the previous one is not lost).
        assert_eq!(after.with_new_current(secret(NEW)), after);
    }

    #[test]
    fn debug_output_is_redacted() {
        let set = SecretSet::parse_value(OLD).unwrap();
        let debug = format!("{set:?}");
        assert!(!debug.contains(OLD) && !debug.contains("0123456789abcdef"));
    }
}
