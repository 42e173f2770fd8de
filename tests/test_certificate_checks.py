"""Certificate checks judged from fact fixtures: no network, every branch."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from scanner.model import Status
from scanner.standards.certificate import lifetime_limit, validity_days
from tests.judging import NOW, judge_one, not_measured


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def entry(days_before=10, days_after=80, **over):
    out = {"subject": "CN=www.example.test,O=Example,C=BE", "issuer": "CN=Example Issuing CA,O=Example,C=BE",
           "not_before": stamp(NOW - timedelta(days=days_before)), "not_after": stamp(NOW + timedelta(days=days_after)),
           "key_type": "EC", "key_bits": 256, "curve": "secp256r1", "signature_hash": "sha256",
           "san": ["www.example.test"], "san_count": 1, "self_signed": False, "ca": False,
           "sha256": "ab" * 32, "spki_sha256": "cd" * 32}
    out.update(over)
    return out


def intermediate(days_after=3000, **over):
    return entry(days_before=300, days_after=days_after, subject="CN=Example Issuing CA,O=Example,C=BE",
                 issuer="CN=Example Root,O=Example,C=BE", ca=True, san=[], san_count=0, **over)


BASE = {
    "chain": [entry(), intermediate()],
    "trusted": True, "trust_reasons": [], "trust_error": None, "hostname_match": True,
    "hostname_matched_by": "www.example.test", "hostname_reason": "dNSName www.example.test",
    "chain_issues": [], "served_count": 2, "trust_store": {"source": "certifi"},
    "ocsp": {"stapled": False}, "must_staple": False,
    "scts": {"embedded": 2, "tls_extension": 0, "ocsp": None, "total": 2, "measured": "all"},
    "dane": {"name": "_443._tcp.www.example.test", "tlsa": False, "records": [], "matched": None, "dnssec": None},
}


def judge(check_id, certificate=None, dns=None, **thresholds):
    facts = {"certificate": certificate if certificate is not None else copy.deepcopy(BASE),
             "dns": dns if dns is not None else {"caa": []}}
    return judge_one(check_id, facts, target="https://www.example.test/", thresholds=thresholds)


def facts(**over):
    out = copy.deepcopy(BASE)
    out.update(over)
    return out


def test_a_healthy_certificate_passes_everything():
    for check_id in ("certificate.trusted", "certificate.hostname", "certificate.expiry", "certificate.key",
                     "certificate.signature", "certificate.chain", "certificate.lifespan", "certificate.sct",
                     "certificate.key_sharing"):
        assert judge(check_id).status == Status.PASS, check_id
    for check_id in ("certificate.must_staple", "certificate.dane", "certificate.caa"):
        assert judge(check_id).status == Status.NOT_APPLICABLE, check_id
    assert judge("certificate.revocation").status == Status.INFO


def test_unread_facts_are_not_measured():
    cert = facts()
    cert.pop("must_staple", None)
    assert not_measured(judge("certificate.must_staple", cert))  # not "does not demand stapling"
    out = judge("certificate.caa", dns={"caa": None, "caa_error": "SERVFAIL"})
    assert not_measured(out) and "SERVFAIL" in out.message


def test_error_section_is_not_measured():
    out = judge("certificate.trusted", {"error": "handshake failed"})
    assert not_measured(out) and "handshake failed" in out.message


def test_trusted_names_the_reasons():
    reasons = [{"code": "expired", "message": "www.example.test expired on 2026-11-01"},
               {"code": "weak_key", "message": "RSA key of 1024 bits"}]
    out = judge("certificate.trusted", facts(trusted=False, trust_reasons=reasons))
    assert out.status == Status.FAIL and "expired on 2026-11-01" in out.message and "1 more" in out.message
    assert [r["code"] for r in out.evidence["reasons"]] == ["expired", "weak_key"]


def test_hostname_reason():
    out = judge("certificate.hostname", facts(hostname_match=False, hostname_reason="www.example.test is not named"))
    assert out.status == Status.FAIL and out.message == "www.example.test is not named"


# -- expiry: days and fraction --------------------------------------------------------------------

@pytest.mark.parametrize(("before", "after", "status"), [
    (10, 80, Status.PASS),  # 90-day certificate, fresh
    (70, 20, Status.PASS),  # ACME renews at 30 days left; 20 left is still within a 9-day window
    (83, 7, Status.WARN),  # 7 of 90 days left: renewal overdue
    (4.5, 1.5, Status.PASS),  # a 6-day certificate with a day and a half left is on schedule
    (5.8, 0.2, Status.WARN),  # ... with five hours left it is not
    (360, 30, Status.PASS),  # a 390-day certificate with a month left
    (380, 10, Status.WARN),  # ... with ten days left
    (100, -1, Status.FAIL),  # expired
    (-2, 90, Status.FAIL),  # not yet valid
])
def test_expiry_uses_days_and_fraction(before, after, status):
    cert = facts(chain=[entry(days_before=before, days_after=after), intermediate()])
    assert judge("certificate.expiry", cert).status == status


def test_expiry_watches_the_intermediates_too():
    cert = facts(chain=[entry(), intermediate(days_after=-3)])
    out = judge("certificate.expiry", cert)
    assert out.status == Status.FAIL and "Example Issuing CA" in out.message
    assert [c["status"] for c in out.evidence["certificates"]] == ["ok", "expired"]


def test_expiry_ignores_a_served_root():
    root = entry(days_before=4000, days_after=-30, self_signed=True, ca=True)
    assert judge("certificate.expiry", facts(chain=[entry(), intermediate(), root])).status == Status.PASS


def test_expiry_thresholds_come_from_the_policy():
    cert = facts(chain=[entry(days_before=360, days_after=30), intermediate()])
    assert judge("certificate.expiry", cert, certificate_expiry_warn_days=45).status == Status.WARN


@pytest.mark.parametrize(("before", "after", "status"), [
    (80.8, 9.2, Status.PASS),  # a 90-day certificate is due at a tenth of its lifetime: 9 days
    (81.2, 8.8, Status.WARN),
    (383.8, 14.2, Status.PASS),  # a 398-day one at 14 days, the fixed window being the smaller
    (384.2, 13.8, Status.WARN),
])
def test_renewal_is_due_at_the_smaller_of_days_and_fraction(before, after, status):
    cert = facts(chain=[entry(days_before=before, days_after=after), intermediate()])
    assert judge("certificate.expiry", cert).status == status


# -- lifespan by issue date -------------------------------------------------------------------------

@pytest.mark.parametrize(("issued", "days", "status"), [
    ("2025-06-01", 398, Status.PASS),
    ("2025-06-01", 399, Status.FAIL),
    ("2026-03-14", 398, Status.PASS),  # the day before SC-081's first step
    ("2026-03-15", 200, Status.PASS),
    ("2026-03-15", 201, Status.FAIL),
    ("2027-03-14", 200, Status.PASS),
    ("2027-03-15", 101, Status.FAIL),
    ("2027-03-15", 100, Status.PASS),
    ("2029-03-15", 47, Status.PASS),
    ("2029-03-15", 48, Status.FAIL),
    ("2019-01-01", 825, Status.PASS),
    ("2017-01-01", 1000, Status.INFO),  # before the first limit recorded
])
def test_lifespan_by_issue_date(issued, days, status):
    start = datetime.fromisoformat(issued).replace(tzinfo=UTC)
    # the validity period counts both ends: notAfter is one second short of `days` full days
    end = start + timedelta(days=days) - timedelta(seconds=1)
    leaf = entry(not_before=stamp(start), not_after=stamp(end))
    assert judge("certificate.lifespan", facts(chain=[leaf, intermediate()])).status == status


def test_lifetime_data():
    assert lifetime_limit(datetime(2026, 11, 28).date())["days"] == 200
    assert lifetime_limit(datetime(2030, 1, 1).date())["days"] == 47
    assert lifetime_limit(datetime(2010, 1, 1).date()) is None
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert validity_days(start, start + timedelta(days=90) - timedelta(seconds=1)) == 90


# -- keys and signatures --------------------------------------------------------------------------

@pytest.mark.parametrize(("over", "status"), [
    ({"key_type": "RSA", "key_bits": 1024, "curve": None}, Status.FAIL),
    ({"key_type": "RSA", "key_bits": 2048, "curve": None}, Status.WARN),
    ({"key_type": "RSA", "key_bits": 3072, "curve": None}, Status.PASS),
    ({"key_type": "RSA", "key_bits": 4096, "curve": None}, Status.PASS),
    ({"curve": "secp384r1", "key_bits": 384}, Status.PASS),
    ({"curve": "secp521r1", "key_bits": 521}, Status.WARN),
    ({"curve": "secp256k1"}, Status.FAIL),
    ({"curve": "brainpoolP256r1"}, Status.FAIL),
    ({"key_type": "Ed25519", "key_bits": 256, "curve": None}, Status.FAIL),
    ({"key_type": "DSA", "key_bits": 2048, "curve": None}, Status.FAIL),
])
def test_leaf_keys(over, status):
    assert judge("certificate.key", facts(chain=[entry(**over), intermediate()])).status == status


def test_key_thresholds_and_intermediates():
    rsa2048 = entry(key_type="RSA", key_bits=2048, curve=None)
    assert judge("certificate.key", facts(chain=[rsa2048, intermediate()]), rsa_good_bits=2048).status == Status.PASS
    # an RSA-2048 intermediate is the CA's business: no phase-out warning; RSA-1024 is a failure
    weak = intermediate(key_type="RSA", key_bits=1024, curve=None)
    ok = intermediate(key_type="RSA", key_bits=2048, curve=None)
    assert judge("certificate.key", facts(chain=[entry(), ok])).status == Status.PASS
    out = judge("certificate.key", facts(chain=[entry(), weak]))
    assert out.status == Status.FAIL and "intermediate" in out.message


@pytest.mark.parametrize(("leaf_hash", "inter_hash", "status"), [
    ("sha256", "sha256", Status.PASS), ("sha1", "sha256", Status.FAIL), ("md5", "sha256", Status.FAIL),
    ("sha256", "sha1", Status.FAIL), ("sha384", "sha512", Status.PASS), (None, "sha256", Status.PASS),
])
def test_signature_hashes(leaf_hash, inter_hash, status):
    cert = facts(chain=[entry(signature_hash=leaf_hash), intermediate(signature_hash=inter_hash)])
    assert judge("certificate.signature", cert).status == status


def test_signature_of_a_served_root_does_not_count():
    root = entry(signature_hash="sha1", self_signed=True, ca=True)
    assert judge("certificate.signature", facts(chain=[entry(), intermediate(), root])).status == Status.PASS


# -- chain, sharing, CT -----------------------------------------------------------------------------

@pytest.mark.parametrize(("codes", "status"), [
    ([], Status.PASS), (["root_served"], Status.PASS), (["wrong_order"], Status.WARN),
    (["extra_certificates", "root_served"], Status.WARN), (["duplicate"], Status.WARN),
    (["missing_intermediate"], Status.FAIL), (["chain_too_long", "extra_certificates"], Status.FAIL),
])
def test_chain_issues(codes, status):
    issues = [{"code": c, "message": c.replace("_", " ")} for c in codes]
    assert judge("certificate.chain", facts(chain_issues=issues)).status == status


def test_malformed_chain_certificate_fails_the_chain():
    cert = facts(malformed=[{"certificate": 1, "message": "certificate 1 does not parse"}])
    out = judge("certificate.chain", cert)
    assert out.status == Status.FAIL and "does not parse" in out.message


def test_key_sharing():
    many = entry(san=[f"n{n}.example.test" for n in range(100)], san_count=500)
    assert judge("certificate.key_sharing", facts(chain=[many, intermediate()])).status == Status.WARN
    assert judge("certificate.key_sharing", facts(chain=[many, intermediate()]),
                 certificate_max_names=1000).status == Status.PASS


@pytest.mark.parametrize(("scts", "days", "status"), [
    ({"embedded": 2, "tls_extension": 0, "ocsp": None, "total": 2}, 90, Status.PASS),
    ({"embedded": 2, "tls_extension": 0, "ocsp": None, "total": 2}, 300, Status.WARN),  # > 180 days wants 3
    ({"embedded": 3, "tls_extension": 0, "ocsp": None, "total": 3}, 300, Status.PASS),
    ({"embedded": 0, "tls_extension": 2, "ocsp": None, "total": 2}, 300, Status.PASS),  # delivered: 2 suffice
    ({"embedded": 0, "tls_extension": 0, "ocsp": 2, "total": 2}, 90, Status.PASS),
    ({"embedded": 1, "tls_extension": 0, "ocsp": None, "total": 1}, 90, Status.WARN),
    ({"embedded": 0, "tls_extension": 0, "ocsp": None, "total": 0}, 90, Status.FAIL),
    ({"embedded": 0, "tls_extension": None, "ocsp": None, "total": 0}, 90, Status.ERROR),  # handshake SCTs unseen
])
def test_sct_counts(scts, days, status):
    cert = facts(chain=[entry(days_before=1, days_after=days - 1), intermediate()], scts=scts)
    assert judge("certificate.sct", cert).status == status


def test_sct_not_applicable_to_self_signed():
    cert = facts(chain=[entry(self_signed=True)], scts={"embedded": 0, "tls_extension": 0, "total": 0})
    assert judge("certificate.sct", cert).status == Status.NOT_APPLICABLE


# -- revocation and must-staple ---------------------------------------------------------------------

@pytest.mark.parametrize(("ocsp", "status"), [
    ({"stapled": None, "reason": "TLS 1.3 hello: HelloRetryRequest"}, Status.ERROR),  # not measured, as for SCTs
    ({"stapled": False}, Status.INFO),
    ({"stapled": True, "valid": True, "status": "good", "next_update": "2026-12-01T00:00:00Z"}, Status.PASS),
    ({"stapled": True, "valid": True, "status": "revoked", "revocation_time": "2026-11-20T00:00:00Z"}, Status.FAIL),
    ({"stapled": True, "valid": True, "status": "unknown"}, Status.WARN),
    ({"stapled": True, "valid": False, "status": "good", "problem": "it is stale"}, Status.WARN),
    ({"stapled": True, "valid": False, "status": "revoked", "problem": "its signature does not verify"}, Status.WARN),
])
def test_revocation(ocsp, status):
    assert judge("certificate.revocation", facts(ocsp=ocsp)).status == status


@pytest.mark.parametrize(("ocsp", "status"), [
    ({"stapled": True, "valid": True, "status": "good"}, Status.PASS),
    ({"stapled": False}, Status.FAIL),
    ({"stapled": True, "valid": False, "problem": "it is stale"}, Status.FAIL),
    ({"stapled": None, "reason": "no answer"}, Status.ERROR),
])
def test_must_staple(ocsp, status):
    assert judge("certificate.must_staple", facts(must_staple=True, ocsp=ocsp)).status == status


# -- CAA -------------------------------------------------------------------------------------------

LE_LEAF = entry(issuer="CN=R11,O=Let's Encrypt,C=US")


@pytest.mark.parametrize(("caa", "leaf", "matched_by", "status"), [
    (['0 issue "letsencrypt.org"'], LE_LEAF, "www.example.test", Status.PASS),
    (['0 issue "letsencrypt.org; validationmethods=dns-01"'], LE_LEAF, "www.example.test", Status.PASS),
    (['0 issue "digicert.com"'], LE_LEAF, "www.example.test", Status.WARN),
    (['0 issue ";"'], LE_LEAF, "www.example.test", Status.WARN),
    (['0 issue "letsencrypt.org"', '0 issuewild "digicert.com"'], LE_LEAF, "*.example.test", Status.WARN),
    (['0 issue "digicert.com"', '0 issuewild "letsencrypt.org"'], LE_LEAF, "*.example.test", Status.PASS),
    (['0 issue "letsencrypt.org"'], LE_LEAF, "*.example.test", Status.PASS),  # no issuewild: issue applies
    ([], LE_LEAF, "www.example.test", Status.NOT_APPLICABLE),
    (['0 issue "letsencrypt.org"'], entry(issuer="CN=Obscure CA,O=Nobody"), "www.example.test", Status.INFO),
    (['0 issue "letsencrypt.org"'], entry(self_signed=True), "www.example.test", Status.NOT_APPLICABLE),
    # RFC 8659 §4.2: a value outside the grammar counts as an empty issuer, so it allows no CA
    (['0 issue "letsencrypt.org; account"'], LE_LEAF, "www.example.test", Status.WARN),
])
def test_caa(caa, leaf, matched_by, status):
    cert = facts(chain=[leaf, intermediate()], hostname_matched_by=matched_by)
    assert judge("certificate.caa", cert, dns={"caa": caa}).status == status


def test_caa_not_measured():
    assert not_measured(judge("certificate.caa", dns={"error": "timeout"}))


def test_caa_reads_the_issuer_domain_of_each_property():
    """CA domains compare case-insensitively and without their parameters; `issuewild ";"` allows no CA."""
    caa = ['0 issue "Letsencrypt.org; accounturi=x"', '128 issuewild ";"', '0 iodef "mailto:a@b"']
    named = judge("certificate.caa", facts(chain=[LE_LEAF, intermediate()]), dns={"caa": caa})
    assert named.status == Status.PASS and named.evidence["allowed"] == ["letsencrypt.org"]
    wild = judge("certificate.caa", facts(chain=[LE_LEAF, intermediate()], hostname_matched_by="*.example.test"),
                 dns={"caa": caa})
    assert wild.status == Status.WARN and wild.evidence["allowed"] == [""] and "allows no CA" in wild.message


# -- DANE ------------------------------------------------------------------------------------------

def _dane(dnssec, matched, records=True):
    rows = [{"record": "3 1 1 ab", "usage": "DANE-EE", "match": matched,
             **({} if matched else {"reason": "the leaf does not match"})}] if records else []
    return {"name": "_443._tcp.www.example.test", "tlsa": records, "records": rows, "dnssec": dnssec,
            "matched": matched if records else None, "dnssec_reason": "why"}


@pytest.mark.parametrize(("dane", "status"), [
    (_dane("secure", True), Status.PASS),
    (_dane("secure", False), Status.FAIL),
    (_dane("insecure", True), Status.WARN),
    (_dane("bogus", True), Status.FAIL),
    (_dane(None, True), Status.ERROR),
    (_dane(None, None, records=False), Status.NOT_APPLICABLE),
    ({"name": "_443._tcp.www.example.test", "error": "timed out", "tlsa": None}, Status.ERROR),
])
def test_dane(dane, status):
    assert judge("certificate.dane", facts(dane=dane)).status == status


# the codes the certificate probe writes for how a chain is served, and why it is not trusted
CHAIN_CODES = ("missing_intermediate", "chain_too_long", "malformed", "wrong_order", "extra_certificates",
               "duplicate", "root_served")
TRUST_CODES = ("self_signed", "untrusted_root", "missing_intermediate", "unknown_issuer", "path_too_long", "expired",
               "not_yet_valid", "weak_key", "weak_signature", "revoked", "malformed", "other")


@pytest.mark.parametrize("code", CHAIN_CODES)
def test_every_chain_issue_is_named_in_dutch(code):
    out = judge("certificate.chain", facts(chain_issues=[{"code": code, "message": "in English"}]))
    assert "in English" in out.message
    assert "in English" not in out.message_nl and code not in out.message_nl, out.message_nl


@pytest.mark.parametrize("code", TRUST_CODES)
def test_every_trust_reason_is_named_in_dutch(code):
    out = judge("certificate.trusted", facts(trusted=False, trust_reasons=[{"code": code, "message": "in English"}]))
    assert out.status == Status.FAIL and "in English" in out.message
    assert out.message_nl.startswith("niet vertrouwd: ") and "in English" not in out.message_nl
    assert code not in out.message_nl, out.message_nl


def test_dutch_messages_name_the_problem_and_the_certificate():
    untrusted = facts(trusted=False, trust_reasons=[
        {"code": "missing_intermediate", "message": "the issuer of x was not served", "certificate": 0},
        {"code": "expired", "message": "x expired", "certificate": 0}])
    out = judge("certificate.trusted", untrusted)
    assert out.message_nl == ("niet vertrouwd: een tussencertificaat ontbreekt (www.example.test); "
                              "een certificaat in de keten is verlopen (www.example.test)")
