"""The Celery app of coordinator and workers alike: one task, JSON only, late acknowledgement.

Settings that carry the design:
- `task_acks_late` and `task_reject_on_worker_lost`: a task is acknowledged when it is done,
  so a worker killed mid-task leaves it in the broker, and it runs again elsewhere once the
  visibility timeout has passed (`worker_deduplicate_successful_tasks` skips a redelivered
  one whose result is already stored). Results are stored under a task id made of the run
  and the unit (runs.task_id), so a second run of a unit overwrites, never adds.
- `accept_content = ["json"]`: never pickle, so a message cannot make a worker run code;
  and `only_bolwerk_tasks` drops Celery's built-in tasks, so a worker runs Bolwerk's task
  and nothing else (a message naming another task is rejected as unregistered).
  Remote control and events are off. The broker is still trusted: whoever can write to it
  decides what is scanned (README, "Scanning from several machines").
- Results are read by the coordinator in batches (`PolledResults`), and kept in Redis for
  `RESULT_TTL` so that a coordinator killed mid-run collects them on `--resume`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from celery import Celery
from celery.backends.redis import RedisBackend

from scanner.distributed import DEFAULT_QUEUE, VISIBILITY_TIMEOUT
from scanner.model import InputError

TASK = "bolwerk.collect"  # the one task a worker runs: collect one unit of work
RESULT_TTL = 7 * 24 * 3600  # seconds a result (and a run's context) waits in Redis for its coordinator
UNACKED_KEY = "unacked"  # kombu's hash of the messages workers have taken and not acknowledged
SCHEMES = ("redis", "rediss")


class PolledResults(RedisBackend):
    """Redis results read in batches by the coordinator (`get_many`), so it subscribes to none:
    the stock backend subscribes to every task it sends."""

    def on_task_call(self, producer, task_id) -> None:
        return None


def broker_url(url: str | None) -> str:
    """The broker URL checked: Redis only (it also keeps the results and the politeness counts)."""
    if not url:
        raise InputError("--broker", "name the Redis broker (--broker or BOLWERK_BROKER), "
                                     "e.g. redis://bolwerk:PASSWORD@127.0.0.1:6379/0")
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise InputError("--broker", f"expected redis://[USER:PASSWORD@]HOST[:PORT][/DB] or rediss://..., "
                                     f"not {parts.scheme or url!r}")
    return url


def make_app(broker: str, visibility_timeout: float = VISIBILITY_TIMEOUT) -> Celery:
    app = Celery("bolwerk", broker=broker, backend=f"{__name__}:PolledResults+{broker}", set_as_current=False)
    restore_every = max(1, min(10, int(visibility_timeout // 4)))  # look for abandoned tasks this often
    app.conf.update(
        task_serializer="json", result_serializer="json", accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        worker_deduplicate_successful_tasks=True,
        task_default_queue=DEFAULT_QUEUE,
        result_expires=RESULT_TTL,
        result_backend_always_retry=True, result_backend_max_retries=100,  # a broker restart: wait, retry
        result_backend_max_sleep_between_retries_ms=2000,
        broker_connection_retry_on_startup=True, broker_connection_max_retries=None,
        broker_transport_options={"visibility_timeout": visibility_timeout, "unacked_key": UNACKED_KEY,
                                  "unacked_restore_interval": restore_every, "unacked_restore_throttle": 1},
        task_publish_retry_policy={"max_retries": 30, "interval_start": 0.2, "interval_step": 0.5,
                                   "interval_max": 2.0},
        worker_enable_remote_control=False, worker_send_task_events=False, task_send_sent_event=False,
        worker_hijack_root_logger=False,
    )
    return app


def only_bolwerk_tasks(app: Celery) -> None:
    """Drop every task but Bolwerk's (Celery's built-ins: chords, maps, backend cleanup)."""
    app.finalize()
    for name in [n for n in app.tasks if not n.startswith("bolwerk.")]:
        app.tasks.unregister(name)
