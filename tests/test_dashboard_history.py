"""The dashboard's history reader: the problems of a stored findings list, read without decoding
the rest, and exactly what decoding everything would give."""

import json

import pytest

from reports.history import problem_findings


def finding(fid, status, **extra):
    return {"check": "http.csp", "code": "x", "evidence": {}, "id": fid, "level": "required", "message": "m",
            "pillar": "http", "severity": "high", "status": status, "target": "https://s.test/", **extra}


def stored(findings):
    return json.dumps(findings, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize("findings", [
    [],
    [finding("a", "pass"), finding("b", "fail"), finding("c", "warn"), finding("d", "error"), finding("e", "info")],
    # a status word inside a passing finding's evidence: read, and not counted
    [finding("a", "pass", evidence={"records": [{"status": "fail"}, {"status": "warn"}]}), finding("b", "fail")],
    # a problem whose evidence holds an object with a "check" key: the reader falls back to the whole list
    [finding("a", "fail", evidence={"nested": {"check": "x", "status": "error"}}), finding("b", "pass")],
    # markup and quotes in messages cannot fake a status
    [finding("a", "pass", message='"status":"fail" <script>', params={"status": "fail"}), finding("b", "warn")],
], ids=["empty", "statuses", "status-in-evidence", "check-in-evidence", "status-in-strings"])
def test_problems_read_alone_equal_the_problems_of_the_whole_list(findings):
    expected = [f for f in findings if f["status"] in ("fail", "warn", "error")]
    assert problem_findings(stored(findings)) == expected
    spaced = json.dumps(findings, sort_keys=True)  # the layout of runs stored before schema 3
    assert problem_findings(spaced) == expected
