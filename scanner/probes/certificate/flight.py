"""The server's first flight as read after our raw hello: what a TLS 1.2 (or older) server sends.

`FlightParser` takes the server's bytes as they come and fills a `Flight` (negotiated
version and suite, the certificates, the stapled OCSP response, SCTs from the TLS
extension) up to ServerHelloDone; `tls13` extends it to decrypt a TLS 1.3
flight. Every read is bounded in bytes and records; the hellos are built by `tls.wire`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from scanner.probes.tls import wire
from scanner.probes.tls.wire import WireError
from scanner.standards import tls_registry as reg

MAX_FLIGHT = 512 * 1024  # bytes of server flight we read at most
MAX_RECORDS = 512
MAX_CERTS = 64  # certificates we keep from one Certificate message (the probe judges fewer)

# TLS 1.2 and older suites, broad enough for any server that still speaks TLS 1.2.
SUITES = [0xC02B, 0xC02C, 0xC02F, 0xC030, 0xCCA9, 0xCCA8, 0xC023, 0xC024, 0xC027, 0xC028, 0xC009, 0xC00A,
          0xC013, 0xC014, 0x009E, 0x009F, 0xCCAA, 0x0067, 0x006B, 0x0033, 0x0039, 0x009C, 0x009D, 0x003C,
          0x003D, 0x002F, 0x0035, 0x000A]
GROUPS = [0x001D, 0x0017, 0x0018, 0x0019, 0x001E, 0x0100, 0x0101]


def client_hello(host: str) -> bytes:
    """The TLS record carrying our TLS 1.2 ClientHello for `host`, asking for status and SCTs."""
    record, _ = wire.client_hello(wire.Hello(("TLSv1.2",), SUITES, GROUPS, server_name=wire.server_name(host),
                                             alpn=(), status_request=True, sct=True))
    return record


@dataclass
class Flight:
    """What the server's first flight showed."""

    version: int | None = None  # negotiated (0x0303 = TLS 1.2)
    cipher: int | None = None
    certificates: list[bytes] = field(default_factory=list)
    certificate_count: int = 0  # as sent, before MAX_CERTS
    ocsp: bytes | None = None  # the stapled OCSP response (DER)
    status_acknowledged: bool = False  # ServerHello carried status_request
    sct_extension: bytes | None = None  # SignedCertificateTimestampList from the TLS extension
    done: bool = False
    error: str | None = None


class FlightParser:
    """Feed it bytes as they come; it fills a Flight and says when it has enough (TLS 1.2 and older)."""

    def __init__(self) -> None:
        self.flight = Flight()
        self._records = b""
        self._handshake = b""
        self.records = 0
        self.received = 0

    def feed(self, data: bytes) -> bool:
        """True when the flight is complete or hopeless (see `flight.error`)."""
        self.received += len(data)
        self._records += data
        if self.received > MAX_FLIGHT:
            return self._fail(f"the server's first flight exceeds {MAX_FLIGHT // 1024} KiB")
        while len(self._records) >= 5:
            ctype, major, _minor, length = struct.unpack("!BBBH", self._records[:5])
            if major != 3 or length > 18432:
                return self._fail("the answer is not a TLS record")
            if len(self._records) < 5 + length:
                break
            fragment, self._records = self._records[5:5 + length], self._records[5 + length:]
            self.records += 1
            if self.records > MAX_RECORDS:
                return self._fail("too many TLS records in the first flight")
            try:
                if self._record(ctype, fragment):
                    return True
            except (IndexError, ValueError, struct.error, WireError) as exc:
                return self._fail(f"malformed server handshake: {exc}"[:200])
        return False

    def _fail(self, reason: str) -> bool:
        self.flight.error = reason
        return True

    def _alert(self, fragment: bytes) -> bool:
        desc = (fragment + b"\x00\x00")[1]
        return self._fail(f"the server refused it with alert {wire.ALERTS.get(desc, desc)} ({desc})")

    def _record(self, ctype: int, fragment: bytes) -> bool:
        if ctype == 21:
            return self._alert(fragment)
        if ctype != 22:
            return self._fail(f"unexpected TLS record type {ctype} in the server's first flight")
        self._handshake += fragment
        while len(self._handshake) >= 4:
            kind = self._handshake[0]
            length = int.from_bytes(self._handshake[1:4], "big")
            if len(self._handshake) < 4 + length:
                return False
            raw, self._handshake = self._handshake[:4 + length], self._handshake[4 + length:]
            if self._message(kind, raw[4:], raw):
                return True
        return False

    def _message(self, kind: int, body: bytes, raw: bytes) -> bool:
        if kind == wire.SERVER_HELLO:
            self._server_hello(body)
        elif kind == wire.CERTIFICATE:
            self._certificate(body)
        elif kind == wire.CERTIFICATE_STATUS:
            if body[:1] == b"\x01":
                self.flight.ocsp = body[4:4 + int.from_bytes(body[1:4], "big")]
        elif kind == wire.SERVER_HELLO_DONE:
            self.flight.done = True
            return True
        elif kind not in (wire.SERVER_KEY_EXCHANGE, wire.CERTIFICATE_REQUEST):
            return self._fail(f"unexpected handshake message {kind} in the server's first flight")
        return False

    def _server_hello(self, body: bytes) -> None:
        hello = wire.parse_server_hello(body)
        self.flight.version = reg.WIRE_VERSION[hello.version]
        self.flight.cipher = hello.suite
        self.flight.status_acknowledged = wire.EXT_STATUS_REQUEST in hello.extensions
        self.flight.sct_extension = hello.extensions.get(wire.EXT_SCT)

    def _certificate(self, body: bytes) -> None:
        total = int.from_bytes(body[0:3], "big")
        if total + 3 != len(body):
            raise ValueError("certificate list length does not match the message")
        pos = 3
        while pos < len(body):
            size = int.from_bytes(body[pos:pos + 3], "big")
            if size == 0 or pos + 3 + size > len(body):
                raise ValueError("certificate entry length out of bounds")
            self.flight.certificate_count += 1
            if len(self.flight.certificates) < MAX_CERTS:
                self.flight.certificates.append(body[pos + 3:pos + 3 + size])
            pos += 3 + size
