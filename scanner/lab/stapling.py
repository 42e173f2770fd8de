"""Lab handlers for what the local TLS stack cannot serve: stapled OCSP, SCTs by extension, garbage.

Python's `ssl` has no server-side OCSP stapling. The `stapling` handler therefore reads
the ClientHello itself; a hello that asks for certificate status (as the certificate
probe's raw hellos do) gets a hand-written first flight and then nothing more, which is
all a status reader needs:

- on a TLS 1.2 host: ServerHello (status_request and SCT extensions), Certificate,
  CertificateStatus, ServerHelloDone, in clear; no key exchange follows;
- on a TLS 1.3-only host: ServerHello with our x25519 key share, then EncryptedExtensions
  and Certificate (the OCSP response and SCTs on the leaf's entry) encrypted under the
  handshake keys (RFC 8446 §7.1, the TLS probe's key schedule in `tls.keys`); no CertificateVerify.

Every other hello (browsers, the TLS and HTTP probes) is relayed byte for byte to an
ordinary TLS server with the same certificate, so the host behaves normally otherwise.

The `garbage_certificate` handler answers every hello that way, with a Certificate whose
contents are not DER, so both the `ssl` handshake and the raw reader see a broken chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import struct
from dataclasses import dataclass

from scanner.lab.web import Site, WebServer, handler
from scanner.probes.tls import keys as tls_keys
from scanner.probes.tls.wire import HANDSHAKE, extensions, records
from scanner.probes.tls.wire import vector as _vec

TIMEOUT = 5.0
MAX_HELLO = 16 * 1024
STATUS_REQUEST, SCT, SUPPORTED_VERSIONS, KEY_SHARE, RENEGOTIATION = 5, 18, 43, 51, 0xFF01
X25519, SUITE13 = 0x001D, 0x1301
PREFERRED = (0xC02B, 0xC02C, 0xC009, 0xC00A, 0xC023)  # ECDHE-ECDSA suites (the lab keys are EC)


def _records(handshake: bytes) -> bytes:
    return records(HANDSHAKE, 0x0303, handshake)


@dataclass
class Hello:
    suites: list[int]
    extensions: dict[int, bytes]
    session_id: bytes
    version: int = 0x0303  # legacy_version

    def offers(self, version: int) -> bool:
        listed = self.extensions.get(SUPPORTED_VERSIONS)
        if listed is None:
            return self.version >= version and version <= 0x0303
        return any(int.from_bytes(listed[i:i + 2], "big") == version for i in range(1, len(listed), 2))

    def offers_tls13(self) -> bool:
        return self.offers(0x0304)

    def x25519_share(self) -> bytes | None:
        data, pos = self.extensions.get(KEY_SHARE, b""), 2
        while pos + 4 <= len(data):
            group, size = struct.unpack("!HH", data[pos:pos + 4])
            if group == X25519:
                return data[pos + 4:pos + 4 + size]
            pos += 4 + size
        return None


def parse_hello(record: bytes) -> Hello | None:
    """The parts of a ClientHello record we answer to, None if it is not one."""
    try:
        if record[0] != 0x16 or record[5] != 0x01:
            return None
        body = record[9:]
        version = int.from_bytes(body[0:2], "big")
        pos = 34
        session_id = body[pos + 1:pos + 1 + body[pos]]
        pos += 1 + body[pos]
        n = int.from_bytes(body[pos:pos + 2], "big")
        suites = [int.from_bytes(body[pos + 2 + i:pos + 4 + i], "big") for i in range(0, n, 2)]
        pos += 2 + n
        pos += 1 + body[pos]
        exts = extensions(body[pos + 2:pos + 2 + int.from_bytes(body[pos:pos + 2], "big")])
        return Hello(suites, exts, session_id, version)
    except (IndexError, struct.error):
        return None


def _certificate_entries(certificates: list[bytes], staple: bytes | None, sct_tls: bytes | None) -> bytes:
    """TLS 1.3 CertificateEntry list: status and SCTs ride on the leaf's entry (RFC 8446 §4.4.2.1)."""
    leaf_exts = b""
    if staple is not None:
        leaf_exts += struct.pack("!HH", STATUS_REQUEST, len(staple) + 4) + b"\x01" + _vec(staple, 3)
    if sct_tls is not None:
        leaf_exts += struct.pack("!HH", SCT, len(sct_tls)) + sct_tls
    return b"".join(_vec(c, 3) + _vec(leaf_exts if n == 0 else b"", 2) for n, c in enumerate(certificates))


def first_flight13(client_hello: bytes, hello: Hello, certificates: list[bytes], staple: bytes | None,
                   sct_tls: bytes | None) -> bytes:
    """ServerHello in clear, then EncryptedExtensions and Certificate under the handshake keys."""
    peer = hello.x25519_share()
    if peer is None:
        raise ValueError("no x25519 key share offered")
    key = tls_keys.generate(X25519)
    shared = tls_keys.shared_secret(key, peer)
    exts = (struct.pack("!HHH", SUPPORTED_VERSIONS, 2, 0x0304)
            + struct.pack("!HHHH", KEY_SHARE, 4 + len(key.public), X25519, len(key.public)) + key.public)
    server_hello = b"\x02" + _vec(b"\x03\x03" + os.urandom(32) + _vec(hello.session_id, 1)
                                  + struct.pack("!HB", SUITE13, 0) + _vec(exts, 2), 3)
    # The server writes with the keys a client reads with: the probe's decrypter holds them.
    keys = tls_keys.HandshakeDecrypter(SUITE13, shared, client_hello[5:] + server_hello)
    plain = (b"\x08" + _vec(_vec(b"", 2), 3)
             + b"\x0b" + _vec(b"\x00" + _vec(_certificate_entries(certificates, staple, sct_tls), 3), 3))
    out = b"\x16\x03\x03" + _vec(server_hello, 2) + b"\x14\x03\x03\x00\x01\x01"
    for seq, pos in enumerate(range(0, len(plain), 16000)):
        inner = plain[pos:pos + 16000] + b"\x16"
        header = b"\x17\x03\x03" + struct.pack("!H", len(inner) + 16)
        nonce = bytes(a ^ b for a, b in zip(keys.iv, seq.to_bytes(12, "big"), strict=True))
        out += header + keys.aead.encrypt(nonce, inner, header)
    return out


def first_flight12(suites: list[int], certificates: list[bytes], staple: bytes | None, sct_tls: bytes | None) -> bytes:
    """ServerHello, Certificate, CertificateStatus (if stapling) and ServerHelloDone, in clear."""
    suite = next((s for s in PREFERRED if s in suites), suites[0] if suites else PREFERRED[0])
    exts = struct.pack("!HH", RENEGOTIATION, 1) + b"\x00"
    if staple is not None:
        exts += struct.pack("!HH", STATUS_REQUEST, 0)
    if sct_tls is not None:
        exts += struct.pack("!HH", SCT, len(sct_tls)) + sct_tls
    hello = b"\x03\x03" + os.urandom(32) + b"\x00" + struct.pack("!H", suite) + b"\x00" + _vec(exts, 2)
    flight = b"\x02" + _vec(hello, 3)
    flight += b"\x0b" + _vec(_vec(b"".join(_vec(c, 3) for c in certificates), 3), 3)
    if staple is not None:
        flight += b"\x16" + _vec(b"\x01" + _vec(staple, 3), 3)
    flight += b"\x0e" + _vec(b"", 3)
    return _records(flight)


def answer_to(hello: Hello, tls13_host: bool) -> str | int:
    """"13" or "12" (the flight to send), or the alert a real server of this profile would send."""
    if tls13_host:
        if not hello.offers_tls13():
            return 70  # protocol_version
        return "13" if SUITE13 in hello.suites and hello.x25519_share() is not None else 40
    if not hello.offers(0x0303):
        return 70
    return "12" if any(s in hello.suites for s in PREFERRED) else 40  # handshake_failure


async def _read_record(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readexactly(5)
    size = int.from_bytes(head[3:5], "big")
    if size > MAX_HELLO:
        raise ValueError("ClientHello record too large")
    return head + await reader.readexactly(size)


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    with contextlib.suppress(Exception):
        dst.write_eof()


class _Stapler:
    def __init__(self, entry: dict, site: Site, garbage: bool) -> None:
        self.issued = entry["issued"]
        self.tls = entry["tls_context"]
        self.servers = entry["servers"]  # the lab's list of servers to stop
        self.site = site
        self.garbage = garbage
        self.tls13 = self.tls.minimum_version == ssl.TLSVersion.TLSv1_3
        self._backend: asyncio.Future | None = None

    async def _backend_port(self, ip: str) -> int:
        """The ordinary TLS server behind this host, started on first use."""
        if self._backend is None:
            server = WebServer(ip, self.site, self.tls)
            self.servers.append(server)
            self._backend = asyncio.ensure_future(server.start())
        return await asyncio.shield(self._backend)

    async def _first_flight(self, record: bytes, hello: Hello, writer: asyncio.StreamWriter) -> None:
        how = answer_to(hello, self.tls13)
        if isinstance(how, int):
            writer.write(b"\x15\x03\x03\x00\x02\x02" + bytes([how]))
        else:
            certs = self.issued.ders()
            if self.garbage:
                certs = [b"\x30\x82\x01\x00not a certificate" + os.urandom(64)]
            staple = None if self.garbage else self.issued.staple
            if how == "13":
                writer.write(first_flight13(record, hello, certs, staple, self.issued.sct_tls))
            else:
                writer.write(first_flight12(hello.suites, certs, staple, self.issued.sct_tls))
        await writer.drain()

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with asyncio.timeout(TIMEOUT * 4):
            try:
                record = await asyncio.wait_for(_read_record(reader), TIMEOUT)
            except ValueError:  # a hello too large to be ours: hang up
                return
            hello = parse_hello(record)
            if hello is not None and (self.garbage or STATUS_REQUEST in hello.extensions):
                await self._first_flight(record, hello, writer)
                writer.write_eof()  # nothing follows: a client waiting for more learns it at once
                await asyncio.wait_for(reader.read(65536), TIMEOUT)  # the client hangs up
                return
            ip = writer.get_extra_info("sockname")[0]
            port = await self._backend_port(ip)
            up_reader, up_writer = await asyncio.open_connection(ip, port)
            try:
                up_writer.write(record)
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                up_writer.close()


@handler("stapling")
def stapling(entry: dict, site: Site):
    """TLS 1.2 status requests get a stapled OCSP response (and SCTs); everything else a normal server."""
    return _Stapler(entry, site, garbage=False)


@handler("garbage_certificate")
def garbage_certificate(entry: dict, site: Site):
    """Every hello gets a Certificate message that is not DER."""
    return _Stapler(entry, site, garbage=True)
