"""Deadlines that measure the target, not the scanner's own queues.

A probe's deadline and a request's deadline bound what one target may cost. The time a
piece of work waits in Bolwerk's own queues (a connection slot per host and address, the
per-address rate limit, a CPU worker) is not the target's doing: while work waits there,
every `deadline` around it stands still. That wait is bounded apart (`queued`), and a wait
that overruns its bound is the scanner's own limit (`QueueTimeout`), never the target's
timeout.

The deadlines in force travel with the asyncio context, so the tasks a probe starts
(`gather`) pause their probe's deadline too.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator


class QueueTimeout(Exception):
    """Work waited longer than its bound in one of the scanner's own queues."""


class _Pausable:
    """One running asyncio.Timeout, stopped while any work under it waits in a queue."""

    def __init__(self, timeout: asyncio.Timeout) -> None:
        self._timeout = timeout
        self._waiting = 0
        self._left: float | None = None
        self.open = True

    def _usable(self) -> bool:
        return self.open and not self._timeout.expired()

    def pause(self) -> None:
        self._waiting += 1
        when = self._timeout.when()
        if self._waiting == 1 and self._usable() and when is not None:
            self._left = when - asyncio.get_running_loop().time()
            self._timeout.reschedule(None)

    def resume(self) -> None:
        self._waiting -= 1
        if self._waiting == 0 and self._left is not None:
            if self._usable():
                self._timeout.reschedule(asyncio.get_running_loop().time() + max(self._left, 0.0))
            self._left = None


_active: contextvars.ContextVar[tuple[_Pausable, ...]] = contextvars.ContextVar("bolwerk_deadlines", default=())


@contextlib.asynccontextmanager
async def deadline(seconds: float) -> AsyncIterator[None]:
    """`asyncio.timeout(seconds)` that stands still while the work under it waits in a queue."""
    async with asyncio.timeout(seconds) as timeout:
        pausable = _Pausable(timeout)
        token = _active.set((*_active.get(), pausable))
        try:
            yield
        finally:
            pausable.open = False
            _active.reset(token)


@contextlib.asynccontextmanager
async def queued(limit: float) -> AsyncIterator[None]:
    """Waiting in one of the scanner's queues: the deadlines around stand still; the wait
    itself may last `limit` seconds, after which QueueTimeout is raised."""
    paused = _active.get()
    for pausable in paused:
        pausable.pause()
    timeout = asyncio.timeout(limit)
    try:
        async with timeout:
            yield
    except TimeoutError:
        if timeout.expired():
            raise QueueTimeout(f"waited {limit:g} s") from None
        raise
    finally:
        for pausable in paused:
            pausable.resume()
