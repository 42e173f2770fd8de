"""CSV: one row per finding, for spreadsheets and data tools.

Cells that a spreadsheet would run as a formula (starting with =, +, -, @, tab or CR)
get a leading apostrophe: messages and evidence quote what scanned servers sent, and a
header value must not become a formula in someone's spreadsheet (CSV injection).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from checks.registry import Registry
from reports.common import clean, findings, output, subject

COLUMNS = ("run", "time", "policy", "service", "organisation", "grade", "score", "subject", "target", "check",
           "pillar", "level", "severity", "status", "message", "evidence", "finding_id", "waiver_owner",
           "waiver_expires", "waiver_reason", "controls", "baseline")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def safe(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def build_csv(result: dict[str, Any], registry: Registry | None = None, verdict: Any = None) -> str:
    buf = io.StringIO()
    _write_rows(buf, result, registry, verdict)
    return buf.getvalue()


def _write_rows(stream: Any, result: dict[str, Any], registry: Registry | None, verdict: Any) -> None:
    run = result["run"]
    out = csv.writer(stream, lineterminator="\r\n")
    out.writerow(COLUMNS)
    baseline = verdict is not None and verdict.baseline is not None
    for svc, f in findings(result):
        waiver = f.get("waiver") or {}
        chk = registry[f["check"]] if registry is not None and f["check"] in registry else None
        state = ""
        if baseline and f["status"] == "fail":
            state = "unchanged" if f["id"] in verdict.known_ids else "new"
        evidence = json.dumps(f.get("evidence") or {}, sort_keys=True, ensure_ascii=False)
        row = (run["id"], run["started"], run["policy"], svc["id"], svc.get("organisation", ""), svc.get("grade"),
               svc.get("score"), subject(f), f["target"], f["check"], f["pillar"], f["level"], f["severity"],
               f["status"], clean(f["message"], 2000), clean(evidence, 4000), f["id"], waiver.get("owner", ""),
               waiver.get("expires", ""), clean(waiver.get("reason", ""), 1000),
               " ".join(chk.controls) if chk else "", state)
        out.writerow([safe(v) for v in row])


def write_csv(result: dict[str, Any], path: Any, registry: Registry | None = None, verdict: Any = None) -> None:
    """Row by row as the result gives its services; ``-`` means standard output."""
    with output(path) as out:
        _write_rows(out, result, registry, verdict)
