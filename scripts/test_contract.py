"""The message contract, checked by an independent validator (Python jsonschema, not the Rust
model the schema is generated from): contract/message.schema.json and contract/asyncapi.yaml.

Run from the repository root:  .venv/bin/python -m unittest scripts/test_contract.py -v

What validates: the body of every committed events/*.json the relay accepts (the rejected ones,
named for why, are skipped; the malformed one must fail), every JSON body the local platform
stand-in (scripts/local_platform.py) generates for each hook type and test type, the examples of
docs/platform.md (the platform's documentation), and every example message of asyncapi.yaml (body
against its own definition, attributes against its message's `headers`). What must not: a feeds
body whose data.active is a string, an announcement without `key`, a pointer without `sha256`;
and no body of a known type may pass as OtherWebhook.

asyncapi.yaml declares the bodies `application/schema+json;version=draft-07` (the AsyncAPI parser
has no 2020-12 parser); every body here gets the same verdict from Draft7Validator as from
Draft202012Validator, so that declaration changes nothing.

What the schema had to guess where the platform's documentation is silent (or vague) — a consumer should not rely
on more than this:
- ids: `feedId`, `mediaAssetId`, `transcoderId` are strings (uuid / hex in the examples);
  `recordFileId` and `tokenId` integers in recordings and media (the documentation says "int" for
  recordings only; media's example has an integer). The thumbnail announcement's `tokenId` is a
  string: it is the unsigned X-Millicast-Token-Id header as received.
- optional: the documentation promises no `data` member in every body; the schema makes every `data` member
  optional and nullable, ids included (nothing on the platform's side promises them), but
  requires `type`, `event`, `timestamp` (integer, epoch ms) and `data` on the known types.
- untyped: feeds `priority`, media `channelId` and `metadata`, recordings `metadata.sizes` (no
  documented shape); `event` is any string (its case varies, new names come); `createdOn` a
  string without a format (the example is ISO 8601); `duration`, `bitrate`, `framerate` numbers.
- `recording` (older docs) is accepted as well as `recordings`; any other `type` is OtherWebhook,
  which requires only a string `type`. Members not described are allowed everywhere.
"""

from __future__ import annotations

import base64
import json
import random
import sys
import unittest
from pathlib import Path

import yaml
from jsonschema import Draft7Validator, Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7, DRAFT202012

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "contract" / "message.schema.json"
ASYNCAPI_PATH = ROOT / "contract" / "asyncapi.yaml"
sys.path.insert(0, str(ROOT / "scripts"))
import local_platform  # noqa: E402

SCHEMA = json.loads(SCHEMA_PATH.read_text())
ASYNCAPI = yaml.safe_load(ASYNCAPI_PATH.read_text())
SCHEMA_URI = SCHEMA_PATH.as_uri()
ASYNCAPI_URI = ASYNCAPI_PATH.as_uri()

# events/ files the relay refuses, each named for why (plus the thumbnail: a JPEG, whose queue
# message is the relay's announcement, not the body). Every other file must be accepted.
REFUSED = {
    "get-request": "405, no body",
    "invalid-signature": "401",
    "missing-signature": "401",
    "wrong-secret": "401",
    "stale-timestamp": "401",
    "malformed-event": "400 malformed_event",
    "thumbnail": "a JPEG: becomes a ThumbnailStoredMessage",
}

# The platform's documentation (docs/platform.md), verbatim: the signature test vector's body and
# the five documented examples.
DOCUMENTED = [
    '{"type":"feeds","event":"started","timestamp":1638463486489,"data":{"feedId":"369e4a86-f937-4254-bd9f-99dc484d2bd6","accountId":"ZG6NWV","name":"sample_stream","streamId":"ZG6NWV/sample_stream","started":1638463486359,"active":true}}',
    '{"type":"feeds","event":"ended","timestamp":1638463501075,"data":{"feedId":"369e4a86-f937-4254-bd9f-99dc484d2bd6","accountId":"ZG6NWV","name":"sample_stream","streamId":"ZG6NWV/sample_stream","active":false,"ended":1638463500963}}',
    '{"type":"recordings","event":"started","timestamp":1639296462907,"data":{"recordFileId":7975,"tokenId":142366,"streamName":"testy","recordedOn":1639296462755}}',
    '{"type":"media","event":"completed","timestamp":1725260343575,"data":{"mediaAssetId":"e0ca421e3ee748629d073b6991d4d93d","tokenId":1187282,"streamName":"test-record-clip","streamId":"dkxfvY/test-record-clip","startTime":1725259874671,"metadata":{},"type":"clip","expiration":1733900336143}}',
    '{"type":"transcoder","event":"STOPPED","timestamp":1724891135725,"data":{"transcoderId":"fddcbce0-1a2b-4c3d-9e8f-0a1b2c3d4e5f","transcoderName":"test_webhooks","cluster":"lon-1","createdOn":"2024-08-29T00:00:00Z","status":"Shutdown"}}',
    '{"type":"viewerConnection","event":"ViewerAttempt","timestamp":1727442713604,"data":{"name":"myAwesomeStream","accountId":"ABC123","streamId":"ABC123/myAwesomeStream"}}',
]

# The definition each known `type` must validate as.
DEFINITION_OF_TYPE = {
    "feeds": "FeedsWebhook",
    "recordings": "RecordingsWebhook",
    "recording": "RecordingsWebhook",
    "media": "MediaWebhook",
    "transcoder": "TranscoderWebhook",
    "viewerConnection": "ViewerConnectionWebhook",
    "thumbnail": "ThumbnailStoredMessage",
}


def registry() -> Registry:
    message = Resource(contents=SCHEMA, specification=DRAFT202012)
    # asyncapi.yaml's header schemas are AsyncAPI Schema Objects (a superset of draft-07).
    asyncapi = Resource(contents=ASYNCAPI, specification=DRAFT7)
    # The schema's own $id and the file URI asyncapi.yaml's "./message.schema.json" resolves to.
    return Registry().with_resources([(SCHEMA["$id"], message), (SCHEMA_URI, message), (ASYNCAPI_URI, asyncapi)])


REGISTRY = registry()


def validator(ref: str, cls=Draft202012Validator):
    return cls({"$ref": ref}, registry=REGISTRY)


def definition(name: str, cls=Draft202012Validator):
    return validator(f"{SCHEMA['$id']}#/$defs/{name}", cls)


WHOLE = Draft202012Validator(SCHEMA, registry=REGISTRY)
WHOLE_DRAFT7 = Draft7Validator(SCHEMA, registry=REGISTRY)


def errors(v, instance) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}" for e in v.iter_errors(instance)]


def event_body(path: Path) -> bytes:
    """The request body of a function-URL event, as the relay reads it."""
    event = json.loads(path.read_text())
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()


def platform_bodies() -> list[bytes]:
    """JSON bodies as the local platform sends them: every documented (type, event), generated
    often enough to hit its random variations (optional feeds fields, clip/recording media,
    completed recordings' metadata), and every test type."""
    factory = local_platform.EventFactory("LOCAL1", local_platform.DEFAULT_JPEG.read_bytes())
    random.seed(17)
    bodies = []
    for _ in range(25):
        for type_, name in local_platform.JSON_EVENTS:
            bodies.append(factory.json_event(type_, name, "live-main").render(local_platform.now_ms())[0])
    for type_, name in local_platform.TEST_TYPES.values():
        if type_ != "thumbnail":
            event = factory.json_event(type_, name, "test_stream", transcoder="test_webhooks", test=True, media_type="clip")
            bodies.append(event.render(local_platform.now_ms())[0])
    return bodies


class Bodies(unittest.TestCase):
    def assertValidAs(self, body: bytes, name: str):
        value = json.loads(body)
        self.assertEqual(errors(WHOLE, value), [], body)
        self.assertEqual(errors(definition(name), value), [], f"{body!r} as {name}")
        self.assertEqual(WHOLE_DRAFT7.is_valid(value), True, f"draft-07 disagrees on {body!r}")
        if value.get("type") in DEFINITION_OF_TYPE:
            self.assertFalse(definition("OtherWebhook").is_valid(value), f"{body!r} passes as OtherWebhook")

    def test_events_files_the_relay_accepts(self):
        files = sorted((ROOT / "events").glob("*.json"))
        self.assertTrue(set(REFUSED) <= {f.stem for f in files}, "a refused sample is gone: update REFUSED")
        checked = 0
        for path in files:
            if path.stem in REFUSED:
                continue
            with self.subTest(path.name):
                body = event_body(path)
                self.assertValidAs(body, DEFINITION_OF_TYPE[json.loads(body)["type"]])
                checked += 1
        self.assertEqual(checked, 16, "one accepted sample per documented (type, event)")

    def test_the_malformed_event_fails(self):
        body = json.loads(event_body(ROOT / "events" / "malformed-event.json"))
        self.assertNotEqual(errors(WHOLE, body), [])
        self.assertFalse(WHOLE_DRAFT7.is_valid(body))

    def test_local_platform_bodies(self):
        bodies = platform_bodies()
        seen = set()
        for body in bodies:
            value = json.loads(body)
            seen.add((value["type"], value["event"]))
            with self.subTest(body=body[:80]):
                self.assertValidAs(body, DEFINITION_OF_TYPE[value["type"]])
        self.assertEqual(seen, set(local_platform.JSON_EVENTS))

    def test_documented_examples(self):
        for body in DOCUMENTED:
            with self.subTest(body=body[:60]):
                self.assertValidAs(body.encode(), DEFINITION_OF_TYPE[json.loads(body)["type"]])

    def test_negative_controls_fail(self):
        feeds = json.loads(DOCUMENTED[0])
        feeds["data"]["active"] = "true"
        stored = json.loads(self.example("ThumbnailStored")["payload"])
        del stored["data"]["key"]
        pointer = json.loads(self.example("ClaimCheck")["payload"])
        del pointer["claimCheck"]["sha256"]
        for name, body, own in [
            ("feeds with a string data.active", feeds, "FeedsWebhook"),
            ("announcement without key", stored, "ThumbnailStoredMessage"),
            ("claim check without sha256", pointer, "ClaimCheckMessage"),
        ]:
            with self.subTest(name):
                self.assertNotEqual(errors(definition(own), body), [])
                self.assertNotEqual(errors(WHOLE, body), [], f"{name} validates as some other kind")
                self.assertFalse(WHOLE_DRAFT7.is_valid(body))

    def test_known_types_never_pass_as_other(self):
        other = definition("OtherWebhook")
        for kind in DEFINITION_OF_TYPE:
            with self.subTest(kind):
                self.assertFalse(other.is_valid({"type": kind}))
                self.assertFalse(other.is_valid({"type": kind, "event": "x", "timestamp": 1, "data": {}}))
        self.assertTrue(other.is_valid({"type": "futureThing", "event": "x", "timestamp": 1, "data": {}}))

    @staticmethod
    def example(message: str) -> dict:
        example = ASYNCAPI["components"]["messages"][message]["examples"][0]
        return {"headers": example["headers"], "payload": json.dumps(example["payload"])}


class AsyncApiExamples(unittest.TestCase):
    def test_every_example_matches_its_message(self):
        messages = ASYNCAPI["components"]["messages"]
        self.assertEqual(len(messages), 8)
        for name, message in messages.items():
            payload_ref = message["payload"]["schema"]["$ref"]
            self.assertTrue(payload_ref.startswith("./message.schema.json#/$defs/"), payload_ref)
            payload = validator(ASYNCAPI_URI.rsplit("/", 1)[0] + "/" + payload_ref[2:])
            payload_draft7 = validator(ASYNCAPI_URI.rsplit("/", 1)[0] + "/" + payload_ref[2:], Draft7Validator)
            headers = validator(ASYNCAPI_URI + message["headers"]["$ref"], Draft7Validator)
            self.assertTrue(message["examples"], name)
            for example in message["examples"]:
                with self.subTest(f"{name}/{example['name']}"):
                    self.assertEqual(errors(payload, example["payload"]), [])
                    self.assertTrue(payload_draft7.is_valid(example["payload"]))
                    self.assertEqual(errors(WHOLE, example["payload"]), [])
                    self.assertEqual(errors(headers, example["headers"]), [])

    def test_header_schemas_refuse_what_the_relay_never_sends(self):
        messages = ASYNCAPI["components"]["messages"]

        def headers_of(name):
            return validator(ASYNCAPI_URI + messages[name]["headers"]["$ref"], Draft7Validator)

        feeds = dict(messages["FeedsWebhook"]["examples"][0]["headers"])
        stored = dict(messages["ThumbnailStored"]["examples"][0]["headers"])
        pointer = dict(messages["ClaimCheck"]["examples"][0]["headers"])
        cases = [
            ("FeedsWebhook", {**feeds, "claimCheck": "true"}, "a forwarded body marked as a pointer"),
            ("FeedsWebhook", {k: v for k, v in feeds.items() if k != "idempotencyKey"}, "no idempotency key"),
            ("FeedsWebhook", {**feeds, "contractVersion": "2"}, "another contract version"),
            ("FeedsWebhook", {**feeds, "timestamp": "soon"}, "a Number attribute that is no number"),
            ("ThumbnailStored", {**stored, "signature": feeds["signature"]}, "an announcement with a signature"),
            ("ClaimCheck", {**pointer, "signature": feeds["signature"]}, "a pointer with a signature"),
            ("ClaimCheck", {k: v for k, v in pointer.items() if k != "claimCheck"}, "a pointer without claimCheck"),
        ]
        for name, headers, why in cases:
            with self.subTest(why):
                self.assertFalse(headers_of(name).is_valid(headers))


if __name__ == "__main__":
    unittest.main()
