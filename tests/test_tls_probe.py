"""The TLS probe against real loopback servers: every lab TLS service, every branch.

Expectations come from the running servers (OpenSSL's enabled suites, the responder's
script), so the probe is compared with what the server really accepts.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from scanner.lab.tls_services import SERVICES, start
from scanner.probes.context import ProbeContext
from scanner.probes.net import Limits, Network
from scanner.probes.tls.probe import probe_tls
from tests.conftest import LOOPBACK_HOME

ALL = ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")


def _context(io_timeout: float = 1.0) -> ProbeContext:
    net = Network(limits=Limits(rate_per_ip=10_000, connect_timeout=2), policy=LOOPBACK_HOME)
    return ProbeContext(network=net, resolver=None, now=datetime.now(UTC), timeout=15, io_timeout=io_timeout)


async def _scan(name: str, io_timeout: float = 1.0, ctx: ProbeContext | None = None):
    running = await start(name)
    ctx = ctx or _context(io_timeout)
    try:
        facts = await probe_tls(ctx, "tls.lab.vlaanderen.test", ["127.0.0.1"], running.port)
    finally:
        await running.stop()
    return running, facts, ctx


GOOD = sorted(n for n, s in SERVICES.items() if not s.expect_error)


@pytest.mark.parametrize("name", GOOD)
def test_enumeration_matches_server(name):
    running, facts, ctx = asyncio.run(_scan(name))
    assert "error" not in facts, facts.get("error")
    expected = running.expected
    offered = {v for v in ALL if facts["protocols"][v]}
    assert offered == expected["versions"]
    assert all(facts["protocols"][v] is False for v in ALL if v not in offered)
    got = {v: set(names) for v, names in facts["cipher_suites"].items()}
    assert got == {v: set(s) for v, s in expected["suites"].items() if s}
    if "groups" in expected:
        assert set(facts["groups"]) == expected["groups"]
    assert facts["connections"] == len(ctx.network.records)  # the budget: tests/test_tls_behaviour_probe.py


@pytest.mark.parametrize("name", sorted(n for n, s in SERVICES.items() if s.expect_error))
def test_misbehaving_servers_give_an_error_not_a_hang(name):
    _, facts, _ = asyncio.run(_scan(name, io_timeout=0.3))
    assert facts["error"]
    assert set(facts["protocols"]) == set(ALL)


def test_dropped_large_hello_is_retried_small():
    _, facts, _ = asyncio.run(_scan("drops-large-hello"))
    assert any("dropped a large ClientHello" in n for n in facts["notes"])


def test_dhe_1024_size_and_group_are_named():
    _, facts, _ = asyncio.run(_scan("dhe-1024"))
    assert facts["dh_bits"] == 1024
    assert facts["dh_groups"] == ["modp1024"]
    assert facts["kx_hashes"]  # TLS 1.2 ServerKeyExchange names its signature hash


def test_post_quantum_groups_read_from_hello_retry_request():
    _, facts, _ = asyncio.run(_scan("pq-hybrid"))
    assert {"X25519MLKEM768", "SecP256r1MLKEM768", "SecP384r1MLKEM1024"} <= set(facts["groups"])


def test_openssl_default_groups_come_from_encrypted_extensions():
    _, facts, _ = asyncio.run(_scan("openssl-default"))
    assert facts.get("groups_advertised"), "EncryptedExtensions should list the server's groups"
    assert set(facts["groups_advertised"]) <= set(facts["groups"])
    assert facts["kx"]["TLSv1.3"]  # CertificateVerify scheme or negotiated groups per suite


def test_results_are_cached_per_address_and_port():
    async def twice():
        running = await start("modern")
        ctx = _context()
        try:
            first = await probe_tls(ctx, "a.lab.vlaanderen.test", ["127.0.0.1"], running.port)
            opened = len(ctx.network.records)
            second = await probe_tls(ctx, "b.lab.vlaanderen.test", ["127.0.0.1"], running.port)
        finally:
            await running.stop()
        return first, second, opened, len(ctx.network.records)

    first, second, opened, total = asyncio.run(twice())
    assert first == second
    assert opened == total


def test_closed_port_is_an_error_fact():
    async def closed():
        running = await start("modern")
        port = running.port
        await running.stop()
        return await probe_tls(_context(), "x.lab.vlaanderen.test", ["127.0.0.1"], port)

    facts = asyncio.run(closed())
    assert "error" in facts and facts["protocols"]["TLSv1.2"] is None
