"""HTTP probe cost per lab case: wall time, connections, peak Python memory.

Usage: .venv/bin/python bench/http_probe.py [--write]

Each endpoint is probed alone (no scope, as `bolwerk gate`), with io_timeout 3 s as in the
tests. Connections are the scanner's own records (`network.records`, purpose http);
memory is tracemalloc's peak while the probe runs, which shows that a 1 GiB body or a
10,000-line header block stays within the caps. With --write the section of
bench/RESULTS.md is replaced.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import tracemalloc
from datetime import UTC, datetime

from results import loopback_only, markdown_table, publish

from scanner.lab import Lab
from scanner.model import Endpoint
from scanner.probes.context import ProbeContext
from scanner.probes.http.probe import DEADLINE_FACTOR, probe_http
from scanner.probes.net import AddressPolicy, Limits, Network
from scanner.probes.resolver import Resolver

IO_TIMEOUT = 3.0
READING = [
    "Reading the table: a plain web endpoint costs 5 requests (https://, http:// and its",
    "redirect, security.txt, one CORS request with a foreign Origin), plus one per extra",
    "address (parity) and the www name's two chains for a bare domain. The 1 GiB body is read",
    "to the 512 KiB cap and the connection closed; 10,000 header lines stop at h11's 100 KiB",
    "limit; the loop stops at the first repeated URL; the redirect into 169.254.169.254 is",
    "refused before any connection. The trickling server is the only slow case: the lab's",
    "handler gives up by itself after 2.5 s (`trickle_seconds`), before this deadline; with a",
    "shorter io_timeout the scanner's own deadline trips first (tests/test_http_hostile.py).",
]
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
    network = Network(scope=None, port_map=lab.port_map, policy=AddressPolicy.of_scan((), (), lab.port_map),
                      limits=Limits(rate_per_ip=500.0, connect_timeout=IO_TIMEOUT))
    ctx = ProbeContext(network=network, resolver=Resolver(lab.resolver, timeout=IO_TIMEOUT, network=network), now=datetime.now(UTC),
                       io_timeout=IO_TIMEOUT)
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
    parser.add_argument("--write", action="store_true", help="replace the section in bench/RESULTS.md")
    args = parser.parse_args()
    loopback_only()
    with Lab() as lab:
        rows = [(name, url, *asyncio.run(one(lab, url))) for name, url in CASES]
    method = (f"Each lab case is probed alone by `probe_http` (no scope, io_timeout {IO_TIMEOUT:g} s, so a "
              f"request's overall deadline is {IO_TIMEOUT * DEADLINE_FACTOR:g} s). Connections are the scanner's "
              "own records (purpose `http`, opened); peak memory is tracemalloc's during the probe. One run; "
              "times vary by tens of milliseconds, connection counts are deterministic.")
    table = markdown_table(["case", "seconds", "http connections", "peak MiB", "outcome"],
                           [[name, f"{s:.2f}", str(conns), f"{peak / 2**20:.1f}", outcome]
                            for name, _, s, conns, peak, outcome in rows])
    publish("## HTTP probe (`bench/http_probe.py`)", method, ".venv/bin/python bench/http_probe.py --write",
            table + ["", *READING], args.write)

if __name__ == "__main__":
    main()
