//! The object store over S3.

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::primitives::ByteStream;

use crate::ports::{IoError, ObjectPut, ObjectStore, PutOutcome};

#[derive(Debug, Clone)]
pub struct S3ObjectStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3ObjectStore {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

impl ObjectStore for S3ObjectStore {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn put(&self, object: ObjectPut) -> Result<PutOutcome, IoError> {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(object.key)
            .content_type(object.content_type)
            .body(ByteStream::from(object.body));
        for (name, value) in object.metadata {
            request = request.metadata(name, value);
        }
        if object.if_absent {
            request = request.if_none_match("*");
        }
        match request.send().await {
            Ok(_) => Ok(PutOutcome::Stored),
            Err(error) => {
                let status = error.raw_response().map(|r| r.status().as_u16());
                // 412: the key exists. 409: a concurrent conditional write of the same key
                // (the same bytes, since the key holds their hash) is in flight.
                let exists =
                    matches!(status, Some(412 | 409)) || error.code() == Some("PreconditionFailed");
                if object.if_absent && exists {
                    Ok(PutOutcome::AlreadyExists)
                } else {
                    Err(IoError(format!(
                        "s3 PutObject: {}",
                        DisplayErrorContext(&error)
                    )))
                }
            }
        }
    }
}
