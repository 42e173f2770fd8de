"""HTTP probe cost per lab case: wall time, connections, peak Python memory.

Usage: .venv/bin/python bench/http_probe.py [--markdown]

Each endpoint is probed alone (no scope, as `bolwerk gate`), with io_timeout 3 s as in the
tests. Connections are the scanner's own records (`network.records`, purpose http);
memory is tracemalloc's peak while the probe runs, which shows that a 1 GiB body or a
10,000-line header block stays within the caps.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import tracemalloc
from datetime import UTC, datetime

from scanner.lab import Lab
from scanner.model import Endpoint
from scanner.probes.context import ProbeContext
from scanner.probes.http import probe_http
from scanner.probes.net import Limits, Network
from scanner.probes.resolver import Resolver

CASES = [
    ("web, strong headers, IPv4+IPv6", "https://mijn.vlaanderen.test/"),
    ("bare domain with www", "https://brugge.test/"),
    ("three same-host redirects", "https://proef.webproef.test/keten"),
    ("page with scripts, gzip", "https://proef.webproef.test/pagina"),
    ("1 GiB body", "http://groot.webproef.test/"),
    ("10,000 headers", "http://koppen.webproef.test/"),
    ("redirect loop", "http://lus.webproef.test/"),
    ("redirect to 169.254.169.254", "http://metadata-redirect.webproef.test/"),
    ("trickling server (stops after 2.5 s)", "http://druppel.webproef.test/"),
]


async def one(lab, url: str) -> tuple[float, int, int, str]:
    network = Network(scope=None, port_map=lab.port_map, limits=Limits(rate_per_ip=500.0, connect_timeout=3.0))
    ctx = ProbeContext(network=network, resolver=Resolver(lab.resolver, timeout=3.0), now=datetime.now(UTC),
                       io_timeout=3.0)
    endpoint = Endpoint.from_url(url)
    addresses = await ctx.resolver.addresses(endpoint.host)
    tracemalloc.start()
    start = time.perf_counter()
    facts = await probe_http(ctx, endpoint, addresses)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    opened = len([r for r in network.records if r.purpose == "http" and r.outcome == "open"])
    chain = facts.get("https_chain") if facts.get("https") else facts.get("http_chain")
    last = (chain or [{}])[-1]
    outcome = last.get("error") or f"status {last.get('status')}"
    return elapsed, opened, peak, outcome[:70]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    with Lab() as lab:
        rows = [(name, url, *asyncio.run(one(lab, url))) for name, url in CASES]
    if args.markdown:
        print("| case | seconds | http connections | peak MiB | outcome |")
        print("|---|---|---|---|---|")
        for name, _, s, conns, peak, outcome in rows:
            print(f"| {name} | {s:.2f} | {conns} | {peak / 2**20:.1f} | {outcome} |")
    else:
        for name, url, s, conns, peak, outcome in rows:
            print(f"{s:6.2f}s {conns:3d} conns {peak / 2**20:6.1f} MiB  {name}: {outcome}  ({url})")


if __name__ == "__main__":
    main()
