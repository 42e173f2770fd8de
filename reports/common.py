"""What the machine outputs (SARIF, JUnit, CSV, Markdown) share.

Every renderer reads the JSON result (contract v1) plus the check registry for texts, and,
for `bolwerk gate`, the verdict (which failures are new since the baseline). Text that
came from a scanned server (messages, evidence) is untrusted: each renderer escapes it
for its own format; these helpers only shorten it and drop control characters.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
STDOUT = "-"


def clean(text: Any, limit: int = 1000) -> str:
    """One line of printable text, at most ``limit`` characters."""
    out = _CONTROL.sub("\ufffd", " ".join(str(text).split()))
    return out if len(out) <= limit else out[: limit - 1] + "\u2026"


def findings(result: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(service, finding) pairs in the result's (sorted) order."""
    for svc in result["services"]:
        for f in svc["findings"]:
            yield svc, f


def subject(finding: dict[str, Any]) -> str:
    """The endpoint or mail domain judged (a finding's target may be one MX of it)."""
    return finding.get("subject") or finding["target"]


def write(path: Path | str, text: str) -> None:
    """Write a report; ``-`` means standard output."""
    if str(path) == STDOUT:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def repo_path(file: str) -> str:
    """A file path as code-scanning platforms want it: relative to the checkout, with '/'."""
    path = Path(file)
    try:
        rel = os.path.relpath(path.resolve(), Path.cwd().resolve()) if path.is_absolute() else str(path)
    except ValueError:  # another drive on Windows
        rel = str(path)
    if rel.startswith(".."):
        rel = str(path)
    return rel.replace(os.sep, "/")


def waiver_text(waiver: dict[str, Any]) -> str:
    return clean(f"{waiver.get('reason', '')} (owner {waiver.get('owner', '?')}, until {waiver.get('expires', '?')})", 500)
