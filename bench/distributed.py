"""Distributed: lab endpoints per second in process and with 1, 2 and 4 Celery workers; the
coordinator's cost per task.

Usage: .venv/bin/python bench/distributed.py [--endpoints 200] [--workers 1,2,4] [--write]
       .venv/bin/python bench/distributed.py --render --write   (the section again, from the kept figures)

For each configuration a generated lab estate (scanner/lab/scale.py) is started in a process
of its own, and so is a Redis broker (scanner/lab/broker.py: loopback, ACL user and
password). The in-process rows run `bolwerk scan --workers N`; the Celery rows start N
`bolwerk worker` processes (each `--concurrency 16`, as the in-process runner's default),
wait until each says it is ready, then run the coordinator, `bolwerk scan --engine celery`,
in a child process of this script that times its `collect_units`: the coordinator's CPU
there (sending, polling, decoding, storing facts: its writer thread included) divided by
the units is its cost per task. Judging, which both engines do in the scanning process, is
left out of that figure. Connections are counted by the lab's servers; CPU per endpoint
sums the scan's processes (the coordinator and the workers).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import ROOT, loopback_only, markdown_table, publish
from scale import cpu_seconds

from scanner.lab import LabProcess
from scanner.lab.broker import RedisBroker
from scanner.lab.scale import write_port_map

DATA = ROOT / "bench" / "distributed.json"
WORKER_CONCURRENCY = 16
POLITENESS = ["--rate", "500", "--per-ip", "16"]  # the engines' capacity, not the defaults' pace (20/s per address)
COORDINATOR = """
import json, sys, time
from functools import partial
from scanner.cli import main
import scanner.cli
from scanner.distributed.coordinator import CeleryRunner

class Timed(CeleryRunner):
    def collect_units(self, run_id, units, scope, now, progress):
        cpu, wall = time.process_time(), time.monotonic()
        super().collect_units(run_id, units, scope, now, progress)
        print(json.dumps({"units": len(units), "collect_cpu_s": time.process_time() - cpu,
                          "collect_wall_s": time.monotonic() - wall}), file=sys.stderr, flush=True)

scanner.distributed.coordinator.CeleryRunner = Timed
main()
"""


def run(endpoints: int, engine: str, n: int) -> dict:
    lab = LabProcess("--scale", str(endpoints), start_timeout=900)
    with lab as info, tempfile.TemporaryDirectory() as tmp, RedisBroker() as broker:
        port_map = write_port_map(info.directory, info.port_map)
        scan = ["scan", str(info.inventory), "--resolver", info.resolver, "--ca-bundle", str(info.ca_bundle),
                "--trust-anchor", str(info.trust_anchor), "--lab-port-map", str(port_map),
                "--db", str(Path(tmp) / "history.db"), *POLITENESS]
        workers: list[subprocess.Popen] = []
        if engine == "celery":
            for k in range(n):
                log = Path(tmp) / f"worker{k}.log"
                workers.append(subprocess.Popen(
                    [sys.executable, "-m", "scanner.cli", "worker", "--broker", broker, "--name", f"bench{k}@%h",
                     "--concurrency", str(WORKER_CONCURRENCY)], cwd=ROOT, stdout=log.open("w"),
                    stderr=subprocess.STDOUT))
            for k in range(n):
                while "ready." not in (Path(tmp) / f"worker{k}.log").read_text(encoding="utf-8"):
                    time.sleep(0.1)
            head = [sys.executable, "-c", COORDINATOR]
            scan += ["--engine", "celery", "--broker", broker]
        else:
            head = [sys.executable, "-m", "scanner.cli"]
            scan += ["--workers", str(n)]
        worker_cpu = [cpu_seconds(w.pid) for w in workers]
        load = os.getloadavg()[0]
        started = time.monotonic()
        proc = subprocess.Popen(head + scan, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
        proc.stderr.close()
        if os.waitstatus_to_exitcode(status) not in (0, 1):
            raise SystemExit(f"bench: the scan failed: {err.strip().splitlines()[-5:]}")
        worker_cpu = sum(cpu_seconds(w.pid) - c for w, c in zip(workers, worker_cpu, strict=True))
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(30)
        timed = [json.loads(line) for line in err.splitlines() if line.startswith('{"units"')]
        row = {"engine": engine, "n": n, "endpoints": endpoints, "wall_s": round(wall, 1),
               "cpu_s": round(usage.ru_utime + usage.ru_stime + worker_cpu, 1),
               "load": [round(load, 2), round(os.getloadavg()[0], 2)]}
        if timed:
            row.update({k: round(v, 3) for k, v in timed[0].items()})
    row["served"] = lab.served
    return row


def render(rows: list[dict]) -> list[str]:
    def what(r: dict) -> str:
        return f"in process, `--workers {r['n']}`" if r["engine"] == "local" else \
            f"Celery, {r['n']} worker{'s' if r['n'] > 1 else ''}"

    body = markdown_table(
        ["engine", "endpoints", "wall s", "endpoints/s", "CPU ms/endpoint", "coordinator CPU ms/task",
         "TLS+HTTP conns/ep", "peak conns per address", "load 1 min (start/end)"],
        [[what(r), str(r["endpoints"]), f"{r['wall_s']:.1f}", f"{r['endpoints'] / r['wall_s']:.1f}",
          f"{1000 * r['cpu_s'] / r['endpoints']:.0f}",
          f"{1000 * r['collect_cpu_s'] / r['units']:.1f}" if "units" in r else "-",
          f"{(r['served']['https'] + r['served']['http']) / r['endpoints']:.1f}",
          str(r["served"]["peak_per_address"]), f"{r['load'][0]:.1f} / {r['load'][1]:.1f}"] for r in rows])
    return body + ["", READING]


READING = """Reading the table: the machine has two cores, shared with the lab's servers and with
other work (load column), so wall times move by several seconds from one run to the next.
A coordinator and one worker use both cores (the worker collects while the coordinator
stores and judges), as `--workers 2` does; more workers on the same two cores add only
their overhead. The coordinator spends about 4 ms of CPU per task (sending it, polling its
result, decoding and storing its facts). Caches are per worker process: the more workers,
the more TLS connections the lab's servers see (an address's TLS enumeration is made by
each worker that meets it: +1.2 connections per endpoint with four workers) and the more
STARTTLS enumerations of the one shared mail provider (one per worker). The caps per
address hold whatever the number of workers (peak column, `--per-ip` 16). On N machines
the collection grows with the workers' cores until the coordinator's cost per task, or the
caps on the estate's busiest addresses, bound it (README, "Scanning from several
machines")."""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoints", type=int, default=200)
    parser.add_argument("--workers", default="1,2,4", help="Celery worker processes to try")
    parser.add_argument("--write", action="store_true", help="keep the figures and replace the section in RESULTS.md")
    parser.add_argument("--render", action="store_true", help="no scans: the section from the kept figures")
    args = parser.parse_args()
    loopback_only()
    if args.render:
        rows = json.loads(DATA.read_text(encoding="utf-8"))
    else:
        rows = []
        for engine, n in [("local", 1), ("local", 2)] + [("celery", int(k)) for k in args.workers.split(",")]:
            rows.append(run(args.endpoints, engine, n))
            print(json.dumps(rows[-1]), file=sys.stderr)
        if args.write:
            DATA.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    method = ("A generated lab estate (scanner/lab/scale.py: ten hosts per loopback address, one web server "
              "process for all, the lab's DNS, one STARTTLS mail provider) and a Redis broker on loopback, both "
              "started anew for each row. In-process rows run `bolwerk scan --workers N`; Celery rows start N "
              f"`bolwerk worker` processes (`--concurrency {WORKER_CONCURRENCY}` each) and the coordinator "
              "`bolwerk scan --engine celery`, timed around its collection of the units: its CPU there per task "
              "is the coordinator's cost (judging, which both engines do, is not in it). Politeness loosened to "
              f"`{' '.join(POLITENESS)}` so that the engines, not the default pace (20 new connections per "
              "second to an address of ten hosts), are measured. CPU per endpoint sums the coordinator's or "
              "scanner's processes and the workers. Everything shares the machine's two cores with the lab; "
              "other work on the machine shows in the load column. One run per row.")
    publish("## Distributed (`bench/distributed.py`)", method, ".venv/bin/python bench/distributed.py --write",
            render(rows), args.write)


if __name__ == "__main__":
    main()
