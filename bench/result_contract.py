"""The JSON result as contract v1 and v1.1: size per endpoint, time and memory to write it.

Usage: .venv/bin/python bench/result_contract.py [--sizes 200,1000] [--write]

For each size the generated estate of scanner/lab/scale.py (the one bench/scale.py scans)
is scanned once into a history; then `bolwerk report --json FILE --json-schema C` writes
that stored run as v1 and as v1.1, each in a child process: its wall time, CPU time
(user + system, wait4), peak RSS (ru_maxrss) and the file's size per endpoint. The v1.1
file is expanded (reports.hoist.expand) and must equal the v1 file: in a child process
too, as Linux's ru_maxrss counts what a child had at fork, so this process stays small.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from results import ROOT, loopback_only, markdown_table, publish

from scanner.lab import LabProcess
from scanner.lab.scale import write_port_map

CONTRACTS = ("v1", "v1.1")
SAME = ("import json, sys; from reports.hoist import expand; "
        "v1, v11 = (json.load(open(p, encoding='utf-8')) for p in sys.argv[1:]); "
        "sys.exit(0 if expand(v11) == v1 else 9)")


def child(cmd: list[str]) -> tuple[float, float, int]:
    """Run a command; its wall seconds, CPU seconds and peak RSS in MB."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"bench: {cmd[3]} failed: {err.decode()[-500:]}")
    return time.monotonic() - started, usage.ru_utime + usage.ru_stime, round(usage.ru_maxrss / 1024)


def measure(size: int) -> list[list[str]]:
    bolwerk = [sys.executable, "-m", "scanner.cli"]
    with LabProcess("--scale", str(size), start_timeout=900) as info, tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "history.db"
        child(bolwerk + ["scan", str(info.inventory), "--resolver", info.resolver, "--ca-bundle", str(info.ca_bundle),
                         "--trust-anchor", str(info.trust_anchor), "--db", str(db), "--concurrency", "64",
                         "--lab-port-map", str(write_port_map(info.directory, info.port_map))])
        rows, files = [], [Path(tmp) / f"{contract}.json" for contract in CONTRACTS]
        for contract, out in zip(CONTRACTS, files, strict=True):
            wall, cpu, peak = child(bolwerk + ["report", "--db", str(db), "--json", str(out), "--json-schema", contract])
            rows.append([f"{size:,}", contract, f"{out.stat().st_size / size / 1024:.1f}", f"{wall:.1f}",
                         f"{1000 * cpu / size:.1f}", str(peak)])
        if subprocess.run([sys.executable, "-c", SAME, *map(str, files)], cwd=ROOT).returncode:
            raise SystemExit(f"bench: the v1.1 result of {size} endpoints does not expand to its v1 result")
    print(rows, file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="200,1000")
    parser.add_argument("--write", action="store_true", help="replace the section in RESULTS.md")
    args = parser.parse_args()
    loopback_only()
    rows = [row for size in (int(s) for s in args.sizes.split(",")) for row in measure(size)]
    body = markdown_table(["endpoints", "contract", "JSON KB/endpoint", "write wall s", "write CPU ms/endpoint",
                           "peak RSS MB"], rows)
    body += ["", *textwrap.wrap(
        "Reading the table: v1 is what Bolwerk wrote before (and writes with --json-schema v1); "
        "v1.1 writes each repeated object once (docs/result-v1.1.md). Most of what is left is the "
        "failing findings, whole, and each endpoint's own certificate and responses. Writing v1.1 "
        "costs more CPU than v1 (every object is hashed once per occurrence); its memory does not "
        "grow with the estate (the table is spooled to a temporary SQLite file); expand(v1.1) == v1 "
        "was checked for every size.", 92, break_on_hyphens=False)]
    method = ("The scale lab's estate (scanner/lab/scale.py, as bench/scale.py builds it) is scanned once per "
              "size into a history (`--concurrency 64`); `bolwerk report --json FILE --json-schema C` then "
              "writes that stored run as v1 and as v1.1, each in a child process: wall and CPU time (wait4), "
              "peak RSS (ru_maxrss), the file's size per endpoint. One run per size, on a machine shared "
              "with other work.")
    publish("## JSON result, contract v1.1 (`bench/result_contract.py`)", method,
            ".venv/bin/python bench/result_contract.py --write", body, args.write)


if __name__ == "__main__":
    main()
