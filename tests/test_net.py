"""The network layer's rules: address classes, SSRF refusals, scope, caps, records."""

import asyncio

import pytest

from scanner.probes.net import (
    AddressPolicy,
    Limits,
    Network,
    NotListening,
    PortMap,
    Refused,
    Scope,
)
from scanner.standards.addresses import private_network
from tests.conftest import LOOPBACK_HOME, probe_context

PUBLIC_ONLY = AddressPolicy()


@pytest.mark.parametrize("ip, why", [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"),
    ("169.254.169.254", "instance metadata"), ("::ffff:169.254.169.254", "instance metadata"),
    ("64:ff9b::a9fe:a9fe", "instance metadata"), ("2002:a9fe:a9fe::1", "instance metadata"),  # NAT64, 6to4
    ("fd00:ec2::254", "AWS instance metadata"), ("169.254.1.1", "link-local"), ("fe80::1", "link-local"),
    ("10.1.2.3", "private-use"), ("192.168.1.1", "private-use"), ("100.64.0.1", "carrier-grade NAT"),
    ("fd00::1", "unique local"), ("0.0.0.0", "this network"), ("::", "unspecified"), ("224.0.0.1", "multicast"),
    ("192.0.2.7", "documentation"), ("2001:db8::1", "documentation"), ("198.18.0.1", "benchmarking"),
    ("240.0.0.1", "reserved"), ("::a9fe:a9fe", "reserved"),
])
def test_special_addresses_are_refused_by_default(ip, why):
    assert why in PUBLIC_ONLY.refusal(ip)


@pytest.mark.parametrize("ip", ["193.191.245.54", "2a02:2c40::1", "::ffff:193.191.245.54", "64:ff9b::c1bf:f536"])
def test_public_addresses_are_allowed(ip):
    assert PUBLIC_ONLY.refusal(ip) is None


def test_every_address_is_judged_on_its_own_rule():
    lab = AddressPolicy.of_scan(["www.vlaanderen.test"], [], PortMap({("127.0.0.10", 443): 8443}))
    assert lab.refusal("127.0.0.99") is None and lab.refusal("::1") is None  # the lab lives on loopback
    assert "metadata" in lab.refusal("169.254.169.254") and "link-local" in lab.refusal("169.254.1.1")
    assert "private" in lab.refusal("10.0.0.1")  # the lab's loopback says nothing about private space
    internal = AddressPolicy.of_scan([], [private_network("10.0.0.0/8"), private_network("fd00::/8")])
    assert internal.refusal("10.20.30.40") is None and internal.refusal("fd12::1") is None
    assert "private" in internal.refusal("192.168.1.1") and "loopback" in internal.refusal("127.0.0.1")
    assert "metadata" in internal.refusal("fd00:ec2::254")  # an allowed network never opens metadata
    literal = AddressPolicy.of_scan(["127.0.0.1", "10.1.2.3", "www.gent.test"])  # targets named by address
    assert literal.refusal("127.0.0.5") is None  # a special block the inventory's own targets are in
    assert literal.refusal("10.1.2.3") is None and "private" in literal.refusal("10.1.2.4")  # that address only
    assert "never" in AddressPolicy.of_scan(["0.0.0.0"]).refusal("0.0.0.0")


@pytest.mark.parametrize("text, why", [
    ("127.0.0.0/8", "loopback"), ("0.0.0.0/0", "this network"), ("10.0.0.0/7", "public"), ("10.0.0.1/8", "host bits"),
    ("169.254.0.0/16", "link-local"), ("intern", "CIDR"),
])
def test_only_private_networks_can_be_allowed(text, why):
    with pytest.raises(ValueError, match=why):
        private_network(text)


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
                      port_map=PortMap({("127.0.0.1", 443): port}), policy=LOOPBACK_HOME)
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
            # a connection through the door whose connect does no I/O of its own, so with a free
            # slot it would be "in" before either connection above has even opened
            async def no_io(ip, port):
                return None

            _, taken = await net.open("a.test", "127.0.0.1", 443, "test", no_io)
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
        with pytest.raises(Refused, match="metadata"):
            async with net.tcp("a.test", "169.254.169.254", 80, "test"):
                pass
        with pytest.raises(NotListening):
            async with net.tcp("a.test", "127.0.0.1", 1, "test"):
                pass
        outcomes = [r.outcome for r in net.records]
        assert outcomes[:4] == ["open", "open", "open", "refused: out of scope"]
        assert outcomes[4].startswith("refused: 169.254.169.254 ") and outcomes[5:] == ["failed: connection refused"]
        server.close()

    asyncio.run(scenario())


def test_audit_log(tmp_path):
    async def scenario():
        net = Network(audit_log=tmp_path / "audit.jsonl", policy=LOOPBACK_HOME)
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


@pytest.mark.parametrize("ip, why", [("169.254.169.254", "metadata"), ("10.20.30.40", "private")])
def test_an_mx_in_forbidden_space_is_refused_before_connecting(lab, ip, why):
    """A hostile zone's MX pointing at cloud metadata or an internal host: the SMTP probe and the
    IPv6 reachability probe are refused by the address policy, not connected (the test-wide
    guard would fail the session if they tried)."""
    from scanner.probes.dns.probe import reachable
    from scanner.probes.mail.smtp import probe_starttls

    ctx = _lab_context(lab)

    async def inner():
        return await probe_starttls(ctx, "mx.elders.test", ip), await reachable(ctx, "mx.elders.test", ip, 25)

    smtp, reach = asyncio.run(inner())
    assert smtp["starttls"] is None and why in smtp["error"]
    assert reach["reachable"] is None and why in reach["detail"]
    assert ctx.network.records and all(r.outcome.startswith("refused:") for r in ctx.network.records)


def test_an_mta_sts_host_in_forbidden_space_is_refused(lab):
    from scanner.probes.http.probe import fetch_url
    from scanner.probes.net import ProbeError

    ctx = _lab_context(lab)
    with pytest.raises(ProbeError, match="metadata"):  # metadata.webproef.test A 169.254.169.254
        asyncio.run(fetch_url(ctx, "https://metadata.webproef.test/.well-known/mta-sts.txt", 4096))
    records = [(r.purpose, r.outcome.split(":")[0]) for r in ctx.network.records]
    assert [r for r in records if r[0] != "dns-resolver"] == [("http", "refused")]  # its lookups recorded apart
