"""Scheduled scans of one history: one writer at a time (a lock beside the database), a fresh
database opened by two processes at once, a run being written never resumed, retention."""

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from reports.json import build_result
from scanner.cli import main
from scanner.compact import decompress
from scanner.lock import StoreLock
from scanner.store import MIGRATIONS, Store


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_a_second_writer_is_refused_with_who_holds_the_store(tmp_path, lab, lab_args):
    db = tmp_path / "h.db"
    with StoreLock(db, "scan"):
        res = run("scan", str(lab.inventory), "--db", str(db), *lab_args)
        assert res.exit_code == 2, res.output
        assert f"{db}: another Bolwerk process is writing this history (pid " in res.stderr
        assert "`bolwerk scan` since" in res.stderr and "Traceback" not in res.output
        res = run("rescore", "latest", "--policy", "bolwerk-baseline", "--db", str(db))
        assert res.exit_code == 2 and "another Bolwerk process is writing" in res.stderr
    assert not db.exists()  # refused before the store was opened: nothing was written


def _open_fresh(path: str, start: float) -> None:
    while time.monotonic() < start:
        pass
    Store(path).close()


def test_two_processes_opening_a_fresh_database_both_succeed(tmp_path):
    """The schema is created under SQLite's write lock and the version read again under it, so
    the second process finds the tables made instead of failing with 'table runs already exists'."""
    context = multiprocessing.get_context("spawn")
    for attempt in range(5):
        path = str(tmp_path / f"fresh{attempt}.db")
        start = time.monotonic() + 1.5  # both processes start migrating at the same moment
        procs = [context.Process(target=_open_fresh, args=(path, start)) for _ in range(3)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(30)
        assert [p.exitcode for p in procs] == [0, 0, 0]
        store = Store(path)
        assert store.schema_version == len(MIGRATIONS)
        store.close()


def test_a_scan_in_progress_cannot_be_joined_or_resumed_and_its_lock_dies_with_it(tmp_path, lab, lab_args):
    db = tmp_path / "h.db"
    first = subprocess.Popen([sys.executable, "-m", "scanner.cli", "scan", str(lab.inventory), "--db", str(db),
                              *lab_args, "--concurrency", "1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        run_id = None
        while run_id is None and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.1)
            if db.exists():
                store = Store(db)  # a reader: allowed while the scan writes
                runs = store.runs()
                store.close()
                run_id = runs[0]["id"] if runs else None
        assert run_id and first.poll() is None, "the first scan ended before it could be raced"
        holder = json.loads(Path(f"{db}.lock").read_text())
        assert holder["pid"] == first.pid and holder["command"] == "scan"
        res = run("scan", str(lab.inventory), "--db", str(db), *lab_args)
        assert res.exit_code == 2 and f"pid {first.pid}, `bolwerk scan`" in res.stderr
        res = run("scan", str(lab.inventory), "--db", str(db), "--resume", run_id, *lab_args)
        assert res.exit_code == 2 and "another Bolwerk process is writing this history" in res.stderr
        # a scan killed outright, with its forked workers (they write too, so they hold the lock
        # with it), as systemd kills a unit's processes: the kernel drops its lock
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        first.stderr.close()
    res = run("scan", str(lab.inventory), "--db", str(db), "--resume", run_id, *lab_args)
    assert res.exit_code == 0, res.output
    store = Store(db)
    assert store.run(run_id)["complete"] is True and len(store.runs()) == 1
    store.close()


def test_keep_deletes_older_runs_and_the_objects_only_they_used(two_runs, tmp_path, lab, lab_args):
    import shutil

    _, out = two_runs
    db = tmp_path / "h.db"
    shutil.copy(out / "history.db", db)
    store = Store(db)
    older = [r["id"] for r in store.runs()]
    store.close()
    assert len(older) == 2
    res = run("scan", str(lab.inventory), "--db", str(db), "--keep", "2", *lab_args)
    assert res.exit_code == 0, res.output
    assert "--keep 2: deleted 1 older runs" in res.stderr
    store = Store(db)
    kept = [r["id"] for r in store.runs()]
    assert len(kept) == 2 and older[-1] not in kept and older[0] in kept
    for table in ("services", "endpoints", "mail_domains"):
        assert store.db.execute(f"SELECT count(*) FROM {table} WHERE run_id = ?", (older[-1],)).fetchone()[0] == 0
    for run_id in kept:  # every object the kept runs refer to is still there: each reads whole
        assert len(build_result(store, run_id)["services"]) == 13
    store.close()


def test_retention_sweeps_exactly_the_objects_no_kept_run_refers_to(tmp_path):
    shared = {"chain": [{"subject": "CN=shared intermediate", "pad": "x" * 600}]}
    store = Store(tmp_path / "h.db")
    for n, (run_id, own) in enumerate((("20260101T000000Z-aaaaaa", "old"), ("20260102T000000Z-bbbbbb", "new"))):
        store.start_run(run_id, f"2026-01-0{n + 1}T00:00:00Z", "0", "p@1", None, {})
        store.save_service(run_id, "s", "s", "", {})
        store.save_endpoint(run_id, "s", "https://s.test/", [], {"certificate": {
            "shared": shared, "leaf": {"subject": f"CN={own}", "pad": own * 300}}})
        store.finish_run(run_id, True)
    before = {d: decompress(data) for d, data in store.db.execute("SELECT digest, data FROM blobs")}
    assert store.keep_newest(1, "20260102T000000Z-bbbbbb") == ["20260101T000000Z-aaaaaa"]
    after = {d for (d,) in store.db.execute("SELECT digest FROM blobs")}
    facts = store.service("20260102T000000Z-bbbbbb", "s")["endpoint_facts"]["https://s.test/"]["facts"]
    assert facts["certificate"]["shared"] == shared and facts["certificate"]["leaf"]["subject"] == "CN=new"
    assert {d for d, text in before.items() if "CN=old" in text} == set(before) - after != set()
    store.close()
