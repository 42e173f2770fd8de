"""`bolwerk scan --engine celery`: the run planned here, its units collected by Celery workers.

Everything but the collecting is the in-process runner's (`Runner.scan`): the run is
started or resumed in the SQLite store, planned into units of work (scanner/work.py),
and judged here once every unit's facts are stored. `collect_units` publishes the run's
context (runs.py), then keeps up to `IN_FLIGHT` tasks in the queue, one per unit, each
with an id made of the run and the unit. Results are polled from Redis in batches, their
facts handed to the store's writer, and deleted from Redis once committed; a result that
is already there when a unit is planned (a coordinator killed mid-run, now resumed) is
taken as it is instead of being sent again.

The broker can lose a message: kombu's Redis transport pops a task off the queue before a
worker has noted it as taken, so a connection dropped in between (a broker restart, a
worker killed at that moment) loses the task. When no result has come for `LOST_AFTER`
seconds, the coordinator looks for its pending tasks in the queue and among the taken
ones, and sends again those that are in neither: a unit runs twice at worst, and its
fact is stored once.

A result is refused when it is larger than runs.MAX_RESULT_BYTES or not a result, and a
task that failed on a worker (a run the worker refuses, a bug) stops the collection: the
run stays incomplete, to be resumed with `--resume` once the cause is fixed. While the
broker cannot be reached (a restart), the coordinator waits and retries, up to
`BROKER_PATIENCE` seconds at a time.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import kombu.exceptions
import redis
import redis.exceptions
from celery import states

from checks.registry import Registry
from scanner import __version__
from scanner.distributed import DEFAULT_QUEUE
from scanner.distributed.app import RESULT_TTL, TASK, UNACKED_KEY, make_app
from scanner.distributed.runs import (
    RUN_KEY,
    Refused,
    RunContext,
    decode_result,
    task_id,
    unit_to_json,
)
from scanner.policy import Policy
from scanner.probes.net import Scope
from scanner.probes.plugin import Probe
from scanner.runner import CollectionFailed, Progress, Runner, ScanOptions, _Tally
from scanner.store import Collected, Store, StoreWriter
from scanner.times import rfc3339
from scanner.work import Unit

IN_FLIGHT = 1024  # tasks queued or running at once for one run
POLL_INTERVAL = 0.1  # seconds between two reads of the results
BROKER_PATIENCE = 300.0  # seconds the coordinator waits for an unreachable broker
SILENCE = 30.0  # seconds without a result before the coordinator says it is waiting
LOST_AFTER = 5.0  # seconds without a result before the coordinator looks for lost tasks
BROKER_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, kombu.exceptions.OperationalError,
                 OSError)
log = logging.getLogger("bolwerk.coordinator")
T = TypeVar("T")


class CeleryRunner(Runner):
    """The Runner whose units are collected by Celery workers listening on `queue`."""

    def __init__(self, options: ScanOptions, registry: Registry, policy: Policy, store: Store, broker: str,
                 queue: str = DEFAULT_QUEUE, progress: Progress | None = None,
                 probes: Sequence[Probe] | None = None) -> None:
        super().__init__(options, registry, policy, store, progress, probes)
        self.broker, self.queue = broker, queue
        self.app = make_app(broker)

    def collect_units(self, run_id: str, units: list[Unit], scope: Scope, now: datetime, progress: _Tally) -> None:
        o = self.options
        context = RunContext.of_run(run_id, __version__, [p.name for p in self.probes], rfc3339(now), o.to_json(),
                                    scope, self.addresses, o.ca_bundle, o.trust_anchors)
        client = redis.Redis.from_url(self.broker)
        try:
            _patiently(lambda: context.publish(client, RESULT_TTL))
            _Collection(self, run_id, client).run(units, progress)
            _patiently(lambda: client.delete(RUN_KEY.format(run_id)))
        finally:
            client.close()
            self.app.close()


class _Collection:
    """One coordinator's collection of a run's units: send, poll, store, forget."""

    def __init__(self, runner: CeleryRunner, run_id: str, client: redis.Redis) -> None:
        self.runner, self.run_id, self.client = runner, run_id, client
        self.backend = runner.app.backend
        self.pending: dict[str, Unit] = {}  # task id -> its unit, sent (or found) and not yet stored
        self._committed: deque[tuple[str, str | None]] = deque()  # (subject, task id whose result may go)
        self._last_record: dict[int, str] = {}  # id() of a unit's last record -> its task id
        self._lock = threading.Lock()

    def run(self, units: Iterable[Unit], progress: _Tally) -> None:
        todo = iter(units)
        writer = StoreWriter(self.runner.store.path, self._on_commit)
        heard = looked = time.monotonic()
        try:
            while True:
                fresh = []
                while len(self.pending) < IN_FLIGHT and (unit := next(todo, None)) is not None:
                    tid = task_id(self.run_id, unit)
                    if tid not in self.pending:
                        self.pending[tid] = unit
                        fresh.append(tid)
                if fresh:
                    found = self._results(fresh, 0.0)
                    for tid in fresh:
                        if tid not in found:
                            _patiently(lambda tid=tid: self._send(tid))
                    self._store(found, writer)
                if not self.pending:
                    break
                found = self._results(list(self.pending), POLL_INTERVAL)
                self._store(found, writer)
                self._report(progress)
                if found:
                    heard = looked = time.monotonic()
                elif time.monotonic() - looked > LOST_AFTER:
                    self._send_lost()
                    looked = time.monotonic()
                    if looked - heard > SILENCE:
                        log.warning("no results for %.0f s: is a `bolwerk worker` consuming queue %r?",
                                    looked - heard, self.runner.queue)
                        heard = looked
            writer.flush()
            self._report(progress)
        finally:
            writer.close()

    def _send(self, tid: str) -> None:
        self.runner.app.send_task(TASK, args=[self.run_id, unit_to_json(self.pending[tid])], task_id=tid,
                                  queue=self.runner.queue)

    def _send_lost(self) -> None:
        """Send again the pending tasks that are neither queued, nor taken by a worker, nor done."""
        def held() -> set[str]:  # kombu's messages: {"headers": {"id": task id}, ...}
            queued = [json.loads(m) for m in self.client.lrange(self.runner.queue, 0, -1)]
            taken = [json.loads(v)[0] for v in self.client.hvals(UNACKED_KEY)]
            return {m["headers"]["id"] for m in queued + taken}

        lost = set(self.pending) - _patiently(held)
        lost -= set(self._results(sorted(lost), 0.0)) if lost else set()
        if lost:
            log.warning("%d tasks were lost by the broker (neither queued, nor taken by a worker): sent again",
                        len(lost))
            for tid in sorted(lost):
                _patiently(lambda tid=tid: self._send(tid))

    def _results(self, ids: list[str], interval: float) -> dict[str, dict[str, Any]]:
        """The results ready among `ids` (one read of Redis, then `interval` if some are not)."""
        return _patiently(lambda: dict(self.backend.get_many(set(ids), interval=interval, max_iterations=1)))

    def _store(self, found: dict[str, dict[str, Any]], writer: StoreWriter) -> None:
        for tid, meta in found.items():
            unit = self.pending.pop(tid)
            if meta["status"] != states.SUCCESS:  # the backend hands the worker's exception back
                error = meta.get("result")
                raise CollectionFailed(f"collecting {unit.subject} failed on a worker ({meta['status']}): "
                                       f"{type(error).__name__}: {error}; "
                                       f"the run is kept incomplete, resume it with --resume")
            try:
                addresses, facts = decode_result(meta["result"])
            except Refused as exc:
                raise CollectionFailed(f"the result for {unit.subject} is refused: {exc}; "
                                       f"the run is kept incomplete, resume it with --resume") from None
            if unit.kind == "endpoint":
                records = [Collected(self.run_id, unit.services[0], "endpoint", unit.subject, facts, addresses)]
            else:
                records = [Collected(self.run_id, sid, "mail_domain", unit.subject, facts) for sid in unit.services]
            with self._lock:
                self._last_record[id(records[-1])] = tid
            for record in records:
                writer.put(record)

    def _on_commit(self, record: Collected) -> None:  # on the writer's thread
        with self._lock:
            tid = self._last_record.pop(id(record), None)
        self._committed.append((record.subject, tid))

    def _report(self, progress: _Tally) -> None:
        """Tell the progress what is committed, and delete the results of the units it completes."""
        done = []
        while self._committed:
            subject, tid = self._committed.popleft()
            progress.tick(subject)
            if tid is not None:
                done.append(self.backend.get_key_for_task(tid))
        if done:
            _patiently(lambda: self.client.delete(*done))


def _patiently(call: Callable[[], T]) -> T:
    """`call()`, retried while the broker cannot be reached, for at most BROKER_PATIENCE seconds."""
    give_up = time.monotonic() + BROKER_PATIENCE
    pause = 0.5
    while True:
        try:
            return call()
        except BROKER_ERRORS as exc:
            if time.monotonic() > give_up:
                raise CollectionFailed(f"the broker has been unreachable for {BROKER_PATIENCE:.0f} s ({exc}); "
                                   f"the run is kept incomplete, resume it with --resume") from None
            log.warning("broker unreachable (%s); retrying in %.1f s", exc, pause)
            time.sleep(pause)
            pause = min(2 * pause, 5.0)
