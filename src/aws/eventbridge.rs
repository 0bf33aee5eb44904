//! The event bus over EventBridge (`PutEvents`), for the optional bus output.

use std::future::Future;
use std::pin::Pin;

use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::ports::{BusEvent, EventBus, IoError};

/// Puts events on one bus (its name or ARN, as `EVENT_BUS_NAME` gives it).
#[derive(Debug, Clone)]
pub struct EventBridgeBus {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBridgeBus {
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }

    async fn put_one(&self, event: &BusEvent) -> Result<(), IoError> {
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(event.source)
            .detail_type(&event.detail_type)
            .detail(&event.detail)
            .build();
        let output = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|error| {
                IoError(format!(
                    "eventbridge PutEvents: {}",
                    DisplayErrorContext(&error)
                ))
            })?;
        // PutEvents answers 200 with per-entry failures (throttled, too large, bus gone…).
        if output.failed_entry_count() > 0 {
            let failure = output
                .entries()
                .iter()
                .find(|entry| entry.error_code().is_some())
                .map(|entry| {
                    format!(
                        "{}: {}",
                        entry.error_code().unwrap_or_default(),
                        entry.error_message().unwrap_or_default()
                    )
                })
                .unwrap_or_else(|| "an entry failed".into());
            return Err(IoError(format!("eventbridge PutEvents: {failure}")));
        }
        Ok(())
    }
}

impl EventBus for EventBridgeBus {
    fn put<'a>(
        &'a self,
        event: &'a BusEvent,
    ) -> Pin<Box<dyn Future<Output = Result<(), IoError>> + Send + 'a>> {
        Box::pin(self.put_one(event))
    }
}
