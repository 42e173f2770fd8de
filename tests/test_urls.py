"""The one URL parser for URLs from the network (scanner/standards/urls.py): what it refuses,
how it normalises, and properties that must hold for any input (Hypothesis, with a fixed
seed and a bounded number of examples, so CI runs the same cases every time)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.standards.urls import (
    DEFAULT_PORTS,
    MAX_LENGTH,
    REASONS,
    Url,
    UrlError,
    browser_scheme,
    parse,
)

FUZZ = settings(derandomize=True, max_examples=250, deadline=None)
BASE = parse("https://www.gent.test/a/b?q=1")


@pytest.mark.parametrize("text, code, scheme", [
    ("https://user:password@www.gent.test/", "userinfo", "https"),
    ("https://@www.gent.test/", "userinfo", "https"),
    ("https:\\\\www.gent.test\\", "backslash", "https"),
    ("http://www.gent.test\\@evil.test/", "backslash", "http"),  # WHATWG: host www.gent.test; RFC 3986: evil.test
    ("/\\evil.test/", "backslash", "https"),  # browsers: //evil.test/, a network-path reference
    ("ht\ttps://www.gent.test/", "control", "https"),  # browsers drop the tab
    ("https://www.gent.test/\nSet-Cookie: x", "control", "https"),
    ("https:www.gent.test", "no_host", "https"),  # browsers add the slashes
    ("https:/www.gent.test/", "no_host", "https"),
    ("https:///x", "no_host", "https"),
    ("https://0x7f.1/", "ambiguous_ipv4", "https"),  # browsers: 127.0.0.1
    ("https://2130706433/", "ambiguous_ipv4", "https"),
    ("https://0177.0.0.1/", "ambiguous_ipv4", "https"),
    ("https://1.2.3/", "ambiguous_ipv4", "https"),
    ("https://www.gent.test%2eevil.test/", "bad_host", "https"),  # browsers decode the %2e
    ("https://a..b.test/", "bad_host", "https"),
    ("https://[fe80::1%25eth0]/", "bad_host", "https"),
    ("https://[::1/", "bad_host", "https"),
    ("https://xn--zz.test/", "bad_host", "https"),
    ("https://www.gent.test:99999/", "bad_port", "https"),
    ("https://www.gent.test:0/", "bad_port", "https"),
    ("https://www.gent.test:８０/", "bad_port", "https"),  # full-width digits
    ("https://www.gent.test/%zz", "bad_percent", "https"),
    ("1http://x.test/", "bad_scheme", "https"),
    ("x" * (MAX_LENGTH + 1), "too_long", None),
])
def test_what_clients_read_differently_is_refused(text, code, scheme):
    with pytest.raises(UrlError) as caught:
        parse(text, BASE if not text.startswith("x") else None)
    assert caught.value.code == code and str(caught.value) == REASONS[code]
    assert caught.value.scheme == scheme  # the scheme a browser would use, for mixed-content judgement


@pytest.mark.parametrize("text, expected", [
    ("HTTPS://WWW.Gent.TEST:443/", "https://www.gent.test/"),
    ("https://www.gent.test", "https://www.gent.test/"),
    ("https://www.gent.test:/x", "https://www.gent.test/x"),
    ("http://www.gent.test:8080/a b", "http://www.gent.test:8080/a%20b"),
    ("https://bücher.gent.test/ä?ö#ü", "https://xn--bcher-kva.gent.test/%C3%A4?%C3%B6#%C3%BC"),
    ("https://www.gent.test/a/./b/../c/%2e%2E/d", "https://www.gent.test/a/d"),
    ("https://[::FFFF:a9fe:a9fe]:8443/", "https://[::ffff:169.254.169.254]:8443/"),  # RFC 5952 §5
    ("https://127.0.0.1/", "https://127.0.0.1/"),
    ("  https://www.gent.test/x  ", "https://www.gent.test/x"),
    ("//cdn.gent.test/app.js", "https://cdn.gent.test/app.js"),
    ("/x?y", "https://www.gent.test/x?y"),
    ("c", "https://www.gent.test/a/c"),
    ("../../../c", "https://www.gent.test/c"),
    ("?z", "https://www.gent.test/a/b?z"),
    ("#f", "https://www.gent.test/a/b?q=1#f"),
    ("", "https://www.gent.test/a/b?q=1"),
    ("mailto:security@gent.test", "mailto:security@gent.test"),
    ("javascript:alert('\\\\')", "javascript:alert('\\\\')"),
])
def test_what_both_readings_agree_on_is_normalised(text, expected):
    assert str(parse(text, BASE)) == expected


def test_a_relative_reference_needs_a_base():
    with pytest.raises(UrlError, match="relative"):
        parse("/x")
    with pytest.raises(UrlError, match="relative"):
        parse("/x", "mailto:a@b.test")
    assert parse("/x", "https://www.gent.test/").origin == ("https", "www.gent.test", 443)


# -------------------------------------------------------------------- properties

URLISH = st.text(alphabet=st.sampled_from(list("htpsw:/\\@?#[]%.:0123456789abcdefxyz-_~+ \t\nÄß中")), max_size=40)
ANY_TEXT = st.text(max_size=80)
LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
SEGMENT = st.text(alphabet=st.sampled_from(list("abcXYZ019-._~!$&'()*+,;=:@% ßé")), max_size=8)


@st.composite
def url_like(draw) -> str:
    """Text shaped like a URL, with the parts attackers play with."""
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "ws", "ftp", "javascript", "", "1x"]))
    sep = draw(st.sampled_from(["://", ":", ":/", ":\\\\", "//", ""]))
    user = draw(st.sampled_from(["", "user@", "user:pw@", "@", "a%40b@"]))
    host = draw(st.one_of(URLISH, st.sampled_from(["www.gent.test", "127.0.0.1", "[::1]", "0x7f.1", "bücher.test",
                                                     "xn--bcher-kva.test", "a..b", "[fe80::1%25x]", ""])))
    port = draw(st.sampled_from(["", ":", ":443", ":80", ":65536", ":0", ":x"]))
    rest = draw(URLISH)
    return f"{scheme}{sep}{user}{host}{port}{rest}"


def _parsed(text: str, base=None) -> Url | None:
    try:
        return parse(text, base)
    except UrlError as exc:
        assert exc.code in REASONS  # never anything but UrlError, and always a known reason
        return None


@FUZZ
@given(st.one_of(ANY_TEXT, URLISH, url_like()), st.sampled_from([None, BASE, "https://[::1]:8443/x/"]))
def test_any_text_parses_or_is_refused_with_a_reason(text, base):
    _parsed(text, base)


@FUZZ
@given(st.one_of(URLISH, url_like()), st.sampled_from([None, BASE]))
def test_a_parsed_url_reads_back_the_same_and_every_reader_agrees(text, base):
    url = _parsed(text, base)
    if url is None or not url.hierarchical:
        return
    shown = str(url)
    assert parse(shown) == url  # normal form: reading it again changes nothing
    assert shown.isascii() and not any(c.isspace() or c in "\\\x7f" or ord(c) < 32 for c in shown)
    assert url.host and "@" not in url.authority
    assert url.port is None or 0 < url.port < 65536 and url.port != DEFAULT_PORTS[url.scheme]
    split = urlsplit(shown)  # the standard library reads the same host, port and scheme
    assert (split.scheme, split.hostname, split.port) == (url.scheme, url.host, url.port)
    if url.scheme in ("http", "https"):
        other = httpx.URL(shown)  # and so does the client that fetches it
        assert (other.scheme, other.host, other.port) == (url.scheme, url.host, url.port)
    assert browser_scheme(text, base) == url.scheme


@FUZZ
@given(st.sampled_from(["http", "https"]), st.lists(LABEL, min_size=1, max_size=4),
       st.one_of(st.none(), st.integers(1, 65535)), st.lists(SEGMENT, max_size=4))
def test_a_url_made_of_valid_parts_keeps_them(scheme, labels, port, segments):
    host = ".".join(labels) + ".test"
    path = "/" + "/".join(s.replace("%", "%25") for s in segments)
    url = parse(f"{scheme}://{host}{'' if port is None else f':{port}'}{path}")
    assert url.scheme == scheme and url.host == host and url.effective_port == (port or DEFAULT_PORTS[scheme])
    assert url.path.startswith("/")


RFC3986_SPLIT = re.compile(r"^(?:([^:/?#]+):)?(?://([^/?#]*))?")  # RFC 3986 Appendix B: scheme, authority


@FUZZ
@given(url_like())
def test_credentials_and_backslashes_are_never_accepted(text):
    url = _parsed(text, BASE)
    if url is not None and url.hierarchical:
        assert "\\" not in text
        authority = RFC3986_SPLIT.match(text.strip()).group(2)
        assert authority is None or "@" not in authority
