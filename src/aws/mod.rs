//! The ports over AWS: S3, SQS and Secrets Manager through the AWS SDK, and the SDK's set-up
//! (deadlines, retries, trust store) shared by the Lambda and relayctl.

pub mod s3;
pub mod sdk;
pub mod secretsmanager;
pub mod sqs;
