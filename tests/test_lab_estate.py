"""The lab estate scanned end to end: every service gets the verdicts the estate intends."""

import json
import socket
from urllib.parse import urlsplit

import jsonschema
import pytest

from reports.json import SCHEMA_ID, build_result, dumps, schema
from scanner.lab.lab import ESTATE as ESTATE_FILE
from scanner.lab.lab import Lab, load_estate
from scanner.model import PILLARS
from scanner.store import Store

ESTATE = load_estate()
DEMO = [s for s in ESTATE["service"] if s.get("demo", True)]
TEST_ONLY = [s for s in ESTATE["service"] if not s.get("demo", True)]
STATUSES = ("pass", "warn", "fail", "info", "not_applicable", "error", "waived")


def check_expectations(svc: dict, expect: dict) -> list[str]:
    """Every way a service misses its intended verdicts, as readable lines."""
    problems = []
    if "grade" in expect and svc["grade"] not in expect["grade"]:
        problems.append(f"grade {svc['grade']} not in {expect['grade']} (caps: {svc['caps']})")
    for status in STATUSES:
        for check_id in expect.get(status, []):
            got = [f for f in svc["findings"] if f["check"] == check_id]
            seen = sorted({f["status"] for f in got})
            if not got:
                problems.append(f"{check_id}: no finding (expected {status})")
            elif status == "pass" and seen != ["pass"]:
                problems.append(f"{check_id}: expected pass, got {seen}: {[f['message'] for f in got]}")
            elif status not in seen:
                problems.append(f"{check_id}: expected {status}, got {seen}: {[f['message'] for f in got]}")
    return problems


def test_the_expectation_check_can_fail():
    svc = {"grade": "C", "caps": [], "findings": [
        {"check": "http.hsts", "status": "pass", "message": ""},
        {"check": "http.csp", "status": "pass", "message": ""}, {"check": "http.csp", "status": "fail", "message": ""}]}
    assert check_expectations(svc, {"grade": ["C"], "pass": ["http.hsts"], "fail": ["http.csp"]}) == []
    problems = check_expectations(svc, {"grade": ["A"], "pass": ["http.csp"], "warn": ["http.hsts"],
                                        "error": ["dns.dnssec"]})
    assert [p.split(" ")[0] for p in problems] == ["grade", "http.csp:", "http.hsts:", "dns.dnssec:"]


def test_every_lab_case_is_held_to_intended_verdicts():
    """Each service states verdicts, and each lab host is scanned as part of some service."""
    for svc in ESTATE["service"]:
        assert any(v for k, v in svc.get("expect", {}).items() if k != "grade"), f"{svc['id']}: no expect"
    reached = set()
    for svc in ESTATE["service"]:
        for url in svc["urls"]:
            host = urlsplit(url if isinstance(url, str) else url["url"]).hostname
            reached |= {host, f"www.{host}"}  # a bare domain's www name is probed with it
            reached |= {f"mta-sts.{d}" for d in [host.split(".", 1)[-1], *svc.get("mail_domains", [])]}
    for zone in ESTATE["zone"]:  # mail servers are reached through the MX records of the zones
        reached |= {r.split()[-1].rstrip(".") for r in zone.get("records", []) if " MX " in r}
    hosts = [e["host"] for e in ESTATE.get("web", []) + ESTATE.get("mx", [])]
    assert [h for h in hosts if h not in reached] == []


@pytest.mark.parametrize("entry", DEMO, ids=[s["id"] for s in DEMO])
def test_demo_service_gets_intended_verdicts(entry, services):
    problems = check_expectations(services[entry["id"]], entry.get("expect", {}))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("entry", TEST_ONLY, ids=[s["id"] for s in TEST_ONLY])
def test_test_only_service_gets_intended_verdicts(entry, lab_scan_all):
    svc = next(s for s in lab_scan_all[0]["services"] if s["id"] == entry["id"])
    problems = check_expectations(svc, entry.get("expect", {}))
    assert not problems, "\n".join(problems)


def test_full_estate_result_follows_contract_v1(lab_scan_all):
    jsonschema.validate(lab_scan_all[0], schema())


def test_result_follows_contract_v1(lab_scan, lab):
    result = lab_scan[0]
    jsonschema.validate(result, schema())
    assert result["schema"] == SCHEMA_ID
    assert result["run"]["complete"] is True
    assert {s["id"] for s in result["services"]} == {s["id"] for s in DEMO}
    strong = next(s for s in result["services"] if s["id"] == "burgerprofiel")
    assert set(strong["pillars"]) == set(PILLARS)
    facts = strong["endpoints"][0]["facts"]
    assert set(facts["tls"]["protocols"]) == {"SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"}
    assert facts["tls"]["protocols"]["TLSv1.2"] is True and facts["tls"]["protocols"]["TLSv1.0"] is False
    assert facts["tls"]["connections"] > 0
    assert facts["certificate"]["trusted"] is True and facts["certificate"]["hostname_match"] is True
    assert facts["http"]["hsts"]["max_age"] == 63072000
    assert facts["dns"]["dnssec"] == "secure" and facts["dns"]["aaaa"] is True
    addresses = strong["endpoints"][0]["addresses"]
    assert addresses == lab.addresses["mijn.vlaanderen.test"] and addresses[1] == "::1"  # A and AAAA (ipv6 = true)
    mail = strong["mail_domains"][0]["facts"]["mail"]
    assert mail["dmarc"]["p"] == "reject" and mail["spf"]["all"] == "-all"
    assert mail["mx"][0]["starttls"] is True and mail["mx"][0]["protocols"]["TLSv1.3"] is True


def test_findings_have_stable_ids_and_sorted_output(lab_scan):
    result, db, run_id = lab_scan
    store = Store(db)
    again = build_result(store, run_id)
    store.close()
    assert dumps(again) == dumps(result)  # deterministic
    for svc in result["services"]:
        ids = [f["id"] for f in svc["findings"]]
        assert len(ids) == len(set(ids))
        keys = [(f["pillar"], f["check"], f["target"], f["id"]) for f in svc["findings"]]
        assert keys == sorted(keys)
    json.loads(dumps(result))


def test_unsigned_zone_is_insecure_not_unknown(services):
    gent = services["gent-eloket"]["endpoints"][0]["facts"]["dns"]
    assert gent["dnssec"] == "insecure"
    assert "no DS" in gent["dnssec_reason"]


def test_implied_mail_domain_is_judged_for_spoofing(services):
    wegen = services["wegenwerken"]
    domains = {m["domain"]: m for m in wegen["mail_domains"]}
    assert domains["wegen-verkeer.test"]["declared"] is False
    spf = [f for f in wegen["findings"] if f["check"] == "mail.spf"]
    assert spf[0]["status"] == "fail" and spf[0]["target"] == "wegen-verkeer.test"


def test_tls_connections_are_counted_and_polite(services):
    for svc in services.values():
        for ep in svc["endpoints"]:
            tls = ep["facts"].get("tls")
            if tls and "error" not in tls:
                assert 0 < tls["connections"] <= 60, (svc["id"], tls["connections"])


def test_the_lab_stops_cleanly():
    """Stopping ends the connections still open, the lab's thread and loop, and removes its files."""
    lab = Lab(ESTATE_FILE, fragments=None)  # the demo estate alone starts quicker
    info = lab.start()
    try:
        ip = info.addresses["mijn.vlaanderen.test"][0]
        client = socket.create_connection((ip, info.port_map.real(ip, 80, "mijn.vlaanderen.test")), timeout=5)
    finally:
        lab.stop()  # the server still waits for this client's request head
    with client:
        assert client.recv(1) == b""  # closed by the lab at once, not after its 10 s head timeout
    assert not lab._thread.is_alive() and lab._loop.is_closed()
    assert not info.directory.exists()
