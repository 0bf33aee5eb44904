"""Print the `make bench` table: criterion's estimates, the cold-start harness's JSON (argv[1]),
`openssl speed` on this machine, and the zipped arm64 package size, each against its target."""

import io
import json
import os
import platform
import re
import subprocess
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def criterion_median_ns(group, name):
    path = os.path.join(ROOT, "target", "criterion", group, name, "new", "estimates.json")
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"]


def openssl_sha1_bytes_per_s():
    out = subprocess.run(
        ["openssl", "speed", "-evp", "sha1", "-bytes", "1048576", "-seconds", "3"],
        capture_output=True, text=True, check=True,
    ).stdout
    line = [l for l in out.splitlines() if l.startswith("sha1")][-1]
    return float(re.findall(r"([\d.]+)k", line)[-1]) * 1000


def zipped_size(path):
    if not os.path.exists(path):
        return None
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.write(path, "bootstrap")
    return len(buffer.getvalue())


def main():
    with open(sys.argv[1]) as f:
        system = json.load(f)
    openssl = openssl_sha1_bytes_per_s()
    verify_1mb = (1 << 20) / (criterion_median_ns("verify", "1MB") / 1e9)
    package = os.path.join(ROOT, ".aws-sam", "build", "WebhookRelayFunction", "bootstrap")
    zipped = zipped_size(package)
    init = system["init_ms"]
    init_sm = system["init_secrets_manager_ms"]
    round_trip = system["secret_round_trip_ms"]
    cpu = system["cpu_per_json_event_ms"]
    rss_mb = system["peak_rss_kib_after_1000_events"] / 1024
    handler_us = criterion_median_ns("handler", "json_event") / 1000
    rows = [
        ("init with WEBHOOK_SECRET (start → first poll), median of %d" % init["n"],
         "%.2f ms (min %.2f, p95 %.2f)" % (init["median"], init["min"], init["p95"]),
         "≤ 4 ms", init["median"] <= 4),
        ("init with WEBHOOK_SECRET_ID (secret read from moto at init)",
         "%.2f ms (min %.2f, p95 %.2f)" % (init_sm["median"], init_sm["min"], init_sm["p95"]),
         "≤ init + 1 round trip = %.2f ms" % (init["median"] + round_trip["median"]),
         init_sm["median"] <= init["median"] + round_trip["median"]),
        ("one local GetSecretValue round trip, new connection", "%.2f ms" % round_trip["median"], "—", None),
        ("process CPU per JSON event, SQS send included (/proc stat, %d rounds of %d)" % (cpu["n"], system["cpu_events_per_round"]),
         "%.3f ms (user %.3f + system %.3f)" % (cpu["median"], system["cpu_user_per_json_event_ms"]["median"],
                                               system["cpu_system_per_json_event_ms"]["median"]),
         "≤ 0.25 ms", cpu["median"] <= 0.25),
        ("… of which everything but the SQS send (same events answered 401, no AWS call)",
         "%.3f ms" % system["cpu_per_rejected_event_ms"]["median"], "—", None),
        ("handler CPU per JSON event (in-memory)", "%.2f µs" % handler_us, "≤ 20 µs", handler_us <= 20),
        ("handler CPU per 1 MB thumbnail (in-memory)", "%.0f µs" % (criterion_median_ns("handler", "thumbnail_1MB") / 1000), "—", None),
        ("verify 1 KB / 100 KB / 6 MB", "%.2f µs / %.1f µs / %.2f ms" % (
            criterion_median_ns("verify", "1KB") / 1000, criterion_median_ns("verify", "100KB") / 1000,
            criterion_median_ns("verify", "6MB") / 1e6), "—", None),
        ("verify a 1 MB thumbnail with 1 / 2 / 5 webhooks held: signer tried last (one HMAC per secret tried)",
         " / ".join("%.2f ms" % (criterion_median_ns("verify_webhooks_1MB", "%d_webhooks_worst_order" % n) / 1e6) for n in (1, 2, 5)),
         "—", None),
        ("… the signer matched before (tried first) / at a path naming it",
         " / ".join("%.2f" % (criterion_median_ns("verify_webhooks_1MB", "%d_webhooks_after_a_match" % n) / 1e6) for n in (1, 2, 5))
         + " ms; " + " / ".join("%.2f" % (criterion_median_ns("verify_webhooks_1MB", "%d_webhooks_path_names_it" % n) / 1e6) for n in (1, 2, 5)) + " ms",
         "flat: ≤ 1.2 × one webhook's",
         all(criterion_median_ns("verify_webhooks_1MB", "%d_webhooks_%s" % (n, case))
             <= 1.2 * criterion_median_ns("verify_webhooks_1MB", "1_webhooks_%s" % case)
             for n in (2, 5) for case in ("after_a_match", "path_names_it"))),
        ("verify 1 MB vs openssl speed -evp sha1", "%.0f MB/s vs %.0f MB/s = %.0f %%" % (verify_1mb / 1e6, openssl / 1e6, 100 * verify_1mb / openssl),
         "≥ 90 %", verify_1mb / openssl >= 0.9),
        ("first invocation vs warm (median, local moto)", "%.2f ms vs %.2f ms (Δ %.2f ms)" % (
            system["first_invoke_ms"]["median"], system["warm_invoke_ms"]["median"],
            system["first_invoke_ms"]["median"] - system["warm_invoke_ms"]["median"]),
         "Δ ≤ 5 ms", system["first_invoke_ms"]["median"] - system["warm_invoke_ms"]["median"] <= 5),
        ("the event bus on vs off: init (median, alternating cold starts)",
         "%.2f ms vs %.2f ms (Δ %.2f ms)" % (system["init_bus_on_ms"]["median"], system["init_bus_off_ms"]["median"],
                                            system["init_bus_on_ms"]["median"] - system["init_bus_off_ms"]["median"]),
         "Δ ≤ 0.5 ms", system["init_bus_on_ms"]["median"] - system["init_bus_off_ms"]["median"] <= 0.5),
        ("… warm JSON event (median, alternating, local moto: PutEvents beside SendMessage)",
         "%.2f ms vs %.2f ms (× %.2f)" % (system["warm_invoke_bus_on_ms"]["median"], system["warm_invoke_bus_off_ms"]["median"],
                                          system["warm_invoke_bus_on_ms"]["median"] / system["warm_invoke_bus_off_ms"]["median"]),
         "—", None),
        ("… warm JSON event, %d ms added to every AWS call (a proxy in front of each moto)" % system["aws_call_latency_ms"],
         "%.2f ms vs %.2f ms (× %.2f)" % (system["warm_invoke_bus_on_latency_ms"]["median"],
                                          system["warm_invoke_bus_off_latency_ms"]["median"],
                                          system["warm_invoke_bus_on_latency_ms"]["median"]
                                          / system["warm_invoke_bus_off_latency_ms"]["median"]),
         "≤ 1.2 ×", system["warm_invoke_bus_on_latency_ms"]["median"]
         <= 1.2 * system["warm_invoke_bus_off_latency_ms"]["median"]),
        ("forged 1 MB thumbnail, no re-read due (one pass over the secrets held)",
         "%.2f ms" % (criterion_median_ns("verify_forged_1MB", "no_reread_due") / 1e6), "—", None),
        ("peak RSS after 1,000 mixed events (1 MB thumbnails included)", "%.1f MB" % rss_mb, "≤ 16 MB", rss_mb <= 16),
        ("native release binary", "%.1f MB" % (system["binary_bytes"] / 1e6), "—", None),
        ("arm64 package (zipped bootstrap)",
         "%.2f MB (%.1f MB unzipped)" % (zipped / 1e6, os.path.getsize(package) / 1e6) if zipped else "not built (make package)",
         "≤ 4.5 MB", (zipped / 1e6 <= 4.5) if zipped else None),
    ]
    machine = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    print(f"\nmachine: {machine}, {os.cpu_count()} cores, {platform.system()} {platform.release()}\n")
    print("| measure | value | target | met |")
    print("|---|---|---|---|")
    for name, value, target, met in rows:
        print(f"| {name} | {value} | {target} | {'' if met is None else ('yes' if met else '**no**')} |")


if __name__ == "__main__":
    main()
