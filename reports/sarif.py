"""SARIF 2.1.0 for code-scanning platforms (GitHub code scanning, Azure DevOps, Defect Dojo...).

One rule per check (title, remediation in English and Dutch, references, controls,
`security-severity` from the check's severity) and one result per failing finding.
A waived finding is reported too, with an accepted external suppression carrying the
waiver's reason: shown as dismissed, never hidden. `partialFingerprints` carry the
stable finding id, so platforms track a problem across runs.

Locations must be paths in the repository (platforms refuse URLs). In order of
preference a result points at: the waiver line in the policy file (waived findings), the
inventory line that names the service, or, for targets given on the command line, a
path made from the target (``host[_port][/path]``); its full URL is in the result's
properties and logical location. Gate an inventory kept in the repository for alerts on
real lines.

`runAutomationDetails` is left to the uploader (GitHub's `category`) unless the user names
the analysis (`--sarif-category`): an id that changed with every run or policy would make
each upload a new analysis and orphan the alerts of the last one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from checks.registry import Check, Registry
from reports.common import ITEMS, clean, findings, output, repo_path, stream_document, waiver_text

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVEL = {"required": "error", "recommended": "warning", "optional": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}
FINGERPRINT = "bolwerkFindingId/v1"


def rule_name(check_id: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[._]", check_id))


def _rule(chk: Check) -> dict[str, Any]:
    refs = "; ".join(chk.references)
    controls = ", ".join(chk.controls)
    text = (f"{chk.remediation['en']}\n\nNL: {chk.remediation['nl']}"
            + (f"\n\nReferences: {refs}" if refs else "") + (f"\n\nControls: {controls}" if controls else ""))
    markdown = (f"**Fix:** {chk.remediation['en']}\n\n**Oplossing:** {chk.remediation['nl']}"
                + (f"\n\n**References:** {refs}" if refs else "") + (f"\n\n**Controls:** {controls}" if controls else ""))
    props: dict[str, Any] = {
        "tags": ["security", chk.pillar, *chk.controls],
        "precision": "high",
        "pillar": chk.pillar,
        "level": str(chk.level),
        "severity": str(chk.severity),
        "references": list(chk.references),
        "controls": list(chk.controls),
        "title_nl": chk.title["nl"],
    }
    if str(chk.severity) in SECURITY_SEVERITY:
        props["security-severity"] = SECURITY_SEVERITY[str(chk.severity)]
    return {
        "id": chk.id,
        "name": rule_name(chk.id),
        "shortDescription": {"text": chk.title["en"]},
        "fullDescription": {"text": f"{chk.title['en']}. {chk.remediation['en']}"},
        "help": {"text": text, "markdown": markdown},
        "defaultConfiguration": {"level": LEVEL[str(chk.level)]},
        "properties": props,
    }


def target_path(target: str) -> str:
    """https://host:8443/app/ -> host_8443/app; smtp://mx:25 -> mx_25; a bare domain stays itself."""
    if "://" in target:
        parts = urlsplit(target)
        host = (parts.hostname or "target").strip("[]").replace(":", "_")
        port = f"_{parts.port}" if parts.port else ""
        path = parts.path.strip("/")
        out = f"{host}{port}/{path}" if path else f"{host}{port}"
    else:
        out = target
    return re.sub(r"[^A-Za-z0-9._/~-]", "_", out) or "target"


def _location(svc: dict[str, Any], f: dict[str, Any]) -> dict[str, Any]:
    waiver_src = (f.get("waiver") or {}).get("source") if f["status"] == "waived" else None
    source = waiver_src or svc.get("source")
    if source and source.get("file"):
        physical: dict[str, Any] = {"artifactLocation": {"uri": repo_path(source["file"])}}
        if source.get("line"):
            physical["region"] = {"startLine": int(source["line"])}
    else:
        physical = {"artifactLocation": {"uri": target_path(f["target"])}}
    return {
        "physicalLocation": physical,
        "logicalLocations": [{"name": f["target"], "fullyQualifiedName": f"{svc['id']}/{f['target']}",
                              "kind": "resource"}],
    }


def build_sarif(result: dict[str, Any], registry: Registry, verdict: Any = None,
                category: str | None = None) -> dict[str, Any]:
    rules = [_rule(chk) for chk in registry]
    return _document(result, rules, list(_results(result, rules, verdict)), verdict, category)


def _results(result: dict[str, Any], rules: list[dict[str, Any]], verdict: Any) -> Iterator[dict[str, Any]]:
    index = {r["id"]: i for i, r in enumerate(rules)}
    for svc, f in findings(result):
        if f["status"] not in ("fail", "waived") or f["check"] not in index:
            continue
        entry: dict[str, Any] = {
            "ruleId": f["check"],
            "ruleIndex": index[f["check"]],
            "kind": "fail",
            "level": LEVEL.get(f["level"], "warning"),
            "message": {"text": clean(f"{f['target']}: {f['message']}", 2000)},
            "locations": [_location(svc, f)],
            "partialFingerprints": {FINGERPRINT: f["id"]},
            "properties": {"service": svc["id"], "target": f["target"], "status": f["status"],
                           "severity": f["severity"], "policyLevel": f["level"], "grade": svc.get("grade"),
                           "evidence": f.get("evidence", {})},
        }
        if f["status"] == "waived":
            entry["suppressions"] = [{"kind": "external", "status": "accepted",
                                      "justification": waiver_text(f.get("waiver") or {})}]
        if verdict is not None and verdict.baseline is not None and f["status"] == "fail":
            entry["baselineState"] = "unchanged" if f["id"] in verdict.known_ids else "new"
        yield entry


def _document(result: dict[str, Any], rules: list[dict[str, Any]], results: Any, verdict: Any,
              category: str | None) -> dict[str, Any]:
    run = result["run"]
    invocation: dict[str, Any] = {"executionSuccessful": bool(run.get("complete"))}
    if run.get("started"):
        invocation["startTimeUtc"] = run["started"]
    if run.get("finished"):
        invocation["endTimeUtc"] = run["finished"]
    if verdict is not None:
        invocation["exitCode"] = verdict.exit_code
        invocation["exitCodeDescription"] = verdict.reason
    properties: dict[str, Any] = {"policy": run["policy"], "runId": run["id"]}
    if verdict is not None:
        properties["gate"] = verdict.label
    sarif_run: dict[str, Any] = {
        "tool": {"driver": {"name": "Bolwerk", "version": run.get("tool_version") or "0",
                            "semanticVersion": run.get("tool_version") or "0", "rules": rules}},
        "invocations": [invocation],
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": properties,
    }
    if category:  # else the uploader's (GitHub's `category`); a run id here would orphan every alert
        sarif_run["automationDetails"] = {"id": category}
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [sarif_run]}


def write_sarif(result: dict[str, Any], path: Any, registry: Registry, verdict: Any = None,
                category: str | None = None) -> None:
    """The results written one by one as the result gives its services; ``-`` means standard output."""
    rules = [_rule(chk) for chk in registry]
    with output(path) as out:
        stream_document(out, _document(result, rules, ITEMS, verdict, category), _results(result, rules, verdict),
                        indent=2, sort_keys=False)
