"""Splitting a scan over worker processes so that politeness per address still holds.

Every endpoint that shares a host name or an address with another (a load balancer in
front of forty services, one web server with ten virtual hosts) lands in the same shard
(union-find over endpoint <-> host <-> address), so one process alone talks to that
address for endpoint work: its caps and rate limit per address and per host hold as the
user set them. Components go to the least loaded shard, largest first. A mail domain goes
to the shard holding most of its services' endpoints (its zone's facts are probably
cached there). Addresses no shard owns (MX hosts, name servers, redirect targets) can be
reached from every shard, so each shard gets only its share of the caps there
(`Network.owned`): together they never exceed them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from scanner.work import Unit


@dataclass
class Shard:
    units: list[Unit] = field(default_factory=list)
    owned: set[str] = field(default_factory=set)  # the hosts and addresses only this shard contacts for endpoints

    @property
    def load(self) -> int:
        return len(self.units)


class _Sets:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        root = self.parent.setdefault(key, key)
        while root != self.parent[root]:
            root = self.parent[root]
        while key != root:  # path compression
            self.parent[key], key = root, self.parent[key]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb


def split(units: Sequence[Unit], addresses: Mapping[str, Sequence[str]], n: int) -> list[Shard]:
    """At most `n` shards of `units` (empty ones dropped), each in the order of `_spread`.

    `addresses` gives the addresses of every endpoint host (as resolved before the scan).
    """
    sets = _Sets()
    for unit in units:
        if unit.kind == "endpoint":
            host = f"host:{unit.endpoint.host}"
            sets.union(f"unit:{unit.subject}:{unit.services[0]}", host)
            for ip in addresses.get(unit.endpoint.host, ()):
                sets.union(host, f"ip:{ip}")
    components: dict[str, list[int]] = {}
    for i, unit in enumerate(units):
        if unit.kind == "endpoint":
            components.setdefault(sets.find(f"unit:{unit.subject}:{unit.services[0]}"), []).append(i)
    shards = [Shard() for _ in range(max(1, n))]
    where: dict[int, Shard] = {}
    for members in sorted(components.values(), key=len, reverse=True):
        shard = min(shards, key=lambda s: s.load)
        for i in members:
            where[i] = shard
            shard.units.append(units[i])
    by_service: dict[str, Counter[int]] = {}
    for i, shard in where.items():
        by_service.setdefault(units[i].services[0], Counter())[shards.index(shard)] += 1
    for unit in units:
        if unit.kind == "mail_domain":
            votes = sum((by_service.get(sid, Counter()) for sid in unit.services), Counter())
            shard = shards[votes.most_common(1)[0][0]] if votes else min(shards, key=lambda s: s.load)
            shard.units.append(unit)
    group = {i: root for root, members in components.items() for i in members}
    order = _spread(units, group)
    for shard in shards:
        shard.units.sort(key=lambda u: order[id(u)])
        for unit in shard.units:
            if unit.kind == "endpoint":
                shard.owned.add(unit.endpoint.host)
                shard.owned.update(addresses.get(unit.endpoint.host, ()))
    return [s for s in shards if s.units]


def _spread(units: Sequence[Unit], group: Mapping[int, str]) -> dict[int, tuple[int, int]]:
    """A sort key per unit that deals the units out round-robin over their groups (endpoints
    sharing a host or an address; the mail domains, which mostly meet the same few MX and name
    servers, as one more group), each group in inventory order.

    Inventories list an organisation's services together, often on one address: taken in
    inventory order, the units in flight would crowd a few addresses, where the caps per
    address hold them back while the scan's other slots idle.
    """
    first: dict[str, int] = {}
    taken: Counter[str] = Counter()
    key: dict[int, tuple[int, int]] = {}
    for i, unit in enumerate(units):
        name = group.get(i, "mail")
        first.setdefault(name, i)
        key[id(unit)] = (taken[name], first[name])
        taken[name] += 1
    return key
