"""The certificate standards Bolwerk applies, read from `data/certificate/*.toml`.

Pure functions over data (no I/O beyond reading the packaged tables once), shared by the
certificate probe (what browsers refuse decides `trusted`) and the certificate checks
(how we rate what browsers still accept).
"""

from __future__ import annotations

import functools
import hashlib
from datetime import date, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from scanner.standards import read_toml

DAY_SECONDS = 86400


@functools.cache
def table(name: str) -> dict[str, Any]:
    return read_toml("certificate", f"{name}.toml")


# -- keys and signatures ---------------------------------------------------------------------

def spki_sha256(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate's SubjectPublicKeyInfo: one key behind several certificates
    or hosts has one digest (key sharing, DROWN). An unsupported key algorithm: the TBS bytes."""
    try:
        spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    except Exception:
        spki = cert.tbs_certificate_bytes
    return hashlib.sha256(spki).hexdigest()


def key_info(cert: x509.Certificate) -> tuple[str, int | None, str | None]:
    """(key type, size in bits, curve name) of a certificate's public key."""
    try:
        key = cert.public_key()
    except Exception:  # an algorithm the library does not know (GOST, SM2...): name it by OID
        return f"unsupported ({cert.public_key_algorithm_oid.dotted_string})", None, None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size, key.curve.name
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, None
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456, None
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, None
    return type(key).__name__, None, None


def signature_hash(cert: x509.Certificate) -> str | None:
    """The hash of the certificate's own signature (`sha256`...), None for EdDSA."""
    try:
        alg = cert.signature_hash_algorithm
    except Exception:  # unsupported algorithm: say which
        oid = cert.signature_algorithm_oid
        return getattr(oid, "_name", None) or oid.dotted_string
    return alg.name if alg is not None else None


def key_weakness(cert: x509.Certificate) -> str | None:
    """Why browsers refuse this certificate's key, or None."""
    browser = table("algorithms")["browser"]
    kind, bits, curve = key_info(cert)
    if kind not in browser["key_types"]:
        return f"{kind} keys are not accepted in the Web PKI"
    if kind == "RSA" and (bits or 0) < browser["rsa_min_bits"]:
        return f"RSA key of {bits} bits (browsers require {browser['rsa_min_bits']})"
    if kind == "EC" and curve not in browser["curves"]:
        return f"elliptic curve {curve} is not accepted by browsers"
    return None


def signature_weakness(cert: x509.Certificate) -> str | None:
    """Why browsers refuse this certificate's signature, or None (self-signatures aside)."""
    name = signature_hash(cert)
    if name is None:
        kind = cert.signature_algorithm_oid.dotted_string
        return f"signature algorithm {kind} is not accepted by browsers"
    if name.lower() not in table("algorithms")["browser"]["signature_hashes"]:
        return f"signed with {name.upper()}, which browsers reject"
    return None


def curve_verdict(curve: str | None) -> str:
    return table("algorithms")["curves"].get(curve or "", "fail")


def hash_verdict(name: str | None) -> str:
    return table("algorithms")["signature_hashes"].get((name or "").lower(), "fail")


# -- lifetimes -------------------------------------------------------------------------------

def lifetime_limit(issued: date) -> dict[str, Any] | None:
    """The CA/B Forum limit in force on `issued` ({from, days, source}), None before the first."""
    current = None
    for row in table("lifetimes")["limit"]:
        if issued >= row["from"]:
            current = row
    return current


def validity_days(not_before: datetime, not_after: datetime) -> float:
    """The validity period in days, inclusive of both ends (BR §1.6.1)."""
    return ((not_after - not_before).total_seconds() + 1) / DAY_SECONDS


# -- certificate transparency ---------------------------------------------------------------

def scts_required(lifetime_days: float, embedded: bool) -> int:
    policy = table("ct-policy")
    if not embedded:
        return policy["delivered"]["required"]
    emb = policy["embedded"]
    return emb["short"] if lifetime_days <= emb["short_lifetime_days"] else emb["long"]


# -- CAA --------------------------------------------------------------------------------------

def caa_domains_for(issuer: str) -> tuple[str | None, list[str]]:
    """(CA name, its CAA issuer domains) for an issuer DN string; (None, []) when unknown."""
    lowered = issuer.lower()
    for ca in table("caa-issuers")["ca"]:
        if any(m.lower() in lowered for m in ca["match"]):
            return ca["name"], list(ca["caa"])
    return None, []
