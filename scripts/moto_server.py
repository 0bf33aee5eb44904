"""Run moto (S3, SQS, EventBridge and the rest) in server mode on 127.0.0.1 for tests and `make run`.

Lambda's GetAccountSettings, which moto lacks, is added (scripts/lambda_stand_in.py).

Prints the bound port on the first stdout line, then serves until stdin reaches EOF,
so the server never outlives the process that started it (even one killed with SIGKILL).
With --ignore-stdin it serves until SIGTERM/SIGINT instead (scripts that stop it by PID).
Usage: moto_server.py [PORT] [--ignore-stdin]   (0 or no PORT: a free port)
"""

import datetime
import logging
import signal
import sys
import time

import moto.core.utils
import moto.events.models
import moto.moto_api._internal
import moto.s3.exceptions
import moto.s3.responses
import moto.sqs.models
from moto.server import ThreadedMotoServer

import lambda_stand_in

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

# EventBridge replays: moto 5.2.5 sends every archived event again, whatever the replay's time
# window, to every rule of the bus. EventBridge sends the events of the window
# (EventStartTime <= time <= EventEndTime), to the rules Destination.FilterArns names when it
# names any (API reference, StartReplay and ReplayDestination). Done that way here, so that a
# test of a replay by time window proves something.


def _epoch_seconds(value) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value)
    try:
        return float(text)
    except ValueError:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _replay_the_window(self, archive) -> None:
    backend = moto.events.models.events_backends[self.account_id][self.region]
    bus = backend.describe_event_bus(self.destination["Arn"].split("/")[-1])
    start = _epoch_seconds(self.event_start_time)
    end = _epoch_seconds(self.event_end_time)
    only = set(self.destination.get("FilterArns") or [])
    for event in archive.events:
        if not start <= _epoch_seconds(event["time"]) <= end:
            continue
        for rule in bus.rules.values():
            if only and rule.arn not in only:
                continue
            rule.send_to_targets(
                dict(event, **{"id": str(moto.moto_api._internal.mock_random.uuid4()), "replay-name": self.name}),
                transform_input=False,
            )
    self.state = moto.events.models.ReplayState.COMPLETED
    self.end_time = moto.core.utils.unix_time()


moto.events.models.Replay.replay_events = _replay_the_window

# Lambda's GetAccountSettings (relayctl status), which moto does not implement
# (scripts/lambda_stand_in.py; LOCAL_LAMBDA_CONCURRENCY sets the quota).
lambda_stand_in.install()


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
