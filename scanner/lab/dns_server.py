"""An authoritative DNS server for the lab: answers from dnspython zones over UDP and TCP.

It hosts every lab zone (a lab root, `test.` and the estate's zones) on one address, so
a stub resolver pointed at it sees a complete, signable tree: DS questions are answered
from the parent zone, CNAMEs are chased across hosted zones, delegations to zones it
does not host get a referral, and signed zones return RRSIGs and NSEC denials when the
query sets the DO bit.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Iterable

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

IN = dns.rdataclass.IN
MAX_CHASE = 8


class ZoneSet:
    def __init__(self, zones: Iterable[dns.zone.Zone] = ()) -> None:
        self.zones: dict[dns.name.Name, dns.zone.Zone] = {}
        for zone in zones:
            self.add(zone)

    def add(self, zone: dns.zone.Zone) -> None:
        self.zones[zone.origin] = zone

    def find(self, name: dns.name.Name, rdtype: int = 0) -> dns.zone.Zone | None:
        """The closest hosted zone; a DS question about a zone apex belongs to its parent."""
        best = None
        for origin, zone in self.zones.items():
            if not name.is_subdomain(origin):
                continue
            if rdtype == dns.rdatatype.DS and name == origin and origin != dns.name.root:
                continue
            if best is None or len(origin) > len(best.origin):
                best = zone
        return best


def _rrsets(zone: dns.zone.Zone, name: dns.name.Name, rdtype: int, dnssec: bool) -> list[dns.rrset.RRset]:
    node = zone.get_node(name)
    if node is None:
        return []
    out = []
    rds = node.get_rdataset(IN, rdtype)
    if rds is not None:
        out.append(dns.rrset.from_rdata_list(name, rds.ttl, list(rds)))
        if dnssec:
            sig = node.get_rdataset(IN, dns.rdatatype.RRSIG, rdtype)
            if sig is not None:
                out.append(dns.rrset.from_rdata_list(name, sig.ttl, list(sig)))
    return out


def _delegation(zone: dns.zone.Zone, name: dns.name.Name, rdtype: int) -> dns.name.Name | None:
    """The zone cut (NS below the apex) at or above `name`, if the question crosses one."""
    candidate = name
    while candidate != zone.origin and candidate.is_subdomain(zone.origin):
        node = zone.get_node(candidate)
        if node is not None and node.get_rdataset(IN, dns.rdatatype.NS) is not None:
            if not (candidate == name and rdtype == dns.rdatatype.DS):
                return candidate
        candidate = candidate.parent()
    return None


def _covering_nsec(zone: dns.zone.Zone, name: dns.name.Name) -> list[dns.rrset.RRset]:
    """The NSEC record whose span covers `name` (the proof that it does not exist)."""
    owners = sorted(n for n, node in zone.nodes.items() if node.get_rdataset(IN, dns.rdatatype.NSEC) is not None)
    owners = [n if n.is_absolute() else n.derelativize(zone.origin) for n in owners]
    if not owners:
        return []
    before = owners[-1]
    for owner in owners:
        if owner < name:
            before = owner
        else:
            break
    return _rrsets(zone, before, dns.rdatatype.NSEC, True)


def _name_exists(zone: dns.zone.Zone, name: dns.name.Name) -> bool:
    if zone.get_node(name) is not None:
        return True
    return any(n.is_subdomain(name) for n in (k.derelativize(zone.origin) if not k.is_absolute() else k
                                              for k in zone.nodes))


def answer(zones: ZoneSet, query: dns.message.Message) -> dns.message.Message:
    resp = dns.message.make_response(query)
    if not query.question:
        resp.set_rcode(dns.rcode.FORMERR)
        return resp
    question = query.question[0]
    qname, qtype = question.name, question.rdtype
    dnssec = bool(query.ednsflags & dns.flags.DO)
    zone = zones.find(qname, qtype)
    if zone is None:
        resp.set_rcode(dns.rcode.REFUSED)
        return resp
    if qtype == dns.rdatatype.AXFR:
        resp.set_rcode(dns.rcode.REFUSED)
        return resp
    resp.flags |= dns.flags.AA
    name = qname
    for _ in range(MAX_CHASE):
        cut = _delegation(zone, name, qtype)
        if cut is not None:
            resp.flags &= ~dns.flags.AA
            resp.authority.extend(_rrsets(zone, cut, dns.rdatatype.NS, False))
            resp.authority.extend(_rrsets(zone, cut, dns.rdatatype.DS, dnssec))
            if dnssec and not zone.get_node(cut).get_rdataset(IN, dns.rdatatype.DS):
                resp.authority.extend(_rrsets(zone, cut, dns.rdatatype.NSEC, True))
            return resp
        found = _rrsets(zone, name, qtype, dnssec)
        if found:
            resp.answer.extend(found)
            return resp
        cname = _rrsets(zone, name, dns.rdatatype.CNAME, dnssec) if qtype != dns.rdatatype.CNAME else []
        if cname:
            resp.answer.extend(cname)
            name = cname[0][0].target
            nxt = zones.find(name, qtype)
            if nxt is None:
                return resp
            zone = nxt
            continue
        soa = _rrsets(zone, zone.origin, dns.rdatatype.SOA, dnssec)
        resp.authority.extend(soa)
        if _name_exists(zone, name):
            if dnssec:
                resp.authority.extend(_rrsets(zone, name, dns.rdatatype.NSEC, True))
        else:
            if name == qname:
                resp.set_rcode(dns.rcode.NXDOMAIN)
            if dnssec:
                resp.authority.extend(_covering_nsec(zone, name))
        return resp
    resp.set_rcode(dns.rcode.SERVFAIL)
    return resp


def to_wire(resp: dns.message.Message, max_size: int) -> bytes:
    try:
        return resp.to_wire(max_size=max_size)
    except dns.exception.TooBig:
        resp.answer, resp.authority, resp.additional = [], [], []
        resp.flags |= dns.flags.TC
        return resp.to_wire()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        reply = self.server.handle(data, udp=True)
        if reply is not None:
            self.transport.sendto(reply, addr)


class DnsServer:
    """Binds UDP and TCP on the same free port of `host`."""

    def __init__(self, zones: ZoneSet, host: str = "127.0.0.1") -> None:
        self.zones, self.host = zones, host
        self.port = 0
        self.queries: list[tuple[str, str]] = []  # (name, type) of every question, for tests
        self._udp = None
        self._tcp = None

    def handle(self, wire: bytes, udp: bool) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if query.question:
            self.queries.append((query.question[0].name.to_text(), dns.rdatatype.to_text(query.question[0].rdtype)))
        resp = answer(self.zones, query)
        size = 65535
        if udp:
            size = max(512, query.payload) if query.edns >= 0 else 512
        return to_wire(resp, size)

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        for _ in range(20):
            udp_sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_DGRAM)
            udp_sock.bind((self.host, 0))
            port = udp_sock.getsockname()[1]
            try:
                self._tcp = await asyncio.start_server(self._tcp_client, self.host, port)
            except OSError:
                udp_sock.close()
                continue
            self._udp, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), sock=udp_sock)
            self.port = port
            return port
        raise OSError("no free port for the lab DNS server")

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                header = await asyncio.wait_for(reader.readexactly(2), 10)
                (length,) = struct.unpack("!H", header)
                data = await asyncio.wait_for(reader.readexactly(length), 10)
                reply = self.handle(data, udp=False)
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
