//! `quarantine list` and `quarantine replay`: deliveries the relay could not verify.

use std::sync::Arc;

use millicast_webhook_relay::aws::s3::S3ObjectStore;
use millicast_webhook_relay::aws::secretsmanager::read_secrets;
use millicast_webhook_relay::aws::sqs::SqsEventQueue;
use millicast_webhook_relay::operator::replay::{
    ReplayOptions, Replayed, list_quarantine, read_delivery, replay_quarantine,
};
use millicast_webhook_relay::relay::clock::rfc3339_ms;
use millicast_webhook_relay::relay::delivery::Delivery;
use millicast_webhook_relay::relay::handler::{Route, route};
use millicast_webhook_relay::relay::quarantine::{KeptDelivery, QUARANTINE_PREFIX};
use millicast_webhook_relay::relay::secrets::{WebhookSecret, WebhookVerifier};
use millicast_webhooks::Envelope;
use millicast_webhooks::signature::SignatureVerifier;

use millicast_webhook_relay::operator::stack::StackOutputs;

use crate::aws_clients::{Clients, clients, one_line, sdk_error};
use crate::target::{StackArgs, path_settings, pick};

/// One row of `quarantine list`.
fn row(received: &str, reason: &str, size: &str, kind: &str, stream: &str) -> String {
    format!("{received:<24}  {reason:<18}  {size:>9}  {kind:<38}  {stream}")
        .trim_end()
        .to_owned()
}

pub async fn run_list(
    stack: &StackArgs,
    bucket: Option<&String>,
    since_ms: Option<i64>,
) -> Result<(), String> {
    let outputs = stack.outputs().await?;
    let bucket = &pick(bucket, outputs.as_ref(), "BucketName", "--bucket")?;
    let Clients { s3, .. } = clients().await?;
    let listed = list_quarantine(&s3, bucket, since_ms).await.map_err(|e| {
        one_line(
            &format!("cannot list s3://{bucket}/{QUARANTINE_PREFIX}"),
            &e.0,
        )
    })?;
    out!("{}", row("RECEIVED", "REASON", "SIZE", "KIND", "STREAM"));
    for entry in &listed {
        let head = s3
            .head_object()
            .bucket(bucket)
            .key(&entry.key)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("cannot read {}", entry.key), e))?;
        let kept =
            KeptDelivery::from_metadata(&entry.key, head.metadata().unwrap_or(&Default::default()));
        // Events are small: read the body for its type and stream. Images are not downloaded.
        let (kind, stream) = match route(kept.content_type.as_deref()) {
            Route::Thumbnail => ("thumbnail".to_owned(), kept.stream_id.clone()),
            Route::Event => {
                let body = read_delivery(&s3, bucket, &entry.key).await?.body;
                match Envelope::parse(&body) {
                    Ok(envelope) => (
                        format!("{}/{}", envelope.kind, envelope.event.unwrap_or_default()),
                        envelope.stream_id,
                    ),
                    Err(_) => ("(not a webhook envelope)".to_owned(), None),
                }
            }
        };
        out!(
            "{}",
            row(
                &kept
                    .received_ms
                    .map(rfc3339_ms)
                    .unwrap_or_else(|| "-".into()),
                kept.reason.map_or("-", |r| r.as_str()),
                &entry.size.to_string(),
                &kind,
                stream.as_deref().unwrap_or("-"),
            )
        );
    }
    eprintln!(
        "{} delivery(ies) in s3://{bucket}/{QUARANTINE_PREFIX}",
        listed.len()
    );
    Ok(())
}

/// Where replay takes the secrets to verify with.
pub enum ReplaySecrets {
    /// `--secret-id` (or the stack's WebhookSecretArn): every webhook's stored current and
    /// previous secrets.
    SecretId(Option<String>),
    /// `--secret S …`: these, each as a current secret.
    Given(Vec<String>),
}

async fn verifiers(
    clients: &Clients,
    secrets: &ReplaySecrets,
    outputs: Option<&StackOutputs>,
) -> Result<Vec<WebhookVerifier>, String> {
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
                .map_err(|e| one_line("cannot read the webhook secret", &e.to_string()))?;
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
                    .map_err(|problem| format!("--secret {problem}"))
            })
            .collect(),
    }
}

pub async fn run_replay(
    stack: &StackArgs,
    bucket: Option<&String>,
    queue_url: Option<&String>,
    secrets: &ReplaySecrets,
    options: ReplayOptions,
) -> Result<(), String> {
    let outputs = stack.outputs().await?;
    let outputs = outputs.as_ref();
    let bucket = &pick(bucket, outputs, "BucketName", "--bucket")?;
    let queue_url = &pick(queue_url, outputs, "QueueUrl", "--queue-url")?;
    // The same paths as the relay: THUMBNAIL_PREFIX, REPLAY_WINDOW_SECONDS… as the stack set them.
    let settings = path_settings(outputs, queue_url)?;
    let clients = clients().await?;
    let verifiers = verifiers(&clients, secrets, outputs).await?;
    let delivery = Delivery::new(
        settings,
        S3ObjectStore::new(clients.s3.clone(), bucket),
        SqsEventQueue::new(clients.sqs.clone(), queue_url),
    )
    // A delivery neither SQS nor S3 takes stays in quarantine: nothing is lost, nothing to log.
    .with_log_sink(Arc::new(|_: &str| {}));
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
    .map_err(|e| {
        one_line(
            &format!("cannot list s3://{bucket}/{QUARANTINE_PREFIX}"),
            &e.0,
        )
    })?;
    let verb = if options.dry_run {
        "would replay"
    } else {
        "replayed"
    };
    out!("{verb} {replayed}, kept {kept}");
    if kept == 0 {
        Ok(())
    } else {
        Err(format!("{kept} delivery(ies) kept in {QUARANTINE_PREFIX}"))
    }
}
