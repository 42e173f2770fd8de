"""JUnit XML for CI test widgets (GitLab, Jenkins, Azure DevOps...).

One test suite per service, one test case per check and endpoint (or mail domain):
``classname`` is the endpoint, ``name`` the check id. Several findings of one check on
one endpoint (one per MX host, say) combine into one case, the worst deciding:
fail -> <failure>, error (could not measure) -> <error>, waived or not applicable ->
<skipped> with the reason, pass/warn/info -> passed (warnings in <system-out>). Under
`bolwerk gate` the widget shows what the gate decided: each suite gets a ``grade`` case
that fails (or errs, when it could not be judged) as the gate did for the service, a
check's case is a <failure> only when that finding failed the gate (``--fail-on``), and
every other problem is told in the case's <system-out> with a passing case; failures the
baseline already knew are <skipped> (the ratchet lets them through).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import Any

from checks.registry import Registry
from reports.common import clean, output, subject, waiver_text

# worst first: what decides a test case made of several findings
ORDER = ("fail", "error", "waived", "warn", "info", "pass", "not_applicable")


def _case_outcome(items: list[dict[str, Any]], known: set[str]) -> tuple[str, list[dict[str, Any]]]:
    def rank(f: dict[str, Any]) -> int:
        if f["status"] == "fail" and f["id"] in known:
            return ORDER.index("waived")  # tolerated by the baseline: skipped, like a waiver
        return ORDER.index(f["status"]) if f["status"] in ORDER else len(ORDER)

    worst = min(rank(f) for f in items)
    return ORDER[worst] if worst < len(ORDER) else "pass", [f for f in items if rank(f) == worst]


def _text(findings: list[dict[str, Any]]) -> str:
    lines = []
    for f in findings:
        evidence = f.get("evidence") or {}
        shown = clean(json.dumps(evidence, sort_keys=True, ensure_ascii=False), 2000) if evidence else ""
        lines.append(f"{f['target']}: {clean(f['message'])}" + (f"\n  evidence: {shown}" if shown else ""))
    return "\n".join(lines)


def build_junit(result: dict[str, Any], registry: Registry, verdict: Any = None) -> ET.Element:
    root = _root(result)
    totals: dict[str, int] = defaultdict(int)
    for svc in result["services"]:
        root.append(_suite(svc, result, registry, verdict, totals))
    _total(root, totals)
    return root


def _root(result: dict[str, Any]) -> ET.Element:
    return ET.Element("testsuites", name="bolwerk", timestamp=result["run"].get("started") or "")


def _total(root: ET.Element, totals: dict[str, int]) -> None:
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(totals[key]))
    root.set("time", "0")


def _suite(svc: dict[str, Any], result: dict[str, Any], registry: Registry, verdict: Any,
           totals: dict[str, int]) -> ET.Element:
    """One service's test suite; its counts are added to `totals`."""
    known = verdict.known_ids if verdict is not None and verdict.baseline is not None else set()
    gated = {s.id: s for s in verdict.services} if verdict is not None else {}
    gating = set(gated[svc["id"]].failing_ids) if svc["id"] in gated else None  # None: no gate, every failure counts
    suite = ET.Element("testsuite", name=f"{svc['id']} ({clean(svc['name'], 200)})",
                       timestamp=result["run"].get("started") or "")
    props = ET.SubElement(suite, "properties")
    for key, value in (("grade", svc.get("grade")), ("score", svc.get("score")),
                       ("policy", result["run"]["policy"]), ("run", result["run"]["id"])):
        ET.SubElement(props, "property", name=key, value="" if value is None else str(value))
    counts: dict[str, int] = defaultdict(int)
    cases: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for f in svc["findings"]:
        cases[(subject(f), f["check"])].append(f)
    if svc["id"] in gated:
        _grade_case(suite, svc, gated[svc["id"]], verdict, counts)
    for (target, check_id), items in sorted(cases.items()):
        chk = registry[check_id] if check_id in registry else None
        case = ET.SubElement(suite, "testcase", classname=clean(target, 500), name=check_id, time="0")
        counts["tests"] += 1
        outcome, worst = _case_outcome(items, known)
        title = chk.title["en"] if chk else check_id
        if gating is not None and outcome in ("fail", "error") and not any(f["id"] in gating for f in worst):
            word = "failed" if outcome == "fail" else "could not be measured"
            ET.SubElement(case, "system-out").text = (
                f"{word} ({worst[0]['level']}, {worst[0]['severity']}); the gate did not fail on it:\n" + _text(worst))
        elif outcome == "fail":
            counts["failures"] += 1
            el = ET.SubElement(case, "failure", type=f"{worst[0]['level']}/{worst[0]['severity']}",
                               message=clean(f"{title}: {worst[0]['message']}", 1000))
            fix = f"\nFix: {chk.remediation['en']}" if chk else ""
            el.text = _text(worst) + fix
        elif outcome == "error":
            counts["errors"] += 1
            el = ET.SubElement(case, "error", type="not_measured", message=clean(worst[0]["message"], 1000))
            el.text = _text(worst)
        elif outcome in ("waived", "not_applicable"):
            counts["skipped"] += 1
            f = worst[0]
            if f["status"] == "fail":
                reason = f"known since the baseline: {f['message']}"
            elif outcome == "waived":
                reason = f"waived: {waiver_text(f.get('waiver') or {})}"
            else:
                reason = f"not applicable: {f['message']}"
            ET.SubElement(case, "skipped", message=clean(reason, 1000))
        elif outcome == "warn":
            ET.SubElement(case, "system-out").text = "warning: " + _text(worst)
    for key in ("tests", "failures", "errors", "skipped"):
        suite.set(key, str(counts[key]))
        totals[key] += counts[key]
    suite.set("time", "0")
    return suite


def _grade_case(suite: ET.Element, svc: dict[str, Any], sv: Any, verdict: Any, counts: dict[str, int]) -> None:
    case = ET.SubElement(suite, "testcase", classname=svc["id"], name="grade", time="0")
    counts["tests"] += 1
    if sv.failures:
        counts["failures"] += 1
        el = ET.SubElement(case, "failure", type="policy",
                           message=clean(f"gate failed: {sv.failures[0]}", 1000))
        el.text = "\n".join(clean(line) for line in sv.failures)
    elif sv.unscanned:
        counts["errors"] += 1
        el = ET.SubElement(case, "error", type="not_scanned", message=clean(sv.unscanned[0], 1000))
        el.text = "\n".join(clean(line) for line in sv.unscanned)
    else:
        ET.SubElement(case, "system-out").text = clean(
            f"grade {svc.get('grade')} (minimum {verdict.min_grade})"
            + (f"; tolerated by the baseline: {'; '.join(sv.tolerated)}" if sv.tolerated else ""), 4000)


def write_junit(result: dict[str, Any], path: Any, registry: Registry, verdict: Any = None) -> None:
    """Suite by suite as the result gives its services (held in a temporary file until the totals,
    which the root element carries first, are known); ``-`` means standard output."""
    totals: dict[str, int] = defaultdict(int)
    count = 0
    with tempfile.TemporaryFile("w+", encoding="utf-8") as suites:
        for svc in result["services"]:
            count += 1
            suite = _suite(svc, result, registry, verdict, totals)
            ET.indent(suite, level=1)
            suites.write("\n  " + ET.tostring(suite, encoding="unicode"))
        root = _root(result)
        _total(root, totals)
        root.text = SUITES
        head, tail = ET.tostring(root, encoding="unicode").split(SUITES)
        with output(path) as out:
            out.write('<?xml version="1.0" encoding="UTF-8"?>\n' + head)
            suites.seek(0)
            shutil.copyfileobj(suites, out)
            out.write(("\n" if count else "") + tail + "\n")


SUITES = "@@suites@@"
