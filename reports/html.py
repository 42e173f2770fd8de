"""The static HTML dashboard: an overview per organisation and pillar, a page per service.

jinja2 with autoescape on; no external resources; a strict Content-Security-Policy whose
only allowance is the hash of our own inline stylesheet. Written in Dutch and English.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import tomllib
from collections import defaultdict
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from checks.registry import Registry
from reports.expiry import lapsing_of, soonest_first
from reports.key_reuse import KeyGroups
from scanner.model import PILLARS
from scanner.policy import GRADES, INCOMPLETE, worse, worse_than
from scanner.scoring import cap_text

LANGS = ("nl", "en")
ATTENTION = ("fail", "error")


def texts() -> dict[str, Any]:
    return tomllib.loads(resources.files("reports").joinpath("i18n.toml").read_text(encoding="utf-8"))


def grade_class(grade: str | None) -> str:
    if not grade or grade == INCOMPLETE:
        return "g-inc"
    return "g-ap" if grade == "A+" else f"g-{grade.lower()}"


def fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("reports", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(grade_class=grade_class, fmt=fmt, pillars=PILLARS)
    return env


def _worst(grades: list[str | None]) -> str | None:
    known = [g for g in grades if g in GRADES]
    if any(g == INCOMPLETE for g in grades) and not known:
        return INCOMPLETE
    return functools.reduce(worse, known) if known else None


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def trend(before: tuple[str | None, float | None], grade: str | None, score: float | None) -> dict[str, Any]:
    """How a service moved since the previous run: its grade then, and the score change."""
    old_grade, old_score = before
    delta = None if old_score is None or score is None else round(score - old_score, 1)
    if old_grade in GRADES and grade in GRADES and old_grade != grade:
        direction = "down" if worse_than(grade, old_grade) else "up"
    elif delta:
        direction = "up" if delta > 0 else "down"
    else:
        direction = "same"
    return {"grade": old_grade, "delta": delta, "direction": direction}


def overview(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-organisation and per-pillar aggregates for the index page, from one light row per service."""
    services = sorted(rows, key=lambda s: (s["organisation"].lower(), s["name"].lower()))
    by_org: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for svc in services:
        by_org[svc["organisation"]].append(svc)
    organisations = []
    for name, items in sorted(by_org.items(), key=lambda kv: kv[0].lower()):
        organisations.append({
            "name": name, "count": len(items), "score": _mean([s["score"] for s in items]),
            "worst": _worst([s["grade"] for s in items]),
            "pillars": {p: _mean([s["pillars"][p]["score"] for s in items if p in s["pillars"]]) for p in PILLARS
                        if any(p in s["pillars"] for s in items)},
        })
    pillar_average = {p: _mean([s["pillars"][p]["score"] for s in services if p in s["pillars"]]) for p in PILLARS
                      if any(p in s["pillars"] for s in services)}
    return {"services": services, "organisations": organisations, "pillar_average": pillar_average}


def _findings_by_pillar(svc: dict[str, Any], registry: Registry, lang: str) -> dict[str, list[dict[str, Any]]]:
    order = {"fail": 0, "error": 1, "warn": 2, "waived": 3, "info": 4, "pass": 5, "not_applicable": 6}
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in sorted(svc["findings"], key=lambda f: (order.get(f["status"], 9), f["check"], f["target"])):
        chk = registry[f["check"]] if f["check"] in registry else None
        item = dict(f)
        item["title"] = chk.title.get(lang, chk.title["en"]) if chk else f["check"]
        item["remediation"] = chk.remediation.get(lang, chk.remediation["en"]) if chk else ""
        item["references"] = list(chk.references) if chk else []
        item["message"] = f.get(f"message_{lang}") or f["message"]
        item["evidence_text"] = json.dumps(f["evidence"], indent=2, ensure_ascii=False, sort_keys=True) if f["evidence"] else ""
        item["subject_target"] = f.get("subject", f["target"])
        out[f["pillar"]].append(item)
    return out


def caps_told(svc: dict[str, Any], lang: str, texts_: dict[str, Any]) -> list[str]:
    """Why the service has its grade, in `lang`, from the cap records the run stored.

    A run stored before caps were records has only contract v1's English lines: those are shown.
    """
    if svc.get("caps_detail") is None:
        return list(svc["caps"])
    return [cap_text(cap, lang, texts_) for cap in svc["caps_detail"]]


def render_dashboard(result: dict[str, Any], out: Path, registry: Registry, primary: str = "nl",
                     previous: tuple[str, Callable[[str], tuple[str | None, float | None] | None]] | None = None,
                     ) -> Path:
    """Write the dashboard; the primary language at `out`, the other under `out/<lang>`.

    Each service's pages are written as the result gives the service; the index keeps a
    light row per service (name, grade, scores) and the estate-wide watches. `previous` is
    (run id, the grade and score a service had then) of the last run under the same policy,
    so a manager sees whether each service improved.
    """
    env = _environment()
    all_texts = texts()
    style = resources.files("reports").joinpath("templates/style.css").read_text(encoding="utf-8")
    style_hash = "sha256-" + base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    langs = (primary, *[lang for lang in LANGS if lang != primary])

    def common(lang: str) -> dict[str, Any]:
        other = next(lang2 for lang2 in LANGS if lang2 != lang)
        return {"t": all_texts[lang], "lang": lang, "other_lang": other, "run": result["run"],
                "style": style, "style_hash": style_hash}

    def base(lang: str) -> Path:
        return out if lang == primary else out / lang

    for lang in langs:
        (base(lang) / "services").mkdir(parents=True, exist_ok=True)
    rows, lapsing, keys = [], [], KeyGroups()
    for full in result["services"]:
        lapsing += lapsing_of(full)
        keys.add(full)
        svc = dict(full)  # the page adds its own fields, the caller's service stays as it was
        svc["attention"] = sum(1 for f in svc["findings"] if f["status"] in ATTENTION)
        before = previous[1](svc["id"]) if previous else None
        svc["trend"] = trend(before, svc["grade"], svc["score"]) if before else None
        rows.append({k: svc[k] for k in ("id", "name", "organisation", "grade", "score", "pillars", "attention",
                                         "trend")})
        for lang in langs:
            shared = common(lang)
            page = f"services/{svc['id']}.html"
            other_href = f"../{shared['other_lang']}/{page}" if lang == primary else f"../../{page}"
            caps = caps_told(svc, lang, all_texts[lang])
            (base(lang) / page).write_text(env.get_template("service.html").render(
                **shared, service=svc, caps=caps, by_pillar=_findings_by_pillar(svc, registry, lang),
                other_lang_href=other_href), encoding="utf-8")
    data = overview(rows)
    data.update(lapsing=soonest_first(lapsing), shared_keys=keys.rows(), previous_run=previous[0] if previous else None)
    for lang in langs:
        shared = common(lang)
        to_other_root = f"{shared['other_lang']}/index.html" if lang == primary else "../index.html"
        (base(lang) / "index.html").write_text(
            env.get_template("index.html").render(**shared, **data, other_lang_href=to_other_root), encoding="utf-8")
    return out / "index.html"
