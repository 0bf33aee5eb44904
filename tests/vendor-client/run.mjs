// Runs conformance.test.mjs: the platform vendor's Node client (@dolbyio/dolbyio-rest-apis-client,
// pinned in package-lock.json) against scripts/local_platform.py, reached through
// scripts/tls_front.py on 127.0.0.1:443 because the client speaks HTTPS to port 443 only.
//
//   node tests/vendor-client/run.mjs        (what `make vendor-client-test` runs, after npm ci)
//
// Starts the two servers itself (loopback only), writes the front's throw-away root certificate
// to a temporary file for NODE_EXTRA_CA_CERTS (read by Node at start-up, hence a separate test
// process), runs the test, then stops exactly what it started: stdin closed (both servers stop at
// EOF), then SIGKILL by PID for whatever is still there. The interpreter is RELAY_PYTHON, else
// the project's .venv (tls_front.py needs its `cryptography`).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const python = process.env.RELAY_PYTHON || path.join(root, '.venv/bin/python');
// Another run of this test (another checkout on the machine) may hold 443 for a while.
const PORT_WAIT_SECONDS = 120;
const STOP_GRACE_MS = 10_000;

const started = [];

/** A script of scripts/, started with piped stdin; resolves to its first stdout line. */
function start(script, args, timeoutMs) {
    const child = spawn(python, [path.join(root, 'scripts', script), ...args], {
        cwd: root,
        stdio: ['pipe', 'pipe', 'inherit'],
    });
    started.push(child);
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${script}: no first line within ${timeoutMs} ms`)), timeoutMs);
        const lines = createInterface({ input: child.stdout });
        lines.once('line', (line) => {
            clearTimeout(timer);
            lines.close();
            resolve(line);
        });
        child.once('error', (err) => reject(new Error(`${script}: cannot start ${python}: ${err.message}`)));
        child.once('exit', (code) => reject(new Error(`${script} exited (${code}) before printing its first line`)));
    });
}

async function stopAll() {
    await Promise.all(started.map((child) => new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) {
            resolve();
            return;
        }
        const timer = setTimeout(() => {
            try {
                process.kill(child.pid, 'SIGKILL');
            } catch {
                // Already gone.
            }
        }, STOP_GRACE_MS);
        child.once('exit', () => {
            clearTimeout(timer);
            resolve();
        });
        child.stdin.end();
    })));
}

function runTests(env) {
    return new Promise((resolve) => {
        const child = spawn(process.execPath, ['--test', path.join(here, 'conformance.test.mjs')], {
            cwd: here,
            env: { ...process.env, ...env },
            stdio: 'inherit',
        });
        started.push(child);
        child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    });
}

let status = 1;
const workDir = mkdtempSync(path.join(tmpdir(), 'vendor-client-'));
for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, async () => {
        await stopAll();
        rmSync(workDir, { recursive: true, force: true });
        process.exit(130);
    });
}
try {
    const apiSecret = `vendor-client-${randomBytes(12).toString('hex')}`;
    // One failed delivery disables a webhook, so that re-enabling can be exercised quickly.
    const platformPort = Number(await start('local_platform.py',
        ['--port', '0', '--api-secret', apiSecret, '--disable-after', '1', '--timeout', '2'], 30_000));
    if (!Number.isInteger(platformPort)) {
        throw new Error(`local_platform.py printed no port: ${platformPort}`);
    }
    const front = JSON.parse(await start('tls_front.py',
        ['--backend', String(platformPort), '--port', '443', '--wait-seconds', String(PORT_WAIT_SECONDS)],
        (PORT_WAIT_SECONDS + 30) * 1000));
    const caFile = path.join(workDir, 'root.pem');
    writeFileSync(caFile, front.root_pem);
    status = await runTests({
        NODE_EXTRA_CA_CERTS: caFile,
        PLATFORM_URL: `http://127.0.0.1:${platformPort}`,
        PLATFORM_API_SECRET: apiSecret,
        FRONT_HOST: '127.0.0.1',
    });
} catch (err) {
    console.error(`vendor-client: ${err.message}`);
    status = 1;
} finally {
    await stopAll();
    rmSync(workDir, { recursive: true, force: true });
}
process.exit(status);
