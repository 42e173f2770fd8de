"""RFC 6125 / RFC 9525 name matching: a table of hosts and subjectAltName entries."""

from __future__ import annotations

import pytest

from scanner.probes.certificate.names import match_hostname, normalise_host, wildcard_base

# (host, dNSName SANs, iPAddress SANs, expected match, why)
CASES = [
    ("www.example.be", ["www.example.be"], [], True, "exact"),
    ("WWW.Example.BE", ["www.example.be"], [], True, "case-insensitive host"),
    ("www.example.be", ["WWW.EXAMPLE.BE"], [], True, "case-insensitive SAN"),
    ("www.example.be.", ["www.example.be"], [], True, "trailing dot on the host"),
    ("www.example.be", ["www.example.be."], [], True, "trailing dot on the SAN"),
    ("www.example.be", ["example.be"], [], False, "parent name does not cover a child"),
    ("example.be", ["www.example.be"], [], False, "child name does not cover the parent"),
    ("www.example.be", ["www.example.be.evil.test"], [], False, "suffix is not a match"),
    ("wwwexample.be", ["www.example.be"], [], False, "no partial matching"),
    # wildcards
    ("www.example.be", ["*.example.be"], [], True, "wildcard covers one label"),
    ("a.b.example.be", ["*.example.be"], [], False, "wildcard covers exactly one label"),
    ("example.be", ["*.example.be"], [], False, "wildcard does not cover the bare domain"),
    (".example.be", ["*.example.be"], [], False, "empty label is no host"),
    ("www.example.be", ["*.be"], [], False, "no wildcard directly under a single-label suffix"),
    ("example.be", ["*.be"], [], False, "no wildcard on a TLD, bare"),
    ("foo.test", ["*.test"], [], False, "no wildcard on a TLD"),
    ("www.example.be", ["w*.example.be"], [], False, "partial wildcard refused"),
    ("www.example.be", ["*w.example.be"], [], False, "partial wildcard refused (suffix)"),
    ("www.example.be", ["ww*w.example.be"], [], False, "embedded wildcard refused"),
    ("www.sub.example.be", ["www.*.example.be"], [], False, "wildcard only in the left-most label"),
    ("www.example.be", ["*.*.be"], [], False, "two wildcards refused"),
    ("www.example.be", ["*"], [], False, "lone star refused"),
    ("xn--caf-dma.example.be", ["*.example.be"], [], True, "wildcard covers an A-label host"),
    ("xn--caf-dma.example.be", ["xn--*.example.be"], [], False, "no wildcard inside an A-label"),
    ("www.example.be", ["*.EXAMPLE.be."], [], True, "wildcard, case and trailing dot"),
    ("www.example.be.", ["*.example.be"], [], True, "wildcard with host trailing dot"),
    # IDN
    ("café.example.be", ["xn--caf-dma.example.be"], [], True, "U-label host matches its A-label SAN"),
    ("CAFÉ.example.be", ["xn--caf-dma.example.be"], [], True, "U-label host, mapped to lower case (UTS #46)"),
    ("xn--caf-dma.example.be", ["xn--caf-dma.example.be"], [], True, "A-label host"),
    ("café.example.be", ["café.example.be"], [], False, "a U-label in a SAN is misissued and never matches"),
    ("cafe.example.be", ["xn--caf-dma.example.be"], [], False, "the ASCII look-alike is another name"),
    ("bücherei.example.be", ["*.example.be"], [], True, "wildcard covers a U-label host"),
    # IP addresses
    ("192.0.2.10", [], ["192.0.2.10"], True, "IPv4 iPAddress SAN"),
    ("192.0.2.10", ["192.0.2.10"], [], False, "an IP written as dNSName never matches"),
    ("192.0.2.10", [], ["192.0.2.11"], False, "other IPv4"),
    ("2001:db8::1", [], ["2001:db8:0:0:0:0:0:1"], True, "IPv6 compared as addresses"),
    ("[2001:db8::1]", [], ["2001:db8::1"], True, "bracketed IPv6 host"),
    ("2001:db8::1", [], ["2001:db8::2"], False, "other IPv6"),
    ("192.0.2.10", ["*.0.2.10"], [], False, "wildcards never cover an IP address"),
    ("www.example.be", [], ["192.0.2.10"], False, "an IP SAN does not name a DNS host"),
    # the common name is never consulted, and absence of SAN is a mismatch
    ("www.example.be", [], [], False, "no subjectAltName at all"),
    # malformed hosts
    ("", ["www.example.be"], [], False, "empty host"),
    ("www..example.be", ["www..example.be"], [], False, "empty label in the host"),
    ("-bad.example.be", ["-bad.example.be"], [], False, "label starting with a hyphen"),
    ("a" * 64 + ".example.be", ["a" * 64 + ".example.be"], [], False, "label longer than 63 octets"),
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
    assert "common name" in match_hostname("www.example.be", [], []).reason
    assert "dNSName" in match_hostname("192.0.2.1", ["192.0.2.1"], []).reason
    assert "w*.example.be" in match_hostname("www.example.be", ["w*.example.be"], []).reason


def test_many_names_are_matched_quickly_and_in_full():
    names = [f"naam-{n}.example.be" for n in range(5000)] + ["www.example.be"]
    assert match_hostname("www.example.be", names).match


def test_wildcard_base_and_normalise():
    assert wildcard_base("*.example.be") == "example.be"
    assert wildcard_base("*.be") is None
    assert wildcard_base("www.example.be") is None
    assert normalise_host("Café.Example.BE.")[0] == "xn--caf-dma.example.be"
    assert str(normalise_host("[::1]")[1]) == "::1"
