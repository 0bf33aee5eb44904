"""An SQS-triggered Lambda that consumes the relay's event queue (message contract version 1).

For each record of a batch, in order:
1. the body must be JSON and match contract/message.schema.json (a known hook type whose
   payload does not match fails; a type the contract does not know yet is accepted);
2. the record must carry the contract's `contractVersion` ("1") and `idempotencyKey` attributes;
3. a delivery whose idempotency key was already handled is skipped (see MemoryStore);
4. a claim check is resolved: its S3 object is fetched, its sha256 checked against the pointer,
   and that body validated in turn;
5. `handle` gets the body (replace it with your own logic); only then is the key recorded, so a
   failure before this point is retried.
Whatever fails is reported in `batchItemFailures` (the event source mapping needs
`ReportBatchItemFailures`): SQS retries only those and finally moves them to the dead-letter
queue. Nothing unreadable is acknowledged. One JSON log line per record says what happened
(`outcome`: handled, duplicate or failed).

Lambda handler: `consumer.handler`. The package holds this file, a copy of
contract/message.schema.json next to it, and jsonschema (requirements.txt); boto3 comes with the
Lambda runtime. See consumers/README.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.config import Config
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

CONTRACT_VERSION = "1"
SCHEMA_NAME = "message.schema.json"
_HERE = Path(__file__).resolve().parent
# Deployed: the copy packaged next to this file. From a checkout: the committed contract.
SCHEMA_PATHS = (_HERE / SCHEMA_NAME, _HERE.parent.parent / "contract" / SCHEMA_NAME)
_IDEMPOTENCY_KEY = re.compile(r"[0-9a-f]{32}")

log = logging.getLogger("relay_consumer")
log.setLevel(logging.INFO)

Fetch = Callable[[str, str], bytes]


class Unreadable(Exception):
    """A record this consumer cannot read: reported as a batch item failure."""


class IdempotencyStore(Protocol):
    def seen(self, key: str) -> bool: ...

    def record(self, key: str) -> None: ...


class MemoryStore:
    """Idempotency keys handled by this Lambda instance.

    Enough for the example and for duplicates within one batch, but lost when the instance is
    recycled and not shared between concurrent instances. In production, use a shared store
    with a conditional write, e.g. a DynamoDB table keyed by idempotencyKey: `seen` is a
    consistent GetItem, `record` a PutItem with
    ConditionExpression="attribute_not_exists(idempotencyKey)" and a TTL attribute set well
    beyond the queue's retention (redrive and replay can come days later). A
    ConditionalCheckFailedException there means a concurrent instance handled the same
    delivery: nothing to undo. Because the key is recorded after `handle`, a crash in between
    makes the delivery be handled again; when that matters, first claim the key with a
    short-lived "in progress" item.
    """

    def __init__(self) -> None:
        self._keys: set[str] = set()

    def seen(self, key: str) -> bool:
        return key in self._keys

    def record(self, key: str) -> None:
        self._keys.add(key)


def load_validator(paths: tuple[Path, ...] = SCHEMA_PATHS) -> Draft202012Validator:
    for path in paths:
        if path.is_file():
            schema = json.loads(path.read_text(encoding="utf-8"))
            Draft202012Validator.check_schema(schema)
            return Draft202012Validator(schema)
    raise FileNotFoundError(f"{SCHEMA_NAME} is in none of {[str(p) for p in paths]}")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_body(raw: bytes, validator: Draft202012Validator) -> dict[str, Any]:
    """The body as JSON, checked against the contract."""
    try:
        body = json.loads(raw)
    except ValueError as error:
        raise Unreadable(f"not JSON: {error}") from None
    error = best_match(validator.iter_errors(body))
    if error is not None:
        raise Unreadable(f"not a message of the contract: {error.message}")
    return body


def string_attribute(record: dict[str, Any], name: str) -> str | None:
    value = (record.get("messageAttributes") or {}).get(name) or {}
    return value.get("stringValue")


def idempotency_key(record: dict[str, Any]) -> str:
    version = string_attribute(record, "contractVersion")
    if version != CONTRACT_VERSION:
        raise Unreadable(f"contractVersion {version!r}; this consumer reads {CONTRACT_VERSION!r}")
    key = string_attribute(record, "idempotencyKey")
    if key is None or not _IDEMPOTENCY_KEY.fullmatch(key):
        raise Unreadable(f"idempotencyKey {key!r} is not 32 hex digits")
    return key


def resolve_claim_check(pointer: dict[str, Any], fetch: Fetch, validator: Draft202012Validator) -> tuple[dict[str, Any], bytes]:
    """The body a claim check points to, checked against the pointer's sha256 and the contract."""
    raw = fetch(pointer["bucket"], pointer["key"])
    if sha256_hex(raw) != pointer["sha256"]:
        raise Unreadable(f"s3://{pointer['bucket']}/{pointer['key']} does not have the pointer's sha256")
    body = parse_body(raw, validator)
    # The relay claim-checks platform webhooks only.
    if "claimCheck" in body or body["type"] == "thumbnail":
        raise Unreadable("a claim check must hold a platform webhook")
    return body, raw


def handle(body: dict[str, Any]) -> None:
    """Your logic. `body` is a platform webhook (claim checks already resolved) or the relay's
    thumbnail announcement. Raise to have the message retried."""
    kind, event, data = body["type"], body.get("event"), body.get("data") or {}
    if kind == "thumbnail":
        log.info("thumbnail stored at s3://%s/%s", data["bucket"], data["key"])
    elif kind in ("feeds", "recordings", "recording", "media", "transcoder", "viewerConnection"):
        log.info("%s/%s at %s", kind, event, body["timestamp"])
    else:
        # The platform adds hook types over time: not an error.
        log.info("%s/%s: a type this consumer does not know, skipped", kind, event)


def process_record(record: dict[str, Any], *, validator: Draft202012Validator, store: IdempotencyStore, fetch: Fetch, handle: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Handles one record; returns what happened. Raises when it cannot."""
    raw = record.get("body", "").encode("utf-8")
    body = parse_body(raw, validator)
    key = idempotency_key(record)
    outcome = {"idempotencyKey": key, "type": body["type"], "event": body.get("event")}
    # Before resolving: a duplicate needs no S3 read (its object may even have expired).
    if store.seen(key):
        return {"outcome": "duplicate", **outcome}
    pointer = body.get("claimCheck")
    if pointer is not None:
        body, raw = resolve_claim_check(pointer, fetch, validator)
    handle(body)
    store.record(key)
    return {"outcome": "handled", **outcome, "claimCheck": pointer is not None, "bodySha256": sha256_hex(raw)}


def process_batch(event: dict[str, Any], *, validator: Draft202012Validator, store: IdempotencyStore, fetch: Fetch, handle: Callable[[dict[str, Any]], None] = handle) -> dict[str, Any]:
    failures = []
    # In order, one at a time: a duplicate within the batch must see its first copy recorded.
    for record in event.get("Records", []):
        message_id = record.get("messageId")
        try:
            outcome = process_record(record, validator=validator, store=store, fetch=fetch, handle=handle)
        except Exception as error:  # noqa: BLE001 - any failure is this record's, and is retried
            outcome = {"outcome": "failed", "reason": f"{type(error).__name__}: {error}"}
            failures.append({"itemIdentifier": message_id})
        log.info(json.dumps({"messageId": message_id, **outcome}))
    return {"batchItemFailures": failures}


VALIDATOR = load_validator()
STORE: IdempotencyStore = MemoryStore()
_s3 = None


def fetch_object(bucket: str, key: str) -> bytes:
    global _s3
    if _s3 is None:
        # Local S3 servers (moto) cannot serve bucket.host addresses.
        path_style = bool(os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3"))
        config = Config(s3={"addressing_style": "path"}) if path_style else None
        _s3 = boto3.client("s3", config=config)
    return _s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_batch(event, validator=VALIDATOR, store=STORE, fetch=fetch_object)
