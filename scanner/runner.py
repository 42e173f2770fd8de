"""The scan: inventory -> units of work -> facts (stored as they come), then judged by scanner.judge.

A scan is a stream of units (scanner/work.py: one endpoint, or one mail domain), taken
`concurrency` at a time by one event loop: only the units in flight are in memory, and
each is handed to a StoreWriter (scanner/store.py) as soon as it is collected. With
`workers` > 1 the units are split over worker processes (scanner/shards.py: endpoints
that share an address stay together, so caps per address hold), each with its own
event loop, Network and store connection, and then every service is judged, in the
workers too, a share of the services each. The Network caps connections per host and
per address; each probe runs under an overall deadline and any failure becomes an
`error` fact for that target only. An interrupted run is recorded as incomplete and can
be resumed.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import multiprocessing.connection
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from checks.registry import Registry
from scanner import __version__
from scanner.inputfiles import CA_BUNDLE_LIMIT, check_writable, read_bytes
from scanner.inventory import Inventory, valid_suffix
from scanner.judge import estate_view, judge_run, refuse_other_policy
from scanner.model import InputError, Service, shown
from scanner.policy import Policy
from scanner.probes import cpu
from scanner.probes.certificate.path import load_trust_store
from scanner.probes.context import ProbeContext
from scanner.probes.dns.validator import TrustAnchors, Validator
from scanner.probes.net import AddressPolicy, Limits, Network, PortMap, ProbeError, Scope
from scanner.probes.plugin import Probe
from scanner.probes.politeness import Politeness
from scanner.probes.registry import default_probes
from scanner.probes.resolver import Resolver, addresses_of, packed, parse_server
from scanner.shards import Shard, split
from scanner.standards.addresses import private_network
from scanner.standards.public_suffix import registrable_domain
from scanner.store import Collected, Store, StoreWriter, new_run_id
from scanner.times import parse_rfc3339, rfc3339
from scanner.work import Unit, collect, mail_subjects, plan

Progress = Callable[[int, int, str], None]


class CollectionFailed(Exception):
    """The engine could not collect the run (a worker failed): the run is kept incomplete."""


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
    allow_networks: tuple[str, ...] = ()  # private networks the scan may contact (--allow-network)
    audit_log: Path | None = None
    port_map: PortMap | None = None  # the lab's; empty for real scans
    workers: int = 1  # processes that collect and judge (the command line's default: the cores)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["ca_bundle"] = str(self.ca_bundle) if self.ca_bundle else None
        out["trust_anchors"] = [str(p) for p in self.trust_anchors]
        out["audit_log"] = str(self.audit_log) if self.audit_log else None
        out["port_map"] = self.port_map.to_json() if self.port_map else None
        out["scope"] = list(self.scope)
        out["allow_networks"] = list(self.allow_networks)
        return out

    def validate(self) -> None:
        for name in ("concurrency", "per_host", "per_ip", "workers"):
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
        for network in self.allow_networks:
            try:
                private_network(network)
            except ValueError as exc:
                raise InputError("--allow-network", str(exc)) from None


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


def build_scope(inventory: Inventory, extra: tuple[str, ...]) -> Scope:
    scope = Scope(suffixes=tuple(s.lower() for s in extra) + inventory.scope_suffixes)
    for svc in inventory.services:
        for ep in svc.endpoints:
            scope.add(ep.host)
            if registrable_domain(ep.host) == ep.host:  # a bare domain implies its www name (pshtt)
                scope.add(f"www.{ep.host}")
        for md in mail_subjects(svc):
            scope.add(md["domain"], f"mta-sts.{md['domain']}")
    scope.deny(*(host for svc in inventory.excluded for host in svc.hosts() if host not in scope.hosts))
    return scope


def probe_context(o: ScanOptions, scope: Scope, now: datetime, addresses: AddressPolicy, *,
                  owned: set[str] | None = None, shares: int = 1, politeness: Politeness | None = None,
                  run_id: str | None = None) -> ProbeContext:
    """What the probes of one engine's process get: a Network under the run's scope, address
    policy and limits (the politeness of this process unless another is given), the resolver,
    the DNSSEC validator."""
    network = Network(
        scope=scope,
        limits=Limits(per_host=o.per_host, per_ip=o.per_ip, rate_per_ip=o.rate_per_ip, connect_timeout=o.io_timeout),
        port_map=o.port_map, audit_log=o.audit_log, policy=addresses, keep_records=False, owned=owned,
        shares=shares, run_id=run_id, politeness=politeness)
    resolver = Resolver(o.resolver, timeout=o.io_timeout, trust_ad=o.trust_resolver_ad, network=network)
    return ProbeContext(network=network, resolver=resolver, now=now, timeout=o.timeout, io_timeout=o.io_timeout,
                        ca_bundle=o.ca_bundle, validator=Validator(resolver, TrustAnchors.load(o.trust_anchors), now))


def default_workers() -> int:
    """One worker process per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class Runner:
    def __init__(self, options: ScanOptions, registry: Registry, policy: Policy, store: Store,
                 progress: Progress | None = None, probes: Sequence[Probe] | None = None) -> None:
        options.validate()
        self.options, self.registry, self.policy, self.store = options, registry, policy, store
        self.progress = progress
        self.probes = tuple(probes) if probes is not None else default_probes()
        self.network: Network | None = None
        self.addresses = AddressPolicy()  # the scan's, set by scan() from the inventory
        self.run_id: str | None = None  # known once scan() started or resumed it (named when interrupted)
        self._lookups: dict[str, list[tuple[tuple[str, str], bytes]]] = {}  # host -> its address lookups, packed, by _split

    def _context(self, scope: Scope, now: datetime, shard: Shard | None = None, shares: int = 1) -> ProbeContext:
        ctx = probe_context(self.options, scope, now, self.addresses, owned=shard.owned if shard else None,
                            shares=shares, run_id=self.run_id)
        self.network = ctx.network
        return ctx

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
        self.run_id = run_id
        self.store.save_services(run_id, [(svc.id, svc.name, svc.organisation, service_definition(svc))
                                          for svc in inventory.services])
        done_eps, done_doms = self.store.collected(run_id)
        units = list(plan(inventory.services, done_eps, done_doms))
        total = sum(len(s.endpoints) + len(mail_subjects(s)) for s in inventory.services)
        progress = _Tally(self.progress, len(done_eps) + len(done_doms), total)
        scope = build_scope(inventory, self.options.scope)
        self.addresses = AddressPolicy.of_scan(
            (ep.host for svc in inventory.services for ep in svc.endpoints),
            [private_network(n) for n in (*self.options.allow_networks, *inventory.networks)], self.options.port_map)
        complete = False
        started = time.monotonic()
        try:
            self.collect_units(run_id, units, scope, now, progress)
            self._judge(run_id, now)
            complete = True
            progress.finish(f"done in {time.monotonic() - started:.1f} s")
        finally:
            self.store.finish_run(run_id, complete)
        return run_id

    def collect_units(self, run_id: str, units: list[Unit], scope: Scope, now: datetime, progress: _Tally) -> None:
        """Collect and store every unit; `progress.tick(subject)` as each is committed. This is
        the engine: here, this process or its worker processes (another engine overrides it)."""
        shards = self._split(units, scope, now)
        if len(shards) > 1:
            _in_workers([(self._collect_shard, (run_id, shard, scope, now, len(shards))) for shard in shards],
                        progress, forked=self._lookups.clear)  # the workers have their copies
        else:
            self._collect(run_id, shards[0].units, self._seeded(self._context(scope, now), shards[0]), progress.tick)

    def _split(self, units: list[Unit], scope: Scope, now: datetime) -> list[Shard]:
        """The shards for the worker processes: one (this process) unless there are workers to
        share. Each host's address lookups made here are handed to the shard that has the host."""
        endpoints = [u for u in units if u.kind == "endpoint"]
        if self.options.workers < 2 or len(endpoints) < 2:
            return [Shard(units)]
        hosts = sorted({u.endpoint.host for u in endpoints})
        ctx = self._context(scope, now)
        addresses: dict[str, list[str]] = {}

        async def resolve_all() -> None:
            gate = asyncio.Semaphore(self.options.concurrency)

            async def one(host: str) -> None:
                async with gate:
                    try:
                        found = await ctx.resolver.address_lookups(host)
                    except ProbeError:
                        return
                addresses[host] = addresses_of(*found)
                self._lookups[host] = [packed(lookup) for lookup in found]

            await asyncio.gather(*(one(h) for h in hosts))

        asyncio.run(resolve_all())
        self.network.close()
        # units in flight spread over addresses, about half an address's connection cap each
        window = max(1, 2 * self.options.concurrency // self.options.per_ip)
        return split(units, addresses, self.options.workers, window)

    def _collect(self, run_id: str, units: Sequence[Unit], ctx: ProbeContext,
                 stored: Callable[[str], None], in_loop: bool = True) -> None:
        """Collect the units, `concurrency` at a time, each handed to the store's writer as soon
        as it is collected; `stored(subject)` once it is committed (on this process's event
        loop when `in_loop`, else on the writer's thread)."""
        reports: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]] = []  # the loop, its committed subjects

        def committed(item: Collected) -> None:  # on the writer's thread
            if not in_loop:
                stored(item.subject)
                return
            loop, queue = reports[0]
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item.subject)
            except RuntimeError:  # the loop is closed: the scan was interrupted
                pass

        async def report(queue: asyncio.Queue[str]) -> None:
            while True:
                stored(await queue.get())
                queue.task_done()

        async def run(writer: StoreWriter) -> None:
            reports.append((asyncio.get_running_loop(), asyncio.Queue()))
            reporter = asyncio.create_task(report(reports[0][1]))
            todo = iter(units)

            async def work() -> None:
                for unit in todo:  # shared by every task: each takes the next unit
                    for item in await collect(ctx, self.probes, unit, run_id, self.options.timeout):
                        writer.put(item)

            await asyncio.gather(*(work() for _ in range(max(1, min(self.options.concurrency, len(units))))))
            await asyncio.get_running_loop().run_in_executor(None, writer.flush)
            await reports[0][1].join()  # the last progress reports
            reporter.cancel()

        writer = StoreWriter(self.store.path, committed)
        try:
            asyncio.run(run(writer))
        finally:
            writer.close()
            self.network.close()
            cpu.shutdown()  # this process's CPU workers (each worker process has its own)

    def _collect_shard(self, run_id: str, shard: Shard, scope: Scope, now: datetime, shares: int,
                       report: multiprocessing.connection.Connection) -> None:
        """A worker process: collect one shard's units with a Network of its own."""
        ctx = self._seeded(self._context(scope, now, shard, shares), shard)
        cpu.share(shares)
        self._collect(run_id, shard.units, ctx, report.send, in_loop=False)

    def _seeded(self, ctx: ProbeContext, shard: Shard) -> ProbeContext:
        """The context with the shard's hosts' address lookups made by _split (not asked twice)."""
        ctx.resolver.seed(found for u in shard.units if u.endpoint for found in self._lookups.get(u.endpoint.host, ()))
        self._lookups = {}  # this process's copy: the resolver has what it needs
        return ctx

    def _judge(self, run_id: str, now: datetime) -> None:
        """Judge every service of the run: here, or with workers a share of the services each."""
        ids = list(self.store.service_ids(run_id))
        estate = estate_view(self.store.iter_services(run_id))  # what checks may know of the whole run
        n = min(self.options.workers, len(ids) // 20)
        if n < 2:
            judge_run(self.store, run_id, self.registry, self.policy, now, estate=estate)
            return
        _in_workers([(self._judge_share, (run_id, ids[i::n], now, estate)) for i in range(n)], _Tally(None, 0, 0))

    def _judge_share(self, run_id: str, ids: list[str], now: datetime, estate: dict[str, Any],
                     report: multiprocessing.connection.Connection) -> None:
        store = Store(self.store.path)
        try:
            judge_run(store, run_id, self.registry, self.policy, now, ids, estate)
        finally:
            store.close()


class _Tally:
    """Progress: units stored out of the run's total, told to the callback as they come."""

    def __init__(self, progress: Progress | None, done: int, total: int) -> None:
        self.progress, self.done, self.total = progress, done, total

    def tick(self, label: str) -> None:
        self.done += 1
        if self.progress:
            self.progress(self.done, self.total, label)

    def finish(self, label: str) -> None:
        if self.progress:
            self.progress(self.total, self.total, label)


def _in_workers(jobs: list[tuple[Callable[..., None], tuple[Any, ...]]], progress: _Tally,
                forked: Callable[[], None] | None = None) -> None:
    """Run each job in a forked worker process; their progress reports come back by pipe;
    `forked()` once every worker started (to let go of what only the workers need).

    Fork, so a worker starts with everything this process has loaded (the registry, the
    policy, the probes) without pickling any of it; nothing here holds a thread or an open
    transaction when it forks, and each worker opens the store anew. What it inherits is
    frozen for the garbage collector first (`gc.freeze`): a worker's collections then never
    write to those objects, so their pages stay shared with this process instead of being
    copied into every worker.
    """
    context = multiprocessing.get_context("fork")
    procs, pipes = [], []
    gc.freeze()
    try:
        for target, args in jobs:
            receive, send = context.Pipe(duplex=False)
            proc = context.Process(target=target, args=(*args, send), daemon=True)
            proc.start()
            send.close()
            procs.append(proc)
            pipes.append(receive)
    finally:
        gc.unfreeze()
    if forked is not None:
        forked()
    try:
        while pipes:
            for pipe in multiprocessing.connection.wait(pipes):
                try:
                    progress.tick(pipe.recv())
                except EOFError:
                    pipes.remove(pipe)
        for proc in procs:
            proc.join()
        failed = [p for p in procs if p.exitcode != 0]
        if failed:
            raise CollectionFailed(f"{len(failed)} of {len(procs)} worker processes failed (exit code "
                               f"{failed[0].exitcode}); the run is kept incomplete, resume it with --resume")
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join()
