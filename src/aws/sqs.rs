//! The event queue over SQS.

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::MessageAttributeValue;

use crate::ports::{EventQueue, IoError};
use crate::relay::message::{AttributeValue, QueueMessage};

#[derive(Debug, Clone)]
pub struct SqsEventQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsEventQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

fn sdk_attribute(value: &AttributeValue) -> Result<MessageAttributeValue, IoError> {
    let (data_type, text) = match value {
        AttributeValue::String(text) => ("String", text),
        AttributeValue::Number(text) => ("Number", text),
    };
    MessageAttributeValue::builder()
        .data_type(data_type)
        .string_value(text)
        .build()
        .map_err(|e| IoError(format!("sqs message attribute: {e}")))
}

impl EventQueue for SqsEventQueue {
    async fn send(&self, message: &QueueMessage) -> Result<(), IoError> {
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(&message.body);
        for (name, value) in &message.attributes {
            request = request.message_attributes(*name, sdk_attribute(value)?);
        }
        if let Some(ids) = &message.fifo {
            request = request
                .message_group_id(&ids.group_id)
                .message_deduplication_id(&ids.deduplication_id);
        }
        request
            .send()
            .await
            .map(|_| ())
            .map_err(|error| IoError(format!("sqs SendMessage: {}", DisplayErrorContext(&error))))
    }
}
