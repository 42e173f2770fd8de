"""Hostile servers and the SSRF guard, probed one endpoint at a time with a short deadline.

The network here has no scope (as `bolwerk gate` on explicit targets), so what stops a
redirect into 169.254.169.254 is the SSRF guard alone. The proof is the scanner's own
record of connections (`network.records`): the forbidden address was refused before any
connection was attempted. The test-wide guard in conftest.py would block it too, but that
would hide whether the scanner tried.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import pytest

from scanner.model import Endpoint
from scanner.probes.http.probe import fetch_url, probe_http
from scanner.probes.net import PortMap
from tests.conftest import probe_context


def probe(lab, url: str, io_timeout: float = 1.0):
    ctx = probe_context(lab.resolver, port_map=lab.port_map, io_timeout=io_timeout)
    endpoint = Endpoint.from_url(url)

    async def run():
        addresses = await ctx.resolver.addresses(endpoint.host)
        return await probe_http(ctx, endpoint, addresses)

    return asyncio.run(run()), ctx.network


def _outside_loopback(records):
    out = []
    for r in records:
        addr = ipaddress.ip_address(r.ip.split("%")[0])
        mapped = getattr(addr, "ipv4_mapped", None)
        if not (addr.is_loopback or (mapped is not None and mapped.is_loopback)):
            out.append(r)
    return out


@pytest.mark.parametrize("path, address, why", [
    ("/", "169.254.169.254", "metadata"),
    ("/mapped", "::ffff:a9fe:a9fe", "metadata"),  # [::ffff:169.254.169.254] in the Location
    ("/rebind", "169.254.169.254", "metadata"),  # a name that resolves to the metadata address
    ("/intern", "10.20.30.40", "private"),
])
def test_redirect_into_forbidden_space_is_refused_before_connecting(lab, path, address, why):
    facts, network = probe(lab, f"http://metadata-redirect.webproef.test{path}")
    last = facts["http_chain"][-1]
    assert last["not_followed"] is True and why in last["error"]
    outside = _outside_loopback(network.records)
    assert [r.ip for r in outside] == [address]
    assert all(r.outcome.startswith("refused:") for r in outside)


def test_huge_body_is_read_up_to_the_cap(lab):
    facts, network = probe(lab, "http://groot.webproef.test/")
    assert facts["status"] == 200 and facts["body_truncated"] is True
    # one connection each: 443 (refused), 80 for the page, 80 for the CORS request; the body is not re-read
    assert sorted((r.port, r.outcome) for r in network.attempts(purpose="http")) == [
        (80, "open"), (80, "open"), (443, "failed: connection refused")]


def test_ten_thousand_headers_are_a_clean_error(lab):
    facts, _ = probe(lab, "http://koppen.webproef.test/")
    assert facts["status"] is None
    assert "header block too large" in facts["http_chain"][0]["error"]


def test_a_trickling_server_hits_the_overall_deadline(lab):
    facts, _ = probe(lab, "http://druppel.webproef.test/", io_timeout=0.4)
    assert "did not complete within 0.8 s" in facts["http_chain"][0]["error"]


def test_a_redirect_loop_is_stopped(lab):
    facts, network = probe(lab, "http://lus.webproef.test/")
    assert [h["url"] for h in facts["http_chain"]] == [
        "http://lus.webproef.test/", "http://lus.webproef.test/a", "http://lus.webproef.test/"]
    assert facts["http_chain"][-1]["loop"] is True and "status" not in facts["http_chain"][-1]
    # the URL seen before is not fetched again: two hops and the CORS request
    assert len([r for r in network.records if r.port == 80]) == 3


def test_fetch_url_still_serves_mta_sts(lab):
    ctx = probe_context(lab.resolver, port_map=lab.port_map, io_timeout=2.0)
    fetched = asyncio.run(fetch_url(ctx, "https://mta-sts.vlaanderen.test/.well-known/mta-sts.txt", 4096))
    assert fetched.status == 200 and fetched.body.startswith(b"version: STSv1")


def test_fetch_url_reads_up_to_the_cap_it_is_given(lab):
    ctx = probe_context(lab.resolver, port_map=lab.port_map, io_timeout=2.0)
    fetched = asyncio.run(fetch_url(ctx, "http://groot.webproef.test/", 4096))  # a 1 GiB body
    assert fetched.status == 200 and len(fetched.body) == 4096 and fetched.truncated


# -- raw answers from a loopback server of the test's own: whatever bytes a hostile server sends --


def probe_raw(lab, routes: dict[str, bytes], path: str = "/"):
    """probe_http of http://127.0.0.1{path} against a server answering each path with raw bytes
    (https:// is refused: a bound port that does not listen)."""

    async def client(reader, writer):
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
            target = request.split(b" ", 2)[1].decode()
            writer.write(routes.get(target, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        finally:
            writer.close()

    async def run():
        server = await asyncio.start_server(client, "127.0.0.1", 0)
        with socket.socket() as dead:
            dead.bind(("127.0.0.1", 0))
            ports = PortMap({("127.0.0.1", 80): server.sockets[0].getsockname()[1],
                             ("127.0.0.1", 443): dead.getsockname()[1]})
            ctx = probe_context(lab.resolver, port_map=ports)
            try:
                return await probe_http(ctx, Endpoint.from_url(f"http://127.0.0.1{path}"), ["127.0.0.1"])
            finally:
                server.close()

    return asyncio.run(run())


def _page(headers: str, body: bytes = b"") -> bytes:
    return (f"HTTP/1.1 200 OK\r\n{headers}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            .encode("latin-1") + body)


@pytest.mark.parametrize("charset", ["idna", "undefined", "punycode", "base64", "no-such-charset"])
def test_a_hostile_charset_is_read_as_utf8(lab, charset):
    """Content-Type names a codec that cannot decode a page (or none at all): the page is read
    as UTF-8, never an exception out of the probe."""
    body = '<html><script src="http://cdn.example.test/a.js"></script>\xff café</html>'.encode("latin-1")
    facts = probe_raw(lab, {"/": _page(f"Content-Type: text/html; charset={charset}\r\n", body)})
    assert facts["status"] == 200
    assert facts["html"]["insecure"][0]["url"] == "http://cdn.example.test/a.js"


@pytest.mark.parametrize("location, error", [
    ("http://127.0.0.1:99999/", "unusable Location: a port that is no number"),  # port out of range
    ("http://bad host.test/", "unusable Location: a host that is no valid name"),  # a space in the host
    ("http://a..b.test/", "unusable Location: a host that is no valid name"),  # an empty label
    (f"http://{'a' * 64}.test/", "unusable Location: a host that is no valid name"),  # a label over 63 octets
    ("http://[::1/", "unusable Location: a host that is no valid name"),
    ("http://0x7f.1/", "unusable Location: a host browsers read as an IPv4 address"),
    ("https://user:password@127.0.0.1/", "unusable Location: credentials"),
    ("https:\\\\127.0.0.1\\", "unusable Location: a backslash"),
])
def test_a_hostile_location_ends_the_chain_with_a_reason(lab, location, error):
    """A redirect to something that is no usable URL or host name is the chain's last hop, with
    the reason; the page that sent it still counts."""
    facts = probe_raw(lab, {"/": (f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n"
                                  "Connection: close\r\n\r\n").encode("latin-1")})
    assert facts["status"] == 302 and facts["http_chain"][0]["status"] == 302
    assert error in facts["http_chain"][-1]["error"]
