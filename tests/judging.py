"""Judge fact fixtures the way a scan does, for check tests.

Every check test goes through `scanner.judge.judge_subject` with the default registry and
the baseline policy, so a test depends on a check's id and the facts it reads, never on
the Python function behind the id or on how it builds its outcome. What comes back is the
`Finding` a report would show: status, severity, message, message_nl, evidence, key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from checks.registry import default_registry
from scanner.judge import Subject, judge_subject
from scanner.model import DEFAULT_PORTS, EndpointKind, Finding, Status
from scanner.policy import Policy, load_policy

REGISTRY = default_registry()
BASELINE = load_policy(None, REGISTRY)
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ENDPOINT = "https://www.example.test/"
MAIL_DOMAIN = "example.test"


def judge_all(facts: Mapping[str, Any], *, subject: str = "endpoint", target: str | None = None,
              kind: EndpointKind = EndpointKind.WEB, thresholds: Mapping[str, Any] | None = None,
              now: datetime = NOW, policy: Policy | None = None, estate: Mapping[str, Any] | None = None) -> list[Finding]:
    """Every finding the policy's checks give one subject with these facts.

    `subject` is "endpoint" (scheme and host come from `target`, as the runner derives
    them) or "mail_domain"; `thresholds` override the policy's by name (an unknown name is a
    test bug and fails); `estate` is what the run knows beyond the subject (judge.estate_view).
    A check that raised (a bug, "check failed" in a scan) fails the test.
    """
    return _sound(_judged(facts, subject, target, kind, thresholds, now, policy, estate))


def judge(check_id: str, facts: Mapping[str, Any], *, target: str | None = None,
          kind: EndpointKind = EndpointKind.WEB, thresholds: Mapping[str, Any] | None = None,
          now: datetime = NOW, policy: Policy | None = None, estate: Mapping[str, Any] | None = None) -> list[Finding]:
    """The findings of one check, on a subject of the type it judges (see judge_all)."""
    subject = REGISTRY[check_id].subject  # KeyError: no such check
    found = [f for f in _judged(facts, subject, target, kind, thresholds, now, policy, estate) if f.check == check_id]
    assert found, f"{check_id} gave no finding (disabled by the policy?)"
    return _sound(found)


def _judged(facts: Mapping[str, Any], subject: str, target: str | None, kind: EndpointKind,
            thresholds: Mapping[str, Any] | None, now: datetime, policy: Policy | None,
            estate: Mapping[str, Any] | None = None) -> list[Finding]:
    policy = policy or BASELINE
    if thresholds:
        unknown = set(thresholds) - set(policy.thresholds)
        assert not unknown, f"no check reads the thresholds {sorted(unknown)}"
        policy = dataclasses.replace(policy, thresholds={**policy.thresholds, **thresholds})
    if subject == "endpoint":
        target = target or ENDPOINT
        url = urlsplit(target)
        judged = Subject("endpoint", target, dict(facts), kind, url.scheme,
                         {"host": url.hostname, "port": url.port or DEFAULT_PORTS[url.scheme]})
    else:
        target = target or MAIL_DOMAIN
        judged = Subject(subject, target, dict(facts), info={"domain": target, "declared": True})
    return judge_subject(REGISTRY, policy, judged, now, estate)


def _sound(findings: list[Finding]) -> list[Finding]:
    crashed = [(f.check, f.message) for f in findings if f.message.startswith("check failed")]
    assert not crashed, crashed
    return findings


def judge_one(check_id: str, facts: Mapping[str, Any], **kw: Any) -> Finding:
    """The single finding of a check that gives one per subject."""
    (finding,) = judge(check_id, facts, **kw)
    return finding


def not_measured(finding: Finding) -> bool:
    """An `error` because a fact was missing (not a verdict, and not a crashed check)."""
    return finding.status == Status.ERROR and finding.message.startswith("not measured: ")
