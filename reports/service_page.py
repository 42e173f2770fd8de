"""A service page, whole: its verdict, trend, pillar scores, findings (problems first with their
age, evidence and remediation; passes and the rest folded into one line per check) and endpoints.

The dashboard writes a page per service and language (40,000 pages for 20,000 services), so
the page is written here in Python, as UTF-8 bytes, rather than by a template (a jinja2
template and a text file cost more than twice as much a page): every value from a finding,
the inventory or a server is escaped with markupsafe (as jinja2's autoescape does), the
interface's texts are escaped once per language, what reads the same in both languages once
a service (`Shown`, `Item`), and pieces that recur across services (a check's heading and
advice, a list of passes) are kept (`Phrases`). The frame around the page (head, navigation,
footer) is `templates/base.html`, shared with the summary pages and rendered once per
language (`Site.service_page`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import Any

import orjson
from markupsafe import escape

from reports.charts import fmt, grade_chart, grade_class, grade_label, heat_class
from reports.history import History
from scanner.model import PILLARS, PROBLEMS
from scanner.policy import INCOMPLETE
from scanner.short_findings import REF, ShortFindings, group_id

KEPT = 50_000  # pieces a Phrases or a summary page's Tables keeps
KEPT_TEXT = 20_000_000  # characters (bytes, of Phrases) of pieces they keep (a service's passes are one piece)
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


def html(value: Any) -> bytes:
    """A value from a finding, the inventory or a server as a page holds it: escaped with
    markupsafe (as jinja2's autoescape does) and encoded."""
    return escape(value).encode()


class Item:
    """One problem (fail, error, warn, waived) as the page shows it, the same in every language."""

    __slots__ = ("check", "status", "target", "messages", "level", "severity", "waiver", "evidence", "since",
                 "at_least", "new")

    def __init__(self, f: Mapping[str, Any]) -> None:
        self.check, self.status, self.target = f["check"], f["status"], html(f["target"])
        en, nl = f["message"], f.get("message_nl") or f["message"]
        self.messages = {"en": html(en)}
        self.messages["nl"] = html(nl) if nl != en else self.messages["en"]
        self.level, self.severity, self.waiver = f["level"], f["severity"], f.get("waiver")
        self.evidence = html(_indented(f["evidence"])) if f["evidence"] else b""
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

    def problems_html(self, phrases: Phrases) -> bytes:
        piece, lang, out = phrases.piece, phrases.lang, []
        evidence = piece(("evidence_label",))
        for f in self.problems:
            out += (piece(("head", f.status, f.check, f.level, f.severity)), b"<code>", f.target,
                    b"</code></p>\n<p>", f.messages[lang], b"</p>\n")
            if f.since:
                out.append(piece(("age", f.since, f.at_least, f.new)))
            if f.waiver:
                out.append(piece(("waiver", f.waiver.get("reason", ""), f.waiver.get("owner", ""),
                                  f.waiver.get("expires", ""))))
            out.append(piece(("advice", f.check)))
            if f.evidence:
                out += (evidence, f.evidence, b"</pre></details>")
            out.append(b"</article>\n")
        return b"".join(out)

    def passes_html(self, phrases: Phrases) -> bytes:
        return phrases.piece(("passes", tuple(self.passes)))

    def others_html(self, phrases: Phrases) -> bytes:
        piece, lang = phrases.piece, phrases.lang
        return b"".join([piece(("other", status, check, message[lang], n)) for status, check, message, n in self.others])


class Pieces:
    """Pieces of pages, each escaped and formatted once and then reused, by key: its kind first
    (the method `_<kind>` makes it), then what it is made of. At most KEPT pieces or KEPT_TEXT
    characters are kept (then all are dropped), so memory does not grow with the estate."""

    def __init__(self) -> None:
        self._kept: dict[tuple[Any, ...], Any] = {}  # str, or bytes (Phrases)
        self._text = 0  # characters kept

    def piece(self, key: tuple[Any, ...]) -> Any:
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
    """One language's pieces of service pages, encoded: a check's heading and advice, a pass
    line, an info line recur on thousands of pages."""

    def __init__(self, lang: str, t: Mapping[str, Any], texts: Mapping[str, Any], day: Callable[[str], str]) -> None:
        super().__init__()
        self.lang, self.t, self.texts, self.day = lang, t, texts, day

    def _head(self, status: str, check: str, level: str, severity: str) -> bytes:
        """A problem's opening up to its target: status, title, check, level, severity."""
        t = self.t
        return (f'<article class="finding s-{escape(status)}-box">\n<h3><span class="status s-{escape(status)}">'
                f'{escape(t["statuses"][status])}</span> {self.texts[check]["title"]}</h3>\n'
                f'<p class="meta"><code>{escape(check)}</code> · {escape(t["levels"][level])} · '
                f'{escape(t["severity"])}: {escape(t["severities"][severity])} · {escape(t["target"])}: ').encode()

    def _advice(self, check: str) -> bytes:
        c, t = self.texts[check], self.t
        fix = f'<p><strong>{escape(t["remediation"])}:</strong> {c["remediation"]}</p>' if c["remediation"] else ""
        refs = (f'<p class="meta">{escape(t["references"])}: {escape("; ".join(c["references"]))}</p>'
                if c["references"] else "")
        return (fix + refs).encode()

    def _age(self, since: str, at_least: bool, new: bool) -> bytes:
        t = self.t
        age = (f"<strong>{escape(t['new_this_run'])}</strong>" if new else
               f"{escape(t['open_since_at_least'] if at_least else t['open_since'])} {escape(self.day(since))}")
        return f'<p class="age">{age}</p>'.encode()

    def _waiver(self, reason: str, owner: str, expires: str) -> bytes:
        return f'<p class="meta">{escape(self.t["waiver"])}: {escape(reason)} ({escape(owner)}, {escape(expires)})</p>'.encode()

    def _evidence_label(self) -> bytes:
        return f'<details><summary>{escape(self.t["evidence"])}</summary><pre>'.encode()

    def _passes(self, passes: tuple[tuple[str, int], ...]) -> bytes:
        """A service's list of passes, kept whole: services on one platform pass the same checks
        (the 2,000 services of the bench estate have 133 lists between them)."""
        return b"".join([self.piece(("passed", check, n)) for check, n in passes])

    def _passed(self, check: str, n: int) -> bytes:
        return f"<li>{self.texts[check]['title']}{self._count(n)}</li>".encode()

    def _other(self, status: str, check: str, message: str, n: int) -> bytes:
        return (f'<li><span class="status s-{escape(status)}">{escape(self.t["statuses"][status])}</span> '
                f'{self.texts[check]["title"]}: {escape(message)}{self._count(n)}</li>').encode()

    def _count(self, n: int) -> str:
        return f' <span class="meta">({escape(self.t["targets_count"] % n)})</span>' if n > 1 else ""


class ServicePage:
    """One language's service pages, written as UTF-8 bytes from encoded pieces (no page is
    ever a str to encode). `frame` is base.html rendered once for this language around three
    slots (the page's title, the service id in the link to the other language, the content),
    as `Site.service_page` cuts it. The sections follow each other as the reader meets them."""

    def __init__(self, phrases: Phrases, frame: list[str], hist: History, points: list[str]) -> None:
        self.phrases, self.hist, self.points = phrases, hist, points  # points: the runs' days
        self.frame = [part.encode() for part in frame]
        self.t = t = phrases.t
        self.e = {key: html(value) for key, value in t.items() if isinstance(value, str)}  # the texts, escaped once
        self.heads = b"".join(b'<th scope="col" class="num">%s</th>' % html(t["pillar"][p]) for p in PILLARS)
        self.changed = [p.policy_changed for p in hist.points]

    def html(self, svc: Shown, findings: Findings, series: list[Any], change: Any, caps: list[str],
             cause: str | None, reason: str | None, reason_more: int) -> bytes:
        """The page of a service (`svc`): its findings sorted (`findings`), its (grade, score) per
        run of the trend (`series`), the change since the previous run, the caps in words and
        what made it incomplete or set its grade."""
        head, between, body, foot = self.frame
        return b"".join((
            head, svc.name, " – ".encode(), self.e["title"], between, svc.id, body, self._crumbs(svc),
            self._verdict(svc, change, caps, cause, reason, reason_more), self._trend(series), self._pillars(svc),
            self._findings(findings), self._endpoints(svc), foot))

    def _crumbs(self, svc: Shown) -> bytes:
        e = self.e
        return ('<p class="crumbs"><a href="../index.html">%s</a> › <a href="%s">%s</a> › %s</p>\n'
                '<h1>%s</h1>\n<p class="meta">%s%s</p>\n\n'.encode() % (
                    e["overview"], svc.org_href, svc.organisation or e["no_organisation"], e["service"], svc.name,
                    "%s: %s · ".encode() % (e["owner"], svc.owner) if svc.owner else b"", svc.tags))

    def _verdict(self, svc: Shown, change: Any, caps: list[str], cause: str | None, reason: str | None,
                 reason_more: int) -> bytes:
        e, grade = self.e, svc.grade
        out = [b'<section class="verdict-box" aria-labelledby="verdict">\n<h2 id="verdict" class="sr-only">%s</h2>\n'
               b'<p class="headline"><span class="grade %s">%s' % (e["grade"], svc.grade_class, svc.grade_label),
               b'<span class="sr-only"> (%s)</span></span>\n' % e["incomplete"] if grade == INCOMPLETE else b"</span>\n"]
        if svc.score is not None:
            out.append(b'<span class="score-line">%s %s' % (e["score"], svc.score))
            if reason:
                out.append(" → %s: %s".encode() % (svc.grade_label, html(reason))
                           + (b" (+%s)" % html(reason_more) if reason_more else b""))
            elif grade == INCOMPLETE:
                out.append(" → %s".encode() % e["incomplete"])
            out.append(b"</span>")
        out.append(b"</p>\n")
        if cause:
            out.append(b"<p>%s: %s</p>" % (e["cause"], html(cause)))
        if caps:
            out.append(b'<h3>%s</h3>\n<ul class="caps">%s</ul>\n' % (e["caps"], b"".join(b"<li>%s</li>" % html(c) for c in caps)))
        if change:
            out.append(b"<p>%s: " % e["since_previous"])
            if change.direction == "down":
                out.append('<span class="down">▼ %s</span>'.encode() % e["regressed"])
            elif change.direction == "up":
                out.append('<span class="up">▲ %s</span>'.encode() % e["improved"])
            if change.grade:
                out.append(' <span class="meta">%s → %s</span>'.encode() % (html(grade_label(change.grade[0])),
                                                                          html(grade_label(change.grade[1]))))
            if not change.direction and not change.grade:
                out.append(e["unchanged"])
            out.append(b"</p>")
        elif self.hist.previous:
            out.append(b'<p class="meta">%s</p>' % e["new_service"])
        out.append(b"</section>\n\n")
        return b"".join(out)

    def _trend(self, series: list[Any]) -> bytes:
        """The service's grade per run as a chart, with the grades in words under it (from two runs on)."""
        if len(self.points) < 2:
            return b"\n"  # a blank line stands where the trend would (pages unchanged byte for byte)
        e = self.e
        chart = grade_chart(self.points, series, self.changed, self.t["chart_service"], self.t["policy_changed_short"])
        words = " → ".join(str(escape(grade_label(x[0]))) if x else "—" for x in series)
        note = b'<p class="meta">%s</p>' % e["policy_change_note"] if self.hist.policy_changes else b""
        return (b'<section aria-labelledby="trend">\n<h2 id="trend">%s</h2>\n<figure>%s<figcaption>%s: %s'
                b'</figcaption></figure>\n%s</section>\n\n' % (e["trend_title"], chart.encode(), e["chart_service"],
                                                                 words.encode(), note))

    def _pillars(self, svc: Shown) -> bytes:
        e = self.e
        return (b'<section aria-labelledby="pillars">\n<h2 id="pillars">%s</h2>\n<div class="scroll"><table class="heat">\n'
                b'<caption class="sr-only">%s</caption>\n<thead><tr>%s</tr></thead>\n<tbody><tr>%s</tr></tbody>\n'
                b'</table></div>\n</section>\n\n' % (e["pillars"], e["pillar_scores"], self.heads, svc.cells))

    def _findings(self, findings: Findings) -> bytes:
        e, t, phrases = self.e, self.t, self.phrases
        passes, others = len(findings.passes), len(findings.others)
        out = [b'<section aria-labelledby="todo">\n<h2 id="todo">%s (%d)</h2>\n%s%s\n</section>\n\n'
               b'<section aria-labelledby="passes" class="passes">\n<h2 id="passes">%s (%d)</h2>\n'
               b'<details><summary>%s</summary>\n<ul class="compact">%s</ul>\n</details>\n' % (
                   e["to_fix"], len(findings.problems), b"" if findings.problems else b"<p>%s</p>" % e["nothing_to_fix"],
                   findings.problems_html(phrases), e["in_order"], passes, html(t["show_passes"] % passes),
                   findings.passes_html(phrases))]
        if others:
            out.append(b'<details><summary>%s</summary>\n<ul class="compact">%s</ul>\n</details>\n' % (
                html(t["show_others"] % others), findings.others_html(phrases)))
        out.append(b"</section>\n\n")
        return b"".join(out)

    def _endpoints(self, svc: Shown) -> bytes:
        e = self.e
        out = (b'<section aria-labelledby="endpoints">\n<h2 id="endpoints">%s</h2>\n<div class="scroll"><table>\n'
               b'<caption class="sr-only">%s</caption>\n<thead><tr><th scope="col">%s</th><th scope="col">%s</th>'
               b'<th scope="col">%s</th></tr></thead>\n<tbody>\n%s</tbody></table></div>\n' % (
                   e["endpoints"], e["endpoints"], e["target"], e["kind"], e["addresses"], svc.endpoints))
        if svc.domains:
            items = b"".join(b"<li><code>%s</code> (%s)</li>" % (domain, e["declared"] if declared else e["implied"])
                             for domain, declared in svc.domains)
            out += b"<h3>%s</h3>\n<ul>%s</ul>\n" % (e["mail_domains"], items)
        return out + b"</section>\n"


class Shown:
    """What a service's pages show of it that reads the same in every language, escaped and
    encoded once for both."""

    def __init__(self, svc: Mapping[str, Any], org_href: str) -> None:
        self.id, self.name, self.org_href = html(svc["id"]), html(svc["name"]), html(org_href)
        self.organisation = html(svc["organisation"]) if svc["organisation"] else b""
        self.owner = html(svc["owner"]) if svc["owner"] else b""
        self.tags = ", ".join([str(escape(tag)) for tag in svc["tags"]]).encode()
        self.grade, self.score = svc["grade"], html(fmt(svc["score"])) if svc["score"] is not None else None
        self.grade_class, self.grade_label = html(grade_class(self.grade)), html(grade_label(self.grade))
        pillars = svc["pillars"]
        self.cells = b"".join(b'<td class="num %s">%s</td>' % (heat_class(v).encode(), html(fmt(v)))
                              for v in (pillars[p]["score"] if p in pillars else None for p in PILLARS))
        self.endpoints = b"".join(
            b'<tr><th scope="row"><code>%s</code></th><td>%s</td><td>%s</td></tr>' % (
                html(ep["target"]), html(ep["kind"]), ", ".join([str(escape(a)) for a in ep["addresses"]]).encode())
            for ep in svc["endpoints"])
        self.domains = [(html(d["domain"]), d["declared"]) for d in svc["mail_domains"]]
