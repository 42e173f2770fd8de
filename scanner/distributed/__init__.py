"""Scans spread over Celery workers, with Redis as broker, result store and politeness keeper.

`bolwerk scan --engine celery` is the coordinator (coordinator.py): it plans the run as
the in-process runner does, publishes what workers need to know of the run (runs.py),
sends one task per unit of work (scanner/work.py) and writes the facts that come back
into its own SQLite store, so resume, rescore, diff, reports and the gate work unchanged.
`bolwerk worker` (worker.py) runs the same probe code for those tasks; the caps per host
and per address and the rate limit per address are kept in Redis (politeness.py), so they
hold for the whole estate, however many workers scan it. The Celery app (app.py) takes
JSON only and runs only Bolwerk's own task.

Celery and the Redis client are an optional extra (`pip install 'bolwerk[celery]'`); the
in-process runner needs neither.
"""

DEFAULT_QUEUE = "bolwerk"  # the queue tasks go to, and workers listen on, unless told otherwise
VISIBILITY_TIMEOUT = 900.0  # seconds before a task taken by a worker that vanished is handed out again
