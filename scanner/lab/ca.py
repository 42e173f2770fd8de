"""The lab CA: a root and an intermediate, and leaf certificates for every case the estate needs.

Made fresh at every lab start (EC P-256 keys: fast), so nothing secret is checked in and
validity dates are always relative to now.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DAY = dt.timedelta(days=1)


def _name(cn: str, org: str = "Bolwerk lab") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def new_key(kind: str = "ec256"):
    if kind == "ec256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ec384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    raise ValueError(f"unknown key kind {kind}")


@dataclass
class Issued:
    cert: x509.Certificate
    key: object
    chain: list[x509.Certificate]  # what the server sends after the leaf

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
        pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in [self.cert, *self.chain])
        cert_path.write_bytes(pem)
        key_path.write_bytes(self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
        return cert_path, key_path


class LabCA:
    def __init__(self, now: dt.datetime | None = None) -> None:
        self.now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
        self.root_key = new_key()
        self.root = self._ca(_name("Bolwerk Lab Root CA"), self.root_key, None, None, path_length=1)
        self.inter_key = new_key()
        self.intermediate = self._ca(_name("Bolwerk Lab Issuing CA"), self.inter_key, self.root, self.root_key,
                                     path_length=0)

    def _ca(self, name, key, issuer, issuer_key, path_length):
        builder = (x509.CertificateBuilder().subject_name(name)
                   .issuer_name(issuer.subject if issuer else name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(self.now - 30 * DAY).not_valid_after(self.now + 3650 * DAY)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                                crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
        if issuer is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        return builder.sign(issuer_key or key, hashes.SHA256())

    def root_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    def issue(self, names: list[str], *, days_before: int = 1, days_after: int = 89, key_kind: str = "ec256",
              self_signed: bool = False, include_intermediate: bool = True) -> Issued:
        """A server certificate for `names` (DNS names or IP addresses), valid in the given window."""
        key = new_key(key_kind)
        sans: list[x509.GeneralName] = []
        for n in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                sans.append(x509.DNSName(n))
        subject = _name(names[0], "Bolwerk lab service")
        issuer_cert, issuer_key = (None, key) if self_signed else (self.intermediate, self.inter_key)
        builder = (x509.CertificateBuilder().subject_name(subject)
                   .issuer_name(subject if self_signed else issuer_cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(self.now - days_before * DAY).not_valid_after(self.now + days_after * DAY)
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
        cert = builder.sign(issuer_key, hashes.SHA256())
        chain = [] if self_signed or not include_intermediate else [self.intermediate]
        return Issued(cert, key, chain)
