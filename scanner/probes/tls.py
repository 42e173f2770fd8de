"""TLS probe (first cut): which protocol versions a server accepts and what it negotiates.

Uses the local `ssl` module, so it can only see what local OpenSSL still speaks; the
raw-hello probe of the TLS pillar replaces this. Facts follow contract v1.
"""

from __future__ import annotations

import ssl
from typing import Any

from scanner.probes.context import ProbeContext
from scanner.probes.net import HandshakeFailed, ProbeError

PROTOCOLS = ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_SSL_VERSIONS = {
    "TLSv1.0": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


def _context(version: ssl.TLSVersion) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    ctx.minimum_version = ctx.maximum_version = version
    return ctx


async def _probe_address(ctx: ProbeContext, host: str, ip: str, port: int) -> dict[str, Any]:
    protocols: dict[str, bool | None] = {p: None for p in PROTOCOLS}
    suites: dict[str, list[str]] = {}
    connections = 0
    for name, version in _SSL_VERSIONS.items():
        try:
            connections += 1
            async with ctx.network.tcp(host, ip, port, "tls", tls=_context(version)) as (_, writer):
                cipher = writer.get_extra_info("cipher")
                protocols[name] = True
                if cipher and cipher[0].startswith("TLS_"):  # IANA names only (TLS 1.3 here)
                    suites[name] = [cipher[0]]
        except HandshakeFailed:
            protocols[name] = False
    return {"protocols": protocols, "cipher_suites": suites, "groups": [], "connections": connections}


async def probe_tls(ctx: ProbeContext, host: str, addresses: list[str], port: int) -> dict[str, Any]:
    """Facts for one endpoint: every address probed (cached per ip:port), then merged worst-first."""
    per_address: dict[str, dict[str, Any]] = {}
    for ip in addresses:
        try:
            per_address[ip] = await ctx.cached(("tls", ip, port), lambda ip=ip: _probe_address(ctx, host, ip, port))
        except ProbeError as exc:
            per_address[ip] = {"error": str(exc)}
    return merge(per_address)


def merge(per_address: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One view of several addresses: a protocol counts as offered if any address offers it."""
    good = {ip: f for ip, f in per_address.items() if "error" not in f}
    if not good:
        reasons = "; ".join(f"{ip}: {f['error']}" for ip, f in per_address.items()) or "no address"
        return {"error": reasons, "protocols": {p: None for p in PROTOCOLS}, "cipher_suites": {}, "groups": [],
                "connections": 0}
    protocols: dict[str, bool | None] = {}
    for p in PROTOCOLS:
        values = [f["protocols"].get(p) for f in good.values()]
        protocols[p] = True if True in values else (None if None in values else False)
    suites: dict[str, list[str]] = {}
    for f in good.values():
        for version, names in f["cipher_suites"].items():
            merged = suites.setdefault(version, [])
            merged.extend(n for n in names if n not in merged)
    groups: list[str] = []
    for f in good.values():
        groups.extend(g for g in f["groups"] if g not in groups)
    out: dict[str, Any] = {
        "protocols": protocols,
        "cipher_suites": suites,
        "groups": groups,
        "connections": sum(f["connections"] for f in good.values()),
    }
    if len(per_address) > 1 or len(good) != len(per_address):
        out["addresses"] = {ip: ({"error": f["error"]} if "error" in f else {"protocols": f["protocols"]})
                            for ip, f in sorted(per_address.items())}
    return out
