"""The long tables of the dashboard's summary pages (services worst first, an organisation's
problems by check) as HTML fragments.

At 20,000 services the organisation and list pages hold some 60,000 table rows per language;
written by jinja2 macros they were most of the summary's time. Written here, each text escaped
with markupsafe as jinja2's autoescape does, they come out byte for byte as the macros wrote
them, several times faster; pieces that recur on many rows (a grade's badge, an organisation's
link, a check's heading, a status word) are made once per language and kept. The pages around
them are `templates/{index,organisation,list}.html`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from markupsafe import Markup, escape

from reports import charts
from reports.history import History
from reports.service_page import KEPT, Pieces
from scanner.model import PROBLEMS
from scanner.policy import INCOMPLETE

Spark = Callable[[list[Any], str], Markup]


class Tables(Pieces):
    """One language's rows of the summary pages' long tables, the pieces that recur kept."""

    def __init__(self, lang: str, t: Mapping[str, Any], texts: Mapping[str, Any], hist: History,
                 spark: Spark, org_slug: Callable[[str], str]) -> None:
        super().__init__()
        self.lang, self.t, self.texts, self.spark, self.org_slug = lang, t, texts, spark, org_slug
        self.trend = len(hist.points) > 1  # a sparkline column
        self.changes = hist.previous is not None  # a "since the previous run" column

    # -- services, one row each ---------------------------------------------------------

    def services(self, rows: Iterable[Mapping[str, Any]], root: str, with_org: bool = True) -> Markup:
        """The body of a table of services (ledger rows): name, organisation, grade, score and
        what the grade made of it, trend, open problems, change since the previous run."""
        t, piece, out = self.t, self.piece, []
        for s in rows:
            score = s["score"]
            out.append(f'<tr><th scope="row">{service_link(root, s["id"], s["name"])}</th>\n')
            if with_org:
                out.append(piece(("organisation", root, s["organisation"])))
            out.append(f'<td data-sort="{s["rank"]}">{piece(("badge", s["grade"]))}</td>\n'
                       f'<td data-sort="{score if score is not None else -1}">{self._verdict(s)}</td>\n')
            if self.trend:
                out.append(f'<td class="opt">{self.spark(s["series"], t["trend_of"] + " " + str(s["name"]))}</td>')
            out.append(f'<td class="num opt">{s["problems"]}</td>\n')
            if self.changes:
                out.append(f"<td>{self._change(s)}</td>")
            out.append("</tr>\n")
        return Markup("".join(out))

    def _organisation(self, root: str, organisation: str) -> str:
        return (f'<td class="opt"><a href="{root}organisations/{escape(self.org_slug(organisation))}.html">'
                f'{escape(organisation or self.t["no_organisation"])}</a></td>')

    def grade(self, grade: str | None) -> Markup:
        """A grade's badge."""
        return Markup(self.piece(("badge", grade)))

    def _badge(self, grade: str | None) -> str:
        extra = f'<span class="sr-only"> ({escape(self.t["incomplete"])})</span>' if grade == INCOMPLETE else ""
        return f'<span class="grade {charts.grade_class(grade)}">{escape(charts.grade_label(grade))}{extra}</span>'

    def _verdict(self, s: Mapping[str, Any]) -> str:
        """The score and what the grade made of it: "86 → F: certificate for another name"."""
        score, reason, lang = s["score"], s["reason"], self.lang
        out = '<span class="verdict">' + (f'<span class="score">{score:.0f}</span>' if score is not None else "")
        if reason:
            told = reason["reason"].get(lang) or reason["reason"]["en"]
            out += self.piece(("capped", s["grade"], told, reason["more"]))
        elif s["grade"] == INCOMPLETE:
            cause = s["cause"]
            out += self.piece(("incomplete", cause[lang] if cause else ""))
        return out + "</span>"

    def _capped(self, grade: str, reason: str, more: int) -> str:
        return f" → {escape(charts.grade_label(grade))}: {escape(reason)}" + (f" (+{more})" if more else "")

    def _incomplete(self, cause: str) -> str:
        return f" → {escape(self.t['incomplete'])}" + (f": {escape(cause)}" if cause else "")

    def _change(self, s: Mapping[str, Any]) -> str:
        """Regressed or improved, the grade before and after, and the first checks that made it so."""
        direction, change, piece = s["direction"], s["change"], self.piece
        out = piece(("direction", direction)) if direction in ("down", "up") else ""
        if change and change["grade"]:
            out += (f' <span class="meta">{escape(charts.grade_label(change["grade"][0]))} → '
                    f'{escape(charts.grade_label(change["grade"][1]))}</span>')
        why = change["new"] if direction == "down" else change["fixed"] if direction == "up" else []
        if why:
            titles = "; ".join(str(self.texts[c]["title"]) for c in why[:2])
            more = f" (+{len(why) - 2})" if len(why) > 2 else ""
            out += f'<br><span class="meta">{piece(("why", direction))}: {titles}{more}</span>'
        return out

    def _direction(self, direction: str) -> str:
        if direction == "down":
            return f'<span class="down">▼ {escape(self.t["regressed"])}</span>'
        return f'<span class="up">▲ {escape(self.t["improved"])}</span>'

    def _why(self, direction: str) -> str:
        return str(escape(self.t["newly_failing"] if direction == "down" else self.t["fixed_now"]))

    # -- an organisation's problems, one row per check ------------------------------------

    def check_groups(self, groups: Iterable[Mapping[str, Any]]) -> Markup:
        """The body of an organisation's table of open problems by check: the check and its
        advice, its level, how many services fail, error and warn, and the first of them."""
        piece, out = self.piece, []
        statuses = {status: piece(("status", status)) for status in PROBLEMS}
        for c in groups:
            sample = c["sample"]
            hits = c["fail"] + c["error"] + c["warn"]
            links = ", ".join(f"{link} {statuses[status]}" for link, status in sample)
            more = f" {escape(self.t['and_more'] % (hits - len(sample)))}" if hits > len(sample) else ""
            out.append(f'{piece(("check", c["check_id"], c["level"]))}\n<td class="num">{c["fail"]}</td>'
                       f'<td class="num">{c["error"]}</td><td class="num">{c["warn"]}</td>\n'
                       f"<td>{links}{more}</td></tr>\n")
        return Markup("".join(out))

    def _check(self, check_id: str, level: str) -> str:
        texts = self.texts[check_id]
        return (f'<tr><th scope="row">{texts["title"]} <code class="meta">{escape(check_id)}</code><br>'
                f'<span class="meta">{texts["remediation"]}</span></th>'
                f'<td>{escape(self.t["levels"][level]) if level else ""}</td>')

    def _status(self, status: str) -> str:
        return f'<span class="status s-{escape(status)}">({escape(self.t["statuses"][status])})</span>'


@lru_cache(maxsize=KEPT)  # a service is named on both languages' pages, and under many checks
def service_link(root: str, service_id: str, name: str) -> str:
    """A link to a service's page, by its name (the same in every language)."""
    return f'<a href="{root}services/{escape(service_id)}.html">{escape(name)}</a>'
