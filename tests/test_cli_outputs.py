"""Outputs are declared and written one way for every command; `diff` is a report the CLI prints."""

from __future__ import annotations

import csv
import io
import json
import shutil
import xml.etree.ElementTree as ET

import jsonschema
import pytest
from click.testing import CliRunner

from reports.diff import diff_lines, diff_runs
from reports.json import SCHEMA_ID, schema
from scanner.cli import main
from scanner.store import Store

FORMATS = ("json", "ndjson", "sarif", "junit", "csv", "markdown")


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_every_command_declares_the_same_output_flags():
    commands = {name: {p.opts[0]: p for p in main.commands[name].params} for name in ("scan", "report", "rescore", "gate")}
    for fmt in FORMATS:
        helps = {name: params[f"--{fmt}"].help for name, params in commands.items()}
        assert len(set(helps.values())) == 1 and "('-' for stdout)" in helps["scan"], helps
    for name in ("scan", "report", "rescore"):
        assert {"--out", "--lang"} <= set(commands[name])
    assert "--out" not in commands["gate"]


def test_grades_exit_codes_and_schema_id_are_defined_once():
    import scanner.gate
    from scanner.exit_codes import EXIT_OK, EXIT_POLICY, EXIT_UNSCANNED
    from scanner.policy import GRADES, INCOMPLETE

    contract = schema()
    assert SCHEMA_ID == contract["properties"]["schema"]["const"] and scanner.gate.SCHEMA_ID is SCHEMA_ID
    gate = contract["properties"]["gate"]["properties"]
    assert gate["min_grade"]["enum"] == list(GRADES)
    assert gate["exit_code"]["enum"] == [EXIT_OK, EXIT_POLICY, EXIT_UNSCANNED]
    assert contract["$defs"]["cap"]["properties"]["grade"]["enum"] == [*GRADES, INCOMPLETE]


def parse(fmt: str, text: str):
    """Each format's own reader: stdout holds exactly that document."""
    if fmt == "json":
        return json.loads(text)["schema"]
    if fmt == "ndjson":
        return {json.loads(line)["run"] for line in text.splitlines()}
    if fmt == "sarif":
        return json.loads(text)["version"]
    if fmt == "junit":
        return ET.fromstring(text).tag
    if fmt == "csv":
        return next(csv.reader(io.StringIO(text)))[0]
    return text.splitlines()[0]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_output_goes_to_stdout_with_a_dash(lab_scan, tmp_path, fmt):
    _, db, run_id = lab_scan
    copy = tmp_path / "h.db"
    shutil.copy(db, copy)
    res = run("report", "--db", str(copy), "--run", run_id, f"--{fmt}", "-")
    assert res.exit_code == 0, res.output
    assert parse(fmt, res.stdout)
    assert not (tmp_path / "-").exists()


def test_rescore_json_to_stdout_keeps_stdout_one_document(lab_scan, tmp_path):
    _, db, run_id = lab_scan
    copy = tmp_path / "h.db"
    shutil.copy(db, copy)
    res = run("rescore", run_id, "--policy", "ncsc-tls-2025@2026.11", "--db", str(copy), "--json", "-")
    assert res.exit_code == 0, res.output
    result = json.loads(res.stdout)
    jsonschema.validate(result, schema())
    assert result["schema"] == SCHEMA_ID and result["run"]["rescored_from"] == run_id
    assert result["run"]["id"] in res.stderr  # the new run's id moves to stderr


def test_two_outputs_on_stdout_are_refused(lab_scan, tmp_path):
    _, db, _ = lab_scan
    res = run("report", "--db", str(db), "--json", "-", "--ndjson", "-")
    assert res.exit_code == 2
    assert [line for line in res.output.splitlines() if line] == ["bolwerk: error: -: only one output can go to stdout"]


def judged(store: Store, run_id: str, policy: str, services: dict[str, tuple[str, list[tuple[str, str]]]]) -> None:
    """A stored run: service id -> (grade, [(finding id, status)])."""
    store.start_run(run_id, run_id[:8] + "T000000Z", "0", policy, None, {})
    for sid, (grade, findings) in services.items():
        store.save_service(run_id, sid, sid, "", {})
        rows = [{"id": fid, "check": f"c.{fid}", "pillar": "tls", "level": "required", "severity": "high",
                 "status": status, "target": f"https://{sid}.test/", "message": f"{fid} says {status}"}
                for fid, status in findings]
        store.save_judgement(run_id, sid, 50.0, grade, [], {}, rows, [])
    store.finish_run(run_id, True)


def test_diff_is_a_structured_report(tmp_path):
    store = Store(tmp_path / "h.db")
    judged(store, "20260101T000000Z-aaaaaa", "p@1", {
        "gone": ("A", []), "same": ("B", [("x", "fail")]), "moved": ("B", [("old", "fail"), ("kept", "warn")])})
    judged(store, "20260102T000000Z-bbbbbb", "p@2", {
        "new": ("A", []), "same": ("B", [("x", "fail")]),
        "moved": ("C", [("kept", "warn"), ("fresh", "error"), ("fine", "pass")])})
    changes = diff_runs(store, "20260101T000000Z-aaaaaa", "20260102T000000Z-bbbbbb")
    store.close()
    assert not changes.same_policy and changes.policies == ("p@1", "p@2")
    assert [(c.id, c.state) for c in changes.services] == [("gone", "removed"), ("moved", "changed"), ("new", "added")]
    assert diff_lines(changes) == [
        "gone: removed",
        "moved: regressed",
        "  grade B -> C",
        "  new:   c.fresh error on https://moved.test/: fresh says error",
        "  no longer judged: c.old on https://moved.test/",  # c.old did not run in B: not "fixed"
        "new: added",
    ]
    res = run("diff", "20260101", "20260102", "--db", str(tmp_path / "h.db"))
    assert res.exit_code == 1  # a service regressed
    assert res.stdout.splitlines() == [
        "changes from 20260101T000000Z-aaaaaa to 20260102T000000Z-bbbbbb: 3 services", *diff_lines(changes)]
    assert "judged under different policies (p@1 vs p@2)" in res.stderr
