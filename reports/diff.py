"""What changed between two stored runs, per service: the grade, and problems new or fixed.

Problems (fail, warn, error) are matched by their stable finding id, so a finding that
merely changed its message is neither new nor fixed. Compare runs judged under the same
policy (`bolwerk rescore` one of them otherwise): `same_policy` says whether they were.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scanner.store import Store

PROBLEMS = ("fail", "warn", "error")


@dataclass
class ServiceChange:
    id: str
    state: str  # "added", "removed" or "changed"
    grade: tuple[str | None, str | None] | None = None  # (before, after) when the grade moved
    new: list[dict[str, Any]] = field(default_factory=list)  # problems now that were not before
    fixed: list[dict[str, Any]] = field(default_factory=list)  # problems before that are gone


@dataclass
class RunDiff:
    runs: tuple[str, str]
    policies: tuple[str, str]
    services: list[ServiceChange]  # only services that changed, by id

    @property
    def same_policy(self) -> bool:
        return self.policies[0] == self.policies[1]


def diff_runs(store: Store, run_a: str, run_b: str) -> RunDiff:
    """Run A (before) against run B (after)."""
    before, after = ({s["id"]: s for s in store.services(r)} for r in (run_a, run_b))
    changes = []
    for sid in sorted(set(before) | set(after)):
        old, new = before.get(sid), after.get(sid)
        if old is None or new is None:
            changes.append(ServiceChange(sid, "added" if old is None else "removed"))
            continue
        fa, fb = (_problems(svc) for svc in (old, new))
        change = ServiceChange(sid, "changed", (old["grade"], new["grade"]) if old["grade"] != new["grade"] else None,
                               [fb[i] for i in sorted(set(fb) - set(fa))], [fa[i] for i in sorted(set(fa) - set(fb))])
        if change.grade or change.new or change.fixed:
            changes.append(change)
    return RunDiff((run_a, run_b), (store.run(run_a)["policy"], store.run(run_b)["policy"]), changes)


def _problems(svc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in svc["findings"] if f["status"] in PROBLEMS}


def diff_lines(diff: RunDiff) -> list[str]:
    """The diff as `bolwerk diff` prints it: a block per changed service."""
    lines = []
    for change in diff.services:
        if change.state != "changed":
            lines.append(f"{change.id}: {change.state}")
            continue
        lines.append(f"{change.id}:")
        if change.grade:
            lines.append(f"  grade {change.grade[0]} -> {change.grade[1]}")
        lines += [f"  new:   {f['check']} {f['status']} on {f['target']}: {f['message']}" for f in change.new]
        lines += [f"  fixed: {f['check']} on {f['target']}" for f in change.fixed]
    return lines
