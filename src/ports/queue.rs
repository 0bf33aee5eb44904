//! What goes on the event queue: a message body, its typed attributes and, for FIFO queues, its
//! ids. The relay builds them (`crate::relay::message`); the queue port only sends them.

/// A typed SQS message attribute value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    String(String),
    /// Sent with SQS data type `Number`.
    Number(String),
}

/// One message for the event queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub body: String,
    pub attributes: Vec<(&'static str, AttributeValue)>,
    /// Set for FIFO queues only.
    pub fifo: Option<FifoIds>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FifoIds {
    pub group_id: String,
    pub deduplication_id: String,
}

impl QueueMessage {
    /// The `idempotencyKey` attribute (a spill keeps it in its metadata for redrive).
    pub fn idempotency_key(&self) -> Option<&str> {
        match self.attribute("idempotencyKey") {
            Some(AttributeValue::String(value)) => Some(value),
            _ => None,
        }
    }

    /// The `webhookId` attribute, when the message has one.
    pub fn webhook_id(&self) -> Option<i64> {
        match self.attribute("webhookId") {
            Some(AttributeValue::Number(value)) => value.parse().ok(),
            _ => None,
        }
    }

    /// Size as SQS counts it against its limit: body plus attribute names, types and values.
    pub fn size(&self) -> usize {
        self.body.len()
            + self
                .attributes
                .iter()
                .map(|(name, value)| {
                    name.len()
                        + match value {
                            AttributeValue::String(v) => "String".len() + v.len(),
                            AttributeValue::Number(v) => "Number".len() + v.len(),
                        }
                })
                .sum::<usize>()
    }

    /// The `signature` attribute, when the message has one.
    pub fn signature(&self) -> Option<&str> {
        match self.attribute("signature") {
            Some(AttributeValue::String(value)) => Some(value),
            _ => None,
        }
    }

    pub fn attribute(&self, name: &str) -> Option<&AttributeValue> {
        self.attributes
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }
}
