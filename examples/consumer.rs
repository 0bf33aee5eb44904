//! An example consumer of the relay's queue: a Lambda with an SQS event source that parses each
//! message with the typed model (`millicast_webhook_relay::contract::Message`), logs it, and reports the
//! messages it could not handle as partial batch failures (`ReportBatchItemFailures`), so SQS
//! retries only those and finally moves them to the dead-letter queue.
//!
//! Deployed by `template.yaml` when `DeployExampleConsumer=true`. Replace the `handle_event`
//! body with your own logic.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_http::lambda_runtime::{self, Error, LambdaEvent, service_fn};
use lambda_http::tracing::{self, info, warn};
use millicast_webhook_relay::contract::Message;
use millicast_webhooks::WebhookEvent;

/// What to do with one parsed message. Returning `Err` reports the message as failed.
fn handle_event(message: &Message) -> Result<(), String> {
    let event = match message {
        Message::Webhook(event) => event,
        Message::ThumbnailStored(hook) => {
            info!(
                bucket = hook.data.bucket,
                key = hook.data.key,
                size = hook.data.size,
                "thumbnail"
            );
            return Ok(());
        }
        // The body is in S3: a real consumer fetches it (s3:GetObject) and parses that.
        Message::ClaimCheck { kind, pointer, .. } => {
            info!(
                kind,
                bucket = pointer.bucket,
                key = pointer.key,
                "claim check"
            );
            return Ok(());
        }
    };
    match event {
        WebhookEvent::Feeds(hook) => info!(
            event = hook.event.as_str(),
            stream = hook.data.stream_id.as_deref().unwrap_or_default(),
            active = ?hook.data.active,
            "feed"
        ),
        WebhookEvent::Recordings(hook) => info!(
            event = hook.event.as_str(),
            record_file_id = ?hook.data.record_file_id,
            stream = hook.data.stream_name.as_deref().unwrap_or_default(),
            "recording"
        ),
        WebhookEvent::Media(hook) => info!(
            event = hook.event.as_str(),
            media_asset_id = hook.data.media_asset_id.as_deref().unwrap_or_default(),
            "media"
        ),
        WebhookEvent::Transcoder(hook) => info!(
            event = hook.event.as_str(),
            transcoder = hook.data.transcoder_id.as_deref().unwrap_or_default(),
            status = hook.data.status.as_deref().unwrap_or_default(),
            "transcoder"
        ),
        WebhookEvent::ViewerConnection(hook) => info!(
            event = hook.event.as_str(),
            stream = hook.data.stream_id.as_deref().unwrap_or_default(),
            "viewer connection"
        ),
        // New types are not errors: log them and move on.
        WebhookEvent::Unknown(value) => info!(kind = %value["type"], "unknown webhook type"),
    }
    Ok(())
}

/// Handles a batch; the ids of messages that failed are returned for SQS to retry.
pub fn process_batch(batch: &SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in &batch.records {
        if let Err(reason) = process_message(message) {
            let id = message.message_id.clone().unwrap_or_default();
            warn!(message_id = id, reason, "message failed");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

fn process_message(message: &SqsMessage) -> Result<(), String> {
    let body = message.body.as_deref().ok_or("empty message")?;
    let event = Message::parse(body.as_bytes()).map_err(|e| e.to_string())?;
    handle_event(&event)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(process_batch(&event.payload))
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, body: &str) -> serde_json::Value {
        serde_json::json!({
            "messageId": id,
            "receiptHandle": format!("handle-{id}"),
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1638463486489",
                           "SenderId": "AROAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1638463486500"},
            "messageAttributes": {"type": {"stringValue": "feeds", "dataType": "String",
                                           "stringListValues": [], "binaryListValues": []}},
            "md5OfBody": "0",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:relay-events",
            "awsRegion": "us-east-1"
        })
    }

    #[test]
    fn only_broken_messages_are_reported_as_batch_item_failures() {
        let feeds = millicast_webhooks::samples::json_sample("feeds-started", 1).unwrap();
        let event: SqsEvent = serde_json::from_value(serde_json::json!({"Records": [
            record("good", &feeds),
            record("unknown-type", r#"{"type":"analytics","event":"report","timestamp":1,"data":{}}"#),
            record("broken", "this is not JSON"),
            record("not-an-envelope", "[1,2,3]"),
            record("claim-check", r#"{"type":"media","event":"completed","timestamp":1,"claimCheck":{"bucket":"b","key":"events/oversize/x.json","size":300000,"sha256":"x"}}"#),
        ]}))
        .unwrap();
        let response = process_batch(&event);
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["broken", "not-an-envelope"]);
    }

    #[test]
    fn an_all_good_batch_reports_no_failure() {
        let bodies: Vec<serde_json::Value> = millicast_webhooks::samples::JSON_SAMPLES
            .iter()
            .enumerate()
            .map(|(n, name)| {
                record(
                    &n.to_string(),
                    &millicast_webhooks::samples::json_sample(name, 1).unwrap(),
                )
            })
            .collect();
        let event: SqsEvent =
            serde_json::from_value(serde_json::json!({ "Records": bodies })).unwrap();
        assert!(process_batch(&event).batch_item_failures.is_empty());
    }
}
