"""TLS part-two verdicts from fact fixtures: behaviour and attacks, for an HTTPS endpoint and
per MX, DROWN across the estate, and the standards behind them (CVE ids, ROBOT classes)."""

from __future__ import annotations

import copy

import pytest

from checks.tls.view import ITEMS
from scanner.judge import Subject, estate_view
from scanner.model import Status
from scanner.standards.tls_attacks import attacks, robot_block, robot_payloads, robot_verdict
from tests.judging import REGISTRY, judge, judge_one
from tests.test_tls_checks import LEGACY, MODERN

TARGET = "https://x.vlaanderen.test/"


def run(check_id: str, tls: dict, *, certificate: dict | None = None, estate: dict | None = None, **thresholds):
    facts = {"tls": tls} | ({"certificate": certificate} if certificate else {})
    return judge_one(check_id, facts, target=TARGET, thresholds=thresholds, estate=estate)


def with_(base: dict, **changes) -> dict:
    """A copy of `base` with `behaviour.x=...`, `vulnerabilities.x=...` or top-level facts changed."""
    out = copy.deepcopy(base)
    for path, value in changes.items():
        section, _, key = path.partition("__")
        if key:
            out[section][key] = value
        else:
            out[section] = value
    return out


TLS13_ONLY = with_(MODERN, protocols={"SSLv2": False, "SSLv3": False, "TLSv1.0": False, "TLSv1.1": False,
                                      "TLSv1.2": False, "TLSv1.3": True},
                   cipher_suites={"TLSv1.3": ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"]},
                   behaviour__compression=None, behaviour__secure_renegotiation=None,
                   behaviour__extended_master_secret=None, behaviour__client_renegotiation=None,
                   behaviour__fallback_scsv=None, vulnerabilities__heartbleed=None,
                   vulnerabilities__ccs_injection=None)


@pytest.mark.parametrize("check_id", ["tls.compression", "tls.renegotiation.secure", "tls.renegotiation.client",
                                      "tls.extended_master_secret", "tls.fallback_scsv", "tls.attack.heartbleed",
                                      "tls.attack.ccs_injection"])
def test_tls13_only_servers_are_not_asked_tls12_questions(check_id):
    assert run(check_id, TLS13_ONLY).status == Status.NOT_APPLICABLE


@pytest.mark.parametrize("check_id,fact", [
    ("tls.compression", "behaviour__compression"), ("tls.extended_master_secret", "behaviour__extended_master_secret"),
    ("tls.attack.heartbleed", "vulnerabilities__heartbleed"), ("tls.attack.robot", "vulnerabilities__robot"),
    ("tls.early_data", "behaviour__early_data"), ("tls.alpn", "behaviour__alpn"),
])
def test_a_test_that_did_not_run_is_not_measured(check_id, fact):
    assert run(check_id, with_(MODERN, **{fact: None})).status == Status.ERROR


def test_facts_without_part_two_are_not_measured_never_passed():
    old = {k: v for k, v in MODERN.items() if k not in ("behaviour", "vulnerabilities")}
    for check_id in ("tls.compression", "tls.attack.heartbleed", "tls.resumption"):
        out = run(check_id, old)
        assert out.status == Status.ERROR and "was not measured" in out.message


def test_suite_order_names_the_worse_suite_preferred():
    tls = with_(LEGACY, server_preference={"TLSv1.0": True, "TLSv1.2": True, "SSLv3": None},
                behaviour__suite_preference={"TLSv1.0": ["TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"],
                                             "TLSv1.2": ["TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
                                                         "TLS_RSA_WITH_AES_128_GCM_SHA256", "UNKNOWN_0xCC13"]})
    out = run("tls.suites.order", tls)
    assert out.status == Status.FAIL
    assert "TLSv1.0: TLS_RSA_WITH_AES_128_CBC_SHA > TLS_DHE_RSA_WITH_AES_128_CBC_SHA" in out.message


def test_suite_order_client_order_fails_and_good_first_passes():
    assert "client's suite order" in run("tls.suites.order", LEGACY).message
    tls = with_(MODERN, cipher_suites={"TLSv1.2": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                                   "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"]},
                behaviour__suite_preference={"TLSv1.2": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                                         "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"]})
    assert run("tls.suites.order", tls).status == Status.PASS
    unknown = with_(tls, server_preference={"TLSv1.2": None})
    assert run("tls.suites.order", unknown).status == Status.ERROR


def test_insecure_renegotiation_confirmed_by_the_active_test():
    assert "was accepted" in run("tls.renegotiation.secure", LEGACY).message
    guessed = with_(LEGACY, vulnerabilities__insecure_renegotiation=None)
    out = run("tls.renegotiation.secure", guessed)
    assert out.status == Status.FAIL and "CVE-2009-3555" in out.message


def test_client_renegotiation_cut_off_after_some_passes():
    out = run("tls.renegotiation.client", with_(LEGACY, behaviour__client_renegotiation={"attempted": 3, "accepted": 1}))
    assert out.status == Status.PASS and "after 1" in out.message


def test_resumption_with_long_tickets_warns_by_the_policy_threshold():
    long = with_(MODERN, behaviour__ticket_lifetime=7 * 86400)
    out = run("tls.resumption", long)
    assert out.status == Status.WARN and "168.0 h" in out.message
    assert run("tls.resumption", long, **{"tls.ticket_lifetime_max": 8 * 86400}).status == Status.PASS
    assert run("tls.resumption", MODERN).message == "sessions are resumed by session id, session ticket"


def test_early_data_offered_fails_and_no_tickets_means_no_0rtt():
    out = run("tls.early_data", with_(MODERN, behaviour__early_data=16384))
    assert out.status == Status.FAIL and "16384" in out.message
    assert run("tls.early_data", with_(MODERN, behaviour__early_data=None, behaviour__tickets=False)).status == Status.PASS


def test_reused_dhe_is_raccoon():
    out = run("tls.ephemeral_reuse", LEGACY)
    assert out.status == Status.FAIL and "CVE-2020-1968" in out.evidence["cve"]
    assert run("tls.ephemeral_reuse", with_(MODERN, behaviour__ephemeral_reuse={"ecdhe": None, "dhe": None})
               ).status == Status.ERROR


@pytest.mark.parametrize("oracle,status,severity", [
    ("strong_oracle", Status.FAIL, "critical"), ("weak_oracle", Status.FAIL, "medium"),
    ("inconsistent", Status.WARN, "high"), ("no_oracle", Status.PASS, "high")])
def test_robot_verdicts(oracle, status, severity):
    out = run("tls.attack.robot", with_(LEGACY, vulnerabilities__robot=oracle))
    assert (out.status, str(out.severity)) == (status, severity)


def test_derived_attacks_name_the_suites_and_the_cve():
    tls = with_(LEGACY, cipher_suites={"SSLv3": ["TLS_RSA_WITH_3DES_EDE_CBC_SHA"],
                                       "TLSv1.0": ["TLS_RSA_EXPORT_WITH_RC4_40_MD5", "TLS_DH_anon_WITH_RC4_128_MD5",
                                                   "TLS_RSA_WITH_NULL_SHA"]})
    for check_id, suite, cve in (("tls.attack.poodle", "SSLv3 TLS_RSA_WITH_3DES_EDE_CBC_SHA", "CVE-2014-3566"),
                                 ("tls.attack.sweet32", "SSLv3 TLS_RSA_WITH_3DES_EDE_CBC_SHA", "CVE-2016-2183"),
                                 ("tls.attack.freak", "TLSv1.0 TLS_RSA_EXPORT_WITH_RC4_40_MD5", "CVE-2015-0204"),
                                 ("tls.attack.rc4", "TLSv1.0 TLS_DH_anon_WITH_RC4_128_MD5", "CVE-2013-2566"),
                                 ("tls.attack.null_anon", "TLSv1.0 TLS_RSA_WITH_NULL_SHA", None)):
        out = run(check_id, tls)
        assert out.status == Status.FAIL, check_id
        assert suite in out.evidence["suites"], check_id
        assert cve is None or cve in out.evidence["cve"]


@pytest.mark.parametrize("groups,status,word", [
    ({"TLS_DHE_RSA_WITH_AES_128_CBC_SHA": {"dh_bits": 512, "dh_group": "openssl-512"}}, Status.FAIL, "under 1024"),
    ({"TLS_DHE_RSA_WITH_AES_128_CBC_SHA": {"dh_bits": 1024, "dh_group": "rfc5114-1024-160"}}, Status.FAIL, "share"),
    ({"TLS_DHE_RSA_WITH_AES_128_CBC_SHA": {"dh_bits": 1024}}, Status.WARN, "of its own"),
    ({"TLS_DHE_RSA_WITH_AES_128_CBC_SHA": {"dh_bits": 2048, "dh_group": "rfc5114-2048-256"}}, Status.PASS, "no accepted"),
])
def test_logjam_by_size_and_shared_primes(groups, status, word):
    tls = with_(LEGACY, kx={"TLSv1.2": groups}, cipher_suites={"TLSv1.2": list(groups)})
    out = run("tls.attack.logjam", tls)
    assert out.status == status and word in out.message


def test_export_dhe_is_logjam():
    tls = with_(MODERN, cipher_suites={"TLSv1.2": ["TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA"]})
    assert run("tls.attack.logjam", tls).status == Status.FAIL


SSLV2_HOST = {"tls": with_(MODERN, protocols={**MODERN["protocols"], "SSLv2": True}, sslv2_spki_sha256="aa" * 32)}


def test_drown_through_a_host_sharing_the_key():
    """The estate knows which keys are served with SSL 2.0, and where: a host without SSL 2.0
    but with the same key is exposed, another key is not."""
    estate = estate_view([{"endpoints": [{"target": "https://oud.vlaanderen.test/", "kind": "web", "scheme": "https",
                                          "host": "oud.vlaanderen.test", "port": 443}],
                           "endpoint_facts": {"https://oud.vlaanderen.test/": {"addresses": [], "facts": SSLV2_HOST}},
                           "mail_domains": [], "mail_facts": {}}])
    assert estate == {"sslv2_keys": {"aa" * 32: ["https://oud.vlaanderen.test/"]}}
    same_key = {"chain": [{"spki_sha256": "aa" * 32}]}
    out = run("tls.attack.drown", MODERN, certificate=same_key, estate=estate)
    assert out.status == Status.FAIL and "oud.vlaanderen.test" in out.message and "CVE-2016-0800" in out.message
    assert run("tls.attack.drown", MODERN, certificate={"chain": [{"spki_sha256": "bb" * 32}]},
               estate=estate).status == Status.PASS
    assert run("tls.attack.drown", MODERN, estate=estate).status == Status.ERROR  # own key unknown
    assert run("tls.attack.drown", SSLV2_HOST["tls"]).status == Status.FAIL


def test_estate_view_reads_mail_servers_too():
    mx = {"host": "mx.oud.test", "tls": SSLV2_HOST["tls"], "certificate": {"chain": [{"spki_sha256": "cc" * 32}]}}
    subject = Subject("mail_domain", "oud.test", {"mail": {"mx": [mx]}})
    estate = estate_view([{"endpoints": [], "endpoint_facts": {}, "mail_domains": [{"domain": "oud.test"}],
                           "mail_facts": {"oud.test": subject.facts}}])
    assert estate["sslv2_keys"] == {"aa" * 32: ["smtp://mx.oud.test:25"]}


# ----------------------------------------------------------------------------- per MX


def _mail(*mxs: dict) -> dict:
    return {"dns": {}, "mail": {"domain_exists": True, "null_mx": False, "mx": list(mxs),
                                "spf": {"record": None}, "dmarc": {"record": None}}}


def test_every_shared_verdict_is_judged_per_mx():
    good = {"host": "mx1.example.test", "starttls": True, "protocol": "TLSv1.3", "tls": MODERN}
    bad = {"host": "mx2.example.test", "starttls": True, "protocol": "TLSv1.2", "tls": LEGACY}
    silent = {"host": "mx3.example.test", "starttls": True, "tls": {"error": "no TLS answer"}}
    for verdict in ITEMS.values():
        if verdict.mail is None:
            continue
        found = {f.target: f for f in judge(verdict.mail, _mail(good, bad, silent))}
        assert set(found) == {"smtp://mx1.example.test:25", "smtp://mx2.example.test:25", "smtp://mx3.example.test:25"}
        assert found["smtp://mx3.example.test:25"].status == Status.ERROR
        endpoint = {mx: run(verdict.check, tls).status for mx, tls in (("mx1", MODERN), ("mx2", LEGACY))}
        assert found["smtp://mx1.example.test:25"].status == endpoint["mx1"], verdict.mail
        assert found["smtp://mx2.example.test:25"].status == endpoint["mx2"], verdict.mail


def test_drown_per_mx_uses_the_estate():
    estate = {"sslv2_keys": {"aa" * 32: ["https://oud.vlaanderen.test/"]}}
    mx = {"host": "mx1.example.test", "starttls": True, "tls": MODERN, "certificate": {"chain": [{"spki_sha256": "aa" * 32}]}}
    (finding,) = judge("mail.starttls.drown", _mail(mx), estate=estate)
    assert finding.status == Status.FAIL and "oud.vlaanderen.test" in finding.message


# ----------------------------------------------------------------------------- standards


def test_every_attack_check_cites_its_cves():
    cited = {cve for chk in REGISTRY if chk.id.startswith("tls.") for ref in chk.references
             for cve in [ref] if ref.startswith("CVE-")}
    named = {cve for a in attacks().values() for cve in a.cve}
    assert named <= cited, named - cited


def test_robot_blocks_follow_the_published_test():
    blocks = {name: robot_block(recipe, 256, 0x0303) for name, recipe in robot_payloads().items()}
    assert all(len(b) == 256 for b in blocks.values())
    assert blocks["valid"][:2] == b"\x00\x02" and blocks["valid"][-49:-46] == b"\x00\x03\x03"
    assert blocks["wrong_first_bytes"][:2] == b"\x41\x17"
    assert b"\x00" not in blocks["no_zero"][2:]
    assert blocks["zero_misplaced"].index(b"\x00", 2) == 254
    assert blocks["wrong_version"][-48:-46] == b"\x02\x02"


def test_robot_classification_as_published():
    same = dict.fromkeys(robot_payloads(), "alert:bad_record_mac")
    assert robot_verdict([same]) == "no_oracle"
    weak = {**dict.fromkeys(robot_payloads(), "alert:handshake_failure"), "valid": "alert:bad_record_mac",
            "wrong_version": "alert:illegal_parameter"}
    assert robot_verdict([weak, {"wrong_version": "alert:illegal_parameter"}]) == "weak_oracle"
    strong = {**same, "wrong_first_bytes": "alert:decrypt_error"}
    assert robot_verdict([strong, {"wrong_first_bytes": "alert:decrypt_error"}]) == "strong_oracle"
    assert robot_verdict([strong, {"wrong_first_bytes": "timeout"}]) == "inconsistent"
