"""What the command line shows on a terminal: the progress bar, the summary table and line.

Only the CLI uses this; the runner reports progress through a callback and knows no terminal.
"""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

import click

from scanner.gate import Verdict, one_line
from scanner.model import PILLARS
from scanner.policy import GRADES, INCOMPLETE
from scanner.runner import Progress


def stderr_progress() -> Progress | None:
    """A progress bar on a terminal, nothing in CI (the CLI prints a summary line)."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int, label: str) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label[:50]:<50}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def print_summary(result: dict[str, Any]) -> None:
    """One row per service: grade, score and pillar scores."""
    rows = [("service", "organisation", "grade", "score", *PILLARS)]
    services = result["services"]
    verdicts = services.verdicts() if hasattr(services, "verdicts") else services  # a stored run: no facts read
    for svc in sorted(verdicts, key=lambda s: (s["organisation"], s["name"])):
        pillars = [f"{svc['pillars'][p]['score']:.0f}" if p in svc["pillars"] else "-" for p in PILLARS]
        score = "-" if svc["score"] is None else f"{svc['score']:.1f}"
        rows.append((svc["id"], svc["organisation"][:34], svc["grade"] or "-", score, *pillars))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def summary_line(result: dict[str, Any], seconds: float) -> str:
    services = result["services"]
    verdicts = services.verdicts() if hasattr(services, "verdicts") else services  # a stored run: no facts read
    grades: Counter[str] = Counter()
    endpoints = 0
    for svc in verdicts:
        grades[svc["grade"]] += 1
        endpoints += len(svc["endpoints"])
    order = [*GRADES, INCOMPLETE]
    dist = ", ".join(f"{g} {grades[g]}" for g in order if grades[g])
    state = "complete" if result["run"]["complete"] else "INCOMPLETE"
    return (f"bolwerk: run {result['run']['id']} {state}: {len(result['services'])} services, {endpoints} endpoints "
            f"in {seconds:.1f} s under {result['run']['policy']}; grades: {dist or 'none'}")


def print_verdict(verdict: Verdict) -> None:
    """The gate's verdict on stderr, per service, its reason last (what CI logs show)."""
    for sv in verdict.services:
        state = {"pass": "pass", "fail": "FAIL", "unscanned": "could not scan"}[sv.state]
        click.echo(f"bolwerk: gate: {sv.id}: grade {sv.grade or '-'}: {state}", err=True)
        for line in (sv.unscanned + sv.failures)[:20]:
            click.echo(f"  - {one_line(line)}", err=True)
        if len(sv.unscanned + sv.failures) > 20:
            click.echo(f"  - ... and {len(sv.unscanned + sv.failures) - 20} more (see --json or --markdown)", err=True)
    for note in verdict.notes:
        click.echo(f"bolwerk: note: {one_line(note)}", err=True)
    click.echo(verdict.reason, err=True)
