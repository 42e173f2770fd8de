"""Just enough TLS 1.3 key schedule to read the server's encrypted handshake messages.

Why: EncryptedExtensions may list every group the server supports (RFC 8446 4.2.7) and
CertificateVerify names the signature scheme. Reading them from the one handshake we
already make saves a connection per group. We never send Finished: the handshake stays
unfinished and no application data is exchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from scanner.probes.tls.wire import APPLICATION_DATA, Record, WireError

_CURVES = {0x0017: ec.SECP256R1, 0x0018: ec.SECP384R1, 0x0019: ec.SECP521R1}
# suite -> (hash, key length, AEAD factory)
_AEADS = {
    0x1301: ("sha256", 16, AESGCM),
    0x1302: ("sha384", 32, AESGCM),
    0x1303: ("sha256", 32, ChaCha20Poly1305),
    0x1304: ("sha256", 16, AESCCM),
    0x1305: ("sha256", 16, lambda k: AESCCM(k, tag_length=8)),
}


@dataclass
class KeyPair:
    group: int
    private: object
    public: bytes


def generate(group: int) -> KeyPair | None:
    """An ephemeral key share for `group`, or None when we cannot compute that group."""
    if group == 0x001D:
        priv = x25519.X25519PrivateKey.generate()
    elif group == 0x001E:
        priv = x448.X448PrivateKey.generate()
    elif group in _CURVES:
        priv = ec.generate_private_key(_CURVES[group]())
        pub = priv.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return KeyPair(group, priv, pub)
    else:
        return None
    pub = priv.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return KeyPair(group, priv, pub)


def shared_secret(kp: KeyPair, peer: bytes) -> bytes:
    try:
        if kp.group == 0x001D:
            return kp.private.exchange(x25519.X25519PublicKey.from_public_bytes(peer))
        if kp.group == 0x001E:
            return kp.private.exchange(x448.X448PublicKey.from_public_bytes(peer))
        pub = ec.EllipticCurvePublicKey.from_encoded_point(_CURVES[kp.group](), peer)
        return kp.private.exchange(ec.ECDH(), pub)
    except (ValueError, TypeError) as exc:
        raise WireError("garbage", f"bad server key share: {exc}") from None


def _hash(name: str):
    return hashes.SHA256() if name == "sha256" else hashes.SHA384()


def _expand_label(hname: str, secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
    info = struct.pack("!H", length) + bytes([len(b"tls13 " + label)]) + b"tls13 " + label + bytes([len(context)]) + context
    return HKDFExpand(_hash(hname), length, info).derive(secret)


def _extract(hname: str, salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, ikm, hname).digest()


class RecordDecrypter:
    """Decrypts one direction's TLS 1.3 records from its traffic secret (RFC 8446 §7.3)."""

    def __init__(self, suite: int, traffic: bytes) -> None:
        if suite not in _AEADS:
            raise WireError("garbage", f"cannot decrypt suite 0x{suite:04x}")
        hname, keylen, factory = _AEADS[suite]
        self.aead = factory(_expand_label(hname, traffic, b"key", b"", keylen))
        self.iv = _expand_label(hname, traffic, b"iv", b"", 12)
        self.seq = 0

    def open(self, rec: Record) -> tuple[int, bytes]:
        """(inner content type, plaintext) of one encrypted record."""
        if rec.ctype != APPLICATION_DATA:
            raise WireError("garbage", "expected an encrypted record")
        nonce = bytes(a ^ b for a, b in zip(self.iv, self.seq.to_bytes(12, "big"), strict=True))
        self.seq += 1
        try:
            inner = self.aead.decrypt(nonce, rec.payload, rec.header)
        except Exception:  # InvalidTag: not the keys we think (or a fake server)
            raise WireError("garbage", "encrypted record did not decrypt") from None
        inner = inner.rstrip(b"\x00")
        if not inner:
            raise WireError("garbage", "empty inner plaintext")
        return inner[-1], inner[:-1]


class HandshakeDecrypter(RecordDecrypter):
    """Decrypts the server's handshake records given ClientHello, ServerHello and the secret."""

    def __init__(self, suite: int, secret: bytes, transcript: bytes) -> None:
        if suite not in _AEADS:
            raise WireError("garbage", f"cannot decrypt suite 0x{suite:04x}")
        hname = _AEADS[suite][0]
        size = hashlib.new(hname).digest_size
        early = _extract(hname, b"\x00" * size, b"\x00" * size)
        derived = _expand_label(hname, early, b"derived", hashlib.new(hname, b"").digest(), size)
        hs_secret = _extract(hname, derived, secret)
        super().__init__(suite, _expand_label(hname, hs_secret, b"s hs traffic", hashlib.new(hname, transcript).digest(),
                                              size))
