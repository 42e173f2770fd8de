"""DNS checks as pure functions of facts: the cases the lab does not stage."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import checks.dns as dns_checks
from checks.registry import CheckContext, NotMeasured, default_registry
from scanner.model import Status

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def ctx(dns: dict, **thresholds) -> CheckContext:
    values = default_registry().thresholds() | thresholds
    return CheckContext(target="t", facts={"dns": dns}, now=NOW, thresholds=values)


def status(outcome) -> str:
    return str(outcome.status)


@pytest.mark.parametrize("value,ok", [
    ("ca.example", True),
    ("ca.example; accounturi=https://ca.example/acct/1", True),
    ("ca.example; account=1 ; validationmethods=dns-01", True),
    (";", True),                                  # no CA may issue
    ("", True),
    ("ca.example; account", False),               # a parameter without a value
    ("ca..example", False),
    ("-ca.example", False),
    ("ca.example; acc=ok\x7f", False),
])
def test_caa_issue_value_syntax(value, ok):
    problems = dns_checks.caa_problems([{"flags": 0, "tag": "issue", "value": value}])
    assert (not problems) is ok, problems


def test_caa_iodef_and_critical_tags():
    records = [{"flags": 0, "tag": "iodef", "value": "ftp://x.example/"},
               {"flags": 128, "tag": "tbs", "value": "x"},
               {"flags": 0, "tag": "tbs", "value": "x"},               # unknown but not critical: ignored
               {"flags": 0, "tag": "iodef", "value": "mailto:security@example.be"}]
    problems = dns_checks.caa_problems(records)
    assert len(problems) == 2 and "mailto:" in problems[0] and "critical" in problems[1]


def test_caa_without_issue_property_warns():
    facts = {"caa": ['0 iodef "mailto:a@b.be"'], "caa_owner": "b.be",
             "caa_records": [{"flags": 0, "tag": "iodef", "value": "mailto:a@b.be"}]}
    assert status(dns_checks.caa(ctx(facts))) == "warn"


def test_caa_lookup_failure_is_not_measured():
    with pytest.raises(NotMeasured, match="SERVFAIL"):
        dns_checks.caa(ctx({"caa": None, "caa_error": "the CAA lookup of x failed (SERVFAIL)"}))


@pytest.mark.parametrize("target,severity,text", [
    ({"name": "app.azurewebsites.net", "rcode": "NXDOMAIN", "domain": "azurewebsites.net", "domain_exists": True},
     "critical", "Microsoft Azure App Service"),
    ({"name": "www.vergeten-domein.be", "rcode": "NXDOMAIN", "domain": "vergeten-domein.be", "domain_exists": False},
     "critical", "is not registered"),
    ({"name": "oud.example.be", "rcode": "NXDOMAIN", "domain": "example.be", "domain_exists": True},
     None, "dangling"),
])
def test_dangling_alias(target, severity, text):
    out = dns_checks.dangling(ctx({"cname": [target["name"] + "."], "cname_target": target, "rcode": "NXDOMAIN"}))
    assert status(out) == "fail" and text in out.message and out.severity == severity


def test_alias_to_a_live_cloud_service_is_information():
    target = {"name": "vlaanderen.github.io", "rcode": "NOERROR"}
    out = dns_checks.dangling(ctx({"cname": ["vlaanderen.github.io."], "cname_target": target,
                                   "rcode": "NOERROR", "ipv4": ["192.0.2.1"], "ipv6": []}))
    assert status(out) == "info" and "GitHub Pages" in out.message


def test_ns_at_a_dns_host_that_refuses_the_zone_is_a_takeover_risk():
    facts = {"delegation": {"servers": [
        {"name": "ns-12.awsdns-01.org", "rcode": "NOERROR", "addresses": ["192.0.2.53"],
         "answers": [{"address": "192.0.2.53", "rcode": "REFUSED", "status": "answer", "authoritative": False}]},
        {"name": "ns.weg.example", "rcode": "NXDOMAIN", "addresses": [], "answers": []}]}, "mx_hosts": []}
    out = dns_checks.dangling_domain(ctx(facts))
    assert status(out) == "fail" and out.severity == "critical" and "Amazon Route 53" in out.message
    assert "NS ns.weg.example does not exist" in out.evidence["problems"]


def test_ipv6_not_measured_without_a_route():
    facts = {"aaaa": True, "ipv6": ["2001:db8::1"], "ipv6_reachable": None,
             "ipv6_reach": [{"address": "2001:db8::1", "port": 443, "reachable": None,
                             "detail": "the scanner has no route to this address (no IPv6 here?): not measured"}]}
    with pytest.raises(NotMeasured, match="no route"):
        dns_checks.ipv6(ctx(facts))


def test_ipv6_published_but_unreachable_fails():
    facts = {"aaaa": True, "ipv6": ["::1"], "ipv6_reachable": False,
             "ipv6_reach": [{"address": "::1", "port": 443, "reachable": False, "detail": "connection refused"}]}
    assert status(dns_checks.ipv6(ctx(facts))) == "fail"


def _zone(**over):
    zone = {"signed": True, "status": "secure",
            "dnskey": [{"key_tag": 1, "algorithm": 13, "algorithm_name": "ECDSAP256SHA256", "flags": 257,
                        "sep": True, "key_bits": 256}],
            "ds": [{"key_tag": 1, "algorithm": 13, "digest_type": 2, "digest_name": "SHA-256"}],
            "rrsig": [{"rrset": "x.be SOA", "expiration": "2026-12-28T00:00:00Z"}],
            "denial": "nsec3", "nsec3": {"algorithm": 1, "iterations": 0, "salt": "", "opt_out": False}}
    zone.update(over)
    return {"dnssec": "secure", "dnssec_zone": zone}


def test_expired_signature_fails_and_threshold_is_the_policys():
    expired = _zone(rrsig=[{"rrset": "x.be SOA", "expiration": "2026-11-27T00:00:00Z"}])
    assert status(dns_checks.dnssec_expiry(ctx(expired))) == "fail"
    soon = _zone(rrsig=[{"rrset": "x.be SOA", "expiration": "2026-12-08T00:00:00Z"}])
    assert status(dns_checks.dnssec_expiry(ctx(soon))) == "pass"
    assert status(dns_checks.dnssec_expiry(ctx(soon, dnssec_expiry_warn_days=14))) == "warn"


def test_algorithm_strength():
    assert status(dns_checks.dnssec_algorithm(ctx(_zone()))) == "pass"
    rsa = _zone(dnskey=[{"key_tag": 1, "algorithm": 8, "algorithm_name": "RSASHA256", "flags": 257, "sep": True,
                         "key_bits": 1024}])
    assert status(dns_checks.dnssec_algorithm(ctx(rsa))) == "warn"
    sha1_ds = _zone(ds=[{"key_tag": 1, "algorithm": 13, "digest_type": 1, "digest_name": "SHA-1"}])
    assert status(dns_checks.dnssec_algorithm(ctx(sha1_ds))) == "fail"


def test_nsec3_iterations_beyond_what_validators_accept_fail():
    zone = _zone(nsec3={"algorithm": 1, "iterations": 500, "salt": "ab", "opt_out": False})
    assert status(dns_checks.dnssec_nsec3(ctx(zone))) == "fail"


def test_a_bogus_denial_proof_fails_the_domain():
    facts = _zone(denial_proof={"name": "probe.x.be.", "status": "bogus", "reason": "no NSEC3 covers it"})
    facts["dnssec_reason"] = ""
    out = dns_checks.dnssec_domain(ctx(facts))
    assert status(out) == "fail" and out.severity == "critical"


def test_network_prefixes_come_from_the_policy():
    facts = {"delegation": {"servers": [{"name": "a", "addresses": ["192.0.2.1"], "answers": []},
                                        {"name": "b", "addresses": ["192.0.2.200"], "answers": []}]}}
    assert status(dns_checks.ns_networks(ctx(facts))) == "fail"
    assert status(dns_checks.ns_networks(ctx(facts, ns_ipv4_prefix=25))) == "pass"


def test_parent_view_unavailable_is_information():
    facts = {"delegation": {"parent_ns": None, "parent_note": "the parent's name servers also serve x.be",
                            "child_ns": ["a"], "servers": [{"name": "a", "addresses": [], "answers": []}]}}
    assert status(dns_checks.ns_consistency(ctx(facts))) == "info"


def test_every_dns_check_has_dutch_and_english_texts():
    for chk in default_registry():
        if chk.pillar == "dns":
            assert chk.title["nl"] and chk.remediation["nl"] and chk.title["en"] != chk.title["nl"]
    assert Status.ERROR == "error"


def test_trust_resolver_ad_needs_a_named_resolver(tmp_path):
    from click.testing import CliRunner

    from scanner.cli import main

    inventory = tmp_path / "inventory.toml"
    inventory.write_text('[[service]]\nid = "x"\nname = "x"\nurls = ["https://x.test/"]\n')
    result = CliRunner().invoke(main, ["scan", str(inventory), "--trust-resolver-ad", "--db", str(tmp_path / "h.db")])
    assert result.exit_code == 2 and "--resolver" in result.output


def test_an_unread_zone_is_not_an_unsigned_one():
    failed_lookup = {"dnssec_zone": {"signed": False, "error": "the DNSKEY lookup failed (SERVFAIL)"}}
    for func in (dns_checks.dnssec_expiry, dns_checks.dnssec_algorithm, dns_checks.dnssec_nsec3):
        with pytest.raises(NotMeasured, match="SERVFAIL"):
            func(ctx(failed_lookup))
    assert status(dns_checks.dnssec_nsec3(ctx({"dnssec_zone": {"signed": False}}))) == "not_applicable"
    unseen = {"dnssec_zone": {"signed": True, "denial": None}}
    with pytest.raises(NotMeasured):
        dns_checks.dnssec_nsec3(ctx(unseen))
    nsec = dns_checks.dnssec_nsec3(ctx({"dnssec_zone": {"signed": True, "denial": "nsec"}}))
    assert status(nsec) == "not_applicable" and nsec.message_nl == "de zone gebruikt NSEC"


def test_the_dns_and_mail_probes_look_at_the_same_mx_hosts():
    """With more MX hosts than either probe looks at, both take the most preferred (not the
    alphabetically first), so the DNS pillar's IPv6 facts are about the MX the mail pillar judges."""
    import dns.rrset

    from scanner.probes.dns.probe import MAX_MX, mx_hosts
    from scanner.probes.resolver import Lookup

    rrset = dns.rrset.from_text_list("post.test.", 60, "IN", "MX",
                                     [f"{10 * (8 - i)} {chr(ord('a') + i)}.mx.test." for i in range(8)])
    chosen = [host for _, host in mx_hosts(Lookup("post.test.", "MX", "NOERROR", rrset=rrset))[:MAX_MX]]
    assert chosen == ["h.mx.test", "g.mx.test", "f.mx.test", "e.mx.test", "d.mx.test"]
