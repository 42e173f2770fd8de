"""Certificate probe cost per lab case: wall time, connections, the chain source and the hello used.

Usage: .venv/bin/python bench/certificate_probe.py [--markdown]

Each certificate-lab host (scanner/lab/estate.d/certificates.toml) is probed alone by
`probe_certificate` (no scope, io_timeout 3 s as in the tests): one `ssl` handshake for
the chain, one raw hello for the stapled OCSP response and SCTs (TLS 1.3 decrypted), and
the TLSA lookup. Connections are the scanner's own records. Also reported: the lab's
start time with and without the certificate fragment.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

from scanner.lab import Lab
from scanner.lab.lab import ESTATE, FRAGMENTS, load_estate
from scanner.probes.certificate import probe_certificate
from scanner.probes.context import ProbeContext
from scanner.probes.dnssec import TrustAnchors, Validator
from scanner.probes.net import Limits, Network
from scanner.probes.resolver import Resolver

FRAGMENT = FRAGMENTS / "certificates.toml"


async def one(lab, host: str) -> tuple[float, int, dict]:
    now = datetime.now(UTC)
    resolver = Resolver(lab.resolver, timeout=3)
    network = Network(scope=None, port_map=lab.port_map, limits=Limits(rate_per_ip=500.0, connect_timeout=3.0))
    ctx = ProbeContext(network=network, resolver=resolver, now=now, io_timeout=3.0, ca_bundle=lab.ca_bundle,
                       validator=Validator(resolver, TrustAnchors.load([lab.trust_anchor]), now))
    addresses = await resolver.addresses(host)
    started = time.perf_counter()
    facts = await probe_certificate(ctx, host, addresses, 443)
    elapsed = time.perf_counter() - started
    connections = sum(1 for r in network.records if r.outcome == "open")
    return elapsed, connections, facts


def lab_start(with_fragment: bool) -> float:
    """Seconds to start the lab, with or without the certificate fragment."""
    if with_fragment:
        started = time.perf_counter()
        with Lab():
            return time.perf_counter() - started
    scratch = Path(tempfile.mkdtemp())
    try:
        (scratch / "estate.d").mkdir()
        for frag in FRAGMENTS.glob("*.toml"):
            if frag != FRAGMENT:
                shutil.copy(frag, scratch / "estate.d" / frag.name)
        shutil.copy(ESTATE, scratch / "estate.toml")
        lab = Lab(scratch / "estate.toml")
        lab.estate = load_estate(scratch / "estate.toml", scratch / "estate.d")  # without certificates.toml
        started = time.perf_counter()
        with lab:
            return time.perf_counter() - started
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    hosts = [w["host"] for w in tomllib.loads(FRAGMENT.read_text(encoding="utf-8"))["web"]]
    rows = []
    with Lab() as lab:
        for host in hosts:
            elapsed, connections, facts = asyncio.run(one(lab, host))
            if "error" in facts:
                verdict = "error: " + facts["error"][:40]
            else:
                codes = [r["code"] for r in facts["trust_reasons"]]
                verdict = "trusted" if facts["trusted"] else ",".join(codes)
            rows.append((host, elapsed, connections, facts.get("chain_source", "-"), facts.get("status_hello") or "-",
                         verdict))
    without, with_ = lab_start(False), lab_start(True)
    if args.markdown:
        print("| host | s | conns | chain from | status hello | verdict |")
        print("|---|---|---|---|---|---|")
        for host, elapsed, connections, source, hello, verdict in rows:
            print(f"| {host} | {elapsed:.3f} | {connections} | {source} | {hello} | {verdict} |")
    else:
        for row in rows:
            print(f"{row[0]:50} {row[1]:6.3f}s {row[2]:2} conns  {row[3]:18} {row[4]:8} {row[5]}")
    total = sum(r[1] for r in rows)
    print(f"\n{len(rows)} hosts, {total:.2f} s in all, {total / len(rows) * 1000:.0f} ms per host, "
          f"{sum(r[2] for r in rows)} connections")
    print(f"lab start: {without:.2f} s without the certificate fragment, {with_:.2f} s with it")


if __name__ == "__main__":
    main()
