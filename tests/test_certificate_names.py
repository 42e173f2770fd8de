"""RFC 6125 / RFC 9525 name matching: a table of hosts and subjectAltName entries."""

from __future__ import annotations

import pytest

from scanner.probes.certificate.names import match_hostname, normalise_host, wildcard_base

# (host, dNSName SANs, iPAddress SANs, expected match, why)
CASES = [
    ("www.example.test", ["www.example.test"], [], True, "exact"),
    ("WWW.Example.TEST", ["www.example.test"], [], True, "case-insensitive host"),
    ("www.example.test", ["WWW.EXAMPLE.TEST"], [], True, "case-insensitive SAN"),
    ("www.example.test.", ["www.example.test"], [], True, "trailing dot on the host"),
    ("www.example.test", ["www.example.test."], [], True, "trailing dot on the SAN"),
    ("www.example.test", ["example.test"], [], False, "parent name does not cover a child"),
    ("example.test", ["www.example.test"], [], False, "child name does not cover the parent"),
    ("www.example.test", ["www.example.test.evil.test"], [], False, "suffix is not a match"),
    ("wwwexample.test", ["www.example.test"], [], False, "no partial matching"),
    # wildcards
    ("www.example.test", ["*.example.test"], [], True, "wildcard covers one label"),
    ("a.b.example.test", ["*.example.test"], [], False, "wildcard covers exactly one label"),
    ("example.test", ["*.example.test"], [], False, "wildcard does not cover the bare domain"),
    (".example.test", ["*.example.test"], [], False, "empty label is no host"),
    ("www.example.test", ["*.test"], [], False, "no wildcard directly under a single-label suffix"),
    ("example.test", ["*.test"], [], False, "no wildcard on a TLD, bare"),
    ("foo.test", ["*.test"], [], False, "no wildcard on a TLD"),
    ("www.example.test", ["w*.example.test"], [], False, "partial wildcard refused"),
    ("www.example.test", ["*w.example.test"], [], False, "partial wildcard refused (suffix)"),
    ("www.example.test", ["ww*w.example.test"], [], False, "embedded wildcard refused"),
    ("www.sub.example.test", ["www.*.example.test"], [], False, "wildcard only in the left-most label"),
    ("www.example.test", ["*.*.test"], [], False, "two wildcards refused"),
    ("www.example.test", ["*"], [], False, "lone star refused"),
    ("xn--caf-dma.example.test", ["*.example.test"], [], True, "wildcard covers an A-label host"),
    ("xn--caf-dma.example.test", ["xn--*.example.test"], [], False, "no wildcard inside an A-label"),
    ("www.example.test", ["*.EXAMPLE.test."], [], True, "wildcard, case and trailing dot"),
    ("www.example.test.", ["*.example.test"], [], True, "wildcard with host trailing dot"),
    # IDN
    ("café.example.test", ["xn--caf-dma.example.test"], [], True, "U-label host matches its A-label SAN"),
    ("CAFÉ.example.test", ["xn--caf-dma.example.test"], [], True, "U-label host, mapped to lower case (UTS #46)"),
    ("xn--caf-dma.example.test", ["xn--caf-dma.example.test"], [], True, "A-label host"),
    ("café.example.test", ["café.example.test"], [], False, "a U-label in a SAN is misissued and never matches"),
    ("cafe.example.test", ["xn--caf-dma.example.test"], [], False, "the ASCII look-alike is another name"),
    ("bücherei.example.test", ["*.example.test"], [], True, "wildcard covers a U-label host"),
    # IP addresses
    ("192.0.2.10", [], ["192.0.2.10"], True, "IPv4 iPAddress SAN"),
    ("192.0.2.10", ["192.0.2.10"], [], False, "an IP written as dNSName never matches"),
    ("192.0.2.10", [], ["192.0.2.11"], False, "other IPv4"),
    ("2001:db8::1", [], ["2001:db8:0:0:0:0:0:1"], True, "IPv6 compared as addresses"),
    ("[2001:db8::1]", [], ["2001:db8::1"], True, "bracketed IPv6 host"),
    ("2001:db8::1", [], ["2001:db8::2"], False, "other IPv6"),
    ("192.0.2.10", ["*.0.2.10"], [], False, "wildcards never cover an IP address"),
    ("www.example.test", [], ["192.0.2.10"], False, "an IP SAN does not name a DNS host"),
    # the common name is never consulted, and absence of SAN is a mismatch
    ("www.example.test", [], [], False, "no subjectAltName at all"),
    # malformed hosts
    ("", ["www.example.test"], [], False, "empty host"),
    ("www..example.test", ["www..example.test"], [], False, "empty label in the host"),
    ("-bad.example.test", ["-bad.example.test"], [], False, "label starting with a hyphen"),
    ("a" * 64 + ".example.test", ["a" * 64 + ".example.test"], [], False, "label longer than 63 octets"),
]


@pytest.mark.parametrize(("host", "dns", "ips", "expected", "why"), CASES, ids=[c[4] for c in CASES])
def test_match_hostname(host, dns, ips, expected, why):
    result = match_hostname(host, dns, ips)
    assert result.match is expected, f"{why}: {result.reason}"
    if expected:
        assert result.matched_by in dns + ips
    else:
        assert result.matched_by is None and result.reason


def test_reasons_explain_the_mismatch():
    assert "common name" in match_hostname("www.example.test", [], []).reason
    assert "dNSName" in match_hostname("192.0.2.1", ["192.0.2.1"], []).reason
    assert "w*.example.test" in match_hostname("www.example.test", ["w*.example.test"], []).reason


def test_many_names_are_matched_quickly_and_in_full():
    names = [f"naam-{n}.example.test" for n in range(5000)] + ["www.example.test"]
    assert match_hostname("www.example.test", names).match


def test_wildcard_base_and_normalise():
    assert wildcard_base("*.example.test") == "example.test"
    assert wildcard_base("*.test") is None
    assert wildcard_base("www.example.test") is None
    assert normalise_host("Café.Example.TEST.")[0] == "xn--caf-dma.example.test"
    assert str(normalise_host("[::1]")[1]) == "::1"
