"""Short findings kept by digest in the store (scanner/short_findings.py): read back exactly as
judged, and every output the same whether a service's findings were kept short or whole."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from reports.outputs import Outputs, write_run
from scanner.compact import compress, dumps, stored
from scanner.short_findings import (
    SHORT_STATUSES,
    digest_of,
    finding_order,
    group_id,
    lengthen,
    shorten,
)
from scanner.store import Store

TARGETS = ["https://a.test/", "https://b.test/", "smtp://mx.test:25"]
STATUSES = ["pass", "not_applicable", "info", "fail", "warn", "error", "waived"]


@st.composite
def findings(draw: st.DrawFn) -> list[dict]:
    """A service's findings in v1's order: several per check and target (their own ids), some
    of a subject other than their target, evidence that repeats or not."""
    out = {}
    for _ in range(draw(st.integers(0, 25))):
        check = draw(st.sampled_from(["tls.a", "tls.b", "mail.c", "http.d"]))
        target = draw(st.sampled_from(TARGETS))
        subject = draw(st.sampled_from([None, target, "a.test", "b.test"]))
        own_id = draw(st.booleans())
        f = {"check": check, "pillar": check.split(".")[0], "status": draw(st.sampled_from(STATUSES)),
             "target": target, "level": "required", "severity": "low", "message": draw(st.sampled_from("xyz")),
             "message_nl": "nl", "evidence": draw(st.sampled_from([{}, {"n": 1}, {"list": [1, "é", None]}]))}
        if subject and subject != target:
            f["subject"] = subject
        f["id"] = (draw(st.text("0123456789abcdef", min_size=20, max_size=20)) if own_id
                   else group_id(check, target, subject or target))
        out[f["id"]] = f
    return sorted(out.values(), key=finding_order)


@given(findings())
@settings(max_examples=300, deadline=None)
def test_findings_kept_short_read_back_exactly(given_findings: list[dict]) -> None:
    form = shorten(given_findings)
    assert form is not None
    assert all(f["status"] not in SHORT_STATUSES for f in form.long)
    assert all(digest_of(text) == digest for digest, text in form.bodies.items())
    assert lengthen(stored(compress(dumps(form.stored()))), form.bodies.__getitem__) == given_findings


def test_findings_out_of_order_or_naming_a_mark_of_v11_are_kept_whole() -> None:
    a = {"id": "1" * 20, "check": "http.a", "pillar": "http", "status": "pass", "target": "https://a.test/",
         "evidence": {}}
    b = dict(a, id="2" * 20, check="http.b")
    assert shorten([b, a]) is None  # v1's order could not be told from the short form
    assert shorten([a, dict(b, evidence={"headers": {"$ref": "x"}})]) is None  # v1.1 writes that body its own way
    assert shorten([a, dict(b, status="fail", evidence={"headers": {"$ref": "x"}})]) is not None  # kept whole anyway


def _copy(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def _kept_whole(path: Path) -> int:
    """The store at `path` with every service's findings a list again, as judged before schema 5."""
    store = Store(path)
    rows = store.db.execute("SELECT run_id, service_id, findings FROM services WHERE findings IS NOT NULL").fetchall()
    lists = [(compress(dumps(store.service(run_id, sid, facts="none")["findings"])), run_id, sid)
             for run_id, sid, kept in rows if isinstance(stored(kept), dict)]
    with store.db:
        store.db.execute("BEGIN")
        store.db.executemany("UPDATE services SET findings = ? WHERE run_id = ? AND service_id = ?", lists)
    store.close()
    return len(lists)


def test_every_output_is_the_same_from_findings_kept_short_or_whole(two_runs, tmp_path):
    """The dashboard (two runs: trends, what changed, each problem's age) and results.json read
    the short findings apart (Store.service(short=True)); from the same findings kept whole
    they are the same, byte for byte."""
    _, folder = two_runs
    short, whole = tmp_path / "short.db", tmp_path / "whole.db"
    _copy(folder / "history.db", short)
    _copy(folder / "history.db", whole)
    assert _kept_whole(whole) > 20  # the lab's findings were kept short: this compares two ways
    for db in (short, whole):
        store = Store(db)
        write_run(store, store.resolve_run(None), Outputs(out=tmp_path / db.stem, lang="nl", workers=2))
        store.close()
    files = sorted(p.relative_to(tmp_path / "short") for p in (tmp_path / "short").rglob("*") if p.is_file())
    assert len(files) > 40 and Path("results.json") in files
    assert files == sorted(p.relative_to(tmp_path / "whole") for p in (tmp_path / "whole").rglob("*") if p.is_file())
    different = [str(p) for p in files if (tmp_path / "short" / p).read_bytes() != (tmp_path / "whole" / p).read_bytes()]
    assert not different


def _judged(store: Store, run_id: str, started: str, check: str) -> None:
    store.start_run(run_id, started, "0", "p@1", None, {})
    store.save_service(run_id, "s", "s", "", {})
    passed = {"id": group_id(check, "https://s.test/", "https://s.test/"), "check": check, "pillar": "http",
              "status": "pass", "target": "https://s.test/", "level": "required", "severity": "low",
              "message": check, "evidence": {}}
    store.save_judgement(run_id, "s", 100.0, "A", [], {}, [passed], [])
    store.finish_run(run_id, True)


def test_retention_sweeps_the_bodies_no_kept_run_names(tmp_path):
    store = Store(tmp_path / "h.db")
    _judged(store, "20260101T000000Z-aaaaaa", "2026-01-01T00:00:00Z", "http.old")
    _judged(store, "20260102T000000Z-bbbbbb", "2026-01-02T00:00:00Z", "http.new")
    assert store.db.execute("SELECT count(*) FROM finding_bodies").fetchone()[0] == 2
    assert store.keep_newest(1, "20260102T000000Z-bbbbbb") == ["20260101T000000Z-aaaaaa"]
    assert [b for (b,) in store.db.execute("SELECT body FROM finding_bodies")] == [
        dumps({"check": "http.new", "evidence": {}, "level": "required", "message": "http.new", "pillar": "http",
               "severity": "low", "status": "pass"})]
    assert [f["check"] for f in store.service("20260102T000000Z-bbbbbb", "s", facts="none")["findings"]] == ["http.new"]
    _judged(store, "20260103T000000Z-cccccc", "2026-01-03T00:00:00Z", "http.old")  # a swept body is written again
    assert [f["check"] for f in store.service("20260103T000000Z-cccccc", "s", facts="none")["findings"]] == ["http.old"]
    store.close()
