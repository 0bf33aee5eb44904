//! `relayctl redrive`: the events spilled to `undelivered/`, back onto the queue.

use clap::Args;
use millicast_webhook_relay::aws::eventbridge::EventBridgeBus;
use millicast_webhook_relay::aws::sqs::SqsEventQueue;
use millicast_webhook_relay::operator::redrive::{
    Redriven, max_message_bytes, redrive_bucket, redrive_bus,
};
use millicast_webhook_relay::relay::keys::{UNDELIVERED_BUS_PREFIX, UNDELIVERED_PREFIX};

use crate::aws_clients::{Clients, clients, eventbridge_client};
use crate::error::Error;
use crate::target::{BusArgs, StackArgs, pick};

#[derive(Args)]
pub struct RedriveArgs {
    #[command(flatten)]
    stack: StackArgs,
    #[arg(long, env = "THUMBNAIL_BUCKET")]
    bucket: Option<String>,
    #[arg(long, env = "EVENT_QUEUE_URL")]
    queue_url: Option<String>,
    /// List what would be sent; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// With a bus, the copies it did not take (under `undelivered-bus/`) are put on it too.
    #[command(flatten)]
    bus: BusArgs,
}

impl RedriveArgs {
    pub async fn run(self) -> Result<(), Error> {
        let dry_run = self.dry_run;
        let outputs = self.stack.outputs().await?;
        let bucket = &pick(
            self.bucket.as_ref(),
            outputs.as_ref(),
            "BucketName",
            "--bucket",
        )?;
        let queue_url = &pick(
            self.queue_url.as_ref(),
            outputs.as_ref(),
            "QueueUrl",
            "--queue-url",
        )?;
        let Clients { s3, sqs, .. } = clients().await?;
        // What the queue takes; unknown (unreadable), SQS itself says so when it refuses.
        let max_message_bytes = max_message_bytes(&sqs, queue_url).await;
        let queue = SqsEventQueue::new(sqs, queue_url);
        let (mut sent, mut kept) = (0usize, 0usize);
        redrive_bucket(
            &s3,
            bucket,
            &queue,
            queue_url.ends_with(".fifo"),
            dry_run,
            max_message_bytes,
            tally(&mut sent, &mut kept, "would send"),
        )
        .await
        .map_err(|e| {
            Error::context(format!("cannot list s3://{bucket}/{UNDELIVERED_PREFIX}"), e)
        })?;
        let verb = if dry_run { "would redrive" } else { "redriven" };
        out!("{verb} {sent}, kept {kept}");
        if let Some(bus) = self.bus.resolve(outputs.as_ref()) {
            let bus = EventBridgeBus::new(eventbridge_client().await?, bus);
            let (mut put, mut kept_for_bus) = (0usize, 0usize);
            let counts = tally(&mut put, &mut kept_for_bus, "would put on the bus");
            redrive_bus(&s3, bucket, &bus, dry_run, counts)
                .await
                .map_err(|e| {
                    Error::context(
                        format!("cannot list s3://{bucket}/{UNDELIVERED_BUS_PREFIX}"),
                        e,
                    )
                })?;
            out!("{verb} to the bus {put}, kept {kept_for_bus}");
            kept += kept_for_bus;
        }
        if kept == 0 {
            Ok(())
        } else {
            Err(Error::failed(format!(
                "{kept} object(s) kept in undelivered/ or undelivered-bus/"
            )))
        }
    }
}

/// Counts each object's outcome: sent (or, in a dry run, printed with `would`), or kept with
/// its reason on standard error.
fn tally<'a>(
    sent: &'a mut usize,
    kept: &'a mut usize,
    would: &'a str,
) -> impl FnMut(&str, &Redriven) + 'a {
    move |key, outcome| match outcome {
        Redriven::Sent => *sent += 1,
        Redriven::WouldSend => {
            *sent += 1;
            out!("{would} {key}");
        }
        Redriven::Kept(reason) => {
            *kept += 1;
            eprintln!("kept {key}: {reason}");
        }
    }
}
