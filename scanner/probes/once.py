"""Work done once per key within a run and shared by every probe that asks for it.

The resolver's answers, the DNSSEC trust of a zone, TLS facts per address: the first
asker starts the work, later askers wait for the same result. The work is shielded, so
an asker whose deadline ends does not cancel it for the others; and its outcome is
always retrieved, so work that fails after every asker gave up is no "Task exception
was never retrieved" on the console.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


def _retrieve(fut: asyncio.Future) -> None:
    if not fut.cancelled():
        fut.exception()  # marks the exception as seen; every asker still gets it raised


class Once(Generic[T]):
    def __init__(self) -> None:
        self._work: dict[Hashable, asyncio.Future[T]] = {}

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        """The result of `compute()` for `key`, computed by the first asker only."""
        fut = self._work.get(key)
        if fut is None:
            fut = asyncio.ensure_future(compute())
            fut.add_done_callback(_retrieve)
            self._work[key] = fut
        return await asyncio.shield(fut)
