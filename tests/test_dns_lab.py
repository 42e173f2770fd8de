"""The DNS pillar against the lab: the facts and reasons behind each lab zone's verdict.

The intended verdicts per check (`expect` in `estate.d/dns.toml`) are asserted by
tests/test_lab_estate.py on the shared full-estate scan; here the same scan is read for
what produced them. The misbehaving name servers (silent, truncating, garbage, a CNAME
loop) must give error findings while the rest of the scan goes on.
"""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="session")
def by_id(lab_scan_all):
    return {s["id"]: s for s in lab_scan_all[0]["services"]}


def _findings(service, check_id):
    return [f for f in service["findings"] if f["check"] == check_id]


def _dns(service, target=None):
    for ep in service["endpoints"]:
        if target is None or ep["host"] == target:
            return ep["facts"]["dns"]
    raise AssertionError(target)


def _domain(service, domain):
    return next(m["facts"]["dns"] for m in service["mail_domains"] if m["domain"] == domain)


def test_chain_of_trust_verdicts_and_reasons(by_id):
    assert _dns(by_id["burgerprofiel"])["dnssec"] == "secure"
    assert _dns(by_id["burgerprofiel"])["dnssec_source"] == "bolwerk"
    bogus = _dns(by_id["dns-bogus"])
    assert bogus["dnssec"] == "bogus" and "www.torhout.test" in bogus["dnssec_reason"]
    assert _findings(by_id["dns-bogus"], "dns.dnssec")[0]["severity"] == "critical"
    nsec = _dns(by_id["gent-eloket"])
    assert nsec["dnssec"] == "insecure" and "NSEC at gent.test" in nsec["dnssec_reason"]
    nsec3 = _dns(by_id["dns-nsec3-insecure"])
    assert nsec3["dnssec"] == "insecure" and "NSEC3 matching hasselt.limburg.test" in nsec3["dnssec_reason"]
    optout = _dns(by_id["dns-nsec3-optout"])
    assert optout["dnssec"] == "insecure" and "opt-out" in optout["dnssec_reason"]
    assert _dns(by_id["dns-sha1"])["dnssec"] == "insecure"  # RFC 9905: unsupported, never bogus
    assert "GOST" in _dns(by_id["dns-gost-ds"])["dnssec_reason"]


def test_dangling_alias_into_a_signed_nxdomain(by_id):
    svc = by_id["dns-dangling"]
    azure = _dns(svc, "www.genk.test")
    assert azure["cname_target"]["rcode"] == "NXDOMAIN"
    assert azure["dnssec"] == "secure"  # the chain and the lab root's NSEC proof both validate
    assert azure["zone"] == "genk.test"  # an alias is no zone apex, whatever its target's zone
    finding = next(f for f in _findings(svc, "dns.dangling") if "www.genk.test" in f["target"])
    assert finding["severity"] == "critical" and finding["evidence"]["service"] == "Microsoft Azure App Service"
    local = next(f for f in _findings(svc, "dns.dangling") if "info.genk.test" in f["target"])
    assert local["severity"] == "high"
    mx = _findings(svc, "dns.dangling.domain")[0]
    assert "mail.opgeheven-provider.test" in mx["message"]


def test_delegation_facts(by_id):
    lame = _domain(by_id["dns-lame"], "aalst.test")["delegation"]
    refused = [a for s in lame["servers"] for a in s["answers"] if a["rcode"] == "REFUSED"]
    assert [a["address"] for a in refused] == ["127.0.55.1"]
    mismatch = _domain(by_id["dns-ns-mismatch"], "oostende.test")["delegation"]
    assert mismatch["parent_ns"] == ["ns1.oostende.test"]
    assert mismatch["child_ns"] == ["ns1.oostende.test", "ns2.oostende.test"]
    axfr = _findings(by_id["dns-axfr"], "dns.ns.axfr")[0]
    assert "127.0.53.1" in axfr["message"]
    healthy = _domain(by_id["burgerprofiel"], "vlaanderen.test")
    assert {a["address"] for s in healthy["delegation"]["servers"] for a in s["answers"]} == \
        {"127.0.53.1", "127.0.54.1", "::1"}


def test_hygiene_facts(by_id):
    zone = _domain(by_id["dns-nsec3-optout"], "antwerpen.test")["dnssec_zone"]
    assert zone["nsec3"] == {"algorithm": 1, "iterations": 10, "salt": "c0ffee", "opt_out": True}
    assert zone["denial_proof"]["status"] == "insecure"  # inside an opt-out span
    limburg = _domain(by_id["dns-nsec3-insecure"], "limburg.test")["dnssec_zone"]
    assert limburg["denial"] == "nsec3" and limburg["denial_proof"]["status"] == "secure"
    sha1 = _domain(by_id["dns-sha1"], "tienen.test")["dnssec_zone"]
    assert sha1["dnskey"][0]["algorithm_name"] == "RSASHA1" and sha1["dnskey"][0]["key_bits"] == 1024
    expiry = _findings(by_id["dns-expiring"], "dns.dnssec.expiry")[0]
    assert 2 < expiry["evidence"]["days_left"] < 4


def test_ipv6_reachability_measured_on_the_service_port(by_id):
    facts = _dns(by_id["burgerprofiel"])
    assert facts["ipv6_reachable"] is True
    assert facts["ipv6_reach"] == [{"address": "::1", "port": 443, "reachable": True}]


@pytest.mark.parametrize("sid,host,cause", [
    ("dns-silent", "www.traag.test", "did not answer"),
    ("dns-truncating", "www.afgekapt.test", "cut the TCP answer short"),
    ("dns-garbage", "www.rommel.test", "no DNS message"),
])
def test_misbehaving_name_servers_become_error_findings(by_id, sid, host, cause):
    svc = by_id[sid]
    assert _dns(svc)["error"].startswith(f"the resolver failed {host}")
    assert {f["status"] for f in _findings(svc, "dns.dnssec")} == {"error"}
    lame = _findings(svc, "dns.ns.lame")[0]
    assert lame["status"] == "fail" and cause in json.dumps(lame["evidence"])


def test_cname_loop_is_reported_not_followed_forever(by_id):
    assert "loops" in _dns(by_id["dns-cname-loop"])["error"]
