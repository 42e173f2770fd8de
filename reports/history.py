"""The history a dashboard draws: the last runs of the store, like compared with like, and how
long each open problem has been open.

A trend point is one *scan*: a run and the runs that re-judged its facts (`bolwerk
rescore`) share it. For each scan the point takes the run judged under the current run's
policy when there is one (so `bolwerk rescore` of older runs makes a trend compare like with
like), else the scan's own run; `like` says whether it was judged as the current run was,
and a change of policy between two points is marked on every chart. Changes "since the
previous run" compare with the newest earlier point judged like the current run only.

The age of a problem comes from its stable finding id: walking back from the current run,
it is open since the oldest run of an unbroken stretch in which the same id was a problem
(an earlier run's problems read in brief, `Store.problems`, not its findings).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from scanner.store import Store

DEPTH = 12  # scans a trend shows


@dataclass(frozen=True)
class Point:
    """One scan on a trend: the run standing for it and the policy it was judged under."""

    run: str
    started: str
    policy: str
    like: bool  # judged under the current run's policy
    policy_changed: bool  # judged under another policy than the point before it

    @property
    def day(self) -> str:
        return self.started[:10]


@dataclass
class Tally:
    """The grade counts of an estate or an organisation in one run."""

    grades: Counter = field(default_factory=Counter)


@dataclass
class History:
    points: list[Point]  # oldest first; the current run last
    estate: list[Tally]  # one per point
    organisations: dict[str, list[Tally]]  # per organisation, one per point

    @property
    def current(self) -> Point:
        return self.points[-1]

    @property
    def earlier(self) -> list[Point]:
        """The points before the current run, newest first."""
        return self.points[-2::-1]

    @property
    def previous(self) -> Point | None:
        """The newest earlier point judged like the current run: what "since the previous run" means."""
        return next((p for p in self.earlier if p.like), None)

    @property
    def policy_changes(self) -> bool:
        return any(p.policy_changed for p in self.points)


def history(store: Store, run_id: str, depth: int = DEPTH) -> History:
    """The trend points of `run_id` (at most `depth`, itself the last) and the tallies of each."""
    current = store.run(run_id)
    rows = store.earlier_runs(run_id)
    by_id = {r["id"]: r for r in rows}

    def scan_of(row: dict[str, Any]) -> str:
        while row["rescored_from"] in by_id:
            row = by_id[row["rescored_from"]]
        return row["id"]

    def like(row: dict[str, Any]) -> bool:
        if row["policy_digest"] and current["policy_digest"]:
            return row["policy_digest"] == current["policy_digest"]
        return row["policy"] == current["policy"]

    chosen: dict[str, dict[str, Any]] = {scan_of(by_id[run_id]): by_id[run_id]}
    for row in rows:  # newest first
        scan = scan_of(row)
        kept = chosen.get(scan)
        if kept is None:
            if len(chosen) >= depth:
                continue
            chosen[scan] = row
        elif kept["id"] != run_id and like(row) and not like(kept):
            chosen[scan] = row
    picked = sorted(chosen.values(), key=lambda r: (r["started"], r["id"]))
    points, estate, per_point = [], [], []
    for n, row in enumerate(picked):
        before = picked[n - 1] if n else None
        changed = before is not None and (row["policy_digest"] or row["policy"]) != (
            before["policy_digest"] or before["policy"])
        points.append(Point(row["id"], row["started"], row["policy"], like(row), changed))
        total, per_org = Tally(), defaultdict(Tally)
        for organisation, grade, count in store.grade_counts(row["id"]):
            total.grades[grade] += count
            per_org[organisation].grades[grade] += count
        estate.append(total)
        per_point.append(per_org)
    names = sorted(set().union(*per_point))
    return History(points, estate, {name: [per_org.get(name, Tally()) for per_org in per_point] for name in names})


def service_series(store: Store, hist: History, service_id: str,
                   now: tuple[str | None, float | None]) -> list[tuple[str | None, float | None] | None]:
    """(grade, score) of one service at each point (None where the run had no such service)."""
    return [store.grade(p.run, service_id) for p in hist.points[:-1]] + [now]


def open_since(store: Store, hist: History, service_id: str, open_ids: set[str],
               known: dict[str, set[str]] | None = None) -> dict[str, tuple[Point, bool]]:
    """For each open problem (its finding id), the point since which it has been open, and
    whether it was already open at the oldest point shown (so open at least that long).
    `known` holds the problem ids of runs the caller has read already, by run."""
    since = {fid: hist.current for fid in open_ids}
    remaining = set(open_ids)
    for point in hist.earlier:
        if not remaining:
            break
        if known and point.run in known:
            problems = known[point.run]
        else:
            problems = {f["id"] for f in store.problems(point.run, service_id) or []}
        remaining &= problems
        for fid in remaining:
            since[fid] = point
    return {fid: (point, fid in remaining and point is hist.points[0]) for fid, point in since.items()}
