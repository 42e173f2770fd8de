"""Scoring: findings -> pillar scores -> service score and grade, every number from the policy.

Per subject (endpoint or mail domain) and pillar: weighted points earned over points
possible (pass full, warn partial, fail nothing), each check counted once by its worst
finding; a failed required check caps that pillar. Subjects combine by the worst. The service score is the weighted mean of its
scored pillars; the grade follows from the score and is then capped by policy rules,
each cap kept as a record (grade, reason code, reason per language, the checks and
targets that triggered it) so a grade is always explainable, in either language. Errors and waivers never count as a
pass or a fail; a required check that could not run makes the grade `incomplete`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from scanner.model import PILLARS, Finding, Level, Status
from scanner.policy import GRADES, INCOMPLETE, Policy, worse

COUNTED = (Status.PASS, Status.WARN, Status.FAIL)
# Bolwerk's own reason for the `incomplete` grade (policy caps carry the policy's reasons).
INCOMPLETE_REASON = {"en": "required checks could not run", "nl": "verplichte controles konden niet worden uitgevoerd"}
# The words of contract v1's English cap lines (`caps`), fixed whatever the reports' texts say.
CONTRACT_WORDS = {"cap_on": "on", "cap_incomplete": INCOMPLETE, "cap_nothing_measured": "nothing was measured"}


@dataclass(frozen=True)
class GradeCap:
    """One rule that held a grade down: a policy cap that fired, or `incomplete`."""

    grade: str  # the grade it caps at, or "incomplete"
    code: str  # "cap:<check>" (or the policy's own code), "incomplete"
    reason: dict[str, str]  # per language
    checks: list[str]  # the check ids that triggered it (for `incomplete`: those that could not run)
    targets: list[str]  # where they did

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cap_text(cap: Mapping[str, Any], lang: str, words: Mapping[str, str]) -> str:
    """A cap record told in one language: "B: reason (checks on targets)".

    `words` are that language's "cap_on", "cap_incomplete" and "cap_nothing_measured";
    with CONTRACT_WORDS and "en" this is contract v1's line in `caps`.
    """
    checks = ", ".join(cap["checks"])
    reason = cap["reason"].get(lang) or cap["reason"]["en"]
    if cap["grade"] == INCOMPLETE:  # Bolwerk's own "incomplete" names what could not run; other reasons say it all
        detail = checks or (words["cap_nothing_measured"] if cap["code"] == INCOMPLETE else "")
        return f"{words['cap_incomplete']}: {reason}" + (f": {detail}" if detail else "")
    return f"{cap['grade']}: {reason} ({checks} {words['cap_on']} {', '.join(cap['targets'])})"


@dataclass
class ServiceScore:
    score: float | None
    grade: str
    caps_detail: list[GradeCap] = field(default_factory=list)
    pillars: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def caps(self) -> list[str]:
        """The caps as contract v1's English lines."""
        return [cap_text(c.to_dict(), "en", CONTRACT_WORDS) for c in self.caps_detail]


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

    caps: list[GradeCap] = []
    capped = GRADES[0]
    for cap in policy.caps:
        hits = [f for f in findings if f.status in cap.statuses and cap.matches(f.check)]
        if hits:
            capped = worse(capped, cap.grade)
            caps.append(GradeCap(cap.grade, cap.code, dict(cap.reason), sorted({f.check for f in hits}),
                                 sorted({f.target for f in hits})))
    grade = worse(policy.grade_for(score), capped) if score is not None else capped
    unmeasured = [f for f in findings if f.status == Status.ERROR and f.level == Level.REQUIRED]
    # Unmeasured required checks leave the grade open, unless measured caps already put it at the floor.
    if (unmeasured or score is None) and capped != GRADES[-1]:
        caps.append(GradeCap(INCOMPLETE, INCOMPLETE, dict(INCOMPLETE_REASON), sorted({f.check for f in unmeasured}),
                             sorted({f.target for f in unmeasured})))
        grade = INCOMPLETE
    return ServiceScore(score, grade, caps, pillars)
