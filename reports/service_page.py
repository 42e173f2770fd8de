"""A service page, whole: its verdict, trend, pillar scores, findings (problems first with their
age, evidence and remediation; passes and the rest folded into one line per check) and endpoints.

The dashboard writes a page per service and language (40,000 pages for 20,000 services), so
the page is written here in Python rather than by a template (a jinja2 template cost about
twice as much): every value from a finding, the inventory or a server is escaped with
markupsafe (as jinja2's autoescape does), the interface's texts are escaped once per language,
and pieces that recur across services (a check's heading and advice, a pass line) are kept
(`Phrases`). The frame around the page (head, navigation, footer) is `templates/base.html`,
shared with the summary pages and rendered once per language (`ServicePage`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from markupsafe import escape

from reports.charts import fmt, grade_chart, grade_class, grade_label, heat_class
from reports.history import History
from scanner.model import PILLARS, PROBLEMS
from scanner.policy import INCOMPLETE

KEPT = 50_000  # pieces a Phrases or a summary page's Tables keeps
KEPT_TEXT = 20_000_000  # characters of pieces they keep (a service's list of passes is one piece)
STATUS_ORDER = {"fail": 0, "error": 1, "warn": 2, "waived": 3, "info": 4, "pass": 5, "not_applicable": 6}


def _indented(evidence: Any) -> str:
    """JSON as json.dumps(indent=1, sort_keys=True) writes it, by orjson (two spaces an indent,
    halved here) where it can: json's indented encoder is Python, a page has tens of these."""
    try:
        text = orjson.dumps(evidence, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode("utf-8")
    except TypeError:  # an integer beyond 64 bits, a key that is not a string
        return json.dumps(evidence, indent=1, ensure_ascii=False, sort_keys=True)
    return _INDENT.sub(lambda m: "\n" + " " * (len(m[1]) // 2), text)


_INDENT = re.compile(r"\n( +)")


class Item:
    """One problem (fail, error, warn, waived) as the page shows it, the same in every language."""

    __slots__ = ("check", "status", "target", "messages", "level", "severity", "waiver", "evidence", "since",
                 "at_least", "new")

    def __init__(self, f: Mapping[str, Any]) -> None:
        self.check, self.status, self.target = f["check"], f["status"], f["target"]
        self.messages = {"en": f["message"], "nl": f.get("message_nl") or f["message"]}
        self.level, self.severity, self.waiver = f["level"], f["severity"], f.get("waiver")
        self.evidence = str(escape(_indented(f["evidence"]))) if f["evidence"] else ""
        self.since: str | None = None  # when it was first seen open (a run's start), with more than one run
        self.at_least = False  # open already at the oldest run shown
        self.new = False  # first seen in this run


def _order(f: Mapping[str, Any]) -> tuple[int, str, str, str]:
    return STATUS_ORDER.get(f["status"], 9), f["pillar"], f["check"], f["target"]


class Findings:
    """A service's findings sorted for its page, in a form each language's page is written from."""

    def __init__(self, findings: list[dict[str, Any]], ages: Mapping[str, Any], hist: History) -> None:
        problems, others = [], []
        passes: Counter = Counter()  # (pillar, check) -> targets that pass it
        for f in findings:  # each kind sorted apart: passes need only be counted
            status = f["status"]
            if status == "pass":
                passes[f["pillar"], f["check"]] += 1
            elif status in PROBLEMS or status == "waived":
                problems.append(f)
            else:
                others.append(f)
        self.problems: list[Item] = []
        for f in sorted(problems, key=_order):
            item = Item(f)
            since = ages.get(f["id"])
            if since and len(hist.points) > 1:
                item.since, item.at_least, item.new = since[0].started, since[1], since[0] is hist.current
            self.problems.append(item)
        self.passes = [(check, n) for (_, check), n in sorted(passes.items())]  # (check, targets that pass it)
        grouped = Counter((f["status"], f["check"], f["message"], f.get("message_nl") or f["message"])
                          for f in sorted(others, key=_order))
        self.others = [(status, check, {"en": en, "nl": nl}, n) for (status, check, en, nl), n in grouped.items()]

    def problems_html(self, phrases: Phrases) -> str:
        t, piece, out = phrases.t, phrases.piece, []
        for f in self.problems:
            waiver = (f'<p class="meta">{escape(t["waiver"])}: {escape(f.waiver.get("reason", ""))} '
                      f'({escape(f.waiver.get("owner", ""))}, {escape(f.waiver.get("expires", ""))})</p>'
                      if f.waiver else "")
            out.append(
                f'{piece(("head", f.status, f.check, f.level, f.severity))}<code>{escape(f.target)}</code></p>\n'
                f'<p>{escape(f.messages[phrases.lang])}</p>\n'
                f'{piece(("age", f.since, f.at_least, f.new)) if f.since else ""}{waiver}{piece(("advice", f.check))}'
                f'{piece(("evidence_label",)) + f.evidence + "</pre></details>" if f.evidence else ""}</article>\n')
        return "".join(out)

    def passes_html(self, phrases: Phrases) -> str:
        return phrases.piece(("passes", tuple(self.passes)))

    def others_html(self, phrases: Phrases) -> str:
        piece, lang = phrases.piece, phrases.lang
        return "".join(piece(("other", status, check, message[lang], n)) for status, check, message, n in self.others)


class Pieces:
    """Pieces of pages, each escaped and formatted once and then reused, by key: its kind first
    (the method `_<kind>` makes it), then what it is made of. At most KEPT pieces or KEPT_TEXT
    characters are kept (then all are dropped), so memory does not grow with the estate."""

    def __init__(self) -> None:
        self._kept: dict[tuple[Any, ...], str] = {}
        self._text = 0  # characters kept

    def piece(self, key: tuple[Any, ...]) -> str:
        """The piece for `key`, made when first asked."""
        piece = self._kept.get(key)
        if piece is None:
            if len(self._kept) >= KEPT or self._text >= KEPT_TEXT:
                self._kept.clear()
                self._text = 0
            piece = self._kept[key] = getattr(self, f"_{key[0]}")(*key[1:])
            self._text += len(piece)
        return piece


class Phrases(Pieces):
    """One language's pieces of service pages: a check's heading and advice, a pass line, an
    info line recur on thousands of pages."""

    def __init__(self, lang: str, t: Mapping[str, Any], texts: Mapping[str, Any], day: Callable[[str], str]) -> None:
        super().__init__()
        self.lang, self.t, self.texts, self.day = lang, t, texts, day

    def _head(self, status: str, check: str, level: str, severity: str) -> str:
        """A problem's opening up to its target: status, title, check, level, severity."""
        t = self.t
        return (f'<article class="finding s-{escape(status)}-box">\n<h3><span class="status s-{escape(status)}">'
                f'{escape(t["statuses"][status])}</span> {self.texts[check]["title"]}</h3>\n'
                f'<p class="meta"><code>{escape(check)}</code> · {escape(t["levels"][level])} · '
                f'{escape(t["severity"])}: {escape(t["severities"][severity])} · {escape(t["target"])}: ')

    def _advice(self, check: str) -> str:
        c, t = self.texts[check], self.t
        fix = f'<p><strong>{escape(t["remediation"])}:</strong> {c["remediation"]}</p>' if c["remediation"] else ""
        refs = (f'<p class="meta">{escape(t["references"])}: {escape("; ".join(c["references"]))}</p>'
                if c["references"] else "")
        return fix + refs

    def _age(self, since: str, at_least: bool, new: bool) -> str:
        t = self.t
        age = (f"<strong>{escape(t['new_this_run'])}</strong>" if new else
               f"{escape(t['open_since_at_least'] if at_least else t['open_since'])} {escape(self.day(since))}")
        return f'<p class="age">{age}</p>'

    def _evidence_label(self) -> str:
        return f'<details><summary>{escape(self.t["evidence"])}</summary><pre>'

    def _passes(self, passes: tuple[tuple[str, int], ...]) -> str:
        """A service's list of passes, kept whole: services on one platform pass the same checks
        (the 2,000 services of the bench estate have 133 lists between them)."""
        return "".join(self.piece(("passed", check, n)) for check, n in passes)

    def _passed(self, check: str, n: int) -> str:
        return f"<li>{self.texts[check]['title']}{self._count(n)}</li>"

    def _other(self, status: str, check: str, message: str, n: int) -> str:
        return (f'<li><span class="status s-{escape(status)}">{escape(self.t["statuses"][status])}</span> '
                f'{self.texts[check]["title"]}: {escape(message)}{self._count(n)}</li>')

    def _count(self, n: int) -> str:
        return f' <span class="meta">({escape(self.t["targets_count"] % n)})</span>' if n > 1 else ""


class ServicePage:
    """One language's service pages. `frame` is base.html rendered once for this language around
    three slots (the page's title, the service id in the link to the other language, the
    content), as `Site.frame` cuts it; what fills them is escaped here. The sections follow
    each other as the reader meets them (`_verdict`, `_trend`, ...)."""

    def __init__(self, phrases: Phrases, frame: list[str], hist: History, points: list[str]) -> None:
        self.phrases, self.frame, self.hist, self.points = phrases, frame, hist, points  # points: the runs' days
        t = phrases.t
        self.t = t
        # the interface's texts, escaped once (a text with a `%` is formatted before escaping)
        self.e = {key: str(escape(value)) for key, value in t.items() if isinstance(value, str)}
        self.heads = "".join(f'<th scope="col" class="num">{escape(t["pillar"][p])}</th>' for p in PILLARS)
        self.changed = [p.policy_changed for p in hist.points]

    def html(self, svc: Mapping[str, Any], findings: Findings, series: list[Any], change: Any, caps: list[str],
             cause: str | None, reason: str | None, reason_more: int, org_href: str) -> str:
        """The page of `svc`: its findings sorted (`findings`), its (grade, score) per run of the
        trend (`series`), the change since the previous run, the caps in words and what made it
        incomplete or set its grade."""
        head, between, body, foot = self.frame
        return "".join((
            head, str(escape(svc["name"])), " – ", self.e["title"], between, str(escape(svc["id"])), body,
            self._crumbs(svc, org_href), self._verdict(svc, change, caps, cause, reason, reason_more),
            self._trend(series), self._pillars(svc), self._findings(findings), self._endpoints(svc), foot))

    def _crumbs(self, svc: Mapping[str, Any], org_href: str) -> str:
        e = self.e
        owner = f'{e["owner"]}: {escape(svc["owner"])} · ' if svc["owner"] else ""
        tags = ", ".join(escape(tag) for tag in svc["tags"])
        return (f'<p class="crumbs"><a href="../index.html">{e["overview"]}</a> › <a href="{escape(org_href)}">'
                f'{escape(svc["organisation"]) if svc["organisation"] else e["no_organisation"]}</a> › '
                f'{e["service"]}</p>\n<h1>{escape(svc["name"])}</h1>\n<p class="meta">{owner}{tags}</p>\n\n')

    def _verdict(self, svc: Mapping[str, Any], change: Any, caps: list[str], cause: str | None,
                 reason: str | None, reason_more: int) -> str:
        e, grade = self.e, svc["grade"]
        label = escape(grade_label(grade))
        out = [f'<section class="verdict-box" aria-labelledby="verdict">\n<h2 id="verdict" class="sr-only">'
               f'{e["grade"]}</h2>\n<p class="headline"><span class="grade {escape(grade_class(grade))}">{label}',
               f'<span class="sr-only"> ({e["incomplete"]})</span></span>\n' if grade == INCOMPLETE else "</span>\n"]
        if svc["score"] is not None:
            out.append(f'<span class="score-line">{e["score"]} {escape(fmt(svc["score"]))}')
            if reason:
                out.append(f" → {label}: {escape(reason)}" + (f" (+{escape(reason_more)})" if reason_more else ""))
            elif grade == INCOMPLETE:
                out.append(f' → {e["incomplete"]}')
            out.append("</span>")
        out.append("</p>\n")
        if cause:
            out.append(f'<p>{e["cause"]}: {escape(cause)}</p>')
        if caps:
            out.append(f'<h3>{e["caps"]}</h3>\n<ul class="caps">{"".join(f"<li>{escape(c)}</li>" for c in caps)}</ul>\n')
        if change:
            out.append(f'<p>{e["since_previous"]}: ')
            if change.direction == "down":
                out.append(f'<span class="down">▼ {e["regressed"]}</span>')
            elif change.direction == "up":
                out.append(f'<span class="up">▲ {e["improved"]}</span>')
            if change.grade:
                out.append(f' <span class="meta">{escape(grade_label(change.grade[0]))} → '
                           f'{escape(grade_label(change.grade[1]))}</span>')
            if not change.direction and not change.grade:
                out.append(e["unchanged"])
            out.append("</p>")
        elif self.hist.previous:
            out.append(f'<p class="meta">{e["new_service"]}</p>')
        out.append("</section>\n\n")
        return "".join(out)

    def _trend(self, series: list[Any]) -> str:
        """The service's grade per run as a chart, with the grades in words under it (from two runs on)."""
        if len(self.points) < 2:
            return "\n"  # a blank line stands where the trend would (pages unchanged byte for byte)
        e = self.e
        chart = grade_chart(self.points, series, self.changed, self.t["chart_service"], self.t["policy_changed_short"])
        words = " → ".join(str(escape(grade_label(x[0]))) if x else "—" for x in series)
        note = f'<p class="meta">{e["policy_change_note"]}</p>' if self.hist.policy_changes else ""
        return (f'<section aria-labelledby="trend">\n<h2 id="trend">{e["trend_title"]}</h2>\n'
                f'<figure>{chart}<figcaption>{e["chart_service"]}: {words}</figcaption></figure>\n{note}</section>\n\n')

    def _pillars(self, svc: Mapping[str, Any]) -> str:
        e, pillars = self.e, svc["pillars"]
        cells = []
        for p in PILLARS:
            v = pillars[p]["score"] if p in pillars else None
            cells.append(f'<td class="num {heat_class(v)}">{escape(fmt(v))}</td>')
        return (f'<section aria-labelledby="pillars">\n<h2 id="pillars">{e["pillars"]}</h2>\n'
                f'<div class="scroll"><table class="heat">\n<caption class="sr-only">{e["pillar_scores"]}</caption>\n'
                f'<thead><tr>{self.heads}</tr></thead>\n<tbody><tr>{"".join(cells)}</tr></tbody>\n'
                f'</table></div>\n</section>\n\n')

    def _findings(self, findings: Findings) -> str:
        e, t, phrases = self.e, self.t, self.phrases
        out = [f'<section aria-labelledby="todo">\n<h2 id="todo">{e["to_fix"]} ({len(findings.problems)})</h2>\n',
               "" if findings.problems else f'<p>{e["nothing_to_fix"]}</p>', findings.problems_html(phrases),
               f'\n</section>\n\n<section aria-labelledby="passes" class="passes">\n<h2 id="passes">{e["in_order"]} '
               f'({len(findings.passes)})</h2>\n<details><summary>{escape(t["show_passes"] % len(findings.passes))}'
               f'</summary>\n<ul class="compact">{findings.passes_html(phrases)}</ul>\n</details>\n']
        if findings.others:
            out.append(f'<details><summary>{escape(t["show_others"] % len(findings.others))}</summary>\n'
                       f'<ul class="compact">{findings.others_html(phrases)}</ul>\n</details>\n')
        out.append("</section>\n\n")
        return "".join(out)

    def _endpoints(self, svc: Mapping[str, Any]) -> str:
        e = self.e
        rows = "".join(f'<tr><th scope="row"><code>{escape(ep["target"])}</code></th><td>{escape(ep["kind"])}</td>'
                       f'<td>{", ".join(escape(a) for a in ep["addresses"])}</td></tr>' for ep in svc["endpoints"])
        out = (f'<section aria-labelledby="endpoints">\n<h2 id="endpoints">{e["endpoints"]}</h2>\n'
               f'<div class="scroll"><table>\n<caption class="sr-only">{e["endpoints"]}</caption>\n'
               f'<thead><tr><th scope="col">{e["target"]}</th><th scope="col">{e["kind"]}</th><th scope="col">'
               f'{e["addresses"]}</th></tr></thead>\n<tbody>\n{rows}</tbody></table></div>\n')
        if svc["mail_domains"]:
            items = "".join(f'<li><code>{escape(d["domain"])}</code> ({e["declared"] if d["declared"] else e["implied"]})'
                            f'</li>' for d in svc["mail_domains"])
            out += f'<h3>{e["mail_domains"]}</h3>\n<ul>{items}</ul>\n'
        return out + "</section>\n"
