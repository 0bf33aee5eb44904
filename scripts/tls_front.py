"""A TLS front for a loopback HTTP server, for clients that speak HTTPS to port 443 only (the
platform vendor's Node client in tests/vendor-client/ drives scripts/local_platform.py through it).

Usage
-----
    .venv/bin/python scripts/tls_front.py --backend PORT [--port 443] [--wait-seconds 0]

Listens on 127.0.0.1:PORT (443 by default: binding it needs root or CAP_NET_BIND_SERVICE) with a
certificate for IP 127.0.0.1 signed by a private root made for this run (tls_server.py's chain:
nothing trusts it unless told to, e.g. with NODE_EXTRA_CA_CERTS), and relays every connection's
decrypted bytes to 127.0.0.1:BACKEND and back unchanged, so the backend sees exactly what the
client sent (chunked bodies, header order, keep-alive). Prints one JSON line,
{"port": ..., "root_pem": "..."}, once it listens, then serves until stdin reaches EOF (so it
never outlives the process that started it), SIGTERM or SIGINT.

  --wait-seconds S  when the port is in use (another run of the same test holds 443), retry for
                    up to S seconds before giving up with exit code 1.

Python 3.11 standard library, plus the `cryptography` package of the project's venv for the
certificate (through tls_server.py). One asyncio loop: TLS state is never shared between threads.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time

from tls_server import untrusted_chain  # scripts/ is on sys.path when this runs as a script

RELAY_CHUNK = 64 * 1024
HANDSHAKE_TIMEOUT_S = 10.0


def listen(port: int, wait_seconds: float) -> socket.socket:
    deadline = time.monotonic() + wait_seconds
    said = False
    while True:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # SO_REUSEADDR only: with SO_REUSEPORT a second front could share the port and take
        # connections meant for this one.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen(128)
            return sock
        except OSError as err:
            sock.close()
            if err.errno != errno.EADDRINUSE or time.monotonic() >= deadline:
                raise
            if not said:
                print(f"tls_front: 127.0.0.1:{port} is in use; waiting up to {wait_seconds:g} s",
                      file=sys.stderr, flush=True)
                said = True
            time.sleep(0.5)


def server_context() -> tuple[ssl.SSLContext, bytes]:
    """The server's TLS context and the root's certificate (PEM) that a client must trust."""
    root_pem, cert_pem, key_pem = untrusted_chain()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.NamedTemporaryFile() as cert_file, tempfile.NamedTemporaryFile() as key_file:
        cert_file.write(cert_pem)
        key_file.write(key_pem)
        cert_file.flush()
        key_file.flush()
        context.load_cert_chain(cert_file.name, key_file.name)
    return context, root_pem


async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, at_eof) -> None:
    try:
        while data := await reader.read(RELAY_CHUNK):
            writer.write(data)
            await writer.drain()
    except (OSError, ssl.SSLError):
        writer.close()  # a reset on one side ends the other side too
        return
    at_eof()


def relay_to(backend: int):
    async def relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", backend)
        except OSError as err:
            print(f"tls_front: cannot reach 127.0.0.1:{backend}: {err}", file=sys.stderr, flush=True)
            client_writer.close()
            return

        def client_done():
            # Half-close: the backend still answers a request the client sent before its EOF.
            if not up_writer.is_closing():
                try:
                    up_writer.write_eof()
                except OSError:
                    up_writer.close()

        try:
            await asyncio.gather(
                forward(client_reader, up_writer, client_done),
                # The backend closed: so does the client's connection (TLS cannot half-close).
                forward(up_reader, client_writer, client_writer.close),
            )
        finally:
            up_writer.close()
            client_writer.close()

    return relay


def quiet_handshake_failures(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    # A client that does not trust the root aborts the handshake: expected, not worth a trace.
    if isinstance(context.get("exception"), (ssl.SSLError, ConnectionError)):
        return
    loop.default_exception_handler(context)


async def serve(sock: socket.socket, context: ssl.SSLContext, backend: int, root_pem: bytes) -> None:
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(quiet_handshake_failures)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    def wait_for_stdin_eof():
        while sys.stdin.buffer.read(65536):
            pass
        loop.call_soon_threadsafe(stop.set)

    # A daemon thread, not the loop's executor: a blocked read must not hold up the exit.
    threading.Thread(target=wait_for_stdin_eof, name="stdin", daemon=True).start()
    server = await asyncio.start_server(relay_to(backend), sock=sock, ssl=context,
                                        ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S)
    print(json.dumps({"port": sock.getsockname()[1], "root_pem": root_pem.decode()}), flush=True)
    await stop.wait()
    server.close()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", type=int, required=True)
    parser.add_argument("--port", type=int, default=443)
    parser.add_argument("--wait-seconds", type=float, default=0.0)
    args = parser.parse_args(argv)
    context, root_pem = server_context()
    try:
        sock = listen(args.port, args.wait_seconds)
    except OSError as err:
        sys.exit(f"tls_front: cannot listen on 127.0.0.1:{args.port}: {err}")
    asyncio.run(serve(sock, context, args.backend, root_pem))


if __name__ == "__main__":
    main()
