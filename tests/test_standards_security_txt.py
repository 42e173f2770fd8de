"""security.txt (RFC 9116, scanner/standards/security_txt.py), BCP 47 tags and URI syntax, case by case."""

from __future__ import annotations

import pytest

from scanner.standards import language_tags, security_txt, uri

BODY = "Contact: mailto:security@example.test\nExpires: 2030-01-01T00:00:00Z\n"
HEAD = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n"
SIGNATURE = "-----BEGIN PGP SIGNATURE-----\n\niHUEARYKAB0WIQT\n=abcd\n-----END PGP SIGNATURE-----\n"


def issues(text: str) -> list[tuple[int, str]]:
    return [(i.line, i.code) for i in security_txt.parse(text).issues]


@pytest.mark.parametrize("text, signed, framing", [
    pytest.param(HEAD + BODY + SIGNATURE, True, [], id="RFC4880-7-one-cleartext-signed-message"),
    pytest.param(HEAD + BODY, False, [(5, "signature_missing")], id="RFC4880-7-missing-signature-block"),
    pytest.param(HEAD + BODY + SIGNATURE + SIGNATURE, False, [(11, "signature_repeated")],
                 id="RFC4880-7-doubled-signature-block"),
    pytest.param(HEAD + BODY + HEAD + BODY + SIGNATURE, False, [(6, "signature_repeated")],
                 id="RFC4880-7-doubled-signed-message"),
    pytest.param(HEAD + BODY + SIGNATURE.replace("-----END PGP SIGNATURE-----\n", ""), False,
                 [(9, "signature_unterminated")], id="RFC4880-7-unterminated-signature"),
    pytest.param(HEAD + BODY + "-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n", False,
                 [(6, "signature_empty")], id="RFC4880-7-empty-signature"),
    pytest.param("-----BEGIN PGP SIGNED MESSAGE-----\n" + BODY + SIGNATURE, False, [(2, "armor_header")],
                 id="RFC4880-7-no-empty-line-after-armor-headers"),
    pytest.param(HEAD + BODY + SIGNATURE + "Contact: https://elders.test/\n", False, [(11, "after_signature")],
                 id="RFC9116-4-text-after-the-signature"),
    pytest.param("# vooraf\n" + HEAD + BODY + SIGNATURE, False, [(2, "outside_frame"), (7, "outside_frame"),
                                                                (11, "outside_frame")],
                 id="RFC9116-4-armour-not-at-the-start"),
    pytest.param(BODY, False, [], id="RFC9116-2.3-unsigned"),
])
def test_signature_framing(text, signed, framing):
    parsed = security_txt.parse(text)
    assert parsed.signed is signed
    assert [(i.line, i.code) for i in parsed.framing] == framing
    assert parsed.fields["contact"][0] == "mailto:security@example.test"


@pytest.mark.parametrize("text, found", [
    pytest.param(BODY.rstrip("\n"), [(2, "no_final_newline")], id="RFC9116-4-final-newline"),
    pytest.param(BODY.replace("\n", "\r\n"), [], id="RFC9116-4-crlf-line-endings"),
    pytest.param(BODY + "Policy: http://example.test/beleid\n", [(3, "not_https")], id="RFC9116-2.5.7-policy-https"),
    pytest.param(BODY + "Encryption: http://example.test/key.asc\n", [(3, "not_https")],
                 id="RFC9116-2.5.4-encryption-https"),
    pytest.param(BODY + "Acknowledgments: https://example.test/dank\nHiring: https://example.test/jobs\n", [],
                 id="RFC9116-2.5.1-https-uris-pass"),
    pytest.param(BODY + "Canonical: /.well-known/security.txt\n", [(3, "not_uri")], id="RFC9116-2.5.2-canonical-uri"),
    pytest.param(BODY + "Preferred-Languages: nl-BE, en, fr\n", [], id="RFC9116-2.5.8-bcp47-tags"),
    pytest.param(BODY + "Preferred-Languages: nl_BE, en\n", [(3, "bad_language")], id="RFC9116-2.5.8-not-a-tag"),
    pytest.param(BODY + "Preferred-Languages: nl\nPreferred-Languages: en\n", [(4, "repeated")],
                 id="RFC9116-2.5.8-once"),
    pytest.param(BODY + "Expires: 2031-01-01T00:00:00Z\n", [(3, "repeated")], id="RFC9116-2.5.5-expires-once"),
    pytest.param("Contact: mailto:a@b.test\nExpires: 1 januari 2030\n", [(2, "bad_date")],
                 id="RFC9116-2.5.5-rfc3339-date"),
    pytest.param(BODY + "Contact:mailto:b@example.test\n", [(3, "no_space")], id="RFC9116-4-space-after-colon"),
    pytest.param(BODY + "dit is geen veld\n  Contact: mailto:x@y.test\n", [(3, "invalid_line"), (4, "invalid_line")],
                 id="RFC9116-4-neither-field-nor-comment"),
    pytest.param(BODY + "# commentaar\n\nX-Eigen-Veld: vrij\n", [], id="RFC9116-2.4-comments-and-extension-fields"),
    pytest.param(HEAD + BODY + "-niet ontsnapt\n" + SIGNATURE, [(6, "dash_escape"), (6, "invalid_line")],
                 id="RFC4880-7.1-dash-escape"),
])
def test_syntax(text, found):
    assert issues(text) == found


def test_field_names_are_case_insensitive_and_values_capped():
    parsed = security_txt.parse("Contact: x:1\nCONTACT: x:2\n" + "contact: x:3\n" * 20)
    assert parsed.fields["contact"][:2] == ["x:1", "x:2"] and len(parsed.fields["contact"]) == security_txt.VALUES_CAP


def test_a_long_line_is_read_in_linear_time():
    """No backtracking: the old FIELD regex needed quadratic time on a value of spaces (bench: security_txt)."""
    text = "Contact:" + " " * 32_000 + "x\n"
    assert security_txt.parse(text).fields["contact"] == ["x"]


@pytest.mark.parametrize("content_type, ok", [
    pytest.param("text/plain; charset=utf-8", True, id="RFC9116-3-utf-8"),
    pytest.param('text/plain; charset="UTF-8"', True, id="RFC9116-3-quoted-charset"),
    pytest.param("text/plain; charset=csUTF8", True, id="IANA-charsets-csutf8-alias"),
    pytest.param("text/plain; charset=iso-8859-1", False, id="RFC9116-3-other-charset"),
    pytest.param("text/plain", None, id="RFC9116-3-no-charset"),
])
def test_charset(content_type, ok):
    assert security_txt.charset_ok(content_type) is ok


@pytest.mark.parametrize("tag, ok", [
    pytest.param("nl", True, id="RFC5646-2.1-language"),
    pytest.param("nl-BE", True, id="RFC5646-2.1-region"),
    pytest.param("sr-Latn-RS", True, id="RFC5646-2.1-script"),
    pytest.param("zh-cmn-Hans-CN", True, id="RFC5646-2.1-extlang"),
    pytest.param("es-419", True, id="RFC5646-2.1-numeric-region"),
    pytest.param("de-CH-1901", True, id="RFC5646-2.1-variant"),
    pytest.param("en-US-u-ca-gregory", True, id="RFC5646-2.1-extension"),
    pytest.param("x-klingon", True, id="RFC5646-2.1-privateuse"),
    pytest.param("i-klingon", True, id="RFC5646-2.1-grandfathered"),
    pytest.param("nl_BE", False, id="RFC5646-2.1-underscore"),
    pytest.param("nl-", False, id="RFC5646-2.1-empty-subtag"),
    pytest.param("en-a", False, id="RFC5646-2.1-extension-needs-subtag"),
    pytest.param("en-a-bbb-a-ccc", False, id="RFC5646-2.2.6-singleton-once"),
    pytest.param("123", False, id="RFC5646-2.1-language-is-alpha"),
])
def test_language_tags(tag, ok):
    assert language_tags.well_formed(tag) is ok


@pytest.mark.parametrize("text, problem", [
    pytest.param("https://example.test/x?y#z", None, id="RFC3986-3-uri"),
    pytest.param("mailto:a@example.test", None, id="RFC3986-3-mailto"),
    pytest.param("https://[2001:db8::1]:8443/", None, id="RFC3986-3.2.2-ip-literal"),
    pytest.param("/relative", (0, "no_scheme"), id="RFC3986-3.1-scheme-required"),
    pytest.param("https://aalst.test/a b", (20, "character"), id="RFC3986-2-space"),
    pytest.param("https://aalst.test/%zz", (19, "percent"), id="RFC3986-2.1-pct-encoded"),
    pytest.param("https:/pad", (6, "no_host"), id="RFC9110-4.2-web-uri-needs-host"),
])
def test_uri(text, problem):
    assert uri.problem(text) == problem
