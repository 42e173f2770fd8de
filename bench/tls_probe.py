"""Benchmark: wall time and TCP connections of the TLS probe per lab TLS service.

Each lab TLS service is started on loopback behind a counting TCP proxy, so the count is
what the server saw, not what the client believes it opened. With `--sslyze PYTHON`
(an interpreter that has sslyze installed, kept in its own venv: sslyze is never a
Bolwerk dependency) the same endpoints are scanned by sslyze's protocol, suite and
curve commands, side by side.

    python bench/tls_probe.py [--sslyze .venv-sslyze/bin/python] [--markdown]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scanner.lab.tls_services import SERVICES, start  # noqa: E402
from scanner.probes.context import ProbeContext  # noqa: E402
from scanner.probes.net import Limits, Network  # noqa: E402
from scanner.probes.tls import probe_tls  # noqa: E402

SSLYZE_COMMANDS = ["--sslv2", "--sslv3", "--tlsv1", "--tlsv1_1", "--tlsv1_2", "--tlsv1_3", "--elliptic_curves"]


class CountingProxy:
    """Accepts on a free loopback port, pipes to the backend, counts accepted connections."""

    def __init__(self, backend_port: int) -> None:
        self.backend_port = backend_port
        self.accepted = 0
        self.port = 0
        self.server: asyncio.base_events.Server | None = None

    async def start(self) -> CountingProxy:
        self.server = await asyncio.start_server(self._pipe, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self.server.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            b_reader, b_writer = await asyncio.open_connection("127.0.0.1", self.backend_port)
        except OSError:
            writer.close()
            return

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
    proxy = await CountingProxy(running.port).start()
    try:
        net = Network(limits=Limits(rate_per_ip=10_000, connect_timeout=5, per_host=4, per_ip=8))
        ctx = ProbeContext(network=net, resolver=None, now=datetime.now(UTC), timeout=60, io_timeout=2)
        t = time.perf_counter()
        facts = await probe_tls(ctx, "tls.lab.vlaanderen.test", ["127.0.0.1"], proxy.port)
        seconds = time.perf_counter() - t
        row = Row(name, sum(len(v) for v in facts.get("cipher_suites", {}).values()), seconds, proxy.accepted,
                  facts.get("error"))
        if sslyze:
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


def render(rows: list[Row], markdown: bool) -> str:
    head = ["service", "accepted suites", "Bolwerk s", "Bolwerk conns", "conns - accepted"]
    if any(r.sslyze_connections is not None for r in rows):
        head += ["sslyze s", "sslyze conns", "conn ratio"]
    lines = []
    for r in rows:
        cells = [r.service, str(r.accepted), f"{r.seconds:.3f}", str(r.connections),
                 "error: " + r.error[:40] if r.error else str(r.connections - r.accepted)]
        if r.sslyze_connections is not None:
            ratio = f"{r.sslyze_connections / r.connections:.0f}x" if r.connections else "-"
            cells += [f"{r.sslyze_seconds:.2f}", str(r.sslyze_connections), ratio]
        lines.append(cells)
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(c) + " |" for c in lines]
        return "\n".join(out)
    widths = [max(len(x) for x in col) for col in zip(head, *lines, strict=False)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) for row in [head, *lines])


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sslyze", help="python interpreter with sslyze installed (optional)")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("services", nargs="*", default=[n for n, s in SERVICES.items() if n != "stalls"])
    args = ap.parse_args()
    rows = [await measure(name, args.sslyze) for name in args.services]
    print(render(rows, args.markdown))


if __name__ == "__main__":
    asyncio.run(main())
