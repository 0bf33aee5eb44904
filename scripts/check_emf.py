"""Checks log records against the published CloudWatch embedded metric format (EMF) specification,
independently of the relay's own writer (tests/it/dashboard.rs feeds it the records the real handler
wrote on every path).

Usage: check_emf.py FILE|-      one JSON log record per line

Every record with an `_aws` member must:
- validate against the JSON Schema AWS publishes with the specification (scripts/emf_schema.json);
- follow the specification's rules that the schema cannot express (quoted from
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
  the log event is one JSON object "with no additional data at the beginning or end"; at most
  256 KB; its objects carry no members the specification does not define; a directive has at most
  100 metric definitions; every dimension key is a member of the root node whose value is a string
  of at most 1024 characters; every metric name is a member of the root node (not nested) whose
  value is a number or an array of at most 100 numbers; Timestamp is in milliseconds since the epoch.
Records without `_aws` are reported as plain log records (the relay's "event lost" records).

Then, as a self-test, it mutates the first EMF record in ways the specification forbids and fails
unless every mutation is caught.
"""

import copy
import json
import pathlib
import sys

import jsonschema

SCHEMA = json.loads((pathlib.Path(__file__).parent / "emf_schema.json").read_text())
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)

# The CloudWatch Logs event limit the specification names for EMF documents. (The current page
# says 1 MB; its earlier text, 256 KB, is the stricter of the two.)
MAX_EVENT_BYTES = 256 * 1024
MAX_METRICS = 100
MAX_VALUES = 100
MAX_DIMENSION_VALUE = 1024
METADATA_MEMBERS = {"CloudWatchMetrics", "Timestamp"}
DIRECTIVE_MEMBERS = {"Namespace", "Dimensions", "Metrics"}
DEFINITION_MEMBERS = {"Name", "Unit", "StorageResolution"}


def is_number(value):
    # JSON true/false are not numbers, although Python's bool is an int.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def parse(line):
    return json.loads(line, parse_constant=reject_constant)


def problems_of(line):
    """What is wrong with one log line as an EMF document (empty: valid)."""
    if line != line.strip():
        return ["data before or after the JSON object"]
    if len(line.encode()) > MAX_EVENT_BYTES:
        return [f"{len(line.encode())} bytes: over the {MAX_EVENT_BYTES}-byte log event limit"]
    try:
        record = parse(line)
    except ValueError as error:
        return [f"not JSON: {error}"]
    if not isinstance(record, dict):
        return ["not a JSON object"]
    problems = [f"schema: {error.message} at {list(error.absolute_path)}" for error in VALIDATOR.iter_errors(record)]
    if problems:
        return problems
    metadata = record["_aws"]
    problems += [f"_aws has a member the specification does not define: {m}" for m in set(metadata) - METADATA_MEMBERS]
    if not 10**12 <= metadata["Timestamp"] < 10**14:
        problems.append(f"Timestamp {metadata['Timestamp']} is not milliseconds since the epoch")
    for directive in metadata["CloudWatchMetrics"]:
        namespace = directive["Namespace"]
        problems += [f"{namespace}: directive member {m} is not in the specification" for m in set(directive) - DIRECTIVE_MEMBERS]
        if len(directive["Metrics"]) > MAX_METRICS:
            problems.append(f"{namespace}: {len(directive['Metrics'])} metric definitions (at most {MAX_METRICS})")
        for dimension_set in directive["Dimensions"]:
            for key in dimension_set:
                value = record.get(key)
                if not isinstance(value, str):
                    problems.append(f"{namespace}: dimension {key} is not a string member of the root node: {value!r}")
                elif len(value) > MAX_DIMENSION_VALUE:
                    problems.append(f"{namespace}: dimension {key} has {len(value)} characters (at most {MAX_DIMENSION_VALUE})")
        for definition in directive["Metrics"]:
            name = definition["Name"]
            problems += [f"{namespace}: metric {name}: member {m} is not in the specification" for m in set(definition) - DEFINITION_MEMBERS]
            value = record.get(name)
            if isinstance(value, list):
                if len(value) > MAX_VALUES or not all(is_number(v) for v in value):
                    problems.append(f"{namespace}: metric {name}: an array of at most {MAX_VALUES} numbers, not {value!r}")
            elif not is_number(value):
                problems.append(f"{namespace}: metric {name} is not a numeric member of the root node: {value!r}")
    return problems


def mutations(record):
    """Lines that break the specification, each built from a valid record."""

    def changed(change):
        mutated = copy.deepcopy(record)
        change(mutated)
        return json.dumps(mutated)

    directive = lambda r: r["_aws"]["CloudWatchMetrics"][0]  # noqa: E731
    metric = directive(record)["Metrics"][0]["Name"]
    dimension = directive(record)["Dimensions"][0][0]
    return {
        "text after the object": json.dumps(record) + " trailing",
        "over 256 KB": changed(lambda r: r.update(padding="x" * MAX_EVENT_BYTES)),
        "no Timestamp": changed(lambda r: r["_aws"].pop("Timestamp")),
        "Timestamp in seconds": changed(lambda r: r["_aws"].update(Timestamp=r["_aws"]["Timestamp"] // 1000)),
        "Timestamp as a string": changed(lambda r: r["_aws"].update(Timestamp=str(r["_aws"]["Timestamp"]))),
        "unknown member in _aws": changed(lambda r: r["_aws"].update(Extra=1)),
        "empty namespace": changed(lambda r: directive(r).update(Namespace="")),
        "no dimension sets": changed(lambda r: directive(r).update(Dimensions=[])),
        "31 dimension keys": changed(
            lambda r: (directive(r).update(Dimensions=[[f"d{i}" for i in range(31)]]), r.update({f"d{i}": "v" for i in range(31)}))
        ),
        "dimension not at the root": changed(lambda r: r.pop(dimension)),
        "numeric dimension value": changed(lambda r: r.update({dimension: 7})),
        "dimension value over 1024 characters": changed(lambda r: r.update({dimension: "v" * 1025})),
        "metric not at the root": changed(lambda r: r.pop(metric)),
        "metric nested, not a root member": changed(lambda r: (directive(r)["Metrics"][0].update(Name=f"n.{metric}"), r.update(n={metric: 1}))),
        "string metric value": changed(lambda r: r.update({metric: "1"})),
        "boolean metric value": changed(lambda r: r.update({metric: True})),
        "null metric value": changed(lambda r: r.update({metric: None})),
        "NaN metric value": changed(lambda r: r.update({metric: float("nan")})),
        "101 metric values": changed(lambda r: r.update({metric: [1] * 101})),
        "101 metric definitions": changed(
            lambda r: (directive(r).update(Metrics=[{"Name": f"m{i}"} for i in range(101)]), r.update({f"m{i}": 1 for i in range(101)}))
        ),
        "unknown unit": changed(lambda r: directive(r)["Metrics"][0].update(Unit="Millis")),
        "metric definition without a name": changed(lambda r: directive(r)["Metrics"][0].pop("Name")),
    }


def main(path):
    text = sys.stdin.read() if path == "-" else pathlib.Path(path).read_text()
    lines = [line for line in text.split("\n") if line]
    emf, plain, failed = [], 0, 0
    for number, line in enumerate(lines, 1):
        try:
            is_emf = "_aws" in parse(line)
        except (ValueError, TypeError):
            is_emf = True  # not even a JSON object: let problems_of say so
        if not is_emf:
            plain += 1
            continue
        problems = problems_of(line)
        for problem in problems:
            print(f"line {number}: {problem}")
        failed += bool(problems)
        emf.append(line)
    if failed or not emf:
        print(f"check_emf: {failed} of {len(emf)} EMF record(s) break the specification" if emf else "check_emf: no EMF record")
        sys.exit(1)
    missed = [name for name, line in mutations(parse(emf[0])).items() if not problems_of(line)]
    if missed:
        print(f"check_emf self-test: mutations not caught: {missed}")
        sys.exit(1)
    sizes = sorted(len(line.encode()) + 1 for line in emf)  # with its newline, as written
    print(
        f"check_emf: {len(emf)} EMF record(s) valid against the published schema and rules "
        f"({plain} plain record(s) without _aws); all {len(mutations(parse(emf[0])))} invalid mutations caught; "
        f"record sizes {sizes[0]}-{sizes[-1]} bytes, median {sizes[len(sizes) // 2]}"
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "-")
