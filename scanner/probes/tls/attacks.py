"""Active tests for known TLS flaws, harmless to the server: Heartbleed, CCS injection, ROBOT.

Each runs on the raw hello of one connection and stops before any key is agreed:
- Heartbleed (CVE-2014-0160): when the server agrees to heartbeats, one heartbeat request
  claiming more payload than it carries. A patched server discards it (RFC 6520 §4); a
  vulnerable one answers with bytes of its memory. Those bytes are read off the wire and
  dropped unread: only the verdict is kept;
- CCS injection (CVE-2014-0224): a ChangeCipherSpec before any key exchange, then two bytes
  of application data. A vulnerable server takes the early CCS and fails to decrypt
  (`bad_record_mac`); a patched one refuses the CCS;
- ROBOT: the five ClientKeyExchange blocks of the published test
  (scanner/standards/data/tls/robot.toml), each on its own connection, compared answer by
  answer; one block per distinct answer is sent again to confirm an oracle. Only servers
  with RSA key exchange.
"""

from __future__ import annotations

import os
import struct

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from scanner.probes.tls import wire
from scanner.probes.tls.enumeration import TLS_DOWN, AddressScan, Answer
from scanner.standards import tls_registry as reg
from scanner.standards.tls_attacks import robot_block, robot_payloads, robot_verdict

HEARTBEAT_CLAIM = 64  # payload bytes the malformed request claims (it carries none)


async def until_hello_done(hs: wire.Handshake) -> bytes | None:
    """Read the server's first flight to ServerHelloDone; the leaf certificate (DER) or b"".
    None when the server stopped (alert, encrypted data, a TLS 1.3 flight)."""
    leaf = b""
    while True:
        mtype, body = await hs.next()
        if mtype < 0:
            return None
        if mtype == wire.CERTIFICATE:
            leaf = wire.leaf_certificate(body)
        if mtype == wire.SERVER_HELLO_DONE:
            return leaf


async def first_answer(r: wire.Reader) -> str:
    """How the server answered what we sent: `alert:<name>`, `record:<type>` or how the
    connection ended. Only the record type is looked at, never its contents."""
    try:
        rec = await wire.read_record(r)
    except wire.WireError as exc:
        return exc.kind
    if rec.ctype == wire.ALERT and len(rec.payload) >= 2:
        return "alert:" + wire.Alert(rec.payload[0], rec.payload[1]).name
    return f"record:{rec.ctype}"


def heartbleed_test(scan: AddressScan, outcome: dict[str, bool | None]):
    """A continuation for the behaviour hello: the Heartbleed request, when heartbeats were agreed."""

    async def then(hs: wire.Handshake, ans: Answer, writer) -> None:
        sh = ans.hello
        outcome["heartbeat"] = wire.EXT_HEARTBEAT in sh.extensions
        if not outcome["heartbeat"]:
            outcome["heartbleed"] = False  # no heartbeats, nothing to over-read
            return
        try:
            if await until_hello_done(hs) is None:
                return
            version = reg.WIRE_VERSION[sh.version]
            writer.write(wire.records(wire.HEARTBEAT, version, b"\x01" + struct.pack("!H", HEARTBEAT_CLAIM)))
            await writer.drain()
            answer = await first_answer(hs.r)  # the record's payload (leaked memory) is dropped unread
        except (wire.WireError, ConnectionError, OSError) as exc:
            scan.note(f"Heartbleed test: {exc}")
            return
        outcome["heartbleed"] = answer == f"record:{wire.HEARTBEAT}"

    return then


async def ccs_injection(scan: AddressScan) -> bool | None:
    """An early ChangeCipherSpec at the best legacy version (None: no TLS <= 1.2, or no answer)."""
    legacy = scan.offered(TLS_DOWN[1:])
    if not legacy:
        return None
    version = legacy[0]
    outcome: dict[str, bool] = {}

    async def then(hs: wire.Handshake, ans: Answer, writer) -> None:
        try:
            if await until_hello_done(hs) is None:
                return
            wv = reg.WIRE_VERSION[version]
            writer.write(wire.records(wire.CHANGE_CIPHER_SPEC, wv, b"\x01")
                         + wire.records(wire.APPLICATION_DATA, wv, b"\x00\x00"))
            await writer.drain()
            answer = await first_answer(hs.r)
        except (wire.WireError, ConnectionError, OSError) as exc:
            scan.note(f"CCS injection test: {exc}")
            return
        outcome["vulnerable"] = answer == "alert:bad_record_mac"

    await scan.hello((version,), scan.suites[version], scan.hello_groups(version), then=then)
    return outcome.get("vulnerable")


def _rsa_suites(scan: AddressScan) -> tuple[str, list[int]] | None:
    for version in scan.offered(TLS_DOWN[1:]):
        found = [s for s in scan.suites.get(version, []) if (d := reg.suites().get(s)) and d.kex == "RSA"]
        if found:
            return version, sorted(found, key=lambda s: "GCM" not in reg.suites()[s].enc)
    return None


def _client_key_exchange(block: bytes, key: rsa.RSAPublicKey, version: str) -> bytes:
    numbers = key.public_numbers()
    size = (numbers.n.bit_length() + 7) // 8
    encrypted = pow(int.from_bytes(block, "big"), numbers.e, numbers.n).to_bytes(size, "big")
    body = encrypted if version == "SSLv3" else wire.vector(encrypted, 2)
    return bytes([wire.CLIENT_KEY_EXCHANGE]) + wire.vector(body, 3)


async def _robot_answer(scan: AddressScan, version: str, suites: list[int], recipe: list[str]) -> str | None:
    """The server's answer to one ROBOT block, None when the test could not be made."""
    outcome: dict[str, str] = {}

    async def then(hs: wire.Handshake, ans: Answer, writer) -> None:
        try:
            leaf = await until_hello_done(hs)
            key = x509.load_der_x509_certificate(leaf).public_key() if leaf else None
            if not isinstance(key, rsa.RSAPublicKey):
                return
            wv = reg.WIRE_VERSION[version]
            block = robot_block(recipe, (key.key_size + 7) // 8, wv)
            writer.write(wire.records(wire.HANDSHAKE, wv, _client_key_exchange(block, key, version))
                         + wire.records(wire.CHANGE_CIPHER_SPEC, wv, b"\x01")
                         + wire.records(wire.HANDSHAKE, wv, os.urandom(48)))  # a Finished no key opens
            await writer.drain()
        except (wire.WireError, ValueError, ConnectionError, OSError) as exc:
            scan.note(f"ROBOT test: {exc}")
            return
        outcome["answer"] = await first_answer(hs.r)

    await scan.hello((version,), suites, scan.hello_groups(version), then=then)
    return outcome.get("answer")


async def robot(scan: AddressScan) -> str | None:
    """The published ROBOT verdict, `no_rsa` without RSA key exchange, None when not measured.

    A first round sends all five blocks; when the answers differ, a second round sends one
    block per distinct answer again, which must be answered as before (else `inconsistent`).
    """
    found = _rsa_suites(scan)
    if found is None:
        return "no_rsa"
    version, suites = found
    recipes = robot_payloads()
    first: dict[str, str] = {}
    for name, recipe in recipes.items():
        if (answer := await _robot_answer(scan, version, suites, recipe)) is None:
            return None
        first[name] = answer
    rounds = [first]
    if len(set(first.values())) > 1:
        again: dict[str, str] = {}
        for answer in sorted(set(first.values())):
            name = next(n for n, a in first.items() if a == answer)
            if (repeated := await _robot_answer(scan, version, suites, recipes[name])) is None:
                return None
            again[name] = repeated
        rounds.append(again)
    return robot_verdict(rounds)
