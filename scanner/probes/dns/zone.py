"""Facts about one zone, collected once per run: its delegation and its DNSSEC hygiene.

Delegation: the name servers the parent delegates to (asked directly at the parent's
servers, with their glue) and the ones the zone itself lists; for every listed server
and address, whether it answers the zone's SOA authoritatively (lame delegation) and
whether it hands out the zone (AXFR, first message only). The name servers of the
inventory's zones are implied by it, so they join the scan's scope like MX hosts do.

DNSSEC: the chain walk's verdict for the zone, its DNSKEYs and DS records (algorithm,
key size, digest), the RRSIG validity of the apex SOA, NS and DNSKEY sets (expiry
watch), and a denial probe: one question for a name that does not exist, whose proof
shows NSEC or NSEC3 with its parameters (RFC 9276) and must itself validate.
"""

from __future__ import annotations

import asyncio
from typing import Any

import dns.dnssec
import dns.flags
import dns.name
import dns.rdatatype

from scanner.probes.context import ProbeContext
from scanner.probes.dns.query import ask, authoritative_for, transfer_allowed, zone_transfer
from scanner.probes.resolver import MAX_ADDRESSES, Lookup
from scanner.standards.dnssec import algorithm_name, digest_name
from scanner.times import rfc3339_epoch

MAX_SERVERS = 8  # name servers looked at per zone
MAX_PARENT_TRIES = 3
DENIAL_PROBE_LABEL = "bolwerk-denial-probe"
HYGIENE_TYPES = ("SOA", "NS", "DNSKEY")
CURVE_BITS = {13: 256, 14: 384, 15: 256, 16: 456}


def _name(name: dns.name.Name | str) -> str:
    text = name.to_text() if isinstance(name, dns.name.Name) else name
    return text.rstrip(".").lower() or "."


async def zone_report(ctx: ProbeContext, zone: dns.name.Name) -> dict[str, Any]:
    """{"delegation": {...}, "dnssec_zone": {...}} for `zone`, computed once per run."""
    return await ctx.cached(("dns-zone", zone), lambda: _zone_report(ctx, zone))


async def _zone_report(ctx: ProbeContext, zone: dns.name.Name) -> dict[str, Any]:
    delegation, hygiene = await asyncio.gather(_delegation(ctx, zone), _dnssec_zone(ctx, zone))
    return {"delegation": delegation, "dnssec_zone": hygiene}


# ------------------------------------------------------------------------------- delegation


async def _parent_view(ctx: ProbeContext, zone: dns.name.Name) -> tuple[list[str] | None, str, dict[str, list[str]]]:
    """The NS set the parent delegates to, asked at the parent's own servers, and its glue."""
    if zone == dns.name.root:
        return None, "the root has no parent", {}
    parent = await ctx.validator.apex(zone.parent())
    servers = await ctx.resolver.lookup(parent.to_text(), "NS")
    if servers.rrset is None:
        return None, f"the name servers of the parent zone {_name(parent)} could not be found", {}
    tries, shared = 0, False
    for ns in sorted(rd.target for rd in servers.rrset):
        if tries >= MAX_PARENT_TRIES:
            break
        for ip in (await ctx.resolver.addresses(ns.to_text()))[:MAX_PARENT_TRIES - tries]:
            tries += 1
            _scope(ctx, ns)
            reply = await ask(ctx, _name(ns), ip, zone, "NS", purpose="dns-parent")
            if reply.status != "answer":
                continue
            msg = reply.message
            referral = next((r for r in msg.authority if r.rdtype == dns.rdatatype.NS and r.name == zone), None)
            if referral is not None and not msg.flags & dns.flags.AA:
                glue: dict[str, list[str]] = {}
                for r in msg.additional:
                    if r.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                        glue.setdefault(_name(r.name), []).extend(rd.to_text() for rd in r)
                return sorted(_name(rd.target) for rd in referral), f"asked {_name(ns)} ({ip})", glue
            if msg.flags & dns.flags.AA and any(r.rdtype == dns.rdatatype.NS for r in msg.answer):
                shared = True
    if shared:
        return None, f"the parent's name servers also serve {_name(zone)}, so its delegation is not visible apart", {}
    return None, f"no name server of {_name(parent)} gave a referral for {_name(zone)}", {}


def _scope(ctx: ProbeContext, host: dns.name.Name | str) -> None:
    if ctx.network.scope is not None:
        ctx.network.scope.add(_name(host))  # name servers of the inventory's zones are implied by it


async def _server(ctx: ProbeContext, zone: dns.name.Name, name: str, glue: list[str]) -> dict[str, Any]:
    v4, _ = await ctx.resolver.address_lookups(name)
    addresses = await ctx.resolver.addresses(name)
    out: dict[str, Any] = {"name": name, "rcode": v4.rcode, "addresses": addresses or sorted(glue)[:MAX_ADDRESSES],
                           "answers": []}
    if not addresses and glue:
        out["addresses_from"] = "glue"
    _scope(ctx, name)

    async def one(ip: str) -> dict[str, Any]:
        reply = await ask(ctx, name, ip, zone, "SOA", purpose="dns-authority")
        authoritative, detail = authoritative_for(reply, zone)
        answer = {"address": ip, "status": reply.status, "authoritative": authoritative, "detail": detail,
                  "rcode": reply.rcode, "axfr": None}
        if reply.status == "answer":
            transfer = await zone_transfer(ctx, name, ip, zone)
            answer["axfr"] = transfer_allowed(transfer)
            answer["axfr_detail"] = transfer.rcode or transfer.detail
            answer["tcp"] = transfer.status == "answer"
        return answer

    out["answers"] = list(await asyncio.gather(*(one(ip) for ip in out["addresses"])))
    return out


async def _delegation(ctx: ProbeContext, zone: dns.name.Name) -> dict[str, Any]:
    child = await ctx.resolver.lookup(zone.to_text(), "NS")
    parent_ns, note, glue = await _parent_view(ctx, zone)
    out: dict[str, Any] = {
        "parent_ns": parent_ns,
        "parent_note": note,
        "child_ns": sorted(_name(rd.target) for rd in child.rrset) if child.rrset is not None else None,
    }
    if child.failed:
        out["child_error"] = child.failed_because()
    names = sorted(set(out["child_ns"] or []) | set(parent_ns or []))
    if not names:
        out["error"] = "no name servers found for the zone" + (f" ({out['child_error']})" if child.failed else "")
    out["servers"] = list(await asyncio.gather(*(_server(ctx, zone, n, glue.get(n, [])) for n in names[:MAX_SERVERS])))
    out["servers_total"] = len(names)
    return out


# ------------------------------------------------------------------------------- DNSSEC hygiene


def _key_bits(key) -> int | None:
    if key.algorithm in CURVE_BITS:
        return CURVE_BITS[key.algorithm]
    if key.algorithm in (1, 5, 7, 8, 10):  # RSA (RFC 3110): exponent length, exponent, modulus
        data = key.key
        if not data:
            return None
        if data[0] == 0:
            exp_len, offset = int.from_bytes(data[1:3], "big"), 3
        else:
            exp_len, offset = data[0], 1
        return int.from_bytes(data[offset + exp_len:], "big").bit_length()
    return None


def _sigs(lookup: Lookup) -> list[dict[str, Any]]:
    if lookup.rrsigs is None or lookup.rrset is None:
        return []
    return [{"rrset": f"{_name(lookup.rrset.name)} {lookup.rdtype}", "algorithm": s.algorithm, "key_tag": s.key_tag,
             "inception": rfc3339_epoch(s.inception),
             "expiration": rfc3339_epoch(s.expiration)} for s in lookup.rrsigs]


async def _dnssec_zone(ctx: ProbeContext, zone: dns.name.Name) -> dict[str, Any]:
    trust = await ctx.validator.zone_trust(zone)
    dnskey, ds = await asyncio.gather(ctx.resolver.lookup(zone.to_text(), "DNSKEY"),
                                      ctx.resolver.lookup(zone.to_text(), "DS"))
    out: dict[str, Any] = {"status": trust.status, "reason": trust.reason,
                           "signed": dnskey.rrset is not None or ds.rrset is not None}
    if dnskey.failed:
        out["error"] = dnskey.failed_because()
    if not out["signed"]:
        return out
    out["dnskey"] = [{"key_tag": dns.dnssec.key_id(k), "algorithm": k.algorithm, "algorithm_name": algorithm_name(k.algorithm),
                      "flags": k.flags, "sep": bool(k.flags & 0x0001), "key_bits": _key_bits(k)}
                     for k in (dnskey.rrset or [])]
    out["ds"] = [{"key_tag": d.key_tag, "algorithm": d.algorithm, "algorithm_name": algorithm_name(d.algorithm),
                  "digest_type": d.digest_type, "digest_name": digest_name(d.digest_type)} for d in (ds.rrset or [])]
    lookups = await asyncio.gather(*(ctx.resolver.lookup(zone.to_text(), t) for t in HYGIENE_TYPES))
    out["rrsig"] = [sig for lookup in lookups for sig in _sigs(lookup)]
    probe = await ctx.resolver.lookup(dns.name.from_text(DENIAL_PROBE_LABEL, zone).to_text(), "A")
    nsec3 = [rd for r, _ in probe.authority if r.rdtype == dns.rdatatype.NSEC3 for rd in r]
    nsec = any(r.rdtype == dns.rdatatype.NSEC for r, _ in probe.authority)
    out["denial"] = "nsec3" if nsec3 else "nsec" if nsec else None
    if nsec3:
        first = nsec3[0]
        out["nsec3"] = {"algorithm": first.algorithm, "iterations": first.iterations, "salt": first.salt.hex(),
                        "opt_out": any(rd.flags & 0x01 for rd in nsec3)}
    elif not nsec:
        param = await ctx.resolver.lookup(zone.to_text(), "NSEC3PARAM")
        if param.rrset is not None:
            first = param.rrset[0]
            out["denial"] = "nsec3"
            out["nsec3"] = {"algorithm": first.algorithm, "iterations": first.iterations, "salt": first.salt.hex(),
                            "opt_out": None}
    if trust.status == "secure":
        verdict = await ctx.validator.verdict(probe)
        out["denial_proof"] = {"name": probe.name, "rcode": probe.rcode, "status": verdict.status,
                               "reason": verdict.reason}
    return out
