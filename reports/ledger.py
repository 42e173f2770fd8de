"""What the dashboard's summary pages need of every service, kept in a temporary SQLite file.

The service pages are written one service at a time (by several processes for a large
estate); each leaves a light row here (verdict, change since the previous run, the checks
it fails, its lapsing certificates and leaf keys). The index, organisation, pillar and list
pages are then read back sorted and grouped by SQLite, so no page needs the estate in
memory: a shared wildcard key over 20,000 services is a count and a few names, and a list
of 20,000 services is read a page at a time.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scanner.model import PILLARS

SERVICE_COLUMNS = ("id", "name", "organisation", "owner", "grade", "rank", "score", "reason", "problems",
                   "fails", "series", "direction", "change", "cause", *(f"p_{p}" for p in PILLARS))
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS services ({", ".join(SERVICE_COLUMNS)});
CREATE TABLE IF NOT EXISTS problems (service_id, organisation, check_id, pillar, status);
CREATE TABLE IF NOT EXISTS lapsing (service_id, organisation, target, position, subject, not_after,
                                    days_remaining, status);
CREATE TABLE IF NOT EXISTS keys (spki, service_id, organisation, host);
"""
JSON_COLUMNS = {"reason", "series", "change", "cause"}


class Ledger:
    """One process's rows (`add_*`), or, with `merge`, everyone's, read back by the summary pages."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.executescript(SCHEMA)
        self.db.execute("BEGIN")

    def add_service(self, row: dict[str, Any]) -> None:
        self.db.execute(f"INSERT INTO services VALUES ({', '.join('?' * len(SERVICE_COLUMNS))})",
                        [json.dumps(row[c]) if c in JSON_COLUMNS else row[c] for c in SERVICE_COLUMNS])

    def add_problems(self, rows: list[tuple[str, str, str, str, str]]) -> None:
        self.db.executemany("INSERT INTO problems VALUES (?,?,?,?,?)", rows)

    def add_lapsing(self, rows: list[dict[str, Any]]) -> None:
        self.db.executemany("INSERT INTO lapsing VALUES (?,?,?,?,?,?,?,?)", [
            (r["service"], r["organisation"], r["target"], r["position"], r["subject"], r["not_after"],
             r["days_remaining"], r["status"]) for r in rows])

    def add_keys(self, rows: list[tuple[str, str, str, str]]) -> None:
        self.db.executemany("INSERT INTO keys VALUES (?,?,?,?)", rows)

    def close(self) -> None:
        if self.db.in_transaction:
            self.db.execute("COMMIT")
        self.db.close()

    def merge(self, others: list[Path]) -> None:
        """Take in the rows other processes wrote, then index what the pages sort and group by
        (an organisation's problems and the services' names covered: its page reads no row)."""
        if self.db.in_transaction:
            self.db.execute("COMMIT")
        for n, other in enumerate(others):
            self.db.execute(f"ATTACH DATABASE ? AS w{n}", (str(other),))
            self.db.execute("BEGIN")
            for table in ("services", "problems", "lapsing", "keys"):
                self.db.execute(f"INSERT INTO {table} SELECT * FROM w{n}.{table}")
            self.db.execute("COMMIT")
            self.db.execute(f"DETACH DATABASE w{n}")
        self.db.executescript("""
            CREATE INDEX services_id ON services (id, name);
            CREATE INDEX services_worst ON services (rank DESC, score, name);
            CREATE INDEX services_org ON services (organisation, rank DESC, score, name);
            CREATE INDEX problems_check ON problems (check_id, status);
            CREATE INDEX problems_org ON problems (organisation, check_id, status, pillar, service_id);
            CREATE INDEX keys_spki ON keys (spki);
        """)

    # -- reading ---------------------------------------------------------------------------

    def rows(self, sql: str, *args: Any) -> Iterator[dict[str, Any]]:
        """Rows as dicts, the JSON columns decoded (most hold `null`: no cap, no cause)."""
        cursor = self.db.execute(sql, args)
        names = [d[0] for d in cursor.description]
        decoded = [name for name in names if name in JSON_COLUMNS]
        for values in cursor:
            row = dict(zip(names, values, strict=True))
            for key in decoded:
                text = row[key]
                row[key] = None if text is None or text == "null" else json.loads(text)
            yield row

    def value(self, sql: str, *args: Any) -> Any:
        return self.db.execute(sql, args).fetchone()[0]
