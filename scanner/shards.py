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
    """At most `n` shards of `units` (empty ones dropped), each unit in its original order.

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
    position = {id(u): k for k, u in enumerate(units)}
    for shard in shards:
        shard.units.sort(key=lambda u: position[id(u)])
        for unit in shard.units:
            if unit.kind == "endpoint":
                shard.owned.add(unit.endpoint.host)
                shard.owned.update(addresses.get(unit.endpoint.host, ()))
    return [s for s in shards if s.units]
