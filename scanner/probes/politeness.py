"""Politeness: how many connections a scan holds open to one host and one address, and how
fast it opens new ones to an address.

`Network` asks a `Politeness` for a lease before every guarded connection. The in-process
engine keeps the counts here, in this process (`LocalPoliteness`: a semaphore per host and
per address, a next start time per address). Scans spread over several machines keep them
in the broker instead (scanner/distributed/politeness.py), so that the caps and the rate
hold for the whole estate and not per worker.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Protocol


class Lease:
    """A held connection slot; released exactly once."""

    def __init__(self, release: Callable[[], None] | None = None) -> None:
        self._release = release

    def release(self) -> None:
        if self._release is not None:
            self._release()
            self._release = None


class Politeness(Protocol):
    async def acquire(self, host: str, ip: str) -> Lease:
        """Wait for a slot to `host` and one to `ip`, then for `ip`'s rate limit; the lease
        holds both slots until it is released."""

    def close(self) -> None:
        """Let go of whatever the counts are kept in."""


class LocalPoliteness:
    """The caps and the rate limit within this process.

    `owned` and `shares`: this process is one of `shares` worker processes
    (scanner/shards.py); hosts and addresses outside `owned` may be contacted by the others
    too, so this one keeps to its share of the caps and the rate there.
    """

    def __init__(self, per_host: int, per_ip: int, rate_per_ip: float, owned: set[str] | None = None,
                 shares: int = 1) -> None:
        self.per_host, self.per_ip, self.rate_per_ip = per_host, per_ip, rate_per_ip
        self._owned, self._shares = owned, max(1, shares)
        self._host_slots: dict[str, asyncio.Semaphore] = {}
        self._ip_slots: dict[str, asyncio.Semaphore] = {}
        self._next_start: dict[str, float] = defaultdict(float)

    def _share(self, key: str) -> int:
        """How many processes may contact `key` (a host or an address) at once: 1 when owned."""
        return 1 if self._owned is None or key in self._owned else self._shares

    def _slot(self, slots: dict[str, asyncio.Semaphore], key: str, limit: int) -> asyncio.Semaphore:
        slot = slots.get(key)
        if slot is None:
            slot = slots[key] = asyncio.Semaphore(max(1, limit // self._share(key)))
        return slot

    async def acquire(self, host: str, ip: str) -> Lease:
        host_slot = self._slot(self._host_slots, host, self.per_host)
        ip_slot = self._slot(self._ip_slots, ip, self.per_ip)
        await host_slot.acquire()
        try:
            await ip_slot.acquire()
        except BaseException:
            host_slot.release()
            raise

        def release() -> None:
            ip_slot.release()
            host_slot.release()

        lease = Lease(release)
        try:
            now = time.monotonic()
            start = max(now, self._next_start[ip])
            self._next_start[ip] = start + self._share(ip) / self.rate_per_ip
            if start > now:
                await asyncio.sleep(start - now)
        except BaseException:
            lease.release()
            raise
        return lease

    def close(self) -> None:
        pass
