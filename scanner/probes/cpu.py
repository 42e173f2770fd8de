"""CPU-heavy work off the event loop: a pure function run in a worker process, under a budget.

One event loop carries every target of a scan, so a parse that takes a second holds up
every other target for that second. `run(func, *args, budget=seconds)` runs a pure,
picklable function in one of a few worker processes (one per core, shared out among a
scan's worker processes by `share`; started when first needed, stopped by `shutdown` at
the end of a run) and awaits its answer without blocking the loop. A call that overruns
its budget has its worker killed (and replaced when next needed) and raises
`CpuBudgetExceeded` for that call alone: the target's error, never another's delay.
Waiting for a free worker is the scanner's own queue (deadline.py): it does not count
against the deadlines of the probe that waits.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from scanner.probes.deadline import QueueTimeout, queued
from scanner.probes.net import ProbeError

T = TypeVar("T")

QUEUE_TIMEOUT = 600.0  # the longest wait for a free worker (each call ahead is bounded by its budget)


class CpuBudgetExceeded(ProbeError):
    """The input took more than its budget: the work was stopped."""


class _Worker:
    """A worker process (scanner/probes/cpu_worker.py) and our end of its socket."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
        with theirs:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "scanner.probes.cpu_worker", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=env)
        self.conn = Connection(ours.detach())

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        self.conn.close()


class _Pool:
    """Up to `size` workers; the loop-bound parts (the semaphore) are made anew for each event loop."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._slots = loop, asyncio.Semaphore(self.size)
        return self._slots

    def _take(self) -> _Worker:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return _Worker()  # a fresh interpreter: never a fork of a process with a loop and threads

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            self._idle.append(worker)

    async def run(self, func: Callable[..., T], args: tuple[Any, ...], budget: float) -> T:
        slots = self._semaphore()
        try:
            async with queued(QUEUE_TIMEOUT):
                await slots.acquire()
        except QueueTimeout:
            raise ProbeError(f"scanner limit: waited {QUEUE_TIMEOUT:g} s for a CPU worker") from None
        try:
            worker = await asyncio.to_thread(self._take)  # starting a process takes a moment: not on the loop
            try:
                status, value = await _ask(worker, func, args, budget)
            except BaseException:
                worker.stop()  # overrun, cancelled or dead: its work may still be running
                raise
            self._give_back(worker)
        finally:
            slots.release()
        if status == "error":
            raise ProbeError(f"{getattr(func, '__name__', 'parse')} failed: {value}"[:500])
        return value

    def shutdown(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()


async def _ask(worker: _Worker, func: Callable[..., Any], args: tuple[Any, ...], budget: float) -> tuple[str, Any]:
    """Send one call and wait, without blocking the loop, at most `budget` seconds for the answer."""
    loop = asyncio.get_running_loop()
    readable = loop.create_future()
    fd = worker.conn.fileno()
    loop.add_reader(fd, lambda: readable.done() or readable.set_result(None))
    try:
        worker.conn.send((func, args))
        try:
            async with asyncio.timeout(budget):
                await readable
        except TimeoutError:
            raise CpuBudgetExceeded(f"{getattr(func, '__name__', 'parse')} took more than {budget:g} s "
                                    "of a CPU worker and was stopped") from None
    finally:
        loop.remove_reader(fd)
    try:
        return worker.conn.recv()
    except (EOFError, OSError):
        raise ProbeError(f"the CPU worker running {getattr(func, '__name__', 'parse')} died") from None


CORES = max(1, os.cpu_count() or 1)
_pool = _Pool(CORES)


async def run(func: Callable[..., T], *args: Any, budget: float) -> T:
    """`func(*args)` in a worker process, at most `budget` seconds; CpuBudgetExceeded beyond it."""
    return await _pool.run(func, args, budget)


def share(processes: int) -> None:
    """This process is one of `processes` that scan side by side (the runner's worker
    processes): its pool gets its share of the cores, so the CPU workers of them all number
    the cores, not the cores times the processes (each is an interpreter's memory more).
    Call before the pool's first use on this process's loop."""
    _pool.size = max(1, CORES // processes)


def shutdown() -> None:
    """Stop the idle workers (the runner calls this at the end of a run; new calls start new ones)."""
    _pool.shutdown()


atexit.register(shutdown)
