"""Local S3/SQS helper for `make run`: create the bucket and queue, then show what arrived.

Usage:
  local_aws.py setup BUCKET QUEUE      prints the queue URL
  local_aws.py show BUCKET QUEUE_URL   prints S3 keys and sizes, then SQS messages (left on the queue)
Talks to the endpoint in AWS_ENDPOINT_URL (moto on loopback).
"""

import json
import sys

import boto3


def setup(bucket: str, queue: str) -> None:
    boto3.client("s3").create_bucket(Bucket=bucket)
    print(boto3.client("sqs").create_queue(QueueName=queue)["QueueUrl"])


def show(bucket: str, queue_url: str) -> None:
    s3 = boto3.client("s3")
    objects = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    print(f"S3 s3://{bucket}: {len(objects)} object(s)")
    for obj in objects:
        print(f"  {obj['Size']:>8}  {obj['Key']}")

    sqs = boto3.client("sqs")
    seen = []
    # Page through the queue by hiding what was read, then make it all visible again so the
    # messages stay for `relayctl tail` or a consumer.
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            VisibilityTimeout=30,
        ).get("Messages", [])
        if not batch:
            break
        seen.extend(batch)
    for message in seen:
        sqs.change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    print(f"SQS {queue_url}: {len(seen)} message(s)")
    for message in seen:
        attrs = {k: v.get("StringValue") for k, v in message.get("MessageAttributes", {}).items()}
        label = f"{attrs.get('type', '?')}/{attrs.get('event', '?')}"
        extra = {k: v for k, v in attrs.items() if k in ("streamId", "timestamp", "claimCheck")}
        body = json.loads(message["Body"])
        key = body.get("data", {}).get("key") if isinstance(body.get("data"), dict) else None
        print(f"  {label:<40} {json.dumps(extra)}{'  key=' + key if key else ''}")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"setup": setup, "show": show}[command](*args)
