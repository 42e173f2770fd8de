"""A scripted TLS/SSL responder for what local OpenSSL will not serve.

It answers ClientHellos as a server with the configured versions, suites and groups
would: SSL 2.0 and SSL 3.0 servers, post-quantum hybrid groups (chosen through a
HelloRetryRequest, no PQ maths needed), and the misbehaving servers of the real world
(resets, stalls, garbage, hellos dropped for their size). It never completes a
handshake: a scanner only needs the server's first flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from dataclasses import dataclass, field

from scanner.probes.tls import wire
from scanner.standards import tls_registry as reg

# server key share sizes per group (hybrids: ML-KEM ciphertext + classical share)
SHARE_SIZES = {0x001D: 32, 0x001E: 56, 0x0017: 65, 0x0018: 97, 0x0019: 133,
               0x11EC: 1088 + 32, 0x11EB: 65 + 1088, 0x11ED: 97 + 1568}


@dataclass
class Script:
    """How the responder behaves. Suites are listed in the server's order of preference."""

    versions: tuple[str, ...] = ("TLSv1.2",)
    suites: dict[str, list[int]] = field(default_factory=dict)  # version -> codes
    groups: list[int] = field(default_factory=lambda: [0x001D, 0x0017])  # TLS 1.3 groups
    curves: list[int] = field(default_factory=lambda: [0x001D, 0x0017])  # TLS <= 1.2 ECDHE curves
    sslv2_kinds: list[int] = field(default_factory=list)
    dh_prime: int | None = None
    behaviour: str = "normal"  # normal | reset | stall | garbage | garbage_after_hello | drop_large
    max_hello: int = 0  # drop_large: hellos above this many bytes get no answer
    certificate: bytes = b"\x30\x03\x02\x01\x00"  # DER; the probe does not judge it here


class Responder:
    """A connection handler (for a `Listener`) that answers as `script` says."""

    def __init__(self, script: Script) -> None:
        self.script = script

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                await self._answer(reader, writer)
        except (wire.WireError, ValueError, IndexError):  # a hello we cannot read: hang up
            pass

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        s = self.script
        head = await reader.readexactly(2)
        if head[0] & 0x80:  # SSL 2.0 record header
            body = await reader.readexactly(((head[0] & 0x7F) << 8) | head[1])
            answer = self._sslv2(body)
            if answer:  # a server without SSL 2.0 hangs up at once
                writer.write(answer)
                await _linger(reader)
            return
        rest = await reader.readexactly(3)
        length = struct.unpack("!H", rest[1:3])[0]
        payload = await reader.readexactly(length)
        while len(payload) >= 4 and len(payload) < 4 + int.from_bytes(payload[1:4], "big"):
            more = await reader.readexactly(5)
            payload += await reader.readexactly(struct.unpack("!H", more[3:5])[0])
        size = 5 + len(payload)
        if s.behaviour == "stall":
            await asyncio.sleep(30)
            return
        if s.behaviour == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        if s.behaviour == "garbage":
            writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n" + os.urandom(64))
            await _linger(reader)
            return
        if s.behaviour == "drop_large" and size > s.max_hello:
            return
        hello = _parse_client_hello(payload[4:])
        writer.write(self._flight(hello))
        if s.behaviour == "garbage_after_hello":
            writer.write(os.urandom(200))
        await _linger(reader)

    # ------------------------------------------------------------------ answers

    def _sslv2(self, body: bytes) -> bytes:
        if body[0] != 1 or not self.script.sslv2_kinds:
            return b""  # a server without SSL 2.0 just hangs up
        specs_len = struct.unpack("!H", body[3:5])[0]
        specs = body[9: 9 + specs_len]
        offered = {int.from_bytes(specs[i: i + 3], "big") for i in range(0, len(specs), 3)}
        shared = [k for k in self.script.sslv2_kinds if k in offered]
        if not shared:
            return struct.pack("!H", 0x8003) + b"\x00\x00\x01"  # SSLv2 ERROR: no cipher
        cert = self.script.certificate
        conn_id = os.urandom(16)
        specs_out = b"".join(k.to_bytes(3, "big") for k in shared)
        msg = (b"\x04\x00\x01" + struct.pack("!HHHH", 0x0002, len(cert), len(specs_out), len(conn_id))
               + cert + specs_out + conn_id)
        return struct.pack("!H", 0x8000 | len(msg)) + msg

    def _flight(self, ch: dict) -> bytes:
        s = self.script
        version = _choose_version(ch, s.versions)
        if version is None:
            return _alert(70, ch["record_version"])
        rv = min(reg.WIRE_VERSION[version], 0x0303)
        if version == "TLSv1.3":
            suite = next((c for c in s.suites.get(version, []) if c in ch["suites"]), None)
            group = next((g for g in s.groups if g in ch["groups"]), None)
            if suite is None or group is None:
                return _alert(40, 0x0303)
            if group in ch["shares"]:
                share = struct.pack("!H", group) + _u16(os.urandom(SHARE_SIZES.get(group, 32)))
                # then what looks like encrypted handshake records (no real keys behind them)
                return (_server_hello(0x0303, os.urandom(32), ch["session_id"], suite,
                                      [(wire.EXT_SUPPORTED_VERSIONS, b"\x03\x04"), (wire.EXT_KEY_SHARE, share)])
                        + struct.pack("!BHHB", wire.CHANGE_CIPHER_SPEC, 0x0303, 1, 1)
                        + wire.records(wire.APPLICATION_DATA, 0x0303, os.urandom(120)))
            return _server_hello(0x0303, wire.HRR_RANDOM, ch["session_id"], suite,
                                 [(wire.EXT_SUPPORTED_VERSIONS, b"\x03\x04"),
                                  (wire.EXT_KEY_SHARE, struct.pack("!H", group))])
        curve = next((g for g in s.curves if g in ch["groups"]), None)
        suite = next((c for c in s.suites.get(version, []) if c in ch["suites"]
                      and (curve is not None or reg.suites()[c].kex != "ECDHE")), None)
        if suite is None:
            return _alert(40, rv)
        exts = [(wire.EXT_SUPPORTED_VERSIONS, struct.pack("!H", reg.WIRE_VERSION[version]))] \
            if ch["supported_versions"] else []
        out = _server_hello(reg.WIRE_VERSION[version], os.urandom(32), b"", suite, exts, rv)
        out += _handshake(wire.CERTIFICATE, _u24(_u24(s.certificate)), rv)
        kex = reg.suites()[suite].kex
        sig = (b"\x04\x01" if version == "TLSv1.2" else b"") + _u16(os.urandom(256))
        if kex == "ECDHE":
            params = b"\x03" + struct.pack("!H", curve) + _u8(os.urandom(SHARE_SIZES.get(curve, 32)))
            out += _handshake(wire.SERVER_KEY_EXCHANGE, params + sig, rv)
        elif kex == "DHE" and s.dh_prime:
            p = s.dh_prime.to_bytes((s.dh_prime.bit_length() + 7) // 8, "big")
            params = _u16(p) + _u16(b"\x02") + _u16(os.urandom(len(p)))
            out += _handshake(wire.SERVER_KEY_EXCHANGE, params + sig, rv)
        return out + _handshake(wire.SERVER_HELLO_DONE, b"", rv)


def _choose_version(ch: dict, versions: tuple[str, ...]) -> str | None:
    if ch["supported_versions"]:
        for code in ch["supported_versions"]:
            name = reg.VERSION_NAME.get(code)
            if name in versions:
                return name
        if "TLSv1.3" in versions:
            return None
    for name in ("TLSv1.2", "TLSv1.1", "TLSv1.0", "SSLv3"):
        if name in versions and reg.WIRE_VERSION[name] <= ch["legacy_version"]:
            return name
    return None


def _parse_client_hello(body: bytes) -> dict:
    c = wire.Cursor(body)
    legacy = c.u16()
    c.take(32)
    session_id = c.vec8()
    sc = wire.Cursor(c.vec16())
    suites = [sc.u16() for _ in range(sc.left // 2)]
    c.vec8()
    exts = wire.extensions(c.vec16()) if c.left else {}
    groups, shares, versions = [], {}, []
    if wire.EXT_SUPPORTED_GROUPS in exts:
        gc = wire.Cursor(wire.Cursor(exts[wire.EXT_SUPPORTED_GROUPS]).vec16())
        groups = [gc.u16() for _ in range(gc.left // 2)]
    if wire.EXT_KEY_SHARE in exts:
        kc = wire.Cursor(wire.Cursor(exts[wire.EXT_KEY_SHARE]).vec16())
        while kc.left:
            g = kc.u16()
            shares[g] = kc.vec16()
    if wire.EXT_SUPPORTED_VERSIONS in exts:
        vc = wire.Cursor(wire.Cursor(exts[wire.EXT_SUPPORTED_VERSIONS]).vec8())
        versions = [vc.u16() for _ in range(vc.left // 2)]
    return {"legacy_version": legacy, "record_version": 0x0301, "session_id": session_id, "suites": suites,
            "groups": groups, "shares": shares, "supported_versions": versions}


def _u8(b: bytes) -> bytes:
    return wire.vector(b, 1)


def _u16(b: bytes) -> bytes:
    return wire.vector(b, 2)


def _u24(b: bytes) -> bytes:
    return wire.vector(b, 3)


def _handshake(mtype: int, body: bytes, record_version: int) -> bytes:
    return wire.records(wire.HANDSHAKE, record_version, bytes([mtype]) + _u24(body))


def _server_hello(version: int, random: bytes, session_id: bytes, suite: int, exts, record_version: int = 0x0303) -> bytes:
    ext_bytes = b"".join(struct.pack("!H", k) + _u16(v) for k, v in exts)
    body = struct.pack("!H", version) + random + _u8(session_id) + struct.pack("!HB", suite, 0)
    if exts:
        body += _u16(ext_bytes)
    return _handshake(wire.SERVER_HELLO, body, record_version)


def _alert(description: int, record_version: int) -> bytes:
    return struct.pack("!BHHBB", wire.ALERT, min(record_version, 0x0303), 2, 2, description)


async def _linger(reader: asyncio.StreamReader) -> None:
    """Keep the connection until the client hangs up (as a real server waits for its reply)."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(5):
            await reader.read(65536)
