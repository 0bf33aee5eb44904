//! The object store over S3.

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::primitives::ByteStream;

use crate::ports::{IoError, ObjectHead, ObjectPut, ObjectStore, PutCondition, PutOutcome};

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
        request = match &object.condition {
            PutCondition::Always => request,
            PutCondition::IfAbsent => request.if_none_match("*"),
            PutCondition::IfMatch(etag) => request.if_match(etag),
        };
        match request.send().await {
            Ok(_) => Ok(PutOutcome::Stored),
            Err(error) => {
                let status = error.raw_response().map(|r| r.status().as_u16());
                // 412: the condition failed. 409: a concurrent conditional write of the key is in
                // flight. 404 (If-Match only): the object expected is gone.
                let failed = matches!(status, Some(412 | 409))
                    || error.code() == Some("PreconditionFailed")
                    || (matches!(object.condition, PutCondition::IfMatch(_))
                        && status == Some(404));
                if object.condition != PutCondition::Always && failed {
                    Ok(PutOutcome::ConditionFailed)
                } else {
                    Err(IoError(format!(
                        "s3 PutObject: {}",
                        DisplayErrorContext(&error)
                    )))
                }
            }
        }
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectHead>, IoError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(head) => Ok(Some(ObjectHead {
                etag: head.e_tag().unwrap_or_default().to_owned(),
                metadata: head
                    .metadata()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                            .collect()
                    })
                    .unwrap_or_default(),
            })),
            Err(error) => {
                let status = error.raw_response().map(|r| r.status().as_u16());
                if matches!(status, Some(404 | 403)) {
                    Ok(None)
                } else {
                    Err(IoError(format!(
                        "s3 HeadObject: {}",
                        DisplayErrorContext(&error)
                    )))
                }
            }
        }
    }
}
