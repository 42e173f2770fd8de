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

Within a shard the units are dealt round-robin over a window of `window` address groups
(`spread`): an inventory lists an organisation's services together, often on one
address, so in inventory order the units in flight crowd a few addresses whose caps hold
them back while the other slots idle. Dealt over the whole shard instead, the units of one
address come hundreds apart and the run caches (scanner/probes/memo.py) forget what they
share (measured: 8.0 connections and 124 ms CPU per endpoint instead of 2.3 and 62); in a
window of a few dozen groups they come `window` units apart and the caches still hold.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice

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


def spread(units: Sequence[Unit], group: Callable[[Unit], Hashable], window: int) -> list[Unit]:
    """`units` dealt round-robin over `window` groups at a time, the groups in the order they
    first appear, each group's units in their order; a finished group's place goes to the next."""
    groups: dict[Hashable, deque[Unit]] = {}
    for unit in units:
        groups.setdefault(group(unit), deque()).append(unit)
    waiting = iter(groups.values())
    dealing = deque(islice(waiting, max(1, window)))
    out = []
    while dealing:
        members = dealing.popleft()
        out.append(members.popleft())
        if members:
            dealing.append(members)
        elif (following := next(waiting, None)) is not None:
            dealing.append(following)
    return out


def split(units: Sequence[Unit], addresses: Mapping[str, Sequence[str]], n: int, window: int = 1) -> list[Shard]:
    """At most `n` shards of `units` (empty ones dropped), each dealt over `window` address
    groups at a time (`spread`; 1: one address group at a time).

    `addresses` gives the addresses of every endpoint host (as resolved before the scan).
    """
    sets = _Sets()
    for unit in units:
        if unit.kind == "endpoint":
            host = f"host:{unit.endpoint.host}"
            sets.union(_key(unit), host)
            for ip in addresses.get(unit.endpoint.host, ()):
                sets.union(host, f"ip:{ip}")
    components: dict[str, list[int]] = {}
    for i, unit in enumerate(units):
        if unit.kind == "endpoint":
            components.setdefault(sets.find(_key(unit)), []).append(i)
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
        shard.units = spread(shard.units, _grouper(sets), window)
        for unit in shard.units:
            if unit.kind == "endpoint":
                shard.owned.add(unit.endpoint.host)
                shard.owned.update(addresses.get(unit.endpoint.host, ()))
    return [s for s in shards if s.units]


def _grouper(sets: _Sets) -> Callable[[Unit], Hashable]:
    """An endpoint's group is its address group; a mail domain goes with the unit before it
    in inventory order (its service's endpoints, in the same zone: its facts are cached)."""
    last: Hashable = None

    def group(unit: Unit) -> Hashable:
        nonlocal last
        if unit.kind == "endpoint":
            last = sets.find(_key(unit))
        return last if last is not None else ("mail", unit.subject)

    return group


def _key(unit: Unit) -> str:
    """An endpoint unit's name among the address groups' members."""
    return f"unit:{unit.subject}:{unit.services[0]}"
