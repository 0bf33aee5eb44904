//! `relayctl quarantine list`: a table of the kept deliveries.

use clap::Args;
use millicast_webhook_relay::operator::replay::{list_quarantine, read_delivery};
use millicast_webhook_relay::relay::clock::rfc3339_ms;
use millicast_webhook_relay::relay::handler::{Route, route};
use millicast_webhook_relay::relay::quarantine::{KeptDelivery, QUARANTINE_PREFIX};
use millicast_webhooks::Envelope;

use crate::aws_clients::{Clients, clients};
use crate::error::Error;
use crate::target::{StackArgs, pick};

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    stack: StackArgs,
    #[arg(long, env = "THUMBNAIL_BUCKET")]
    bucket: Option<String>,
    /// Only deliveries received at or after this time (epoch ms).
    #[arg(long)]
    since: Option<i64>,
}

/// One row of `quarantine list`.
fn row(received: &str, reason: &str, size: &str, kind: &str, stream: &str) -> String {
    format!("{received:<24}  {reason:<18}  {size:>9}  {kind:<38}  {stream}")
        .trim_end()
        .to_owned()
}

impl ListArgs {
    pub async fn run(self) -> Result<(), Error> {
        let outputs = self.stack.outputs().await?;
        let bucket = &pick(
            self.bucket.as_ref(),
            outputs.as_ref(),
            "BucketName",
            "--bucket",
        )?;
        let Clients { s3, .. } = clients().await?;
        let listed = list_quarantine(&s3, bucket, self.since)
            .await
            .map_err(|e| {
                Error::context(format!("cannot list s3://{bucket}/{QUARANTINE_PREFIX}"), e)
            })?;
        out!("{}", row("RECEIVED", "REASON", "SIZE", "KIND", "STREAM"));
        for entry in &listed {
            let head = s3
                .head_object()
                .bucket(bucket)
                .key(&entry.key)
                .send()
                .await
                .map_err(|e| Error::aws(format!("cannot read {}", entry.key), e))?;
            let kept = KeptDelivery::from_metadata(
                &entry.key,
                head.metadata().unwrap_or(&Default::default()),
            );
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
}
