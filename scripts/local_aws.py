"""Local AWS for `make run` (moto on loopback, through AWS_ENDPOINT_URL): create what the stack
would, show what arrived, and check it against what the local platform sent.

Usage:
  local_aws.py setup STACK FUNCTION_URL [--bus]
      creates bucket STACK-bucket, queue STACK-events (+ dead-letter queue), the webhook secret
      STACK-webhook-secret (a placeholder no sender has, as template.yaml creates it) and a
      CloudFormation stack STACK whose outputs are template.yaml's, so `relayctl --stack STACK`
      works as it does against AWS; prints `BUCKET QUEUE_URL SECRET_ARN BUS` (BUS "-" without
      --bus). With --bus, as EventBus=create with ExampleEventRules=true: the event bus
      STACK-events, its archive, and the two example rules (recordings to the queue
      STACK-recordings, every event to the log group /aws/events/STACK-trail)
  local_aws.py show BUCKET QUEUE_URL
      objects by prefix, then the queue's messages by webhook and type/event (left on the queue)
  local_aws.py verify PLATFORM_URL BUCKET QUEUE_URL
      compares every delivery the local platform made with what the relay stored, one by one:
      a JSON body on the queue byte for byte, a thumbnail in S3 by its hash
"""

import collections
import json
import secrets
import sys
import urllib.request

import boto3


def create_bus(stack: str) -> dict:
    """The bus output as template.yaml makes it with EventBus=create, ExampleEventRules=true."""
    events, sqs, logs = boto3.client("events"), boto3.client("sqs"), boto3.client("logs")
    bus_name = f"{stack}-events"
    bus_arn = events.create_event_bus(Name=bus_name)["EventBusArn"]
    archive_arn = events.create_archive(
        ArchiveName=f"{stack}-archive",
        EventSourceArn=bus_arn,
        EventPattern=json.dumps({"source": ["millicast-webhook-relay"]}),
        RetentionDays=30,
    )["ArchiveArn"]
    recordings_url = sqs.create_queue(QueueName=f"{stack}-recordings")["QueueUrl"]
    recordings_arn = sqs.get_queue_attributes(QueueUrl=recordings_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name=f"{stack}-recordings",
        EventBusName=bus_name,
        EventPattern=json.dumps({"source": ["millicast-webhook-relay"], "detail-type": ["recordings"]}),
    )
    events.put_targets(Rule=f"{stack}-recordings", EventBusName=bus_name, Targets=[{"Id": "recordings-queue", "Arn": recordings_arn}])
    trail = f"/aws/events/{stack}-trail"
    logs.create_log_group(logGroupName=trail)
    # The group's ARN without the ":*" DescribeLogGroups ends it with (a target names the group).
    trail_arn = logs.describe_log_groups(logGroupNamePrefix=trail)["logGroups"][0]["arn"].removesuffix(":*")
    events.put_rule(Name=f"{stack}-trail", EventBusName=bus_name, EventPattern=json.dumps({"source": ["millicast-webhook-relay"]}))
    events.put_targets(Rule=f"{stack}-trail", EventBusName=bus_name, Targets=[{"Id": "trail", "Arn": trail_arn}])
    return {"EventBusArn": bus_arn, "EventArchiveArn": archive_arn, "RecordingsQueueUrl": recordings_url, "bus": bus_name}


def setup(stack: str, function_url: str, *flags: str) -> None:
    bucket = f"{stack}-bucket"
    boto3.client("s3").create_bucket(Bucket=bucket)
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName=f"{stack}-events")["QueueUrl"]
    dlq_url = sqs.create_queue(QueueName=f"{stack}-events-dlq")["QueueUrl"]
    placeholder = "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(32))
    secret_arn = boto3.client("secretsmanager").create_secret(
        Name=f"{stack}-webhook-secret", SecretString=json.dumps({"current": placeholder})
    )["ARN"]
    settings = {
        "THUMBNAIL_PREFIX": "thumbnails/",
        "THUMBNAIL_LATEST": "true",
        "THUMBNAIL_EVENTS": "true",
        "REPLAY_WINDOW_SECONDS": "300",
        "SQS_MAX_MESSAGE_BYTES": "262144",
        "SECRET_REFRESH_SECONDS": "5",
    }
    outputs = {
        "FunctionUrl": function_url,
        # The emulated function is `_` (cargo lambda watch --only-lambda-apis): the FunctionName
        # dimension of its metrics.
        "FunctionName": "_",
        "QueueUrl": queue_url,
        "BucketName": bucket,
        "DeadLetterQueueUrl": dlq_url,
        "WebhookSecretArn": secret_arn,
        "RelaySettings": json.dumps(settings),
    }
    bus = "-"
    if "--bus" in flags:
        made = create_bus(stack)
        bus = made.pop("bus")
        outputs.update(made)
    template = {
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {name: {"Value": value} for name, value in outputs.items()},
    }
    boto3.client("cloudformation").create_stack(StackName=stack, TemplateBody=json.dumps(template))
    print(bucket, queue_url, secret_arn, bus)


def peek_queue(queue_url: str) -> list:
    """Every message on the queue, left there: read by hiding, then made visible again."""
    sqs = boto3.client("sqs")
    seen = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=60
        ).get("Messages", [])
        if not batch:
            break
        seen.extend(batch)
    for start in range(0, len(seen), 10):
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(seen[start : start + 10])
            ],
        )
    return seen


def keys(bucket: str) -> list:
    s3 = boto3.client("s3")
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        found.extend(o["Key"] for o in page.get("Contents", []))
    return found


def show(bucket: str, queue_url: str) -> None:
    stored = keys(bucket)
    by_prefix = collections.Counter(k.split("/", 1)[0] + "/" for k in stored)
    latest = sum(1 for k in stored if k.endswith("/latest.jpg"))
    print(f"S3 s3://{bucket}: {len(stored)} object(s): " + ", ".join(f"{n} under {p}" for p, n in sorted(by_prefix.items()))
          + (f" ({latest} of them latest.jpg)" if latest else ""))
    messages = peek_queue(queue_url)
    labels = collections.Counter()
    for message in messages:
        attrs = {k: v.get("StringValue") for k, v in message.get("MessageAttributes", {}).items()}
        webhook = f"webhook {attrs['webhookId']}" if "webhookId" in attrs else "no webhook id"
        labels[(webhook, f"{attrs.get('type', '?')}/{attrs.get('event', '?')}")] += 1
    print(f"SQS {queue_url}: {len(messages)} message(s)")
    for (webhook, label), count in sorted(labels.items()):
        print(f"  {count:>5}  {webhook:<12}  {label}")


def verify(platform_url: str, bucket: str, queue_url: str) -> None:
    deliveries, since = [], 0
    while True:
        with urllib.request.urlopen(f"{platform_url}/_local/deliveries?since={since}&limit=1000") as answer:
            page = json.load(answer)
        if not page:
            break
        deliveries.extend(page)
        since = page[-1]["seq"]
    bodies = {m["Body"] for m in peek_queue(queue_url)}
    stored = keys(bucket)
    hashes = {k.rsplit("-", 1)[-1].removesuffix(".jpg") for k in stored if k.startswith("thumbnails/") and not k.endswith("/latest.jpg")}
    events = [d for d in deliveries if d["kind"] == "json"]
    images = [d for d in deliveries if d["kind"] == "thumbnail"]
    lost = [d for d in events if d["body"] not in bodies] + [d for d in images if d["sha256"][:16] not in hashes]
    kept = sum(1 for k in stored if k.startswith("quarantine/"))
    rejected = sum(1 for d in deliveries if d["status"] != 200)
    print(
        f"the platform made {len(deliveries)} deliveries ({len(events)} events, {len(images)} thumbnails; "
        f"{rejected} answered other than 200 at the time): {len(deliveries) - len(lost)} are on the queue "
        f"or in S3, {kept} in quarantine, {len(lost)} lost"
    )
    if lost:
        sys.exit(1)


def drain(queue_url: str, label: str) -> None:
    """Receives and deletes every message of a queue; one line: how many, and replay names."""
    sqs = boto3.client("sqs")
    count, replays = 0, collections.Counter()
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            break
        for message in batch:
            count += 1
            replays[json.loads(message["Body"]).get("replay-name", "-")] += 1
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    marks = ", ".join(f"{n} with replay-name {name}" for name, n in replays.items() if name != "-")
    print(f"{queue_url.rsplit('/', 1)[-1]}: {count} event(s) {label}" + (f" ({marks})" if marks else ""))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"setup": setup, "show": show, "verify": verify, "drain": drain}[command](*args)
