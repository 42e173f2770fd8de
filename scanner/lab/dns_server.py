"""Authoritative DNS servers for the lab: answers from dnspython zones over UDP and TCP.

The lab runs several instances. The one at the lab's resolver address hosts every lab
zone (a lab root, `test.` and the estate's zones), so a stub resolver pointed at it sees
a complete, signable tree, like a recursive resolver with everything cached: DS
questions are answered from the parent zone, CNAMEs are chased across hosted zones
(NXDOMAIN at the end of a chain per RFC 6604, a loop stops where it closes), and zones
whose only name servers misbehave are forwarded to them, so their failures reach the
scanner as a recursive resolver would pass them on (SERVFAIL). The other instances are
the zones' own name servers, each hosting the zones whose NS records name it, so the
scanner can ask them directly (lame delegation, parent/child NS, zone transfer).

Signed zones return RRSIGs and denial proofs when the query sets the DO bit: NSEC, or
NSEC3 (RFC 5155: closest-encloser proofs, opt-out spans) for zones carrying NSEC3PARAM.
Wildcards are expanded with the proof that the name itself does not exist.

A server's `behaviour` makes it misbehave for the robustness cases: `refuse` (a lame
server: REFUSED for everything), `silent` (never answers), `truncate` (TC over UDP, a
short message over TCP) and `garbage` (bytes that are not a DNS message).
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Iterable

import dns.asyncquery
import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

from scanner.lab.dns_zones import absolute
from scanner.lab.listener import Listener

IN = dns.rdataclass.IN
MAX_CHASE = 8
FORWARD_TIMEOUT = 0.2
TCP_TIMEOUT = 10.0
BEHAVIOURS = ("normal", "refuse", "silent", "truncate", "garbage")


class ZoneSet:
    def __init__(self, zones: Iterable[dns.zone.Zone] = (), axfr: Iterable[dns.name.Name] = ()) -> None:
        self.zones: dict[dns.name.Name, dns.zone.Zone] = {}
        self.axfr_allowed: set[dns.name.Name] = set(axfr)  # zones this server hands out by AXFR
        self.forward: dict[dns.name.Name, tuple[str, int]] = {}  # zone -> (ip, real port) to ask
        self._denials: dict[dns.name.Name, _Denial | None] = {}
        for zone in zones:
            self.zones[zone.origin] = zone

    def denial(self, zone: dns.zone.Zone) -> _Denial | None:
        """The zone's denial chain (None when unsigned), built once: lab zones do not change."""
        if zone.origin not in self._denials:
            self._denials[zone.origin] = _Denial(zone) if _signed(zone) else None
        return self._denials[zone.origin]

    def find(self, name: dns.name.Name, rdtype: int = 0) -> dns.zone.Zone | None:
        """The closest hosted zone; a DS question about a zone apex belongs to its parent.

        Walks up from the name, one dictionary lookup per label: the scale lab hosts a
        thousand zones, and a scan there asks tens of thousands of questions."""
        if rdtype == dns.rdatatype.DS and name != dns.name.root:
            name = name.parent()
        while True:
            zone = self.zones.get(name)
            if zone is not None or name == dns.name.root:
                return zone
            name = name.parent()

    def forwarded(self, name: dns.name.Name, hosted: dns.zone.Zone | None) -> tuple[str, int] | None:
        """Where to forward `name`: a forwarded zone closer than any zone hosted here."""
        best = None
        for origin, target in self.forward.items():
            if name.is_subdomain(origin) and (hosted is None or len(origin) > len(hosted.origin)):
                if best is None or len(origin) > len(best[0]):
                    best = (origin, target)
        return best[1] if best else None


def _rrsets(zone: dns.zone.Zone, name: dns.name.Name, rdtype: int, dnssec: bool,
            owner: dns.name.Name | None = None) -> list[dns.rrset.RRset]:
    """The RRset (and its RRSIG) at `name`, optionally renamed to `owner` (wildcard expansion)."""
    node = zone.get_node(name)
    if node is None:
        return []
    out = []
    rds = node.get_rdataset(IN, rdtype)
    if rds is not None:
        out.append(dns.rrset.from_rdata_list(owner or name, rds.ttl, list(rds)))
        if dnssec:
            sig = node.get_rdataset(IN, dns.rdatatype.RRSIG, rdtype)
            if sig is not None:
                out.append(dns.rrset.from_rdata_list(owner or name, sig.ttl, list(sig)))
    return out


def _signed(zone: dns.zone.Zone) -> bool:
    return zone.get_node(zone.origin).get_rdataset(IN, dns.rdatatype.DNSKEY) is not None


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


def _name_exists(zone: dns.zone.Zone, name: dns.name.Name) -> bool:
    """The name owns records or is an empty non-terminal (has descendants)."""
    if zone.get_node(name) is not None:
        return True
    return any(absolute(zone, k).is_subdomain(name) for k in zone.nodes)


def _closest_encloser(zone: dns.zone.Zone, name: dns.name.Name) -> dns.name.Name:
    candidate = name
    while candidate != zone.origin and not _name_exists(zone, candidate):
        candidate = candidate.parent()
    return candidate


def _wild(name: dns.name.Name) -> dns.name.Name:
    return dns.name.Name((b"*",) + name.labels)


class _Denial:
    """The denial records of one signed zone: NSEC, or NSEC3 when the apex has NSEC3PARAM."""

    def __init__(self, zone: dns.zone.Zone) -> None:
        self.zone = zone
        param = zone.get_node(zone.origin).get_rdataset(IN, dns.rdatatype.NSEC3PARAM)
        self.nsec3 = param[0] if param is not None else None
        rdtype = dns.rdatatype.NSEC3 if self.nsec3 else dns.rdatatype.NSEC
        owners = [absolute(zone, n) for n, node in zone.nodes.items() if node.get_rdataset(IN, rdtype) is not None]
        if self.nsec3:
            self.chain = sorted((n.labels[0].decode().lower(), n) for n in owners)
        else:
            self.chain = sorted((n, n) for n in owners)

    def _records(self, owner: dns.name.Name) -> list[dns.rrset.RRset]:
        return _rrsets(self.zone, owner, dns.rdatatype.NSEC3 if self.nsec3 else dns.rdatatype.NSEC, True)

    def _key(self, name: dns.name.Name):
        if not self.nsec3:
            return name
        p = self.nsec3
        return dns.dnssec.nsec3_hash(name, p.salt, p.iterations, p.algorithm).lower()

    def match(self, name: dns.name.Name) -> list[dns.rrset.RRset]:
        key = self._key(name)
        return next((self._records(owner) for k, owner in self.chain if k == key), [])

    def cover(self, name: dns.name.Name) -> list[dns.rrset.RRset]:
        if not self.chain:
            return []
        key = self._key(name)
        before = self.chain[-1][1]
        for k, owner in self.chain:
            if k < key:
                before = owner
            else:
                break
        return self._records(before)

    def encloser_proof(self, name: dns.name.Name) -> tuple[dns.name.Name, list[dns.rrset.RRset]]:
        """NSEC3: the closest encloser that has an NSEC3, and the cover of the next closer name."""
        candidate, nearer = name, name
        while candidate != self.zone.origin and not self.match(candidate):
            nearer, candidate = candidate, candidate.parent()
        return candidate, self.match(candidate) + self.cover(nearer)

    def nodata(self, name: dns.name.Name) -> list[dns.rrset.RRset]:
        found = self.match(name)
        if found:
            return found
        if self.nsec3:  # no NSEC3 for it: an opt-out delegation, or an empty non-terminal above one
            return self.encloser_proof(name)[1]
        return self.cover(name)  # an empty non-terminal: the NSEC that spans it

    def nxdomain(self, name: dns.name.Name) -> list[dns.rrset.RRset]:
        if self.nsec3:
            encloser, proof = self.encloser_proof(name)
        else:
            encloser, proof = _closest_encloser(self.zone, name), self.cover(name)
        return proof + self.cover(_wild(encloser))

    def wildcard_answer(self, name: dns.name.Name, encloser: dns.name.Name) -> list[dns.rrset.RRset]:
        if self.nsec3:
            nearer = dns.name.Name(name.labels[len(name.labels) - len(encloser.labels) - 1:])
            return self.cover(nearer)
        return self.cover(name)

    def wildcard_nodata(self, name: dns.name.Name, encloser: dns.name.Name) -> list[dns.rrset.RRset]:
        proof = self.encloser_proof(name)[1] if self.nsec3 else self.cover(name)
        return proof + self.match(_wild(encloser))


def _dedup(rrsets: list[dns.rrset.RRset]) -> list[dns.rrset.RRset]:
    out: list[dns.rrset.RRset] = []
    for r in rrsets:
        if not any(r.name == o.name and r.rdtype == o.rdtype and r.covers == o.covers for o in out):
            out.append(r)
    return out


def answer(zones: ZoneSet, query: dns.message.Message, claims_ad: bool = False) -> dns.message.Message:
    resp = dns.message.make_response(query)
    if not query.question:
        resp.set_rcode(dns.rcode.FORMERR)
        return resp
    question = query.question[0]
    qname, qtype = question.name, question.rdtype
    dnssec = bool(query.ednsflags & dns.flags.DO)
    zone = zones.find(qname, qtype)
    if zone is None or qtype == dns.rdatatype.AXFR:
        resp.set_rcode(dns.rcode.REFUSED)
        return resp
    resp.flags |= dns.flags.AA
    if claims_ad and dnssec and not query.flags & dns.flags.CD and _signed(zone):
        resp.flags |= dns.flags.AD  # a naive "validating resolver" for the trust-the-AD-bit mode
    name, seen = qname, set()
    for _ in range(MAX_CHASE):
        seen.add(name)
        denial = zones.denial(zone) if dnssec else None
        cut = _delegation(zone, name, qtype)
        if cut is not None:
            resp.flags &= ~dns.flags.AA
            ns = _rrsets(zone, cut, dns.rdatatype.NS, False)
            resp.authority.extend(ns)
            for target in sorted({rd.target for r in ns for rd in r if rd.target.is_subdomain(cut)}):
                for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):  # glue
                    resp.additional.extend(_rrsets(zone, target, rdtype, False))
            resp.authority.extend(_rrsets(zone, cut, dns.rdatatype.DS, dnssec))
            if denial and not zone.get_node(cut).get_rdataset(IN, dns.rdatatype.DS):
                resp.authority.extend(denial.nodata(cut))
            return resp
        found = _rrsets(zone, name, qtype, dnssec)
        cname = _rrsets(zone, name, dns.rdatatype.CNAME, dnssec) if qtype != dns.rdatatype.CNAME else []
        encloser = None
        if not found and not cname and not _name_exists(zone, name):
            encloser = _closest_encloser(zone, name)
            wild = _wild(encloser)
            found = _rrsets(zone, wild, qtype, dnssec, owner=name)
            cname = [] if found else _rrsets(zone, wild, dns.rdatatype.CNAME, dnssec, owner=name)
            if found or cname:  # synthesised from the wildcard (signed zones: with the proof)
                if denial:
                    resp.authority.extend(denial.wildcard_answer(name, encloser))
            elif zone.get_node(wild) is not None:  # the wildcard exists, without this type
                resp.authority.extend(_rrsets(zone, zone.origin, dns.rdatatype.SOA, dnssec))
                if denial:
                    resp.authority.extend(denial.wildcard_nodata(name, encloser))
                return resp
        if found:
            resp.answer.extend(found)
            resp.authority[:] = _dedup(resp.authority)
            return resp
        if cname:
            resp.answer.extend(cname)
            name = cname[0][0].target
            nxt = zones.find(name, qtype)
            if nxt is None or name in seen:  # leaves the hosted tree, or the chain loops: stop here
                return resp
            zone = nxt
            continue
        resp.authority.extend(_rrsets(zone, zone.origin, dns.rdatatype.SOA, dnssec))
        if _name_exists(zone, name):
            if denial:
                resp.authority.extend(denial.nodata(name))
        else:
            resp.set_rcode(dns.rcode.NXDOMAIN)
            if denial:
                resp.authority.extend(denial.nxdomain(name))
        resp.authority[:] = _dedup(resp.authority)
        return resp
    resp.set_rcode(dns.rcode.SERVFAIL)
    return resp


def transfer(zones: ZoneSet, query: dns.message.Message) -> dns.message.Message:
    """AXFR over TCP: the whole zone in one message (lab zones are small), or REFUSED."""
    resp = dns.message.make_response(query)
    qname = query.question[0].name
    zone = zones.zones.get(qname)
    if zone is None or qname not in zones.axfr_allowed:
        resp.set_rcode(dns.rcode.REFUSED)
        return resp
    resp.flags |= dns.flags.AA
    soa = _rrsets(zone, zone.origin, dns.rdatatype.SOA, False)
    resp.answer.extend(soa)
    for name, node in sorted(zone.nodes.items()):
        for rds in node:
            if not (absolute(zone, name) == zone.origin and rds.rdtype == dns.rdatatype.SOA):
                resp.answer.append(dns.rrset.from_rdata_list(absolute(zone, name), rds.ttl, list(rds)))
    resp.answer.extend(soa)
    return resp


def to_wire(resp: dns.message.Message, max_size: int) -> bytes:
    try:
        return resp.to_wire(max_size=max_size)
    except dns.exception.TooBig:
        resp.answer, resp.authority, resp.additional = [], [], []
        resp.flags |= dns.flags.TC
        return resp.to_wire()


def _garbage(wire: bytes) -> bytes:
    """The query's id, a response header promising one question, then bytes that are no question."""
    return wire[:2] + b"\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00" + b"\xc0\xff\x13"


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.tasks: set[asyncio.Task] = set()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        task = asyncio.ensure_future(self._reply(data, addr))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _reply(self, data: bytes, addr) -> None:
        reply = await self.server.handle(data, udp=True)
        if reply is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)


class DnsServer:
    """Binds UDP and TCP on the same free port of `host`."""

    def __init__(self, zones: ZoneSet, host: str = "127.0.0.1", behaviour: str = "normal",
                 claims_ad: bool = False) -> None:
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown DNS server behaviour {behaviour!r}")
        self.zones, self.host, self.behaviour, self.claims_ad = zones, host, behaviour, claims_ad
        self.port = 0
        self.queries: list[tuple[str, str]] = []  # (name, type) of every question, for tests
        self._udp = None
        self._tcp = Listener(host, self._tcp_client)

    async def handle(self, wire: bytes, udp: bool) -> bytes | None:
        if self.behaviour == "silent":
            return None
        if self.behaviour == "garbage":
            return _garbage(wire)
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if query.question:
            self.queries.append((query.question[0].name.to_text(), dns.rdatatype.to_text(query.question[0].rdtype)))
        if self.behaviour == "truncate":
            resp = dns.message.make_response(query)
            resp.flags |= dns.flags.TC
            return resp.to_wire() if udp else b"\x02\x00" + resp.to_wire()[:6]
        if self.behaviour == "refuse":
            resp = dns.message.make_response(query)
            resp.set_rcode(dns.rcode.REFUSED)
            return resp.to_wire()
        if query.question and query.question[0].rdtype == dns.rdatatype.AXFR and not udp:
            return to_wire(transfer(self.zones, query), 65535)
        hosted = self.zones.find(query.question[0].name, query.question[0].rdtype) if query.question else None
        upstream = self.zones.forwarded(query.question[0].name, hosted) if query.question else None
        if upstream is not None:
            return await self._forward(query, upstream)
        resp = answer(self.zones, query, self.claims_ad)
        size = 65535
        if udp:
            size = max(512, query.payload) if query.edns >= 0 else 512
        return to_wire(resp, size)

    async def _forward(self, query: dns.message.Message, upstream: tuple[str, int]) -> bytes:
        """Ask the zone's own server, as a recursive resolver would; its failure becomes SERVFAIL."""
        ip, port = upstream
        try:
            resp = await dns.asyncquery.udp(query, ip, timeout=FORWARD_TIMEOUT, port=port)
            if resp.flags & dns.flags.TC:
                resp = await dns.asyncquery.tcp(query, ip, timeout=FORWARD_TIMEOUT, port=port)
            return resp.to_wire()
        except (dns.exception.DNSException, OSError, EOFError, ValueError):
            failed = dns.message.make_response(query)
            failed.set_rcode(dns.rcode.SERVFAIL)
            return failed.to_wire()

    async def start(self) -> int:
        """UDP on a free port, then TCP on the same port (another free one if TCP finds it taken)."""
        loop = asyncio.get_running_loop()
        for _ in range(20):
            udp_sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_DGRAM)
            udp_sock.bind((self.host, 0))
            port = udp_sock.getsockname()[1]
            try:
                await self._tcp.start(port)
            except OSError:
                udp_sock.close()
                continue
            self._udp, self._proto = await loop.create_datagram_endpoint(lambda: _Udp(self), sock=udp_sock)
            self.port = port
            return port
        raise OSError("no free port for the lab DNS server")

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            header = await asyncio.wait_for(reader.readexactly(2), TCP_TIMEOUT)
            (length,) = struct.unpack("!H", header)
            data = await asyncio.wait_for(reader.readexactly(length), TCP_TIMEOUT)
            reply = await self.handle(data, udp=False)
            if reply is None:  # silent: hold the connection until the client gives up
                await asyncio.wait_for(reader.read(), TCP_TIMEOUT)
                return
            if self.behaviour in ("truncate", "garbage"):
                writer.write(reply if self.behaviour == "truncate" else struct.pack("!H", len(reply)) + reply)
                await writer.drain()
                return
            writer.write(struct.pack("!H", len(reply)) + reply)
            await writer.drain()

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
            for task in list(self._proto.tasks):
                task.cancel()
        await self._tcp.stop()
