"""The estate's expiry watch: certificates that have lapsed or will lapse before they are renewed.

From a contract-v1 result (`reports.json.build_result`): every certificate served by a
web endpoint, and by every MX host of the mail domains, leaf and intermediates, judged
at the run's start time with the same rule as `certificate.expiry`: a certificate is
*lapsing* when less of its life remains than its renewal window (the smaller of
`certificate_expiry_warn_days` and `certificate_expiry_warn_fraction` of its lifetime,
so 90-day ACME certificates are not flagged while their renewal is still on schedule).
A certificate still listed at that point was evidently not renewed when it should have
been. Thresholds default to the check's and can come from the run's policy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from checks.certificate import validity_status
from scanner.times import parse_rfc3339

DEFAULTS = {"certificate_expiry_warn_days": 14, "certificate_expiry_warn_fraction": 0.1}
LAPSING = ("expired", "due")


def _certificates(result: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], str, str, dict[str, Any]]]:
    """(service, target, host, certificate facts) for every collected certificate."""
    for svc in result.get("services", []):
        for ep in svc.get("endpoints", []):
            cert = (ep.get("facts") or {}).get("certificate")
            if cert and not cert.get("error"):
                yield svc, ep["target"], ep.get("host", ""), cert
        for md in svc.get("mail_domains", []):
            mail = (md.get("facts") or {}).get("mail") or {}
            for mx in mail.get("mx") or []:
                cert = mx.get("certificate")
                if cert and not cert.get("error"):
                    yield svc, f"smtp://{mx.get('host')}", mx.get("host", ""), cert


def lapsing_certificates(result: Mapping[str, Any], thresholds: Mapping[str, Any] | None = None,
                         now: datetime | None = None) -> list[dict[str, Any]]:
    """Rows, soonest first: every certificate that has expired or is overdue for renewal.

    A certificate served at several targets is listed once per target (each has its own
    owner). Rows: service, organisation, target, host, position (leaf/intermediate),
    subject, issuer, not_after, days_remaining, lifetime_days, fraction_remaining,
    status (`expired` or `lapsing`), sha256.
    """
    limits = dict(DEFAULTS) | dict(thresholds or {})
    at = now or parse_rfc3339(result["run"]["started"])
    rows = []
    seen: set[tuple[str, str, str]] = set()
    for svc, target, host, cert in _certificates(result):
        for i, entry in enumerate(cert.get("chain") or []):
            if i > 0 and entry.get("self_signed"):
                continue  # a served root: clients use their own copy
            try:
                status, left, lifetime, fraction = validity_status(
                    entry, at, limits["certificate_expiry_warn_days"], limits["certificate_expiry_warn_fraction"])
            except (KeyError, ValueError):
                continue  # a malformed stored entry: nothing to say about its dates
            key = (svc["id"], target, entry.get("sha256", ""))
            if status not in LAPSING or key in seen:
                continue
            seen.add(key)
            rows.append({
                "service": svc["id"], "organisation": svc.get("organisation", ""), "target": target, "host": host,
                "position": "leaf" if i == 0 else "intermediate", "subject": entry.get("subject"),
                "issuer": entry.get("issuer"), "not_after": entry.get("not_after"),
                "days_remaining": round(left, 1), "lifetime_days": round(lifetime, 1),
                "fraction_remaining": round(fraction, 3),
                "status": "expired" if status == "expired" else "lapsing", "sha256": entry.get("sha256"),
            })
    return sorted(rows, key=lambda r: (r["days_remaining"], r["service"], r["target"], r["position"]))
