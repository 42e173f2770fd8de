"""The one way out: every socket the scanner opens goes through `Network`.

Here live the rules that keep a scan polite and safe, so no probe can forget them:
scope (only hosts the inventory names or implies), the address policy (the SSRF guard:
`AddressPolicy`, one rule for every address whatever led to it), caps per host and per
IP address, a per-IP rate limit, a connect timeout, the record of every connection (the
audit log), and the lab's port map. Waiting for a slot is the scanner's own queue: it
pauses the deadlines around it and is bounded apart (`deadline.py`).

`Network.open` is the door: TCP streams (`tcp`), the HTTP probe's httpx transport,
questions to name servers over UDP (`datagram`) and TCP all pass it. The resolver's own
queries go out through `dns_backend`: they are recorded in the same format (purpose
`dns-resolver`), without the scope rule and the caps, since the user chose that resolver
and every lookup depends on it. `has_route` alone opens a socket that sends nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import dns.asyncbackend

from scanner.probes.deadline import QueueTimeout, queued
from scanner.probes.politeness import Lease, LocalPoliteness, Politeness
from scanner.standards.addresses import IPNetwork, address, special
from scanner.times import rfc3339_precise

T = TypeVar("T")


class ProbeError(Exception):
    """A target-side failure a probe reports as a fact (`error`), never a crash."""


class Refused(ProbeError):
    """The scanner itself refused to connect (scope, address policy)."""


class ScannerLimit(ProbeError):
    """The scanner's own limit, not the target's fault: a connection slot not had in time."""


class NotListening(ProbeError):
    """The target actively refused the connection: a measured "nothing listens here"."""


class HandshakeFailed(ProbeError):
    """TCP connected but the TLS handshake did not complete (alert, reset, garbage, stall)."""


def address_facts(ip: str, reason: str) -> dict[str, Any]:
    """A refused address as a fact: {ip, kind, network, reason}."""
    found = special(ip)
    return {"ip": ip, "kind": found.kind if found else "public",
            "network": str(found.block.network) if found else None, "reason": reason}


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses a scan may contact: one rule for every address, whatever led to it
    (an inventory entry, a DNS answer, a redirect, an MX, NS or CNAME target).

    Public addresses: yes. Blocks of kind `never` (unspecified, multicast, broadcast): never.
    Private space (RFC 1918, RFC 6598, ULA): only inside a network the user allowed
    (`allowed`: --allow-network and the inventory's `networks`). Cloud metadata and every
    other special-purpose block (loopback, link-local, documentation...): only where the
    inventory's own targets are (`home`: the kinds of its address-literal targets and of
    the lab's addresses), or an address the inventory names itself (`targets`).
    """

    allowed: tuple[IPNetwork, ...] = ()
    home: frozenset[str] = frozenset()
    targets: frozenset[str] = frozenset()

    def refusal(self, ip: str) -> str | None:
        """Why the scan must not contact `ip`, or None when it may."""
        found = special(ip)
        if found is None:
            return None
        what = f"{ip} is {found.block.name} ({found.block.network})"
        if found.kind == "never":
            return f"{what}: never contacted"
        if str(address(ip)) in self.targets:
            return None
        if found.kind == "private":
            if any(found.address in net for net in self.allowed if net.version == found.address.version):
                return None
            return f"{what}: private space that no --allow-network or inventory `networks` allows"
        if found.kind == "metadata":
            return f"{what}: contacted only when the inventory names that very address"
        if found.kind in self.home:
            return None
        return f"{what}: special-purpose space the inventory's own targets are not in"

    @classmethod
    def of_scan(cls, hosts: Iterable[str], allowed: Iterable[IPNetwork] = (),
                lab: PortMap | None = None) -> AddressPolicy:
        """The policy of a scan: `hosts` are the inventory's targets (address literals count),
        `allowed` the networks the user allowed, `lab` the lab's port map (its addresses are the
        lab's own targets: the lab on loopback)."""
        literals = []
        for host in hosts:
            try:
                literals.append(str(address(host)))
            except ValueError:
                continue
        lab_ips = [ip for ip, _ in (lab.ports if lab else {})]
        kinds = {found.kind for ip in literals + lab_ips if (found := special(ip)) is not None}
        return cls(tuple(allowed), frozenset(kinds - {"never", "private", "metadata"}), frozenset(literals))


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
    queue_timeout: float = 600.0  # the longest wait for a slot and the rate limit (see deadline.py)


class Network:
    def __init__(
        self,
        scope: Scope | None = None,
        limits: Limits | None = None,
        port_map: PortMap | None = None,
        audit_log: Path | None = None,
        policy: AddressPolicy | None = None,
        *,
        keep_records: bool = True,
        owned: set[str] | None = None,
        shares: int = 1,
        run_id: str | None = None,
        politeness: Politeness | None = None,
    ) -> None:
        """`keep_records`: keep every ConnectionRecord in `records` (tests and benches count
        them; a scan has the audit log instead, and keeps none). `run_id`: the run each
        audit-log line names. `politeness` keeps the caps and the rate limit (default: in this
        process, `LocalPoliteness`, which takes `owned` and `shares` for the worker processes
        of scanner/shards.py)."""
        self.scope = scope  # None: anything goes (used by `gate` on explicit targets)
        self.policy = policy or AddressPolicy()  # by default: public addresses only
        self.limits = limits or Limits()
        self.port_map = port_map or PortMap()
        self.records: list[ConnectionRecord] = []
        self._keep_records = keep_records
        self._audit = audit_log.open("a", encoding="utf-8") if audit_log else None
        self.run_id = run_id
        self.politeness = politeness or LocalPoliteness(self.limits.per_host, self.limits.per_ip,
                                                        self.limits.rate_per_ip, owned, shares)

    def close(self) -> None:
        self.politeness.close()
        if self._audit:
            self._audit.close()
            self._audit = None

    def record(self, host: str, ip: str, port: int, purpose: str, outcome: str, transport: str = "tcp") -> None:
        rec = ConnectionRecord(time.time(), host, ip, port, purpose, outcome, transport)
        if self._keep_records:
            self.records.append(rec)
        if self._audit:
            line = asdict(rec) | {"time": rfc3339_precise(rec.at), "run": self.run_id}
            self._audit.write(json.dumps(line) + "\n")
            self._audit.flush()

    def attempts(self, ip: str | None = None, purpose: str | None = None) -> list[ConnectionRecord]:
        return [r for r in self.records if (ip is None or r.ip == ip) and (purpose is None or r.purpose == purpose)]

    def check(self, host: str, ip: str, port: int, purpose: str, transport: str = "tcp") -> None:
        """Raise Refused (and record it) if scope or the address policy forbid contacting ip:port for `host`."""
        if self.scope is not None and not self.scope.allows(host):
            self.record(host, ip, port, purpose, "refused: out of scope", transport)
            raise Refused(f"{host} is outside the scan's scope")
        reason = self.policy.refusal(ip)
        if reason:
            self.record(host, ip, port, purpose, f"refused: {reason}", transport)
            raise Refused(reason)

    def admit(self, host: str, addresses: Iterable[str], port: int, purpose: str,
              ) -> tuple[list[str], list[dict[str, Any]]]:
        """A name's addresses, each judged on its own: those the scan may contact, and the
        refused ones as facts (each refusal recorded, as a connection it would have been)."""
        allowed, refused = [], []
        for ip in addresses:
            reason = self.policy.refusal(ip)
            if reason is None:
                allowed.append(ip)
            else:
                self.record(host, ip, port, purpose, f"refused: {reason}")
                refused.append(address_facts(ip, reason))
        return allowed, refused

    async def _acquire(self, host: str, ip: str, port: int, purpose: str, transport: str = "tcp",
                       ) -> tuple[Lease, int]:
        """Check the rules, wait for a slot and for the rate limit; return the lease and real port.

        The wait is the scanner's own queue: deadlines around it stand still (deadline.py), and
        a wait beyond `queue_timeout` is ScannerLimit, never the target's timeout.
        """
        self.check(host, ip, port, purpose, transport)
        try:
            async with queued(self.limits.queue_timeout):
                lease = await self.politeness.acquire(host, ip)
        except QueueTimeout:
            self.record(host, ip, port, purpose, "failed: scanner limit", transport)
            raise ScannerLimit(f"scanner limit: waited {self.limits.queue_timeout:g} s for a connection "
                               f"slot to {ip}") from None
        return lease, self.port_map.real(ip, port, host)

    async def open(self, host: str, ip: str, port: int, purpose: str, connect: Callable[[str, int], Awaitable[T]],
                   *, transport: str = "tcp", guarded: bool = True) -> tuple[T, Lease]:
        """The door: `connect(ip, real_port)` once the rules allow it, and its record either way.

        Guarded (every target the scan contacts): scope, the address policy, caps, rate limit and the
        port map first, and a refused connection raises NotListening (a measured "nothing
        listens here"). Unguarded (the resolver the user named): only the record. Other
        failures raise as `connect` raised them. The caller releases the lease when done.
        """
        if guarded:
            lease, real_port = await self._acquire(host, ip, port, purpose, transport)
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
        tls: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        limit: int = 65536,
    ) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
        """An open TCP (optionally TLS) stream to ip:port for `host`, closed and released on exit."""

        async def connect(real_ip: str, real_port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            async with asyncio.timeout(self.limits.connect_timeout):
                return await asyncio.open_connection(real_ip, real_port, limit=limit)

        try:
            (reader, writer), lease = await self.open(host, ip, port, purpose, connect)
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
                       protocol: Callable[[], asyncio.DatagramProtocol],
                       ) -> AsyncIterator[asyncio.DatagramTransport]:
        """A UDP socket connected to ip:port for `host` (so an ICMP "port unreachable" reaches
        `protocol`), closed and released on exit. OSError when it cannot be opened."""

        async def connect(real_ip: str, real_port: int) -> asyncio.DatagramTransport:
            transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                protocol, remote_addr=(real_ip, real_port))
            return transport

        transport, lease = await self.open(host, ip, port, purpose, connect, transport="udp")
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
    Ask `Network.check` first: a refused address is refused before it is even routed.
    """
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((ip.split("%", 1)[0], 9))  # any port: nothing is sent
    except OSError:
        return False
    return True
