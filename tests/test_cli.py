"""The command line: exit codes and one-line reasons (0 ran, 1 policy failed, 2 bad input, 3 could not scan)."""

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from reports.json import schema
from scanner.cli import main


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def one_line_error(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_missing_inventory_is_exit_2(tmp_path):
    res = run("scan", str(tmp_path / "nope.toml"), "--db", str(tmp_path / "h.db"))
    assert res.exit_code == 2
    assert "nope.toml: inventory file not found" in one_line_error(res)


def test_malformed_inventory_names_file_line_and_key(tmp_path):
    inv = tmp_path / "inv.toml"
    inv.write_text('[[service]]\nname = "Portaal"\nurls = ["https://portaal.vlaanderen.test/"]\norganistion = "typo"\n')
    res = run("scan", str(inv), "--db", str(tmp_path / "h.db"))
    assert res.exit_code == 2
    line = one_line_error(res)
    assert "inv.toml:4: service 'Portaal': organistion: unknown key" in line


@pytest.mark.parametrize("args, fragment", [
    (["--concurrency", "0"], "Invalid value for '--concurrency'"),
    (["--resolver", "not-an-ip"], "--resolver: expected IP[:PORT]"),
    (["--policy", "no-such-policy"], "no-such-policy: unknown policy"),
    (["--trust-anchor", "{anchor}"], "not a trust anchor file"),
    (["--ca-bundle", "{missing}"], "CA bundle not found"),
])
def test_bad_flag_values_are_exit_2(tmp_path, args, fragment):
    inv = tmp_path / "hosts.txt"
    inv.write_text("https://portaal.vlaanderen.test/\n")
    anchor = tmp_path / "anchor.txt"
    anchor.write_text("this is not a zone file\n")
    args = [a.format(anchor=anchor, missing=tmp_path / "missing.pem") for a in args]
    res = CliRunner().invoke(main, ["scan", str(inv), "--db", str(tmp_path / "h.db"), *args])
    assert res.exit_code == 2, res.output
    assert fragment in res.output
    assert "Traceback" not in res.output


def test_unreachable_target_is_exit_3_with_its_cause(lab, tmp_path):
    res = run("scan", "https://nergens.vlaanderen.test/", "nergens2.vlaanderen.test", "--db", str(tmp_path / "h.db"),
              "--resolver", lab.resolver, "--trust-anchor", str(lab.trust_anchor), "--io-timeout", "2", "--quiet")
    assert res.exit_code == 3, res.output
    assert res.stdout == ""  # --quiet: no table, no summary; the cause stays
    assert res.stderr.splitlines() == [
        "bolwerk: could not scan: no target reachable: the name does not resolve for 2 of 2 endpoints; check the "
        "names, and pass --resolver when they exist only in an internal DNS."]


def test_one_service_is_not_plural(lab, tmp_path):
    res = run("scan", "nergens.vlaanderen.test", "--db", str(tmp_path / "h.db"), "--resolver", lab.resolver,
              "--trust-anchor", str(lab.trust_anchor), "--io-timeout", "2")
    assert ": 1 service, 1 endpoint in " in res.stderr


@pytest.mark.parametrize("facts, cause", [
    ([{"tls": {"error": "connect to 192.0.2.1 port 443: Network is unreachable"}}] * 25,
     "network unreachable for 25 of 25 endpoints; this machine has no route"),
    ([{"tls": {"error": "connect to 192.0.2.1 port 443 timed out"}, "http": {"error": "GET https://a/ did not "
      "complete within 60 s"}}, {"tls": {"error": "x.test has no A or AAAA record (NXDOMAIN)"}}] + [
      {"tls": {"error": "connect to 192.0.2.2 port 443: Connection refused"}}] * 2,
     "connection refused for 2 of 4 endpoints, timed out for 1 of 4 endpoints, the name does not resolve for 1 of 4 "
     "endpoints; nothing listens"),
    ([{"tls": {"error": "a strange new failure"}}], "a strange new failure for 1 of 1 endpoint."),
])
def test_the_cause_of_an_unreachable_estate_is_told_from_the_error_facts(facts, cause):
    from scanner.gate import unreached_cause

    result = {"services": [{"endpoints": [{"target": f"https://{n}.test/", "facts": f} for n, f in enumerate(facts)]}]}
    assert f"no target reachable: {cause}" in unreached_cause(result)
    result["services"].append({"endpoints": [{"target": "https://up.test/", "facts": {"tls": {"protocols": {}}}}]})
    assert unreached_cause(result) is None  # one endpoint measured: the estate was reachable


def test_checks_lists_every_registered_check_once_with_its_pillar_and_level():
    from checks.registry import default_registry

    res = run("checks")
    assert res.exit_code == 0
    listed = [tuple(line.split()[:3]) for line in res.output.splitlines()]
    assert listed == [("check", "pillar", "level")] + [(c.id, c.pillar, str(c.level)) for c in default_registry()]
    nl = run("checks", "--lang", "nl")
    assert "Mailservers bieden enkel TLS 1.2 of nieuwer aan" in nl.output


def test_demo_writes_results_history_and_dashboard(demo_run):
    res, out = demo_run  # `bolwerk demo --out DIR`, run once for the session (conftest)
    assert res.exit_code == 0, res.output
    result = json.loads((out / "results.json").read_text())
    from scanner.lab.lab import load_estate

    assert len(result["services"]) == len([s for s in load_estate()["service"] if s.get("demo", True)])
    assert (out / "history.db").exists()
    assert (out / "dashboard" / "index.html").exists()
    assert (out / "dashboard" / "en" / "index.html").exists()
    assert "burgerprofiel" in res.output and "Dashboard:" in res.output


def test_report_runs_and_diff_from_the_history(lab_scan, tmp_path):
    _, db, run_id = lab_scan
    res = run("runs", "--db", str(db))
    assert res.output.split()[:4] == ["run", "started", "state", "policy"] and run_id in res.output
    out = tmp_path / "report"
    res = run("report", "--db", str(db), "--run", run_id[:12], "--out", str(out), "--lang", "en")
    assert res.exit_code == 0, res.output
    assert "Security posture" in (out / "dashboard" / "index.html").read_text()
    res = run("diff", run_id, run_id, "--db", str(db))
    assert res.exit_code == 0 and res.output == f"changes from {run_id} to {run_id}: none\n"
    res = run("report", "--db", str(tmp_path / "none.db"))
    assert res.exit_code == 2 and "no Bolwerk history here" in res.output


def test_json_to_stdout(lab_args, tmp_path):
    """`--json -` writes the contract (and nothing else) to stdout; the run summary goes to stderr."""
    inv = tmp_path / "hosts.txt"
    inv.write_text("https://onderwijs.vlaanderen.test/\n")
    res = CliRunner().invoke(main, ["scan", str(inv), "--db", str(tmp_path / "h.db"), *lab_args, "--json", "-"])
    assert res.exit_code == 0, res.output
    result = json.loads(res.stdout)
    jsonschema.validate(result, schema())
    assert [s["id"] for s in result["services"]] == ["onderwijs-vlaanderen-test"]
    assert result["run"]["id"] in res.stderr and Path(tmp_path / "h.db").exists()
