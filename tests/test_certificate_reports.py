"""Estate-wide certificate views from a result dict: lapsing certificates and shared keys."""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime, timedelta

from checks.registry import default_registry
from reports.expiry import lapsing_certificates
from reports.key_reuse import shared_keys
from scanner.judge import Subject, judge_subject
from scanner.model import EndpointKind
from scanner.policy import load_policy

REGISTRY = default_registry()
POLICY = load_policy(None, REGISTRY)

START = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


def cert(days_before, days_after, name="www.voorbeeld.test", spki="aa", sha="01", self_signed=False):
    stamp = lambda d: (START + timedelta(days=d)).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    return {"subject": f"CN={name}", "issuer": "CN=Issuing CA", "not_before": stamp(-days_before),
            "not_after": stamp(days_after), "sha256": sha * 32, "spki_sha256": spki * 32, "self_signed": self_signed}


def endpoint(host, chain):
    return {"target": f"https://{host}/", "host": host, "port": 443, "facts": {"certificate": {"chain": chain}}}


def service(sid, org, endpoints, mx=None):
    mail = [{"domain": "voorbeeld.test", "facts": {"mail": {"mx": mx}}}] if mx else []
    return {"id": sid, "organisation": org, "endpoints": endpoints, "mail_domains": mail}


RESULT = {
    "run": {"started": START.strftime("%Y-%m-%dT%H:%M:%SZ"), "policy": "bolwerk-baseline@2026.11"},
    "services": [
        service("portaal", "Digitaal Vlaanderen", [
            endpoint("fresh.voorbeeld.test", [cert(10, 80, "fresh", "aa", "01"), cert(300, 3000, "Issuing CA", "ff", "0f")]),
            endpoint("overdue.voorbeeld.test", [cert(85, 5, "overdue", "bb", "02")]),
            endpoint("acme-on-time.voorbeeld.test", [cert(65, 25, "acme", "cc", "03")]),
            endpoint("broken.voorbeeld.test", [cert(100, -2, "broken", "dd", "04")]),
            {"target": "https://down.voorbeeld.test/", "host": "down.voorbeeld.test", "facts": {"certificate": {"error": "x"}}},
        ]),
        service("archief", "Cultuur", [
            endpoint("old-intermediate.voorbeeld.test",
                     [cert(10, 80, "leaf", "aa", "05"), cert(3000, 3, "Old CA", "ee", "06"),
                      cert(5000, -100, "Served root", "99", "07", self_signed=True)]),
        ], mx=[{"host": "mx.voorbeeld.test", "certificate": {"chain": [cert(400, -1, "mx", "12", "08")],
                                                         "trusted": False, "hostname_match": True}},
               {"host": "mx2.voorbeeld.test", "certificate": {"error": "no STARTTLS"}}]),
    ],
}


def judged(result, now=START, **thresholds):
    """The result with the findings Bolwerk's checks give on its facts (the watch reads only those)."""
    policy = dataclasses.replace(POLICY, thresholds=POLICY.thresholds | thresholds)
    out = copy.deepcopy(result)
    for svc in out["services"]:
        subjects = [Subject("endpoint", ep["target"], ep["facts"], EndpointKind.WEB, "https",
                            {"host": ep["host"], "port": 443, "addresses": []}) for ep in svc["endpoints"]]
        for md in svc["mail_domains"]:
            mail = {"null_mx": False, "mx": [dict(mx, starttls=True) for mx in md["facts"]["mail"]["mx"]]}
            subjects.append(Subject("mail_domain", md["domain"], {"mail": mail}, info={"domain": md["domain"]}))
        svc["findings"] = [f.to_dict() for s in subjects for f in judge_subject(REGISTRY, policy, s, now)]
    return out


def test_lapsing_certificates():
    rows = lapsing_certificates(judged(RESULT))
    assert [(r["host"], r["status"], r["position"]) for r in rows] == [
        ("broken.voorbeeld.test", "expired", "leaf"),
        ("mx.voorbeeld.test", "expired", "leaf"),
        ("old-intermediate.voorbeeld.test", "lapsing", "intermediate"),
        ("overdue.voorbeeld.test", "lapsing", "leaf"),
    ]
    assert rows[0]["target"] == "https://broken.voorbeeld.test/" and rows[1]["target"] == "smtp://mx.voorbeeld.test:25"
    assert rows[0]["organisation"] == "Digitaal Vlaanderen" and rows[0]["days_remaining"] == -2
    assert rows[0]["subject"] == "CN=broken" and rows[0]["issuer"] == "CN=Issuing CA" and rows[0]["sha256"] == "04" * 32
    assert rows[0]["lifetime_days"] == 98 and rows[3]["fraction_remaining"] < 0.1


def test_lapsing_follows_the_judgement_thresholds_and_time():
    wide = lapsing_certificates(judged(RESULT, certificate_expiry_warn_days=30, certificate_expiry_warn_fraction=0.3))
    assert "acme-on-time.voorbeeld.test" in {r["host"] for r in wide}
    later = lapsing_certificates(judged(RESULT, now=START + timedelta(days=100)))
    assert {r["host"] for r in later} >= {"fresh.voorbeeld.test", "acme-on-time.voorbeeld.test"}


def test_lapsing_reads_findings_only():
    """Facts without findings list nothing: the watch never judges a certificate itself."""
    assert lapsing_certificates(RESULT | {"services": [dict(s, findings=[]) for s in RESULT["services"]]}) == []
    odd = {"run": RESULT["run"], "services": [service("x", "", [endpoint("odd.voorbeeld.test", [{"subject": "CN=odd"}])])]}
    assert lapsing_certificates(judged(odd)) == []
    assert lapsing_certificates({"run": RESULT["run"], "services": []}) == []


def test_shared_keys():
    rows = shared_keys(RESULT)
    assert len(rows) == 1
    row = rows[0]
    assert row["spki_sha256"] == "aa" * 32
    assert row["hosts"] == ["fresh.voorbeeld.test", "old-intermediate.voorbeeld.test"]
    assert row["services"] == ["archief", "portaal"] and row["organisations"] == ["Cultuur", "Digitaal Vlaanderen"]
    assert row["certificates"] == 2
    assert shared_keys(RESULT, min_services=3) == []
    within = shared_keys(RESULT, min_hosts=1, min_services=1)
    assert len(within) == 5  # every distinct leaf key, the MX's included
