"""One TCP listener for every lab server: a free loopback port, TLS optional, a clean stop.

The web, SMTP, DNS-over-TCP, scripted-TLS and stapling servers differ only in what they
say on a connection (their `handler`). What they share lives here: binding, the TLS
handshake timeout, closing each connection when its handler returns or fails with a
network error, and a stop that also ends the connections still open (a trickling
hostile server, a client that never hangs up), which `asyncio.Server.close()` leaves
running on Python 3.11.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections import Counter
from collections.abc import Awaitable, Callable

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
HANDSHAKE_TIMEOUT = 5.0  # seconds a TLS client gets to finish its handshake
STOP_TIMEOUT = 2.0
# What a client can do to a connection (OSError covers resets, timeouts and TLS errors);
# the handler's job ends there.
NETWORK_ERRORS = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError)


def free_port(ip: str = "127.0.0.1") -> int:
    """A TCP port free on `ip` now, for a server of another process (redis, nginx) to bind."""
    with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((ip, 0))
        return sock.getsockname()[1]


class OpenConnections:
    """Connections open at once to each address, over every listener of this process, and the
    most ever open: what a server sees of the scanner's caps per address."""

    def __init__(self) -> None:
        self.now: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()

    def opened(self, ip: str) -> None:
        self.now[ip] += 1
        self.peak[ip] = max(self.peak[ip], self.now[ip])

    def closed(self, ip: str) -> None:
        self.now[ip] -= 1


OPEN = OpenConnections()  # the lab runs one event loop per process: one count for all its listeners


class Listener:
    """Serve each connection on (ip, port) with `handler`; port 0 picks a free one."""

    def __init__(self, ip: str, handler: Handler, tls: ssl.SSLContext | Callable[[], ssl.SSLContext] | None = None
                 ) -> None:
        """`tls`: one context for every connection, or a factory of a fresh one per connection."""
        self.ip, self.handler = ip, handler
        self.tls, self.fresh_tls = (None, tls) if callable(tls) else (tls, None)
        self.port = 0
        self.accepted = 0  # connections served so far (the scale bench counts them where they arrive)
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.Task] = set()
        self._stopping = False

    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(self._connection, self.ip, port, ssl=self.tls,
                                                  ssl_handshake_timeout=HANDSHAKE_TIMEOUT if self.tls else None)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._connections.add(task)
        self.accepted += 1
        OPEN.opened(self.ip)
        try:
            if self.fresh_tls is not None:
                await writer.start_tls(self.fresh_tls(), ssl_handshake_timeout=HANDSHAKE_TIMEOUT)
            await self.handler(reader, writer)
        except NETWORK_ERRORS:
            pass
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            # Ended by stop(): finish normally, since asyncio's stream callback reports a
            # cancelled connection task as an unhandled error.
        finally:
            OPEN.closed(self.ip)
            self._connections.discard(task)
            writer.close()

    async def stop(self) -> None:
        if self._server is None:
            return
        self._stopping = True
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=STOP_TIMEOUT)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), STOP_TIMEOUT)


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
               other_reader: asyncio.StreamReader, other_writer: asyncio.StreamWriter) -> None:
    """Copy bytes both ways between two connections until each side has closed."""

    async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        with contextlib.suppress(Exception):
            dst.close()

    await asyncio.gather(copy(reader, other_writer), copy(other_reader, writer))
