"""Benchmark: lab start-up, the whole-estate scan, connections per endpoint, peak memory.

Prints the figures and, with --write, replaces its "Whole-estate scan" section of
bench/RESULTS.md. Loopback only: it scans the embedded lab, under the tests' guard.

    .venv/bin/python bench/demo.py --runs 3 --write
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

from results import loopback_only, markdown_table, publish

from checks.registry import default_registry
from scanner.inventory import load_inventory
from scanner.lab import Lab
from scanner.policy import load_policy
from scanner.runner import Runner, ScanOptions
from scanner.store import Store

SECTIONS = {"demo": "## Whole-estate scan: the demo inventory (`bench/demo.py`)",
            "all": "## Whole-estate scan: every lab service (`bench/demo.py --inventory all`)"}


def one_run(inventory_kind: str) -> dict:
    t0 = time.perf_counter()
    lab = Lab()
    info = lab.start()
    started = time.perf_counter() - t0
    try:
        registry = default_registry()
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(Path(tmp) / "h.db")
            audit = Path(tmp) / "audit.jsonl"  # the scan's record of every connection
            options = ScanOptions(resolver=info.resolver, ca_bundle=info.ca_bundle, trust_anchors=[info.trust_anchor],
                                  port_map=info.port_map, rate_per_ip=200.0, io_timeout=3.0, timeout=30.0,
                                  audit_log=audit)
            runner = Runner(options, registry, load_policy(None, registry), store)
            inventory = load_inventory(info.inventory if inventory_kind == "demo" else info.inventory_all)
            t1 = time.perf_counter()
            runner.scan(inventory)
            scanned = time.perf_counter() - t1
            store.close()
            records = [SimpleNamespace(**json.loads(line)) for line in audit.read_text().splitlines()]
        per_host = Counter(r.host for r in records  # to the estate: the resolver's queries apart
                           if not r.outcome.startswith("refused") and r.purpose != "dns-resolver")
        endpoints = sum(len(s.endpoints) for s in inventory.services)
        return {"start": started, "scan": scanned, "services": len(inventory.services), "endpoints": endpoints,
                "connections": sum(per_host.values()), "per_host_max": max(per_host.values()),
                "by_purpose": Counter(r.purpose for r in records)}
    finally:
        lab.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--inventory", choices=("demo", "all"), default="demo")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    loopback_only()
    runs = [one_run(args.inventory) for _ in range(args.runs)]
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    last = runs[-1]
    method = ("Start the embedded lab (every server of `scanner/lab/estate.toml` and `estate.d/`), scan its "
              f"{args.inventory} inventory through the normal runner (default concurrency and caps, rate limit "
              "raised to 200/s per address for loopback, io_timeout 3 s), stop the lab; "
              f"{args.runs} run(s) in one process. Connections are the scanner's own records "
              "(the audit log); peak memory is the process's maximum resident set size.")
    rows = [
        ["inventory", f"{args.inventory}: {last['services']} services, {last['endpoints']} endpoints"],
        ["lab start (median)", f"{statistics.median(r['start'] for r in runs):.2f} s"],
        ["scan wall time (median)", f"{statistics.median(r['scan'] for r in runs):.2f} s"],
        ["network exchanges, whole scan (TCP connections + direct DNS queries)", str(last["connections"])],
        ["exchanges per endpoint (mean)", f"{last['connections'] / last['endpoints']:.1f}"],
        ["most exchanges with one host", str(last["per_host_max"])],
        ["exchanges by purpose", ", ".join(f"{k} {v}" for k, v in sorted(last["by_purpose"].items()))],
        ["peak RSS", f"{peak_mib:.0f} MiB"],
    ]
    publish(SECTIONS[args.inventory], method,
            f".venv/bin/python bench/demo.py --runs {args.runs} --inventory {args.inventory} --write",
            markdown_table(["figure", "value"], rows), args.write)

if __name__ == "__main__":
    main()
