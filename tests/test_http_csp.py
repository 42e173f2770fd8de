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
    ("script-src https://*.example.be", "broad-source", "pass", None),
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
