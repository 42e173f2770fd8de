"""Work shared within a run (ProbeContext.cached, the resolver's answers, zone trust) outlives
an asker's deadline without leaving an unretrieved exception behind."""

import asyncio
import gc

import pytest

from scanner.probes.memo import Memo
from scanner.probes.net import ProbeError
from tests.conftest import probe_context


async def _late_failure() -> None:
    await asyncio.sleep(0.05)
    raise ProbeError("the server answered after every asker gave up")


def test_cached_work_that_fails_after_its_deadline_leaves_no_unretrieved_exception():
    async def main() -> list[str]:
        reported: list[str] = []
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: reported.append(context["message"]))
        ctx = probe_context()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await ctx.cached("mx", _late_failure)
        await asyncio.sleep(0.1)  # the shared work ends, in failure, with nobody waiting
        ctx.network.close()
        del ctx
        gc.collect()  # an unretrieved task exception is reported when the task is collected
        return reported

    assert asyncio.run(main()) == []


def test_askers_share_one_computation():
    calls = []

    async def compute() -> int:
        calls.append(1)
        await asyncio.sleep(0.01)
        return 42

    async def main() -> list[int]:
        memo = Memo()
        return list(await asyncio.gather(*(memo.get("key", compute) for _ in range(5))))

    assert asyncio.run(main()) == [42] * 5 and calls == [1]


def test_a_later_asker_learns_how_the_shared_work_ended():
    async def main() -> None:
        memo = Memo()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await memo.get("mx", _late_failure)
        await asyncio.sleep(0.1)
        with pytest.raises(ProbeError, match="after every asker gave up"):
            await memo.get("mx", _late_failure)

    asyncio.run(main())
