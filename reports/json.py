"""The machine-readable result, contract v1 (reports/schema/scan-result-v1.json), built from a stored run.

Output is deterministic: services, endpoints and findings are sorted, keys are sorted,
so two runs diff cleanly.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from reports.common import write
from scanner.store import Store


def schema() -> dict[str, Any]:
    """The contract as the JSON Schema shipped in the package."""
    return json.loads(resources.files("reports").joinpath("schema/scan-result-v1.json").read_text(encoding="utf-8"))


SCHEMA_ID: str = schema()["properties"]["schema"]["const"]  # "bolwerk/scan-result/v1", named once: in the schema


def build_result(store: Store, run_id: str) -> dict[str, Any]:
    run = store.run(run_id)
    services = []
    for svc in store.services(run_id):
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
        services.append({
            "id": svc["id"], "name": svc["name"], "organisation": svc["organisation"] or "",
            "tags": svc["tags"], "owner": svc.get("owner") or "",
            "score": svc["score"], "grade": svc["grade"], "caps": svc["caps"], "caps_detail": svc["caps_detail"],
            "pillars": svc["pillars"], "endpoints": endpoints, "mail_domains": mail_domains,
            "findings": svc["findings"], "source": svc.get("source"),
        })
    return {
        "schema": SCHEMA_ID,
        "run": {
            "id": run["id"], "started": run["started"], "finished": run["finished"], "complete": run["complete"],
            "tool_version": run["tool_version"], "policy": run["policy"], "policy_digest": run["policy_digest"],
            "inventory": run["inventory"],
            "rescored_from": run["rescored_from"],
        },
        "services": sorted(services, key=lambda s: s["id"]),
    }


def dumps(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json(result: dict[str, Any], path: Path | str) -> None:
    """The result as one JSON document; ``-`` means standard output."""
    write(path, dumps(result))


def write_ndjson(result: dict[str, Any], path: Path | str) -> None:
    """One finding per line, with its service and run, for SIEM ingestion; ``-`` means standard output."""
    lines = []
    for svc in result["services"]:
        for f in svc["findings"]:
            row = dict(f, service=svc["id"], organisation=svc["organisation"], run=result["run"]["id"],
                       policy=result["run"]["policy"], time=result["run"]["started"])
            lines.append(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n")
    write(path, "".join(lines))
