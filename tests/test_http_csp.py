"""Content-Security-Policy judged from fact fixtures: browser semantics, one finding per failed rule.

http.csp judges whether a policy is enforced, http.csp.script the script rules and
http.csp.directives the other directives (one finding per rule that does not pass, keyed
by the rule), http.framing frame-ancestors.
"""

from __future__ import annotations

import pytest

from scanner.model import Status
from tests.judging import judge, judge_one

RULE_CHECKS = ("http.csp.script", "http.csp.directives")


def page(*headers: str, meta: tuple[str, ...] = ()) -> dict:
    """HTTP facts of a page: CSP header lines (the probe joins repeated ones with ", ") and <meta> policies."""
    sent = {"content-type": "text/html; charset=utf-8"}
    if headers:
        sent["content-security-policy"] = ", ".join(headers)
    return {"http": {"https": True, "status": 200, "headers": sent,
                     "html": {"meta_csp": list(meta), "scripts": [], "stylesheets": [], "insecure": []}}}


def rules(*headers: str, meta: tuple[str, ...] = ()) -> dict:
    """The rules that do not pass, by rule name, over both rule checks."""
    out = {}
    for check_id in RULE_CHECKS:
        for f in judge(check_id, page(*headers, meta=meta)):
            if f.status != Status.PASS:
                assert f.key == f.evidence["rule"]
                out[f.key] = f
    return out


def test_parse_first_directive_wins_and_duplicates_are_reported():
    policy = "Script-Src 'self'; script-src *; OBJECT-SRC 'NONE'; b@d x"
    out = judge_one("http.csp", page(policy))
    assert out.status == Status.WARN
    assert out.evidence["duplicates"] == ["script-src"] and out.evidence["invalid"] == ["b@d"]
    problems = rules(policy)
    assert "broad-source" not in problems  # the second script-src (*) is ignored
    assert "object-src" not in problems  # OBJECT-SRC 'NONE' is object-src 'none'


def test_comma_separates_policies_and_nonce_case_is_kept():
    out = judge_one("http.csp", page("default-src 'self', script-src 'NONCE-AbC'"))
    assert out.evidence["policy"] == ["default-src 'self'", "script-src 'NONCE-AbC'"]
    # a nonce keeps its value's case, so the quoted directive shows it as sent
    data = rules("script-src 'NONCE-AbC' data:")["data"]
    assert "`script-src 'nonce-AbC' data:`" in data.message
    assert "unsafe-inline" not in rules("script-src 'NONCE-AbC' 'unsafe-inline'")


def test_meta_policy_ignores_frame_ancestors():
    out = judge_one("http.framing", page(meta=("default-src 'self'; frame-ancestors 'none'",)))
    assert out.status == Status.FAIL and out.message.startswith("neither CSP frame-ancestors nor X-Frame-Options")


@pytest.mark.parametrize("policy, rule, status, source", [
    ("script-src 'self' 'unsafe-inline'", "unsafe-inline", "fail", "'unsafe-inline'"),
    ("default-src 'self' 'unsafe-inline'", "unsafe-inline", "fail", "'unsafe-inline'"),  # fallback
    ("script-src 'unsafe-inline' 'nonce-abc'", "unsafe-inline", "pass", None),
    ("script-src 'unsafe-inline' 'sha256-AbC='", "unsafe-inline", "pass", None),
    ("script-src 'unsafe-inline' 'strict-dynamic'", "unsafe-inline", "pass", None),
    ("script-src 'self' 'unsafe-eval'", "unsafe-eval", "warn", "'unsafe-eval'"),
    ("script-src 'self' 'unsafe-hashes' 'sha256-x'", "unsafe-hashes", "warn", "'unsafe-hashes'"),
    ("script-src *", "broad-source", "fail", "*"),
    ("script-src https:", "broad-source", "fail", "https:"),
    ("script-src https://*", "broad-source", "fail", "https://*"),
    ("script-src http://cdn.example", "broad-source", "warn", "http://cdn.example"),
    ("script-src https://*.example.test", "broad-source", "pass", None),
    ("script-src 'nonce-x' 'strict-dynamic' https: http: *", "broad-source", "pass", None),
    ("script-src 'self' data:", "data", "fail", "data:"),
    ("script-src 'nonce-x' 'strict-dynamic' data:", "data", "pass", None),
    ("default-src 'none'; object-src data:", "object-src", "fail", "data:"),
    ("default-src 'none'", "object-src", "pass", None),
    ("object-src 'self'", "object-src", "warn", "'self'"),
    ("script-src 'self'", "object-src", "fail", None),
    ("default-src 'self'", "base-uri", "warn", None),  # no fallback to default-src
    ("default-src 'self'; base-uri *", "base-uri", "fail", "*"),
    ("default-src 'self'; form-action https:", "form-action", "fail", "https:"),
    ("default-src 'self'; form-action 'self'", "form-action", "pass", None),
    ("script-src 'self'", "default-src", "warn", None),
])
def test_rules(policy, rule, status, source):
    found = rules(policy).get(rule)
    if status == "pass":
        assert found is None, found.message
        return
    assert found is not None and found.status == status, found and found.message
    if source:
        assert source in found.evidence["sources"]
        assert source in found.message  # the failing source is quoted
        assert found.evidence["directive"] in found.message


def test_no_script_restriction_is_one_finding_not_five():
    out = judge("http.csp.script", page("object-src 'none'"))
    assert [(f.key, f.status) for f in out] == [("script-src", Status.FAIL)]


def test_a_strict_policy_next_to_a_lax_one_still_blocks():
    out = rules("script-src * 'unsafe-inline'", "script-src 'self'")
    assert "unsafe-inline" not in out and "broad-source" not in out


def test_meta_policy_is_enforced_and_report_only_is_not():
    assert "unsafe-inline" not in rules(meta=("script-src 'self'",))
    report_only = {"http": page()["http"] | {"headers": {"content-type": "text/html",
                                                         "content-security-policy-report-only": "script-src 'self'"}}}
    for check_id in RULE_CHECKS:
        assert judge_one(check_id, report_only).status == Status.NOT_APPLICABLE


def test_frame_ancestors_from_header():
    assert judge_one("http.framing", page("frame-ancestors 'none'")).status == Status.PASS
    bad = judge_one("http.framing", page("frame-ancestors *"))
    assert bad.status == Status.FAIL and "*" in bad.message


# ---------------------------------------------------------------- issue 12: CSP3 as browsers enforce it

@pytest.mark.parametrize("headers, meta, rule, status, sources", [
    pytest.param(("default-src http:", "default-src https:"), (), "broad-source", "fail", ["https:"],
                 id="CSP3-8.1-http-beside-https-leaves-any-https-host"),
    pytest.param(("script-src * 'unsafe-inline'",), ("script-src 'self'",), "unsafe-inline", "pass", None,
                 id="CSP3-8.1-strict-meta-beside-lax-header"),
    pytest.param(("script-src http://cdn.test",), ("script-src https://cdn.test",), "broad-source", "pass", None,
                 id="CSP3-6.7.2.8-https-policy-blocks-the-http-host"),
    pytest.param(("script-src http://cdn.test",), ("script-src http://cdn.test https://x.test",), "broad-source",
                 "warn", ["http://cdn.test"], id="CSP3-8.1-plain-http-host-both-allow"),
    pytest.param(("object-src 'self'",), ("object-src 'none'",), "object-src", "pass", None,
                 id="CSP3-8.1-plugins-none-in-one-policy"),
    pytest.param(("script-src 'strict-dynamic' https:",), (), "broad-source", "pass", None,
                 id="CSP3-8.2-strict-dynamic-ignores-host-sources"),
    pytest.param(("script-src-elem 'self'; script-src-attr 'unsafe-inline'; default-src 'self'",), (), "unsafe-inline",
                 "fail", ["'unsafe-inline'"], id="CSP3-6.1.3-script-src-attr-inline-handlers"),
    pytest.param(("default-src 'self'; form-action http://forms.test",), (), "form-action", "warn",
                 ["http://forms.test"], id="MIX-form-action-plain-http"),
    pytest.param(("default-src 'self'; form-action 'none' http:",), (), "form-action", "fail", ["http:"],
                 id="CSP3-6.7.2.5-none-beside-sources-has-no-effect"),
])
def test_enforced_policies_are_intersected(headers, meta, rule, status, sources):
    found = rules(*headers, meta=meta).get(rule)
    if status == "pass":
        assert found is None, found.message
        return
    assert found.status == status and found.evidence["sources"] == sources, found.message


def test_a_meta_policy_with_only_ignored_directives_enforces_nothing():
    out = judge_one("http.csp", page(meta=("frame-ancestors 'none'",)))
    assert out.status == Status.FAIL and "nothing is enforced" in out.message
    assert judge_one("http.csp.script", page(meta=("frame-ancestors 'none'",))).status == Status.NOT_APPLICABLE


def test_grammar_issues_are_named_with_their_position():
    out = judge_one("http.csp", page("default-src 'self'; object-src 'none' 'self'; script-src 'nonce'"))
    assert out.status == Status.WARN
    assert "'none' (character 32) beside other sources has no effect" in out.message
    assert "'nonce' (character 58) is not a source expression" in out.message
    assert [i["code"] for i in out.evidence["issues"]] == ["none_not_alone", "source"]


@pytest.mark.parametrize("policy, expected", [
    pytest.param("default-src 'self'; style-src 'self' 'unsafe-inline'",
                 {"style-src-elem:unsafe-inline": Status.INFO}, id="CSP3-6.7.3.3-inline-style"),
    pytest.param("default-src 'self'; img-src *", {"img-src:any-host": Status.INFO}, id="CSP3-6.1-img-any-host"),
    pytest.param("default-src 'self'; connect-src http://api.test", {"connect-src:plain-http": Status.WARN},
                 id="MIX-connect-plain-http"),
    pytest.param("default-src 'self'; child-src https:", {"frame-src:any-host": Status.WARN, "worker-src:any-host": Status.WARN},
                 id="CSP3-6.8.3-frame-src-falls-back-to-child-src"),
    pytest.param("default-src *", {}, id="CSP3-6.8.3-default-src-judged-elsewhere"),
    pytest.param("default-src 'self'; worker-src 'self'; style-src 'self' 'nonce-x' 'unsafe-inline'", {},
                 id="CSP3-6.7.3.3-nonce-disables-unsafe-inline-style"),
])
def test_resources_lint(policy, expected):
    out = judge("http.csp.resources", page(policy))
    if not expected:
        assert [f.status for f in out] == [Status.PASS]
        return
    assert {f.key: f.status for f in out} == expected
