"""Machine outputs of a scan and a gate: SARIF (valid against the official 2.1.0 schema),
JUnit (parsed by a standard parser), CSV, NDJSON and Markdown, including waivers, a
baseline, and hostile text from scanned servers."""

from __future__ import annotations

import copy
import csv
import io
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from checks.registry import default_registry
from reports.csv import build_csv
from reports.hoist import expand
from reports.json import build_result, write_ndjson
from reports.junit import build_junit
from reports.markdown import MAX_CHARS, build_markdown
from reports.sarif import FINGERPRINT, build_sarif, target_path
from scanner.cli import main
from scanner.gate import Baseline, decide
from scanner.judge import rescore
from scanner.policy import load_policy
from scanner.store import Store

SARIF_SCHEMA = json.loads((Path(__file__).parent.parent / "reports" / "schema" / "sarif-schema-2.1.0.json")
                          .read_text(encoding="utf-8"))
REGISTRY = default_registry()
BASE = "bolwerk-baseline@2026.11"
HOSTILE = "=HYPERLINK(\"http://evil.test\") <img src=x onerror=alert(1)> | [click](javascript:alert(1)) *x* \x00\x1b\ud800 `"


def validate_sarif(doc) -> None:
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)


@pytest.fixture(scope="session")
def waived(lab_scan, tmp_path_factory):
    """The lab run re-judged (no network) under a policy with one active and one lapsed waiver."""
    _, db, run_id = lab_scan
    folder = tmp_path_factory.mktemp("outputs")
    shutil.copy(db, folder / "history.db")
    policy = folder / "waivers.toml"
    policy.write_text(f"""[policy]
name = "waivers"
version = "1"
extends = "{BASE}"

[[waivers]]
check = "tls.protocol.tls10"
target = "https://belastingen.vlaanderen.test/"
reason = "tax-season clients; load balancer replaced in Q1"
owner = "ops@belastingen.test"
expires = 2099-12-31

[[waivers]]
check = "dns.dnssec*"
target = "*gent.test*"
reason = "signing planned"
owner = "dns@gent.test"
expires = 2020-01-01
""", encoding="utf-8")
    store = Store(folder / "history.db")
    new_id = rescore(store, run_id, REGISTRY, load_policy(str(policy), REGISTRY))
    result = build_result(store, new_id)
    store.close()
    return result, policy


def all_findings(result):
    return [(s, f) for s in result["services"] for f in s["findings"]]


def hostile(result):
    """A copy of the result in which one failing finding quotes a hostile server."""
    out = copy.deepcopy(result)
    for _, f in all_findings(out):
        if f["status"] == "fail":
            f["message"] = HOSTILE
            f["evidence"] = {"header": HOSTILE}
            return out
    raise AssertionError("no failing finding in the lab run")


# --------------------------------------------------------------------------- SARIF

def test_sarif_validates_and_reports_every_failure_once(waived):
    result, policy = waived
    doc = build_sarif(hostile(result), REGISTRY)
    validate_sarif(doc)
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [c.id for c in REGISTRY]
    assert all(r["help"]["text"] and r["shortDescription"]["text"] for r in rules)
    assert rules[[r["id"] for r in rules].index("tls.protocol.tls10")]["properties"]["security-severity"] == "8.0"
    expected = {f["id"] for _, f in all_findings(result) if f["status"] in ("fail", "waived")}
    got = [r["partialFingerprints"][FINGERPRINT] for r in run["results"]]
    assert sorted(got) == sorted(expected) and len(got) == len(set(got))
    for r in run["results"]:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
    assert "automationDetails" not in run  # the uploader's category names the analysis
    named = build_sarif(result, REGISTRY, category="bolwerk/portals")
    validate_sarif(named)
    assert named["runs"][0]["automationDetails"] == {"id": "bolwerk/portals"}


def test_sarif_shows_waived_findings_as_suppressed_at_the_waiver_line(waived):
    result, policy = waived
    run = build_sarif(result, REGISTRY)["runs"][0]
    tls10 = [r for r in run["results"] if r["ruleId"] == "tls.protocol.tls10"]
    assert len(tls10) == 1
    assert tls10[0]["suppressions"] == [{"kind": "external", "status": "accepted", "justification":
                                         "tax-season clients; load balancer replaced in Q1 (owner ops@belastingen.test, "
                                         "until 2099-12-31)"}]
    location = tls10[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("waivers.toml") and location["region"] == {"startLine": 6}
    dnssec = [r for r in run["results"] if r["ruleId"] == "dns.dnssec" and "gent" in r["message"]["text"]]
    assert dnssec and "suppressions" not in dnssec[0]  # the lapsed waiver protects nothing
    assert "waiver expired on 2020-01-01" in dnssec[0]["message"]["text"]


def test_sarif_points_inventory_services_at_their_line(lab_scan, lab):
    result = lab_scan[0]
    run = build_sarif(result, REGISTRY)["runs"][0]
    lines = Path(lab.inventory).read_text(encoding="utf-8").splitlines()
    for r in run["results"]:
        region = r["locations"][0]["physicalLocation"]["region"]
        assert lines[region["startLine"] - 1] == "[[service]]"
        service_id = r["properties"]["service"]
        assert lines[region["startLine"]] == f'id = "{service_id}"'


def test_sarif_marks_new_and_known_failures_against_a_baseline(lab_scan):
    result = lab_scan[0]
    fails = [f["id"] for _, f in all_findings(result) if f["status"] == "fail"]
    base = Baseline("b.json", BASE, set(fails[1:]), {s["id"]: s["grade"] for s in result["services"]})
    doc = build_sarif(result, REGISTRY, decide(result, "B", baseline=base))
    validate_sarif(doc)
    states = {r["partialFingerprints"][FINGERPRINT]: r["baselineState"] for r in doc["runs"][0]["results"]}
    assert states[fails[0]] == "new" and {states[i] for i in fails[1:]} == {"unchanged"}
    assert doc["runs"][0]["invocations"][0]["exitCode"] == 1


@pytest.mark.parametrize("target,path", [
    ("https://www.gent.test/", "www.gent.test"),
    ("https://api.vdab.test:8443/v2/jobs/", "api.vdab.test_8443/v2/jobs"),
    ("smtp://mx.delijn.test:25", "mx.delijn.test_25"),
    ("https://[2001:db8::1]/", "2001_db8__1"),
    ("vlaanderen.be", "vlaanderen.be"),
])
def test_sarif_paths_for_command_line_targets(target, path):
    assert target_path(target) == path


# --------------------------------------------------------------------------- JUnit

def test_junit_has_a_case_per_check_and_endpoint(waived):
    result, _ = waived
    root = ET.fromstring(ET.tostring(build_junit(hostile(result), REGISTRY)))  # a standard parser reads it back
    cases = root.findall("./testsuite/testcase")
    pairs = {(s["id"], f.get("subject") or f["target"], f["check"]) for s, f in all_findings(result)}
    assert len(cases) == len(pairs) == int(root.get("tests"))
    assert {(c.get("classname"), c.get("name")) for c in cases} == {p[1:] for p in pairs}
    failures = root.findall("./testsuite/testcase/failure")
    assert int(root.get("failures")) == len(failures) > 0
    skipped = [c.find("skipped").get("message") for c in cases if c.find("skipped") is not None]
    assert any(m.startswith("waived: tax-season clients") for m in skipped)
    assert any(m.startswith("not applicable:") for m in skipped)
    errors = root.findall("./testsuite/testcase/error")
    assert int(root.get("errors")) == len(errors)


def test_junit_survives_hostile_text_in_a_file(waived, tmp_path):
    from reports.junit import write_junit

    result, _ = waived
    path = tmp_path / "junit.xml"
    write_junit(hostile(result), path, REGISTRY)
    text = path.read_text(encoding="utf-8")
    assert "\x00" not in text and "\x1b" not in text
    root = ET.parse(path).getroot()
    messages = [f.get("message") for f in root.iter("failure")]
    assert any("<img src=x onerror=alert(1)>" in m for m in messages)  # escaped in XML, intact once parsed


def test_junit_under_a_gate_has_the_verdict_and_skips_known_failures(lab_scan):
    result = lab_scan[0]
    fails = {f["id"] for _, f in all_findings(result) if f["status"] == "fail"}
    base = Baseline("b.json", BASE, fails, {s["id"]: s["grade"] for s in result["services"]})
    root = build_junit(result, REGISTRY, decide(result, "B", baseline=base))
    grades = [c for c in root.iter("testcase") if c.get("name") == "grade"]
    assert len(grades) == len(result["services"])
    assert not list(root.iter("failure"))  # every failure is known: the ratchet lets them through
    assert any(s.get("message", "").startswith("known since the baseline:") for s in root.iter("skipped"))


def test_junit_under_a_gate_fails_only_what_failed_the_gate(lab_scan):
    result = lab_scan[0]
    assert any(f["status"] == "fail" and f["level"] == "required" for _, f in all_findings(result))
    passing = build_junit(result, REGISTRY, decide(result, "F"))  # every grade passes, no --fail-on
    assert not list(passing.iter("failure")) and passing.get("failures") == "0"
    told = [o.text for o in passing.iter("system-out") if "the gate did not fail on it" in (o.text or "")]
    assert any(t.startswith("failed (required, ") for t in told)  # still told, as output of a passing case

    verdict = decide(result, "F", fail_on="required")
    gating = {fid for sv in verdict.services for fid in sv.failing_ids}
    root = build_junit(result, REGISTRY, verdict)
    failed_cases = {(c.get("classname"), c.get("name")) for c in root.iter("testcase")
                    if c.find("failure") is not None and c.get("name") != "grade"}
    expected = {(f.get("subject") or f["target"], f["check"]) for _, f in all_findings(result) if f["id"] in gating}
    assert failed_cases == expected and expected


# --------------------------------------------------------------------------- CSV, NDJSON, Markdown

def test_csv_has_one_row_per_finding_and_defuses_formulas(waived):
    result, _ = waived
    rows = list(csv.DictReader(io.StringIO(build_csv(hostile(result), REGISTRY))))
    assert len(rows) == len(all_findings(result))
    evil = [r for r in rows if "HYPERLINK" in r["message"]]
    assert evil and evil[0]["message"].startswith("'=HYPERLINK") and evil[0]["evidence"].startswith("{")
    waived_row = next(r for r in rows if r["status"] == "waived")
    assert waived_row["waiver_owner"] == "ops@belastingen.test" and waived_row["waiver_expires"] == "2099-12-31"
    assert "NIST-CSF-2.0:PR.DS-02" in waived_row["controls"]
    assert not any(ch in "".join(r["message"] for r in rows) for ch in "\x00\x1b")


def test_ndjson_has_one_finding_per_line(waived, tmp_path):
    result, _ = waived
    write_ndjson(result, tmp_path / "f.ndjson")
    lines = (tmp_path / "f.ndjson").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(all_findings(result))
    assert all(json.loads(line)["policy"] == "waivers@1" for line in lines)


def test_markdown_summary_is_inert_and_short(waived):
    result, _ = waived
    text = build_markdown(hostile(result), REGISTRY)
    assert text.startswith("### Bolwerk scan results")
    assert "<img" not in text and "[click](javascript" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text and "\\| \\[click\\]" in text
    assert "#### Waived: comply or explain (1)" in text and "#### Expired waivers" in text
    assert "#### Controls affected" in text and "NIST-CSF-2.0:PR.DS-02" in text
    for line in text.splitlines():
        if line.startswith("| ") and "HYPERLINK" in line:
            assert line.count(" | ") == 4  # the hostile '|' did not add a column

    many = copy.deepcopy(result)
    template = next(f for _, f in all_findings(many) if f["status"] == "fail")
    many["services"][0]["findings"] += [dict(template, id=f"{i:020d}", message="x" * 500) for i in range(400)]
    long = build_markdown(many, REGISTRY)
    assert len(long) <= MAX_CHARS and "more failing checks" in long


def test_markdown_under_a_gate_marks_new_failures(lab_scan):
    result = lab_scan[0]
    fails = [f["id"] for _, f in all_findings(result) if f["status"] == "fail"]
    base = Baseline("ci/baseline.json", BASE, set(fails[1:]), {s["id"]: s["grade"] for s in result["services"]})
    text = build_markdown(result, REGISTRY, decide(result, "B", baseline=base))
    assert text.startswith("### \u274c Bolwerk gate failed")
    assert "baseline `baseline.json`" in text and text.count("\U0001f195 new") == 1 and "| known |" in text


class OnePass:
    """Services that can be read once, front to back, as a large estate's are from the store."""

    def __init__(self, services: list) -> None:
        self.services, self.read = services, False

    def __len__(self) -> int:
        return len(self.services)

    def __iter__(self):
        assert not self.read, "the services were read twice"
        self.read = True
        return iter(self.services)


def test_markdown_reads_the_services_once_and_keeps_the_first_rows_of_each_section(lab_scan):
    """An estate with more failing findings than rows shown, arriving in no particular order:
    one pass over the services gives the rows a whole sort would (new before known, required
    first, then by service), and the counts of every section."""
    result = copy.deepcopy(lab_scan[0])
    services = []
    for n in range(40):
        for svc in result["services"]:
            copied = dict(svc, id=f"{39 - n:02d}-{svc['id']}")
            copied["findings"] = [dict(f, id=f"{n:02d}{f['id']}") for f in svc["findings"]]
            services.append(copied)
    many = dict(result, services=services)
    fails = [(s, f) for s, f in all_findings(many) if f["status"] == "fail"]
    assert len(fails) > 2 * 50
    base = Baseline("ci/baseline.json", BASE, {f["id"] for _, f in fails[::3]}, {})
    verdict = decide(many, "B", baseline=base)
    text = build_markdown(dict(many, services=OnePass(services)), REGISTRY, verdict)
    assert text == build_markdown(many, REGISTRY, verdict)
    assert f"#### Failing checks ({len(fails)})" in text and f"{len(fails) - 50} more failing checks" in text
    first = sorted(fails, key=lambda p: (p[1]["id"] in verdict.known_ids, p[1]["level"] != "required", p[0]["id"]))
    section = text.split("#### Failing checks", 1)[1].split("\n\n_", 1)[0]
    shown = [line.split(" | ")[1:3] for line in section.splitlines() if line.startswith(("| known", "| \U0001f195"))]
    assert shown == [[s["id"], f"`{f['check']}`"] for s, f in first[:50]]


# --------------------------------------------------------------------------- every scan writes them

def test_scan_writes_every_output(lab_args, tmp_path, lab):
    inventory = tmp_path / "inventory.txt"
    inventory.write_text("https://onderwijs.vlaanderen.test/\n", encoding="utf-8")
    out = {name: tmp_path / name for name in ("r.sarif", "r.xml", "r.csv", "r.md", "r.json", "r.ndjson")}
    result = CliRunner().invoke(main, ["scan", str(inventory), "--db", str(tmp_path / "h.db"), *lab_args,
                                       "--sarif", str(out["r.sarif"]), "--junit", str(out["r.xml"]),
                                       "--csv", str(out["r.csv"]), "--markdown", str(out["r.md"]),
                                       "--json", str(out["r.json"]), "--ndjson", str(out["r.ndjson"])])
    assert result.exit_code == 0, result.output
    sarif = json.loads(out["r.sarif"].read_text(encoding="utf-8"))
    validate_sarif(sarif)
    data = expand(json.loads(out["r.json"].read_text(encoding="utf-8")))
    failed = sorted(f["check"] for f in data["services"][0]["findings"] if f["status"] == "fail")
    assert {"http.hsts", "http.redirect"} <= set(failed)  # what the lab stages on onderwijs
    assert sorted(r["ruleId"] for r in sarif["runs"][0]["results"]) == failed  # one result per failed finding
    assert sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}
    assert ET.parse(out["r.xml"]).getroot().get("failures") != "0"
    rows = list(csv.DictReader(io.StringIO(out["r.csv"].read_text(encoding="utf-8"))))
    assert len(rows) == len(data["services"][0]["findings"]) == len(out["r.ndjson"].read_text().splitlines())
    assert "| onderwijs-vlaanderen-test | **" in out["r.md"].read_text(encoding="utf-8")
