"""A Redis broker for the distributed engine's tests and bench: Debian's redis-server on a free
loopback port, a password for an ACL user (the default user off), data in a temporary folder.

It is configured as the README tells an operator to configure one (loopback, an ACL user
with a password, no admin or dangerous commands), so the tests prove that example works.
The append-only file is on, so a restart (`restart()`) keeps the queues and results, as a
broker restarted by its service manager would.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from scanner.lab.listener import free_port

USER = "bolwerk"
START_TIMEOUT = 10.0


def redis_server() -> str | None:
    """The redis-server program, or None when it is not installed."""
    return shutil.which("redis-server")


class RedisBroker:
    """`with RedisBroker() as url:` a running broker; the URL carries the user and password."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bolwerk-redis-"))
        self.port = free_port()
        self.password = secrets.token_hex(16)
        self.url = f"redis://{USER}:{self.password}@127.0.0.1:{self.port}/0"
        self._proc: subprocess.Popen | None = None
        (self.dir / "redis.conf").write_text("\n".join([
            "bind 127.0.0.1", f"port {self.port}", f"dir {self.dir}", 'save ""', "appendonly yes",
            "user default off", f"user {USER} on >{self.password} ~* &* +@all -@admin -@dangerous", ""]),
            encoding="utf-8")

    def start(self) -> str:
        program = redis_server()
        if program is None:
            raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
        self._proc = subprocess.Popen([program, str(self.dir / "redis.conf")], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_timeout=1.0)
        give_up = time.monotonic() + START_TIMEOUT
        try:
            while True:
                try:
                    client.ping()
                    return self.url
                except redis.exceptions.ConnectionError:
                    if time.monotonic() > give_up or self._proc.poll() is not None:
                        self.stop()
                        raise RuntimeError(f"redis-server did not start on 127.0.0.1:{self.port}") from None
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()  # SIGTERM: redis-server flushes its append-only file and exits
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
