"""Registrable domains by the Public Suffix List (publicsuffix.org), as browsers and mail
receivers draw the line between a domain's owner and the registry above it.

The list is the snapshot the `publicsuffixlist` package ships (its version names the
snapshot's date); nothing is downloaded at run time, so a scan is reproducible and works
offline. Both sections count, ICANN's and the private one: `gemeente.github.io` belongs
to whoever publishes under it, not to github.io's owner.
"""

from __future__ import annotations

import ipaddress
from functools import cache

from publicsuffixlist import PublicSuffixList


@cache
def _list() -> PublicSuffixList:
    return PublicSuffixList()  # the bundled snapshot; parsed once per process (~0.15 s)


def registrable_domain(host: str) -> str | None:
    """The registrable domain a host belongs to (`mijn.gent.be` -> `gent.be`, `a.b.gov.uk` ->
    `b.gov.uk`); None for an address, a public suffix itself, or a single label. A name under
    a suffix the list does not know (`.test` in the lab) is taken as under a TLD."""
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    name = host.rstrip(".").lower()
    return _list().privatesuffix(name) if "." in name else None
