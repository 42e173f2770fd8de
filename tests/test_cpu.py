"""CPU work off the event loop (scanner/probes/cpu.py): a call that overruns its budget is
stopped and is that call's error; the others, before, beside and after it, are not touched."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from scanner.probes import cpu
from scanner.probes.http import html as http_html
from scanner.probes.net import ProbeError
from scanner.standards import urls

PAGE = b'<script src="http://cdn.gent.test/a.js"></script>'


def spin(seconds: float) -> int:
    """Busy for `seconds` of CPU (a parser stuck in a quadratic input), then its process id."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
    return os.getpid()


def pid() -> int:
    return os.getpid()


def broken() -> None:
    raise ValueError("a parser bug")


def test_an_overrun_is_that_call_s_error_and_the_others_finish():
    async def scenario():
        slow = asyncio.create_task(cpu.run(spin, 60.0, budget=0.5))
        pages = [cpu.run(http_html.extract, PAGE, urls.parse("https://www.gent.test/"), None, budget=30.0)
                 for _ in range(4)]
        facts = await asyncio.gather(*pages)
        with pytest.raises(cpu.CpuBudgetExceeded, match="spin took more than 0.5 s"):
            await slow
        return facts, await cpu.run(pid, budget=30.0)

    facts, after = asyncio.run(scenario())
    assert all(f["insecure"][0]["url"] == "http://cdn.gent.test/a.js" for f in facts)
    assert after != os.getpid()  # still a worker process: the stopped one was replaced


def test_a_stopped_worker_is_never_handed_out_again():
    async def scenario():
        before = await cpu.run(pid, budget=30.0)
        with pytest.raises(cpu.CpuBudgetExceeded):
            await cpu.run(spin, 60.0, budget=0.3)
        return before, {await cpu.run(pid, budget=30.0) for _ in range(4)}

    _, later = asyncio.run(scenario())
    assert all(p != os.getpid() for p in later)


def test_a_failing_function_and_a_cancelled_call_are_clean_errors():
    async def scenario():
        with pytest.raises(ProbeError, match="broken failed: ValueError: a parser bug"):
            await cpu.run(broken, budget=30.0)
        waiting = asyncio.create_task(cpu.run(spin, 60.0, budget=60.0))
        await asyncio.sleep(0.5)
        waiting.cancel()  # the probe's deadline: the worker is stopped with it
        with pytest.raises(asyncio.CancelledError):
            await waiting
        return await cpu.run(pid, budget=30.0)

    assert asyncio.run(scenario()) != os.getpid()


def teardown_module():
    cpu.shutdown()
