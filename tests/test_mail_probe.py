"""The mail probe against the lab's DNS: SPF as an evaluator reads it."""

import asyncio

from scanner.probes.mail.probe import spf
from tests.conftest import probe_context


def test_spf_redirect_reads_the_targets_policy(lab):
    async def scenario():
        ctx = probe_context(lab.resolver)
        return await spf(ctx, "omleiding.vdab.test"), await spf(ctx, "vdab.test")

    redirected, plain = asyncio.run(scenario())
    assert redirected["redirect"] == "_spf.vdab.test" and redirected["all"] is None
    assert redirected["redirect_all"] == "-all" and redirected["lookups"] == 1
    assert plain["all"] == "-all" and "redirect_all" not in plain
