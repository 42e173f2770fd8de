"""Scoring: findings -> pillar scores -> service score and grade, every number from the policy.

Per subject (endpoint or mail domain) and pillar: weighted points earned over points
possible (pass full, warn partial, fail nothing), each check counted once by its worst
finding; a failed required check caps that pillar. Subjects combine by the worst. The service score is the weighted mean of its
scored pillars; the grade follows from the score and is then capped by policy rules,
each cap listed so a grade is always explainable. Errors and waivers never count as a
pass or a fail; a required check that could not run makes the grade `incomplete`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from scanner.model import PILLARS, Finding, Level, Status
from scanner.policy import GRADES, INCOMPLETE, Policy, worse

COUNTED = (Status.PASS, Status.WARN, Status.FAIL)


@dataclass
class ServiceScore:
    score: float | None
    grade: str
    caps: list[str] = field(default_factory=list)
    pillars: dict[str, dict[str, Any]] = field(default_factory=dict)


def score_service(findings: list[Finding], policy: Policy) -> ServiceScore:
    earned: dict[tuple[str, str], float] = defaultdict(float)
    possible: dict[tuple[str, str], float] = defaultdict(float)
    required_failed: dict[tuple[str, str], list[str]] = defaultdict(list)
    # A check counts once per subject, by its worst finding: a weak CSP failing four rules,
    # or three MX hosts, weigh as one check, so adding findings never outweighs a major check.
    counted: dict[tuple[str, str, str], Finding] = {}
    for f in findings:
        f.points = None
        if f.status not in COUNTED or f.weight <= 0:
            continue
        slot = (f.subject or f.target, f.pillar, f.check)
        if slot not in counted or COUNTED.index(f.status) > COUNTED.index(counted[slot].status):
            counted[slot] = f
    for (subject, pillar, _), f in counted.items():
        key = (subject, pillar)
        fraction = {Status.PASS: 1.0, Status.WARN: policy.warn_fraction, Status.FAIL: 0.0}[f.status]
        f.points = round(f.weight * fraction, 3)
        earned[key] += f.points
        possible[key] += f.weight
        if f.status == Status.FAIL and f.level == Level.REQUIRED:
            required_failed[key].append(f.check)

    pillars: dict[str, dict[str, Any]] = {}
    for pillar in PILLARS:
        worst: tuple[float, str] | None = None
        for key in possible:
            if key[1] != pillar or possible[key] == 0:
                continue
            value = 100.0 * earned[key] / possible[key]
            if required_failed[key]:
                value = min(value, policy.required_fail_cap)
            if worst is None or value < worst[0]:
                worst = (value, key[0])
        if worst is not None:
            pillars[pillar] = {"score": round(worst[0], 1), "worst": worst[1]}

    total_weight = sum(policy.pillar_weights[p] for p in pillars)
    score = None
    if pillars and total_weight > 0:
        score = round(sum(pillars[p]["score"] * policy.pillar_weights[p] for p in pillars) / total_weight, 1)

    caps: list[str] = []
    capped = GRADES[0]
    for cap in policy.caps:
        hits = [f for f in findings if cap.matches(f.check) and f.status in cap.statuses]
        if hits:
            capped = worse(capped, cap.grade)
            checks = ", ".join(sorted({f.check for f in hits}))
            targets = ", ".join(sorted({f.target for f in hits}))
            caps.append(f"{cap.grade}: {cap.reason or cap.check} ({checks} on {targets})")
    grade = worse(policy.grade_for(score), capped) if score is not None else capped
    unmeasured = sorted({f.check for f in findings if f.status == Status.ERROR and f.level == Level.REQUIRED})
    # Unmeasured required checks leave the grade open, unless measured caps already put it at the floor.
    if (unmeasured or score is None) and capped != GRADES[-1]:
        caps.append(f"{INCOMPLETE}: required checks could not run: {', '.join(unmeasured) or 'nothing was measured'}")
        grade = INCOMPLETE
    return ServiceScore(score, grade, caps, pillars)
