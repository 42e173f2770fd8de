"""DANE for a TLS endpoint (RFC 6698, RFC 7671): TLSA records at _port._tcp.host against the served chain.

Records count only when DNSSEC validates them (the shared validator decides); records in
an insecure or bogus zone are reported and ignored, as a DANE client would. Matching per
record, by certificate usage:

- 3 DANE-EE: the leaf matches; nothing else is checked (no name, no dates, no PKIX);
- 2 DANE-TA: a served certificate above the leaf matches and the leaf chains up to it,
  and the name matches;
- 1 PKIX-EE: the leaf matches and the chain is publicly trusted and the name matches;
- 0 PKIX-TA: a certificate on the validated path (the root included) matches, and the
  chain is trusted and the name matches.

Selector 0 is the whole certificate, 1 its SubjectPublicKeyInfo; matching type 0 is exact,
1 SHA-256, 2 SHA-512. Unknown parameters make a record unusable (RFC 7671 §4).
"""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from scanner.probes.context import ProbeContext
from scanner.probes.dns.validator import Verdict
from scanner.probes.net import ProbeError
from scanner.probes.resolver import Lookup

USAGES = {0: "PKIX-TA", 1: "PKIX-EE", 2: "DANE-TA", 3: "DANE-EE"}
MAX_RECORDS = 16


def _selected(cert: x509.Certificate, selector: int) -> bytes | None:
    if selector == 0:
        return cert.public_bytes(serialization.Encoding.DER)
    if selector == 1:
        return cert.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    return None


def _digest(data: bytes, mtype: int) -> bytes | None:
    if mtype == 0:
        return data
    if mtype == 1:
        return hashlib.sha256(data).digest()
    if mtype == 2:
        return hashlib.sha512(data).digest()
    return None


def record_matches(cert: x509.Certificate, selector: int, mtype: int, data: bytes) -> bool:
    try:
        selected = _selected(cert, selector)
    except Exception:  # a key the library cannot serialise cannot match
        return False
    return selected is not None and _digest(selected, mtype) == data


def match_tlsa(records: list[tuple[int, int, int, bytes]], served: list[x509.Certificate],
               path: list[x509.Certificate], on_path: list[x509.Certificate], trusted: bool,
               name_ok: bool) -> list[dict[str, Any]]:
    """Per record: does it match, and if not, why. `path`: the PKIX-validated path (root
    included) or []; `on_path`: the served certificates the leaf chains up through."""
    out = []
    for usage, selector, mtype, data in records[:MAX_RECORDS]:
        text = f"{usage} {selector} {mtype} {data.hex()[:64]}{'...' if len(data) > 32 else ''}"
        row: dict[str, Any] = {"record": text, "usage": USAGES.get(usage, str(usage)), "match": False}
        if usage not in USAGES or selector not in (0, 1) or mtype not in (0, 1, 2):
            row["reason"] = "unusable parameters"
            out.append(row)
            continue
        if usage in (1, 3):
            candidates = served[:1]
        elif usage == 2:
            candidates = on_path[1:]
        else:
            candidates = path
        hit = any(record_matches(c, selector, mtype, data) for c in candidates)
        if not hit:
            row["reason"] = {0: "no certificate on the validated path matches",
                             1: "the leaf does not match", 2: "no served CA certificate on the path matches",
                             3: "the leaf does not match"}[usage]
        elif usage in (0, 1) and not trusted:
            row["reason"] = "matches, but PKIX usage also needs a trusted chain"
        elif usage in (0, 1, 2) and not name_ok:
            row["reason"] = "matches, but the certificate does not name the host"
        else:
            row["match"] = True
        out.append(row)
    return out


def tlsa_rows(lookup: Lookup) -> list[tuple[int, int, int, bytes]]:
    """(usage, selector, matching type, data) of each TLSA record of an answer, for matching."""
    return [(rd.usage, rd.selector, rd.mtype, bytes(rd.cert)) for rd in lookup.rrset or []][:MAX_RECORDS]


async def lookup_tlsa(ctx: ProbeContext, host: str, port: int) -> dict[str, Any]:
    """The TLSA RRset for the endpoint and its DNSSEC status (no matching yet)."""
    name = f"_{port}._tcp.{host.rstrip('.')}"
    try:
        lookup = await ctx.resolver.lookup(name, "TLSA")
    except ProbeError as exc:
        return {"name": name, "error": str(exc)}
    out: dict[str, Any] = {"name": name, "rcode": lookup.rcode, "records": []}
    if lookup.rrset is None:
        return out
    out["records"] = tlsa_rows(lookup)
    if ctx.validator is None:
        out["dnssec"], out["dnssec_reason"] = None, "no DNSSEC validator configured"
        return out
    try:
        verdict = await ctx.validator.verdict(lookup)
    except ProbeError as exc:
        verdict = Verdict(None, str(exc))
    out["dnssec"] = verdict.status
    if verdict.reason:
        out["dnssec_reason"] = verdict.reason
    return out


def dane_facts(tlsa: dict[str, Any], served: list[x509.Certificate], path: list[x509.Certificate],
               on_path: list[x509.Certificate], trusted: bool, name_ok: bool) -> dict[str, Any]:
    """The `dane` fact: records found, their validation, and what matched."""
    out: dict[str, Any] = {"name": tlsa["name"], "tlsa": bool(tlsa.get("records")) if "error" not in tlsa else None,
                           "dnssec": tlsa.get("dnssec"), "records": [], "matched": None}
    if "error" in tlsa:
        out["error"] = tlsa["error"]
        return out
    if tlsa.get("dnssec_reason"):
        out["dnssec_reason"] = tlsa["dnssec_reason"]
    if not tlsa.get("records"):
        return out
    out["records"] = match_tlsa(tlsa["records"], served, path, on_path, trusted, name_ok)
    out["matched"] = any(r["match"] for r in out["records"])
    out["usable"] = sum(1 for r in out["records"] if r.get("reason") != "unusable parameters")
    return out
