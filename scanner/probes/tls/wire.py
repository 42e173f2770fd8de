"""TLS and SSL on the wire: build ClientHellos, read and parse what servers answer.

No `ssl` module here: hellos are written byte by byte, so the probe can ask for SSL 2.0,
SSL 3.0 or a post-quantum group whatever the local OpenSSL supports. Every read is
bounded by a byte cap and a deadline; anything malformed becomes a `WireError`.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import os
import struct
import time
from dataclasses import dataclass, field

from scanner.standards import tls_registry as reg

# record content types and handshake message types (RFC 8446 / RFC 5246)
CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA = 20, 21, 22, 23
SERVER_HELLO, CERTIFICATE, SERVER_KEY_EXCHANGE, SERVER_HELLO_DONE = 2, 11, 12, 14
ENCRYPTED_EXTENSIONS, CERTIFICATE_REQUEST, CERTIFICATE_VERIFY = 8, 13, 15
CERTIFICATE_STATUS, COMPRESSED_CERTIFICATE = 22, 25
HRR_RANDOM = hashlib.sha256(b"HelloRetryRequest").digest()

EXT_SERVER_NAME, EXT_STATUS_REQUEST, EXT_SUPPORTED_GROUPS, EXT_EC_POINT_FORMATS = 0x0000, 0x0005, 0x000A, 0x000B
EXT_SCT = 0x0012  # signed_certificate_timestamp (RFC 6962 §3.3)
EXT_SIGNATURE_ALGORITHMS, EXT_ALPN, EXT_PADDING = 0x000D, 0x0010, 0x0015
EXT_HEARTBEAT, EXT_ENCRYPT_THEN_MAC = 0x000F, 0x0016  # RFC 6520, RFC 7366
EXT_EXTENDED_MASTER_SECRET, EXT_SESSION_TICKET = 0x0017, 0x0023
EXT_PRE_SHARED_KEY, EXT_EARLY_DATA = 0x0029, 0x002A
EXT_SUPPORTED_VERSIONS, EXT_PSK_MODES, EXT_KEY_SHARE = 0x002B, 0x002D, 0x0033
EXT_RENEGOTIATION_INFO = 0xFF01
HEARTBEAT = 24  # record content type (RFC 6520)
NEW_SESSION_TICKET, CLIENT_KEY_EXCHANGE, FINISHED = 4, 16, 20
FALLBACK_SCSV = 0x5600  # RFC 7507
DEFLATE = 1  # compression method (RFC 3749)

ALERTS = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
    40: "handshake_failure", 42: "bad_certificate", 47: "illegal_parameter", 50: "decode_error",
    51: "decrypt_error", 70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
    86: "inappropriate_fallback", 90: "user_canceled", 109: "missing_extension",
    110: "unsupported_extension", 112: "unrecognized_name", 120: "no_application_protocol",
}

# Fixed for the whole enumeration so they never change the server's choice (strong first).
SIGNATURE_SCHEMES = (
    0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0804, 0x0805, 0x0806, 0x0809, 0x080A, 0x080B,
    0x081A, 0x081B, 0x081C, 0x0401, 0x0501, 0x0601, 0x0402, 0x0502, 0x0602,
    0x0303, 0x0301, 0x0302, 0x0203, 0x0201, 0x0202,
)
ALPN = (b"http/1.1",)
MAX_RECORD = 16384 + 2048  # RFC 8446 5.2: ciphertext may exceed plaintext by 256; be lenient


class WireError(Exception):
    """The server's answer was not TLS we can use. `kind` says how it failed."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind  # timeout | closed | reset | garbage | oversize


# ----------------------------------------------------------------------------- building


def vector(data: bytes, size: int) -> bytes:
    """`data` behind its length in `size` bytes: the TLS vector encoding (RFC 8446 §3.4)."""
    return len(data).to_bytes(size, "big") + data


def _u8(b: bytes) -> bytes:
    return vector(b, 1)


def _u16(b: bytes) -> bytes:
    return vector(b, 2)


def _ext(kind: int, body: bytes) -> bytes:
    return struct.pack("!H", kind) + _u16(body)


def _codes(codes) -> bytes:
    return b"".join(struct.pack("!H", c) for c in codes)


@dataclass
class Hello:
    """What one ClientHello offers. `versions` top first; TLS 1.3 goes in supported_versions."""

    versions: tuple[str, ...]
    suites: list[int]
    groups: list[int] = field(default_factory=list)
    key_shares: dict[int, bytes] = field(default_factory=dict)  # group -> public key bytes
    server_name: str | None = None  # see `server_name()`
    alpn: tuple[bytes, ...] = ALPN
    status_request: bool = False  # ask for a stapled OCSP response (RFC 6066 §8)
    sct: bool = False  # ask for SCTs by TLS extension (RFC 6962 §3.3)
    compression: tuple[int, ...] = (0,)  # (DEFLATE, 0) asks whether the server compresses (CRIME)
    heartbeat: bool = False  # offer the heartbeat extension (RFC 6520), for the Heartbleed test
    ticket: bytes = b""  # a session ticket to resume with (RFC 5077), in the session_ticket extension
    padding: bool = True  # pad hellos of 256-511 bytes to 512 (RFC 7685)
    random: bytes = field(default_factory=lambda: os.urandom(32))
    session_id: bytes = field(default_factory=lambda: os.urandom(32))

    @property
    def top(self) -> str:
        return self.versions[0]


def server_name(host: str) -> str | None:
    """What SNI carries for `host`: the name without a trailing dot; None for an address
    literal, which SNI never carries (RFC 6066 §3)."""
    name = host.strip().strip("[]").rstrip(".")
    try:
        ipaddress.ip_address(name.split("%", 1)[0])
        return None
    except ValueError:
        return name or None


def client_hello(h: Hello) -> tuple[bytes, bytes]:
    """(record bytes to send, handshake message bytes for the transcript)."""
    tls13 = "TLSv1.3" in h.versions
    legacy = min(reg.WIRE_VERSION[h.top], 0x0303)
    exts = []
    if h.server_name:
        try:
            name = h.server_name.encode("idna")
        except UnicodeError:  # a label the IDNA codec refuses (too long, empty): sent as it is
            name = h.server_name.encode("ascii", "replace")
        exts.append(_ext(EXT_SERVER_NAME, _u16(b"\x00" + _u16(name))))
    if h.status_request:
        exts.append(_ext(EXT_STATUS_REQUEST, b"\x01\x00\x00\x00\x00"))  # ocsp, no responder ids, no extensions
    if h.sct:
        exts.append(_ext(EXT_SCT, b""))
    if h.top != "SSLv3":
        exts.append(_ext(EXT_RENEGOTIATION_INFO, b"\x00"))
        if h.groups:
            exts.append(_ext(EXT_SUPPORTED_GROUPS, _u16(_codes(h.groups))))
            exts.append(_ext(EXT_EC_POINT_FORMATS, _u8(b"\x00")))
        exts.append(_ext(EXT_SESSION_TICKET, h.ticket))
        if h.alpn:
            exts.append(_ext(EXT_ALPN, _u16(b"".join(_u8(p) for p in h.alpn))))
        if h.heartbeat:
            exts.append(_ext(EXT_HEARTBEAT, b"\x01"))  # peer_allowed_to_send
        exts.append(_ext(EXT_ENCRYPT_THEN_MAC, b""))
        exts.append(_ext(EXT_EXTENDED_MASTER_SECRET, b""))
        exts.append(_ext(EXT_SIGNATURE_ALGORITHMS, _u16(_codes(SIGNATURE_SCHEMES))))
    if tls13:
        versions = [reg.WIRE_VERSION[v] for v in h.versions if v != "SSLv3"]
        exts.append(_ext(EXT_SUPPORTED_VERSIONS, _u8(_codes(versions))))
        exts.append(_ext(EXT_PSK_MODES, _u8(b"\x01")))
        shares = b"".join(struct.pack("!H", g) + _u16(k) for g, k in h.key_shares.items())
        exts.append(_ext(EXT_KEY_SHARE, _u16(shares)))

    def body(extensions: list[bytes]) -> bytes:
        ext_bytes = b"".join(extensions)
        return (struct.pack("!H", legacy) + h.random + _u8(h.session_id) + _u16(_codes(h.suites))
                + _u8(bytes(h.compression)) + (_u16(ext_bytes) if extensions else b""))

    msg = body(exts)
    # Some load balancers hang on hellos of 256-511 bytes (RFC 7685): pad those to 512.
    if h.padding and exts and 256 <= len(msg) + 4 <= 511:
        pad = max(512 - (len(msg) + 4) - 4, 0)
        msg = body(exts + [_ext(EXT_PADDING, b"\x00" * pad)])
    hs = struct.pack("!B", 1) + struct.pack("!I", len(msg))[1:] + msg
    record_version = 0x0300 if h.top == "SSLv3" else 0x0301
    return records(HANDSHAKE, record_version, hs), hs


def records(ctype: int, version: int, payload: bytes) -> bytes:
    """`payload` cut into TLS records of at most 2^14 bytes."""
    out = b""
    for i in range(0, len(payload), 16384):
        chunk = payload[i: i + 16384]
        out += struct.pack("!BHH", ctype, version, len(chunk)) + chunk
    return out


def sslv2_client_hello(kinds: list[int]) -> bytes:
    """An SSL 2.0 CLIENT-HELLO offering `kinds` (3-byte cipher kinds)."""
    specs = b"".join(k.to_bytes(3, "big") for k in kinds)
    challenge = os.urandom(16)
    msg = b"\x01" + struct.pack("!HHHH", 0x0002, len(specs), 0, len(challenge)) + specs + challenge
    return struct.pack("!H", 0x8000 | len(msg)) + msg


# ----------------------------------------------------------------------------- reading


class Reader:
    """Bounded reads: at most `cap` bytes in all, each read under the connection deadline."""

    def __init__(self, stream: asyncio.StreamReader, io_timeout: float, cap: int = 256 * 1024) -> None:
        self.stream = stream
        self.io_timeout = io_timeout
        self.deadline = time.monotonic() + 2 * io_timeout  # a trickling server cannot hold us
        self.left = cap
        self.got_any = False

    async def exactly(self, n: int) -> bytes:
        if n > self.left:
            raise WireError("oversize", "server sent more than the byte cap")
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise WireError("timeout", "server too slow")
        try:
            async with asyncio.timeout(min(self.io_timeout, remaining)):
                data = await self.stream.readexactly(n)
        except TimeoutError:
            raise WireError("timeout", f"no answer within {self.io_timeout:g} s") from None
        except asyncio.IncompleteReadError as exc:
            if exc.partial or self.got_any:
                raise WireError("garbage" if exc.partial else "closed", "connection closed mid-message") from None
            raise WireError("closed", "connection closed without an answer") from None
        except (ConnectionResetError, BrokenPipeError):
            raise WireError("reset", "connection reset") from None
        except OSError as exc:
            raise WireError("reset", str(exc)) from None
        self.left -= n
        self.got_any = True
        return data


@dataclass
class Record:
    ctype: int
    version: int
    header: bytes
    payload: bytes


async def read_record(r: Reader) -> Record:
    header = await r.exactly(5)
    ctype, version, length = struct.unpack("!BHH", header)
    if ctype not in (CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA, HEARTBEAT) or version >> 8 != 3:
        raise WireError("garbage", f"not a TLS record (bytes {header[:5].hex()})")
    if length == 0 or length > MAX_RECORD:
        raise WireError("garbage", f"record length {length}")
    return Record(ctype, version, header, await r.exactly(length))


@dataclass
class Alert:
    level: int
    description: int

    @property
    def name(self) -> str:
        return ALERTS.get(self.description, f"alert_{self.description}")


class Handshake:
    """Handshake messages from plaintext records, reassembled across record boundaries."""

    def __init__(self, r: Reader) -> None:
        self.r = r
        self.buf = b""
        self.alert: Alert | None = None
        self.transcript: list[bytes] = []

    async def next(self) -> tuple[int, bytes]:
        """The next (type, body); raises WireError, or returns (-1, b'') after an alert."""
        while True:
            if len(self.buf) >= 4:
                mtype = self.buf[0]
                length = int.from_bytes(self.buf[1:4], "big")
                if len(self.buf) >= 4 + length:
                    raw, self.buf = self.buf[: 4 + length], self.buf[4 + length:]
                    self.transcript.append(raw)
                    return mtype, raw[4:]
                if length > 128 * 1024:
                    raise WireError("oversize", f"handshake message of {length} bytes")
            rec = await read_record(self.r)
            if rec.ctype == ALERT:
                if len(rec.payload) < 2:
                    raise WireError("garbage", "short alert")
                self.alert = Alert(rec.payload[0], rec.payload[1])
                return -1, b""
            if rec.ctype == HANDSHAKE:
                self.buf += rec.payload
            elif rec.ctype == CHANGE_CIPHER_SPEC:
                continue
            else:
                return -2, b""  # encrypted data follows (TLS 1.3)


# ----------------------------------------------------------------------------- parsing


class Cursor:
    """Bounds-checked reading of a message body; any overrun is garbage."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise WireError("garbage", "truncated message")
        out = self.data[self.pos: self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def vec8(self) -> bytes:
        return self.take(self.u8())

    def vec16(self) -> bytes:
        return self.take(self.u16())

    def vec24(self) -> bytes:
        return self.take(int.from_bytes(self.take(3), "big"))

    @property
    def left(self) -> int:
        return len(self.data) - self.pos


def leaf_certificate(body: bytes) -> bytes:
    """The first (the server's own) certificate of a TLS <= 1.2 Certificate message, DER."""
    return Cursor(Cursor(body).vec24()).vec24()


def extensions(data: bytes) -> dict[int, bytes]:
    c, out = Cursor(data), {}
    while c.left:
        kind = c.u16()
        out[kind] = c.vec16()
    return out


@dataclass
class ServerHello:
    version: str  # negotiated, e.g. "TLSv1.2"
    session_id: bytes
    suite: int
    hrr: bool
    group: int | None  # TLS 1.3: key_share group (HelloRetryRequest: the group asked for)
    key_share: bytes | None
    extensions: dict[int, bytes]
    compression: int


def parse_server_hello(body: bytes) -> ServerHello:
    c = Cursor(body)
    legacy = c.u16()
    random = c.take(32)
    session_id = c.vec8()
    suite = c.u16()
    compression = c.u8()
    exts = extensions(c.vec16()) if c.left else {}
    version = legacy
    if EXT_SUPPORTED_VERSIONS in exts and len(exts[EXT_SUPPORTED_VERSIONS]) == 2:
        version = int.from_bytes(exts[EXT_SUPPORTED_VERSIONS], "big")
    if version not in reg.VERSION_NAME:
        raise WireError("garbage", f"server hello with version 0x{version:04x}")
    group = share = None
    hrr = random == HRR_RANDOM
    ks = exts.get(EXT_KEY_SHARE)
    if ks is not None and len(ks) >= 2:
        kc = Cursor(ks)
        group = kc.u16()
        if not hrr:
            share = kc.vec16()
    return ServerHello(reg.VERSION_NAME[version], session_id, suite, hrr, group, share, exts, compression)


@dataclass
class KeyExchange:
    """What a ServerKeyExchange says about the ephemeral key and its signature."""

    kind: str  # ecdhe | dhe | rsa_export | other
    group: int | None = None  # named curve
    curve_type: int | None = None  # 3 named, 1/2 explicit curves
    dh_p: int | None = None
    dh_g: int | None = None
    rsa_bits: int | None = None
    scheme: int | None = None  # TLS 1.2 SignatureAndHashAlgorithm
    public: bytes | None = None  # the server's ephemeral public value (EC point or DH Ys)


def parse_server_key_exchange(body: bytes, kex: str, version: str, anon: bool) -> KeyExchange:
    c = Cursor(body)
    if kex == "ECDHE":
        ke = KeyExchange("ecdhe", curve_type=c.u8())
        if ke.curve_type == 3:
            ke.group = c.u16()
            ke.public = c.vec8()
        else:
            return ke  # explicit curve parameters: nothing standard to name
    elif kex in ("DHE", "DHE_EXPORT"):
        p, g = c.vec16(), c.vec16()
        ke = KeyExchange("dhe", dh_p=int.from_bytes(p, "big"), dh_g=int.from_bytes(g, "big"), public=c.vec16())
    elif kex == "RSA_EXPORT":
        modulus = c.vec16()
        c.vec16()
        ke = KeyExchange("rsa_export", rsa_bits=int.from_bytes(modulus, "big").bit_length())
    else:
        return KeyExchange("other")
    if not anon and version == "TLSv1.2" and c.left >= 4:
        ke.scheme = c.u16()
    return ke


@dataclass
class SSLv2Hello:
    kinds: list[int]
    certificate: bytes


def parse_sslv2_server_hello(data: bytes) -> SSLv2Hello:
    c = Cursor(data)
    if c.u8() != 4:
        raise WireError("garbage", "not an SSLv2 SERVER-HELLO")
    c.u8()  # session id hit
    c.u8()  # certificate type
    version = c.u16()
    if version != 0x0002:
        raise WireError("garbage", f"SSLv2 server hello with version 0x{version:04x}")
    cert_len, specs_len, conn_len = c.u16(), c.u16(), c.u16()
    cert = c.take(cert_len)
    specs = c.take(specs_len)
    c.take(conn_len)
    kinds = [int.from_bytes(specs[i: i + 3], "big") for i in range(0, len(specs) - 2, 3)]
    return SSLv2Hello(kinds, cert)


async def read_sslv2_answer(r: Reader) -> SSLv2Hello | None:
    """The SSLv2 SERVER-HELLO, or None when the server answered anything else (TLS, error)."""
    first = await r.exactly(2)
    if first[0] & 0x80:
        length = ((first[0] & 0x7F) << 8) | first[1]
        if length < 1:
            return None
        data = await r.exactly(length)
        return parse_sslv2_server_hello(data) if data[0] == 4 else None
    return None  # a TLS record (alert) or a 3-byte SSLv2 header (never used for SERVER-HELLO)
