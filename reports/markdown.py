"""A Markdown summary fit for a merge-request comment (GitLab, GitHub, Gitea...).

The verdict first, then one table row per service, then what failed (new ones marked
under a baseline) with how to fix it, what is waived (comply or explain), what could not
be measured and which framework controls are affected. Text from scanned servers is
escaped so it renders as text, never as markup, links or HTML; long lists are cut
and the whole stays well under the comment size limits of the common platforms.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from checks.registry import Registry
from reports.common import clean, waiver_text, write
from scanner.model import PILLARS

MAX_ROWS = 50
MAX_CHARS = 60_000
_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_LEADING = re.compile(r"^([-+#>=])")
_ORDERED = re.compile(r"^(\d+)([.)])")
HEADINGS = {"PASS": "\u2705 Bolwerk gate passed", "FAIL": "\u274c Bolwerk gate failed",
            "COULD NOT SCAN": "\u26a0\ufe0f Bolwerk gate could not scan"}
PILLAR_LABELS = {"tls": "TLS", "certificate": "Certificate", "http": "HTTP", "dns": "DNS", "mail": "Mail"}


def md(text: Any, limit: int = 300) -> str:
    """Untrusted text as inert Markdown: no HTML, no links, no emphasis, no table breaks."""
    out = clean(text, limit).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = _SPECIAL.sub(r"\\\1", out)
    return _ORDERED.sub(r"\1\\\2", _LEADING.sub(r"\\\1", out))


def code(text: str) -> str:
    return "`" + clean(text, 200).replace("`", "'") + "`"


class _Rows:
    """The first MAX_ROWS rows of a section (the least by `key`, in order of arrival among equals)
    and how many there were: a section of a large estate is read once and never held whole."""

    def __init__(self, key: Callable[[Any], Any] | None = None) -> None:
        self.key, self.count, self._kept = key, 0, []

    def add(self, item: Any, row: Callable[[], str]) -> None:
        self.count += 1
        if self.key is None:
            if self.count <= MAX_ROWS:
                self._kept.append(((), row()))
            return
        self._kept.append(((self.key(item), self.count), row()))
        if len(self._kept) >= 2 * MAX_ROWS:
            self._kept = sorted(self._kept)[:MAX_ROWS]

    def rows(self, what: str) -> list[str]:
        out = [row for _, row in sorted(self._kept)[:MAX_ROWS]] if self.key else [row for _, row in self._kept]
        if self.count > MAX_ROWS:
            out.append(f"\n_\u2026and {self.count - MAX_ROWS} more {what} (see the JSON or SARIF output)._")
        return out


def build_markdown(result: dict[str, Any], registry: Registry | None = None, verdict: Any = None) -> str:
    """The summary, from one pass over the services: each section keeps its first rows and a count,
    the service table only as much as fits in a comment."""
    run = result["run"]
    known = verdict.known_ids if verdict is not None and verdict.baseline is not None else set()
    lines = [f"### {HEADINGS[verdict.label]}" if verdict is not None else "### Bolwerk scan results", ""]
    n = len(result["services"])
    meta = [f"Policy {code(run['policy'])}", f"run {code(run['id'])}", f"{n} service{'' if n == 1 else 's'}"]
    if verdict is not None:
        meta.append(f"minimum grade **{verdict.min_grade}**")
        if verdict.fail_on:
            meta.append(f"fails on {'new ' if verdict.baseline else ''}{verdict.fail_on}-level findings")
        if verdict.baseline:
            meta.append(f"baseline {code(verdict.baseline.path.rsplit('/', 1)[-1])}")
    lines += [" \u00b7 ".join(meta), ""]
    if verdict is not None:
        lines += [f"> {md(verdict.reason.removeprefix('bolwerk: gate: '), 600)}", ""]

    states = {s.id: s.state for s in verdict.services} if verdict is not None else {}
    header = ["Service", "Grade", "Score", *(PILLAR_LABELS[p] for p in PILLARS)] + (["Gate"] if verdict else [])
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    table = sum(len(line) + 1 for line in lines)  # past MAX_CHARS the text is cut: later rows never show
    ratchet = verdict is not None and verdict.baseline is not None
    failing = _Rows(key=lambda p: (p[1]["id"] in known, p[1]["level"] != "required", p[0]["id"]))
    waived, lapsed, errors = _Rows(), _Rows(), _Rows()
    fixes: set[str] = set()
    per_control: Counter[str] = Counter()
    for svc in result["services"]:
        if table <= MAX_CHARS:
            lines.append(_service_row(svc, states if verdict is not None else None))
            table += len(lines[-1]) + 1
        for f in svc["findings"]:
            if f["status"] == "fail":
                failing.add((svc, f), lambda svc=svc, f=f: _failing_row(svc, f, known, ratchet))
                if registry is not None and f["check"] in registry:
                    fixes.add(f["check"])
                    per_control.update(registry[f["check"]].controls)
            elif f["status"] == "waived":
                waived.add(f, lambda f=f: f"- {code(f['check'])} on {md(f['target'], 120)}: "
                                          f"{md(waiver_text(f.get('waiver') or {}), 500)}")
            elif f["status"] == "error":
                errors.add(f, lambda f=f: f"- {code(f['check'])} on {md(f['target'], 120)}: {md(f['message'])}")
            if (f.get("waiver") or {}).get("expired"):
                lapsed.add(f, lambda f=f: f"- {code(f['check'])} on {md(f['target'], 120)}: expired on "
                                          f"{md(f['waiver'].get('expires'))} (owner {md(f['waiver'].get('owner'))}); "
                                          "it counts again")
    lines.append("")

    if failing.count:
        lines += [f"#### Failing checks ({failing.count})", ""]
        rows = ["| " + ("Since baseline | " if ratchet else "") + "Service | Check | Level | Target | Problem |",
                "|" + "---|" * (6 if ratchet else 5)]
        lines += rows + failing.rows("failing checks") + [""]
        if fixes:
            lines += ["<details><summary>How to fix</summary>", ""]
            lines += [f"- {code(c)} {md(registry[c].title['en'])}: {md(registry[c].remediation['en'], 600)}"
                      for c in sorted(fixes)]
            lines += ["", "</details>", ""]
    if waived.count:
        lines += [f"#### Waived: comply or explain ({waived.count})", ""]
        lines += waived.rows("waivers") + [""]
    if lapsed.count:
        lines += [f"#### Expired waivers ({lapsed.count})", ""]
        lines += lapsed.rows("expired waivers") + [""]
    if errors.count:
        lines += [f"<details><summary>Could not measure ({errors.count})</summary>", ""]
        lines += errors.rows("errors") + ["", "</details>", ""]
    if per_control:
        from checks.controls import control_map

        cmap = control_map()
        lines += ["#### Controls affected", ""]
        lines += [f"- {code(ref)} {md(cmap.title(ref), 200)}: {n} failing" for ref, n in sorted(per_control.items())]
        lines.append("")

    if verdict is not None and verdict.notes:
        lines += ["#### Notes", ""] + [f"- {md(n, 400)}" for n in verdict.notes[:MAX_ROWS]] + [""]
    text = "\n".join(lines).rstrip() + "\n"
    if len(text) > MAX_CHARS:
        text = text[: MAX_CHARS - 200].rsplit("\n", 1)[0] + "\n\n_\u2026cut to fit a comment; see the JSON output._\n"
    return text


def _service_row(svc: dict[str, Any], states: dict[str, str] | None) -> str:
    pillars = [f"{svc['pillars'][p]['score']:.0f}" if p in svc.get("pillars", {}) else "\u2013" for p in PILLARS]
    score = "\u2013" if svc.get("score") is None else f"{svc['score']:.1f}"
    grade = svc.get("grade") or "\u2013"
    row = [md(svc["id"], 80), f"**{grade}**", score, *pillars]
    if states is not None:
        row.append({"pass": "\u2705 pass", "fail": "\u274c fail", "unscanned": "\u26a0\ufe0f not scanned"}[
            states.get(svc["id"], "pass")])
    return "| " + " | ".join(row) + " |"


def _failing_row(svc: dict[str, Any], f: dict[str, Any], known: set[str], ratchet: bool) -> str:
    mark = ("known | " if f["id"] in known else "\U0001f195 new | ") if ratchet else ""
    return (f"| {mark}{md(svc['id'], 80)} | {code(f['check'])} | {f['level']} | {md(f['target'], 120)} "
            f"| {md(f['message'])} |")


def write_markdown(result: dict[str, Any], path: Any, registry: Registry | None = None, verdict: Any = None) -> None:
    write(path, build_markdown(result, registry, verdict))
