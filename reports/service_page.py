"""A service page's findings: problems first with their age, evidence and remediation; passes and
the rest folded into one line per check.

The dashboard writes a page per service and language (40,000 pages for 20,000 services), so
the lists that repeat on every page are written here as HTML fragments, each text escaped
with markupsafe (as jinja2's autoescape does), about five times faster than the same loops
in a template; the page around them is `templates/service.html`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import Any

import orjson
from markupsafe import Markup, escape

from reports.history import History
from scanner.model import PROBLEMS
from scanner.short_findings import REF, ShortFindings, group_id

KEPT = 50_000  # pieces a Phrases or a summary page's Tables keeps
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


_KINDS: dict[str, tuple[Any, Any]] = {}  # a short finding's body digest -> `_kind` of it (a digest names its content)


def _kind(body: Mapping[str, Any]) -> tuple[Any, Any]:
    """What a page reads of a short finding's body: (None, (pillar, check)) of a pass, else where
    it sorts before its target and id, and what the page tells of it (as `_other`)."""
    if body["status"] == "pass":
        return None, (body["pillar"], body["check"])
    (status, pillar, check, _, _), told = _other(body, "", "")
    return (status, pillar, check), told


def _other(f: Mapping[str, Any], target: str, fid: str) -> tuple[tuple[Any, ...], tuple[str, str, str, str]]:
    """A finding neither problem nor pass: where it sorts (status, pillar, check, target, then
    its id, as v1 orders a service's findings) and what the page tells of it."""
    return ((STATUS_ORDER.get(f["status"], 9), f["pillar"], f["check"], target, fid),
            (f["status"], f["check"], f["message"], f.get("message_nl") or f["message"]))


class Findings:
    """A service's findings sorted for its page, in a form each language's page is written from.
    Its short findings may come apart, by digest (`ShortFindings`, as Store.service(short=True)
    reads them): their bodies recur across services and are read once."""

    def __init__(self, findings: list[dict[str, Any]], ages: Mapping[str, Any], hist: History,
                 short: ShortFindings | None = None) -> None:
        problems, others = [], []
        passes: Counter = Counter()  # (pillar, check) -> targets that pass it
        for f in findings:  # each kind sorted apart: passes need only be counted
            status = f["status"]
            if status == "pass":
                passes[f["pillar"], f["check"]] += 1
            elif status in PROBLEMS or status == "waived":
                problems.append(f)
            else:
                others.append(_other(f, f["target"], f["id"]))
        for group, items in short.groups.items() if short else ():
            for item in items:
                named = item.__class__ is not str  # an entry naming its target or id beside its digest
                digest = item[REF] if named else item
                kind = _KINDS.get(digest)
                if kind is None:
                    if len(_KINDS) >= KEPT:
                        _KINDS.clear()
                    kind = _KINDS[digest] = _kind(short.body(digest))
                if kind[0] is None:
                    passes[kind[1]] += 1
                    continue
                target = item.get("target", group) if named else group
                fid = (item.get("id") if named else None) or group_id(kind[1][1], target, group)
                others.append(((*kind[0], target, fid), kind[1]))
        self.problems: list[Item] = []
        for f in sorted(problems, key=_order):
            item = Item(f)
            since = ages.get(f["id"])
            if since and len(hist.points) > 1:
                item.since, item.at_least, item.new = since[0].started, since[1], since[0] is hist.current
            self.problems.append(item)
        self.passes = [(check, n) for (_, check), n in sorted(passes.items())]  # (check, targets that pass it)
        grouped = Counter(told for _, told in sorted(others, key=itemgetter(0)))
        self.others = [(status, check, {"en": en, "nl": nl}, n) for (status, check, en, nl), n in grouped.items()]

    def problems_html(self, phrases: Phrases) -> Markup:
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
        return Markup("".join(out))

    def passes_html(self, phrases: Phrases) -> Markup:
        piece = phrases.piece
        return Markup("".join(piece(("passed", check, n)) for check, n in self.passes))

    def others_html(self, phrases: Phrases) -> Markup:
        piece, lang = phrases.piece, phrases.lang
        return Markup("".join(piece(("other", status, check, message[lang], n))
                              for status, check, message, n in self.others))


class Pieces:
    """Pieces of pages, each escaped and formatted once and then reused, by key: its kind first
    (the method `_<kind>` makes it), then what it is made of. At most KEPT pieces are kept (then
    all are dropped), so memory does not grow with the estate."""

    def __init__(self) -> None:
        self._kept: dict[tuple[Any, ...], str] = {}

    def piece(self, key: tuple[Any, ...]) -> str:
        """The piece for `key`, made when first asked."""
        piece = self._kept.get(key)
        if piece is None:
            if len(self._kept) >= KEPT:
                self._kept.clear()
            piece = self._kept[key] = getattr(self, f"_{key[0]}")(*key[1:])
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

    def _passed(self, check: str, n: int) -> str:
        return f"<li>{self.texts[check]['title']}{self._count(n)}</li>"

    def _other(self, status: str, check: str, message: str, n: int) -> str:
        return (f'<li><span class="status s-{escape(status)}">{escape(self.t["statuses"][status])}</span> '
                f'{self.texts[check]["title"]}: {escape(message)}{self._count(n)}</li>')

    def _count(self, n: int) -> str:
        return f' <span class="meta">({escape(self.t["targets_count"] % n)})</span>' if n > 1 else ""
