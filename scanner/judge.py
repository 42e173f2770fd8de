"""Judgement: run every check the policy counts over stored facts, score, store the verdicts.

The same functions judge a fresh scan (after the runner collected its facts) and a
stored run (`bolwerk rescore`), which is why facts are plain JSON and checks are pure.
No network here: only the store is read and written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from checks.catalogue import CatalogueError, Phrase, catalogue, localise, render
from checks.registry import Check, CheckContext, NotMeasured, Outcome, Registry
from checks.tls.view import sslv2_keys
from scanner import __version__
from scanner.model import EndpointKind, Finding, InputError, Status
from scanner.policy import INCOMPLETE, LANGUAGES, Policy
from scanner.scoring import GradeCap, ServiceScore, score_service
from scanner.store import Store, new_run_id
from scanner.times import parse_rfc3339

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


def judge_subject(registry: Registry, policy: Policy, subject: Subject, now: datetime,
                  estate: Mapping[str, Any] | None = None) -> list[Finding]:
    findings: list[Finding] = []
    ctx = CheckContext(target=subject.target, facts=subject.facts, now=now, thresholds=policy.thresholds,
                       kind=subject.kind, subject=subject.info, estate=estate or {})
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


def subjects_of(svc: dict[str, Any]) -> list[Subject]:
    """Stored service (definition + facts) -> the subjects checks judge."""
    out = []
    for ep in svc["endpoints"]:
        stored = svc["endpoint_facts"].get(ep["target"])
        if stored is None:
            continue
        out.append(Subject("endpoint", ep["target"], stored["facts"], EndpointKind(ep["kind"]), ep["scheme"],
                           {"host": ep["host"], "port": ep["port"], "addresses": stored["addresses"]}))
    for md in svc["mail_domains"]:
        facts = svc["mail_facts"].get(md["domain"])
        if facts is not None:
            out.append(Subject("mail_domain", md["domain"], facts, info=md))
    return out


def estate_view(services: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """What a check of one subject may know of the whole run: the certificate keys that are
    served with SSL 2.0, and where (DROWN reaches every host sharing such a key). Small: one
    entry per SSL 2.0 host, whatever the size of the estate."""
    sslv2: dict[str, set[str]] = {}
    for svc in services:
        for subject in subjects_of(svc):
            for target, key in sslv2_keys(subject):
                sslv2.setdefault(key, set()).add(target)
    return {"sslv2_keys": {key: sorted(targets) for key, targets in sslv2.items()}}


def judge_service(svc: dict[str, Any], registry: Registry, policy: Policy, now: datetime,
                  estate: Mapping[str, Any] | None = None) -> tuple[ServiceScore, list[dict[str, Any]]]:
    findings = []
    for subject in subjects_of(svc):
        findings.extend(judge_subject(registry, policy, subject, now, estate))
    result = score_service(findings, policy)
    findings.sort(key=lambda f: (f.pillar, f.check, f.target, f.id))
    seen: dict[str, Finding] = {}
    for f in findings:  # a check that says two things of one target must tell them apart by `key`
        if (twin := seen.setdefault(f.id, f)) is not f:
            raise ValueError(f"{f.check} gave two findings on {f.target} for {f.subject} with the same key "
                             f"{f.key!r} ({twin.message!r}, {f.message!r})")
    return result, [f.to_dict() for f in findings]


def judge_run(store: Store, run_id: str, registry: Registry, policy: Policy, now: datetime,
              service_ids: Iterable[str] | None = None, estate: Mapping[str, Any] | None = None) -> None:
    """Judge and score every service of a stored run (or those named), replacing earlier
    verdicts; one service at a time, read from the store and written back. `estate` is the
    whole run's view (estate_view), made here from the store when not given.

    A service whose judgement fails (a bug, a store error) is graded `incomplete` with the
    reason; the other services and the run are kept.
    """
    if estate is None:
        estate = estate_view(store.iter_services(run_id))
    for sid in store.service_ids(run_id) if service_ids is None else service_ids:
        try:
            svc = store.service(run_id, sid)
            result, findings = judge_service(svc, registry, policy, now, estate)
            store.save_judgement(run_id, sid, result.score, result.grade, result.caps, result.pillars, findings,
                                 [cap.to_dict() for cap in result.caps_detail])
        except Exception as exc:  # one service must never lose the run
            result = judgement_failed(exc)
            store.save_judgement(run_id, sid, None, result.grade, result.caps, {}, [],
                                 [cap.to_dict() for cap in result.caps_detail])


def judgement_failed(exc: Exception) -> ServiceScore:
    """The verdict of a service that could not be judged: `incomplete`, saying why."""
    template = catalogue().template("", "", "common:judgement_failed")
    error = {"error": f"{type(exc).__name__}: {exc}"[:290]}
    reason = {lang: render(template, error, lang) for lang in LANGUAGES}
    return ServiceScore(None, INCOMPLETE, [GradeCap(INCOMPLETE, "judgement_failed", reason, [], [])])


def stored_policy(run: dict[str, Any], registry: Registry) -> Policy | None:
    """The policy a stored run was judged under, as the run keeps it (None for runs stored
    before runs kept their policy)."""
    return Policy.from_data(run["policy_data"], registry) if run["policy_data"] else None


def refuse_other_policy(run: dict[str, Any], policy: Policy) -> None:
    """A resumed run is judged under the policy it started with, never under another."""
    kept = run["policy_digest"]
    if (policy.digest() == kept) if kept else (policy.ref == run["policy"]):
        return
    was = f"{run['policy']} (digest {kept[:12]})" if kept else run["policy"]
    given = f"{policy.ref} (digest {policy.digest()[:12]})" if kept else policy.ref
    raise InputError("--policy", f"run {run['id']} was started under {was}, not {given}: resume it without "
                                 "--policy, or start a new scan")


def rescore(store: Store, run_ref: str, registry: Registry, policy: Policy) -> str:
    """Re-judge a stored run under another policy, as a new run; no network at all."""
    source = store.resolve_run(run_ref)
    run = store.run(source)
    new_id = new_run_id()
    store.start_run(new_id, run["started"], __version__, policy.ref, run["inventory"], run["options"],
                    rescored_from=source, policy_digest=policy.digest(), policy_data=policy.to_data())
    now = parse_rfc3339(run["started"])
    store.copy_facts(source, new_id)
    judge_run(store, new_id, registry, policy, now)
    store.finish_run(new_id, run["complete"])
    return new_id
