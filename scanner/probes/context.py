"""What every probe receives: the network, the resolver, deadlines, trust, run caches."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from scanner import __version__
from scanner.probes.dns.validator import Validator
from scanner.probes.memo import Memo
from scanner.probes.net import PUBLIC_ONLY, Network, address_class
from scanner.probes.resolver import Resolver

T = TypeVar("T")

USER_AGENT = f"Bolwerk/{__version__} (security posture scanner; +https://bolwerk.example/scanner)"


@dataclass
class ProbeContext:
    network: Network
    resolver: Resolver
    now: datetime
    timeout: float = 30.0  # overall deadline for one probe of one endpoint
    io_timeout: float = 5.0  # one read or handshake
    ca_bundle: Path | None = None  # None: certifi's Mozilla roots
    validator: Validator | None = None  # DNSSEC, with the run's trust anchors
    user_agent: str = USER_AGENT
    _cache: Memo = field(default_factory=Memo)

    def implied_origin(self) -> str:
        """The SSRF guard's reference for hosts the inventory only implies: MX, MTA-STS, name servers.

        Their addresses come from DNS, not from the inventory, so a hostile zone could point
        them anywhere (169.254.169.254, the scanner's own loopback). They may lie in the
        special space of the resolver the scan was given (the lab's on loopback, a private
        resolver's in private space) and in public space, nowhere else. The system's own
        loopback stub (systemd-resolved on 127.0.0.53) says nothing about where the estate
        lives: behind it, only public addresses.
        """
        servers = self.resolver.nameservers
        if not servers:
            return PUBLIC_ONLY
        ip = servers[0][0]
        if self.resolver.server == "system" and address_class(ip) == "loopback":
            return PUBLIC_ONLY
        return ip

    async def cached(self, key: Any, compute: Callable[[], Awaitable[T]]) -> T:
        """Run `compute` once per key within a run (e.g. TLS facts per ip:port), while it is
        remembered (scanner/probes/memo.py)."""
        return await self._cache.get(key, compute)
