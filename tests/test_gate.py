"""`bolwerk gate` and `bolwerk rescore`: verdict rules, exit codes and the last line, against
the lab in-process (the lab's port map reaches the CLI through the hidden --lab-port-map)."""

from __future__ import annotations

import json
import shutil
import sys
from datetime import date
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from reports.json import schema
from scanner.cli import main
from scanner.gate import Baseline, decide, waiver_notes
from scanner.model import InputError
from scanner.policy import Waiver

BASE = "bolwerk-baseline@2026.11"

# --------------------------------------------------------------------------- verdict rules (no network)


def fnd(check: str, status: str = "fail", level: str = "required", fid: str | None = None, **extra):
    return {"id": fid or (check.replace(".", "")[:20].ljust(20, "0")), "check": check, "pillar": check.split(".")[0],
            "level": level, "severity": "high", "status": status, "target": "https://a.test/",
            "message": f"{check} {status}", "evidence": {}, **extra}


def svc(sid: str = "a", grade: str | None = "A", findings=(), caps=(), facts=None):
    facts = facts if facts is not None else {"tls": {"protocols": {}}, "http": {"status": 200}}
    return {"id": sid, "name": sid, "grade": grade, "score": 90.0, "caps": list(caps),
            "endpoints": [{"target": f"https://{sid}.test/", "facts": facts, "collected": True}],
            "findings": list(findings)}


def result(*services, policy=BASE):
    return {"schema": "bolwerk/scan-result/v1", "run": {"id": "r", "policy": policy}, "services": list(services)}


def baseline(res) -> Baseline:
    failing = {f["id"] for s in res["services"] for f in s["findings"] if f["status"] == "fail"}
    return Baseline("base.json", BASE, failing, {s["id"]: s["grade"] for s in res["services"]})


def test_grade_rule():
    ok = decide(result(svc(grade="B")), min_grade="B")
    assert ok.exit_code == 0 and ok.reason.startswith(f"bolwerk: gate: PASS under {BASE}: 1 service, grade B or better")
    low = decide(result(svc(grade="C", caps=["C: DNSSEC missing (dns.dnssec on https://a.test/)"])), min_grade="B")
    assert low.exit_code == 1
    assert low.reason == f"bolwerk: gate: FAIL under {BASE}: a: grade C below B: C: DNSSEC missing (dns.dnssec on https://a.test/)"


def test_fail_on_levels_and_waivers():
    findings = [fnd("http.csp", level="recommended"), fnd("tls.protocol.tls10", status="waived"),
                fnd("dns.ipv6", status="warn")]
    res = result(svc(grade="A", findings=findings))
    assert decide(res, "B", fail_on="required").exit_code == 0
    verdict = decide(res, "B", fail_on="recommended")
    assert verdict.exit_code == 1 and "http.csp (recommended, high) failed on https://a.test/" in verdict.reason
    with pytest.raises(InputError):
        decide(res, "B", fail_on="optional")


def test_baseline_tolerates_what_it_knew_and_fails_what_is_new():
    old = result(svc(grade="B", findings=[fnd("tls.protocol.tls10", fid="1" * 20)]))
    same = decide(old, "A", baseline=baseline(old))
    assert same.exit_code == 0 and same.fail_on == "recommended"
    assert "known problems tolerated by the baseline" in same.reason and same.known_ids == {"1" * 20}
    # the PASS line says what was required: the baseline's grade B, not the A it asked for
    assert f"PASS under {BASE}: 1 service, grade A or better or no worse than the baseline (a at B, as in the baseline)" \
        in same.reason
    regressed = result(svc(grade="B", findings=[fnd("tls.protocol.tls10", fid="1" * 20),
                                                fnd("http.hsts", fid="2" * 20)]))
    verdict = decide(regressed, "A", baseline=baseline(old))
    assert verdict.exit_code == 1 and verdict.new_ids == {"2" * 20}
    assert "new: http.hsts (required, high) failed" in verdict.reason
    optional = result(svc(grade="B", findings=[fnd("http.version_disclosure", level="optional", fid="3" * 20)]))
    assert decide(optional, "A", baseline=baseline(old)).exit_code == 0
    worse = decide(result(svc(grade="C")), "A", baseline=baseline(old))
    assert worse.exit_code == 1 and "grade C below A (baseline: B)" in worse.reason
    newcomer = decide(result(svc("b", grade="B")), "A", baseline=baseline(old))
    assert newcomer.exit_code == 1  # a service the baseline never saw gets the absolute rule


def test_could_not_scan_wins_over_failures_and_incomplete_loses_to_them():
    dead = svc("dead", grade="incomplete", facts={"tls": {"error": "no A or AAAA record (NXDOMAIN)"},
                                                  "http": {"error": "no A or AAAA record (NXDOMAIN)"}})
    bad = svc("bad", grade="F")
    verdict = decide(result(bad, dead))
    assert verdict.exit_code == 3 and verdict.reason.startswith("bolwerk: gate: could not scan dead: https://dead.test/")
    partial = svc("partial", grade="incomplete", caps=["incomplete: required checks could not run: mail.starttls"])
    assert decide(result(partial)).exit_code == 3
    assert "mail.starttls" in decide(result(partial)).reason
    assert decide(result(partial, bad)).exit_code == 1


def test_baseline_file_mistakes(tmp_path):
    with pytest.raises(InputError, match="cannot read baseline"):
        Baseline.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(InputError, match="baseline is not JSON"):
        Baseline.load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"runs": []}', encoding="utf-8")
    with pytest.raises(InputError, match="not a Bolwerk result"):
        Baseline.load(tmp_path / "other.json")
    waived = fnd("tls.protocol.tls10", status="waived", fid="4" * 20, waiver={"original_status": "fail"})
    (tmp_path / "ok.json").write_text(json.dumps(result(svc(findings=[waived]))), encoding="utf-8")
    assert Baseline.load(tmp_path / "ok.json").failing == {"4" * 20}


def test_waiver_notes():
    expired = fnd("tls.protocol.tls10", waiver={"check": "tls.*", "target": "*", "owner": "ops", "expires": "2026-01-01",
                                                "expired": True})
    soon = Waiver("tls.*", "*", "r", "ops", date(2026, 12, 10))
    unused = Waiver("dns.caa", "https://x.test/", "r", "ops", date(2027, 1, 1))
    notes = waiver_notes(result(svc(findings=[expired])), [soon, unused], date(2026, 11, 28))
    assert any("expired on 2026-01-01: the finding counts again" in n for n in notes)
    assert any("expires on 2026-12-10, in 12 days" in n for n in notes)
    assert any("dns.caa on https://x.test/ matched no problem" in n for n in notes)


# --------------------------------------------------------------------------- the gate against the lab


def gate(lab_args, *args: str):
    result = CliRunner().invoke(main, ["gate", *args, *lab_args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def last_line(result) -> str:
    return result.stderr.rstrip("\n").splitlines()[-1]


def test_gate_passes_a_sound_service(lab_args):
    result = gate(lab_args, "https://mijn.vlaanderen.test/", "--policy", BASE, "--min-grade", "A")
    assert result.exit_code == 0, result.stderr
    assert last_line(result) == f"bolwerk: gate: PASS under {BASE}: 1 service, grade A or better"
    assert result.stdout == "" and "not pinned" not in result.stderr


def test_gate_fails_a_service_below_policy(lab_args):
    result = gate(lab_args, "https://belastingen.vlaanderen.test/", "--min-grade", "A")
    assert result.exit_code == 1
    assert last_line(result).startswith("bolwerk: gate: FAIL under bolwerk-baseline@2026.12: belastingen-vlaanderen-test: "
                                        "grade B below A")
    assert "TLS 1.0 or 1.1 offered" in last_line(result)
    assert "bolwerk: note: the policy was not pinned and resolved to bolwerk-baseline@2026.12" in result.stderr


def test_gate_fail_on_required_catches_what_the_grade_lets_through(lab_args):
    target = "https://reisinfo.delijn.test/"
    assert gate(lab_args, target, "--policy", BASE, "--min-grade", "C").exit_code == 0
    result = gate(lab_args, target, "--policy", BASE, "--min-grade", "C", "--fail-on", "required")
    assert result.exit_code == 1
    assert "mail.starttls (required, high) failed on smtp://mx.delijn.test:25" in last_line(result)


def test_gate_rejects_a_bad_policy_before_scanning(lab_args, tmp_path):
    bad = tmp_path / "policy.toml"
    bad.write_text(f'[policy]\nname = "t"\nversion = "1"\nextends = "{BASE}"\n[thresholds]\nhsts = 1\n', encoding="utf-8")
    result = gate(lab_args, "https://mijn.vlaanderen.test/", "--policy", str(bad))
    assert result.exit_code == 2
    assert result.stderr == f"bolwerk: error: {bad}:6: thresholds.hsts: unknown threshold (see `bolwerk checks --thresholds`)\n"


def test_gate_cannot_scan_an_unknown_name(lab_args):
    result = gate(lab_args, "https://nergens.vlaanderen.test/", "--policy", BASE)
    assert result.exit_code == 3
    assert last_line(result) == ("bolwerk: gate: could not scan nergens-vlaanderen-test: https://nergens.vlaanderen.test/: "
                                 "nergens.vlaanderen.test has no A or AAAA record (NXDOMAIN)")


def test_gate_baseline_ratchet(lab_args, tmp_path):
    target = "https://belastingen.vlaanderen.test/"
    first = tmp_path / "baseline.json"
    assert gate(lab_args, target, "--policy", BASE, "--min-grade", "A", "--json", str(first)).exit_code == 1
    again = gate(lab_args, target, "--policy", BASE, "--min-grade", "A", "--baseline", str(first))
    assert again.exit_code == 0, again.stderr
    assert last_line(again).endswith("known problems tolerated by the baseline")
    assert "or no worse than the baseline (belastingen-vlaanderen-test at B, as in the baseline)" in last_line(again)

    # The same service before TLS 1.0 crept back in: the finding is new, so the gate fails.
    earlier = json.loads(first.read_text(encoding="utf-8"))
    for f in earlier["services"][0]["findings"]:
        if f["check"] == "tls.protocol.tls10":
            f["status"] = "pass"
    earlier["services"][0]["grade"] = "A"
    clean = tmp_path / "clean.json"
    clean.write_text(json.dumps(earlier), encoding="utf-8")
    regressed = gate(lab_args, target, "--policy", BASE, "--min-grade", "A", "--baseline", str(clean))
    assert regressed.exit_code == 1
    assert "grade B below A (baseline: A): B: TLS 1.0 or 1.1 offered" in last_line(regressed)
    assert "  - new: tls.protocol.tls10 (required, high) failed on https://belastingen.vlaanderen.test/" in regressed.stderr


def test_gate_json_on_stdout_follows_the_contract(lab_args, tmp_path):
    result = gate(lab_args, "https://api.vdab.test/", "--policy", BASE, "--json", "-", "--markdown", str(tmp_path / "m.md"))
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    jsonschema.validate(data, schema())
    assert data["gate"]["result"] == "pass" and data["gate"]["services"][0]["state"] == "pass"
    assert (tmp_path / "m.md").read_text(encoding="utf-8").startswith("### \u2705 Bolwerk gate passed")
    two = gate(lab_args, "https://api.vdab.test/", "--json", "-", "--sarif", "-")
    assert two.exit_code == 2 and "only one output can go to stdout" in two.stderr


def test_gate_an_inventory_points_sarif_at_its_lines(lab_args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("bolwerk.toml").write_text('# the services this repository deploys\n\n[[service]]\nid = "aangifte"\n'
                                    'name = "Aangifte"\nurls = ["https://belastingen.vlaanderen.test/"]\n',
                                    encoding="utf-8")
    result = gate(lab_args, "bolwerk.toml", "--policy", BASE, "--min-grade", "A", "--sarif", "out/gate.sarif",
                  "--junit", "out/gate.xml")
    assert result.exit_code == 1
    sarif = json.loads(Path("out/gate.sarif").read_text(encoding="utf-8"))
    failing = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "tls.protocol.tls10"]
    assert failing[0]["locations"][0]["physicalLocation"] == {"artifactLocation": {"uri": "bolwerk.toml"},
                                                              "region": {"startLine": 3}}
    assert sarif["runs"][0]["invocations"][0]["exitCode"] == 1


# --------------------------------------------------------------------------- rescore without the network

_audit = {"on": False, "events": []}


def _count_network(event: str, args: tuple) -> None:
    if _audit["on"] and event.startswith("socket.") and event != "socket.__new__":
        _audit["events"].append((event, args[1:2]))


sys.addaudithook(_count_network)


def test_rescore_under_a_stricter_policy_changes_grades_without_network(lab_scan, tmp_path):
    _, db, run_id = lab_scan
    copy = tmp_path / "history.db"
    shutil.copy(db, copy)
    strict = tmp_path / "strict.toml"
    strict.write_text(f"""
[policy]
name = "strict"
version = "1"
extends = "{BASE}"

[[caps]]
check = "tls.protocol.tls13"
status = ["warn", "fail"]
grade = "D"
reason = "no TLS 1.3"

[[caps]]
check = "dns.ipv6"
status = ["warn", "fail"]
grade = "C"
reason = "no IPv6"
""", encoding="utf-8")
    _audit["events"].clear()
    _audit["on"] = True
    try:
        result = CliRunner().invoke(main, ["rescore", run_id, "--policy", str(strict), "--db", str(copy),
                                           "--json", str(tmp_path / "strict.json")])
    finally:
        _audit["on"] = False
    assert result.exit_code == 0, result.output
    assert _audit["events"] == []  # not one socket event: no connect, lookup or send
    new_id = result.stdout.strip()
    before = {s["id"]: s["grade"] for s in lab_scan[0]["services"]}
    after = json.loads((tmp_path / "strict.json").read_text(encoding="utf-8"))
    assert after["run"]["id"] == new_id and after["run"]["rescored_from"] == run_id
    assert after["run"]["policy"] == "strict@1"
    grades = {s["id"]: s["grade"] for s in after["services"]}
    assert before["belastingaangifte"] == "B" and grades["belastingaangifte"] == "D"
    assert before["burgerprofiel"] == grades["burgerprofiel"] == "A+"  # TLS 1.3 and IPv6: no new cap applies
    assert grades != before
    jsonschema.validate(after, schema())
