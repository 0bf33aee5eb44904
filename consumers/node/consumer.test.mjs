// Unit tests of the consumer's pure parts (no AWS): validation, attributes, claim checks,
// deduplication and batch item failures. tests/it/consumers.rs runs it on what the real relay sent.

import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { MemoryStore, SCHEMA_NAME, SCHEMA_PATHS, Unreadable, idempotencyKey, loadValidator, parseBody, processBatch, sha256Hex } from "./index.mjs";
import { lambdaEvent } from "./invoke.mjs";

const KEY_A = "a".repeat(32);
const KEY_B = "b".repeat(32);
const FEEDS = JSON.stringify({ type: "feeds", event: "started", timestamp: 5, data: { name: "s", streamId: "A/s", active: true } });
const BIG = JSON.stringify({ type: "media", event: "completed", timestamp: 6, data: { mediaAssetId: "m", metadata: { notes: "x".repeat(300) } } });
const validate = loadValidator();

// `null` leaves an attribute out.
function record(messageId, body, { key = KEY_A, version = "1" } = {}) {
  const attributes = Object.entries({ idempotencyKey: key, contractVersion: version }).filter(([, value]) => value !== null);
  return {
    messageId,
    body,
    messageAttributes: Object.fromEntries(
      attributes.map(([name, value]) => [name, { stringValue: value, stringListValues: [], binaryListValues: [], dataType: "String" }]),
    ),
  };
}

function pointer(body, sha = sha256Hex(Buffer.from(body))) {
  return JSON.stringify({
    type: "media",
    event: "completed",
    timestamp: 6,
    claimCheck: { bucket: "b", key: "events/oversize/k.json", size: Buffer.byteLength(body), sha256: sha },
  });
}

/** The consumer over a map of objects, recording what `handle` got; resolves to the failed ids. */
function consumer(objects = {}) {
  const handled = [];
  const store = new MemoryStore();
  const fetch = async (bucket, key) => {
    const object = objects[`${bucket}/${key}`];
    if (object === undefined) throw new Error("NoSuchKey");
    return object;
  };
  const run = async (records, handle = async (body) => handled.push(body)) => {
    const response = await processBatch({ Records: records }, { validate, store, fetch, handle });
    return response.batchItemFailures.map((f) => f.itemIdentifier);
  };
  return { handled, run };
}

test("every kind of body is validated against the contract", () => {
  const parse = (body) => parseBody(Buffer.from(body), validate);
  assert.equal(parse(FEEDS).type, "feeds");
  assert.equal(parse('{"type":"analytics","event":"hourly","data":{"n":1}}').type, "analytics");
  for (const unreadable of [
    "not JSON",
    "[1,2]",
    '{"event":"started"}',
    // A known type whose payload does not match it.
    '{"type":"feeds","event":"started","timestamp":1,"data":{"active":"yes"}}',
    '{"type":"thumbnail","event":"stored","timestamp":1,"data":{"key":"k"}}',
    '{"type":"feeds","event":"started","data":{"active":true}}',
  ]) {
    assert.throws(() => parse(unreadable), Unreadable, unreadable);
  }
});

test("the contract's attributes are required", () => {
  assert.equal(idempotencyKey(record("1", FEEDS)), KEY_A);
  for (const options of [{ key: null }, { key: "short" }, { version: "2" }, { version: null }]) {
    assert.throws(() => idempotencyKey(record("1", FEEDS, options)), Unreadable, JSON.stringify(options));
  }
});

test("the schema is found next to the module as deployed", () => {
  const folder = mkdtempSync(join(tmpdir(), "consumer-"));
  try {
    assert.throws(() => loadValidator([join(folder, SCHEMA_NAME)]));
    copyFileSync(SCHEMA_PATHS[1], join(folder, SCHEMA_NAME));
    assert.ok(loadValidator([join(folder, SCHEMA_NAME)])(JSON.parse(FEEDS)));
  } finally {
    rmSync(folder, { recursive: true });
  }
});

test("a claim check is resolved and checked", async () => {
  const key = "b/events/oversize/k.json";
  let c = consumer({ [key]: Buffer.from(BIG) });
  assert.deepEqual(await c.run([record("ok", pointer(BIG))]), []);
  assert.deepEqual(c.handled, [JSON.parse(BIG)]);
  // A different object under the key, or none at all, is a failure, not an acknowledgement.
  c = consumer({ [key]: Buffer.from(`${BIG} `) });
  assert.deepEqual(await c.run([record("tampered", pointer(BIG))]), ["tampered"]);
  assert.deepEqual(await consumer().run([record("gone", pointer(BIG))]), ["gone"]);
  const malformed = '{"type":"media","event":"completed","timestamp":1,"data":{},"claimCheck":{"bucket":"b"}}';
  assert.deepEqual(await consumer().run([record("malformed", malformed)]), ["malformed"]);
  // A pointer must lead to a platform webhook.
  const nested = pointer(BIG);
  c = consumer({ [key]: Buffer.from(nested) });
  assert.deepEqual(await c.run([record("nested", pointer(nested))]), ["nested"]);
  assert.deepEqual(c.handled, []);
});

test("a duplicate is handled once and only failures are reported", async () => {
  const c = consumer();
  const failed = await c.run([record("1", FEEDS), record("2", "nope", { key: KEY_B }), record("3", FEEDS)]);
  assert.deepEqual(failed, ["2"]);
  assert.deepEqual(c.handled, [JSON.parse(FEEDS)]);
});

test("a failed handle leaves the key unrecorded so that the retry runs", async () => {
  const c = consumer();
  const broken = async () => {
    throw new Error("database down");
  };
  assert.deepEqual(await c.run([record("1", FEEDS)], broken), ["1"]);
  assert.deepEqual(await c.run([record("1", FEEDS)]), []);
  assert.deepEqual(c.handled, [JSON.parse(FEEDS)]);
});

test("received messages become Lambda records", () => {
  const message = {
    MessageId: "m1",
    ReceiptHandle: "r1",
    Body: FEEDS,
    MD5OfBody: "d",
    MD5OfMessageAttributes: "e",
    Attributes: { ApproximateReceiveCount: "1" },
    MessageAttributes: { timestamp: { DataType: "Number", StringValue: "5" } },
  };
  const [out] = lambdaEvent([message], "arn:aws:sqs:us-east-1:1:q", "us-east-1").Records;
  assert.deepEqual(out.messageAttributes, { timestamp: { stringValue: "5", stringListValues: [], binaryListValues: [], dataType: "Number" } });
  assert.deepEqual([out.messageId, out.receiptHandle, out.body, out.eventSource], ["m1", "r1", FEEDS, "aws:sqs"]);
});
