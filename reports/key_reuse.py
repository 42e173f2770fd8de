"""One private key behind many hosts: the estate-wide view a single endpoint cannot give.

A check judges one endpoint, so it cannot see that the same key also serves forty other
hosts. The certificate facts record the SHA-256 of every certificate's public key
(`chain[0].spki_sha256`); this report groups the leaves of a whole result by it. A key
shared across services or organisations concentrates risk: one leaked key (a shared
load balancer, an outsourced wildcard) exposes all of them, and one renewal breaks all.
Within a single service several hostnames sharing a key is ordinary, so by default a
key is listed when it crosses service boundaries or serves many hosts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from scanner.compact import pick, pick_each

LEAF = ("certificate", "chain", 0)  # where the facts hold the leaf certificate


def shared_keys(result: Mapping[str, Any], min_hosts: int = 2, min_services: int = 2) -> list[dict[str, Any]]:
    """Keys served by at least `min_hosts` distinct hosts *and* `min_services` services.

    Rows, most widely shared first: spki_sha256, hosts, services, organisations,
    certificates (distinct certificate fingerprints using that key), subjects.
    """
    keys = KeyGroups()
    for svc in result.get("services", []):
        keys.add(svc)
    return keys.rows(min_hosts, min_services)


class KeyGroups:
    """The leaf keys of an estate, grouped, fed one service at a time: a small record per key."""

    def __init__(self) -> None:
        self.groups: dict[str, dict[str, Any]] = {}

    def add(self, svc: Mapping[str, Any]) -> None:
        for host, leaf in _leaves(svc):
            group = self.groups.setdefault(leaf["spki_sha256"], {"hosts": set(), "services": set(),
                                                                 "organisations": set(), "certificates": set(),
                                                                 "subjects": set()})
            group["hosts"].add(host)
            group["services"].add(svc["id"])
            if svc.get("organisation"):
                group["organisations"].add(svc["organisation"])
            group["certificates"].add(leaf.get("sha256"))
            group["subjects"].add(leaf.get("subject"))

    def rows(self, min_hosts: int = 2, min_services: int = 2) -> list[dict[str, Any]]:
        rows = []
        for spki, group in self.groups.items():
            if len(group["hosts"]) >= min_hosts and len(group["services"]) >= min_services:
                rows.append({"spki_sha256": spki, **{k: sorted(v) for k, v in group.items() if k != "certificates"},
                             "certificates": len(group["certificates"])})
        return sorted(rows, key=lambda r: (-len(r["hosts"]), -len(r["services"]), r["spki_sha256"]))


def leaf_keys(svc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(host, SPKI SHA-256) of every leaf certificate a service's endpoints and MX hosts serve.
    Only the key's digest is read of each leaf: of packed facts, expanding whole leaves cost
    more than the rest of a service's row in the dashboard's ledger."""
    return [(host, spki) for host, facts in _certified(svc) if (spki := pick(facts, *LEAF, "spki_sha256"))]


def _leaves(svc: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(host, leaf certificate) of each endpoint and MX host that served a chain whose leaf has a key."""
    for host, facts in _certified(svc):
        leaf = pick(facts, *LEAF)
        if isinstance(leaf, Mapping) and leaf.get("spki_sha256"):
            yield host, leaf


def _certified(svc: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(host, facts) of each endpoint and MX host whose certificate probe did not fail (of packed
    facts, `pick` and `pick_each` read only the objects on their way)."""
    served = [(ep.get("host", ""), ep.get("facts") or {}) for ep in svc.get("endpoints", [])]
    served += [(mx.get("host", ""), mx) for md in svc.get("mail_domains", [])
               for mx in pick_each(md.get("facts") or {}, "mail", "mx")]
    return [(host, facts) for host, facts in served if not pick(facts, "certificate", "error")]
