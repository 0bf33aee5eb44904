"""Tests of scripts/local_platform.py, the local stand-in of the streaming platform.

Run from the repository root:  .venv/bin/python -m unittest scripts/test_local_platform.py -v
Standard library only. Every test starts the stand-in exactly as a user would (port 0, the port
read from the first stdout line, stopped by closing its stdin, killed by PID in cleanup) and,
where deliveries matter, a tiny receiver on 127.0.0.1:0 that records what it gets.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import http.client
import importlib.util
import json
import os
import random
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "local_platform.py"
API_SECRET = "test-api-secret"

VECTOR_SECRET = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
VECTOR_BODY = (
    b'{"type":"feeds","event":"started","timestamp":1638463486489,"data":{"feedId":'
    b'"369e4a86-f937-4254-bd9f-99dc484d2bd6","accountId":"ZG6NWV","name":"sample_stream",'
    b'"streamId":"ZG6NWV/sample_stream","started":1638463486359,"active":true}}'
)

JSON_EVENTS = {
    ("feeds", "started"), ("feeds", "ended"),
    ("recordings", "started"), ("recordings", "completed"), ("recordings", "error"),
    ("recordings", "deleted"),
    ("media", "processing"), ("media", "completed"), ("media", "errored"), ("media", "deleted"),
    ("transcoder", "ACTIVE"), ("transcoder", "STOPPED"), ("transcoder", "DELETED"),
    ("viewerConnection", "ViewerAttempt"), ("viewerConnection", "FirstViewerConnection"),
    ("viewerConnection", "NoActiveViewers"),
}
ALL_FLAGS = {
    "isFeedHooks": True, "isRecordingHooks": True, "isThumbnailHooks": True,
    "isTranscoderHooks": True, "isMediaHooks": True, "isViewerConnectionHooks": True,
}
WEBHOOK_KEYS = {
    "id", "url", "secret", "isFeedHooks", "isRecordingHooks", "isThumbnailHooks",
    "isTranscoderHooks", "isMediaHooks", "isViewerConnectionHooks", "filter", "disabled",
}


def load_module():
    spec = importlib.util.spec_from_file_location("local_platform", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def verify(secret_b64: str, body: bytes, header: str | None) -> bool:
    """An independent implementation of the receiver's check (not the module's sign())."""
    expected = "sha1=" + hmac.new(base64.b64decode(secret_b64), body, hashlib.sha1).hexdigest()
    return header is not None and hmac.compare_digest(expected, header)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def jpeg_segments_valid(data: bytes) -> bool:
    """SOI, then well-formed marker segments up to SOS, and EOI at the end."""
    if data[:2] != b"\xff\xd8" or data[-2:] != b"\xff\xd9":
        return False
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if length < 2:
            return False
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return True
        pos += 2 + length
    return False


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


# ---------------------------------------------------------------------------------------------


class PlatformProcess:
    """The stand-in, started as a user would start it."""

    def __init__(self, *args: str, env: dict | None = None, api_secret: str | None = API_SECRET):
        cmd = [sys.executable, str(SCRIPT), "--port", "0"]
        if api_secret is not None:
            cmd += ["--api-secret", api_secret]
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd + list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, env=env, cwd=ROOT)
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout=15)
        selector.close()
        line = self.proc.stdout.readline() if ready else b""
        if not line.strip().isdigit():
            self.kill()
            raise RuntimeError(f"no port from local_platform.py: {line!r} {self.stderr_text()}")
        self.port = int(line)

    def stderr_text(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def stop(self, timeout: float = 10) -> int | None:
        """Close stdin (the normal way to stop it); the exit code."""
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream and not stream.closed:
                stream.close()
        self.stderr.close()

    def request(self, method: str, path: str, body=None, *, auth: str | None = "default",
                raw: bytes | None = None, headers: dict | None = None):
        """(status, response headers, parsed JSON body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        hdrs = dict(headers or {})
        if auth == "default":
            hdrs["Authorization"] = f"Bearer {API_SECRET}"
        elif auth is not None:
            hdrs["Authorization"] = auth
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            payload = resp.read()
            return resp.status, resp.headers, json.loads(payload) if payload else None
        finally:
            conn.close()

    def ok(self, method: str, path: str, body=None):
        status, _, payload = self.request(method, path, body)
        assert status == 200, (method, path, status, payload)
        assert payload["status"] == "success", payload
        return payload["data"]

    def deliveries(self, since: int = 0, **params) -> list:
        query = "&".join(f"{k}={v}" for k, v in {"since": since, **params}.items())
        status, _, payload = self.request("GET", f"/_local/deliveries?{query}", auth=None)
        assert status == 200, payload
        return payload


class Receiver:
    """Records every POST; answers by the first path segment: /ok 200, /fail 500,
    /slow (sleeps 1 s, then 200), /delay (sleeps 5-20 ms, then 200)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                mode = self.path.strip("/").split("/")[0]
                with outer.lock:
                    outer.requests.append({
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                        "time": now_ms(),
                    })
                if mode == "slow":
                    time.sleep(1.0)
                elif mode == "delay":
                    time.sleep(random.uniform(0.005, 0.020))
                status = 500 if mode == "fail" else 200
                answer = b'{"ok":false}' if status == 500 else b'{"ok":true}'
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the sender gave up (timeout tests)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 512

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def received(self, path: str) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path]

    def wait_for(self, path: str, count: int, timeout: float = 10.0) -> list[dict]:
        wait_until(lambda: len(self.received(path)) >= count, timeout)
        return self.received(path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class PlatformCase(unittest.TestCase):
    platform_args: tuple = ()

    def setUp(self):
        self.platform = PlatformProcess(*self.platform_args)
        self.addCleanup(self.platform.kill)
        self.addCleanup(self.platform.stop)
        self.receiver = Receiver()
        self.addCleanup(self.receiver.close)

    def create(self, url: str, **fields) -> dict:
        body = {"url": url, "isFeedHooks": False, **fields}
        return self.platform.ok("POST", "/api/webhooks", body)

    def assert_fail(self, response, fields: set):
        status, _, payload = response
        self.assertEqual(status, 400, payload)
        self.assertEqual(payload["status"], "fail", payload)
        self.assertEqual(set(payload["data"]), fields, payload)
        for message in payload["data"].values():
            self.assertIsInstance(message, str)

    def assert_error(self, response, code: int):
        status, _, payload = response
        self.assertEqual(status, code, payload)
        self.assertEqual(set(payload), {"status", "message", "code", "data"}, payload)
        self.assertEqual(payload["status"], "error")
        self.assertEqual(payload["code"], code)
        self.assertIsNone(payload["data"])
        self.assertIsInstance(payload["message"], str)


# ---------------------------------------------------------------------------------------------


class SignatureTest(unittest.TestCase):
    def test_signature_test_vector(self):
        module = load_module()
        self.assertEqual(module.sign(VECTOR_SECRET, VECTOR_BODY),
                         "sha1=dfde8e23a8c06e6c522a67d50fe7412283f653f9")
        self.assertTrue(verify(VECTOR_SECRET, VECTOR_BODY, "sha1=dfde8e23a8c06e6c522a67d50fe7412283f653f9"))
        # The classic bug (keying with the base64 text) gives the documented wrong value.
        wrong = "sha1=" + hmac.new(VECTOR_SECRET.encode(), VECTOR_BODY, hashlib.sha1).hexdigest()
        self.assertEqual(wrong, "sha1=c46ca674c65f3217a7c88d056f1b89fd01efe10f")
        self.assertNotEqual(module.sign(VECTOR_SECRET, VECTOR_BODY), wrong)

    def test_self_test_flag(self):
        result = subprocess.run([sys.executable, str(SCRIPT), "--self-test"], capture_output=True,
                                timeout=30, cwd=ROOT)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, b"")

    def test_unique_jpeg_stays_valid_and_distinct(self):
        module = load_module()
        base = (ROOT / "samples" / "thumbnail.jpg").read_bytes()
        a, b = module.unique_jpeg(base, 1), module.unique_jpeg(base, 2)
        self.assertNotEqual(a, b)
        self.assertTrue(jpeg_segments_valid(base))
        self.assertTrue(jpeg_segments_valid(a))
        self.assertTrue(jpeg_segments_valid(b))
        self.assertEqual(a[2:4], b"\xff\xe0", "the JFIF APP0 segment stays first")


class LifecycleTest(unittest.TestCase):
    def test_port_first_line_health_and_stdin_eof_stops(self):
        platform = PlatformProcess()
        self.addCleanup(platform.kill)
        status, _, payload = platform.request("GET", "/_local/health", auth=None)
        self.assertEqual((status, payload), (200, {"ok": True}))
        self.assertEqual(platform.stop(), 0)

    def test_sigterm_stops(self):
        platform = PlatformProcess()
        self.addCleanup(platform.kill)
        platform.proc.send_signal(signal.SIGTERM)
        self.assertEqual(platform.proc.wait(10), 0)

    def test_api_secret_from_env_and_default(self):
        env = {k: v for k, v in os.environ.items() if k != "MILLICAST_API_SECRET"}
        platform = PlatformProcess(env={**env, "MILLICAST_API_SECRET": "from-env"}, api_secret=None)
        self.addCleanup(platform.kill)
        status, _, _ = platform.request("GET", "/api/webhooks/list", auth="Bearer from-env")
        self.assertEqual(status, 200)
        status, _, _ = platform.request("GET", "/api/webhooks/list", auth="Bearer local-api-secret")
        self.assertEqual(status, 401)
        platform.stop()

        platform = PlatformProcess(env=env, api_secret=None)
        self.addCleanup(platform.kill)
        status, _, _ = platform.request("GET", "/api/webhooks/list", auth="Bearer local-api-secret")
        self.assertEqual(status, 200)
        platform.stop()


class ApiTest(PlatformCase):
    def test_auth_required_on_every_endpoint(self):
        calls = [("POST", "/api/webhooks"), ("GET", "/api/webhooks/1"), ("PUT", "/api/webhooks/1"),
                 ("DELETE", "/api/webhooks/1"), ("GET", "/api/webhooks/list"),
                 ("POST", "/api/webhooks/test/Feeds"), ("GET", "/api/nothing-here")]
        for auth in (None, "Bearer wrong-secret", f"Basic {API_SECRET}", "Bearer", API_SECRET,
                     f"Bearer {API_SECRET}x"):
            for method, path in calls:
                with self.subTest(auth=auth, method=method, path=path):
                    response = self.platform.request(method, path, {}, auth=auth)
                    self.assert_error(response, 401)
                    self.assertEqual(response[2]["message"], "Unauthorized: missing or invalid API secret")
                    self.assertEqual(response[1]["WWW-Authenticate"], "Bearer")
        # The scheme is case-insensitive.
        status, _, _ = self.platform.request("GET", "/api/webhooks/list", auth=f"bearer {API_SECRET}")
        self.assertEqual(status, 200)

    def test_create_get_update_delete(self):
        created = self.platform.ok("POST", "/api/webhooks", {"url": "https://example.com/hook",
                                                             "isFeedHooks": True})
        self.assertEqual(set(created), WEBHOOK_KEYS)
        self.assertIsInstance(created["id"], int)
        self.assertEqual(len(base64.b64decode(created["secret"], validate=True)), 32)
        self.assertEqual(created["url"], "https://example.com/hook")
        self.assertTrue(created["isFeedHooks"])
        for flag in ALL_FLAGS:
            if flag != "isFeedHooks":
                self.assertIs(created[flag], False, flag)
        self.assertIsNone(created["filter"])
        self.assertIsNone(created["disabled"])
        second = self.create("http://127.0.0.1:9/x", isThumbnailHooks=True, filter="^cam-")
        self.assertGreater(second["id"], created["id"])
        self.assertNotEqual(second["secret"], created["secret"])
        self.assertEqual(second["filter"], "^cam-")

        wid = created["id"]
        self.assertEqual(self.platform.ok("GET", f"/api/webhooks/{wid}"), created)

        # Null and absent mean unchanged; filter: absent unchanged, explicit null clears.
        updated = self.platform.ok("PUT", f"/api/webhooks/{wid}", {
            "url": "https://example.org/new", "isMediaHooks": True, "isFeedHooks": None,
            "filter": "^live-", "refreshSecret": None, "reEnable": None})
        self.assertEqual(updated["url"], "https://example.org/new")
        self.assertTrue(updated["isMediaHooks"])
        self.assertTrue(updated["isFeedHooks"])
        self.assertEqual(updated["filter"], "^live-")
        self.assertEqual(updated["secret"], created["secret"])
        updated = self.platform.ok("PUT", f"/api/webhooks/{wid}", {"url": None, "isFeedHooks": False})
        self.assertEqual(updated["url"], "https://example.org/new")
        self.assertFalse(updated["isFeedHooks"])
        self.assertEqual(updated["filter"], "^live-")
        updated = self.platform.ok("PUT", f"/api/webhooks/{wid}", {"filter": None})
        self.assertIsNone(updated["filter"])
        updated = self.platform.ok("PUT", f"/api/webhooks/{wid}", {})
        self.assertIsNone(updated["filter"])
        self.assertEqual(self.platform.ok("GET", f"/api/webhooks/{wid}"), updated)

        refreshed = self.platform.ok("PUT", f"/api/webhooks/{wid}", {"refreshSecret": True})
        self.assertNotEqual(refreshed["secret"], updated["secret"])
        self.assertEqual(len(base64.b64decode(refreshed["secret"])), 32)
        self.assertEqual(self.platform.ok("GET", f"/api/webhooks/{wid}")["secret"], refreshed["secret"])
        renewed = self.platform.request("POST", f"/_local/webhooks/{wid}/renew", auth=None)
        self.assertEqual(renewed[0], 200)
        self.assertEqual(renewed[2]["status"], "success")
        self.assertNotEqual(renewed[2]["data"]["secret"], refreshed["secret"])
        state = self.platform.request("GET", f"/_local/webhooks/{wid}", auth=None)[2]
        self.assertEqual(state["secretVersion"], 2)
        self.assertEqual(state["consecutiveFailures"], 0)
        # reEnable on an enabled webhook: a no-op.
        self.assertIsNone(self.platform.ok("PUT", f"/api/webhooks/{wid}", {"reEnable": True})["disabled"])

        self.assertIs(self.platform.ok("DELETE", f"/api/webhooks/{wid}"), True)
        for method in ("GET", "PUT", "DELETE"):
            self.assert_error(self.platform.request(method, f"/api/webhooks/{wid}", {}), 404)
        self.assertEqual([w["id"] for w in self.platform.ok("GET", "/api/webhooks/list")], [second["id"]])
        # Ids are never reused.
        third = self.create("https://example.com/3")
        self.assertGreater(third["id"], second["id"])

    def test_one_trailing_slash_on_api_routes(self):
        # The vendor's Node client creates with POST /api/webhooks/.
        created = self.platform.ok("POST", "/api/webhooks/", {"url": "https://x.io/h", "isFeedHooks": True})
        self.assertEqual(set(created), WEBHOOK_KEYS)
        wid = created["id"]
        self.assertEqual(self.platform.ok("GET", f"/api/webhooks/{wid}/"), created)
        self.assertTrue(self.platform.ok("PUT", f"/api/webhooks/{wid}/", {"isMediaHooks": True})["isMediaHooks"])
        self.assertEqual([w["id"] for w in self.platform.ok("GET", "/api/webhooks/list/?itemCount=5")], [wid])
        self.assertIs(self.platform.ok("POST", "/api/webhooks/test/Feeds/"), True)
        # As strict as without the slash: auth, validation, methods.
        self.assert_error(self.platform.request("POST", "/api/webhooks/", {}, auth="Bearer wrong"), 401)
        self.assert_fail(self.platform.request("POST", "/api/webhooks/", {}), {"url", "isFeedHooks"})
        self.assert_fail(self.platform.request("POST", "/api/webhooks/", {"url": "https://x.io", "isFeedHooks": 1}),
                         {"isFeedHooks"})
        self.assert_fail(self.platform.request("GET", "/api/webhooks/list/?itemCount=0"), {"itemCount"})
        self.assert_error(self.platform.request("GET", "/api/webhooks/"), 405)
        # Only one slash: two make another path.
        for path in ("/api/webhooks//", f"/api/webhooks/{wid}//", "/api/webhooks//list", "/api/"):
            with self.subTest(path=path):
                self.assert_error(self.platform.request("GET", path), 404)
        self.assert_error(self.platform.request("POST", "/api/webhooks//", {"url": "https://x.io", "isFeedHooks": True}),
                          404)
        self.assertIs(self.platform.ok("DELETE", f"/api/webhooks/{wid}/"), True)
        self.assertEqual(self.platform.ok("GET", "/api/webhooks/list"), [])

    def test_not_found_envelopes(self):
        for path in ("/api/webhooks/999", "/api/webhooks/abc", "/api/webhooks/-1", "/api/webhooks/1.5"):
            for method in ("GET", "PUT", "DELETE"):
                with self.subTest(method=method, path=path):
                    self.assert_error(self.platform.request(method, path, {"url": "https://x.io"}), 404)
        self.assert_error(self.platform.request("GET", "/api/unknown"), 404)
        self.assert_error(self.platform.request("GET", "/api/webhooks/1/extra"), 404)
        self.assert_error(self.platform.request("GET", "/elsewhere", auth=None), 404)
        self.assert_error(self.platform.request("GET", "/_local/nope", auth=None), 404)
        self.assert_error(self.platform.request("GET", "/_local/traffic/77", auth=None), 404)
        self.assert_error(self.platform.request("POST", "/_local/webhooks/5/renew", auth=None), 404)

    def test_method_not_allowed(self):
        for method, path in (("GET", "/api/webhooks"), ("PUT", "/api/webhooks/list"),
                             ("DELETE", "/api/webhooks/list"), ("GET", "/api/webhooks/test/Feeds"),
                             ("POST", "/api/webhooks/1"), ("PATCH", "/api/webhooks/1")):
            with self.subTest(method=method, path=path):
                response = self.platform.request(method, path)
                self.assert_error(response, 405)
                self.assertIn("Allow", response[1])
        self.assert_error(self.platform.request("POST", "/_local/health", auth=None), 405)

    def test_create_validation(self):
        post = lambda body: self.platform.request("POST", "/api/webhooks", body)  # noqa: E731
        self.assert_fail(post({}), {"url", "isFeedHooks"})
        self.assert_fail(self.platform.request("POST", "/api/webhooks", raw=b""), {"url", "isFeedHooks"})
        self.assert_fail(post({"url": "https://x.io/h"}), {"isFeedHooks"})
        self.assert_fail(post({"url": "https://x.io/h", "isFeedHooks": None}), {"isFeedHooks"})
        self.assert_fail(post({"isFeedHooks": True}), {"url"})
        for url in ("not a url", "ftp://x.io/h", "/relative", "https://", 42, ["https://x.io"], "http://h:99999/"):
            with self.subTest(url=url):
                self.assert_fail(post({"url": url, "isFeedHooks": True}), {"url"})
        self.assert_fail(post({"url": "https://x.io", "isFeedHooks": "yes"}), {"isFeedHooks"})
        self.assert_fail(post({"url": "https://x.io", "isFeedHooks": 1}), {"isFeedHooks"})
        for flag in ALL_FLAGS:
            if flag != "isFeedHooks":
                with self.subTest(flag=flag):
                    self.assert_fail(post({"url": "https://x.io", "isFeedHooks": True, flag: "true"}), {flag})
        for bad in ("", "x" * 129, "(unclosed", 5, ["a"]):
            with self.subTest(filter=bad):
                self.assert_fail(post({"url": "https://x.io", "isFeedHooks": True, "filter": bad}), {"filter"})
        self.assertEqual(len(self.platform.ok("POST", "/api/webhooks", {
            "url": "https://x.io", "isFeedHooks": True, "filter": "y" * 128, "isMediaHooks": None,
            "unknownField": 1})["filter"]), 128)
        # Several bad fields: one entry each.
        self.assert_fail(post({"url": 1, "isFeedHooks": "no", "isMediaHooks": 0, "filter": ""}),
                         {"url", "isFeedHooks", "isMediaHooks", "filter"})
        # Bodies that are not a JSON object.
        for raw in (b"{not json", b"[1,2]", b'"text"', b"\xff\xfe"):
            with self.subTest(raw=raw):
                self.assert_fail(self.platform.request("POST", "/api/webhooks", raw=raw), {"body"})
        self.assertEqual(len(self.platform.ok("GET", "/api/webhooks/list")), 1)

    def test_update_validation(self):
        wid = self.create("https://x.io/h", isFeedHooks=True)["id"]
        put = lambda body: self.platform.request("PUT", f"/api/webhooks/{wid}", body)  # noqa: E731
        self.assert_fail(put({"url": "nope"}), {"url"})
        self.assert_fail(put({"refreshSecret": "true"}), {"refreshSecret"})
        self.assert_fail(put({"reEnable": 1}), {"reEnable"})
        self.assert_fail(put({"isThumbnailHooks": "on", "filter": "("}), {"isThumbnailHooks", "filter"})
        self.assert_fail(put({"filter": ""}), {"filter"})
        self.assert_fail(self.platform.request("PUT", f"/api/webhooks/{wid}", raw=b"nope"), {"body"})
        # Nothing of a rejected update was applied (validation before any change).
        self.assert_fail(put({"url": "https://changed.io", "isMediaHooks": "x"}), {"isMediaHooks"})
        self.assertEqual(self.platform.ok("GET", f"/api/webhooks/{wid}")["url"], "https://x.io/h")

    def test_list_paging(self):
        ids = [self.create(f"https://x.io/{i}")["id"] for i in range(25)]
        self.assertEqual(ids, list(range(1, 26)))
        listed = lambda q="": [w["id"] for w in self.platform.ok("GET", f"/api/webhooks/list{q}")]  # noqa: E731
        self.assertEqual(listed(), list(range(1, 11)))
        self.assertEqual(listed("?startingId=5&itemCount=3"), [5, 6, 7])
        self.assertEqual(listed("?startingId=24"), [24, 25])
        self.assertEqual(listed("?startingId=0&itemCount=2"), [1, 2])
        self.assertEqual(listed("?startingId=26"), [])
        self.assertEqual(listed("?isDescending=true"), list(range(25, 15, -1)))
        self.assertEqual(listed("?isDescending=True&startingId=5&itemCount=3"), [5, 4, 3])
        self.assertEqual(listed("?isDescending=true&startingId=2&itemCount=10"), [2, 1])
        self.assertEqual(listed("?isDescending=false&startingId=&itemCount=100"), list(range(1, 26)))
        # Paging over a gap: the next page starts at the last id + 1 (ascending) / - 1 (descending).
        self.platform.ok("DELETE", "/api/webhooks/6")
        self.assertEqual(listed("?startingId=5&itemCount=3"), [5, 7, 8])
        self.assertEqual(listed("?startingId=7&itemCount=3&isDescending=true"), [7, 5, 4])
        pages, start = [], 1
        while True:
            page = listed(f"?startingId={start}&itemCount=7")
            if not page:
                break
            pages.append(page)
            start = page[-1] + 1
        self.assertEqual([len(p) for p in pages], [7, 7, 7, 3])
        self.assertEqual(sum(pages, []), [i for i in range(1, 26) if i != 6])
        full = self.platform.ok("GET", "/api/webhooks/list?startingId=3&itemCount=1")[0]
        self.assertEqual(set(full), WEBHOOK_KEYS)
        self.assertEqual(full, self.platform.ok("GET", "/api/webhooks/3"))
        get = lambda q: self.platform.request("GET", f"/api/webhooks/list{q}")  # noqa: E731
        self.assert_fail(get("?itemCount=0"), {"itemCount"})
        self.assert_fail(get("?itemCount=101"), {"itemCount"})
        self.assert_fail(get("?itemCount=ten"), {"itemCount"})
        self.assert_fail(get("?startingId=x&isDescending=maybe"), {"startingId", "isDescending"})

    def test_test_endpoint_validation(self):
        for name in ("Nope", "feeds", "Thumbnails"):
            with self.subTest(type=name):
                self.assert_fail(self.platform.request("POST", f"/api/webhooks/test/{name}"), {"type"})
        self.assert_fail(self.platform.request("POST", "/api/webhooks/test/Feeds", {"streamName": 5}),
                         {"streamName"})
        self.assert_fail(self.platform.request("POST", "/api/webhooks/test/Transcoder",
                                               {"transcoderName": ""}), {"transcoderName"})
        self.assert_fail(self.platform.request("POST", "/api/webhooks/test/Feeds", raw=b"[]"), {"body"})
        # No webhook: still true, nothing delivered.
        self.assertIs(self.platform.ok("POST", "/api/webhooks/test/Feeds"), True)
        self.assertIs(self.platform.ok("POST", "/api/webhooks/test/Feeds", {"streamName": None}), True)

    def test_request_log_keeps_api_requests_as_received(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.platform.port, timeout=30)
        self.addCleanup(conn.close)
        body = b'{"url":"https://x.io/h","isFeedHooks":true}'
        # Chunked, as Node's http client sends a body written before end().
        conn.request("POST", "/api/webhooks/", body=iter([body[:7], body[7:]]), encode_chunked=True,
                     headers={"Accept": "application/json", "Content-Type": "application/json",
                              "Authorization": f"Bearer {API_SECRET}", "User-Agent": "probe/1",
                              "Transfer-Encoding": "chunked"})
        response = conn.getresponse()
        self.assertEqual(response.status, 200)
        wid = json.loads(response.read())["data"]["id"]
        self.platform.ok("GET", f"/api/webhooks/list?startingId={wid}&itemCount=2")
        for auth in ("Bearer wrong", "Basic abc", API_SECRET):
            self.assert_error(self.platform.request("DELETE", f"/api/webhooks/{wid}", auth=auth), 401)
        self.assert_error(self.platform.request("GET", "/api/nothing?x=1"), 404)
        self.platform.request("GET", "/_local/health", auth=None)
        self.platform.request("GET", "/elsewhere", auth=None)

        status, _, log = self.platform.request("GET", "/_local/requests", auth=None)
        self.assertEqual(status, 200)
        self.assertEqual([(r["seq"], r["method"], r["target"], r["status"]) for r in log], [
            (1, "POST", "/api/webhooks/", 200),
            (2, "GET", f"/api/webhooks/list?startingId={wid}&itemCount=2", 200),
            (3, "DELETE", f"/api/webhooks/{wid}", 401), (4, "DELETE", f"/api/webhooks/{wid}", 401),
            (5, "DELETE", f"/api/webhooks/{wid}", 401),
            (6, "GET", "/api/nothing?x=1", 404),
        ])
        for record in log:
            self.assertEqual(set(record), {"seq", "method", "target", "headers", "body", "status"})
        first = log[0]
        self.assertEqual(first["body"], body.decode(), "the body without its chunked coding")
        ours = [h for h in first["headers"] if h[0] in ("Accept", "Content-Type", "Authorization", "User-Agent",
                                                          "Transfer-Encoding")]
        self.assertEqual(ours, [["Accept", "application/json"], ["Content-Type", "application/json"],
                                ["Authorization", "Bearer <redacted>"], ["User-Agent", "probe/1"],
                                ["Transfer-Encoding", "chunked"]])
        self.assertEqual(log[1]["body"], "")
        self.assertEqual([dict(r["headers"])["Authorization"] for r in log[2:5]],
                         ["Bearer <redacted>", "Basic <redacted>", "<redacted>"])
        self.assertNotIn(API_SECRET, json.dumps(log))

        page = self.platform.request("GET", "/_local/requests?since=1&limit=2", auth=None)[2]
        self.assertEqual([r["seq"] for r in page], [2, 3])
        self.assertEqual(self.platform.request("GET", "/_local/requests?since=6", auth=None)[2], [])
        self.assert_fail(self.platform.request("GET", "/_local/requests?limit=-1", auth=None), {"limit"})

    def test_local_control_validation(self):
        post = lambda body: self.platform.request("POST", "/_local/traffic", body, auth=None)  # noqa: E731
        self.assert_fail(post({}), {"count", "rate"})
        self.assert_fail(post({"count": 0, "rate": 10}), {"count"})
        self.assert_fail(post({"count": 5, "rate": 0}), {"rate"})
        self.assert_fail(post({"count": 5, "rate": 10, "streams": []}), {"streams"})
        self.assert_fail(post({"count": 5, "rate": 10, "streams": ["a", 1]}), {"streams"})
        self.assert_fail(post({"count": 5, "rate": 10, "thumbnailShare": 1.5}), {"thumbnailShare"})
        self.assert_fail(self.platform.request("GET", "/_local/deliveries?since=x", auth=None), {"since"})


class DeliveryTest(PlatformCase):
    def check_json_delivery(self, request: dict, secret: str, type_: str, event: str) -> dict:
        body = request["body"]
        self.assertEqual(request["headers"]["content-type"], "application/json")
        self.assertTrue(verify(secret, body, request["headers"].get("x-millicast-signature")))
        envelope = json.loads(body)
        self.assertEqual(list(envelope), ["type", "event", "timestamp", "data"])
        self.assertEqual(json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode(), body)
        self.assertEqual((envelope["type"], envelope["event"]), (type_, event))
        self.assertIsInstance(envelope["timestamp"], int)
        self.assertEqual(len(str(envelope["timestamp"])), 13)
        self.assertLess(abs(envelope["timestamp"] - request["time"]), 5000)
        return envelope

    def check_thumbnail(self, request: dict, secret: str, stream_id: str) -> None:
        headers, body = request["headers"], request["body"]
        self.assertEqual(headers["content-type"], "image/jpeg")
        self.assertTrue(jpeg_segments_valid(body))
        self.assertEqual(body[:2], b"\xff\xd8")
        self.assertTrue(verify(secret, body, headers.get("x-millicast-signature")))
        self.assertEqual(headers["x-millicast-stream-id"], stream_id)
        self.assertEqual(len(headers["x-millicast-timestamp"]), 13)
        self.assertLess(abs(int(headers["x-millicast-timestamp"]) - request["time"]), 5000)
        self.assertEqual(len(headers["x-millicast-feed-id"]), 36)
        self.assertTrue(headers["x-millicast-token-id"].isdigit())

    def test_test_event_of_every_type(self):
        hook = self.create(self.receiver.url("/ok/all"), **ALL_FLAGS)
        secret = hook["secret"]
        expected = {"Feeds": ("feeds", "started"), "Recordings": ("recordings", "completed"),
                    "Media": ("media", "completed"), "Transcoder": ("transcoder", "ACTIVE"),
                    "ViewerConnection": ("viewerConnection", "ViewerAttempt")}
        for name in [*expected, "Thumbnail"]:
            self.assertIs(self.platform.ok("POST", f"/api/webhooks/test/{name}",
                                           {"streamName": f"stream_{name}", "transcoderName": "tc_x"}), True)
        got = self.receiver.wait_for("/ok/all", 6)
        time.sleep(0.3)
        got = self.receiver.received("/ok/all")
        self.assertEqual(len(got), 6, "exactly one test event per call")
        by_type = {}
        for request in got:
            if request["headers"]["content-type"] == "image/jpeg":
                by_type["Thumbnail"] = request
            else:
                by_type[{v[0]: k for k, v in expected.items()}[json.loads(request["body"])["type"]]] = request
        self.assertEqual(set(by_type), {*expected, "Thumbnail"})
        for name, (type_, event) in expected.items():
            envelope = self.check_json_delivery(by_type[name], secret, type_, event)
            data = envelope["data"]
            stream = f"stream_{name}"
            if type_ == "feeds":
                self.assertEqual((data["name"], data["streamId"], data["accountId"]),
                                 (stream, f"LOCAL1/{stream}", "LOCAL1"))
                self.assertTrue(data["active"])
                self.assertEqual(len(data["feedId"]), 36)
            elif type_ == "recordings":
                self.assertEqual(data["streamName"], stream)
                self.assertIsInstance(data["recordFileId"], int)
                self.assertIsInstance(data["tokenId"], int)
                self.assertIn("tracks", data["metadata"])
            elif type_ == "media":
                self.assertEqual((data["streamName"], data["streamId"]), (stream, f"LOCAL1/{stream}"))
                self.assertEqual(data["type"], "clip")
                int(data["mediaAssetId"], 16)
            elif type_ == "transcoder":
                self.assertEqual((data["transcoderName"], data["status"]), ("tc_x", "Active"))
            else:
                self.assertEqual(data, {"name": stream, "accountId": "LOCAL1", "streamId": f"LOCAL1/{stream}"})
        self.check_thumbnail(by_type["Thumbnail"], secret, "LOCAL1/stream_Thumbnail")

        # The delivery log matches what arrived, byte for byte.
        records = wait_until(lambda: len(self.platform.deliveries()) == 6 and self.platform.deliveries())
        received = {hashlib.sha256(r["body"]).hexdigest() for r in got}
        self.assertEqual({r["sha256"] for r in records}, received)
        for record in records:
            self.assertTrue(record["test"])
            self.assertEqual(record["status"], 200)
            self.assertIsNone(record["error"])
            self.assertEqual(record["secretVersion"], 0)
            self.assertEqual(record["webhookId"], hook["id"])
            self.assertLessEqual(record["started"], record["finished"])
            self.assertTrue(verify(secret, base64.b64decode(record["bodyBase64"]) if record["kind"] == "thumbnail"
                                   else record["body"].encode(), record["headers"]["X-Millicast-Signature"]))
            if record["kind"] == "thumbnail":
                self.assertEqual((record["type"], record["event"], record["body"]), ("thumbnail", None, None))
                self.assertEqual(record["streamId"], "LOCAL1/stream_Thumbnail")
                self.assertEqual(record["headers"]["X-Millicast-Stream-Id"], "LOCAL1/stream_Thumbnail")
            else:
                self.assertIsNone(record["bodyBase64"])
                self.assertEqual(record["timestamp"], json.loads(record["body"])["timestamp"])
        # Default stream name of a test event.
        self.platform.ok("POST", "/api/webhooks/test/ViewerConnection")
        request = self.receiver.wait_for("/ok/all", 7)[-1]
        self.assertEqual(json.loads(request["body"])["data"]["name"], "test_stream")

    def test_targeting_by_flag_and_filter(self):
        feeds_only = self.create(self.receiver.url("/ok/feeds"), isFeedHooks=True)
        filtered = self.create(self.receiver.url("/ok/cam"), **ALL_FLAGS, filter="^cam-")
        thumbs = self.create(self.receiver.url("/ok/thumbs"), isThumbnailHooks=True, filter="studio")
        nothing = self.create(self.receiver.url("/ok/none"))
        for name, stream in (("Feeds", "cam-1"), ("Feeds", "other"), ("Media", "cam-2"),
                             ("Thumbnail", "my-studio-b"), ("Thumbnail", "cam-9"),
                             ("ViewerConnection", "xcam-1")):
            self.platform.ok("POST", f"/api/webhooks/test/{name}", {"streamName": stream})
        # The filter applies to transcoderName for transcoder events.
        self.platform.ok("POST", "/api/webhooks/test/Transcoder", {"transcoderName": "cam-tc"})
        self.platform.ok("POST", "/api/webhooks/test/Transcoder", {"transcoderName": "tc", "streamName": "cam-1"})
        wait_until(lambda: len(self.platform.deliveries()) == 7)
        time.sleep(0.3)
        log = self.platform.deliveries()
        self.assertEqual(len(log), 7)
        seen = collections.defaultdict(set)
        for record in log:
            seen[record["webhookId"]].add((record["type"], record["streamId"]))
        self.assertEqual(seen[feeds_only["id"]], {("feeds", "LOCAL1/cam-1"), ("feeds", "LOCAL1/other")})
        self.assertEqual(seen[filtered["id"]], {("feeds", "LOCAL1/cam-1"), ("media", "LOCAL1/cam-2"),
                                                ("thumbnail", "LOCAL1/cam-9"), ("transcoder", None)})
        self.assertEqual(seen[thumbs["id"]], {("thumbnail", "LOCAL1/my-studio-b")})
        self.assertNotIn(nothing["id"], seen)
        self.assertEqual(self.receiver.received("/ok/none"), [])
        # Changing the filter (and clearing it) takes effect for the next events.
        self.platform.ok("PUT", f"/api/webhooks/{filtered['id']}", {"filter": None, "isFeedHooks": False})
        self.platform.ok("POST", "/api/webhooks/test/ViewerConnection", {"streamName": "zzz"})
        self.platform.ok("POST", "/api/webhooks/test/Feeds", {"streamName": "cam-3"})
        wait_until(lambda: len(self.platform.deliveries()) == 9)
        new = self.platform.deliveries(since=7)
        self.assertEqual(sorted((r["webhookId"], r["type"]) for r in new),
                         sorted([(filtered["id"], "viewerConnection"), (feeds_only["id"], "feeds")]))

    def test_refresh_secret_switches_signing_at_once(self):
        hook = self.create(self.receiver.url("/ok/r"), isFeedHooks=True, isThumbnailHooks=True)
        old = hook["secret"]
        self.platform.ok("POST", "/api/webhooks/test/Feeds")
        first = self.receiver.wait_for("/ok/r", 1)[0]
        self.assertTrue(verify(old, first["body"], first["headers"]["x-millicast-signature"]))

        new = self.platform.ok("PUT", f"/api/webhooks/{hook['id']}", {"refreshSecret": True})["secret"]
        self.assertNotEqual(new, old)
        self.platform.ok("POST", "/api/webhooks/test/Feeds")
        self.platform.ok("POST", "/api/webhooks/test/Thumbnail")
        for request in self.receiver.wait_for("/ok/r", 3)[1:]:
            signature = request["headers"]["x-millicast-signature"]
            self.assertTrue(verify(new, request["body"], signature))
            self.assertFalse(verify(old, request["body"], signature))
        versions = [r["secretVersion"] for r in sorted(self.platform.deliveries(), key=lambda r: r["started"])]
        self.assertEqual(versions, [0, 1, 1])

    def test_refresh_during_traffic_applies_to_every_later_delivery(self):
        hook = self.create(self.receiver.url("/delay/rt"), **ALL_FLAGS)
        secrets_by_version = {0: hook["secret"]}
        run = self.platform.request("POST", "/_local/traffic", {"count": 600, "rate": 300}, auth=None)[2]["id"]
        time.sleep(0.6)
        before_put = now_ms()
        secrets_by_version[1] = self.platform.ok("PUT", f"/api/webhooks/{hook['id']}", {"refreshSecret": True})["secret"]
        after_put = now_ms()
        time.sleep(0.6)
        before_renew = now_ms()
        status, _, renewed = self.platform.request("POST", f"/_local/webhooks/{hook['id']}/renew", auth=None)
        after_renew = now_ms()
        self.assertEqual(status, 200)
        secrets_by_version[2] = renewed["data"]["secret"]
        wait_until(lambda: self.platform.request("GET", f"/_local/traffic/{run}", auth=None)[2]["done"], 20)
        records = self.platform.deliveries()
        self.assertEqual(len(records), 600)
        received = {hashlib.sha256(r["body"]).hexdigest(): r for r in self.receiver.received("/delay/rt")}
        self.assertEqual(len(received), 600)
        counts = collections.Counter()
        for record in records:
            version = record["secretVersion"]
            counts[version] += 1
            request = received[record["sha256"]]
            signature = request["headers"]["x-millicast-signature"]
            for v, secret in secrets_by_version.items():
                self.assertEqual(verify(secret, request["body"], signature), v == version)
            if record["started"] > after_put:
                self.assertGreaterEqual(version, 1, record["seq"])
            if record["started"] > after_renew:
                self.assertEqual(version, 2, record["seq"])
            if record["started"] < before_put:
                self.assertEqual(version, 0, record["seq"])
            if record["started"] < before_renew:
                self.assertLessEqual(version, 1, record["seq"])
        self.assertTrue(all(counts[v] > 50 for v in (0, 1, 2)), counts)

    def test_no_retries_and_http_errors_do_not_disable(self):
        hook = self.create(self.receiver.url("/fail/x"), isFeedHooks=True)
        down = self.create(f"http://127.0.0.1:{closed_port()}/down", isRecordingHooks=True)
        for _ in range(12):  # more than the default disabling threshold (10)
            self.platform.ok("POST", "/api/webhooks/test/Feeds")
        self.platform.ok("POST", "/api/webhooks/test/Recordings")
        wait_until(lambda: len(self.platform.deliveries()) == 13)
        time.sleep(1.0)  # long enough for any retry to show up
        self.assertEqual(len(self.receiver.received("/fail/x")), 12, "exactly one attempt per event")
        log = self.platform.deliveries()
        self.assertEqual(len(log), 13)
        self.assertEqual(len({r["sha256"] for r in log}), 13)
        failed = [r for r in log if r["webhookId"] == hook["id"]]
        self.assertTrue(all(r["status"] == 500 and r["error"] is None for r in failed))
        self.assertEqual(failed[0]["responseBody"], '{"ok":false}')
        refused = [r for r in log if r["webhookId"] == down["id"]]
        self.assertEqual(len(refused), 1)
        self.assertIsNone(refused[0]["status"])
        self.assertTrue(refused[0]["error"].startswith("connection error"), refused[0]["error"])
        self.assertIsNone(self.platform.ok("GET", f"/api/webhooks/{hook['id']}")["disabled"])

    def test_delivery_log_since_limit_and_record_file(self):
        record = Path(tempfile.mkdtemp()) / "deliveries.jsonl"
        self.addCleanup(lambda: (record.unlink(missing_ok=True), record.parent.rmdir()))
        platform = PlatformProcess("--record", str(record))
        self.addCleanup(platform.kill)
        hook = platform.ok("POST", "/api/webhooks", {"url": self.receiver.url("/ok/log"), "isFeedHooks": True,
                                                       "isThumbnailHooks": True})
        for name in ("Feeds", "Thumbnail", "Feeds", "Thumbnail", "Feeds"):
            platform.ok("POST", f"/api/webhooks/test/{name}")
        wait_until(lambda: len(platform.deliveries()) == 5)
        log = platform.deliveries()
        self.assertEqual([r["seq"] for r in log], [1, 2, 3, 4, 5])
        self.assertEqual([r["seq"] for r in platform.deliveries(since=3)], [4, 5])
        self.assertEqual([r["seq"] for r in platform.deliveries(since=1, limit=2)], [2, 3])
        self.assertEqual(platform.deliveries(since=5), [])
        self.assertEqual(len(platform.deliveries(webhookId=hook["id"])), 5)
        self.assertEqual(platform.deliveries(webhookId=hook["id"] + 1), [])
        keys = {"seq", "webhookId", "url", "kind", "type", "event", "streamId", "timestamp", "sha256",
                "size", "body", "bodyBase64", "headers", "secretVersion", "status", "error", "test",
                "started", "finished", "runId", "responseBody"}
        for entry in log:
            self.assertEqual(set(entry), keys)
            raw = entry["body"].encode() if entry["kind"] == "json" else base64.b64decode(entry["bodyBase64"])
            self.assertEqual(hashlib.sha256(raw).hexdigest(), entry["sha256"])
            self.assertEqual(len(raw), entry["size"])
            self.assertEqual(entry["url"], self.receiver.url("/ok/log"))
        self.assertEqual(platform.stop(), 0)
        lines = [json.loads(line) for line in record.read_text().splitlines()]
        self.assertEqual(sorted(lines, key=lambda r: r["seq"]), log)


class DisableAfterConnectionFailuresTest(PlatformCase):
    platform_args = ("--disable-after", "3", "--disable-minutes", "30", "--timeout", "2")

    def test_disabled_after_failures_then_re_enabled(self):
        hook = self.create(f"http://127.0.0.1:{closed_port()}/gone", isFeedHooks=True)
        other = self.create(self.receiver.url("/ok/other"), isFeedHooks=True)
        wid = hook["id"]
        for i in range(3):
            self.platform.ok("POST", "/api/webhooks/test/Feeds")
            wait_until(lambda: len(self.platform.deliveries(webhookId=wid)) == i + 1)
        disabled = wait_until(lambda: self.platform.ok("GET", f"/api/webhooks/{wid}")["disabled"])
        self.assertEqual(set(disabled), {"until", "reason"})
        self.assertIn("3 consecutive", disabled["reason"])
        until = disabled["until"]
        self.assertRegex(until, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        from datetime import datetime
        until_s = datetime.strptime(until, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
        self.assertAlmostEqual(until_s - time.time(), 30 * 60, delta=30)
        listed = self.platform.ok("GET", "/api/webhooks/list")
        self.assertEqual(listed[0]["disabled"], disabled)
        self.assertIsNone(listed[1]["disabled"])

        # Disabled: nothing more is delivered (the other webhook still gets everything).
        for _ in range(3):
            self.platform.ok("POST", "/api/webhooks/test/Feeds")
        self.receiver.wait_for("/ok/other", 6)
        time.sleep(0.5)
        self.assertEqual(len(self.platform.deliveries(webhookId=wid)), 3)
        self.assertIsNone(self.platform.ok("GET", f"/api/webhooks/{other['id']}")["disabled"])
        # Repeating the current URL (with other changes) does not re-enable it.
        self.platform.ok("PUT", f"/api/webhooks/{wid}", {"url": hook["url"], "isMediaHooks": True})
        self.platform.ok("POST", "/api/webhooks/test/Feeds")
        self.receiver.wait_for("/ok/other", 7)
        time.sleep(0.3)
        self.assertEqual(len(self.platform.deliveries(webhookId=wid)), 3)
        self.assertEqual(self.platform.ok("GET", f"/api/webhooks/{wid}")["disabled"], disabled)

        enabled = self.platform.ok("PUT", f"/api/webhooks/{wid}", {"reEnable": True})
        self.assertIsNone(enabled["disabled"])
        state = self.platform.request("GET", f"/_local/webhooks/{wid}", auth=None)[2]
        self.assertEqual(state["consecutiveFailures"], 0)
        # The counter restarted: two failures do not disable it again, the third does.
        for i in range(2):
            self.platform.ok("POST", "/api/webhooks/test/Feeds")
        wait_until(lambda: len(self.platform.deliveries(webhookId=wid)) == 5)
        self.assertIsNone(self.platform.ok("GET", f"/api/webhooks/{wid}")["disabled"])
        self.platform.ok("POST", "/api/webhooks/test/Feeds")
        wait_until(lambda: self.platform.ok("GET", f"/api/webhooks/{wid}")["disabled"])

        # Pointing it at another URL re-enables it too (as the vendor's Node client documents),
        # counter included.
        moved = self.platform.ok("PUT", f"/api/webhooks/{wid}", {"url": self.receiver.url("/ok/back")})
        self.assertIsNone(moved["disabled"])
        state = self.platform.request("GET", f"/_local/webhooks/{wid}", auth=None)[2]
        self.assertEqual(state["consecutiveFailures"], 0)
        self.platform.ok("POST", "/api/webhooks/test/Feeds")
        request = self.receiver.wait_for("/ok/back", 1)[0]
        self.assertTrue(verify(hook["secret"], request["body"], request["headers"]["x-millicast-signature"]))


class DisableAfterTimeoutsTest(PlatformCase):
    platform_args = ("--disable-after", "3", "--disable-minutes", "0.03", "--timeout", "0.4")

    def test_timeouts_disable_until_it_expires(self):
        hook = self.create(self.receiver.url("/slow/t"), isMediaHooks=True)
        wid = hook["id"]
        for _ in range(3):
            self.platform.ok("POST", "/api/webhooks/test/Media")
        wait_until(lambda: len(self.platform.deliveries(webhookId=wid)) == 3)
        log = self.platform.deliveries()
        self.assertTrue(all(r["status"] is None and r["error"].startswith("timeout") for r in log), log)
        self.assertTrue(all(r["finished"] - r["started"] < 1000 for r in log), "the timeout is honoured")
        disabled = wait_until(lambda: self.platform.ok("GET", f"/api/webhooks/{wid}")["disabled"])
        self.assertIn("reason", disabled)
        self.platform.ok("POST", "/api/webhooks/test/Media")
        time.sleep(0.3)
        self.assertEqual(len(self.receiver.received("/slow/t")), 3)
        # 0.03 minutes later it is enabled again by itself (the receiver records before it stalls).
        wait_until(lambda: self.platform.ok("GET", f"/api/webhooks/{wid}")["disabled"] is None, 5)
        self.platform.ok("POST", "/api/webhooks/test/Media")
        self.receiver.wait_for("/slow/t", 4)


class TrafficTest(PlatformCase):
    def run_traffic(self, body: dict, timeout: float = 45) -> dict:
        status, _, started = self.platform.request("POST", "/_local/traffic", body, auth=None)
        self.assertEqual(status, 202, started)
        self.assertEqual(set(started), {"id"})
        run_id = started["id"]
        return wait_until(lambda: (lambda s: s["done"] and s)(
            self.platform.request("GET", f"/_local/traffic/{run_id}", auth=None)[2]), timeout, 0.2)

    def test_traffic_stream_of_2000_deliveries(self):
        main = self.create(self.receiver.url("/delay/main"), **ALL_FLAGS)
        side = self.create(self.receiver.url("/delay/side"), isFeedHooks=True, isThumbnailHooks=True,
                           filter="^studio-a$")
        status = self.run_traffic({"count": 2000, "rate": 250, "thumbnailShare": 0.15,
                                   "streams": ["live-main", "studio-a", "café-ü"]})
        requests = {"main": self.receiver.received("/delay/main"), "side": self.receiver.received("/delay/side")}
        self.assertEqual(len(requests["main"]), 2000)
        self.assertEqual((status["requested"], status["events"], status["skipped"], status["dropped"]),
                         (2000, 2000, 0, 0))
        self.assertEqual(status["sent"], 2000 + len(requests["side"]))
        self.assertEqual(status["dispatched"], status["sent"])
        self.assertEqual(status["statuses"], {"200": status["sent"]})
        self.assertGreater(len(requests["side"]), 50)

        records = self.platform.deliveries()
        self.assertEqual(len(records), status["sent"])
        self.assertTrue(all(r["runId"] == status["id"] and not r["test"] for r in records))
        main_records = [r for r in records if r["webhookId"] == main["id"]]
        elapsed = (max(r["finished"] for r in main_records) - min(r["started"] for r in main_records)) / 1000
        achieved = len(main_records) / elapsed
        sys.stderr.write(f"\n  traffic: 2000 deliveries requested at 250/s -> achieved {achieved:.1f}/s "
                         f"(run status rate {status['rate']}/s, {status['sent']} deliveries in all) ")
        self.assertGreaterEqual(achieved, 100)
        self.assertGreaterEqual(status["rate"], 100)

        # Every delivery recorded with its body hash, exactly what arrived where.
        for name, hook in (("main", main), ("side", side)):
            arrived = collections.Counter(hashlib.sha256(r["body"]).hexdigest() for r in requests[name])
            logged = collections.Counter(r["sha256"] for r in records if r["webhookId"] == hook["id"])
            self.assertEqual(arrived, logged, name)
            for request in requests[name]:
                self.assertTrue(verify(hook["secret"], request["body"], request["headers"]["x-millicast-signature"]))

        kinds = collections.Counter()
        thumbnails = []
        for request in requests["main"]:
            if request["headers"]["content-type"] == "image/jpeg":
                kinds["thumbnail"] += 1
                thumbnails.append(request["body"])
                self.assertTrue(request["headers"]["x-millicast-stream-id"].startswith("LOCAL1/"))
            else:
                envelope = json.loads(request["body"])
                self.assertEqual(json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode(),
                                 request["body"])
                kinds[(envelope["type"], envelope["event"])] += 1
        self.assertEqual(set(kinds) - {"thumbnail"}, JSON_EVENTS)
        self.assertAlmostEqual(kinds["thumbnail"], 300, delta=1)
        self.assertTrue(all(kinds[k] >= 100 for k in JSON_EVENTS), kinds)
        self.assertEqual(len({hashlib.sha256(t).hexdigest() for t in thumbnails}), len(thumbnails), "distinct images")
        self.assertTrue(all(jpeg_segments_valid(t) for t in thumbnails))
        for record in (r for r in records if r["webhookId"] == side["id"]):
            self.assertIn(record["type"], ("feeds", "thumbnail"))
            self.assertEqual(record["streamId"], "LOCAL1/studio-a")
        media_kinds = {json.loads(r["body"])["data"]["type"] for r in records if r["type"] == "media"}
        self.assertEqual(media_kinds, {"clip", "recording"})
        self.assertIn("LOCAL1/café-ü", {r["streamId"] for r in records})

        # Capacity without pacing limits (reported, not asserted beyond the floor).
        self.platform.ok("DELETE", f"/api/webhooks/{side['id']}")
        status = self.run_traffic({"count": 1500, "rate": 10000, "thumbnailShare": 0.2})
        self.assertEqual(status["statuses"], {"200": 1500})
        sys.stderr.write(f"\n  traffic: unpaced capacity {status['rate']}/s (1500 deliveries, 5-20 ms receiver) ")
        self.assertGreaterEqual(status["rate"], 100)

    def test_traffic_with_no_eligible_webhook_and_run_listing(self):
        self.create(self.receiver.url("/ok/none"), isTranscoderHooks=True, filter="^nothing$")
        status = self.run_traffic({"count": 40, "rate": 400})
        self.assertEqual((status["events"], status["skipped"], status["sent"]), (40, 40, 0))
        runs = self.platform.request("GET", "/_local/traffic", auth=None)[2]
        self.assertEqual([r["id"] for r in runs], [status["id"]])


if __name__ == "__main__":
    unittest.main()
