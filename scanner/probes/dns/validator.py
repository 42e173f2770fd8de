"""DNSSEC validation: answers checked along the chain of trust from configured anchors.

dnspython verifies signatures; deciding which keys to trust is ours. From the closest
anchor (the root's KSK-2017 and KSK-2024, plus any `--trust-anchor`) the walk goes DS ->
DNSKEY zone cut by zone cut down to the zone that signed the answer, once per zone per
run. Every link of a CNAME chain is validated in its own zone.

- A delegation without DS is *insecure* only when the signed parent proves the DS absent
  (NSEC, or NSEC3 with or without opt-out; `denial.py`); without that
  proof it is *bogus*, since an attacker could simply have stripped the DS.
- NODATA and NXDOMAIN answers in a signed zone need a valid denial proof, and an answer
  synthesised from a wildcard needs proof that the name itself does not exist.
- Algorithms and DS digest types we do not validate (RFC 8624, RFC 9905; the table is
  `scanner/standards/data/dns/algorithms.toml`) make a zone that relies on them alone *insecure*,
  never bogus (RFC 4035 §5.2, RFC 6840 §5.2). So does an NSEC3 iteration count above the
  limit of RFC 9276 §3.2.
- With `trust_ad` the user has named a validating resolver and trusts its AD bit: an
  answer with AD set is reported *secure* on the resolver's word (and says so); others
  are walked here.
"""

from __future__ import annotations

import re
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

from scanner.inputfiles import TRUST_ANCHOR_LIMIT, read_text
from scanner.model import InputError
from scanner.probes.dns.denial import Proof, denial_proof, wildcard_proof
from scanner.probes.memo import Memo
from scanner.probes.resolver import Lookup, Resolver, Signed
from scanner.standards import dnssec as dnssec_tables
from scanner.standards.dnssec import (
    algorithm_name,
    algorithm_supported,
    digest_name,
    digest_supported,
)
from scanner.times import rfc3339_epoch


@dataclass
class TrustAnchors:
    """DS and DNSKEY anchors per zone (unbound's trust-anchor-file format: zone-file lines)."""

    ds: dict[dns.name.Name, list] = field(default_factory=dict)
    keys: dict[dns.name.Name, list] = field(default_factory=dict)

    @classmethod
    def load(cls, files: list[Path], include_root: bool = True) -> TrustAnchors:
        """The root's anchors (a standards table shipped with Bolwerk) plus those in `files`."""
        anchors = cls()
        if include_root:
            anchors._add(dnssec_tables.ROOT_ANCHORS, dnssec_tables.root_anchors())
        for path in files:
            anchors._add(str(path), read_text(path, "trust anchor file", TRUST_ANCHOR_LIMIT))
        return anchors

    def _add(self, source: str, text: str) -> None:
        try:
            rrsets = dns.zonefile.read_rrsets(text, rdclass=None, default_ttl=0)
        except dns.exception.DNSException as exc:
            # dnspython says "<input>:LINE: why", LINE often the one after the mistake: only "why" is kept
            reason = re.sub(r"^<input>:\d+: ", "", str(exc))
            raise InputError(source, f"not a trust anchor file (zone-file DS/DNSKEY lines): {reason}") from None
        if not rrsets:
            raise InputError(source, "no DS or DNSKEY record in this trust anchor file")
        for rrset in rrsets:
            if rrset.rdtype == dns.rdatatype.DS:
                self.ds.setdefault(rrset.name, []).extend(rrset)
            elif rrset.rdtype == dns.rdatatype.DNSKEY:
                self.keys.setdefault(rrset.name, []).extend(rrset)
            else:
                raise InputError(source, f"{rrset.name}: only DS and DNSKEY records belong in a trust anchor file")

    def zones(self) -> set[dns.name.Name]:
        return set(self.ds) | set(self.keys)


@dataclass
class ZoneTrust:
    """What the chain walk concluded about one zone."""

    status: str | None  # secure | insecure | bogus; None: could not tell (the resolver failed)
    keys: dns.rrset.RRset | None = None
    reason: str = ""


@dataclass(frozen=True)
class Verdict:
    """DNSSEC status of one answer, why, and who decided (`bolwerk` or the resolver's AD bit)."""

    status: str | None
    reason: str = ""
    source: str = "bolwerk"


_ORDER = {"bogus": 0, None: 1, "insecure": 2, "secure": 3}
# Verification work per RRset (KeyTrap, CVE-2023-50387): a zone can serve many signatures and
# many keys sharing one key tag, and every pair is a public-key operation that no asyncio
# deadline interrupts. A real zone has one or two signatures per RRset, and one key per tag.
MAX_SIGNATURES = 8
MAX_KEYS_PER_TAG = 4


def signature_attempts(sigs: list, keys: list, now: float) -> tuple[list, list]:
    """The RRSIGs and DNSKEYs worth verifying, bounded: at most MAX_SIGNATURES current signatures
    that name one of `keys`, and at most MAX_KEYS_PER_TAG keys for each tag they name."""
    by_tag: dict[int, list] = {}
    for key in keys:
        by_tag.setdefault(dns.dnssec.key_id(key), []).append(key)
    tried = [s for s in sigs if s.key_tag in by_tag and s.inception <= now <= s.expiration][:MAX_SIGNATURES]
    candidates = [k for tag in dict.fromkeys(s.key_tag for s in tried) for k in by_tag[tag][:MAX_KEYS_PER_TAG]]
    return tried, candidates


def _weakest(a: Verdict, b: Verdict) -> Verdict:
    return a if _ORDER[a.status] <= _ORDER[b.status] else b


def _t(rdtype: int) -> str:
    return dns.rdatatype.to_text(rdtype)


class Validator:
    """Walks DS -> DNSKEY from a trust anchor down to the zone that signed an answer."""

    def __init__(self, resolver: Resolver, anchors: TrustAnchors, now: datetime) -> None:
        self.resolver, self.anchors, self.now = resolver, anchors, now
        self._zones = Memo(4096)  # a zone's trust, once per run (zones are few beside endpoints)

    # -- signatures ------------------------------------------------------------------------

    def check_signature(self, rrset: dns.rrset.RRset, sigs: dns.rrset.RRset | None, zone: dns.name.Name,
                        keys) -> str | None:
        """None if a signature by `zone` with one of `keys` verifies over `rrset`, else why not."""
        what = f"{rrset.name} {_t(rrset.rdtype)}"
        if sigs is None or not len(sigs):
            return f"{what} has no signature"
        mine = [s for s in sigs if s.signer == zone]
        if not mine:
            return f"{what} is signed by {sigs[0].signer}, not by its zone {zone}"
        usable = [k for k in keys if algorithm_supported(k.algorithm)]
        now = self.now.timestamp()
        tried, candidates = signature_attempts(mine, usable, now)
        if tried:
            try:
                # Which algorithms count is our table's call (RFC 8624/9905), not dnspython's default policy.
                dns.dnssec.validate(rrset, dns.rrset.from_rdata_list(sigs.name, sigs.ttl, tried), {zone: candidates},
                                    now=now, policy=dns.dnssec.allow_all_policy)
                return None
            except dns.dnssec.ValidationFailure:
                pass
        tags = {dns.dnssec.key_id(k) for k in usable}
        if all(s.expiration < now for s in mine):
            return f"{what}: the signature expired on {rfc3339_epoch(max(s.expiration for s in mine))}"
        if all(s.inception > now for s in mine):
            return f"{what}: the signature is not valid before {rfc3339_epoch(min(s.inception for s in mine))}"
        if not any(s.key_tag in tags for s in mine):
            return f"{what}: signed with key tag {mine[0].key_tag}, which is not a trusted DNSKEY of {zone}"
        return f"{what}: the signature does not verify"

    def _signed_ok(self, signed: Signed, zone: dns.name.Name, keys) -> str | None:
        return self.check_signature(signed[0], signed[1], zone, keys)

    # -- zones -----------------------------------------------------------------------------

    async def apex(self, name: dns.name.Name) -> dns.name.Name:
        """The zone a name lives in: the SOA owner at or above it (the name itself if that cannot be told)."""
        lookup = await self.resolver.lookup(name.to_text(), "SOA")
        if lookup.cnames and name != dns.name.root:  # an alias is never a zone apex: its zone is above it
            return await self.apex(name.parent())
        if lookup.rrset is not None or lookup.failed:  # a failed lookup: take the name as its own zone
            return name
        if lookup.zone:
            zone = dns.name.from_text(lookup.zone)
            if name.is_subdomain(zone):
                return zone
        return name.parent() if name != dns.name.root else name

    async def zone_trust(self, zone: dns.name.Name) -> ZoneTrust:
        return await self._zones.get(zone, lambda: self._zone_trust(zone))

    async def _keys_from(self, zone: dns.name.Name, ds: list, dnskey: Lookup, source: str) -> ZoneTrust:
        """Trust the DNSKEY set of `zone` through DS records (from the parent or an anchor): `source`."""
        usable = [d for d in ds if algorithm_supported(d.algorithm) and digest_supported(d.digest_type)]
        if not usable:
            what = ", ".join(sorted({f"{algorithm_name(d.algorithm)} with {digest_name(d.digest_type)}" for d in ds}))
            return ZoneTrust("insecure", reason=f"{source} for {zone} uses only {what}, which validators treat "
                                                "as unsupported (RFC 8624, RFC 9905)")
        if dnskey.failed:  # the resolver failed, not necessarily the zone: not measured
            return ZoneTrust(None, reason=f"{zone} has {source}, but {dnskey.failed_because()}")
        if dnskey.rrset is None:
            return ZoneTrust("bogus", reason=f"{zone} has {source} but serves no DNSKEY records")
        matching = [k for k in dnskey.rrset if any(_ds_matches(zone, k, d) for d in usable)]
        if not matching:
            return ZoneTrust("bogus", reason=f"no DNSKEY of {zone} matches {source}")
        why = self.check_signature(dnskey.rrset, dnskey.rrsigs, zone, matching)
        return ZoneTrust("bogus", reason=why) if why else ZoneTrust("secure", dnskey.rrset)

    async def _zone_trust(self, zone: dns.name.Name) -> ZoneTrust:
        dnskey = await self.resolver.lookup(zone.to_text(), "DNSKEY")
        if zone in self.anchors.zones():
            if dnskey.rrset is not None and dnskey.rrsigs is None:
                return ZoneTrust(None, reason=f"the resolver {self.resolver.server} returns {zone} DNSKEY without "
                                              "signatures (does it strip DNSSEC records?): DNSSEC not measured")
            keyed = [k for k in (dnskey.rrset or []) if any(k == a for a in self.anchors.keys.get(zone, []))]
            if keyed:
                why = self.check_signature(dnskey.rrset, dnskey.rrsigs, zone, keyed)
                return ZoneTrust("bogus", reason=why) if why else ZoneTrust("secure", dnskey.rrset)
            if not self.anchors.ds.get(zone):
                return ZoneTrust("bogus", reason=f"no DNSKEY of {zone} matches its trust anchor")
            return await self._keys_from(zone, self.anchors.ds[zone], dnskey, "its trust anchor")
        if zone == dns.name.root:
            return ZoneTrust("insecure", reason="no trust anchor for the root")
        parent = await self.apex(zone.parent())
        above = await self.zone_trust(parent)
        if above.status != "secure":
            return ZoneTrust(above.status, reason=above.reason)
        ds = await self.resolver.lookup(zone.to_text(), "DS")
        if ds.failed:
            return ZoneTrust(None, reason=ds.failed_because())
        if ds.rrset is None:
            verdict = await self._absent(ds, zone, dns.rdatatype.DS, parent, above.keys)
            if verdict.status == "bogus":
                return ZoneTrust("bogus", reason=f"{parent} publishes no DS for {zone} and does not prove it: "
                                                 f"{verdict.reason}")
            return ZoneTrust("insecure", reason=f"{parent} proves there is no DS for {zone}: {verdict.reason}")
        why = self.check_signature(ds.rrset, ds.rrsigs, parent, above.keys)
        if why:
            return ZoneTrust("bogus", reason=why)
        return await self._keys_from(zone, list(ds.rrset), dnskey, f"its DS at {parent}")

    # -- answers ---------------------------------------------------------------------------

    async def _absent(self, lookup: Lookup, qname: dns.name.Name, qtype: int, zone: dns.name.Name,
                      keys) -> Verdict:
        """Validate the denial records of `lookup` with `zone`'s keys and check what they prove."""
        records = []
        for signed in lookup.authority:
            rrset = signed[0]
            if rrset.rdtype == dns.rdatatype.SOA or not rrset.name.is_subdomain(zone):
                continue
            why = self._signed_ok(signed, zone, keys)
            if why:
                return Verdict("bogus", why)
            records.append(rrset)
        if not records:
            return Verdict("bogus", f"no NSEC or NSEC3 records from {zone} prove that {qname} has no {_t(qtype)}")
        proof: Proof = denial_proof(records, qname, qtype, zone)
        if not proof.ok:
            return Verdict("bogus", proof.reason)
        if lookup.rcode == "NXDOMAIN" and proof.kind == "nodata":
            return Verdict("bogus", f"NXDOMAIN for {qname}, but {proof.reason}")
        return Verdict("insecure" if proof.insecure else "secure", proof.reason)

    async def _link(self, signed: Signed, lookup: Lookup) -> Verdict:
        """One RRset of an answer (a CNAME link or the final data), validated in its own zone."""
        rrset, sigs = signed
        if sigs is None and rrset.rdtype == dns.rdatatype.CNAME:
            for dname in lookup.dnames:  # a CNAME synthesised from a DNAME carries no signature
                if rrset.name.is_subdomain(dname[0].name) and rrset.name != dname[0].name:
                    rrset, sigs = dname
                    break
        zone = sigs[0].signer if sigs is not None and len(sigs) else await self.apex(rrset.name)
        if not rrset.name.is_subdomain(zone):
            return Verdict("bogus", f"{rrset.name} is signed by {zone}, which is not above it")
        trust = await self.zone_trust(zone)
        if trust.status != "secure":
            return Verdict(trust.status, trust.reason)
        why = self.check_signature(rrset, sigs, zone, trust.keys)
        if why:
            return Verdict("bogus", why)
        labels = min(s.labels for s in sigs)
        owner_labels = len(rrset.name) - 1 - (1 if rrset.name.is_wild() else 0)
        if labels < owner_labels:  # synthesised from a wildcard: the name itself must not exist
            records = []
            for denial in lookup.authority:
                if denial[0].rdtype != dns.rdatatype.SOA and denial[0].name.is_subdomain(zone):
                    bad = self._signed_ok(denial, zone, trust.keys)
                    if bad:
                        return Verdict("bogus", bad)
                    records.append(denial[0])
            proof = wildcard_proof(records, rrset.name, labels, zone)
            if not proof.ok:
                return Verdict("bogus", proof.reason)
            if proof.insecure:
                return Verdict("insecure", proof.reason)
        return Verdict("secure")

    async def verdict(self, lookup: Lookup) -> Verdict:
        """`secure`, `insecure` or `bogus` for one answer (None: could not tell), with the reason."""
        if lookup.failed:
            return Verdict(None, lookup.failed_because())
        if self.resolver.trust_ad and lookup.ad and not lookup.cd_retry:
            return Verdict("secure", f"the validating resolver {self.resolver.server} set the AD bit",
                           source=f"resolver-ad {self.resolver.server}")
        result = Verdict("secure")
        links = list(lookup.cnames)
        if lookup.rrset is not None:
            links.append((lookup.rrset, lookup.rrsigs))
        for signed in links:
            result = _weakest(result, await self._link(signed, lookup))
            if result.status == "bogus":
                return result
        if lookup.rrset is None:  # NODATA or NXDOMAIN for the last name of the chain
            qname = dns.name.from_text(lookup.canonical or lookup.name)
            zone = dns.name.from_text(lookup.zone) if lookup.zone else await self.apex(qname)
            if not qname.is_subdomain(zone):
                return Verdict("bogus", f"the denial for {qname} comes from {zone}, which is not above it")
            trust = await self.zone_trust(zone)
            if trust.status != "secure":
                denial = Verdict(trust.status, trust.reason)
            else:
                denial = await self._absent(lookup, qname, dns.rdatatype.from_text(lookup.rdtype), zone, trust.keys)
            result = _weakest(denial, result)
        if lookup.cd_retry:
            result = Verdict(result.status, f"{result.reason} (the resolver {self.resolver.server} answered SERVFAIL "
                                            "until asked with checking disabled)".strip())
        return result


def _ds_matches(zone: dns.name.Name, key, ds) -> bool:
    try:
        return dns.dnssec.make_ds(zone, key, ds.digest_type, policy=dns.dnssec.allow_all_policy, validating=True) == ds
    except (dns.dnssec.UnsupportedAlgorithm, dns.dnssec.DeniedByPolicy, ValueError):
        return False
