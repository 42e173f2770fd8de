"""Content-Security-Policy: whether one is enforced, and rule by rule (checks/http/csp_policy.py)
whether it stops injected scripts and restricts plugins, the base URL and form targets.
"""

from __future__ import annotations

from typing import Any

from checks.catalogue import Phrase
from checks.http import csp_policy
from checks.http.common import DATA, http_facts, in_english, not_a_page, policies
from checks.registry import (
    BROWSER_KINDS,
    CheckContext,
    Outcome,
    check,
    failed,
    not_applicable,
    passed,
    warned,
)
from scanner.model import Severity

_RULE_SEVERITY = {rule: Severity(level) for rule, level in DATA["csp_severity"].items()}


def _enforced(ctx: CheckContext) -> tuple[list[csp_policy.Policy], Outcome | None]:
    if (skip := not_a_page(ctx)) is not None:
        return [], skip
    found = policies(http_facts(ctx))
    if not [p for p in found if p.source != "report-only"]:
        return [], not_applicable("no_enforced_csp")
    return found, None


def _verdicts(results: list[csp_policy.RuleResult]) -> list[Outcome]:
    """One finding per failed or weak rule, in the rule's own words; none when every rule passes."""
    make = {csp_policy.FAIL: failed, csp_policy.WARN: warned}
    return [make[r.status](r.message.code, key=r.rule, evidence=r.evidence() | {"rule": r.rule},
                           severity=_RULE_SEVERITY.get(r.rule), **r.message.params)
            for r in results if r.status != csp_policy.PASS]


def _rules(check_id: str, results: list[csp_policy.RuleResult]) -> dict[str, Any]:
    return {"rules": [in_english(check_id, r.message) for r in results]}


@check("http.csp", pillar="http", level="recommended", severity="medium", kinds=BROWSER_KINDS)
def csp(ctx: CheckContext):
    if (skip := not_a_page(ctx)) is not None:
        return skip
    found = policies(http_facts(ctx))
    header = [p for p in found if p.source == "header"]
    meta = [p for p in found if p.source == "meta"]
    report_only = [p for p in found if p.source == "report-only"]
    evidence: dict[str, Any] = {"policy": [p.raw for p in header + meta]}
    if report_only:
        evidence["report_only"] = [p.raw for p in report_only]
    if not header and not meta:
        if report_only:
            return warned("report_only", evidence=evidence)
        return failed("missing", evidence=evidence)
    odd = sorted({d for p in header + meta for d in p.duplicates})
    bad = sorted({d for p in header + meta for d in p.invalid})
    if odd or bad:
        parts = ([Phrase("repeated", directives=odd)] if odd else []) + (
            [Phrase("malformed", names=bad)] if bad else [])
        return warned("problems", problems=parts, evidence=evidence | {"duplicates": odd, "invalid": bad})
    where = Phrase("by_header") if header else Phrase("by_meta")
    if report_only:
        return passed("enforced_and_report_only", where=where, evidence=evidence)
    return passed("enforced", where=where, evidence=evidence)


@check("http.csp.script", pillar="http", level="recommended", severity="high", kinds=BROWSER_KINDS)
def csp_script(ctx: CheckContext):
    found, skip = _enforced(ctx)
    if skip:
        return skip
    results = [r for r in csp_policy.analyse(found) if r.rule in (*csp_policy.SCRIPT_RULES, "script-src")]
    return _verdicts(results) or passed("scripts_restricted", evidence=_rules("http.csp.script", results))


@check("http.csp.directives", pillar="http", level="recommended", severity="medium", kinds=BROWSER_KINDS)
def csp_directives(ctx: CheckContext):
    found, skip = _enforced(ctx)
    if skip:
        return skip
    results = [r for r in csp_policy.analyse(found) if r.rule in ("object-src", "base-uri", "form-action", "default-src")]
    return _verdicts(results) or passed("restricted", evidence=_rules("http.csp.directives", results))
