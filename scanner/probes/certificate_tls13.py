"""Read the encrypted Certificate message of a TLS 1.3 handshake (RFC 8446), for stapled OCSP and SCTs.

On TLS 1.3 the server's certificate, its stapled OCSP response and its SCTs travel in
the Certificate message, encrypted under the handshake traffic keys. Those keys need no
secret of the server's: they follow from our own ephemeral key share and the server's,
so a client that completes the key exchange can read the server's first flight. We send
one ClientHello (TLS 1.3 only, key shares for x25519, P-256 and P-384, status_request and
signed_certificate_timestamp), derive the server handshake traffic secret (§7.1), decrypt
records (§5.2) up to the Certificate message, read the leaf entry's extensions (§4.4.2:
status_request carries a CertificateStatus, signed_certificate_timestamp an SCT list),
and hang up. We do not verify CertificateVerify or Finished: we only read what the
server sent, and the chain is judged on its own merits.

A HelloRetryRequest (a server that wants another group) is reported, not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import struct

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from scanner.probes.certificate_hello import (
    EXT_SCT,
    EXT_SERVER_NAME,
    EXT_SIGALGS,
    EXT_STATUS_REQUEST,
    HS_CERTIFICATE,
    HS_SERVER_HELLO,
    MAX_CERTS,
    SIGALGS,
    Flight,
    FlightParser,
    _ext,
    _vec,
)

EXT_GROUPS, EXT_SUPPORTED_VERSIONS, EXT_KEY_SHARE = 10, 43, 51
HS_ENCRYPTED_EXTENSIONS, HS_CERTIFICATE_REQUEST, HS_COMPRESSED_CERTIFICATE = 8, 13, 25
X25519, SECP256R1, SECP384R1 = 0x001D, 0x0017, 0x0018
TLS13 = 0x0304
# suite -> (hash, AEAD, key length)
SUITES = {0x1301: (hashlib.sha256, AESGCM, 16), 0x1302: (hashlib.sha384, AESGCM, 32),
          0x1303: (hashlib.sha256, ChaCha20Poly1305, 32)}
HRR_RANDOM = hashlib.sha256(b"HelloRetryRequest").digest()
_CURVES = {SECP256R1: ec.SECP256R1, SECP384R1: ec.SECP384R1}


# -- the key schedule (RFC 8446 §7.1), shared with the lab's TLS 1.3 stapling server ----------

def hkdf_extract(salt: bytes, ikm: bytes, hash_fn) -> bytes:
    return hmac.new(salt, ikm, hash_fn).digest()


def hkdf_expand_label(secret: bytes, label: bytes, context: bytes, length: int, hash_fn) -> bytes:
    full = b"tls13 " + label
    info = struct.pack("!H", length) + _vec(full, 1) + _vec(context, 1)
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(secret, block + info + bytes([counter]), hash_fn).digest()
        out += block
        counter += 1
    return out[:length]


def server_handshake_secret(suite: int, shared: bytes, transcript_hash: bytes) -> bytes:
    """server_handshake_traffic_secret, from the (EC)DHE secret and Hash(ClientHello..ServerHello)."""
    hash_fn = SUITES[suite][0]
    size = hash_fn().digest_size
    early = hkdf_extract(b"\x00" * size, b"\x00" * size, hash_fn)  # no PSK
    derived = hkdf_expand_label(early, b"derived", hash_fn(b"").digest(), size, hash_fn)
    handshake = hkdf_extract(derived, shared, hash_fn)
    return hkdf_expand_label(handshake, b"s hs traffic", transcript_hash, size, hash_fn)


def traffic_keys(suite: int, secret: bytes) -> tuple[bytes, bytes]:
    """(key, iv) from a traffic secret (RFC 8446 §7.3)."""
    hash_fn, _aead, key_len = SUITES[suite]
    return hkdf_expand_label(secret, b"key", b"", key_len, hash_fn), hkdf_expand_label(secret, b"iv", b"", 12, hash_fn)


def server_handshake_keys(suite: int, shared: bytes, transcript: bytes) -> tuple[bytes, bytes]:
    """(key, iv) protecting the server's handshake records, from the ECDHE secret and CH..SH."""
    return traffic_keys(suite, server_handshake_secret(suite, shared, SUITES[suite][0](transcript).digest()))


def record_nonce(iv: bytes, sequence: int) -> bytes:
    return bytes(a ^ b for a, b in zip(iv, sequence.to_bytes(12, "big"), strict=True))


class KeyShares:
    """Our ephemeral keys, one per offered group."""

    def __init__(self) -> None:
        self.x25519 = x25519.X25519PrivateKey.generate()
        self.ec = {group: ec.generate_private_key(curve()) for group, curve in _CURVES.items()}

    def public(self) -> list[tuple[int, bytes]]:
        out = [(X25519, self.x25519.public_key().public_bytes(serialization.Encoding.Raw,
                                                              serialization.PublicFormat.Raw))]
        for group, key in self.ec.items():
            out.append((group, key.public_key().public_bytes(serialization.Encoding.X962,
                                                             serialization.PublicFormat.UncompressedPoint)))
        return out

    def shared(self, group: int, peer: bytes) -> bytes:
        if group == X25519:
            return self.x25519.exchange(x25519.X25519PublicKey.from_public_bytes(peer))
        if group in self.ec:
            point = ec.EllipticCurvePublicKey.from_encoded_point(_CURVES[group](), peer)
            return self.ec[group].exchange(ec.ECDH(), point)
        raise ValueError(f"the server chose group 0x{group:04x}, which we did not offer")


def client_hello13(host: str, shares: KeyShares) -> bytes:
    """A TLS 1.3-only ClientHello record asking for certificate status and SCTs."""
    exts = b""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        exts += _ext(EXT_SERVER_NAME, _vec(b"\x00" + _vec(host.rstrip(".").encode("ascii", "replace"), 2), 2))
    exts += _ext(EXT_SUPPORTED_VERSIONS, _vec(struct.pack("!H", TLS13), 1))
    exts += _ext(EXT_GROUPS, _vec(struct.pack("!HHH", X25519, SECP256R1, SECP384R1), 2))
    exts += _ext(EXT_KEY_SHARE, _vec(b"".join(struct.pack("!H", g) + _vec(k, 2) for g, k in shares.public()), 2))
    exts += _ext(EXT_SIGALGS, _vec(b"".join(struct.pack("!H", s) for s in SIGALGS), 2))
    exts += _ext(EXT_STATUS_REQUEST, b"\x01\x00\x00\x00\x00")
    exts += _ext(EXT_SCT, b"")
    body = (b"\x03\x03" + os.urandom(32) + _vec(os.urandom(32), 1)
            + _vec(b"".join(struct.pack("!H", s) for s in SUITES), 2) + _vec(b"\x00", 1) + _vec(exts, 2))
    return b"\x16\x03\x01" + _vec(b"\x01" + _vec(body, 3), 2)


def parse_extensions(data: bytes) -> dict[int, bytes]:
    out, pos = {}, 0
    while pos + 4 <= len(data):
        kind, size = struct.unpack("!HH", data[pos:pos + 4])
        out[kind] = data[pos + 4:pos + 4 + size]
        pos += 4 + size
    return out


def parse_certificate13(body: bytes, flight: Flight) -> None:
    """A TLS 1.3 Certificate message: entries, and the leaf's status and SCT extensions."""
    pos = 1 + body[0]  # certificate_request_context
    end = pos + 3 + int.from_bytes(body[pos:pos + 3], "big")
    if end != len(body):
        raise ValueError("certificate list length does not match the message")
    pos += 3
    while pos < end:
        size = int.from_bytes(body[pos:pos + 3], "big")
        cert = body[pos + 3:pos + 3 + size]
        pos += 3 + size
        ext_len = int.from_bytes(body[pos:pos + 2], "big")
        exts = parse_extensions(body[pos + 2:pos + 2 + ext_len])
        pos += 2 + ext_len
        if size == 0 or len(cert) != size or pos > end:
            raise ValueError("certificate entry length out of bounds")
        if flight.certificate_count == 0:
            status = exts.get(EXT_STATUS_REQUEST)
            if status and status[0] == 1:
                flight.ocsp = status[4:4 + int.from_bytes(status[1:4], "big")]
                flight.status_acknowledged = True
            if EXT_SCT in exts:
                flight.sct_extension = exts[EXT_SCT]
        flight.certificate_count += 1
        if len(flight.certificates) < MAX_CERTS:
            flight.certificates.append(cert)


class Tls13FlightParser(FlightParser):
    """The server's flight up to its Certificate message, decrypting what follows ServerHello."""

    def __init__(self, client_hello: bytes, shares: KeyShares) -> None:
        super().__init__()
        self.transcript = client_hello[5:]
        self.shares = shares
        self.keys: tuple[int, bytes, bytes] | None = None  # suite, key, iv
        self.sequence = 0

    def _record(self, ctype: int, fragment: bytes) -> bool:
        if ctype == 20 and self.keys is not None:
            return False  # middlebox-compatibility ChangeCipherSpec
        if ctype == 23 and self.keys is not None:
            suite, key, iv = self.keys
            aead = SUITES[suite][1](key)
            header = bytes([23, 3, 3]) + struct.pack("!H", len(fragment))
            try:
                inner = aead.decrypt(record_nonce(iv, self.sequence), fragment, header)
            except Exception:  # InvalidTag: we derived the wrong keys, or the record is damaged
                return self._fail("could not decrypt the server's TLS 1.3 handshake")
            self.sequence += 1
            inner = inner.rstrip(b"\x00")
            if not inner:
                return self._fail("empty TLS 1.3 inner record")
            ctype, fragment = inner[-1], inner[:-1]
            if ctype == 21:
                return self._alert(fragment)
        return super()._record(ctype, fragment)

    def _message(self, kind: int, body: bytes, raw: bytes) -> bool:
        if kind == HS_SERVER_HELLO:
            return self._server_hello13(body, raw)
        if kind in (HS_ENCRYPTED_EXTENSIONS, HS_CERTIFICATE_REQUEST):
            return False
        if kind == HS_CERTIFICATE:
            parse_certificate13(body, self.flight)
            self.flight.done = True
            return True
        if kind == HS_COMPRESSED_CERTIFICATE:
            return self._fail("the server compressed its certificate, which we did not offer")
        return self._fail(f"unexpected handshake message {kind} before the TLS 1.3 Certificate")

    def _server_hello13(self, body: bytes, raw: bytes) -> bool:
        if body[2:34] == HRR_RANDOM:
            return self._fail("the server asked for another key share (HelloRetryRequest); not followed")
        pos = 35 + body[34]
        suite = int.from_bytes(body[pos:pos + 2], "big")
        pos += 3
        exts = parse_extensions(body[pos + 2:pos + 2 + int.from_bytes(body[pos:pos + 2], "big")])
        version = exts.get(EXT_SUPPORTED_VERSIONS)
        if version != struct.pack("!H", TLS13):
            return self._fail("the server did not choose TLS 1.3")
        if suite not in SUITES or EXT_KEY_SHARE not in exts:
            return self._fail(f"the server chose suite 0x{suite:04x} or no key share")
        share = exts[EXT_KEY_SHARE]
        group, size = struct.unpack("!HH", share[:4])
        shared = self.shares.shared(group, share[4:4 + size])
        self.transcript += raw
        self.keys = (suite, *server_handshake_keys(suite, shared, self.transcript))
        self.flight.version, self.flight.cipher = TLS13, suite
        return False
