//! `tail` and `redrive`: the event queue and the events spilled beside it.

use std::io::Write;

use millicast_webhook_relay::aws::sqs::SqsEventQueue;
use millicast_webhook_relay::contract::Message;
use millicast_webhook_relay::operator::redrive::{Redriven, redrive_bucket};
use millicast_webhook_relay::relay::clock::rfc3339_ms;
use millicast_webhooks::WebhookEvent;

use crate::aws_clients::{clients, one_line, sdk_error};
use crate::target::{StackArgs, pick};

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

pub async fn run_tail(
    stack: &StackArgs,
    queue_url: Option<&String>,
    delete: bool,
    json: bool,
    exit_when_empty: bool,
    wait_seconds: i32,
) -> Result<(), String> {
    let outputs = stack.outputs().await?;
    let queue_url = &pick(queue_url, outputs.as_ref(), "QueueUrl", "--queue-url")?;
    let sqs = clients().await?.sqs;
    loop {
        let receive = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_seconds)
            .message_attribute_names("All")
            .send();
        let output = tokio::select! {
            output = receive => output.map_err(|e| sdk_error("cannot receive from the queue", e))?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let messages = output.messages();
        if messages.is_empty() && exit_when_empty {
            return Ok(());
        }
        for message in messages {
            let body = message.body().unwrap_or_default();
            let line = if json {
                body.to_owned()
            } else {
                message_line(body, message.message_attributes())
            };
            // The reader went away (`relayctl tail | head`): stop quietly, before deleting
            // a message nobody saw.
            if writeln!(std::io::stdout().lock(), "{line}").is_err() {
                return Ok(());
            }
            if delete && let Some(handle) = message.receipt_handle() {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| sdk_error("cannot delete a message", e))?;
            }
        }
    }
}

pub async fn run_redrive(
    stack: &StackArgs,
    bucket: Option<&String>,
    queue_url: Option<&String>,
    dry_run: bool,
) -> Result<(), String> {
    let outputs = stack.outputs().await?;
    let bucket = &pick(bucket, outputs.as_ref(), "BucketName", "--bucket")?;
    let queue_url = &pick(queue_url, outputs.as_ref(), "QueueUrl", "--queue-url")?;
    let crate::aws_clients::Clients { s3, sqs, .. } = clients().await?;
    let queue = SqsEventQueue::new(sqs, queue_url);
    let (mut sent, mut kept) = (0usize, 0usize);
    redrive_bucket(
        &s3,
        bucket,
        &queue,
        queue_url.ends_with(".fifo"),
        dry_run,
        |key, outcome| match outcome {
            Redriven::Sent => sent += 1,
            Redriven::WouldSend => {
                sent += 1;
                out!("would send {key}");
            }
            Redriven::Kept(reason) => {
                kept += 1;
                eprintln!("kept {key}: {reason}");
            }
        },
    )
    .await
    .map_err(|e| one_line(&format!("cannot list s3://{bucket}/undelivered/"), &e.0))?;
    let verb = if dry_run { "would redrive" } else { "redriven" };
    out!("{verb} {sent}, kept {kept}");
    if kept == 0 {
        Ok(())
    } else {
        Err(format!("{kept} object(s) kept in undelivered/"))
    }
}
