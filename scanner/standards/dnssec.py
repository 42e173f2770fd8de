"""DNSSEC standards: algorithms and DS digest types, NSEC3 limits, the root trust anchors.

Tables: `data/dns/algorithms.toml` (RFC 8624 as carried into RFC 9904, updated by RFC 9905),
`data/dns/nsec3.toml` (RFC 9276) and `data/dns/root-anchors.txt` (IANA's root KSKs as DS
records). The validator uses them to decide what it trusts, the zone probe to name keys,
and the DNS checks to rate a zone's choices.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import dns.dnssec
import dns.dnssecalgs
import dns.exception

from scanner.standards import data, read_toml

ROOT_ANCHORS = "root-anchors.txt"  # its name in reports; the text comes from root_anchors()


@cache
def _table() -> dict[str, dict[int, dict[str, Any]]]:
    raw = read_toml("dns", "algorithms.toml")
    return {kind: {int(k): v for k, v in raw[kind].items()} for kind in ("algorithm", "digest")}


def algorithm(number: int) -> dict[str, Any] | None:
    """The table's entry for a DNSKEY/RRSIG algorithm number: name, sign, validate, note, rsa."""
    return _table()["algorithm"].get(int(number))


def digest(number: int) -> dict[str, Any] | None:
    """The table's entry for a DS digest type."""
    return _table()["digest"].get(int(number))


def algorithm_name(number: int) -> str:
    entry = algorithm(number)
    return entry["name"] if entry else f"algorithm {number}"


def digest_name(number: int) -> str:
    entry = digest(number)
    return entry["name"] if entry else f"digest type {number}"


@cache
def algorithm_supported(number: int) -> bool:
    """We validate with it: the table says so and dnspython (with cryptography) can."""
    entry = algorithm(number)
    if not entry or entry["validate"] != "yes":
        return False
    try:
        dns.dnssecalgs.get_algorithm_cls(number)
    except (dns.dnssec.UnsupportedAlgorithm, dns.exception.DNSException, ImportError):
        return False
    return True


def digest_supported(number: int) -> bool:
    entry = digest(number)
    return bool(entry) and entry["validate"] == "yes"


@cache
def nsec3_limits() -> dict[str, Any]:
    """{"signer": {max_iterations, salt}, "validator": {insecure_above_iterations, hash_algorithms}}."""
    return read_toml("dns", "nsec3.toml")


def root_anchors() -> str:
    """The root zone's trust anchors (zone-file DS lines), always trusted by the validator."""
    return data("dns", ROOT_ANCHORS).read_text(encoding="utf-8")
