"""The one way out: every TCP connection the scanner opens goes through `Network`.

Here live the rules that keep a scan polite and safe, so no probe can forget them:
scope (only hosts the inventory names or implies), the SSRF guard (no hop into
loopback, private or link-local space unless the scanned target itself is there),
caps per host and per IP address, a per-IP rate limit, a connect timeout, the record
of every connection (the audit log), and the lab's port map.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import socket
import ssl
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


class ProbeError(Exception):
    """A target-side failure a probe reports as a fact (`error`), never a crash."""


class Refused(ProbeError):
    """The scanner itself refused to connect (scope, SSRF guard)."""


class NotListening(ProbeError):
    """The target actively refused the connection: a measured "nothing listens here"."""


class HandshakeFailed(ProbeError):
    """TCP connected but the TLS handshake did not complete (alert, reset, garbage, stall)."""


def address_class(ip: str) -> str:
    """`public`, or the special space an address lies in (IPv4-mapped IPv6 unwrapped)."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    if addr.is_loopback:
        return "loopback"
    if addr.is_link_local:
        return "link-local"
    if addr.is_multicast:
        return "multicast"
    if addr.is_unspecified:
        return "unspecified"
    if addr.is_private or addr.is_reserved or (
        isinstance(addr, ipaddress.IPv4Address) and addr in ipaddress.IPv4Network("100.64.0.0/10")
    ):
        return "private"
    return "public"


PUBLIC_ONLY = ""  # an origin_ip for hosts no scanned address vouches for: public space only


def ssrf_refusal(ip: str, origin_ip: str | None) -> str | None:
    """Why connecting to `ip` on behalf of a target at `origin_ip` is forbidden, if it is.

    Without an origin (None or PUBLIC_ONLY) only public addresses are allowed.
    """
    cls = address_class(ip)
    if cls == "public":
        return None
    if cls in ("multicast", "unspecified"):
        return f"{ip} is a {cls} address"
    if origin_ip and address_class(origin_ip) == cls:
        return None
    return f"{ip} lies in {cls} space and the scanned target does not"


@dataclass
class Scope:
    """Hosts the scanner may contact: named by the inventory, implied by it, or under a suffix."""

    hosts: set[str] = field(default_factory=set)
    suffixes: tuple[str, ...] = ()

    def add(self, *hosts: str) -> None:
        self.hosts.update(h.rstrip(".").lower() for h in hosts)

    def allows(self, host: str) -> bool:
        host = host.rstrip(".").lower()
        if host in self.hosts:
            return True
        return any(host == s.lstrip(".") or host.endswith("." + s.lstrip(".")) for s in self.suffixes)


@dataclass
class PortMap:
    """Where a logical ip:port really listens. Empty in real scans; the lab fills it.

    An entry may also name the host, so several lab hosts can share one address (::1)
    on the same logical port; a lookup with a host prefers its own entry and falls back
    to the address-only one.
    """

    ports: dict[tuple[str, int], int] = field(default_factory=dict)
    by_host: dict[tuple[str, str, int], int] = field(default_factory=dict)

    def add(self, ip: str, port: int, real_port: int, host: str | None = None) -> None:
        self.ports[(ip, port)] = real_port
        if host is not None:
            self.by_host[(host.lower(), ip, port)] = real_port

    def real(self, ip: str, port: int, host: str | None = None) -> int:
        if host is not None and (hit := self.by_host.get((host.lower(), ip, port))) is not None:
            return hit
        return self.ports.get((ip, port), port)

    def to_json(self) -> list[list[Any]]:
        rows: list[list[Any]] = [[ip, port, real] for (ip, port), real in sorted(self.ports.items())]
        return rows + [[ip, port, real, host] for (host, ip, port), real in sorted(self.by_host.items())]

    @classmethod
    def from_json(cls, rows: Iterable[list[Any]]) -> PortMap:
        out = cls()
        for ip, port, real, *host in rows:
            if host:
                out.by_host[(host[0], ip, int(port))] = int(real)
            else:
                out.ports[(ip, int(port))] = int(real)
        return out


@dataclass
class ConnectionRecord:
    at: float
    host: str
    ip: str
    port: int
    purpose: str
    outcome: str  # "open", "refused: ...", "failed: ..."


@dataclass
class Limits:
    per_host: int = 2
    per_ip: int = 4
    rate_per_ip: float = 20.0  # new connections per second to one address
    connect_timeout: float = 5.0


class Lease:
    """A held connection slot; released exactly once."""

    def __init__(self, release) -> None:
        self._release = release

    def release(self) -> None:
        if self._release is not None:
            self._release()
            self._release = None


class Network:
    def __init__(
        self,
        scope: Scope | None = None,
        limits: Limits | None = None,
        port_map: PortMap | None = None,
        audit_log: Path | None = None,
    ) -> None:
        self.scope = scope  # None: anything goes (used by `gate` on explicit targets)
        self.limits = limits or Limits()
        self.port_map = port_map or PortMap()
        self.records: list[ConnectionRecord] = []
        self._audit = audit_log.open("a", encoding="utf-8") if audit_log else None
        self._host_slots: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(self.limits.per_host))
        self._ip_slots: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(self.limits.per_ip))
        self._next_start: dict[str, float] = defaultdict(float)

    def close(self) -> None:
        if self._audit:
            self._audit.close()
            self._audit = None

    def record(self, host: str, ip: str, port: int, purpose: str, outcome: str) -> None:
        rec = ConnectionRecord(time.time(), host, ip, port, purpose, outcome)
        self.records.append(rec)
        if self._audit:
            self._audit.write(json.dumps(asdict(rec)) + "\n")
            self._audit.flush()

    def attempts(self, ip: str | None = None, purpose: str | None = None) -> list[ConnectionRecord]:
        return [r for r in self.records if (ip is None or r.ip == ip) and (purpose is None or r.purpose == purpose)]

    def check(self, host: str, ip: str, port: int, purpose: str, origin_ip: str | None = None) -> None:
        """Raise Refused (and record it) if scope or the SSRF guard forbid contacting ip:port for `host`.

        `origin_ip` is the address of the scanned target on whose behalf we connect; None
        means `ip` is that target itself, PUBLIC_ONLY that no address vouches for it
        (see ProbeContext.implied_origin).
        """
        if self.scope is not None and not self.scope.allows(host):
            self.record(host, ip, port, purpose, "refused: out of scope")
            raise Refused(f"{host} is outside the scan's scope")
        reason = ssrf_refusal(ip, ip if origin_ip is None else origin_ip)
        if reason:
            self.record(host, ip, port, purpose, f"refused: {reason}")
            raise Refused(reason)

    async def acquire(self, host: str, ip: str, port: int, purpose: str, origin_ip: str | None = None) -> tuple[Lease, int]:
        """Check the rules, wait for a slot and for the rate limit; return the lease and real port."""
        self.check(host, ip, port, purpose, origin_ip)
        host_slot, ip_slot = self._host_slots[host], self._ip_slots[ip]
        await host_slot.acquire()
        try:
            await ip_slot.acquire()
        except BaseException:
            host_slot.release()
            raise

        def release() -> None:
            ip_slot.release()
            host_slot.release()

        lease = Lease(release)
        try:
            now = time.monotonic()
            start = max(now, self._next_start[ip])
            self._next_start[ip] = start + 1.0 / self.limits.rate_per_ip
            if start > now:
                await asyncio.sleep(start - now)
        except BaseException:
            lease.release()
            raise
        return lease, self.port_map.real(ip, port, host)

    @contextlib.asynccontextmanager
    async def tcp(
        self,
        host: str,
        ip: str,
        port: int,
        purpose: str,
        *,
        origin_ip: str | None = None,
        tls: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        limit: int = 65536,
    ) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
        """An open TCP (optionally TLS) stream to ip:port for `host`, closed and released on exit."""
        lease, real_port = await self.acquire(host, ip, port, purpose, origin_ip)
        writer = None
        try:
            try:
                async with asyncio.timeout(self.limits.connect_timeout):
                    reader, writer = await asyncio.open_connection(ip.split("%", 1)[0], real_port, limit=limit)
            except TimeoutError:
                self.record(host, ip, port, purpose, "failed: timeout")
                raise ProbeError(f"connect to {ip} port {port} timed out") from None
            except ConnectionRefusedError as exc:
                self.record(host, ip, port, purpose, "failed: connection refused")
                raise NotListening(f"nothing listens on {ip} port {port}") from exc
            except OSError as exc:
                self.record(host, ip, port, purpose, f"failed: {exc.strerror or exc}")
                raise ProbeError(f"connect to {ip} port {port}: {exc.strerror or exc or type(exc).__name__}") from None
            self.record(host, ip, port, purpose, "open")
            if tls is not None:
                try:
                    async with asyncio.timeout(self.limits.connect_timeout):
                        await writer.start_tls(tls, server_hostname=server_hostname or host)
                except TimeoutError:
                    raise HandshakeFailed(f"TLS handshake with {ip} port {port} timed out") from None
                except (ssl.SSLError, OSError, asyncio.IncompleteReadError) as exc:
                    reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
                    raise HandshakeFailed(f"TLS handshake with {ip} port {port} failed: {reason}") from None
            yield reader, writer
        finally:
            if writer is not None:
                writer.close()
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(1.0):
                        await writer.wait_closed()
            lease.release()


def has_route(ip: str) -> bool:
    """Whether this machine has a route to `ip` (a UDP connect sends nothing, it only picks a route).

    This is how "the scanner has no IPv6" is told apart from "the target does not answer".
    Ask `Network.check` first: a forbidden address is refused before it is even routed.
    """
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((ip.split("%", 1)[0], 9))  # any port: nothing is sent
    except OSError:
        return False
    return True
