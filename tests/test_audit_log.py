"""One door: every connection and every DNS query of a lab scan is in its audit log.

The proof does not trust the scanner's own bookkeeping. A process-wide audit hook counts
what the sockets of this process really did (`socket.connect`: every TCP connection and
every connected UDP socket; `socket.sendto`: every datagram of an unconnected socket,
which is how the resolver asks), while the lab runs in a child process of its own, so
every event here is the scanner's. The one socket that sends nothing, `has_route`'s
routing lookup, is told apart by the function that opened it.
"""

from __future__ import annotations

import json
import re
import socket
import sys
from collections import Counter

import pytest

from checks.registry import default_registry
from scanner.inventory import inventory_from_targets
from scanner.policy import load_policy
from scanner.probes import net
from scanner.runner import Runner
from scanner.store import Store
from scanner.times import parse_rfc3339
from tests.conftest import lab_options

_counting = {"on": False, "events": []}


def _count(event: str, args: tuple) -> None:
    if not _counting["on"] or event not in ("socket.connect", "socket.sendto"):
        return
    if sys._getframe(1).f_code is net.has_route.__code__:
        return  # a UDP connect that only asks the kernel for a route; nothing leaves
    sock, address = args[0], args[1]
    kind = "tcp" if sock.type == socket.SOCK_STREAM else "udp"
    _counting["events"].append((address[0], address[1], kind))


sys.addaudithook(_count)  # hooks cannot be removed: it counts only while a test turns it on

TARGETS = [
    "https://mijn.vlaanderen.test/",  # TLS, certificate, HTTP, IPv6, a signed zone; MX with STARTTLS, MTA-STS
    "https://acc.omgeving.vlaanderen.test/",  # nothing listens on port 80: refused connections
    "http://wegenwerken.wegen-verkeer.test/",  # an unsigned zone of its own
]


def test_every_connection_and_dns_query_of_a_scan_is_in_the_audit_log(lab, tmp_path):
    audit = tmp_path / "audit.jsonl"
    registry = default_registry()
    store = Store(tmp_path / "h.db")
    _counting["events"].clear()
    _counting["on"] = True
    try:
        run_id = Runner(lab_options(lab, audit_log=audit), registry, load_policy(None, registry), store).scan(
            inventory_from_targets(TARGETS))
    finally:
        _counting["on"] = False
        store.close()
    records = [json.loads(line) for line in audit.read_text(encoding="utf-8").splitlines()]
    opened = [r for r in records if not r["outcome"].startswith("refused")]  # a refusal opens nothing
    assert {r["run"] for r in records} == {run_id}  # a log shared by runs (or workers) tells them apart

    def where(r: dict) -> tuple[str, int, str]:  # the resolver is asked where the user said; the rest mapped
        port = r["port"] if r["purpose"] == "dns-resolver" else lab.port_map.real(r["ip"], r["port"], r["host"])
        return r["ip"], port, r["transport"]

    assert Counter(map(where, opened)) == Counter(_counting["events"])
    purposes = Counter((r["purpose"], r["transport"]) for r in opened)
    for expected in [("dns-resolver", "udp"), ("dns-authority", "udp"), ("dns-axfr", "tcp"), ("tls", "tcp"),
                     ("certificate", "tcp"), ("certificate-status", "tcp"), ("http", "tcp"), ("smtp", "tcp"),
                     ("ipv6-reachability", "tcp")]:
        assert purposes[expected], f"the scan should have opened {expected}: {purposes}"
    assert any(r["outcome"] == "failed: connection refused" for r in records)
    run_id = store_run_id(tmp_path / "h.db")
    for r in records:  # each line names its run and its moment (RFC 3339, to the millisecond)
        assert r["run"] == run_id
        assert parse_rfc3339(r["time"]).timestamp() == pytest.approx(r["at"], abs=0.001)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["time"])


def store_run_id(db) -> str:
    store = Store(db)
    try:
        return store.runs(1)[0]["id"]
    finally:
        store.close()
