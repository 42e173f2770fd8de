"""CSP parser and rule analysis (checks/http/csp_policy.py): browser semantics, one result per rule."""

from __future__ import annotations

import pytest

from checks.http import csp_policy as csp
from checks.http.common import in_english


def words(result: csp.RuleResult) -> str:
    """A verdict's English text, as a finding shows it."""
    return in_english("http.csp.script", result.message)


def rules(*headers: str, meta: tuple[str, ...] = ()) -> dict[str, csp.RuleResult]:
    policies = []
    for h in headers:
        policies += csp.parse_header(h)
    for m in meta:
        policies += csp.parse_header(m, "meta")
    return {r.rule: r for r in csp.analyse(policies)}


def test_parse_first_directive_wins_and_duplicates_are_reported():
    (policy,) = csp.parse_header("Script-Src 'self'; script-src *; OBJECT-SRC 'NONE'; b@d x")
    assert policy.get("script-src") == ["'self'"]
    assert policy.get("object-src") == ["'none'"]
    assert policy.duplicates == ["script-src"]
    assert policy.invalid == ["b@d"]


def test_comma_separates_policies_and_nonce_case_is_kept():
    policies = csp.parse_header("default-src 'self', script-src 'NONCE-AbC'")
    assert [p.directives for p in policies] == [{"default-src": ["'self'"]}, {"script-src": ["'nonce-AbC'"]}]
    assert csp.is_nonce(policies[1].get("script-src")[0])


def test_meta_policy_ignores_frame_ancestors():
    (policy,) = csp.parse_header("default-src 'self'; frame-ancestors 'none'", "meta")
    assert policy.get("frame-ancestors") is None
    assert csp.frame_ancestors([policy]) is None


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
    result = rules(policy)[rule]
    assert result.status == status, words(result)
    if source:
        assert source in result.sources
        assert source in words(result)  # the failing source is quoted
        assert result.directive and result.directive in words(result)


def test_no_script_restriction_is_one_result_not_five():
    out = rules("object-src 'none'")
    assert out["script-src"].status == "fail"
    assert not set(csp.SCRIPT_RULES) & set(out)


def test_a_strict_policy_next_to_a_lax_one_still_blocks():
    out = rules("script-src * 'unsafe-inline'", "script-src 'self'")
    assert out["unsafe-inline"].status == "pass"
    assert out["broad-source"].status == "pass"


def test_meta_policy_is_enforced_and_report_only_is_not():
    assert rules(meta=("script-src 'self'",))["unsafe-inline"].status == "pass"
    report_only = csp.parse_header("script-src 'self'", "report-only")
    assert csp.analyse(report_only) == []


def test_frame_ancestors_from_header():
    assert csp.frame_ancestors(csp.parse_header("frame-ancestors 'none'")).status == "pass"
    bad = csp.frame_ancestors(csp.parse_header("frame-ancestors *"))
    assert bad.status == "fail" and "*" in words(bad)
