"""The one way out: every socket the scanner opens goes through `Network`.

Here live the rules that keep a scan polite and safe, so no probe can forget them:
scope (only hosts the inventory names or implies), the SSRF guard (no hop into
loopback, private or link-local space unless the scanned target itself is there),
caps per host and per IP address, a per-IP rate limit, a connect timeout, the record
of every connection (the audit log), and the lab's port map.

`Network.open` is the door: TCP streams (`tcp`), the HTTP probe's httpx transport,
questions to name servers over UDP (`datagram`) and TCP all pass it. The resolver's own
queries go out through `dns_backend`: they are recorded in the same format (purpose
`dns-resolver`), without the scope rule and the caps, since the user chose that resolver
and every lookup depends on it. `has_route` alone opens a socket that sends nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import dns.asyncbackend

from scanner.probes.politeness import Lease, LocalPoliteness, Politeness

T = TypeVar("T")


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
    """Hosts the scanner may contact: named by the inventory, implied by it, or under a suffix;
    never a host of a service that opted out (`denied`), whatever suffix covers it."""

    hosts: set[str] = field(default_factory=set)
    suffixes: tuple[str, ...] = ()
    denied: set[str] = field(default_factory=set)

    def add(self, *hosts: str) -> None:
        self.hosts.update(h.rstrip(".").lower() for h in hosts)

    def deny(self, *hosts: str) -> None:
        self.denied.update(h.rstrip(".").lower() for h in hosts)

    def allows(self, host: str) -> bool:
        host = host.rstrip(".").lower()
        if host in self.denied:
            return False
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
    """One line of the audit log: a socket opened (or refused, or failed) towards ip:port."""

    at: float
    host: str
    ip: str
    port: int  # the logical port (443, 53...), before the lab's port map
    purpose: str
    outcome: str  # "open", "sent" (a datagram on an unconnected socket), "refused: ...", "failed: ..."
    transport: str = "tcp"  # or "udp"
    run: str | None = None  # the run it was made for (several runs, or workers, may share one log)


def caused_by(exc: BaseException | None, test: Callable[[BaseException], bool], depth: int = 0) -> bool:
    """Does `test` hold for this exception or, somewhere down its causes, one it wraps?

    httpx wraps httpcore's exceptions, which wrap the socket's and h11's (anyio may group them).
    """
    if exc is None or depth > 6:
        return False
    if test(exc):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return any(caused_by(e, test, depth + 1) for e in exc.exceptions)
    return caused_by(exc.__cause__ or exc.__context__, test, depth + 1)


def _refused(exc: BaseException) -> bool:
    return caused_by(exc, lambda e: isinstance(e, ConnectionRefusedError))


def _failure(exc: BaseException) -> str:
    """Why a connect failed, for the record."""
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    if _refused(exc):
        return "connection refused"
    if isinstance(exc, OSError):
        return str(exc.strerror or exc)
    return str(exc) or type(exc).__name__


@dataclass
class Limits:
    per_host: int = 2
    per_ip: int = 4
    rate_per_ip: float = 20.0  # new connections per second to one address
    connect_timeout: float = 5.0


class Network:
    def __init__(
        self,
        scope: Scope | None = None,
        limits: Limits | None = None,
        port_map: PortMap | None = None,
        audit_log: Path | None = None,
        *,
        keep_records: bool = True,
        owned: set[str] | None = None,
        shares: int = 1,
        politeness: Politeness | None = None,
        run_id: str | None = None,
    ) -> None:
        """`keep_records`: keep every ConnectionRecord in `records` (tests and benches count
        them; a scan has the audit log instead, and keeps none). `politeness` keeps the caps
        and the rate limit (default: in this process, `LocalPoliteness`, which takes `owned`
        and `shares` for the worker processes of scanner/shards.py). `run_id` names the run in
        every audit-log line."""
        self.scope = scope  # None: anything goes (used by `gate` on explicit targets)
        self.limits = limits or Limits()
        self.port_map = port_map or PortMap()
        self.records: list[ConnectionRecord] = []
        self.run_id = run_id
        self._keep_records = keep_records
        self._audit = audit_log.open("a", encoding="utf-8") if audit_log else None
        self.politeness = politeness or LocalPoliteness(self.limits.per_host, self.limits.per_ip,
                                                        self.limits.rate_per_ip, owned, shares)

    def close(self) -> None:
        self.politeness.close()
        if self._audit:
            self._audit.close()
            self._audit = None

    def record(self, host: str, ip: str, port: int, purpose: str, outcome: str, transport: str = "tcp") -> None:
        rec = ConnectionRecord(time.time(), host, ip, port, purpose, outcome, transport, self.run_id)
        if self._keep_records:
            self.records.append(rec)
        if self._audit:
            self._audit.write(json.dumps(asdict(rec)) + "\n")
            self._audit.flush()

    def attempts(self, ip: str | None = None, purpose: str | None = None) -> list[ConnectionRecord]:
        return [r for r in self.records if (ip is None or r.ip == ip) and (purpose is None or r.purpose == purpose)]

    def check(self, host: str, ip: str, port: int, purpose: str, origin_ip: str | None = None,
              transport: str = "tcp") -> None:
        """Raise Refused (and record it) if scope or the SSRF guard forbid contacting ip:port for `host`.

        `origin_ip` is the address of the scanned target on whose behalf we connect; None
        means `ip` is that target itself, PUBLIC_ONLY that no address vouches for it
        (see ProbeContext.implied_origin).
        """
        if self.scope is not None and not self.scope.allows(host):
            self.record(host, ip, port, purpose, "refused: out of scope", transport)
            raise Refused(f"{host} is outside the scan's scope")
        reason = ssrf_refusal(ip, ip if origin_ip is None else origin_ip)
        if reason:
            self.record(host, ip, port, purpose, f"refused: {reason}", transport)
            raise Refused(reason)

    async def _acquire(self, host: str, ip: str, port: int, purpose: str, origin_ip: str | None = None,
                       transport: str = "tcp") -> tuple[Lease, int]:
        """Check the rules, wait for a slot and for the rate limit; return the lease and real port."""
        self.check(host, ip, port, purpose, origin_ip, transport)
        lease = await self.politeness.acquire(host, ip)
        return lease, self.port_map.real(ip, port, host)

    async def open(self, host: str, ip: str, port: int, purpose: str, connect: Callable[[str, int], Awaitable[T]],
                   *, origin_ip: str | None = None, transport: str = "tcp", guarded: bool = True) -> tuple[T, Lease]:
        """The door: `connect(ip, real_port)` once the rules allow it, and its record either way.

        Guarded (every target the scan contacts): scope, SSRF guard, caps, rate limit and the
        port map first, and a refused connection raises NotListening (a measured "nothing
        listens here"). Unguarded (the resolver the user named): only the record. Other
        failures raise as `connect` raised them. The caller releases the lease when done.
        """
        if guarded:
            lease, real_port = await self._acquire(host, ip, port, purpose, origin_ip, transport)
        else:
            lease, real_port = Lease(), port
        try:
            conn = await connect(ip.split("%", 1)[0], real_port)
        except BaseException as exc:
            lease.release()
            self.record(host, ip, port, purpose, f"failed: {_failure(exc)}", transport)
            if guarded and _refused(exc):
                raise NotListening(f"nothing listens on {ip} port {port}") from exc
            raise
        self.record(host, ip, port, purpose, "open", transport)
        return conn, lease

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

        async def connect(real_ip: str, real_port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            async with asyncio.timeout(self.limits.connect_timeout):
                return await asyncio.open_connection(real_ip, real_port, limit=limit)

        try:
            (reader, writer), lease = await self.open(host, ip, port, purpose, connect, origin_ip=origin_ip)
        except TimeoutError:
            raise ProbeError(f"connect to {ip} port {port} timed out") from None
        except OSError as exc:
            raise ProbeError(f"connect to {ip} port {port}: {exc.strerror or exc or type(exc).__name__}") from None
        try:
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
            writer.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()
            lease.release()

    @contextlib.asynccontextmanager
    async def datagram(self, host: str, ip: str, port: int, purpose: str,
                       protocol: Callable[[], asyncio.DatagramProtocol], *,
                       origin_ip: str | None = None) -> AsyncIterator[asyncio.DatagramTransport]:
        """A UDP socket connected to ip:port for `host` (so an ICMP "port unreachable" reaches
        `protocol`), closed and released on exit. OSError when it cannot be opened."""

        async def connect(real_ip: str, real_port: int) -> asyncio.DatagramTransport:
            transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                protocol, remote_addr=(real_ip, real_port))
            return transport

        transport, lease = await self.open(host, ip, port, purpose, connect, origin_ip=origin_ip, transport="udp")
        try:
            yield transport
        finally:
            transport.close()
            lease.release()

    def dns_backend(self, host: str, purpose: str = "dns-resolver") -> dns.asyncbackend.Backend:
        """dnspython's sockets for the resolver at `host`, through this door (see the module doc)."""
        return _DnsBackend(self, host, purpose)


class _DnsBackend(dns.asyncbackend.Backend):
    """dnspython's asyncio backend, its sockets opened through `Network.open` and recorded.

    dnspython asks over unconnected UDP sockets (a datagram names its destination when sent)
    and falls back to TCP for truncated answers: each datagram is recorded as `sent`, each
    TCP connection as the door records it.
    """

    def __init__(self, network: Network, host: str, purpose: str) -> None:
        self._network, self._host, self._purpose = network, host, purpose
        self._inner = dns.asyncbackend.get_backend("asyncio")

    def name(self) -> str:
        return self._inner.name()

    async def make_socket(self, af, socktype, proto=0, source=None, destination=None, timeout=None,
                          ssl_context=None, server_hostname=None):
        if socktype == socket.SOCK_DGRAM:
            inner = await self._inner.make_socket(af, socktype, proto, source, destination, timeout)
            return _RecordedDatagrams(inner, self._network, self._host, self._purpose)

        async def connect(real_ip: str, real_port: int):
            return await self._inner.make_socket(af, socktype, proto, source, (real_ip, real_port), timeout,
                                                 ssl_context, server_hostname)

        sock, _ = await self._network.open(self._host, destination[0], destination[1], self._purpose, connect,
                                           guarded=False)
        return sock

    def datagram_connection_required(self) -> bool:
        return self._inner.datagram_connection_required()

    async def sleep(self, interval: float) -> None:
        await self._inner.sleep(interval)

    def get_transport_class(self):
        return self._inner.get_transport_class()

    async def wait_for(self, awaitable, timeout):
        return await self._inner.wait_for(awaitable, timeout)


class _RecordedDatagrams(dns.asyncbackend.DatagramSocket):
    """An unconnected UDP socket of dnspython's whose every datagram is recorded before it leaves."""

    def __init__(self, inner: dns.asyncbackend.DatagramSocket, network: Network, host: str, purpose: str) -> None:
        super().__init__(inner.family, inner.type)
        self._inner, self._network, self._host, self._purpose = inner, network, host, purpose

    async def sendto(self, what, destination, timeout):
        self._network.record(self._host, destination[0], destination[1], self._purpose, "sent", "udp")
        return await self._inner.sendto(what, destination, timeout)

    async def recvfrom(self, size, timeout):
        return await self._inner.recvfrom(size, timeout)

    async def close(self):
        await self._inner.close()

    async def getpeername(self):
        return await self._inner.getpeername()

    async def getsockname(self):
        return await self._inner.getsockname()

    async def getpeercert(self, timeout):
        return await self._inner.getpeercert(timeout)


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
