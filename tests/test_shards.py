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
