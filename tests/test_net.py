"""The network layer's rules: address classes, SSRF refusals, scope, caps, records."""

import asyncio

import pytest

from scanner.probes.net import (
    Limits,
    Network,
    NotListening,
    PortMap,
    Refused,
    Scope,
    address_class,
    ssrf_refusal,
)
from tests.conftest import probe_context


@pytest.mark.parametrize("ip, cls", [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"),
    ("169.254.169.254", "link-local"), ("::ffff:169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("10.1.2.3", "private"), ("192.168.1.1", "private"), ("100.64.0.1", "private"), ("fd00::1", "private"),
    ("0.0.0.0", "unspecified"), ("224.0.0.1", "multicast"),
    ("193.191.245.54", "public"), ("2a02:2c40::1", "public"),
])
def test_address_classes(ip, cls):
    assert address_class(ip) == cls


def test_ssrf_rule():
    assert ssrf_refusal("193.191.245.54", "127.0.0.1") is None
    assert ssrf_refusal("127.0.0.5", "127.0.0.1") is None  # the target itself lives on loopback
    assert "link-local" in ssrf_refusal("169.254.169.254", "127.0.0.1")
    assert "loopback" in ssrf_refusal("::ffff:127.0.0.1", "193.191.245.54")
    assert ssrf_refusal("10.0.0.1", "10.9.9.9") is None


def test_scope():
    scope = Scope(hosts={"www.vlaanderen.test"}, suffixes=("gent.test",))
    assert scope.allows("WWW.vlaanderen.test.") and scope.allows("eloket.gent.test") and scope.allows("gent.test")
    assert not scope.allows("evil.test") and not scope.allows("notgent.test")


async def _holding_server():
    """A server that keeps each connection open until its client closes it."""
    async def client(reader, writer):
        await reader.read()
        writer.close()

    server = await asyncio.start_server(client, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_caps_refusals_and_records():
    async def scenario():
        server, port = await _holding_server()
        # no rate limit, so that a free slot is taken without waiting for anything
        net = Network(scope=Scope(hosts={"a.test"}), limits=Limits(per_host=2, per_ip=8, rate_per_ip=float("inf")),
                      port_map=PortMap({("127.0.0.1", 443): port}))
        events: list[tuple[str, int]] = []
        entered = [asyncio.Event() for _ in range(3)]  # set when the n-th slot is taken
        release = [asyncio.Event() for _ in range(2)]

        def took(i):
            events.append(("in", i))
            entered[sum(e == "in" for e, _ in events) - 1].set()

        async def connect(i):
            async with net.tcp("a.test", "127.0.0.1", 443, "test"):
                took(i)
                await release[i].wait()
            events.append(("out", i))  # the slot is given back by now

        async def lease(i):
            # the slot a request through the httpx transport or a DNS query takes: no I/O of its own,
            # so with a free slot it would be "in" before either connection above has even opened
            taken, _ = await net.acquire("a.test", "127.0.0.1", 443, "test")
            took(i)
            taken.release()

        tasks = [asyncio.create_task(connect(0)), asyncio.create_task(connect(1)), asyncio.create_task(lease(2))]
        async with asyncio.timeout(5):  # a bound on a hang, not a measurement
            await entered[1].wait()
            first = events[0][1]
            if first in (0, 1):
                release[first].set()  # one of the two connections that fit ends ...
            await entered[2].wait()  # ... and only then does the third request get a slot
            for r in release:
                r.set()
            await asyncio.gather(*tasks)
        assert events[:4] == [("in", first), ("in", 1 - first), ("out", first), ("in", 2)], events
        with pytest.raises(Refused, match="outside the scan's scope"):
            async with net.tcp("b.test", "127.0.0.1", 443, "test"):
                pass
        with pytest.raises(Refused, match="link-local"):
            async with net.tcp("a.test", "169.254.169.254", 80, "test", origin_ip="127.0.0.1"):
                pass
        with pytest.raises(NotListening):
            async with net.tcp("a.test", "127.0.0.1", 1, "test"):
                pass
        outcomes = [r.outcome for r in net.records]
        assert outcomes[:3] == ["open", "open", "refused: out of scope"]  # a bare slot opens nothing
        assert outcomes[3].startswith("refused: 169.254.169.254 ") and outcomes[4:] == ["failed: connection refused"]
        server.close()

    asyncio.run(scenario())


def test_audit_log(tmp_path):
    async def scenario():
        net = Network(audit_log=tmp_path / "audit.jsonl")
        with pytest.raises(NotListening):
            async with net.tcp("a.test", "127.0.0.1", 1, "test"):
                pass
        net.close()

    asyncio.run(scenario())
    line = (tmp_path / "audit.jsonl").read_text().strip()
    assert '"ip": "127.0.0.1"' in line and '"outcome": "failed: connection refused"' in line


# -- hosts the inventory only implies: MX, MTA-STS (name servers: test_dns_robustness.py) --------


def _lab_context(lab, resolver=None):
    return probe_context(resolver or lab.resolver, port_map=lab.port_map)


def test_implied_hosts_share_the_resolver_space(lab):
    assert _lab_context(lab).implied_origin() == "127.0.0.1"  # the lab resolver: loopback MX are fine
    assert _lab_context(lab, "10.0.0.53").implied_origin() == "10.0.0.53"
    assert ssrf_refusal("10.1.1.1", "") is not None and ssrf_refusal("193.191.245.54", "") is None


@pytest.mark.parametrize("ip, why", [("169.254.169.254", "link-local"), ("10.20.30.40", "private")])
def test_an_mx_in_forbidden_space_is_refused_before_connecting(lab, ip, why):
    """A hostile zone's MX pointing at cloud metadata or an internal host: the SMTP probe and the
    IPv6 reachability probe are refused by the SSRF guard, not connected (the test-wide guard
    would fail the session if they tried)."""
    from scanner.probes.dns import reachable
    from scanner.probes.smtp import probe_starttls

    ctx = _lab_context(lab)

    async def inner():
        return await probe_starttls(ctx, "mx.elders.test", ip), await reachable(ctx, "mx.elders.test", ip, 25,
                                                                               ctx.implied_origin())

    smtp, reach = asyncio.run(inner())
    assert smtp["starttls"] is None and why in smtp["error"]
    assert reach["reachable"] is None and why in reach["detail"]
    assert ctx.network.records and all(r.outcome.startswith("refused:") for r in ctx.network.records)


def test_an_mta_sts_host_in_forbidden_space_is_refused(lab):
    from scanner.probes.http import fetch_url
    from scanner.probes.net import ProbeError

    ctx = _lab_context(lab)
    with pytest.raises(ProbeError, match="link-local"):  # metadata.webproef.test A 169.254.169.254
        asyncio.run(fetch_url(ctx, "https://metadata.webproef.test/.well-known/mta-sts.txt", 4096))
    assert [r.outcome.split(":")[0] for r in ctx.network.records] == ["refused"]
