"""TLS checks from fact fixtures: each verdict, each classification, evidence names offenders."""

from __future__ import annotations

import pytest

from scanner.model import Status
from scanner.standards.tls_classification import available, load
from tests.judging import REGISTRY, judge_one, not_measured

MODERN = {
    "protocols": {"SSLv2": False, "SSLv3": False, "TLSv1.0": False, "TLSv1.1": False, "TLSv1.2": True, "TLSv1.3": True},
    "cipher_suites": {"TLSv1.2": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"],
                      "TLSv1.3": ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"]},
    "groups": ["X25519MLKEM768", "x25519", "secp256r1"],
    "connections": 9, "dh_bits": None, "kx": {}, "kx_hashes": ["sha256"], "kx_signatures": ["rsa_pss_rsae_sha256"],
    "server_preference": {"TLSv1.2": True, "TLSv1.3": True},
    "behaviour": {"compression": False, "heartbeat": False, "fallback_scsv": True,
                  "client_renegotiation": {"attempted": 1, "accepted": 0},
                  "alpn": {"offered": ["h2", "http/1.1"], "selected": "h2"},
                  "resumption": {"session_id": True, "ticket": True}, "tickets": True, "ticket_lifetime": 7200,
                  "early_data": 0, "suite_preference": {}, "secure_renegotiation": True,
                  "extended_master_secret": True, "encrypt_then_mac": None,
                  "ephemeral_reuse": {"ecdhe": False, "dhe": None}},
    "vulnerabilities": {"heartbleed": False, "ccs_injection": False, "robot": "no_rsa", "insecure_renegotiation": False},
    "sslv2_spki_sha256": None,
}
LEGACY = {
    "protocols": {"SSLv2": False, "SSLv3": True, "TLSv1.0": True, "TLSv1.1": False, "TLSv1.2": True, "TLSv1.3": False},
    "cipher_suites": {"SSLv3": ["TLS_RSA_WITH_RC4_128_SHA"],
                      "TLSv1.0": ["TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"],
                      "TLSv1.2": ["TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
                                  "UNKNOWN_0xCC13"]},
    "groups": ["secp256r1", "brainpoolP256r1"],
    "connections": 20, "dh_bits": 1024,
    "kx": {"TLSv1.0": {"TLS_DHE_RSA_WITH_AES_128_CBC_SHA": {"dh_bits": 1024, "dh_group": "modp1024"}}},
    "kx_hashes": ["md5_sha1", "sha1"], "kx_signatures": ["rsa_pkcs1_sha1"],
    "server_preference": {"SSLv3": None, "TLSv1.0": False, "TLSv1.2": False},
    "behaviour": {"compression": True, "heartbeat": True, "fallback_scsv": False,
                  "client_renegotiation": {"attempted": 3, "accepted": 3},
                  "alpn": {"offered": ["h2", "http/1.1"], "selected": None},
                  "resumption": {"session_id": False, "ticket": False}, "tickets": False, "ticket_lifetime": None,
                  "early_data": None, "suite_preference": {}, "secure_renegotiation": False,
                  "extended_master_secret": False, "encrypt_then_mac": False,
                  "ephemeral_reuse": {"ecdhe": None, "dhe": True}},
    "vulnerabilities": {"heartbleed": True, "ccs_injection": True, "robot": "strong_oracle",
                        "insecure_renegotiation": True},
    "sslv2_spki_sha256": None,
}


def run(check_id: str, tls: dict, **thresholds):
    return judge_one(check_id, {"tls": tls}, target="https://x.vlaanderen.test/", thresholds=thresholds)


# the exact verdict of every TLS check on each server
MODERN_VERDICTS = {
    "tls.protocol.ssl": Status.PASS, "tls.protocol.tls10": Status.PASS, "tls.protocol.tls13": Status.PASS,
    "tls.protocol.modern": Status.PASS, "tls.suites.classification": Status.PASS,
    "tls.suites.forward_secrecy": Status.PASS, "tls.suites.aead": Status.PASS,
    "tls.groups.classification": Status.PASS, "tls.groups.post_quantum": Status.PASS,
    "tls.dh.size": Status.NOT_APPLICABLE,  # no DHE suite accepted: no DH group to judge
    "tls.kx.hash": Status.PASS,
    "tls.suites.order": Status.NOT_APPLICABLE,  # only good suites: no order can pick a worse one
    "tls.compression": Status.PASS, "tls.renegotiation.secure": Status.PASS, "tls.renegotiation.client": Status.PASS,
    "tls.extended_master_secret": Status.PASS, "tls.fallback_scsv": Status.PASS, "tls.alpn": Status.PASS,
    "tls.resumption": Status.PASS, "tls.early_data": Status.PASS,
    "tls.encrypt_then_mac": Status.NOT_APPLICABLE,  # no CBC suite
    "tls.ephemeral_reuse": Status.PASS, "tls.attack.heartbleed": Status.PASS, "tls.attack.ccs_injection": Status.PASS,
    "tls.attack.robot": Status.PASS, "tls.attack.poodle": Status.PASS, "tls.attack.beast": Status.PASS,
    "tls.attack.sweet32": Status.PASS, "tls.attack.freak": Status.PASS, "tls.attack.logjam": Status.PASS,
    "tls.attack.rc4": Status.PASS, "tls.attack.null_anon": Status.PASS, "tls.attack.drown": Status.PASS,
    "tls.attack.lucky13": Status.PASS,
}
LEGACY_VERDICTS = {
    "tls.protocol.ssl": Status.FAIL, "tls.protocol.tls10": Status.FAIL, "tls.protocol.tls13": Status.WARN,
    "tls.protocol.modern": Status.PASS, "tls.suites.classification": Status.FAIL,
    "tls.suites.forward_secrecy": Status.FAIL, "tls.suites.aead": Status.WARN,
    "tls.groups.classification": Status.FAIL, "tls.groups.post_quantum": Status.WARN,
    "tls.dh.size": Status.FAIL, "tls.kx.hash": Status.WARN,
    "tls.suites.order": Status.FAIL, "tls.compression": Status.FAIL, "tls.renegotiation.secure": Status.FAIL,
    "tls.renegotiation.client": Status.WARN, "tls.extended_master_secret": Status.FAIL, "tls.fallback_scsv": Status.FAIL,
    "tls.alpn": Status.WARN, "tls.resumption": Status.WARN,
    "tls.early_data": Status.NOT_APPLICABLE,  # no TLS 1.3
    "tls.encrypt_then_mac": Status.WARN, "tls.ephemeral_reuse": Status.FAIL, "tls.attack.heartbleed": Status.FAIL,
    "tls.attack.ccs_injection": Status.FAIL, "tls.attack.robot": Status.FAIL,
    "tls.attack.poodle": Status.PASS,  # SSL 3.0 with RC4 only: no CBC to pad
    "tls.attack.beast": Status.INFO, "tls.attack.sweet32": Status.PASS, "tls.attack.freak": Status.PASS,
    "tls.attack.logjam": Status.FAIL,  # modp1024: a 1024-bit prime many servers share
    "tls.attack.rc4": Status.FAIL, "tls.attack.null_anon": Status.PASS, "tls.attack.drown": Status.PASS,
    "tls.attack.lucky13": Status.INFO,
}


def test_both_servers_have_a_verdict_for_every_tls_check():
    tls_checks = {c.id for c in REGISTRY if c.pillar == "tls"}
    assert set(MODERN_VERDICTS) == set(LEGACY_VERDICTS) == tls_checks


@pytest.mark.parametrize("check_id,status", MODERN_VERDICTS.items())
def test_modern_server_verdicts(check_id, status):
    assert run(check_id, MODERN).status == status


@pytest.mark.parametrize("check_id,status", LEGACY_VERDICTS.items())
def test_legacy_server_verdicts(check_id, status):
    assert run(check_id, LEGACY).status == status


def test_evidence_names_the_offenders_and_the_rule():
    out = run("tls.suites.classification", LEGACY)
    assert "TLS_RSA_WITH_RC4_128_SHA" in out.evidence["insufficient"]
    assert "UNKNOWN_0xCC13" in out.evidence["insufficient"]
    assert "TLS_RSA_WITH_AES_128_GCM_SHA256" in out.evidence["phase_out"]
    assert out.evidence["classification"] == "ncsc-nl-2025"
    assert "NCSC-NL" in out.message and out.message_nl
    fs = run("tls.suites.forward_secrecy", LEGACY)
    assert "TLS_RSA_WITH_AES_128_CBC_SHA" in fs.evidence["without_forward_secrecy"]
    groups = run("tls.groups.classification", LEGACY)
    assert groups.evidence["insufficient"] == ["brainpoolP256r1"]


def test_policy_chooses_the_classification():
    tls = {**MODERN, "groups": ["x25519", "x448"],
           "cipher_suites": {"TLSv1.2": ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"]}}
    ncsc = run("tls.suites.classification", tls)
    moz = run("tls.suites.classification", tls, **{"tls.classification": "mozilla-intermediate-6.0"})
    assert ncsc.status == Status.PASS  # NCSC: sufficient
    assert moz.status == Status.FAIL and moz.evidence["classification"] == "mozilla-intermediate-6.0"


def test_dh_phase_out_group_warns():
    tls = {**MODERN, "dh_bits": 2048,
           "kx": {"TLSv1.2": {"TLS_DHE_RSA_WITH_AES_128_GCM_SHA256": {"dh_bits": 2048, "dh_group": "ffdhe2048"}}}}
    assert run("tls.dh.size", tls).status == Status.WARN
    tls["kx"]["TLSv1.2"]["TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"] = {"dh_bits": 4096, "dh_group": "ffdhe4096"}
    tls["dh_bits"] = 4096
    assert run("tls.dh.size", tls).status == Status.PASS


def test_not_measured_is_an_error_not_a_verdict():
    out = run("tls.suites.classification", {"error": "connection reset"})
    assert not_measured(out) and out.message == "not measured: tls probe: connection reset"


def test_untested_versions_are_not_measured_never_passed():
    # the probe leaves SSLv2 null when a server keeps silent to an SSLv2 hello: "not offered" is unproven
    tls = {**MODERN, "protocols": {**MODERN["protocols"], "SSLv2": None}}
    out = run("tls.protocol.ssl", tls)
    assert not_measured(out) and out.message == "not measured: SSLv2 could not be tried (SSLv3 refused)"
    assert not_measured(run("tls.protocol.ssl", {**MODERN, "protocols": {"SSLv2": None, "SSLv3": None}}))
    # an offered version is a failure whatever else is unknown
    out = run("tls.protocol.ssl", {**MODERN, "protocols": {"SSLv2": None, "SSLv3": True}})
    assert out.status == Status.FAIL and out.evidence["offered"] == ["SSLv3"]
    assert "onvoldoende" in out.message_nl


def test_modern_fails_only_when_both_versions_were_refused():
    unknown = {**MODERN, "protocols": {**MODERN["protocols"], "TLSv1.2": False, "TLSv1.3": None}}
    assert not_measured(run("tls.protocol.modern", unknown))
    refused = {**MODERN, "protocols": {**MODERN["protocols"], "TLSv1.2": False, "TLSv1.3": False}}
    assert run("tls.protocol.modern", refused).status == Status.FAIL


@pytest.mark.parametrize("check_id,key", [("tls.dh.size", "dh_bits"), ("tls.kx.hash", "kx_hashes")])
def test_a_missing_answer_is_not_read_as_none_found(check_id, key):
    facts = {k: v for k, v in MODERN.items() if k != key}
    out = run(check_id, facts)
    assert not_measured(out) and key in out.message


@pytest.mark.parametrize("cid", available())
def test_classification_files_name_only_registered_things(cid):
    from scanner.standards import tls_registry as reg

    cls = load(cid)
    assert set(cls.suites) <= set(reg.suites_by_name()), set(cls.suites) - set(reg.suites_by_name())
    assert set(cls.groups) <= set(reg.groups_by_name())
    assert set(cls.versions) == set(reg.PROTOCOLS)


@pytest.mark.parametrize("check_id, without_tls13", [
    ("tls.groups.classification", Status.NOT_APPLICABLE),  # no (EC)DHE group negotiated: nothing to rate
    ("tls.groups.post_quantum", Status.WARN),  # no hybrid group accepted, whatever the reason
])
def test_no_group_under_tls13_is_not_measured(check_id, without_tls13):
    assert not_measured(run(check_id, {**MODERN, "groups": []}))
    rsa_only = {**LEGACY, "groups": [], "protocols": {**LEGACY["protocols"], "TLSv1.3": False}}
    assert run(check_id, rsa_only).status == without_tls13
