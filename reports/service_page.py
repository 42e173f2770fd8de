"""A service page's findings: problems first with their age, evidence and remediation; passes and
the rest folded into one line per check.

The dashboard writes a page per service and language (40,000 pages for 20,000 services), so
the lists that repeat on every page are written here as HTML fragments, each text escaped
with markupsafe (as jinja2's autoescape does), about five times faster than the same loops
in a template; the page around them is `templates/service.html`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup, escape

from reports.diff import PROBLEMS
from reports.history import History

STATUS_ORDER = {"fail": 0, "error": 1, "warn": 2, "waived": 3, "info": 4, "pass": 5, "not_applicable": 6}


class Item:
    """One problem (fail, error, warn, waived) as the page shows it, the same in every language."""

    __slots__ = ("check", "status", "target", "messages", "level", "severity", "waiver", "evidence", "since",
                 "at_least", "new")

    def __init__(self, f: Mapping[str, Any]) -> None:
        self.check, self.status, self.target = f["check"], f["status"], f["target"]
        self.messages = {"en": f["message"], "nl": f.get("message_nl") or f["message"]}
        self.level, self.severity, self.waiver = f["level"], f["severity"], f.get("waiver")
        self.evidence = escape(json.dumps(f["evidence"], indent=1, ensure_ascii=False, sort_keys=True)) \
            if f["evidence"] else ""
        self.since: str | None = None  # when it was first seen open (a run's start), with more than one run
        self.at_least = False  # open already at the oldest run shown
        self.new = False  # first seen in this run


class Findings:
    """A service's findings sorted for its page, in a form each language's page is written from."""

    def __init__(self, findings: list[dict[str, Any]], ages: Mapping[str, Any], hist: History) -> None:
        self.problems: list[Item] = []
        passes: Counter = Counter()
        others: Counter = Counter()
        for f in sorted(findings, key=lambda f: (STATUS_ORDER.get(f["status"], 9), f["pillar"], f["check"],
                                                 f["target"])):
            if f["status"] == "pass":
                passes[f["check"]] += 1
            elif f["status"] in PROBLEMS or f["status"] == "waived":
                item = Item(f)
                since = ages.get(f["id"])
                if since and len(hist.points) > 1:
                    item.since, item.at_least, item.new = since[0].started, since[1], since[0] is hist.current
                self.problems.append(item)
            else:
                others[(f["status"], f["check"], f["message"], f.get("message_nl") or f["message"])] += 1
        self.passes = list(passes.items())  # (check, targets that pass it)
        self.others = [(status, check, {"en": en, "nl": nl}, n) for (status, check, en, nl), n in others.items()]

    def problems_html(self, t: Mapping[str, Any], texts: Mapping[str, Any], lang: str, day: Any) -> Markup:
        out = []
        for f in self.problems:
            c = texts[f.check]
            age = ""
            if f.since:
                age = (f"<strong>{escape(t['new_this_run'])}</strong>" if f.new else
                       f"{escape(t['open_since_at_least'] if f.at_least else t['open_since'])} {escape(day(f.since))}")
                age = f'<p class="age">{age}</p>'
            waiver = (f'<p class="meta">{escape(t["waiver"])}: {escape(f.waiver.get("reason", ""))} '
                      f'({escape(f.waiver.get("owner", ""))}, {escape(f.waiver.get("expires", ""))})</p>'
                      if f.waiver else "")
            fix = f'<p><strong>{escape(t["remediation"])}:</strong> {c["remediation"]}</p>' if c["remediation"] else ""
            refs = (f'<p class="meta">{escape(t["references"])}: {escape("; ".join(c["references"]))}</p>'
                    if c["references"] else "")
            evidence = (f'<details><summary>{escape(t["evidence"])}</summary><pre>{f.evidence}</pre></details>'
                        if f.evidence else "")
            out.append(
                f'<article class="finding s-{escape(f.status)}-box">\n<h3><span class="status s-{escape(f.status)}">'
                f'{escape(t["statuses"][f.status])}</span> {c["title"]}</h3>\n'
                f'<p class="meta"><code>{escape(f.check)}</code> · {escape(t["levels"][f.level])} · '
                f'{escape(t["severity"])}: {escape(t["severities"][f.severity])} · {escape(t["target"])}: '
                f'<code>{escape(f.target)}</code></p>\n<p>{escape(f.messages[lang])}</p>\n'
                f"{age}{waiver}{fix}{refs}{evidence}</article>\n")
        return Markup("".join(out))

    def passes_html(self, t: Mapping[str, Any], texts: Mapping[str, Any]) -> Markup:
        return Markup("".join(f"<li>{texts[check]['title']}{_count(t, n)}</li>" for check, n in self.passes))

    def others_html(self, t: Mapping[str, Any], texts: Mapping[str, Any], lang: str) -> Markup:
        return Markup("".join(
            f'<li><span class="status s-{escape(status)}">{escape(t["statuses"][status])}</span> {texts[check]["title"]}: '
            f"{escape(message[lang])}{_count(t, n)}</li>" for status, check, message, n in self.others))


def _count(t: Mapping[str, Any], n: int) -> str:
    return f' <span class="meta">({escape(t["targets_count"] % n)})</span>' if n > 1 else ""
