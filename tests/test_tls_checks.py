"""TLS checks from fact fixtures: each verdict, each classification, evidence names offenders."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import checks.tls  # noqa: F401  (registers the TLS checks)
from checks.registry import _BUILTIN, CheckContext, NotMeasured
from scanner.model import Status
from scanner.standards.tls_classification import available, load

MODERN = {
    "protocols": {"SSLv2": False, "SSLv3": False, "TLSv1.0": False, "TLSv1.1": False, "TLSv1.2": True, "TLSv1.3": True},
    "cipher_suites": {"TLSv1.2": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"],
                      "TLSv1.3": ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"]},
    "groups": ["X25519MLKEM768", "x25519", "secp256r1"],
    "connections": 9, "dh_bits": None, "kx": {}, "kx_hashes": ["sha256"], "kx_signatures": ["rsa_pss_rsae_sha256"],
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
}


CHECKS = {c.id: c for c in _BUILTIN if c.pillar == "tls"}


def run(check_id: str, tls: dict, **thresholds):
    chk = CHECKS[check_id]
    ctx = CheckContext(target="https://x.vlaanderen.test/", facts={"tls": tls}, now=datetime.now(UTC),
                       thresholds={**chk.thresholds, **thresholds})
    out = chk.func(ctx)
    return out[0] if isinstance(out, list) else out


TLS_CHECKS = ["tls.protocol.ssl", "tls.protocol.tls10", "tls.protocol.tls13", "tls.protocol.modern",
              "tls.suites.classification", "tls.suites.forward_secrecy", "tls.suites.aead",
              "tls.groups.classification", "tls.groups.post_quantum", "tls.dh.size", "tls.kx.hash"]


@pytest.mark.parametrize("check_id", TLS_CHECKS)
def test_modern_server_passes_everything(check_id):
    assert run(check_id, MODERN).status in (Status.PASS, Status.NOT_APPLICABLE)


@pytest.mark.parametrize("check_id,status", [
    ("tls.protocol.ssl", Status.FAIL), ("tls.protocol.tls10", Status.FAIL), ("tls.protocol.tls13", Status.WARN),
    ("tls.protocol.modern", Status.PASS), ("tls.suites.classification", Status.FAIL),
    ("tls.suites.forward_secrecy", Status.FAIL), ("tls.suites.aead", Status.WARN),
    ("tls.groups.classification", Status.FAIL), ("tls.groups.post_quantum", Status.WARN),
    ("tls.dh.size", Status.FAIL), ("tls.kx.hash", Status.WARN),
])
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
    with pytest.raises(NotMeasured):
        run("tls.suites.classification", {"error": "connection reset"})


def test_untested_versions_are_not_measured_never_passed():
    # the probe leaves SSLv2 null when a server keeps silent to an SSLv2 hello: "not offered" is unproven
    tls = {**MODERN, "protocols": {**MODERN["protocols"], "SSLv2": None}}
    with pytest.raises(NotMeasured, match="SSLv2 could not be tried.*SSLv3 refused"):
        run("tls.protocol.ssl", tls)
    with pytest.raises(NotMeasured):
        run("tls.protocol.ssl", {**MODERN, "protocols": {"SSLv2": None, "SSLv3": None}})
    # an offered version is a failure whatever else is unknown
    out = run("tls.protocol.ssl", {**MODERN, "protocols": {"SSLv2": None, "SSLv3": True}})
    assert out.status == Status.FAIL and out.evidence["offered"] == ["SSLv3"]
    assert "onvoldoende" in out.message_nl


def test_modern_fails_only_when_both_versions_were_refused():
    unknown = {**MODERN, "protocols": {**MODERN["protocols"], "TLSv1.2": False, "TLSv1.3": None}}
    with pytest.raises(NotMeasured):
        run("tls.protocol.modern", unknown)
    refused = {**MODERN, "protocols": {**MODERN["protocols"], "TLSv1.2": False, "TLSv1.3": False}}
    assert run("tls.protocol.modern", refused).status == Status.FAIL


@pytest.mark.parametrize("check_id,key", [("tls.dh.size", "dh_bits"), ("tls.kx.hash", "kx_hashes")])
def test_a_missing_answer_is_not_read_as_none_found(check_id, key):
    facts = {k: v for k, v in MODERN.items() if k != key}
    with pytest.raises(NotMeasured):
        run(check_id, facts)


@pytest.mark.parametrize("cid", available())
def test_classification_files_name_only_registered_things(cid):
    from scanner.standards import tls_registry as reg

    cls = load(cid)
    assert set(cls.suites) <= set(reg.suites_by_name()), set(cls.suites) - set(reg.suites_by_name())
    assert set(cls.groups) <= set(reg.groups_by_name())
    assert set(cls.versions) == set(reg.PROTOCOLS)


def test_every_tls_check_is_bilingual_and_cites_a_reference():
    assert set(TLS_CHECKS) <= set(CHECKS)
    for cid in TLS_CHECKS:
        chk = CHECKS[cid]
        assert chk.title["nl"] and chk.remediation["nl"] and chk.references


@pytest.mark.parametrize("check_id", ["tls.groups.classification", "tls.groups.post_quantum"])
def test_no_group_under_tls13_is_not_measured(check_id):
    with pytest.raises(NotMeasured):
        run(check_id, {**MODERN, "groups": []})
    rsa_only = {**LEGACY, "groups": [], "protocols": {**LEGACY["protocols"], "TLSv1.3": False}}
    assert run(check_id, rsa_only).status in (Status.NOT_APPLICABLE, Status.WARN)
