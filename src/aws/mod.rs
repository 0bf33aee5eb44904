//! The ports over AWS: S3, SQS, Secrets Manager and EventBridge through the AWS SDK, and the SDK's set-up
//! (deadlines, retries, trust store) shared by the Lambda and relayctl.

pub mod eventbridge;
pub mod s3;
pub mod sdk;
pub mod secretsmanager;
pub mod sqs;
