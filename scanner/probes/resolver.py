"""The one resolver every probe uses, so the lab, a private resolver and the internet agree.

Queries ask for DNSSEC records (DO bit) so the same answers serve validation, and set
Checking Disabled (CD, RFC 4035 §4.9.2) so a validating resolver hands over data that
fails its validation: Bolwerk validates itself and wants to say *bogus*, not "no answer".
With `trust_ad` (the user names a validating resolver and trusts its AD bit) queries go
without CD; a SERVFAIL is asked again with CD so the chain walk can still say why.

Results are remembered for the run (the most recent ones: scanner/probes/memo.py) and
concurrent lookups of one name share one query; answers the run already had in another
process (the addresses resolved before the scan is split over worker processes) are
handed over with `seed` and not asked again. A lookup keeps what validation needs: the
answer's RRsets and signatures, every CNAME link, and the authority section's SOA and
NSEC/NSEC3 denial records. Every query leaves through the scan's `Network`
(`Network.dns_backend`), recorded in the audit log with the purpose `dns-resolver`.
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import pickle
from collections.abc import Iterable
from dataclasses import dataclass, field

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset

from scanner.model import InputError
from scanner.probes.deadline import QueueTimeout, queued
from scanner.probes.memo import Memo
from scanner.probes.net import Network, ProbeError

Signed = tuple[dns.rrset.RRset, "dns.rrset.RRset | None"]  # an RRset and its RRSIGs
DENIAL_TYPES = (dns.rdatatype.NSEC, dns.rdatatype.NSEC3, dns.rdatatype.SOA)
# Addresses of one name, per family, that probes contact: a CDN answers with a handful; a
# hostile zone could list thousands (one TCP answer), each worth a TLS enumeration.
MAX_ADDRESSES = 16
# Questions in flight to the resolver at once: polite to it (a burst of hundreds of endpoints
# would otherwise time out at a busy resolver), and a queue of the scanner's own, whose wait
# stands outside every deadline (deadline.py) and is bounded apart.
IN_FLIGHT = 32
QUEUE_TIMEOUT = 600.0


def parse_server(text: str) -> tuple[str, int]:
    """`IP`, `IP:PORT` or `[IPv6]:PORT` -> (ip, port)."""
    text = text.strip()
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    try:
        ipaddress.ip_address(host)
        port = int(port)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise InputError("--resolver", f"expected IP[:PORT], got {text!r}") from None
    return host, port


@dataclass
class Lookup:
    """One question's answer: the records, their signatures, and how it ended."""

    name: str
    rdtype: str
    rcode: str  # NOERROR, NXDOMAIN, SERVFAIL, REFUSED...
    rrset: dns.rrset.RRset | None = None
    rrsigs: dns.rrset.RRset | None = None
    canonical: str = ""  # after CNAMEs
    cnames: list[Signed] = field(default_factory=list)
    ad: bool = False
    zone: str = ""  # owner of the SOA in the authority section (NODATA/NXDOMAIN): the zone apex
    authority: list[Signed] = field(default_factory=list)  # SOA, NSEC, NSEC3 with their RRSIGs
    dnames: list[Signed] = field(default_factory=list)  # DNAMEs that synthesised CNAME links
    error: str = ""  # why the resolver gave no usable answer (SERVFAIL, REFUSED, CNAME loop...)
    cd_retry: bool = False  # trust_ad mode: the resolver failed it, then answered with CD set

    def texts(self) -> list[str]:
        return sorted(rd.to_text() for rd in self.rrset) if self.rrset else []

    @property
    def failed(self) -> bool:
        """The resolver could not answer: neither data nor a proper "does not exist"."""
        return self.rcode not in ("NOERROR", "NXDOMAIN")

    def failure(self) -> str:
        """Why the resolver gave no usable answer, for a report: "SERVFAIL: reason"."""
        return f"{self.rcode}: {self.error}" if self.error else self.rcode

    def failed_because(self) -> str:
        """The failure as a sentence: "the resolver failed example.be. DS (SERVFAIL: reason)"."""
        return f"the resolver failed {self.name} {self.rdtype} ({self.failure()})"

    def chain(self) -> list[str]:
        """The CNAME targets in order (empty without aliases)."""
        return [rrset[0].target.to_text() for rrset, _ in self.cnames]


class Resolver:
    def __init__(self, server: str | None = None, timeout: float = 5.0, *, trust_ad: bool = False,
                 network: Network | None = None) -> None:
        if server:
            ip, port = parse_server(server)
            self._r = dns.asyncresolver.Resolver(configure=False)
            self._r.nameservers = [ip]
            self._r.port = port
            self.server = f"{ip}:{port}"
        else:
            self._r = dns.asyncresolver.Resolver()
            self.server = "system"
        self.trust_ad = trust_ad
        self._r.use_edns(0, dns.flags.DO, 1232)
        self._r.lifetime = timeout
        self._r.timeout = max(1.0, timeout / 2)
        self._r.cache = None
        self._r.flags = dns.flags.RD | (0 if trust_ad else dns.flags.CD)
        self.network = network or Network()  # the scan's, so its audit log has every query
        self._backend = self.network.dns_backend("resolver")
        self._cache = Memo(2048)
        self._seeded: dict[tuple[str, str], bytes] = {}  # answers had before this process's loop: `seed`
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    @property
    def nameservers(self) -> list[tuple[str, int]]:
        return [(str(ns), self._r.port) for ns in self._r.nameservers]

    async def lookup(self, name: str, rdtype: str) -> Lookup:
        """The answer to one question; ProbeError when it cannot be asked or the resolver is silent."""
        key = (name.rstrip(".").lower() + ".", rdtype.upper())
        try:
            dns.name.from_text(key[0])
        except dns.exception.DNSException as exc:  # an empty or over-long label, a name over 255 octets
            raise ProbeError(f"{name[:100]!r} is not a valid DNS name: {exc}") from None
        seeded = self._seeded.pop(key, None)
        compute = (lambda: self._query(*key)) if seeded is None else (lambda: _had(pickle.loads(seeded)))
        return await self._cache.get(key, compute)

    def seed(self, answers: Iterable[tuple[tuple[str, str], bytes]]) -> None:
        """Answers this run already had, as `packed` gives them (plain bytes: no future of
        another event loop, and a fraction of the objects' memory while they wait): each is
        the answer to its question when first asked here, then remembered as any other."""
        self._seeded.update(answers)

    async def _query(self, name: str, rdtype: str) -> Lookup:
        out = await self._ask(self._r, name, rdtype)
        if self.trust_ad and out.rcode == "SERVFAIL":
            retry = copy.copy(self._r)  # the same resolver and limits, asked with checking disabled
            retry.flags = dns.flags.RD | dns.flags.CD
            again = await self._ask(retry, name, rdtype)
            if not again.failed:
                again.cd_retry = True
                return again
        return out

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(IN_FLIGHT))
        return self._slots[1]

    async def _ask(self, resolver: dns.asyncresolver.Resolver, name: str, rdtype: str) -> Lookup:
        slots = self._semaphore()
        try:
            async with queued(QUEUE_TIMEOUT):
                await slots.acquire()
        except QueueTimeout:
            raise ProbeError(f"scanner limit: waited {QUEUE_TIMEOUT:g} s to ask the resolver about {name}") from None
        try:
            return await self._resolve(resolver, name, rdtype)
        finally:
            slots.release()

    async def _resolve(self, resolver: dns.asyncresolver.Resolver, name: str, rdtype: str) -> Lookup:
        qname = dns.name.from_text(name)
        try:
            answer = await resolver.resolve(qname, rdtype, raise_on_no_answer=False, search=False,
                                            backend=self._backend)
        except dns.resolver.NXDOMAIN as exc:
            response = exc.responses().get(qname)
            if response is None:
                return Lookup(name, rdtype, "NXDOMAIN")
            try:
                canonical = response.canonical_name()
            except dns.exception.DNSException:
                canonical = qname
            out = from_response(name, rdtype, response, canonical)
            out.rcode = "NXDOMAIN"
            return out
        except dns.resolver.NoNameservers as exc:
            return _server_failure(name, rdtype, exc)
        except (dns.exception.Timeout, dns.resolver.LifetimeTimeout):
            raise ProbeError(f"DNS lookup of {name} {rdtype} timed out") from None
        except dns.exception.DNSException as exc:
            raise ProbeError(f"DNS lookup of {name} {rdtype} failed: {exc}") from None
        return from_response(name, rdtype, answer.response, answer.canonical_name)

    async def address_lookups(self, host: str) -> tuple[Lookup, Lookup]:
        """The A and AAAA lookups of `host`, asked together."""
        v4, v6 = await asyncio.gather(self.lookup(host, "A"), self.lookup(host, "AAAA"))
        return v4, v6

    async def addresses(self, host: str) -> list[str]:
        """The A and AAAA addresses of `host` (IPv4 first, at most MAX_ADDRESSES of each), CNAMEs followed."""
        return addresses_of(*await self.address_lookups(host))


def addresses_of(v4: Lookup, v6: Lookup) -> list[str]:
    """The addresses an A and an AAAA lookup give (IPv4 first, at most MAX_ADDRESSES of each)."""
    return v4.texts()[:MAX_ADDRESSES] + v6.texts()[:MAX_ADDRESSES]


def packed(found: Lookup) -> tuple[tuple[str, str], bytes]:
    """A lookup under its question, pickled for `Resolver.seed` in another process of the
    same scan (this scanner's own data: 1.6 KB an address lookup pair instead of 7 KB of objects)."""
    return (found.name, found.rdtype), pickle.dumps(found, protocol=pickle.HIGHEST_PROTOCOL)


async def _had(found: Lookup) -> Lookup:
    return found


def _server_failure(name: str, rdtype: str, exc: dns.resolver.NoNameservers) -> Lookup:
    """Every server failed: keep the last rcode a server gave (else SERVFAIL) and why."""
    errors = exc.kwargs.get("errors") or []
    rcode, reasons = "SERVFAIL", []
    for _server, _tcp, _port, err, response in errors:
        if response is not None and response.rcode() != dns.rcode.NOERROR:
            rcode = dns.rcode.to_text(response.rcode())
        if isinstance(err, dns.message.ChainTooLong):
            reasons.append("the CNAME chain is too long or loops")
        elif isinstance(err, BaseException):
            reasons.append(str(err) or type(err).__name__)
    return Lookup(name, rdtype, rcode, error="; ".join(dict.fromkeys(reasons))[:300])


def _signatures(section: list[dns.rrset.RRset]) -> dict[tuple[dns.name.Name, int], dns.rrset.RRset]:
    return {(r.name, r.covers): r for r in section if r.rdtype == dns.rdatatype.RRSIG}


def from_response(name: str, rdtype: str, response: dns.message.Message, canonical: dns.name.Name) -> Lookup:
    """A Lookup from one response message (also used for direct queries to a name server)."""
    rtype = dns.rdatatype.from_text(rdtype)
    out = Lookup(name, rdtype, dns.rcode.to_text(response.rcode()), canonical=canonical.to_text())
    out.ad = bool(response.flags & dns.flags.AD)
    out.zone = _authority_zone(response)
    sigs = _signatures(response.answer)
    # Follow the chain from the question, so stray or looping records are never taken for links.
    owner, seen = dns.name.from_text(name), set()
    while owner not in seen:
        seen.add(owner)
        final = next((r for r in response.answer if r.name == owner and r.rdtype == rtype), None)
        if final is not None:
            out.rrset, out.rrsigs = final, sigs.get((final.name, final.rdtype))
            break
        link = next((r for r in response.answer if r.name == owner and r.rdtype == dns.rdatatype.CNAME), None)
        if link is None or rtype == dns.rdatatype.CNAME:
            break
        out.cnames.append((link, sigs.get((link.name, link.rdtype))))
        owner = link[0].target
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.DNAME:
            out.dnames.append((rrset, sigs.get((rrset.name, rrset.rdtype))))
    auth_sigs = _signatures(response.authority)
    for rrset in response.authority:
        if rrset.rdtype in DENIAL_TYPES:
            out.authority.append((rrset, auth_sigs.get((rrset.name, rrset.rdtype))))
    return out


def _authority_zone(response: dns.message.Message) -> str:
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.SOA:
            return rrset.name.to_text()
    return ""
