"""Loopback only: an audit hook that refuses any connection, send or lookup beyond 127.0.0.0/8 and ::1.

The lab lives on loopback, and whatever only drives the lab (the test suite, the bench
scripts) must never reach anything else. `install()` adds a process-wide audit hook
(`sys.addaudithook`, which cannot be removed): every TCP connect, UDP send and name
lookup to anything but loopback raises PermissionError *and* is recorded in the list it
returns, so a caller that swallowed the error is still caught by whoever reads the list.
"""

from __future__ import annotations

import ipaddress
import sys

ALLOWED_NAMES = {None, "", "localhost", "localhost.", b"localhost"}
SENDS = ("socket.connect", "socket.sendto", "socket.sendmsg")
LOOKUPS = ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr")


def is_loopback(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host in ALLOWED_NAMES:
        return True
    try:
        addr = ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return addr.is_loopback


def install(who: str = "loopback guard") -> list[str]:
    """Refuse (and record) every destination that is not loopback, from now on in this process."""
    violations: list[str] = []

    def guard(event: str, args: tuple) -> None:
        if event in SENDS:
            address = args[1] if len(args) > 1 else None
            if isinstance(address, tuple) and address and not is_loopback(address[0]):
                violations.append(f"{event} {address!r}")
                raise PermissionError(f"{who}: only loopback may be reached, not {address!r}")
        elif event in LOOKUPS:
            host = args[0] if args else None
            if not is_loopback(host):
                violations.append(f"{event} {host!r}")
                raise PermissionError(f"{who}: only loopback names may be looked up, not {host!r}")

    sys.addaudithook(guard)
    return violations
