"""The lab's TLS services: one per branch of the TLS probe, each a real server on loopback.

OpenSSL-backed services use the local `ssl` module (TLS 1.0/1.1 at @SECLEVEL=0, DHE with
a 1024-bit group, RSA key exchange, CBC, TLS 1.3 only); the rest is the scripted
responder (SSL 2.0, SSL 3.0, post-quantum hybrids, misbehaving servers). Each service
says what it accepts (`expected`), read back from the running server where OpenSSL
decides, so tests compare the probe with the server's truth rather than with a guess.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ssl
import tempfile
import warnings
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from scanner.lab.ca import new_key
from scanner.lab.listener import Listener
from scanner.lab.tls_responder import Responder, Script
from scanner.lab.web import handler
from scanner.standards import tls_registry as reg
from scanner.standards.dh import prime_for

# Version names as the estate writes them ("TLSv1", as OpenSSL does) and as the facts do ("TLSv1.0").
TLS_VERSIONS = {"TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.0": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1,
                "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
_CURVE_NAMES = {"prime256v1": "secp256r1"}


@dataclass(frozen=True)
class OpenSSLSpec:
    versions: tuple[str, ...]
    ciphers: str = ""  # OpenSSL cipher string for TLS <= 1.2
    curve: str | None = None  # one ECDH curve (Python's ssl can pin exactly one)
    dh_group: str | None = None  # well-known group name for DHE suites
    options: int = 0  # OpenSSL options to add (ALLOW_CLIENT_RENEGOTIATION...)


@dataclass(frozen=True)
class Service:
    name: str
    summary: str
    openssl: OpenSSLSpec | None = None
    script: Script | None = None
    expect_error: bool = False


# OpenSSL 3 options the ssl module has no name for (openssl/ssl.h SSL_OP_*)
ALLOW_CLIENT_RENEGOTIATION = 1 << 8
NO_EXTENDED_MASTER_SECRET = 1 << 0
NO_ENCRYPT_THEN_MAC = 1 << 19

# Old servers as the attack tests know them (RSA key exchange for ROBOT: an RSA identity is
# given to the responder where it runs, see `scripted`).
OLD_BEHAVIOUR = Script(
    versions=("TLSv1.2", "TLSv1.1", "TLSv1.0"),
    suites={"TLSv1.2": [0xC02F, 0xC013, 0x002F, 0x009C], "TLSv1.1": [0xC013, 0x002F], "TLSv1.0": [0xC013, 0x002F]},
    compression=True, secure_renegotiation=False, extended_master_secret=False, encrypt_then_mac=False,
    fallback_scsv=False, static_shares=True, heartbleed=True, ccs_injection=True, robot="strong", own_certificate=True)
EXPORT_GRADE = Script(
    versions=("TLSv1.2", "TLSv1.0", "SSLv3"),
    suites={"TLSv1.2": [0xC02F, 0x000A, 0x0005], "TLSv1.0": [0x0003, 0x0014, 0x0033, 0x0018, 0x0002, 0x002F],
            "SSLv3": [0x000A, 0x0005, 0x002F]},
    dh_prime=prime_for("openssl-512"), own_certificate=True)

SERVICES: dict[str, Service] = {s.name: s for s in (
    Service("modern", "TLS 1.2 and 1.3, ECDHE with AEAD only, one curve",
            OpenSSLSpec(("TLSv1.2", "TLSv1.3"),
                        "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305",
                        curve="prime256v1")),
    Service("openssl-default", "TLS 1.2 and 1.3 with the local OpenSSL's default suites and groups",
            OpenSSLSpec(("TLSv1.2", "TLSv1.3"))),
    Service("tls13-only", "TLS 1.3 only", OpenSSLSpec(("TLSv1.3",), curve="secp384r1")),
    Service("legacy-tls10", "TLS 1.0 and 1.1 only, RSA key exchange and CBC",
            OpenSSLSpec(("TLSv1.0", "TLSv1.1"), "AES128-SHA:ECDHE-RSA-AES256-SHA:DES-CBC3-SHA:@SECLEVEL=0",
                        curve="prime256v1")),
    Service("dhe-1024", "TLS 1.2 with DHE over the 1024-bit MODP group",
            OpenSSLSpec(("TLSv1.2",), "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-SHA:@SECLEVEL=0", dh_group="modp1024")),
    Service("cbc-rsa", "TLS 1.2 with RSA key exchange and CBC suites",
            OpenSSLSpec(("TLSv1.2",), "AES128-SHA:AES256-SHA256:AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA:@SECLEVEL=0",
                        curve="secp384r1")),
    Service("sslv3", "SSL 3.0 only (scripted)", script=Script(
        versions=("SSLv3",), suites={"SSLv3": [0x000A, 0x0005, 0x0039, 0x002F]}, dh_prime=prime_for("modp1024"))),
    Service("sslv2", "SSL 2.0 only (scripted)", script=Script(versions=(), sslv2_kinds=[0x010080, 0x0700C0, 0x060040])),
    Service("pq-hybrid", "TLS 1.3 with post-quantum hybrid groups, TLS 1.2 fallback (scripted)", script=Script(
        versions=("TLSv1.3", "TLSv1.2"), suites={"TLSv1.3": [0x1302, 0x1301, 0x1303], "TLSv1.2": [0xC030, 0xC02F]},
        groups=[0x11EC, 0x11EB, 0x11ED, 0x001D, 0x0017], curves=[0x001D, 0x0017])),
    Service("drops-large-hello", "answers only hellos of at most 700 bytes (scripted)", script=Script(
        versions=("TLSv1.2",), suites={"TLSv1.2": [0xC02F, 0x009C]}, behaviour="drop_large", max_hello=700)),
    Service("old-behaviour", "TLS 1.0-1.2 with every broken behaviour and the active attacks (scripted)",
            script=OLD_BEHAVIOUR),
    Service("export-grade", "SSL 3.0 to TLS 1.2 with export, RC4, 3DES, NULL and anonymous suites (scripted)",
            script=EXPORT_GRADE),
    Service("client-renegotiation", "TLS 1.2 and 1.3 that accepts client-initiated renegotiation",
            OpenSSLSpec(("TLSv1.2", "TLSv1.3"), "ECDHE+AESGCM", curve="prime256v1", options=ALLOW_CLIENT_RENEGOTIATION)),
    Service("resets", "resets every connection (scripted)", script=Script(behaviour="reset"), expect_error=True),
    Service("stalls", "accepts and never answers (scripted)", script=Script(behaviour="stall"), expect_error=True),
    Service("garbage", "answers with non-TLS bytes (scripted)", script=Script(behaviour="garbage"), expect_error=True),
)}


# Scripted servers the lab estate can place behind a host (`https_handler = "tls-script"`,
# `tls_script = NAME` in scanner/lab/estate.d/tls.toml).
LAB_SCRIPTS: dict[str, Script] = {
    "old-behaviour": OLD_BEHAVIOUR,
    "export-grade": EXPORT_GRADE,
    "sslv2-only": Script(versions=(), sslv2_kinds=[0x010080, 0x0700C0], own_certificate=True),
    "sslv3": SERVICES["sslv3"].script,
    "sslv2": SERVICES["sslv2"].script,
    "pq-hybrid": SERVICES["pq-hybrid"].script,
    "dhe-1024": Script(versions=("TLSv1.2",), suites={"TLSv1.2": [0x009E, 0x0033]}, dh_prime=prime_for("modp1024")),
    "rsa-cbc": Script(versions=("TLSv1.2",), suites={"TLSv1.2": [0xC02F, 0xC013, 0x009C, 0x002F, 0x0035]}),
}


def scripted(name: str, issued: Any = None) -> Responder:
    """The responder for the lab script `name`. A script with `own_certificate` serves the
    host's certificate and key (`issued`, from the lab CA; else the lab's RSA identity): a
    ROBOT oracle decrypts with it, DROWN compares keys across hosts. Others serve a stand-in."""
    script = LAB_SCRIPTS[name]
    if not script.own_certificate:
        return Responder(script)
    der, key = (issued.cert.public_bytes(serialization.Encoding.DER), issued.key) if issued else lab_rsa_identity()
    return Responder(replace(script, certificate=der, key=key))


@handler("tls-script")
def _lab_handler(entry: dict, site: Any):
    """Serve a lab host with the scripted responder named by its `tls_script`."""
    return scripted(entry["tls_script"], entry.get("issued"))


def lab_rsa_identity() -> tuple[bytes, Any]:
    """(DER certificate, RSA private key) of the standalone TLS services."""
    chain, _ = _material()
    cert = x509.load_pem_x509_certificate(chain)
    return cert.public_bytes(serialization.Encoding.DER), serialization.load_pem_private_key(chain, None)


@cache
def _material() -> tuple[bytes, bytes]:
    """(key and self-signed RSA certificate, 1024-bit DH params) as PEM, made once per process.

    The key is the lab's RSA-2048 key (`scanner/lab/ca.py`), so no process waits for a new one.
    """
    key = new_key("rsa2048")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tls.lab.vlaanderen.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    chain = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM)
    return chain, _dh_pem(prime_for("modp1024"), 2).encode()


def _der_int(n: int) -> bytes:
    body = n.to_bytes(n.bit_length() // 8 + 1, "big")
    return b"\x02" + _der_len(len(body)) + body


def _der_len(n: int) -> bytes:
    return bytes([n]) if n < 128 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")


def _dh_pem(p: int, g: int) -> str:
    """PKCS#3 DHParameter PEM (SEQUENCE of two INTEGERs), written by hand: tiny and warning-free."""
    body = _der_int(p) + _der_int(g)
    der = b"\x30" + _der_len(len(body)) + body
    b64 = base64.encodebytes(der).decode().replace("\n", "")
    lines = "\n".join(b64[i: i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN DH PARAMETERS-----\n{lines}\n-----END DH PARAMETERS-----\n"


def set_versions(ctx: ssl.SSLContext, names: list[str] | tuple[str, ...]) -> None:
    """Offer exactly the span of the named versions."""
    versions = [TLS_VERSIONS[v] for v in names]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0/1.1 are the point of some services
        ctx.minimum_version, ctx.maximum_version = min(versions), max(versions)


def openssl_context(spec: OpenSSLSpec) -> ssl.SSLContext:
    chain, dh = _material()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    set_versions(ctx, spec.versions)
    ctx.options |= spec.options
    if spec.ciphers:
        ctx.set_ciphers(spec.ciphers)  # first: its @SECLEVEL decides which DH sizes load
    if spec.curve:
        ctx.set_ecdh_curve(spec.curve)
    with tempfile.TemporaryDirectory(prefix="bolwerk-tls-") as tmp:  # OpenSSL loads from files only
        (Path(tmp) / "chain.pem").write_bytes(chain)
        ctx.load_cert_chain(Path(tmp) / "chain.pem")
        if spec.dh_group:
            (Path(tmp) / "dh.pem").write_bytes(dh)
            ctx.load_dh_params(str(Path(tmp) / "dh.pem"))
    return ctx


def openssl_expected(spec: OpenSSLSpec, ctx: ssl.SSLContext) -> dict[str, set[str]]:
    """What the server accepts per version, read back from OpenSSL (RSA certificate)."""
    out: dict[str, set[str]] = {}
    for c in ctx.get_ciphers():
        suite = reg.suites().get(c["id"] & 0xFFFF)
        if suite is None or suite.auth not in ("RSA", "ANY") or (suite.kex in ("DHE",) and not spec.dh_group):
            continue
        for version in spec.versions:
            if suite.tls13 != (version == "TLSv1.3") or (suite.versions == "tls12" and version != "TLSv1.2"):
                continue
            out.setdefault(version, set()).add(suite.name)
    return out


@dataclass
class Running:
    service: Service
    port: int
    expected: dict[str, Any] = field(default_factory=dict)
    listener: Listener | None = None

    async def stop(self) -> None:
        await self.listener.stop()


async def _until_hangup(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """After the handshake (done by the listener): wait briefly for the client to hang up."""
    await asyncio.wait_for(reader.read(1024), 2)


async def start(name: str, host: str = "127.0.0.1") -> Running:
    """Start one lab TLS service on a free loopback port."""
    svc = SERVICES[name]
    if svc.script is not None:
        der, key = lab_rsa_identity()
        listener = Listener(host, Responder(replace(svc.script, certificate=der, key=key)))
        s = svc.script
        expected: dict[str, Any] = {"suites": {v: {reg.suite_name(c) for c in codes} for v, codes in s.suites.items()},
                                    "versions": set(s.versions) | ({"SSLv2"} if s.sslv2_kinds else set())}
        if s.sslv2_kinds:
            expected["suites"]["SSLv2"] = {reg.sslv2_name(k) for k in s.sslv2_kinds}
        if "TLSv1.3" in s.versions:
            expected["groups"] = {reg.group_name(g) for g in s.groups + s.curves}
    else:
        ctx = openssl_context(svc.openssl)
        listener = Listener(host, _until_hangup, tls=ctx)
        suites = openssl_expected(svc.openssl, ctx)
        expected = {"suites": suites, "versions": set(suites)}
        if svc.openssl.curve:
            expected["groups"] = {_CURVE_NAMES.get(svc.openssl.curve, svc.openssl.curve)}
    return Running(svc, await listener.start(), expected, listener)
