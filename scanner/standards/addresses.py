"""Special-purpose IP address space (RFC 6890 and the IANA registries): which block an address
lies in, judged by the IPv4 address it carries when it is an IPv4 address written as IPv6.

The table is `data/net/special-addresses.toml`; an address in none of its blocks is public.
Pure, no I/O beyond reading the packaged table.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import cache

from scanner.standards import read_toml

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 §2.1: the well-known prefix
SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")  # RFC 3056 §2


@dataclass(frozen=True)
class Block:
    network: IPNetwork
    kind: str  # never, private, metadata, loopback, link-local, documentation, ... (see the table)
    name: str
    source: str


@dataclass(frozen=True)
class Special:
    """An address in special-purpose space: the address judged (IPv4 when one was embedded) and its block."""

    address: IPAddress
    block: Block

    @property
    def kind(self) -> str:
        return self.block.kind


@cache
def blocks() -> tuple[Block, ...]:
    """Every block of the table, most specific first."""
    rows = read_toml("net", "special-addresses.toml")["block"]
    table = [Block(ipaddress.ip_network(r["network"]), r["kind"], r["name"], r["source"]) for r in rows]
    return tuple(sorted(table, key=lambda b: -b.network.prefixlen))


def embedded_ipv4(addr: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for: IPv4-mapped, NAT64 (well-known prefix) or 6to4."""
    if isinstance(addr, ipaddress.IPv4Address):
        return None
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr in NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if addr in SIX_TO_FOUR:
        return addr.sixtofour
    return None


def address(text: str) -> IPAddress:
    """An address literal (an IPv6 zone index dropped); ValueError when `text` is none."""
    return ipaddress.ip_address(text.split("%", 1)[0])


def special(text: str) -> Special | None:
    """The special-purpose block `text` lies in, or None for a public address."""
    addr = address(text)
    judged = embedded_ipv4(addr) or addr
    for block in blocks():
        if block.network.version == judged.version and judged in block.network:
            return Special(judged, block)
    return None


def private_network(text: str) -> IPNetwork:
    """A network a user may allow (`--allow-network`, an inventory's `networks`): a CIDR whose
    every address is private-use space. ValueError, with the reason, for anything else.

    The private blocks are contiguous, so its two ends tell. A metadata address inside it
    (fd00:ec2::254 in fd00::/8) keeps its own, stricter kind: allowing the network does not open it.
    """
    try:
        network = ipaddress.ip_network(text.strip())
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a network in CIDR notation ({exc})") from None
    for edge in (network.network_address, network.broadcast_address):
        found = special(str(edge))
        if found is None or found.kind != "private":
            what = f"{found.block.name} space" if found else "public space"
            raise ValueError(f"{network} reaches into {what}; only private networks (RFC 1918, RFC 6598, "
                             "RFC 4193 unique local) can be allowed")
    return network
