"""DNS probe cost per lab case: questions to the resolver, questions to name servers, wall time.

    .venv/bin/python bench/dns_probe.py [--write]

Each case runs in a fresh ProbeContext (nothing cached from another case), against the
lab on loopback with io_timeout 3 s. "resolver q" counts the questions the lab resolver
received (every chain-walk, CAA, alias and zone lookup); "ns q" counts the questions
and AXFR attempts sent straight to the zones' name servers (the scanner's own
connection records). The last rows show the per-run cache: several hosts of one zone
scanned in one context share the chain walk and the zone facts. With --write the
section of bench/RESULTS.md is replaced.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime

from results import loopback_only, markdown_table, publish

from scanner.lab import Lab
from scanner.probes.context import ProbeContext
from scanner.probes.dns.probe import probe_dns, probe_domain_dns
from scanner.probes.dns.validator import TrustAnchors, Validator
from scanner.probes.net import AddressPolicy, Limits, Network
from scanner.probes.resolver import Resolver

IO_TIMEOUT = 3.0
READING = [
    "Reading the table:",
    "- A cold endpoint's resolver questions are mostly the chain walk (DNSKEY and DS of root,",
    "  `test.` and the zone, SOA to find zone cuts) and the CAA climb; further hosts of an",
    "  already walked zone cost only their own questions (A, AAAA, SOA, CAA): compare the",
    "  last two rows, the same six hosts in one context and each in a fresh one.",
    "- A zone's delegation check asks the parent once (referral with glue), each name server",
    "  address its SOA (authority) and one AXFR over TCP (first message only); they run",
    "  concurrently under the per-IP caps.",
    "- A silent name server costs one io_timeout per address and nothing more: no TCP or AXFR",
    "  attempt follows a question that got no answer. Zones served only by broken servers",
    "  reach the scanner as SERVFAIL from the lab resolver within its timeout.",
]

ENDPOINTS = ["mijn.vlaanderen.test", "eloket.gent.test", "www.hasselt.limburg.test", "www.haven.antwerpen.test",
             "www.torhout.test", "www.genk.test", "www.kring.test", "www.traag.test"]
DOMAINS = ["vlaanderen.test", "gent.test", "limburg.test", "antwerpen.test", "aalst.test", "roeselare.test",
           "ieper.test", "traag.test", "rommel.test"]
SAME_ZONE = ["mijn.vlaanderen.test", "belastingen.vlaanderen.test", "archief.vlaanderen.test",
             "erfgoed.vlaanderen.test", "onderwijs.vlaanderen.test", "kindengezin.vlaanderen.test"]


def context(info) -> ProbeContext:
    now = datetime.now(UTC)
    network = Network(limits=Limits(rate_per_ip=1000.0, connect_timeout=IO_TIMEOUT), port_map=info.port_map, policy=AddressPolicy.of_scan((), (), info.port_map))
    resolver = Resolver(info.resolver, timeout=IO_TIMEOUT, network=network)
    return ProbeContext(network=network, resolver=resolver, now=now, io_timeout=IO_TIMEOUT, timeout=30.0,
                        validator=Validator(resolver, TrustAnchors.load([info.trust_anchor]), now))


async def measure(info, work) -> tuple[int, int, float, str]:
    ctx = context(info)
    before = len(info.servers["dns"].queries)
    start = time.perf_counter()
    outcome = await work(ctx)
    seconds = time.perf_counter() - start
    resolver_q = len(info.servers["dns"].queries) - before
    ns_q = sum(1 for r in ctx.network.records if r.purpose.startswith("dns") and r.purpose != "dns-resolver")
    return resolver_q, ns_q, seconds, outcome


async def endpoint(ctx, host):
    facts = await probe_dns(ctx, host, 443)
    return facts.get("dnssec") or facts.get("error", "")[:40]


async def domain(ctx, name):
    mx = await ctx.resolver.lookup(name, "MX")
    facts = await probe_domain_dns(ctx, name, mx)
    return f"{facts.get('dnssec')}, {len((facts.get('delegation') or {}).get('servers') or [])} NS"


async def main(write: bool) -> None:
    loopback_only()
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
    method = ("Each lab case runs alone in a fresh ProbeContext (no run cache shared with another case) against "
              f"the lab resolver and the zones' own name servers on loopback, io_timeout {IO_TIMEOUT:g} s. "
              "*resolver q*: questions the lab resolver received (answers, CAA tree climb, DNSSEC chain walk, "
              "denial probe); *ns q*: questions and AXFR attempts sent straight to the zones' name servers (the "
              "scanner's own connection records, through `Network`). The last two rows scan six hosts of one "
              "zone in one context, then each in its own. One run; question counts are deterministic, times "
              "vary by milliseconds.")
    table = markdown_table(["subject", "name", "resolver q", "ns q", "seconds", "outcome"],
                           [[kind, name, str(rq), str(nq), f"{sec:.3f}", str(out)]
                            for kind, name, rq, nq, sec, out in rows])
    publish("## DNS probe (`bench/dns_probe.py`)", method, ".venv/bin/python bench/dns_probe.py --write",
            table + ["", *READING], write)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace the section in bench/RESULTS.md")
    asyncio.run(main(parser.parse_args().write))
