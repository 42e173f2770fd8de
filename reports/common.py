"""What the machine outputs (SARIF, JUnit, CSV, Markdown) share.

Every renderer reads the JSON result (contract v1) plus the check registry for texts, and,
for `bolwerk gate`, the verdict (which failures are new since the baseline). Text that
came from a scanned server (messages, evidence) is untrusted: each renderer escapes it
for its own format; these helpers only shorten it and drop control characters.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import IO, Any

from scanner.compact import dumps

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
STDOUT = "-"


def schema(version: str = "v1") -> dict[str, Any]:
    """A result contract (v1, v1.1) as the JSON Schema shipped in the package."""
    text = resources.files("reports").joinpath(f"schema/scan-result-{version}.json").read_text(encoding="utf-8")
    return json.loads(text)


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
    with output(path) as out:
        out.write(text)


@contextlib.contextmanager
def output(path: Path | str) -> Iterator[IO[str]]:
    """A report's text stream, written as it is produced; ``-`` means standard output."""
    if str(path) == STDOUT:
        yield sys.stdout
        sys.stdout.flush()
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        yield out


ITEMS = "\x00items\x00"  # where stream_document puts the items of a document
ENTRIES = "\x00entries\x00"  # where it puts the entries of an object, after the items


def stream_document(out: IO[str], document: Any, items: Iterable[Any], *, indent: int | None = None,
                    sort_keys: bool = True, entries: Iterable[str] = (), encoded: bool = False) -> None:
    """Write a JSON document whose one list (marked by the value ITEMS) is written item by item,
    so the list is never held whole. Compact (`indent` None): one item per line (`encoded`: the
    items are that line already). A compact document may also hold, after that list, one object
    (marked by ENTRIES) written from `entries`, each `"key":value` as JSON text, one per line;
    `entries` is read only once every item is written."""
    text = json.dumps(document, indent=indent, sort_keys=sort_keys, ensure_ascii=False,
                      separators=None if indent else (",", ":"))
    head, tail = text.split(json.dumps(ITEMS), 1)
    pad = " " * (len(head) - head.rfind("\n") - 1 - len(head.rsplit("\n", 1)[-1].lstrip()))
    inner = pad + " " * (indent or 0)
    out.write(head + "[")
    if encoded:
        lines = items
    elif indent is None and sort_keys:
        lines = map(dumps, items)  # by orjson, as json writes it, several times sooner
    else:
        lines = (json.dumps(item, indent=indent, sort_keys=sort_keys, ensure_ascii=False,
                            separators=None if indent else (",", ":")) for item in items)
    if indent:
        lines = ("\n".join(inner + line for line in one.split("\n")) for one in lines)
    count = _members(out, lines)
    out.write(("\n" + (pad if indent else "") if count else "") + "]")
    if json.dumps(ENTRIES) in tail:
        middle, tail = tail.split(json.dumps(ENTRIES), 1)
        out.write(middle + "{")
        _members(out, entries)
        out.write("\n}")
    out.write(tail + "\n")


WRITE_CHARS = 1 << 16  # of a streamed list's or object's members, gathered for one write


def _members(out: IO[str], texts: Iterable[str]) -> int:
    """Write `texts`, members of a JSON list or object, each on a line of its own after a comma
    (bar the first), some WRITE_CHARS to a write (far fewer calls for short members, no large
    buffer for long ones); return how many there were."""
    count = 0
    for batch in _batches(texts):
        out.write(("," if count else "") + "\n" + ",\n".join(batch))
        count += len(batch)
    return count


def _batches(texts: Iterable[str]) -> Iterator[list[str]]:
    batch, size = [], 0
    for text in texts:
        batch.append(text)
        size += len(text)
        if size >= WRITE_CHARS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def repo_path(file: str) -> str:
    """A file path as code-scanning platforms want it: relative to the root of the repository
    holding it (the nearest folder above it with a `.git`), with '/'; outside a repository,
    relative to the working directory. A relative path is taken from the working directory,
    as the scan that stored it was."""
    path = Path(os.path.abspath(file))
    root = next((folder for folder in path.parents if (folder / ".git").exists()), Path.cwd())
    try:
        rel = path.relative_to(root)
    except ValueError:  # outside the repository and the working directory
        return str(file).replace(os.sep, "/")
    return rel.as_posix()


def waiver_text(waiver: dict[str, Any]) -> str:
    return clean(f"{waiver.get('reason', '')} (owner {waiver.get('owner', '?')}, until {waiver.get('expires', '?')})", 500)
