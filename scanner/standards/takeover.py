"""Hosted services whose names a stranger can claim once the customer deprovisions them.

The list is `data/dns/takeover.toml`: per provider, shell-style patterns on the name and
whether the provider hands out a name as soon as it stops resolving. A CNAME, MX or NS
still pointing at such a name is a takeover risk (RFC 9499 §7, OWASP WSTG-CONF-10).
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from functools import cache
from typing import Any

from scanner.standards import read_toml


@cache
def _table() -> dict[str, Any]:
    return read_toml("dns", "takeover.toml")


def provider(name: str, kind: str = "service") -> Mapping[str, Any] | None:
    """The provider whose patterns match `name` (`kind`: a table of the file, e.g. `dns_host`)."""
    name = name.rstrip(".").lower()
    return next((p for p in _table().get(kind, [])
                 if any(fnmatchcase(name, pattern) for pattern in p["patterns"])), None)
