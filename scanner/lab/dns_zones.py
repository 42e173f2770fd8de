"""Lab DNS zone helpers: the lab's name servers, NSEC3 signing (RFC 5155) and broken signatures.

dnspython signs zones with NSEC only, so NSEC3 zones are signed here: hashed owner names
for every authoritative name and empty non-terminal, the type bitmaps, opt-out spans
that skip unsigned delegations, an NSEC3PARAM at the apex, and an RRSIG over every
authoritative RRset.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.zone

IN = dns.rdataclass.IN

# role -> (host label in each zone, addresses, behaviour). `tld` serves the lab root and `test.`;
# estate zones name their roles with `ns = [...]` (default DEFAULT_NS). Each /24 (IPv4) is its own
# network, so ns1 and ns2 are two networks; ns2 also answers on ::1.
NAME_SERVERS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "tld": ("ns", ("127.0.52.1",), "normal"),
    "ns1": ("ns1", ("127.0.53.1",), "normal"),
    "ns2": ("ns2", ("127.0.54.1", "::1"), "normal"),
    "lame": ("ns3", ("127.0.55.1",), "refuse"),
    "silent": ("ns4", ("127.0.56.1",), "silent"),
    "truncate": ("ns5", ("127.0.57.1",), "truncate"),
    "garbage": ("ns6", ("127.0.58.1",), "garbage"),
}
DEFAULT_NS = ("ns1", "ns2")


def _ns_names(zone: str, roles: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    """(name server host, its addresses) for each role serving `zone`."""
    out = []
    for role in roles:
        if role not in NAME_SERVERS:
            raise ValueError(f"zone {zone}: unknown name server role {role!r} (known: {', '.join(NAME_SERVERS)})")
        label, addresses, _ = NAME_SERVERS[role]
        out.append((f"{label}.{zone}.", addresses))
    return out


def absolute(zone: dns.zone.Zone, name: dns.name.Name) -> dns.name.Name:
    return name if name.is_absolute() else name.derelativize(zone.origin)


def _break_signatures(zone: dns.zone.Zone, name: dns.name.Name) -> None:
    """Flip a bit in every signature at `name`: a bogus zone for the validator to catch."""
    node = zone.get_node(name)
    if node is None:
        raise ValueError(f"cannot break signatures at {name}: no such name in {zone.origin}")
    for i, rds in enumerate(list(node.rdatasets)):
        if rds.rdtype != dns.rdatatype.RRSIG:
            continue
        broken = dns.rdataset.Rdataset(rds.rdclass, rds.rdtype, rds.covers)
        for rd in rds:
            broken.add(rd.replace(signature=bytes([rd.signature[0] ^ 0x01]) + rd.signature[1:]), rds.ttl)
        node.rdatasets[i] = broken


def sign_nsec3(zone: dns.zone.Zone, key: Any, dnskey: Any, inception: dt.datetime, expiration: dt.datetime,
               params: dict[str, Any]) -> None:
    """Sign `zone` with NSEC3 (`params`: iterations, salt as hex, opt_out)."""
    origin = zone.origin
    iterations, salt = int(params.get("iterations", 0)), params.get("salt", "")
    opt_out = bool(params.get("opt_out", False))
    ttl = zone.get_rdataset(origin, dns.rdatatype.SOA).ttl
    zone.find_rdataset(origin, dns.rdatatype.DNSKEY, create=True).add(dnskey, ttl)
    zone.find_rdataset(origin, dns.rdatatype.NSEC3PARAM, create=True).add(
        dns.rdata.from_text(IN, dns.rdatatype.NSEC3PARAM, f"1 0 {iterations} {salt or '-'}"), ttl)
    names = {absolute(zone, n): node for n, node in zone.nodes.items()}
    cuts = {n for n, node in names.items()
            if n != origin and node.get_rdataset(IN, dns.rdatatype.NS) is not None}

    def below_cut(name: dns.name.Name) -> bool:
        return any(name != c and name.is_subdomain(c) for c in cuts)

    def signed_delegation(name: dns.name.Name) -> bool:
        return names[name].get_rdataset(IN, dns.rdatatype.DS) is not None

    owners = {n for n in names if not below_cut(n) and not (opt_out and n in cuts and not signed_delegation(n))}
    for name in list(owners):  # empty non-terminals between an owner and the apex
        parent = name
        while parent != origin:
            parent = parent.parent()
            owners.add(parent)
    hashed = sorted((dns.dnssec.nsec3_hash(n, salt, iterations, 1).lower(), n) for n in owners)
    for i, (digest, name) in enumerate(hashed):
        node = names.get(name)
        types = {rds.rdtype for rds in node.rdatasets} if node is not None else set()
        if types and (name not in cuts or signed_delegation(name)):
            types.add(dns.rdatatype.RRSIG)
        nxt = hashed[(i + 1) % len(hashed)][0]
        text = " ".join(sorted(dns.rdatatype.to_text(t) for t in types))
        rdata = dns.rdata.from_text(IN, dns.rdatatype.NSEC3,
                                    f"1 {1 if opt_out else 0} {iterations} {salt or '-'} {nxt} {text}".strip())
        zone.find_rdataset(dns.name.from_text(digest, origin), dns.rdatatype.NSEC3, create=True).add(rdata, ttl)
    for name, node in [(absolute(zone, n), node) for n, node in zone.nodes.items()]:
        if below_cut(name):
            continue
        for rds in list(node.rdatasets):
            if rds.rdtype == dns.rdatatype.RRSIG or (name in cuts and rds.rdtype != dns.rdatatype.DS):
                continue
            rrset = dns.rrset.from_rdata_list(name, rds.ttl, list(rds))
            sig = dns.dnssec.sign(rrset, key, origin, dnskey, inception, expiration,
                                  policy=dns.dnssec.allow_all_policy)
            zone.find_rdataset(name, dns.rdatatype.RRSIG, covers=rds.rdtype, create=True).add(sig, rds.ttl)

