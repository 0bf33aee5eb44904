//! `relayctl tail`: the event queue, one line per message.

use std::io::Write;

use clap::Args;
use millicast_webhook_relay::contract::Message;
use millicast_webhook_relay::operator::sdk::MAX_WAIT_SECONDS;
use millicast_webhook_relay::relay::clock::rfc3339_ms;
use millicast_webhooks::WebhookEvent;

use crate::aws_clients::clients;
use crate::error::Error;
use crate::target::{StackArgs, pick};

#[derive(Args)]
pub struct TailArgs {
    #[command(flatten)]
    stack: StackArgs,
    #[arg(long, env = "EVENT_QUEUE_URL")]
    queue_url: Option<String>,
    /// Delete each message after printing it (otherwise it reappears after its visibility timeout).
    #[arg(long)]
    delete: bool,
    /// Print each message body as it is (one JSON document per line).
    #[arg(long)]
    json: bool,
    /// Stop at the first poll that returns nothing.
    #[arg(long)]
    exit_when_empty: bool,
    /// Long-poll wait, 0-20 seconds.
    #[arg(long, default_value_t = MAX_WAIT_SECONDS as i32, value_parser = clap::value_parser!(i32).range(0..=MAX_WAIT_SECONDS as i64))]
    wait_seconds: i32,
}

impl TailArgs {
    pub async fn run(self) -> Result<(), Error> {
        let outputs = self.stack.outputs().await?;
        let queue_url = &pick(
            self.queue_url.as_ref(),
            outputs.as_ref(),
            "QueueUrl",
            "--queue-url",
        )?;
        let sqs = clients().await?.sqs;
        loop {
            let receive = sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(self.wait_seconds)
                .message_attribute_names("All")
                .send();
            let output = tokio::select! {
                output = receive => output.map_err(|e| Error::aws("cannot receive from the queue", e))?,
                _ = tokio::signal::ctrl_c() => return Ok(()),
            };
            let messages = output.messages();
            if messages.is_empty() && self.exit_when_empty {
                return Ok(());
            }
            for message in messages {
                let body = message.body().unwrap_or_default();
                let line = if self.json {
                    body.to_owned()
                } else {
                    message_line(body, message.message_attributes())
                };
                // The reader went away (`relayctl tail | head`): stop quietly, before deleting
                // a message nobody saw.
                if writeln!(std::io::stdout().lock(), "{line}").is_err() {
                    return Ok(());
                }
                if self.delete
                    && let Some(handle) = message.receipt_handle()
                {
                    sqs.delete_message()
                        .queue_url(queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .map_err(|e| Error::aws("cannot delete a message", e))?;
                }
            }
        }
    }
}

/// One line per message: time, type/event, stream, and the fields that identify it.
fn message_line(
    body: &str,
    attributes: Option<
        &std::collections::HashMap<String, aws_sdk_sqs::types::MessageAttributeValue>,
    >,
) -> String {
    let attribute = |name: &str| {
        attributes
            .and_then(|a| a.get(name))
            .and_then(|v| v.string_value())
            .unwrap_or("-")
            .to_owned()
    };
    let time = attribute("timestamp")
        .parse::<i64>()
        .map(rfc3339_ms)
        .unwrap_or_else(|_| "-".into());
    let detail = match Message::parse(body.as_bytes()) {
        Ok(Message::Webhook(WebhookEvent::Feeds(h))) => {
            format!("feedId={}", h.data.feed_id.unwrap_or_default())
        }
        Ok(Message::Webhook(WebhookEvent::Recordings(h))) => {
            format!("recordFileId={}", h.data.record_file_id.unwrap_or_default())
        }
        Ok(Message::Webhook(WebhookEvent::Media(h))) => format!(
            "mediaAssetId={} kind={}",
            h.data.media_asset_id.unwrap_or_default(),
            h.data.kind.unwrap_or_default()
        ),
        Ok(Message::Webhook(WebhookEvent::Transcoder(h))) => format!(
            "transcoderId={} status={}",
            h.data.transcoder_id.unwrap_or_default(),
            h.data.status.unwrap_or_default()
        ),
        Ok(Message::ThumbnailStored(h)) => format!("key={} size={}", h.data.key, h.data.size),
        Ok(Message::ClaimCheck { pointer, .. }) => format!(
            "claimCheck s3://{}/{} size={}",
            pointer.bucket, pointer.key, pointer.size
        ),
        Ok(Message::Webhook(WebhookEvent::ViewerConnection(_) | WebhookEvent::Unknown(_))) => {
            String::new()
        }
        Err(_) => "(not a webhook envelope)".into(),
    };
    format!(
        "{time} {}/{} {} {detail}",
        attribute("type"),
        attribute("event"),
        attribute("streamId")
    )
    .trim_end()
    .to_owned()
}
