"""DNS probes: an endpoint host's DNS facts, and a domain's (its zone's delegation and hygiene).

Endpoint (`probe_dns`): addresses, the CNAME chain and where it ends (a dangling alias,
and whether the target's own domain is registered at all), CAA found by climbing the
tree (RFC 8659 §3), the DNSSEC status of the host's answer, and IPv6: AAAA records and
whether the service port answers on each IPv6 address.

Domain (`probe_domain_dns`, called by the mail probe for every domain of a service): the
DNSSEC status of its answer, the zone it lives in with that zone's delegation and DNSSEC
hygiene (`zone.py`, once per zone per run), and its MX hosts' IPv6.

"Not measured" stays honest: an IPv6 address the scanner has no route to is reported as
`reachable: null`, never as unreachable.
"""

from __future__ import annotations

import asyncio
from typing import Any

import dns.name

from scanner.probes.context import ProbeContext
from scanner.probes.deadline import deadline
from scanner.probes.dns.zone import zone_report
from scanner.probes.net import NotListening, ProbeError, Refused, has_route
from scanner.probes.plugin import Probe, Target
from scanner.probes.resolver import MAX_ADDRESSES, Lookup
from scanner.standards.public_suffix import registrable_domain

MAX_MX = 5  # MX hosts looked at per domain, most preferred first (the mail probe takes the same)
MAX_CAA = 20


def mx_hosts(lookup: Lookup) -> list[tuple[int, str]]:
    """(preference, host) of an MX answer, most preferred first; a null MX's host is ""."""
    return sorted((rd.preference, rd.exchange.to_text().rstrip(".").lower()) for rd in lookup.rrset or [])


async def dnssec_of(ctx: ProbeContext, lookup: Lookup) -> dict[str, Any]:
    """{"dnssec": secure|insecure|bogus|None, "dnssec_reason": ..., "dnssec_source": ...} for one answer."""
    verdict = await ctx.validator.verdict(lookup)
    out: dict[str, Any] = {"dnssec": verdict.status, "dnssec_source": verdict.source}
    if verdict.reason:
        out["dnssec_reason"] = verdict.reason
    return out


def _caa_record(rd) -> dict[str, Any]:
    return {"flags": rd.flags, "tag": rd.tag.decode("ascii", "replace"),
            "value": rd.value.decode("utf-8", "replace")[:500]}


def listed(key: str, items: list[str], cap: int) -> dict[str, Any]:
    """A list fact held to `cap` items; `<key>_truncated` counts them all when some were left out."""
    return {key: items[:cap], **({f"{key}_truncated": len(items)} if len(items) > cap else {})}


async def caa_for(ctx: ProbeContext, host: str) -> dict[str, Any]:
    """RFC 8659 §3: the CAA set of the name or its closest ancestor that has one (aliases followed)."""
    labels = host.rstrip(".").split(".")
    for i in range(len(labels)):
        name = ".".join(labels[i:])
        lookup = await ctx.resolver.lookup(name, "CAA")
        if lookup.failed:  # a CA must not issue when the lookup fails (RFC 8659 §3)
            return {"caa": None, "caa_owner": None,
                    "caa_error": lookup.failed_because()}
        if lookup.rrset is not None:
            return {**listed("caa", lookup.texts(), MAX_CAA), "caa_owner": name,
                    "caa_records": [_caa_record(rd) for rd in sorted(lookup.rrset, key=lambda rd: rd.to_text())[:MAX_CAA]]}
    return {"caa": [], "caa_owner": None, "caa_records": []}


async def reachable(ctx: ProbeContext, host: str, ip: str, port: int) -> dict[str, Any]:
    """A TCP connect to ip:port (once per run per address and port): does the service answer there?"""

    async def connect() -> dict[str, Any]:
        out: dict[str, Any] = {"address": ip, "port": port, "reachable": None}
        try:
            ctx.network.check(host, ip, port, "ipv6-reachability")
        except Refused as exc:
            out["detail"] = f"not tried: {exc}"
            return out
        if not has_route(ip):
            out["detail"] = "the scanner has no route to this address (no IPv6 here?): not measured"
            return out
        try:
            async with ctx.network.tcp(host, ip, port, "ipv6-reachability"):
                out["reachable"] = True
        except NotListening:
            out.update(reachable=False, detail=f"connection to port {port} refused")
        except ProbeError as exc:
            out.update(reachable=False, detail=str(exc))
        return out

    # once per address and port the connection really reaches (the lab maps ports per host)
    return await ctx.cached(("tcp-reach", ip, ctx.network.port_map.real(ip, port, host)), connect)


def _reach_summary(results: list[dict[str, Any]]) -> bool | None:
    """False if any address failed, True if all answered, None if some were not measured."""
    values = [r["reachable"] for r in results]
    if False in values:
        return False
    return True if values and all(v is True for v in values) else None


async def _alias_target(ctx: ProbeContext, lookup: Lookup) -> dict[str, Any] | None:
    """Where a CNAME chain ends, and for a target that does not exist, whether its domain does."""
    if not lookup.cnames:
        return None
    target = lookup.canonical.rstrip(".").lower()
    out: dict[str, Any] = {"name": target, "rcode": lookup.rcode}
    if lookup.rcode == "NXDOMAIN":
        domain = registrable_domain(target)
        if domain:
            soa = await ctx.resolver.lookup(domain, "SOA")
            out["domain"] = domain
            out["domain_exists"] = None if soa.failed else soa.rcode != "NXDOMAIN"
    return out


async def probe_dns(ctx: ProbeContext, host: str, port: int | None = None,
                    refused: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    """`refused`: the host's addresses the address policy refused (the runner judged them)."""
    try:
        v4, v6 = await ctx.resolver.address_lookups(host)
        for lookup in (v4, v6):
            if lookup.failed:
                return {"error": lookup.failed_because()}
        answer = v4 if v4.rrset is not None else v6 if v6.rrset is not None else v4
        facts: dict[str, Any] = {
            "rcode": v4.rcode,
            **listed("ipv4", v4.texts(), MAX_ADDRESSES),
            **listed("ipv6", v6.texts(), MAX_ADDRESSES),
            "aaaa": bool(v6.rrset),
            "cname": v4.chain(),
            "cname_target": await _alias_target(ctx, v4),
            "refused_addresses": list(refused),
            "zone": (await ctx.validator.apex(dns.name.from_text(host))).to_text().rstrip(".") or ".",
        }
        facts.update(await caa_for(ctx, host))
        facts.update(await dnssec_of(ctx, answer))
        refused_ips = {r["ip"] for r in refused}
        ipv6 = [ip for ip in facts["ipv6"] if ip not in refused_ips]
        if port is not None and ipv6:
            reach = list(await asyncio.gather(*(reachable(ctx, host, ip, port) for ip in ipv6)))
            facts["ipv6_reach"] = reach
            facts["ipv6_reachable"] = _reach_summary(reach)
        else:
            facts["ipv6_reachable"] = None
    except ProbeError as exc:
        return {"error": str(exc)}
    return facts


async def _mx_host(ctx: ProbeContext, host: str) -> dict[str, Any]:
    if ctx.network.scope is not None:
        ctx.network.scope.add(host)  # a mail domain's MX hosts are implied by the inventory
    v4, v6 = await ctx.resolver.address_lookups(host)
    out: dict[str, Any] = {"host": host, "rcode": v4.rcode if not v4.failed else v6.rcode,
                           **listed("ipv4", v4.texts(), MAX_ADDRESSES), **listed("ipv6", v6.texts(), MAX_ADDRESSES)}
    if v6.failed:  # not measured, not "no AAAA record"
        out["ipv6"], out["ipv6_error"] = None, v6.failed_because()
    if out["ipv6"]:
        ipv6, refused = ctx.network.admit(host, out["ipv6"], 25, "ipv6-reachability")
        if refused:
            out["refused_addresses"] = refused
        out["ipv6_reach"] = list(await asyncio.gather(*(reachable(ctx, host, ip, 25) for ip in ipv6)))
        out["ipv6_reachable"] = _reach_summary(out["ipv6_reach"])
    return out


async def probe_domain_dns(ctx: ProbeContext, domain: str, answer: Lookup) -> dict[str, Any]:
    """DNS facts of a (mail) domain: `answer` is its MX lookup, whose DNSSEC status is judged."""
    facts = await dnssec_of(ctx, answer)
    try:
        async with deadline(ctx.timeout):
            zone = await ctx.validator.apex(dns.name.from_text(domain))
            facts["zone"] = zone.to_text().rstrip(".") or "."
            facts.update(await zone_report(ctx, zone))
            hosts = list(dict.fromkeys(h for _, h in mx_hosts(answer) if h)) if answer.rdtype == "MX" else []
            facts["mx_hosts"] = list(await asyncio.gather(*(_mx_host(ctx, h) for h in hosts[:MAX_MX])))
    except TimeoutError:
        facts["zone_error"] = f"the zone's delegation and DNSSEC facts did not finish within {ctx.timeout:g} s"
    except ProbeError as exc:
        facts["zone_error"] = str(exc)
    return facts


async def collect(ctx: ProbeContext, target: Target) -> dict[str, dict[str, Any]]:
    return {"dns": await probe_dns(ctx, target.name, target.endpoint.port, target.refused)}


# First in the table and without addresses: its facts say why a name gives none.
PROBE = Probe("dns", ("dns",), collect, label="DNS probe", needs_addresses=False)
