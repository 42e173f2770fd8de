"""Contract v1.1: the JSON result with what repeats written once (docs/result-v1.1.md).

A result repeats itself: the issuing certificate of every chain, the suite list of every
endpoint behind one address, a header set, the mail facts of a shared provider, and the
body of every passing finding ("2 certificate(s), in order", in two languages, with its
level, severity and evidence). Contract v1.1 writes each such object once, in a table
`shared` keyed by a digest of its content, and puts `{"$ref": digest}` where it stood:

- in the facts of an endpoint or mail domain, every object or list of at least
  `MIN_SHARED` bytes (as compact JSON), innermost first (a table entry may refer to others);
- a finding whose status is pass, not_applicable or info leaves a service's `findings`
  for its `short_findings`, grouped by subject (else target): the digest of its body (the
  finding without id, target and subject), or `{"$ref": digest, "target": ..., "id": ...}`
  where the target is not the group or the id is not the one `finding_id` gives. Other
  findings stay in `findings`, whole, as in v1.

An object of the result that itself holds a key `$ref` or `$value` (a header a server named
so) is written `{"$value": object}`. `expand` undoes all of it: expand(v1.1) is the v1 result.

The writer holds no table in memory: each entry goes to a temporary SQLite table as it is
first met (INSERTS at a time; a bounded set of recent texts spares most repeated digests and
inserts), and the table is written, sorted by digest, after the last service. What it makes of
packed facts is remembered, RECENT parts and RECENT stored objects, each made object under
MIN_SHARED bytes (a larger one is a reference) and keyed by a digest or by an encoding under
the store's 512 bytes: a few MiB whatever the estate.
"""

from __future__ import annotations

import heapq
import re
import sqlite3
from collections.abc import Callable, Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson

from reports.common import schema
from scanner.compact import Packed, Recent, dumps, loads, reference
from scanner.short_findings import (
    MARKS,
    REF,
    SHORT_STATUSES,
    VALUE,
    ShortFindings,
    body_of,
    digest_of,
    digests,
    entry,
    finding_order,
    group_of,
    lengthened,
    located,
)

SCHEMA_V1, SCHEMA_V11 = (schema(v)["properties"]["schema"]["const"] for v in ("v1", "v1.1"))  # named once: there
_WALK = re.compile(rb'"\$(?:ref|value)"|\\u0000')  # either key or a packed reference's (a NUL): a part to walk
MIN_SHARED = 200  # bytes of compact JSON from which a fact object is written once, by digest
SPOOL_CACHE_KIB = 65536  # of a spool's pages in memory: 100,000 entries go in 40% sooner than with 2 MiB
SPOOL_PAGE = 65536  # bytes of a spool page: 100,000 entries go in 28% sooner than with 4 KiB pages, read back in 60% less
RECENT = 4096  # entries remembered in memory; an older one costs a digest and one INSERT OR IGNORE
# a table's entries as JSON text, `"digest":body`, in digest order (a digest is hex: nothing to escape)
_ENTRY = """SELECT '"' || digest || '":' || body FROM shared ORDER BY digest"""
INSERTS = 1000  # new entries gathered for one INSERT into the spool


def _literal(obj: dict[str, Any]) -> bool:
    return REF in obj or VALUE in obj


class Hoister:
    """Turns v1 services into v1.1 ones, keeping each shared object once in a spool on disk."""

    def __init__(self, spool: Path | None = None) -> None:
        # a private temporary database, on disk when it grows; or `spool`, for `merged_table`
        self.db = sqlite3.connect(spool or "")
        self.db.execute(f"PRAGMA page_size={SPOOL_PAGE}")  # large entries: fewer pages split, half the file, read sooner
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute(f"PRAGMA cache_size=-{SPOOL_CACHE_KIB}")  # digests go in at random: a larger cache, fewer reads
        self.db.execute("CREATE TABLE shared (digest TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID")
        self.recent = Recent(RECENT)  # an entry's text -> its digest (a look-up costs less than hashing it again)
        self.stored = Recent(RECENT)  # a stored object's digest -> what _part made of it
        self.made = Recent(RECENT)  # a larger part of packed facts, by its encoding -> what _part made of it
        self.pending: list[tuple[str, str]] = []  # entries not yet in the spool (at most INSERTS)
        self.tabled: set[str] = set()  # digests of stored finding bodies put in the table (emptied when full)

    def __enter__(self) -> Hoister:
        return self

    def __exit__(self, *exc: object) -> None:
        self._insert()
        self.db.commit()
        self.db.close()

    def service(self, svc: dict[str, Any]) -> dict[str, Any]:
        """One v1 service as v1.1. Its facts may be `Packed`, as the store keeps them: each object
        the store shares is then made over once, however many services refer to it."""
        out = _escaped({k: v for k, v in svc.items() if k not in ("endpoints", "mail_domains", "findings", "short_findings")})
        out["endpoints"] = [self._with_facts(ep) for ep in svc["endpoints"]]
        out["mail_domains"] = [self._with_facts(md) for md in svc["mail_domains"]]
        findings = svc["findings"]
        stored: ShortFindings | None = svc.get("short_findings")
        if stored is not None:  # kept short by the store as v1.1 writes them: only their bodies to table
            out["findings"] = _escaped(findings)
            out["short_findings"] = stored.groups
            tabled = self.tabled
            for digest in digests(stored.groups):
                if digest not in tabled:
                    if len(tabled) >= RECENT:
                        tabled.clear()
                    tabled.add(digest)
                    self._table(digest, stored.text(digest))
            return out
        if findings != sorted(findings, key=finding_order):  # not in v1's order: expand could not restore it
            out["findings"] = _escaped(findings)
            return out
        out["findings"] = _escaped([f for f in findings if f["status"] not in SHORT_STATUSES])
        short: dict[str, list[Any]] = {}
        for f in findings:
            if f["status"] in SHORT_STATUSES:
                group = group_of(f)
                short.setdefault(group, []).append(self._short(f, group))
        out["short_findings"] = short
        return out

    def table(self) -> Iterator[str]:
        """Every shared object met so far as an entry of the table (`_ENTRY`), sorted by digest."""
        self._insert()
        self.db.commit()
        yield from map(itemgetter(0), self.db.execute(_ENTRY))

    def _with_facts(self, item: dict[str, Any]) -> dict[str, Any]:
        out = _escaped({k: v for k, v in item.items() if k != "facts"})
        facts = item["facts"]
        if isinstance(facts, Packed):
            out["facts"] = self._parts(facts.top, facts.blob)
        else:
            out["facts"] = self._parts(facts, None)
        return out

    def _short(self, f: dict[str, Any], group: str) -> Any:
        """A short finding of the group `group` (its subject, or its target), as `entry` writes it."""
        body = body_of(f)
        text = dumps(body)  # a body is kept whole: most are met again, few hold a large shared part
        return entry(f, group, self._keep(self._share(body, top=True)[1] if MARKS.search(text) else text))

    def _share(self, obj: Any, top: bool = False, blob: Callable[[str], str] | None = None) -> tuple[Any, str]:
        """`obj` with every object or list of at least MIN_SHARED bytes (itself too, unless `top`)
        a reference, innermost first, and its compact JSON text (keys sorted)."""
        out = self._parts(obj, blob) if top else self._part(obj, blob)
        return out, dumps(out)

    def _part(self, obj: Any, blob: Callable[[str], str] | None) -> Any:
        """What an object or list within a larger one becomes: itself where it is smaller than
        MIN_SHARED and names neither `$ref`/`$value` nor a packed reference (nothing in it is large:
        one encoding, no walk); else its parts made over, and itself a reference if still that
        large. With `blob`, `obj` is packed facts (scanner/compact.py) whose shared objects `blob`
        reads, and each larger part is made once per Hoister (`made`, by its encoding)."""
        if blob and (stored := reference(obj)) is not None:
            return self._from_store(stored, blob)
        try:
            data = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # what orjson refuses (an integer beyond 64 bits): walked, as dumps can write it
            return self._made(obj, blob)
        if len(data) < MIN_SHARED and not _WALK.search(data):  # fewer characters than bytes: small too
            return obj
        if not blob:
            return self._made(obj, blob)
        made = self.made.get(data)
        if made is None:
            made = self._made(obj, blob)
            self.made.add(data, made)
        return made

    def _made(self, obj: Any, blob: Callable[[str], str] | None) -> Any:
        """`obj` with its parts made over (`_part`), a reference if it is still MIN_SHARED bytes or more."""
        out = self._parts(obj, blob)
        text = dumps(out)
        return out if len(text) < MIN_SHARED else {REF: self._keep(text)}

    def _parts(self, obj: dict[str, Any] | list[Any], blob: Callable[[str], str] | None) -> Any:
        """`obj` with each of its parts as `_part` makes it (an object naming `$ref` or `$value` wrapped)."""
        part = self._part
        if isinstance(obj, dict):
            out = {k: part(v, blob) if isinstance(v, dict | list) else v for k, v in obj.items()}
            return {VALUE: out} if _literal(obj) else out
        return [part(v, blob) if isinstance(v, dict | list) else v for v in obj]

    def _from_store(self, stored: str, blob: Callable[[str], str]) -> Any:
        """What `_part` makes of an object the store keeps once (by its digest `stored`): made
        once, then remembered (an object's digest names its content)."""
        made = self.stored.get(stored)
        if made is None:
            made = self._made(loads(blob(stored)), blob)
            self.stored.add(stored, made)
        return made

    def _keep(self, text: str) -> str:
        """The digest of an object's compact JSON text, the text kept in the table once."""
        digest = self.recent.get(text)
        if digest is None:
            digest = digest_of(text)
            self.recent.add(text, digest)
            self._table(digest, text)
        return digest

    def _table(self, digest: str, text: str) -> None:
        """An entry for the table, into the spool with the next INSERTS (the spool keeps it once)."""
        self.pending.append((digest, text))
        if len(self.pending) >= INSERTS:
            self._insert()

    def _insert(self) -> None:
        """The entries kept since the last call into the spool, in one statement."""
        self.db.executemany("INSERT OR IGNORE INTO shared VALUES (?, ?)", self.pending)
        self.pending.clear()


def merged_table(spools: list[Path]) -> Iterator[str]:
    """The tables of several Hoisters' spools as one (entries as `Hoister.table` gives them), sorted
    by digest, an entry met by several once. Each spool's table is kept sorted by digest (its key):
    merged as read, nothing sorted again (an entry's order is its digest's: all are as long)."""
    dbs = [sqlite3.connect(spool) for spool in spools]
    try:
        last = None
        for line in heapq.merge(*(map(itemgetter(0), db.execute(_ENTRY)) for db in dbs)):
            if line != last:
                yield line
                last = line
    finally:
        for db in dbs:
            db.close()


def _escaped(obj: Any) -> Any:
    """`obj` as v1.1 writes what it does not share: an object holding `$ref` or `$value` wrapped
    (`obj` itself when its JSON names neither, as nearly always: one encoding finds out
    sooner than a walk in Python)."""
    if isinstance(obj, dict | list) and not MARKS.search(dumps(obj)):
        return obj
    return _wrapped(obj)


def _wrapped(obj: Any) -> Any:
    if isinstance(obj, dict):
        out = {k: _wrapped(v) for k, v in obj.items()}
        return {VALUE: out} if _literal(obj) else out
    if isinstance(obj, list):
        return [_wrapped(v) for v in obj]
    return obj


class ResultError(ValueError):
    """A v1.1 document that cannot be expanded: a reference to nothing, or one that refers to itself."""


def expand(document: dict[str, Any]) -> dict[str, Any]:
    """A result of either contract as v1: a v1.1 document with every reference put back, its
    short findings back in `findings` in v1's order, and its table dropped; a v1 document (or
    anything else) is returned as it is. Expanded objects may be shared: do not change them."""
    if document.get("schema") != SCHEMA_V11:
        return document
    table = document.get("shared")
    if not isinstance(table, dict):
        raise ResultError('no "shared" table')
    done: dict[str, Any] = {}
    busy: set[str] = set()

    def shared(digest: Any) -> Any:
        if not isinstance(digest, str) or digest not in table:
            raise ResultError(f'{REF} {digest!r} names no entry of "shared"')
        if digest not in done:
            if digest in busy:
                raise ResultError(f"{REF} {digest!r} refers to itself")
            busy.add(digest)
            done[digest] = put_back(table[digest])
            busy.discard(digest)
        return done[digest]

    def put_back(obj: Any) -> Any:
        if isinstance(obj, list):
            return [put_back(v) for v in obj]
        if not isinstance(obj, dict):
            return obj
        if len(obj) == 1 and isinstance(obj.get(VALUE), dict):
            return {k: put_back(v) for k, v in obj[VALUE].items()}
        if len(obj) == 1 and REF in obj:
            return shared(obj[REF])
        return {k: put_back(v) for k, v in obj.items()}

    def short(group: str, item: Any) -> dict[str, Any]:
        return lengthened(group, item, dict(shared(located(group, item)[0])))

    def service(svc: dict[str, Any]) -> dict[str, Any]:
        out = {k: put_back(v) for k, v in svc.items() if k != "short_findings"}
        extra = [short(group, item) for group, items in svc.get("short_findings", {}).items() for item in items]
        if extra:
            out["findings"] = sorted(out["findings"] + extra, key=finding_order)
        return out

    try:
        out = {k: put_back(v) for k, v in document.items() if k not in ("shared", "services")}
        out["services"] = [service(svc) for svc in document["services"]]
    except (KeyError, TypeError, AttributeError) as exc:
        raise ResultError(f"not a v1.1 result: {exc!r}") from None
    out["schema"] = SCHEMA_V1
    return out
