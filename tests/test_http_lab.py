"""The HTTP pillar against the lab: every lab case gets its intended verdict per rule.

One scan of every lab service (demo and test-only, `inventory-all.toml`) per module. The
intended verdicts live with the cases in scanner/lab/estate.toml and estate.d/http.toml.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
from conftest import lab_options

SCHEMA = Path(__file__).parent.parent / "reports" / "schema" / "scan-result-v1.json"
SECRETS = ("GeheimeSessie123", "TokenWaarde456", "GeheimeStaat789")


@pytest.fixture(scope="module")
def scan(lab, tmp_path_factory):
    from checks.registry import default_registry
    from reports.json import build_result
    from scanner.inventory import load_inventory
    from scanner.policy import load_policy
    from scanner.runner import Runner
    from scanner.store import Store

    registry = default_registry()
    store = Store(tmp_path_factory.mktemp("http") / "history.db")
    runner = Runner(lab_options(lab, io_timeout=1.5), registry, load_policy(None, registry), store)
    run_id = runner.scan(load_inventory(lab.inventory_all))
    result = build_result(store, run_id)
    store.close()
    return result, runner.network.records


@pytest.fixture(scope="module")
def by_id(scan):
    return {s["id"]: s for s in scan[0]["services"]}


def _http_expectations(lab):
    for sid, expect in sorted(lab.expectations.items()):
        for status, checks in expect.items():
            if status == "grade":
                continue
            for chk in checks:
                if chk.startswith("http."):
                    yield sid, status, chk


def test_every_http_expectation_holds(lab, by_id):
    wrong = []
    for sid, status, chk in _http_expectations(lab):
        got = [f for f in by_id[sid]["findings"] if f["check"] == chk]
        if status not in {f["status"] for f in got}:
            wrong.append(f"{sid}: {chk} expected {status}, got "
                         + "; ".join(f"{f['status']}: {f['message'][:120]}" for f in got))
    assert not wrong, "\n".join(wrong)


def test_demo_grades_still_hold(lab, by_id):
    for sid, expect in lab.expectations.items():
        if "grade" in expect:
            assert by_id[sid]["grade"] in expect["grade"], (sid, by_id[sid]["grade"], by_id[sid]["caps"])


def _findings(svc, check):
    return [f for f in svc["findings"] if f["check"] == check]


def test_csp_findings_name_the_rule_directive_and_source(by_id):
    script = {f["evidence"]["rule"]: f for f in _findings(by_id["http-csp-zwak"], "http.csp.script")}
    assert set(script) == {"unsafe-inline", "unsafe-eval", "broad-source", "data"}
    for rule, source in (("unsafe-inline", "'unsafe-inline'"), ("broad-source", "https:"), ("data", "data:")):
        f = script[rule]
        assert f["status"] == "fail" and f["evidence"]["directive"] == "script-src"
        assert source in f["evidence"]["sources"] and source in f["message"]
    assert len({f["id"] for f in script.values()}) == 4  # distinct, stable finding ids
    directives = {f["evidence"]["rule"]: f["status"] for f in _findings(by_id["http-csp-zwak"], "http.csp.directives")}
    assert directives == {"object-src": "fail", "base-uri": "warn", "form-action": "warn", "default-src": "warn"}


def test_nonce_and_strict_dynamic_neutralise_fallbacks(by_id):
    (f,) = _findings(by_id["http-csp-strikt"], "http.csp.script")
    assert f["status"] == "pass"
    assert any("ignored" in r for r in f["evidence"]["rules"])


def test_cross_host_first_hop_is_not_blamed_on_the_portal(by_id):
    portal = by_id["http-portaal"]["endpoints"][0]["facts"]["http"]
    assert portal["leaves_host"] == "aanmelden.webproef.test"
    assert portal["response"]["status"] == 302  # headers judged: the portal's own response
    assert portal["final_url"].startswith("https://aanmelden.webproef.test/login")
    login = by_id["http-aanmelden"]
    assert {f["status"] for f in _findings(login, "http.csp")} == {"pass"}


def test_no_secret_leaves_the_scanner(scan):
    text = json.dumps(scan[0])
    for secret in SECRETS:
        assert secret not in text
    assert "state=[redacted]" in text


def test_result_validates_against_the_contract(scan):
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(scan[0], json.loads(SCHEMA.read_text(encoding="utf-8")))


def test_www_name_and_compression_and_page_facts(by_id):
    brugge = by_id["http-brugge"]["endpoints"][0]["facts"]["http"]
    assert brugge["www"]["exists"] is True and brugge["www"]["https_chain"][0]["status"] == 301
    page = by_id["http-pagina"]["endpoints"][0]["facts"]["http"]
    assert page["content_encoding"] == "gzip"
    assert len(page["html"]["scripts"]) == 3  # read from the decompressed body


def test_hostile_targets_become_findings_not_failures(by_id):
    koppen = by_id["http-koppen"]["endpoints"][0]["facts"]["http"]
    assert "header block too large" in koppen["http_chain"][0]["error"]
    groot = by_id["http-groot"]["endpoints"][0]["facts"]["http"]
    assert groot["status"] == 200 and groot["body_truncated"] is True
    lus = by_id["http-lus"]["endpoints"][0]["facts"]["http"]
    assert lus["http_chain"][-1]["loop"] is True


def test_scan_never_connected_outside_loopback(scan):
    """The scanner's own record: every non-loopback address was refused before connecting."""
    _, records = scan
    outside = [r for r in records if not ipaddress.ip_address(r.ip.split("%")[0]).is_loopback
               and not (ipaddress.ip_address(r.ip).version == 6
                        and ipaddress.ip_address(r.ip).ipv4_mapped is not None
                        and ipaddress.ip_address(r.ip).ipv4_mapped.is_loopback)]
    assert outside, "the lab's redirect into 169.254.169.254 was not even tried"
    assert all(r.outcome.startswith("refused") for r in outside), [(r.ip, r.outcome) for r in outside]
