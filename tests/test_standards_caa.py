"""CAA records (RFC 8659, RFC 8657, CA/B Forum BR appendix A) read as a CA reads them: scanner/standards/caa.py."""

from __future__ import annotations

import pytest

from scanner.standards import caa


def problems(flags: int, tag: str, value: str) -> list[tuple[str, int, str]]:
    return [(p.code, p.position, p.detail) for p in caa.parse(flags, tag, value).problems]


@pytest.mark.parametrize("flags, tag, value, found", [
    pytest.param(0, "issue", "ca.example", [], id="RFC8659-4.2-issuer"),
    pytest.param(128, "issue", "ca.example", [], id="RFC8659-4.1-critical-flag"),
    pytest.param(1, "issue", "ca.example", [("reserved_flags", 0, "1")], id="RFC8659-4.1-reserved-flag-bit"),
    pytest.param(129, "issue", "ca.example", [("reserved_flags", 0, "129")], id="RFC8659-4.1-critical-plus-reserved"),
    pytest.param(0, "issue", ";", [], id="RFC8659-4.2-empty-issuer"),
    pytest.param(0, "issue", "  ca.example ; account=1 ;  policy=ev  ", [], id="RFC8659-4.2-whitespace"),
    pytest.param(0, "issue", "ca.example; account", [("bad_issuer", 19, "expected =")],
                 id="RFC8659-4.2-parameter-without-value"),
    pytest.param(0, "issue", "ca.example; a=1;", [("bad_issuer", 16, "trailing ;")], id="RFC8659-4.2-trailing-semicolon"),
    pytest.param(0, "issue", "-ca.example", [("bad_issuer", 0, "label")], id="RFC8659-4.2-label-hyphen"),
    pytest.param(0, "issue", "ca_example", [("bad_issuer", 2, "expected ;")], id="RFC8659-4.2-ldh-label"),
    pytest.param(0, "issue", "ca.example; p=a b", [("bad_issuer", 16, "expected ;")], id="RFC8659-4.2-value-no-space"),
    pytest.param(0, "issuemail", "ca.example; p=x", [], id="RFC9495-3-issuemail-grammar"),
    pytest.param(0, "issue", "ca.example; accounturi=https://acme.ca.example/acct/1", [],
                 id="RFC8657-3-accounturi"),
    pytest.param(0, "issue", "ca.example; accounturi=acct-1", [("bad_accounturi", 12, "no_scheme")],
                 id="RFC8657-3-accounturi-not-a-uri"),
    pytest.param(0, "issue", "ca.example; validationmethods=dns-01,http-01,tls-alpn-01", [],
                 id="RFC8657-4-acme-methods"),
    pytest.param(0, "issuewild", "ca.example; validationmethods=ca-eigen", [], id="RFC8657-4.2-ca-prefixed-method"),
    pytest.param(0, "issue", "ca.example; validationmethods=dns-02", [("unknown_validationmethod", 12, "dns-02")],
                 id="RFC8657-4-unknown-method"),
    pytest.param(0, "issue", "ca.example; validationmethods=dns-01,,http-01", [("bad_validationmethods", 12, "")],
                 id="RFC8657-4-method-list-grammar"),
    pytest.param(0, "iodef", "mailto:security@example.test", [], id="RFC8659-4.4-iodef-mailto"),
    pytest.param(0, "iodef", "https://report.example.test/caa", [], id="RFC8659-4.4-iodef-https"),
    pytest.param(0, "iodef", "ftp://report.example.test/", [("bad_iodef", 0, "scheme")], id="RFC8659-4.4-iodef-scheme"),
    pytest.param(0, "iodef", "mailto:", [("bad_iodef", 7, "address")], id="RFC8659-4.4-iodef-mailto-address"),
    pytest.param(0, "iodef", "https:///pad", [("bad_iodef", 6, "no_host")], id="RFC8659-4.4-iodef-host"),
    pytest.param(0, "contactemail", "hostmaster@example.test", [], id="CABF-BR-A.1.1-contactemail"),
    pytest.param(0, "contactemail", "Hostmaster <hostmaster@example.test>", [("bad_contactemail", 0, "")],
                 id="CABF-BR-A.1.1-contactemail-one-address"),
    pytest.param(0, "contactphone", "+32-2-553-00-00", [], id="CABF-BR-A.1.2-contactphone-global-number"),
    pytest.param(0, "contactphone", "02 553 00 00", [("bad_contactphone", 0, "")], id="RFC3966-5.1.4-global-number"),
    pytest.param(0, "tbs", "x", [], id="RFC8659-4.1-unknown-tag-not-critical"),
    pytest.param(128, "tbs", "x", [("unknown_critical", 0, "")], id="RFC8659-4.1-unknown-critical"),
    pytest.param(0, "policy", "x", [("reserved_tag", 0, "")], id="RFC8659-7.2-reserved-tag"),
    pytest.param(0, "is-sue", "x", [("bad_tag", 0, "")], id="RFC8659-4.1.1-tag-grammar"),
])
def test_records(flags, tag, value, found):
    assert problems(flags, tag, value) == found


def test_a_malformed_issue_value_names_no_ca():
    assert caa.parse(0, "issue", "Ca.Example; account=1").issuer == "ca.example"
    assert caa.parse(0, "issue", "ca.example; account").issuer == ""  # RFC 8659 §4.2: as if empty
    assert caa.parse(0, "issue", "ca.example; a=1; b=2").params == {"a": "1", "b": "2"}
