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
