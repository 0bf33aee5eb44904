"""Run moto (S3 + SQS) in server mode on 127.0.0.1 for tests and `make run`.

Prints the bound port on the first stdout line, then serves until stdin reaches EOF,
so the server never outlives the process that started it (even one killed with SIGKILL).
Usage: moto_server.py [PORT]   (0 or no argument: a free port)
"""

import sys

from moto.server import ThreadedMotoServer


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print(server.get_host_and_port()[1], flush=True)
    try:
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
