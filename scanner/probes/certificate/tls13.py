"""Read the encrypted Certificate message of a TLS 1.3 handshake (RFC 8446), for stapled OCSP and SCTs.

On TLS 1.3 the server's certificate, its stapled OCSP response and its SCTs travel in
the Certificate message, encrypted under the handshake traffic keys. Those keys need no
secret of the server's: they follow from our own ephemeral key share and the server's,
so a client that completes the key exchange can read the server's first flight. We send
one ClientHello (TLS 1.3 only, key shares for x25519, P-256 and P-384, status_request and
signed_certificate_timestamp), derive the server handshake traffic keys (§7.1, with the
TLS pillar's key schedule in `tls.keys`), decrypt records (§5.2) up to the Certificate
message, read the leaf entry's extensions (§4.4.2: status_request carries a
CertificateStatus, signed_certificate_timestamp an SCT list), and hang up. We do not
verify CertificateVerify or Finished: we only read what the server sent, and the chain
is judged on its own merits. The ClientHello itself is built by `tls.wire`.

A HelloRetryRequest (a server that wants another group) is reported, not followed.
"""

from __future__ import annotations

import struct

from scanner.probes.certificate.flight import MAX_CERTS, Flight, FlightParser
from scanner.probes.tls import keys as tls_keys
from scanner.probes.tls import wire
from scanner.probes.tls.wire import Record, WireError, extensions

X25519, SECP256R1, SECP384R1 = 0x001D, 0x0017, 0x0018
GROUPS = (X25519, SECP256R1, SECP384R1)
SUITES = (0x1301, 0x1302, 0x1303)
TLS13 = 0x0304


def key_shares() -> list[tls_keys.KeyPair]:
    """Our ephemeral keys, one per offered group (the TLS pillar's key schedule does the rest)."""
    return [kp for group in GROUPS if (kp := tls_keys.generate(group)) is not None]


def client_hello13(host: str, shares: list[tls_keys.KeyPair]) -> bytes:
    """A TLS 1.3-only ClientHello record asking for certificate status and SCTs."""
    record, _ = wire.client_hello(wire.Hello(("TLSv1.3",), list(SUITES), list(GROUPS),
                                             {kp.group: kp.public for kp in shares}, wire.server_name(host),
                                             alpn=(), status_request=True, sct=True))
    return record


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
        exts = extensions(body[pos + 2:pos + 2 + ext_len])
        pos += 2 + ext_len
        if size == 0 or len(cert) != size or pos > end:
            raise ValueError("certificate entry length out of bounds")
        if flight.certificate_count == 0:
            status = exts.get(wire.EXT_STATUS_REQUEST)
            if status and status[0] == 1:
                flight.ocsp = status[4:4 + int.from_bytes(status[1:4], "big")]
                flight.status_acknowledged = True
            if wire.EXT_SCT in exts:
                flight.sct_extension = exts[wire.EXT_SCT]
        flight.certificate_count += 1
        if len(flight.certificates) < MAX_CERTS:
            flight.certificates.append(cert)


class Tls13FlightParser(FlightParser):
    """The server's flight up to its Certificate message, decrypting what follows ServerHello."""

    def __init__(self, client_hello: bytes, shares: list[tls_keys.KeyPair]) -> None:
        super().__init__()
        self.transcript = client_hello[5:]
        self.shares = {kp.group: kp for kp in shares}
        self.decrypter: tls_keys.HandshakeDecrypter | None = None

    def _record(self, ctype: int, fragment: bytes) -> bool:
        if ctype == 20 and self.decrypter is not None:
            return False  # middlebox-compatibility ChangeCipherSpec
        if ctype == 23 and self.decrypter is not None:
            header = bytes([23, 3, 3]) + struct.pack("!H", len(fragment))
            try:
                ctype, fragment = self.decrypter.open(Record(23, 0x0303, header, fragment))
            except WireError as exc:  # we derived the wrong keys, or the record is damaged
                return self._fail(f"could not decrypt the server's TLS 1.3 handshake ({exc})")
            if ctype == 21:
                return self._alert(fragment)
        return super()._record(ctype, fragment)

    def _message(self, kind: int, body: bytes, raw: bytes) -> bool:
        if kind == wire.SERVER_HELLO:
            return self._server_hello13(body, raw)
        if kind in (wire.ENCRYPTED_EXTENSIONS, wire.CERTIFICATE_REQUEST):
            return False
        if kind == wire.CERTIFICATE:
            parse_certificate13(body, self.flight)
            self.flight.done = True
            return True
        if kind == wire.COMPRESSED_CERTIFICATE:
            return self._fail("the server compressed its certificate, which we did not offer")
        return self._fail(f"unexpected handshake message {kind} before the TLS 1.3 Certificate")

    def _server_hello13(self, body: bytes, raw: bytes) -> bool:
        hello = wire.parse_server_hello(body)
        if hello.hrr:
            return self._fail("the server asked for another key share (HelloRetryRequest); not followed")
        if hello.version != "TLSv1.3":
            return self._fail("the server did not choose TLS 1.3")
        suite = hello.suite
        if suite not in SUITES or hello.key_share is None:
            return self._fail(f"the server chose suite 0x{suite:04x} or no key share")
        if hello.group not in self.shares:
            return self._fail(f"the server chose group 0x{hello.group:04x}, which we did not offer")
        try:
            shared = tls_keys.shared_secret(self.shares[hello.group], hello.key_share)
            self.decrypter = tls_keys.HandshakeDecrypter(suite, shared, self.transcript + raw)
        except WireError as exc:
            return self._fail(str(exc))
        self.flight.version, self.flight.cipher = TLS13, suite
        return False
