"""The dashboard at scale: `bolwerk report` of a stored estate of 20,000 services in 200 organisations.

Usage: .venv/bin/python bench/dashboard.py [--services 20000] [--organisations 200] [--runs 3]
       [--store PATH] [--write]

1. Archetypes: the lab's whole estate (every lab service, scanner/lab) is scanned once on
   loopback, so each archetype is a real service's facts.
2. The estate: `--services` services are written straight into a store, each an archetype
   whose web hosts are renamed (s00042.mijn.vlaanderen.test: the same certificate, so keys
   are shared by thousands of services, as a wildcard would be), `--organisations`
   organisations, an owner each. The first run is judged by the real judge (scanner/judge.py,
   one process per core); every later run, a week apart, moves one service in 33 to another
   archetype and judges those again, the others keeping their stored verdicts. Kept at
   `--store` (reused when it exists).
3. Measured: `bolwerk report --out` (results.json and the dashboard) and `bolwerk report --json`
   alone, as child processes: wall time, CPU (wait4), peak RSS of the process tree; the files
   written and their sizes; then Chromium (Debian's, headless, tests/browser.py) opens the
   index, an organisation page and a service page from file://: load time, JS heap and the
   resident memory of all of Chromium's processes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from results import ROOT, loopback_only, markdown_table, publish
from scale import PeakSampler, pss, tree

from checks.registry import default_registry
from scanner import __version__
from scanner.inventory import load_inventory
from scanner.judge import judge_run
from scanner.lab import LabProcess
from scanner.policy import load_policy
from scanner.runner import Runner, ScanOptions
from scanner.store import Collected, Store, new_run_id
from scanner.times import rfc3339
from tests.browser import Chromium, chromium_path

BATCH = 500
CHANGE_EVERY = 33  # one service in 33 changes posture from one run to the next


def archetypes() -> list[dict[str, Any]]:
    """Every lab service as scanned: definition, endpoint facts, mail facts."""
    registry = default_registry()
    with LabProcess() as info, tempfile.TemporaryDirectory() as tmp:
        options = ScanOptions(resolver=info.resolver, ca_bundle=info.ca_bundle, trust_anchors=[info.trust_anchor],
                              port_map=info.port_map, rate_per_ip=500.0, io_timeout=3.0, timeout=30.0)
        store = Store(Path(tmp) / "lab.db")
        run_id = Runner(options, registry, load_policy(None, registry), store).scan(load_inventory(info.inventory_all))
        out = [store.service(run_id, sid) for sid in store.service_ids(run_id)]
        store.close()
    return [svc for svc in out if svc["endpoint_facts"]]


def variant(arch: dict[str, Any], n: int, organisation: str) -> tuple[dict[str, Any], list[Collected]]:
    """Service n as a copy of an archetype: its web hosts renamed, its facts to store."""
    sid = f"s{n:05d}"
    renames = {ep["host"]: f"{sid}.{ep['host']}" for ep in arch["endpoints"]}

    def renamed(text: str) -> str:
        for old, new in renames.items():
            text = text.replace(old, new)
        return text

    definition = json.loads(renamed(json.dumps({k: arch[k] for k in ("endpoints", "mail_domains", "tags")})))
    definition.update(name=f"Dienst {n:05d} ({arch['name']})", organisation=organisation,
                      owner=f"team-{n % 7}@{organisation.lower().replace(' ', '-')}.test", source=None)
    units = [Collected("", sid, "endpoint", renamed(target), json.loads(renamed(json.dumps(stored["facts"]))),
                       stored["addresses"]) for target, stored in arch["endpoint_facts"].items()]
    units += [Collected("", sid, "mail_domain", domain, facts) for domain, facts in arch["mail_facts"].items()]
    return definition, units


def build(path: Path, services: int, organisations: int, runs: int) -> None:
    arch = archetypes()
    print(f"bench: {len(arch)} archetypes from the lab", file=sys.stderr)
    registry = default_registry()
    policy = load_policy(None, registry)
    store = Store(path)
    now = datetime.now(UTC).replace(microsecond=0)
    previous = None
    for r in range(runs):
        started = now - timedelta(days=7 * (runs - 1 - r))
        run_id = new_run_id(started)
        store.start_run(run_id, rfc3339(started), __version__, policy.ref, "bench estate", {},
                        policy_digest=policy.digest(), policy_data=policy.to_data())
        judge: list[str] = []
        for first in range(0, services, BATCH):
            with store.db:
                store.db.execute("BEGIN")
                for n in range(first, min(first + BATCH, services)):
                    sid = f"s{n:05d}"
                    shifted = sum(1 for k in range(1, r + 1) if n % CHANGE_EVERY == k)
                    org = f"Organisatie {n * organisations // services:03d}"
                    definition, units = variant(arch[(n * 7919 + shifted) % len(arch)], n, org)
                    if previous and not (n % CHANGE_EVERY == r):
                        _copy(store, previous, run_id, sid)
                        continue
                    store.db.execute("INSERT INTO services (run_id, service_id, name, organisation, definition) "
                                     "VALUES (?,?,?,?,?)", (run_id, sid, definition["name"], org,
                                                            json.dumps(definition, sort_keys=True)))
                    for unit in units:
                        unit.run_id = run_id
                        store.write_unit(unit)
                    judge.append(sid)
        _judge(path, run_id, judge, started)
        store.finish_run(run_id, True)
        print(f"bench: run {r + 1}/{runs} {run_id}: {len(judge)} services judged", file=sys.stderr)
        previous = run_id
    store.close()


def _copy(store: Store, source: str, run_id: str, sid: str) -> None:
    """A service unchanged since the previous run: its facts and verdict as they were."""
    store.db.execute("INSERT INTO services SELECT ?, service_id, name, organisation, definition, score, grade, caps, "
                     "pillars, judged, caps_detail, findings, problems FROM services WHERE run_id = ? AND service_id = ?",
                     (run_id, source, sid))
    for table, columns in (("endpoints", "target, addresses, facts, collected"),
                           ("mail_domains", "domain, facts, collected")):
        store.db.execute(f"INSERT INTO {table} SELECT ?, service_id, {columns} FROM {table} "
                         "WHERE run_id = ? AND service_id = ?", (run_id, source, sid))


def _judge(path: Path, run_id: str, ids: list[str], started: datetime) -> None:
    """The real judge over the given services, one forked process per core."""
    registry = default_registry()
    policy = load_policy(None, registry)
    workers = len(os.sched_getaffinity(0))
    pids = []
    for w in range(workers):
        pid = os.fork()
        if pid == 0:
            store = Store(path)
            try:
                judge_run(store, run_id, registry, policy, started, ids[w::workers])
            finally:
                store.close()
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit("bench: a judging process failed")


def measured(cmd: list[str]) -> dict[str, Any]:
    """Run a command as a child: wall time, CPU of its process tree, peak summed RSS."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sampler = PeakSampler(proc.pid)
    sampler.start()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    sampler.done.set()
    sampler.join()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: {' '.join(cmd[2:4])} failed: {err[-2000:]}")
    return {"wall_s": round(wall, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
            "peak_rss_mb": round(sampler.peak / 2**20)}


def sizes(out: Path) -> dict[str, Any]:
    dashboard = out / "dashboard"
    pages = [p for p in dashboard.rglob("*.html")]
    service_pages = [p for p in pages if p.parent.name == "services"]
    org_pages = [p for p in pages if p.parent.name == "organisations"]
    return {
        "files": sum(1 for p in out.rglob("*") if p.is_file()),
        "total_mb": round(sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20, 1),
        "results_json_mb": round((out / "results.json").stat().st_size / 2**20, 1),
        "dashboard_mb": round(sum(p.stat().st_size for p in pages) / 2**20, 1),
        "pages": len(pages),
        "index_kb": round((dashboard / "index.html").stat().st_size / 1024),
        "largest_org_kb": round(max(p.stat().st_size for p in org_pages) / 1024),
        "largest_service_kb": round(max(p.stat().st_size for p in service_pages) / 1024),
        "mean_service_kb": round(sum(p.stat().st_size for p in service_pages) / len(service_pages) / 1024, 1),
        "largest_list_kb": round(max(p.stat().st_size for p in pages if p.parent.name == "lists") / 1024),
    }


def browse(out: Path) -> list[dict[str, Any]]:
    """Chromium's load time and memory for the index, the largest organisation page and a service page."""
    dashboard = out / "dashboard"
    pages = [("index", dashboard / "index.html"),
             ("organisation", max((dashboard / "organisations").glob("*.html"), key=lambda p: p.stat().st_size)),
             ("service", max((dashboard / "services").glob("*.html"), key=lambda p: p.stat().st_size))]
    rows = []
    for name, page in pages:
        with Chromium() as browser:
            browser.viewport(1400)
            idle = sum(pss(p) for p in tree(browser.proc.pid))
            load = browser.open(page.as_uri(), settle=1.0)
            rows.append({"page": name, "kb": round(page.stat().st_size / 1024), "load_s": round(load.seconds, 2),
                         "heap_mb": round(browser.heap_bytes() / 2**20, 1),
                         "pss_mb": round(sum(pss(p) for p in tree(browser.proc.pid)) / 2**20),
                         "pss_idle_mb": round(idle / 2**20), "errors": len(load.errors),
                         "outside": sum(not u.startswith(("file:", "data:")) for u in load.requests)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=20000)
    parser.add_argument("--organisations", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--store", type=Path, default=None, help="keep the built estate here (reused if it exists)")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    loopback_only()
    with tempfile.TemporaryDirectory(prefix="bolwerk-bench-") as tmp:
        db = args.store or Path(tmp) / "history.db"
        if not db.exists():
            started = time.monotonic()
            build(db, args.services, args.organisations, args.runs)
            print(f"bench: estate built in {time.monotonic() - started:.0f} s", file=sys.stderr)
        out = Path(tmp) / "out"
        load_before = os.getloadavg()[0]
        cli = [sys.executable, "-m", "scanner.cli", "report", "--db", str(db)]
        full = measured([*cli, "--out", str(out)])
        found = sizes(out)
        json_only = measured([*cli, "--json", str(Path(tmp) / "only.json")])
        pages = browse(out) if chromium_path() else []
        if args.store is None:
            shutil.rmtree(out, ignore_errors=True)
    report = {"full": full, "json_only": json_only, "sizes": found, "browser": pages}
    print(json.dumps(report, indent=1), file=sys.stderr)
    body = markdown_table(
        ["command", "wall s", "CPU s", "peak RSS MB"],
        [["`bolwerk report --out` (results.json + dashboard)", f"{full['wall_s']}", f"{full['cpu_s']}",
          f"{full['peak_rss_mb']}"],
         ["`bolwerk report --json` (results.json alone)", f"{json_only['wall_s']}", f"{json_only['cpu_s']}",
          f"{json_only['peak_rss_mb']}"]])
    body += ["", *markdown_table(
        ["files", "total MB", "results.json MB", "dashboard MB", "HTML pages", "index KB", "largest organisation KB",
         "largest service KB", "mean service KB", "largest list KB"],
        [[f"{found['files']:,}", str(found["total_mb"]), str(found["results_json_mb"]), str(found["dashboard_mb"]),
          f"{found['pages']:,}", str(found["index_kb"]), str(found["largest_org_kb"]),
          str(found["largest_service_kb"]), str(found["mean_service_kb"]), str(found["largest_list_kb"])]])]
    if pages:
        body += ["", *markdown_table(
            ["page (Chromium, 1400 px)", "KB", "load s", "JS heap MB", "Chromium PSS MB (before the page)",
             "console errors", "requests outside file://"],
            [[p["page"], str(p["kb"]), f"{p['load_s']:.2f}", f"{p['heap_mb']}", f"{p['pss_mb']} ({p['pss_idle_mb']})",
              str(p["errors"]), str(p["outside"])] for p in pages])]
    body += ["", f"Load average (1 min) before `report`: {load_before:.1f}, at the end: {os.getloadavg()[0]:.1f} "
             "(the 2 cores are shared with other work: wall times stretch with the load, CPU seconds much less)."]
    method = (f"A stored estate of {args.services:,} services in {args.organisations} organisations, {args.runs} "
              "runs a week apart, built straight into a store from the facts of every lab service (each web "
              "host renamed per service, its certificate kept, so keys are shared by thousands of services); "
              "the first run judged by the real judge, later runs moving one service in 33 to another "
              "archetype. `bolwerk report` runs as a child process: wall time, CPU of its process tree (wait4), "
              "peak RSS summed over the tree (sampled every 100 ms). Chromium (Debian's, headless, from "
              "file://) opens each page in a fresh browser: time to the load event, the page's JS heap, and "
              "the memory of all Chromium processes (PSS: shared pages counted once), before and after the page.")
    publish("## Dashboard at scale (`bench/dashboard.py`)", method,
            f".venv/bin/python bench/dashboard.py --services {args.services} --organisations {args.organisations} "
            f"--runs {args.runs} --write", body, args.write)


if __name__ == "__main__":
    main()
