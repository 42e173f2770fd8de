"""Mail checks from fact fixtures: spoofing protection and MX transport security.

Facts are shaped as the mail probe writes them: raw records and the DNS answers it
collected; the checks read them through scanner/standards/ as receivers and senders do.
"""

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from scanner.lab.ca import _rsa_key
from scanner.probes.mail.probe import dmarc_candidates
from tests.judging import judge_all

STS_POLICY = "version: STSv1\r\nmode: enforce\r\nmx: *.x.test\r\nmax_age: 604800\r\n"


def txt(name, *records, rcode="NOERROR"):
    """A TXT answer as the probe records it for SPF: the v=spf1 texts and how many TXT in all."""
    return {"type": "TXT", "name": name, "rcode": rcode, "count": len(records), "records": list(records)}


def answer(rdtype, name, count, rcode="NOERROR"):
    return {"type": rdtype, "name": name, "rcode": rcode, "count": count}


def spf_facts(record, *answers):
    return {"record": record, "records": 1, "all": None, "lookups": None, "void_lookups": None,
            "strings": [record], "dns": [txt("x.test", record), *answers]}


def mta_sts_facts(policy=STS_POLICY, **over):
    facts = {"record": "v=STSv1; id=1", "records": ["v=STSv1; id=1"], "mode": "enforce", "policy_status": 200,
             "content_type": "text/plain; charset=utf-8", "policy_truncated": False, "policy": policy,
             "certificate": {"trusted": True, "hostname_match": True}}
    return facts | over


def mail_facts(**over):
    mail = {
        "domain_exists": True,
        "null_mx": False,
        "spf": spf_facts("v=spf1 mx -all", answer("MX", "x.test", 1)),
        "dmarc": {"record": "v=DMARC1; p=reject; rua=mailto:d@x.test", "records": 1, "p": "reject",
                  "inherited": False, "found_at": "x.test", "external": []},
        "mx": [{"host": "mx.x.test", "starttls": True, "protocol": "TLSv1.3", "tlsa": False,
                "protocols": {"SSLv2": False, "SSLv3": False, "TLSv1.0": False, "TLSv1.1": False, "TLSv1.2": True, "TLSv1.3": True},
                "certificate": {"trusted": True, "hostname_match": True, "chain": [{"san": ["mx.x.test"]}]}}],
        "mta_sts": mta_sts_facts(),
        "tls_rpt": "v=TLSRPTv1; rua=mailto:tls@x.test",
        "tls_rpt_records": ["v=TLSRPTv1; rua=mailto:tls@x.test"],
        "dkim": {"selectors": [], "keys": []},
    }
    mail.update(over)
    return {"dns": {"dnssec": "secure"}, "mail": mail}


def verdicts(facts):
    """Every mail-domain check's findings on x.test, by check id."""
    out = {}
    for f in judge_all(facts, subject="mail_domain", target="x.test"):
        out.setdefault(f.check, []).append(f)
    return out


def status(findings):
    return sorted({str(f.status) for f in findings})


def one(check_id, **over):
    (finding,) = verdicts(mail_facts(**over))[check_id]
    return finding


def test_strong_domain_passes():
    v = verdicts(mail_facts())
    for check_id in ("mail.spf", "mail.spf.lookups", "mail.dmarc", "mail.starttls", "mail.starttls.protocol",
                     "mail.mta_sts", "mail.dmarc.reporting", "mail.tls_rpt", "mail.starttls.certificate",
                     "mail.spf.ptr", "mail.spf.after_all", "mail.spf.exp", "mail.spf.size",
                     "mail.dmarc.removed_tags", "mail.dmarc.rua_count"):
        assert status(v[check_id]) == ["pass"], (check_id, [f.message for f in v[check_id]])
    assert status(v["mail.null_mx"]) == ["not_applicable"]
    assert status(v["mail.dmarc.external_reports"]) == ["not_applicable"]
    dkim = v["mail.dkim"]
    assert status(dkim) == ["info"] and "cannot be proven without the selector" in dkim[0].message


# -- SPF: what a receiver applies ----------------------------------------------------------------

SPF_CASES = [
    pytest.param("v=spf1 +all", [], "fail", "anyone may send", id="RFC7208-5.1-plus-all"),
    pytest.param("v=spf1 mx ~all", [answer("MX", "x.test", 1)], "warn", "soft fail", id="RFC7208-8.5-softfail"),
    pytest.param("v=spf1 ip4:192.0.2.0/99 -all", [], "fail", "prefix length out of range", id="RFC7208-5.6-ip4-cidr"),
    pytest.param("v=spf1 ip6:192.0.2.1 -all", [], "fail", "an IPv4 address under ip6:", id="RFC7208-5.6-ipv4-in-ip6"),
    pytest.param("v=spf1 mx~all", [], "fail", "a missing space?", id="RFC7208-4.6.1-glued-all"),
    pytest.param("v=spf1 include:%{z}.x.test -all", [], "fail", "malformed macro", id="RFC7208-7.1-bad-macro"),
    pytest.param("v=spf1 a:192.0.2.1 -all", [], "fail", "valid top label", id="RFC7208-7.1-domain-end"),
    pytest.param("v=spf1 include:none.test -all", [txt("none.test")], "fail",
                 "without an SPF record", id="RFC7208-5.2-include-without-spf"),
    pytest.param("v=spf1 include:a.test -all",
                 [txt("a.test", "v=spf1 include:b.test -all"), txt("b.test", "v=spf1 include:a.test -all")],
                 "fail", "include loop: x.test → a.test → b.test → a.test", id="RFC7208-4.6.4-include-loop"),
    pytest.param("v=spf1 redirect=_spf.%{d}", [txt("_spf.x.test", "v=spf1 -all")], "pass", "-all",
                 id="RFC7208-7.3-macro-in-redirect-expanded"),
    pytest.param("v=spf1 redirect=%{l}._spf.x.test", [], "error", "real message fills in",
                 id="RFC7208-7.3-macro-needs-the-message"),
    pytest.param("v=spf1 redirect=_spf.x.test", [txt("_spf.x.test", "v=spf1 ?all")], "fail", "?all",
                 id="RFC7208-6.1-redirect-policy"),
    pytest.param("v=spf1 redirect=_spf.x.test", [txt("_spf.x.test", "v=spf1 mx", ), answer("MX", "_spf.x.test", 1)],
                 "warn", "no 'all'", id="RFC7208-6.1-redirect-without-all-is-neutral"),
    pytest.param("v=spf1 redirect=gone.x.test", [txt("gone.x.test", rcode="NXDOMAIN")], "fail",
                 "redirect=gone.x.test points at a domain without an SPF record", id="RFC7208-6.1-redirect-without-spf"),
    pytest.param("v=spf1 -all redirect=_spf.x.test", [], "pass", "-all", id="RFC7208-6.1-all-wins-over-redirect"),
]


@pytest.mark.parametrize("record, answers, expected, words", SPF_CASES)
def test_spf_is_judged_as_receivers_apply_it(record, answers, expected, words):
    finding = one("mail.spf", spf=spf_facts(record, *answers))
    assert str(finding.status) == expected and words in finding.message, finding.message


def test_spf_counts_and_limits():
    many = [f"include:i{n}.test" for n in range(11)]
    answers = [txt(f"i{n}.test", "v=spf1 -all") for n in range(11)]
    finding = one("mail.spf.lookups", spf=spf_facts("v=spf1 " + " ".join(many) + " -all", *answers))
    assert str(finding.status) == "fail" and "more than 10 DNS-querying terms" in finding.message
    assert finding.evidence["lookups"] == 11
    # RFC 7208 §4.6.4: a, mx and exists count too, and so do their void answers
    void = spf_facts("v=spf1 a:n1.x.test mx:n2.x.test exists:n3.x.test -all",
                     answer("A", "n1.x.test", 0, "NXDOMAIN"), answer("MX", "n2.x.test", 0), answer("A", "n3.x.test", 0))
    finding = one("mail.spf.lookups", spf=void)
    assert str(finding.status) == "fail" and "more than 2 lookups without an answer" in finding.message
    assert str(one("mail.spf", spf=void).status) == "fail"  # a permerror: no SPF is applied
    mx = spf_facts("v=spf1 mx -all", answer("MX", "x.test", 11))
    assert "names 11 hosts" in one("mail.spf.lookups", spf=mx).message
    fine = spf_facts("v=spf1 a mx -all", answer("A", "x.test", 1), answer("MX", "x.test", 2))
    finding = one("mail.spf.lookups", spf=fine)
    assert str(finding.status) == "pass" and finding.message == "DNS lookups: 2 (without an answer: 0)"


def test_spf_lint_checks():
    record = "v=spf1 ptr -all mx exp=explain.x.test"
    v = verdicts(mail_facts(spf=spf_facts(record)))
    assert status(v["mail.spf.ptr"]) == ["warn"] and "RFC 7208 §5.5" in v["mail.spf.ptr"][0].message
    assert "comes after 'all'" in v["mail.spf.after_all"][0].message
    assert status(v["mail.spf.exp"]) == ["warn"]
    assert status(v["mail.spf"]) == ["pass"]  # ptr needs the client: it counts a lookup, then -all ends it
    big = spf_facts("v=spf1 " + " ".join(f"ip4:192.0.2.{n}" for n in range(40)) + " -all")
    assert "over 512" in one("mail.spf.size", spf=big).message
    for check_id in ("mail.spf.ptr", "mail.spf.after_all", "mail.spf.exp", "mail.spf.size"):
        assert verdicts(mail_facts())[check_id][0].level == "optional"  # lint never moves the grade


def test_spf_lookup_failure_is_not_measured():
    partial = spf_facts("v=spf1 include:a.test -all", {"type": "TXT", "name": "a.test", "rcode": "SERVFAIL",
                                                        "error": "SERVFAIL"})
    v = verdicts(mail_facts(spf=partial))
    assert status(v["mail.spf.lookups"]) == ["error"] and status(v["mail.spf"]) == ["error"]
    failed = {"record": None, "records": None, "all": None, "lookups": None, "error": "the resolver failed x.test. TXT (SERVFAIL)"}
    v = verdicts(mail_facts(spf=failed))
    assert status(v["mail.spf"]) == ["error"] and status(v["mail.spf.lookups"]) == ["error"]
    assert status(verdicts(mail_facts(spf={"record": None, "records": 2}))["mail.spf"]) == ["fail"]


def test_domain_without_mail_must_say_so():
    quiet = mail_facts(null_mx=True, mx=[], spf=spf_facts("v=spf1 ~all"))
    v = verdicts(quiet)
    assert status(v["mail.spf"]) == ["fail"]  # ~all is not enough when no mail is sent
    assert status(v["mail.null_mx"]) == ["pass"]
    assert status(v["mail.starttls"]) == ["not_applicable"]
    assert status(verdicts(mail_facts(null_mx=False, mx=[]))["mail.null_mx"]) == ["warn"]
    sender = mail_facts(mx=[], spf=spf_facts("v=spf1 include:mail.provider.test ~all",
                                             txt("mail.provider.test", "v=spf1 ip4:192.0.2.1 -all")))
    assert status(verdicts(sender)["mail.spf"]) == ["warn"]  # it authorises a sender: ~all is weak, not wrong


# -- DMARC (RFC 9989) ---------------------------------------------------------------------------

def dmarc(record, **over):
    return {"record": record, "records": 1, "p": None, "inherited": False, "found_at": "x.test", "external": []} | over


DMARC_CASES = [
    pytest.param("v=DMARC1; p=ReJect", {}, "pass", "p=reject", id="RFC9989-4.8-values-case-insensitive"),
    pytest.param("v=DMARC1; p=none", {}, "fail", "delivered", id="RFC9989-4.7-p-none"),
    pytest.param("v=DMARC1; p=none; t=y", {}, "fail", "delivered", id="RFC9989-4.7-t-has-no-effect-on-none"),
    pytest.param("v=DMARC1; p=reject; t=y", {}, "warn", "receivers apply quarantine", id="RFC9989-4.7-t-y-lowers-reject"),
    pytest.param("v=DMARC1; p=quarantine; t=y", {}, "fail", "receivers apply none", id="RFC9989-4.7-t-y-lowers-quarantine"),
    pytest.param("v=DMARC1; p=reject; t=maybe", {}, "pass", "p=reject", id="RFC9989-4.8-invalid-t-defaults-to-n"),
    pytest.param("v=DMARC1; p=rejekt; rua=mailto:d@x.test", {}, "fail", "act as if p=none",
                 id="RFC9989-4.10.1-invalid-p-with-rua-is-none"),
    pytest.param("v=DMARC1; p=rejekt", {}, "fail", "apply no DMARC", id="RFC9989-4.10.1-invalid-p-without-rua"),
    pytest.param("v=DMARC1; rua=mailto:d@x.test", {}, "fail", "act as if p=none", id="RFC9989-4.7-missing-p"),
    pytest.param("v=DMARC1; p=reject; sp=bogus; rua=mailto:d@x.test", {}, "fail", "act as if p=none",
                 id="RFC9989-4.10.1-invalid-sp"),
    pytest.param("v=DMARC1; p=rejekt; rua=d@x.test", {}, "fail", "apply no DMARC",
                 id="RFC9989-4.8-rua-without-scheme-is-no-uri"),
    pytest.param("v=DMARC1; p=reject; adkim=x; pct=50", {}, "pass", "p=reject", id="RFC9989-4.8-invalid-tag-not-fatal"),
    pytest.param("v=DMARC1; p=none; sp=reject", {"inherited": True, "found_at": "parent.test"}, "pass",
                 "reject inherited from parent.test (sp=)", id="RFC9989-4.10.1-sp-for-subdomains"),
    pytest.param("v=DMARC1; p=reject; sp=reject; np=none", {"inherited": True, "found_at": "parent.test"}, "pass",
                 "(sp=)", id="RFC9989-4.10.1-np-only-for-non-existent"),
]


@pytest.mark.parametrize("record, over, expected, words", DMARC_CASES)
def test_dmarc_is_judged_as_receivers_apply_it(record, over, expected, words):
    finding = one("mail.dmarc", dmarc=dmarc(record, **over))
    assert str(finding.status) == expected and words in finding.message, finding.message


def test_dmarc_np_applies_to_a_domain_that_does_not_exist():
    finding = one("mail.dmarc", domain_exists=False,
                  dmarc=dmarc("v=DMARC1; p=reject; np=none", inherited=True, found_at="parent.test"))
    assert str(finding.status) == "fail" and "p=none" in finding.message
    assert str(one("mail.dmarc", dmarc={"record": None, "records": 0, "p": None}).status) == "fail"
    assert str(one("mail.dmarc", dmarc={"record": None, "records": 2, "p": None}).status) == "fail"


def test_dmarc_reporting_needs_real_uris():
    assert "no valid URI" in one("mail.dmarc.reporting", dmarc=dmarc("v=DMARC1; p=reject; rua=d@x.test")).message
    assert str(one("mail.dmarc.reporting", dmarc=dmarc("v=DMARC1; p=reject")).status) == "warn"
    https_only = one("mail.dmarc.reporting", dmarc=dmarc("v=DMARC1; p=reject; rua=https://r.x.test/dmarc"))
    assert str(https_only.status) == "warn" and "mailto:" in https_only.message
    fine = one("mail.dmarc.reporting", dmarc=dmarc("v=DMARC1; p=reject; rua=mailto:a@x.test,mailto:b@x.test!10m"))
    assert str(fine.status) == "pass" and fine.message == "reports go to mailto:a@x.test, mailto:b@x.test"


def test_external_report_destinations_need_their_consent():
    external = [{"tag": "rua", "uri": "mailto:d@reports.example", "host": "reports.example",
                 "name": "x.test._report._dmarc.reports.example", "rcode": "NOERROR", "records": ["v=DMARC1"]},
                {"tag": "ruf", "uri": "mailto:f@other.example", "host": "other.example",
                 "name": "x.test._report._dmarc.other.example", "rcode": "NXDOMAIN", "records": []}]
    findings = verdicts(mail_facts(dmarc=dmarc("v=DMARC1; p=reject; rua=mailto:d@reports.example",
                                               external=external)))["mail.dmarc.external_reports"]
    by_key = {f.key: (str(f.status), f.message) for f in findings}
    assert by_key["rua:reports.example"][0] == "pass"
    assert by_key["ruf:other.example"][0] == "fail" and "receivers ignore mailto:f@other.example" in by_key["ruf:other.example"][1]


def test_dmarc_lint_checks():
    v = verdicts(mail_facts(dmarc=dmarc("v=DMARC1; p=reject; pct=100; ri=3600; "
                                        "rua=mailto:a@x.test,mailto:b@x.test,mailto:c@x.test")))
    assert "pct= was removed by RFC 9989" in v["mail.dmarc.removed_tags"][0].message
    assert "ri= was removed" in v["mail.dmarc.removed_tags"][0].message
    assert "3 rua addresses" in v["mail.dmarc.rua_count"][0].message
    assert status(v["mail.dmarc"]) == ["pass"]  # removed tags are ignored, never fatal


def test_dmarc_tree_walk_candidates():
    assert dmarc_candidates("a.b.vlaanderen.be") == ["a.b.vlaanderen.be", "b.vlaanderen.be", "vlaanderen.be", "be"]
    deep = ".".join(f"l{i}" for i in range(12)) + ".be"
    names = dmarc_candidates(deep)
    assert names[0] == deep and len(names) == 8 and names[1].count(".") == 6 and names[-1] == "be"


# -- MX transport -------------------------------------------------------------------------------

def test_starttls_per_mx():
    facts = mail_facts(mx=[
        {"host": "mx1.x.test", "starttls": True, "protocol": "TLSv1.2", "tlsa": False,
         "protocols": {"SSLv2": False, "SSLv3": False, "TLSv1.0": True, "TLSv1.1": False, "TLSv1.2": True, "TLSv1.3": False}},
        {"host": "mx2.x.test", "starttls": False, "tlsa": False},
        {"host": "mx3.x.test", "starttls": None, "error": "no SMTP reply within 5 s", "tlsa": False},
    ])
    v = verdicts(facts)
    by_target = {f.target: str(f.status) for f in v["mail.starttls"]}
    assert by_target == {"smtp://mx1.x.test:25": "pass", "smtp://mx2.x.test:25": "fail", "smtp://mx3.x.test:25": "error"}
    # mx2 refuses STARTTLS (mail.starttls fails it); mx3 could not be asked: an error, never skipped
    assert {f.target: str(f.status) for f in v["mail.starttls.protocol"]} == {
        "smtp://mx1.x.test:25": "fail", "smtp://mx3.x.test:25": "error"}
    assert all(f.subject == "x.test" for f in v["mail.starttls"])


def test_mx_certificate():
    wrong = mail_facts(mx=[{"host": "mx.x.test", "starttls": True, "protocol": "TLSv1.3",
                            "certificate": {"trusted": True, "hostname_match": False, "chain": [{"san": ["other.test"]}]}}])
    findings = verdicts(wrong)["mail.starttls.certificate"]
    assert status(findings) == ["fail"] and "does not name mx.x.test" in findings[0].message


def test_mx_suites_are_classified():
    tls = {"protocols": {}, "cipher_suites": {"TLSv1.2": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_RC4_128_SHA"]}}
    facts = mail_facts(mx=[{"host": "mx.x.test", "starttls": True, "protocol": "TLSv1.2", "tls": tls}])
    findings = verdicts(facts)["mail.starttls.suites"]
    assert status(findings) == ["fail"] and "TLS_RSA_WITH_RC4_128_SHA" in findings[0].message
    assert findings[0].target == "smtp://mx.x.test:25"


def test_unread_evidence_is_an_error_never_a_verdict():
    # only the negotiated version is known: older versions may still be offered
    negotiated = mail_facts(mx=[{"host": "mx.x.test", "starttls": True, "protocol": "TLSv1.3", "tlsa": False,
                                 "protocols": {"SSLv2": None, "SSLv3": None, "TLSv1.0": None, "TLSv1.1": None,
                                               "TLSv1.2": None, "TLSv1.3": True}}])
    v = verdicts(negotiated)
    assert status(v["mail.starttls.protocol"]) == ["error"]
    assert status(v["mail.starttls.suites"]) == ["error"]  # no enumeration at all
    # STARTTLS offered but the handshake failed: no certificate was read
    broken = mail_facts(mx=[{"host": "mx.x.test", "starttls": True, "tls_error": "TLS handshake failed", "tlsa": False}])
    v = verdicts(broken)
    assert status(v["mail.starttls.certificate"]) == ["error"] and status(v["mail.starttls"]) == ["fail"]
    # an MX list that was never collected is not "no mail"
    facts = mail_facts()
    del facts["mail"]["mx"]
    v = verdicts(facts)
    for check_id in ("mail.starttls", "mail.null_mx", "mail.mta_sts", "mail.dane", "mail.tls_rpt"):
        assert status(v[check_id]) == ["error"], check_id
    # facts of a probe before DKIM selectors: not measured, never "no DKIM"
    facts = mail_facts()
    del facts["mail"]["dkim"]
    assert status(verdicts(facts)["mail.dkim"]) == ["error"]


def dane_row(usage, match, reason=None):
    row = {"record": "3 1 1 abcd", "usage": usage, "match": match}
    return row | ({"reason": reason} if reason else {})


DANE_CASES = [
    pytest.param({"tlsa": True, "tlsa_dnssec": "secure", "dane": {"records": [dane_row("DANE-EE", True)]}}, "pass",
                 id="RFC7672-2.2-usable-match"),
    pytest.param({"tlsa": True, "tlsa_dnssec": "secure", "dane": {"records": [dane_row("DANE-EE", False, "the leaf does not match")]}},
                 "fail", id="RFC7672-2.2-usable-set-matches-nothing"),
    pytest.param({"tlsa": True, "tlsa_dnssec": "secure", "dane": {"records": [dane_row("PKIX-EE", True)]}}, "warn",
                 id="RFC7672-3.1.3-pkix-usages-unusable"),
    pytest.param({"tlsa": True, "tlsa_dnssec": "secure", "dane": {"records": [dane_row("DANE-EE", False, "unusable parameters")]}},
                 "warn", id="RFC7671-4-unknown-parameters-unusable"),
    pytest.param({"tlsa": True, "tlsa_dnssec": "secure"}, "error", id="RFC7672-no-chain-read"),
    pytest.param({"tlsa": True, "tlsa_dnssec": "insecure"}, "warn", id="RFC7672-2.1-unsigned-ignored"),
    pytest.param({"tlsa": True, "tlsa_dnssec": "bogus"}, "fail", id="RFC7672-2.1-bogus-defers"),
    pytest.param({"tlsa": True}, "error", id="RFC7672-dnssec-unknown"),
    pytest.param({"tlsa": False}, "warn", id="RFC7672-no-tlsa"),
]


@pytest.mark.parametrize("mx, expected", DANE_CASES)
def test_mx_dane(mx, expected):
    facts = mail_facts(mx=[{"host": "mx.x.test", "starttls": True, "protocol": "TLSv1.3", **mx}])
    assert status(verdicts(facts)["mail.dane"]) == [expected]


# -- MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) -----------------------------------------------------

MTA_STS_CASES = [
    pytest.param({}, "pass", "enforce", id="RFC8461-3.2-valid-enforce"),
    pytest.param({"policy": STS_POLICY.replace("\r\n", "\n")}, "pass", "enforce", id="RFC8461-3.2-lf-line-endings"),
    pytest.param({"policy": STS_POLICY.replace("\r\n", "\r")}, "fail", "bare CR", id="RFC8461-3.2-bare-cr"),
    pytest.param({"policy": STS_POLICY.replace("enforce", "Enforce")}, "fail", "case-sensitive", id="RFC8461-3.2-mode-case"),
    pytest.param({"policy": STS_POLICY.replace("604800", "31557601")}, "fail", "from 0 to 31557600",
                 id="RFC8461-3.2-max-age-bound"),
    pytest.param({"policy": STS_POLICY.replace("version: STSv1\r\n", "")}, "fail", "no version line",
                 id="RFC8461-3.2-version-required"),
    pytest.param({"policy": STS_POLICY.replace("mx: *.x.test", "mx: mail.x.test")}, "fail", "does not list MX mx.x.test",
                 id="RFC8461-4.1-mx-not-listed"),
    pytest.param({"policy": STS_POLICY.replace("mx: *.x.test", "mx: *.test")}, "fail", "does not list",
                 id="RFC8461-4.1-wildcard-one-label"),
    pytest.param({"policy": STS_POLICY.replace("enforce", "testing")}, "warn", "testing", id="RFC8461-5-testing"),
    pytest.param({"content_type": "text/html"}, "fail", "not text/plain", id="RFC8461-3.2-media-type"),
    pytest.param({"policy_truncated": True, "policy": None}, "fail", "larger than 64 KiB", id="RFC8461-3.3-size-cap"),
    pytest.param({"policy_status": 301, "policy_location": "https://elders.test/", "policy": None}, "fail",
                 "do not follow redirects", id="RFC8461-3.3-no-redirects"),
    pytest.param({"policy_status": 404, "policy": None}, "fail", "HTTP 404", id="RFC8461-3.3-status-200"),
    pytest.param({"certificate": {"trusted": False, "hostname_match": True, "trust_error": "expired"}}, "fail",
                 "expired", id="RFC8461-3.3-certificate-trusted"),
    pytest.param({"certificate": {"trusted": True, "hostname_match": False}}, "fail",
                 "does not name the mta-sts host", id="RFC8461-3.3-certificate-names-the-host"),
    pytest.param({"records": ["v=STSv1; id=1", "v=STSv1; id=2"]}, "fail", "2 MTA-STS records", id="RFC8461-3.1-one-record"),
    pytest.param({"records": ["v=STSv1; id=way-too-long!"]}, "fail", "1 to 32 letters and digits", id="RFC8461-3.1-id"),
    pytest.param({"records": ["v=STSv1 ; id=1"]}, "fail", "'v=STSv1;'", id="RFC8461-3.1-prefix"),
]


@pytest.mark.parametrize("over, expected, words", MTA_STS_CASES)
def test_mta_sts_is_judged_as_senders_apply_it(over, expected, words):
    finding = one("mail.mta_sts", mta_sts=mta_sts_facts(**over))
    assert str(finding.status) == expected and words in finding.message, finding.message


def test_dane_replaces_mta_sts_only_on_every_mx():
    hosts = [{"host": "mx1.x.test", "starttls": True, "tlsa": True, "tlsa_dnssec": "secure"},
             {"host": "mx2.x.test", "starttls": True, "tlsa": False}]
    no_sts = {"record": None, "records": [], "mode": None}
    assert status(verdicts(mail_facts(mx=hosts, mta_sts=no_sts))["mail.mta_sts"]) == ["warn"]
    assert status(verdicts(mail_facts(mx=hosts[:1], mta_sts=no_sts))["mail.mta_sts"]) == ["pass"]


TLS_RPT_CASES = [
    pytest.param(["v=TLSRPTv1; rua=mailto:tls@x.test,https://r.x.test/tlsrpt"], "pass", id="RFC8460-3-mailto-and-https"),
    pytest.param([], "warn", id="RFC8460-3-absent"),
    pytest.param(["v=TLSRPTv1; rua=tls@x.test"], "fail", id="RFC8460-3-rua-is-no-uri"),
    pytest.param(["v=TLSRPTv1; rua=ftp://r.x.test/"], "fail", id="RFC8460-3-scheme"),
    pytest.param(["v=TLSRPTv1;"], "fail", id="RFC8460-3-rua-required"),
    pytest.param(["v=tlsrptv1; rua=mailto:tls@x.test"], "fail", id="RFC8460-3-version-case"),
    pytest.param(["v=TLSRPTv1; rua=mailto:a@x.test", "v=TLSRPTv1; rua=mailto:b@x.test"], "fail", id="RFC8460-3-one-record"),
]


@pytest.mark.parametrize("records, expected", TLS_RPT_CASES)
def test_tls_rpt(records, expected):
    assert str(one("mail.tls_rpt", tls_rpt=records[0] if records else None, tls_rpt_records=records).status) == expected


# -- DKIM keys of named selectors ------------------------------------------------------------------

@pytest.fixture(scope="module")
def rsa_keys():
    """Base64 SubjectPublicKeyInfo of RSA keys by size, as a DKIM p= holds them."""
    def spki(bits):
        key = _rsa_key(bits).public_key() if bits >= 1024 else rsa.RSAPublicNumbers(65537, (1 << bits) - 1).public_key()
        der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode()
    return {bits: spki(bits) for bits in (512, 1024, 2048)}


def test_dkim_keys_of_named_selectors(rsa_keys):
    def key_entry(selector, *records, error=None):
        entry = {"selector": selector, "name": f"{selector}._domainkey.x.test", "rcode": "NOERROR"}
        return entry | ({"error": error} if error else {"records": list(records)})

    keys = [key_entry("strong", f"v=DKIM1; k=rsa; p={rsa_keys[2048]}"),
            key_entry("small", f"v=DKIM1; p={rsa_keys[1024]}"),
            key_entry("tiny", f"v=DKIM1; p={rsa_keys[512]}"),
            key_entry("gone"),
            key_entry("revoked", "v=DKIM1; p="),
            key_entry("sha1", f"v=DKIM1; h=sha1; p={rsa_keys[2048]}"),
            key_entry("broken", error="SERVFAIL")]
    findings = verdicts(mail_facts(dkim={"selectors": [k["selector"] for k in keys], "keys": keys}))["mail.dkim"]
    by_key = {f.key: (str(f.status), f.message) for f in findings}
    assert by_key["strong"] == ("pass", "selector strong: rsa key of 2048 bits")
    assert by_key["small"][0] == "warn" and by_key["tiny"][0] == "fail" and "under 1024" in by_key["tiny"][1]
    assert by_key["gone"][0] == "fail" and by_key["revoked"][0] == "fail" and by_key["sha1"][0] == "fail"
    assert by_key["broken"][0] == "error"
    assert {f.target for f in findings} >= {"strong._domainkey.x.test"}


# -- the lint checks are listed, with their levels, in both languages -------------------------------

LINT_CHECKS = {"mail.spf.ptr": "SPF gebruikt het ptr-mechanisme niet", "mail.spf.after_all": "Elke SPF-term",
               "mail.spf.exp": "SPF zet geen uitleg (exp=)", "mail.spf.size": "Het SPF-record heeft een grootte",
               "mail.dmarc.removed_tags": "DMARC gebruikt geen tags die RFC 9989 schrapte",
               "mail.dmarc.rua_count": "DMARC noemt niet meer rua-adressen"}


def test_bolwerk_checks_lists_the_mail_lint_checks_in_both_languages():
    from click.testing import CliRunner

    from scanner.cli import main

    for lang, words in (("en", None), ("nl", LINT_CHECKS)):
        out = CliRunner().invoke(main, ["checks", "--lang", lang], catch_exceptions=False).output
        rows = {line.split()[0]: line for line in out.splitlines()}
        for check_id in LINT_CHECKS:
            assert rows[check_id].split()[1:3] == ["mail", "optional"], rows[check_id]
            if words:
                assert words[check_id] in rows[check_id]
