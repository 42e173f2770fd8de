"""Every lab certificate case, on its TLS 1.2-only and its TLS 1.3-only host, recognised with its reason.

Real servers, real handshakes, loopback only: each case host of `estate.d/certificates.toml`
is read from the session's full-estate scan (`lab_scan_all`: certificate and DNS facts,
judged under the default policy), held to the service's `expect` on every endpoint and
to the reasons below.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from scanner.lab.lab import load_estate

SERVICES = [s for s in load_estate()["service"] if s["id"].startswith("cert-")]


def _host(url: str) -> str:
    return urlsplit(url).hostname


@pytest.fixture(scope="module")
def probed(lab_scan_all):
    """host -> (facts, {check id: [certificate findings on that host]}) for every certificate-lab host."""
    out = {}
    for svc in lab_scan_all[0]["services"]:
        if not svc["id"].startswith("cert-"):
            continue
        for ep in svc["endpoints"]:
            findings: dict[str, list[dict]] = {}
            for f in svc["findings"]:
                if f["pillar"] == "certificate" and f["target"] == ep["target"]:
                    findings.setdefault(f["check"], []).append(f)
            out[ep["host"]] = (ep["facts"], findings)
    return out


@pytest.mark.parametrize("service", SERVICES, ids=[s["id"] for s in SERVICES])
def test_service_expectations(probed, service):
    expect = service.get("expect", {})
    assert len(service["urls"]) == 2, "every case runs on a TLS 1.2-only and a TLS 1.3-only host"
    for url in service["urls"]:
        facts, findings = probed[_host(url)]
        for status, check_ids in expect.items():
            if status == "grade":
                continue
            for check_id in check_ids:
                got = [(f["status"], f["message"]) for f in findings[check_id]]
                assert {g[0] for g in got} == {status}, f"{url} {check_id}: {got}"


def _cert(probed, case, version):
    label = {"idn": "xn--caf-dma", "wildcard_too_deep": "diep.wildcard-too-deep"}.get(case, case.replace("_", "-"))
    zone = "dane.test" if case.startswith("dane_") and case != "dane_unsigned" else "certificaten.test"
    return probed[f"{label}.{version}.{zone}"][0]["certificate"]


VERSIONS = [("v12", "TLSv1.2"), ("v13", "TLSv1.3")]


@pytest.mark.parametrize(("version", "protocol"), VERSIONS)
@pytest.mark.parametrize(("case", "reasons"), [
    ("valid", []), ("wildcard", []), ("idn", []), ("ecdsa_p384", []), ("rsa2048", []), ("long_lifespan", []),
    ("wrong_order", []), ("extra_certs", []), ("huge_chain", []), ("huge_san", []), ("ocsp_good", []),
    ("expired", ["expired"]), ("not_yet_valid", ["not_yet_valid"]), ("self_signed", ["self_signed"]),
    ("missing_intermediate", ["missing_intermediate"]), ("weak_legacy", ["weak_key", "weak_signature"]),
    ("ocsp_revoked", ["revoked"]),
])
def test_trust_reasons(probed, case, reasons, version, protocol):
    cert = _cert(probed, case, version)
    assert cert["protocol"] == protocol
    assert sorted(r["code"] for r in cert["trust_reasons"]) == reasons, cert["trust_reasons"]
    assert cert["trusted"] is (not reasons)
    assert cert["status_hello"] == protocol  # the raw hello of that version read the certificate message


@pytest.mark.parametrize(("version", "_protocol"), VERSIONS)
@pytest.mark.parametrize(("case", "issues"), [
    ("valid", []), ("wrong_order", ["wrong_order"]), ("extra_certs", ["extra_certificates", "root_served"]),
    ("huge_chain", ["chain_too_long", "extra_certificates"]), ("missing_intermediate", ["missing_intermediate"]),
])
def test_chain_issues(probed, case, issues, version, _protocol):
    cert = _cert(probed, case, version)
    assert sorted(i["code"] for i in cert["chain_issues"]) == sorted(issues)


@pytest.mark.parametrize(("version", "_protocol"), VERSIONS)
def test_names_and_details(probed, version, _protocol):
    assert _cert(probed, "wildcard", version)["hostname_matched_by"] == f"*.{version}.certificaten.test"
    assert _cert(probed, "idn", version)["hostname_match"] is True
    assert _cert(probed, "wildcard_too_deep", version)["hostname_match"] is False
    assert _cert(probed, "wrong_name", version)["hostname_match"] is False
    assert _cert(probed, "wrong_name", version)["trusted"] is True
    missing = _cert(probed, "missing_intermediate", version)
    assert missing["trust_reasons"][0]["aia_ca_issuers"] == ["http://pki.vlaanderen.test/bolwerk-lab-issuing-ca.crt"]
    assert _cert(probed, "huge_san", version)["chain"][0]["san_count"] == 1501
    assert _cert(probed, "huge_chain", version)["served_count"] == 42
    assert _cert(probed, "ecdsa_p384", version)["chain"][0]["curve"] == "secp384r1"
    legacy = _cert(probed, "weak_legacy", version)["chain"][0]
    assert (legacy["key_type"], legacy["key_bits"], legacy["signature_hash"]) == ("RSA", 1024, "sha1")


@pytest.mark.parametrize(("version", "_protocol"), VERSIONS)
def test_stapling_and_scts(probed, version, _protocol):
    good = _cert(probed, "ocsp_good", version)
    assert good["ocsp"]["stapled"] and good["ocsp"]["valid"] and good["ocsp"]["status"] == "good"
    assert good["must_staple"] is True and good["scts"]["embedded"] == 0 and good["scts"]["tls_extension"] == 2
    assert good["chain_source"] == "handshake"  # ordinary hellos were relayed to a normal TLS server
    stale = _cert(probed, "ocsp_stale", version)["ocsp"]
    assert stale["stapled"] and not stale["valid"] and "stale" in stale["problem"]
    plain = _cert(probed, "valid", version)
    assert plain["ocsp"] == {"stapled": False, "status_acknowledged": False}
    assert plain["scts"]["embedded"] == 2 and plain["scts"]["tls_extension"] == 0
    assert _cert(probed, "must_staple", version)["must_staple"] is True


@pytest.mark.parametrize(("version", "_protocol"), VERSIONS)
def test_dane(probed, version, _protocol):
    for case in ("dane_ee", "dane_ta", "dane_pkix_ta", "dane_pkix_ee"):
        dane = _cert(probed, case, version)["dane"]
        assert dane["dnssec"] == "secure" and dane["matched"] is True, (case, dane)
    mismatch = _cert(probed, "dane_mismatch", version)["dane"]
    assert mismatch["dnssec"] == "secure" and mismatch["matched"] is False
    unsigned = _cert(probed, "dane_unsigned", version)["dane"]
    assert unsigned["dnssec"] == "insecure" and unsigned["matched"] is True
    assert _cert(probed, "valid", version)["dane"]["tlsa"] is False


@pytest.mark.parametrize(("version", "_protocol"), VERSIONS)
def test_garbage_certificate_is_an_error_with_a_reason(probed, version, _protocol):
    cert = _cert(probed, "garbage_der", version)
    assert set(cert) == {"error"} and "does not parse" in cert["error"]


def test_demo_certificate_expectations(services, lab):
    """The demo estate's certificate verdicts (archiefbank expired, erfgoed wrong name, acc self-signed...)."""
    for sid, expect in lab.expectations.items():
        if sid not in services:
            continue
        found = {}
        for f in services[sid]["findings"]:
            if f["pillar"] == "certificate":
                found.setdefault(f["check"], set()).add(f["status"])
        for status, check_ids in expect.items():
            for check_id in check_ids if status != "grade" else []:
                if check_id.startswith("certificate."):
                    assert found.get(check_id) == {status}, f"{sid} {check_id}: {found.get(check_id)}"
    archief = services["archiefbank"]["endpoints"][0]["facts"]["certificate"]
    assert [r["code"] for r in archief["trust_reasons"]] == ["expired"]
    acc = services["omgevingsloket-acc"]["endpoints"][0]["facts"]["certificate"]
    assert [r["code"] for r in acc["trust_reasons"]] == ["self_signed"]
