//! `relayctl dead-letters move-back`: the dead-letter queue's messages back to the event queue,
//! moved by SQS's own message-move task once the consumer is fixed.

use std::time::Duration;

use clap::{Args, Subcommand};
use millicast_webhook_relay::operator::dead_letters::{
    latest_move, queue_arn, start_move, visible_messages,
};

use crate::aws_clients::clients;
use crate::error::Error;
use crate::target::{StackArgs, pick};

#[derive(Subcommand)]
pub enum DeadLettersCommand {
    /// Move the dead-letter queue's messages back to the event queue with SQS's message-move
    /// task (StartMessageMoveTask), once consumers handle them again.
    MoveBack(MoveBackArgs),
}

impl DeadLettersCommand {
    pub async fn run(self) -> Result<(), Error> {
        match self {
            DeadLettersCommand::MoveBack(args) => args.run().await,
        }
    }
}

/// How often `--wait` asks SQS how far the task got.
const POLL: Duration = Duration::from_secs(2);

#[derive(Args)]
pub struct MoveBackArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// The dead-letter queue (the stack's DeadLetterQueueUrl).
    #[arg(long)]
    dead_letter_queue_url: Option<String>,
    /// The queue the messages go back to (the stack's QueueUrl).
    #[arg(long, env = "EVENT_QUEUE_URL")]
    queue_url: Option<String>,
    /// At most this many messages a second (without it SQS chooses, up to 500).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..=500))]
    max_per_second: Option<i32>,
    /// Follow the task until it ends; exit code 1 when it fails.
    #[arg(long)]
    wait: bool,
}

impl MoveBackArgs {
    pub async fn run(self) -> Result<(), Error> {
        let outputs = self.stack.outputs().await?;
        let outputs = outputs.as_ref();
        let dlq_url = pick(
            self.dead_letter_queue_url.as_ref(),
            outputs,
            "DeadLetterQueueUrl",
            "--dead-letter-queue-url",
        )?;
        let queue_url = pick(self.queue_url.as_ref(), outputs, "QueueUrl", "--queue-url")?;
        let sqs = clients().await?.sqs;
        let (visible, in_flight) =
            visible_messages(&sqs, &dlq_url, "the dead-letter queue").await?;
        let count = visible + in_flight;
        if count == 0 {
            out!("the dead-letter queue is empty: nothing to move");
            return Ok(());
        }
        let source = queue_arn(&sqs, &dlq_url, "the dead-letter queue").await?;
        let destination = match outputs.and_then(|o| o.get("QueueArn")) {
            Some(arn) if self.queue_url.is_none() => arn.to_owned(),
            _ => queue_arn(&sqs, &queue_url, "the event queue").await?,
        };
        let handle = start_move(&sqs, &source, &destination, self.max_per_second).await?;
        eprintln!("moving {count} message(s) from {source} to {destination} (task {handle})");
        if !self.wait {
            out!(
                "started moving {count} message(s) back to {queue_url}; SQS goes on without relayctl (--wait follows it)"
            );
            return Ok(());
        }
        loop {
            let task = tokio::select! {
                task = latest_move(&sqs, &source) => task?,
                _ = tokio::signal::ctrl_c() => {
                    out!("stopped following the task; SQS goes on moving");
                    return Ok(());
                }
            };
            match task {
                Some(task) if task.is_running() => {
                    eprintln!(
                        "{}: {} of {} moved",
                        task.status,
                        task.moved,
                        task.to_move
                            .map_or_else(|| "?".to_owned(), |n| n.to_string())
                    );
                }
                Some(task) if task.status == "COMPLETED" => {
                    out!("moved {} message(s) back to {queue_url}", task.moved);
                    return Ok(());
                }
                Some(task) => {
                    return Err(Error::failed(format!(
                        "the message-move task ended {} after {} message(s){}",
                        task.status,
                        task.moved,
                        task.failure.map(|f| format!(": {f}")).unwrap_or_default()
                    )));
                }
                None => {
                    return Err(Error::failed(format!(
                        "SQS lists no message-move task of {source}"
                    )));
                }
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
