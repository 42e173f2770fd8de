"""A service's findings as the store keeps them and contract v1.1 writes them: those that ask
for action whole, the others short.

Of a service's ~160 findings some 140 pass, do not apply or inform, and their bodies (a
finding without its id, target and subject: check, messages in two languages, level,
evidence) recur across an estate. The store keeps each such body once, by the digest
contract v1.1 names it by (docs/result-v1.1.md), and a service only the digests, grouped
by subject (else target), a finding's target and id beside its digest only where the group
does not give them. So `report` writes results.json's short findings as they are stored,
neither decoding nor encoding a body, and a dashboard reads a service's passes from bodies
it has met before; judging pays the encoding once, when the findings are made.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Container, Iterator, Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from scanner.compact import dumps, loads
from scanner.model import finding_id

REF, VALUE = "$ref", "$value"  # contract v1.1's marks: a reference to a shared object, an object kept as it is
MARKS = re.compile(r'"\$(?:ref|value)"')  # either key, in a compact JSON text
SHORT_STATUSES = frozenset({"pass", "not_applicable", "info"})  # no action asked: written short
IN_PLACE = ("id", "target", "subject")  # what a short finding's group and entry say, not its body
DIGEST_CHARS = 20  # 80 bits, as finding ids

finding_order = itemgetter("pillar", "check", "target", "id")  # of a service's findings in v1 (scanner.judge's)


def digest_of(text: str) -> str:
    """The digest contract v1.1 names an object by: of its compact JSON text (keys sorted)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:DIGEST_CHARS]


def group_id(check: str, target: str, group: str) -> str:
    """The id a finding of `group` (its subject, or its target) has when its check names one finding."""
    return finding_id(check, target, f"{group}\x1e" if group != target else "")


def group_of(f: Mapping[str, Any]) -> str:
    return f.get("subject") or f["target"]


def body_of(f: Mapping[str, Any]) -> dict[str, Any]:
    """A finding without what its group and entry say."""
    return {k: v for k, v in f.items() if k not in IN_PLACE}


def entry(f: Mapping[str, Any], group: str, digest: str) -> Any:
    """A short finding of `group` in it: its body's digest, with its target and id only where
    they are not the group and the id `group_id` gives."""
    where = {}
    if f["target"] != group:
        where["target"] = f["target"]
    if f["id"] != group_id(f["check"], f["target"], group):
        where["id"] = f["id"]
    return {REF: digest, **where} if where else digest


def located(group: str, item: Any) -> tuple[str, str]:
    """(digest, target) of an entry of `group`."""
    if isinstance(item, str):
        return item, group
    return item[REF], item.get("target", group)


def lengthened(group: str, item: Any, body: dict[str, Any]) -> dict[str, Any]:
    """The v1 finding an entry of `group` stands for, given its body (a dict of its own)."""
    target = located(group, item)[1]
    body["target"] = target
    body["id"] = (item.get("id") if isinstance(item, dict) else None) or group_id(body["check"], target, group)
    if target != group:
        body["subject"] = group
    return body


def digests(groups: Mapping[str, list[Any]]) -> Iterator[str]:
    """The digest of every entry of a service's short findings (a body's as often as it is named)."""
    for group, items in groups.items():
        for item in items:
            yield located(group, item)[0]


@dataclass
class Shortened:
    """A service's findings in the stored form: `long` whole (in v1's order), `short` by group;
    `bodies` the text of each digest `short` names."""

    long: list[dict[str, Any]]
    short: dict[str, list[Any]]
    bodies: dict[str, str]

    def stored(self) -> dict[str, Any]:
        return {"findings": self.long, "short_findings": self.short}


def shorten(findings: list[dict[str, Any]]) -> Shortened | None:
    """The stored form of a service's findings (v1's order, as the judge sorts them); None when
    they are not in that order or a short body names a mark of v1.1 (a header a server called
    "$ref"): v1.1 writes such a body in a form of its own, so they are kept whole as before."""
    if findings != sorted(findings, key=finding_order):
        return None
    long, short, bodies = [], {}, {}
    for f in findings:
        if f["status"] not in SHORT_STATUSES:
            long.append(f)
            continue
        text = dumps(body_of(f))
        if MARKS.search(text):
            return None
        digest = digest_of(text)
        bodies[digest] = text
        group = group_of(f)
        short.setdefault(group, []).append(entry(f, group, digest))
    return Shortened(long, short, bodies)


class ShortFindings:
    """A service's short findings as stored: `groups` (group -> entries, as v1.1 writes them),
    each body read by its digest (`text`), decoded once while it recurs (`body`: shared, do not
    change it)."""

    def __init__(self, groups: dict[str, list[Any]], text: Callable[[str], str],
                 body: Callable[[str], dict[str, Any]]) -> None:
        self.groups, self.text, self.body = groups, text, body

    def entries(self) -> Iterator[tuple[str, str, str | None, dict[str, Any]]]:
        """(group, target, id where the entry names one, body) of each short finding."""
        for group, items in self.groups.items():
            for item in items:
                if isinstance(item, str):
                    yield group, group, None, self.body(item)
                else:
                    yield group, item.get("target", group), item.get("id"), self.body(item[REF])

    def findings(self, checks: Container[str]) -> list[dict[str, Any]]:
        """The v1 findings (each a dict of its own) of `checks`."""
        out = []
        for group, items in self.groups.items():
            for item in items:
                digest = located(group, item)[0]
                if self.body(digest)["check"] in checks:
                    out.append(lengthened(group, item, loads(self.text(digest))))
        return out


def lengthen(stored: Mapping[str, Any], text: Callable[[str], str]) -> list[dict[str, Any]]:
    """A service's findings in v1's order from their stored form (`shorten`), every finding a
    dict of its own; `text` gives a body's text by its digest."""
    extra = [lengthened(group, item, loads(text(located(group, item)[0])))
             for group, items in stored["short_findings"].items() for item in items]
    return sorted(stored["findings"] + extra, key=finding_order) if extra else list(stored["findings"])
