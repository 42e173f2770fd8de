"""Scale: a whole scan of 1,000 / 3,000 / 10,000 lab endpoints, its time, CPU, memory and output size.

Usage: .venv/bin/python bench/scale.py [--sizes 1000,3000,10000] [--label after] [--profile] [--write]
       [-- extra bolwerk scan options, e.g. --workers 1]

For each size the generated estate of scanner/lab/scale.py is started in a process of its
own (one web server process for every address: nginx when it is on PATH, else the lab's
Python server; the lab's DNS servers, one mail server), then `bolwerk scan` runs as a
child process with the options below and its JSON result and history written to a
temporary folder. Measured: wall time; CPU time (user + system) of the scan and every
process it started (wait4); peak RSS of the scan's process tree (the sum over the scanner
and its workers, sampled every 100 ms from /proc; it counts the pages forked workers share
with their parent once per process) and its peak PSS (each shared page counted once, split
among its sharers: /proc/PID/smaps_rollup); connections and DNS questions as the lab's
servers counted them; the JSON result's size and the SQLite history's size (database and
WAL) per endpoint. `--profile` runs the 1,000 size under cProfile (in one process:
`--workers 1`) and lists the top costs.

Figures are kept in bench/scale.json by label ("before": main before issue 16, "after":
this code), so the section of bench/RESULTS.md shows both.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from results import ROOT, loopback_only, markdown_table, publish

from scanner.lab import LabProcess
from scanner.lab.nginx import NGINX
from scanner.lab.scale import write_port_map

DATA = ROOT / "bench" / "scale.json"
SCAN_OPTIONS = ["--concurrency", "64"]  # the knee measured in issue 16 lies between 16 and 64
WEB_SERVER = "nginx" if NGINX else "python"  # the lab's web server: nginx when installed (scanner/lab/nginx.py)
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")

METHOD = ("A generated lab estate (scanner/lab/scale.py): ten hosts per loopback address (one zone, two in "
          "three DNSSEC-signed, per address), each host its own certificate, services of one to four "
          "endpoints, one shared STARTTLS mail provider; one web server process answers every address by "
          "SNI and Host, with keep-alive (nginx, one worker, when it is installed: scanner/lab/nginx.py; "
          "else the lab's Python server; the web server column says which), and the lab's DNS servers "
          "answer every name. `bolwerk scan` runs as a child process; CPU is its user+system time with "
          "every process it started (wait4), peak RSS the largest sum of RSS over its process tree "
          "(sampled every 100 ms; pages the forked workers share with the scanner count once per "
          "process), peak PSS the same sum of proportional sets (/proc/PID/smaps_rollup, every 500 ms; "
          "each page counted once), connections and DNS questions as the lab's servers counted them "
          "(nginx: its stub_status total and its access log), sizes per endpoint of the JSON result and of the "
          "SQLite history (database + WAL). The lab runs on the same two cores (its CPU is shown); other "
          "work on the machine shows in the load column. One run per size.")


def tree(pid: int) -> list[int]:
    """The process and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except OSError:
            pass
    return out


def rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * PAGE
    except OSError:
        return 0


def pss(pid: int) -> int:
    """The process's proportional set: each page shared with other processes (forked workers
    share their parent's) counted as its share, so a tree's sum counts every page once."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


class PeakSampler(threading.Thread):
    """The peaks of a process tree's summed RSS and summed PSS and of its largest process's
    RSS, sampled every 100 ms (PSS, dearer to read, every 500 ms)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.done = pid, threading.Event()
        self.peak = self.peak_pss = self.peak_one = 0

    def run(self) -> None:
        tick = 0
        while not self.done.wait(0.1):
            pids = tree(self.pid)
            sizes = [rss(p) for p in pids]
            self.peak, self.peak_one = max(self.peak, sum(sizes)), max(self.peak_one, *sizes)
            if tick % 5 == 0:
                self.peak_pss = max(self.peak_pss, sum(pss(p) for p in pids))
            tick += 1


def scan(size: int, extra: list[str], profile: Path | None) -> dict:
    lab = LabProcess("--scale", str(size), "--web", WEB_SERVER, start_timeout=900)
    with lab as info, tempfile.TemporaryDirectory() as tmp:
        port_map = write_port_map(info.directory, info.port_map)
        db, result = Path(tmp) / "history.db", Path(tmp) / "result.json"
        head = [sys.executable, "-m", "scanner.cli"]
        if profile:
            head = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "scanner.cli"]
        cmd = head + ["scan", str(info.inventory), "--resolver", info.resolver, "--ca-bundle", str(info.ca_bundle),
                      "--trust-anchor", str(info.trust_anchor), "--lab-port-map", str(port_map), "--db", str(db),
                      "--json", str(result), *SCAN_OPTIONS, *extra]
        load = os.getloadavg()[0]
        lab_cpu = sum(cpu_seconds(p) for p in tree(lab.pid))  # nginx is the lab process's child
        started = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        sampler = PeakSampler(proc.pid)
        sampler.start()
        err = proc.stderr.read()  # until the scan ends (it writes little: no progress bar off a terminal)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
        sampler.done.set()
        sampler.join()
        proc.stderr.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
        lines = err.strip().splitlines()
        if proc.returncode not in (0, 1):
            raise SystemExit(f"bench: the scan failed ({proc.returncode}): {lines[-5:]}")
        lab_cpu = sum(cpu_seconds(p) for p in tree(lab.pid)) - lab_cpu
        store = sum(p.stat().st_size for p in Path(tmp).glob("history.db*"))
        row = {"endpoints": size, "wall_s": round(wall, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
               "lab_cpu_s": round(lab_cpu, 1), "peak_rss_mb": round(sampler.peak / 2**20),
               "peak_pss_mb": round(sampler.peak_pss / 2**20), "largest_rss_mb": round(sampler.peak_one / 2**20),
               "maxrss_mb": round(usage.ru_maxrss / 1024),
               "json_kb_per_endpoint": round(result.stat().st_size / size / 1024, 1),
               "store_kb_per_endpoint": round(store / size / 1024, 1),
               "load": [round(load, 2), round(os.getloadavg()[0], 2)],
               "options": SCAN_OPTIONS + extra, "summary": lines[-1] if lines else ""}
    row["served"] = lab.served
    return row


def top_costs(profile: Path, limit: int = 15) -> list[list[str]]:
    """The functions with the most own time, and the share of the whole they take."""
    stats = pstats.Stats(str(profile))
    total = stats.total_tt
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:limit]
    out = []
    for (file, line, name), (_cc, calls, own, cumulative, _callers) in rows:
        where = file.split("site-packages/")[-1].split("wt-scale/")[-1] if "/" in file else file
        out.append([f"`{where}:{line} {name}`"[:90], f"{calls:,}", f"{own:.1f}", f"{100 * own / total:.0f}%",
                    f"{cumulative:.1f}"])
    return out


def render(data: dict) -> list[str]:
    body = []
    for label in ("before", "after"):
        rows = data.get(label, {}).get("sizes", [])
        if not rows:
            continue
        first = rows[0]
        body += [f"**{label}** ({data[label]['commit']}; scan options `{' '.join(first['options'])}` and, where "
                 "given, those in the options column):", ""]
        body += markdown_table(
            ["endpoints", "options", "wall s", "scan CPU s", "CPU ms/endpoint", "peak RSS MB", "peak PSS MB",
             "JSON KB/ep", "store KB/ep", "TLS+HTTP conns/ep", "DNS questions/ep", "lab web server", "lab CPU s",
             "load 1 min (start/end)"],
            [[f"{r['endpoints']:,}", " ".join(r["options"][len(first["options"]):]) or "-", f"{r['wall_s']:.1f}", f"{r['cpu_s']:.1f}",
              f"{1000 * r['cpu_s'] / r['endpoints']:.1f}", str(r["peak_rss_mb"]), str(r.get("peak_pss_mb", "-")),
              f"{r['json_kb_per_endpoint']:.1f}",
              f"{r['store_kb_per_endpoint']:.1f}",
              f"{(r['served']['https'] + r['served']['http']) / r['endpoints']:.1f}",
              f"{r['served']['dns_questions'] / r['endpoints']:.1f}", r["served"].get("web_server", "python"),
              f"{r['lab_cpu_s']:.0f}",
              f"{r['load'][0]:.1f} / {r['load'][1]:.1f}"] for r in rows])
        body.append("")
        if data[label].get("profile"):
            body += [f"Top costs of the 1,000-endpoint scan under cProfile ({label}; own time, "
                     f"{data[label]['profile_total']:.0f} s profiled in all):", ""]
            body += markdown_table(["function", "calls", "own s", "share", "cumulative s"], data[label]["profile"])
            body.append("")
    for note in data.get("notes", []):  # what the tables alone do not say (kept in bench/scale.json)
        body += [note, ""]
    return body


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,3000,10000")
    parser.add_argument("--label", default="after", choices=("before", "after"))
    parser.add_argument("--profile", action="store_true", help="profile the 1,000 size (cProfile) instead")
    parser.add_argument("--write", action="store_true", help="keep the figures and replace the section in RESULTS.md")
    parser.add_argument("--commit", help="what the figures were measured on (default: HEAD)")
    parser.add_argument("--render", action="store_true", help="only write the section again from bench/scale.json")
    parser.add_argument("extra", nargs="*", help="more `bolwerk scan` options (after --)")
    args = parser.parse_args()
    loopback_only()
    data = json.loads(DATA.read_text(encoding="utf-8")) if DATA.exists() else {}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    entry = data.setdefault(args.label, {"sizes": []})
    entry["commit"] = args.commit or commit
    if args.render:
        publish("## Scale (`bench/scale.py`)", METHOD, ".venv/bin/python bench/scale.py --label after --write",
                render(data), True)
        return
    if args.profile:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "scan.prof"
            scan(1000, args.extra, out)
            entry["profile"] = top_costs(out)
            entry["profile_total"] = pstats.Stats(str(out)).total_tt
    else:
        for size in (int(s) for s in args.sizes.split(",")):
            row = scan(size, args.extra, None)
            print(json.dumps(row), file=sys.stderr)
            entry["sizes"] = sorted([r for r in entry["sizes"] if (r["endpoints"], r["options"]) !=
                                     (size, row["options"])] + [row],
                                    key=lambda r: (r["endpoints"], len(r["options"])))
    if args.write:
        DATA.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    publish("## Scale (`bench/scale.py`)", METHOD, ".venv/bin/python bench/scale.py --label after --write",
            render(data), args.write)


if __name__ == "__main__":
    main()
