"""Deadlines measure the target (scanner/probes/deadline.py): they stand still while the work
under them waits in one of the scanner's own queues, and that wait is bounded apart."""

from __future__ import annotations

import asyncio

import pytest

from scanner.probes.deadline import QueueTimeout, deadline, queued


def test_a_deadline_stands_still_while_its_work_waits_in_a_queue():
    async def scenario():
        slot = asyncio.Event()
        asyncio.get_running_loop().call_later(0.6, slot.set)  # the queue is slow to free a slot
        async with deadline(0.2):
            async with queued(30.0):
                await slot.wait()  # 0.6 s in the queue: not the target's time
            return "measured"

    assert asyncio.run(scenario()) == "measured"


def test_tasks_started_under_a_deadline_pause_it_too():
    async def scenario():
        slot = asyncio.Event()
        asyncio.get_running_loop().call_later(0.6, slot.set)

        async def request():
            async with queued(30.0):
                await slot.wait()

        async with deadline(0.2):
            await asyncio.gather(request(), request())

    asyncio.run(scenario())


def test_the_target_s_own_time_still_counts():
    async def scenario():
        async with deadline(0.2):
            async with queued(30.0):
                pass
            await asyncio.sleep(5)

    with pytest.raises(TimeoutError):
        asyncio.run(scenario())


def test_a_wait_beyond_its_bound_is_the_scanner_s_limit_not_a_timeout():
    async def scenario():
        async with deadline(30.0):
            async with queued(0.1):
                await asyncio.Event().wait()

    with pytest.raises(QueueTimeout):
        asyncio.run(scenario())
    assert not issubclass(QueueTimeout, TimeoutError)  # no handler can take it for the target's timeout
