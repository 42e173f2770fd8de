"""The estate's expiry watch: certificates that have lapsed or will lapse before they are renewed.

Read from the findings of a contract-v1 result (`reports.json.build_result`), never judged
again: `certificate.expiry` (every web endpoint) and `mail.starttls.certificate` (every MX
host) keep, per certificate of the chain (leaf and intermediates), its validity as the
check judged it at the run's start under the run's policy. A certificate is *lapsing*
when less of its life remains than its renewal window (the smaller of
`certificate_expiry_warn_days` and `certificate_expiry_warn_fraction` of its lifetime, so
90-day ACME certificates are not flagged while their renewal is still on schedule); one
still listed at that point was evidently not renewed when it should have been.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from scanner.short_findings import finding_order

WATCHED = ("certificate.expiry", "mail.starttls.certificate")
LAPSING = {"expired": "expired", "due": "lapsing"}  # the checks' validity status -> the watch's


def lapsing_certificates(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows, soonest first: every certificate that has expired or is overdue for renewal.

    A certificate served at several targets is listed once per target (each has its own
    owner). Rows: service, organisation, target, host, position (leaf/intermediate),
    subject, issuer, not_after, days_remaining, lifetime_days, fraction_remaining,
    status (`expired` or `lapsing`), sha256.
    """
    return soonest_first([row for svc in result["services"] for row in lapsing_of(svc)])


def soonest_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["days_remaining"], r["service"], r["target"], r["position"]))


def lapsing_of(svc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The lapsing certificates of one service (a report reads the services one at a time)."""
    rows = []
    seen: set[tuple[str, str]] = set()
    findings = svc["findings"]
    if short := svc.get("short_findings"):  # read apart (Store.service(short=True)): those of WATCHED checks back
        findings = sorted(findings + short.findings(WATCHED), key=finding_order)
    for finding in findings:
        if finding["check"] not in WATCHED:
            continue
        for cert in (finding.get("evidence") or {}).get("certificates", []):
            status = LAPSING.get(cert.get("status"))
            key = (finding["target"], cert.get("sha256") or "")
            if status is None or key in seen:
                continue
            seen.add(key)
            rows.append({
                "service": svc["id"], "organisation": svc.get("organisation", ""), "target": finding["target"],
                "host": urlsplit(finding["target"]).hostname or "", "position": cert["position"],
                "subject": cert["subject_dn"], "issuer": cert["issuer"], "not_after": cert["not_after"],
                "days_remaining": cert["days_remaining"], "lifetime_days": cert["lifetime_days"],
                "fraction_remaining": cert["fraction_remaining"], "status": status, "sha256": cert["sha256"],
            })
    return rows
