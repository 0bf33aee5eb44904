//! The stored secret value: one webhook's `{"current","previous"}` (or a plain base64 string),
//! or several webhooks', each with its id — parsed and written without ever quoting a secret.
//!
//! ```json
//! {"webhooks": [{"id": 12, "current": "<base64>", "previous": "<base64>"},
//!               {"id": 15, "current": "<base64>"}]}
//! ```
//! The one-webhook forms mean a single webhook whose id the relay does not know; they are still
//! written while that is all the value holds, so a relay of an older version can read it.

use millicast_webhooks::{SecretError, SecretUsed, SignatureVerifier, WebhookSecret};
use serde_json::Value;

/// A webhook's id on the platform.
pub type WebhookId = i64;

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
    #[error(
        "is not a JSON object {{\"current\", \"previous\"}} or {{\"webhooks\": [...]}} nor a base64 string"
    )]
    NotJson,
    #[error("webhook #{index} of `webhooks` {problem}")]
    Webhook {
        index: usize,
        problem: Box<SecretValueError>,
    },
    #[error("has no integer `id`")]
    NoId,
    #[error("names webhook {0} twice")]
    DuplicateId(WebhookId),
}

impl From<SecretError> for SecretValueError {
    fn from(error: SecretError) -> Self {
        match error {
            SecretError::NotBase64 => Self::NotBase64,
            SecretError::Empty => Self::Empty,
        }
    }
}

/// Why a secret cannot be stored as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretSetError {
    #[error("the relay holds the secrets of several webhooks ({0}): name one with --webhook-id")]
    WhichWebhook(String),
}

/// One webhook's secrets: the current one and, during a renewal, the previous one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSecrets {
    /// `None` for a secret stored before the relay knew webhook ids.
    pub id: Option<WebhookId>,
    pub current: WebhookSecret,
    pub previous: Option<WebhookSecret>,
}

impl WebhookSecrets {
    pub fn verifier(&self) -> SignatureVerifier {
        SignatureVerifier::new(
            self.current.bytes(),
            self.previous.as_ref().map(WebhookSecret::bytes),
        )
    }

    /// Whether `secret` is this webhook's current or previous secret.
    pub fn holds(&self, secret: &WebhookSecret) -> Option<SecretUsed> {
        if &self.current == secret {
            Some(SecretUsed::Current)
        } else if self.previous.as_ref() == Some(secret) {
            Some(SecretUsed::Previous)
        } else {
            None
        }
    }

    /// `new` becomes current and the one it replaces previous; the same secret again changes
    /// nothing (so reruns are harmless).
    fn rotated(&self, new: WebhookSecret) -> Self {
        if new == self.current {
            return self.clone();
        }
        Self {
            id: self.id,
            previous: Some(self.current.clone()),
            current: new,
        }
    }

    fn to_json(&self) -> Value {
        let mut value = serde_json::json!({ "current": self.current.to_base64() });
        if let Some(id) = self.id {
            value["id"] = id.into();
        }
        if let Some(previous) = &self.previous {
            value["previous"] = previous.to_base64().into();
        }
        value
    }
}

/// A webhook's verifier, labelled with its id.
#[derive(Debug, Clone)]
pub struct WebhookVerifier {
    pub id: Option<WebhookId>,
    pub verifier: SignatureVerifier,
}

/// Every webhook whose deliveries the relay verifies, each with its own secrets. Ids are
/// unique; at most one webhook has none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecretSet {
    webhooks: Vec<WebhookSecrets>,
}

/// A secret member (`current`/`previous`) of a JSON object: absent, null or blank is `None`.
fn secret_member(
    object: &Value,
    name: &'static str,
) -> Result<Option<WebhookSecret>, SecretValueError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => {
            WebhookSecret::from_base64(s)
                .map(Some)
                .map_err(|problem| SecretValueError::Field {
                    field: name,
                    problem: Box::new(problem.into()),
                })
        }
        Some(_) => Err(SecretValueError::Field {
            field: name,
            problem: Box::new(SecretValueError::NotBase64),
        }),
    }
}

fn webhook_secrets(
    object: &Value,
    id: Option<WebhookId>,
) -> Result<WebhookSecrets, SecretValueError> {
    Ok(WebhookSecrets {
        id,
        current: secret_member(object, "current")?.ok_or(SecretValueError::NoCurrent)?,
        previous: secret_member(object, "previous")?,
    })
}

impl SecretSet {
    /// One webhook whose id the relay does not know (literal secrets, older values).
    pub fn single(current: WebhookSecret, previous: Option<WebhookSecret>) -> Self {
        Self {
            webhooks: vec![WebhookSecrets {
                id: None,
                current,
                previous,
            }],
        }
    }

    /// Parses a Secrets Manager value: `{"webhooks": [{"id", "current", "previous"}, …]}`,
    /// `{"current": "<base64>", "previous": "<base64>"}` (`previous` optional, empty or null
    /// meaning none; other members ignored) or a plain base64 string (`current` alone).
    pub fn parse_value(text: &str) -> Result<Self, SecretValueError> {
        let text = text.trim();
        if !text.starts_with('{') {
            return Ok(Self::single(WebhookSecret::from_base64(text)?, None));
        }
        let value: Value = serde_json::from_str(text).map_err(|_| SecretValueError::NotJson)?;
        let Some(list) = value.get("webhooks") else {
            let single = webhook_secrets(&value, None)?;
            return Ok(Self {
                webhooks: vec![single],
            });
        };
        let list = list.as_array().ok_or(SecretValueError::NotJson)?;
        let mut set = Self::default();
        for (index, entry) in list.iter().enumerate() {
            let in_entry = |problem| SecretValueError::Webhook {
                index,
                problem: Box::new(problem),
            };
            let id = match entry.get("id") {
                None | Some(Value::Null) => None,
                Some(id) => Some(
                    id.as_i64()
                        .or_else(|| id.as_str().and_then(|s| s.trim().parse().ok()))
                        .ok_or_else(|| in_entry(SecretValueError::NoId))?,
                ),
            };
            let secrets = webhook_secrets(entry, id).map_err(in_entry)?;
            if set.webhooks.iter().any(|w| w.id == id) {
                return Err(match id {
                    Some(id) => SecretValueError::DuplicateId(id),
                    None => in_entry(SecretValueError::NoId),
                });
            }
            set.webhooks.push(secrets);
        }
        Ok(set)
    }

    /// The value stored in Secrets Manager: the one-webhook form while the set is a single
    /// webhook without id, the `webhooks` form otherwise.
    pub fn to_value(&self) -> String {
        match self.webhooks.as_slice() {
            [only] if only.id.is_none() => only.to_json().to_string(),
            webhooks => serde_json::json!({
                "webhooks": webhooks.iter().map(WebhookSecrets::to_json).collect::<Vec<_>>()
            })
            .to_string(),
        }
    }

    pub fn webhooks(&self) -> &[WebhookSecrets] {
        &self.webhooks
    }

    pub fn is_empty(&self) -> bool {
        self.webhooks.is_empty()
    }

    /// The secrets held under `id`.
    pub fn get(&self, id: WebhookId) -> Option<&WebhookSecrets> {
        self.webhooks.iter().find(|w| w.id == Some(id))
    }

    /// The webhook (by id, `None` for the one without) that holds `secret`, and as what.
    pub fn holder_of(&self, secret: &WebhookSecret) -> Option<(Option<WebhookId>, SecretUsed)> {
        self.webhooks
            .iter()
            .find_map(|w| w.holds(secret).map(|used| (w.id, used)))
    }

    /// `relayctl secret set` / `register` / `rotate`: `new` becomes the current secret of the
    /// webhook `id` (its replaced secret becoming previous). Without `id`, the only webhook held
    /// is meant; with several, the caller must name one. A webhook the set does not hold yet is
    /// added — except that the webhook without id whose secret is `replaced` (or already `new`)
    /// is that webhook: it gets the id (the relay learns ids as register and rotate name them).
    pub fn with_new_current(
        &self,
        id: Option<WebhookId>,
        new: WebhookSecret,
        replaced: Option<&WebhookSecret>,
    ) -> Result<Self, SecretSetError> {
        let mut set = self.clone();
        let index = match id {
            Some(id) => set
                .webhooks
                .iter()
                .position(|w| w.id == Some(id))
                .or_else(|| {
                    set.webhooks.iter().position(|w| {
                        w.id.is_none() && (w.current == new || replaced == Some(&w.current))
                    })
                }),
            None => match set.webhooks.as_slice() {
                [] => None,
                [_] => Some(0),
                several => {
                    return Err(SecretSetError::WhichWebhook(describe_ids(several)));
                }
            },
        };
        match index {
            Some(index) => {
                let rotated = set.webhooks[index].rotated(new);
                set.webhooks[index] = WebhookSecrets {
                    id: id.or(rotated.id),
                    ..rotated
                };
            }
            None => set.webhooks.push(WebhookSecrets {
                id,
                current: new,
                previous: None,
            }),
        }
        Ok(set)
    }

    /// The same set without the previous secret of the webhook held as `id` (`None`: the one
    /// without id) — after a leak, once no delivery signed with it can still come.
    pub fn without_previous_of(&self, id: Option<WebhookId>) -> Self {
        let mut set = self.clone();
        for webhook in &mut set.webhooks {
            if webhook.id == id {
                webhook.previous = None;
            }
        }
        set
    }

    /// The set without webhook `id` (`relayctl unregister`).
    pub fn without(&self, id: WebhookId) -> Self {
        Self {
            webhooks: self
                .webhooks
                .iter()
                .filter(|w| w.id != Some(id))
                .cloned()
                .collect(),
        }
    }

    /// Gives each secret held without id the id of the webhook in `known` (id, the secret the
    /// platform signs with now) whose secret it is, current or previous — unless that id is
    /// already held.
    pub fn with_ids_of(&self, known: &[(WebhookId, WebhookSecret)]) -> Self {
        let mut set = self.clone();
        for index in 0..set.webhooks.len() {
            if set.webhooks[index].id.is_some() {
                continue;
            }
            let owner = known.iter().find(|(id, secret)| {
                set.webhooks[index].holds(secret).is_some() && set.get(*id).is_none()
            });
            if let Some((id, _)) = owner {
                set.webhooks[index].id = Some(*id);
            }
        }
        set
    }

    /// When the set is a single secret without id, it becomes webhook `id`'s: what `register`
    /// does on a stack whose secret is still its placeholder (or from before ids), so that
    /// secret ends up as `previous`, not as a webhook nobody sends for.
    pub fn adopting_lone_unnamed(&self, id: WebhookId) -> Self {
        match self.webhooks.as_slice() {
            [only] if only.id.is_none() => Self {
                webhooks: vec![WebhookSecrets {
                    id: Some(id),
                    ..only.clone()
                }],
            },
            _ => self.clone(),
        }
    }

    /// The set without the webhook held without id.
    pub fn without_unnamed(&self) -> Self {
        Self {
            webhooks: self
                .webhooks
                .iter()
                .filter(|w| w.id.is_some())
                .cloned()
                .collect(),
        }
    }

    /// One verifier per webhook, in the set's order.
    pub fn verifiers(&self) -> Vec<WebhookVerifier> {
        self.webhooks
            .iter()
            .map(|w| WebhookVerifier {
                id: w.id,
                verifier: w.verifier(),
            })
            .collect()
    }
}

/// `12, 15 and one without id`, for messages.
pub fn describe_ids(webhooks: &[WebhookSecrets]) -> String {
    let mut names: Vec<String> = webhooks
        .iter()
        .filter_map(|w| w.id.map(|id| id.to_string()))
        .collect();
    if webhooks.iter().any(|w| w.id.is_none()) {
        names.push("one without id".to_owned());
    }
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::secrets::testing::*;

    /// A third secret, for a second webhook.
    const OTHER: &str = "b3RoZXItd2ViaG9vay1zZWNyZXQ=";

    fn only(set: &SecretSet) -> &WebhookSecrets {
        assert_eq!(set.webhooks().len(), 1, "{set:?}");
        &set.webhooks()[0]
    }

    #[test]
    fn json_value_with_current_and_previous() {
        let set = SecretSet::parse_value(&format!(r#"{{"current":"{NEW}","previous":"{OLD}"}}"#))
            .unwrap();
        let webhook = only(&set);
        assert_eq!(webhook.id, None);
        assert_eq!(webhook.current.bytes(), b"new-secret-after-renewal");
        assert_eq!(
            webhook.previous.as_ref().map(WebhookSecret::bytes),
            Some(&b"0123456789abcdef0123456789abcdef"[..])
        );
    }

    #[test]
    fn plain_string_is_current_only() {
        let set = SecretSet::parse_value(&format!("  {OLD}\n")).unwrap();
        assert_eq!(only(&set).current, secret(OLD));
        assert_eq!(only(&set).previous, None);
    }

    #[test]
    fn empty_or_null_previous_means_none() {
        for value in [
            format!(r#"{{"current":"{NEW}","previous":""}}"#),
            format!(r#"{{"current":"{NEW}","previous":null}}"#),
            format!(r#"{{"current":"{NEW}","previous":"  "}}"#),
            format!(r#"{{"current":"{NEW}","note":"unknown members are ignored"}}"#),
        ] {
            let set = SecretSet::parse_value(&value).unwrap();
            assert_eq!(only(&set).previous, None, "{value}");
        }
    }

    #[test]
    fn several_webhooks_each_with_id_current_and_previous() {
        let value = format!(
            r#"{{"webhooks":[{{"id":12,"current":"{NEW}","previous":"{OLD}"}},{{"id":"15","current":"{OTHER}"}}]}}"#
        );
        let set = SecretSet::parse_value(&value).unwrap();
        assert_eq!(set.webhooks().len(), 2);
        assert_eq!(set.get(12).unwrap().previous, Some(secret(OLD)));
        assert_eq!(set.get(15).unwrap().current, secret(OTHER));
        assert_eq!(
            set.holder_of(&secret(OLD)),
            Some((Some(12), SecretUsed::Previous))
        );
        assert_eq!(
            set.holder_of(&secret(OTHER)),
            Some((Some(15), SecretUsed::Current))
        );
        assert_eq!(SecretSet::parse_value(&set.to_value()).unwrap(), set);
        assert_eq!(set.verifiers().len(), 2);
        // An empty list is a relay that verifies nothing (after every webhook was unregistered).
        assert!(
            SecretSet::parse_value(r#"{"webhooks":[]}"#)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn bad_values_are_rejected_without_quoting_them() {
        let field = |field, problem| SecretValueError::Field {
            field,
            problem: Box::new(problem),
        };
        let webhook = |index, problem| SecretValueError::Webhook {
            index,
            problem: Box::new(problem),
        };
        let cases = [
            ("not base64!", SecretValueError::NotBase64),
            ("", SecretValueError::Empty),
            ("====", SecretValueError::NotBase64),
            (r#"{"previous":"AAAA"}"#, SecretValueError::NoCurrent),
            (r#"{"current":""}"#, SecretValueError::NoCurrent),
            (
                r#"{"current":"c2VjcmV0LXZhbHVl!"}"#,
                field("current", SecretValueError::NotBase64),
            ),
            (
                r#"{"current":"AAAA","previous":"%%%"}"#,
                field("previous", SecretValueError::NotBase64),
            ),
            (
                r#"{"current":42}"#,
                field("current", SecretValueError::NotBase64),
            ),
            (r#"{"current":"AAAA""#, SecretValueError::NotJson),
            (r#"{"webhooks":{"1":"AAAA"}}"#, SecretValueError::NotJson),
            (
                r#"{"webhooks":[{"id":1,"current":"c2VjcmV0LXZhbHVl!"}]}"#,
                webhook(0, field("current", SecretValueError::NotBase64)),
            ),
            (
                r#"{"webhooks":[{"id":1,"current":"AAAA"},{"id":"x","current":"AAAA"}]}"#,
                webhook(1, SecretValueError::NoId),
            ),
            (
                r#"{"webhooks":[{"id":1,"current":"AAAA"},{"id":1,"current":"AAAB"}]}"#,
                SecretValueError::DuplicateId(1),
            ),
        ];
        for (value, expected) in cases {
            let error = SecretSet::parse_value(value).unwrap_err();
            assert_eq!(error, expected, "{value}");
            assert!(!error.to_string().contains("c2VjcmV0LXZhbHVl"));
        }
    }

    #[test]
    fn value_round_trips_in_the_form_older_relays_read_while_it_can() {
        let set = SecretSet::single(secret(NEW), Some(secret(OLD)));
        assert_eq!(SecretSet::parse_value(&set.to_value()).unwrap(), set);
        let alone = SecretSet::parse_value(OLD).unwrap();
        assert_eq!(alone.to_value(), format!(r#"{{"current":"{OLD}"}}"#));
        let named = alone.with_new_current(Some(7), secret(OLD), None).unwrap();
        assert_eq!(
            named.to_value(),
            format!(r#"{{"webhooks":[{{"current":"{OLD}","id":7}}]}}"#)
        );
    }

    #[test]
    fn a_new_current_keeps_the_replaced_one_as_previous() {
        let before = SecretSet::parse_value(OLD).unwrap();
        let after = before.with_new_current(None, secret(NEW), None).unwrap();
        assert_eq!(only(&after).current, secret(NEW));
        assert_eq!(only(&after).previous, Some(secret(OLD)));
        // Setting the same secret again is a no-op (the previous one is not lost).
        assert_eq!(
            after.with_new_current(None, secret(NEW), None).unwrap(),
            after
        );
    }

    #[test]
    fn a_webhook_named_for_the_first_time_is_added_or_takes_over_its_unnamed_secret() {
        let legacy = SecretSet::parse_value(OLD).unwrap();
        // rotate names the webhook whose secret (OLD) is being replaced: it is the unnamed one.
        let rotated = legacy
            .with_new_current(Some(12), secret(NEW), Some(&secret(OLD)))
            .unwrap();
        assert_eq!(rotated.webhooks().len(), 1);
        let webhook = rotated.get(12).unwrap();
        assert_eq!(
            (&webhook.current, &webhook.previous),
            (&secret(NEW), &Some(secret(OLD)))
        );
        // A second webhook (added in the dashboard) is added beside it.
        let two = rotated
            .with_new_current(Some(15), secret(OTHER), None)
            .unwrap();
        assert_eq!(two.webhooks().len(), 2);
        assert_eq!(two.get(12), rotated.get(12));
        assert_eq!(two.get(15).unwrap().previous, None);
        // With two webhooks held, one must be named.
        let error = two.with_new_current(None, secret(OLD), None).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the relay holds the secrets of several webhooks (12, 15): name one with --webhook-id"
        );
        // Dropping the previous secret of one webhook leaves the other's alone.
        let dropped = two.without_previous_of(Some(12));
        assert_eq!(dropped.get(12).unwrap().previous, None);
        assert_eq!(dropped.get(15), two.get(15));
        assert_eq!(two.without(12).webhooks().len(), 1);
    }

    #[test]
    fn register_names_the_secrets_it_recognizes_and_takes_over_a_placeholder() {
        // Stored from the dashboard before ids: OLD is webhook 12's, OTHER webhook 15's.
        let dashboard = SecretSet::parse_value(OLD).unwrap();
        let known = [(12, secret(OLD)), (15, secret(OTHER))];
        let named = dashboard.with_ids_of(&known);
        assert_eq!(named.get(12).map(|w| &w.current), Some(&secret(OLD)));
        // A fresh stack's placeholder is nobody's: the first webhook registered takes it over,
        // so it ends up as that webhook's previous secret.
        let placeholder = SecretSet::parse_value(NEW).unwrap();
        assert_eq!(placeholder.with_ids_of(&known), placeholder);
        let registered = placeholder
            .adopting_lone_unnamed(12)
            .with_new_current(Some(12), secret(OLD), None)
            .unwrap();
        assert_eq!(registered.webhooks().len(), 1);
        let webhook = registered.get(12).unwrap();
        assert_eq!(
            (&webhook.current, &webhook.previous),
            (&secret(OLD), &Some(secret(NEW)))
        );
        // Beside a named webhook, nothing is taken over.
        assert_eq!(registered.adopting_lone_unnamed(15), registered);
    }

    #[test]
    fn debug_output_is_redacted() {
        let set = SecretSet::parse_value(OLD).unwrap();
        let debug = format!("{set:?}");
        assert!(!debug.contains(OLD) && !debug.contains("0123456789abcdef"));
    }
}
