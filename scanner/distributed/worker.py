"""`bolwerk worker`: a Celery worker that collects units of work with the same probe code.

The probes are asyncio code; Celery runs each task on a thread of its own (the `threads`
pool, `concurrency` of them), and each task hands its unit to one event loop that the
whole worker shares, as the in-process runner's units share its loop. So a worker holds
one ProbeContext per run, with its caches (names resolved, TLS facts per address and
port), and one Network whose politeness is kept in Redis (politeness.py).

The worker checks what it connects to itself, as every Network does: the run's scope
(services that opted out denied), the SSRF guard on each address actually connected to,
and the caps and rate. Every connection is written to the worker's own audit log, each
line with the run's id.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import redis.asyncio
from celery import Celery

from scanner import __version__
from scanner.distributed import VISIBILITY_TIMEOUT
from scanner.distributed.app import TASK, make_app, only_bolwerk_tasks
from scanner.distributed.politeness import OUTAGE_ERRORS, RedisPoliteness
from scanner.distributed.runs import RunContext, encode_result, unit_from_json
from scanner.probes import cpu
from scanner.probes.context import ProbeContext
from scanner.probes.net import PortMap
from scanner.probes.plugin import Probe
from scanner.probes.registry import default_probes
from scanner.runner import ScanOptions, probe_context
from scanner.times import parse_rfc3339
from scanner.work import collect

RUNS_KEPT = 4  # runs whose contexts (and caches) a worker keeps at hand
OUTAGE_RETRIES = 3  # a unit collected again after Redis was away while it was collected
log = logging.getLogger("bolwerk.worker")


@dataclass
class _Run:
    context: RunContext
    ctx: ProbeContext
    politeness: RedisPoliteness
    files: Path  # the run's CA bundle and trust anchors, as the coordinator sent them
    in_flight: int = 0


class Collector:
    """This worker's side of every run it collects for: one event loop, a context per run."""

    def __init__(self, broker: str, audit_log: Path | None = None, probes: Sequence[Probe] | None = None) -> None:
        self.audit_log = audit_log
        self.probes = tuple(probes) if probes is not None else default_probes()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="bolwerk-probes", daemon=True)
        self._thread.start()
        self._redis = redis.Redis.from_url(broker)  # run contexts, from the tasks' threads
        self._async_redis = redis.asyncio.Redis.from_url(broker)  # politeness, on the loop
        self._runs: OrderedDict[str, _Run] = OrderedDict()
        self._lock = threading.Lock()

    def collect(self, run_id: str, unit: dict[str, Any]) -> str:
        """One unit's facts, as the task returns them (runs.encode_result).

        Facts collected while Redis could not be reached are not trusted (a probe may have
        timed out waiting for a slot): the unit is collected again, up to OUTAGE_RETRIES
        times. The task is not put back in the queue for that, since the broker that would
        take it back is the one that was just away.
        """
        run = self._take(run_id)
        try:
            for attempt in range(OUTAGE_RETRIES + 1):
                outages = run.politeness.outages
                work = collect(run.ctx, self.probes, unit_from_json(unit), run_id, run.ctx.timeout)
                # bounded by the probes' own deadlines and the queue timeouts of net.py
                records = asyncio.run_coroutine_threadsafe(work, self.loop).result()
                if run.politeness.outages == outages:
                    return encode_result(records[0].addresses, records[0].facts)
                log.warning("Redis was unreachable while %s of run %s was collected: again (%d of %d)",
                            unit["subject"], run_id, attempt + 1, OUTAGE_RETRIES)
            raise RuntimeError(f"Redis was unreachable each time {unit['subject']} of run {run_id} was collected")
        finally:
            with self._lock:
                run.in_flight -= 1

    def _take(self, run_id: str) -> _Run:
        """The run's context (built on first use), counted in flight."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                run = self._runs[run_id] = self._prepare(self._fetch(run_id))
                self._forget_idle()
            self._runs.move_to_end(run_id)
            run.in_flight += 1
            return run

    def _fetch(self, run_id: str) -> RunContext:
        """The run's context from Redis, waiting out a broker restart (up to a minute)."""
        for pause in (0.5, 1, 2, 4, 8, 15, 30):
            try:
                return RunContext.fetch(self._redis, run_id)
            except OUTAGE_ERRORS as exc:
                log.warning("run %s: Redis unreachable (%s); retrying in %g s", run_id, exc, pause)
                time.sleep(pause)
        return RunContext.fetch(self._redis, run_id)

    def _prepare(self, context: RunContext) -> _Run:
        refusal = context.refusal(__version__, [p.name for p in self.probes])
        if refusal:
            raise RuntimeError(refusal)
        files = Path(tempfile.mkdtemp(prefix=f"bolwerk-worker-{context.run_id}-"))
        ca_bundle = _write(files / "ca", *context.ca_bundle) if context.ca_bundle else None
        anchors = [_write(files / f"anchor-{n}", *anchor) for n, anchor in enumerate(context.trust_anchors)]
        o = context.options
        options = ScanOptions(**{k: v for k, v in o.items() if k != "port_map"}, ca_bundle=ca_bundle,
                              trust_anchors=anchors, audit_log=self.audit_log,
                              port_map=PortMap.from_json(o["port_map"]) if o["port_map"] else None)
        politeness = RedisPoliteness(self._async_redis, options.per_host, options.per_ip, options.rate_per_ip)
        ctx = probe_context(options, context.scope_of_run(), parse_rfc3339(context.now), context.addresses_of_run(),
                            politeness=politeness, run_id=context.run_id)
        log.info("run %s: collecting (caps %d per host, %d per address, %g connections/s per address)",
                 context.run_id, options.per_host, options.per_ip, options.rate_per_ip)
        return _Run(context, ctx, politeness, files)

    def _forget_idle(self) -> None:
        """Keep RUNS_KEPT runs at hand: close the oldest that have nothing in flight."""
        for run_id in [r for r, run in self._runs.items() if run.in_flight == 0][:max(0, len(self._runs) - RUNS_KEPT)]:
            self._close_run(self._runs.pop(run_id))

    def _close_run(self, run: _Run) -> None:
        run.ctx.network.close()
        shutil.rmtree(run.files, ignore_errors=True)

    def close(self) -> None:
        for run in self._runs.values():
            self._close_run(run)
        self._runs.clear()
        asyncio.run_coroutine_threadsafe(self._async_redis.aclose(), self.loop).result(5)
        cpu.shutdown()  # the CPU workers the probes started (scanner/probes/cpu.py)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()
        self._redis.close()


def _write(folder: Path, name: str, text: str) -> Path:
    """A file the coordinator sent, under its own name (a name only: no folder of the sender's)."""
    folder.mkdir()
    path = folder / (Path(name).name.strip(".") and Path(name).name or "file")
    path.write_text(text, encoding="utf-8")
    return path


def worker_app(broker: str, collector: Collector, visibility_timeout: float = VISIBILITY_TIMEOUT) -> Celery:
    """The Celery app with Bolwerk's one task, backed by `collector`."""
    app = make_app(broker, visibility_timeout)

    @app.task(name=TASK)
    def collect_unit(run_id: str, unit: dict[str, Any]) -> str:
        return collector.collect(run_id, unit)

    only_bolwerk_tasks(app)
    return app


def run_worker(broker: str, queues: Sequence[str], concurrency: int, audit_log: Path | None = None,
               visibility_timeout: float = VISIBILITY_TIMEOUT, name: str | None = None,
               loglevel: str = "INFO") -> int:
    """Serve tasks until stopped (SIGTERM or Ctrl-C: a warm shutdown, tasks in flight finish)."""
    logging.getLogger("celery.app.trace").setLevel(logging.WARNING)  # each success would log its facts
    collector = Collector(broker, audit_log)
    try:
        app = worker_app(broker, collector, visibility_timeout)
        worker = app.Worker(hostname=name, pool_cls="threads", concurrency=concurrency, queues=list(queues),
                            loglevel=loglevel, quiet=True, without_gossip=True, without_mingle=True,
                            without_heartbeat=True)
        worker.start()
        return worker.exitcode or 0
    finally:
        collector.close()
