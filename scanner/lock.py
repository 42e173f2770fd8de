"""One writer per history: two scans of one store never overlap, and a run being written is never resumed.

A writing command (scan, demo, rescore, a gate with --db) takes an exclusive `flock` on
`<database>.lock`, beside the database, before it opens the store, and holds it until it
ends. The scan's forked worker processes inherit it, since they write the store too. The
kernel drops the lock when the last of these processes dies, so a killed scan never leaves a
stale lock behind: its run can be resumed at once, and a run that is still being written
cannot be. The file tells the next comer who holds it (pid, command, since when); it is
never removed, since removing it would let two processes lock two different files.
Readers (report, diff, runs) take no lock: SQLite's write-ahead log lets them read while
a scan writes.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from scanner.model import InputError
from scanner.store import now_rfc3339


class StoreLock:
    """`with StoreLock(db, "scan"):` the store at `db` is this process's to write."""

    def __init__(self, db: Path, command: str) -> None:
        self.path = Path(f"{db}.lock")
        self.db, self.command = Path(db), command
        self._fd: int | None = None

    def acquire(self) -> StoreLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise InputError(str(self.path), f"cannot create the lock file: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise InputError(str(self.db), f"another Bolwerk process is writing this history ({holder}); "
                                           "wait until it ends, or use another --db") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "command": self.command, "since": now_rfc3339()}).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StoreLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {holder['pid']}, `bolwerk {holder['command']}` since {holder['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its pid is not recorded"
