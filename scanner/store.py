"""The history: every run in SQLite, facts kept so a run can be re-judged later.

Each endpoint's and mail domain's facts are committed the moment they are collected,
so a killed scan keeps what it finished and `--resume` picks up the rest. The schema
is versioned; migrations run on open.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scanner.model import InputError
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
]


def default_db_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "bolwerk" / "history.db"


def now_rfc3339() -> str:
    return rfc3339(datetime.now(UTC))


def new_run_id(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


class Store:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
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
        version = self.schema_version
        if version > len(MIGRATIONS):
            raise InputError(str(self.path), f"database schema {version} is newer than this Bolwerk ({len(MIGRATIONS)})")
        for number, sql in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.db:
                self.db.execute("BEGIN")
                for statement in _statements(sql):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number}")

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
        self.db.execute(
            "INSERT OR IGNORE INTO services (run_id, service_id, name, organisation, definition) VALUES (?,?,?,?,?)",
            (run_id, service_id, name, organisation, json.dumps(definition, sort_keys=True)))

    def save_endpoint(self, run_id: str, service_id: str, target: str, addresses: list[str], facts: dict[str, Any]) -> None:
        self.db.execute("INSERT OR REPLACE INTO endpoints VALUES (?,?,?,?,?,?)",
                        (run_id, service_id, target, json.dumps(addresses), json.dumps(facts, sort_keys=True), now_rfc3339()))

    def save_mail_domain(self, run_id: str, service_id: str, domain: str, facts: dict[str, Any]) -> None:
        self.db.execute("INSERT OR REPLACE INTO mail_domains VALUES (?,?,?,?,?)",
                        (run_id, service_id, domain, json.dumps(facts, sort_keys=True), now_rfc3339()))

    def save_judgement(self, run_id: str, service_id: str, score: float | None, grade: str, caps: list[str],
                       pillars: dict[str, Any], findings: list[dict[str, Any]],
                       caps_detail: list[dict[str, Any]]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("DELETE FROM findings WHERE run_id = ? AND service_id = ?", (run_id, service_id))
            self.db.executemany(
                "INSERT INTO findings VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(run_id, service_id, f["id"], f["check"], f["pillar"], f["level"], f["severity"], f["status"],
                  f["target"], json.dumps(f, sort_keys=True)) for f in findings])
            self.db.execute(
                "UPDATE services SET score = ?, grade = ?, caps = ?, caps_detail = ?, pillars = ?, judged = ? "
                "WHERE run_id = ? AND service_id = ?",
                (score, grade, json.dumps(caps), json.dumps(caps_detail, sort_keys=True),
                 json.dumps(pillars, sort_keys=True), now_rfc3339(), run_id, service_id))

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

    def services(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT service_id, definition, score, grade, caps, caps_detail, pillars FROM services WHERE run_id = ? "
            "ORDER BY service_id", (run_id,)).fetchall()
        out = []
        for sid, definition, score, grade, caps, caps_detail, pillars in rows:
            svc = json.loads(definition)
            # caps_detail is None for services judged before caps were records (schema 1)
            svc.update(id=sid, score=score, grade=grade, caps=json.loads(caps or "[]"),
                       caps_detail=json.loads(caps_detail) if caps_detail else None,
                       pillars=json.loads(pillars or "{}"))
            svc["endpoint_facts"] = {
                t: {"addresses": json.loads(a), "facts": json.loads(f)}
                for t, a, f in self.db.execute(
                    "SELECT target, addresses, facts FROM endpoints WHERE run_id = ? AND service_id = ?", (run_id, sid))}
            svc["mail_facts"] = {
                d: json.loads(f) for d, f in self.db.execute(
                    "SELECT domain, facts FROM mail_domains WHERE run_id = ? AND service_id = ?", (run_id, sid))}
            svc["findings"] = [json.loads(d) for (d,) in self.db.execute(
                "SELECT data FROM findings WHERE run_id = ? AND service_id = ? ORDER BY pillar, check_id, target, finding_id",
                (run_id, sid))]
            out.append(svc)
        return out

    def previous_run(self, run_id: str) -> str | None:
        """The latest complete run before `run_id` judged under the same policy: what a trend compares with."""
        row = self.db.execute(
            "SELECT b.id FROM runs a JOIN runs b ON b.policy = a.policy AND b.started < a.started AND b.complete = 1 "
            "WHERE a.id = ? ORDER BY b.started DESC, b.id DESC LIMIT 1", (run_id,)).fetchone()
        return row[0] if row else None

    def grades(self, run_id: str) -> dict[str, tuple[str | None, float | None]]:
        """service id -> (grade, score) of one run, without loading its facts."""
        rows = self.db.execute("SELECT service_id, grade, score FROM services WHERE run_id = ?", (run_id,))
        return {sid: (grade, score) for sid, grade, score in rows}

    def collected(self, run_id: str) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
        """(service, target) and (service, domain) pairs already stored: what a resume skips."""
        eps = set(self.db.execute("SELECT service_id, target FROM endpoints WHERE run_id = ?", (run_id,)).fetchall())
        doms = set(self.db.execute("SELECT service_id, domain FROM mail_domains WHERE run_id = ?", (run_id,)).fetchall())
        return eps, doms


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
