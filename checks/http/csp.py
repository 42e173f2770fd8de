"""Content-Security-Policy: whether one is enforced (and what in it browsers skip), and rule by
rule (checks/http/csp_policy.py) whether it stops injected scripts, restricts plugins, the base
URL and form targets, and, as an optional lint, the other kinds of resources.
"""

from __future__ import annotations

from typing import Any

from checks.catalogue import Phrase
from checks.http import csp_policy
from checks.http.common import DATA, http_facts, in_english, not_a_page, page_url, policies
from checks.registry import (
    BROWSER_KINDS,
    CheckContext,
    Outcome,
    check,
    failed,
    info,
    not_applicable,
    passed,
    warned,
)
from scanner.model import Severity
from scanner.standards import csp

_RULE_SEVERITY = {rule: Severity(level) for rule, level in DATA["csp_severity"].items()}
ISSUES_SHOWN = 5  # grammar issues named in a message (evidence keeps up to 20)


def _enforced(ctx: CheckContext) -> tuple[list[csp.Policy], Outcome | None]:
    if (skip := not_a_page(ctx)) is not None:
        return [], skip
    found = policies(http_facts(ctx))
    if not any(p.enforced for p in found):
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


def _problems(sent: list[csp.Policy]) -> tuple[list[Phrase], dict[str, Any]]:
    """What browsers skip in the enforced policies (CSP3 §2.2.1, §2.3.1), in words and as evidence."""
    issues = [i for p in sent for i in p.issues]
    odd = sorted({i.token for i in issues if i.code == "repeated"})
    bad = sorted({i.token for i in issues if i.code == "directive_name"})
    rest = [i for i in issues if i.code not in ("repeated", "directive_name")]
    parts = ([Phrase("repeated", directives=odd)] if odd else []) + ([Phrase("malformed", names=bad)] if bad else [])
    parts += [Phrase(f"issue_{i.code}", token=i.token, position=i.position + 1) for i in rest[:ISSUES_SHOWN]]
    evidence = {"duplicates": odd, "invalid": bad}
    if rest:
        evidence["issues"] = [i.as_dict() for i in rest[:20]]
    return parts, evidence


@check("http.csp", pillar="http", level="recommended", severity="medium", kinds=BROWSER_KINDS)
def csp_enforced(ctx: CheckContext):
    if (skip := not_a_page(ctx)) is not None:
        return skip
    found = policies(http_facts(ctx))
    sent = [p for p in found if p.source != csp.REPORT_ONLY]
    header = [p for p in sent if p.source == csp.HEADER and p.enforced]
    meta = [p for p in sent if p.source == csp.META and p.enforced]
    report_only = [p for p in found if p.source == csp.REPORT_ONLY]
    evidence: dict[str, Any] = {"policy": [p.raw for p in sent]}
    if report_only:
        evidence["report_only"] = [p.raw for p in report_only]
    if not header and not meta:
        if ignored := sorted({d for p in sent for d in p.ignored}):
            return failed("meta_only_ignored", directives=ignored, evidence=evidence)
        if report_only:
            return warned("report_only", evidence=evidence)
        return failed("missing", evidence=evidence)
    parts, more = _problems(header + meta)
    if parts:
        return warned("problems", problems=parts, evidence=evidence | more)
    where = Phrase("by_header") if header else Phrase("by_meta")
    if report_only:
        return passed("enforced_and_report_only", where=where, evidence=evidence)
    return passed("enforced", where=where, evidence=evidence)


@check("http.csp.script", pillar="http", level="recommended", severity="high", kinds=BROWSER_KINDS)
def csp_script(ctx: CheckContext):
    found, skip = _enforced(ctx)
    if skip:
        return skip
    results = [r for r in csp_policy.analyse(found, page_url(http_facts(ctx)))
               if r.rule in (*csp_policy.SCRIPT_RULES, "script-src")]
    return _verdicts(results) or passed("scripts_restricted", evidence=_rules("http.csp.script", results))


@check("http.csp.directives", pillar="http", level="recommended", severity="medium", kinds=BROWSER_KINDS)
def csp_directives(ctx: CheckContext):
    found, skip = _enforced(ctx)
    if skip:
        return skip
    results = [r for r in csp_policy.analyse(found, page_url(http_facts(ctx)))
               if r.rule in ("object-src", "base-uri", "form-action", "default-src")]
    return _verdicts(results) or passed("restricted", evidence=_rules("http.csp.directives", results))


@check("http.csp.resources", pillar="http", level="optional", severity="low", kinds=BROWSER_KINDS)
def csp_resources(ctx: CheckContext):
    found, skip = _enforced(ctx)
    if skip:
        return skip
    spec = DATA["csp_resources"]
    results = csp_policy.resources(found, page_url(http_facts(ctx)), spec["kinds"])
    out = [(info if r.rule in spec["info"] else warned)(
        r.message.code, key=r.rule, evidence=r.evidence() | {"rule": r.rule}, **r.message.params) for r in results]
    return out or passed("resources_restricted", kinds=spec["kinds"])
