"""DNS probe: a host's addresses, CAA (found by climbing the tree) and DNSSEC status."""

from __future__ import annotations

import asyncio
from typing import Any

from scanner.probes.context import ProbeContext
from scanner.probes.net import ProbeError
from scanner.probes.resolver import Lookup


async def dnssec_of(ctx: ProbeContext, lookup: Lookup) -> dict[str, Any]:
    status, reason = await ctx.validator.status(lookup)
    out: dict[str, Any] = {"dnssec": status}
    if reason:
        out["dnssec_reason"] = reason
    return out


async def caa_for(ctx: ProbeContext, host: str) -> tuple[list[str], str | None]:
    """RFC 8659: the CAA set of the closest ancestor (or the name itself) that has one."""
    labels = host.rstrip(".").split(".")
    for i in range(len(labels) - 1):  # stop above the top-level domain
        name = ".".join(labels[i:])
        lookup = await ctx.resolver.lookup(name, "CAA")
        if lookup.rrset is not None:
            return lookup.texts(), name
    return [], None


async def probe_dns(ctx: ProbeContext, host: str) -> dict[str, Any]:
    try:
        v4, v6 = await asyncio.gather(ctx.resolver.lookup(host, "A"), ctx.resolver.lookup(host, "AAAA"))
        caa, caa_at = await caa_for(ctx, host)
        facts: dict[str, Any] = {
            "rcode": v4.rcode,
            "ipv4": v4.texts(),
            "ipv6": v6.texts(),
            "aaaa": bool(v6.rrset),
            "cname": [rr.to_text() for rrset, _ in v4.cnames for rr in rrset],
            "caa": caa,
            "caa_owner": caa_at,
        }
        facts.update(await dnssec_of(ctx, v4 if v4.rrset is not None else v6))
    except ProbeError as exc:
        return {"error": str(exc)}
    return facts
