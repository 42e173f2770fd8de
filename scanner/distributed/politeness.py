"""Politeness kept in Redis: caps per host and per address, and the rate per address, for every
worker of the estate at once (scanner/probes/politeness.py is the interface and the
in-process version).

A held slot is a member of a sorted set per host and per address (`bolwerk:slots:host:<h>`,
`bolwerk:slots:ip:<a>`), scored by the moment it expires. Taking both slots is one Lua
script (atomic: expired members are dropped, both counts checked, both slots added), so two
workers never both take the last slot. A worker renews the slots it holds every third of
`SLOT_TTL`; a worker that dies stops renewing, and its slots expire within `SLOT_TTL`, so a
dead worker never holds a slot for good. The rate limit is the next free start time per
address (`bolwerk:rate:<a>`), pushed forward by one interval in a script that returns how
long to wait. Times are Redis's own clock (TIME), so the workers' clocks need not agree.

Keys name hosts and addresses, not runs: two runs on one broker share the caps, as they
share the servers. While Redis cannot be reached the worker waits and retries (a broker
restart), and counts the outage (`outages`): the worker then collects the unit again rather
than return facts that a waiting probe may have timed out on.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from typing import Any

import redis.asyncio
import redis.exceptions

from scanner.probes.politeness import Lease

SLOT_TTL_MS = 30_000  # a held slot lives this long without renewal
PREFIX = "bolwerk:"
OUTAGE_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
log = logging.getLogger("bolwerk.worker")

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
"""
# KEYS: host slots, address slots. ARGV: token, host cap, address cap, ttl (ms). 1 when both are taken.
ACQUIRE = _NOW + """
for _, key in ipairs(KEYS) do redis.call('ZREMRANGEBYSCORE', key, '-inf', now) end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) or redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then
  return 0
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + tonumber(ARGV[4]), ARGV[1])
  redis.call('PEXPIRE', key, ARGV[4])
end
return 1
"""
# KEYS: host slots, address slots. ARGV: token, ttl (ms). Pushes the slots' expiry forward, if still held.
RENEW = _NOW + """
for _, key in ipairs(KEYS) do
  if redis.call('ZADD', key, 'XX', 'CH', now + tonumber(ARGV[2]), ARGV[1]) == 1 then
    redis.call('PEXPIRE', key, ARGV[2])
  end
end
return 1
"""
# KEYS: the address's next start. ARGV: interval (ms). Returns the wait (ms) before this start, as text.
RATE = _NOW + """
local start = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local interval = tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.3f', start + interval), 'PX', math.ceil(start - now + interval) + 1000)
return string.format('%.3f', start - now)
"""


class RedisPoliteness:
    """The Politeness of a worker for one run: the run's caps and rate, counted in Redis."""

    def __init__(self, client: redis.asyncio.Redis, per_host: int, per_ip: int, rate_per_ip: float,
                 slot_ttl_ms: int = SLOT_TTL_MS) -> None:
        self.per_host, self.per_ip, self.slot_ttl_ms = per_host, per_ip, slot_ttl_ms
        self.interval_ms = 1000.0 / rate_per_ip
        self.outages = 0  # failed calls to Redis so far
        self._acquire = client.register_script(ACQUIRE)
        self._renew = client.register_script(RENEW)
        self._rate = client.register_script(RATE)
        self._client = client
        self._held: dict[str, list[str]] = {}  # token -> its two keys
        self._loop: asyncio.AbstractEventLoop | None = None
        self._renewer: asyncio.Task | None = None
        self._releases: set[asyncio.Task] = set()

    async def acquire(self, host: str, ip: str) -> Lease:
        if self._renewer is None:
            self._loop = asyncio.get_running_loop()
            self._renewer = self._loop.create_task(self._renew_held())
        token = secrets.token_hex(8)
        keys = [f"{PREFIX}slots:host:{host}", f"{PREFIX}slots:ip:{ip}"]
        pause = 0.005
        try:
            while not await self._call(self._acquire, keys, [token, self.per_host, self.per_ip, self.slot_ttl_ms]):
                await asyncio.sleep(pause * random.uniform(0.5, 1.5))
                pause = min(2 * pause, 0.1)
        except BaseException:  # cancelled: the script may have run all the same
            self._held[token] = keys
            self._release(token)
            raise
        self._held[token] = keys
        lease = Lease(lambda: self._release(token))
        try:
            wait_ms = float(await self._call(self._rate, [f"{PREFIX}rate:{ip}"], [self.interval_ms]))
            if wait_ms > 0:
                await asyncio.sleep(wait_ms / 1000)
        except BaseException:
            lease.release()
            raise
        return lease

    async def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        """One script, retried while Redis cannot be reached (each failure counted)."""
        pause = 0.2
        while True:
            try:
                return await script(keys=keys, args=args)
            except OUTAGE_ERRORS as exc:
                self.outages += 1
                log.warning("politeness: Redis unreachable (%s); retrying in %.1f s", exc, pause)
                await asyncio.sleep(pause)
                pause = min(2 * pause, 5.0)

    def _release(self, token: str) -> None:
        keys = self._held.pop(token, None)
        if keys is None or self._loop is None or self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._start_release, token, keys)

    def _start_release(self, token: str, keys: list[str]) -> None:
        task = asyncio.ensure_future(self._remove(token, keys))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _remove(self, token: str, keys: list[str]) -> None:
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.zrem(key, token)
                await pipe.execute()
        except OUTAGE_ERRORS:
            self.outages += 1  # the slots expire by themselves

    async def _renew_held(self) -> None:
        while True:
            await asyncio.sleep(self.slot_ttl_ms / 3000)
            for token, keys in list(self._held.items()):
                try:
                    await self._renew(keys=keys, args=[token, self.slot_ttl_ms])
                except OUTAGE_ERRORS:
                    self.outages += 1
                    break

    def close(self) -> None:
        if self._renewer is not None and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._renewer.cancel)
