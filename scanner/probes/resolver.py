"""The one resolver every probe uses, so the lab, a private resolver and the internet agree.

Queries ask for DNSSEC records (DO bit) so the same answers serve validation. Results
are cached for the run and concurrent lookups of one name share one query.
"""

from __future__ import annotations

import asyncio
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
from scanner.probes.net import ProbeError


def parse_server(text: str) -> tuple[str, int]:
    """`IP`, `IP:PORT` or `[IPv6]:PORT` -> (ip, port)."""
    import ipaddress

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
    rcode: str  # NOERROR, NXDOMAIN, SERVFAIL...
    rrset: dns.rrset.RRset | None = None
    rrsigs: dns.rrset.RRset | None = None
    canonical: str = ""  # after CNAMEs
    cnames: list[tuple[dns.rrset.RRset, dns.rrset.RRset | None]] = field(default_factory=list)
    ad: bool = False
    zone: str = ""  # owner of the SOA in the authority section (NODATA/NXDOMAIN): the zone apex

    def texts(self) -> list[str]:
        return sorted(rd.to_text() for rd in self.rrset) if self.rrset else []


class Resolver:
    def __init__(self, server: str | None = None, timeout: float = 5.0) -> None:
        if server:
            ip, port = parse_server(server)
            self._r = dns.asyncresolver.Resolver(configure=False)
            self._r.nameservers = [ip]
            self._r.port = port
            self.server = f"{ip}:{port}"
        else:
            self._r = dns.asyncresolver.Resolver()
            self.server = "system"
        self._r.use_edns(0, dns.flags.DO, 1232)
        self._r.lifetime = timeout
        self._r.timeout = max(1.0, timeout / 2)
        self._r.cache = None
        self._cache: dict[tuple[str, str], asyncio.Future[Lookup]] = {}

    @property
    def nameservers(self) -> list[tuple[str, int]]:
        return [(str(ns), self._r.port) for ns in self._r.nameservers]

    async def lookup(self, name: str, rdtype: str) -> Lookup:
        key = (name.rstrip(".").lower() + ".", rdtype.upper())
        fut = self._cache.get(key)
        if fut is None:
            fut = asyncio.ensure_future(self._query(*key))
            self._cache[key] = fut
        return await asyncio.shield(fut)

    async def _query(self, name: str, rdtype: str) -> Lookup:
        qname = dns.name.from_text(name)
        try:
            answer = await self._r.resolve(qname, rdtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN as exc:
            out = Lookup(name, rdtype, "NXDOMAIN")
            response = exc.responses().get(qname) if hasattr(exc, "responses") else None
            if response is not None:
                out.zone = _authority_zone(response)
            return out
        except dns.resolver.NoNameservers as exc:
            return Lookup(name, rdtype, "SERVFAIL", canonical=str(exc)[:200])
        except (dns.exception.Timeout, dns.resolver.LifetimeTimeout):
            raise ProbeError(f"DNS lookup of {name} {rdtype} timed out") from None
        except dns.exception.DNSException as exc:
            raise ProbeError(f"DNS lookup of {name} {rdtype} failed: {exc}") from None
        return _from_response(name, rdtype, answer.response, answer.canonical_name)

    async def addresses(self, host: str) -> list[str]:
        """Every A and AAAA address of `host` (IPv4 first), following CNAMEs."""
        v4, v6 = await asyncio.gather(self.lookup(host, "A"), self.lookup(host, "AAAA"))
        return v4.texts() + v6.texts()


def _from_response(name: str, rdtype: str, response: dns.message.Message, canonical: dns.name.Name) -> Lookup:
    rtype = dns.rdatatype.from_text(rdtype)
    out = Lookup(name, rdtype, dns.rcode.to_text(response.rcode()), canonical=canonical.to_text())
    out.ad = bool(response.flags & dns.flags.AD)
    out.zone = _authority_zone(response)
    sigs: dict[tuple[dns.name.Name, int], dns.rrset.RRset] = {}
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.RRSIG:
            sigs[(rrset.name, rrset.covers)] = rrset
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.CNAME and rtype != dns.rdatatype.CNAME:
            out.cnames.append((rrset, sigs.get((rrset.name, rrset.rdtype))))
        elif rrset.rdtype == rtype and rrset.name == canonical:
            out.rrset = rrset
            out.rrsigs = sigs.get((rrset.name, rrset.rdtype))
    return out


def _authority_zone(response: dns.message.Message) -> str:
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.SOA:
            return rrset.name.to_text()
    return ""
