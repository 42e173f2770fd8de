"""What every probe receives: the network, the resolver, deadlines, trust, run caches."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from scanner import __version__
from scanner.probes.dns.validator import Validator
from scanner.probes.memo import Memo
from scanner.probes.net import Network, Refused
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

    async def addresses(self, host: str, port: int, purpose: str) -> tuple[list[str], list[dict[str, Any]]]:
        """Where `host` may be contacted: its addresses (an address literal is its own), each
        judged by the scan's address policy; the refused ones as facts, each refusal recorded.

        Every name a probe connects to is resolved here, whatever named it (the inventory, a
        redirect, an MX, a CNAME chain), so one rule holds for every address of every set. A
        host outside the scan's scope is Refused before it is even looked up.
        """
        if self.network.scope is not None and not self.network.scope.allows(host):
            self.network.record(host, "", port, purpose, "refused: out of scope")
            raise Refused(f"{host} is outside the scan's scope")
        try:
            found = [str(ipaddress.ip_address(host.split("%", 1)[0]))]
        except ValueError:
            found = await self.resolver.addresses(host)
        return self.network.admit(host, found, port, purpose)

    async def cached(self, key: Any, compute: Callable[[], Awaitable[T]]) -> T:
        """Run `compute` once per key within a run (e.g. TLS facts per ip:port), while it is
        remembered (scanner/probes/memo.py)."""
        return await self._cache.get(key, compute)
