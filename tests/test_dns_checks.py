"""DNS checks judged from fact fixtures: the cases the lab does not stage."""

from __future__ import annotations

import pytest

from scanner.model import Status
from tests.judging import judge_one, not_measured


def judge(check_id: str, dns: dict, **thresholds):
    """One DNS check on facts of an endpoint (www.example.test) or of the mail domain example.test."""
    return judge_one(check_id, {"dns": dns}, thresholds=thresholds)


def caa(*records: tuple[int, str, str]):
    """CAA facts as the DNS probe writes them: presentation lines and parsed records."""
    return {"caa": [f'{flags} {tag} "{value}"' for flags, tag, value in records], "caa_owner": "example.test",
            "caa_records": [{"flags": flags, "tag": tag, "value": value} for flags, tag, value in records]}


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
    out = judge("dns.caa", caa((0, "issue", value)))
    assert out.status == (Status.PASS if ok else Status.FAIL), out.message
    assert ("problems" not in out.evidence) is ok


def test_caa_iodef_and_critical_tags():
    out = judge("dns.caa", caa((0, "issue", "ca.example"), (0, "iodef", "ftp://x.example/"), (128, "tbs", "x"),
                               (0, "tbs", "x"),  # unknown but not critical: ignored
                               (0, "iodef", "mailto:security@example.test")))
    problems = out.evidence["problems"]
    assert out.status == Status.FAIL and len(problems) == 2
    assert "mailto:" in problems[0] and "critical" in problems[1]


def test_caa_property_values_are_validated():
    """RFC 8659 §4.1 flags, RFC 8657 parameters, the BR's contact properties: every problem, each named."""
    out = judge("dns.caa", caa((1, "issue", "ca.example; validationmethods=dns-02"),
                               (0, "issuewild", "ca.example; accounturi=acct-1"),
                               (0, "iodef", "mailto:"), (0, "contactemail", "Naam <a@example.test>"),
                               (0, "contactphone", "02 553 00 00")))
    problems = out.evidence["problems"]
    assert out.status == Status.FAIL and len(problems) == 6
    assert "reserved bits" in problems[0] and "'dns-02'" in problems[1] and "accounturi" in problems[2]
    assert "contactemail" in problems[4] and "+..." in problems[5]
    good = judge("dns.caa", caa((0, "issue", "ca.example; accounturi=https://ca.example/a/1; validationmethods=ca-x"),
                                (0, "contactemail", "a@example.test"), (0, "contactphone", "+32-2-553-00-00")))
    assert good.status == Status.PASS, good.message
    bad = judge("dns.caa", caa((0, "issue", "ca.example; account")))
    assert "(at character 20)" in bad.message and "naming no CA" in bad.message


def test_caa_without_issue_property_warns():
    out = judge("dns.caa", caa((0, "iodef", "mailto:a@b.test")))
    assert out.status == Status.WARN and "none restricts issuance" in out.message


def test_caa_lookup_failure_is_not_measured():
    out = judge("dns.caa", {"caa": None, "caa_error": "the CAA lookup of x failed (SERVFAIL)"})
    assert not_measured(out) and "SERVFAIL" in out.message


@pytest.mark.parametrize("target,severity,text", [
    ({"name": "app.azurewebsites.net", "rcode": "NXDOMAIN", "domain": "azurewebsites.net", "domain_exists": True},
     "critical", "Microsoft Azure App Service"),
    ({"name": "www.vergeten-domein.test", "rcode": "NXDOMAIN", "domain": "vergeten-domein.test", "domain_exists": False},
     "critical", "is not registered"),
    ({"name": "oud.example.test", "rcode": "NXDOMAIN", "domain": "example.test", "domain_exists": True},
     "high", "dangling"),  # no takeover fingerprint: the check's own severity
])
def test_dangling_alias(target, severity, text):
    out = judge("dns.dangling", {"cname": [target["name"] + "."], "cname_target": target, "rcode": "NXDOMAIN"})
    assert out.status == Status.FAIL and text in out.message and out.severity == severity


def test_alias_to_a_live_cloud_service_is_information():
    target = {"name": "vlaanderen.github.io", "rcode": "NOERROR"}
    out = judge("dns.dangling", {"cname": ["vlaanderen.github.io."], "cname_target": target,
                                 "rcode": "NOERROR", "ipv4": ["192.0.2.1"], "ipv6": []})
    assert out.status == Status.INFO and "GitHub Pages" in out.message


def test_ns_at_a_dns_host_that_refuses_the_zone_is_a_takeover_risk():
    facts = {"delegation": {"servers": [
        {"name": "ns-12.awsdns-01.org", "rcode": "NOERROR", "addresses": ["192.0.2.53"],
         "answers": [{"address": "192.0.2.53", "rcode": "REFUSED", "status": "answer", "authoritative": False}]},
        {"name": "ns.weg.example", "rcode": "NXDOMAIN", "addresses": [], "answers": []}]}, "mx_hosts": []}
    out = judge("dns.dangling.domain", facts)
    assert out.status == Status.FAIL and out.severity == "critical" and "Amazon Route 53" in out.message
    assert "NS ns.weg.example does not exist" in out.evidence["problems"]


def test_ipv6_not_measured_without_a_route():
    facts = {"aaaa": True, "ipv6": ["2001:db8::1"], "ipv6_reachable": None,
             "ipv6_reach": [{"address": "2001:db8::1", "port": 443, "reachable": None,
                             "detail": "the scanner has no route to this address (no IPv6 here?): not measured"}]}
    out = judge("dns.ipv6", facts)
    assert not_measured(out) and "no route" in out.message


def test_ipv6_published_but_unreachable_fails():
    facts = {"aaaa": True, "ipv6": ["::1"], "ipv6_reachable": False,
             "ipv6_reach": [{"address": "::1", "port": 443, "reachable": False, "detail": "connection refused"}]}
    assert judge("dns.ipv6", facts).status == Status.FAIL


def _zone(**over):
    zone = {"signed": True, "status": "secure",
            "dnskey": [{"key_tag": 1, "algorithm": 13, "algorithm_name": "ECDSAP256SHA256", "flags": 257,
                        "sep": True, "key_bits": 256}],
            "ds": [{"key_tag": 1, "algorithm": 13, "digest_type": 2, "digest_name": "SHA-256"}],
            "rrsig": [{"rrset": "x.test SOA", "expiration": "2026-12-28T00:00:00Z"}],
            "denial": "nsec3", "nsec3": {"algorithm": 1, "iterations": 0, "salt": "", "opt_out": False}}
    zone.update(over)
    return {"dnssec": "secure", "dnssec_zone": zone}


def test_expired_signature_fails_and_threshold_is_the_policys():
    expired = _zone(rrsig=[{"rrset": "x.test SOA", "expiration": "2026-11-27T00:00:00Z"}])
    assert judge("dns.dnssec.expiry", expired).status == Status.FAIL
    soon = _zone(rrsig=[{"rrset": "x.test SOA", "expiration": "2026-12-08T00:00:00Z"}])
    assert judge("dns.dnssec.expiry", soon).status == Status.PASS
    assert judge("dns.dnssec.expiry", soon, dnssec_expiry_warn_days=14).status == Status.WARN


def test_algorithm_strength():
    assert judge("dns.dnssec.algorithm", _zone()).status == Status.PASS
    rsa = _zone(dnskey=[{"key_tag": 1, "algorithm": 8, "algorithm_name": "RSASHA256", "flags": 257, "sep": True,
                         "key_bits": 1024}])
    assert judge("dns.dnssec.algorithm", rsa).status == Status.WARN
    sha1_ds = _zone(ds=[{"key_tag": 1, "algorithm": 13, "digest_type": 1, "digest_name": "SHA-1"}])
    assert judge("dns.dnssec.algorithm", sha1_ds).status == Status.FAIL


def test_nsec3_iterations_beyond_what_validators_accept_fail():
    zone = _zone(nsec3={"algorithm": 1, "iterations": 500, "salt": "ab", "opt_out": False})
    assert judge("dns.dnssec.nsec3", zone).status == Status.FAIL


def test_a_bogus_denial_proof_fails_the_domain():
    facts = _zone(denial_proof={"name": "probe.x.test.", "status": "bogus", "reason": "no NSEC3 covers it"})
    facts["dnssec_reason"] = ""
    out = judge("dns.dnssec.domain", facts)
    assert out.status == Status.FAIL and out.severity == "critical"


def test_network_prefixes_come_from_the_policy():
    facts = {"delegation": {"servers": [{"name": "a", "addresses": ["192.0.2.1"], "answers": []},
                                        {"name": "b", "addresses": ["192.0.2.200"], "answers": []}]}}
    assert judge("dns.ns.networks", facts).status == Status.FAIL
    assert judge("dns.ns.networks", facts, ns_ipv4_prefix=25).status == Status.PASS


def test_parent_view_unavailable_is_information():
    facts = {"delegation": {"parent_ns": None, "parent_note": "the parent's name servers also serve x.test",
                            "child_ns": ["a"], "servers": [{"name": "a", "addresses": [], "answers": []}]}}
    assert judge("dns.ns.consistency", facts).status == Status.INFO


def test_trust_resolver_ad_needs_a_named_resolver(tmp_path):
    from click.testing import CliRunner

    from scanner.cli import main

    inventory = tmp_path / "inventory.toml"
    inventory.write_text('[[service]]\nid = "x"\nname = "x"\nurls = ["https://x.test/"]\n')
    result = CliRunner().invoke(main, ["scan", str(inventory), "--trust-resolver-ad", "--db", str(tmp_path / "h.db")])
    assert result.exit_code == 2 and "--resolver" in result.output


@pytest.mark.parametrize("check_id", ["dns.dnssec.expiry", "dns.dnssec.algorithm", "dns.dnssec.nsec3"])
def test_an_unread_zone_is_not_an_unsigned_one(check_id):
    out = judge(check_id, {"dnssec_zone": {"signed": False, "error": "the DNSKEY lookup failed (SERVFAIL)"}})
    assert not_measured(out) and "SERVFAIL" in out.message


def test_nsec3_needs_a_signed_zone_whose_denial_was_seen():
    assert judge("dns.dnssec.nsec3", {"dnssec_zone": {"signed": False}}).status == Status.NOT_APPLICABLE
    assert not_measured(judge("dns.dnssec.nsec3", {"dnssec_zone": {"signed": True, "denial": None}}))
    nsec = judge("dns.dnssec.nsec3", {"dnssec_zone": {"signed": True, "denial": "nsec"}})
    assert nsec.status == Status.NOT_APPLICABLE and nsec.message_nl == "de zone gebruikt NSEC"


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
