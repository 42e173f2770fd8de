"""The DNSSEC chain walk and its denial proofs, against the lab's signed tree (real signatures).

The validator starts from the lab's root anchor (next to the shipped IANA anchors) and
asks the lab resolver, exactly as a scan does. Tampered answers are made by editing
what the resolver returned, so each proof is shown to be needed.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import dns.name
import dns.rdatatype
import pytest

from scanner.probes.dns.validator import TrustAnchors, Validator
from scanner.probes.resolver import Resolver
from scanner.standards import dnssec as dnssec_tables
from scanner.standards.dnssec import algorithm_supported, digest_supported, root_anchors


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def walk(lab):
    """(status, reason) of one lookup, walked from the lab root anchor."""

    def go(name, rdtype, *, now=None, resolver=None, edit=None):
        async def inner():
            res = resolver or Resolver(lab.resolver, timeout=3.0)
            validator = Validator(res, TrustAnchors.load([lab.trust_anchor]), now or _now())
            lookup = await res.lookup(name, rdtype)
            if edit:
                lookup = edit(lookup)
            return await validator.verdict(lookup)

        return run(inner())

    return go


def _now():
    return datetime.now(UTC)


def test_shipped_root_anchors_are_ksk_2017_and_ksk_2024():
    anchors = TrustAnchors.load([])
    tags = sorted(ds.key_tag for ds in anchors.ds[dns.name.root])
    assert tags == [20326, 38696]
    assert "KSK-2024" in root_anchors()


def test_algorithm_table_follows_rfc_8624_and_9905():
    assert algorithm_supported(13) and algorithm_supported(8) and algorithm_supported(15)
    assert not algorithm_supported(5) and not algorithm_supported(7)  # RFC 9905: SHA-1 signatures unsupported
    assert not algorithm_supported(1) and not algorithm_supported(12) and not algorithm_supported(253)
    assert digest_supported(2) and digest_supported(1) and not digest_supported(3)


@pytest.mark.parametrize("name,rdtype,reason", [
    ("mijn.vlaanderen.test", "A", ""),
    ("nergens.vlaanderen.test", "A", "does not exist"),            # NXDOMAIN, NSEC
    ("www.leuven.test", "AAAA", "shows no AAAA"),                   # NODATA, NSEC
    ("nergens.limburg.test", "A", "does not exist"),                # NXDOMAIN, NSEC3
    ("limburg.test", "AAAA", "NSEC3 matching limburg.test"),        # NODATA, NSEC3
    ("iets.wild.torhout.test", "TXT", ""),                           # wildcard answer, NSEC
    ("iets.wild.limburg.test", "TXT", ""),                          # wildcard answer, NSEC3
    ("iets.wild.limburg.test", "A", "the wildcard"),                # wildcard NODATA, NSEC3
    ("iets.wild.torhout.test", "A", "the wildcard"),                 # wildcard NODATA, NSEC
    ("info.genk.test", "A", "verdwenen.genk.test"),                 # CNAME into NXDOMAIN, each link in its zone
    ("www.genk.test", "A", "oud-portaal.azurewebsites.net"),        # CNAME across zones into the lab root's NXDOMAIN
])
def test_secure_answers_and_denials(walk, name, rdtype, reason):
    verdict = walk(name, rdtype)
    assert verdict.status == "secure", verdict.reason
    assert reason in verdict.reason


@pytest.mark.parametrize("name,reason", [
    ("eloket.gent.test", "NSEC at gent.test. in test. shows no DS"),
    ("www.hasselt.limburg.test", "NSEC3 matching hasselt.limburg.test. shows no DS"),
    ("www.haven.antwerpen.test", "opt-out NSEC3 span"),
    ("www.tienen.test", "RSASHA1"),
    ("www.lier.test", "GOST"),
])
def test_insecure_delegations_need_a_reason(walk, name, reason):
    verdict = walk(name, "A")
    assert verdict.status == "insecure"
    assert reason in verdict.reason


def test_broken_signature_is_bogus(walk):
    verdict = walk("www.torhout.test", "A")
    assert verdict.status == "bogus" and "does not verify" in verdict.reason


def test_expired_signatures_are_bogus(walk, lab):
    verdict = walk("www.mechelen.test", "A", now=_now() + timedelta(days=5))
    assert verdict.status == "bogus" and "expired" in verdict.reason


def _without_denial(lookup):
    return dataclasses.replace(lookup, authority=[s for s in lookup.authority if s[0].rdtype == dns.rdatatype.SOA])


def test_a_denial_without_proof_is_bogus(walk):
    verdict = walk("nergens.vlaanderen.test", "A", edit=_without_denial)
    assert verdict.status == "bogus" and "no NSEC or NSEC3" in verdict.reason


def test_nxdomain_with_a_proof_that_the_name_exists_is_bogus(walk, lab):
    async def nodata_proof():
        res = Resolver(lab.resolver, timeout=3.0)
        return await res.lookup("www.leuven.test", "AAAA")

    proof = run(nodata_proof())

    def forge(lookup):  # claim NXDOMAIN for an existing name, with its (genuine) NODATA proof
        return dataclasses.replace(proof, rcode="NXDOMAIN")

    verdict = walk("www.leuven.test", "AAAA", edit=forge)
    assert verdict.status == "bogus" and verdict.reason.startswith("NXDOMAIN for www.leuven.test")


def test_a_wildcard_answer_without_proof_is_bogus(walk):
    verdict = walk("iets.wild.limburg.test", "TXT", edit=_without_denial)
    assert verdict.status == "bogus" and "wildcard" in verdict.reason


class StrippingResolver(Resolver):
    """A resolver on the path that drops the parent's NSEC proof from DS answers (a downgrade)."""

    async def lookup(self, name, rdtype):
        lookup = await super().lookup(name, rdtype)
        return _without_denial(lookup) if rdtype == "DS" else lookup


def test_a_missing_ds_without_proof_is_bogus_not_insecure(walk, lab):
    verdict = walk("eloket.gent.test", "A", resolver=StrippingResolver(lab.resolver, timeout=3.0))
    assert verdict.status == "bogus"
    assert "publishes no DS for gent.test. and does not prove it" in verdict.reason


class UnsignedResolver(Resolver):
    """A resolver that drops every RRSIG (some home routers and old forwarders do)."""

    async def lookup(self, name, rdtype):
        lookup = await super().lookup(name, rdtype)
        return dataclasses.replace(lookup, rrsigs=None)


def test_a_resolver_that_strips_signatures_means_not_measured_not_bogus(walk, lab):
    verdict = walk("mijn.vlaanderen.test", "A", resolver=UnsignedResolver(lab.resolver, timeout=3.0))
    assert verdict.status is None and "strip" in verdict.reason


def test_an_anchor_with_an_unsupported_algorithm_makes_everything_insecure(lab, tmp_path):
    anchor = tmp_path / "sha1-anchor.txt"
    anchor.write_text(". IN DS 12345 5 2 " + "ab" * 32 + "\n")

    async def inner():
        res = Resolver(lab.resolver, timeout=3.0)
        validator = Validator(res, TrustAnchors.load([anchor], include_root=False), _now())
        return await validator.verdict(await res.lookup("mijn.vlaanderen.test", "A"))

    verdict = run(inner())
    assert verdict.status == "insecure" and "RSASHA1" in verdict.reason


def test_nsec3_iterations_above_the_validator_limit_are_insecure(walk, monkeypatch):
    limits = {"signer": {"max_iterations": 0, "salt": False},
              "validator": {"insecure_above_iterations": 5, "hash_algorithms": [1]}}
    monkeypatch.setattr(dnssec_tables, "nsec3_limits", lambda: limits)
    verdict = walk("nergens.antwerpen.test", "A")  # antwerpen.test uses 10 iterations
    assert verdict.status == "insecure" and "RFC 9276" in verdict.reason


def test_trusting_the_resolvers_ad_bit_is_reported_as_such(walk, lab):
    resolver = Resolver(lab.resolver, timeout=3.0, trust_ad=True)
    verdict = walk("mijn.vlaanderen.test", "A", resolver=resolver)
    assert verdict.status == "secure" and verdict.source.startswith("resolver-ad ")
    unsigned = walk("eloket.gent.test", "A", resolver=Resolver(lab.resolver, timeout=3.0, trust_ad=True))
    assert unsigned.status == "insecure" and unsigned.source == "bolwerk"  # no AD: walked here


class CountingResolver(Resolver):
    """Records every question the validator asks."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.asked: list[tuple[str, str]] = []

    async def lookup(self, name, rdtype):
        self.asked.append((str(name), rdtype))
        return await super().lookup(name, rdtype)


def test_zone_trust_is_walked_once_per_zone(lab):
    """Two answers from one zone: the DS/DNSKEY chain is fetched once."""

    async def inner():
        res = CountingResolver(lab.resolver, timeout=3.0)
        validator = Validator(res, TrustAnchors.load([lab.trust_anchor]), _now())
        answers = [await res.lookup(name, "A") for name in ("belastingen.vlaanderen.test", "archief.vlaanderen.test")]
        res.asked.clear()
        await asyncio.gather(*(validator.verdict(a) for a in answers))
        return [q for q in res.asked if q[1] in ("DS", "DNSKEY")]

    chain = run(inner())
    assert chain and len(chain) == len(set(chain))


def _with_junk_signatures(count):
    """The answer's RRSIGs preceded by `count` forged ones naming the same key (right tag, right
    dates, signature bytes that verify nothing): the work a KeyTrap-style zone asks for."""
    import dns.rrset

    def edit(lookup):
        real = list(lookup.rrsigs)
        junk = [r.replace(signature=bytes([n]) * len(r.signature)) for n in range(count) for r in real[:1]]
        sigs = dns.rrset.from_rdata_list(lookup.rrsigs.name, lookup.rrsigs.ttl, junk + real)
        return dataclasses.replace(lookup, rrsigs=sigs)

    return edit


def test_forged_signatures_cannot_buy_unbounded_verification(walk):
    """Up to MAX_SIGNATURES signatures are tried per RRset: a genuine one among the first still
    counts; behind a wall of forged ones the answer is bogus instead of a stalled event loop."""
    from scanner.probes.dns.validator import MAX_SIGNATURES

    near = walk("mijn.vlaanderen.test", "A", edit=_with_junk_signatures(MAX_SIGNATURES - 1))
    assert near.status == "secure", near.reason
    far = walk("mijn.vlaanderen.test", "A", edit=_with_junk_signatures(200))
    assert far.status == "bogus" and "does not verify" in far.reason


def test_keys_sharing_one_tag_are_tried_a_bounded_number_of_times():
    """Key tags are a 16-bit checksum: keys whose 16-bit words are permuted share one tag."""
    import itertools

    import dns.dnssec
    import dns.rdata
    import dns.rdataclass
    import dns.rrset

    from scanner.probes.dns.validator import MAX_KEYS_PER_TAG, MAX_SIGNATURES, signature_attempts

    words = [bytes([i, 0x40 + i]) for i in range(5)]
    keys = [dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.DNSKEY, b"\x01\x01\x03\x0d" + b"".join(p), 0, 14)
            for p in itertools.permutations(words)]
    tags = {dns.dnssec.key_id(k) for k in keys}
    assert len(keys) == 120 and len(tags) == 1
    sig = dns.rrset.from_text("a.test.", 60, "IN", "RRSIG",
                              f"A 13 2 60 20300101000000 20200101000000 {tags.pop()} a.test. AAAA")[0]
    now = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
    tried, candidates = signature_attempts([sig] * 100, keys, now)
    assert len(tried) == MAX_SIGNATURES and len(candidates) == MAX_KEYS_PER_TAG
