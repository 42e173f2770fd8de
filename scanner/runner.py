"""The scan: inventory -> probes -> facts (stored as they come), then judged by scanner.judge.

Endpoints run concurrently up to `concurrency`; the Network caps connections per host
and per address. The probes are one table (`scanner/probes/registry.py`) looped over per
endpoint and per mail domain; each runs under an overall deadline and any failure becomes
an `error` fact for that target only. An interrupted run is recorded as incomplete and
can be resumed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from checks.registry import Registry
from scanner import __version__
from scanner.inputfiles import CA_BUNDLE_LIMIT, check_writable, read_bytes
from scanner.inventory import Inventory, registrable_domain, valid_suffix
from scanner.judge import judge_run, refuse_other_policy
from scanner.model import Endpoint, InputError, Service, shown
from scanner.policy import Policy
from scanner.probes.certificate.path import load_trust_store
from scanner.probes.context import ProbeContext
from scanner.probes.dns.validator import TrustAnchors, Validator
from scanner.probes.net import Limits, Network, PortMap, ProbeError, Scope
from scanner.probes.plugin import Probe, Target
from scanner.probes.registry import default_probes
from scanner.probes.resolver import Resolver, parse_server
from scanner.store import Store, new_run_id
from scanner.times import parse_rfc3339, rfc3339

Progress = Callable[[int, int, str], None]


@dataclass
class ScanOptions:
    concurrency: int = 16
    per_host: int = 2
    per_ip: int = 4
    rate_per_ip: float = 20.0
    timeout: float = 60.0  # overall deadline for one probe of one target
    io_timeout: float = 5.0
    resolver: str | None = None
    ca_bundle: Path | None = None
    trust_anchors: list[Path] = field(default_factory=list)
    trust_resolver_ad: bool = False  # take the named resolver's AD bit as "secure" (reported as such)
    scope: tuple[str, ...] = ()
    audit_log: Path | None = None
    port_map: PortMap | None = None  # the lab's; empty for real scans

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["ca_bundle"] = str(self.ca_bundle) if self.ca_bundle else None
        out["trust_anchors"] = [str(p) for p in self.trust_anchors]
        out["audit_log"] = str(self.audit_log) if self.audit_log else None
        out["port_map"] = self.port_map.to_json() if self.port_map else None
        out["scope"] = list(self.scope)
        return out

    def validate(self) -> None:
        for name in ("concurrency", "per_host", "per_ip"):
            if getattr(self, name) < 1:
                raise InputError(f"--{name.replace('_', '-')}", "must be at least 1")
        for name in ("timeout", "io_timeout", "rate_per_ip"):
            if getattr(self, name) <= 0:
                raise InputError(f"--{name.replace('_', '-')}", "must be positive")
        if self.trust_resolver_ad and not self.resolver:
            raise InputError("--trust-resolver-ad", "name the validating resolver to trust with --resolver")
        if self.ca_bundle is not None:
            check_ca_bundle(Path(self.ca_bundle))
        TrustAnchors.load(self.trust_anchors, include_root=False)
        if self.audit_log is not None:
            check_writable(self.audit_log, "audit log", create_parents=False)
        if self.resolver:
            parse_server(self.resolver)
        for suffix in self.scope:
            if not valid_suffix(suffix):
                raise InputError("--scope", f"{shown(suffix)} is not a domain name suffix")


def check_ca_bundle(path: Path) -> None:
    """A CA bundle must hold at least one certificate: without roots every service would end incomplete."""
    if not path.is_file():
        raise InputError(str(path), "CA bundle not found")
    read_bytes(path, "CA bundle", CA_BUNDLE_LIMIT)  # bounded before the trust store parses it
    try:
        load_trust_store(path)
    except ValueError:
        raise InputError(str(path), "no certificate in this CA bundle (expected PEM roots)") from None


def service_definition(svc: Service) -> dict[str, Any]:
    """What the store keeps of a service: enough to re-judge and report without the inventory."""
    return {
        "name": svc.name, "organisation": svc.organisation, "tags": svc.tags, "owner": svc.owner,
        "endpoints": [{"target": e.target, "host": e.host, "port": e.port, "scheme": e.scheme, "kind": str(e.kind)}
                      for e in svc.endpoints],
        "mail_domains": mail_subjects(svc),
        "source": {"file": svc.source.file, "line": svc.source.line} if svc.source else None,
    }


def mail_subjects(svc: Service) -> list[dict[str, Any]]:
    """Declared mail domains plus every registrable domain of the service's hosts."""
    out = {d: True for d in svc.mail_domains}
    for host in svc.hosts():
        domain = registrable_domain(host)
        if domain and domain not in out:
            out[domain] = False
    return [{"domain": d, "declared": declared} for d, declared in sorted(out.items())]


def build_scope(inventory: Inventory, extra: tuple[str, ...]) -> Scope:
    scope = Scope(suffixes=tuple(s.lower() for s in extra) + inventory.scope_suffixes)
    for svc in inventory.services:
        for ep in svc.endpoints:
            scope.add(ep.host)
            if registrable_domain(ep.host) == ep.host:  # a bare domain implies its www name (pshtt)
                scope.add(f"www.{ep.host}")
        for md in mail_subjects(svc):
            scope.add(md["domain"], f"mta-sts.{md['domain']}")
    return scope


async def collect_endpoint(ctx: ProbeContext, probes: Sequence[Probe], ep: Endpoint,
                           timeout: float) -> tuple[list[str], dict[str, Any]]:
    """The endpoint probes in table order, after resolving the name once for all of them.

    A name that cannot be resolved, or gives no address, is every probe's reason (whatever
    the scheme), except for the probes that need no address, which still run.
    """
    mine = [p for p in probes if p.subject == "endpoint"]
    try:
        addresses = await ctx.resolver.addresses(ep.host)
    except ProbeError as exc:
        return [], {section: {"error": str(exc)} for p in mine for section in p.sections}
    target = Target.of_endpoint(ep, addresses)
    facts: dict[str, Any] = {}
    for probe in mine:
        if probe.needs_addresses and not addresses:
            reason = f"{ep.host} has no A or AAAA record ({facts.get('dns', {}).get('rcode', 'no answer')})"
            facts.update({section: {"error": reason} for section in probe.sections})
        elif probe.applies(target):
            facts.update(await run_probe(ctx, probe, target, timeout))
    return addresses, facts


async def collect_domain(ctx: ProbeContext, probes: Sequence[Probe], domain: str, timeout: float) -> dict[str, Any]:
    """The mail-domain probes, each once per domain in a run (services share domains)."""
    target = Target.of_domain(domain)
    facts: dict[str, Any] = {}
    for probe in probes:
        if probe.applies(target):
            facts.update(await ctx.cached((probe.name, domain),
                                          lambda probe=probe: run_probe(ctx, probe, target, timeout)))
    return facts


async def run_probe(ctx: ProbeContext, probe: Probe, target: Target, timeout: float) -> dict[str, Any]:
    """One probe under its deadline; any failure is an `error` fact in each of its sections
    for that target only, and only cancellation goes up."""
    seconds = timeout * probe.budget
    try:
        async with asyncio.timeout(seconds):
            return await probe.collect(ctx, target)
    except TimeoutError:
        error = f"{probe.label} did not finish within {seconds:g} s"
    except ProbeError as exc:
        error = str(exc)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a probe bug must not lose the run
        error = f"{probe.label} failed unexpectedly: {type(exc).__name__}: {exc}"[:300]
    return {section: {"error": error} for section in probe.sections}


class Runner:
    def __init__(self, options: ScanOptions, registry: Registry, policy: Policy, store: Store,
                 progress: Progress | None = None, probes: Sequence[Probe] | None = None) -> None:
        options.validate()
        self.options, self.registry, self.policy, self.store = options, registry, policy, store
        self.progress = progress
        self.probes = tuple(probes) if probes is not None else default_probes()
        self.network: Network | None = None

    def _context(self, inventory: Inventory, now: datetime) -> ProbeContext:
        o = self.options
        anchors = TrustAnchors.load(o.trust_anchors)
        self.network = Network(
            scope=build_scope(inventory, o.scope),
            limits=Limits(per_host=o.per_host, per_ip=o.per_ip, rate_per_ip=o.rate_per_ip, connect_timeout=o.io_timeout),
            port_map=o.port_map, audit_log=o.audit_log)
        resolver = Resolver(o.resolver, timeout=o.io_timeout, trust_ad=o.trust_resolver_ad, network=self.network)
        return ProbeContext(network=self.network, resolver=resolver, now=now, timeout=o.timeout,
                            io_timeout=o.io_timeout, ca_bundle=o.ca_bundle,
                            validator=Validator(resolver, anchors, now))

    def scan(self, inventory: Inventory, resume: str | None = None) -> str:
        """Collect every fact (or until interrupted), then have the run judged; return the run id."""
        now = datetime.now(UTC).replace(microsecond=0)
        if resume:
            run_id = self.store.resolve_run(resume)
            run = self.store.run(run_id)
            refuse_other_policy(run, self.policy)
            now = parse_rfc3339(run["started"])
            self.store.reopen_run(run_id)
        else:
            run_id = new_run_id(now)
            self.store.start_run(run_id, rfc3339(now), __version__, self.policy.ref, inventory.source,
                                 self.options.to_json(), policy_digest=self.policy.digest(),
                                 policy_data=self.policy.to_data())
        complete = False
        started = time.monotonic()
        try:
            total = asyncio.run(self._collect(run_id, inventory, now))
            judge_run(self.store, run_id, self.registry, self.policy, now)
            complete = True
            if self.progress:
                self.progress(total, total, f"done in {time.monotonic() - started:.1f} s")
        finally:
            self.store.finish_run(run_id, complete)
            if self.network:
                self.network.close()
        return run_id

    async def _collect(self, run_id: str, inventory: Inventory, now: datetime) -> int:
        """Collect and store the facts not stored yet; return how many subjects the run has."""
        ctx = self._context(inventory, now)
        done_eps, done_doms = self.store.collected(run_id)
        gate = asyncio.Semaphore(self.options.concurrency)
        total = sum(len(s.endpoints) + len(mail_subjects(s)) for s in inventory.services)
        finished = len(done_eps) + len(done_doms)

        def tick(label: str) -> None:
            nonlocal finished
            finished += 1
            if self.progress:
                self.progress(finished, total, label)

        async def endpoint(svc: Service, ep: Endpoint) -> None:
            if (svc.id, ep.target) in done_eps:
                return
            async with gate:
                addresses, facts = await collect_endpoint(ctx, self.probes, ep, self.options.timeout)
            self.store.save_endpoint(run_id, svc.id, ep.target, addresses, facts)
            tick(ep.target)

        async def mail_domain(svc: Service, domain: str) -> None:
            if (svc.id, domain) in done_doms:
                return
            async with gate:
                facts = await collect_domain(ctx, self.probes, domain, self.options.timeout)
            self.store.save_mail_domain(run_id, svc.id, domain, facts)
            tick(domain)

        async def service(svc: Service) -> None:
            self.store.save_service(run_id, svc.id, svc.name, svc.organisation, service_definition(svc))
            await asyncio.gather(*(endpoint(svc, ep) for ep in svc.endpoints),
                                 *(mail_domain(svc, md["domain"]) for md in mail_subjects(svc)))

        await asyncio.gather(*(service(svc) for svc in inventory.services))
        return total
