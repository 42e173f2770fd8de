"""Names and properties of TLS code points, from the versioned IANA files in `data/tls`.

Cipher suites, groups and signature schemes come from the IANA registries; a code point
outside them is named by one rule (`UNKNOWN_0xCC13`), so odd servers still get clear evidence.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

from scanner.standards import data

PROTOCOLS = ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")
WIRE_VERSION = {"SSLv3": 0x0300, "TLSv1.0": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303, "TLSv1.3": 0x0304}
VERSION_NAME = {v: k for k, v in WIRE_VERSION.items()}


def unknown(code: int, width: int = 4) -> str:
    return f"UNKNOWN_0x{code:0{width}X}"


@dataclass(frozen=True)
class CipherSuite:
    code: int
    name: str
    kex: str  # RSA, DHE, ECDHE, DH, ECDH, PSK, ..., ANY (TLS 1.3)
    auth: str
    enc: str
    bits: int
    aead: bool
    fs: bool
    mac: str
    versions: str  # ssl3-tls12, tls12, tls13, sslv2, none (signalling values)
    recommended: bool = False

    @property
    def tls13(self) -> bool:
        return self.versions == "tls13"

    @property
    def offerable(self) -> bool:
        return self.versions not in ("none", "sslv2")


@dataclass(frozen=True)
class Group:
    code: int
    name: str
    kind: str  # ec, ecx, ff, hybrid, pq
    bits: int
    tls13: bool


@dataclass(frozen=True)
class SignatureScheme:
    code: int
    name: str
    hash: str


def _rows(name: str) -> list[dict[str, str]]:
    with data("tls", name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _suite(row: dict[str, str], versions: str | None = None) -> CipherSuite:
    return CipherSuite(
        code=int(row["value"], 16), name=row["name"], kex=row["kex"], auth=row["auth"], enc=row["enc"],
        bits=int(row["bits"]), aead=row["aead"] == "Y", fs=row["fs"] == "Y", mac=row["mac"],
        versions=versions or row["versions"], recommended=row.get("recommended") == "Y",
    )


@cache
def suites() -> dict[int, CipherSuite]:
    """The IANA TLS cipher suite registry, by code."""
    return {s.code: s for s in map(_suite, _rows("cipher-suites.csv"))}


@cache
def sslv2_suites() -> dict[int, CipherSuite]:
    """SSL 2.0 cipher kinds (3-byte codes), which no IANA registry lists."""
    return {s.code: s for s in (_suite(r, "sslv2") for r in _rows("sslv2-cipher-kinds.csv"))}


@cache
def suites_by_name() -> dict[str, CipherSuite]:
    return {s.name: s for s in (*suites().values(), *sslv2_suites().values())}


@cache
def groups() -> dict[int, Group]:
    return {
        int(r["value"], 16): Group(int(r["value"], 16), r["name"], r["kind"], int(r["bits"]), r["tls13"] == "Y")
        for r in _rows("groups.csv")
    }


@cache
def groups_by_name() -> dict[str, Group]:
    return {g.name: g for g in groups().values()}


@cache
def signature_schemes() -> dict[int, SignatureScheme]:
    return {int(r["value"], 16): SignatureScheme(int(r["value"], 16), r["name"], r["hash"])
            for r in _rows("signature-schemes.csv")}


def suite_name(code: int) -> str:
    s = suites().get(code)
    return s.name if s else unknown(code)


def sslv2_name(code: int) -> str:
    s = sslv2_suites().get(code)
    return s.name if s else unknown(code, 6)


def group_name(code: int) -> str:
    g = groups().get(code)
    return g.name if g else unknown(code)


def scheme_name(code: int) -> str:
    s = signature_schemes().get(code)
    return s.name if s else unknown(code)


def describe_suite(name: str) -> CipherSuite | None:
    """Properties of a suite named in facts (None for UNKNOWN_ names)."""
    return suites_by_name().get(name)
