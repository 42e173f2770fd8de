"""The one shape of a probe: what it is called, which fact sections it writes, what it looks at.

Every probe, built in (one per protocol package, `PROBE` in its `probe.py`) or installed
under the `bolwerk.probes` entry points, is a `Probe`; the runner loops over one table of
them (`scanner/probes/registry.py`) and never wires a probe by hand. A probe collects, it
never judges: `collect` returns plain JSON-able facts, one dictionary per section it
declares, and the checks read them by section name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from scanner.model import Endpoint
from scanner.probes.context import ProbeContext

Subject = Literal["endpoint", "mail_domain"]
SCHEMES = frozenset({"https", "http"})


@dataclass(frozen=True)
class Target:
    """What one probe run looks at: an endpoint with its addresses (the runner resolves the
    name once, for every probe, and judges each address by the scan's address policy), or a
    mail domain (every registrable domain of a service)."""

    subject: Subject
    name: str  # the endpoint's host, or the domain
    endpoint: Endpoint | None = None
    addresses: tuple[str, ...] = ()  # those the address policy lets the scan contact
    refused: tuple[dict[str, Any], ...] = ()  # the name's other addresses: {ip, kind, network, reason}
    dkim_selectors: tuple[str, ...] = ()  # a mail domain's DKIM selectors, as the inventory names them

    @classmethod
    def of_endpoint(cls, endpoint: Endpoint, addresses: Iterable[str],
                    refused: Iterable[dict[str, Any]] = ()) -> Target:
        return cls("endpoint", endpoint.host, endpoint, tuple(addresses), tuple(refused))

    @classmethod
    def of_domain(cls, domain: str, dkim_selectors: Iterable[str] = ()) -> Target:
        return cls("mail_domain", domain, dkim_selectors=tuple(dkim_selectors))


Collect = Callable[[ProbeContext, Target], Awaitable[dict[str, dict[str, Any]]]]


@dataclass(frozen=True)
class Probe:
    """One probe. `collect(ctx, target)` returns {section: facts} for exactly its `sections`.

    The runner bounds it by the run's per-probe timeout times `budget`, and turns any
    failure (timeout, ProbeError, a bug) into `{"error": ...}` in each of its sections, so
    one target's trouble never stops a run. An endpoint probe runs for the schemes it names;
    one that `needs_addresses` is told why instead when the host has no address.
    """

    name: str
    sections: tuple[str, ...]
    collect: Collect
    label: str  # names it in error facts: "TLS probe did not finish within 60 s"
    subject: Subject = "endpoint"
    schemes: frozenset[str] = SCHEMES
    needs_addresses: bool = True
    budget: float = 1.0

    def applies(self, target: Target) -> bool:
        if self.subject != target.subject:
            return False
        return target.endpoint is None or target.endpoint.scheme in self.schemes
