"""Certificate probe cost per lab case: wall time, connections, the chain source and the hello used.

Usage: .venv/bin/python bench/certificate_probe.py [--write]

Each certificate-lab host (scanner/lab/estate.d/certificates.toml) is probed alone by
`probe_certificate` (no scope, io_timeout 3 s as in the tests): one `ssl` handshake for
the chain, one raw hello for the stapled OCSP response and SCTs (TLS 1.3 decrypted), and
the TLSA lookup. Connections are the scanner's own records. Also reported: the lab's
start time with and without the certificate fragment. With --write the section of
bench/RESULTS.md is replaced.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

from results import loopback_only, markdown_table, publish

from scanner.lab import Lab
from scanner.lab.lab import ESTATE, FRAGMENTS
from scanner.probes.certificate.probe import probe_certificate
from scanner.probes.context import ProbeContext
from scanner.probes.dns.validator import TrustAnchors, Validator
from scanner.probes.net import AddressPolicy, Limits, Network
from scanner.probes.resolver import Resolver

FRAGMENT = FRAGMENTS / "certificates.toml"


async def one(lab, host: str) -> tuple[float, int, dict]:
    now = datetime.now(UTC)
    network = Network(scope=None, port_map=lab.port_map, policy=AddressPolicy.of_scan((), (), lab.port_map), limits=Limits(rate_per_ip=500.0, connect_timeout=3.0))
    resolver = Resolver(lab.resolver, timeout=3, network=network)
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
    scratch = Path(tempfile.mkdtemp())
    try:
        for frag in (f for f in FRAGMENTS.iterdir() if f.name.endswith(".toml")):
            if with_fragment or frag != FRAGMENT:
                shutil.copy(frag, scratch / frag.name)
        started = time.perf_counter()
        with Lab(ESTATE, scratch):
            return time.perf_counter() - started
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true", help="replace the section in bench/RESULTS.md")
    parser.add_argument("--starts", type=int, default=3, help="lab starts to time, each way")
    args = parser.parse_args()
    loopback_only()
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
            rows.append([host, f"{elapsed:.3f}", str(connections), facts.get("chain_source", "-"),
                         facts.get("status_hello") or "-", verdict])
    without = statistics.median(lab_start(False) for _ in range(args.starts))
    with_ = statistics.median(lab_start(True) for _ in range(args.starts))
    total = sum(float(r[1]) for r in rows)
    method = (f"Each of the {len(rows)} certificate-lab hosts (`scanner/lab/estate.d/certificates.toml`, every "
              "case on a TLS 1.2-only and a TLS 1.3-only host) is probed alone by `probe_certificate` (no scope, "
              "io_timeout 3 s): one `ssl` handshake for the chain as served, one raw hello of the preferred "
              "version for the stapled OCSP response and SCTs (TLS 1.3: the Certificate message decrypted with "
              "our own key share), and the TLSA lookup with DNSSEC validation. Connections are the scanner's "
              f"records. Lab start: median of {args.starts} starts with every fragment, and with all but the "
              "certificate fragment. One run; times vary by milliseconds.")
    reading = [
        f"All {len(rows)} hosts: {total:.2f} s in all, {total / len(rows) * 1000:.0f} ms and "
        f"{statistics.mean(int(r[2]) for r in rows):.1f} connections per host on average.",
        "",
        f"Lab start: {with_:.2f} s with the certificate fragment, {without:.2f} s without it. A host's",
        "certificate is issued at start (EC P-256; RSA only where a case needs it, from a checked-in",
        "key) but loaded into OpenSSL only when a client first arrives (SNI callback), so the",
        "fragment's 60 hosts cost their issuing and listeners, not 60 key loads.",
    ]
    publish("## Certificate probe (`bench/certificate_probe.py`)", method,
            ".venv/bin/python bench/certificate_probe.py --write",
            markdown_table(["host", "s", "conns", "chain from", "status hello", "verdict"], rows) + ["", *reading],
            args.write)


if __name__ == "__main__":
    main()
