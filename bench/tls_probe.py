"""Benchmark: wall time and TCP connections of the TLS probe per lab TLS service.

Each lab TLS service is started on loopback behind a counting TCP proxy, so the count is
what the server saw, not what the client believes it opened. With `--sslyze PYTHON`
(an interpreter that has sslyze installed, kept in its own venv: sslyze is never a
Bolwerk dependency) the same endpoints are scanned by sslyze's protocol, suite and
curve commands, side by side.

    python bench/tls_probe.py [--sslyze .venv-sslyze/bin/python] [--write]

With --write the section of bench/RESULTS.md is replaced.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import textwrap
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from results import loopback_only, markdown_table, publish

from scanner.lab.listener import Listener
from scanner.lab.tls_services import SERVICES, start
from scanner.probes.context import ProbeContext
from scanner.probes.net import AddressPolicy, Limits, Network
from scanner.probes.tls.probe import probe_tls

LIMITS = Limits(rate_per_ip=10_000, connect_timeout=5, per_host=4, per_ip=8)
IO_TIMEOUT = 2.0
SSLYZE_COMMANDS = ["--sslv2", "--sslv3", "--tlsv1", "--tlsv1_1", "--tlsv1_2", "--tlsv1_3", "--elliptic_curves"]


class CountingProxy(Listener):
    """Accepts on a free loopback port, pipes to the backend, counts accepted connections."""

    def __init__(self, backend_port: int) -> None:
        super().__init__("127.0.0.1", self._pipe)
        self.backend_port = backend_port
        self.accepted = 0

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        b_reader, b_writer = await asyncio.open_connection("127.0.0.1", self.backend_port)

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        await asyncio.gather(copy(reader, b_writer), copy(b_reader, writer))


@dataclass
class Row:
    service: str
    accepted: int
    seconds: float
    connections: int
    error: str | None
    sslyze_seconds: float | None = None
    sslyze_connections: int | None = None


async def measure(name: str, sslyze: str | None) -> Row:
    running = await start(name)
    proxy = CountingProxy(running.port)
    await proxy.start()
    try:
        net = Network(limits=LIMITS, policy=AddressPolicy(home=frozenset({"loopback"})))  # its servers: loopback
        ctx = ProbeContext(network=net, resolver=None, now=datetime.now(UTC), timeout=60, io_timeout=IO_TIMEOUT)
        t = time.perf_counter()
        facts = await probe_tls(ctx, "tls.lab.vlaanderen.test", ["127.0.0.1"], proxy.port)
        seconds = time.perf_counter() - t
        row = Row(name, sum(len(v) for v in facts.get("cipher_suites", {}).values()), seconds, proxy.accepted,
                  facts.get("error"))
        if sslyze and SERVICES[name].openssl:  # scripted servers never finish a handshake for it
            proxy.accepted = 0
            t = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                sslyze, "-m", "sslyze", *SSLYZE_COMMANDS, f"127.0.0.1:{proxy.port}",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            try:
                async with asyncio.timeout(300):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
            row.sslyze_seconds = time.perf_counter() - t
            row.sslyze_connections = proxy.accepted
        return row
    finally:
        await proxy.stop()
        await running.stop()


def table(rows: list[Row]) -> list[str]:
    head = ["service", "accepted suites", "Bolwerk s", "Bolwerk conns", "conns - accepted"]
    sslyze = any(r.sslyze_connections is not None for r in rows)
    if sslyze:
        head += ["sslyze s", "sslyze conns", "conn ratio"]
    lines = []
    for r in rows:
        cells = [SERVICES[r.service].name + (" (scripted)" if SERVICES[r.service].script else ""), str(r.accepted),
                 f"{r.seconds:.3f}", str(r.connections),
                 "error" if r.error else str(r.connections - r.accepted)]
        if sslyze:
            if r.sslyze_connections:
                cells += [f"{r.sslyze_seconds:.2f}", str(r.sslyze_connections),
                          f"{r.sslyze_connections / r.connections:.0f}x" if r.connections else "-"]
            else:
                cells += ["-", "-", "-"]
        lines.append(cells)
    return markdown_table(head, lines)


def reading(rows: list[Row], sslyze: bool) -> list[str]:
    over = [r.service for r in rows if not r.error and r.connections > r.accepted + 12]
    out = ["Reading the table:",
           "- Every endpoint stays within **accepted suites + 12** connections"
           + (f" except {', '.join(f'`{s}`' for s in over)}" if over else "") + "."
           + (" `drops-large-hello` drops hellos above 700 bytes, so it is re-probed with small hellos"
              " in chunks (each chunk costs one refusal); it still gets the right answer."
              if "drops-large-hello" in over else ""),
           "- Overhead per endpoint is one connection per version that is absent or ends its",
           "  enumeration, one for SSLv2, plus group discovery. TLS 1.3 groups usually cost nothing",
           "  extra: OpenSSL servers list their groups in EncryptedExtensions, which the probe reads",
           "  from the handshake it already makes; the scripted `pq-hybrid` server does not, so it",
           "  shows the fallback, one HelloRetryRequest per group.",
           "- `resets` and `garbage` end in an error fact after a few connections, not a hang;",
           "  `stalls` is left out here (it costs one io_timeout per attempt, tests/test_tls_probe.py)."]
    if sslyze:
        ratios = [r.sslyze_connections / r.connections for r in rows if r.sslyze_connections and r.connections]
        out += [f"- sslyze needs {min(ratios):.0f}x-{max(ratios):.0f}x the connections for the same information."
                " It is not run against the scripted responders: it stops after its connectivity check"
                " there (they never finish a handshake), so there is nothing to compare."]
    return [wrapped for line in out for wrapped in textwrap.wrap(line, 92, subsequent_indent="  ", break_on_hyphens=False)]


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sslyze", help="python interpreter with sslyze installed (optional)")
    ap.add_argument("--write", action="store_true", help="replace the section in bench/RESULTS.md")
    ap.add_argument("services", nargs="*", default=[n for n, s in SERVICES.items() if n != "stalls"])
    args = ap.parse_args()
    loopback_only()
    rows = [await measure(name, args.sslyze) for name in args.services]
    method = ("Each lab TLS service (`scanner/lab/tls_services.py`) is started on loopback behind a counting TCP "
              "proxy, so connections are counted where the server sees them. The Bolwerk probe enumerates "
              "SSLv2 .. TLS 1.3, every cipher suite per version, groups, DH parameters and key-exchange "
              f"signatures (io_timeout {IO_TIMEOUT:g} s, per-host cap {LIMITS.per_host}).")
    if args.sslyze:
        method += (f" sslyze (own venv, never a dependency) runs `{' '.join(SSLYZE_COMMANDS)}` against the same "
                   "proxy.")
    method += " One run each; wall times vary by tens of milliseconds, connection counts are deterministic."
    command = ".venv/bin/python bench/tls_probe.py --write" + (" --sslyze .venv-sslyze/bin/python" if args.sslyze else "")
    publish("## TLS probe (`bench/tls_probe.py`)", method, command,
            table(rows) + ["", *reading(rows, bool(args.sslyze))], args.write)


if __name__ == "__main__":
    asyncio.run(main())
