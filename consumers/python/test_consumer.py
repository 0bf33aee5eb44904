"""Unit tests of the consumer's pure parts (no AWS): validation, attributes, claim checks,
deduplication and batch item failures. tests/it/consumers.rs runs it on what the real relay sent."""

import hashlib
import json
import shutil
import tempfile
import unittest
from pathlib import Path

import consumer
import invoke

KEY_A = "a" * 32
KEY_B = "b" * 32
FEEDS = json.dumps({"type": "feeds", "event": "started", "timestamp": 5, "data": {"name": "s", "streamId": "A/s", "active": True}})
BIG = json.dumps({"type": "media", "event": "completed", "timestamp": 6, "data": {"mediaAssetId": "m", "metadata": {"notes": "x" * 300}}})


def record(message_id, body, key=KEY_A, version="1"):
    attributes = {"idempotencyKey": key, "contractVersion": version}
    return {
        "messageId": message_id,
        "body": body,
        "messageAttributes": {
            name: {"stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": "String"}
            for name, value in attributes.items()
            if value is not None
        },
    }


def pointer(body, sha=None):
    data = body.encode()
    return json.dumps({
        "type": "media", "event": "completed", "timestamp": 6,
        "claimCheck": {"bucket": "b", "key": "events/oversize/k.json", "size": len(data), "sha256": sha or hashlib.sha256(data).hexdigest()},
    })


class Consumer:
    """The consumer over a dict of objects, recording what `handle` got."""

    def __init__(self, objects=None):
        self.objects = objects or {}
        self.store = consumer.MemoryStore()
        self.handled = []

    def fetch(self, bucket, key):
        return self.objects[(bucket, key)]

    def run(self, *records, handle=None):
        response = consumer.process_batch(
            {"Records": list(records)}, validator=consumer.VALIDATOR, store=self.store,
            fetch=self.fetch, handle=handle or self.handled.append,
        )
        return [f["itemIdentifier"] for f in response["batchItemFailures"]]


class Validation(unittest.TestCase):
    def test_every_kind_of_body(self):
        parse = lambda body: consumer.parse_body(body.encode(), consumer.VALIDATOR)  # noqa: E731
        self.assertEqual(parse(FEEDS)["type"], "feeds")
        self.assertEqual(parse('{"type":"analytics","event":"hourly","data":{"n":1}}')["type"], "analytics")
        for unreadable in [
            "not JSON",
            "[1,2]",
            '{"event":"started"}',
            # A known type whose payload does not match it.
            '{"type":"feeds","event":"started","timestamp":1,"data":{"active":"yes"}}',
            '{"type":"thumbnail","event":"stored","timestamp":1,"data":{"key":"k"}}',
            '{"type":"feeds","event":"started","data":{"active":true}}',
        ]:
            with self.assertRaises(consumer.Unreadable, msg=unreadable):
                parse(unreadable)

    def test_the_contract_attributes_are_required(self):
        self.assertEqual(consumer.idempotency_key(record("1", FEEDS)), KEY_A)
        for bad in [record("1", FEEDS, key=None), record("1", FEEDS, key="short"), record("1", FEEDS, version="2"), record("1", FEEDS, version=None)]:
            with self.assertRaises(consumer.Unreadable):
                consumer.idempotency_key(bad)

    def test_the_schema_is_found_next_to_the_module_as_deployed(self):
        with tempfile.TemporaryDirectory() as folder:
            with self.assertRaises(FileNotFoundError):
                consumer.load_validator((Path(folder) / consumer.SCHEMA_NAME,))
            shutil.copy(consumer.SCHEMA_PATHS[1], folder)
            validator = consumer.load_validator((Path(folder) / consumer.SCHEMA_NAME,))
            self.assertTrue(validator.is_valid(json.loads(FEEDS)))


class Packaging(unittest.TestCase):
    def test_the_package_pins_what_the_tests_run(self):
        def pins(path):
            lines = Path(path).read_text(encoding="utf-8").splitlines()
            return {line.lower().replace("_", "-") for line in lines if "==" in line and not line.startswith("#")}

        here = Path(__file__).resolve().parent
        package = pins(here / "requirements.txt")
        self.assertIn("jsonschema==4.26.0", package)
        self.assertLessEqual(package, pins(here.parent.parent / "requirements-dev.txt"))


class Batches(unittest.TestCase):
    def test_claim_check_is_resolved_and_checked(self):
        c = Consumer({("b", "events/oversize/k.json"): BIG.encode()})
        self.assertEqual(c.run(record("ok", pointer(BIG))), [])
        self.assertEqual(c.handled, [json.loads(BIG)])
        # A different object under the key, or none at all, is a failure, not an acknowledgement.
        c = Consumer({("b", "events/oversize/k.json"): BIG.encode() + b" "})
        self.assertEqual(c.run(record("tampered", pointer(BIG))), ["tampered"])
        self.assertEqual(Consumer().run(record("gone", pointer(BIG))), ["gone"])
        malformed = '{"type":"media","event":"completed","timestamp":1,"data":{},"claimCheck":{"bucket":"b"}}'
        self.assertEqual(Consumer().run(record("malformed", malformed)), ["malformed"])
        # A pointer must lead to a platform webhook.
        nested = pointer(BIG)
        c = Consumer({("b", "events/oversize/k.json"): nested.encode()})
        self.assertEqual(c.run(record("nested", pointer(nested))), ["nested"])
        self.assertEqual(c.handled, [])

    def test_a_duplicate_is_handled_once_and_only_failures_are_reported(self):
        c = Consumer()
        failed = c.run(record("1", FEEDS), record("2", "nope", key=KEY_B), record("3", FEEDS))
        self.assertEqual(failed, ["2"])
        self.assertEqual(c.handled, [json.loads(FEEDS)])

    def test_a_failed_handle_leaves_the_key_unrecorded_so_the_retry_runs(self):
        c = Consumer()

        def broken(_body):
            raise RuntimeError("database down")

        self.assertEqual(c.run(record("1", FEEDS), handle=broken), ["1"])
        self.assertEqual(c.run(record("1", FEEDS)), [])
        self.assertEqual(c.handled, [json.loads(FEEDS)])


class LocalRunner(unittest.TestCase):
    def test_received_messages_become_lambda_records(self):
        message = {
            "MessageId": "m1", "ReceiptHandle": "r1", "Body": FEEDS, "MD5OfBody": "d", "MD5OfMessageAttributes": "e",
            "Attributes": {"ApproximateReceiveCount": "1"},
            "MessageAttributes": {"timestamp": {"DataType": "Number", "StringValue": "5"}},
        }
        (out,) = invoke.lambda_event([message], "arn:aws:sqs:us-east-1:1:q", "us-east-1")["Records"]
        self.assertEqual(out["messageAttributes"], {"timestamp": {"stringValue": "5", "stringListValues": [], "binaryListValues": [], "dataType": "Number"}})
        self.assertEqual((out["messageId"], out["receiptHandle"], out["body"], out["eventSource"]), ("m1", "r1", FEEDS, "aws:sqs"))


if __name__ == "__main__":
    unittest.main()
