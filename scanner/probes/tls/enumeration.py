"""Enumerate what one address accepts, opening as few connections as the answers allow.

Strategy (connections grow with what the server accepts, not with what exists):
- versions top-down: one hello offering every version up to a ceiling; the server
  answers with its best version (versions in between are then known absent), and
  that answer is already the first step of that version's suite enumeration;
- suites by iterative removal: offer all remaining, drop the one chosen, repeat
  until the server refuses;
- TLS 1.3 suites and groups in the same connections (each answer names one of each),
  plus the group list a server may send in EncryptedExtensions;
- TLS 1.2 curves from ServerKeyExchange, then only curves not seen yet are probed;
- SSL 2.0 in one connection (its SERVER-HELLO lists every cipher kind it shares).
An oversized-hello drop is detected on the first connection and the scan continues with
small chunks.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from scanner.probes.context import ProbeContext
from scanner.probes.tls import keys as tls_keys
from scanner.probes.tls import wire
from scanner.probes.tls.signs import HelloSigns, spki_sha256
from scanner.standards import tls_registry as reg
from scanner.standards.dh import name_prime

TLS_DOWN = ("TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1.0", "SSLv3")
SHARE_GROUPS = (0x0017, 0x001D)  # secp256r1 first: a server preferring x25519 then lists its groups in EE
COMPACT_HELLO = 512  # bytes: once a server drops big hellos, chunks keep each hello this small
ROUND_LIMIT = 400  # hard stop on connections per address, whatever a server does


Continuation = Callable[[wire.Handshake, "Answer", asyncio.StreamWriter], Awaitable[None]]


class ScanAborted(Exception):
    """The server stalled or spoke garbage: the address is not measured."""


@dataclass
class Answer:
    """One connection's outcome."""

    kind: str  # hello | alert | closed | reset | timeout | garbage | oversize
    hello: wire.ServerHello | None = None
    alert: wire.Alert | None = None
    kx: wire.KeyExchange | None = None
    ee_groups: list[int] | None = None
    scheme: int | None = None  # TLS 1.3 CertificateVerify signature scheme
    detail: str = ""

    @property
    def refused(self) -> bool:
        return self.kind in ("alert", "closed", "reset")


def _legacy_suites() -> list[int]:
    return [s.code for s in reg.suites().values() if s.offerable and not s.tls13]


def _tls13_suites() -> list[int]:
    return [s.code for s in reg.suites().values() if s.tls13]


def legacy_groups() -> list[int]:
    return [g.code for g in reg.groups().values() if g.kind in ("ec", "ecx") and g.code < 0xFF00]


def tls13_groups() -> list[int]:
    return [g.code for g in reg.groups().values() if g.tls13]


@dataclass
class AddressScan:
    ctx: ProbeContext
    host: str
    ip: str
    port: int
    sni: str | None
    connections: int = 0
    answered: bool = False
    compact: bool = False  # the server drops big hellos: offer suites in chunks
    protocols: dict[str, bool | None] = field(default_factory=lambda: {p: None for p in reg.PROTOCOLS})
    suites: dict[str, list[int]] = field(default_factory=dict)
    sslv2_kinds: list[int] = field(default_factory=list)
    details: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    groups: list[int] = field(default_factory=list)
    advertised_groups: list[int] | None = None
    server_order: dict[str, bool | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    signs: HelloSigns = field(default_factory=HelloSigns)  # what every ServerHello shows for free
    sslv2_spki: str | None = None  # SHA-256 of the key in the SSL 2.0 certificate (DROWN)
    behaviour: dict[str, Any] = field(default_factory=dict)  # filled by scanner.probes.tls.examine
    vulnerabilities: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ connections

    purpose = "tls"
    full_alpn: tuple[str, ...] = ("h2", "http/1.1")  # what a full handshake offers by ALPN (web endpoints)
    line_limit = 64 * 1024  # longest line a preamble may read (the stream's readuntil limit)

    async def preamble(self, reader, writer) -> None:
        """What must be said before TLS starts: nothing here; STARTTLS protocols override it."""

    @contextlib.asynccontextmanager
    async def stream(self) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
        """One counted connection to the address, the protocol's preamble said (STARTTLS)."""
        if self.connections >= ROUND_LIMIT:
            raise ScanAborted(f"gave up after {ROUND_LIMIT} connections")
        self.connections += 1
        async with self.ctx.network.tcp(self.host, self.ip, self.port, self.purpose,
                                        limit=self.line_limit) as (reader, writer):
            await self.preamble(reader, writer)
            yield reader, writer

    async def connect_and(self, payload: bytes, reader_fn) -> Any:
        """Send `payload` on a new connection, then `reader_fn(reader, writer)` reads (and may answer)."""
        async with self.stream() as (reader, writer):
            writer.write(payload)
            try:
                await writer.drain()
            except (ConnectionError, OSError):
                return Answer("reset", detail="connection reset while sending")
            return await reader_fn(wire.Reader(reader, self.ctx.io_timeout), writer)

    async def hello(self, versions: tuple[str, ...], suites: list[int], groups: list[int],
                    then: Continuation | None = None, **options: Any) -> Answer:
        """Send one ClientHello and classify the answer; `then(handshake, answer, writer)` may
        carry on the conversation after a ServerHello (the single-flight tests); `options`
        are further `wire.Hello` fields (compression, heartbeat, session_id, ticket...)."""
        tls13 = "TLSv1.3" in versions
        pairs = [kp for g in SHARE_GROUPS if tls13 and g in groups and (kp := tls_keys.generate(g))]
        h = wire.Hello(versions, suites, groups, {kp.group: kp.public for kp in pairs}, self.sni, **options)
        record, ch = wire.client_hello(h)

        async def read(r: wire.Reader, writer) -> Answer:
            hs = wire.Handshake(r)
            try:
                ans = await self._read_answer(hs, ch, pairs, versions)
            except wire.WireError as exc:
                return Answer(exc.kind, detail=str(exc))
            if then is not None and ans.kind == "hello":
                await then(hs, ans, writer)
            return ans

        answer = await self.connect_and(record, read)
        if answer.kind in ("hello", "alert"):
            self.answered = True
        return answer

    async def _read_answer(self, hs: wire.Handshake, ch: bytes, pairs, versions) -> Answer:
        mtype, body = await hs.next()
        if mtype == -1:
            return Answer("alert", alert=hs.alert, detail=hs.alert.name)
        if mtype != wire.SERVER_HELLO:
            raise wire.WireError("garbage", f"handshake message {mtype} instead of ServerHello")
        sh = wire.parse_server_hello(body)
        ans = Answer("hello", hello=sh)
        if sh.version not in versions and not (sh.version in reg.WIRE_VERSION and reg.WIRE_VERSION[sh.version]
                                               < reg.WIRE_VERSION[versions[0]]):
            raise wire.WireError("garbage", f"server chose {sh.version}, which was not offered")
        with contextlib.suppress(wire.WireError):  # details are a bonus; the hello already counts
            if sh.version == "TLSv1.3":
                if not sh.hrr and self.advertised_groups is None:
                    await self._read_encrypted(hs, ch, sh, pairs, ans)
            else:
                await self._read_key_exchange(hs, sh, ans)
        return ans

    async def _read_key_exchange(self, hs: wire.Handshake, sh: wire.ServerHello, ans: Answer) -> None:
        suite = reg.suites().get(sh.suite)
        if suite is None or suite.kex not in ("DHE", "ECDHE", "DHE_EXPORT", "RSA_EXPORT"):
            return
        while True:
            mtype, body = await hs.next()
            if mtype == wire.SERVER_KEY_EXCHANGE:
                ans.kx = wire.parse_server_key_exchange(body, suite.kex, sh.version, suite.auth == "anon")
                return
            if mtype in (-1, -2, wire.SERVER_HELLO_DONE):
                return

    async def _read_encrypted(self, hs, ch: bytes, sh: wire.ServerHello, pairs, ans: Answer) -> None:
        kp = next((p for p in pairs if p.group == sh.group), None)
        if kp is None or sh.key_share is None:
            return
        secret = tls_keys.shared_secret(kp, sh.key_share)
        dec = tls_keys.HandshakeDecrypter(sh.suite, secret, ch + hs.transcript[-1])
        plain = b""
        for _ in range(12):
            rec = await wire.read_record(hs.r)
            if rec.ctype == wire.CHANGE_CIPHER_SPEC:
                continue
            ctype, data = dec.open(rec)
            if ctype != wire.HANDSHAKE:
                return
            plain += data
            while len(plain) >= 4 and len(plain) >= 4 + int.from_bytes(plain[1:4], "big"):
                n = 4 + int.from_bytes(plain[1:4], "big")
                mtype, body, plain = plain[0], plain[4:n], plain[n:]
                if mtype == wire.ENCRYPTED_EXTENSIONS:
                    exts = wire.extensions(wire.Cursor(body).vec16())
                    raw = exts.get(wire.EXT_SUPPORTED_GROUPS)
                    if raw is not None:
                        c = wire.Cursor(wire.Cursor(raw).vec16())
                        ans.ee_groups = [c.u16() for _ in range(c.left // 2)]
                    else:
                        ans.ee_groups = []  # the key share we used is the server's first choice
                elif mtype == wire.CERTIFICATE_VERIFY:
                    ans.scheme = wire.Cursor(body).u16()
                    return

    def offered(self, versions: Iterable[str] = TLS_DOWN) -> list[str]:
        """Of `versions`, those the server accepts, in the order given."""
        return [v for v in versions if self.protocols.get(v)]

    def hello_groups(self, version: str) -> list[int]:
        return tls13_groups() if version == "TLSv1.3" else legacy_groups()

    # ------------------------------------------------------------------ recording

    def _record(self, version: str, ans: Answer) -> int | None:
        """Note an accepted suite (and what its key exchange showed); return the new suite."""
        sh = ans.hello
        assert sh is not None
        self.signs.observe(sh, ans.kx)
        self.protocols[version] = True
        found = self.suites.setdefault(version, [])
        detail = self.details.setdefault(version, {}).setdefault(sh.suite, {})
        new = sh.suite not in found
        if new:
            found.append(sh.suite)
        if sh.group is not None:
            self._group(sh.group)
            detail.setdefault("groups", [])
            if reg.group_name(sh.group) not in detail["groups"]:
                detail["groups"].append(reg.group_name(sh.group))
        if ans.scheme is not None:
            detail["signature"] = reg.scheme_name(ans.scheme)
        if ans.ee_groups:
            self.advertised_groups = list(ans.ee_groups)
            for g in ans.ee_groups:
                self._group(g)
        elif ans.ee_groups == [] and self.advertised_groups is None and sh.group is not None:
            self.note(f"{reg.group_name(sh.group)} is the server's first-choice group")
        kx = ans.kx
        if kx is not None:
            if kx.group is not None:
                self._group(kx.group)
                detail["group"] = reg.group_name(kx.group)
            elif kx.curve_type in (1, 2):
                detail["group"] = "explicit_curve"
            if kx.dh_p is not None:
                detail["dh_bits"] = kx.dh_p.bit_length()
                if named := name_prime(kx.dh_p):
                    detail["dh_group"] = named
            if kx.rsa_bits is not None:
                detail["rsa_export_bits"] = kx.rsa_bits
            if kx.scheme is not None:
                detail["signature"] = reg.scheme_name(kx.scheme)
        return sh.suite if new else None

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def _group(self, code: int) -> None:
        if code not in self.groups:
            self.groups.append(code)

    def _fail(self, ans: Answer) -> None:
        if ans.kind in ("timeout", "garbage", "oversize"):
            raise ScanAborted(ans.detail or ans.kind)

    def _chunks(self, items: list[int], versions: tuple[str, ...], groups: list[int]) -> list[list[int]]:
        """All of `items` at once, or (compact) as many as fit in a hello of COMPACT_HELLO
        bytes, the size every small hello is padded to anyway (RFC 7685)."""
        if not self.compact:
            return [items] if items else []
        shares = {g: bytes(len(kp.public)) for g in SHARE_GROUPS if "TLSv1.3" in versions and g in groups
                  and (kp := tls_keys.generate(g))}
        _, bare = wire.client_hello(wire.Hello(versions, [], groups, shares, self.sni, padding=False))
        size = max(16, (COMPACT_HELLO - len(bare)) // 2)
        return [items[i: i + size] for i in range(0, len(items), size)]

    # ------------------------------------------------------------------ the plan

    async def run(self) -> None:
        await self.probe_sslv2()
        ceiling: str | None = "TLSv1.3"
        while ceiling:
            ans = await self.first_offer(ceiling)
            below = TLS_DOWN[TLS_DOWN.index(ceiling):]
            if ans is None:  # refused everything up to the ceiling
                for v in below:
                    self.protocols[v] = False
                break
            got = ans.hello.version
            for v in below[: below.index(got)]:
                self.protocols[v] = False
            if got == "TLSv1.3":
                await self.enumerate_tls13(ans)
            else:
                await self.enumerate_legacy(got, ans)
            idx = TLS_DOWN.index(got) + 1
            ceiling = TLS_DOWN[idx] if idx < len(TLS_DOWN) else None
        if not self.answered:
            raise ScanAborted("no TLS answer: every connection was closed or reset")
        await self.legacy_curves()
        self._preferences()

    async def probe_sslv2(self) -> None:
        kinds = list(reg.sslv2_suites())

        async def read(r: wire.Reader, _writer):
            try:
                return await wire.read_sslv2_answer(r)
            except wire.WireError as exc:
                return exc

        got = await self.connect_and(wire.sslv2_client_hello(kinds), read)
        if isinstance(got, wire.WireError):
            # a TLS-only server closes, resets or answers garbage to an SSLv2 hello: not offered;
            # one that keeps silent is left untested rather than guessed
            self.protocols["SSLv2"] = None if got.kind == "timeout" else False
            if got.kind == "timeout":
                self.note("no answer to an SSLv2 hello")
            return
        if got is None:
            self.protocols["SSLv2"] = False
            return
        self.answered = True
        shared = [k for k in got.kinds if k in reg.sslv2_suites()] + [k for k in got.kinds if k not in reg.sslv2_suites()]
        self.protocols["SSLv2"] = bool(shared)
        self.sslv2_kinds = shared
        self.sslv2_spki = spki_sha256(got.certificate)

    async def first_offer(self, ceiling: str) -> Answer | None:
        """The best version the server accepts up to `ceiling`, with its first suite; None if none."""
        versions = tuple(TLS_DOWN[TLS_DOWN.index(ceiling):-1]) if ceiling == "TLSv1.3" else (ceiling,)
        suites = (_tls13_suites() if ceiling == "TLSv1.3" else []) + _legacy_suites()
        groups = tls13_groups() + [g for g in legacy_groups() if g not in tls13_groups()] \
            if ceiling == "TLSv1.3" else legacy_groups()
        for part in self._chunks(suites, versions, groups):
            ans = await self.hello(versions, part, groups)
            if ans.kind == "hello":
                return ans
            if ans.kind == "alert" and ans.alert.name == "protocol_version":
                return None  # the versions are refused, whatever the suites: no need to try more chunks
            if ans.kind in ("closed", "reset") and not self.answered and self.compact:
                raise ScanAborted(f"no TLS answer: connection {ans.kind} even for a small ClientHello")
            if ans.kind in ("closed", "reset") and not self.answered and not self.compact:
                # Silence on the very first hello: maybe it was too big for the server.
                self.compact = True
                self.note("server dropped a large ClientHello; probed with small ones")
                return await self.first_offer(ceiling)
            self._fail(ans)
        return None

    async def enumerate_legacy(self, version: str, first: Answer) -> None:
        """SSLv3 .. TLS 1.2 suites by iterative removal, in chunks if the server needs them."""
        self._record(version, first)
        left = [s for s in _legacy_suites() if s != first.hello.suite]
        for part in self._chunks(left, (version,), legacy_groups()):
            while part:
                ans = await self.hello((version,), part, legacy_groups())
                if ans.kind != "hello" or ans.hello.version != version:
                    self._fail(ans)
                    break
                new = self._record(version, ans)
                if new is None or new not in part:
                    self.note(f"{version}: server chose {reg.suite_name(ans.hello.suite)}, which was not offered")
                    break
                part.remove(new)

    async def enumerate_tls13(self, first: Answer) -> None:
        """TLS 1.3 suites and groups together: every answer names one suite and one group."""
        suites_left = [s for s in _tls13_suites() if s != first.hello.suite]
        groups_left = [g for g in tls13_groups() if g != first.hello.group]
        self._record("TLSv1.3", first)
        got_suites = [first.hello.suite]
        got_groups = [first.hello.group] if first.hello.group is not None else []
        suites_done = not suites_left
        groups_done = self.advertised_groups is not None or not groups_left
        mode = "both"
        while not (suites_done and groups_done):
            if mode == "both" and (suites_done or groups_done):
                mode = "suites" if groups_done else "groups"
            if mode == "groups" and not groups_left:
                groups_done, mode = True, "suites"
                continue
            if mode == "suites" and not suites_left:
                suites_done = True
                continue
            offer_s = got_suites[:1] if mode == "groups" else suites_left
            offer_g = got_groups or tls13_groups()
            if mode != "suites":
                offer_g = groups_left
            ans = await self.hello(("TLSv1.3",), offer_s, offer_g)
            if ans.kind == "hello" and ans.hello.version == "TLSv1.3":
                suite, group = ans.hello.suite, ans.hello.group
                progress = suite in suites_left or group in groups_left
                self._record("TLSv1.3", ans)
                if suite in suites_left:
                    suites_left.remove(suite)
                    got_suites.append(suite)
                if group in groups_left:
                    groups_left.remove(group)
                    got_groups.append(group)
                if self.advertised_groups is not None:
                    groups_done = True
                if not progress:  # the server answers outside what we offered: stop, say so
                    self.note("TLSv1.3: server chose a suite or group that was not offered")
                    break
                continue
            self._fail(ans)
            if mode == "both":
                mode = "groups"  # which list ran dry is unknown: settle groups, then suites
            elif mode == "groups":
                groups_done = True
                mode = "suites"
            else:
                suites_done = True

    async def legacy_curves(self) -> None:
        """ECDHE curves of TLS <= 1.2 that no answer has named yet."""
        version = next((v for v in ("TLSv1.2", "TLSv1.1", "TLSv1.0", "SSLv3") if self.protocols.get(v)), None)
        if version is None:
            return
        ecdhe = [s for s in self.suites.get(version, []) if (d := reg.suites().get(s)) and d.kex == "ECDHE"]
        if not ecdhe:
            return
        left = [g for g in legacy_groups() if g not in self.groups]
        while left:
            ans = await self.hello((version,), ecdhe, left)
            if ans.kind != "hello" or ans.kx is None or ans.kx.group not in left:
                if ans.kind not in ("hello",):
                    self._fail(ans)
                break
            self._record(version, ans)
            left.remove(ans.kx.group)

    def _preferences(self) -> None:
        """Server order is visible for free: we offer in registry order, a server-ordered
        server picks differently. (Fewer than two suites: nothing to tell.)"""
        for version, found in self.suites.items():
            if len(found) < 2:
                self.server_order[version] = None
                continue
            self.server_order[version] = found != sorted(found)

    # ------------------------------------------------------------------ facts

    def facts(self) -> dict[str, Any]:
        suites: dict[str, list[str]] = {}
        details: dict[str, dict[str, Any]] = {}
        if self.sslv2_kinds:
            suites["SSLv2"] = [reg.sslv2_name(k) for k in self.sslv2_kinds]
        for version in reg.PROTOCOLS:
            if version in self.suites:
                suites[version] = [reg.suite_name(s) for s in self.suites[version]]
                details[version] = {reg.suite_name(s): d for s, d in self.details[version].items() if d}
        dh = [d for per in self.details.values() for d in per.values() if "dh_bits" in d]
        schemes = sorted({d["signature"] for per in self.details.values() for d in per.values() if "signature" in d})
        out: dict[str, Any] = {
            "protocols": dict(self.protocols),
            "cipher_suites": suites,
            "groups": [reg.group_name(g) for g in self.groups],
            "connections": self.connections,
            "server_preference": {v: p for v, p in self.server_order.items()},
            "kx": {v: d for v, d in details.items() if d},
            "dh_bits": min((d["dh_bits"] for d in dh), default=None),
            "dh_groups": sorted({d.get("dh_group", f"custom{d['dh_bits']}") for d in dh}),
            "kx_signatures": schemes,
            "kx_hashes": _hashes(schemes, self.suites),
        }
        if self.advertised_groups is not None:
            out["groups_advertised"] = [reg.group_name(g) for g in self.advertised_groups]
        out["behaviour"] = dict(self.behaviour)
        out["vulnerabilities"] = dict(self.vulnerabilities)
        out["sslv2_spki_sha256"] = self.sslv2_spki
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def _hashes(schemes: Iterable[str], suites: dict[str, list[int]]) -> list[str]:
    """Hash functions behind key-exchange signatures: explicit in TLS 1.2/1.3, fixed before."""
    by_name = {s.name: s.hash for s in reg.signature_schemes().values()}
    out = {by_name.get(s, "unknown") for s in schemes}
    for version in ("SSLv3", "TLSv1.0", "TLSv1.1"):
        for code in suites.get(version, []):
            s = reg.suites().get(code)
            if s and s.kex in ("DHE", "ECDHE") and s.auth != "anon":
                out.add("md5_sha1" if s.auth == "RSA" else "sha1")
    return sorted(out - {"intrinsic"}) + (["intrinsic"] if "intrinsic" in out else [])
