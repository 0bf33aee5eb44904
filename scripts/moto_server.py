"""Run moto (S3 + SQS) in server mode on 127.0.0.1 for tests and `make run`.

Prints the bound port on the first stdout line, then serves until stdin reaches EOF,
so the server never outlives the process that started it (even one killed with SIGKILL).
With --ignore-stdin it serves until SIGTERM/SIGINT instead (scripts that stop it by PID).
Usage: moto_server.py [PORT] [--ignore-stdin]   (0 or no PORT: a free port)
"""

import logging
import signal
import sys
import time

import moto.s3.exceptions
import moto.s3.responses
import moto.sqs.models
from moto.server import ThreadedMotoServer

# One log line per request costs moto ~7 % of its CPU under load, for output nobody reads.
logging.getLogger("werkzeug").setLevel(logging.ERROR)

# moto's SQS asks every message of a queue whether it is visible or delayed on each send and
# receive (4 passes, each a `unix_time_millis()` that builds two datetimes). Under sustained
# load a queue that grows a little makes every call slower, and the run collapses (seen with
# py-spy: 65 % of moto's time). The same clock, read directly, is ~20x cheaper; nothing else
# changes. moto is pinned (requirements-dev.txt), so this stays valid.
_unix_time_millis = moto.sqs.models.unix_time_millis


def _fast_unix_time_millis(dt=None):
    return time.time() * 1000.0 if dt is None else _unix_time_millis(dt)


moto.sqs.models.unix_time_millis = _fast_unix_time_millis

# S3 refuses a PUT whose user metadata is over 2 KB (400 MetadataTooLarge); moto stores it.
# Enforced here the strict way — every x-amz-meta-* header's full name and value, in UTF-8
# bytes — before moto writes anything, so a relay that would lose an event on real S3 fails
# the same way against the stand-in.
S3_USER_METADATA_LIMIT = 2048
_put_object = moto.s3.responses.S3Response.put_object


def _metadata_size(headers) -> int:
    return sum(
        len(name.encode()) + len(str(value).encode())
        for name, value in moto.s3.responses.metadata_from_headers(headers).items()
        if name.lower().startswith("x-amz-meta-")
    )


def _put_object_within_the_metadata_limit(self):
    size = _metadata_size(self.headers)
    if size > S3_USER_METADATA_LIMIT:
        raise MetadataTooLarge(size)
    return _put_object(self)


class MetadataTooLarge(moto.s3.exceptions.S3ClientError):
    code = 400

    def __init__(self, size: int):
        super().__init__(
            "MetadataTooLarge",
            f"Your metadata headers exceed the maximum allowed metadata size "
            f"({size} > {S3_USER_METADATA_LIMIT} bytes)",
        )


moto.s3.responses.S3Response.put_object = _put_object_within_the_metadata_limit


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--ignore-stdin"]
    port = int(args[0]) if args else 0
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print(server.get_host_and_port()[1], flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if "--ignore-stdin" in sys.argv:
            signal.pause()
        else:
            sys.stdin.read()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
