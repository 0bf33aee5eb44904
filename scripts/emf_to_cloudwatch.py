"""What CloudWatch Logs does with the relay's Embedded Metric Format records, for `make run`:
reads a relay log (one JSON record per line) and puts the metrics its EMF directives declare into
CloudWatch (moto, through AWS_ENDPOINT_URL), summed per minute, so that `relayctl status` and the
dashboard queries see the relay's real counts locally.

Usage: emf_to_cloudwatch.py LOGFILE
"""

import collections
import datetime
import json
import sys

import boto3


def main(path: str) -> None:
    # (namespace, metric, unit, dimensions, minute) -> values
    series = collections.defaultdict(list)
    records = 0
    with open(path, errors="replace") as log:
        for line in log:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            aws = record.get("_aws") if isinstance(record, dict) else None
            if not aws:
                continue
            records += 1
            minute = int(aws["Timestamp"]) // 60_000 * 60
            for directive in aws["CloudWatchMetrics"]:
                for dimension_set in directive["Dimensions"]:
                    dimensions = tuple((name, str(record[name])) for name in dimension_set)
                    for metric in directive["Metrics"]:
                        value = record.get(metric["Name"])
                        if isinstance(value, (int, float)):
                            key = (directive["Namespace"], metric["Name"], metric.get("Unit", "None"), dimensions, minute)
                            series[key].append(float(value))
    cloudwatch = boto3.client("cloudwatch")
    data = collections.defaultdict(list)
    for (namespace, name, unit, dimensions, minute), values in series.items():
        data[namespace].append({
            "MetricName": name,
            "Dimensions": [{"Name": n, "Value": v} for n, v in dimensions],
            "Timestamp": datetime.datetime.fromtimestamp(minute, datetime.timezone.utc),
            "Unit": unit,
            "StatisticValues": {"SampleCount": len(values), "Sum": sum(values), "Minimum": min(values), "Maximum": max(values)},
        })
    for namespace, datums in data.items():
        for start in range(0, len(datums), 500):
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=datums[start : start + 500])
    print(f"{records} EMF record(s) → {sum(len(d) for d in data.values())} CloudWatch datapoint(s)")


if __name__ == "__main__":
    main(sys.argv[1])
