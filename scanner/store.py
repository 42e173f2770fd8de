"""The history: every run in SQLite, facts kept so a run can be re-judged later.

Each endpoint's and mail domain's facts are committed as they are collected (a
`StoreWriter` batches them in transactions, on a thread of its own, off the scan's event
loop), so a killed scan keeps what it finished and `--resume` picks up the rest. Facts
and findings are kept compact (scanner/compact.py): what repeats is stored once, by
digest, in `blobs`, and every stored text is compressed; a finding that asks for no action
is kept as its body's digest, each body once in `finding_bodies` (scanner/short_findings.py).
Readers take a run service by service (`iter_services`), so no reader needs the whole run in
memory. The schema is versioned; migrations run on open.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scanner.compact import (
    Packed,
    Recent,
    compress,
    decompress,
    dumps,
    loads,
    pack,
    references,
    stored,
    unpack,
)
from scanner.model import PROBLEMS, InputError
from scanner.short_findings import ShortFindings, digests, lengthen, shorten
from scanner.times import rfc3339

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY, started TEXT NOT NULL, finished TEXT, complete INTEGER NOT NULL DEFAULT 0,
        tool_version TEXT NOT NULL, policy TEXT NOT NULL, inventory TEXT, options TEXT NOT NULL DEFAULT '{}',
        rescored_from TEXT
    );
    CREATE TABLE services (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, service_id TEXT NOT NULL,
        name TEXT NOT NULL, organisation TEXT, definition TEXT NOT NULL,
        score REAL, grade TEXT, caps TEXT, pillars TEXT, judged TEXT,
        PRIMARY KEY (run_id, service_id)
    );
    CREATE TABLE endpoints (
        run_id TEXT NOT NULL, service_id TEXT NOT NULL, target TEXT NOT NULL,
        addresses TEXT NOT NULL, facts TEXT NOT NULL, collected TEXT NOT NULL,
        PRIMARY KEY (run_id, service_id, target)
    );
    CREATE TABLE mail_domains (
        run_id TEXT NOT NULL, service_id TEXT NOT NULL, domain TEXT NOT NULL,
        facts TEXT NOT NULL, collected TEXT NOT NULL,
        PRIMARY KEY (run_id, service_id, domain)
    );
    CREATE TABLE findings (
        run_id TEXT NOT NULL, service_id TEXT NOT NULL, finding_id TEXT NOT NULL,
        check_id TEXT NOT NULL, pillar TEXT NOT NULL, level TEXT NOT NULL, severity TEXT NOT NULL,
        status TEXT NOT NULL, target TEXT NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (run_id, service_id, finding_id)
    );
    CREATE INDEX findings_check ON findings (check_id, status);
    """,
    # 2: judgements as data: the policy a run was judged under (digest and resolved data, so
    # reports and --resume never reload it), and each grade cap as a record (reason per language)
    """
    ALTER TABLE runs ADD COLUMN policy_digest TEXT;
    ALTER TABLE runs ADD COLUMN policy_data TEXT;
    ALTER TABLE services ADD COLUMN caps_detail TEXT;
    """,
    # 3: compact facts and findings: objects that repeat (certificate chains, suite lists, header
    # sets, a shared domain's mail facts) stored once by digest; facts compressed; a service's
    # findings one compressed list (runs judged before keep theirs in `findings`)
    """
    CREATE TABLE blobs (digest TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
    ALTER TABLE services ADD COLUMN findings BLOB;
    """,
    # 4: each judged service's problems in brief (`PROBLEM_KEYS` of its fail, warn and error
    # findings), so a report of a later run reads an earlier run's problems (a problem's age,
    # what changed) without its findings; services judged before have it NULL (read from findings)
    """
    ALTER TABLE services ADD COLUMN problems BLOB;
    """,
    # 5: short findings (pass, not_applicable, info) by digest, each body once (scanner/short_findings.py):
    # a service judged from now on keeps {"findings": [the others], "short_findings": {group: [entry]}}
    # in `findings` (services judged before keep their list)
    """
    CREATE TABLE finding_bodies (digest TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
    """,
]
PROBLEM_KEYS = ("id", "check", "status", "target", "subject")  # what a diff of problems reads of each
BLOB_CACHE = 512  # blob texts a reader keeps at hand (shared chains and suite lists are read often)
CACHE_KIB = 65536  # of the database's pages a connection keeps in memory
BODY_CACHE = 8192  # finding bodies a reader or writer keeps at hand (a few thousand recur on every service)


def default_db_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "bolwerk" / "history.db"


def now_rfc3339() -> str:
    return rfc3339(datetime.now(UTC))


def new_run_id(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


LOCK_WAIT = 60.0  # seconds a connection waits for another's lock before it gives up


def _write_ahead_log(db: sqlite3.Connection) -> None:
    """Switch a database to WAL. Processes opening a fresh database at once each hold a read
    lock while asking to change the header, and SQLite answers 'locked' at once rather than
    let them wait on each other (its busy timeout does not apply): try again, up to LOCK_WAIT."""
    give_up = time.monotonic() + LOCK_WAIT
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > give_up:
                raise
            time.sleep(0.02)


class Store:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=LOCK_WAIT)
            _write_ahead_log(self.db)
            # WAL with synchronous=NORMAL never corrupts the history; a power cut may lose the
            # last transactions, which --resume collects again.
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            # a report reads finding bodies, shared facts and earlier runs' rows all over the file:
            # pages kept at hand (as read, at most this much) spare it 15% of its time at 20,000 services
            self.db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            self._migrate()
            self._blobs = Recent(BLOB_CACHE)  # digest -> text, for reading
            self._written = Recent(4 * BLOB_CACHE)  # digests stored by this connection
            self._written_bodies = Recent(BODY_CACHE)  # finding bodies' digests stored by this connection
            # finding bodies' texts and the bodies decoded (shared: not to be changed), for reading;
            # plain dicts emptied when full: a page asks for ~140 bodies, most met on every service
            self._texts: dict[str, str] = {}
            self._bodies: dict[str, dict[str, Any]] = {}
        except sqlite3.DatabaseError as exc:
            raise InputError(str(self.path), f"not a Bolwerk database: {exc}") from None
        except OSError as exc:
            raise InputError(str(self.path), f"cannot open database: {exc.strerror or exc}") from None

    def close(self) -> None:
        self.db.close()

    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        """Bring the schema up to date. Each step takes the write lock first (BEGIN IMMEDIATE)
        and reads the version again under it, so two processes opening a fresh database at
        once do not both create its tables: the second waits, then finds them made."""
        while (version := self.schema_version) < len(MIGRATIONS):
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                if self.schema_version != version:  # another process migrated meanwhile
                    continue
                for statement in _statements(MIGRATIONS[version]):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {version + 1}")
        if version > len(MIGRATIONS):
            raise InputError(str(self.path), f"database schema {version} is newer than this Bolwerk ({len(MIGRATIONS)})")

    # -- writing -------------------------------------------------------------------------

    def start_run(self, run_id: str, started: str, tool_version: str, policy: str, inventory: str | None,
                  options: dict[str, Any], rescored_from: str | None = None, policy_digest: str | None = None,
                  policy_data: dict[str, Any] | None = None) -> None:
        """Record a new run; `policy` is its name@version, `policy_data` the resolved policy itself."""
        self.db.execute(
            "INSERT INTO runs (id, started, tool_version, policy, inventory, options, rescored_from, policy_digest, "
            "policy_data) VALUES (?,?,?,?,?,?,?,?,?)",
            (run_id, started, tool_version, policy, inventory, json.dumps(options, sort_keys=True), rescored_from,
             policy_digest, json.dumps(policy_data, sort_keys=True) if policy_data is not None else None))

    def reopen_run(self, run_id: str) -> None:
        self.db.execute("UPDATE runs SET finished = NULL, complete = 0 WHERE id = ?", (run_id,))

    def finish_run(self, run_id: str, complete: bool) -> None:
        self.db.execute("UPDATE runs SET finished = ?, complete = ? WHERE id = ?", (now_rfc3339(), int(complete), run_id))

    def save_service(self, run_id: str, service_id: str, name: str, organisation: str, definition: dict[str, Any]) -> None:
        self.save_services(run_id, [(service_id, name, organisation, definition)])

    def save_services(self, run_id: str, services: list[tuple[str, str, str, dict[str, Any]]]) -> None:
        """(id, name, organisation, definition) of each service, in one transaction; kept if already there."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT OR IGNORE INTO services (run_id, service_id, name, organisation, definition) VALUES (?,?,?,?,?)",
                [(run_id, sid, name, org, json.dumps(definition, sort_keys=True))
                 for sid, name, org, definition in services])

    def copy_facts(self, source: str, run_id: str) -> None:
        """Another run's services and facts, as they are stored (shared objects stay shared), unjudged."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("INSERT INTO services (run_id, service_id, name, organisation, definition) "
                            "SELECT ?, service_id, name, organisation, definition FROM services WHERE run_id = ?",
                            (run_id, source))
            self.db.execute("INSERT INTO endpoints SELECT ?, service_id, target, addresses, facts, collected "
                            "FROM endpoints WHERE run_id = ?", (run_id, source))
            self.db.execute("INSERT INTO mail_domains SELECT ?, service_id, domain, facts, collected "
                            "FROM mail_domains WHERE run_id = ?", (run_id, source))

    def save_endpoint(self, run_id: str, service_id: str, target: str, addresses: list[str], facts: dict[str, Any]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.write_unit(Collected(run_id, service_id, "endpoint", target, facts, addresses))

    def save_mail_domain(self, run_id: str, service_id: str, domain: str, facts: dict[str, Any]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.write_unit(Collected(run_id, service_id, "mail_domain", domain, facts))

    def write_unit(self, unit: Collected) -> None:
        """One unit's facts, within the caller's transaction: shared objects once, the rest packed."""
        blobs: dict[str, str] = {}
        packed = pack(unit.facts, blobs)
        new = [(d, compress(text)) for d, text in blobs.items() if d not in self._written]
        if new:
            self.db.executemany("INSERT OR IGNORE INTO blobs VALUES (?,?)", new)
            for digest, _ in new:
                self._written.add(digest)
        if unit.kind == "endpoint":
            self.db.execute("INSERT OR REPLACE INTO endpoints VALUES (?,?,?,?,?,?)",
                            (unit.run_id, unit.service_id, unit.subject, json.dumps(unit.addresses), packed,
                             now_rfc3339()))
        else:
            self.db.execute("INSERT OR REPLACE INTO mail_domains VALUES (?,?,?,?,?)",
                            (unit.run_id, unit.service_id, unit.subject, packed, now_rfc3339()))

    def save_judgement(self, run_id: str, service_id: str, score: float | None, grade: str, caps: list[str],
                       pillars: dict[str, Any], findings: list[dict[str, Any]],
                       caps_detail: list[dict[str, Any]]) -> None:
        """A service's verdict and findings; its short findings by digest, each new body once
        (scanner/short_findings.py), or its findings as a list where they cannot be kept short."""
        form = shorten(findings)
        new = [(d, text) for d, text in form.bodies.items() if d not in self._written_bodies] if form else []
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("DELETE FROM findings WHERE run_id = ? AND service_id = ?", (run_id, service_id))
            if new:
                self.db.executemany("INSERT OR IGNORE INTO finding_bodies VALUES (?, ?)", new)
            self.db.execute(
                "UPDATE services SET score = ?, grade = ?, caps = ?, caps_detail = ?, pillars = ?, judged = ?, "
                "findings = ?, problems = ? WHERE run_id = ? AND service_id = ?",
                (score, grade, json.dumps(caps), json.dumps(caps_detail, sort_keys=True),
                 json.dumps(pillars, sort_keys=True), now_rfc3339(),
                 compress(dumps(form.stored() if form else findings)),
                 compress(dumps(problems_of(findings))), run_id, service_id))
        for digest, _ in new:  # once committed: a body rolled back is written again next time
            self._written_bodies.add(digest)

    def keep_newest(self, keep: int, current: str) -> list[str]:
        """Retention: delete every run but the newest `keep` (never `current`), then every stored
        object no remaining run refers to; return the deleted run ids, oldest first."""
        rows = self.db.execute("SELECT id FROM runs ORDER BY started DESC, id DESC").fetchall()
        doomed = [r for (r,) in rows[keep:] if r != current][::-1]
        if not doomed:
            return []
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for table in ("findings", "endpoints", "mail_domains", "services", "runs"):
                column = "id" if table == "runs" else "run_id"
                self.db.executemany(f"DELETE FROM {table} WHERE {column} = ?", [(r,) for r in doomed])
            self._drop_unreferenced_blobs()
            self._drop_unreferenced_bodies()
        self._written = Recent(4 * BLOB_CACHE)
        self._written_bodies = Recent(BODY_CACHE)
        return doomed

    def _drop_unreferenced_bodies(self) -> None:
        """Sweep every finding body no remaining service's short findings name."""
        named: set[str] = set()
        for (kept,) in self.db.execute("SELECT findings FROM services WHERE findings IS NOT NULL"):
            form = stored(kept)
            if isinstance(form, dict):
                named.update(digests(form["short_findings"]))
        self._keep_only("finding_bodies", named)

    def _drop_unreferenced_blobs(self) -> None:
        """Mark every object the remaining facts refer to (objects may refer to objects), sweep the rest."""
        todo: set[str] = set()
        for table in ("endpoints", "mail_domains"):
            for (facts,) in self.db.execute(f"SELECT facts FROM {table}"):
                todo.update(references(decompress(facts)))
        seen: set[str] = set()
        while todo:
            digest = todo.pop()
            if digest in seen:
                continue
            seen.add(digest)
            row = self.db.execute("SELECT data FROM blobs WHERE digest = ?", (digest,)).fetchone()
            if row is not None:
                todo.update(references(decompress(row[0])) - seen)
        self._keep_only("blobs", seen)

    def _keep_only(self, table: str, kept: set[str]) -> None:
        """Delete every row of `table` (keyed by digest) whose digest is not in `kept`."""
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS kept (digest TEXT PRIMARY KEY) WITHOUT ROWID")
        self.db.execute("DELETE FROM kept")
        self.db.executemany("INSERT INTO kept VALUES (?)", [(d,) for d in kept])
        self.db.execute(f"DELETE FROM {table} WHERE digest NOT IN (SELECT digest FROM kept)")
        self.db.execute("DROP TABLE kept")

    def _text(self, digest: str) -> str:
        """A finding body's text, by its digest."""
        text = self._texts.get(digest)
        if text is None:
            if len(self._texts) >= BODY_CACHE:
                self._texts.clear()
            text = self._texts[digest] = self._by_digest("finding_bodies", "body", digest, "findings", "body")
        return text

    def _body(self, digest: str) -> dict[str, Any]:
        body = self._bodies.get(digest)
        if body is None:
            if len(self._bodies) >= BODY_CACHE:
                self._bodies.clear()
            body = self._bodies[digest] = loads(self._text(digest))
        return body

    def _blob(self, digest: str) -> str:
        text = self._blobs.get(digest)
        if text is None:
            text = decompress(self._by_digest("blobs", "data", digest, "facts", "object"))
            self._blobs.add(digest, text)
        return text

    def _by_digest(self, table: str, column: str, digest: str, what: str, thing: str) -> Any:
        """`column` of the row of `table` keyed by `digest`; a store that lost it is bad input."""
        row = self.db.execute(f"SELECT {column} FROM {table} WHERE digest = ?", (digest,)).fetchone()
        if row is None:
            raise InputError(str(self.path), f"stored {what} refer to a missing {thing} {digest}")
        return row[0]

    # -- reading -------------------------------------------------------------------------

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT id, started, finished, complete, policy, inventory, rescored_from FROM runs ORDER BY started DESC, id DESC LIMIT ?",
            (limit,)).fetchall()
        keys = ("id", "started", "finished", "complete", "policy", "inventory", "rescored_from")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def resolve_run(self, ref: str | None) -> str:
        """A run id, a unique prefix of one, or `latest`/None for the newest."""
        if ref in (None, "latest"):
            row = self.db.execute("SELECT id FROM runs ORDER BY started DESC, id DESC LIMIT 1").fetchone()
            if row is None:
                raise InputError(str(self.path), "no runs stored yet")
            return row[0]
        rows = self.db.execute("SELECT id FROM runs WHERE id LIKE ?", (ref.replace("%", "") + "%",)).fetchall()
        if len(rows) != 1:
            raise InputError(f"run {ref}", "no such run" if not rows else f"ambiguous ({len(rows)} runs match)")
        return rows[0][0]

    def run(self, run_id: str) -> dict[str, Any]:
        """One run; `policy_digest` and `policy_data` are None for runs stored before schema 2."""
        keys = ("id", "started", "finished", "complete", "tool_version", "policy", "inventory", "options",
                "rescored_from", "policy_digest", "policy_data")
        row = self.db.execute(f"SELECT {', '.join(keys)} FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise InputError(f"run {run_id}", "no such run")
        out = dict(zip(keys, row, strict=True))
        out["complete"] = bool(out["complete"])
        out["options"] = json.loads(out["options"])
        out["policy_data"] = json.loads(out["policy_data"]) if out["policy_data"] else None
        return out

    def service_ids(self, run_id: str) -> Iterator[str]:
        """The run's service ids in order, read a page at a time."""
        last = ""
        while True:
            rows = self.db.execute("SELECT service_id FROM services WHERE run_id = ? AND service_id > ? "
                                   "ORDER BY service_id LIMIT 500", (run_id, last)).fetchall()
            if not rows:
                return
            yield from (r[0] for r in rows)
            last = rows[-1][0]

    def iter_services(self, run_id: str) -> Iterator[dict[str, Any]]:
        """Every service of a run (definition, facts, findings, verdict), one at a time, by id."""
        for sid in self.service_ids(run_id):
            yield self.service(run_id, sid)

    def services(self, run_id: str) -> list[dict[str, Any]]:
        """Every service of a run at once: for small runs and tests; reports use `iter_services`."""
        return list(self.iter_services(run_id))

    def iter_verdicts(self, run_id: str) -> Iterator[dict[str, Any]]:
        """Each service's id, name, organisation, endpoints, grade, score, caps and pillar scores,
        without facts or findings."""
        for sid in self.service_ids(run_id):
            definition, grade, score, pillars, caps, caps_detail = self.db.execute(
                "SELECT definition, grade, score, pillars, caps, caps_detail FROM services "
                "WHERE run_id = ? AND service_id = ?", (run_id, sid)).fetchone()
            svc = json.loads(definition)
            yield {"id": sid, "name": svc["name"], "organisation": svc["organisation"] or "",
                   "endpoints": svc["endpoints"], "grade": grade, "score": score,
                   "pillars": json.loads(pillars or "{}"), "caps": json.loads(caps or "[]"),
                   "caps_detail": json.loads(caps_detail) if caps_detail else None}

    def count_services(self, run_id: str) -> int:
        return self.db.execute("SELECT count(*) FROM services WHERE run_id = ?", (run_id,)).fetchone()[0]

    def service(self, run_id: str, sid: str, facts: str = "expanded", short: bool = False) -> dict[str, Any]:
        """One service of a run: definition, verdict, findings and facts. `facts` "packed" gives each
        unit's facts as a `Packed` mapping (a section expanded when read), "none" leaves them out.
        `short` leaves the short findings the store keeps by digest out of `findings`, in
        `short_findings` (a `ShortFindings`), for a reader that takes them so (reports.hoist,
        the dashboard); a service judged before schema 5 has them all in `findings`."""
        definition, score, grade, caps, caps_detail, pillars, findings = self.db.execute(
            "SELECT definition, score, grade, caps, caps_detail, pillars, findings FROM services "
            "WHERE run_id = ? AND service_id = ?", (run_id, sid)).fetchone()
        svc = json.loads(definition)
        # caps_detail is None for services judged before caps were records (schema 1)
        svc.update(id=sid, score=score, grade=grade, caps=json.loads(caps or "[]"),
                   caps_detail=json.loads(caps_detail) if caps_detail else None,
                   pillars=json.loads(pillars or "{}"))
        form = stored(findings) if short and findings is not None else None
        if isinstance(form, dict):
            svc["findings"] = form["findings"]
            svc["short_findings"] = ShortFindings(form["short_findings"], self._text, self._body)
        else:
            svc["findings"] = form if form is not None else self._findings(run_id, sid, findings)
        if facts == "none":
            return svc
        read = (lambda f: unpack(f, self._blob)) if facts == "expanded" else (lambda f: Packed(f, self._blob))
        svc["endpoint_facts"] = {
            t: {"addresses": json.loads(a), "facts": read(f)} for t, a, f in self.db.execute(
                "SELECT target, addresses, facts FROM endpoints WHERE run_id = ? AND service_id = ?", (run_id, sid))}
        svc["mail_facts"] = {
            d: read(f) for d, f in self.db.execute(
                "SELECT domain, facts FROM mail_domains WHERE run_id = ? AND service_id = ?", (run_id, sid))}
        return svc

    def previous_run(self, run_id: str) -> str | None:
        """The latest complete run before `run_id` judged under the same policy: what a trend compares with."""
        row = self.db.execute(
            "SELECT b.id FROM runs a JOIN runs b ON b.policy = a.policy AND b.started < a.started AND b.complete = 1 "
            "WHERE a.id = ? ORDER BY b.started DESC, b.id DESC LIMIT 1", (run_id,)).fetchone()
        return row[0] if row else None

    def grade(self, run_id: str, service_id: str) -> tuple[str | None, float | None] | None:
        """(grade, score) of one service in one run, None when the run had no such service."""
        row = self.db.execute("SELECT grade, score FROM services WHERE run_id = ? AND service_id = ?",
                              (run_id, service_id)).fetchone()
        return (row[0], row[1]) if row else None

    def earlier_runs(self, run_id: str) -> list[dict[str, Any]]:
        """Complete runs started no later than `run_id` (itself included), newest first: what a
        trend draws from, with the policy each was judged under and the run it re-judged."""
        keys = ("id", "started", "policy", "policy_digest", "rescored_from")
        rows = self.db.execute(
            "SELECT b.id, b.started, b.policy, b.policy_digest, b.rescored_from FROM runs a JOIN runs b "
            "ON b.started <= a.started AND (b.complete = 1 OR b.id = a.id) WHERE a.id = ? "
            "ORDER BY b.started DESC, b.id DESC", (run_id,)).fetchall()
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def grade_counts(self, run_id: str) -> list[tuple[str, str | None, int]]:
        """(organisation, grade, services) of one run: an estate's and its organisations' trend
        points, counted by SQLite without reading a service."""
        return self.db.execute(
            "SELECT coalesce(organisation, ''), grade, count(*) FROM services WHERE run_id = ? GROUP BY 1, 2",
            (run_id,)).fetchall()

    def problems(self, run_id: str, service_id: str) -> list[dict[str, Any]] | None:
        """One service's problems in brief (`problems_of` its findings), None when the run has no
        such service: a few hundred bytes to read where its findings are tens of kilobytes."""
        row = self.db.execute("SELECT problems, findings FROM services WHERE run_id = ? AND service_id = ?",
                              (run_id, service_id)).fetchone()
        if row is None:
            return None
        if row[0] is not None:
            return stored(row[0])
        return problems_of(self._findings(run_id, service_id, row[1]))  # judged before schema 4

    def _findings(self, run_id: str, service_id: str, kept: bytes | None) -> list[dict[str, Any]]:
        if kept is not None:
            form = stored(kept)
            return lengthen(form, self._text) if isinstance(form, dict) else form
        return loads("[" + ",".join(d for (d,) in self.db.execute(  # judged before schema 3, or not judged yet
            "SELECT data FROM findings WHERE run_id = ? AND service_id = ? "
            "ORDER BY pillar, check_id, target, finding_id", (run_id, service_id))) + "]")

    def collected(self, run_id: str) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
        """(service, target) and (service, domain) pairs already stored: what a resume skips."""
        eps = set(self.db.execute("SELECT service_id, target FROM endpoints WHERE run_id = ?", (run_id,)).fetchall())
        doms = set(self.db.execute("SELECT service_id, domain FROM mail_domains WHERE run_id = ?", (run_id,)).fetchall())
        return eps, doms


def problems_of(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The fail, warn and error findings, each only its `PROBLEM_KEYS`."""
    return [{k: f[k] for k in PROBLEM_KEYS if k in f} for f in findings if f["status"] in PROBLEMS]


@dataclass
class Collected:
    """One unit of work's facts, as the runner hands them to the store."""

    run_id: str
    service_id: str
    kind: str  # "endpoint" | "mail_domain"
    subject: str  # the endpoint's target or the domain
    facts: dict[str, Any]
    addresses: list[str] = field(default_factory=list)


class StoreWriter:
    """Writes collected units in batched transactions on a thread of its own, with its own
    connection, so the scan's event loop never waits for SQLite or the disk.

    `put` queues a unit and returns at once; `stored(unit)` is called (on the writer's thread)
    once its transaction is committed. `close` writes what is queued and stops; a write that
    failed is raised there.
    """

    BATCH = 200

    def __init__(self, path: Path | str, stored: Callable[[Collected], None]) -> None:
        self._path, self._stored = path, stored
        self._queue: queue.Queue[Collected | None] = queue.Queue(maxsize=4 * self.BATCH)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="bolwerk-store", daemon=True)
        self._thread.start()

    def put(self, unit: Collected) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(unit)

    def flush(self) -> None:
        """Wait until every unit queued so far is written."""
        self._queue.join()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        store = Store(self._path)
        try:
            done = False
            while not done:
                batch = [self._queue.get()]
                while len(batch) < self.BATCH:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                done = batch[-1] is None
                units = [u for u in batch if u is not None]
                try:
                    if units and self._error is None:
                        with store.db:
                            store.db.execute("BEGIN")
                            for unit in units:
                                store.write_unit(unit)
                        for unit in units:
                            self._stored(unit)
                except BaseException as exc:  # raised to the scan by put(), flush() or close()
                    self._error = exc
                finally:
                    for _ in batch:
                        self._queue.task_done()
        finally:
            store.close()


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
