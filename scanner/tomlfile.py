"""TOML loading that turns every mistake into one line naming file, key path and line."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from scanner.model import InputError


def load_toml(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(str(path), "not UTF-8 text") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise InputError(str(path), f"invalid TOML: {exc}") from None


def line_of(text: str, key: str, after: int = 0) -> int | None:
    """Best-effort line number of a bare or quoted key (tomllib keeps no positions)."""
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
