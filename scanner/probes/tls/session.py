"""Full handshakes: ALPN, session resumption, ticket lifetime, 0-RTT, renegotiation.

What only a finished handshake shows is asked of a well-kept TLS library, never of a TLS
stack of our own; the library runs on memory buffers (`Pump`) over the scan's own
connection, so STARTTLS, the address policy, the caps and the connection count apply
unchanged, and every read keeps its deadline and byte cap:
- the standard library's `ssl`: at the best version ALPN (h2, http/1.1), the session and
  its ticket lifetime hint, and a second connection offering that session back
  (resumption by ticket, RFC 5077 / RFC 8446 §2.2); at the best version up to TLS 1.2 the
  same without tickets (resumption by session id). For TLS 1.3 the NewSessionTicket is also
  read from the wire (decrypted with our own session's traffic secret, which `ssl` hands
  over only as a key log file) for its `early_data` extension: a server that offers 0-RTT
  says so there;
- pyOpenSSL at the best version up to TLS 1.2, because `ssl` cannot start a renegotiation:
  a few client-initiated renegotiations (CVE-2011-1473, and CVE-2009-3555 when the server
  lacks RFC 5746).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from OpenSSL import SSL

from scanner.probes.tls import keys as tls_keys
from scanner.probes.tls import wire
from scanner.probes.tls.enumeration import TLS_DOWN, AddressScan
from scanner.standards import tls_registry as reg

RENEGOTIATIONS = 3  # client-initiated renegotiations asked for: enough to see a limit, few for the server
RAW_CAP = 64 * 1024  # server bytes kept for our own parsing (ServerHello, NewSessionTicket)
_STDLIB_VERSIONS = {"TLSv1.0": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1,
                    "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
_PYOPENSSL_VERSIONS = {"TLSv1.0": SSL.TLS1_VERSION, "TLSv1.1": SSL.TLS1_1_VERSION, "TLSv1.2": SSL.TLS1_2_VERSION}
_ALLOW_UNSAFE_LEGACY_RENEGOTIATION = 0x00040000  # SSL_OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION (not in pyOpenSSL)
HANDSHAKE_ERRORS = (ssl.SSLError, SSL.Error, wire.WireError, ConnectionError, OSError, EOFError)


class Engine:
    """A TLS engine on memory buffers: what `Pump` needs of the stdlib or pyOpenSSL object."""

    want: tuple[type[BaseException], ...]

    def feed(self, data: bytes) -> None: ...
    def feed_eof(self) -> None: ...
    def pending(self) -> bytes: ...


class StdlibEngine(Engine):
    want = (ssl.SSLWantReadError,)

    def __init__(self, ctx: ssl.SSLContext, server_name: str | None, session: ssl.SSLSession | None) -> None:
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname=server_name, session=session)

    def feed(self, data: bytes) -> None:
        self.incoming.write(data)

    def feed_eof(self) -> None:
        self.incoming.write_eof()

    def pending(self) -> bytes:
        return self.outgoing.read()


class PyOpenSSLEngine(Engine):
    want = (SSL.WantReadError,)

    def __init__(self, conn: SSL.Connection) -> None:
        self.obj = conn

    def feed(self, data: bytes) -> None:
        self.obj.bio_write(data)

    def feed_eof(self) -> None:
        self.obj.bio_shutdown()

    def pending(self) -> bytes:
        out = b""
        while True:
            try:
                out += self.obj.bio_read(65536)
            except SSL.WantReadError:
                return out


class Pump:
    """Drives an engine over an asyncio stream: flush what it wrote, feed what the server
    sent (keeping a capped copy), until a step stops asking for more. Every read is bounded
    by the io timeout and a deadline; the stream by the scan's byte cap."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, engine: Engine,
                 io_timeout: float) -> None:
        self.reader, self.writer, self.engine, self.io_timeout = reader, writer, engine, io_timeout
        self.raw = bytearray()
        self.received = 0

    async def drive(self, step, *, patience: float | None = None):
        """`step()` until it returns; `patience` bounds the whole drive (default 2 io timeouts)."""
        deadline = time.monotonic() + (patience if patience is not None else 2 * self.io_timeout)
        while True:
            try:
                result = step()
            except self.engine.want:
                await self.flush()
                await self.fill(deadline)
                continue
            await self.flush()
            return result

    async def flush(self) -> None:
        data = self.engine.pending()
        if data:
            self.writer.write(data)
            async with asyncio.timeout(self.io_timeout):
                await self.writer.drain()

    async def fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise wire.WireError("timeout", "server too slow")
        try:
            async with asyncio.timeout(min(self.io_timeout, remaining)):
                data = await self.reader.read(16384)
        except TimeoutError:
            raise wire.WireError("timeout", f"no answer within {self.io_timeout:g} s") from None
        self.received += len(data)
        if self.received > 4 * 1024 * 1024:
            raise wire.WireError("oversize", "server sent more than the byte cap")
        if not data:
            self.engine.feed_eof()
            return
        if len(self.raw) < RAW_CAP:
            self.raw += data[: RAW_CAP - len(self.raw)]
        self.engine.feed(data)


# ----------------------------------------------------------------------------- the server's bytes


def server_records(raw: bytes) -> list[wire.Record]:
    """The complete records in what the server sent (a cut-off tail is dropped)."""
    out, pos = [], 0
    while pos + 5 <= len(raw):
        length = int.from_bytes(raw[pos + 3: pos + 5], "big")
        if pos + 5 + length > len(raw):
            break
        out.append(wire.Record(raw[pos], int.from_bytes(raw[pos + 1: pos + 3], "big"), raw[pos: pos + 5],
                               raw[pos + 5: pos + 5 + length]))
        pos += 5 + length
    return out


def messages(data: bytes) -> list[tuple[int, bytes]]:
    """Handshake messages (type, body) in concatenated handshake bytes."""
    out, c = [], wire.Cursor(data)
    while c.left >= 4:
        mtype = c.u8()
        length = int.from_bytes(c.take(3), "big")
        if length > c.left:
            break
        out.append((mtype, c.take(length)))
    return out


def plaintext_messages(raw: bytes) -> list[tuple[int, bytes]]:
    """The server's handshake messages before it starts encrypting (its ChangeCipherSpec)."""
    data = b""
    for rec in server_records(raw):
        if rec.ctype != wire.HANDSHAKE:
            break
        data += rec.payload
    return messages(data)


def server_hello(raw: bytes) -> wire.ServerHello | None:
    found = [body for mtype, body in plaintext_messages(raw) if mtype == wire.SERVER_HELLO]
    try:
        return wire.parse_server_hello(found[0]) if found else None
    except wire.WireError:
        return None


def early_data_offer(raw: bytes, secrets: dict[str, bytes]) -> int | None:
    """Largest max_early_data_size in the TLS 1.3 NewSessionTickets (0: tickets without
    0-RTT), None when no ticket could be read. The handshake records are opened with the
    server's handshake secret up to its Finished, the tickets with its first traffic secret."""
    sh = server_hello(raw)
    hs_secret, app_secret = secrets.get("SERVER_HANDSHAKE_TRAFFIC_SECRET"), secrets.get("SERVER_TRAFFIC_SECRET_0")
    if sh is None or hs_secret is None or app_secret is None:
        return None
    handshake = tls_keys.RecordDecrypter(sh.suite, hs_secret)
    application = tls_keys.RecordDecrypter(sh.suite, app_secret)
    finished, plain, offers = False, b"", []
    for rec in server_records(raw):
        if rec.ctype != wire.APPLICATION_DATA:
            continue
        try:
            ctype, data = (application if finished else handshake).open(rec)
        except wire.WireError:
            return None
        if ctype != wire.HANDSHAKE:
            continue
        plain += data
        for mtype, body in messages(plain):
            plain = plain[4 + len(body):]
            if mtype == wire.FINISHED:
                finished = True
            elif mtype == wire.NEW_SESSION_TICKET and finished:
                offers.append(_ticket_early_data(body))
    return max(offers) if offers else None


def _ticket_early_data(body: bytes) -> int:
    c = wire.Cursor(body)
    c.take(8)  # ticket_lifetime, ticket_age_add
    c.vec8()  # nonce
    c.vec16()  # ticket
    ext = wire.extensions(c.vec16())
    early = ext.get(wire.EXT_EARLY_DATA)
    return int.from_bytes(early, "big") if early and len(early) == 4 else 0


def _key_log(path: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    with contextlib.suppress(OSError):
        for line in path.read_text(encoding="ascii", errors="replace").splitlines():
            parts = line.split()
            if len(parts) == 3:
                out[parts[0]] = bytes.fromhex(parts[2])
    return out


# ----------------------------------------------------------------------------- ssl: the best version


@dataclass
class Handshake:
    """What one full handshake of the standard library showed."""

    version: str | None = None
    alpn: str | None = None
    context: ssl.SSLContext | None = None  # a session resumes only through the context that made it
    session: ssl.SSLSession | None = None
    resumed: bool = False
    early_data: int | None = None
    error: str | None = None


def _stdlib_context(version: str, alpn: tuple[str, ...], key_log: Path | None, tickets: bool) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET  # the server can then resume only by session id
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the certificate is the certificate probe's; here only the handshake counts
    ctx.minimum_version = ctx.maximum_version = _STDLIB_VERSIONS[version]
    if version != "TLSv1.3":
        ctx.set_ciphers("ALL:@SECLEVEL=0")  # whatever the server accepts, as a legacy client would
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    if key_log is not None:
        ctx.keylog_filename = str(key_log)
    return ctx


async def full_handshake(scan: AddressScan, version: str, *, alpn: tuple[str, ...] = (),
                         resume: Handshake | None = None, tickets: bool = True) -> Handshake:
    """One handshake with `ssl` at `version` (offering the session of `resume` if given; without
    `tickets`, a TLS <= 1.2 session the server can only resume by id); for TLS 1.3 it also
    waits (one io timeout at most) for the tickets that follow the handshake."""
    out = Handshake()
    session = resume.session if resume else None
    with tempfile.TemporaryDirectory(prefix="bolwerk-tls-") as tmp:
        key_log = Path(tmp) / "keys" if version == "TLSv1.3" and resume is None else None
        try:
            out.context = resume.context if resume else _stdlib_context(version, alpn, key_log, tickets)
            engine = StdlibEngine(out.context, scan.sni, session)
            async with scan.stream() as (reader, writer):
                pump = Pump(reader, writer, engine, scan.ctx.io_timeout)
                await pump.drive(engine.obj.do_handshake)
                out.version = engine.obj.version()
                if out.version == "TLSv1.3" and session is None:
                    await _await_tickets(pump, engine.obj)
                await _close(pump, engine.obj)
        except HANDSHAKE_ERRORS as exc:
            out.error = f"{type(exc).__name__}: {exc}"[:200]
            return out
        out.alpn = engine.obj.selected_alpn_protocol()
        out.session = engine.obj.session
        out.resumed = engine.obj.session_reused
        if key_log is not None:
            out.early_data = early_data_offer(bytes(pump.raw), _key_log(key_log))
    return out


async def _await_tickets(pump: Pump, obj: ssl.SSLObject) -> None:
    """Read what follows a TLS 1.3 handshake until a session ticket came (or the server
    stays silent for an io timeout: a server without tickets)."""

    def ticket() -> None:
        with contextlib.suppress(ssl.SSLWantReadError):
            obj.read(1)  # processes what came (NewSessionTicket)
        if not (obj.session and obj.session.has_ticket):
            raise ssl.SSLWantReadError  # more, please

    with contextlib.suppress(*HANDSHAKE_ERRORS):
        await pump.drive(ticket, patience=pump.io_timeout)


async def _close(pump: Pump, obj: ssl.SSLObject) -> None:
    """Send close_notify, as a polite client does (without waiting for the server's): a
    server drops a session from its cache when the connection ends without one (OpenSSL),
    so resumption by id needs it."""
    with contextlib.suppress(*HANDSHAKE_ERRORS):
        obj.unwrap()
    with contextlib.suppress(*HANDSHAKE_ERRORS):
        await pump.flush()


# ----------------------------------------------------------------------------- pyOpenSSL: renegotiation


@dataclass
class Renegotiation:
    """A TLS <= 1.2 handshake with pyOpenSSL and the client-initiated renegotiations after it."""

    version: str
    attempted: int = 0
    accepted: int = 0
    secure: bool | None = None  # the ServerHello carried renegotiation_info (RFC 5746)
    error: str | None = None
    publics: list[tuple[str, bytes]] = field(default_factory=list)


def _pyopenssl_context(version: str) -> SSL.Context:
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_min_proto_version(_PYOPENSSL_VERSIONS[version])
    ctx.set_max_proto_version(_PYOPENSSL_VERSIONS[version])
    ctx.set_cipher_list(b"ALL:@SECLEVEL=0")
    # Talk to servers without RFC 5746 too, and renegotiate with them: that is the test.
    ctx.set_options(SSL.OP_LEGACY_SERVER_CONNECT | _ALLOW_UNSAFE_LEGACY_RENEGOTIATION)
    return ctx


async def renegotiation(scan: AddressScan, version: str) -> Renegotiation:
    out = Renegotiation(version)
    conn = SSL.Connection(_pyopenssl_context(version), None)
    if scan.sni:
        conn.set_tlsext_host_name(scan.sni.encode("idna"))
    conn.set_connect_state()
    engine = PyOpenSSLEngine(conn)
    try:
        async with scan.stream() as (reader, writer):
            pump = Pump(reader, writer, engine, scan.ctx.io_timeout)
            await pump.drive(conn.do_handshake)
            sh = server_hello(bytes(pump.raw))
            if sh is not None:
                out.secure = wire.EXT_RENEGOTIATION_INFO in sh.extensions
            out.publics = _key_exchange_publics(bytes(pump.raw), sh)
            for _ in range(RENEGOTIATIONS):
                out.attempted += 1
                try:
                    conn.renegotiate()
                    await pump.drive(conn.do_handshake)
                except HANDSHAKE_ERRORS:
                    break  # refused: an alert, a closed connection or silence
                out.accepted += 1
    except HANDSHAKE_ERRORS as exc:
        if out.attempted == 0:
            out.error = f"{type(exc).__name__}: {exc}"[:200]
    return out


def _key_exchange_publics(raw: bytes, sh: wire.ServerHello | None) -> list[tuple[str, bytes]]:
    """The ephemeral public value of a TLS <= 1.2 ServerKeyExchange, as (kind, value)."""
    suite = reg.suites().get(sh.suite) if sh else None
    if sh is None or suite is None:
        return []
    for mtype, body in plaintext_messages(raw):
        if mtype == wire.SERVER_KEY_EXCHANGE:
            with contextlib.suppress(wire.WireError):
                kx = wire.parse_server_key_exchange(body, suite.kex, sh.version, suite.auth == "anon")
                if kx.public is not None:
                    return [(kx.kind, kx.public)]
    return []


def best_legacy(scan: AddressScan) -> str | None:
    """The best version up to TLS 1.2 (renegotiation, session ids) the libraries also speak."""
    return next(iter(scan.offered(v for v in TLS_DOWN if v in _PYOPENSSL_VERSIONS)), None)


def best_stdlib(scan: AddressScan) -> str | None:
    """The server's best version that `ssl` speaks (no SSL 3.0)."""
    return next(iter(scan.offered(v for v in TLS_DOWN if v in _STDLIB_VERSIONS)), None)

