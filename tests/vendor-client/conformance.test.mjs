// The platform vendor's own Node client, @dolbyio/dolbyio-rest-apis-client 5.0.1 (npm), drives
// scripts/local_platform.py through the TLS front on 127.0.0.1:443: every answer is checked against
// the client's TypeScript definitions (read from its .d.ts files in node_modules), and every request
// the client sends is read back from the platform's /_local/requests and checked as sent.
// Run by run.mjs, which starts the servers and sets NODE_EXTRA_CA_CERTS, PLATFORM_URL,
// PLATFORM_API_SECRET and FRONT_HOST.
//
// Where the vendor's source on GitHub (DolbyIO/dolbyio-rest-apis-client-node) is newer than the npm
// release, its request shape is exercised through the 5.0.1 package's own transport: `webhooks.test`
// (6.0.0, not published on npm) and the webhook fields its newer types add (isMediaHooks,
// isViewerConnectionHooks, reEnable, disabled). Where the vendor's types and the local platform
// (scripts/local_platform.py, after docs/platform.md) disagree, the test names the disagreement
// (DEVIATIONS below).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { after, before, beforeEach, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const require = createRequire(import.meta.url);
const PACKAGE = '@dolbyio/dolbyio-rest-apis-client';
const { streaming, urls, version } = require(PACKAGE);
// The transport every streaming call of the package uses (hostname, port 443, headers, body).
const transport = require(`${PACKAGE}/dist/streaming/internal/httpHelpers`);
const webhooks = streaming.webhooks;

const { PLATFORM_URL, PLATFORM_API_SECRET: SECRET, FRONT_HOST } = process.env;
assert.ok(PLATFORM_URL && SECRET && FRONT_HOST && process.env.NODE_EXTRA_CA_CERTS,
    'run through run.mjs, which starts the platform and the TLS front');
urls.initialize({ rts: FRONT_HOST });

const HOOK_FLAGS = ['isFeedHooks', 'isRecordingHooks', 'isThumbnailHooks', 'isTranscoderHooks', 'isMediaHooks',
    'isViewerConnectionHooks'];
const TEST_TYPES = ['Recordings', 'Thumbnail', 'Transcoder', 'Media', 'Feeds', 'ViewerConnection'];
const USER_AGENT = `DolbyIoRestApiSdk/${version}; Node/${process.versions.node}`;

// ------------------------------------------------------------------------------------------------
// The vendor's types

/** `export interface Name { member?: type; ... }` blocks -> {Name: {member: {type, optional}}}. */
function parseInterfaces(source) {
    const text = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    const interfaces = {};
    const head = /(?:export\s+)?interface\s+(\w+)\s*\{/g;
    let match;
    while ((match = head.exec(text))) {
        const start = head.lastIndex;
        const end = closingBrace(text, start - 1);
        interfaces[match[1]] = parseMembers(text.slice(start, end));
        head.lastIndex = end;
    }
    return interfaces;
}

function closingBrace(text, open) {
    let depth = 0;
    for (let i = open; i < text.length; i++) {
        if (text[i] === '{') depth++;
        if (text[i] === '}' && --depth === 0) return i;
    }
    throw new Error('unbalanced braces in a .d.ts');
}

function parseMembers(body) {
    const members = {};
    let i = 0;
    while (i < body.length) {
        const m = /^\s*(\w+)(\??)\s*:\s*/.exec(body.slice(i));
        if (!m) {
            // A member this parser does not understand must not shrink the checks silently.
            if (body.slice(i).trim()) throw new Error(`cannot parse a .d.ts member: ${body.slice(i).trim()}`);
            break;
        }
        i += m[0].length;
        let type;
        if (body[i] === '{') {
            const end = closingBrace(body, i);
            type = { object: parseMembers(body.slice(i + 1, end)) };
            i = end + 1;
        } else {
            const end = body.indexOf(';', i);
            type = body.slice(i, end).trim();
            i = end;
        }
        i = body.indexOf(';', i) + 1;
        members[m[1]] = { type, optional: m[2] === '?' };
    }
    return members;
}

/** `export declare const name: (...) => Promise<T>;` -> {name: 'T'}. */
function parseReturnTypes(source) {
    const types = {};
    for (const m of source.matchAll(/export declare const (\w+): \(.*?\) => Promise<(.+?)>;/g)) {
        types[m[1]] = m[2];
    }
    return types;
}

const dts = (file) => readFileSync(require.resolve(`${PACKAGE}/dist/streaming/${file}`), 'utf8');
const TYPES = parseInterfaces(dts('types/webhooks.d.ts'));
const RETURNS = parseReturnTypes(dts('webhooks.d.ts'));
// The webhook as the vendor's newer source types it (DolbyIO/dolbyio-rest-apis-client-node,
// streaming/types/webhooks.ts under its src/, at 6.0.0, commit 6e76d29, not on npm): restated
// here, names and types only, to check answers against too.
const NEWER = parseInterfaces(`interface Webhook { id: number; url: string; secret: string;
    isFeedHooks: boolean; isRecordingHooks: boolean; isThumbnailHooks: boolean; isTranscoderHooks: boolean;
    isMediaHooks: boolean; isViewerConnectionHooks: boolean; disabled?: { until: string; reason: string; }; }`);

/** What in `value` does not fit `type` (a .d.ts type text or a parsed object type). */
function misfits(type, value, where, types) {
    if (typeof type === 'object') {
        if (value === null || typeof value !== 'object' || Array.isArray(value)) {
            return [`${where}: object expected, got ${describe(value)}`];
        }
        return Object.entries(type.object).flatMap(([name, member]) => {
            if (!(name in value) || value[name] === undefined) {
                return member.optional ? [] : [`${where}.${name}: missing`];
            }
            return misfits(member.type, value[name], `${where}.${name}`, types);
        });
    }
    if (type.endsWith('[]')) {
        if (!Array.isArray(value)) return [`${where}: array expected, got ${describe(value)}`];
        return value.flatMap((item, i) => misfits(type.slice(0, -2), item, `${where}[${i}]`, types));
    }
    if (['string', 'number', 'boolean'].includes(type)) {
        return typeof value === type ? [] : [`${where}: ${type} expected, got ${describe(value)}`];
    }
    if (type in types) return misfits({ object: types[type] }, value, where, types);
    throw new Error(`the checker does not know the type \`${type}\``);
}

function describe(value) {
    return value === null ? 'null' : Array.isArray(value) ? 'array' : `${typeof value} ${JSON.stringify(value)}`;
}

// Where the answers knowingly differ from the vendor's types (each also in the final report):
const DEVIATIONS = {
    // 5.0.1's Webhook has isClipHooks; the documented webhook object has no such field, and the
    // vendor's newer types dropped it for isMediaHooks and isViewerConnectionHooks.
    clip: (where) => `${where}.isClipHooks: missing`,
    // The newer types declare `disabled?: {until, reason}` (absent when enabled); the OpenAPI
    // document allows null (docs/platform.md), and the local platform answers null when enabled.
    disabledNull: (where) => `${where}.disabled: object expected, got null`,
};

/** `value` fits 5.0.1's declared return type of `fn` and the newer Webhook type, but for the
 * named deviations. */
function assertFits(fn, value) {
    const declared = RETURNS[fn];
    const many = declared.endsWith('[]');
    const items = many ? value : [value];
    const where = (i) => (many ? `${fn}[${i}]` : fn);
    assert.deepEqual(misfits(declared, value, fn, TYPES), items.map((_, i) => DEVIATIONS.clip(where(i))),
        `${fn}: 5.0.1's ${declared}`);
    assert.deepEqual(items.flatMap((item, i) => misfits('Webhook', item, where(i), NEWER)),
        items.flatMap((item, i) => (item.disabled === null ? [DEVIATIONS.disabledNull(where(i))] : [])),
        `${fn}: the newer source's Webhook`);
}

// ------------------------------------------------------------------------------------------------
// What the client sends, as the platform received it

let seen = 0;
const recorded = [];

async function platform(path) {
    const response = await fetch(`${PLATFORM_URL}${path}`);
    assert.equal(response.status, 200, path);
    return response.json();
}

/** The requests the platform received since the last call. */
async function sent() {
    const requests = await platform(`/_local/requests?since=${seen}`);
    if (requests.length) seen = requests.at(-1).seq;
    recorded.push(...requests);
    return requests;
}

/** Exactly one request, sent as `expected` says: method, target, body (null: none). */
async function assertSent(expected) {
    const requests = await sent();
    assert.equal(requests.length, 1, JSON.stringify(requests));
    const [request] = requests;
    const headers = Object.fromEntries(request.headers.map(([name, value]) => [name.toLowerCase(), value]));
    assert.equal(request.method, expected.method);
    assert.equal(request.target, expected.target);
    assert.equal(headers.host, FRONT_HOST);
    assert.equal(headers.accept, 'application/json');
    assert.equal(headers.authorization, 'Bearer <redacted>');
    assert.equal(headers['user-agent'], USER_AGENT);
    assert.equal(headers['content-type'], expected.contentType ? 'application/json' : undefined);
    assert.equal(request.body, expected.body ?? '');
    // Node frames a written body as chunked; no body: no framing header on GET and DELETE, an
    // explicit zero length on POST.
    if (expected.body) {
        assert.equal(headers['transfer-encoding'], 'chunked');
        assert.equal(headers['content-length'], undefined);
    } else {
        assert.equal(headers['transfer-encoding'], undefined);
        assert.equal(headers['content-length'], expected.method === 'POST' ? '0' : undefined);
    }
    return request;
}

/** The rejection of a vendor call: its HTTP status and the platform's envelope. */
async function rejection(promise) {
    const reason = await promise.then(
        (value) => assert.fail(`resolved with ${JSON.stringify(value)}`),
        (err) => err,
    );
    assert.equal(typeof reason, 'string', `the client rejects with a string: ${reason}`);
    const m = /^This request has been rejected with the response code (\d+) and description: (.*)$/s.exec(reason);
    assert.ok(m, reason);
    return { status: Number(m[1]), envelope: JSON.parse(m[2]) };
}

// `webhooks.test` as the vendor's newer source sends it (streaming/webhooks.ts under its src/, at
// 6.0.0): a POST with Content-Type but no body, through the same transport as every other call.
const sendTest = (apiSecret, webhookType) => transport.sendPost({
    hostname: urls.getRtsHostname(),
    path: `/api/webhooks/test/${webhookType}`,
    headers: { Accept: 'application/json', 'Content-Type': 'application/json', Authorization: `Bearer ${apiSecret}` },
});

// ------------------------------------------------------------------------------------------------
// A receiver of deliveries (loopback), to see test events arrive signed

const deliveries = [];
const receiver = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
        deliveries.push({ path: req.url, headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true}');
    });
});
const hookUrl = (path) => `http://127.0.0.1:${receiver.address().port}${path}`;
const signedWith = (secret, delivery) => delivery.headers['x-millicast-signature']
    === `sha1=${createHmac('sha1', Buffer.from(secret, 'base64')).update(delivery.body).digest('hex')}`;

async function waitFor(predicate, what, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await predicate();
        if (value) return value;
        assert.ok(Date.now() < deadline, `${what}: not within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
}

/** A URL where nothing listens: deliveries to it fail (and disable the webhook). */
async function closedUrl() {
    const server = createServer();
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address();
    await new Promise((resolve) => server.close(resolve));
    return `http://127.0.0.1:${port}/gone`;
}

before(() => new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve)));
// What a failed test left unread does not fail the next one.
beforeEach(sent);
after(() => new Promise((resolve) => receiver.close(resolve)));

// ------------------------------------------------------------------------------------------------

test('the types read from the package are the ones checked against', () => {
    assert.equal(version, '5.0.1');
    assert.deepEqual(Object.keys(TYPES.Webhook), ['id', 'url', 'secret', 'isFeedHooks', 'isRecordingHooks',
        'isThumbnailHooks', 'isTranscoderHooks', 'isClipHooks']);
    assert.deepEqual(RETURNS, { read: 'Webhook', update: 'Webhook', remove: 'Webhook', list: 'Webhook[]',
        add: 'Webhook' });
    // The checker itself: a wrong type, a missing member, an optional one absent.
    assert.deepEqual(misfits('Webhook', { id: '1', url: 'u', secret: 's', isFeedHooks: true,
        isRecordingHooks: false, isThumbnailHooks: false, isTranscoderHooks: false, isMediaHooks: false }, 'w', NEWER),
    ['w.id: number expected, got string "1"', 'w.isViewerConnectionHooks: missing']);
    assert.deepEqual(misfits('Webhook[]', [{}], 'l', TYPES).length, 8);
});

let first;

test('add: POST /api/webhooks/ (trailing slash) with 5.0.1\'s AddWebhookRequest', async () => {
    const request = { url: hookUrl('/first'), isFeedHooks: true, isRecordingHooks: false, isThumbnailHooks: true,
        isTranscoderHooks: false, isClipHooks: true };
    first = await webhooks.add(SECRET, request);
    assertFits('add', first);
    await assertSent({ method: 'POST', target: '/api/webhooks/', contentType: true, body: JSON.stringify(request) });
    assert.equal(first.url, request.url);
    assert.equal(Buffer.from(first.secret, 'base64').length, 32);
    assert.deepEqual(HOOK_FLAGS.map((flag) => first[flag]), [true, false, true, false, false, false]);
    // isClipHooks is not a field of the platform's webhook (docs/platform.md): ignored, like any unknown field.
    assert.equal('isClipHooks' in first, false);
    assert.equal(first.filter, null);
    assert.equal(first.disabled, null);
});

test('add: the fields of the newer types and the documented webhook pass through the client', async () => {
    const request = { url: hookUrl('/second'), isFeedHooks: false, isMediaHooks: true, isViewerConnectionHooks: true,
        filter: '^cam-' };
    const created = await webhooks.add(SECRET, request);
    assertFits('add', created);
    await assertSent({ method: 'POST', target: '/api/webhooks/', contentType: true, body: JSON.stringify(request) });
    assert.deepEqual(HOOK_FLAGS.map((flag) => created[flag]), [false, false, false, false, true, true]);
    assert.equal(created.filter, '^cam-');
    assert.ok(created.id > first.id);
    assert.equal(await webhooks.remove(SECRET, created.id), true);
    await sent();
});

test('read: GET /api/webhooks/{id}', async () => {
    const read = await webhooks.read(SECRET, first.id);
    assertFits('read', read);
    await assertSent({ method: 'GET', target: `/api/webhooks/${first.id}` });
    assert.deepEqual(read, first);
});

test('update: each hook flag on and off, the others untouched', async () => {
    let current = first;
    for (const flag of HOOK_FLAGS) {
        for (const value of [!current[flag], current[flag]]) {
            const updated = await webhooks.update(SECRET, first.id, { [flag]: value });
            assertFits('update', updated);
            await assertSent({ method: 'PUT', target: `/api/webhooks/${first.id}`, contentType: true,
                body: JSON.stringify({ [flag]: value }) });
            assert.deepEqual(updated, { ...current, [flag]: value }, flag);
            current = updated;
        }
    }
    // 5.0.1's isClipHooks: accepted, changes nothing (not a field of the platform's webhook).
    assert.deepEqual(await webhooks.update(SECRET, first.id, { isClipHooks: true }), current);
    await assertSent({ method: 'PUT', target: `/api/webhooks/${first.id}`, contentType: true,
        body: '{"isClipHooks":true}' });
    // Nothing to change: the webhook as it is.
    assert.deepEqual(await webhooks.update(SECRET, first.id, {}), current);
    await assertSent({ method: 'PUT', target: `/api/webhooks/${first.id}`, contentType: true, body: '{}' });
});

test('update: filter set, kept when absent, cleared by null; url', async () => {
    const filtered = await webhooks.update(SECRET, first.id, { filter: '^live-' });
    assertFits('update', filtered);
    assert.equal(filtered.filter, '^live-');
    assert.equal((await webhooks.update(SECRET, first.id, { isRecordingHooks: true })).filter, '^live-');
    const cleared = await webhooks.update(SECRET, first.id, { filter: null, isRecordingHooks: false });
    assertFits('update', cleared);
    assert.equal(cleared.filter, null);
    const requests = await sent();
    assert.deepEqual(requests.map((r) => r.body),
        ['{"filter":"^live-"}', '{"isRecordingHooks":true}', '{"filter":null,"isRecordingHooks":false}']);
    // Still validated: the platform's fail envelope, field by field.
    const bad = await rejection(webhooks.update(SECRET, first.id, { filter: '(', isFeedHooks: 'yes' }));
    assert.equal(bad.status, 400);
    assert.equal(bad.envelope.status, 'fail');
    assert.deepEqual(Object.keys(bad.envelope.data).sort(), ['filter', 'isFeedHooks']);
    await sent();

    const moved = await webhooks.update(SECRET, first.id, { url: hookUrl('/moved') });
    assertFits('update', moved);
    assert.equal(moved.url, hookUrl('/moved'));
    assert.equal(moved.secret, first.secret);
    await assertSent({ method: 'PUT', target: `/api/webhooks/${first.id}`, contentType: true,
        body: JSON.stringify({ url: hookUrl('/moved') }) });
    first = moved;
});

test('update: refreshSecret, and the test event of every type (newer source) signed with the new secret',
    { timeout: 30_000 }, async () => {
        const old = first.secret;
        const refreshed = await webhooks.update(SECRET, first.id, { refreshSecret: true });
        assertFits('update', refreshed);
        await assertSent({ method: 'PUT', target: `/api/webhooks/${first.id}`, contentType: true,
            body: '{"refreshSecret":true}' });
        assert.notEqual(refreshed.secret, old);
        assert.equal(Buffer.from(refreshed.secret, 'base64').length, 32);
        assert.equal((await webhooks.read(SECRET, first.id)).secret, refreshed.secret);
        await sent();

        const all = Object.fromEntries(HOOK_FLAGS.map((flag) => [flag, true]));
        first = await webhooks.update(SECRET, first.id, { ...all, url: hookUrl('/tests') });
        await sent();
        for (const type of TEST_TYPES) {
            assert.equal(await sendTest(SECRET, type), true, type);
            await assertSent({ method: 'POST', target: `/api/webhooks/test/${type}`, contentType: true });
        }
        const arrived = await waitFor(() => {
            const got = deliveries.filter((d) => d.path === '/tests');
            return got.length >= TEST_TYPES.length && got;
        }, 'one test delivery per type');
        assert.equal(arrived.length, TEST_TYPES.length);
        assert.ok(arrived.every((d) => signedWith(refreshed.secret, d)), 'signed with the refreshed secret');
        assert.ok(arrived.every((d) => !signedWith(old, d)), 'not with the old one');
        const kinds = arrived.map((d) => (d.headers['content-type'] === 'image/jpeg'
            ? 'thumbnail' : JSON.parse(d.body).type)).sort();
        assert.deepEqual(kinds, ['feeds', 'media', 'recordings', 'thumbnail', 'transcoder', 'viewerConnection']);
    });

test('list: paging with startingId, itemCount and isDescending as the client sends them', async () => {
    // Flags off: these webhooks receive nothing.
    const created = [first.id];
    for (let i = 0; i < 11; i++) {
        created.push((await webhooks.add(SECRET, { url: hookUrl(`/idle/${i}`), isFeedHooks: false,
            isRecordingHooks: false })).id);
    }
    await sent();
    const ids = (list) => list.map((webhook) => webhook.id);

    const firstPage = await webhooks.list(SECRET, {});
    assertFits('list', firstPage);
    await assertSent({ method: 'GET', target: '/api/webhooks/list' });
    assert.deepEqual(ids(firstPage), created.slice(0, 10), 'the platform\'s default page of 10');

    const page = await webhooks.list(SECRET, { startingId: created[3], itemCount: 4 });
    assertFits('list', page);
    await assertSent({ method: 'GET', target: `/api/webhooks/list?startingId=${created[3]}&itemCount=4` });
    assert.deepEqual(ids(page), created.slice(3, 7));

    const last = await webhooks.list(SECRET, { itemCount: 3, isDescending: true });
    assertFits('list', last);
    await assertSent({ method: 'GET', target: '/api/webhooks/list?itemCount=3&isDescending=true' });
    assert.deepEqual(ids(last), created.slice(-3).reverse());

    // The client drops falsy values: startingId 0 and isDescending false are not sent at all.
    await webhooks.list(SECRET, { startingId: 0, itemCount: 2, isDescending: false });
    await assertSent({ method: 'GET', target: '/api/webhooks/list?itemCount=2' });

    // Every page, from the last id + 1 on (startingId is inclusive on the local platform).
    const pages = [];
    for (let start = created[0]; ;) {
        const next = await webhooks.list(SECRET, { startingId: start, itemCount: 5 });
        assertFits('list', next);
        if (next.length === 0) break;
        pages.push(ids(next));
        start = next.at(-1).id + 1;
    }
    await sent();
    assert.deepEqual(pages.map((p) => p.length), [5, 5, 2]);
    assert.deepEqual(pages.flat(), created);
    for (const id of created.slice(1)) {
        assert.equal(await webhooks.remove(SECRET, id), true);
    }
    await sent();
});

test('re-enable: reEnable (newer source), or a new url (as its types document)', { timeout: 30_000 }, async () => {
    const hook = await webhooks.add(SECRET, { url: await closedUrl(), isFeedHooks: true, isRecordingHooks: false });
    const disable = async () => {
        await sendTest(SECRET, 'Feeds');
        return waitFor(async () => (await webhooks.read(SECRET, hook.id)).disabled, 'disabled by the platform');
    };
    let disabled = await disable();
    const read = await webhooks.read(SECRET, hook.id);
    assertFits('read', read);
    assert.equal(typeof disabled.until, 'string');
    assert.ok(Date.parse(disabled.until) > Date.now(), disabled.until);
    assert.match(disabled.reason, /consecutive failed deliveries/);
    await sent();

    const enabled = await webhooks.update(SECRET, hook.id, { reEnable: true });
    assertFits('update', enabled);
    assert.equal(enabled.disabled, null);
    await assertSent({ method: 'PUT', target: `/api/webhooks/${hook.id}`, contentType: true,
        body: '{"reEnable":true}' });

    disabled = await disable();
    // The same url again is no update of it: still disabled.
    assert.deepEqual((await webhooks.update(SECRET, hook.id, { url: hook.url })).disabled, disabled);
    const moved = await webhooks.update(SECRET, hook.id, { url: hookUrl('/back') });
    assertFits('update', moved);
    assert.equal(moved.disabled, null);
    await sendTest(SECRET, 'Feeds');
    const [delivery] = await waitFor(() => {
        const got = deliveries.filter((d) => d.path === '/back');
        return got.length && got;
    }, 'a delivery after the new url re-enabled it');
    assert.ok(signedWith(hook.secret, delivery));
    assert.equal(await webhooks.remove(SECRET, hook.id), true);
    await sent();
});

test('remove: DELETE /api/webhooks/{id} answers true (the local platform; relayctl takes either), where 5.0.1 declares a Webhook', async () => {
    assert.equal(RETURNS.remove, 'Webhook');
    const answer = await webhooks.remove(SECRET, first.id);
    await assertSent({ method: 'DELETE', target: `/api/webhooks/${first.id}` });
    assert.equal(answer, true);
    for (const call of [() => webhooks.read(SECRET, first.id), () => webhooks.remove(SECRET, first.id),
        () => webhooks.update(SECRET, first.id, { isFeedHooks: true })]) {
        const gone = await rejection(call());
        assert.equal(gone.status, 404);
        assert.deepEqual(Object.keys(gone.envelope).sort(), ['code', 'data', 'message', 'status']);
        assert.equal(gone.envelope.status, 'error');
        assert.equal(gone.envelope.code, 404);
    }
    await sent();
    assert.deepEqual(await webhooks.list(SECRET, {}), []);
    await sent();
});

test('a wrong API secret: 401 on every call, in the error envelope', async () => {
    const wrong = `${SECRET}-not`;
    const calls = {
        add: () => webhooks.add(wrong, { url: hookUrl('/x'), isFeedHooks: true, isRecordingHooks: false }),
        read: () => webhooks.read(wrong, 1),
        update: () => webhooks.update(wrong, 1, { refreshSecret: true }),
        remove: () => webhooks.remove(wrong, 1),
        list: () => webhooks.list(wrong, {}),
        test: () => sendTest(wrong, 'Feeds'),
    };
    for (const [name, call] of Object.entries(calls)) {
        const refused = await rejection(call());
        assert.equal(refused.status, 401, name);
        assert.deepEqual(refused.envelope, { status: 'error', message: 'Unauthorized: missing or invalid API secret',
            code: 401, data: null }, name);
    }
    const requests = await sent();
    assert.deepEqual(requests.map((r) => r.status), Array(6).fill(401));
    assert.deepEqual(await webhooks.list(SECRET, {}), [], 'nothing was created');
    await sent();
});

test('the client trusts the front only through NODE_EXTRA_CA_CERTS', async () => {
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const script = `const { streaming, urls } = require(${JSON.stringify(PACKAGE)});
        urls.initialize({ rts: ${JSON.stringify(FRONT_HOST)} });
        streaming.webhooks.list(${JSON.stringify(SECRET)}, {}).then(
            () => console.log('accepted'), (err) => console.log(err.code || String(err)));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { env, cwd: fileURLToPath(new URL('.', import.meta.url)) });
    assert.equal(stdout.trim(), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    assert.deepEqual(await sent(), [], 'no request reached the platform');
});

test('every request the client sent: the same headers, in the same order', () => {
    const shapes = new Set();
    for (const r of recorded) {
        const names = r.headers.map(([name]) => name);
        const body = r.method === 'POST' || r.method === 'PUT';
        assert.deepEqual(names.slice(0, body ? 4 : 3),
            body ? ['Accept', 'Content-Type', 'Authorization', 'User-Agent'] : ['Accept', 'Authorization', 'User-Agent'],
            `${r.method} ${r.target}`);
        assert.deepEqual(names.slice(body ? 4 : 3), ['Host', 'Connection', ...(r.body ? ['Transfer-Encoding']
            : body ? ['Content-Length'] : [])], `${r.method} ${r.target}`);
        // One line per request shape, to compare with other clients (relayctl's).
        const target = r.target.replace(/\/\d+(?=$|\/|\?)/, '/{id}').replace(/startingId=\d+/, 'startingId={id}');
        shapes.add(`${r.method} ${target} :: ${r.headers.filter(([name]) => name !== 'Host')
            .map(([name, value]) => `${name}: ${value}`).join(' | ')}`);
    }
    assert.ok(recorded.length > 50, `${recorded.length} requests`);
    for (const shape of shapes) console.log(`  ${shape}`);
});
