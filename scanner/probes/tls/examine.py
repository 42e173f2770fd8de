"""Part two of the TLS probe: how the server behaves, and which known attacks work on it.

Runs after the enumeration (part one), on what it found, over the same kind of
connection (so an MX after STARTTLS is examined exactly as an HTTPS endpoint). Free, from
the enumeration's own answers (`signs`): secure renegotiation, Extended Master Secret,
encrypt-then-MAC, reused ephemeral keys, suite order where it shows. Then, one connection
each unless said:
1. behaviour hello at the best TLS <= 1.2 version: suite order, compression, heartbeats,
   and the Heartbleed request on the same connection (`behaviour`, `attacks`);
2. TLS 1.3 suite order, only when the enumeration left it open;
3. fallback protection: the second-best version with TLS_FALLBACK_SCSV;
4. CCS injection;
5. ROBOT, only with RSA key exchange: five connections, five more to confirm an oracle;
6. a full handshake with `ssl` at the best version (ALPN, ticket lifetime, 0-RTT offer),
   and one more offering its session back (resumption by ticket);
7. the same up to TLS 1.2 without tickets (resumption by session id), unless 6 was that;
8. a full handshake with pyOpenSSL up to TLS 1.2 and up to three client-initiated
   renegotiations on it.
So a server costs 8 to 10 connections here (13 to 18 with RSA key exchange and an oracle);
a fact the tests could not establish stays null, with a note saying why.
"""

from __future__ import annotations

from typing import Any

from scanner.probes.net import ProbeError
from scanner.probes.tls import attacks, behaviour, session
from scanner.probes.tls.enumeration import TLS_DOWN, AddressScan

BEHAVIOUR = ("compression", "heartbeat", "fallback_scsv", "client_renegotiation", "alpn", "resumption", "tickets",
             "ticket_lifetime", "early_data", "suite_preference", "secure_renegotiation", "extended_master_secret",
             "encrypt_then_mac", "ephemeral_reuse")
VULNERABILITIES = ("heartbleed", "ccs_injection", "robot", "insecure_renegotiation")


async def examine(scan: AddressScan) -> None:
    """Fill `scan.behaviour` and `scan.vulnerabilities`; a test that fails leaves its facts null."""
    b, v = scan.behaviour, scan.vulnerabilities
    b.update(dict.fromkeys(BEHAVIOUR))
    b["resumption"] = {"session_id": None, "ticket": None}
    v.update(dict.fromkeys(VULNERABILITIES))
    try:
        await _single_flight(scan, b, v)
        await _full_handshakes(scan, b, v)
    finally:
        b.update(scan.signs.facts())
        b["suite_preference"] = behaviour.preference_lists(scan)


async def _guarded(scan: AddressScan, what: str, coro) -> Any:
    """A test whose connection could not even be opened (a refused STARTTLS, a connect
    timeout) is not measured; the others still run."""
    try:
        return await coro
    except ProbeError as exc:
        scan.note(f"{what}: {exc}")
        return None


async def _single_flight(scan: AddressScan, b: dict[str, Any], v: dict[str, Any]) -> None:
    legacy = scan.offered(TLS_DOWN[1:])
    if legacy:
        outcome: dict[str, bool | None] = {"heartbeat": None, "heartbleed": None}
        await _guarded(scan, "behaviour hello",
                       behaviour.behaviour_hello(scan, legacy[0], attacks.heartbleed_test(scan, outcome)))
        b["heartbeat"], v["heartbleed"] = outcome["heartbeat"], outcome["heartbleed"]
    await _guarded(scan, "TLS 1.3 order", behaviour.tls13_order(scan))
    b["fallback_scsv"] = await _guarded(scan, "fallback test", behaviour.fallback_scsv(scan))
    v["ccs_injection"] = await _guarded(scan, "CCS injection test", attacks.ccs_injection(scan))
    v["robot"] = await _guarded(scan, "ROBOT test", attacks.robot(scan))


async def _full_handshakes(scan: AddressScan, b: dict[str, Any], v: dict[str, Any]) -> None:
    top, legacy = session.best_stdlib(scan), session.best_legacy(scan)
    by_id_done, first = False, None
    if top is not None:
        first = await _handshake(scan, top, alpn=scan.full_alpn)
        if first is not None:
            if scan.full_alpn:
                b["alpn"] = {"offered": list(scan.full_alpn), "selected": first.alpn}
            b["tickets"] = bool(first.session and first.session.has_ticket)
            b["ticket_lifetime"] = first.session.ticket_lifetime_hint if b["tickets"] else None
            b["early_data"] = first.early_data if first.version == "TLSv1.3" else None
            resumed = await _resumed(scan, top, first)
            if b["tickets"]:
                b["resumption"]["ticket"] = resumed
            else:  # TLS <= 1.2 without a ticket: that was resumption by session id
                b["resumption"]["ticket"], b["resumption"]["session_id"] = False, resumed
                by_id_done = True
    if legacy is None:
        return
    if top == legacy and first is None:  # no finished handshake at that version: spare the server two more
        scan.note(f"no full handshake completed at {legacy}: resumption by id and renegotiation not tested")
        return
    if not by_id_done:
        plain = await _handshake(scan, legacy, tickets=False)
        if plain is not None:
            b["resumption"]["session_id"] = await _resumed(scan, legacy, plain)
    reneg = await _guarded(scan, "renegotiation test", session.renegotiation(scan, legacy))
    if reneg is None or reneg.error:
        if reneg is not None:
            scan.note(f"renegotiation test at {legacy}: {reneg.error}")
        return
    for kind, value in reneg.publics:
        scan.signs.public(kind, value)
    b["client_renegotiation"] = {"attempted": reneg.attempted, "accepted": reneg.accepted}
    if reneg.secure is not None:
        v["insecure_renegotiation"] = reneg.accepted > 0 and not reneg.secure


async def _handshake(scan: AddressScan, version: str, **options: Any) -> session.Handshake | None:
    """A full handshake with `ssl`, None (and a note) when it did not complete."""
    done = await _guarded(scan, "full handshake", session.full_handshake(scan, version, **options))
    if done is not None and done.error:
        scan.note(f"full handshake at {version}: {done.error}")
        return None
    return done


async def _resumed(scan: AddressScan, version: str, first: session.Handshake) -> bool | None:
    """Whether the server resumes the session of `first` (False: it gave none to resume)."""
    if first.session is None or not (first.session.has_ticket or first.session.id):
        return False
    again = await _handshake(scan, version, resume=first)
    return None if again is None else again.resumed


# ----------------------------------------------------------------------------- several addresses

# For one endpoint on several addresses the worst address speaks: the value that is bad here.
_BAD = {"compression": True, "heartbeat": True, "fallback_scsv": False, "secure_renegotiation": False,
        "extended_master_secret": False, "encrypt_then_mac": False, "tickets": False,
        "heartbleed": True, "ccs_injection": True, "insecure_renegotiation": True}
_ROBOT_RANK = ("no_rsa", "no_oracle", None, "inconsistent", "weak_oracle", "strong_oracle")


def worst(values: list[Any], bad: Any) -> Any:
    """`bad` if any value is bad, else None if any is unknown, else the (shared) good value."""
    if bad in values:
        return bad
    return None if None in values else values[0]


def _worst_count(values: list[int | None]) -> int | None:
    """Largest number; unknown when one is unknown and none is positive."""
    known = [v for v in values if v is not None]
    if None in values and not any(known):
        return None
    return max(known, default=None)


def merge_examined(facts: list[dict[str, Any]]) -> dict[str, Any]:
    """`behaviour` and `vulnerabilities` of one endpoint from those of its addresses."""
    behaviours = [f.get("behaviour") or {} for f in facts]
    vulns = [f.get("vulnerabilities") or {} for f in facts]
    b: dict[str, Any] = {key: worst([x.get(key) for x in behaviours], _BAD.get(key)) for key in BEHAVIOUR}
    b["resumption"] = {way: worst([(x.get("resumption") or {}).get(way) for x in behaviours], False)
                       for way in ("session_id", "ticket")}
    b["ephemeral_reuse"] = {kind: worst([(x.get("ephemeral_reuse") or {}).get(kind) for x in behaviours], True)
                            for kind in ("ecdhe", "dhe")}
    b["ticket_lifetime"] = _worst_count([x.get("ticket_lifetime") for x in behaviours])
    b["early_data"] = _worst_count([x.get("early_data") for x in behaviours])
    renegs = [x.get("client_renegotiation") for x in behaviours]
    b["client_renegotiation"] = None if None in renegs else max(renegs, key=lambda r: r["accepted"])
    alpns = [x.get("alpn") for x in behaviours]
    b["alpn"] = None if None in alpns else min(alpns, key=lambda a: a.get("selected") is not None)
    b["suite_preference"] = behaviours[0].get("suite_preference")
    v: dict[str, Any] = {key: worst([x.get(key) for x in vulns], _BAD.get(key)) for key in VULNERABILITIES}
    v["robot"] = max((x.get("robot") for x in vulns), key=_ROBOT_RANK.index)
    return {"behaviour": b, "vulnerabilities": v,
            "sslv2_spki_sha256": next((f["sslv2_spki_sha256"] for f in facts if f.get("sslv2_spki_sha256")), None)}
