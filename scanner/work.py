"""The unit of work of a scan: one endpoint, or one mail domain; planned, collected, stored.

A scan is a stream of units (`plan`): each endpoint of each service, and each mail
domain once, however many services share it (its facts are stored for each of them).
`collect` runs the probe table over one unit and returns its facts as the store takes
them (`Collected`); nothing else is held for a unit once it is stored. Any engine that
runs units (the runner's event loop, its worker processes, a task queue) runs these
functions and hands the result to a `Store`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence, Set
from dataclasses import dataclass
from typing import Any

from scanner.model import Endpoint, Service
from scanner.probes.context import ProbeContext
from scanner.probes.deadline import deadline
from scanner.probes.net import ProbeError
from scanner.probes.plugin import Probe, Target
from scanner.standards.public_suffix import registrable_domain
from scanner.store import Collected


@dataclass(frozen=True)
class Unit:
    """One endpoint of one service, or one mail domain of the services named."""

    kind: str  # "endpoint" | "mail_domain"
    subject: str  # the endpoint's target, or the domain
    services: tuple[str, ...]  # one service for an endpoint; every service that has the domain
    endpoint: Endpoint | None = None
    dkim_selectors: tuple[str, ...] = ()  # a mail domain's DKIM selectors, as the inventory names them


def mail_subjects(svc: Service) -> list[dict[str, Any]]:
    """Declared mail domains plus every registrable domain of the service's hosts, each with
    the DKIM selectors the inventory names for it (only when it names some)."""
    out = {d: True for d in svc.mail_domains}
    for host in svc.hosts():
        domain = registrable_domain(host)
        if domain and domain not in out:
            out[domain] = False
    subjects = []
    for domain, declared in sorted(out.items()):
        subject: dict[str, Any] = {"domain": domain, "declared": declared}
        selectors = svc.dkim_selectors.get(domain, svc.dkim_selectors.get("*", []))
        if selectors:
            subject["dkim_selectors"] = list(selectors)
        subjects.append(subject)
    return subjects


def plan(services: Sequence[Service], done_endpoints: Set[tuple[str, str]] = frozenset(),
         done_domains: Set[tuple[str, str]] = frozenset()) -> Iterator[Unit]:
    """The units still to collect, in inventory order: each endpoint, and each mail domain once
    per set of DKIM selectors (where the first service that has it comes), for the services
    that do not have its facts yet (a resumed run skips what it stored)."""
    domains: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for svc in services:
        for md in mail_subjects(svc):
            if (svc.id, md["domain"]) not in done_domains:
                domains.setdefault(_domain_key(md), []).append(svc.id)
    for svc in services:
        yield from (Unit("endpoint", ep.target, (svc.id,), ep) for ep in svc.endpoints
                    if (svc.id, ep.target) not in done_endpoints)
        for md in mail_subjects(svc):
            sids = domains.pop(_domain_key(md), None)
            if sids:
                yield Unit("mail_domain", md["domain"], tuple(sids), dkim_selectors=_domain_key(md)[1])


def _domain_key(subject: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    return subject["domain"], tuple(subject.get("dkim_selectors", ()))


async def collect(ctx: ProbeContext, probes: Sequence[Probe], unit: Unit, run_id: str,
                  timeout: float) -> list[Collected]:
    """Collect one unit's facts: what the store keeps, one record per service that has it."""
    if unit.kind == "endpoint":
        addresses, facts = await collect_endpoint(ctx, probes, unit.endpoint, timeout)
        return [Collected(run_id, unit.services[0], "endpoint", unit.subject, facts, addresses)]
    facts = await collect_domain(ctx, probes, unit.subject, timeout, unit.dkim_selectors)
    return [Collected(run_id, sid, "mail_domain", unit.subject, facts) for sid in unit.services]


async def collect_endpoint(ctx: ProbeContext, probes: Sequence[Probe], ep: Endpoint,
                           timeout: float) -> tuple[list[str], dict[str, Any]]:
    """The endpoint probes in table order, after resolving the name once for all of them.

    A name that cannot be resolved, or gives no address the address policy allows, is every
    probe's reason (whatever the scheme), except for the probes that need no address, which
    still run.
    """
    mine = [p for p in probes if p.subject == "endpoint"]
    try:
        addresses, refused = await ctx.addresses(ep.host, ep.port, "endpoint")
    except ProbeError as exc:
        return [], {section: {"error": str(exc)} for p in mine for section in p.sections}
    target = Target.of_endpoint(ep, addresses, refused)
    facts: dict[str, Any] = {}
    for probe in mine:
        if probe.needs_addresses and not addresses:
            reason = (f"{ep.host} has no address the scan may contact ({refused[0]['reason']})" if refused else
                      f"{ep.host} has no A or AAAA record ({facts.get('dns', {}).get('rcode', 'no answer')})")
            facts.update({section: {"error": reason} for section in probe.sections})
        elif probe.applies(target):
            facts.update(await run_probe(ctx, probe, target, timeout))
    return addresses, facts


async def collect_domain(ctx: ProbeContext, probes: Sequence[Probe], domain: str, timeout: float,
                         dkim_selectors: Sequence[str] = ()) -> dict[str, Any]:
    """The mail-domain probes of one domain (with the DKIM selectors named for it)."""
    target = Target.of_domain(domain, dkim_selectors)
    facts: dict[str, Any] = {}
    for probe in probes:
        if probe.applies(target):
            facts.update(await run_probe(ctx, probe, target, timeout))
    return facts


async def run_probe(ctx: ProbeContext, probe: Probe, target: Target, timeout: float) -> dict[str, Any]:
    """One probe under its deadline; any failure is an `error` fact in each of its sections
    for that target only, and only cancellation goes up."""
    seconds = timeout * probe.budget
    try:
        async with deadline(seconds):  # stands still while the probe waits in the scanner's queues
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
