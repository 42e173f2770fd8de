"""DNSSEC validation: answers checked along the chain of trust from configured anchors.

dnspython verifies signatures; deciding which keys to trust is ours. From the closest
anchor (the root's KSK-2017 and KSK-2024, plus any `--trust-anchor`) the walk goes DS ->
DNSKEY zone cut by zone cut down to the zone that signed the answer. A delegation
without DS makes everything below it insecure; a signature that fails makes it bogus.
This first cut trusts a missing DS without an NSEC/NSEC3 proof; denial proofs, RFC 8624
algorithm handling and the hygiene checks come with the DNS pillar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import dns.dnssec
import dns.exception
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zonefile

from scanner.model import InputError
from scanner.probes.resolver import Lookup, Resolver

ROOT_ANCHORS = Path(__file__).resolve().parent.parent / "data" / "root-anchors.txt"


@dataclass
class TrustAnchors:
    """DS and DNSKEY anchors per zone (unbound's trust-anchor-file format: zone-file lines)."""

    ds: dict[dns.name.Name, list] = field(default_factory=dict)
    keys: dict[dns.name.Name, list] = field(default_factory=dict)

    @classmethod
    def load(cls, files: list[Path], include_root: bool = True) -> TrustAnchors:
        anchors = cls()
        for path in ([ROOT_ANCHORS] if include_root else []) + list(files):
            try:
                text = Path(path).read_text(encoding="utf-8")
                rrsets = dns.zonefile.read_rrsets(text, rdclass=None, default_ttl=0)
            except OSError as exc:
                raise InputError(str(path), f"cannot read trust anchor file: {exc.strerror or exc}") from None
            except dns.exception.DNSException as exc:
                raise InputError(str(path), f"not a trust anchor file (zone-file DS/DNSKEY lines): {exc}") from None
            for rrset in rrsets:
                if rrset.rdtype == dns.rdatatype.DS:
                    anchors.ds.setdefault(rrset.name, []).extend(rrset)
                elif rrset.rdtype == dns.rdatatype.DNSKEY:
                    anchors.keys.setdefault(rrset.name, []).extend(rrset)
                else:
                    raise InputError(str(path), f"{rrset.name}: only DS and DNSKEY records belong in a trust anchor file")
        return anchors

    def zones(self) -> set[dns.name.Name]:
        return set(self.ds) | set(self.keys)

    def closest(self, name: dns.name.Name) -> dns.name.Name | None:
        best = None
        for zone in self.zones():
            if name.is_subdomain(zone) and (best is None or len(zone) > len(best)):
                best = zone
        return best


def key_matches_anchor(zone: dns.name.Name, key, anchors: TrustAnchors) -> bool:
    if any(key == k for k in anchors.keys.get(zone, [])):
        return True
    return any(_ds_matches(zone, key, ds) for ds in anchors.ds.get(zone, []))


@dataclass
class ZoneTrust:
    """What the chain walk concluded about one zone."""

    status: str  # secure | insecure | bogus
    keys: dns.rrset.RRset | None = None
    reason: str = ""


class Validator:
    """Walks DS -> DNSKEY from a trust anchor down to the zone that signed an answer."""

    def __init__(self, resolver: Resolver, anchors: TrustAnchors, now: datetime) -> None:
        self.resolver, self.anchors, self.now = resolver, anchors, now
        self._zones: dict[dns.name.Name, ZoneTrust] = {}

    def _validate(self, rrset: dns.rrset.RRset, sigs: dns.rrset.RRset | None, zone: dns.name.Name,
                  keys: dns.rrset.RRset | list) -> str | None:
        """None if a signature by `zone` over `rrset` verifies, else why not."""
        if sigs is None:
            return f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)} has no signature"
        try:
            dns.dnssec.validate(rrset, sigs, {zone: keys}, now=self.now.timestamp())
        except dns.dnssec.ValidationFailure as exc:
            return f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)}: {exc}"
        return None

    async def apex(self, name: dns.name.Name) -> dns.name.Name:
        """The zone a name lives in: the SOA owner at or above it."""
        lookup = await self.resolver.lookup(name.to_text(), "SOA")
        if lookup.rrset is not None:
            return name
        if lookup.zone:
            return dns.name.from_text(lookup.zone)
        return name.parent() if name != dns.name.root else name

    async def zone_trust(self, zone: dns.name.Name) -> ZoneTrust:
        if zone not in self._zones:
            self._zones[zone] = await self._zone_trust(zone)
        return self._zones[zone]

    async def _zone_trust(self, zone: dns.name.Name) -> ZoneTrust:
        dnskey = await self.resolver.lookup(zone.to_text(), "DNSKEY")
        if zone in self.anchors.zones():
            if dnskey.rrset is None:
                return ZoneTrust("bogus", reason=f"anchored zone {zone} serves no DNSKEY records")
            anchored = [k for k in dnskey.rrset if key_matches_anchor(zone, k, self.anchors)]
            if not anchored:
                return ZoneTrust("bogus", reason=f"no DNSKEY of {zone} matches its trust anchor")
            why = self._validate(dnskey.rrset, dnskey.rrsigs, zone, anchored)
            return ZoneTrust("bogus", reason=why) if why else ZoneTrust("secure", dnskey.rrset)
        if zone == dns.name.root:
            return ZoneTrust("insecure", reason="no trust anchor for the root")
        parent = await self.apex(zone.parent())
        above = await self.zone_trust(parent)
        if above.status != "secure":
            return above
        ds = await self.resolver.lookup(zone.to_text(), "DS")
        if ds.rrset is None:
            # An unsigned delegation. Proving the DS absent (NSEC/NSEC3) is the chain walk's next step.
            return ZoneTrust("insecure", reason=f"{parent} publishes no DS for {zone}")
        why = self._validate(ds.rrset, ds.rrsigs, parent, above.keys)
        if why:
            return ZoneTrust("bogus", reason=why)
        if dnskey.rrset is None:
            return ZoneTrust("bogus", reason=f"{zone} has a DS at {parent} but serves no DNSKEY")
        matching = [k for k in dnskey.rrset
                    if any(_ds_matches(zone, k, d) for d in ds.rrset)]
        if not matching:
            return ZoneTrust("bogus", reason=f"no DNSKEY of {zone} matches its DS at {parent}")
        why = self._validate(dnskey.rrset, dnskey.rrsigs, zone, matching)
        return ZoneTrust("bogus", reason=why) if why else ZoneTrust("secure", dnskey.rrset)

    async def status(self, lookup: Lookup) -> tuple[str | None, str]:
        """`secure`, `insecure` or `bogus` for one answer (None: could not tell), with the reason."""
        rrsets = list(lookup.cnames)
        if lookup.rrset is not None:
            rrsets.append((lookup.rrset, lookup.rrsigs))
        if not rrsets:
            zone = dns.name.from_text(lookup.zone) if lookup.zone else await self.apex(dns.name.from_text(lookup.name))
            trust = await self.zone_trust(zone)
            if trust.status == "secure":
                return None, f"no {lookup.rdtype} records; proving their absence (NSEC/NSEC3) is not built yet"
            return trust.status, trust.reason
        for rrset, sigs in rrsets:
            zone = sigs[0].signer if sigs is not None else await self.apex(rrset.name)
            if not rrset.name.is_subdomain(zone):
                return "bogus", f"{rrset.name} is signed by {zone}, which is not above it"
            trust = await self.zone_trust(zone)
            if trust.status != "secure":
                return trust.status, trust.reason
            why = self._validate(rrset, sigs, zone, trust.keys)
            if why:
                return "bogus", why
        return "secure", ""


def _ds_matches(zone: dns.name.Name, key, ds) -> bool:
    try:
        return dns.dnssec.make_ds(zone, key, ds.digest_type) == ds
    except (dns.dnssec.UnsupportedAlgorithm, ValueError):
        return False
