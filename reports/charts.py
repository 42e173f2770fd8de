"""The dashboard's pictures as inline SVG: a stacked grade bar, sparklines and trend charts.

Inline SVG needs no image request and no script, prints, and scales with the page; colours
come from the stylesheet's classes (grade classes as on the badges), so a chart and a badge
never disagree. Every chart carries a text alternative (`role="img"`, `aria-label`, a
`<title>` per mark) and the page gives its figures as text or a table too: a picture is
never the only way to read a number. Text in a chart is escaped here (markupsafe).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from markupsafe import Markup, escape

from scanner.policy import GRADES, INCOMPLETE

ORDER = (*GRADES, INCOMPLETE)  # the order of a stacked bar: best first
SPARK_HEIGHT = 24


def grade_class(grade: str | None) -> str:
    if not grade or grade == INCOMPLETE:
        return "g-inc"
    return "g-ap" if grade == "A+" else f"g-{grade.lower()}"


def grade_label(grade: str | None) -> str:
    return "?" if grade in (None, INCOMPLETE) else grade


def fmt(value: float | None) -> str:
    """A score as the pages print it."""
    return "—" if value is None else f"{value:.0f}"


def heat_class(score: float | None) -> str:
    """A score's band for a heat-map cell (the number is printed in the cell as well)."""
    if score is None:
        return "h-none"
    return next(f"h-{n}" for n, floor in enumerate((90, 75, 60, 40, 0)) if score >= floor)


def _svg(width: float, height: float, label: str, body: str, css: str) -> Markup:
    return Markup(f'<svg class="{css}" viewBox="0 0 {width:g} {height:g}" role="img" aria-label="{escape(label)}" '
                  f'preserveAspectRatio="none">{body}</svg>')


def grade_bar(counts: Mapping[str | None, int], label: str, describe: Mapping[str, str]) -> Markup:
    """A 100-wide stacked bar of grade counts; `describe[grade]` names a segment in its <title>."""
    total = sum(counts.values())
    x, body = 0.0, []
    for grade in ORDER:
        n = counts.get(grade, 0)
        if not n or not total:
            continue
        w = 100 * n / total
        body.append(f'<rect class="{grade_class(grade)}" x="{x:.2f}" y="0" width="{w:.2f}" height="10">'
                    f"<title>{escape(describe[grade])}: {n}</title></rect>")
        x += w
    return _svg(100, 10, label, "".join(body), "bar")


def badness(grade: str | None) -> float | None:
    """A grade's height on a sparkline: 0 for A+ (top) to 1 for F (bottom); None for no grade."""
    return GRADES.index(grade) / (len(GRADES) - 1) if grade in GRADES else None


def sparkline(values: Sequence[float | None], changed: Sequence[bool], label: str, last: str | None) -> Markup:
    """A small line of values between 0 (best, on top) and 1 (worst) over the runs, a dashed line
    where the policy changed, a dot in the colour of `last` (a grade) at the end; a point
    without a value (not in that run, or not graded) leaves a gap."""
    return _svg(100, SPARK_HEIGHT, label, _sparkline_body(tuple(values), tuple(changed), last), "spark")


def grade_sparkline(grades: tuple[str | None, ...], changed: tuple[bool, ...], label: str) -> Markup:
    """The sparkline of a service's grades over the runs (None where it had none)."""
    return _svg(100, SPARK_HEIGHT, label, _grade_sparkline_body(grades, changed), "spark")


@lru_cache(maxsize=10_000)  # summary pages draw a service's sparkline 80,000 times, most alike (few grade histories)
def _grade_sparkline_body(grades: tuple[str | None, ...], changed: tuple[bool, ...]) -> str:
    return _sparkline_body(tuple(badness(g) for g in grades), changed, grades[-1] if grades else None)


def _sparkline_body(values: tuple[float | None, ...], changed: tuple[bool, ...], last: str | None) -> str:
    n = len(values)
    step = 100 / max(n - 1, 1)
    height = SPARK_HEIGHT
    parts, line = [], []
    for i, value in enumerate(values):
        if changed[i]:
            parts.append(f'<line class="policy" x1="{(i - 0.5) * step:.1f}" y1="0" x2="{(i - 0.5) * step:.1f}" '
                         f'y2="{height}"/>')
        if value is None:
            if len(line) > 1:
                parts.append(f'<polyline points="{" ".join(line)}"/>')
            line = []
            continue
        line.append(f"{i * step:.1f},{2 + value * (height - 4):.1f}")
    if len(line) > 1:
        parts.append(f'<polyline points="{" ".join(line)}"/>')
    if values and values[-1] is not None:
        parts.append(f'<circle class="{grade_class(last)}" cx="{(n - 1) * step:.1f}" '
                     f'cy="{2 + values[-1] * (height - 4):.1f}" r="2.5"/>')
    return "".join(parts)


def trend_chart(points: Sequence[str], counts: Sequence[Mapping[str | None, int]], changed: Sequence[bool],
                label: str, describe: Mapping[str, str], policy_word: str) -> Markup:
    """One column per run: the share of each grade stacked (best on top, worst at the bottom), and
    a marked line where the policy changed."""
    n = max(len(points), 1)
    width, height, top, bottom = 600, 220, 8, 196
    col = width / n
    bar = min(col * 0.7, 60)
    parts = []
    for i, (day, tally) in enumerate(zip(points, counts, strict=True)):
        total = sum(tally.values())
        x = i * col + (col - bar) / 2
        y = float(bottom)
        for grade in reversed(ORDER):  # worst at the bottom
            k = tally.get(grade, 0)
            if not k or not total:
                continue
            h = (bottom - top) * k / total
            y -= h
            parts.append(f'<rect class="{grade_class(grade)}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                         f'height="{h:.1f}"><title>{escape(day)} · {escape(describe[grade])}: {k}</title></rect>')
        parts.append(_column_marks(i, n, col, day, changed[i], top, bottom, height, policy_word))
    return Markup(f'<svg class="trend" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">'
                  f'{"".join(parts)}</svg>')


def grade_chart(points: Sequence[str], series: Sequence[tuple[str | None, float | None] | None],
                changed: Sequence[bool], label: str, policy_word: str) -> Markup:
    """One service's grade per run (A+ on top, F at the bottom, the letters on the axis), each
    point in its grade's colour, its score in the point's <title>."""
    grid, marks, columns = _grade_axes(tuple(points), tuple(changed), policy_word)
    parts, line = [grid], []
    for i, item in enumerate(series):
        x = columns[i]
        parts.append(marks[i])
        height_of = badness(item[0]) if item else None
        if item is None or height_of is None:
            if item:  # in that run, not graded
                parts.append(f'<text class="na" x="{x:.1f}" y="{CHART_BOTTOM + 4}" text-anchor="middle">?</text>')
            continue
        y = CHART_TOP + height_of * (CHART_BOTTOM - CHART_TOP)
        line.append(f"{x:.1f},{y:.1f}")
        score = "" if item[1] is None else f" ({item[1]:.0f})"
        parts.append(f'<circle class="{grade_class(item[0])}" cx="{x:.1f}" cy="{y:.1f}" r="5">'
                     f"<title>{escape(points[i])}: {escape(grade_label(item[0]))}{score}</title></circle>")
    if len(line) > 1:
        parts.insert(1, f'<polyline class="mean" points="{" ".join(line)}"/>')
    return Markup(f'<svg class="trend" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img" aria-label="{escape(label)}">'
                  f'{"".join(parts)}</svg>')


CHART_WIDTH, CHART_HEIGHT, CHART_TOP, CHART_BOTTOM = 600, 150, 10, 120  # of a service's grade chart


@lru_cache(maxsize=16)  # the same runs on every service's chart
def _grade_axes(points: tuple[str, ...], changed: tuple[bool, ...], policy_word: str) -> tuple[str, list[str], list[float]]:
    """What a grade chart over these runs draws whatever the service: the grades' lines, each
    run's marks (its date, the policy change), and the middle of each run's column."""
    width, left = CHART_WIDTH, 28
    n = max(len(points), 1)
    col = (width - left) / n
    heights = [CHART_TOP + k * (CHART_BOTTOM - CHART_TOP) / (len(GRADES) - 1) for k in range(len(GRADES))]
    grid = "".join(f'<text x="4" y="{y + 4:.1f}">{g}</text><line class="grid" x1="{left}" y1="{y:.1f}" x2="{width}" '
                   f'y2="{y:.1f}"/>' for g, y in zip(GRADES, heights, strict=True))
    marks = [_column_marks(i, n, col, day, changed[i], CHART_TOP, CHART_BOTTOM, CHART_HEIGHT, policy_word, left)
             for i, day in enumerate(points)]
    return grid, marks, [left + i * col + col / 2 for i in range(len(points))]


def _column_marks(i: int, n: int, col: float, day: str, changed: bool, top: float, bottom: float, height: float,
                  policy_word: str, left: float = 0) -> str:
    """A column's date under the axis (at most twelve dates), and a marked line where the policy changed."""
    out = ""
    x = left + i * col
    if changed:
        out += (f'<line class="policy" x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{bottom}"/>'
                f'<text class="policy-label" x="{x + 3:.1f}" y="{top + 8}">{escape(policy_word)}</text>')
    if n <= 12 or i % ((n + 11) // 12) == 0:
        out += f'<text x="{x + col / 2:.1f}" y="{height - 6}" text-anchor="middle">{escape(day)}</text>'
    return out
