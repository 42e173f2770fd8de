"""Lab handlers for what the local TLS stack cannot serve: stapled OCSP, SCTs by extension, garbage.

Python's `ssl` has no server-side OCSP stapling. The `stapling` handler therefore reads
the ClientHello itself: a TLS 1.2 hello that asks for certificate status (as the
certificate probe's raw hello does) gets a hand-written first flight (ServerHello with
status_request and SCT extensions, Certificate, CertificateStatus, ServerHelloDone) and
then nothing more; that is all a status reader needs, and no key exchange happens. Every
other hello (browsers, the TLS and HTTP probes) is relayed byte for byte to an ordinary
TLS server with the same certificate, so the host behaves normally otherwise.

The `garbage_certificate` handler answers every hello with a Certificate message whose
contents are not DER, so both the `ssl` handshake and the raw reader see a broken chain.

Both speak TLS 1.2 only: on TLS 1.3 the certificate and its status are encrypted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct

from scanner.lab.web import Site, WebServer, handler

TIMEOUT = 5.0
MAX_HELLO = 16 * 1024
STATUS_REQUEST, SCT, RENEGOTIATION = 5, 18, 0xFF01
PREFERRED = (0xC02B, 0xC02C, 0xC009, 0xC00A, 0xC023)  # ECDHE-ECDSA suites (the lab keys are EC)


def _vec(data: bytes, size: int) -> bytes:
    return len(data).to_bytes(size, "big") + data


def _records(handshake: bytes) -> bytes:
    out = b""
    for pos in range(0, len(handshake), 16384):
        out += b"\x16\x03\x03" + _vec(handshake[pos:pos + 16384], 2)
    return out


def parse_hello(record: bytes) -> tuple[list[int], set[int]] | None:
    """(offered suites, extension types) of a ClientHello record, None if it is not one."""
    try:
        if record[0] != 0x16 or record[5] != 0x01:
            return None
        body = record[9:]
        pos = 34
        pos += 1 + body[pos]
        n = int.from_bytes(body[pos:pos + 2], "big")
        suites = [int.from_bytes(body[pos + 2 + i:pos + 4 + i], "big") for i in range(0, n, 2)]
        pos += 2 + n
        pos += 1 + body[pos]
        end = pos + 2 + int.from_bytes(body[pos:pos + 2], "big")
        pos += 2
        exts = set()
        while pos + 4 <= end:
            kind, size = struct.unpack("!HH", body[pos:pos + 4])
            exts.add(kind)
            pos += 4 + size
        return suites, exts
    except (IndexError, struct.error):
        return None


def first_flight(suites: list[int], certificates: list[bytes], staple: bytes | None, sct_tls: bytes | None) -> bytes:
    """ServerHello, Certificate, CertificateStatus (if stapling) and ServerHelloDone."""
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
        self._backend: asyncio.Future | None = None

    async def _backend_port(self, ip: str) -> int:
        """The ordinary TLS server behind this host, started on first use."""
        if self._backend is None:
            server = WebServer(ip, self.site, self.tls)
            self.servers.append(server)
            self._backend = asyncio.ensure_future(server.start())
        return await asyncio.shield(self._backend)

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(TIMEOUT * 4):
                record = await asyncio.wait_for(_read_record(reader), TIMEOUT)
                hello = parse_hello(record)
                if self.garbage or (hello is not None and STATUS_REQUEST in hello[1]):
                    certs = [b"\x30\x82\x01\x00not a certificate" + os.urandom(64)] if self.garbage else self.issued.ders()
                    writer.write(first_flight(hello[0] if hello else [], certs,
                                              None if self.garbage else self.issued.staple, self.issued.sct_tls))
                    await writer.drain()
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
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, OSError, ValueError):
            pass
        finally:
            writer.close()


@handler("stapling")
def stapling(entry: dict, site: Site):
    """TLS 1.2 status requests get a stapled OCSP response (and SCTs); everything else a normal server."""
    return _Stapler(entry, site, garbage=False)


@handler("garbage_certificate")
def garbage_certificate(entry: dict, site: Site):
    """Every hello gets a Certificate message that is not DER."""
    return _Stapler(entry, site, garbage=True)
