"""CSP Level 3 grammar and matching (scanner/standards/csp.py), case by case with the clause it follows."""

from __future__ import annotations

import pytest

from scanner.standards import csp
from scanner.standards.csp import Url

PAGE = Url("https", "www.example.test")


@pytest.mark.parametrize("value, directives, issues", [
    pytest.param("Script-Src 'self'; script-src *", {"script-src": ["'self'"]}, [(19, "repeated", "script-src")],
                 id="CSP3-2.2.1-repeated-directive-first-wins"),
    pytest.param("OBJECT-SRC 'NONE'", {"object-src": ["'none'"]}, [], id="CSP3-2.2.1-names-and-keywords-case-insensitive"),
    pytest.param("b@d x; img-src 'self'", {"img-src": ["'self'"]}, [(0, "directive_name", "b@d")],
                 id="CSP3-2.1-directive-name-grammar"),
    pytest.param("object-src 'none' https:", {"object-src": ["'none'", "https:"]},
                 [(11, "none_not_alone", "'none'")], id="CSP3-2.3.1-none-only-alone"),
    pytest.param("script-src 'nonce' 'sha1-AbC=' 'self' https://*.example.test:*/js/", None,
                 [(11, "source", "'nonce'"), (19, "source", "'sha1-AbC='")], id="CSP3-2.3.1-source-expression-grammar"),
    pytest.param("script-src 'NONCE-AbC'", {"script-src": ["'nonce-AbC'"]}, [], id="CSP3-2.3.1-nonce-value-keeps-case"),
    pytest.param("frame-ancestors 'unsafe-inline'", None, [(16, "source", "'unsafe-inline'")],
                 id="CSP3-6.4.2-ancestor-source-list"),
    pytest.param("upgrade-insecure-requests; ;", {"upgrade-insecure-requests": []}, [],
                 id="CSP3-2.2.1-empty-tokens-skipped"),
])
def test_parse_policy(value, directives, issues):
    policy = csp.parse_policy(value)
    if directives is not None:
        assert policy.directives == directives
    assert [(i.position, i.code, i.token) for i in policy.issues] == issues


def test_header_is_a_list_and_positions_count_from_the_value_start():
    first, second = csp.parse_list("default-src 'self', script-src x: 'bogus'")
    assert (first.raw, second.raw) == ("default-src 'self'", "script-src x: 'bogus'")
    assert [(i.position, i.token) for i in second.issues] == [(34, "'bogus'")]
    assert csp.parse_list(" , ") == []  # CSP3 §2.2.2: empty members are dropped


@pytest.mark.parametrize("content, enforced, ignored", [
    pytest.param("frame-ancestors 'none'", False, ["frame-ancestors"], id="HTML-4.2.5.3-meta-frame-ancestors-only"),
    pytest.param("default-src 'self'; report-uri /r; sandbox", True, ["report-uri", "sandbox"],
                 id="HTML-4.2.5.3-meta-drops-report-uri-sandbox"),
])
def test_meta_policy(content, enforced, ignored):
    policy = csp.parse_policy(content, csp.META)
    assert policy.enforced is enforced and policy.ignored == ignored


def test_a_meta_policy_is_one_policy_commas_and_all():
    policy = csp.parse_policy("default-src 'self', script-src *", csp.META)
    assert policy.directives == {"default-src": ["'self',", "script-src", "*"]}  # HTML §4.2.5.3: not a list


@pytest.mark.parametrize("source, url, expected", [
    pytest.param("http:", Url("https", "a.test"), True, id="CSP3-6.7.2.8-http-scheme-matches-https"),
    pytest.param("https:", Url("http", "a.test"), False, id="CSP3-6.7.2.8-https-scheme-not-http"),
    pytest.param("*", Url("data"), False, id="CSP3-6.7.2.8-star-not-data"),
    pytest.param("*", Url("http", "a.test"), True, id="CSP3-6.7.2.8-star-matches-http"),
    pytest.param("*.example.test", Url("https", "cdn.example.test"), True, id="CSP3-6.7.2.8-wildcard-subdomain"),
    pytest.param("*.example.test", Url("https", "example.test"), False, id="CSP3-6.7.2.8-wildcard-not-apex"),
    pytest.param("cdn.test", Url("http", "cdn.test"), False, id="CSP3-6.7.2.8-no-scheme-takes-page-scheme"),
    pytest.param("http://cdn.test", Url("https", "cdn.test"), True, id="CSP3-6.7.2.8-http-host-upgrades"),
    pytest.param("https://cdn.test:8443", Url("https", "cdn.test"), False, id="CSP3-6.7.2.8-port-must-match"),
    pytest.param("https://cdn.test/js/", Url("https", "cdn.test", None, "/js/a.js"), True, id="CSP3-6.7.2.8-path-prefix"),
    pytest.param("https://cdn.test/a.js", Url("https", "cdn.test", None, "/b.js"), False, id="CSP3-6.7.2.8-exact-path"),
    pytest.param("'self'", Url("https", "www.example.test"), True, id="CSP3-6.7.2.8-self"),
])
def test_matches(source, url, expected):
    assert csp.matches(source, url, PAGE) is expected


def test_none_alone_matches_nothing_and_strict_dynamic_ignores_hosts():
    assert csp.matching(["'none'"], Url("https", "a.test"), PAGE) == []
    assert csp.matching(["'none'", "https:"], Url("https", "a.test"), PAGE) == ["https:"]  # §6.7.2.5 note
    assert csp.matching(["'strict-dynamic'", "https:"], Url("https", "a.test"), PAGE, script=True) == []  # §8.2
    assert not csp.allows_all_inline(["'unsafe-inline'", "'nonce-x'"], script=True)  # §6.7.3.3
    assert not csp.allows_all_inline(["'unsafe-inline'", "'strict-dynamic'"], script=True)
    assert csp.allows_all_inline(["'unsafe-inline'", "'strict-dynamic'"])  # only scripts care


@pytest.mark.parametrize("policies, url, expected", [
    pytest.param(["default-src http:", "default-src https:"], Url("https", "x.test"), True,
                 id="CSP3-8.1-http-and-https-leave-https"),
    pytest.param(["default-src http:", "default-src https:"], Url("http", "x.test"), False,
                 id="CSP3-8.1-http-and-https-block-http"),
    pytest.param(["script-src *", "script-src 'self'"], Url("https", "x.test"), False,
                 id="CSP3-8.1-strict-beside-lax-blocks"),
    pytest.param(["script-src *", "img-src 'none'"], Url("https", "x.test"), True,
                 id="CSP3-8.1-a-policy-without-the-directive-does-not-restrict"),
])
def test_every_enforced_policy_must_allow(policies, url, expected):
    parsed = [p for value in policies for p in csp.parse_list(value)]
    assert csp.allowed(parsed, "script-src-elem", url, PAGE) is expected


def test_fallback_lists():
    policy = csp.parse_policy("default-src 'self'; child-src https://kader.test; script-src 'none'")
    assert policy.effective("frame-src") == ("child-src", ["https://kader.test"])  # §6.8.3
    assert policy.effective("worker-src") == ("child-src", ["https://kader.test"])
    assert policy.effective("script-src-elem") == ("script-src", ["'none'"])
    assert policy.effective("base-uri") is None  # no fallback to default-src (§6.3)
