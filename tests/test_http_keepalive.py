"""HTTP keep-alive: one connection per server for an endpoint's requests, where the exchange allows it.

Each test runs its own lab web servers on loopback (scanner/lab/web.py) and counts
connections twice: where the server accepts them (`Listener.accepted`) and in the
scanner's own records (`Network.records`). Caps per host and per address still hold: an
idle kept connection keeps its slot, as the server keeps it open, and a probe closes its
idle connections before it waits for a slot, so it never waits on itself, even with one
slot per host and address and an endpoint on two addresses.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from scanner.lab.ca import LabCA
from scanner.lab.lab import _server_context, load_estate
from scanner.lab.web import Site, WebServer
from scanner.model import Endpoint
from scanner.probes.http.probe import probe_http
from scanner.probes.net import Limits, PortMap
from scanner.probes.politeness import LocalPoliteness
from tests.conftest import probe_context

HOST = "127.0.0.1"  # an address literal: the redirect to https:// needs no resolver
SECURITY_TXT = b"Contact: mailto:security@webproef.test\nExpires: 2099-01-01T00:00:00Z\n"


def sites() -> tuple[Site, Site]:
    https = Site(HOST, "https", headers=[("Strict-Transport-Security", "max-age=31536000")],
                 files={"/.well-known/security.txt": ("text/plain; charset=utf-8", SECURITY_TXT)})
    http = Site(HOST, "http", redirect_to=f"https://{HOST}")
    return https, http


async def serve(tmp_path, ips: list[str], keep_alive: bool, close_after: int = 0, busy: InFlight | None = None):
    """An https:// and an http:// server on each address; returns (servers, port map)."""
    cert, key = LabCA().server_files("bewaard.webproef.test", "valid", tmp_path)
    tls = _server_context(load_estate()["tls"]["modern"], cert, key)
    https, http = sites()
    servers, ports = [], PortMap()
    for ip in ips:
        for port, site, ctx in ((443, https, tls), (80, http, None)):
            server = ClosingWebServer(ip, site, ctx, keep_alive=keep_alive, close_after=close_after, busy=busy)
            ports.add(ip, port, await server.start())
            servers.append(server)
    return servers, ports


class InFlight:
    """Requests the lab servers are answering at once and connections open at once, over all
    of them, and the most seen: a request is in flight from its head's arrival until its
    connection asks for the next head."""

    ANSWER_SECONDS = 0.05  # each answer takes this long, so that requests that may overlap do
    SETTLE_SECONDS = 0.05  # a new connection is counted after this, once earlier closes are read

    def __init__(self) -> None:
        self.now = self.most = self.open = self.most_open = 0


class _Heads:
    """A stream reader that ends after `count` request heads (0: never), as if the peer had
    closed, and counts the requests in flight in `busy`."""

    def __init__(self, reader: asyncio.StreamReader, count: int, busy: InFlight | None) -> None:
        self.reader, self.left, self.busy, self.answering = reader, count or -1, busy, False

    async def readuntil(self, separator: bytes) -> bytes:
        if self.answering:
            self.busy.now -= 1
            self.answering = False
        if self.left == 0:
            raise asyncio.IncompleteReadError(b"", None)
        self.left -= 1
        head = await self.reader.readuntil(separator)
        if self.busy is not None:
            self.answering = True
            self.busy.now += 1
            self.busy.most = max(self.busy.most, self.busy.now)
            await asyncio.sleep(InFlight.ANSWER_SECONDS)
        return head


class ClosingWebServer(WebServer):
    """A keep-alive server that closes each connection after `close_after` answers (0: never)
    without saying so, as a server whose idle timeout ends a connection between two requests."""

    def __init__(self, *args, close_after: int = 0, busy: InFlight | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.close_after, self.busy = close_after, busy

    async def _client(self, reader, writer) -> None:
        heads = _Heads(reader, self.close_after, self.busy)
        if self.busy is not None:
            # A client that closes one connection and then opens the next sends FIN before SYN,
            # but this loop may take the accept before the old handler has read its EOF: let
            # what already arrived be read first, so only connections open at once on the wire count.
            await asyncio.sleep(InFlight.SETTLE_SECONDS)
            self.busy.open += 1
            self.busy.most_open = max(self.busy.most_open, self.busy.open)
        try:
            await super()._client(heads, writer)
        finally:
            if self.busy is not None:
                self.busy.open -= 1
                self.busy.now -= heads.answering


def probe(ports: PortMap, ips: list[str], per_host: int = 2, per_ip: int = 4, probes: int = 1):
    """The endpoint's facts from `probes` probes at once (sharing one Network and its caps)."""
    ctx = probe_context(port_map=ports, io_timeout=2.0)
    ctx.network.limits = Limits(per_host=per_host, per_ip=per_ip, rate_per_ip=1000.0, connect_timeout=2.0)
    ctx.network.politeness = LocalPoliteness(per_host, per_ip, 1000.0)

    async def probing():
        endpoint = Endpoint.from_url(f"https://{HOST}/")
        return await asyncio.gather(*(probe_http(ctx, endpoint, ips) for _ in range(probes)))

    # a probe waiting on its own idle connection would wait for the queue's bound: fail sooner
    return asyncio.run(asyncio.wait_for(probing(), 30))[0], ctx.network


def run_probe(tmp_path, ips: list[str], keep_alive: bool, close_after: int = 0, busy: InFlight | None = None,
              **options):
    async def run():
        servers, ports = await serve(tmp_path, ips, keep_alive, close_after, busy)
        try:
            facts, network = await asyncio.to_thread(probe, ports, ips, **options)
        finally:
            for server in servers:
                await server.stop()
        return facts, network, sum(s.accepted for s in servers)

    return asyncio.run(run())


def opened(network) -> list[tuple[str, int]]:
    return sorted((r.ip, r.port) for r in network.attempts(purpose="http") if r.outcome == "open")


def test_one_connection_per_server_when_the_server_keeps_it_alive(tmp_path):
    """https://, http:// and its redirect to https://, security.txt and the CORS request: two
    connections (one per scheme) instead of one per request, and the same facts."""
    kept, network, accepted = run_probe(tmp_path, ["127.0.0.1"], keep_alive=True)
    closed, network_closed, accepted_closed = run_probe(tmp_path, ["127.0.0.1"], keep_alive=False)
    assert opened(network) == [("127.0.0.1", 80), ("127.0.0.1", 443)] and accepted == 2
    assert accepted_closed == len(opened(network_closed)) == 5  # /, http /, its redirect, security.txt, CORS
    assert kept["security_txt"]["found"] is True and kept["redirects_to_https"] is True
    assert kept["hsts"]["max_age"] == 31536000 and kept["cors"]["status"] == 200
    for facts in (kept, closed):
        facts["headers"].pop("connection"), facts["headers"].pop("date", None), facts.pop("server_date", None)
    assert kept == closed


def test_one_slot_per_host_and_address_does_not_deadlock_two_addresses(tmp_path):
    """An endpoint on two addresses (the parity request goes to the second) under a cap of one
    connection per host and per address: an idle connection is closed when the next request
    needs its slot, so the probe completes, with the same facts, and the servers never see
    two connections open at once."""
    busy = InFlight()
    facts, network, accepted = run_probe(tmp_path, ["127.0.0.1", "127.0.0.2"], keep_alive=True, busy=busy,
                                         per_host=1, per_ip=1)
    assert [p["status"] for p in facts["per_address"]] == [200, 200]
    assert facts["security_txt"]["found"] is True and facts["cors"]["status"] == 200
    assert busy.most_open == 1 and accepted == len(opened(network))


@pytest.mark.parametrize("per_host", [1, 3])
def test_the_cap_per_host_counts_requests_on_kept_connections(tmp_path, per_host):
    """A kept connection counts against the caps while it idles, as the server keeps it open:
    two probes of the host at once under a cap of 1 per host never have two connections open
    at once (nor two requests answered), yet reuse connections where they can; with a cap of
    3 they do have several open (the probes send requests in parallel where they may), so
    the count can see an overlap."""
    busy = InFlight()
    facts, network, accepted = run_probe(tmp_path, ["127.0.0.1", "127.0.0.2"], keep_alive=True, busy=busy,
                                         per_host=per_host, per_ip=4, probes=2)
    assert [p["status"] for p in facts["per_address"]] == [200, 200]
    assert accepted == len(opened(network)) < 2 * 5  # without keep-alive: 5 requests a probe
    assert busy.now == busy.open == 0
    if per_host == 1:
        assert busy.most_open == busy.most == 1
    else:
        assert 1 < busy.most_open <= per_host
    slots = network.politeness._host_slots[HOST]
    assert slots._value == per_host  # every slot given back once the probes are done


def test_a_connection_the_server_closed_while_idle_is_replaced(tmp_path):
    """A server that answers once per connection but says keep-alive: each next request finds
    the connection gone, opens a new one, and the facts are whole."""
    facts, network, accepted = run_probe(tmp_path, ["127.0.0.1"], keep_alive=True, close_after=1)
    assert facts["security_txt"]["found"] is True and facts["cors"]["status"] == 200
    assert facts["redirects_to_https"] is True
    assert accepted == len(opened(network)) >= 4


@pytest.fixture(autouse=True)
def _loopback_has_127_0_0_2():
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.2", 0))
        except OSError:
            pytest.skip("127.0.0.2 is not bound on this machine's loopback")
