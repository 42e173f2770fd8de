"""HTTP checks judged from fact fixtures: no network, one behaviour per test."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scanner.model import EndpointKind
from scanner.probes.http.probe import parse_hsts
from tests import judging
from tests.judging import NOW


def page(**over):
    """Facts of a healthy https web endpoint; tests override what they exercise."""
    facts = {
        "https": True, "redirects_to_https": True, "final_url": "https://a.test/", "status": 200,
        "http_listening": True, "http_first_hop_https_same_host": True,
        "hsts": parse_hsts(["max-age=31536000; includeSubDomains"]),
        "headers": {"content-type": "text/html; charset=utf-8"}, "cookies": [], "security_txt": None,
        "https_chain": [{"url": "https://a.test/", "status": 200}],
        "http_chain": [{"url": "http://a.test/", "status": 301, "location": "https://a.test/"},
                       {"url": "https://a.test/", "status": 200}],
        "www": None, "response": {"url": "https://a.test/", "status": 200}, "leaves_host": None,
        "html": {"meta_csp": [], "scripts": [], "stylesheets": [], "insecure": []},
        "cors": {"allow_origin": None, "allow_credentials": False, "reflected": False},
    }
    facts.update(over)
    return facts


def judge(check_id, http, kind=EndpointKind.WEB, certificate=None):
    facts = {"http": http} | ({"certificate": certificate} if certificate is not None else {})
    return judging.judge(check_id, facts, target="https://a.test/", kind=kind)


def one(check_id, http, **kw):
    (out,) = judge(check_id, http, **kw)
    return out


# ---------------------------------------------------------------- HSTS


@pytest.mark.parametrize("lines, valid, max_age, sub, preload", [
    (["max-age=31536000; includeSubDomains; preload"], True, 31536000, True, True),
    (['MAX-AGE="600"'], True, 600, False, False),
    (["max-age=600; max-age=700"], False, None, False, False),  # a directive twice: ignored
    (["includeSubDomains"], False, None, False, False),  # max-age is required
    (["max-age=-1"], False, None, False, False),
    (["max-age=60; includeSubDomains=yes"], False, None, False, False),
    (["max-age=60; unknown-ext=1"], True, 60, False, False),  # unknown directives are ignored
])
def test_parse_hsts(lines, valid, max_age, sub, preload):
    out = parse_hsts(lines)
    assert (out["valid"], out["max_age"], out["include_subdomains"], out["preload"]) == (valid, max_age, sub, preload)


def test_hsts_verdicts():
    assert one("http.hsts", page()).status == "pass"
    assert one("http.hsts", page(hsts=None)).status == "fail"
    assert one("http.hsts", page(hsts=parse_hsts(["max-age=0"]))).status == "fail"
    assert one("http.hsts", page(hsts=parse_hsts(["max-age=600"]))).status == "warn"
    invalid = one("http.hsts", page(hsts=parse_hsts(["max-age=1; max-age=2"])))
    assert invalid.status == "fail" and "more than once" in invalid.message
    dup = one("http.hsts", page(hsts=parse_hsts(["max-age=31536000", "max-age=0"])))
    assert dup.status == "warn" and "only the first" in dup.message


@pytest.mark.parametrize("certificate, status", [
    pytest.param({"trusted": False, "hostname_match": True}, "warn", id="RFC6797-8.1-untrusted-chain-ignored"),
    pytest.param({"trusted": True, "hostname_match": False}, "warn", id="RFC6797-8.1-wrong-name-ignored"),
    pytest.param({"trusted": True, "hostname_match": True}, "pass", id="RFC6797-8.1-valid-certificate"),
    pytest.param({"trusted": None, "hostname_match": None}, "pass", id="RFC6797-8.1-certificate-not-measured"),
])
def test_hsts_is_ignored_over_a_rejected_certificate(certificate, status):
    out = one("http.hsts", page(), certificate=certificate)
    assert out.status == status
    if status == "warn":
        assert "browsers ignore it" in out.message and out.evidence["header"]


def test_hsts_preload_readiness_on_a_bare_domain():
    ready = page(hsts=parse_hsts(["max-age=63072000; includeSubDomains; preload"]),
                 www={"host": "www.a.test", "exists": False})
    assert one("http.hsts_preload", ready).status == "pass"
    missing = one("http.hsts_preload", ready | {"http_first_hop_https_same_host": False,
                                                "hsts": parse_hsts(["max-age=600; preload"])})
    assert missing.status == "warn"
    assert "includeSubDomains" in missing.message and "same host" in missing.message
    assert one("http.hsts_preload", page()).status == "not_applicable"


# ---------------------------------------------------------------- enforcement


def test_redirect_first_hop_elsewhere_warns_and_downgrade_fails():
    elsewhere = page(http_first_hop_https_same_host=False,
                     http_chain=[{"url": "http://a.test/", "status": 301, "location": "https://www.a.test/"},
                                 {"url": "https://www.a.test/", "status": 200}])
    assert one("http.redirect", elsewhere).status == "warn"
    back = page(http_chain=[{"url": "http://a.test/", "status": 301, "location": "https://a.test/"},
                            {"url": "https://a.test/", "status": 301, "location": "http://a.test/x"},
                            {"url": "http://a.test/x", "status": 200}])
    assert one("http.redirect", back).status == "fail"
    down = page(https_chain=[{"url": "https://a.test/", "status": 302, "location": "http://a.test/"},
                             {"url": "http://a.test/", "status": 200}])
    out = one("http.downgrade", down)
    assert out.status == "fail" and "http://a.test/" in out.message


def test_https_with_a_rejected_certificate_is_not_valid_https():
    assert one("http.https", page(), certificate={"trusted": True, "hostname_match": True}).status == "pass"
    assert one("http.https", page(), certificate={"trusted": False, "hostname_match": True}).status == "warn"
    assert one("http.https", page(https=False)).status == "fail"
    assert one("http.https", page(https=None, https_error="timeout")).status == "error"


def test_chain_outcomes():
    loop = page(https_chain=[{"url": "https://a.test/", "status": 302, "location": "https://a.test/b"},
                             {"url": "https://a.test/b", "status": 302, "location": "https://a.test/"},
                             {"url": "https://a.test/", "error": "redirect loop", "loop": True}])
    assert one("http.chain", loop).status == "fail"
    central = page(leaves_host="login.b.test", final_url="https://login.b.test/", status=200,
                   https_chain=[{"url": "https://a.test/", "status": 302, "location": "https://login.b.test/"},
                                {"url": "https://login.b.test/", "status": 200}],
                   response={"url": "https://a.test/", "status": 302})
    out = one("http.chain", central)
    assert out.status == "info" and "login.b.test" in out.message
    # the central login page's headers are not judged here
    assert one("http.csp", central).status == "not_applicable"


def test_www_of_a_bare_domain():
    good = {"host": "www.a.test", "exists": True,
            "https_chain": [{"url": "https://www.a.test/", "status": 301, "location": "https://a.test/"}],
            "http_chain": [{"url": "http://www.a.test/", "status": 301, "location": "https://www.a.test/"},
                           {"url": "https://www.a.test/", "status": 301}]}
    assert one("http.www", page(www=good)).status == "pass"
    bad = good | {"https_chain": [{"url": "https://www.a.test/", "error": "refused", "refused": True}],
                  "http_chain": [{"url": "http://www.a.test/", "status": 200}]}
    out = one("http.www", page(www=bad))
    assert out.status == "fail" and "does not redirect" in out.message
    assert one("http.www", page()).status == "not_applicable"


def test_redirect_endpoint_is_judged_on_its_redirect():
    def red(status, location):
        return page(https_chain=[{"url": "https://a.test/", "status": status, "location": location}])
    assert one("http.redirect_target", red(301, "https://b.test/"), kind=EndpointKind.REDIRECT).status == "pass"
    assert one("http.redirect_target", red(302, "https://b.test/"), kind=EndpointKind.REDIRECT).status == "warn"
    assert one("http.redirect_target", red(301, "http://b.test/"), kind=EndpointKind.REDIRECT).status == "fail"


# ---------------------------------------------------------------- CSP as findings


def test_csp_findings_one_per_failed_rule_with_directive_quoted():
    facts = page(headers={"content-type": "text/html",
                          "content-security-policy": "script-src 'self' 'unsafe-inline' https:; object-src 'none'"})
    outs = judge("http.csp.script", facts)
    by_key = {o.key: o for o in outs}
    assert set(by_key) == {"unsafe-inline", "broad-source"}
    assert by_key["unsafe-inline"].evidence["directive"] == "script-src"
    assert "'unsafe-inline'" in by_key["unsafe-inline"].message
    assert by_key["broad-source"].evidence["sources"] == ["https:"]


def test_csp_report_only_and_meta():
    ro = page(headers={"content-security-policy-report-only": "default-src 'self'"})
    assert one("http.csp", ro).status == "warn"
    assert one("http.csp.script", ro).status == "not_applicable"
    meta = page(html={"meta_csp": ["default-src 'self'; object-src 'none'"], "scripts": [], "stylesheets": [],
                      "insecure": []})
    assert one("http.csp", meta).status == "pass"
    assert one("http.csp.script", meta).status == "pass"
    assert one("http.csp", page()).status == "fail"


# ---------------------------------------------------------------- other headers


@pytest.mark.parametrize("headers, status", [
    ({"x-frame-options": "DENY"}, "pass"),
    ({"x-frame-options": "DENY, SAMEORIGIN"}, "warn"),
    ({"x-frame-options": "ALLOW-FROM https://x.test"}, "fail"),
    ({"x-frame-options": "BOGUS"}, "fail"),
    ({"content-security-policy": "frame-ancestors 'self'", "x-frame-options": "BOGUS"}, "pass"),
    ({"content-security-policy": "frame-ancestors *", "x-frame-options": "DENY"}, "fail"),
    ({}, "fail"),
])
def test_framing(headers, status):
    assert one("http.framing", page(headers=headers)).status == status


@pytest.mark.parametrize("value, status", [
    ("strict-origin-when-cross-origin", "pass"), ("no-referrer", "pass"),
    ("origin-when-cross-origin", "warn"), ("unsafe-url", "fail"), ("no-referrer-when-downgrade", "fail"),
    ("unsafe-url, strict-origin", "pass"),  # the last known value counts
    ("nonsense", "fail"), (None, "warn"),
])
def test_referrer_policy_classes(value, status):
    headers = {"referrer-policy": value} if value else {}
    assert one("http.referrer_policy", page(headers=headers)).status == status


@pytest.mark.parametrize("header, metas, status, effective", [
    pytest.param("no-referrer", ["unsafe-url"], "fail", "unsafe-url", id="HTML-4.2.5.2-meta-overrides-header"),
    pytest.param("unsafe-url", ["never"], "pass", "no-referrer", id="HTML-4.2.5.2-legacy-never"),
    pytest.param("unsafe-url", ["always"], "fail", "unsafe-url", id="HTML-4.2.5.2-legacy-always"),
    pytest.param("no-referrer", ["bogus"], "pass", "no-referrer", id="HTML-4.2.5.2-unknown-meta-ignored"),
    pytest.param(None, ["origin", "same-origin"], "pass", "same-origin", id="HTML-4.2.5.2-last-meta-wins"),
    pytest.param(None, ["default"], "pass", "strict-origin-when-cross-origin", id="HTML-4.2.5.2-legacy-default"),
    pytest.param("no-referrer", [""], "pass", "no-referrer", id="HTML-4.2.5.2-empty-content-ignored"),
])
def test_referrer_meta_overrides_the_header(header, metas, status, effective):
    html = {"meta_csp": [], "meta_referrers": metas, "scripts": [], "stylesheets": [], "insecure": []}
    headers = {"content-type": "text/html"} | ({"referrer-policy": header} if header else {})
    out = one("http.referrer_policy", page(headers=headers, html=html))
    assert (out.status, out.evidence["effective"]) == (status, effective)


@pytest.mark.parametrize("headers, expected", [
    pytest.param({"cross-origin-opener-policy": 'same-origin; report-to="coop"'}, {"opener": "pass"},
                 id="HTML-7.1.3.1-coop-item-with-parameters"),
    pytest.param({"cross-origin-opener-policy": "same-origin, same-origin"}, {"opener": "warn"},
                 id="RFC8941-4.2-repeated-coop-is-not-an-item"),
    pytest.param({"cross-origin-opener-policy": "Same-Origin"}, {"opener": "warn"},
                 id="RFC8941-3.3.4-tokens-case-sensitive"),
    pytest.param({"cross-origin-opener-policy": '"same-origin"'}, {"opener": "warn"}, id="HTML-7.1.3.1-string-not-token"),
    pytest.param({"cross-origin-opener-policy": "unsafe-none"}, {"opener": "info"}, id="HTML-7.1.3.1-unsafe-none"),
    pytest.param({"cross-origin-embedder-policy": "Require-Corp"}, {"embedder": "warn"},
                 id="HTML-7.1.4-coep-case-sensitive"),
    pytest.param({"cross-origin-embedder-policy": "credentialless;x=?1"}, {"embedder": "pass"},
                 id="HTML-7.1.4-coep-parameters"),
    pytest.param({"cross-origin-resource-policy": "same-site, same-origin"}, {"resource": "warn"},
                 id="Fetch-3.7-corp-combined-values-match-nothing"),
    pytest.param({"cross-origin-resource-policy": "cross-origin"}, {"resource": "info"}, id="Fetch-3.7-corp-cross-origin"),
])
def test_cross_origin_headers_as_browsers_parse_them(headers, expected):
    out = {f.key.split("-")[2]: f.status for f in judge("http.cross_origin", page(headers=headers))}
    for header, status in expected.items():
        assert out[header] == status
    malformed = judge("http.cross_origin", page(headers={"cross-origin-opener-policy": "same-origin;;"}))
    assert "malformed at character 13" in malformed[0].message and "as if not set" in malformed[0].message


def cookie(name, **attrs):
    """A cookie as the HTTP probe records it: name and attributes (the value is never kept), and
    the scheme of the response that set it."""
    return {"name": name, "secure": False, "httponly": False, "samesite": None, "path": "/", "domain": None,
            "scheme": "https"} | attrs


def test_cookie_rules_and_evidence_of_names_and_attributes_only():
    cookies = [
        cookie("SESSIONID"),
        cookie("__Host-x", secure=True, httponly=True, samesite="Lax", path="/sub"),
        cookie("__Secure-y", httponly=True, samesite="Lax"),
        cookie("pref", secure=True, samesite="None"),
        cookie("csrftoken", secure=True, samesite="Strict"),
    ]
    outs = {o.key: o for o in judge("http.cookies", page(cookies=cookies), kind=EndpointKind.API)}
    assert set(outs) == {"cookie:SESSIONID", "cookie:__Host-x", "cookie:__Secure-y"}
    assert outs["cookie:SESSIONID"].status == "fail" and "HttpOnly" in outs["cookie:SESSIONID"].message
    # the evidence repeats the recorded attributes, nothing else (the probe keeps no value to leak)
    assert outs["cookie:SESSIONID"].evidence == {"name": "SESSIONID", "secure": False, "httponly": False,
                                                 "samesite": None, "path": "/", "domain": None}
    assert one("http.cookies", page()).status == "not_applicable"


@pytest.mark.parametrize("cors, status", [
    ({"allow_origin": None}, "pass"),
    ({"allow_origin": "https://cors-check.bolwerk.invalid", "reflected": True, "allow_credentials": True}, "fail"),
    ({"allow_origin": "https://cors-check.bolwerk.invalid", "reflected": True, "allow_credentials": False}, "warn"),
    ({"allow_origin": "*", "allow_credentials": False}, "info"),
    ({"allow_origin": "null", "allow_credentials": True}, "fail"),
    ({"allow_origin": "https://partner.test"}, "pass"),
    ({"error": "timed out"}, "error"),
])
def test_cors(cors, status):
    assert one("http.cors", page(cors=cors), kind=EndpointKind.API).status == status


def test_sri_and_mixed_content():
    html = {"meta_csp": [], "stylesheets": [], "scripts": [
        {"src": "https://a.test/own.js", "integrity": False},
        {"src": "https://cdn.test/lib.js", "integrity": True},
        {"src": "https://cdn.test/x.js", "integrity": False}],
        "insecure": [{"tag": "img", "attr": "src", "url": "http://x.test/i.png", "kind": "passive"}]}
    sri = one("http.sri", page(html=html))
    assert sri.status == "warn" and "https://cdn.test/x.js" in sri.message
    assert one("http.mixed_content", page(html=html)).status == "warn"
    active = html | {"insecure": [{"tag": "script", "attr": "src", "url": "http://x.test/a.js", "kind": "active"}]}
    assert one("http.mixed_content", page(html=active)).status == "fail"
    upgraded = page(html=active, headers={"content-security-policy": "upgrade-insecure-requests"})
    assert one("http.mixed_content", upgraded).status == "pass"


def test_version_disclosure_and_compression():
    assert one("http.version_disclosure", page(headers={"server": "nginx"})).status == "pass"
    assert one("http.version_disclosure", page(headers={"server": "Apache/2.4.1"})).status == "info"
    assert one("http.version_disclosure", page(headers={"x-aspnet-version": "x"})).status == "info"
    assert one("http.compression", page(content_encoding="gzip")).status == "info"
    assert one("http.compression", page(content_encoding=None)).status == "pass"


# ---------------------------------------------------------------- security.txt


def sectxt(text, **over):
    """security.txt facts as the probe stores them: what it fetched and the file's text."""
    base = {"found": True, "url": "https://a.test/.well-known/security.txt",
            "final_url": "https://a.test/.well-known/security.txt", "status": 200,
            "content_type": "text/plain; charset=utf-8", "text": text, "truncated": False}
    return page(security_txt=base | over)


def test_security_txt_presence_and_expiry():
    future = (NOW + timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    past = (NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    contact = "Contact: mailto:s@a.test\n"
    assert one("http.security_txt", sectxt(f"{contact}Expires: {future}\n")).status == "pass"
    assert one("http.security_txt", sectxt(f"{contact}Expires: {past}\n")).status == "fail"
    assert one("http.security_txt", sectxt(f"Expires: {future}\n")).status == "fail"
    assert one("http.security_txt", sectxt(f"{contact}Expires: next year\n")).status == "fail"
    wrong_place = page(security_txt={"found": False, "status": 404, "legacy": {"found": True,
                                                                                "url": "https://a.test/security.txt"}})
    out = one("http.security_txt", wrong_place)
    assert out.status == "fail" and "/security.txt" in out.message
    # facts stored before the probe kept the text cannot be judged again: not measured, not failed
    old = sectxt("", fields={"contact": ["mailto:s@a.test"]})
    del old["security_txt"]["text"]
    assert one("http.security_txt", old).status == "error"


@pytest.mark.parametrize("text, content_type, expected", [
    pytest.param("Contact: mailto:s@a.test\nExpires: {future}", "text/plain; charset=utf-8",
                 {"final-newline": "warn"}, id="RFC9116-4-final-newline"),
    pytest.param("Contact: mailto:s@a.test\nExpires: {future}\n", "text/plain; charset=csUTF8", {},
                 id="IANA-charsets-csutf8-accepted"),
    pytest.param("Contact: mailto:s@a.test\nExpires: {future}\nPolicy: http://a.test/p\nHiring: http://a.test/j\n",
                 "text/plain; charset=utf-8", {"https": "fail"}, id="RFC9116-2.5-every-web-uri-https"),
    pytest.param("Contact: mailto:s@a.test\nExpires: {future}\nPreferred-Languages: nl, Vlaams\n",
                 "text/plain; charset=utf-8", {}, id="RFC5646-2.1-five-letter-language-well-formed"),
    pytest.param("Contact: mailto:s@a.test\nExpires: {future}\nPreferred-Languages: nl_BE\n",
                 "text/plain; charset=utf-8", {"languages": "warn"}, id="RFC9116-2.5.8-bcp47"),
    pytest.param("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nContact: mailto:s@a.test\nExpires: {future}\n",
                 "text/plain; charset=utf-8", {"": "pass", "signature": "warn"}, id="RFC4880-7-missing-signature-not-signed"),
])
def test_security_txt_letter_of_the_rfc(text, content_type, expected):
    future = (NOW + timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    outs = {o.key: o.status for o in judge("http.security_txt.format",
                                           sectxt(text.format(future=future), content_type=content_type))}
    problems = {k for k in expected if k not in ("", "signature")}
    assert outs == {"signature": "info"} | ({} if problems else {"": "pass"}) | expected


def test_security_txt_format_rules():
    far = (NOW + timedelta(days=800)).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = (f"Contact: http://a.test/report\nExpires: {far}\nExpires: {far}\n"
            "Canonical: https://b.test/.well-known/security.txt\njunk\n")
    outs = {o.key: o.status for o in judge("http.security_txt.format", sectxt(text, content_type="text/plain"))}
    assert outs == {"content-type": "warn", "expires-once": "fail", "expires-horizon": "warn",
                    "contact-uri": "fail", "canonical": "fail", "syntax": "warn", "signature": "info"}


# ---------------------------------------------------------------- parity


def test_address_parity():
    same = {"strict-transport-security": "max-age=1"}
    rows = [{"address": "127.0.0.1", "status": 200, "headers": same},
            {"address": "::1", "status": 200, "headers": same}]
    assert one("http.address_parity", page(per_address=rows)).status == "pass"
    rows[1] = {"address": "::1", "status": 200, "headers": {}}
    out = one("http.address_parity", page(per_address=rows))
    assert out.status == "fail" and "strict-transport-security" in out.message and "::1" in out.message
    assert one("http.address_parity", page()).status == "not_applicable"


# ---------------------------------------------------------------- not measured


def test_no_response_is_not_read_as_no_cookies_or_a_single_address():
    # both ports refused: the probe records no response, so nothing about cookies or addresses is known
    silent = page(https=False, http_listening=False, status=None, response=None, headers={}, cookies=[])
    del silent["html"]
    for check_id in ("http.cookies", "http.address_parity", "http.sri"):
        assert [o.status for o in judge(check_id, silent)] == ["error"], check_id
    missing = page()
    del missing["www"]
    assert one("http.www", missing).status == "error"
