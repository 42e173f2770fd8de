"""Does a certificate name this host? RFC 6125 / RFC 9525 matching of our own.

The rules a current browser applies, no more lenient:
- only subjectAltName counts; the subject's common name is never consulted;
- DNS names compare case-insensitively, as A-labels (a U-label host is converted with
  IDNA 2008 + UTS #46, the way browsers do), a single trailing dot ignored on both sides;
- a wildcard is accepted only as the whole left-most label (`*.example.be`), matches
  exactly one non-empty label, never the bare domain, and never directly under a
  single-label suffix (`*.be`, `*.test`): partial wildcards (`f*.example.be`, `xn--*`)
  match nothing;
- an IP address host matches only an iPAddress SAN of the same address, never a
  dNSName that spells it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import idna

_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")
MAX_NAME = 253


@dataclass(frozen=True)
class NameMatch:
    match: bool
    matched_by: str | None  # the SAN entry that matched
    reason: str  # why not (or how) in words


def normalise_host(host: str) -> tuple[str | None, ipaddress.IPv4Address | ipaddress.IPv6Address | None, str]:
    """(A-label DNS name, or IP address, or neither + the reason)."""
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return None, ipaddress.ip_address(host.split("%", 1)[0]), ""
    except ValueError:
        pass
    if host.endswith("."):
        host = host[:-1]
    if not host:
        return None, None, "the host name is empty"
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            return None, None, f"the host name is not a valid IDN: {exc}"
    host = host.lower()
    if len(host) > MAX_NAME or not all(_LABEL.match(label) for label in host.split(".")):
        return None, None, f"{host!r} is not a valid DNS host name"
    return host, None, ""


def _san_dns(name: str) -> str | None:
    """A presented dNSName as we compare it, or None if it can never match."""
    if not name.isascii() or not name:
        return None  # IA5String: a U-label in a SAN is a misissued certificate
    if name.endswith("."):
        name = name[:-1]
    return name.lower() or None


def wildcard_base(pattern: str) -> str | None:
    """`*.example.be` -> `example.be`; None when the pattern is not an acceptable wildcard."""
    if not pattern.startswith("*."):
        return None
    base = pattern[2:]
    labels = base.split(".")
    if len(labels) < 2 or "*" in base or not all(_LABEL.match(label) for label in labels):
        return None
    return base


def match_hostname(host: str, dns_names: list[str], ip_addresses: list[str] | None = None) -> NameMatch:
    """Judge `host` against the SAN entries of a certificate."""
    name, ip, why = normalise_host(host)
    ip_addresses = ip_addresses or []
    if ip is not None:
        for presented in ip_addresses:
            try:
                if ipaddress.ip_address(presented) == ip:
                    return NameMatch(True, presented, f"iPAddress SAN {presented}")
            except ValueError:
                continue
        spelt = [n for n in dns_names if _san_dns(n) == str(ip)]
        if spelt:
            return NameMatch(False, None, f"{ip} appears only as a dNSName, which never matches an IP address")
        return NameMatch(False, None, f"no iPAddress SAN equals {ip}")
    if name is None:
        return NameMatch(False, None, why)
    partial = []
    for presented in dns_names:
        san = _san_dns(presented)
        if san is None:
            continue
        if san == name:
            return NameMatch(True, presented, f"dNSName {presented}")
        if "*" in san:
            base = wildcard_base(san)
            if base is None:
                partial.append(presented)
                continue
            first, _, rest = name.partition(".")
            if rest == base and first:
                return NameMatch(True, presented, f"wildcard dNSName {presented}")
    if not dns_names and not ip_addresses:
        return NameMatch(False, None, "the certificate has no subjectAltName (the common name is not consulted)")
    if partial:
        return NameMatch(False, None, f"{name} is not named; unusable wildcard(s) ignored: {', '.join(partial[:5])}")
    return NameMatch(False, None, f"{name} is not among the certificate's subjectAltName entries")
