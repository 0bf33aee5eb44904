"""Runs consumer.handler on this machine, the way Lambda's SQS event source mapping does.

    python invoke.py EVENT.json        an SQS event in Lambda's shape ('-': standard input)
    python invoke.py --queue-url URL   what is on the queue now, ten messages a batch; deletes
                                       each message the handler did not report as failed

Standard output: the consumer's log lines, then the handler's response for each batch (one JSON
line). The AWS SDK's variables apply (AWS_ENDPOINT_URL for moto, AWS_REGION, credentials).
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import sys
from typing import Any

import boto3

import consumer


def lambda_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """ReceiveMessage's messages as the records of a Lambda SQS event."""

    def attribute(value: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
        if "StringValue" in value:
            out["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            out["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
        return out

    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {n: attribute(v) for n, v in m.get("MessageAttributes", {}).items()},
                "md5OfBody": m["MD5OfBody"],
                "md5OfMessageAttributes": m.get("MD5OfMessageAttributes"),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def drain(queue_url: str, wait_seconds: int) -> None:
    sqs = boto3.client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_seconds,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return
        response = consumer.handler(lambda_event(messages, arn, sqs.meta.region_name), None)
        print(json.dumps(response), flush=True)
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)],
            )


def main() -> None:
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("event", nargs="?", help="an SQS event file, or - for standard input")
    source.add_argument("--queue-url")
    parser.add_argument("--wait-seconds", type=int, default=1)
    args = parser.parse_args()
    if args.queue_url:
        drain(args.queue_url, args.wait_seconds)
        return
    with sys.stdin if args.event == "-" else open(args.event, encoding="utf-8") as source_file:
        event = json.load(source_file)
    print(json.dumps(consumer.handler(event, None)), flush=True)


if __name__ == "__main__":
    main()
