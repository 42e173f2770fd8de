"""Times in facts, runs and reasons, one spelling everywhere: RFC 3339 in UTC, to the second
(the audit log to the millisecond)."""

from __future__ import annotations

from datetime import UTC, datetime

FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def rfc3339(moment: datetime) -> str:
    """An aware UTC datetime, or a naive one meant as UTC (as cryptography gives SCT times)."""
    return moment.strftime(FORMAT)


def rfc3339_epoch(seconds: float) -> str | None:
    """Seconds since the epoch (DNSSEC signature times, SCT milliseconds / 1000); None beyond any calendar."""
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime(FORMAT)
    except (OverflowError, OSError, ValueError):
        return None


def rfc3339_precise(seconds: float) -> str:
    """Seconds since the epoch to the millisecond, for logs whose lines come many a second."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_rfc3339(stamp: str) -> datetime:
    """An RFC 3339 timestamp ("Z" or an offset) as an aware datetime; ValueError otherwise."""
    return datetime.fromisoformat(stamp.strip().replace("Z", "+00:00").replace("z", "+00:00"))
