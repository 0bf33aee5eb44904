// The screenshot of docs/operate.md: the wall that `make run` serves, in Debian's Chromium.
//
//   node tests/wall/screenshot.mjs http://127.0.0.1:8130/ docs/wall.png
//
// Waits until every tile's image has loaded, then takes the whole page at 1280 CSS pixels wide.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { chromium } from "playwright-core";

const [url, out] = process.argv.slice(2);
if (!url || !out) throw new Error("usage: screenshot.mjs <wall URL> <file.png>");
const profile = mkdtempSync(join(tmpdir(), "relayctl-wall-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
  viewport: { width: 1280, height: 720 },
  locale: "en-GB",
  timezoneId: "UTC",
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(url);
  await page.waitForSelector(".tile");
  await page.waitForFunction(() => [...document.querySelectorAll(".frame img")].every((img) => img.complete && img.naturalWidth > 0));
  await page.screenshot({ path: out, fullPage: true });
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
