"""Times in facts, runs and reasons, one spelling everywhere: RFC 3339 in UTC, to the second."""

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


def parse_rfc3339(stamp: str) -> datetime:
    """An RFC 3339 timestamp ("Z" or an offset) as an aware datetime; ValueError otherwise."""
    return datetime.fromisoformat(stamp.strip().replace("Z", "+00:00").replace("z", "+00:00"))
