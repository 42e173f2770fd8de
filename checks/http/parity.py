"""IPv4/IPv6 parity: every A and AAAA address of the host serves the same status and the
same security headers (a forgotten IPv6 front end is a common gap).
"""

from __future__ import annotations

from checks.catalogue import Phrase
from checks.http.common import headers, http_facts
from checks.registry import CheckContext, NotMeasured, check, failed, not_applicable, passed


@check("http.address_parity", pillar="http", level="recommended", severity="medium")
def address_parity(ctx: CheckContext):
    http = http_facts(ctx)
    headers(ctx)  # the probe compares addresses only once one of them answered
    rows = http.get("per_address")
    if not rows:
        return not_applicable("single_address")
    answered = [r for r in rows if "status" in r]
    if not answered:
        raise NotMeasured("no_address_answered")
    base = answered[0]
    problems, evidence = [], {r["address"]: r.get("status", r.get("error")) for r in rows}
    for row in rows:
        if row is base:
            continue
        here, there = row["address"], base["address"]
        if "status" not in row:
            problems.append(Phrase("silent", address=here, error=row.get("error")))
            continue
        if row["status"] != base["status"]:
            problems.append(Phrase("status_differs", address=here, status=row["status"], base=there,
                                   base_status=base["status"]))
        names = sorted(set(row["headers"]) | set(base["headers"]))
        differ = [n for n in names if row["headers"].get(n) != base["headers"].get(n)]
        if differ:
            problems.append(Phrase("headers_differ", address=here, base=there, headers=differ))
    if problems:
        return failed("problems", problems=problems, evidence=evidence)
    return passed("same", count=len(rows), evidence=evidence)
