// relayctl wall in a real browser: Debian's Chromium (/usr/bin/chromium, installed by
// `make wall-test-deps`) driven headless by playwright-core, which downloads no browser.
//
//   node tests/wall/wall.test.mjs <states|scale> <wall URL> <artifacts dir>
//
// Run by tests/it/wall.rs, which owns the relay, moto and relayctl wall, and answers this
// script's steps: the script prints `STEP <name> <json>` and reads one JSON line back, then
// prints `RESULT <json>`. Any failed check throws: exit code 1, and the Rust test fails.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
// Headless, and nothing the browser would fetch by itself: this machine's network refuses it.
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const [scenario, url, artifacts] = process.argv.slice(2);
assert.ok(scenario && url && artifacts, "usage: wall.test.mjs <states|scale> <url> <artifacts dir>");

const input = createInterface({ input: process.stdin });
const replies = input[Symbol.asyncIterator]();

/** Asks the Rust side to do `name`, and returns its answer. */
async function step(name, data = {}) {
  console.log(`STEP ${name} ${JSON.stringify(data)}`);
  const { value, done } = await replies.next();
  assert.ok(!done, `no answer to ${name}`);
  return JSON.parse(value);
}

function log(message) {
  console.log(`# ${message}`);
}

/** Every response's bytes on the wire (headers and body), by kind, since `reset()`. */
class Traffic {
  constructor(page) {
    this.reset();
    page.on("requestfinished", async (request) => {
      const sizes = await request.sizes().catch(() => null);
      if (!sizes) return;
      const path = new URL(request.url()).pathname;
      const kind = path.startsWith("/img/")
        ? "images"
        : path === "/api/streams"
          ? "json"
          : path === "/" || path.endsWith(".js") || path.endsWith(".css")
            ? "page"
            : "other";
      const bytes = sizes.responseBodySize + sizes.responseHeadersSize;
      this.bytes[kind] = (this.bytes[kind] ?? 0) + bytes;
      this.requests[kind] = (this.requests[kind] ?? 0) + 1;
    });
  }
  reset() {
    this.bytes = {};
    this.requests = {};
  }
  total() {
    return Object.values(this.bytes).reduce((a, b) => a + b, 0);
  }
}

const tiles = (page) =>
  page.$$eval(".tile", (all) =>
    all.map((tile) => ({
      id: tile.dataset.id,
      hidden: tile.hidden,
      name: tile.querySelector(".name").textContent,
      state: tile.querySelector(".state .word").textContent,
      datetime: tile.querySelector("time").dateTime,
      age: tile.querySelector(".age").textContent,
      webhook: tile.querySelector(".webhook-id").textContent,
      webhookTitle: tile.querySelector(".webhook-id").title,
      image: tile.querySelector(".frame img").getAttribute("src"),
    })),
  );

async function settle(page, count, timeout = 20_000) {
  await page.waitForFunction((n) => document.querySelectorAll(".tile").length === n, count, { timeout });
}

/** Scrolls through the page until every tile's image has loaded. */
async function loadEveryImage(page) {
  for (let i = 0; i < 200; i += 1) {
    const done = await page.evaluate(() => {
      window.scrollBy(0, window.innerHeight);
      const images = [...document.querySelectorAll(".frame img")];
      return images.every((img) => img.complete && img.naturalWidth > 0) && window.scrollY + window.innerHeight >= document.body.scrollHeight;
    });
    if (done) return;
    await page.waitForTimeout(100);
  }
  throw new Error("not every image loaded");
}

async function states(page, traffic, result) {
  const started = Date.now();
  await page.goto(url);
  // Nothing yet: the page says how to get thumbnails.
  await page.waitForSelector(".notice.empty h2");
  assert.equal(await page.textContent(".notice.empty h2"), "No thumbnails yet");
  const commands = await page.$$eval(".notice.empty code", (codes) => codes.map((c) => c.textContent));
  assert.ok(commands.some((c) => c.startsWith("relayctl register --stack ") && c.includes("--hooks") && c.includes("thumbnails")), commands.join("\n"));
  assert.equal(await page.textContent("#summary"), "No stream to show");
  await page.evaluate(() => {
    window.wallTestMarker = "the first load";
  });
  const expected = await step("empty-state-seen");

  // Three streams came; one never sent a thumbnail. The page picks them up by itself.
  const arrived = Date.now();
  await settle(page, expected.tiles.length);
  result.timings.tilesAfterThumbnailsMs = Date.now() - arrived;
  assert.equal(await page.evaluate(() => window.wallTestMarker), "the first load", "the page was reloaded");
  await page.waitForFunction(() => document.querySelectorAll(".notice").length === 0);
  const shown = await tiles(page);
  assert.deepEqual(
    shown.map((t) => [t.id, t.state, t.datetime, t.webhook]),
    expected.tiles.map((t) => [t.id, t.state, new Date(t.captureMs).toISOString(), t.webhookId ?? "—"]),
    "live first, then quiet; each with its capture time, state in words and webhook id",
  );
  for (const tile of shown) {
    const [account, stream] = tile.id.split("/");
    assert.equal(tile.name, `${account} / ${stream}`);
    assert.match(tile.age, /^(just now|\d+ s ago|\d+ min ago)$/);
    // "—" says why there is no id; an id says what it is.
    assert.match(tile.webhookTitle, tile.webhook === "—" ? /^no webhook id recorded/ : /^the webhook whose secret verified/);
  }
  for (const absent of expected.absent) {
    assert.equal(await page.$(`[data-id="${absent}"]`), null, `${absent} never sent a thumbnail: no tile`);
  }
  const live = expected.tiles.filter((t) => t.state === "live").length;
  assert.equal(await page.textContent("#summary"), `${live} live, ${expected.tiles.length - live} quiet`);
  await page.waitForFunction(() => [...document.querySelectorAll(".frame img")].every((img) => img.complete && img.naturalWidth > 0));
  // Not by colour alone: the state is a word, and the quiet frame is also greyed.
  const quietFilter = await page.$eval(".tile.quiet .frame img", (img) => getComputedStyle(img).filter);
  assert.match(quietFilter, /grayscale/);

  // The keyboard: the filter first, then the first tile's frame, visibly focused.
  await page.evaluate(() => document.activeElement?.blur());
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.id), "filter");
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => {
    const active = document.activeElement;
    return {
      tile: active.closest(".tile")?.dataset.id,
      outline: getComputedStyle(active).outlineStyle,
      label: active.querySelector("img")?.alt,
    };
  });
  assert.equal(focused.tile, expected.tiles[0].id);
  assert.notEqual(focused.outline, "none", "the focused frame shows it");
  assert.equal(focused.label, `newest frame of ${expected.tiles[0].id.replace("/", " / ")}`);
  await page.keyboard.press("Enter"); // opens the frame in a new tab
  const opened = await page.context().waitForEvent("page");
  await opened.waitForLoadState();
  assert.match(opened.url(), /\/img\/.*\/latest\.jpg\?v=/);
  await opened.close();
  // Filtering.
  await page.fill("#filter", "studio");
  assert.deepEqual(
    (await tiles(page)).filter((t) => !t.hidden).map((t) => t.id),
    expected.tiles.filter((t) => t.id.includes("studio")).map((t) => t.id),
  );
  assert.match(await page.textContent("#summary"), /\(1 shown\)$/);
  await page.fill("#filter", "");

  // 200 % zoom of a 1280-pixel-wide window: 640 CSS pixels. Nothing wider than the window, no
  // name cut off.
  await page.setViewportSize({ width: 640, height: 800 });
  const zoomed = await page.evaluate(() => ({
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    clipped: [...document.querySelectorAll(".name, .captured, .state")].filter((el) => el.scrollWidth > el.clientWidth + 1).length,
    columns: new Set([...document.querySelectorAll(".tile")].map((t) => t.getBoundingClientRect().left)).size,
  }));
  assert.deepEqual([zoomed.overflow, zoomed.clipped], [0, 0], JSON.stringify(zoomed));
  assert.ok(zoomed.columns <= 2, JSON.stringify(zoomed));
  await page.screenshot({ path: join(artifacts, "wall-zoom-200.png"), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.screenshot({ path: join(artifacts, "wall.png"), fullPage: true });
  result.screenshots = [join(artifacts, "wall.png"), join(artifacts, "wall-zoom-200.png")];
  result.bytes.threeTiles = { ...traffic.bytes, total: traffic.total() };

  // A new frame: watched at every animation frame, the tile always shows a loaded image.
  const id = expected.tiles[0].id;
  const before = await page.evaluate((id) => {
    const tile = document.querySelector(`[data-id="${id}"]`);
    tile.wallTestMarker = true;
    window.wallTestWatch = { frames: 0, blank: 0, sources: [] };
    const watch = () => {
      const img = tile.querySelector(".frame img");
      const record = window.wallTestWatch;
      record.frames += 1;
      if (!img || !img.complete || img.naturalWidth === 0) record.blank += 1;
      const source = img?.getAttribute("src");
      if (record.sources.at(-1) !== source) record.sources.push(source);
      requestAnimationFrame(watch);
    };
    requestAnimationFrame(watch);
    return tile.querySelector(".frame img").getAttribute("src");
  }, id);
  const frame = await step("new-frame");
  const sent = Date.now();
  const iso = new Date(frame.captureMs).toISOString();
  await page.waitForFunction(
    ([id, iso, before]) => {
      const tile = document.querySelector(`[data-id="${id}"]`);
      const img = tile.querySelector(".frame img");
      return tile.querySelector("time").dateTime === iso && img.getAttribute("src") !== before && img.complete && img.naturalWidth > 0;
    },
    [id, iso, before],
    { timeout: 15_000 },
  );
  result.timings.newFrameShownMs = Date.now() - sent;
  const after = await page.evaluate((id) => {
    const tile = document.querySelector(`[data-id="${id}"]`);
    return {
      sameTile: tile.wallTestMarker === true,
      marker: window.wallTestMarker,
      navigations: performance.getEntriesByType("navigation").length,
      watch: window.wallTestWatch,
      first: document.querySelector(".tile").dataset.id,
      webhook: tile.querySelector(".webhook-id").textContent,
    };
  }, id);
  assert.ok(after.sameTile, "the tile was updated in place");
  assert.equal(after.webhook, frame.webhookId, "the new frame's webhook");
  assert.equal(after.marker, "the first load", "no reload");
  assert.equal(after.navigations, 1);
  assert.equal(after.first, id, "the order held");
  // requestAnimationFrame runs before every paint (fewer on a loaded machine): every frame the
  // page painted was checked, the old one and the new one among them.
  assert.ok(after.watch.frames >= 2, JSON.stringify(after.watch));
  assert.equal(after.watch.blank, 0, `the tile showed no loaded image in ${after.watch.blank} frame(s)`);
  assert.deepEqual(after.watch.sources.length, 2, `one swap, old frame to new: ${after.watch.sources}`);
  result.watchedFrames = after.watch.frames;
  result.timings.scenarioMs = Date.now() - started;
}

async function scale(page, traffic, result) {
  // A hundred streams: the page's weight, every image loaded.
  await page.setViewportSize({ width: 1600, height: 1000 });
  let started = Date.now();
  await page.goto(url);
  await settle(page, 100);
  result.timings.hundredTilesMs = Date.now() - started;
  await loadEveryImage(page);
  result.timings.hundredImagesMs = Date.now() - started;
  await page.waitForTimeout(300);
  result.bytes.hundredTiles = { ...traffic.bytes, total: traffic.total(), requests: { ...traffic.requests } };
  assert.equal(traffic.requests.images, 100, JSON.stringify(traffic.requests));
  await page.evaluate(() => window.scrollTo(0, 0));
  const applied = await page.evaluate(() => Number(document.body.dataset.applied));
  traffic.reset();
  const more = await step("hundred-measured");

  // Three hundred, ten of the first hundred with a new frame: the page keeps up in place.
  started = Date.now();
  await settle(page, more.total, 30_000);
  const iso = new Date(more.captureMs).toISOString();
  await page.waitForFunction(
    ([ids, iso]) => ids.every((id) => document.querySelector(`[data-id="${id}"] time`)?.dateTime === iso),
    [more.changed, iso],
    { timeout: 30_000 },
  );
  result.timings.threeHundredUpdatedMs = Date.now() - started;
  // A refresh that changes nothing, measured: what applying one answer costs the page.
  const now = await page.evaluate(() => Number(document.body.dataset.applied));
  await page.waitForFunction((n) => Number(document.body.dataset.applied) > n, now, { timeout: 10_000 });
  const refresh = await page.evaluate(() => ({
    applyMs: Number(document.body.dataset.applyMs),
    elements: document.getElementsByTagName("*").length,
    answersApplied: Number(document.body.dataset.applied),
  }));
  result.threeHundred = {
    ...refresh,
    answersAppliedSinceHundred: refresh.answersApplied - applied,
    bytesSinceHundred: { ...traffic.bytes, total: traffic.total(), requests: { ...traffic.requests } },
  };
  assert.equal(await page.evaluate(() => performance.getEntriesByType("navigation").length), 1);

  // A fresh page over three hundred streams: what it costs to open, images of the first screen
  // only (the browser's cache off, or the images already seen would load from it at once).
  const devtools = await page.context().newCDPSession(page);
  await devtools.send("Network.enable");
  await devtools.send("Network.setCacheDisabled", { cacheDisabled: true });
  traffic.reset();
  started = Date.now();
  await page.reload();
  await settle(page, more.total);
  await page.waitForFunction(() => {
    const inView = [...document.querySelectorAll(".frame img")].filter((img) => img.getBoundingClientRect().top < window.innerHeight);
    return inView.length > 0 && inView.every((img) => img.complete && img.naturalWidth > 0);
  });
  result.timings.threeHundredFirstScreenMs = Date.now() - started;
  await page.waitForTimeout(500);
  result.bytes.threeHundredFirstScreen = { ...traffic.bytes, total: traffic.total(), requests: { ...traffic.requests } };
  assert.ok(traffic.requests.images < 100, `lazy: only the first screen's images, not ${traffic.requests.images}`);
  await page.screenshot({ path: join(artifacts, "wall-300.png") });
}

const chromiumVersion = execFileSync(CHROMIUM, ["--version"]).toString().trim();
const result = { scenario, chromium: chromiumVersion, timings: {}, bytes: {} };
log(`${chromiumVersion} via playwright-core`);
const profile = mkdtempSync(join(tmpdir(), "relayctl-wall-chromium-"));
const launched = Date.now();
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: FLAGS,
  viewport: { width: 1280, height: 800 },
  locale: "en-GB",
  timezoneId: "UTC",
});
try {
  result.timings.launchMs = Date.now() - launched;
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  result.userAgent = await page.evaluate(() => navigator.userAgent);
  const traffic = new Traffic(page);
  if (scenario === "states") await states(page, traffic, result);
  else if (scenario === "scale") await scale(page, traffic, result);
  else throw new Error(`no scenario ${scenario}`);
  assert.deepEqual(errors, [], "no error in the page");
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  input.close();
}
result.timings.totalMs = Date.now() - launched;
writeFileSync(join(artifacts, `result-${scenario}.json`), `${JSON.stringify(result, null, 2)}\n`);
// On standard error, which cargo test does not capture: the browser driven, in every run's output.
console.error(`wall browser test (${scenario}): ${chromiumVersion}, ${(result.timings.totalMs / 1000).toFixed(1)} s; measurements in ${join(artifacts, `result-${scenario}.json`)}`);
console.log(`RESULT ${JSON.stringify(result)}`);
