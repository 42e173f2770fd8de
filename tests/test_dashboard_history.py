"""The dashboard's history reader: an earlier run's problems in brief (Store.problems), kept at
judging time, and exactly what its findings give for runs judged before they were kept."""

import pytest

from scanner.store import Store


def finding(fid, status, **extra):
    return {"check": "http.csp", "code": "x", "evidence": {}, "id": fid, "level": "required", "message": "m",
            "pillar": "http", "severity": "high", "status": status, "target": "https://s.test/", **extra}


def brief(f):
    return {k: f[k] for k in ("id", "check", "status", "target", "subject") if k in f}


@pytest.mark.parametrize("findings", [
    [],
    [finding("a", "pass"), finding("b", "fail"), finding("c", "warn"), finding("d", "error"), finding("e", "info")],
    # a status word inside a passing finding's evidence or strings is not a problem
    [finding("a", "pass", evidence={"records": [{"status": "fail"}]}, message='"status":"fail" <script>'),
     finding("b", "fail", subject="mail.s.test", target="mx.s.test")],
], ids=["empty", "statuses", "status-in-evidence"])
def test_problems_in_brief_equal_the_problems_of_the_findings(tmp_path, findings):
    store = Store(tmp_path / "h.db")
    store.start_run("r", "2026-12-03T00:00:00Z", "0", "p@1", None, {})
    store.save_service("r", "s", "S", "O", {"name": "S", "organisation": "O"})
    store.save_judgement("r", "s", 90.0, "A", [], {}, findings, [])
    expected = [brief(f) for f in findings if f["status"] in ("fail", "warn", "error")]
    assert store.problems("r", "s") == expected
    store.db.execute("UPDATE services SET problems = NULL")  # judged before schema 4: read from its findings
    assert store.problems("r", "s") == expected
    assert store.problems("r", "other") is None
    store.close()
