"""The mail standards' grammars and rules (scanner/standards/), table by table.

Each case's id names the clause it tests. Positions are asserted where the parser reports
them (character offset `at`, term or tag index `term`; for a policy file, the line).
"""

import base64

import pytest

from scanner.standards import dkim, dmarc, mta_sts, spf, tls_rpt
from scanner.standards.grammar import is_uri, split_tags, uri_host


def codes(issues):
    return [(i.code, i.at, i.term) for i in issues]


# -- SPF grammar (RFC 7208) ---------------------------------------------------------------------

SPF_SYNTAX = [
    pytest.param("v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx include:_spf.example.com -all", [],
                 id="RFC7208-4.6.1-valid"),
    pytest.param("v=spf1 -ALL", [], id="RFC7208-4.6.1-names-case-insensitive"),
    pytest.param("v=spf1  mx   -all ", [], id="RFC7208-4.6.1-several-spaces"),
    pytest.param("v=spf1 ip4:192.0.2.0/99 -all", [("spf_cidr", 7, 1)], id="RFC7208-5.6-ip4-prefix-over-32"),
    pytest.param("v=spf1 ip4:192.0.2.0/08 -all", [("spf_cidr", 7, 1)], id="RFC7208-5.6-prefix-leading-zero"),
    pytest.param("v=spf1 mx ip4:192.0.2.01 -all", [("spf_ip4_address", 10, 2)], id="RFC7208-5.6-ip4-qnum"),
    pytest.param("v=spf1 ip6:192.0.2.1 -all", [("spf_ipv4_in_ip6", 7, 1)], id="RFC7208-5.6-ipv4-under-ip6"),
    pytest.param("v=spf1 ip6:2001:db8::/129 -all", [("spf_cidr", 7, 1)], id="RFC7208-5.6-ip6-prefix-over-128"),
    pytest.param("v=spf1 ip6:fe80::1%eth0 -all", [("spf_ip6_address", 7, 1)], id="RFC7208-5.6-ip6-no-zone"),
    pytest.param("v=spf1 a/24//64 mx:example.com/30 -all", [], id="RFC7208-5.6-dual-cidr"),
    pytest.param("v=spf1 mx//129 -all", [("spf_cidr", 7, 1)], id="RFC7208-5.6-dual-cidr-range"),
    pytest.param("v=spf1 a mx~all", [("spf_mechanism_syntax", 9, 2)], id="RFC7208-4.6.1-mechanism-glued-to-all"),
    pytest.param("v=spf1 include:example.com~all", [("spf_domain_end", 7, 1)], id="RFC7208-7.1-include-glued-to-all"),
    pytest.param("v=spf1 foo -all", [("spf_unknown_mechanism", 7, 1)], id="RFC7208-5-unknown-mechanism"),
    pytest.param("v=spf1 include -all", [("spf_needs_domain", 7, 1)], id="RFC7208-5.2-include-needs-domain"),
    pytest.param("v=spf1 foo=bar -all", [], id="RFC7208-6-unknown-modifier-ignored"),
    pytest.param("v=spf1 redirect=a.example redirect=b.example", [("spf_modifier_twice", 26, 2)],
                 id="RFC7208-6-modifier-once"),
    pytest.param("v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all", [], id="RFC7208-7.1-macros"),
    pytest.param("v=spf1 exists:%{x}.example.com -all", [("spf_macro", 7, 1)], id="RFC7208-7.1-unknown-macro-letter"),
    pytest.param("v=spf1 exists:%{d0}.example.com -all", [("spf_macro", 7, 1)], id="RFC7208-7.1-zero-digits"),
    pytest.param("v=spf1 exists:%{d.example.com -all", [("spf_macro", 7, 1)], id="RFC7208-7.1-unterminated-macro"),
    pytest.param("v=spf1 include:50%.example.com -all", [("spf_macro", 7, 1)], id="RFC7208-7.1-bare-percent"),
    pytest.param("v=spf1 exists:%{c}.example.com -all", [("spf_macro_exp_only", 7, 1)], id="RFC7208-7.2-exp-only-letters"),
    pytest.param("v=spf1 a:192.0.2.1 -all", [("spf_domain_end", 7, 1)], id="RFC7208-7.1-numeric-top-label"),
    pytest.param("v=spf1 include:localhost -all", [("spf_domain_end", 7, 1)], id="RFC7208-7.1-one-label"),
    pytest.param("v=spf1 redirect=_spf.%{d}", [], id="RFC7208-7.1-domain-ends-in-macro"),
    pytest.param("v=spf1 mx\t-all", [("spf_mechanism_syntax", 7, 1)], id="RFC7208-4.6.1-terms-split-by-space-only"),
]


@pytest.mark.parametrize("record, expected", SPF_SYNTAX)
def test_spf_grammar(record, expected):
    assert codes(spf.parse(record).issues) == expected


@pytest.mark.parametrize("text, expected", [
    pytest.param("v=spf1 -all", True, id="RFC7208-4.5-version"),
    pytest.param("V=SPF1 -all", True, id="RFC7208-4.5-version-case-insensitive"),
    pytest.param("v=spf1", True, id="RFC7208-4.5-version-alone"),
    pytest.param("v=spf10 -all", False, id="RFC7208-4.5-version-ends-in-space"),
    pytest.param("v=spf1\t-all", False, id="RFC7208-4.5-tab-is-no-space"),
    pytest.param("spf1 -all", False, id="RFC7208-4.5-no-version"),
])
def test_spf_record_selection(text, expected):
    assert spf.is_spf_record(text) is expected


@pytest.mark.parametrize("spec, expected", [
    pytest.param("_spf.%{d}", "_spf.example.com", id="RFC7208-7.3-d"),
    pytest.param("%{d2}.x.%{o}", "example.com.x.example.com", id="RFC7208-7.3-digits"),
    pytest.param("%{dr}", "com.example", id="RFC7208-7.3-reverse"),
    pytest.param("%{D}", "example.com", id="RFC7208-7.3-uppercase-escapes"),
    pytest.param("%{i}._spf.%{d}", None, id="RFC7208-7.3-needs-the-client"),
    pytest.param("%{l}.%{d}", None, id="RFC7208-7.3-needs-the-sender"),
])
def test_spf_macro_expansion(spec, expected):
    assert spf.expand(spec, "example.com", "example.com") == expected


def txt(name, *records, rcode="NOERROR", error=None):
    out = {"type": "TXT", "name": name, "rcode": rcode, "count": len(records), "records": list(records)}
    return out | ({"error": error} if error else {})


def answer(rdtype, name, count, rcode="NOERROR"):
    return {"type": rdtype, "name": name, "rcode": rcode, "count": count}


def includes(n, record="v=spf1 -all"):
    return [f"include:i{k}.example" for k in range(n)], [txt(f"i{k}.example", record) for k in range(n)]


TEN, TEN_ANSWERS = includes(10)
ELEVEN, ELEVEN_ANSWERS = includes(11)

SPF_WALKS = [
    pytest.param("v=spf1 " + " ".join(TEN) + " -all", TEN_ANSWERS, (10, 0, "-all", None),
                 id="RFC7208-4.6.4-ten-lookups"),
    pytest.param("v=spf1 " + " ".join(ELEVEN) + " -all", ELEVEN_ANSWERS, (11, 0, None, "spf_lookup_limit"),
                 id="RFC7208-4.6.4-eleven-lookups"),
    pytest.param("v=spf1 a mx ptr exists:e.example -all",
                 [answer("A", "example.com", 1), answer("MX", "example.com", 1), answer("A", "e.example", 1)],
                 (4, 0, "-all", None), id="RFC7208-4.6.4-every-dns-term-counts"),
    pytest.param("v=spf1 a:v1.example a:v2.example -all",
                 [answer("A", "v1.example", 0, "NXDOMAIN"), answer("A", "v2.example", 0)],
                 (2, 2, "-all", None), id="RFC7208-4.6.4-two-void-lookups"),
    pytest.param("v=spf1 a:v1.example mx:v2.example exists:v3.example -all",
                 [answer("A", "v1.example", 0, "NXDOMAIN"), answer("MX", "v2.example", 0), answer("A", "v3.example", 0)],
                 (3, 3, None, "spf_void_limit"), id="RFC7208-4.6.4-void-lookups"),
    pytest.param("v=spf1 mx -all", [answer("MX", "example.com", 11)], (1, 0, None, "spf_mx_limit"),
                 id="RFC7208-4.6.4-mx-names"),
    pytest.param("v=spf1 include:a.example -all",
                 [txt("a.example", "v=spf1 include:example.com -all")], (2, 0, None, "spf_include_loop"),
                 id="RFC7208-4.6.4-include-loop"),
    pytest.param("v=spf1 include:d.example include:d.example -all", [txt("d.example", "v=spf1 a -all"),
                                                                      answer("A", "d.example", 1)],
                 (4, 0, "-all", None), id="RFC7208-4.6.4-repeated-include-counts-again"),
    pytest.param("v=spf1 include:none.example -all", [txt("none.example")], (1, 1, None, "spf_include_without_spf"),
                 id="RFC7208-5.2-include-without-spf"),
    pytest.param("v=spf1 include:two.example -all", [txt("two.example", "v=spf1 -all", "v=spf1 ~all")],
                 (1, 0, None, "spf_several_records"), id="RFC7208-4.5-several-records-in-include"),
    pytest.param("v=spf1 include:bad.example -all", [txt("bad.example", "v=spf1 ip4:1.2.3.4/40 -all")],
                 (1, 0, None, "spf_syntax"), id="RFC7208-4.6-syntax-error-in-include"),
    pytest.param("v=spf1 -all include:a.example redirect=b.example", [], (0, 0, "-all", None),
                 id="RFC7208-5.1-nothing-after-all"),
    pytest.param("v=spf1 redirect=_spf.%{d}", [txt("_spf.example.com", "v=spf1 ~all")], (1, 0, "~all", None),
                 id="RFC7208-6.1-redirect-macro-expanded"),
    pytest.param("v=spf1 redirect=gone.example", [txt("gone.example", rcode="NXDOMAIN")],
                 (1, 1, None, "spf_redirect_without_spf"), id="RFC7208-6.1-redirect-without-spf"),
    pytest.param("v=spf1 include:%{i}.example -all", [], (1, 0, "-all", None), id="RFC7208-7-unfollowed-include"),
]


@pytest.mark.parametrize("record, answers, expected", SPF_WALKS)
def test_spf_walk(record, answers, expected):
    walk = spf.evaluate("example.com", [txt("example.com", record), *answers])
    assert not walk.missing
    permerror = walk.permerror.code if walk.permerror else None
    assert (walk.lookups, walk.void, walk.policy, permerror) == expected


def test_spf_walk_names_what_it_is_missing_and_stops_at_a_failed_lookup():
    walk = spf.evaluate("example.com", [txt("example.com", "v=spf1 include:a.example mx -all")])
    assert walk.missing == [("TXT", "a.example"), ("MX", "example.com")]  # one round fetches both
    failed = spf.evaluate("example.com", [txt("example.com", "v=spf1 include:a.example -all"),
                                          txt("a.example", rcode="SERVFAIL", error="SERVFAIL")])
    assert failed.temperror == "TXT a.example: SERVFAIL" and failed.policy is None
    walk = spf.evaluate("example.com", [txt("example.com", "v=spf1 include:%{i}.x.example ptr -all")])
    assert [i.code for i in walk.unevaluable] == ["spf_unfollowed", "spf_needs_client"]


SPF_LINT = [
    pytest.param("v=spf1 ptr -all", None, [("spf_lint_ptr", 7, 1)], id="RFC7208-5.5-ptr"),
    pytest.param("v=spf1 -all mx", None, [("spf_lint_after_all", 12, 2)], id="RFC7208-5.1-after-all"),
    pytest.param("v=spf1 redirect=x.example -all", None, [("spf_lint_redirect_with_all", 7, 1)],
                 id="RFC7208-6.1-redirect-ignored-with-all"),
    pytest.param("v=spf1 -all exp=explain.example", None, [("spf_lint_exp", 12, 2)], id="RFC7208-6.2-exp"),
    pytest.param("v=spf1 -all", ["v=spf1 " + "x" * 300], [("spf_lint_long_string", None, 0)],
                 id="RFC1035-3.3-string-over-255"),
    pytest.param("v=spf1 " + "ip4:192.0.2.1 " * 40 + "-all", None, [("spf_lint_large_record", None, None)],
                 id="RFC7208-3.4-record-over-512"),
]


@pytest.mark.parametrize("record, strings, expected", SPF_LINT)
def test_spf_lint(record, strings, expected):
    assert codes(spf.lint(spf.parse(record), strings)) == expected


# -- DMARC (RFC 9989, RFC 9990) ------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    pytest.param("v=DMARC1; p=reject", True, id="RFC9989-4.7-version"),
    pytest.param("v=DMARC1", True, id="RFC9989-4.8-version-alone"),
    pytest.param("V = DMARC1 ;p=reject", True, id="RFC9989-4.8-equals-and-separator-whitespace"),
    pytest.param("v=dmarc1; p=reject", False, id="RFC9989-4.7-value-case-sensitive"),
    pytest.param("p=reject; v=DMARC1", False, id="RFC9989-4.7-version-first"),
    pytest.param("v=DMARC10; p=reject", False, id="RFC9989-4.7-only-DMARC1"),
])
def test_dmarc_record_selection(text, expected):
    assert dmarc.is_dmarc_record(text) is expected


DMARC_PARSE = [
    pytest.param("v=DMARC1; p=Reject; sp=QUARANTINE", {"p": "reject", "sp": "quarantine", "t": "n", "adkim": "r"}, [],
                 id="RFC9989-4.8-values-case-insensitive"),
    pytest.param("v=DMARC1; p=reject; adkim=x", {"adkim": "r"}, [("dmarc_invalid_value", 20, 2)],
                 id="RFC9989-4.8-invalid-falls-back-to-default"),
    pytest.param("v=DMARC1; p=reject; t=yes", {"t": "n"}, [("dmarc_invalid_value", 20, 2)], id="RFC9989-4.7-t-yorn"),
    pytest.param("v=DMARC1; p=reject; psd=x", {"psd": "u"}, [("dmarc_invalid_value", 20, 2)], id="RFC9989-4.7-psd"),
    pytest.param("v=DMARC1; p=reject; fo=0:1", {"fo": "0"}, [("dmarc_invalid_value", 20, 2)],
                 id="RFC9989-4.8-fo-0-and-1-exclusive"),
    pytest.param("v=DMARC1; p=reject; fo=1:d:s", {"fo": "1:d:s"}, [], id="RFC9989-4.8-fo-list"),
    pytest.param("v=DMARC1; p=", {}, [("dmarc_invalid_value", 10, 1)], id="RFC9989-4.8-empty-value"),
    pytest.param("v=DMARC1; p=reject; p=none", {"p": "reject"}, [("dmarc_duplicate_tag", 20, 2)],
                 id="RFC9989-4.8-first-tag-counts"),
    pytest.param("v=DMARC1; p=reject; pct=50; foo=bar", {"p": "reject"}, [], id="RFC9989-4.8-unknown-tags-ignored"),
    pytest.param("v=DMARC1; p=reject; bogus", {"p": "reject"}, [("tag_syntax", 20, 2)], id="RFC9989-4.8-not-a-tag"),
]


@pytest.mark.parametrize("record, values, expected", DMARC_PARSE)
def test_dmarc_grammar(record, values, expected):
    parsed = dmarc.parse(record)
    assert {k: parsed.values.get(k) for k in values} == values
    assert codes(parsed.issues) == expected


def test_dmarc_report_uris():
    parsed = dmarc.parse("v=DMARC1; p=none; rua=mailto:a@example.com!10m , user@example.com,https://r.example/x")
    assert parsed.rua == ["mailto:a@example.com", "https://r.example/x"]
    assert codes(parsed.issues) == [("dmarc_bad_uri", 18, 2)] and parsed.issues[0].params["uri"] == "user@example.com"
    assert [i.code for i in dmarc.lint(parsed)] == ["dmarc_lint_size_suffix"]  # two URIs: within the limit
    lint = dmarc.lint(dmarc.parse("v=DMARC1; p=none; pct=50; rf=afrf; ri=3600; rua=mailto:a@x.example,"
                                  "mailto:b@x.example,mailto:c@x.example"))
    assert [(i.code, i.params.get("tag")) for i in lint] == [
        ("dmarc_lint_removed", "pct"), ("dmarc_lint_removed", "rf"), ("dmarc_lint_removed", "ri"),
        ("dmarc_lint_many_rua", None)]


APPLIED = [
    pytest.param("v=DMARC1; p=reject", {}, ("reject", "p", False, False), id="RFC9989-4.10.1-p"),
    pytest.param("v=DMARC1; p=reject; t=y", {}, ("quarantine", "p", False, True), id="RFC9989-4.7-t-y-reject"),
    pytest.param("v=DMARC1; p=quarantine; t=y", {}, ("none", "p", False, True), id="RFC9989-4.7-t-y-quarantine"),
    pytest.param("v=DMARC1; p=none; t=y", {}, ("none", "p", False, False), id="RFC9989-4.7-t-no-effect-on-none"),
    pytest.param("v=DMARC1; rua=mailto:a@x.example", {}, ("none", "p", True, False), id="RFC9989-4.7-no-p-is-none"),
    pytest.param("v=DMARC1; p=bogus", {}, (None, "p", False, False), id="RFC9989-4.10.1-no-valid-p-no-rua"),
    pytest.param("v=DMARC1; p=reject; np=bogus; rua=mailto:a@x.example", {}, ("none", "p", True, False),
                 id="RFC9989-4.10.1-invalid-np"),
    pytest.param("v=DMARC1; p=none; sp=reject", {"inherited": True}, ("reject", "sp", False, False),
                 id="RFC9989-4.10.1-sp-existing-subdomain"),
    pytest.param("v=DMARC1; p=quarantine", {"inherited": True}, ("quarantine", "p", False, False),
                 id="RFC9989-4.10.1-p-when-no-sp"),
    pytest.param("v=DMARC1; p=reject; sp=quarantine; np=none", {"inherited": True, "exists": False},
                 ("none", "np", False, False), id="RFC9989-4.10.1-np-non-existent"),
    pytest.param("v=DMARC1; p=reject; sp=quarantine", {"inherited": True, "exists": False},
                 ("quarantine", "sp", False, False), id="RFC9989-4.7-np-absent-falls-to-sp"),
]


@pytest.mark.parametrize("record, where, expected", APPLIED)
def test_dmarc_applied_policy(record, where, expected):
    applied = dmarc.applied_policy(dmarc.parse(record), inherited=where.get("inherited", False),
                                   exists=where.get("exists", True))
    assert (applied.policy, applied.tag, applied.fallback, applied.testing) == expected


@pytest.mark.parametrize("uri, host, name", [
    pytest.param("mailto:d@example.com", None, None, id="RFC9990-3-same-domain"),
    pytest.param("mailto:d@reports.example.com", None, None, id="RFC9990-3-same-organisation"),
    pytest.param("mailto:d@dmarc.example.net", "dmarc.example.net", "mail.example.com._report._dmarc.dmarc.example.net",
                 id="RFC9990-3-external"),
    pytest.param("https://r.example.org/dmarc", "r.example.org", "mail.example.com._report._dmarc.r.example.org",
                 id="RFC9990-3-authority-host"),
    pytest.param("mailto:d@" + ".".join(c * 60 for c in "abcd") + ".example", "x", None,
                 id="RFC9990-3-step4-name-too-long"),
])
def test_dmarc_external_destinations(uri, host, name):
    found = dmarc.external_host("mail.example.com", uri)
    assert (found is None) == (host is None)
    if found:
        assert dmarc.authorisation_name("mail.example.com", found) == name


def test_dmarc_organisations_under_a_multi_label_suffix_are_apart():
    # RFC 9990 §3 by the Public Suffix List: co.uk is a suffix, so two of its domains are two organisations
    assert dmarc.external_host("gemeente.co.uk", "mailto:d@rapport.co.uk") == "rapport.co.uk"
    assert dmarc.external_host("mail.gemeente.co.uk", "mailto:d@dmarc.gemeente.co.uk") is None


# -- MTA-STS (RFC 8461) -----------------------------------------------------------------------------

STS_RECORDS = [
    pytest.param("v=STSv1; id=20261101;", "20261101", [], id="RFC8461-3.1-valid"),
    pytest.param("v=STSv1; id=abc; ext=1", "abc", [], id="RFC8461-3.1-extension"),
    pytest.param("v=STSv1;", None, [("sts_record_no_id", None, None)], id="RFC8461-3.1-id-required"),
    pytest.param("v=STSv1; id=" + "a" * 33, None, [("sts_record_id", 8, 1)], id="RFC8461-3.1-id-32-chars"),
    pytest.param("v=STSv1; id=a-b", None, [("sts_record_id", 8, 1)], id="RFC8461-3.1-id-alphanumeric"),
    pytest.param("v=STSv1; id=a; id=b", "a", [("sts_record_duplicate_id", 14, 2)], id="RFC8461-3.1-one-id"),
    pytest.param("v=STSv1; id=a;; x", "a", [("sts_record_field", 14, 2), ("sts_record_field", 15, 3)],
                 id="RFC8461-3.1-field-syntax"),
    pytest.param("v=stsv1; id=a", None, [("sts_record_version", 0, 0)], id="RFC8461-3.1-version-case-sensitive"),
]


@pytest.mark.parametrize("record, record_id, expected", STS_RECORDS)
def test_mta_sts_record(record, record_id, expected):
    parsed = mta_sts.parse_record(record)
    assert parsed.id == record_id and codes(parsed.issues) == expected


POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 86400\r\n"

STS_POLICIES = [
    pytest.param(POLICY, ("enforce", 86400, "CRLF"), [], id="RFC8461-3.2-valid-crlf"),
    pytest.param(POLICY.replace("\r\n", "\n"), ("enforce", 86400, "LF"), [], id="RFC8461-3.2-lf-allowed-erratum-6253"),
    pytest.param(POLICY.rstrip("\r\n"), ("enforce", 86400, "CRLF"), [], id="RFC8461-3.2-final-term-optional"),
    pytest.param(POLICY.replace("mode: enforce\r\n", "mode: enforce\r"), (None, 86400, "CRLF"),
                 [("sts_policy_bare_cr", 2, 1), ("sts_policy_missing", None, None)], id="RFC8461-3.2-bare-cr"),
    pytest.param(POLICY.replace("STSv1", "STSv2"), ("enforce", 86400, "CRLF"), [("sts_policy_version", 1, 0)],
                 id="RFC8461-3.2-version"),
    pytest.param(POLICY.replace("enforce", "ENFORCE"), (None, 86400, "CRLF"),
                 [("sts_policy_mode", 2, 1)], id="RFC8461-3.2-mode-case-sensitive"),
    pytest.param(POLICY.replace("86400", "31557600"), ("enforce", 31557600, "CRLF"), [], id="RFC8461-3.2-max-age-max"),
    pytest.param(POLICY.replace("86400", "31557601"), ("enforce", None, "CRLF"),
                 [("sts_policy_max_age", 5, 4)], id="RFC8461-3.2-max-age-over"),
    pytest.param(POLICY.replace("86400", "-1"), ("enforce", None, "CRLF"),
                 [("sts_policy_max_age", 5, 4)], id="RFC8461-3.2-max-age-digits"),
    pytest.param(POLICY.replace("mode: enforce", "mode: testing\r\nmode: enforce"), ("testing", 86400, "CRLF"),
                 [("sts_policy_duplicate", 3, 2)], id="RFC8461-3.2-first-mode-counts"),
    pytest.param("version: STSv1\nmode: testing\nmax_age: 60\n", ("testing", 60, "LF"), [("sts_policy_no_mx", None, None)],
                 id="RFC8461-3.2-mx-required"),
    pytest.param("version: STSv1\nmode: none\nmax_age: 60\n", ("none", 60, "LF"), [], id="RFC8461-3.2-none-without-mx"),
    pytest.param(POLICY.replace("mx: mail.example.com", "mx: mail_example.com"), ("enforce", 86400, "CRLF"),
                 [("sts_policy_mx", 3, 2)], id="RFC8461-3.2-mx-pattern"),
    pytest.param(POLICY + "x-extra: anything goes\r\n", ("enforce", 86400, "CRLF"), [], id="RFC8461-3.2-extension"),
    pytest.param(POLICY + "no colon here\r\n", ("enforce", 86400, "CRLF"), [("sts_policy_line", 6, 5)],
                 id="RFC8461-3.2-key-value-lines"),
]


@pytest.mark.parametrize("body, fields, expected", STS_POLICIES)
def test_mta_sts_policy(body, fields, expected):
    policy = mta_sts.parse_policy(body)
    assert (policy.mode, policy.max_age, policy.line_endings) == fields
    assert codes(policy.issues) == expected


@pytest.mark.parametrize("pattern, host, expected", [
    pytest.param("mail.example.com", "MAIL.example.com.", True, id="RFC8461-4.1-exact"),
    pytest.param("*.example.com", "mx1.example.com", True, id="RFC8461-4.1-wildcard"),
    pytest.param("*.example.com", "example.com", False, id="RFC8461-4.1-wildcard-needs-a-label"),
    pytest.param("*.example.com", "a.b.example.com", False, id="RFC8461-4.1-wildcard-one-label-only"),
])
def test_mta_sts_mx_patterns(pattern, host, expected):
    assert mta_sts.mx_matches(pattern, host) is expected


@pytest.mark.parametrize("content_type, expected", [
    pytest.param("text/plain", True, id="RFC8461-3.2-text-plain"),
    pytest.param("Text/Plain; charset=utf-8", True, id="RFC8461-3.2-parameters-ignored"),
    pytest.param("text/html", False, id="RFC8461-3.2-not-html"),
    pytest.param(None, False, id="RFC8461-3.2-no-media-type"),
])
def test_mta_sts_media_type(content_type, expected):
    assert mta_sts.is_text_plain(content_type) is expected


# -- TLS-RPT (RFC 8460) -----------------------------------------------------------------------------

TLS_RPT = [
    pytest.param("v=TLSRPTv1; rua=mailto:tls@example.com", ["mailto:tls@example.com"], [], id="RFC8460-3-mailto"),
    pytest.param("v=TLSRPTv1;rua=mailto:a@example.com, https://r.example.com/tlsrpt;",
                 ["mailto:a@example.com", "https://r.example.com/tlsrpt"], [], id="RFC8460-3-list"),
    pytest.param("v=TLSRPTv1; rua=tls@example.com", [], [("tlsrpt_bad_uri", 11, 1)], id="RFC8460-3-uri"),
    pytest.param("v=TLSRPTv1; rua=http://r.example.com/", [], [("tlsrpt_uri_scheme", 11, 1)], id="RFC8460-3-schemes"),
    pytest.param("v=TLSRPTv1; ext=1", [], [("tlsrpt_no_rua", None, None)], id="RFC8460-3-rua-required"),
    pytest.param("v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com", ["mailto:a@example.com"],
                 [("tlsrpt_duplicate_rua", 37, 2)], id="RFC8460-3-one-rua"),
    pytest.param("v=TLSRPTv2; rua=mailto:a@example.com", [], [("tlsrpt_version", 0, 0)], id="RFC8460-3-version"),
]


@pytest.mark.parametrize("record, rua, expected", TLS_RPT)
def test_tls_rpt_record(record, rua, expected):
    parsed = tls_rpt.parse(record)
    assert parsed.rua == rua and codes(parsed.issues) == expected


# -- DKIM keys (RFC 6376, RFC 8301, RFC 8463) -------------------------------------------------------

ED25519 = base64.b64encode(bytes(range(32))).decode()

DKIM_KEYS = [
    pytest.param(f"v=DKIM1; k=ed25519; p={ED25519}", ("ed25519", 256, False), [], id="RFC8463-4.2-ed25519"),
    pytest.param(f"k=ed25519; p={ED25519[:-4]}", ("ed25519", None, False), [("dkim_key_data", 11, 1)],
                 id="RFC8463-4.2-ed25519-32-octets"),
    pytest.param("v=DKIM1; p=", ("rsa", None, True), [], id="RFC6376-3.6.1-empty-p-revoked"),
    pytest.param("v=DKIM1; k=dsa; p=AAAA", ("dsa", None, False), [("dkim_key_type", 9, 1)], id="RFC6376-3.6.1-key-type"),
    pytest.param("v=DKIM1; k=rsa", ("rsa", None, False), [("dkim_no_key", None, None)], id="RFC6376-3.6.1-p-required"),
    pytest.param("v=DKIM1; p=!!!!", ("rsa", None, False), [("dkim_key_encoding", 9, 1)], id="RFC6376-3.6.1-base64"),
    pytest.param("p=AAAA; v=DKIM1", ("rsa", None, False), [("dkim_version", 8, 1), ("dkim_key_data", 0, 0)],
                 id="RFC6376-3.6.1-v-first"),
    pytest.param("v=DKIM1; p=AAAA; p=BBBB", ("rsa", None, False), [("dkim_duplicate_tag", 9, 1)],
                 id="RFC6376-3.2-duplicate-tag-invalidates"),
]


@pytest.mark.parametrize("record, fields, expected", DKIM_KEYS)
def test_dkim_key(record, fields, expected):
    key = dkim.parse_key(record)
    assert (key.key_type, key.bits, key.revoked) == fields and codes(key.issues) == expected


def test_dkim_key_folding_hashes_and_flags():
    folded = dkim.parse_key(f"v=DKIM1; k=ed25519;\r\n\tp={ED25519[:20]}\r\n {ED25519[20:]}; t=y:s; s=email; h=sha256")
    assert folded.bits == 256 and folded.testing and folded.email and dkim.usable_hash(folded)
    sha1 = dkim.parse_key(f"k=ed25519; h=sha1; p={ED25519}")
    assert not dkim.usable_hash(sha1)  # RFC 8301 §3.1
    assert not dkim.parse_key(f"k=ed25519; s=other; p={ED25519}").email


# -- shared pieces ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    pytest.param("mailto:dmarc@example.com", True, id="RFC3986-3-mailto"),
    pytest.param("https://r.example.com/a?b=c#d", True, id="RFC3986-3-https"),
    pytest.param("dmarc@example.com", False, id="RFC3986-3-needs-scheme"),
    pytest.param("mailto:a b@example.com", False, id="RFC3986-2-no-space"),
    pytest.param("mailto:a%2x@example.com", False, id="RFC3986-2.1-percent-escape"),
])
def test_uri_syntax(text, expected):
    assert is_uri(text) is expected


def test_uri_host_and_tag_lists():
    assert uri_host("mailto:DMARC@Example.COM") == "example.com"
    assert uri_host("https://user@r.example.com:8443/x") == "r.example.com"
    assert uri_host("mailto:nobody") is None and uri_host("ftp://x.example/") is None
    tags, issues = split_tags(" a=1 ;b = 2;;c;")
    assert [(t.name, t.value, t.at, t.index) for t in tags] == [("a", "1", 1, 0), ("b", "2", 6, 1)]
    assert codes(issues) == [("tag_syntax", 13, 3)]
