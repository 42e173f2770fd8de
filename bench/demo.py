"""Benchmark: lab start-up, the whole-estate scan, connections per endpoint, peak memory.

Prints the figures and, with --write, replaces the "Whole-estate scan" section of
bench/RESULTS.md. Loopback only: it scans the embedded lab, nothing else.

    .venv/bin/python bench/demo.py --runs 3 --write
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checks.registry import default_registry  # noqa: E402
from scanner.inventory import load_inventory  # noqa: E402
from scanner.lab import Lab  # noqa: E402
from scanner.policy import load_policy  # noqa: E402
from scanner.runner import Runner, ScanOptions  # noqa: E402
from scanner.store import Store  # noqa: E402

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
            options = ScanOptions(resolver=info.resolver, ca_bundle=info.ca_bundle, trust_anchors=[info.trust_anchor],
                                  port_map=info.port_map, rate_per_ip=200.0, io_timeout=3.0, timeout=30.0)
            runner = Runner(options, registry, load_policy(None, registry), store)
            inventory = load_inventory(info.inventory if inventory_kind == "demo" else info.inventory_all)
            t1 = time.perf_counter()
            runner.scan(inventory)
            scanned = time.perf_counter() - t1
            store.close()
        records = runner.network.records
        per_host = Counter(r.host for r in records if not r.outcome.startswith("refused"))
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
    runs = [one_run(args.inventory) for _ in range(args.runs)]
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    last = runs[-1]
    section = SECTIONS[args.inventory]
    lines = [
        section, "",
        "**Method.** Start the embedded lab (every server of `scanner/lab/estate.toml` and",
        "`estate.d/`), scan its inventory through the normal runner (default concurrency and caps,",
        "rate limit raised to 200/s per address for loopback), stop the lab; repeated",
        f"{args.runs} times in one process on a 2-core machine. Connections are the scanner's own",
        "records (`Network.records`); peak memory is the process's maximum resident set size.",
        "",
        f"    .venv/bin/python bench/demo.py --runs {args.runs} --inventory {args.inventory} --write",
        "",
        "| figure | value |",
        "|---|---|",
        f"| inventory | {args.inventory}: {last['services']} services, {last['endpoints']} endpoints |",
        f"| lab start (median) | {statistics.median(r['start'] for r in runs):.2f} s |",
        f"| scan wall time (median) | {statistics.median(r['scan'] for r in runs):.2f} s |",
        f"| network exchanges, whole scan (TCP connections + direct DNS queries) | {last['connections']} |",
        f"| exchanges per endpoint (mean) | {last['connections'] / last['endpoints']:.1f} |",
        f"| most exchanges with one host | {last['per_host_max']} |",
        f"| exchanges by purpose | {', '.join(f'{k} {v}' for k, v in sorted(last['by_purpose'].items()))} |",
        f"| peak RSS | {peak_mib:.0f} MiB |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        path = ROOT / "bench" / "RESULTS.md"
        current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
        if section in current:
            head, _, rest = current.partition(section)
            tail = rest.split("\n## ", 1)
            current = head + text + ("\n## " + tail[1] if len(tail) > 1 else "")
        else:
            current = current.rstrip("\n") + "\n\n" + text
        path.write_text(current, encoding="utf-8")


if __name__ == "__main__":
    main()
