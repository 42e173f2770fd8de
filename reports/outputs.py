"""Every output of a result, written where the user asked: one writer for every command.

A file output is a path, or ``-`` for standard output (at most one output may take it);
``--out`` is a folder for `results.json` and the dashboard.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checks.registry import default_registry
from reports.common import STDOUT
from reports.csv import write_csv
from reports.html import render_dashboard
from reports.json import CONTRACTS, ResultShares, stored_result, write_json, write_ndjson
from reports.junit import write_junit
from reports.markdown import write_markdown
from reports.sarif import write_sarif
from scanner.inputfiles import check_writable, check_writable_folder
from scanner.model import InputError
from scanner.store import Store

Writer = Callable[..., None]  # (result, path, registry, verdict, **options of that format)
WRITERS: dict[str, Writer] = {
    "json": lambda result, path, registry, verdict, **contract: write_json(
        dict(result, gate=verdict.to_json()) if verdict else result, path, **contract),
    "ndjson": lambda result, path, registry, verdict: write_ndjson(result, path),
    "sarif": write_sarif,
    "junit": write_junit,
    "csv": write_csv,
    "markdown": write_markdown,
}


@dataclass
class Outputs:
    """What to write: files by format (``-`` = stdout), and a folder for results.json and the dashboard."""

    files: dict[str, Path] = field(default_factory=dict)
    out: Path | None = None
    lang: str = "nl"  # the dashboard's primary language
    banner: str | None = None  # a classification shown on every page of the dashboard (e.g. TLP:AMBER)
    workers: int = 1  # processes that write the dashboard's service pages
    options: dict[str, dict[str, Any]] = field(default_factory=dict)  # per format, e.g. {"json": {"contract": "v1"}}

    def __post_init__(self) -> None:
        """Refuse, before any scan, what could not be written later (and create nothing)."""
        if sum(str(path) == STDOUT for path in self.files.values()) > 1:
            raise InputError(STDOUT, "only one output can go to stdout")
        for fmt, path in self.files.items():
            if str(path) != STDOUT:
                check_writable(path, f"--{fmt}")
        if self.out:
            check_writable_folder(self.out, "--out")

    def __bool__(self) -> bool:
        return bool(self.files or self.out)

    @property
    def to_stdout(self) -> bool:
        return any(str(path) == STDOUT for path in self.files.values())


def write_outputs(result: dict[str, Any], outputs: Outputs, verdict: Any = None, results_json: bool = True) -> None:
    """Write every file output asked for, and results.json in the --out folder (unless the caller
    writes it: `results_json`). `verdict` is the gate's (its JSON goes under "gate"). The
    dashboard is written from the store (`write_run`)."""
    registry = default_registry()
    for fmt, path in outputs.files.items():
        try:
            WRITERS[fmt](result, path, registry, verdict, **outputs.options.get(fmt, {}))
        except OSError as exc:
            raise InputError(str(path), f"cannot write {fmt}: {exc.strerror or exc}") from None
    if outputs.out and results_json:
        try:
            write_json(result, outputs.out / "results.json", **outputs.options.get("json", {}))
        except OSError as exc:
            raise InputError(str(outputs.out), f"cannot write: {exc.strerror or exc}") from None


def write_run(store: Store, run_id: str, outputs: Outputs) -> dict[str, Any]:
    """Write every output asked for of a stored run, the dashboard with its history, each read from
    the store service by service; return the result (its services are read again when iterated).
    results.json (v1.1) is written from the services as the dashboard's processes read them (and
    put together while it writes its summary pages), the other outputs meanwhile here."""
    result = stored_result(store, run_id)
    if not outputs.out:
        write_outputs(result, outputs)
        return result
    together = outputs.options.get("json", {}).get("contract", CONTRACTS[0]) == "v1.1"
    try:
        outputs.out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".results-", dir=outputs.out) as parts:
            shares = ResultShares(result, outputs.out / "results.json", Path(parts)) if together else None
            render_dashboard(store, run_id, outputs.out / "dashboard", default_registry(), primary=outputs.lang,
                             banner=outputs.banner, workers=outputs.workers, alongside=shares,
                             meanwhile=lambda: write_outputs(result, outputs, results_json=not together))
    except OSError as exc:
        raise InputError(str(outputs.out), f"cannot write the dashboard: {exc.strerror or exc}") from None
    return result
