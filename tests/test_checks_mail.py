"""Mail checks from fact fixtures: spoofing protection and MX transport security."""

from scanner.probes.mail import dmarc_candidates, parse_tags
from tests.judging import judge_all


def mail_facts(**over):
    mail = {
        "null_mx": False,
        "spf": {"record": "v=spf1 mx -all", "records": 1, "all": "-all", "lookups": 1, "void_lookups": 0},
        "dmarc": {"record": "v=DMARC1; p=reject; rua=mailto:d@x.test", "records": 1, "p": "reject", "rua": "mailto:d@x.test",
                  "inherited": False, "found_at": "x.test"},
        "mx": [{"host": "mx.x.test", "starttls": True, "protocol": "TLSv1.3", "tlsa": False,
                "protocols": {"SSLv2": False, "SSLv3": False, "TLSv1.0": False, "TLSv1.1": False, "TLSv1.2": True, "TLSv1.3": True},
                "certificate": {"trusted": True, "hostname_match": True, "chain": [{"san": ["mx.x.test"]}]}}],
        "mta_sts": {"record": "v=STSv1; id=1", "mode": "enforce", "policy": {"mode": "enforce", "mx": ["*.x.test"]}},
        "tls_rpt": "v=TLSRPTv1; rua=mailto:tls@x.test",
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


def test_strong_domain_passes():
    v = verdicts(mail_facts())
    for check_id in ("mail.spf", "mail.dmarc", "mail.starttls", "mail.starttls.protocol", "mail.mta_sts", "mail.dmarc.reporting",
                     "mail.tls_rpt", "mail.starttls.certificate"):
        assert status(v[check_id]) == ["pass"], (check_id, [f.message for f in v[check_id]])
    assert status(v["mail.null_mx"]) == ["not_applicable"]


def test_spf_qualifiers():
    assert status(verdicts(mail_facts(spf={"record": "v=spf1 +all", "records": 1, "all": "+all", "lookups": 0}))["mail.spf"]) == ["fail"]
    assert status(verdicts(mail_facts(spf={"record": "v=spf1 mx ~all", "records": 1, "all": "~all", "lookups": 1}))["mail.spf"]) == ["warn"]
    assert status(verdicts(mail_facts(spf={"record": None, "records": 2, "all": None, "lookups": None}))["mail.spf"]) == ["fail"]
    too_many = mail_facts(spf={"record": "v=spf1 include:a -all", "records": 1, "all": "-all", "lookups": 11, "void_lookups": 0})
    assert status(verdicts(too_many)["mail.spf.lookups"]) == ["fail"]


def test_domain_without_mail_must_say_so():
    quiet = mail_facts(null_mx=True, mx=[], spf={"record": "v=spf1 ~all", "records": 1, "all": "~all", "lookups": 0})
    v = verdicts(quiet)
    assert status(v["mail.spf"]) == ["fail"]  # ~all is not enough when no mail is sent
    assert status(v["mail.null_mx"]) == ["pass"]
    assert status(v["mail.starttls"]) == ["not_applicable"]
    nothing = mail_facts(null_mx=False, mx=[])
    assert status(verdicts(nothing)["mail.null_mx"]) == ["warn"]


def test_dmarc_rfc9989():
    none = mail_facts(dmarc={"record": "v=DMARC1; p=none", "records": 1, "p": "none"})
    assert status(verdicts(none)["mail.dmarc"]) == ["fail"]
    testing = mail_facts(dmarc={"record": "v=DMARC1; p=reject; t=y", "records": 1, "p": "reject", "t": "y"})
    assert status(verdicts(testing)["mail.dmarc"]) == ["warn"]
    inherited = mail_facts(dmarc={"record": "v=DMARC1; p=none; sp=reject", "records": 1, "p": "none", "sp": "reject",
                                  "inherited": True, "found_at": "parent.test"})
    assert status(verdicts(inherited)["mail.dmarc"]) == ["pass"]
    missing = mail_facts(dmarc={"record": None, "records": 0, "p": None})
    assert status(verdicts(missing)["mail.dmarc"]) == ["fail"]


def test_dmarc_tree_walk_candidates():
    assert dmarc_candidates("a.b.vlaanderen.be") == ["a.b.vlaanderen.be", "b.vlaanderen.be", "vlaanderen.be", "be"]
    deep = ".".join(f"l{i}" for i in range(12)) + ".be"
    names = dmarc_candidates(deep)
    assert names[0] == deep and len(names) == 8 and names[1].count(".") == 6 and names[-1] == "be"
    assert parse_tags("v=DMARC1; p=reject ; rua = mailto:x@y; ; bogus") == {"v": "DMARC1", "p": "reject", "rua": "mailto:x@y"}


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


def test_mta_sts_policy_must_cover_every_mx():
    facts = mail_facts(mta_sts={"record": "v=STSv1; id=1", "mode": "enforce", "policy": {"mx": ["mail.x.test"]}})
    findings = verdicts(facts)["mail.mta_sts"]
    assert status(findings) == ["fail"] and "mx.x.test" in findings[0].message
    deep = mail_facts(mta_sts={"record": "v=STSv1; id=1", "mode": "enforce", "policy": {"mx": ["*.x.test"]}},
                      mx=[{"host": "a.mx.x.test", "starttls": True, "protocol": "TLSv1.3"}])
    assert status(verdicts(deep)["mail.mta_sts"]) == ["fail"]  # a wildcard covers one label only
    testing = mail_facts(mta_sts={"record": "v=STSv1; id=1", "mode": "testing", "policy": {"mx": ["mx.x.test"]}})
    assert status(verdicts(testing)["mail.mta_sts"]) == ["warn"]


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
    # SPF redirect= without the target's policy read (facts of an older probe): not measured
    redirect = mail_facts(spf={"record": "v=spf1 redirect=_spf.x.test", "records": 1, "all": None,
                               "redirect": "_spf.x.test", "lookups": 1, "void_lookups": 0})
    assert status(verdicts(redirect)["mail.spf"]) == ["error"]
    # lookup counting stopped by a DNS failure: the count is a lower bound
    partial = mail_facts(spf={"record": "v=spf1 include:a.test -all", "records": 1, "all": "-all", "lookups": 3,
                              "void_lookups": 0, "lookup_error": "SERVFAIL for a.test"})
    assert status(verdicts(partial)["mail.spf.lookups"]) == ["error"]
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


def test_mx_dane():
    def dane(**mx):
        return verdicts(mail_facts(mx=[{"host": "mx.x.test", "starttls": True, "protocol": "TLSv1.3", **mx}]))["mail.dane"]
    assert status(dane(tlsa=True, tlsa_dnssec="secure")) == ["pass"]
    assert status(dane(tlsa=True, tlsa_dnssec="insecure")) == ["warn"]
    assert status(dane(tlsa=True, tlsa_dnssec="bogus")) == ["fail"]  # DANE senders defer mail
    assert status(dane(tlsa=True)) == ["error"]
    assert status(dane(tlsa=False)) == ["warn"]


def test_dane_replaces_mta_sts_only_on_every_mx():
    hosts = [{"host": "mx1.x.test", "starttls": True, "tlsa": True, "tlsa_dnssec": "secure"},
             {"host": "mx2.x.test", "starttls": True, "tlsa": False}]
    no_sts = {"record": None, "mode": None, "policy": None}
    assert status(verdicts(mail_facts(mx=hosts, mta_sts=no_sts))["mail.mta_sts"]) == ["warn"]
    assert status(verdicts(mail_facts(mx=hosts[:1], mta_sts=no_sts))["mail.mta_sts"]) == ["pass"]
    unserved = {"record": "v=STSv1; id=1", "mode": None, "policy": None, "policy_status": 404}
    findings = verdicts(mail_facts(mta_sts=unserved))["mail.mta_sts"]
    assert status(findings) == ["fail"] and "404" in findings[0].message


def test_spf_redirect_takes_the_targets_policy():
    base = {"record": "v=spf1 redirect=_spf.x.test", "records": 1, "all": None, "redirect": "_spf.x.test",
            "lookups": 1, "void_lookups": 0}
    assert status(verdicts(mail_facts(spf=base | {"redirect_all": "-all"}))["mail.spf"]) == ["pass"]
    assert status(verdicts(mail_facts(spf=base | {"redirect_all": "+all"}))["mail.spf"]) == ["fail"]
    assert status(verdicts(mail_facts(spf=base | {"redirect_all": None}))["mail.spf"]) == ["fail"]
    assert status(verdicts(mail_facts(spf=base | {"redirect_error": "the resolver failed"}))["mail.spf"]) == ["error"]


def test_failed_spf_lookup_is_not_measured_not_missing():
    failed = {"record": None, "records": None, "all": None, "lookups": None, "error": "the resolver failed x.test. TXT (SERVFAIL)"}
    v = verdicts(mail_facts(spf=failed))
    assert status(v["mail.spf"]) == ["error"] and status(v["mail.spf.lookups"]) == ["error"]


def test_a_domain_that_sends_without_receiving_may_soft_fail():
    sender = mail_facts(null_mx=False, mx=[], spf={"record": "v=spf1 include:mail.provider.test ~all", "records": 1,
                                                   "all": "~all", "lookups": 1, "void_lookups": 0})
    assert status(verdicts(sender)["mail.spf"]) == ["warn"]  # it authorises a sender: ~all is weak, not wrong


def test_failed_mx_and_dmarc_lookups_are_not_measured():
    unknown_mx = mail_facts(null_mx=None, mx=[], mx_error="the resolver failed x.test. MX (SERVFAIL)")
    v = verdicts(unknown_mx)
    for check_id in ("mail.null_mx", "mail.starttls", "mail.mta_sts"):
        assert status(v[check_id]) == ["error"], (check_id, [f.message for f in v[check_id]])
    dmarc_failed = mail_facts(dmarc={"record": None, "records": None, "p": None, "error": "the resolver failed (SERVFAIL)"})
    v = verdicts(dmarc_failed)
    assert status(v["mail.dmarc"]) == ["error"] and status(v["mail.dmarc.reporting"]) == ["error"]
