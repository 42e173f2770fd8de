"""`openssl s_server` as a lab server: real OpenSSL for what Python's ssl module cannot set.

Python's `ssl` cannot make a server offer TLS 1.3 early data (0-RTT): OpenSSL's own test
server can (`-max_early_data`), so the lab runs it for that case, on a loopback port of
its own, and relays the lab host's connections to it (`relay`): over HTTPS directly, for
an MX after STARTTLS (scanner/lab/smtp.py). The process starts with the first connection
and stops with the lab; it serves one connection at a time, as the scanner asks one at a
time per address. Needs the `openssl` command (Debian: package openssl).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from scanner.lab.listener import Handler, free_port, pipe
from scanner.lab.web import Site, handler

START_TIMEOUT = 5.0
RELAY_LIMIT = 30.0  # seconds a relayed connection may last


class OpenSSLServer:
    """One `openssl s_server` with the lab certificate `issued` and extra `args`."""

    def __init__(self, issued: Any, args: list[str]) -> None:
        if shutil.which("openssl") is None:
            raise RuntimeError("the lab's s_server cases need the openssl command")
        self.issued, self.args = issued, list(args)
        self.port = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._dir: tempfile.TemporaryDirectory | None = None
        self._starting = asyncio.Lock()

    async def address(self) -> tuple[str, int]:
        async with self._starting:
            if self._proc is None:
                await self._start()
        return "127.0.0.1", self.port

    async def _start(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="bolwerk-s_server-")
        pem, _ = self.issued.write(Path(self._dir.name), "server")
        self.port = free_port()
        self._proc = await asyncio.create_subprocess_exec(
            "openssl", "s_server", "-accept", f"127.0.0.1:{self.port}", "-cert", str(pem), "-key", str(pem),
            "-quiet", *self.args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"openssl s_server did not listen within {START_TIMEOUT:g} s")

    async def stop(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            try:
                await asyncio.wait_for(self._proc.wait(), 2)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        if self._dir is not None:
            self._dir.cleanup()


def relay(server: OpenSSLServer) -> Handler:
    """A connection handler that pipes the lab connection to `server`, both ways."""

    async def relayed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        b_reader, b_writer = await asyncio.open_connection(*await server.address())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(RELAY_LIMIT):
                await pipe(reader, writer, b_reader, b_writer)
        b_writer.close()

    return relayed


def for_entry(entry: dict) -> OpenSSLServer:
    """The s_server of a lab host or MX (`s_server = [args]`), stopped with the lab."""
    server = OpenSSLServer(entry["issued"], entry.get("s_server", []))
    entry["servers"].append(server)
    return server


@handler("openssl-s_server")
def _web(entry: dict, site: Site) -> Handler:
    return relay(for_entry(entry))
