//! `relayctl secret set`: the webhook secret copied from the dashboard, into Secrets Manager.

use clap::Args;
use millicast_webhook_relay::aws::secretsmanager::{
    NewSecret, Previous, SecretStored, store_new_secret,
};
use millicast_webhook_relay::operator::error::OperatorError;
use millicast_webhook_relay::relay::secrets::WebhookSecret;

use crate::aws_clients::clients;
use crate::error::Error;
use crate::target::{StackArgs, pick};

#[derive(Args)]
pub struct SetArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// Secrets Manager secret (name or ARN): the stack's WebhookSecretArn output.
    #[arg(long, env = "WEBHOOK_SECRET_ID")]
    secret_id: Option<String>,
    /// The webhook whose secret this is (required once the relay holds several).
    #[arg(long)]
    webhook_id: Option<i64>,
    /// Keep no `previous` secret (after a leak, once the renewal is complete).
    #[arg(long)]
    drop_previous: bool,
}

/// Reads the secret from standard input; on a terminal, without echoing it.
fn read_secret() -> Result<String, OperatorError> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Webhook secret (input hidden): ")
            .map_err(|e| OperatorError::io("cannot read the secret", e))
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| OperatorError::io("cannot read standard input", e))?;
        Ok(line)
    }
}

impl SetArgs {
    pub async fn run(self) -> Result<(), Error> {
        let webhook_id = self.webhook_id;
        let outputs = self.stack.outputs().await?;
        let secret_id = &pick(
            self.secret_id.as_ref(),
            outputs.as_ref(),
            "WebhookSecretArn",
            "--secret-id",
        )?;
        let text = read_secret()?;
        if text.trim().is_empty() {
            return Err(OperatorError::usage(
                "no secret on standard input (paste the secret the dashboard shows)",
            )
            .into());
        }
        let secret = WebhookSecret::from_base64(&text)
            .map_err(|problem| OperatorError::invalid_secret("the secret", problem.into()))?;
        let clients = clients().await?;
        let previous = if self.drop_previous {
            Previous::Drop
        } else {
            Previous::Keep
        };
        let (whose, this) = match webhook_id {
            Some(id) => (format!("webhook {id}'s "), format!("webhook {id}'s")),
            None => ("a ".to_owned(), "this".to_owned()),
        };
        let about = NewSecret {
            webhook_id,
            ..NewSecret::default()
        };
        match store_new_secret(&clients.secrets, secret_id, secret, about, previous)
            .await
            .map_err(|e| Error::context("cannot store the secret", OperatorError::SecretWrite(e)))?
        {
            SecretStored::Replaced {
                version_id,
                previous,
            } => {
                out!(
                    "stored {whose}new secret in {secret_id} (version {version_id}){}",
                    if previous {
                        "; the replaced one is kept as previous"
                    } else {
                        ""
                    }
                );
            }
            SecretStored::Unchanged => {
                out!("unchanged: {secret_id} already holds {this} secret")
            }
        }
        Ok(())
    }
}
