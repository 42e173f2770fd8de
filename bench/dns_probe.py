"""DNS probe cost per lab case: questions to the resolver, questions to name servers, wall time.

    .venv/bin/python bench/dns_probe.py [--markdown]

Each case runs in a fresh ProbeContext (nothing cached from another case), against the
lab on loopback with io_timeout 3 s. "resolver q" counts the questions the lab resolver
received (every chain-walk, CAA, alias and zone lookup); "ns q" counts the questions
and AXFR attempts sent straight to the zones' name servers (the scanner's own
connection records). The last rows show the per-run cache: several hosts of one zone
scanned in one context share the chain walk and the zone facts.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scanner.lab import Lab  # noqa: E402
from scanner.probes.context import ProbeContext  # noqa: E402
from scanner.probes.dns import probe_dns, probe_domain_dns  # noqa: E402
from scanner.probes.dnssec import TrustAnchors, Validator  # noqa: E402
from scanner.probes.net import Limits, Network  # noqa: E402
from scanner.probes.resolver import Resolver  # noqa: E402

ENDPOINTS = ["mijn.vlaanderen.test", "eloket.gent.test", "www.hasselt.limburg.test", "www.haven.antwerpen.test",
             "www.torhout.test", "www.genk.test", "www.kring.test", "www.traag.test"]
DOMAINS = ["vlaanderen.test", "gent.test", "limburg.test", "antwerpen.test", "aalst.test", "roeselare.test",
           "ieper.test", "traag.test", "rommel.test"]
SAME_ZONE = ["mijn.vlaanderen.test", "belastingen.vlaanderen.test", "archief.vlaanderen.test",
             "erfgoed.vlaanderen.test", "onderwijs.vlaanderen.test", "kindengezin.vlaanderen.test"]


def context(info) -> ProbeContext:
    resolver = Resolver(info.resolver, timeout=3.0)
    now = datetime.now(UTC)
    network = Network(limits=Limits(rate_per_ip=1000.0, connect_timeout=3.0), port_map=info.port_map)
    return ProbeContext(network=network, resolver=resolver, now=now, io_timeout=3.0, timeout=30.0,
                        validator=Validator(resolver, TrustAnchors.load([info.trust_anchor]), now))


async def measure(info, work) -> tuple[int, int, float, str]:
    ctx = context(info)
    before = len(info.servers["dns"].queries)
    start = time.perf_counter()
    outcome = await work(ctx)
    seconds = time.perf_counter() - start
    resolver_q = len(info.servers["dns"].queries) - before
    ns_q = sum(1 for r in ctx.network.records if r.purpose.startswith("dns"))
    return resolver_q, ns_q, seconds, outcome


async def endpoint(ctx, host):
    facts = await probe_dns(ctx, host, 443)
    return facts.get("dnssec") or facts.get("error", "")[:40]


async def domain(ctx, name):
    mx = await ctx.resolver.lookup(name, "MX")
    facts = await probe_domain_dns(ctx, name, mx)
    return f"{facts.get('dnssec')}, {len((facts.get('delegation') or {}).get('servers') or [])} NS"


async def main(markdown: bool) -> None:
    rows = []
    with Lab() as info:
        for host in ENDPOINTS:
            rows.append(("endpoint", host, *await measure(info, lambda c, h=host: endpoint(c, h))))
        for name in DOMAINS:
            rows.append(("domain", name, *await measure(info, lambda c, n=name: domain(c, n))))

        async def together(ctx):
            await asyncio.gather(*(probe_dns(ctx, h, 443) for h in SAME_ZONE))
            return f"{len(SAME_ZONE)} hosts"

        async def apart(_ctx):
            for h in SAME_ZONE:
                await probe_dns(context(info), h, 443)
            return f"{len(SAME_ZONE)} hosts"

        rows.append(("one run", "vlaanderen.test hosts, shared cache", *await measure(info, together)))
        rows.append(("no cache", "vlaanderen.test hosts, fresh each", *await measure(info, apart)))
    if markdown:
        print("| subject | name | resolver q | ns q | seconds | outcome |")
        print("|---|---|---|---|---|---|")
        for kind, name, rq, nq, sec, out in rows:
            print(f"| {kind} | {name} | {rq} | {nq} | {sec:.3f} | {out} |")
    else:
        for kind, name, rq, nq, sec, out in rows:
            print(f"{kind:9} {name:40} resolver={rq:3} ns={nq:3} {sec:6.3f}s  {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true")
    asyncio.run(main(parser.parse_args().markdown))
