"""TLS probe part two against real loopback servers: behaviour facts and the active attack
tests, over HTTPS and over SMTP STARTTLS, within the connection budget.

The standalone services (scanner/lab/tls_services.py) are OpenSSL (Python's ssl) where it
can play the part, the scripted responder where it cannot; the lab estate's tls-* cases
(scanner/lab/estate.d/tls-behaviour.toml) serve the same over HTTPS and after STARTTLS.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import pytest

from scanner.lab.listener import Listener
from scanner.lab.tls_responder import LEAKED_MEMORY, Responder
from scanner.lab.tls_services import OLD_BEHAVIOUR, SERVICES, lab_rsa_identity, start
from scanner.probes.mail.smtp import probe_starttls
from scanner.probes.tls.examine import merge_examined
from scanner.probes.tls.probe import probe_tls
from tests.conftest import probe_context

BUDGET = 20  # connections per endpoint beyond the accepted suites, parts one and two together


def _accepted(facts: dict) -> int:
    return sum(len(names) for names in facts.get("cipher_suites", {}).values())


async def _probe_port(port: int, io_timeout: float = 1.0):
    ctx = probe_context(io_timeout=io_timeout, timeout=30)
    return await probe_tls(ctx, "tls.lab.vlaanderen.test", ["127.0.0.1"], port), ctx


async def _scan(name: str):
    running = await start(name)
    try:
        return await _probe_port(running.port)
    finally:
        await running.stop()


def scan(name: str):
    return asyncio.run(_scan(name))


def test_a_sound_openssl_server_behaves_and_resists_every_attack():
    facts, ctx = scan("modern")
    b, v = facts["behaviour"], facts["vulnerabilities"]
    assert b["compression"] is False and b["secure_renegotiation"] is True and b["extended_master_secret"] is True
    assert b["fallback_scsv"] is True and b["heartbeat"] is False
    assert b["client_renegotiation"] == {"attempted": 1, "accepted": 0}  # OpenSSL 3 refuses it by default
    assert b["resumption"] == {"session_id": True, "ticket": True}
    assert b["tickets"] is True and b["ticket_lifetime"] == 7200 and b["early_data"] == 0
    assert b["alpn"] == {"offered": ["h2", "http/1.1"], "selected": None}  # the server has no ALPN configured
    assert b["ephemeral_reuse"]["ecdhe"] is False
    assert facts["server_preference"] == {"TLSv1.2": True, "TLSv1.3": True}
    assert b["suite_preference"]["TLSv1.3"] == ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
                                                "TLS_AES_128_GCM_SHA256"]  # OpenSSL's own order
    assert v == {"heartbleed": False, "ccs_injection": False, "robot": "no_rsa", "insecure_renegotiation": False}
    assert facts["connections"] == len(ctx.network.records)


def test_an_old_server_shows_every_flaw_it_has():
    facts, _ = scan("old-behaviour")
    b, v = facts["behaviour"], facts["vulnerabilities"]
    assert b["compression"] is True and b["heartbeat"] is True
    assert b["secure_renegotiation"] is False and b["extended_master_secret"] is False
    assert b["fallback_scsv"] is False and b["encrypt_then_mac"] is False
    assert b["ephemeral_reuse"]["ecdhe"] is True
    assert v["heartbleed"] is True and v["ccs_injection"] is True and v["robot"] == "strong_oracle"
    # a scripted server finishes no handshake: what needs one is not measured, and says why
    assert b["resumption"] == {"session_id": None, "ticket": None} and b["client_renegotiation"] is None
    assert any("no full handshake completed" in n for n in facts["notes"])


def test_heartbleed_memory_is_never_kept():
    facts, ctx = scan("old-behaviour")
    assert facts["vulnerabilities"]["heartbleed"] is True
    dumped = json.dumps(facts)
    assert LEAKED_MEMORY.decode() not in dumped and "hunter2" not in dumped


def test_robot_weak_oracle_is_classified_as_published():
    async def run():
        der, key = lab_rsa_identity()
        listener = Listener("127.0.0.1", Responder(replace(OLD_BEHAVIOUR, robot="weak", certificate=der, key=key)))
        port = await listener.start()
        try:
            return await _probe_port(port)
        finally:
            await listener.stop()

    facts, _ = asyncio.run(run())
    assert facts["vulnerabilities"]["robot"] == "weak_oracle"


def test_rsa_key_exchange_without_oracle():
    facts, _ = scan("cbc-rsa")
    assert facts["vulnerabilities"]["robot"] == "no_oracle"
    assert facts["behaviour"]["encrypt_then_mac"] is True  # OpenSSL does RFC 7366 for its CBC suites


def test_client_initiated_renegotiation_accepted_is_seen():
    facts, _ = scan("client-renegotiation")
    assert facts["behaviour"]["client_renegotiation"] == {"attempted": 3, "accepted": 3}
    assert facts["vulnerabilities"]["insecure_renegotiation"] is False  # RFC 5746: secure, though accepted


def test_export_era_suites_and_ssl3_are_enumerated_for_the_derived_verdicts():
    facts, _ = scan("export-grade")
    suites = facts["cipher_suites"]
    assert "TLS_RSA_EXPORT_WITH_RC4_40_MD5" in suites["TLSv1.0"] and "TLS_DH_anon_WITH_RC4_128_MD5" in suites["TLSv1.0"]
    assert "TLS_RSA_WITH_3DES_EDE_CBC_SHA" in suites["SSLv3"]
    assert facts["dh_groups"] == ["openssl-512"]  # a well-known 512-bit prime: Logjam


def test_ssl2_certificate_key_is_recorded_for_drown():
    facts, _ = scan("sslv2")
    assert len(facts["sslv2_spki_sha256"]) == 64


@pytest.mark.parametrize("name", sorted(n for n, s in SERVICES.items() if not s.expect_error))
def test_whole_tls_pillar_stays_within_budget(name):
    """Parts one and two together: accepted suites + 20 connections, counted where they are opened."""
    facts, ctx = scan(name)
    assert "error" not in facts
    assert facts["connections"] == len(ctx.network.records)
    assert facts["connections"] <= _accepted(facts) + BUDGET, (facts["connections"], _accepted(facts))


def test_several_addresses_merge_to_the_worst():
    good = {"behaviour": {"compression": False, "fallback_scsv": True, "resumption": {"session_id": True, "ticket": True},
                          "ephemeral_reuse": {"ecdhe": False, "dhe": None}, "early_data": 0, "ticket_lifetime": 7200,
                          "client_renegotiation": {"attempted": 1, "accepted": 0},
                          "alpn": {"offered": ["h2"], "selected": "h2"}},
            "vulnerabilities": {"heartbleed": False, "robot": "no_oracle"}}
    bad = {"behaviour": {"compression": True, "fallback_scsv": None, "resumption": {"session_id": False, "ticket": True},
                         "ephemeral_reuse": {"ecdhe": True, "dhe": None}, "early_data": 1024, "ticket_lifetime": 90000,
                         "client_renegotiation": {"attempted": 3, "accepted": 3},
                         "alpn": {"offered": ["h2"], "selected": None}},
           "vulnerabilities": {"heartbleed": None, "robot": "weak_oracle"}, "sslv2_spki_sha256": "ab" * 32}
    merged = merge_examined([good, bad])
    b, v = merged["behaviour"], merged["vulnerabilities"]
    assert b["compression"] is True and b["fallback_scsv"] is None
    assert b["resumption"] == {"session_id": False, "ticket": True} and b["ephemeral_reuse"]["ecdhe"] is True
    assert b["early_data"] == 1024 and b["ticket_lifetime"] == 90000 and b["client_renegotiation"]["accepted"] == 3
    assert b["alpn"]["selected"] is None
    assert v["heartbleed"] is None and v["robot"] == "weak_oracle"
    assert merged["sslv2_spki_sha256"] == "ab" * 32


# ----------------------------------------------------------------------------- the lab estate, HTTPS and STARTTLS

CASES = {  # lab case -> what its facts must show, over HTTPS and after STARTTLS alike
    "goed": lambda t: (t["behaviour"]["extended_master_secret"] and t["behaviour"]["encrypt_then_mac"]
                       and t["behaviour"]["resumption"] == {"session_id": True, "ticket": True}
                       and t["server_preference"]["TLSv1.2"] is True),
    "zwak": lambda t: (t["behaviour"]["extended_master_secret"] is False and t["behaviour"]["encrypt_then_mac"] is False
                       and t["behaviour"]["resumption"] == {"session_id": False, "ticket": False}
                       and t["behaviour"]["client_renegotiation"]["accepted"] == 3
                       and t["server_preference"]["TLSv1.2"] is False),
    "oud": lambda t: (t["vulnerabilities"]["heartbleed"] and t["vulnerabilities"]["ccs_injection"]
                      and t["vulnerabilities"]["robot"] == "strong_oracle" and t["behaviour"]["compression"]),
    "nulrtt": lambda t: t["behaviour"]["early_data"] == 16384,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_lab_cases_show_the_same_over_https_and_starttls(lab, case):
    async def run():
        web, mx = f"www.tls-{case}.test", f"mx.tls-{case}.test"
        https = await probe_tls(probe_context(lab.resolver, port_map=lab.port_map), web, lab.addresses[web], 443)
        smtp = await probe_starttls(probe_context(lab.resolver, port_map=lab.port_map), mx, lab.addresses[mx][0])
        return https, smtp["tls"]

    https, starttls = asyncio.run(run())
    for facts in (https, starttls):
        assert "error" not in facts, facts.get("error")
        assert CASES[case](facts), facts
        assert facts["connections"] <= _accepted(facts) + BUDGET


def test_every_lab_endpoint_and_mx_stays_within_budget(lab_scan_all):
    """The budget over the whole estate: every HTTPS endpoint and every MX after STARTTLS, per
    address (an endpoint on IPv4 and IPv6 is two servers, each probed)."""
    over, counted = [], 0
    for svc in lab_scan_all[0]["services"]:
        tls_facts = [(ep["target"], ep["facts"].get("tls") or {}) for ep in svc["endpoints"]]
        tls_facts += [(mx["host"], mx.get("tls") or {}) for md in svc["mail_domains"]
                      for mx in (md["facts"].get("mail") or {}).get("mx") or []]
        for target, t in tls_facts:
            for where, facts in (t.get("addresses") or {"": t}).items():
                if "connections" in facts and "error" not in facts:
                    counted += 1
                    if facts["connections"] > _accepted(facts) + BUDGET:
                        over.append((target, where, facts["connections"], _accepted(facts)))
    assert counted > 50 and over == []
