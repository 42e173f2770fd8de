"""TLS probe: protocol versions, cipher suites, groups and key exchange of one endpoint, then
(part two, `examine`) how it behaves and which known attacks work on it.

Each address is enumerated on raw sockets (`enumeration`), cached per ip:port for the run,
then merged into one fact set per endpoint (contract v1 plus details the checks use).
A probe that cannot measure returns a dict with `error`; nothing raises past here.
"""

from __future__ import annotations

import asyncio
from typing import Any

from scanner.probes.context import ProbeContext
from scanner.probes.deadline import deadline
from scanner.probes.net import ProbeError
from scanner.probes.plugin import Probe, Target
from scanner.probes.tls.enumeration import AddressScan, ScanAborted
from scanner.probes.tls.examine import examine, merge_examined, worst
from scanner.probes.tls.wire import server_name
from scanner.standards.tls_registry import PROTOCOLS

__all__ = ["PROBE", "PROTOCOLS", "probe_tls", "probe_address", "merge"]


async def probe_address(ctx: ProbeContext, host: str, ip: str, port: int,
                        scan_class: type[AddressScan] = AddressScan) -> dict[str, Any]:
    """Facts for one ip:port, or {"error": ...}; bounded by the context's overall deadline.

    Part two (behaviour and attacks, `examine`) shares that deadline: when it runs out or a
    test breaks, the enumeration's facts stand and the unfinished tests stay null.
    """
    scan = scan_class(ctx, host, ip, port, server_name(host))
    enumerated = False
    try:
        async with deadline(ctx.timeout):
            await scan.run()
            enumerated = True
            await _examine(scan)
    except TimeoutError:
        if not enumerated:
            return {"error": f"TLS probe did not finish within {ctx.timeout:g} s", "connections": scan.connections}
        scan.note(f"behaviour and attack tests did not finish within {ctx.timeout:g} s")
    except (ScanAborted, ProbeError) as exc:
        return {"error": str(exc), "connections": scan.connections}
    except Exception as exc:  # a parser bug must not crash the run; report it as not measured
        return {"error": f"TLS probe failed: {type(exc).__name__}: {exc}", "connections": scan.connections}
    return scan.facts()


async def _examine(scan: AddressScan) -> None:
    """Part two; what stops it (the connection cap, a bug in one test) leaves part one standing."""
    try:
        await examine(scan)
    except ScanAborted as exc:
        scan.note(f"behaviour and attack tests stopped: {exc}")
    except Exception as exc:
        scan.note(f"behaviour and attack tests failed: {type(exc).__name__}: {exc}")


async def probe_tls(ctx: ProbeContext, host: str, addresses: list[str], port: int) -> dict[str, Any]:
    """Facts for one endpoint: every address probed (cached per ip:port), then merged."""

    async def one(ip: str) -> dict[str, Any]:
        return await ctx.cached(("tls", ip, port), lambda: probe_address(ctx, host, ip, port))

    results = await asyncio.gather(*(one(ip) for ip in addresses))
    return merge(dict(zip(addresses, results, strict=True)))


def _union(lists) -> list:
    out: list = []
    for items in lists:
        out.extend(i for i in items if i not in out)
    return out


def merge(per_address: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One view of several addresses: offered if any address offers it (the worst case counts)."""
    good = {ip: f for ip, f in per_address.items() if "error" not in f}
    connections = sum(f.get("connections", 0) for f in per_address.values())
    if not good:
        reasons = "; ".join(f"{ip}: {f['error']}" for ip, f in per_address.items()) or "no address to probe"
        return {"error": reasons, "protocols": {p: None for p in PROTOCOLS}, "cipher_suites": {}, "groups": [],
                "connections": connections}
    if len(per_address) == 1:
        return dict(next(iter(good.values())))
    facts = list(good.values())
    protocols: dict[str, bool | None] = {}
    for p in PROTOCOLS:
        values = [f["protocols"].get(p) for f in facts]
        protocols[p] = True if True in values else (None if None in values else False)
    suites: dict[str, list[str]] = {}
    for p in PROTOCOLS:
        if any(p in f["cipher_suites"] for f in facts):
            suites[p] = _union(f["cipher_suites"].get(p, []) for f in facts)
    kx: dict[str, dict[str, Any]] = {}
    for f in facts:
        for version, per in f.get("kx", {}).items():
            for suite, d in per.items():
                kx.setdefault(version, {}).setdefault(suite, d)
    dh = [f["dh_bits"] for f in facts if f.get("dh_bits") is not None]
    versions = _union(f.get("server_preference", {}) for f in facts)
    prefs = {v: worst([f.get("server_preference", {}).get(v) for f in facts], False) for v in versions}
    out: dict[str, Any] = {
        "protocols": protocols,
        "cipher_suites": suites,
        "groups": _union(f["groups"] for f in facts),
        "connections": connections,
        "server_preference": prefs,
        "kx": kx,
        "dh_bits": min(dh, default=None),
        "dh_groups": sorted(set(_union(f.get("dh_groups", []) for f in facts))),
        "kx_signatures": sorted(set(_union(f.get("kx_signatures", []) for f in facts))),
        "kx_hashes": sorted(set(_union(f.get("kx_hashes", []) for f in facts))),
        **merge_examined(facts),
        "addresses": {ip: ({"error": f["error"]} if "error" in f else
                           {"protocols": f["protocols"], "cipher_suites": f["cipher_suites"], "groups": f["groups"],
                            "connections": f["connections"]})
                      for ip, f in sorted(per_address.items())},
    }
    return out


async def collect(ctx: ProbeContext, target: Target) -> dict[str, dict[str, Any]]:
    return {"tls": await probe_tls(ctx, target.name, list(target.addresses), target.endpoint.port)}


PROBE = Probe("tls", ("tls",), collect, label="TLS probe", schemes=frozenset({"https"}))
