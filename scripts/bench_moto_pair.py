"""How much two moto servers answering at once cost on this machine (docs/performance.md, the event bus).

The relay sends to SQS and puts on EventBridge alongside; the cold_start bench serves them from two moto
processes. This measures the same pair from boto3, with the two servers on one CPU, on two, and unpinned:
one SendMessage alone vs a SendMessage and a PutEvents issued together (median of 150 each).
Run: .venv/bin/python scripts/bench_moto_pair.py   (Linux; taskset from util-linux)
"""

import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROUNDS = 150


def start_moto(cpu):
    command = [sys.executable, os.path.join(ROOT, "scripts/moto_server.py")]
    if cpu is not None:
        command = ["taskset", "-c", str(cpu)] + command
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    return process, "http://127.0.0.1:%s" % process.stdout.readline().strip()


def median_ms(samples):
    return statistics.median(samples) * 1000


def main():
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    layouts = [("one CPU", (0, 0)), ("two CPUs", (0, 1)), ("unpinned", (None, None))]
    if (os.cpu_count() or 1) < 2:
        layouts = layouts[2:]
    for label, (queue_cpu, bus_cpu) in layouts:
        queue_moto, queue_endpoint = start_moto(queue_cpu)
        bus_moto, bus_endpoint = start_moto(bus_cpu)
        try:
            sqs = boto3.client("sqs", endpoint_url=queue_endpoint)
            events = boto3.client("events", endpoint_url=bus_endpoint)
            queue_url = sqs.create_queue(QueueName="bench")["QueueUrl"]
            events.create_event_bus(Name="bench")

            def send():
                sqs.send_message(QueueUrl=queue_url, MessageBody='{"type":"feeds","event":"started"}')

            def put():
                events.put_events(Entries=[{"Source": "millicast-webhook-relay", "DetailType": "feeds",
                                            "Detail": '{"webhook":{}}', "EventBusName": "bench"}])

            alone, together = [], []
            with ThreadPoolExecutor(2) as pool:
                for _ in range(ROUNDS):
                    started = time.perf_counter()
                    send()
                    alone.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    for future in [pool.submit(send), pool.submit(put)]:
                        future.result()
                    together.append(time.perf_counter() - started)
            print("%-9s send alone %.2f ms, send and put together %.2f ms"
                  % (label, median_ms(alone), median_ms(together)))
        finally:
            for process in (queue_moto, bus_moto):
                process.kill()
                process.wait()


if __name__ == "__main__":
    main()
