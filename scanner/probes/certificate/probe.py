"""Certificate probe: the chain as served, path validation with reasons, the name, status, DANE.

Per endpoint, at the first address that answers:

1. a full handshake with the local `ssl` module (verification off, so we see what is
   served, on whatever version the server prefers, TLS 1.3 included), the chain read
   through the SSL object's unverified-chain accessor;
2. a raw hello (`hello`, the answer read by `flight`, TLS 1.3 decrypted in `tls13`) asking
   for the stapled OCSP response and SCTs, which `ssl` cannot request, in the version
   the server prefers. When the `ssl` handshake fails (a certificate OpenSSL will not
   even parse, a certificate message over its size limit) the chain read here is judged
   instead, so a broken chain becomes reasons, not just "handshake failed";
3. `judge_chain`: path validation against certifi's Mozilla roots or `--ca-bundle`
   (`path`), name matching (`names`), expiry figures for every
   certificate, the OCSP response (`ocsp`), SCTs (`sct`);
4. TLSA records at _port._tcp.host, validated by the shared DNSSEC validator and matched
   against the chain (`dane`).

`trusted` leaves the name aside; `hostname_match` judges the name alone (contract v1, reports/schema).
"""

from __future__ import annotations

import ssl
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, ExtensionOID

from scanner.probes.certificate import path as paths
from scanner.probes.certificate.dane import dane_facts, lookup_tlsa
from scanner.probes.certificate.flight import Flight
from scanner.probes.certificate.hello import read_flight
from scanner.probes.certificate.names import match_hostname
from scanner.probes.certificate.ocsp import judge_ocsp
from scanner.probes.certificate.sct import embedded_scts, parse_sct_list
from scanner.probes.context import ProbeContext
from scanner.probes.net import HandshakeFailed, ProbeError
from scanner.probes.plugin import Probe, Target
from scanner.standards import certificate as rules
from scanner.standards.tls_registry import VERSION_NAME
from scanner.times import rfc3339

MAX_CHAIN = 10  # certificates we judge from one handshake (the rest is counted, not parsed)
MAX_SERVED = 64  # certificates we take from the handshake at all
MAX_CERT_BYTES = 256 * 1024  # one certificate larger than this is not parsed (OpenSSL's whole-chain limit: 100 KiB)
MAX_SAN = 100  # SAN entries listed in facts (all are matched)
SAN_MATCH_LIMIT = 50000  # SAN entries considered for matching at most (a 256 KiB certificate holds fewer)


def negotiated_protocol(sslobj) -> str | None:
    """The version a handshake settled on, spelled as the facts spell it ("TLSv1.0", not ssl's "TLSv1")."""
    name = sslobj.version()
    return "TLSv1.0" if name == "TLSv1" else name


def observing_context() -> ssl.SSLContext:
    """A client that completes a handshake with any server, old or misconfigured.

    Verification is off on purpose: probes observe what is served, checks judge it
    (`trusted`, `hostname_match`). Every probe that needs a full `ssl` handshake uses it.
    """
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
    getter = getattr(sslobj, "get_unverified_chain", None) or inner.get_unverified_chain
    chain = getter() or []
    out = []
    for cert in chain[:MAX_SERVED]:
        out.append(cert if isinstance(cert, bytes) else cert.public_bytes(ssl._ssl.ENCODING_DER))
    return out


def _extension(cert: x509.Certificate, oid):
    """An extension's value, None when absent; ValueError when the extensions do not parse."""
    try:
        return cert.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None


def _names(cert: x509.Certificate) -> tuple[list[str], list[str], int, str | None]:
    """(dNSName entries, iPAddress entries, how many in all, problem) of the subjectAltName."""
    try:
        san = _extension(cert, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except ValueError as exc:
        return [], [], 0, f"the extensions do not parse: {exc}"[:200]
    if san is None:
        return [], [], 0, None
    dns = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return dns[:SAN_MATCH_LIMIT], ips[:SAN_MATCH_LIMIT], len(dns) + len(ips), None


def expiry_figures(not_before: datetime, not_after: datetime, now: datetime) -> dict[str, float]:
    lifetime = rules.validity_days(not_before, not_after)
    remaining = (not_after - now).total_seconds() / 86400
    fraction = remaining / lifetime if lifetime > 0 else 0.0
    return {"days_remaining": round(remaining, 2), "lifetime_days": round(lifetime, 2),
            "fraction_remaining": round(min(max(fraction, 0.0), 1.0), 4)}


def describe(cert: x509.Certificate, now: datetime | None = None) -> dict[str, Any]:
    """The contract's chain entry for one certificate, plus what the checks need."""
    key_type, key_bits, curve = rules.key_info(cert)
    dns, ips, san_count, problem = _names(cert)
    out: dict[str, Any] = {
        "subject": _rfc4514(cert.subject),
        "issuer": _rfc4514(cert.issuer),
        "serial": format(cert.serial_number, "x"),
        "not_before": rfc3339(cert.not_valid_before_utc),
        "not_after": rfc3339(cert.not_valid_after_utc),
        "key_type": key_type,
        "key_bits": key_bits,
        "curve": curve,
        "signature_hash": rules.signature_hash(cert),
        "san": (dns + ips)[:MAX_SAN],
        "san_count": san_count,
        "self_issued": cert.subject == cert.issuer,
        "self_signed": paths.self_signed(cert),
        "ca": paths.is_ca(cert),
        "sha256": cert.fingerprint(hashes.SHA256()).hex(),
        "spki_sha256": rules.spki_sha256(cert),
        "aia_ca_issuers": paths.ca_issuers(cert),
        "ocsp_urls": paths.aia_urls(cert, AuthorityInformationAccessOID.OCSP),
    }
    if now is not None:
        out.update(expiry_figures(cert.not_valid_before_utc, cert.not_valid_after_utc, now))
    if problem:
        out["problem"] = problem
    return out


def _rfc4514(name: x509.Name) -> str:
    try:
        return name.rfc4514_string()[:500]
    except ValueError:
        return "(unreadable name)"


def _leaf_extras(leaf: x509.Certificate) -> dict[str, Any]:
    """Must-staple and the extended key usage of the leaf."""
    out: dict[str, Any] = {"must_staple": False, "server_auth": None}
    try:
        feature = _extension(leaf, ExtensionOID.TLS_FEATURE)
        eku = _extension(leaf, ExtensionOID.EXTENDED_KEY_USAGE)
    except ValueError:
        return out
    if feature is not None:
        out["must_staple"] = x509.TLSFeatureType.status_request in list(feature)
    if eku is not None:
        out["server_auth"] = ExtendedKeyUsageOID.SERVER_AUTH in eku or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku
    return out


def parse_chain(ders: list[bytes]) -> tuple[list[x509.Certificate], list[dict[str, Any]]]:
    """Parse up to MAX_CHAIN certificates; unparseable ones become problems, never exceptions."""
    chain, problems = [], []
    for n, der in enumerate(ders[:MAX_CHAIN]):
        if len(der) > MAX_CERT_BYTES:
            problems.append({"certificate": n, "message": f"certificate {n} is {len(der)} bytes, over our "
                                                          f"{MAX_CERT_BYTES // 1024} KiB limit; not parsed"})
            continue
        try:
            cert = x509.load_der_x509_certificate(der)
            _parse_lazy_fields(cert)
        except Exception as exc:  # hostile input: whatever the parser says becomes the reason
            problems.append({"certificate": n, "message": f"certificate {n} does not parse: {exc}"[:200]})
            continue
        chain.append(cert)
    return chain, problems


def _parse_lazy_fields(cert: x509.Certificate) -> None:
    """Touch every field the judgement reads, so a broken one fails here, in one place."""
    cert.subject.rfc4514_string()
    cert.issuer.rfc4514_string()
    cert.not_valid_before_utc, cert.not_valid_after_utc  # noqa: B018
    cert.serial_number  # noqa: B018
    list(cert.extensions)  # duplicate or undecodable extensions: RFC 5280 says reject


@dataclass
class Assessment:
    """The facts, and the parsed certificates DANE matching needs (not stored)."""

    facts: dict[str, Any]
    chain: list[x509.Certificate] = field(default_factory=list)
    verified: list[x509.Certificate] = field(default_factory=list)  # the library's path, root included
    on_path: list[x509.Certificate] = field(default_factory=list)  # served certificates on the path, leaf first


def judge_chain(ders: list[bytes], host: str, now: datetime, ca_bundle: Path | None, protocol: str | None = None,
                flight: Flight | None = None) -> dict[str, Any]:
    """Facts about a served chain (leaf first) for `host` (`assess` keeps the parsed certificates too)."""
    return assess(ders, host, now, ca_bundle, protocol, flight).facts


def assess(ders: list[bytes], host: str, now: datetime, ca_bundle: Path | None, protocol: str | None = None,
           flight: Flight | None = None) -> Assessment:
    try:
        with warnings.catch_warnings():  # e.g. a non-positive serial: the certificate is judged as it is
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            return _assess(ders, host, now, ca_bundle, protocol, flight)
    except Exception as exc:  # a certificate that breaks the judgement is a finding, not a crash
        return Assessment({"error": f"the served certificate could not be judged: {type(exc).__name__}: {exc}"[:300]})


def _assess(ders: list[bytes], host: str, now: datetime, ca_bundle: Path | None, protocol: str | None,
            flight: Flight | None) -> Assessment:
    if not ders:
        return Assessment({"error": "the server sent no certificate"})
    chain, problems = parse_chain(ders)
    if not chain or (problems and problems[0]["certificate"] == 0):
        return Assessment({"error": (problems[0]["message"] if problems else "no certificate could be read")})
    leaf = chain[0]
    facts: dict[str, Any] = {"chain": [describe(c, now) for c in chain], "protocol": protocol,
                             "served_count": len(ders)}
    if problems:
        facts["malformed"] = problems
    dns, ips, _count, name_problem = _names(leaf)
    name = match_hostname(host, dns, ips)
    facts["hostname_match"] = name.match
    facts["hostname_matched_by"] = name.matched_by
    facts["hostname_reason"] = name_problem or name.reason
    trust = paths.load_trust_store(ca_bundle)
    facts["trust_store"] = trust.describe()
    ok, verified, library_error = paths.validate(chain, trust, now)
    diagnosis = paths.diagnose(chain, trust, now, len(ders), verified)
    reasons = list(diagnosis.reasons)
    for problem in problems:
        reasons.append({"code": "malformed", "message": problem["message"], "certificate": problem["certificate"]})
    issuer = chain[diagnosis.path[1]] if len(diagnosis.path) > 1 else diagnosis.anchor
    facts["ocsp"] = _ocsp(flight, leaf, issuer, now)
    if facts["ocsp"].get("valid") and facts["ocsp"].get("status") == "revoked":
        reasons.append({"code": "revoked", "certificate": 0,
                        "message": f"the stapled OCSP response says the certificate was revoked on "
                                   f"{facts['ocsp'].get('revocation_time')}"})
    if not ok and not reasons:
        reasons.append({"code": "other", "message": library_error or "no path to a trusted root"})
    facts["trusted"] = ok and not reasons
    facts["trust_reasons"] = reasons
    facts["trust_error"] = "; ".join(r["message"] for r in reasons) or None
    facts["verifier_error"] = library_error
    facts["chain_issues"] = diagnosis.issues
    facts["path"] = [c.fingerprint(hashes.SHA256()).hex() for c in verified] if verified else None
    facts.update(_leaf_extras(leaf))
    facts["scts"] = _scts(leaf, flight, facts["ocsp"])
    facts.update({k: facts["chain"][0][k] for k in ("days_remaining", "lifetime_days", "fraction_remaining")})
    return Assessment(facts, chain, verified or [], [chain[i] for i in diagnosis.path])


def _ocsp(flight: Flight | None, leaf, issuer, now: datetime) -> dict[str, Any]:
    if flight is None:
        return {"stapled": None, "reason": "not requested on this connection"}
    if flight.error:
        return {"stapled": None, "reason": flight.error}
    if flight.ocsp is None:
        return {"stapled": False, "status_acknowledged": flight.status_acknowledged}
    return judge_ocsp(flight.ocsp, leaf, issuer, now)


def _scts(leaf: x509.Certificate, flight: Flight | None, ocsp: dict[str, Any]) -> dict[str, Any]:
    embedded, problem = embedded_scts(leaf)
    out: dict[str, Any] = {"embedded": len(embedded), "tls_extension": None, "ocsp": ocsp.get("scts"),
                           "logs": sorted({s["log_id"] for s in embedded})}
    if flight is not None and not flight.error:
        delivered, tls_problem = parse_sct_list(flight.sct_extension) if flight.sct_extension else ([], None)
        out["tls_extension"] = len(delivered)
        out["logs"] = sorted(set(out["logs"]) | {s["log_id"] for s in delivered})
        problem = problem or tls_problem
    out["total"] = out["embedded"] + (out["tls_extension"] or 0) + (out["ocsp"] or 0)
    out["measured"] = ("certificate, TLS extension and stapled OCSP" if flight is not None and not flight.error
                       else "certificate only (SCTs delivered in the handshake were not visible)")
    if problem:
        out["problem"] = problem
    return out


# -- the probe -------------------------------------------------------------------------------

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
    ders: list[bytes] | None = None
    protocol = None
    handshake_error = None
    try:
        async with ctx.network.tcp(host, ip, port, "certificate", tls=observing_context()) as (_, writer):
            ders = served_chain(writer)
            protocol = negotiated_protocol(writer.get_extra_info("ssl_object"))
    except HandshakeFailed as exc:
        handshake_error = str(exc)
    # The stapled status and SCTs: in the version the server prefers (TLS 1.3 decrypted by
    # us), else the other one; without a working `ssl` handshake, whichever reads the chain.
    errors = []
    for tls13 in ([True, False] if protocol == "TLSv1.3" else [False] if protocol else [False, True]):
        flight = await read_flight(ctx, host, ip, port, tls13)
        if not flight.error:
            break
        errors.append(flight.error)
    if flight.error:
        flight.error = "; ".join(errors)
    hello = VERSION_NAME.get(flight.version or 0)
    source = "handshake"
    if not ders:
        if not flight.certificates:
            raise ProbeError("; ".join(filter(None, [handshake_error, flight.error])) or "no certificate served")
        ders, source, protocol = flight.certificates, f"raw {hello} hello", hello
    judged = assess(ders, host, ctx.now, ctx.ca_bundle, protocol, flight)
    facts = judged.facts
    if "error" in facts:
        if handshake_error:
            facts["error"] += f" ({handshake_error})"
        return facts
    facts["address"] = ip
    facts["chain_source"] = source
    facts["status_hello"] = hello if not flight.error else None
    if handshake_error:
        facts["handshake_error"] = handshake_error
    if flight.certificates and source == "handshake" and flight.certificates[:MAX_CHAIN] != ders[:MAX_CHAIN]:
        facts["hello_chain_differs"] = True  # e.g. a server with RSA and ECDSA certificates
    tlsa = await lookup_tlsa(ctx, host, port)
    facts["dane"] = dane_facts(tlsa, judged.chain, judged.verified, judged.on_path, bool(facts["trusted"]),
                               bool(facts["hostname_match"]))
    return facts


async def collect(ctx: ProbeContext, target: Target) -> dict[str, dict[str, Any]]:
    return {"certificate": await probe_certificate(ctx, target.name, list(target.addresses), target.endpoint.port)}


PROBE = Probe("certificate", ("certificate",), collect, label="certificate probe", schemes=frozenset({"https"}))
