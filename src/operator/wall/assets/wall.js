// relayctl wall: one tile per stream, its newest frame, live first.
//
// The page asks relayctl for /api/streams every refresh interval and updates the tiles in place:
// a tile is created once per stream and kept; a new frame is decoded off-screen and swapped in
// whole, so the old frame stays until the new one can be drawn (no blank, no reload). Tiles out
// of sight load their image only when scrolled to (loading="lazy"). Ages tick every second, and
// a tile whose newest frame is older than the quiet threshold says "quiet" in words.

const list = document.getElementById("tiles");
const notices = document.getElementById("notices");
const summary = document.getElementById("summary");
const filter = document.getElementById("filter");

/** id → { el, link, img, word, label, time, age, webhook, data, state, shown, wanted, visible } */
const tiles = new Map();
let snapshot = null;
let offset = 0; // relayctl's clock minus this browser's
let applied = 0;
let lastNotices = "";
let lost = false;

const seen = new IntersectionObserver(
  (entries) => {
    for (const entry of entries) {
      const tile = tiles.get(entry.target.dataset.id);
      if (tile) tile.visible = entry.isIntersecting;
    }
  },
  { rootMargin: "200px" },
);

function now() {
  return Date.now() + offset;
}

function element(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name in node) node[name] = value;
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

function stateOf(data) {
  if (data.captureMs == null) return "quiet";
  return now() - data.captureMs <= snapshot.quietAfterMs ? "live" : "quiet";
}

function ago(ms) {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return "just now";
  if (seconds < 90) return `${seconds} s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 90) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} days ago`;
}

const timeOfDay = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const dateAndTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

function when(ms) {
  const at = new Date(ms);
  const today = new Date(now()).toDateString() === at.toDateString();
  return (today ? timeOfDay : dateAndTime).format(at);
}

function imageElement(data) {
  return element("img", {
    alt: `newest frame of ${data.account} / ${data.stream}`,
    width: 320,
    height: 180,
    decoding: "async",
  });
}

function build(data) {
  const img = imageElement(data);
  img.loading = "lazy";
  img.src = data.image;
  const link = element("a", { className: "frame", href: data.image, target: "_blank", rel: "noopener" }, img);
  const word = element("span", { className: "word" });
  const name = element(
    "h2",
    { className: "name" },
    element("span", { className: "account" }, data.account),
    " / ",
    element("span", { className: "stream" }, data.stream),
  );
  const label = element("span", { className: "label" });
  const time = element("time");
  const age = element("span", { className: "age" });
  const webhook = element("span", { className: "webhook-id" });
  const el = element(
    "li",
    { className: "tile", dataset: { id: data.id } },
    link,
    element(
      "div",
      { className: "meta" },
      element("div", { className: "head" }, name, element("span", { className: "state" }, element("span", { "aria-hidden": "true", className: "dot" }), " ", word)),
      element("p", { className: "captured" }, label, " ", time, " · ", age),
      element("p", { className: "webhook" }, "webhook ", webhook),
    ),
  );
  const tile = { el, link, img, word, label, time, age, webhook, data, state: null, shown: data.image, wanted: data.image, visible: false };
  render(tile);
  return tile;
}

/** Brings the tile's words and state up to date; true when its state changed. */
function render(tile) {
  const { data } = tile;
  const state = stateOf(data);
  const changed = state !== tile.state;
  if (changed) {
    tile.state = state;
    tile.el.classList.toggle("live", state === "live");
    tile.el.classList.toggle("quiet", state === "quiet");
    tile.el.dataset.state = state;
    tile.word.textContent = state;
    tile.el.querySelector(".dot").textContent = state === "live" ? "●" : "○";
  }
  const label = data.captureKnown ? "captured" : "written";
  if (tile.label.textContent !== label) tile.label.textContent = label;
  // latest.jpg's webhook-id: the webhook whose secret verified the delivery of this frame.
  const [webhook, why] =
    data.webhookId == null
      ? ["—", "no webhook id recorded (held without id, or written by an older relay)"]
      : [data.webhookId, "the webhook whose secret verified the delivery of this frame"];
  if (tile.webhook.textContent !== webhook) tile.webhook.textContent = webhook;
  if (tile.webhook.title !== why) tile.webhook.title = why;
  if (data.captureMs == null) {
    tile.time.textContent = "at an unknown time";
    tile.age.textContent = "";
    return changed;
  }
  const iso = new Date(data.captureMs).toISOString();
  if (tile.time.dateTime !== iso) tile.time.dateTime = iso;
  const at = when(data.captureMs);
  if (tile.time.textContent !== at) tile.time.textContent = at;
  const age = ago(now() - data.captureMs);
  if (tile.age.textContent !== age) tile.age.textContent = age;
  return changed;
}

/** Shows `url` in the tile: decoded off-screen first when the tile can be seen. */
async function swap(tile, url) {
  tile.wanted = url;
  tile.link.href = url;
  if (!tile.visible) {
    tile.img.src = url; // lazy: fetched when scrolled to
    tile.shown = url;
    return;
  }
  const next = imageElement(tile.data);
  next.src = url;
  try {
    await next.decode();
  } catch {
    if (tile.wanted === url) tile.wanted = tile.shown; // the old frame stays; the next refresh tries again
    return;
  }
  if (tile.wanted !== url) return; // a newer frame came meanwhile
  tile.img.replaceWith(next);
  tile.img = next;
  tile.shown = url;
}

function byOrder(a, b) {
  if (a.state !== b.state) return a.state === "live" ? -1 : 1;
  if (a.state === "quiet" && a.data.captureMs !== b.data.captureMs) {
    return (b.data.captureMs ?? 0) - (a.data.captureMs ?? 0); // the most recently gone quiet first
  }
  return a.data.id < b.data.id ? -1 : a.data.id > b.data.id ? 1 : 0;
}

/** Puts the tiles in order, moving only those out of place (their images stay loaded). */
function order() {
  const wanted = [...tiles.values()].sort(byOrder);
  const focused = document.activeElement;
  wanted.forEach((tile, index) => {
    const there = list.children[index];
    if (there !== tile.el) list.insertBefore(tile.el, there ?? null);
  });
  if (focused && focused !== document.activeElement && focused.isConnected) focused.focus({ preventScroll: true });
}

function applyFilter() {
  const query = filter.value.trim().toLowerCase();
  let shown = 0;
  for (const tile of tiles.values()) {
    const hide = query !== "" && !tile.data.id.toLowerCase().includes(query);
    if (tile.el.hidden !== hide) tile.el.hidden = hide;
    if (!hide) shown += 1;
  }
  return shown;
}

function summarize() {
  let live = 0;
  for (const tile of tiles.values()) if (tile.state === "live") live += 1;
  const shown = applyFilter();
  const quiet = tiles.size - live;
  let text = tiles.size === 0 ? "No stream to show" : `${live} live, ${quiet} quiet`;
  if (shown !== tiles.size) text += ` (${shown} shown)`;
  if (summary.textContent !== text) summary.textContent = text;
}

function renderNotices(list) {
  const text = JSON.stringify(list);
  if (text === lastNotices) return;
  lastNotices = text;
  notices.replaceChildren(
    ...list.map((notice) => {
      const box = element(
        "section",
        { className: `notice ${notice.kind}`, role: notice.kind === "problem" ? "alert" : "status" },
        element("h2", {}, notice.title),
        element("p", {}, notice.text),
      );
      if (notice.commands.length > 0) {
        box.append(element("ul", {}, ...notice.commands.map((command) => element("li", {}, element("code", {}, command)))));
      }
      if (notice.see) box.append(element("p", {}, "See ", element("code", {}, notice.see), "."));
      if (notice.detail) box.append(element("p", { className: "detail" }, element("code", {}, notice.detail)));
      return box;
    }),
  );
}

function renderAbout(s) {
  const seconds = (ms) => `${Math.round(ms / 1000)} s`;
  document.getElementById("source").textContent =
    `${s.source}: refreshed ${when(s.refreshedAt)}, every ${seconds(s.refreshMs)} while this page is open.`;
  document.getElementById("rules").textContent =
    `A tile is quiet when its newest frame is older than ${seconds(s.quietAfterMs)}` +
    ` (${(s.quietAfterMs / s.thumbnailIntervalMs).toFixed(1).replace(/\.0$/, "")} thumbnail intervals of ${seconds(s.thumbnailIntervalMs)}).`;
  document.getElementById("cost").textContent =
    `Last look at the bucket: ${s.lastLook.list} ListObjectsV2, ${s.lastLook.head} HeadObject, ${s.lastLook.ms} ms` +
    ` (look ${s.looks}; since relayctl started: ${s.requests.list} ListObjectsV2, ${s.requests.head} HeadObject,` +
    ` ${s.requests.get} GetObject for images).`;
}

function apply(s) {
  const started = performance.now();
  snapshot = s;
  offset = s.serverNow - Date.now();
  const current = new Set();
  for (const data of s.tiles) {
    current.add(data.id);
    const tile = tiles.get(data.id);
    if (!tile) {
      const made = build(data);
      tiles.set(data.id, made);
      list.append(made.el);
      seen.observe(made.el);
      continue;
    }
    tile.data = data;
    if (data.image !== tile.wanted) swap(tile, data.image);
    render(tile);
  }
  for (const [id, tile] of tiles) {
    if (!current.has(id)) {
      seen.unobserve(tile.el);
      tile.el.remove();
      tiles.delete(id);
    }
  }
  renderNotices(s.notices);
  renderAbout(s);
  order();
  summarize();
  applied += 1;
  // For whoever measures the page (the browser test): how many answers applied, the last in how long.
  document.body.dataset.applied = String(applied);
  document.body.dataset.applyMs = (performance.now() - started).toFixed(1);
}

function tick() {
  if (!snapshot) return;
  let moved = false;
  for (const tile of tiles.values()) moved = render(tile) || moved;
  if (moved) {
    order();
    summarize();
  }
}

async function poll() {
  let wait = snapshot ? snapshot.refreshMs : 2000;
  try {
    const answer = await fetch("/api/streams", { cache: "no-store", headers: { accept: "application/json" } });
    if (!answer.ok) throw new Error(`relayctl answered ${answer.status}`);
    apply(await answer.json());
    wait = snapshot.refreshMs;
    lost = false;
  } catch (error) {
    if (!lost) {
      lost = true;
      lastNotices = "";
      renderNotices([
        {
          kind: "problem",
          title: "relayctl wall is not answering",
          text: "Is it still running? The tiles below are from its last answer; the page keeps asking.",
          commands: [],
          see: null,
          detail: String(error),
        },
      ]);
    }
  }
  setTimeout(poll, wait);
}

filter.addEventListener("input", summarize);
setInterval(tick, 1000);
poll();
