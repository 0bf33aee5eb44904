// Validates contract/asyncapi.yaml with the official AsyncAPI parser (@asyncapi/parser, pinned in
// package-lock.json): what `make contract-test` runs after `npm ci`.
//
//   node tests/contract/validate.mjs              the committed document
//   node tests/contract/validate.mjs --self-test  also: broken copies must each get an error
//
// Fails (exit 1) on any error diagnostic and names it; warnings and hints are printed. Besides the
// parser's own checks (the AsyncAPI 3 schema, its Spectral rules, each payload schema validated as
// its schemaFormat), it checks what the parser cannot:
// - every message's payload `$ref` resolved into the schema of the body kind its name says
//   (a ref into a missing `$defs` entry is an error diagnostic too, but a ref to the wrong entry
//   is not);
// - the payloads are declared `application/schema+json;version=draft-07` because the parser has
//   no JSON Schema 2020-12 parser (it would skip them with a warning). That is only honest while
//   contract/message.schema.json uses keywords that mean the same in draft-07 and 2020-12:
//   checked below, keyword by keyword;
// - every `$ref` is local or into contract/message.schema.json: the parser would fetch http refs.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { DiagnosticSeverity, Parser } from '@asyncapi/parser';

const here = path.dirname(fileURLToPath(import.meta.url));
const contract = path.resolve(here, '../../contract');
const documentPath = path.join(contract, 'asyncapi.yaml');
const schemaPath = path.join(contract, 'message.schema.json');

const SEVERITY = ['error', 'warning', 'info', 'hint'];
// Message name in asyncapi.yaml -> the $defs entry (by title) its payload must resolve to.
const PAYLOADS = {
    FeedsWebhook: 'FeedsWebhook',
    RecordingsWebhook: 'RecordingsWebhook',
    MediaWebhook: 'MediaWebhook',
    TranscoderWebhook: 'TranscoderWebhook',
    ViewerConnectionWebhook: 'ViewerConnectionWebhook',
    OtherWebhook: 'OtherWebhook',
    ThumbnailStored: 'ThumbnailStoredMessage',
    ClaimCheck: 'ClaimCheckMessage',
};
const DRAFT_07 = 'application/schema+json;version=draft-07';

// Keywords whose meaning is the same in JSON Schema draft-07 and 2020-12, as used by the
// generated schema. `$ref` must stand alone (draft-07 ignores its siblings, 2020-12 applies
// them); `$defs` is a plain container in draft-07, reached by JSON-pointer refs in both.
const SAME_IN_BOTH = new Set([
    'type', 'const', 'enum', 'not', 'anyOf', 'allOf', 'oneOf', 'properties', 'required',
    'additionalProperties', 'items', 'minimum', 'maximum', 'pattern', 'minLength', 'maxLength',
    'title', 'description', 'default', 'examples', 'format',
]);
const ROOT_ONLY = new Set(['$schema', '$id', '$defs']);

/** Problems that make message.schema.json mean something else under draft-07 than 2020-12. */
export function draft07Problems(schema) {
    const problems = [];
    const walk = (node, where, isRoot) => {
        if (typeof node === 'boolean') return;
        if (node === null || typeof node !== 'object' || Array.isArray(node)) {
            problems.push(`${where}: not a schema`);
            return;
        }
        for (const [keyword, value] of Object.entries(node)) {
            const at = `${where}/${keyword}`;
            if (keyword === '$ref') {
                if (Object.keys(node).length !== 1) problems.push(`${at}: has siblings (ignored by draft-07)`);
                if (typeof value !== 'string' || !value.startsWith('#/$defs/')) problems.push(`${at}: not a #/$defs/ ref`);
            } else if (ROOT_ONLY.has(keyword)) {
                if (!isRoot) problems.push(`${at}: only at the root`);
                if (keyword === '$defs') {
                    for (const [name, sub] of Object.entries(value)) walk(sub, `${at}/${name}`, false);
                }
            } else if (!SAME_IN_BOTH.has(keyword)) {
                problems.push(`${at}: keyword not known to mean the same in draft-07`);
            } else if (keyword === 'properties') {
                for (const [name, sub] of Object.entries(value)) walk(sub, `${at}/${name}`, false);
            } else if (['anyOf', 'allOf', 'oneOf'].includes(keyword)) {
                value.forEach((sub, i) => walk(sub, `${at}/${i}`, false));
            } else if (keyword === 'items' && Array.isArray(value)) {
                problems.push(`${at}: array form means prefixItems in 2020-12`);
            } else if (['not', 'items', 'additionalProperties'].includes(keyword)) {
                walk(value, at, false);
            }
        }
    };
    walk(schema, '#', true);
    return problems;
}

/** `$ref` values of the YAML text that are neither local nor into message.schema.json. */
function foreignRefs(text) {
    const refs = [...text.matchAll(/\$ref:\s*["']?([^"'\s}]+)/g)].map((m) => m[1]);
    return refs.filter((ref) => !ref.startsWith('#/') && !ref.startsWith('./message.schema.json#/$defs/'));
}

/** Every problem with `text` as contract/asyncapi.yaml: [] when it is valid. */
export async function problemsOf(text, { quiet = false } = {}) {
    const problems = [];
    // A remote ref would make the parser fetch it: refuse before parsing.
    const foreign = foreignRefs(text);
    if (foreign.length) return foreign.map((ref) => `$ref ${ref}: only local refs and refs into message.schema.json`);
    const parser = new Parser();
    // `source` makes the relative refs resolve against contract/, as for the committed file.
    const { document, diagnostics } = await parser.parse(text, { source: documentPath });
    for (const d of diagnostics) {
        const line = `${SEVERITY[d.severity] ?? d.severity} ${d.code}: ${d.message} at ${d.path.join('.') || '(document)'}`;
        if (d.severity === DiagnosticSeverity.Error) problems.push(line);
        else if (!quiet) console.log(`contract-test: ${line}`);
    }
    if (!document) return problems.length ? problems : ['the parser returned no document'];

    const messages = document.components().messages();
    const names = messages.all().map((m) => m.id());
    if (names.sort().join() !== Object.keys(PAYLOADS).sort().join()) {
        problems.push(`components.messages are ${names.join(', ')}; expected ${Object.keys(PAYLOADS).join(', ')}`);
    }
    for (const message of messages.all()) {
        const expected = PAYLOADS[message.id()];
        const payload = message.payload();
        if (!expected || !payload) continue;
        if (message.schemaFormat() !== DRAFT_07) {
            problems.push(`${message.id()}: schemaFormat ${message.schemaFormat()}, expected ${DRAFT_07}`);
        }
        if (payload.title() !== expected || payload.json().$ref !== undefined) {
            problems.push(`${message.id()}: payload resolved to ${payload.title() ?? JSON.stringify(payload.json()).slice(0, 80)}, expected $defs/${expected}`);
        }
        if (!message.headers()) problems.push(`${message.id()}: no headers (the SQS message attributes)`);
        for (const channel of ['standardQueue', 'fifoQueue']) {
            if (!document.channels().get(channel)?.messages().has(message.id().replace(/^./, (c) => c.toLowerCase()))) {
                problems.push(`${message.id()}: not on channel ${channel}`);
            }
        }
    }
    if (document.info().version() !== '1') problems.push(`info.version ${document.info().version()}`);
    return problems;
}

async function selfTest(text) {
    // Each must be caught: by the parser itself, or by the checks above.
    const mutations = {
        // The parser validates a draft-07 payload schema (a 2020-12 one it skips in silence).
        'payload schema that is not valid draft-07': (t) =>
            t.replace('schema: { $ref: "./message.schema.json#/$defs/FeedsWebhook" }', 'schema: { type: 5 }'),
        'payload ref into a missing $defs entry': (t) => t.replace('#/$defs/FeedsWebhook"', '#/$defs/NoSuchWebhook"'),
        'payload ref to the wrong body kind': (t) => t.replace('#/$defs/MediaWebhook"', '#/$defs/FeedsWebhook"'),
        'payload as JSON Schema 2020-12 (the parser would skip it)': (t) =>
            t.replace(DRAFT_07, 'application/schema+json;version=2020-12'),
        'unknown field in a message': (t) => t.replace('      name: FeedsWebhook\n', '      name: FeedsWebhook\n      colour: blue\n'),
        'SQS binding with a non-boolean fifoQueue': (t) => t.replace('fifoQueue: true', 'fifoQueue: "yes"'),
        'operation on a channel that does not exist': (t) => t.replace('"#/channels/fifoQueue"', '"#/channels/nowhere"'),
        'remote $ref': (t) => t.replace('{ $ref: "#/components/schemas/WebhookAttributes" }', '{ $ref: "https://example.com/attributes.json" }'),
    };
    const missed = [];
    for (const [name, mutate] of Object.entries(mutations)) {
        const broken = mutate(text);
        if (broken === text) {
            missed.push(`${name} (the mutation matched nothing)`);
            continue;
        }
        const problems = await problemsOf(broken, { quiet: true });
        if (problems.length === 0) missed.push(name);
        else console.log(`contract-test: self-test: ${name} -> ${problems[0]}`);
    }
    const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
    const broken = structuredClone(schema);
    broken.$defs.FeedsWebhook.properties.data = { $ref: '#/$defs/FeedData', description: 'sibling' };
    broken.$defs.FeedData.properties.started = { type: 'integer', exclusiveMinimum: 0, prefixItems: [] };
    const found = draft07Problems(broken);
    if (found.length < 2) missed.push(`draft-07 keyword check (found ${found.join('; ') || 'nothing'})`);
    else console.log(`contract-test: self-test: 2020-12-only schema -> ${found[0]}`);
    return { missed, total: Object.keys(mutations).length + 1 };
}

const text = readFileSync(documentPath, 'utf8');
const problems = await problemsOf(text);
for (const problem of draft07Problems(JSON.parse(readFileSync(schemaPath, 'utf8')))) {
    problems.push(`message.schema.json ${problem}`);
}
for (const problem of problems) console.error(`contract-test: ${problem}`);
if (problems.length) {
    console.error(`contract-test: contract/asyncapi.yaml has ${problems.length} problem(s)`);
    process.exit(1);
}
if (process.argv.includes('--self-test')) {
    const { missed, total } = await selfTest(text);
    if (missed.length) {
        console.error(`contract-test: self-test: not caught: ${missed.join('; ')}`);
        process.exit(1);
    }
    console.log(`contract-test: all ${total} broken variants are caught`);
}
console.log('contract-test: contract/asyncapi.yaml is valid AsyncAPI 3.0.0 (no error diagnostic)');
