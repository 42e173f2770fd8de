"""Questions put to one named authoritative server, not to the resolver.

Delegation health needs to know what each listed name server itself says: is it
authoritative for the zone (lame delegation), what does the parent delegate to, does it
hand out the zone (AXFR). These queries go through `Network` like every connection
(`datagram` for UDP, `tcp`): scope, the address policy, per-host/per-IP caps, rate limit,
the record (audit log) and the lab's port map, which maps the logical port 53 for UDP as
well as TCP.

Every query is bounded (one io_timeout per attempt, a 64 KiB cap on TCP reads), and a
server that stays silent, truncates, or answers bytes that are no DNS message becomes a
`Reply` with a status, never an exception.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from scanner.probes.context import ProbeContext
from scanner.probes.net import NotListening, ProbeError, Refused, has_route

DNS_PORT = 53


@dataclass
class Reply:
    status: str  # answer | timeout | malformed | unreachable | no-route | refused-by-scanner
    message: dns.message.Message | None = None
    detail: str = ""
    tcp: bool = False

    @property
    def rcode(self) -> str | None:
        return dns.rcode.to_text(self.message.rcode()) if self.message is not None else None


async def ask(ctx: ProbeContext, ns_host: str, ip: str, qname: dns.name.Name | str, rdtype: str | int,
              *, tcp: bool = False, purpose: str = "dns") -> Reply:
    """One non-recursive question to the server `ns_host` at `ip`; UDP first, TCP when truncated."""
    query = dns.message.make_query(qname, rdtype)
    query.flags &= ~dns.flags.RD
    unfit = _unfit(ctx, ns_host, ip, purpose, "tcp" if tcp else "udp")
    if unfit is not None:
        return unfit
    if not tcp:
        reply = await _udp(ctx, ns_host, ip, query, purpose)
        if reply.status != "answer" or not reply.message.flags & dns.flags.TC:
            return reply
    return await _tcp(ctx, ns_host, ip, query, purpose)


def _unfit(ctx: ProbeContext, ns_host: str, ip: str, purpose: str, transport: str) -> Reply | None:
    """A reply without asking: the scanner may not ask there (scope, address policy), or has no route."""
    try:
        ctx.network.check(ns_host, ip, DNS_PORT, purpose, transport)
    except Refused as exc:
        return Reply("refused-by-scanner", detail=str(exc))
    if not has_route(ip):
        return Reply("no-route", detail=f"the scanner has no route to {ip}")
    return None


class _Exchange(asyncio.DatagramProtocol):
    """One question over a connected UDP socket, so an ICMP "port unreachable" ends it at once."""

    def __init__(self, query: dns.message.Message) -> None:
        self.query = query
        self.done: asyncio.Future[dns.message.Message] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr) -> None:
        if self.done.done():
            return
        try:
            message = dns.message.from_wire(data)
        except Exception as exc:  # noqa: BLE001 - anything unparseable is the server's fault
            if data[:2] == self.query.to_wire()[:2]:  # our id: the server answered garbage
                self.done.set_exception(ValueError(str(exc) or type(exc).__name__))
            return
        if self.query.is_response(message):
            self.done.set_result(message)  # otherwise a stray or spoofed datagram: keep waiting

    def error_received(self, exc: Exception) -> None:
        if not self.done.done():
            self.done.set_exception(exc)


async def _udp(ctx: ProbeContext, ns_host: str, ip: str, query: dns.message.Message, purpose: str) -> Reply:
    exchange = _Exchange(query)
    try:
        async with ctx.network.datagram(ns_host, ip, DNS_PORT, purpose, lambda: exchange) as transport:
            transport.sendto(query.to_wire())
            async with asyncio.timeout(ctx.io_timeout):
                return Reply("answer", await exchange.done)
    except Refused as exc:
        return Reply("refused-by-scanner", detail=str(exc))
    except TimeoutError:
        return Reply("timeout", detail=f"{ns_host} ({ip}) did not answer within {ctx.io_timeout:g} s")
    except ValueError as exc:
        return Reply("malformed", detail=f"{ns_host} ({ip}) answered something that is no DNS message: {exc}")
    except OSError as exc:
        return Reply("unreachable", detail=f"{ns_host} ({ip}): {exc.strerror or exc}")


async def _tcp(ctx: ProbeContext, ns_host: str, ip: str, query: dns.message.Message, purpose: str) -> Reply:
    try:
        async with ctx.network.tcp(ns_host, ip, DNS_PORT, purpose) as (reader, writer):
            wire = query.to_wire()
            writer.write(struct.pack("!H", len(wire)) + wire)
            async with asyncio.timeout(ctx.io_timeout):
                await writer.drain()
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                data = await reader.readexactly(length)  # at most 65535 bytes: the length field caps it
            message = dns.message.from_wire(data)
            if message.id != query.id:
                return Reply("malformed", detail=f"{ns_host} ({ip}) answered another question over TCP", tcp=True)
            return Reply("answer", message, tcp=True)
    except NotListening:
        return Reply("unreachable", detail=f"{ns_host} ({ip}) does not accept DNS over TCP", tcp=True)
    except TimeoutError:
        return Reply("timeout", detail=f"{ns_host} ({ip}) did not answer over TCP within {ctx.io_timeout:g} s",
                     tcp=True)
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        return Reply("malformed", detail=f"{ns_host} ({ip}) cut the TCP answer short "
                                         f"({type(exc).__name__})", tcp=True)
    except (dns.exception.DNSException, ValueError) as exc:
        return Reply("malformed", detail=f"{ns_host} ({ip}) answered something that is no DNS message over TCP: "
                                         f"{exc or type(exc).__name__}", tcp=True)
    except Refused as exc:
        return Reply("refused-by-scanner", detail=str(exc), tcp=True)
    except ProbeError as exc:
        return Reply("unreachable", detail=str(exc), tcp=True)


async def zone_transfer(ctx: ProbeContext, ns_host: str, ip: str, zone: dns.name.Name) -> Reply:
    """Ask for AXFR over TCP and read only the first message: enough to know whether it is handed out."""
    unfit = _unfit(ctx, ns_host, ip, "dns-axfr", "tcp")
    if unfit is not None:
        return unfit
    query = dns.message.make_query(zone, dns.rdatatype.AXFR)
    query.flags &= ~dns.flags.RD
    return await _tcp(ctx, ns_host, ip, query, "dns-axfr")


def authoritative_for(reply: Reply, zone: dns.name.Name) -> tuple[bool | None, str]:
    """Did the server answer the zone's SOA authoritatively? (None: no usable answer at all)."""
    if reply.status != "answer":
        return None, reply.detail
    message = reply.message
    rcode = dns.rcode.to_text(message.rcode())
    if rcode != "NOERROR":
        return False, f"answered {rcode}"
    if not message.flags & dns.flags.AA:
        return False, "answered without the authoritative (AA) flag"
    if not any(r.name == zone and r.rdtype == dns.rdatatype.SOA for r in message.answer):
        return False, "answered without the zone's SOA record"
    return True, "authoritative"


def transfer_allowed(reply: Reply) -> bool | None:
    """AXFR handed out (the first message starts with the SOA), refused, or not measured (None)."""
    if reply.status != "answer":
        return None
    message = reply.message
    return (message.rcode() == dns.rcode.NOERROR
            and bool(message.answer) and message.answer[0].rdtype == dns.rdatatype.SOA)
