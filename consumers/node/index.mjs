// An SQS-triggered Lambda that consumes the relay's event queue (message contract version 1).
//
// For each record of a batch, in order:
// 1. the body must be JSON and match contract/message.schema.json (a known hook type whose
//    payload does not match fails; a type the contract does not know yet is accepted);
// 2. the record must carry the contract's `contractVersion` ("1") and `idempotencyKey` attributes;
// 3. a delivery whose idempotency key was already handled is skipped (see MemoryStore);
// 4. a claim check is resolved: its S3 object is fetched, its sha256 checked against the pointer,
//    and that body validated in turn;
// 5. `handle` gets the body (replace it with your own logic); only then is the key recorded, so
//    a failure before this point is retried.
// Whatever fails is reported in `batchItemFailures` (the event source mapping needs
// `ReportBatchItemFailures`): SQS retries only those and finally moves them to the dead-letter
// queue. Nothing unreadable is acknowledged. One JSON log line per record says what happened
// (`outcome`: handled, duplicate or failed).
//
// Lambda handler: `index.handler` (Node.js 20+). The package holds this file, a copy of
// contract/message.schema.json next to it, and node_modules (`npm ci --omit=dev`). See
// consumers/README.md.

import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import Ajv2020 from "ajv/dist/2020.js";

export const CONTRACT_VERSION = "1";
export const SCHEMA_NAME = "message.schema.json";
// Deployed: the copy packaged next to this file. From a checkout: the committed contract.
export const SCHEMA_PATHS = [
  fileURLToPath(new URL(`./${SCHEMA_NAME}`, import.meta.url)),
  fileURLToPath(new URL(`../../contract/${SCHEMA_NAME}`, import.meta.url)),
];
const IDEMPOTENCY_KEY = /^[0-9a-f]{32}$/;
const PLATFORM_TYPES = new Set(["feeds", "recordings", "recording", "media", "transcoder", "viewerConnection"]);

/** A record this consumer cannot read: reported as a batch item failure. */
export class Unreadable extends Error {
  name = "Unreadable";
}

/**
 * Idempotency keys handled by this Lambda instance.
 *
 * Enough for the example and for duplicates within one batch, but lost when the instance is
 * recycled and not shared between concurrent instances. In production, use a shared store with
 * a conditional write, e.g. a DynamoDB table keyed by idempotencyKey: `seen` is a consistent
 * GetItem, `record` a PutItem with ConditionExpression "attribute_not_exists(idempotencyKey)"
 * and a TTL attribute set well beyond the queue's retention (redrive and replay can come days
 * later). A ConditionalCheckFailedException there means a concurrent instance handled the same
 * delivery: nothing to undo. Because the key is recorded after `handle`, a crash in between
 * makes the delivery be handled again; when that matters, first claim the key with a
 * short-lived "in progress" item.
 */
export class MemoryStore {
  #keys = new Set();

  async seen(key) {
    return this.#keys.has(key);
  }

  async record(key) {
    this.#keys.add(key);
  }
}

/** A validating function for the contract's schema, from the first of `paths` that exists. */
export function loadValidator(paths = SCHEMA_PATHS) {
  const path = paths.find((candidate) => existsSync(candidate));
  if (path === undefined) {
    throw new Error(`${SCHEMA_NAME} is in none of ${paths.join(", ")}`);
  }
  // Formats (int64, uint32, …) are annotations in 2020-12, as for the Python consumer.
  const ajv = new Ajv2020({ validateFormats: false });
  return ajv.compile(JSON.parse(readFileSync(path, "utf8")));
}

export const sha256Hex = (bytes) => createHash("sha256").update(bytes).digest("hex");

/** The body as JSON, checked against the contract. */
export function parseBody(raw, validate) {
  let body;
  try {
    body = JSON.parse(Buffer.from(raw).toString("utf8"));
  } catch (error) {
    throw new Unreadable(`not JSON: ${error.message}`);
  }
  if (!validate(body)) {
    const [first] = validate.errors;
    throw new Unreadable(`not a message of the contract: ${first.instancePath || "/"} ${first.message}`);
  }
  return body;
}

const stringAttribute = (record, name) => record.messageAttributes?.[name]?.stringValue;

export function idempotencyKey(record) {
  const version = stringAttribute(record, "contractVersion");
  if (version !== CONTRACT_VERSION) {
    throw new Unreadable(`contractVersion ${JSON.stringify(version)}; this consumer reads "${CONTRACT_VERSION}"`);
  }
  const key = stringAttribute(record, "idempotencyKey");
  if (typeof key !== "string" || !IDEMPOTENCY_KEY.test(key)) {
    throw new Unreadable(`idempotencyKey ${JSON.stringify(key)} is not 32 hex digits`);
  }
  return key;
}

/** The body a claim check points to, checked against the pointer's sha256 and the contract. */
export async function resolveClaimCheck(pointer, fetch, validate) {
  const raw = await fetch(pointer.bucket, pointer.key);
  if (sha256Hex(raw) !== pointer.sha256) {
    throw new Unreadable(`s3://${pointer.bucket}/${pointer.key} does not have the pointer's sha256`);
  }
  const body = parseBody(raw, validate);
  // The relay claim-checks platform webhooks only.
  if ("claimCheck" in body || body.type === "thumbnail") {
    throw new Unreadable("a claim check must hold a platform webhook");
  }
  return { body, raw };
}

/**
 * Your logic. `body` is a platform webhook (claim checks already resolved) or the relay's
 * thumbnail announcement. Throw to have the message retried.
 */
export async function handle(body) {
  const { type, event, data = {} } = body;
  if (type === "thumbnail") {
    console.log(`thumbnail stored at s3://${data.bucket}/${data.key}`);
  } else if (PLATFORM_TYPES.has(type)) {
    console.log(`${type}/${event} at ${body.timestamp}`);
  } else {
    // The platform adds hook types over time: not an error.
    console.log(`${type}/${event}: a type this consumer does not know, skipped`);
  }
}

/** Handles one record; resolves to what happened. Rejects when it cannot. */
export async function processRecord(record, { validate, store, fetch, handle }) {
  let raw = Buffer.from(record.body ?? "", "utf8");
  let body = parseBody(raw, validate);
  const key = idempotencyKey(record);
  const outcome = { idempotencyKey: key, type: body.type, event: body.event ?? null };
  // Before resolving: a duplicate needs no S3 read (its object may even have expired).
  if (await store.seen(key)) {
    return { outcome: "duplicate", ...outcome };
  }
  const pointer = body.claimCheck;
  if (pointer !== undefined) {
    ({ body, raw } = await resolveClaimCheck(pointer, fetch, validate));
  }
  await handle(body);
  await store.record(key);
  return { outcome: "handled", ...outcome, claimCheck: pointer !== undefined, bodySha256: sha256Hex(raw) };
}

export async function processBatch(event, deps) {
  const batchItemFailures = [];
  // In order, one at a time: a duplicate within the batch must see its first copy recorded.
  for (const record of event.Records ?? []) {
    let outcome;
    try {
      outcome = await processRecord(record, { handle, ...deps });
    } catch (error) {
      outcome = { outcome: "failed", reason: `${error.name}: ${error.message}` };
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
    console.log(JSON.stringify({ messageId: record.messageId, ...outcome }));
  }
  return { batchItemFailures };
}

const validate = loadValidator();
const store = new MemoryStore();
let s3;

async function fetchObject(bucket, key) {
  // Local S3 servers (moto) cannot serve bucket.host addresses.
  s3 ??= new S3Client({ forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL || process.env.AWS_ENDPOINT_URL_S3) });
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await object.Body.transformToByteArray());
}

export const handler = async (event) => processBatch(event, { validate, store, fetch: fetchObject });
