"""The static HTML dashboard, for managers: who is worst, why, what to fix first, and are we improving.

Rendered from the store, one service at a time: each service's page is written as it is
read (by several processes for a large estate) and leaves a light row in a temporary
ledger (reports/ledger.py); the index, the organisation, pillar and list pages are then
written from the ledger, sorted and grouped by SQLite. Memory does not grow with the
estate, and the index holds summaries and links (long lists are paginated or summarised).

History comes from the store too (reports/history.py): trends over the last runs, like
compared with like, and since when each problem has been open. Pictures are inline SVG
(reports/charts.py).

Safe to open from anywhere: every value escaped (jinja2 autoescape on for the summary pages;
markupsafe for the service pages, which reports/service_page.py writes in Python within the
frame of base.html), nothing loaded from outside, no `fetch()`, and a strict
Content-Security-Policy allowing only the dashboard's own stylesheet (one file, `style.css`,
rather than a copy in each of 40,000 pages) and, on pages with
tables, one small inline script (sorting and filtering) by its hash; every page reads the
same without the script. Written in Dutch and English (texts in reports/i18n.toml), the
primary language at the top of the folder and the other under `<lang>/`.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import multiprocessing
import os
import re
import shutil
import tempfile
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from itertools import groupby, islice
from operator import itemgetter
from pathlib import Path
from typing import Any, Protocol

import jinja2
from markupsafe import Markup, escape

from checks.registry import Registry
from reports import charts
from reports.diff import compare_service
from reports.expiry import lapsing_of
from reports.history import History, Tally, history, open_since, service_series
from reports.json import service_result
from reports.key_reuse import leaf_keys
from reports.ledger import Ledger
from reports.service_page import Findings, Phrases, ServicePage, Shown
from reports.tables import Tables, service_link
from scanner.model import PILLARS, PROBLEMS, InputError
from scanner.policy import GRADES, INCOMPLETE
from scanner.scoring import cap_text
from scanner.store import Store

LANGS = ("nl", "en")
TOP = 25  # rows of a list on the index (the rest on list pages)
PAGE = 500  # rows of one list page
SAMPLE = 5  # names given for a group (a shared key, a failing check)
SAMPLE_OF_CHECK = 20  # services named for a failing check on an organisation's page
MAX_LAPSING = 500  # certificates listed on the certificate pillar page
WORST_STATUS = ("fail", "error", "warn")  # a check's worst problem on a service, worst first
SLOT = "\x00slot\x00"  # where a service page's own text goes in its frame (no text holds a NUL)
UNGRADED = -1  # the rank of an incomplete or unjudged service: listed after the graded ones


def texts() -> dict[str, Any]:
    return tomllib.loads(resources.files("reports").joinpath("i18n.toml").read_text(encoding="utf-8"))


def rank(grade: str | None) -> int:
    """Worse grades rank higher (A+ 0 ... F 6); incomplete and unjudged services rank last."""
    return GRADES.index(grade) if grade in GRADES else UNGRADED


def org_slug(name: str) -> str:
    """A file name for an organisation: readable, and unique (a digest of the exact name)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    readable = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")[:40] or "org"
    return f"{readable}-{hashlib.sha256(name.encode()).hexdigest()[:6]}"


def day(started: str, lang: str) -> str:
    """A run's date as readers of `lang` write it: 3/12/2026 in Dutch, 2026-12-03 in English."""
    return f"{int(started[8:10])}/{int(started[5:7])}/{started[:4]}" if lang == "nl" else started[:10]


def short_day(started: str) -> str:
    """3/12 for 2026-12-03 (day first, as Flemish and British readers read it)."""
    return f"{int(started[8:10])}/{int(started[5:7])}"


def _asset(name: str) -> str:
    """A stylesheet or script of the dashboard, its comments and indentation left out."""
    text = resources.files("reports").joinpath(f"templates/{name}").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^\s*(//.*)?\n|/\*.*?\*/", "", text)
    return re.sub(r"\n\s+", "\n", text)


def csp_hash(text: str) -> str:
    """The Content-Security-Policy source that allows exactly this inline script."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


class _Environment(jinja2.Environment):
    """Reads `x.key` of a dict as its key first: the pages read texts and rows that way tens of
    thousands of times, and jinja2 would try (and fail) an attribute first each time."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


class _LanguageLoader(jinja2.BaseLoader):
    """The templates of each language apart ("nl/organisation.html"), every plain `{{ t.key }}` of the
    interface texts written in as its escaped text: otherwise looked up and escaped again on
    every page. A text that is blank or holds a brace is left to be looked up (blank
    text would move a block tag to the start of its line; a brace could read as a tag)."""

    def __init__(self, all_texts: Mapping[str, Any]) -> None:
        self.all_texts, self.package = all_texts, jinja2.PackageLoader("reports", "templates")

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str | None, Any]:
        lang, _, name = template.partition("/")
        source, filename, uptodate = self.package.get_source(environment, name)
        t = self.all_texts[lang]

        def text(match: re.Match[str]) -> str:
            value = t.get(match[1])
            if not isinstance(value, str) or not value.strip() or "{" in value or "}" in value:
                return match[0]
            return str(escape(value))

        source = _TEXT.sub(text, _NAMED.sub(lambda m: f'{m[1]}"{lang}/{m[2]}"', source))
        return source, filename, uptodate


_TEXT = re.compile(r"\{\{\s*t\.([a-z_]+)\s*\}\}")  # {{ t.key }}
_NAMED = re.compile(r'(\{%\s*(?:extends|import|include)\s+)"([a-z_]+\.html)"')  # a template naming another


def _environment(all_texts: Mapping[str, Any]) -> jinja2.Environment:
    env = _Environment(loader=_LanguageLoader(all_texts), autoescape=True, auto_reload=False,
                       undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(grade_class=charts.grade_class, grade_label=charts.grade_label, heat=charts.heat_class,
                       fmt=charts.fmt, pillars=PILLARS, org_slug=org_slug, grade_order=charts.ORDER, short_day=short_day,
                       rank=rank)
    return env


@dataclass(eq=False)  # one per rendering, hashed by identity (check_text caches on it)
class Site:
    """What every page shares, and where pages go."""

    root: Path
    primary: str
    run: dict[str, Any]
    hist: History
    registry: Registry
    banner: str | None
    all_texts: dict[str, Any] = field(default_factory=texts)

    def __post_init__(self) -> None:
        self.langs = (self.primary, *[lang for lang in LANGS if lang != self.primary])
        self.style, self.script = _asset("style.css"), _asset("dashboard.js")
        self.script_hash = csp_hash(self.script)
        self.env = _environment(self.all_texts)
        self.templates = {(lang, name): self.env.get_template(f"{lang}/{name}") for lang in LANGS
                          for name in ("index.html", "organisation.html", "pillar.html", "list.html",
                                       "base.html", "macros.html")}  # compiled here, before processes fork

    def base(self, lang: str) -> Path:
        return self.root if lang == self.primary else self.root / lang

    def write(self, lang: str, page: str, template: str, scripted: bool = True, **context: Any) -> None:
        """Write one page from its template (`page` relative to the language's folder, at most one
        folder deep); `scripted` pages carry the sorting script."""
        self.put(lang, page, self.templates[lang, template].render(**self._frame_context(lang, page, scripted),
                                                                   **context))

    def _frame_context(self, lang: str, page: str, scripted: bool) -> dict[str, Any]:
        """What base.html and the pages built on it read, for `page` in `lang`."""
        up = "../" if "/" in page else ""
        other = next(x for x in LANGS if x != lang)
        other_href = f"{up}{other}/{page}" if lang == self.primary else f"{up}../{page}"
        return dict(
            t=self.all_texts[lang], lang=lang, other_lang=other, other_lang_href=other_href, root=up,
            run=self.run, banner=self.banner, script=self.script if scripted else None,
            script_hash=self.script_hash, hist=self.hist, spark=self.spark, day=lambda started: day(started, lang),
            texts=self.check_texts(lang), tables=self.tables(lang),
            grade_bar=lambda counts, label: charts.grade_bar(counts, label, _grade_words(self.all_texts[lang])))

    def put(self, lang: str, page: str, text: str | bytes) -> None:
        """Write a page (UTF-8 bytes, or text): by one open and one write (no buffer or encoder
        object around it, which cost more than the write itself on 40,000 small pages)."""
        data = text.encode() if isinstance(text, str) else text
        fd = os.open(self.base(lang) / page, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            while data:
                data = data[os.write(fd, data):]
        finally:
            os.close(fd)

    @cache  # noqa: B019
    def service_page(self, lang: str) -> ServicePage:
        """The writer of service pages in `lang`: base.html around a page written in Python
        (reports/service_page.py), rendered here once with a slot for the page's title, the
        service's id (in the link to the other language) and the content."""
        slot = Markup(SLOT)
        shell = self.env.from_string(f'{{% extends "{lang}/base.html" %}}{{% block title %}}{{{{ slot }}}}'
                                     f'{{% endblock %}}{{% block content %}}{{{{ slot }}}}{{% endblock %}}')
        text = shell.render(**self._frame_context(lang, f"services/{SLOT}.html", scripted=False), slot=slot)
        frame = text.split(SLOT)
        if len(frame) != 4:
            raise ValueError(f"the frame of a service page has {len(frame) - 1} slots, not 3")
        return ServicePage(self.phrases(lang), frame, self.hist, [short_day(p.started) for p in self.hist.points])

    def spark(self, series: list[Any], label: str) -> Any:
        """A sparkline over the trend's runs: of a service ((grade, score) per run) or of a group
        (a Tally per run: its services' mean grade)."""
        changed = tuple(p.policy_changed for p in self.hist.points)
        if series and isinstance(series[-1], Tally):
            values = [_mean_badness(x) for x in series]
            last = None if values[-1] is None else GRADES[round(values[-1] * (len(GRADES) - 1))]
            return charts.sparkline(values, changed, label, last)
        return charts.grade_sparkline(tuple(x[0] if x else None for x in series), changed, label)

    @cache  # noqa: B019  (one Site per rendering; the texts of a check never change within it)
    def check_text(self, check_id: str, lang: str) -> dict[str, Any]:
        chk = self.registry[check_id] if check_id in self.registry else None
        return {"title": Markup(escape(chk.title.get(lang, chk.title["en"]) if chk else check_id)),
                "remediation": Markup(escape(chk.remediation.get(lang, chk.remediation["en"]) if chk else "")),
                "references": list(chk.references) if chk else []}

    @cache  # noqa: B019
    def check_texts(self, lang: str) -> dict[str, dict[str, Any]]:
        """Every registered check's texts in `lang`, by check id (a service page looks each up)."""
        return _CheckTexts(self, lang)

    @cache  # noqa: B019
    def phrases(self, lang: str) -> Phrases:
        """The repeated pieces of service pages in `lang`, kept across pages."""
        return Phrases(lang, self.all_texts[lang], self.check_texts(lang), lambda started: day(started, lang))

    @cache  # noqa: B019
    def tables(self, lang: str) -> Tables:
        """The rows of the summary pages' long tables in `lang`, their repeated pieces kept across pages."""
        return Tables(lang, self.all_texts[lang], self.check_texts(lang), self.hist, self.spark, org_slug)


class _CheckTexts(dict):
    """check id -> texts in one language, filled as pages ask (a check that left the registry
    is shown by its id)."""

    def __init__(self, site: Site, lang: str) -> None:
        super().__init__()
        self.site, self.lang = site, lang

    def __missing__(self, check_id: str) -> dict[str, Any]:
        self[check_id] = self.site.check_text(check_id, self.lang)
        return self[check_id]


def _mean_badness(tally: Tally) -> float | None:
    graded = [(charts.badness(g), n) for g, n in tally.grades.items() if g in GRADES]
    count = sum(n for _, n in graded)
    return sum(b * n for b, n in graded) / count if count else None


class Alongside(Protocol):
    """Another output written from the services as the dashboard reads them: `part(share)` in the
    process with that share of the services (every shares-th, from the share-th), then `add`
    for each of its services and `close`; `finish()` once every part is closed, which begins
    the output's last step and returns what waits for its end (before the dashboard is put in place)."""

    def part(self, share: int) -> Any: ...

    def finish(self) -> Callable[[], None]: ...


def render_dashboard(store: Store, run_id: str, out: Path, registry: Registry, primary: str = "nl",
                     banner: str | None = None, workers: int = 1,
                     meanwhile: Callable[[], None] | None = None, alongside: Alongside | None = None) -> Path:
    """Write the dashboard of a stored run into `out` (replaced whole, so no page of an earlier
    run is left behind); return the primary index page. `meanwhile` is other work of the
    caller's (its other outputs), done in this process while worker processes write the
    service pages; `alongside` is an output written from each service as it is read."""
    if out.exists() and not (out / "index.html").exists() and any(out.iterdir()):
        raise InputError(str(out), "exists and is not a Bolwerk dashboard; not replacing it")
    staging = out.parent / f".{out.name}.new"
    if staging.exists():
        shutil.rmtree(staging)
    site = Site(staging, primary, store.run(run_id), history(store, run_id), registry, banner)
    for lang in site.langs:
        for folder in ("services", "organisations", "pillars", "lists"):
            (site.base(lang) / folder).mkdir(parents=True, exist_ok=True)
        (site.base(lang) / "style.css").write_text(site.style, encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="bolwerk-dashboard-") as tmp:
        shares = max(1, min(workers, store.count_services(run_id) // 200))
        ledgers = [Path(tmp) / f"ledger-{n}.db" for n in range(shares)]
        if shares == 1:
            if meanwhile:
                meanwhile()
            _service_pages(site, store, run_id, ledgers[0], 0, 1, alongside)
        else:
            _in_processes(_share_in_process, [(site, store.path, run_id, path, n, shares, alongside)
                                              for n, path in enumerate(ledgers)], meanwhile)
        finished = alongside.finish() if alongside else None
        try:
            ledger = Ledger(ledgers[0])
            ledger.merge(ledgers[1:])
            _summary_pages(site, ledger, workers)
            ledger.close()
        finally:
            if finished:
                finished()
    _replace(staging, out)
    return out / "index.html"


def _replace(staging: Path, out: Path) -> None:
    """Put the new dashboard where the old one was, whole: the old one goes only once the new is in place."""
    old = out.parent / f".{out.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        out.rename(old)
    staging.rename(out)
    if old.exists():
        shutil.rmtree(old)


def _in_processes(target: Callable[..., None], jobs: list[tuple[Any, ...]],
                  meanwhile: Callable[[], None] | None) -> None:
    """Run `target` on each job's arguments in a forked process of its own (and do `meanwhile` here)."""
    context = multiprocessing.get_context("fork")
    procs = [context.Process(target=target, args=job, daemon=True) for job in jobs]
    for proc in procs:
        proc.start()
    try:
        if meanwhile:
            meanwhile()
    finally:
        for proc in procs:
            proc.join()
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(procs)} dashboard processes failed (exit code {failed[0]})")


def _share_in_process(site: Site, path: Path, run_id: str, ledger: Path, share: int, shares: int,
                      alongside: Alongside | None) -> None:
    store = Store(path)
    try:
        _service_pages(site, store, run_id, ledger, share, shares, alongside)
    finally:
        store.close()


# --------------------------------------------------------------------------- service pages

def _service_pages(site: Site, store: Store, run_id: str, ledger_path: Path, share: int, shares: int,
                   alongside: Alongside | None = None) -> None:
    """Every `shares`-th service of the run from the `share`-th: its pages, its ledger rows and
    its part of the output `alongside`.

    The garbage collector is held off meanwhile: each page makes thousands of short-lived
    objects and no cycle worth a collection (some 15% of the time otherwise)."""
    ledger = Ledger(ledger_path)
    part = alongside.part(share) if alongside else None
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(200_000, 50, 100)
    try:
        for n, sid in enumerate(store.service_ids(run_id)):
            if n % shares == share:
                svc = service_result(store.service(run_id, sid, facts="packed", short=True))
                _service(site, store, ledger, svc)
                if part:
                    part.add(svc)
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
        ledger.close()
        if part:
            part.close()


def _service(site: Site, store: Store, ledger: Ledger, svc: dict[str, Any]) -> None:
    sid, hist = svc["id"], site.hist
    problems = [f for f in svc["findings"] if f["status"] in PROBLEMS]
    series = service_series(store, hist, sid, (svc["grade"], svc["score"]))
    known: dict[str, set[str]] = {}  # problem ids of the runs read here, for the ages
    change = None
    if hist.previous:
        before = store.problems(hist.previous.run, sid)
        known[hist.previous.run] = {f["id"] for f in before or []}
        if before is not None:
            grade = series[hist.points.index(hist.previous)]
            change = compare_service({"grade": grade[0] if grade else None, "findings": before}, svc)
    ages = open_since(store, hist, sid, {f["id"] for f in problems}, known)
    reason, cause = binding_cap(svc), incomplete_cause(svc)
    findings = Findings(svc["findings"], ages, hist, svc.get("short_findings"))
    shown = Shown(svc, f"../organisations/{org_slug(svc['organisation'])}.html")
    for lang in site.langs:
        page = site.service_page(lang).html(
            shown, findings, series, change, caps_told(svc, lang, site.all_texts[lang]), cause[lang] if cause else None,
            reason["reason"].get(lang, reason["reason"]["en"]) if reason else None, reason["more"] if reason else 0)
        site.put(lang, f"services/{sid}.html", page)
    worst: dict[str, tuple[str, str]] = {}
    for f in problems:
        kept = worst.get(f["check"])
        if kept is None or WORST_STATUS.index(f["status"]) < WORST_STATUS.index(kept[1]):
            worst[f["check"]] = (f["pillar"], f["status"])
    org = svc["organisation"]
    ledger.add_service({
        "id": sid, "name": svc["name"], "organisation": org, "owner": svc.get("owner") or "",
        "grade": svc["grade"], "rank": rank(svc["grade"]), "score": svc["score"], "reason": reason,
        "problems": len(problems), "fails": sum(f["status"] == "fail" for f in problems),
        "series": series, "direction": change.direction if change else None,
        "change": _change_row(change), "cause": cause,
        **{f"p_{p}": svc["pillars"].get(p, {}).get("score") for p in PILLARS},
    })
    ledger.add_problems([(sid, org, check, pillar, status) for check, (pillar, status) in worst.items()])
    ledger.add_lapsing(lapsing_of(svc))
    ledger.add_keys([(spki, sid, org, host) for host, spki in leaf_keys(svc)])


def _change_row(change: Any) -> dict[str, Any] | None:
    if change is None:
        return None
    return {"grade": list(change.grade) if change.grade else None,
            "new": sorted({f["check"] for f in change.new if f["status"] == "fail"}),
            "fixed": sorted({f["check"] for f in change.fixed if f["status"] == "fail"}),
            "unjudged": len(change.unjudged)}


def binding_cap(svc: Mapping[str, Any]) -> dict[str, Any] | None:
    """The cap that set the grade (the score alone would say otherwise), with its reason per language."""
    held = [c for c in svc.get("caps_detail") or [] if c["grade"] == svc["grade"] and c["grade"] != INCOMPLETE]
    if not held:
        return None
    return {"reason": held[0]["reason"], "more": len(held) - 1}


def incomplete_cause(svc: Mapping[str, Any]) -> dict[str, str] | None:
    """Why an incomplete service could not be graded, in words: what its first required check
    that could not run said (per language)."""
    if svc["grade"] != INCOMPLETE:
        return None
    checks = {c for cap in svc.get("caps_detail") or [] if cap["grade"] == INCOMPLETE for c in cap["checks"]}
    for f in svc["findings"]:
        if f["status"] == "error" and (not checks or f["check"] in checks):
            return {"en": f["message"], "nl": f.get("message_nl") or f["message"]}
    return {"en": "", "nl": ""}


def caps_told(svc: Mapping[str, Any], lang: str, texts_: Mapping[str, Any]) -> list[str]:
    """Why the service has its grade, in `lang`, from the cap records the run stored.

    A run stored before caps were records has only contract v1's English lines: those are shown.
    """
    if svc.get("caps_detail") is None:
        return list(svc["caps"])
    return [cap_text(cap, lang, texts_) for cap in svc["caps_detail"]]


# --------------------------------------------------------------------------- summary pages

LISTS = {  # the long lists of services, paginated: which services, in which order
    "all": ("", "rank DESC, score, name"),
    "changes": ("WHERE direction IS NOT NULL", "direction, rank DESC, score, name"),
}


def _summary_pages(site: Site, ledger: Ledger, workers: int) -> None:
    """The index, pillar, organisation and list pages, each in both languages, shared among
    `workers` processes (this one and forked ones), each reading the ledger through its own
    connection. The estate's figures are read here first; each process takes the next job when
    it is free, the longest first (the index and pillar pages, which share the estate's failing
    checks; then the list pages), so all are busy to the end."""
    facts = _estate(site, ledger)
    jobs: list[tuple[str, Any]] = [("estate", None)]
    for kind, (where, _) in LISTS.items():
        total = ledger.value(f"SELECT count(*) FROM services {where}")
        count = max(1, -(-total // PAGE))
        jobs += [("list", (kind, number, count, total)) for number in range(1, count + 1)]
    jobs += [("organisation", org) for org in facts["organisations"]]
    shares = max(1, min(workers, len(jobs) // 20))
    if shares == 1:
        _summary_share(site, ledger, facts, jobs)
        return
    taken = multiprocessing.get_context("fork").Value("i", 0)
    _in_processes(_summary_in_process, [(site, ledger.path, facts, jobs, taken)] * (shares - 1),
                  lambda: _summary_share(site, ledger, facts, _in_turn(jobs, taken)))


def _in_turn(jobs: list[tuple[str, Any]], taken: Any) -> Iterator[tuple[str, Any]]:
    """The jobs no process has taken yet, one at a time (`taken`: a count shared by the processes)."""
    while True:
        with taken.get_lock():
            n = taken.value
            taken.value = n + 1
        if n >= len(jobs):
            return
        yield jobs[n]


def _summary_in_process(site: Site, path: Path, facts: dict[str, Any], jobs: list[tuple[str, Any]],
                        taken: Any) -> None:
    ledger = Ledger(path)
    try:
        _summary_share(site, ledger, facts, _in_turn(jobs, taken))
    finally:
        ledger.close()


def _summary_share(site: Site, ledger: Ledger, facts: dict[str, Any], jobs: Iterable[tuple[str, Any]]) -> None:
    for kind, job in jobs:
        if kind == "estate":
            _estate_pages(site, ledger, facts)
        elif kind == "organisation":
            _organisation_pages(site, ledger, job)
        else:
            _list_page(site, ledger, *job)


def _estate_pages(site: Site, ledger: Ledger, facts: dict[str, Any]) -> None:
    """The index and the pillar pages, which share the estate's failing checks (read once)."""
    checks = _top_checks(site, ledger)
    lists = _index_lists(site, ledger, checks)
    for lang in site.langs:
        t = site.all_texts[lang]
        site.write(lang, "index.html", "index.html", **facts, **lists,
                   estate_chart=_trend(site, t, site.hist.estate, t["chart_estate"]))
    for pillar in PILLARS:
        context = _pillar(ledger, checks, pillar)
        for lang in site.langs:
            site.write(lang, f"pillars/{pillar}.html", "pillar.html", pillar=pillar, **context)


def _organisation_pages(site: Site, ledger: Ledger, organisation: Mapping[str, Any]) -> None:
    context = _organisation(site, ledger, organisation)
    groups = _checks_of(site, ledger, organisation["name"])
    for lang in site.langs:
        t = site.all_texts[lang]
        chart = _trend(site, t, organisation["series"], t["chart_organisation"]) if len(site.hist.points) > 1 else None
        site.write(lang, f"organisations/{org_slug(organisation['name'])}.html", "organisation.html",
                   org=organisation, groups=groups, org_chart=chart, **context)


def _estate(site: Site, ledger: Ledger) -> dict[str, Any]:
    """The figures of the index that do not depend on the language."""
    hist = site.hist
    organisations = []
    for row in ledger.rows(
            "SELECT organisation AS name, count(*) AS count, avg(CASE WHEN rank >= 0 THEN rank END) AS badness, "
            "sum(direction = 'down') AS down, sum(direction = 'up') AS up, "
            + ", ".join(f"avg(p_{p}) AS p_{p}" for p in PILLARS)
            + " FROM services GROUP BY organisation ORDER BY badness IS NULL, badness DESC, name"):
        row["grades"] = dict(ledger.db.execute(
            "SELECT grade, count(*) FROM services WHERE organisation = ? GROUP BY grade", (row["name"],)).fetchall())
        row["worst"] = max(row["grades"], key=rank) if row["grades"] else None
        row["series"] = hist.organisations.get(row["name"], [])
        organisations.append(row)
    grades = dict(ledger.db.execute("SELECT grade, count(*) FROM services GROUP BY grade").fetchall())
    return {
        "organisations": organisations, "grade_counts": grades, "total": sum(grades.values()),
        "good": ledger.value("SELECT count(*) FROM services WHERE rank >= 0 AND rank <= ?", GRADES.index("B")),
        "pillar_means": {p: ledger.value(f"SELECT avg(p_{p}) FROM services") for p in PILLARS},
        "down": ledger.value("SELECT count(*) FROM services WHERE direction = 'down'"),
        "up": ledger.value("SELECT count(*) FROM services WHERE direction = 'up'"),
        "incomplete": grades.get(INCOMPLETE, 0),
    }


def _index_lists(site: Site, ledger: Ledger, checks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "worst": list(ledger.rows("SELECT * FROM services WHERE rank >= 0 ORDER BY rank DESC, score, name LIMIT ?",
                                  TOP)),
        "regressions": list(ledger.rows(
            "SELECT * FROM services WHERE direction = 'down' ORDER BY rank DESC, score, name LIMIT ?", TOP)),
        "improvements": list(ledger.rows(
            "SELECT * FROM services WHERE direction = 'up' ORDER BY rank, score DESC, name LIMIT ?", TOP)),
        "incomplete_rows": list(ledger.rows(
            "SELECT * FROM services WHERE grade = ? ORDER BY organisation, name LIMIT ?", INCOMPLETE, TOP)),
        "top_checks": checks[:TOP // 2],
        "lapsing": list(ledger.rows("SELECT * FROM lapsing ORDER BY days_remaining, service_id, target LIMIT ?", TOP)),
        "lapsing_count": ledger.value("SELECT count(*) FROM lapsing"),
        "shared_keys": _shared_keys(ledger, 10),
    }


def _trend(site: Site, t: Mapping[str, Any], tallies: list[Any], label: str) -> Any:
    points = site.hist.points
    return charts.trend_chart([short_day(p.started) for p in points], [x.grades for x in tallies],
                              [p.policy_changed for p in points], label, _grade_words(t), t["policy_changed_short"])


def _grade_words(t: Mapping[str, Any]) -> dict[str, str]:
    return {g: (t["incomplete"] if g == INCOMPLETE else f"{t['grade']} {g}") for g in charts.ORDER}


def _top_checks(site: Site, ledger: Ledger, organisation: str | None = None) -> list[dict[str, Any]]:
    """The checks failing on the most services (of one organisation, or everywhere: a pillar's
    are those of its pillar, in the same order), with how many services each hits per status."""
    clause, args = ("WHERE organisation = ?", (organisation,)) if organisation is not None else ("", ())
    rows = list(ledger.rows(
        f"SELECT check_id, pillar, sum(status = 'fail') AS fail, sum(status = 'error') AS error, "
        f"sum(status = 'warn') AS warn, count(DISTINCT organisation) AS organisations FROM problems {clause} "
        f"GROUP BY check_id ORDER BY fail DESC, error DESC, warn DESC, check_id", *args))
    for row in rows:
        row["level"] = site.registry[row["check_id"]].level if row["check_id"] in site.registry else ""
    return rows


def _shared_keys(ledger: Ledger, limit: int) -> list[dict[str, Any]]:
    keys = list(ledger.rows(
        "SELECT spki, count(DISTINCT service_id) AS services, count(DISTINCT host) AS hosts, "
        "count(DISTINCT organisation) AS organisations FROM keys GROUP BY spki "
        "HAVING count(DISTINCT host) >= 2 AND count(DISTINCT service_id) >= 2 "
        "ORDER BY hosts DESC, services DESC, spki LIMIT ?", limit))
    for key in keys:
        key["sample"] = [r[0] for r in ledger.db.execute(
            "SELECT DISTINCT service_id FROM keys WHERE spki = ? ORDER BY service_id LIMIT ?", (key["spki"], SAMPLE))]
    return keys


def _organisation(site: Site, ledger: Ledger, organisation: Mapping[str, Any]) -> dict[str, Any]:
    name = organisation["name"]
    return {
        "owners": ledger.db.execute(
            "SELECT owner, count(*) FROM services WHERE organisation = ? AND owner != '' GROUP BY owner "
            "ORDER BY count(*) DESC, owner", (name,)).fetchall(),
        "services": list(ledger.rows("SELECT * FROM services WHERE organisation = ? "
                                     "ORDER BY rank DESC, score, name LIMIT ?", name, PAGE)),
        "changes": list(ledger.rows("SELECT * FROM services WHERE organisation = ? AND direction IS NOT NULL "
                                    "ORDER BY direction, rank DESC, score, name LIMIT ?", name, PAGE)),
        "incomplete_rows": list(ledger.rows("SELECT * FROM services WHERE organisation = ? AND grade = ? "
                                            "ORDER BY name LIMIT ?", name, INCOMPLETE, PAGE)),
        "lapsing": list(ledger.rows("SELECT * FROM lapsing WHERE organisation = ? "
                                    "ORDER BY days_remaining, service_id, target LIMIT ?", name, PAGE)),
    }


def _checks_of(site: Site, ledger: Ledger, organisation: str) -> list[dict[str, Any]]:
    """An organisation's open problems grouped by check, with the first services each hits
    (links, the same in both languages, with the service's status), read in one query (a
    window function per check is slower in SQLite than cutting the sorted rows here)."""
    groups = _top_checks(site, ledger, organisation)
    rows = ledger.db.execute(
        "SELECT p.check_id, p.service_id, s.name, p.status FROM problems p JOIN services s ON s.id = p.service_id "
        "WHERE p.organisation = ? ORDER BY p.check_id, p.status, s.name, p.service_id", (organisation,))
    samples = {check_id: [(service_link("../", sid, name), status)
                          for _, sid, name, status in islice(hits, SAMPLE_OF_CHECK)]
               for check_id, hits in groupby(rows, key=itemgetter(0))}
    for group in groups:
        group["sample"] = samples[group["check_id"]]
    return groups


def _pillar(ledger: Ledger, checks: list[dict[str, Any]], pillar: str) -> dict[str, Any]:
    column = f"p_{pillar}"
    context = {
        "checks": [c for c in checks if c["pillar"] == pillar],
        "ranking": list(ledger.rows(
            f"SELECT organisation AS name, count({column}) AS count, avg({column}) AS score FROM services "
            f"GROUP BY organisation HAVING count({column}) > 0 ORDER BY score, name")),
        "mean": ledger.value(f"SELECT avg({column}) FROM services"),
        "bands": Counter(charts.heat_class(v) for (v,) in ledger.db.execute(
            f"SELECT {column} FROM services WHERE {column} IS NOT NULL")),
        "lapsing": [], "lapsing_count": 0, "shared_keys": [],
    }
    if pillar == "certificate":
        context.update(
            lapsing=list(ledger.rows("SELECT * FROM lapsing ORDER BY days_remaining, service_id, target LIMIT ?",
                                     MAX_LAPSING)),
            lapsing_count=ledger.value("SELECT count(*) FROM lapsing"), shared_keys=_shared_keys(ledger, 50))
    return context


def _list_page(site: Site, ledger: Ledger, kind: str, number: int, count: int, total: int) -> None:
    """Page `number` of a long list of services, PAGE rows a page: lists/<kind>-<n>.html (the
    first page even when the list is empty)."""
    where, order = LISTS[kind]
    rows = list(ledger.rows(f"SELECT * FROM services {where} ORDER BY {order} LIMIT ? OFFSET ?",
                            PAGE, (number - 1) * PAGE))
    for lang in site.langs:
        site.write(lang, f"lists/{kind}-{number}.html", "list.html", kind=kind, rows=rows, number=number,
                   count=count, total=total)
