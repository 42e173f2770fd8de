"""What changed between two stored runs, per service: the grade, and problems new, fixed or no longer judged.

Problems (fail, warn, error) are matched by their stable finding id, so a finding that
merely changed its message is neither new nor fixed. A problem that is gone is *fixed*
only when its check still judged that subject in the later run; when the check no longer
ran there (another policy left it out, the endpoint left the inventory, it was not
collected) it is *no longer judged*, which says nothing about the server. Compare runs
judged under the same policy (`bolwerk rescore` one of them otherwise): `same_policy`
says whether they were.

A service *regressed* when its grade fell, or, its grade unchanged, a check now fails that
did not; it *improved* when its grade rose, or, unchanged, a failure was fixed and none
appeared. The dashboard, `bolwerk diff` and the notifications all use this one reading.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from scanner.model import PROBLEMS
from scanner.policy import GRADES, worse_than
from scanner.store import Store


@dataclass
class ServiceChange:
    id: str
    state: str  # "added", "removed" or "changed"
    grade: tuple[str | None, str | None] | None = None  # (before, after) when the grade moved
    new: list[dict[str, Any]] = field(default_factory=list)  # problems now that were not before
    fixed: list[dict[str, Any]] = field(default_factory=list)  # problems before, judged now and gone
    unjudged: list[dict[str, Any]] = field(default_factory=list)  # problems before whose check no longer ran there
    name: str = ""
    organisation: str = ""

    @property
    def direction(self) -> str | None:
        """"down" (regressed), "up" (improved) or None, as the module's docstring defines them."""
        if self.grade and self.grade[0] in GRADES and self.grade[1] in GRADES:
            return "down" if worse_than(self.grade[1], self.grade[0]) else "up"
        if any(f["status"] == "fail" for f in self.new):
            return "down"
        if any(f["status"] == "fail" for f in self.fixed):
            return "up"
        return None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name, "organisation": self.organisation,
                               "state": self.state, "direction": self.direction}
        if self.grade:
            out["grade"] = {"before": self.grade[0], "after": self.grade[1]}
        for key, items in (("new", self.new), ("fixed", self.fixed), ("no_longer_judged", self.unjudged)):
            out[key] = [_brief(f) for f in items]
        return out


@dataclass
class RunDiff:
    runs: tuple[str, str]
    policies: tuple[str, str]
    services: list[ServiceChange]  # only services that changed, by id

    @property
    def same_policy(self) -> bool:
        return self.policies[0] == self.policies[1]

    def count(self, what: str) -> int:
        """Services that regressed ("down"), improved ("up"), were "added" or "removed"."""
        if what in ("added", "removed"):
            return sum(c.state == what for c in self.services)
        return sum(c.direction == what for c in self.services)

    @property
    def regressed(self) -> bool:
        return self.count("down") > 0

    def to_json(self) -> dict[str, Any]:
        """The diff as `bolwerk diff --json` writes it (and a webhook receives it)."""
        return {
            "schema": "bolwerk/diff/v1",
            "runs": {"before": self.runs[0], "after": self.runs[1]},
            "policies": {"before": self.policies[0], "after": self.policies[1]},
            "same_policy": self.same_policy,
            "summary": {"regressed": self.count("down"), "improved": self.count("up"),
                        "added": self.count("added"), "removed": self.count("removed")},
            "services": [c.to_json() for c in self.services],
        }


def compare_service(before: dict[str, Any], after: dict[str, Any]) -> ServiceChange:
    """One service in two runs (each with its grade and findings): what changed."""
    fa, fb = (_problems(svc) for svc in (before, after))
    gone = [fa[i] for i in sorted(set(fa) - set(fb))]
    judged = {(f["check"], f.get("subject") or f["target"]) for f in after["findings"]} if gone else set()
    if gone and (short := after.get("short_findings")):  # read apart (Store.service(short=True))
        judged |= {(body["check"], group) for group, _, _, body in short.entries()}
    return ServiceChange(
        after["id"], "changed", (before["grade"], after["grade"]) if before["grade"] != after["grade"] else None,
        new=[fb[i] for i in sorted(set(fb) - set(fa))],
        fixed=[f for f in gone if (f["check"], f.get("subject") or f["target"]) in judged],
        unjudged=[f for f in gone if (f["check"], f.get("subject") or f["target"]) not in judged],
        name=after.get("name", ""), organisation=after.get("organisation") or "")


def diff_runs(store: Store, run_a: str, run_b: str) -> RunDiff:
    """Run A (before) against run B (after), read one service at a time."""
    changes = []
    for sid, in_a, in_b in _merged(store.service_ids(run_a), store.service_ids(run_b)):
        if not (in_a and in_b):
            svc = store.service(run_b if in_b else run_a, sid, facts="none")
            changes.append(ServiceChange(sid, "added" if in_b else "removed", name=svc.get("name", ""),
                                         organisation=svc.get("organisation") or ""))
            continue
        change = compare_service(store.service(run_a, sid, facts="none"), store.service(run_b, sid, facts="none"))
        if change.grade or change.new or change.fixed or change.unjudged:
            changes.append(change)
    return RunDiff((run_a, run_b), (store.run(run_a)["policy"], store.run(run_b)["policy"]), changes)


def _merged(a: Iterator[str], b: Iterator[str]) -> Iterator[tuple[str, bool, bool]]:
    """Two sorted id streams as one: (id, in a, in b)."""
    x, y = next(a, None), next(b, None)
    while x is not None or y is not None:
        if y is None or (x is not None and x < y):
            yield x, True, False
            x = next(a, None)
        elif x is None or y < x:
            yield y, False, True
            y = next(b, None)
        else:
            yield x, True, True
            x, y = next(a, None), next(b, None)


def _problems(svc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in svc["findings"] if f["status"] in PROBLEMS}


def _brief(finding: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "check", "pillar", "level", "severity", "status", "target", "message", "message_nl")
    return {k: finding[k] for k in keys if k in finding}


def diff_lines(diff: RunDiff) -> list[str]:
    """The diff as `bolwerk diff` prints it: a block per changed service."""
    lines = []
    for change in diff.services:
        if change.state != "changed":
            lines.append(f"{change.id}: {change.state}")
            continue
        lines.append(f"{change.id}:" + {"down": " regressed", "up": " improved", None: ""}[change.direction])
        if change.grade:
            lines.append(f"  grade {change.grade[0]} -> {change.grade[1]}")
        lines += [f"  new:   {f['check']} {f['status']} on {f['target']}: {f['message']}" for f in change.new]
        lines += [f"  fixed: {f['check']} on {f['target']}" for f in change.fixed]
        lines += [f"  no longer judged: {f['check']} on {f['target']}" for f in change.unjudged]
    return lines
