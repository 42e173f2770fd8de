"""Authenticated denial of existence: does a set of NSEC or NSEC3 records prove what an answer says?

Pure functions over records whose signatures the validator has already checked:
NSEC per RFC 4035 §5.4 (and RFC 4034 §4, canonical order §6.1), NSEC3 per RFC 5155 §8
with the iteration limit of RFC 9276 §3.2. Each returns a `Proof`: whether it holds,
whether it leaves the answer *insecure* (an opt-out span, an iteration count above the
validator's limit, an unknown hash algorithm), and in words what it showed or why not.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import dns.dnssec
import dns.name
import dns.rdatatype
import dns.rrset

from scanner.standards import dnssec as dnssec_tables

NSEC3_OPT_OUT = 0x01


@dataclass(frozen=True)
class Proof:
    ok: bool  # the records prove the claim
    reason: str
    insecure: bool = False  # proven, but only as far as "no signed data here" (opt-out, limits)
    kind: str = ""  # what was proven: nodata, nxdomain, optout (name may exist unsigned), limit


def _types(rdata) -> set[int]:
    out: set[int] = set()
    for window, bitmap in rdata.windows:
        for i, byte in enumerate(bitmap):
            for bit in range(8):
                if byte & (0x80 >> bit):
                    out.add(window * 256 + i * 8 + bit)
    return out


def _t(rdtype: int) -> str:
    return dns.rdatatype.to_text(rdtype)


def _wild(name: dns.name.Name) -> dns.name.Name:
    return dns.name.Name((b"*",) + name.labels)


# ---------------------------------------------------------------------------------- NSEC


def _covers(owner: dns.name.Name, nxt: dns.name.Name, name: dns.name.Name, zone: dns.name.Name) -> bool:
    """The NSEC span owner -> next covers `name` (strictly between, wrapping at the zone end)."""
    if not name.is_subdomain(zone):
        return False
    if owner < nxt:
        return owner < name < nxt
    return name > owner or name < nxt  # the last NSEC of the zone points back at the apex


def _common(a: dns.name.Name, b: dns.name.Name) -> dns.name.Name:
    _, _, nlabels = a.fullcompare(b)
    return dns.name.Name(a.labels[len(a.labels) - nlabels:])


def nsec_proof(records: list[dns.rrset.RRset], qname: dns.name.Name, qtype: int,
               zone: dns.name.Name) -> Proof:
    """Prove NODATA or NXDOMAIN for (qname, qtype) from the zone's NSEC records."""
    nsecs = [(r.name, rd) for r in records if r.rdtype == dns.rdatatype.NSEC for rd in r]
    if not nsecs:
        return Proof(False, "no NSEC records")
    for owner, rd in nsecs:
        if owner == qname:
            types = _types(rd)
            if qtype in types:
                return Proof(False, f"the NSEC at {qname} says a {_t(qtype)} record exists")
            if dns.rdatatype.CNAME in types:
                return Proof(False, f"the NSEC at {qname} says it is an alias (CNAME)")
            if qtype == dns.rdatatype.DS:
                if dns.rdatatype.SOA in types and qname != zone:
                    return Proof(False, f"the NSEC for {qname} comes from the child zone, not the parent")
                return Proof(True, f"NSEC at {qname} in {zone} shows no DS (an unsigned delegation)", kind="nodata")
            return Proof(True, f"NSEC at {qname} shows no {_t(qtype)} record", kind="nodata")
    cover = next(((o, rd) for o, rd in nsecs if _covers(o, rd.next, qname, zone)), None)
    if cover is None:
        return Proof(False, f"no NSEC record covers {qname}")
    owner, rd = cover
    if rd.next.is_subdomain(qname) and rd.next != qname:
        return Proof(True, f"{qname} is an empty non-terminal (NSEC {owner} -> {rd.next})", kind="nodata")
    encloser = max(_common(qname, owner), _common(qname, rd.next), key=len)
    if not encloser.is_subdomain(zone):
        encloser = zone
    wildcard = _wild(encloser)
    for o, wrd in nsecs:
        if o == wildcard:
            types = _types(wrd)
            if qtype in types or dns.rdatatype.CNAME in types:
                return Proof(False, f"the wildcard {wildcard} exists, so {qname} should have been synthesised")
            return Proof(True, f"NSEC shows {qname} does not exist and the wildcard {wildcard} has no {_t(qtype)}",
                         kind="nodata")
    if not any(_covers(o, wrd.next, wildcard, zone) for o, wrd in nsecs):
        return Proof(False, f"no NSEC record proves the wildcard {wildcard} absent")
    return Proof(True, f"NSEC {owner} -> {rd.next} shows {qname} does not exist, and no wildcard {wildcard}",
                 kind="nxdomain")


def nsec_wildcard_answer(records: list[dns.rrset.RRset], qname: dns.name.Name, zone: dns.name.Name) -> Proof:
    """A wildcard-synthesised answer is only genuine if qname itself does not exist."""
    for r in records:
        if r.rdtype == dns.rdatatype.NSEC:
            for rd in r:
                if _covers(r.name, rd.next, qname, zone):
                    return Proof(True, f"NSEC {r.name} -> {rd.next} shows {qname} exists only through a wildcard")
    return Proof(False, f"wildcard answer for {qname} without an NSEC proving the name itself absent")


# ---------------------------------------------------------------------------------- NSEC3


class _Nsec3:
    def __init__(self, records: list[dns.rrset.RRset], zone: dns.name.Name) -> None:
        self.zone = zone
        self.entries: list[tuple[str, str, object]] = []  # (owner hash, next hash, rdata)
        self.params: tuple[int, bytes, int] | None = None
        self.unknown_hash = False
        algorithms = dnssec_tables.nsec3_limits()["validator"]["hash_algorithms"]
        for r in records:
            if r.rdtype != dns.rdatatype.NSEC3 or r.name.parent() != zone:
                continue
            for rd in r:
                if rd.algorithm not in algorithms:
                    self.unknown_hash = True
                    continue
                self.params = self.params or (rd.algorithm, rd.salt, rd.iterations)
                nxt = base64.b32hexencode(rd.next).decode().rstrip("=").lower()
                self.entries.append((r.name.labels[0].decode().lower(), nxt, rd))

    def hash(self, name: dns.name.Name) -> str:
        algorithm, salt, iterations = self.params
        return dns.dnssec.nsec3_hash(name, salt, iterations, algorithm).lower()

    def match(self, name: dns.name.Name):
        h = self.hash(name)
        return next((rd for owner, _, rd in self.entries if owner == h), None)

    def cover(self, name: dns.name.Name):
        h = self.hash(name)
        for owner, nxt, rd in self.entries:
            if (owner < nxt and owner < h < nxt) or (owner >= nxt and (h > owner or h < nxt)):
                return rd
        return None

    def closest_encloser(self, qname: dns.name.Name):
        """RFC 5155 §8.3: (closest encloser, next closer name, the NSEC3 covering it) or None."""
        candidate, nearer = qname, None
        while candidate.is_subdomain(self.zone):
            if self.match(candidate) is not None:
                if nearer is None:
                    return candidate, None, None
                cover = self.cover(nearer)
                return (candidate, nearer, cover) if cover is not None else None
            if candidate == self.zone:
                break
            nearer, candidate = candidate, candidate.parent()
        return None


def _nsec3_unusable(n3: _Nsec3) -> Proof | None:
    if n3.params is None:
        if n3.unknown_hash:
            return Proof(True, "NSEC3 with an unknown hash algorithm (RFC 5155 §8.1)", insecure=True, kind="limit")
        return Proof(False, "no NSEC3 records for the zone")
    limit = dnssec_tables.nsec3_limits()["validator"]["insecure_above_iterations"]
    if n3.params[2] > limit:
        return Proof(True, f"NSEC3 uses {n3.params[2]} iterations, above the {limit} validators accept "
                           "(RFC 9276 §3.2)", insecure=True, kind="limit")
    return None


def nsec3_proof(records: list[dns.rrset.RRset], qname: dns.name.Name, qtype: int,
                zone: dns.name.Name) -> Proof:
    """Prove NODATA or NXDOMAIN for (qname, qtype) from the zone's NSEC3 records (RFC 5155 §8.4-8.7)."""
    n3 = _Nsec3(records, zone)
    unusable = _nsec3_unusable(n3)
    if unusable is not None:
        return unusable
    match = n3.match(qname)
    if match is not None:
        types = _types(match)
        if qtype in types:
            return Proof(False, f"the NSEC3 for {qname} says a {_t(qtype)} record exists")
        if dns.rdatatype.CNAME in types:
            return Proof(False, f"the NSEC3 for {qname} says it is an alias (CNAME)")
        if qtype == dns.rdatatype.DS and dns.rdatatype.SOA in types and qname != zone:
            return Proof(False, f"the NSEC3 for {qname} comes from the child zone, not the parent")
        what = "no DS (an unsigned delegation)" if qtype == dns.rdatatype.DS else f"no {_t(qtype)} record"
        return Proof(True, f"NSEC3 matching {qname} shows {what}", kind="nodata")
    found = n3.closest_encloser(qname)
    if found is None or found[1] is None:
        return Proof(False, f"no NSEC3 closest-encloser proof for {qname}")
    encloser, nearer, cover = found
    if qtype == dns.rdatatype.DS and cover.flags & NSEC3_OPT_OUT:
        return Proof(True, f"an opt-out NSEC3 span covers {nearer}: an unsigned delegation may exist there "
                           "(RFC 5155 §8.6)", insecure=True, kind="optout")
    wildcard = _wild(encloser)
    wild = n3.match(wildcard)
    if wild is not None:
        types = _types(wild)
        if qtype in types or dns.rdatatype.CNAME in types:
            return Proof(False, f"the wildcard {wildcard} exists, so {qname} should have been synthesised")
        return Proof(True, f"NSEC3 shows {qname} does not exist and the wildcard {wildcard} has no {_t(qtype)}",
                     kind="nodata")
    if n3.cover(wildcard) is None:
        return Proof(False, f"no NSEC3 proves the wildcard {wildcard} absent")
    if cover.flags & NSEC3_OPT_OUT:
        return Proof(True, f"{qname} falls in an opt-out NSEC3 span: an unsigned delegation may exist there",
                     insecure=True, kind="optout")
    return Proof(True, f"NSEC3 shows {qname} does not exist (closest encloser {encloser}, no wildcard)",
                 kind="nxdomain")


def nsec3_wildcard_answer(records: list[dns.rrset.RRset], qname: dns.name.Name, labels: int,
                          zone: dns.name.Name) -> Proof:
    """RFC 5155 §8.8: the next closer name of the wildcard's encloser must be covered."""
    n3 = _Nsec3(records, zone)
    unusable = _nsec3_unusable(n3)
    if unusable is not None:
        return unusable
    nearer = dns.name.Name(qname.labels[len(qname.labels) - labels - 2:])
    cover = n3.cover(nearer)
    if cover is None:
        return Proof(False, f"wildcard answer for {qname} without an NSEC3 covering {nearer}")
    return Proof(True, f"NSEC3 covering {nearer} shows {qname} exists only through a wildcard",
                 insecure=bool(cover.flags & NSEC3_OPT_OUT))


def denial_proof(records: list[dns.rrset.RRset], qname: dns.name.Name, qtype: int,
                 zone: dns.name.Name) -> Proof:
    """NSEC3 if the zone sent NSEC3 records, else NSEC."""
    if any(r.rdtype == dns.rdatatype.NSEC3 for r in records):
        return nsec3_proof(records, qname, qtype, zone)
    return nsec_proof(records, qname, qtype, zone)


def wildcard_proof(records: list[dns.rrset.RRset], qname: dns.name.Name, labels: int,
                   zone: dns.name.Name) -> Proof:
    if any(r.rdtype == dns.rdatatype.NSEC3 for r in records):
        return nsec3_wildcard_answer(records, qname, labels, zone)
    return nsec_wildcard_answer(records, qname, zone)
