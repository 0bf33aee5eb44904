//! Moving the dead-letter queue's messages back to the event queue with SQS's own message-move
//! task (`StartMessageMoveTask`, the API behind the console's "Start DLQ redrive"): SQS moves
//! them, at its pace or `max_per_second`, and `ListMessageMoveTasks` tells how far it got.
//!
//! What the caller needs (Amazon SQS Developer Guide, "Configuring queue permissions for
//! dead-letter queue redrive"): `sqs:StartMessageMoveTask`, `sqs:ListMessageMoveTasks`,
//! `sqs:ReceiveMessage`, `sqs:DeleteMessage` and `sqs:GetQueueAttributes` on the dead-letter
//! queue, `sqs:SendMessage` on the destination; with a customer-managed key, `kms:Decrypt`
//! and `kms:GenerateDataKey` on it.

use aws_sdk_sqs::types::QueueAttributeName;

use crate::operator::error::OperatorError;

/// A message-move task as `ListMessageMoveTasks` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveTask {
    pub handle: Option<String>,
    /// `RUNNING`, `COMPLETED`, `CANCELLING`, `CANCELLED` or `FAILED`.
    pub status: String,
    pub moved: i64,
    pub to_move: Option<i64>,
    pub failure: Option<String>,
}

impl MoveTask {
    pub fn is_running(&self) -> bool {
        matches!(self.status.as_str(), "RUNNING" | "CANCELLING")
    }
}

/// The ARN of the queue at `url` (GetQueueAttributes QueueArn).
pub async fn queue_arn(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    which: &str,
) -> Result<String, OperatorError> {
    let answer = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| OperatorError::aws(format!("cannot read {which}'s ARN"), e))?;
    answer
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| OperatorError::usage(format!("SQS named no ARN for {which} ({url})")))
}

/// (visible, in flight) of the queue at `url`; `which` names it in an error (`the event queue`).
pub async fn visible_messages(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    which: &str,
) -> Result<(i64, i64), OperatorError> {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(|e| OperatorError::aws(format!("cannot read {which}"), e))?;
    let count = |name: QueueAttributeName| {
        attributes
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    Ok((
        count(QueueAttributeName::ApproximateNumberOfMessages),
        count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    ))
}

/// Starts moving the messages of `source_arn` (the dead-letter queue) to `destination_arn`;
/// the task's handle.
pub async fn start_move(
    sqs: &aws_sdk_sqs::Client,
    source_arn: &str,
    destination_arn: &str,
    max_per_second: Option<i32>,
) -> Result<String, OperatorError> {
    let answer = sqs
        .start_message_move_task()
        .source_arn(source_arn)
        .destination_arn(destination_arn)
        .set_max_number_of_messages_per_second(max_per_second)
        .send()
        .await
        .map_err(|e| {
            OperatorError::aws(
                format!("cannot start moving the messages of {source_arn} to {destination_arn}"),
                e,
            )
        })?;
    Ok(answer.task_handle().unwrap_or_default().to_owned())
}

/// The most recent message-move task of `source_arn`, if any.
pub async fn latest_move(
    sqs: &aws_sdk_sqs::Client,
    source_arn: &str,
) -> Result<Option<MoveTask>, OperatorError> {
    let answer = sqs
        .list_message_move_tasks()
        .source_arn(source_arn)
        .max_results(1)
        .send()
        .await
        .map_err(|e| {
            OperatorError::aws(
                format!("cannot list the message-move tasks of {source_arn}"),
                e,
            )
        })?;
    Ok(answer.results().first().map(|task| MoveTask {
        handle: task.task_handle().map(str::to_owned),
        status: task.status().unwrap_or("UNKNOWN").to_owned(),
        moved: task.approximate_number_of_messages_moved(),
        to_move: task.approximate_number_of_messages_to_move(),
        failure: task.failure_reason().map(str::to_owned),
    }))
}
