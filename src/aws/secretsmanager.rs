//! The webhook secret in AWS Secrets Manager: the relay's [`SecretSource`], and the
//! read/replace operations of `relayctl secret set`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aws_sdk_secretsmanager::error::DisplayErrorContext;

use crate::ports::IoError;
use crate::ports::SecretSource;
use crate::relay::config::SecretConfig;
use crate::relay::secrets::{SecretSet, SecretStore, SecretValueError, WebhookId, WebhookSecret};

/// Reads the secret's current value (`AWSCURRENT`).
#[derive(Debug, Clone)]
pub struct SecretsManagerSource {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
}

impl SecretsManagerSource {
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
        }
    }

    async fn read(&self) -> Result<String, IoError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|error| {
                IoError(format!(
                    "secretsmanager GetSecretValue {}: {}",
                    self.secret_id,
                    DisplayErrorContext(&error)
                ))
            })?;
        output.secret_string.ok_or_else(|| {
            IoError(format!(
                "secret {} has no SecretString (binary secrets are not supported)",
                self.secret_id
            ))
        })
    }
}

impl SecretSource for SecretsManagerSource {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<String, IoError>> + Send + '_>> {
        Box::pin(self.read())
    }
}

/// The secret store `config` asks for: literal values, or the Secrets Manager secret read now
/// through the client `client` builds (only then: the literal mode needs none).
pub async fn secret_store(
    config: &SecretConfig,
    client: impl FnOnce() -> aws_sdk_secretsmanager::Client,
) -> SecretStore {
    match config {
        SecretConfig::Literal(secrets) => SecretStore::fixed(secrets),
        SecretConfig::SecretsManager {
            secret_id,
            refresh_interval,
        } => {
            let source = SecretsManagerSource::new(client(), secret_id.clone());
            SecretStore::load(Arc::new(source), *refresh_interval).await
        }
    }
}

/// Why the stored secrets could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretReadError {
    #[error(
        "no secret {0} in Secrets Manager (check --secret-id, or the stack's WebhookSecretArn)"
    )]
    NotFound(String),
    #[error("{0}")]
    Unreadable(String),
    #[error("the value of secret {secret_id} {problem}")]
    Invalid {
        secret_id: String,
        problem: SecretValueError,
    },
}

/// Reads and parses the stored secrets.
pub async fn read_secrets(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<SecretSet, SecretReadError> {
    let output = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|error| {
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception())
            {
                SecretReadError::NotFound(secret_id.to_owned())
            } else {
                SecretReadError::Unreadable(format!(
                    "secretsmanager GetSecretValue {secret_id}: {}",
                    DisplayErrorContext(&error)
                ))
            }
        })?;
    let text = output.secret_string.ok_or_else(|| {
        SecretReadError::Unreadable(format!(
            "secret {secret_id} has no SecretString (binary secrets are not supported)"
        ))
    })?;
    SecretSet::parse_value(&text).map_err(|problem| SecretReadError::Invalid {
        secret_id: secret_id.to_owned(),
        problem,
    })
}

/// What `store_new_secret` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretStored {
    /// Stored as a new version; `previous` is whether a replaced secret was kept.
    Replaced { version_id: String, previous: bool },
    /// The secret was already the current one: nothing written.
    Unchanged,
}

/// Whether `store_new_secret` keeps the replaced secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Previous {
    /// The replaced secret becomes `previous` (deliveries in flight still verify).
    Keep,
    /// No `previous` at all (after a leak, once no delivery signed with the old one can come).
    Drop,
}

/// What `store_new_secret` is told about the secret it stores.
#[derive(Debug, Clone, Copy, Default)]
pub struct NewSecret<'a> {
    /// The webhook it belongs to, when known.
    pub webhook_id: Option<WebhookId>,
    /// The secret it replaces, when known (`rotate`).
    pub replaced: Option<&'a WebhookSecret>,
    /// The webhooks pointing at the relay, with the secrets the platform signs with now
    /// (`register`, `rotate`): a secret stored without id that is one of theirs gets that id,
    /// and the first webhook named takes over a lone secret that is nobody's (the stack's
    /// placeholder, or a secret from before ids).
    pub pointing: &'a [(WebhookId, WebhookSecret)],
}

/// `relayctl secret set`, `register`, `rotate`: makes `new` the current secret of its webhook
/// (see [`SecretSet::with_new_current`]), keeping the one it replaces as `previous` unless told
/// to drop it. A stored value that cannot be parsed (not written by this project) is replaced.
pub async fn store_new_secret(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
    new: WebhookSecret,
    about: NewSecret<'_>,
    previous: Previous,
) -> Result<SecretStored, String> {
    let NewSecret {
        webhook_id,
        replaced,
        pointing,
    } = about;
    let existing = match read_secrets(client, secret_id).await {
        Ok(secrets) => Some(secrets),
        Err(SecretReadError::Invalid { .. }) => None,
        Err(error) => return Err(error.to_string()),
    };
    let mut base = existing.clone().unwrap_or_default().with_ids_of(pointing);
    if let Some(id) = webhook_id.filter(|_| !pointing.is_empty()) {
        base = base.adopting_lone_unnamed(id);
    }
    let mut updated = base
        .with_new_current(webhook_id, new.clone(), replaced)
        .map_err(|e| e.to_string())?;
    let (changed_id, _) = updated
        .holder_of(&new)
        .ok_or("the new secret was not stored (a bug)")?;
    if previous == Previous::Drop {
        updated = updated.without_previous_of(changed_id);
    }
    if existing.as_ref() == Some(&updated) {
        return Ok(SecretStored::Unchanged);
    }
    let version_id = put_secrets(client, secret_id, &updated).await?;
    let kept_previous = updated
        .webhooks()
        .iter()
        .any(|w| w.id == changed_id && w.previous.is_some());
    Ok(SecretStored::Replaced {
        version_id,
        previous: kept_previous,
    })
}

/// Writes `secrets` as the secret's new current version; its version id.
pub async fn put_secrets(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
    secrets: &SecretSet,
) -> Result<String, String> {
    let output = client
        .put_secret_value()
        .secret_id(secret_id)
        .secret_string(secrets.to_value())
        .send()
        .await
        .map_err(|error| {
            format!(
                "secretsmanager PutSecretValue {secret_id}: {}",
                DisplayErrorContext(&error)
            )
        })?;
    Ok(output.version_id.unwrap_or_default())
}
