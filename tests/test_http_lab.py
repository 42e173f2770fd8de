"""The HTTP pillar against the lab: the facts and evidence behind the intended verdicts.

The verdicts themselves (`expect` in scanner/lab/estate.d/http.toml) are checked for every
lab service by tests/test_lab_estate.py on the shared full-estate scan; here we look at
what those verdicts rest on: quoted CSP directives, redacted secrets, the judged response
of a cross-host redirect, page facts from a compressed body, hostile targets as facts.
"""

from __future__ import annotations

import json

import pytest

SECRETS = ("GeheimeSessie123", "TokenWaarde456", "GeheimeStaat789")


@pytest.fixture(scope="module")
def by_id(lab_scan_all):
    return {s["id"]: s for s in lab_scan_all[0]["services"]}


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


def test_no_secret_leaves_the_scanner(lab_scan_all):
    text = json.dumps(lab_scan_all[0])
    for secret in SECRETS:
        assert secret not in text
    assert "state=[redacted]" in text


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
