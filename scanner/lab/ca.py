"""The lab CA: roots, intermediates, and a server certificate for every case the estate names.

Made fresh at every lab start (EC P-256 keys: fast; RSA only where a case needs it, one
key per size shared by the cases), so nothing secret is checked in and validity dates
are always relative to now. The one exception is the legacy RSA-1024/SHA-1 certificate,
which `cryptography` refuses to sign: it is a checked-in fixture (`fixtures/`, made once
with the openssl CLI by `fixtures/make-legacy.sh`) under its own "Legacy Root", which the
lab's CA bundle trusts.

`CASES` is the table of certificate cases (`cert = "..."` on a lab web or mx host). A
case may also publish DNS records (TLSA, CAA) and hand a stapled OCSP response or SCTs
to the stapling handler (`scanner/lab/stapling.py`).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import ipaddress
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    NameOID,
    ObjectIdentifier,
)

DAY = dt.timedelta(days=1)
FIXTURES = resources.files(__package__).joinpath("fixtures")
SCT_LIST_OID = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
CA_ISSUERS_URL = "http://pki.vlaanderen.test/bolwerk-lab-issuing-ca.crt"
OCSP_URL = "http://ocsp.vlaanderen.test/"


def _name(cn: str, org: str = "Bolwerk lab") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@functools.cache
def _rsa_key(bits: int):
    """One RSA key per size for the whole process. Generating RSA-2048 takes longer than the
    rest of a lab start, so that one is a checked-in lab key (`fixtures/lab-rsa2048.key`)."""
    fixture = FIXTURES / f"lab-rsa{bits}.key"
    if fixture.is_file():
        return _fixture_key(fixture.name)
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@functools.cache
def _fixture_key(name: str):
    """A checked-in lab key (our own: OpenSSL's slow RSA consistency check is skipped)."""
    return serialization.load_pem_private_key((FIXTURES / name).read_bytes(), None, unsafe_skip_rsa_key_validation=True)


def new_key(kind: str = "ec256"):
    if kind == "ec256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ec384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "rsa-shared":  # one RSA-2048 key that lab hosts share on purpose (DROWN across hosts)
        return _fixture_key("lab-rsa-shared.key")
    if kind.startswith("rsa"):
        return _rsa_key(int(kind[3:]))
    raise ValueError(f"unknown key kind {kind}")


def sct_list(count: int, when: dt.datetime) -> bytes:
    """A TLS-encoded SignedCertificateTimestampList from made-up lab logs (signatures are filler)."""
    entries = b""
    for n in range(count):
        log_id = hashlib.sha256(f"Bolwerk lab CT log {n + 1}".encode()).digest()
        signature = b"\x30\x44" + os.urandom(68)
        body = (b"\x00" + log_id + struct.pack("!Q", int(when.timestamp() * 1000)) + b"\x00\x00"
                + b"\x04\x03" + struct.pack("!H", len(signature)) + signature)
        entries += struct.pack("!H", len(body)) + body
    return struct.pack("!H", len(entries)) + entries


def _octet_string(data: bytes) -> bytes:
    size = len(data)
    length = bytes([size]) if size < 0x80 else bytes([0x80 | ((size.bit_length() + 7) // 8)]) + size.to_bytes(
        (size.bit_length() + 7) // 8, "big")
    return b"\x04" + length + data


@dataclass
class Issued:
    cert: x509.Certificate
    key: object
    chain: list[x509.Certificate]  # what the server sends after the leaf
    records: list[str] = field(default_factory=list)  # DNS records to publish (absolute owner names)
    staple: bytes | None = None  # an OCSP response for the stapling handler
    sct_tls: bytes | None = None  # an SCT list the stapling handler sends in its ServerHello

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        """One PEM file with the key and the chain (`load_cert_chain` takes it as both)."""
        path = directory / f"{stem}.pem"
        key = self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
        path.write_bytes(key + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in [self.cert, *self.chain]))
        return path, path

    def ders(self) -> list[bytes]:
        return [c.public_bytes(serialization.Encoding.DER) for c in [self.cert, *self.chain]]


class LabCA:
    def __init__(self, now: dt.datetime | None = None) -> None:
        self.now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
        self.root_key = new_key()
        self.root = self._ca(_name("Bolwerk Lab Root CA"), self.root_key, None, None, path_length=2)
        self.inter_key = new_key()
        self.intermediate = self._ca(_name("Bolwerk Lab Issuing CA"), self.inter_key, self.root, self.root_key,
                                     path_length=0)
        self.served: dict[str, Issued] = {}  # host -> what its server presents
        self.records: list[str] = []  # DNS records the cases publish, for the lab's zones

    def _ca(self, name, key, issuer, issuer_key, path_length, days_after: int = 3650):
        builder = (x509.CertificateBuilder().subject_name(name)
                   .issuer_name(issuer.subject if issuer else name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(self.now - 30 * DAY).not_valid_after(self.now + days_after * DAY)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                                crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
        if issuer is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        return builder.sign(issuer_key or key, hashes.SHA256())

    @functools.cached_property
    def second_line(self) -> tuple[x509.Certificate, x509.Certificate, object]:
        """Root -> "Policy CA" -> "Issuing CA 2": a two-intermediate hierarchy (for order cases)."""
        policy_key, issuing_key = new_key(), new_key()
        policy = self._ca(_name("Bolwerk Lab Policy CA"), policy_key, self.root, self.root_key, path_length=1)
        issuing = self._ca(_name("Bolwerk Lab Issuing CA 2"), issuing_key, policy, policy_key, path_length=0)
        return policy, issuing, issuing_key

    @functools.cached_property
    def fillers(self) -> list[x509.Certificate]:
        """Forty unrelated self-signed CA certificates, to pad a chain absurdly."""
        key = new_key()
        return [self._ca(_name(f"Bolwerk Lab Filler CA {n}"), key, None, None, path_length=0) for n in range(40)]

    @functools.cached_property
    def legacy(self) -> tuple[x509.Certificate, x509.Certificate, object]:
        """The checked-in RSA-1024/SHA-1 leaf, its key and its root."""
        root = x509.load_pem_x509_certificate((FIXTURES / "legacy-root.crt").read_bytes())
        leaf = x509.load_pem_x509_certificate((FIXTURES / "legacy-leaf.crt").read_bytes())
        key = serialization.load_pem_private_key((FIXTURES / "legacy-leaf.key").read_bytes(), None,
                                                 unsafe_skip_rsa_key_validation=True)
        return root, leaf, key

    def root_pem(self) -> bytes:
        """The lab's CA bundle: its root, and the legacy fixture's root."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (self.root, self.legacy[0]))

    def issue(self, names: list[str], *, days_before: int = 1, days_after: int = 89, key_kind: str = "ec256",
              self_signed: bool = False, include_intermediate: bool = True, scts: int | None = None,
              must_staple: bool = False, issuer: tuple[x509.Certificate, object] | None = None,
              ocsp_url: bool = False) -> Issued:
        """A server certificate for `names` (DNS names or IP addresses), valid in the given window.

        `scts`: how many (made-up) SCTs to embed; by default as many as Chrome's CT policy
        asks for the lifetime (2 up to 180 days, else 3); 0 for none. Self-signed ones get none.
        """
        key = new_key(key_kind)
        sans: list[x509.GeneralName] = []
        for n in names:
            if ":" in n or n.replace(".", "").isdigit():
                sans.append(x509.IPAddress(ipaddress.ip_address(n)))
            else:
                sans.append(x509.DNSName(n))
        subject = _name(names[0], "Bolwerk lab service")
        issuer_cert, issuer_key = issuer or (self.intermediate, self.inter_key)
        if self_signed:
            issuer_cert, issuer_key = None, key
        not_before, not_after = self.now - days_before * DAY, self.now + days_after * DAY
        access = [x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                         x509.UniformResourceIdentifier(CA_ISSUERS_URL))]
        if ocsp_url:
            access.append(x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                                 x509.UniformResourceIdentifier(OCSP_URL)))
        builder = (x509.CertificateBuilder().subject_name(subject)
                   .issuer_name(subject if self_signed else issuer_cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(not_before).not_valid_after(not_after)
                   .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                                key_encipherment=isinstance(key, rsa.RSAPrivateKey),
                                                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                                  critical=False))
        if not self_signed:
            builder = builder.add_extension(x509.AuthorityInformationAccess(access), critical=False)
            if scts is None:
                scts = 2 if (not_after - not_before) <= 180 * DAY else 3
            if scts:
                builder = builder.add_extension(
                    x509.UnrecognizedExtension(SCT_LIST_OID, _octet_string(sct_list(scts, not_before))), critical=False)
        if must_staple:
            builder = builder.add_extension(x509.TLSFeature([x509.TLSFeatureType.status_request]), critical=False)
        cert = builder.sign(issuer_key, hashes.SHA256())
        chain = [] if self_signed or not include_intermediate else [issuer_cert]
        return Issued(cert, key, chain)

    def ocsp_response(self, cert: x509.Certificate, status: str, *, this_update_days: float = -0.5,
                      next_update_days: float = 3.5) -> bytes:
        """An OCSP response about `cert` signed by the issuing CA (good, revoked or unknown)."""
        statuses = {"good": ocsp.OCSPCertStatus.GOOD, "revoked": ocsp.OCSPCertStatus.REVOKED,
                    "unknown": ocsp.OCSPCertStatus.UNKNOWN}
        revoked = status == "revoked"
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=cert, issuer=self.intermediate, algorithm=hashes.SHA1(), cert_status=statuses[status],
            this_update=self.now + dt.timedelta(days=this_update_days),
            next_update=self.now + dt.timedelta(days=next_update_days),
            revocation_time=self.now - 2 * DAY if revoked else None,
            revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, self.intermediate)
        return builder.sign(self.inter_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    # -- the cases ----------------------------------------------------------------------------

    def server_files(self, host: str, case: str, directory: Path, port: int = 443) -> tuple[Path, Path]:
        """Issue the certificate `case` for `host`, remember it, and write cert + key files.

        A case's TLSA records name port 443; a host that serves on another port (an MX: 25)
        gets them at its own `_port._tcp` name."""
        try:
            make = CASES[case]
        except KeyError:
            raise ValueError(f"lab host {host}: unknown certificate case {case!r} "
                             f"(known: {', '.join(sorted(CASES))})") from None
        issued = make(self, host)
        issued.records = [r.replace(f"_443._tcp.{host}.", f"_{port}._tcp.{host}.", 1) for r in issued.records]
        self.served[host] = issued
        self.records.extend(issued.records)
        return issued.write(directory, host)


def _parent(host: str) -> str:
    return host.split(".", 1)[1]


def _spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _tlsa(host: str, usage: int, selector: int, mtype: int, data: bytes) -> str:
    digest = {0: lambda d: d, 1: lambda d: hashlib.sha256(d).digest(), 2: lambda d: hashlib.sha512(d).digest()}[mtype]
    return f"_443._tcp.{host}. TLSA {usage} {selector} {mtype} {digest(data).hex()}"


def _wrong_order(ca: LabCA, host: str) -> Issued:
    policy, issuing, issuing_key = ca.second_line
    issued = ca.issue([host], issuer=(issuing, issuing_key))
    issued.chain = [policy, issuing]  # the issuer of the leaf must come first
    return issued


def _extra_certs(ca: LabCA, host: str) -> Issued:
    issued = ca.issue([host])
    stray = ca._ca(_name("Bolwerk Lab Retired CA"), new_key(), None, None, path_length=0)
    issued.chain = [ca.intermediate, stray, ca.root]
    return issued


def _huge_chain(ca: LabCA, host: str) -> Issued:
    issued = ca.issue([host])
    issued.chain = [ca.intermediate, *ca.fillers]
    return issued


def _legacy(ca: LabCA, host: str) -> Issued:
    _root, leaf, key = ca.legacy
    return Issued(leaf, key, [])


def _dane(usage: int, selector: int, mtype: int, pick: Callable[[LabCA, Issued], x509.Certificate],
          wrong: bool = False) -> Callable[[LabCA, str], Issued]:
    def make(ca: LabCA, host: str) -> Issued:
        issued = ca.issue([host])
        cert = pick(ca, issued)
        data = _der(cert) if selector == 0 else _spki(cert)
        if wrong:
            data = b"not the served key" + data
        issued.records.append(_tlsa(host, usage, selector, mtype, data))
        return issued

    return make


# Every certificate case a lab host can serve: name -> how to make it for `host`.
CASES: dict[str, Callable[[LabCA, str], Issued]] = {
    "valid": lambda ca, host: ca.issue([host]),
    "expired": lambda ca, host: ca.issue([host], days_before=100, days_after=-10),
    "not_yet_valid": lambda ca, host: ca.issue([host], days_before=-5, days_after=90),
    "wrong_name": lambda ca, host: ca.issue([f"andere-naam.{_parent(host)}"]),
    "self_signed": lambda ca, host: ca.issue([host], self_signed=True),
    "wildcard": lambda ca, host: ca.issue([f"*.{_parent(host)}"]),
    "wildcard_too_deep": lambda ca, host: ca.issue([f"*.{_parent(_parent(host))}"]),
    "idn": lambda ca, host: ca.issue([host]),  # the host itself is an A-label (xn--...)
    "missing_intermediate": lambda ca, host: ca.issue([host], include_intermediate=False),
    "wrong_order": _wrong_order,
    "extra_certs": _extra_certs,
    "ecdsa_p384": lambda ca, host: ca.issue([host], key_kind="ec384"),
    "rsa2048": lambda ca, host: ca.issue([host], key_kind="rsa2048"),
    "shared_rsa": lambda ca, host: ca.issue([host], key_kind="rsa-shared"),  # the same key on every host using it
    "long_lifespan": lambda ca, host: ca.issue([host], days_before=1, days_after=450),
    "weak_legacy": _legacy,
    "no_sct": lambda ca, host: ca.issue([host], scts=0),
    "must_staple": lambda ca, host: ca.issue([host], must_staple=True, ocsp_url=True),
    "huge_san": lambda ca, host: ca.issue([host] + [f"naam-{n}.{_parent(host)}" for n in range(1500)]),
    "huge_chain": _huge_chain,
    "dane_ee": _dane(3, 1, 1, lambda ca, issued: issued.cert),
    "dane_ta": _dane(2, 0, 1, lambda ca, issued: ca.intermediate),
    "dane_pkix_ta": _dane(0, 1, 2, lambda ca, issued: ca.root),
    "dane_pkix_ee": _dane(1, 0, 0, lambda ca, issued: issued.cert),
    "dane_mismatch": _dane(3, 1, 1, lambda ca, issued: issued.cert, wrong=True),
    # Served by the stapling handler (TLS 1.2 only: see scanner/lab/stapling.py).
    "ocsp_good": lambda ca, host: _staple(ca, ca.issue([host], must_staple=True, ocsp_url=True, scts=0), "good",
                                          sct_tls=2),
    "ocsp_revoked": lambda ca, host: _staple(ca, ca.issue([host], ocsp_url=True), "revoked"),
    "ocsp_stale": lambda ca, host: _staple(ca, ca.issue([host], ocsp_url=True), "good", this_update_days=-10,
                                           next_update_days=-3),
    # Any certificate will do: the `garbage_certificate` handler serves bytes that are no DER instead.
    "garbage_der": lambda ca, host: ca.issue([host]),
}


def _staple(ca: LabCA, issued: Issued, status: str, sct_tls: int = 0, **times: float) -> Issued:
    issued.staple = ca.ocsp_response(issued.cert, status, **times)
    if sct_tls:
        issued.sct_tls = sct_list(sct_tls, ca.now - DAY)
    return issued
