"""A faithful local stand-in of the streaming platform (Dolby.io Real-time Streaming / Millicast)
for tests and local runs: its Webhooks REST API, and a webhook sender that delivers signed
events and thumbnails the way the platform does (one POST per event, no retries, no ordering).

Python 3.11, standard library only. The spec is docs/platform.md (the platform facts the project
relies on, each with its public source: the documentation, the OpenAPI document, the sample
receivers); where it is silent, the choices made here are listed under "Assumptions where
docs/platform.md is silent".

Usage
-----
    .venv/bin/python scripts/local_platform.py [--port 0] [--api-secret SECRET] [--record FILE]
        [--timeout 10] [--disable-after 10] [--disable-minutes 30] [--workers 48]
        [--account-id LOCAL1] [--jpeg samples/thumbnail.jpg] [--ignore-stdin] [--verbose]
    .venv/bin/python scripts/local_platform.py --self-test   # signature test vector, then exit

Like scripts/moto_server.py: listens on 127.0.0.1 only, prints the bound port as the first stdout
line (flushed; --port 0 = a free port), then serves until stdin reaches EOF, so it never outlives
the process that started it. SIGTERM and SIGINT stop it too. --ignore-stdin serves until a signal
instead (for running it by hand in the background with stdin at /dev/null). Logs go to stderr
(requests only with --verbose); nothing but the port is ever written to stdout.

  --api-secret      the account's API secret expected as `Authorization: Bearer <secret>` on
                    every /api/ call. Default: env MILLICAST_API_SECRET, else `local-api-secret`.
  --record FILE     also append every finished delivery, as one JSON line (the record of
                    GET /_local/deliveries), to FILE.
  --timeout S       delivery timeout in seconds (float), over connect + send + response.
  --disable-after N consecutive failed deliveries (timeouts or connection errors) after which a
                    webhook is disabled; 0 = never disable.
  --disable-minutes M  how long (float, minutes) a webhook stays disabled.
  --workers W       sender threads (deliveries in flight at once).
  --account-id ID   the account id put in generated payloads and stream ids.
  --jpeg FILE       the base image of every thumbnail (default: samples/thumbnail.jpg).

The platform API (as docs/platform.md describes it)
---------------------------------------------------
    POST   /api/webhooks                       create: url, isFeedHooks required; the other
                                               is*Hooks flags and filter optional
    GET    /api/webhooks/{id}                  the webhook, secret included
    PUT    /api/webhooks/{id}                  url, refreshSecret, is*Hooks, reEnable, filter
    DELETE /api/webhooks/{id}                  data: true (the OpenAPI document gives the removed
                                               webhook; clients must take either, as relayctl does)
    GET    /api/webhooks/list?startingId=&itemCount=&isDescending=
    POST   /api/webhooks/test/{Feeds|Recordings|Media|Thumbnail|Transcoder|ViewerConnection}
                                               optional body {"streamName", "transcoderName"};
                                               data: true, then one test event is delivered
Every route also answers with one trailing slash: the vendor's own Node client
(@dolbyio/dolbyio-rest-apis-client) creates with `POST /api/webhooks/`.
Envelopes: success {"status":"success","data":...}; HTTP 400 {"status":"fail","data":{field: msg}};
other errors {"status":"error","message":...,"code":...,"data":null}.
The webhook object: {"id","url","secret","isFeedHooks","isRecordingHooks","isThumbnailHooks",
"isTranscoderHooks","isMediaHooks","isViewerConnectionHooks","filter","disabled"} with disabled
null or {"until": "2024-08-29T12:00:00.000Z", "reason": "..."}.

Deliveries: one POST per event per eligible webhook (its flag for the event's type on, not
disabled, its filter - if any - found by re.search in the event's stream name), body = exact
bytes, `X-Millicast-Signature: sha1=<hex HMAC-SHA1(base64-decoded secret, raw body)>`.
JSON events: `Content-Type: application/json`, compact JSON {"type","event","timestamp","data"}
with timestamp = epoch ms when the delivery starts. Thumbnails: the JPEG bytes,
`Content-Type: image/jpeg`, `X-Millicast-Timestamp` (ms), `X-Millicast-Feed-Id`,
`X-Millicast-Stream-Id` (`account/stream`), `X-Millicast-Token-Id`, `X-Millicast-Signature`.
Every thumbnail event carries a distinct image: the base JPEG with a COM segment holding a counter
and a random nonce inserted after its JFIF APP0 segment (right after SOI when there is no APP0).
Hook flag -> type: isFeedHooks feeds, isRecordingHooks recordings, isMediaHooks media,
isThumbnailHooks thumbnails, isTranscoderHooks transcoder, isViewerConnectionHooks
viewerConnection. Generated events cover every documented type and event: feeds
started/ended, recordings started/completed/error/deleted, media processing/completed/
errored/deleted (data.type clip|recording), transcoder ACTIVE/STOPPED/DELETED, viewerConnection
ViewerAttempt/FirstViewerConnection/NoActiveViewers, and thumbnails, with varying ids (uuid
feedIds, increasing int recordFileIds, hex mediaAssetIds, uuid transcoderIds, per-stream int
tokenIds). Never retried; sent concurrently by a pool of sender threads (no ordering). The signing
secret is read when each delivery starts, so a refreshed secret is used at once.

Local-only controls (not part of the platform; no auth)
-------------------------------------------------------
Answers are bare JSON, except renew (the success envelope, like PUT); errors use the platform's
envelopes (400 fail per field for bad parameters, 404 error for unknown ids or routes, 405).
    GET  /_local/health                 200 {"ok": true}
    POST /_local/traffic                {"count": N, "rate": R, "streams": [names]?,
                                         "thumbnailShare": f?} -> 202 {"id": run id} at once.
         Emits N events (count = events, 1..1000000) at R events per second (0 < R <= 10000),
         mixed: thumbnails at a share f (0..1, default 0.2, spread evenly), the rest cycling
         through the 16 documented (type, event) pairs; stream names drawn at random from
         `streams` (default ["live-main", "live-backup", "studio-a"]). Each event goes to every
         webhook eligible at that moment, so with one webhook accepting everything deliveries
         == events.
    GET  /_local/traffic                every run's status (array)
    GET  /_local/traffic/{id}           {"id","requested","events","skipped","dispatched","sent",
                                         "dropped","done","statuses","started","finished",
                                         "elapsedMs","rate"}: requested = N events; events =
         emitted so far; skipped = events no webhook was eligible for; dispatched = deliveries
         queued; sent = deliveries attempted and finished; dropped = queued deliveries not
         attempted because their webhook was deleted/disabled/changed meanwhile; statuses =
         {"200": n, "500": n, "error": n} ("error" = timeout or connection failure); done = all
         events emitted and every queued delivery attempted or dropped; rate = sent per second
         from the run's start to its end (or now).
    POST /_local/webhooks/{id}/renew    what the dashboard's Renew button does: same effect as
                                        PUT refreshSecret:true; returns the webhook (success
                                        envelope)
    GET  /_local/webhooks               every webhook plus internal state (array)
    GET  /_local/webhooks/{id}          the webhook plus "secretVersion" and
                                        "consecutiveFailures"
    GET  /_local/deliveries?since=SEQ&limit=N&webhookId=ID
         every finished delivery (seq > since when given; the first `limit` of them; only one
         webhook's), each {"seq","webhookId","url","kind":"json"|"thumbnail","type","event",
         "streamId","timestamp","sha256","size","body","bodyBase64","headers","secretVersion",
         "status","error","test","started","finished","runId","responseBody"}:
         seq is assigned when a delivery finishes (1, 2, ...), so polling with since=<last seq>
         never misses one; type is "thumbnail" and event null for thumbnails; streamId is
         data.streamId, else account/data.streamName, else null (transcoder events); body is the
         JSON text (null for thumbnails), bodyBase64 the JPEG (null for JSON); headers are the
         headers set by the sender (Content-Type, the X-Millicast-* ones, signature included;
         http.client adds Host, Content-Length and Accept-Encoding: identity); secretVersion =
         how many times the webhook's secret had been refreshed when this delivery was signed;
         status = HTTP status or null; error = "timeout: ..." / "connection error: ..." or null;
         test = sent by /api/webhooks/test; runId = the traffic run or null; started/finished
         epoch ms; responseBody = the first 1024 bytes of the receiver's answer (lossy UTF-8).
         Every delivery ever made is kept in memory (no cap).
    GET  /_local/requests?since=SEQ&limit=N
         every /api/ request received, for comparing what clients send, each {"seq","method",
         "target","headers","body","status"}: target = the request target as sent (path and
         query); headers = [name, value] pairs in the order received, the Authorization
         credential replaced by <redacted> (its scheme kept); body = the body as received after
         any chunked transfer coding is removed (lossy UTF-8, "" when none); status = the HTTP
         status answered. Kept in memory (no cap).

Assumptions where docs/platform.md is silent
--------------------------------------------
- Auth: `Authorization: Bearer <API secret>` (scheme case-insensitive, secret compared in
  constant time) on every /api/ path, checked before routing; missing or wrong -> 401
  {"status":"error","message":"Unauthorized: missing or invalid API secret","code":401,
  "data":null} with `WWW-Authenticate: Bearer`.
- One account: the API secret's; account id LOCAL1 (--account-id) in every generated payload.
- Webhook ids: integers from 1, increasing, never reused (also not after a delete).
- Signing secret: base64 (standard alphabet, padded) of 32 random bytes (44 characters), like the
  documented test vector's 32-byte key.
- Every 400 uses the fail envelope, one entry per bad field: field -> message sentence. A body
  that is not JSON, or JSON that is not an object -> 400 {"status":"fail","data":{"body":...}};
  an empty body counts as {} (so POST /api/webhooks with it fails on url and isFeedHooks).
  Unknown body fields are ignored; the request Content-Type is not checked. Among them
  `isClipHooks`, which the vendor's Node client 5.0.1 still types (its newer source has
  isMediaHooks and isViewerConnectionHooks instead): the documented webhook has no such field, so
  it is neither an alias of isMediaHooks nor part of the webhook object.
- POST: url must be a string holding an absolute http:// or https:// URL with a host (the real
  platform asks for a publicly reachable https endpoint; the stand-in accepts http and
  loopback). isFeedHooks required and a JSON boolean (not 0/1, not null). The optional flags
  may be null = false. filter: null or a string of 1-128 characters that compiles as a Python
  `re` regular expression (the platform's regex dialect is not documented).
- PUT: absent or null = unchanged for url and every is*Hooks flag; refreshSecret and reEnable
  absent/null/false = do nothing. filter: absent = unchanged, explicit null = cleared (no
  filter), a string = replaced. All fields are validated before any is applied.
  refreshSecret: true generates a new secret used by every delivery started after the change
  (no overlap window). reEnable: true clears `disabled` and the failure counter (a no-op on an
  enabled webhook); so does a url different from the current one (the vendor's Node client
  documents that a disabled webhook "can be re-enabled immediately by updating the url or
  setting reEnable"), while repeating the current url changes nothing.
- Paths: one trailing slash is accepted on every /api/ route, not only on the create route the
  vendor's client uses (that the platform treats its routes alike is assumed); two slashes
  (`/api/webhooks//`) -> 404.
- Ids that are not a positive decimal integer (GET/PUT/DELETE /api/webhooks/abc) -> 404 error
  envelope, like an unknown id. Known path with a wrong method -> 405 error envelope with an
  Allow header (e.g. GET /api/webhooks, PUT /api/webhooks/list, GET /api/webhooks/test/Feeds);
  unknown paths -> 404 error envelope.
- List: the platform does not document whether startingId itself is included. Assumed
  inclusive: ascending -> ids >= startingId, descending -> ids <= startingId (from the first /
  the last webhook when absent or empty), sorted by id in that direction. itemCount: integer
  1..100, default 10; out of range or not an integer -> 400 fail {"itemCount": ...}.
  startingId not an integer -> 400 fail; isDescending must be true/false (case-insensitive),
  default false.
- Test events: /api/webhooks/test/{type} (type matched case-sensitively; unknown -> 400 fail
  {"type": ...}) answers true first, then delivers ONE event of that type to every webhook of the
  account whose flag for the type is on, not disabled, and whose filter (if any) matches - the
  same rule as real events (the platform does not document whether a test targets all
  webhooks). Events: Feeds -> feeds/started, Recordings -> recordings/completed,
  Media -> media/completed (data.type clip), Transcoder -> transcoder/ACTIVE,
  ViewerConnection -> viewerConnection/ViewerAttempt, Thumbnail -> one JPEG. streamName
  (string, default "test_stream") is the event's stream name (and the thumbnail's stream id
  `LOCAL1/<streamName>`); transcoderName (default "test_webhooks") names the transcoder.
  Test bodies look exactly like real ones (nothing marks them as tests on the wire).
- Filters: re.search of the webhook's filter in the event's stream name; for transcoder
  events, which carry no stream name, in transcoderName.
- Delivery timeout: 10 s (--timeout), over connect + sending + reading the status line and
  headers; the answer's body is read (up to 64 KiB) under the same deadline. Any HTTP status is
  a finished attempt (a 500 is not retried either). No User-Agent header is sent.
- Disabling: after 10 (--disable-after) consecutive deliveries that timed out or could not
  connect, the webhook gets disabled: {"until": now + 30 minutes (--disable-minutes),
  "reason": "Disabled after N consecutive failed deliveries (timeouts or connection errors)"}.
  Any HTTP answer (2xx, 4xx or 5xx) resets the counter. Disabled webhooks get nothing (queued
  deliveries not yet started are dropped) until reEnable or until `until` passes; then
  `disabled` reads null again and the counter restarts at 0.
- A delivery queued for a webhook is re-checked when it starts: if the webhook was deleted,
  disabled, or no longer accepts the event (flag or filter changed) it is dropped. The URL and
  secret are read at that moment too.
- Failures of deliveries that were in flight when the webhook got disabled do not count.
- Thumbnails: one distinct image per thumbnail event (every webhook receiving that event gets
  the same bytes). The platform's cadence (at most every 30 s per publisher, 6 on-demand per
  minute) is not enforced: /_local/traffic sends thumbnails as fast as asked.
- Timestamps: each delivery is stamped when it starts, so one event sent to two webhooks
  carries two (nearly equal) `timestamp`s / `X-Millicast-Timestamp`s. Data times (started,
  ended, recordedOn, startTime...) lie a little before it.
- JSON bodies are written like Node's JSON.stringify: compact, documented field order,
  non-ASCII characters as raw UTF-8 (no backslash-u escapes).
- Payload variations within the documented shapes: ~15% of feeds events carry the optional
  `priority` and `sourceId`; media `recording` assets have no `expiration`; media `deleted`
  events have no `metadata`/`expiration`; recordings `completed` carry `metadata` with random
  sizes, duration and tracks; transcoder `createdOn` is an ISO date string without millis.
- The API server speaks HTTP/1.1 with keep-alive; bodies over 1 MiB -> 413 error envelope;
  methods other than GET/POST/PUT/DELETE/PATCH get http.server's 501.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import queue
import random
import re
import secrets
import signal
import ssl
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

DEFAULT_API_SECRET = "local-api-secret"
DEFAULT_ACCOUNT_ID = "LOCAL1"
SECRET_BYTES = 32
DEFAULT_ITEM_COUNT = 10
MAX_ITEM_COUNT = 100
FILTER_MAX_CHARS = 128
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_DISABLE_AFTER = 10
DEFAULT_DISABLE_MINUTES = 30.0
DEFAULT_WORKERS = 48
DEFAULT_TEST_STREAM = "test_stream"
DEFAULT_TEST_TRANSCODER = "test_webhooks"
DEFAULT_TRAFFIC_STREAMS = ["live-main", "live-backup", "studio-a"]
DEFAULT_THUMBNAIL_SHARE = 0.2
MAX_TRAFFIC_COUNT = 1_000_000
MAX_TRAFFIC_RATE = 10_000.0
MAX_REQUEST_BYTES = 1 << 20
RESPONSE_READ_LIMIT = 64 * 1024
RESPONSE_KEEP = 1024
DEFAULT_JPEG = Path(__file__).resolve().parent.parent / "samples" / "thumbnail.jpg"

UNAUTHORIZED_MESSAGE = "Unauthorized: missing or invalid API secret"

HOOK_FLAGS = (
    "isFeedHooks",
    "isRecordingHooks",
    "isThumbnailHooks",
    "isTranscoderHooks",
    "isMediaHooks",
    "isViewerConnectionHooks",
)
# Event `type` (thumbnails: "thumbnail") -> the webhook flag that enables it.
TYPE_FLAG = {
    "feeds": "isFeedHooks",
    "recordings": "isRecordingHooks",
    "media": "isMediaHooks",
    "thumbnail": "isThumbnailHooks",
    "transcoder": "isTranscoderHooks",
    "viewerConnection": "isViewerConnectionHooks",
}
# Every documented JSON (type, event).
JSON_EVENTS = (
    ("feeds", "started"),
    ("feeds", "ended"),
    ("recordings", "started"),
    ("recordings", "completed"),
    ("recordings", "error"),
    ("recordings", "deleted"),
    ("media", "processing"),
    ("media", "completed"),
    ("media", "errored"),
    ("media", "deleted"),
    ("transcoder", "ACTIVE"),
    ("transcoder", "STOPPED"),
    ("transcoder", "DELETED"),
    ("viewerConnection", "ViewerAttempt"),
    ("viewerConnection", "FirstViewerConnection"),
    ("viewerConnection", "NoActiveViewers"),
)
# /api/webhooks/test/{name} -> the (type, event) delivered (event None: a thumbnail).
TEST_TYPES = {
    "Feeds": ("feeds", "started"),
    "Recordings": ("recordings", "completed"),
    "Media": ("media", "completed"),
    "Thumbnail": ("thumbnail", None),
    "Transcoder": ("transcoder", "ACTIVE"),
    "ViewerConnection": ("viewerConnection", "ViewerAttempt"),
}
TRANSCODER_STATUS = {"ACTIVE": "Active", "STOPPED": "Shutdown", "DELETED": "Deleted"}
CLUSTERS = ("lon-1", "fra-1", "iad-1", "sfo-1", "sgp-1", "bom-1")

# The signature test vector of docs/platform.md.
VECTOR_SECRET = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
VECTOR_BODY = (
    b'{"type":"feeds","event":"started","timestamp":1638463486489,"data":{"feedId":'
    b'"369e4a86-f937-4254-bd9f-99dc484d2bd6","accountId":"ZG6NWV","name":"sample_stream",'
    b'"streamId":"ZG6NWV/sample_stream","started":1638463486359,"active":true}}'
)
VECTOR_SIGNATURE = "sha1=dfde8e23a8c06e6c522a67d50fe7412283f653f9"


# --------------------------------------------------------------------------------------------
# Small helpers


def sign(secret_b64: str, body: bytes) -> str:
    """The platform's signature header value: HMAC-SHA1 keyed with the base64-DECODED secret."""
    key = base64.b64decode(secret_b64)
    return "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest()


def new_secret() -> str:
    return base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def iso_ms(ms: int) -> str:
    """ISO-8601 UTC with milliseconds, e.g. 2024-08-29T12:00:00.000Z."""
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def iso_s(ms: int) -> str:
    return datetime.fromtimestamp(ms // 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def compact(value) -> bytes:
    """JSON as the platform's (Node) sender writes it: compact, non-ASCII kept as UTF-8."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def unique_jpeg(base: bytes, counter: int) -> bytes:
    """`base` with a JPEG COM segment carrying `counter` and a nonce: still a valid JPEG.

    Inserted after the JFIF APP0 segment (which must stay first) or right after SOI."""
    if base[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG (no SOI marker)")
    pos = 2
    if base[2:4] == b"\xff\xe0":
        pos = 4 + int.from_bytes(base[4:6], "big")
    text = f"local-platform thumbnail #{counter} {secrets.token_hex(8)}".encode("ascii")
    segment = b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text
    return base[:pos] + segment + base[pos:]


def valid_url(value: str) -> bool:
    if not value or any(c.isspace() for c in value) or len(value) > 2048:
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def self_test() -> None:
    assert sign(VECTOR_SECRET, VECTOR_BODY) == VECTOR_SIGNATURE, "signature test vector"
    wrong = "sha1=" + hmac.new(VECTOR_SECRET.encode(), VECTOR_BODY, hashlib.sha1).hexdigest()
    assert wrong == "sha1=c46ca674c65f3217a7c88d056f1b89fd01efe10f", "base64-text-key vector"
    jpeg = unique_jpeg(DEFAULT_JPEG.read_bytes(), 1) if DEFAULT_JPEG.exists() else None
    assert jpeg is None or (jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9")


class ApiError(Exception):
    """An answer other than success: `fail` (400, data = field messages) or `error`."""

    def __init__(self, code: int, message: str | None = None, fields: dict | None = None,
                 headers: dict | None = None):
        super().__init__(message or str(fields))
        self.code = code
        self.message = message
        self.fields = fields
        self.headers = headers or {}

    def envelope(self) -> dict:
        if self.fields is not None:
            return {"status": "fail", "data": self.fields}
        return {"status": "error", "message": self.message, "code": self.code, "data": None}


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


# --------------------------------------------------------------------------------------------
# Events


class Event:
    """One platform event, before it is stamped and signed per delivery."""

    __slots__ = ("kind", "type", "event", "data", "subject", "stream_id", "jpeg", "feed_id",
                 "token_id", "test")

    def __init__(self, kind, type_, event, *, data=None, subject="", stream_id=None, jpeg=None,
                 feed_id=None, token_id=None, test=False):
        self.kind = kind  # "json" | "thumbnail"
        self.type = type_
        self.event = event
        self.data = data
        self.subject = subject  # what a webhook filter is matched against
        self.stream_id = stream_id
        self.jpeg = jpeg
        self.feed_id = feed_id
        self.token_id = token_id
        self.test = test

    def render(self, ts: int) -> tuple[bytes, dict]:
        """(body, headers without the signature) as sent at `ts` (epoch ms)."""
        if self.kind == "thumbnail":
            headers = {"Content-Type": "image/jpeg", "X-Millicast-Timestamp": str(ts)}
            if self.feed_id is not None:
                headers["X-Millicast-Feed-Id"] = self.feed_id
            if self.stream_id is not None:
                headers["X-Millicast-Stream-Id"] = self.stream_id
            if self.token_id is not None:
                headers["X-Millicast-Token-Id"] = str(self.token_id)
            return self.jpeg, headers
        body = compact({"type": self.type, "event": self.event, "timestamp": ts, "data": self.data})
        return body, {"Content-Type": "application/json"}


class EventFactory:
    """Realistic events of every type, with ids that vary like the platform's."""

    def __init__(self, account_id: str, base_jpeg: bytes):
        self.account_id = account_id
        self.base_jpeg = base_jpeg
        self.lock = threading.Lock()
        self.thumbnails = 0
        self.record_file_id = random.randint(7000, 9000)
        self.streams: dict[str, dict] = {}
        self.transcoders: dict[str, dict] = {}

    def _stream(self, name: str) -> dict:
        state = self.streams.get(name)
        if state is None:
            state = {"tokenId": random.randint(100_000, 1_999_999), "feedId": str(uuid.uuid4())}
            self.streams[name] = state
        return state

    def _transcoder(self, name: str) -> dict:
        state = self.transcoders.get(name)
        if state is None:
            created = now_ms() - random.randint(3_600_000, 30 * 86_400_000)
            state = {"id": str(uuid.uuid4()), "cluster": random.choice(CLUSTERS),
                     "createdOn": iso_s(created)}
            self.transcoders[name] = state
        return state

    def thumbnail(self, stream: str, test: bool = False) -> Event:
        with self.lock:
            self.thumbnails += 1
            counter = self.thumbnails
            state = self._stream(stream)
            feed_id, token_id = state["feedId"], state["tokenId"]
        return Event("thumbnail", "thumbnail", None, subject=stream,
                     stream_id=f"{self.account_id}/{stream}", jpeg=unique_jpeg(self.base_jpeg, counter),
                     feed_id=feed_id, token_id=token_id, test=test)

    def json_event(self, type_: str, event: str, stream: str, transcoder: str | None = None,
                   test: bool = False, media_type: str | None = None) -> Event:
        acc = self.account_id
        sid = f"{acc}/{stream}"
        t = now_ms()
        with self.lock:
            state = self._stream(stream)
            if type_ == "feeds":
                if event == "started":
                    state["feedId"] = str(uuid.uuid4())
                    data = {"feedId": state["feedId"], "accountId": acc, "name": stream,
                            "streamId": sid, "started": t - random.randint(60, 400), "active": True}
                else:
                    data = {"feedId": state["feedId"], "accountId": acc, "name": stream,
                            "streamId": sid, "active": False, "ended": t - random.randint(60, 400)}
                if random.random() < 0.15:  # optional fields of multi-source publishing
                    data["priority"] = random.choice([-1, 0, 1, 2])
                    data["sourceId"] = random.choice(["camera1", "camera2", "screen"])
                return Event("json", type_, event, data=data, subject=stream, stream_id=sid, test=test)
            if type_ == "recordings":
                self.record_file_id += random.randint(1, 7)
                data = {"recordFileId": self.record_file_id, "tokenId": state["tokenId"],
                        "streamName": stream, "recordedOn": t - random.randint(100, 600_000)}
                if event == "completed":
                    duration = round(random.uniform(5, 7200), 1)
                    bitrate = random.choice([1_500_000, 2_500_000, 4_000_000, 6_000_000])
                    width, height = random.choice([(1280, 720), (1920, 1080), (3840, 2160)])
                    data["metadata"] = {
                        "format": "mp4",
                        "sizes": {"concat": int(duration * bitrate / 8), "dash": 0,
                                  "thumbnails": random.randint(4_000, 400_000)},
                        "duration": duration,
                        "tracks": [
                            {"type": "video", "codec": random.choice(["h264", "vp8", "vp9", "av1"]),
                             "bitrate": bitrate, "width": width, "height": height,
                             "framerate": random.choice([25, 30, 60])},
                            {"type": "audio", "codec": "opus", "bitrate": 64000, "channels": 2,
                             "samplerate": 48000},
                        ],
                    }
                return Event("json", type_, event, data=data, subject=stream, stream_id=sid, test=test)
            if type_ == "media":
                kind = media_type or random.choice(["clip", "recording"])
                data = {"mediaAssetId": uuid.uuid4().hex, "tokenId": state["tokenId"],
                        "streamName": stream, "streamId": sid,
                        "startTime": t - random.randint(10_000, 3_600_000)}
                if event != "deleted":
                    data["metadata"] = {}
                data["type"] = kind
                if kind == "clip" and event != "deleted":
                    data["expiration"] = t + random.randint(7, 100) * 86_400_000
                return Event("json", type_, event, data=data, subject=stream, stream_id=sid, test=test)
            if type_ == "transcoder":
                name = transcoder or f"{stream}_transcoder"
                tc = self._transcoder(name)
                data = {"transcoderId": tc["id"], "transcoderName": name, "cluster": tc["cluster"],
                        "createdOn": tc["createdOn"], "status": TRANSCODER_STATUS.get(event, event)}
                return Event("json", type_, event, data=data, subject=name, stream_id=None, test=test)
            if type_ == "viewerConnection":
                data = {"name": stream, "accountId": acc, "streamId": sid}
                return Event("json", type_, event, data=data, subject=stream, stream_id=sid, test=test)
        raise ValueError(f"unknown event type {type_!r}")


# --------------------------------------------------------------------------------------------
# Webhooks and the sender


class Webhook:
    __slots__ = ("id", "url", "secret", "flags", "filter", "filter_re", "disabled_until",
                 "disabled_reason", "failures", "secret_version")

    def __init__(self, id_: int, url: str, flags: dict, filter_: str | None):
        self.id = id_
        self.url = url
        self.secret = new_secret()
        self.flags = dict(flags)
        self.filter = filter_
        self.filter_re = re.compile(filter_) if filter_ is not None else None
        self.disabled_until: int | None = None
        self.disabled_reason: str | None = None
        self.failures = 0
        self.secret_version = 0

    def refresh_disabled(self, now: int) -> bool:
        """Whether disabled now; clears an expired disabling."""
        if self.disabled_until is not None and now >= self.disabled_until:
            self.disabled_until = None
            self.disabled_reason = None
            self.failures = 0
        return self.disabled_until is not None

    def accepts(self, event: Event, now: int) -> bool:
        if not self.flags.get(TYPE_FLAG.get(event.type, ""), False):
            return False
        if self.refresh_disabled(now):
            return False
        return self.filter_re is None or self.filter_re.search(event.subject or "") is not None

    def public(self, now: int) -> dict:
        disabled = None
        if self.refresh_disabled(now):
            disabled = {"until": iso_ms(self.disabled_until), "reason": self.disabled_reason}
        out = {"id": self.id, "url": self.url, "secret": self.secret}
        for flag in HOOK_FLAGS:
            out[flag] = self.flags[flag]
        out["filter"] = self.filter
        out["disabled"] = disabled
        return out

    def internal(self, now: int) -> dict:
        out = self.public(now)
        out["secretVersion"] = self.secret_version
        out["consecutiveFailures"] = self.failures
        return out


class TrafficRun:
    def __init__(self, id_: int, count: int, rate: float, streams: list[str], share: float):
        self.id = id_
        self.requested = count
        self.rate = rate
        self.streams = streams
        self.share = share
        self.lock = threading.Lock()
        self.events = 0
        self.skipped = 0
        self.dispatched = 0
        self.sent = 0
        self.dropped = 0
        self.statuses: dict[str, int] = {}
        self.pacing_done = False
        self.started = now_ms()
        self.finished: int | None = None

    def _check_done(self) -> None:
        if self.finished is None and self.pacing_done and self.sent + self.dropped == self.dispatched:
            self.finished = now_ms()

    def status(self) -> dict:
        with self.lock:
            end = self.finished if self.finished is not None else now_ms()
            elapsed = max(end - self.started, 1)
            return {
                "id": self.id, "requested": self.requested, "events": self.events,
                "skipped": self.skipped, "dispatched": self.dispatched, "sent": self.sent,
                "dropped": self.dropped, "done": self.finished is not None,
                "statuses": dict(self.statuses), "started": self.started,
                "finished": self.finished, "elapsedMs": end - self.started,
                "rate": round(self.sent * 1000 / elapsed, 1),
            }


class Platform:
    def __init__(self, *, api_secret: str, account_id: str, timeout: float, disable_after: int,
                 disable_minutes: float, workers: int, base_jpeg: bytes, record: str | None,
                 verbose: bool = False):
        self.api_secret = api_secret
        self.account_id = account_id
        self.timeout = timeout
        self.disable_after = disable_after
        self.disable_ms = int(disable_minutes * 60_000)
        self.verbose = verbose
        self.factory = EventFactory(account_id, base_jpeg)
        self.lock = threading.RLock()
        self.webhooks: dict[int, Webhook] = {}
        self.next_id = 1
        self.log_lock = threading.Lock()
        self.deliveries: list[dict] = []
        self.requests_lock = threading.Lock()
        self.requests: list[dict] = []
        self.record_file = open(record, "a", encoding="utf-8") if record else None
        self.runs: dict[int, TrafficRun] = {}
        self.next_run = 1
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.ssl_context = ssl.create_default_context()
        for i in range(workers):
            threading.Thread(target=self._worker, name=f"sender-{i}", daemon=True).start()

    # --- the REST API ---------------------------------------------------------------------

    def _get(self, raw_id: str) -> Webhook:
        if not re.fullmatch(r"[0-9]{1,18}", raw_id):
            raise not_found(f"Webhook {raw_id}")
        wh = self.webhooks.get(int(raw_id))
        if wh is None:
            raise not_found(f"Webhook {int(raw_id)}")
        return wh

    @staticmethod
    def _check_filter(value, errors: dict) -> str | None:
        if not isinstance(value, str):
            errors["filter"] = "filter must be a string or null"
            return None
        if not 1 <= len(value) <= FILTER_MAX_CHARS:
            errors["filter"] = f"filter must be 1 to {FILTER_MAX_CHARS} characters long"
            return None
        try:
            re.compile(value)
        except re.error as err:
            errors["filter"] = f"filter is not a valid regular expression: {err}"
            return None
        return value

    @staticmethod
    def _check_url(value, errors: dict) -> str | None:
        if not isinstance(value, str):
            errors["url"] = "url must be a string"
        elif not valid_url(value):
            errors["url"] = "url must be an absolute http:// or https:// URL"
        else:
            return value
        return None

    def create(self, body: dict) -> dict:
        errors: dict[str, str] = {}
        url = None
        if body.get("url") is None:
            errors["url"] = "url is required"
        else:
            url = self._check_url(body["url"], errors)
        flags = {}
        for flag in HOOK_FLAGS:
            value = body.get(flag)
            if flag == "isFeedHooks" and flag not in body:
                errors[flag] = f"{flag} is required"
            elif flag == "isFeedHooks" and type(value) is not bool:
                errors[flag] = f"{flag} must be a boolean"
            elif value is not None and type(value) is not bool:
                errors[flag] = f"{flag} must be a boolean or null"
            flags[flag] = bool(value) if type(value) is bool else False
        filter_ = None
        if body.get("filter") is not None:
            filter_ = self._check_filter(body["filter"], errors)
        if errors:
            raise ApiError(400, fields=errors)
        with self.lock:
            wh = Webhook(self.next_id, url, flags, filter_)
            self.next_id += 1
            self.webhooks[wh.id] = wh
            return wh.public(now_ms())

    def get(self, raw_id: str) -> dict:
        with self.lock:
            return self._get(raw_id).public(now_ms())

    def update(self, raw_id: str, body: dict) -> dict:
        errors: dict[str, str] = {}
        changes: dict = {}
        if body.get("url") is not None:
            url = self._check_url(body["url"], errors)
            if url is not None:
                changes["url"] = url
        for flag in (*HOOK_FLAGS, "refreshSecret", "reEnable"):
            value = body.get(flag)
            if value is None:
                continue
            if type(value) is not bool:
                errors[flag] = f"{flag} must be a boolean or null"
            else:
                changes[flag] = value
        if "filter" in body:
            if body["filter"] is None:
                changes["filter"] = None
            else:
                filter_ = self._check_filter(body["filter"], errors)
                if filter_ is not None:
                    changes["filter"] = filter_
        with self.lock:
            wh = self._get(raw_id)  # 404 before 400 for an unknown id
            if errors:
                raise ApiError(400, fields=errors)
            re_enable = bool(changes.get("reEnable"))
            if "url" in changes:
                re_enable = re_enable or changes["url"] != wh.url
                wh.url = changes["url"]
            for flag in HOOK_FLAGS:
                if flag in changes:
                    wh.flags[flag] = changes[flag]
            if "filter" in changes:
                wh.filter = changes["filter"]
                wh.filter_re = re.compile(wh.filter) if wh.filter is not None else None
            if changes.get("refreshSecret"):
                self._renew(wh)
            if re_enable:
                wh.disabled_until = None
                wh.disabled_reason = None
                wh.failures = 0
            return wh.public(now_ms())

    def _renew(self, wh: Webhook) -> None:
        wh.secret = new_secret()
        wh.secret_version += 1

    def renew(self, raw_id: str) -> dict:
        with self.lock:
            wh = self._get(raw_id)
            self._renew(wh)
            return wh.public(now_ms())

    def delete(self, raw_id: str) -> bool:
        with self.lock:
            wh = self._get(raw_id)
            del self.webhooks[wh.id]
            return True

    def list(self, query: dict) -> list:
        errors: dict[str, str] = {}

        def param(name):
            values = query.get(name)
            return values[-1].strip() if values and values[-1].strip() != "" else None

        starting = param("startingId")
        if starting is not None:
            if re.fullmatch(r"-?[0-9]{1,18}", starting):
                starting = int(starting)
            else:
                errors["startingId"] = "startingId must be an integer"
        count = param("itemCount")
        if count is None:
            count = DEFAULT_ITEM_COUNT
        elif re.fullmatch(r"[0-9]{1,9}", count) and 1 <= int(count) <= MAX_ITEM_COUNT:
            count = int(count)
        else:
            errors["itemCount"] = f"itemCount must be an integer from 1 to {MAX_ITEM_COUNT}"
        descending = param("isDescending")
        if descending is None:
            descending = False
        elif descending.lower() in ("true", "false"):
            descending = descending.lower() == "true"
        else:
            errors["isDescending"] = "isDescending must be true or false"
        if errors:
            raise ApiError(400, fields=errors)
        now = now_ms()
        with self.lock:
            ids = sorted(self.webhooks, reverse=descending)
            if starting is not None:
                ids = [i for i in ids if (i <= starting if descending else i >= starting)]
            return [self.webhooks[i].public(now) for i in ids[:count]]

    def prepare_test(self, name: str, body: dict):
        """Validates a test request; returns the callback that sends it (after the answer)."""
        errors: dict[str, str] = {}
        if name not in TEST_TYPES:
            errors["type"] = "type must be one of " + ", ".join(TEST_TYPES)
        names = {}
        for field, default in (("streamName", DEFAULT_TEST_STREAM),
                               ("transcoderName", DEFAULT_TEST_TRANSCODER)):
            value = body.get(field)
            if value is None:
                names[field] = default
            elif not isinstance(value, str) or not value:
                errors[field] = f"{field} must be a non-empty string or null"
            else:
                names[field] = value
        if errors:
            raise ApiError(400, fields=errors)
        type_, event = TEST_TYPES[name]
        if type_ == "thumbnail":
            ev = self.factory.thumbnail(names["streamName"], test=True)
        else:
            ev = self.factory.json_event(type_, event, names["streamName"],
                                         transcoder=names["transcoderName"], test=True,
                                         media_type="clip")
        return lambda: self.dispatch(ev)

    # --- delivery -------------------------------------------------------------------------

    def dispatch(self, event: Event, run: TrafficRun | None = None) -> int:
        now = now_ms()
        with self.lock:
            targets = [wh.id for wh in self.webhooks.values() if wh.accepts(event, now)]
        if run is not None:
            with run.lock:
                run.events += 1
                run.dispatched += len(targets)
                if not targets:
                    run.skipped += 1
        for wh_id in targets:
            self.queue.put((wh_id, event, run))
        return len(targets)

    def _worker(self) -> None:
        while True:
            job = self.queue.get()
            try:
                self._deliver(*job)
            except Exception as err:  # never let a sender thread die
                print(f"local_platform: delivery crashed: {err!r}", file=sys.stderr, flush=True)

    def _deliver(self, wh_id: int, event: Event, run: TrafficRun | None) -> None:
        started = now_ms()  # before the secret is read: a delivery started after a renew
        with self.lock:     # (started > its answer) is always signed with the new secret
            wh = self.webhooks.get(wh_id)
            if wh is None or not wh.accepts(event, now_ms()):
                if run is not None:
                    with run.lock:
                        run.dropped += 1
                        run._check_done()
                return
            url, secret, version = wh.url, wh.secret, wh.secret_version
        body, headers = event.render(started)
        headers["X-Millicast-Signature"] = sign(secret, body)
        status, error, response = self._post(url, body, headers)
        finished = now_ms()

        with self.lock:
            wh = self.webhooks.get(wh_id)
            if wh is not None:
                if status is None:
                    # Failures of deliveries still in flight when it got disabled do not count.
                    if not wh.refresh_disabled(finished):
                        wh.failures += 1
                    if (self.disable_after > 0 and wh.failures >= self.disable_after
                            and not wh.refresh_disabled(finished)):
                        wh.disabled_until = finished + self.disable_ms
                        wh.disabled_reason = (
                            f"Disabled after {wh.failures} consecutive failed deliveries "
                            "(timeouts or connection errors)")
                else:
                    wh.failures = 0

        if event.kind == "json":
            text, b64 = body.decode("utf-8"), None
            stream_id = event.data.get("streamId")
            if stream_id is None and event.data.get("streamName") is not None:
                stream_id = f"{self.account_id}/{event.data['streamName']}"
        else:
            text, b64 = None, base64.b64encode(body).decode("ascii")
            stream_id = event.stream_id
        record = {
            "seq": 0, "webhookId": wh_id, "url": url, "kind": event.kind, "type": event.type,
            "event": event.event, "streamId": stream_id, "timestamp": started,
            "sha256": hashlib.sha256(body).hexdigest(), "size": len(body), "body": text,
            "bodyBase64": b64, "headers": headers, "secretVersion": version, "status": status,
            "error": error, "test": event.test, "started": started, "finished": finished,
            "runId": run.id if run is not None else None,
            "responseBody": response,
        }
        with self.log_lock:
            record["seq"] = len(self.deliveries) + 1
            self.deliveries.append(record)
            if self.record_file is not None:
                self.record_file.write(json.dumps(record, separators=(",", ":")) + "\n")
                self.record_file.flush()
        if run is not None:
            key = str(status) if status is not None else "error"
            with run.lock:
                run.sent += 1
                run.statuses[key] = run.statuses.get(key, 0) + 1
                run._check_done()
        if self.verbose:
            print(f"local_platform: delivered {event.type}/{event.event} to #{wh_id} {url}: "
                  f"{status if status is not None else error}", file=sys.stderr, flush=True)

    def _post(self, url: str, body: bytes, headers: dict):
        """(status, error, response text): exactly one attempt, within self.timeout."""
        deadline = time.monotonic() + self.timeout
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=self.timeout,
                                               context=self.ssl_context)
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout)
        try:
            conn.request("POST", path, body=body, headers=headers)
            sock = conn.sock  # getresponse() drops conn.sock when the answer closes the connection
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            resp = conn.getresponse()
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            data = resp.read(RESPONSE_READ_LIMIT)
            return resp.status, None, data[:RESPONSE_KEEP].decode("utf-8", "replace")
        except TimeoutError as err:
            return None, f"timeout: no answer within {self.timeout:g} s ({err})", None
        except (OSError, http.client.HTTPException) as err:
            return None, f"connection error: {type(err).__name__}: {err}", None
        except Exception as err:  # still one finished (failed) attempt, recorded as such
            return None, f"sender error: {type(err).__name__}: {err}", None
        finally:
            conn.close()

    # --- local controls -------------------------------------------------------------------

    def start_traffic(self, body: dict) -> dict:
        errors: dict[str, str] = {}
        count = body.get("count")
        if type(count) is not int or not 1 <= count <= MAX_TRAFFIC_COUNT:
            errors["count"] = f"count must be an integer from 1 to {MAX_TRAFFIC_COUNT}"
        rate = body.get("rate")
        if type(rate) not in (int, float) or not 0 < rate <= MAX_TRAFFIC_RATE:
            errors["rate"] = f"rate must be a number of events per second in (0, {MAX_TRAFFIC_RATE:g}]"
        streams = body.get("streams")
        if streams is None:
            streams = list(DEFAULT_TRAFFIC_STREAMS)
        elif (not isinstance(streams, list) or not streams
              or not all(isinstance(s, str) and s for s in streams)):
            errors["streams"] = "streams must be a non-empty list of non-empty strings"
        share = body.get("thumbnailShare")
        if share is None:
            share = DEFAULT_THUMBNAIL_SHARE
        elif type(share) not in (int, float) or not 0 <= share <= 1:
            errors["thumbnailShare"] = "thumbnailShare must be a number from 0 to 1"
        if errors:
            raise ApiError(400, fields=errors)
        with self.lock:
            run = TrafficRun(self.next_run, count, float(rate), streams, float(share))
            self.next_run += 1
            self.runs[run.id] = run
        threading.Thread(target=self._pace, args=(run,), name=f"traffic-{run.id}", daemon=True).start()
        return {"id": run.id}

    def _pace(self, run: TrafficRun) -> None:
        t0 = time.monotonic()
        json_index = random.randrange(len(JSON_EVENTS))
        try:
            for i in range(run.requested):
                delay = t0 + i / run.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                stream = random.choice(run.streams)
                # Thumbnails spread evenly at the requested share; the rest cycle every event.
                if int((i + 1) * run.share) > int(i * run.share):
                    event = self.factory.thumbnail(stream)
                else:
                    type_, name = JSON_EVENTS[json_index % len(JSON_EVENTS)]
                    json_index += 1
                    event = self.factory.json_event(type_, name, stream)
                self.dispatch(event, run)
        finally:
            with run.lock:
                run.pacing_done = True
                run._check_done()

    def traffic(self, raw_id: str) -> dict:
        with self.lock:
            run = self.runs.get(int(raw_id)) if re.fullmatch(r"[0-9]{1,18}", raw_id) else None
        if run is None:
            raise not_found(f"Traffic run {raw_id}")
        return run.status()

    def delivery_log(self, query: dict) -> list:
        errors = {}
        values = {}
        for name in ("since", "limit", "webhookId"):
            raw = (query.get(name) or [""])[-1].strip()
            if raw == "":
                values[name] = None
            elif re.fullmatch(r"[0-9]{1,18}", raw):
                values[name] = int(raw)
            else:
                errors[name] = f"{name} must be a non-negative integer"
        if errors:
            raise ApiError(400, fields=errors)
        with self.log_lock:
            since = values["since"] or 0
            records = self.deliveries[since:]  # seq n sits at index n - 1
        if values["webhookId"] is not None:
            records = [r for r in records if r["webhookId"] == values["webhookId"]]
        if values["limit"] is not None:
            records = records[: values["limit"]]
        return records

    def log_request(self, method: str, target: str, headers, body: bytes, status: int) -> None:
        pairs = []
        for name, value in headers.items():
            if name.lower() == "authorization":
                scheme, space, _ = value.strip().partition(" ")
                value = f"{scheme} <redacted>" if space else "<redacted>"
            pairs.append([name, value])
        record = {"seq": 0, "method": method, "target": target, "headers": pairs,
                  "body": body.decode("utf-8", "replace"), "status": status}
        with self.requests_lock:
            record["seq"] = len(self.requests) + 1
            self.requests.append(record)

    def request_log(self, query: dict) -> list:
        errors = {}
        values = {}
        for name in ("since", "limit"):
            raw = (query.get(name) or [""])[-1].strip()
            if raw == "":
                values[name] = None
            elif re.fullmatch(r"[0-9]{1,18}", raw):
                values[name] = int(raw)
            else:
                errors[name] = f"{name} must be a non-negative integer"
        if errors:
            raise ApiError(400, fields=errors)
        with self.requests_lock:
            records = self.requests[values["since"] or 0:]  # seq n sits at index n - 1
        if values["limit"] is not None:
            records = records[: values["limit"]]
        return records


# --------------------------------------------------------------------------------------------
# HTTP


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "local-millicast-platform/1.0"
    platform: Platform  # set on the subclass made in main()

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        if self.platform.verbose:
            sys.stderr.write("local_platform: %s %s\n" % (self.address_string(), format % args))

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")

    def do_PATCH(self):
        self._handle("PATCH")

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_REQUEST_BYTES:
                    raise ApiError(413, "Request body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            raise ApiError(413, "Request body too large")
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self, method: str) -> None:
        after = None
        extra_headers: dict = {}
        raw = b""
        parts = urlsplit(self.path)
        try:
            try:
                raw = self._read_body()
            except ApiError:
                self.close_connection = True
                raise
            query = parse_qs(parts.query, keep_blank_values=True)
            status, payload, after = self._route(method, parts.path, query, raw)
        except ApiError as err:
            status, payload = err.code, err.envelope()
            extra_headers = err.headers
        except Exception as err:  # a bug: still answer in the platform's envelope
            status = 500
            payload = {"status": "error", "message": f"Internal error: {err!r}", "code": 500,
                       "data": None}
        # Logged before answering: a client that waits for the answer finds its request logged.
        if parts.path == "/api" or parts.path.startswith("/api/"):
            self.platform.log_request(method, self.path, self.headers, raw, status)
        self._send(status, payload, extra_headers)
        if after is not None:
            after()

    def _send(self, status: int, payload, headers: dict) -> None:
        data = compact(payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    @staticmethod
    def _json_object(raw: bytes) -> dict:
        if not raw.strip():
            return {}
        try:
            value = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, fields={"body": "body must be a JSON object"}) from None
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ApiError(400, fields={"body": "body must be a JSON object"})
        return value

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        return hmac.compare_digest(token.strip().encode(), self.platform.api_secret.encode())

    def _route(self, method: str, path: str, query: dict, raw: bytes):
        """(HTTP status, payload, callback to run after answering or None)."""
        p = self.platform
        ok = lambda data: {"status": "success", "data": data}  # noqa: E731

        def allow(*methods):
            if method not in methods:
                raise ApiError(405, f"Method {method} not allowed on {path}",
                               headers={"Allow": ", ".join(methods)})

        if path == "/api" or path.startswith("/api/"):
            if not self._authorized():
                raise ApiError(401, UNAUTHORIZED_MESSAGE, headers={"WWW-Authenticate": "Bearer"})
            # The vendor's Node client creates with POST /api/webhooks/: one trailing slash is
            # accepted on every route.
            route = path[:-1] if path.endswith("/") else path
            if route == "/api/webhooks":
                allow("POST")
                return 200, ok(p.create(self._json_object(raw))), None
            if route == "/api/webhooks/list":
                allow("GET")
                return 200, ok(p.list(query)), None
            m = re.fullmatch(r"/api/webhooks/test/([^/]+)", route)
            if m:
                allow("POST")
                send = p.prepare_test(m.group(1), self._json_object(raw))
                return 200, ok(True), send
            m = re.fullmatch(r"/api/webhooks/([^/]+)", route)
            if m:
                allow("GET", "PUT", "DELETE")
                if method == "GET":
                    return 200, ok(p.get(m.group(1))), None
                if method == "PUT":
                    return 200, ok(p.update(m.group(1), self._json_object(raw))), None
                return 200, ok(p.delete(m.group(1))), None
            raise not_found(f"Route {path}")

        if path == "/_local/health":
            allow("GET")
            return 200, {"ok": True}, None
        if path == "/_local/traffic":
            allow("GET", "POST")
            if method == "GET":
                with p.lock:
                    runs = list(p.runs.values())
                return 200, [run.status() for run in runs], None
            return 202, p.start_traffic(self._json_object(raw)), None
        m = re.fullmatch(r"/_local/traffic/([^/]+)", path)
        if m:
            allow("GET")
            return 200, p.traffic(m.group(1)), None
        m = re.fullmatch(r"/_local/webhooks/([^/]+)/renew", path)
        if m:
            allow("POST")
            return 200, ok(p.renew(m.group(1))), None
        if path == "/_local/webhooks":
            allow("GET")
            now = now_ms()
            with p.lock:
                return 200, [wh.internal(now) for wh in p.webhooks.values()], None
        m = re.fullmatch(r"/_local/webhooks/([^/]+)", path)
        if m:
            allow("GET")
            with p.lock:
                return 200, p._get(m.group(1)).internal(now_ms()), None
        if path == "/_local/deliveries":
            allow("GET")
            return 200, p.delivery_log(query), None
        if path == "/_local/requests":
            allow("GET")
            return 200, p.request_log(query), None
        raise not_found(f"Route {path}")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 512  # bursts of API calls and concurrent clients


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-secret",
                        default=os.environ.get("MILLICAST_API_SECRET") or DEFAULT_API_SECRET)
    parser.add_argument("--record")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S)
    parser.add_argument("--disable-after", type=int, default=DEFAULT_DISABLE_AFTER)
    parser.add_argument("--disable-minutes", type=float, default=DEFAULT_DISABLE_MINUTES)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--account-id", default=DEFAULT_ACCOUNT_ID)
    parser.add_argument("--jpeg", default=str(DEFAULT_JPEG))
    parser.add_argument("--ignore-stdin", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args(argv)

    if args.self_test:
        self_test()
        print("self-test passed", file=sys.stderr)
        return
    if args.timeout <= 0 or args.workers < 1 or args.disable_after < 0 or args.disable_minutes < 0:
        parser.error("--timeout and --workers must be positive, --disable-* non-negative")
    base_jpeg = Path(args.jpeg).read_bytes()
    unique_jpeg(base_jpeg, 0)  # fail early on a file that is not a JPEG

    platform = Platform(api_secret=args.api_secret, account_id=args.account_id,
                        timeout=args.timeout, disable_after=args.disable_after,
                        disable_minutes=args.disable_minutes, workers=args.workers,
                        base_jpeg=base_jpeg, record=args.record, verbose=args.verbose)
    handler = type("BoundHandler", (Handler,), {"platform": platform})
    server = Server(("127.0.0.1", args.port), handler)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                               name="http", daemon=True)
    serving.start()

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(server.server_address[1], flush=True)
    try:
        if args.ignore_stdin:
            while True:
                time.sleep(3600)
        else:
            while sys.stdin.buffer.read(65536):
                pass
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        server.shutdown()
        server.server_close()
        if platform.record_file is not None:
            with platform.log_lock:
                platform.record_file.close()
                platform.record_file = None


if __name__ == "__main__":
    main()
