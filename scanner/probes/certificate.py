"""Certificate probe (first cut): the chain as served, path validation, the name.

A full handshake with the local `ssl` module (verification off, so we see what is
served), the served chain read through the SSL object's unverified-chain accessor,
then judged by cryptography's path builder against certifi's Mozilla roots or the
`--ca-bundle`. `trusted` leaves the name aside; `hostname_match` judges the name alone.
"""

from __future__ import annotations

import ipaddress
import ssl
from datetime import datetime
from pathlib import Path
from typing import Any

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtensionOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from scanner.probes.context import ProbeContext
from scanner.probes.net import ProbeError

MAX_CHAIN = 10  # certificates we parse from one handshake


def _client_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    return ctx


def served_chain(writer) -> list[bytes]:
    """DER certificates exactly as the server sent them (leaf first)."""
    sslobj = writer.get_extra_info("ssl_object")
    inner = getattr(sslobj, "_sslobj", sslobj)
    getter = getattr(sslobj, "get_unverified_chain", None) or getattr(inner, "get_unverified_chain")
    chain = getter() or []
    out = []
    for cert in chain[:MAX_CHAIN]:
        out.append(cert if isinstance(cert, bytes) else cert.public_bytes(ssl._ssl.ENCODING_DER))
    return out


def _key(cert: x509.Certificate) -> tuple[str, int | None, str | None]:
    key = cert.public_key()
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


def describe(cert: x509.Certificate) -> dict[str, Any]:
    """The contract's chain entry for one certificate."""
    key_type, key_bits, curve = _key(cert)
    try:
        san_ext = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        san = [str(n) for n in san_ext.get_values_for_type(x509.DNSName)]
        san += [str(ip) for ip in san_ext.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        san = []
    try:
        sig_hash = cert.signature_hash_algorithm.name if cert.signature_hash_algorithm else None
    except Exception:  # unsupported algorithm: record what we can
        sig_hash = "unknown"
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(spki)
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "x"),
        "not_before": cert.not_valid_before_utc.isoformat().replace("+00:00", "Z"),
        "not_after": cert.not_valid_after_utc.isoformat().replace("+00:00", "Z"),
        "key_type": key_type,
        "key_bits": key_bits,
        "curve": curve,
        "signature_hash": sig_hash,
        "san": san[:100],
        "san_count": len(san),
        "self_issued": cert.subject == cert.issuer,
        "sha256": cert.fingerprint(hashes.SHA256()).hex(),
        "spki_sha256": digest.finalize().hex(),
    }


def load_roots(ca_bundle: Path | None) -> list[x509.Certificate]:
    pem = Path(ca_bundle or certifi.where()).read_bytes()
    return x509.load_pem_x509_certificates(pem)


def validate(chain: list[x509.Certificate], roots: list[x509.Certificate], now: datetime) -> tuple[bool, str | None]:
    """Does the served chain build a path to a trusted root at `now`? The name is left aside."""
    leaf, intermediates = chain[0], chain[1:]
    subject = _any_name(leaf)
    if subject is None:
        return False, "the certificate names no DNS name or IP address in subjectAltName"
    verifier = PolicyBuilder().store(Store(roots)).time(now).build_server_verifier(subject)
    try:
        verifier.verify(leaf, intermediates)
    except VerificationError as exc:
        return False, str(exc)
    return True, None


def _any_name(cert: x509.Certificate):
    from cryptography.x509.verification import DNSName, IPAddress

    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        return None
    for name in san.get_values_for_type(x509.DNSName):
        try:
            return DNSName(name.replace("*.", "wildcard.", 1) if name.startswith("*.") else name)
        except ValueError:
            continue
    for ip in san.get_values_for_type(x509.IPAddress):
        return IPAddress(ip)
    return None


def hostname_matches(host: str, san: list[str]) -> bool:
    """RFC 6125 in brief: SAN only (never the CN), one left-most wildcard label, IPs exact."""
    host = host.rstrip(".").lower()
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    for name in san:
        name = name.rstrip(".").lower()
        if ip is not None:
            try:
                if ipaddress.ip_address(name) == ip:
                    return True
            except ValueError:
                pass
            continue
        if name == host:
            return True
        if name.startswith("*.") and "." in host:
            first, rest = host.split(".", 1)
            if rest == name[2:] and first and rest.count(".") >= 1:
                return True
    return False


async def probe_certificate(ctx: ProbeContext, host: str, addresses: list[str], port: int) -> dict[str, Any]:
    """Facts for one endpoint: the first address that completes a handshake."""
    errors = []
    for ip in addresses:
        try:
            return await ctx.cached(("cert", ip, port, host), lambda ip=ip: _probe(ctx, host, ip, port))
        except ProbeError as exc:
            errors.append(f"{ip}: {exc}")
    return {"error": "; ".join(errors) or "no address"}


async def _probe(ctx: ProbeContext, host: str, ip: str, port: int) -> dict[str, Any]:
    async with ctx.network.tcp(host, ip, port, "certificate", tls=_client_context()) as (_, writer):
        ders = served_chain(writer)
        protocol = writer.get_extra_info("ssl_object").version()
    return judge_chain(ders, host, ctx.now, ctx.ca_bundle, protocol)


def judge_chain(ders: list[bytes], host: str, now: datetime, ca_bundle: Path | None, protocol: str | None = None) -> dict[str, Any]:
    if not ders:
        return {"error": "the server sent no certificate"}
    chain = []
    for n, der in enumerate(ders):
        try:
            chain.append(x509.load_der_x509_certificate(der))
        except ValueError as exc:
            return {"error": f"certificate {n} in the chain does not parse: {exc}"}
    facts: dict[str, Any] = {"chain": [describe(c) for c in chain], "protocol": protocol}
    leaf = facts["chain"][0]
    facts["hostname_match"] = hostname_matches(host, leaf["san"])
    try:
        facts["trusted"], facts["trust_error"] = validate(chain, load_roots(ca_bundle), now)
    except ValueError as exc:
        facts["trusted"], facts["trust_error"] = False, f"path validation failed: {exc}"
    nb = chain[0].not_valid_before_utc
    na = chain[0].not_valid_after_utc
    facts["days_remaining"] = round((na - now).total_seconds() / 86400, 2)
    facts["lifetime_days"] = round((na - nb).total_seconds() / 86400, 2)
    return facts
