"""Splitting a scan's units over worker processes (scanner/shards.py): a pure function of the
plan and the addresses resolved before the scan."""

from __future__ import annotations

from scanner.model import Endpoint
from scanner.shards import split
from scanner.work import Unit


def _endpoint(host: str, service: str) -> Unit:
    ep = Endpoint("https", host, 443)
    return Unit("endpoint", f"https://{host}", (service,), ep)


def _estate() -> tuple[list[Unit], dict[str, list[str]]]:
    """Three organisations, each with four sites on one address and a mail domain, listed
    together as inventories list them."""
    units, addresses = [], {}
    for org in "abc":
        for n in range(4):
            host = f"www{n}.{org}.test"
            units.append(_endpoint(host, f"{org}{n}"))
            addresses[host] = [f"127.0.0.{ord(org) - 96}"]
        units.append(Unit("mail_domain", f"{org}.test", (f"{org}0",)))
    return units, addresses


def test_an_address_stays_whole_in_one_shard_and_every_unit_is_somewhere():
    units, addresses = _estate()
    shards = split(units, addresses, 2)
    assert len(shards) == 2
    assert sorted(u.subject for s in shards for u in s.units) == sorted(u.subject for u in units)
    for ip in {a[0] for a in addresses.values()}:
        holders = [s for s in shards if ip in s.owned]
        assert len(holders) == 1, ip
        first = [u for u in holders[0].units if u.endpoint and addresses[u.endpoint.host][0] == ip]
        assert len(first) == 4


def test_a_shard_deals_its_units_over_a_window_of_addresses():
    """Units in flight spread over `window` addresses, not all on the first one; each address's
    units keep their order and stay within `window` units of each other (the run caches hold
    what they share); a mail domain goes with its organisation's sites."""
    units, addresses = _estate()
    (shard,) = split(units, addresses, 1, window=2)
    order = [u.subject for u in shard.units]
    assert order[:4] == ["https://www0.a.test", "https://www0.b.test", "https://www1.a.test", "https://www1.b.test"]
    assert sorted(order) == sorted(u.subject for u in units)
    def org(unit: Unit) -> str:  # https://www0.a.test, a.test -> a
        return unit.subject.split(".")[-2]

    for name in "abc":
        mine = [k for k, u in enumerate(shard.units) if org(u) == name]
        assert [shard.units[k].subject for k in mine] == [u.subject for u in units if org(u) == name]
        assert all(b - a <= 2 for a, b in zip(mine, mine[1:], strict=False))
    assert split(units, addresses, 1)[0].units == units  # window 1: inventory order
