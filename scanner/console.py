"""What the command line shows on a terminal: the progress bar, the grade table, the summary
line, the gate's verdict and why nothing could be reached.

Only the CLI uses this; the runner reports progress through a callback and knows no terminal.
Results go to stdout (the table, unless an output took stdout), everything else to stderr.
Colour only on a terminal, and never with --no-color or NO_COLOR set (no-color.org).
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Any

import click

from reports.html import texts
from scanner.gate import Verdict, one_line
from scanner.model import Severity
from scanner.policy import GRADES, INCOMPLETE
from scanner.runner import Progress

GRADE_COLOURS = {"A+": "green", "A": "green", "B": "green", "C": "yellow", "D": "yellow", "E": "red", "F": "red",
                 INCOMPLETE: "magenta"}
SEVERITIES = tuple(str(s) for s in Severity)  # worst first
SHOWN_STATUSES = ("fail", "warn", "error")  # what --severity lists under a service


def plural(count: int, word: str) -> str:
    """ "1 service", "2 services", "0 endpoints" """
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def use_colour(no_color: bool, stream: IO[str] | None = None) -> bool:
    """Colour on a terminal unless --no-color or a non-empty NO_COLOR says otherwise."""
    stream = stream or sys.stdout
    return not no_color and not os.environ.get("NO_COLOR") and stream.isatty()


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


@dataclass
class Row:
    """One service in the grade table, with the findings --severity asked to show."""

    id: str
    grade: str | None
    score: float | None
    why: str
    findings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rank(self) -> tuple[int, float, str]:
        """Worst first: incomplete (nothing to go on), then F up to A+, low scores first."""
        place = -1 if self.grade not in GRADES else len(GRADES) - GRADES.index(self.grade)
        return place, -1.0 if self.score is None else self.score, self.id


def _rows(result: dict[str, Any], lang: str, severity: str | None) -> list[Row]:
    services = result["services"]
    if severity is None and hasattr(services, "verdicts"):
        services = services.verdicts()  # a stored run: no facts or findings read
    shown = SEVERITIES[: SEVERITIES.index(severity) + 1] if severity else ()
    rows = []
    for svc in services:
        detail = svc.get("caps_detail")
        why = ("; ".join(cap["reason"].get(lang) or cap["reason"]["en"] for cap in detail) if detail is not None
               else "; ".join(svc.get("caps") or []))
        findings = [f for f in svc.get("findings", []) if f["status"] in SHOWN_STATUSES and f["severity"] in shown]
        rows.append(Row(svc["id"], svc["grade"], svc["score"], why, findings))
    return sorted(rows, key=lambda r: r.rank)


def print_table(result: dict[str, Any], lang: str = "en", colour: bool = False, severity: str | None = None) -> None:
    """The run's services on stdout, worst first: grade, score, service and why the grade is capped;
    with `severity`, each service's problems of that severity or worse under its row."""
    words = texts()[lang]
    rows = _rows(result, lang, severity)
    table = [(words["grade"], words["score"], words["service"], words["caps"])]
    table += [(r.grade or "-", "-" if r.score is None else f"{r.score:.1f}", r.id, r.why) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(3)]
    for n, line in enumerate(table):
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        if n == 0:
            cells = [click.style(c, bold=True) for c in cells]
        elif line[0] in GRADE_COLOURS:
            cells[0] = click.style(cells[0], fg=GRADE_COLOURS[line[0]], bold=True)
        click.echo("  ".join([*cells, line[3]]).rstrip(), color=colour)
        for f in rows[n - 1].findings if n else ():
            status = click.style(f"{f['status']:<5}", fg={"fail": "red", "warn": "yellow"}.get(f["status"], "magenta"))
            click.echo(f"    {status} {f['severity']:<8} {f['check']}  {one_line(f['message'], 200)}", color=colour)


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
    return (f"bolwerk: run {result['run']['id']} {state}: {plural(len(result['services']), 'service')}, "
            f"{plural(endpoints, 'endpoint')} in {seconds:.1f} s under {result['run']['policy']}; "
            f"grades: {dist or 'none'}")


def print_verdict(verdict: Verdict, quiet: bool = False) -> None:
    """The gate's verdict on stderr, per service (unless `quiet`), its reason last (what CI logs show)."""
    for sv in () if quiet else verdict.services:
        state = {"pass": "pass", "fail": "FAIL", "unscanned": "could not scan"}[sv.state]
        click.echo(f"bolwerk: gate: {sv.id}: grade {sv.grade or '-'}: {state}", err=True)
        for line in (sv.unscanned + sv.failures)[:20]:
            click.echo(f"  - {one_line(line)}", err=True)
        if len(sv.unscanned + sv.failures) > 20:
            click.echo(f"  - ... and {len(sv.unscanned + sv.failures) - 20} more (see --json or --markdown)", err=True)
    for note in verdict.notes:
        click.echo(f"bolwerk: note: {one_line(note)}", err=True)
    click.echo(verdict.reason, err=True)
