"""The HTTP probe's pure helpers: redaction, bounded decompression, HTML facts, security.txt."""

from __future__ import annotations

import gzip
import zlib

from scanner.probes.http import html as http_html
from scanner.probes.http.probe import _decode, parse_cookie, repeated_headers
from scanner.probes.http.redact import redact_text, redact_url
from scanner.standards import urls


def test_redact_url_removes_tokens_and_passwords_but_keeps_the_rest():
    url = "https://login.test/cb?code=abc123&lang=nl&state=xyz#access_token=T0KEN&x=1"
    out = redact_url(urls.parse(url))
    for secret in ("abc123", "xyz", "T0KEN"):
        assert secret not in out
    assert "lang=nl" in out and "x=1" in out and out.startswith("https://login.test/cb?")
    # a URL with credentials is never parsed (urls.UrlError); shown, they are cut out
    raw = "https://user:Wachtwoord@login.test/cb?code=abc123&lang=nl"
    shown = redact_text(raw)
    assert "Wachtwoord" not in shown and "user" not in shown and "abc123" not in shown
    assert shown == "https://***@login.test/cb?code=[redacted]&lang=nl"
    assert redact_text("https:\\\\u:p@evil.test\\x\r\n") == "https:\\\\***@evil.test\\x\\x0d\\x0a"


def test_cookie_value_is_never_kept():
    cookie = parse_cookie("sid=SECRETVALUE; Path=/; Secure; HttpOnly; SameSite=Lax")
    assert cookie["name"] == "sid" and cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax"
    assert "SECRETVALUE" not in repr(cookie)


def test_repeated_headers_are_counted():
    assert repeated_headers([("X-A", "1"), ("x-a", "2"), ("Set-Cookie", "a"), ("Set-Cookie", "b")]) == {"x-a": 2}


def test_decompression_is_bounded():
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))  # 20 MiB of zeros in about 20 KiB
    body, truncated = _decode(bomb, "gzip", 64 * 1024)
    assert len(body) == 64 * 1024 and truncated
    raw_deflate = zlib.compressobj(wbits=-15)
    data = raw_deflate.compress(b"hallo") + raw_deflate.flush()
    assert _decode(data, "deflate", 1024) == (b"hallo", False)
    assert _decode(zlib.compress(b"hallo"), "deflate", 1024) == (b"hallo", False)
    assert _decode(b"not gzip", "gzip", 1024) == (b"", False)
    assert _decode(b"x", "br", 1024) == (b"", False)


def test_html_extraction():
    body = b"""<html><head><base href="http://cdn.test/">
    <meta http-equiv="Content-Security-Policy" content="default-src 'self'">
    <script src="https://x.test/a.js" integrity="sha384-x"></script><script>inline()</script>
    <link rel="stylesheet" href="/s.css"><link rel="icon" href="http://x.test/i.ico"></head>
    <body><img srcset="http://x.test/1.png 1x, https://x.test/2.png 2x"><form action="http://x.test/f"><iframe src="/f">
    <p>unclosed <b>tags"""
    out = http_html.extract(body, "https://page.test/")
    assert out["meta_csp"] == ["default-src 'self'"]
    assert out["scripts"] == [{"src": "https://x.test/a.js", "integrity": True, "crossorigin": None}]
    assert out["inline_scripts"] == 1
    assert out["stylesheets"][0]["src"] == "http://cdn.test/s.css"  # resolved against <base>
    kinds = {(i["tag"], i["kind"]) for i in out["insecure"]}
    assert kinds == {("link", "passive"), ("img", "passive"), ("form", "form"), ("iframe", "active"),
                     ("link", "active")}
    assert http_html.charset_of('text/html; charset="ISO-8859-1"') == "iso-8859-1"


def test_port_map_keys_by_host_and_stays_backward_compatible():
    from scanner.probes.net import PortMap

    pm = PortMap()
    pm.add("::1", 443, 5001, "a.test")
    pm.add("::1", 443, 5002, "b.test")
    pm.add("127.0.0.1", 80, 5003)
    assert (pm.real("::1", 443, "a.test"), pm.real("::1", 443, "B.test")) == (5001, 5002)
    assert pm.real("::1", 443) == 5002 and pm.real("127.0.0.1", 80, "x.test") == 5003
    assert pm.real("127.0.0.2", 25) == 25
    again = PortMap.from_json(pm.to_json())
    assert again == pm
    assert PortMap.from_json([["127.0.0.1", 80, 5003]]).real("127.0.0.1", 80) == 5003  # old rows
