"""A scripted TLS/SSL responder for what local OpenSSL will not serve.

It answers ClientHellos as a server with the configured versions, suites and groups
would: SSL 2.0 and SSL 3.0 servers, post-quantum hybrid groups (chosen through a
HelloRetryRequest, no PQ maths needed), and the misbehaving servers of the real world
(resets, stalls, garbage, hellos dropped for their size). It never completes a
handshake: a scanner only needs the server's first flight.

It also plays the old and broken servers the attack tests look for, answering what a
client sends after the first flight as they did: TLS compression, no secure
renegotiation or Extended Master Secret, no fallback protection, one ephemeral key for
every connection, Heartbleed (a heartbeat answered with more bytes than were sent: made-up
"memory" that a test can recognise and the probe must never keep), CCS injection (an
early ChangeCipherSpec taken, then a failed decryption), and a ROBOT padding oracle (the
ClientKeyExchange decrypted with the script's RSA key, each padding error answered with
its own alert). A sound scripted server answers all of that as OpenSSL does.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

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
    key: Any = None  # the certificate's RSA private key (a ROBOT oracle decrypts with it)
    own_certificate: bool = False  # in the lab estate: serve the host's own certificate and key (ROBOT, DROWN)
    # How it behaves (the defaults are those of a sound server):
    secure_renegotiation: bool = True  # echo renegotiation_info (RFC 5746)
    extended_master_secret: bool = True  # echo extended_master_secret (RFC 7627)
    encrypt_then_mac: bool = True  # echo encrypt_then_mac with a CBC suite (RFC 7366)
    fallback_scsv: bool = True  # refuse TLS_FALLBACK_SCSV below its best version (RFC 7507)
    compression: bool = False  # pick DEFLATE when offered (CRIME)
    static_shares: bool = False  # the same (EC)DHE public value on every connection
    heartbleed: bool = False  # agree to heartbeats and answer one with more bytes than it carried
    ccs_injection: bool = False  # take an early ChangeCipherSpec, then fail to decrypt (bad_record_mac)
    robot: str | None = None  # "strong" or "weak": a Bleichenbacher oracle on RSA key exchange


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
        flight = self._flight(hello)
        writer.write(flight)
        if s.behaviour == "garbage_after_hello":
            writer.write(os.urandom(200))
        if flight[0] == wire.HANDSHAKE and hello["wire_version"] is not None:
            await self._converse(reader, writer, hello["wire_version"])
        else:
            await _linger(reader)

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, version: int) -> None:
        """What a client sends after the first flight, answered as the scripted server would."""
        s, early_ccs, key_exchange = self.script, False, False
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                while True:
                    ctype, body = await _read_record(reader)
                    if ctype == wire.HEARTBEAT and s.heartbleed and len(body) >= 3:
                        claimed = int.from_bytes(body[1:3], "big")  # never checked against what came
                        writer.write(wire.records(wire.HEARTBEAT, version, b"\x02" + body[1:3]
                                                  + (LEAKED_MEMORY * (claimed // len(LEAKED_MEMORY) + 1))[:claimed]
                                                  + os.urandom(16)))
                    elif ctype == wire.CHANGE_CIPHER_SPEC and not key_exchange:
                        if not s.ccs_injection:
                            writer.write(_alert(10, version))  # unexpected_message
                            return
                        early_ccs = True
                    elif ctype == wire.APPLICATION_DATA:
                        writer.write(_alert(20 if early_ccs else 10, version))
                        return
                    elif ctype == wire.HANDSHAKE and body[:1] == bytes([wire.CLIENT_KEY_EXCHANGE]):
                        key_exchange = True
                        if s.robot and s.key is not None:
                            writer.write(_alert(_robot_alert(s.robot, s.key, body, version), version))
                            return
                    elif ctype == wire.HANDSHAKE and key_exchange:  # a Finished we cannot have keys for
                        writer.write(_alert(20, version))
                        return
                    elif ctype == wire.ALERT:
                        return

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
        best = max(reg.WIRE_VERSION[v] for v in s.versions)
        if s.fallback_scsv and wire.FALLBACK_SCSV in ch["suites"] and reg.WIRE_VERSION[version] < best:
            return _alert(86, rv)  # inappropriate_fallback
        ch["wire_version"] = reg.WIRE_VERSION[version]
        if version == "TLSv1.3":
            suite = next((c for c in s.suites.get(version, []) if c in ch["suites"]), None)
            group = next((g for g in s.groups if g in ch["groups"]), None)
            if suite is None or group is None:
                return _alert(40, 0x0303)
            if group in ch["shares"]:
                share = struct.pack("!H", group) + _u16(self._public(group, SHARE_SIZES.get(group, 32)))
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
        exts += self._echoed(ch, suite)
        compress = wire.DEFLATE if s.compression and wire.DEFLATE in ch["compression"] else 0
        out = _server_hello(reg.WIRE_VERSION[version], os.urandom(32), b"", suite, exts, rv, compress)
        out += _handshake(wire.CERTIFICATE, _u24(_u24(s.certificate)), rv)
        kex = reg.suites()[suite].kex
        sig = (b"\x04\x01" if version == "TLSv1.2" else b"") + _u16(os.urandom(256))
        if kex == "ECDHE":
            params = b"\x03" + struct.pack("!H", curve) + _u8(self._public(curve, SHARE_SIZES.get(curve, 32)))
            out += _handshake(wire.SERVER_KEY_EXCHANGE, params + sig, rv)
        elif kex in ("DHE", "DHE_EXPORT") and s.dh_prime:
            p = s.dh_prime.to_bytes((s.dh_prime.bit_length() + 7) // 8, "big")
            params = _u16(p) + _u16(b"\x02") + _u16(self._public(0, len(p)))
            out += _handshake(wire.SERVER_KEY_EXCHANGE, params + sig, rv)
        return out + _handshake(wire.SERVER_HELLO_DONE, b"", rv)

    def _echoed(self, ch: dict, suite: int) -> list[tuple[int, bytes]]:
        """The extensions a TLS <= 1.2 server of this script answers with."""
        s, offered, out = self.script, ch["extensions"], []
        if s.secure_renegotiation and (wire.EXT_RENEGOTIATION_INFO in offered or 0x00FF in ch["suites"]):
            out.append((wire.EXT_RENEGOTIATION_INFO, b"\x00"))
        if s.extended_master_secret and wire.EXT_EXTENDED_MASTER_SECRET in offered:
            out.append((wire.EXT_EXTENDED_MASTER_SECRET, b""))
        if s.encrypt_then_mac and wire.EXT_ENCRYPT_THEN_MAC in offered and "CBC" in reg.suites()[suite].enc:
            out.append((wire.EXT_ENCRYPT_THEN_MAC, b""))
        if s.heartbleed and wire.EXT_HEARTBEAT in offered:
            out.append((wire.EXT_HEARTBEAT, b"\x01"))
        return out

    def _public(self, group: int, size: int) -> bytes:
        """An ephemeral public value: fresh, or one fixed value per group (`static_shares`)."""
        if self.script.static_shares:
            seed = hashlib.sha256(b"bolwerk lab static share %d" % group).digest()
            return (seed * (size // len(seed) + 1))[:size]
        return os.urandom(size)


# What a Heartbleed-vulnerable lab server "leaks": recognisable, so tests can show the probe keeps none of it.
LEAKED_MEMORY = b"LAB-SERVER-MEMORY password=hunter2 "


def _robot_alert(oracle: str, key: Any, body: bytes, version: int) -> int:
    """The alert a server with a Bleichenbacher oracle answers a ClientKeyExchange with.

    `strong`: a block not starting 00 02 gets decrypt_error, a malformed one decode_error;
    `weak`: every malformed block gets handshake_failure, only a wrong version stands out.
    A well-formed block gets bad_record_mac (the Finished that follows cannot be verified).
    """
    c = wire.Cursor(body[4:])
    encrypted = c.take(c.left) if version == 0x0300 else c.vec16()
    numbers = key.private_numbers()
    n = numbers.public_numbers.n
    block = pow(int.from_bytes(encrypted, "big"), numbers.d, n).to_bytes((n.bit_length() + 7) // 8, "big")
    separator = block.find(b"\x00", 2)
    if block[:2] != b"\x00\x02":
        problem = "first_bytes"
    elif separator < 0 or len(block) - separator - 1 != 48:
        problem = "format"
    elif block[separator + 1: separator + 3] != version.to_bytes(2, "big"):
        problem = "version"
    else:
        return 20
    if oracle == "strong":
        return {"first_bytes": 51, "format": 50, "version": 20}[problem]
    return {"first_bytes": 40, "format": 40, "version": 47}[problem]


async def _read_record(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    header = await reader.readexactly(5)
    return header[0], await reader.readexactly(int.from_bytes(header[3:5], "big"))


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
    compression = list(c.vec8())
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
            "groups": groups, "shares": shares, "supported_versions": versions, "extensions": set(exts),
            "compression": compression, "wire_version": None}


def _u8(b: bytes) -> bytes:
    return wire.vector(b, 1)


def _u16(b: bytes) -> bytes:
    return wire.vector(b, 2)


def _u24(b: bytes) -> bytes:
    return wire.vector(b, 3)


def _handshake(mtype: int, body: bytes, record_version: int) -> bytes:
    return wire.records(wire.HANDSHAKE, record_version, bytes([mtype]) + _u24(body))


def _server_hello(version: int, random: bytes, session_id: bytes, suite: int, exts, record_version: int = 0x0303,
                  compression: int = 0) -> bytes:
    ext_bytes = b"".join(struct.pack("!H", k) + _u16(v) for k, v in exts)
    body = struct.pack("!H", version) + random + _u8(session_id) + struct.pack("!HB", suite, compression)
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
