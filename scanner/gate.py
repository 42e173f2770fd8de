"""The CI gate's verdict: from a judged result (contract v1) to pass, fail or could-not-scan.

Pure: no I/O but reading a baseline file, so every rule is tested without a network.

Rules, per service:
- *could not scan*: an endpoint yielded no TLS, certificate or HTTP facts at all
  (name does not resolve, nothing answers), or the grade is `incomplete` (required checks
  could not run). A verdict on what was not measured would be a guess.
- *grade rule*: the grade is worse than ``min_grade``. With a baseline the grade may stay
  where the baseline had it (a ratchet): only a drop below both fails.
- *findings rule* (``fail_on``): a finding of that level or stricter failed. With a
  baseline only findings that are new since it count (by stable finding id), and
  ``fail_on`` defaults to ``recommended``.
Waived findings never count; a lapsed waiver no longer protects its finding.

Exit codes: 0 pass, 1 policy failed, 3 could not scan (an unreachable endpoint wins over
a policy failure: a half-scanned service has no verdict; an incomplete grade loses to a
definite failure elsewhere).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from reports.json import SCHEMA_ID
from scanner.exit_codes import EXIT_OK, EXIT_POLICY, EXIT_UNSCANNED
from scanner.inputfiles import BASELINE_LIMIT, read_bytes
from scanner.model import InputError
from scanner.policy import GRADES, INCOMPLETE, worse_than

FAIL_ON_LEVELS = {"required": ("required",), "recommended": ("required", "recommended")}
CONTENT_SECTIONS = ("tls", "certificate", "http")


@dataclass
class Baseline:
    """What an earlier result knew: failing finding ids and grades, per service."""

    path: str
    policy: str
    failing: set[str]
    grades: dict[str, str | None]

    @classmethod
    def load(cls, path: Path | str) -> Baseline:
        raw = read_bytes(path, "baseline", BASELINE_LIMIT)
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise InputError(str(path), f"baseline is not JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("schema") != SCHEMA_ID or not isinstance(data.get("services"), list):
            raise InputError(str(path), f"not a Bolwerk result (expected \"schema\": \"{SCHEMA_ID}\"; "
                                        "write one with `bolwerk scan --json` or `bolwerk gate --json`)")
        failing, grades = set(), {}
        for n, svc in enumerate(data["services"]):
            if not isinstance(svc, dict) or not isinstance(svc.get("findings", []), list):
                raise InputError(str(path), f"services[{n}]: not a service with a findings list")
            grades[str(svc.get("id"))] = svc.get("grade")
            for i, f in enumerate(svc.get("findings", [])):
                if not isinstance(f, dict) or not isinstance(f.get("waiver") or {}, dict):
                    raise InputError(str(path), f"services[{n}].findings[{i}]: not a finding")
                original = (f.get("waiver") or {}).get("original_status")
                if f.get("status") == "fail" or (f.get("status") == "waived" and original == "fail"):
                    failing.add(str(f.get("id")))
        run = data.get("run") if isinstance(data.get("run"), dict) else {}
        return cls(str(path), str(run.get("policy", "")), failing, grades)


@dataclass
class ServiceVerdict:
    id: str
    name: str
    grade: str | None
    failures: list[str] = field(default_factory=list)  # why the policy failed, one line each
    unscanned: list[str] = field(default_factory=list)  # why it could not be judged
    tolerated: list[str] = field(default_factory=list)  # what the baseline let through
    failing_ids: list[str] = field(default_factory=list)  # findings that fail the gate
    held_to: str | None = None  # the baseline's grade, when the grade passed only by being no worse than it

    @property
    def state(self) -> str:
        if self.unscanned and not self.failures:
            return "unscanned"
        return "fail" if self.failures else "pass"


@dataclass
class Verdict:
    exit_code: int
    reason: str  # the one line printed last
    services: list[ServiceVerdict]
    min_grade: str
    fail_on: str | None
    baseline: Baseline | None
    new_ids: set[str] = field(default_factory=set)  # failing findings absent from the baseline
    known_ids: set[str] = field(default_factory=set)  # failing findings the baseline already had
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.exit_code == EXIT_OK

    @property
    def label(self) -> str:
        return {EXIT_OK: "PASS", EXIT_POLICY: "FAIL"}.get(self.exit_code, "COULD NOT SCAN")

    def to_json(self) -> dict[str, Any]:
        return {
            "result": self.label.lower().replace(" ", "_"), "exit_code": self.exit_code, "reason": self.reason,
            "min_grade": self.min_grade, "fail_on": self.fail_on,
            "baseline": self.baseline.path if self.baseline else None,
            "new_findings": sorted(self.new_ids), "known_findings": sorted(self.known_ids),
            "services": [{"id": s.id, "state": s.state, "grade": s.grade, "failures": s.failures,
                          "unscanned": s.unscanned, "tolerated": s.tolerated} for s in self.services],
            "notes": self.notes,
        }


def unreachable(endpoint: dict[str, Any]) -> str | None:
    """Why an endpoint yielded no content facts at all, or None when something was measured."""
    facts = endpoint.get("facts") or {}
    sections = [facts.get(name) for name in CONTENT_SECTIONS if name in facts]
    if not endpoint.get("collected", True):
        return "not collected (the run was interrupted)"
    if sections and all(isinstance(s, dict) and s.get("error") for s in sections):
        return str(sections[-1]["error"])
    return None


# Why a target could not be reached, from its error facts: (pattern, cause, what to try), first match wins.
CAUSES = (
    (r"no A or AAAA record|NXDOMAIN|does not exist|not a valid DNS name", "the name does not resolve",
     "check the names, and pass --resolver when they exist only in an internal DNS"),
    (r"DNS lookup .* (timed out|failed)|the resolver failed", "DNS did not answer",
     "check the resolver (--resolver) and that this machine may reach it on port 53"),
    (r"[Nn]etwork is unreachable|[Nn]o route to host", "network unreachable",
     "this machine has no route to the targets: check its network, proxy or firewall"),
    (r"connection refused|[Cc]onnection refused", "connection refused",
     "nothing listens on those ports: check the URLs' ports and schemes"),
    (r"timed out|did not complete within|timeout", "timed out",
     "something drops the traffic (a firewall?); on a slow network raise --io-timeout"),
    (r"outside the scan's scope|address|special", "refused by Bolwerk's address policy",
     "the names point into private or special address space: see --allow-network in the README"),
)


def unreached_cause(result: dict[str, Any]) -> str | None:
    """When no endpoint could be reached at all, why, in one paragraph: each cause with the
    number of endpoints it stopped ("network unreachable for 25 of 25 endpoints") and what to
    try for the most common one; None when something was measured (DNS answers alone do not count)."""
    causes: dict[str, int] = {}
    advice: dict[str, str] = {}
    total = 0
    for svc in result["services"]:
        for ep in svc["endpoints"]:
            total += 1
            why = unreachable(ep)
            if why is None:
                return None
            cause, hint = next(((c, h) for pattern, c, h in CAUSES if re.search(pattern, why)), (one_line(why, 120), ""))
            causes[cause] = causes.get(cause, 0) + 1
            advice[cause] = hint
    if not total:
        return None
    ranked = sorted(causes.items(), key=lambda item: -item[1])
    told = ", ".join(f"{cause} for {count} of {total} endpoint{'' if total == 1 else 's'}" for cause, count in ranked)
    hint = advice[ranked[0][0]]
    return f"no target reachable: {told}" + (f"; {hint}" if hint else "") + "."


def decide(result: dict[str, Any], min_grade: str = "B", fail_on: str | None = None,
           baseline: Baseline | None = None) -> Verdict:
    if min_grade not in GRADES:
        raise InputError("--min-grade", f"must be one of {', '.join(GRADES)}")
    if fail_on is not None and fail_on not in FAIL_ON_LEVELS:
        raise InputError("--fail-on", f"must be one of {', '.join(FAIL_ON_LEVELS)}")
    effective_fail_on = fail_on or ("recommended" if baseline else None)
    levels = FAIL_ON_LEVELS.get(effective_fail_on or "", ())
    policy = result["run"]["policy"]
    verdict = Verdict(EXIT_OK, "", [], min_grade, effective_fail_on, baseline)
    if baseline and baseline.policy and baseline.policy != policy:
        verdict.notes.append(f"the baseline was judged under {baseline.policy}, this run under {policy}; "
                             "finding ids do not depend on the policy, grades do")

    for svc in result["services"]:
        sv = ServiceVerdict(svc["id"], svc.get("name", svc["id"]), svc.get("grade"))
        verdict.services.append(sv)
        for ep in svc.get("endpoints", []):
            why = unreachable(ep)
            if why:
                sv.unscanned.append(f"{ep['target']}: {why}")
        grade = svc.get("grade")
        if grade == INCOMPLETE or grade is None:
            detail = next((c for c in svc.get("caps", []) if c.startswith(INCOMPLETE)), "nothing was judged")
            sv.unscanned.append(f"grade incomplete ({detail.removeprefix(INCOMPLETE + ': ')})")
        elif worse_than(grade, min_grade):
            before = baseline.grades.get(svc["id"]) if baseline else None
            why = "; ".join(svc.get("caps", [])) or f"score {svc.get('score')}"
            if before in GRADES and not worse_than(grade, before):
                sv.tolerated.append(f"grade {grade} is below {min_grade} but no worse than the baseline's {before}")
                sv.held_to = before
            else:
                since = f" (baseline: {before})" if baseline and before else ""
                sv.failures.append(f"grade {grade} below {min_grade}{since}: {why}")

        for f in svc.get("findings", []):
            if f["status"] != "fail":
                continue
            known = baseline is not None and f["id"] in baseline.failing
            (verdict.known_ids if known else verdict.new_ids).add(f["id"])
            if f["level"] not in levels:
                continue
            line = f"{f['check']} ({f['level']}, {f['severity']}) failed on {f['target']}: {f['message']}"
            if known:
                sv.tolerated.append(f"known since the baseline: {line}")
            else:
                sv.failures.append(("new: " if baseline else "") + line)
                sv.failing_ids.append(f["id"])

    verdict.exit_code, verdict.reason = _conclude(verdict, policy)
    return verdict


def waiver_notes(result: dict[str, Any], waivers: list[Any], today: date, soon_days: int = 30) -> list[str]:
    """What the gate should say about waivers: lapsed, lapsing soon, or matching nothing."""
    notes, used = [], set()
    for svc in result["services"]:
        for f in svc.get("findings", []):
            w = f.get("waiver")
            if not w:
                continue
            used.add((w.get("check"), w.get("target")))
            if w.get("expired"):
                notes.append(f"waiver for {f['check']} on {f['target']} (owner {w.get('owner')}) expired on "
                             f"{w.get('expires')}: the finding counts again")
    for w in waivers:
        if (w.check, w.target) not in used:
            notes.append(f"waiver for {w.check} on {w.target} matched no problem in this run; is it still needed?")
        elif today <= w.expires and (w.expires - today).days <= soon_days:
            notes.append(f"waiver for {w.check} on {w.target} (owner {w.owner}) expires on {w.expires.isoformat()}, "
                         f"in {(w.expires - today).days} days")
    return notes


def one_line(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _conclude(v: Verdict, policy: str) -> tuple[int, str]:
    code, reason = _conclusion(v, policy)
    return code, one_line(reason, 600)


def _conclusion(v: Verdict, policy: str) -> tuple[int, str]:
    failed = [s for s in v.services if s.failures]
    unreach = [s for s in v.services if any(not u.startswith("grade incomplete") for u in s.unscanned)]
    incomplete = [s for s in v.services if s.unscanned and s not in unreach]
    if unreach:
        first = next(u for u in unreach[0].unscanned if not u.startswith("grade incomplete"))
        more = f" (and {len(unreach) - 1} more services)" if len(unreach) > 1 else ""
        return EXIT_UNSCANNED, f"bolwerk: gate: could not scan {unreach[0].id}: {first}{more}"
    if failed:
        first = failed[0]
        more = f"; {len(failed) - 1} more failing services" if len(failed) > 1 else ""
        extra = f" (+{len(first.failures) - 1} more)" if len(first.failures) > 1 else ""
        return EXIT_POLICY, (f"bolwerk: gate: FAIL under {policy}: {first.id}: {first.failures[0]}{extra}{more}")
    if incomplete:
        return EXIT_UNSCANNED, (f"bolwerk: gate: could not judge {incomplete[0].id}: {incomplete[0].unscanned[0]} "
                                "(waive or disable checks that cannot run from here)")
    rule = f"grade {v.min_grade} or better"
    held = [s for s in v.services if s.held_to]
    if held:  # say what was required of them: the baseline's grade, not min_grade
        shown = ", ".join(f"{s.id} at {s.grade}" for s in held[:3]) + (f" and {len(held) - 3} more" if len(held) > 3 else "")
        rule += f" or no worse than the baseline ({shown}, as in the baseline)"
    if v.fail_on:
        rule += f", no {'new ' if v.baseline else ''}{v.fail_on}-level failures"
    tolerated = sum(len(s.tolerated) for s in v.services)
    note = f"; {tolerated} known problems tolerated by the baseline" if tolerated else ""
    n = len(v.services)
    return EXIT_OK, f"bolwerk: gate: PASS under {policy}: {n} service{'' if n == 1 else 's'}, {rule}{note}"
