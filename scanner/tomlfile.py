"""TOML loading that turns every mistake into one line naming file, key path and line."""

from __future__ import annotations

import re
import tomllib
from datetime import date, time
from pathlib import Path
from typing import Any

from scanner.inputfiles import read_text
from scanner.model import InputError, shown


def load_toml(path: Path, what: str, limit: int) -> tuple[dict[str, Any], str]:
    """A TOML file of at most `limit` bytes, and its text (for line numbers)."""
    text = read_text(path, what, limit)
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise InputError(str(path), f"invalid TOML: {exc}") from None


def line_of(text: str, key: str, after: int = 0) -> int | None:
    """Best-effort line number of a bare or quoted key (tomllib keeps no positions)."""
    if len(key) > 256:  # no real key is that long; not worth a pattern of its size
        return None
    pattern = re.compile(r'^[ \t]*(?:\[+\s*)?(?:[\w."-]*\.)?"?' + re.escape(key) + r'"?\s*(?:=|\])', re.M)
    lines = text.splitlines()
    for number in range(after, len(lines)):
        if pattern.match(lines[number]):
            return number + 1
    return None


def nth_table_line(text: str, header: str, index: int) -> int | None:
    """Line of the index-th ``[[header]]`` array-of-tables entry."""
    pattern = re.compile(r"^[ \t]*\[\[\s*" + re.escape(header) + r"\s*\]\]", re.M)
    for n, match in enumerate(pattern.finditer(text)):
        if n == index:
            return text.count("\n", 0, match.start()) + 1
    return None


def where(path: Path | str, keypath: str, line: int | None = None) -> str:
    loc = f"{path}:{line}" if line else str(path)
    return f"{loc}: {keypath}" if keypath else loc


def kind_of(value: Any) -> str:
    """A TOML value as an error message names it: "an array", "the string 'x'"."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {shown(value)}"
    if isinstance(value, str):
        return f"the string {shown(value)}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (date, time)):  # a datetime is a date too
        return f"the {'time' if isinstance(value, time) else 'date'} {value.isoformat()}"
    return type(value).__name__
