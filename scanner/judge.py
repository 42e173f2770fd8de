"""Judgement: run every check the policy counts over stored facts. No I/O here.

The same function judges a fresh scan and a stored run (`bolwerk rescore`), which is
why facts are plain JSON and checks are pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from checks.catalogue import CatalogueError, Phrase, catalogue, localise, render
from checks.registry import Check, CheckContext, NotMeasured, Outcome, Registry
from scanner.model import EndpointKind, Finding, Status
from scanner.policy import Policy

JUDGED = (Status.FAIL, Status.WARN, Status.ERROR)


@dataclass
class Subject:
    """What checks look at: one endpoint or one mail domain, with its facts."""

    type: str  # "endpoint" | "mail_domain"
    target: str
    facts: dict[str, Any]
    kind: EndpointKind | None = None
    scheme: str | None = None
    info: dict[str, Any] = field(default_factory=dict)


def _applies(chk: Check, subject: Subject) -> Outcome | None:
    """Why a check does not apply to a subject (a not-applicable outcome), or None when it does."""
    if subject.type == "endpoint":
        if subject.kind is not None and subject.kind not in chk.kinds:
            return Outcome(Status.NOT_APPLICABLE, "common:not_judged_kind", {"kind": str(subject.kind)})
        if subject.scheme is not None and subject.scheme not in chk.schemes:
            return Outcome(Status.NOT_APPLICABLE, "common:not_judged_scheme", {"scheme": subject.scheme})
    return None


def run_check(chk: Check, ctx: CheckContext) -> list[Outcome]:
    try:
        result = chk.func(ctx)
    except NotMeasured as exc:
        return [Outcome(Status.ERROR, "common:not_measured", {"detail": Phrase(exc.code, **exc.params)})]
    except Exception as exc:  # a check bug must not lose the run; it shows as an error finding
        return [_check_failed(exc)]
    if isinstance(result, Outcome):
        return [result]
    return list(result)


def _check_failed(exc: Exception) -> Outcome:
    return Outcome(Status.ERROR, "common:check_failed", {"error": f"{type(exc).__name__}: {exc}"[:290]})


@dataclass
class Message:
    """An outcome's message rendered in every language, with the code and stored parameters."""

    en: str
    nl: str | None
    code: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


def message_of(chk: Check, out: Outcome) -> Message:
    """Render an outcome's message from the catalogue (a bug in a text is that check's error)."""
    try:
        params = {k: localise(v, chk.template) for k, v in out.params.items()}
        template = chk.template(out.code)
        return Message(render(template, params, "en"), render(template, params, "nl"), out.code, params)
    except CatalogueError as exc:
        if out.code == "common:check_failed":
            raise
        return message_of(chk, _check_failed(exc))


def judge_subject(registry: Registry, policy: Policy, subject: Subject, now: datetime) -> list[Finding]:
    findings: list[Finding] = []
    ctx = CheckContext(target=subject.target, facts=subject.facts, now=now, thresholds=policy.thresholds,
                       kind=subject.kind, subject=subject.info)
    for chk in registry:
        if chk.subject != subject.type:
            continue
        setting = policy.setting(chk)
        if not setting.enabled:
            continue
        reason = _applies(chk, subject)
        outcomes = [reason] if reason else run_check(chk, ctx)
        for out in outcomes:
            text = message_of(chk, out)
            findings.append(Finding(
                check=chk.id, pillar=chk.pillar, level=setting.level,
                severity=out.severity or chk.severity, status=out.status,
                target=out.target or subject.target, message=text.en,
                evidence=_cap_evidence(dict(out.evidence)), key=out.key,
                weight=setting.weight, message_nl=text.nl, subject=subject.target,
                code=text.code, params=text.params,
            ))
    return apply_waivers(findings, policy, now)


def apply_waivers(findings: Iterable[Finding], policy: Policy, now: datetime) -> list[Finding]:
    """Comply or explain: an active waiver turns a finding to `waived`, shown, never hidden.

    Only problems are waived (fail, warn, error); the first matching waiver applies. A
    waiver past its expiry date no longer applies: the finding keeps its status, and its
    message and `waiver.expired` say that a waiver existed and lapsed.
    """
    out = []
    for f in findings:
        if f.status in JUDGED:
            for w in policy.waivers:
                if not w.matches(f.check, f.target):
                    continue
                info = w.info() | {"original_status": str(f.status)}
                if w.active(now):
                    f.status = Status.WAIVED
                    f.waiver = info
                else:
                    f.waiver = info | {"expired": True}
                    lapsed = catalogue().template("", "", "common:waiver_expired")
                    date = {"date": w.expires.isoformat()}
                    f.message += render(lapsed, date, "en")
                    if f.message_nl:
                        f.message_nl += render(lapsed, date, "nl")
                break
        out.append(f)
    return out


def _cap_evidence(evidence: dict[str, Any], limit: int = 50) -> dict[str, Any]:
    """Evidence stays small: long lists and strings are cut, and say so."""
    out: dict[str, Any] = {}
    for key, value in evidence.items():
        if isinstance(value, list) and len(value) > limit:
            out[key] = value[:limit]
            out[f"{key}_truncated"] = len(value)
        elif isinstance(value, str) and len(value) > 1000:
            out[key] = value[:1000] + "..."
        else:
            out[key] = value
    return out
