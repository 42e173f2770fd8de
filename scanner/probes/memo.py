"""Work done once per key within a run (TLS facts per address, a DNS answer, a zone's report),
shared by every concurrent asker, and forgotten again so memory does not grow with the estate.

Keeps at most `size` finished results, the least recently used forgotten first; work still
running is never forgotten. The runner takes units in inventory order (in a worker process,
the endpoints of one address together), so what is shared is asked for close together and
found again; a result forgotten and asked for later is worked out again. The work is
shielded: an asker whose deadline ends does not cancel it for the others.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

T = TypeVar("T")


def _retrieve(fut: asyncio.Future) -> None:
    """Work that fails after every asker's deadline passed is seen here, so it never ends as
    "Task exception was never retrieved"; a later asker still gets the exception raised."""
    if not fut.cancelled():
        fut.exception()


class Memo:
    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._futures: OrderedDict[Hashable, asyncio.Future] = OrderedDict()

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        fut = self._futures.get(key)
        if fut is None:
            fut = self._futures[key] = asyncio.ensure_future(compute())
            fut.add_done_callback(_retrieve)
            self._forget()
        else:
            self._futures.move_to_end(key)
        return await asyncio.shield(fut)

    def _forget(self) -> None:
        excess = len(self._futures) - self.size
        if excess <= 0:
            return
        old = []
        for key, fut in self._futures.items():  # oldest first; usually the first is done
            if fut.done():
                old.append(key)
                if len(old) == excess:
                    break
        for key in old:
            del self._futures[key]

    def __len__(self) -> int:
        return len(self._futures)
