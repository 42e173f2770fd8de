"""Memory does not grow with the estate: a 2,000-endpoint run needs at most 1.5x the memory of
a 200-endpoint one (issue 16). A shape, not a timing.

In the default suite: the streaming half of a scan (judging and scoring every service, then
the machine outputs, each read from the store service by service) of the lab's own scan,
its services stored again and again under other ids until the run has about 200 and about
2,000 endpoints, in a child process each, its peak resident set compared. The collecting
half keeps only the units in flight (`--concurrency`), whatever the estate's size; the whole
scan, collection included, of the generated estate of scanner/lab/scale.py is the opt-in
test below (minutes on two cores).
"""

import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

from scanner.lab import LabProcess
from scanner.lab.scale import write_port_map

OUTPUTS = ("json", "markdown")  # a document written as it is read, a summary that keeps a bounded part

JUDGE_AND_WRITE = f"""
import sys
from pathlib import Path
from checks.registry import default_registry
from reports.outputs import Outputs, write_run
from scanner.judge import judge_run, stored_policy
from scanner.store import Store
from scanner.times import parse_rfc3339

store = Store(sys.argv[1])
run_id = store.resolve_run(None)
run = store.run(run_id)
registry = default_registry()
judge_run(store, run_id, registry, stored_policy(run, registry), parse_rfc3339(run["started"]))
out = Path(sys.argv[2])
write_run(store, run_id, Outputs({{fmt: out / ("r." + fmt) for fmt in {OUTPUTS!r}}}))
store.close()
"""


def grown(db, run_id: str, endpoints: int, folder) -> int:
    """A copy of the history whose run has at least `endpoints` endpoints: the run's services
    and facts stored again under other service ids; returns how many it has."""
    folder.mkdir()
    copy = folder / "history.db"
    shutil.copy(db, copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("DELETE FROM runs WHERE id != ?", (run_id,))
        have = conn.execute("SELECT count(*) FROM endpoints WHERE run_id = ?", (run_id,)).fetchone()[0]
        for k in range(1, -(-endpoints // have)):
            for table in ("services (run_id, service_id, name, organisation, definition)",
                          "endpoints (run_id, service_id, target, addresses, facts, collected)",
                          "mail_domains (run_id, service_id, domain, facts, collected)"):
                name, columns = table.split(" ", 1)
                rest = columns.strip("()").split(", ", 2)[2]
                conn.execute(f"INSERT INTO {table} SELECT run_id, service_id || '~{k}', {rest} FROM {name} "
                             f"WHERE run_id = ? AND service_id NOT LIKE '%~%'", (run_id,))
        return conn.execute("SELECT count(*) FROM endpoints WHERE run_id = ?", (run_id,)).fetchone()[0]


def peak_rss_of(cmd: list[str]) -> int:
    """The child's peak resident set in KiB."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode in (0, 1), err[-2000:]
    return usage.ru_maxrss


@pytest.mark.timeout(600)
def test_memory_of_judging_and_writing_does_not_grow_with_the_estate(lab_scan, tmp_path):
    _, db, run_id = lab_scan
    peaks = {}
    for size in (200, 2000):
        folder = tmp_path / str(size)
        peaks[size] = (grown(db, run_id, size, folder),
                       peak_rss_of([sys.executable, "-c", JUDGE_AND_WRITE, str(folder / "history.db"), str(folder)]))
    (small_eps, small), (large_eps, large) = peaks[200], peaks[2000]
    assert large_eps >= 9 * small_eps
    written = {size: (tmp_path / str(size) / "r.json").read_text(encoding="utf-8").count('"grade"') for size in peaks}
    assert written[2000] >= 9 * written[200] > 0  # every service was judged and written
    assert large <= 1.5 * small, f"{small_eps} endpoints: {small} KiB, {large_eps} endpoints: {large} KiB"


def peak_rss_of_scan(endpoints: int, tmp_path) -> int:
    """The scan's peak resident set in KiB (`bolwerk scan` in a child process, one worker)."""
    lab = LabProcess("--scale", str(endpoints), start_timeout=300)
    with lab as info:
        cmd = [sys.executable, "-m", "scanner.cli", "scan", str(info.inventory), "--resolver", info.resolver,
               "--ca-bundle", str(info.ca_bundle), "--trust-anchor", str(info.trust_anchor),
               "--lab-port-map", str(write_port_map(info.directory, info.port_map)),
               "--db", str(tmp_path / f"h{endpoints}.db"), "--json", str(tmp_path / f"r{endpoints}.json"),
               "--markdown", str(tmp_path / f"s{endpoints}.md"),
               "--concurrency", "64", "--rate", "500", "--workers", "1"]
        rss = peak_rss_of(cmd)
    assert lab.violations == []
    return rss


@pytest.mark.skipif(not os.environ.get("BOLWERK_SCALE_TEST"),
                    reason="two whole scans (minutes on two cores): set BOLWERK_SCALE_TEST=1")
@pytest.mark.timeout(1200)
def test_memory_of_a_scan_does_not_grow_with_the_estate(tmp_path):
    small = peak_rss_of_scan(200, tmp_path)
    large = peak_rss_of_scan(2000, tmp_path)
    assert large <= 1.5 * small, f"200 endpoints: {small} KiB, 2,000 endpoints: {large} KiB"
