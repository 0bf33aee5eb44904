//! `relayctl quarantine replay`: verify the kept deliveries again and deliver those that verify.

use clap::Args;
use millicast_webhook_relay::aws::secretsmanager::read_secrets;
use millicast_webhook_relay::operator::error::OperatorError;
use millicast_webhook_relay::operator::replay::{
    ReplayOptions, Replayed, relay_delivery, replay_quarantine,
};
use millicast_webhook_relay::operator::stack::StackOutputs;
use millicast_webhook_relay::relay::quarantine::QUARANTINE_PREFIX;
use millicast_webhook_relay::relay::secrets::{WebhookSecret, WebhookVerifier};
use millicast_webhooks::signature::SignatureVerifier;

use crate::aws_clients::{Clients, clients};
use crate::error::Error;
use crate::target::{BusArgs, StackArgs, path_settings, pick};

#[derive(Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    stack: StackArgs,
    #[arg(long, env = "THUMBNAIL_BUCKET")]
    bucket: Option<String>,
    #[arg(long, env = "EVENT_QUEUE_URL")]
    queue_url: Option<String>,
    #[command(flatten)]
    secrets: SecretChoice,
    /// Only deliveries received at or after this time (epoch ms).
    #[arg(long)]
    since: Option<i64>,
    /// Say what would be replayed; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Also deliver verified events kept as `stale` (outside the replay window when they
    /// came: the platform delivered them late), with their original receive time.
    #[arg(long)]
    accept_stale: bool,
    #[command(flatten)]
    bus: BusArgs,
}

/// The secrets to verify with: the stored ones (`--secret-id`, or the stack's), or values given.
#[derive(Args)]
#[group(required = false, multiple = false)]
struct SecretChoice {
    /// Secrets Manager secret (name or ARN) holding {"current","previous"}.
    #[arg(long, env = "WEBHOOK_SECRET_ID")]
    secret_id: Option<String>,
    /// A webhook secret (base64); repeat for several.
    #[arg(long)]
    secret: Vec<String>,
}

/// Where replay takes the secrets to verify with.
enum ReplaySecrets {
    /// `--secret-id` (or the stack's WebhookSecretArn): every webhook's stored current and
    /// previous secrets.
    SecretId(Option<String>),
    /// `--secret S …`: these, each as a current secret.
    Given(Vec<String>),
}

impl SecretChoice {
    fn into_replay_secrets(self) -> ReplaySecrets {
        match self.secret_id {
            Some(id) if self.secret.is_empty() => ReplaySecrets::SecretId(Some(id)),
            _ if self.secret.is_empty() => ReplaySecrets::SecretId(None),
            _ => ReplaySecrets::Given(self.secret),
        }
    }
}

async fn verifiers(
    clients: &Clients,
    secrets: &ReplaySecrets,
    outputs: Option<&StackOutputs>,
) -> Result<Vec<WebhookVerifier>, Error> {
    match secrets {
        ReplaySecrets::SecretId(id) => {
            let id = pick(
                id.as_ref(),
                outputs,
                "WebhookSecretArn",
                "--secret-id (or --secret)",
            )?;
            let set = read_secrets(&clients.secrets, &id)
                .await
                .map_err(|e| Error::context("cannot read the webhook secret", e))?;
            Ok(set.verifiers())
        }
        ReplaySecrets::Given(values) => values
            .iter()
            .map(|value| {
                WebhookSecret::from_base64(value)
                    .map(|current| WebhookVerifier {
                        id: None,
                        verifier: SignatureVerifier::new(current.bytes(), None),
                    })
                    .map_err(|problem| {
                        OperatorError::invalid_secret("--secret", problem.into()).into()
                    })
            })
            .collect(),
    }
}

impl ReplayArgs {
    pub async fn run(self) -> Result<(), Error> {
        let options = ReplayOptions {
            since_ms: self.since,
            dry_run: self.dry_run,
            accept_stale: self.accept_stale,
        };
        let secrets = self.secrets.into_replay_secrets();
        let outputs = self.stack.outputs().await?;
        let outputs = outputs.as_ref();
        let bucket = &pick(self.bucket.as_ref(), outputs, "BucketName", "--bucket")?;
        let queue_url = &pick(self.queue_url.as_ref(), outputs, "QueueUrl", "--queue-url")?;
        // The same paths as the relay: THUMBNAIL_PREFIX, REPLAY_WINDOW_SECONDS… as the stack set them.
        let settings = path_settings(outputs, queue_url)?;
        let clients = clients().await?;
        let verifiers = verifiers(&clients, &secrets, outputs).await?;
        let event_bus = self.bus.resolve(outputs);
        let delivery = relay_delivery(&clients, settings, bucket, queue_url, event_bus.as_deref());
        let (mut replayed, mut kept) = (0usize, 0usize);
        replay_quarantine(
            &clients.s3,
            bucket,
            &verifiers,
            &delivery,
            options,
            |key, outcome| match outcome {
                Replayed::Delivered(_) => replayed += 1,
                Replayed::WouldDeliver(path) => {
                    replayed += 1;
                    out!("would replay {key} ({path})");
                }
                Replayed::Kept(reason) => {
                    kept += 1;
                    eprintln!("kept {key}: {reason}");
                }
            },
        )
        .await
        .map_err(|e| Error::context(format!("cannot list s3://{bucket}/{QUARANTINE_PREFIX}"), e))?;
        let verb = if options.dry_run {
            "would replay"
        } else {
            "replayed"
        };
        out!("{verb} {replayed}, kept {kept}");
        if kept == 0 {
            Ok(())
        } else {
            Err(Error::failed(format!(
                "{kept} delivery(ies) kept in {QUARANTINE_PREFIX}"
            )))
        }
    }
}
