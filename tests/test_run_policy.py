"""A run keeps the policy it was judged under: reports and --resume never reload it."""

from __future__ import annotations

import json
import sqlite3

import jsonschema
from click.testing import CliRunner

from checks.registry import default_registry
from reports.hoist import expand
from reports.json import build_result, schema
from scanner.cli import main
from scanner.inventory import load_inventory
from scanner.policy import load_policy
from scanner.runner import Runner
from scanner.store import MIGRATIONS, Store
from tests.conftest import lab_options

REGISTRY = default_registry()

# Every certificate counts as overdue for renewal: its whole lifetime is the renewal window.
EAGER = """
[policy]
name = "eager"
version = "1"
extends = "bolwerk-baseline@2026.11"

[thresholds]
certificate_expiry_warn_days = 3650
certificate_expiry_warn_fraction = 1.0
"""


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_report_uses_the_run_policy_although_its_file_is_gone(lab, lab_args, tmp_path):
    inv, policy_file, db = tmp_path / "hosts.txt", tmp_path / "eager.toml", tmp_path / "h.db"
    inv.write_text("https://mijn.vlaanderen.test/\n")
    policy_file.write_text(EAGER)
    digest = load_policy(str(policy_file), REGISTRY).digest()
    res = run("scan", str(inv), "--policy", str(policy_file), "--db", str(db), *lab_args)
    assert res.exit_code == 0, res.output
    policy_file.unlink()

    res = run("report", "--db", str(db), "--out", str(tmp_path / "out"), "--json", str(tmp_path / "r.json"))
    assert res.exit_code == 0, res.output
    result = expand(json.loads((tmp_path / "r.json").read_text()))
    jsonschema.validate(result, schema())
    assert result["run"]["policy"] == "eager@1" and result["run"]["policy_digest"] == digest
    lapsing = (tmp_path / "out" / "dashboard" / "index.html").read_text().split(
        "Certificaten die verlopen vóór ze vernieuwd worden", 1)[1]
    # under the checks' default window (14 days) this certificate is far from its renewal
    assert "https://mijn.vlaanderen.test/" in lapsing and "vernieuwing te laat" in lapsing


def test_resume_keeps_the_stored_policy_and_refuses_another(lab, lab_args, tmp_path):
    inv, policy_file, db = tmp_path / "hosts.txt", tmp_path / "eager.toml", tmp_path / "h.db"
    inv.write_text("https://mijn.vlaanderen.test/\n")  # one endpoint and one mail domain
    policy_file.write_text(EAGER)
    policy = load_policy(str(policy_file), REGISTRY)
    store = Store(db)

    def interrupt(done, total, label):
        raise KeyboardInterrupt

    try:
        Runner(lab_options(lab, concurrency=1), REGISTRY, policy, store, progress=interrupt).scan(load_inventory(inv))
    except KeyboardInterrupt:
        pass
    run_id = store.runs()[0]["id"]
    store.close()
    policy_file.unlink()

    other = run("scan", str(inv), "--db", str(db), "--resume", run_id, "--policy", "bolwerk-baseline@2026.11",
                *lab_args)
    assert other.exit_code == 2
    lines = [line for line in other.output.splitlines() if line.strip()]
    assert len(lines) == 1 and f"run {run_id} was started under eager@1 (digest {policy.digest()[:12]})" in lines[0]

    res = run("scan", str(inv), "--db", str(db), "--resume", run_id, "--json", "-", *lab_args)
    assert res.exit_code == 0, res.output
    result = expand(json.loads(res.stdout))
    assert result["run"]["complete"] and result["run"]["policy_digest"] == policy.digest()
    certificate = next(f for s in result["services"] for f in s["findings"] if f["check"] == "certificate.expiry")
    assert certificate["status"] == "warn"  # judged under the stored policy's thresholds, not the defaults


def test_runs_stored_before_schema_2_still_report(tmp_path):
    """A history written by schema 1 migrates; its runs report without policy digest or cap records."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
    db.execute("INSERT INTO runs (id, started, finished, complete, tool_version, policy) VALUES "
               "('20250101T000000Z-aaaaaa', '2025-01-01T00:00:00Z', '2025-01-01T00:01:00Z', 1, '0.0.9', "
               "'bolwerk-baseline@2026.11')")
    db.execute("INSERT INTO services (run_id, service_id, name, organisation, definition, score, grade, caps, pillars) "
               "VALUES ('20250101T000000Z-aaaaaa', 'a', 'A', '', ?, 50.0, 'B', ?, '{}')",
               (json.dumps({"name": "A", "organisation": "", "tags": [], "owner": "", "endpoints": [],
                            "mail_domains": [], "source": None}), json.dumps(["B: no HSTS (http.hsts on https://a/)"])))
    db.commit()
    db.close()
    store = Store(path)
    assert store.schema_version == len(MIGRATIONS) >= 2
    result = build_result(store, "20250101T000000Z-aaaaaa")
    store.close()
    jsonschema.validate(result, schema())
    assert result["run"]["policy_digest"] is None
    assert result["services"][0]["caps"] == ["B: no HSTS (http.hsts on https://a/)"]
    assert result["services"][0]["caps_detail"] is None
