"""The machine-readable result, contract v1 (reports/schema/scan-result-v1.json), built from a stored run,
and written as v1.1 (what repeats written once, reports/hoist.py) or, asked for, as v1.

Output is deterministic: services, endpoints and findings are sorted, keys are sorted,
so two runs diff cleanly. It is written service by service as the store gives them
(`stored_result`), compact, one service per line: the whole run is never held in memory.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from reports.common import ENTRIES, ITEMS, output, stream_document
from reports.common import schema as schema  # the contract's JSON Schema, read from here
from reports.hoist import SCHEMA_V1, SCHEMA_V11, Hoister, merged_table
from scanner.compact import dumps as compact
from scanner.store import Store

SCHEMA_ID: str = SCHEMA_V1  # "bolwerk/scan-result/v1", named once: in the schema
CONTRACTS = ("v1.1", "v1")  # what --json-schema may ask for; the first is the default


def service_result(svc: dict[str, Any]) -> dict[str, Any]:
    """One stored service (Store.service) as contract v1 has it."""
    endpoints = []
    for ep in sorted(svc["endpoints"], key=lambda e: e["target"]):
        stored = svc["endpoint_facts"].get(ep["target"])
        endpoints.append({
            "target": ep["target"], "host": ep["host"], "port": ep["port"], "kind": ep["kind"],
            "addresses": stored["addresses"] if stored else [],
            "facts": stored["facts"] if stored else {},
            "collected": stored is not None,
        })
    mail_domains = []
    for md in svc["mail_domains"]:
        facts = svc["mail_facts"].get(md["domain"])
        mail_domains.append({"domain": md["domain"], "declared": md["declared"], "facts": facts or {},
                             "collected": facts is not None})
    out = {
        "id": svc["id"], "name": svc["name"], "organisation": svc["organisation"] or "",
        "tags": svc["tags"], "owner": svc.get("owner") or "",
        "score": svc["score"], "grade": svc["grade"], "caps": svc["caps"], "caps_detail": svc["caps_detail"],
        "pillars": svc["pillars"], "endpoints": endpoints, "mail_domains": mail_domains,
        "findings": svc["findings"], "source": svc.get("source"),
    }
    if "short_findings" in svc:  # read short (Store.service): for the v1.1 writer and the dashboard only
        out["short_findings"] = svc["short_findings"]
    return out


class StoredServices:
    """The services of a stored run, in contract v1's order, read from the store one at a time
    each time they are iterated: a report written service by service holds one at a time."""

    def __init__(self, store: Store, run_id: str) -> None:
        self.store, self.run_id = store, run_id

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (service_result(svc) for svc in self.store.iter_services(self.run_id))

    def __len__(self) -> int:
        return self.store.count_services(self.run_id)

    def packed(self) -> Iterator[dict[str, Any]]:
        """The services with their facts `Packed` and their short findings by digest, as the store
        keeps them (the v1.1 writer makes each object the store shares over once, however many
        services refer to it, and writes short findings as they are stored)."""
        return (service_result(self.store.service(self.run_id, sid, facts="packed", short=True))
                for sid in self.store.service_ids(self.run_id))

    def verdicts(self) -> Iterator[dict[str, Any]]:
        """Each service's id, name, organisation, grade, score and endpoints, without facts or findings."""
        return self.store.iter_verdicts(self.run_id)


def stored_result(store: Store, run_id: str) -> dict[str, Any]:
    """A stored run as contract v1, its services read from the store as they are iterated."""
    run = store.run(run_id)
    return {
        "schema": SCHEMA_ID,
        "run": {
            "id": run["id"], "started": run["started"], "finished": run["finished"], "complete": run["complete"],
            "tool_version": run["tool_version"], "policy": run["policy"], "policy_digest": run["policy_digest"],
            "inventory": run["inventory"],
            "rescored_from": run["rescored_from"],
        },
        "services": StoredServices(store, run_id),
    }


def build_result(store: Store, run_id: str) -> dict[str, Any]:
    """A stored run as contract v1, whole in memory (for small runs, the gate and tests)."""
    result = stored_result(store, run_id)
    result["services"] = list(result["services"])
    return result


def dumps(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json(result: dict[str, Any], path: Path | str, contract: str = CONTRACTS[0]) -> None:
    """The result as one JSON document, one service per line, as contract v1.1 (the table of what
    repeats after the last service) or v1 (`contract`); ``-`` means standard output."""
    with output(path) as out:
        if contract == "v1":
            stream_document(out, dict(result, services=ITEMS), result["services"])
            return
        services = result["services"]
        if isinstance(services, StoredServices):
            services = services.packed()
        with Hoister() as hoister:
            stream_document(out, dict(result, schema=SCHEMA_V11, services=ITEMS, shared=ENTRIES),
                            (hoister.service(svc) for svc in services), entries=hoister.table())


class ResultShares:
    """results.json (v1.1) written by the processes that read the run's services for another
    output (the dashboard), so each service is read from the store once: the process with share
    n of `shares` (every shares-th service from the n-th, in the run's order) hoists its services
    into files of its own in `folder` (`part`), and `write` then takes the services back in the
    run's order and the tables together: in a process of its own (`finish`), while the
    dashboard's summary pages are written, not alone on one core after them."""

    def __init__(self, result: dict[str, Any], path: Path, folder: Path) -> None:
        self.result, self.path, self.folder = result, path, folder

    def part(self, share: int) -> ResultPart:
        return ResultPart(self.folder, share)

    def finish(self) -> Callable[[], None]:
        """Begin `write` in a forked process, every part being written; return what waits for it
        and raises here what it raised (an OSError as it was, for the caller to name the file)."""
        context = multiprocessing.get_context("fork")
        reader, writer = context.Pipe(duplex=False)
        proc = context.Process(target=_reporting, args=(self.write, writer), daemon=True)
        proc.start()
        writer.close()

        def wait() -> None:
            try:
                error = reader.recv()
            except EOFError:  # it ended without a word (killed): its exit code tells
                error = None
            proc.join()
            reader.close()
            if error is not None:
                raise error
            if proc.exitcode != 0:
                raise RuntimeError(f"the process writing {self.path.name} failed (exit code {proc.exitcode})")
        return wait

    def write(self) -> None:
        parts = sorted(self.folder.glob("part-*.jsonl"), key=lambda p: int(p.stem[5:]))
        files = [p.open(encoding="utf-8") for p in parts]
        try:
            with output(self.path) as out:
                stream_document(out, dict(self.result, schema=SCHEMA_V11, services=ITEMS, shared=ENTRIES),
                                _dealt_back(files), encoded=True,
                                entries=merged_table([p.with_suffix(".db") for p in parts]))
        finally:
            for fh in files:
                fh.close()


class ResultPart:
    """One process's share of results.json: its services, one line each, and its table's spool."""

    def __init__(self, folder: Path, share: int) -> None:
        self.lines = (folder / f"part-{share}.jsonl").open("w", encoding="utf-8")
        self.hoister = Hoister(folder / f"part-{share}.db")

    def add(self, svc: dict[str, Any]) -> None:
        self.lines.write(compact(self.hoister.service(svc)) + "\n")

    def close(self) -> None:
        self.lines.close()
        self.hoister.__exit__()


def _reporting(work: Callable[[], None], pipe: Any) -> None:
    """Do `work` (in a process of its own) and send what it raised, or None, back down `pipe`."""
    try:
        work()
    except BaseException as exc:  # every error goes back to the caller, who raises it (no traceback here)
        pipe.send(exc)
        sys.exit(1)
    pipe.send(None)


def _dealt_back(files: list[Any]) -> Iterator[str]:
    """The lines of files a service was dealt to in turn, in the order they were dealt."""
    while True:
        for fh in files:
            line = fh.readline()
            if not line:
                return
            yield line[:-1]


def write_ndjson(result: dict[str, Any], path: Path | str) -> None:
    """One finding per line, with its service and run, for SIEM ingestion; ``-`` means standard output."""
    run = result["run"]
    with output(path) as out:
        for svc in result["services"]:
            for f in svc["findings"]:
                row = dict(f, service=svc["id"], organisation=svc["organisation"], run=run["id"],
                           policy=run["policy"], time=run["started"])
                out.write(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n")
