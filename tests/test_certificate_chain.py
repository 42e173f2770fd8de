"""judge_chain on crafted chains: every trust reason, chain hygiene, malformed input."""

from __future__ import annotations

import json
import random

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from scanner.lab.ca import DAY, LabCA, _name, new_key
from scanner.probes.certificate.flight import Flight
from scanner.probes.certificate.probe import MAX_CHAIN, judge_chain


@pytest.fixture(scope="module")
def ca():
    return LabCA()


@pytest.fixture(scope="module")
def bundle(ca, tmp_path_factory):
    path = tmp_path_factory.mktemp("trust") / "roots.pem"
    path.write_bytes(ca.root_pem())
    return path


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def judge(ca, bundle, leaf, chain=(), host="www.example.test", **kw):
    facts = judge_chain([der(leaf), *(c if isinstance(c, bytes) else der(c) for c in chain)], host, ca.now,
                        bundle, "TLSv1.3", **kw)
    json.dumps(facts)  # facts are plain JSON
    return facts


def codes(facts, key="trust_reasons"):
    return [r["code"] for r in facts[key]]


def test_valid_chain(ca, bundle):
    issued = ca.issue(["www.example.test"])
    facts = judge(ca, bundle, issued.cert, issued.chain)
    assert facts["trusted"] is True and facts["hostname_match"] is True
    assert facts["trust_reasons"] == [] and facts["chain_issues"] == [] and facts["trust_error"] is None
    assert len(facts["path"]) == 3  # leaf, intermediate, root
    assert facts["chain"][0]["san"] == ["www.example.test"]
    assert facts["chain"][0]["spki_sha256"] and facts["chain"][1]["ca"] is True
    assert facts["days_remaining"] == 89 and round(facts["lifetime_days"]) == 90
    assert facts["trust_store"]["source"].startswith("CA bundle") and "distrust" in facts["trust_store"]["limits"]


def test_positional_call_as_smtp_uses_it(ca, bundle):
    issued = ca.issue(["mx.example.test"])
    facts = judge_chain(issued.ders(), "mx.example.test", ca.now, bundle, "TLSv1.2")
    assert facts["trusted"] is True
    assert facts["ocsp"] == {"stapled": None, "reason": "not requested on this connection"}


@pytest.mark.parametrize(("kw", "code"), [
    ({"days_before": 100, "days_after": -10}, "expired"),
    ({"days_before": -5, "days_after": 90}, "not_yet_valid"),
    ({"self_signed": True}, "self_signed"),
    ({"include_intermediate": False}, "missing_intermediate"),
    ({"key_kind": "rsa1024"}, "weak_key"),
])
def test_leaf_reasons(ca, bundle, kw, code):
    issued = ca.issue(["www.example.test"], **kw)
    facts = judge(ca, bundle, issued.cert, issued.chain)
    assert facts["trusted"] is False
    assert codes(facts)[0] == code, facts["trust_reasons"]
    assert facts["trust_error"]
    assert facts["hostname_match"] is True  # the name is judged apart


def test_missing_intermediate_names_the_aia_url(ca, bundle):
    issued = ca.issue(["www.example.test"], include_intermediate=False)
    facts = judge(ca, bundle, issued.cert)
    reason = facts["trust_reasons"][0]
    assert reason["aia_ca_issuers"] == ["http://pki.vlaanderen.test/bolwerk-lab-issuing-ca.crt"]
    assert "caIssuers" in reason["message"]
    assert codes(facts, "chain_issues") == ["missing_intermediate"]


def test_expired_intermediate(ca, bundle):
    key = new_key()
    old = ca._ca(_name("Bolwerk Lab Old Issuing CA"), key, ca.root, ca.root_key, path_length=0, days_after=-1)
    issued = ca.issue(["www.example.test"], issuer=(old, key))
    facts = judge(ca, bundle, issued.cert, issued.chain)
    assert facts["trusted"] is False
    assert facts["trust_reasons"][0]["code"] == "expired" and facts["trust_reasons"][0]["certificate"] == 1


def test_unknown_issuer_and_untrusted_root(ca, bundle):
    other = LabCA(ca.now)  # a hierarchy the bundle does not know
    issued = other.issue(["www.example.test"])
    facts = judge(ca, bundle, issued.cert, issued.chain)
    assert codes(facts) == ["unknown_issuer"]
    facts = judge(ca, bundle, issued.cert, [*issued.chain, other.root])
    assert codes(facts) == ["untrusted_root"]


def test_served_order_and_extras(ca, bundle):
    policy, issuing, key = ca.second_line
    issued = ca.issue(["www.example.test"], issuer=(issuing, key))
    in_order = judge(ca, bundle, issued.cert, [issuing, policy])
    assert in_order["trusted"] and in_order["chain_issues"] == []
    reversed_ = judge(ca, bundle, issued.cert, [policy, issuing])
    assert reversed_["trusted"] and codes(reversed_, "chain_issues") == ["wrong_order"]
    stray = ca._ca(_name("Stray CA"), new_key(), None, None, path_length=0)
    extra = judge(ca, bundle, issued.cert, [issuing, stray, policy, ca.root])
    assert extra["trusted"]
    assert codes(extra, "chain_issues") == ["extra_certificates", "root_served"]
    assert extra["chain_issues"][0]["certificates"] == [2]
    dup = judge(ca, bundle, issued.cert, [issuing, issuing, policy])
    assert "duplicate" in codes(dup, "chain_issues")


def test_served_root_of_an_untrusted_chain_is_not_extra(ca, bundle):
    issued = ca.issue(["www.example.test"], days_before=100, days_after=-10)
    facts = judge(ca, bundle, issued.cert, [ca.intermediate, ca.root])
    assert codes(facts) == ["expired"] and codes(facts, "chain_issues") == ["root_served"]


def test_huge_chain_is_cut_and_reported(ca, bundle):
    issued = ca.issue(["www.example.test"])
    filler = [ca._ca(_name(f"Filler {n}"), new_key(), None, None, path_length=0) for n in range(60)]
    facts = judge(ca, bundle, issued.cert, [ca.intermediate, *filler])
    assert len(facts["chain"]) == MAX_CHAIN and facts["served_count"] == 62
    assert facts["trusted"] is True
    assert codes(facts, "chain_issues") == ["extra_certificates", "chain_too_long"]


def test_absurd_san_list(ca, bundle):
    names = ["www.example.test"] + [f"naam-{n}.example.test" for n in range(5000)]
    issued = ca.issue(names)
    facts = judge(ca, bundle, issued.cert, issued.chain, host="naam-4000.example.test")
    assert facts["hostname_match"] is True and facts["trusted"] is True
    assert facts["chain"][0]["san_count"] == 5001 and len(facts["chain"][0]["san"]) == 100


def test_oversized_leaf_is_an_error_with_its_reason(ca, bundle):
    issued = ca.issue(["www.example.test"] + [f"naam-{n}.example.test" for n in range(12000)])
    facts = judge_chain(issued.ders(), "www.example.test", ca.now, bundle)
    assert set(facts) == {"error"} and "limit" in facts["error"]


def _hand_made_leaf(ca, serial, san, eku):
    key = new_key()
    builder = (x509.CertificateBuilder().subject_name(_name("www.example.test")).issuer_name(ca.intermediate.subject)
               .public_key(key.public_key()).serial_number(serial).not_valid_before(ca.now - DAY)
               .not_valid_after(ca.now + 30 * DAY)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.inter_key.public_key()),
                              critical=False))
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in san]), critical=False)
    return builder.sign(ca.inter_key, hashes.SHA256())


def test_no_san_is_a_name_problem_not_a_trust_problem(ca, bundle):
    facts = judge(ca, bundle, _hand_made_leaf(ca, 7, [], ExtendedKeyUsageOID.SERVER_AUTH), [ca.intermediate])
    assert facts["trusted"] is True
    assert facts["hostname_match"] is False and "common name" in facts["hostname_reason"]


def test_client_only_certificate_is_not_trusted_for_servers(ca, bundle):
    cert = _hand_made_leaf(ca, 8, ["www.example.test"], ExtendedKeyUsageOID.CLIENT_AUTH)
    facts = judge(ca, bundle, cert, [ca.intermediate])
    assert facts["trusted"] is False
    assert codes(facts) == ["other"] and "key usage" in facts["trust_error"]


def test_legacy_rsa1024_sha1_fixture(ca, bundle):
    root, leaf, _key = ca.legacy
    facts = judge(ca, bundle, leaf, host="weak-legacy.v12.certificaten.test")
    assert facts["trusted"] is False
    assert set(codes(facts)) == {"weak_key", "weak_signature"}  # the legacy root itself is trusted
    assert facts["chain"][0]["signature_hash"] == "sha1" and facts["chain"][0]["key_bits"] == 1024


def test_unknown_roots_with_certifi(ca):
    issued = ca.issue(["www.example.test"])
    facts = judge_chain(issued.ders(), "www.example.test", ca.now, None)
    assert facts["trusted"] is False and codes(facts) == ["unknown_issuer"]
    assert facts["trust_store"]["source"].startswith("certifi") and facts["trust_store"]["roots"] > 50


def test_revoked_by_stapled_ocsp(ca, bundle):
    issued = ca.issue(["www.example.test"])
    flight = Flight(ocsp=ca.ocsp_response(issued.cert, "revoked"), done=True)
    facts = judge(ca, bundle, issued.cert, issued.chain, flight=flight)
    assert facts["trusted"] is False and codes(facts) == ["revoked"]
    assert facts["ocsp"]["status"] == "revoked" and facts["ocsp"]["valid"] is True
    good = judge(ca, bundle, issued.cert, issued.chain,
                 flight=Flight(ocsp=ca.ocsp_response(issued.cert, "good"), done=True))
    assert good["trusted"] is True and good["ocsp"]["status"] == "good"


@pytest.mark.parametrize("garbage", [b"", b"\x00", b"\x30\x82\xff\xff" + b"A" * 20, b"not a certificate at all",
                                     b"\x30\x03\x02\x01\x01"])
def test_malformed_leaf_is_an_error_fact(ca, bundle, garbage):
    facts = judge_chain([garbage], "www.example.test", ca.now, bundle)
    assert set(facts) == {"error"} and "does not parse" in facts["error"]


def test_malformed_intermediate_is_a_reason(ca, bundle):
    issued = ca.issue(["www.example.test"])
    facts = judge(ca, bundle, issued.cert, [b"\x30\x82\x01\x00garbage"])
    assert facts["trusted"] is False
    assert "malformed" in codes(facts) and facts["malformed"][0]["certificate"] == 1


def test_oversized_certificate_is_not_parsed(ca, bundle):
    issued = ca.issue(["www.example.test"])
    facts = judge(ca, bundle, issued.cert, [b"\x30" + b"\x00" * (300 * 1024)])
    assert "malformed" in codes(facts) and "limit" in facts["malformed"][0]["message"]


def test_no_certificate():
    assert judge_chain([], "www.example.test", LabCA().now, None) == {"error": "the server sent no certificate"}


def test_truncated_chain_of_valid_prefix(ca, bundle):
    issued = ca.issue(["www.example.test"])
    cut = der(issued.cert)[: len(der(issued.cert)) // 2]
    assert "error" in judge_chain([cut], "www.example.test", ca.now, bundle)


def test_mutated_chains_never_raise(ca, bundle):
    """Random byte flips anywhere in a served chain: an error fact or a verdict, never an exception."""
    issued = ca.issue(["www.example.test", "192.0.2.1"], must_staple=True, ocsp_url=True)
    ders = issued.ders()
    rnd = random.Random(20261128)
    outcomes = set()
    for _ in range(400):
        chain = [bytearray(d) for d in ders]
        target = chain[rnd.randrange(len(chain))]
        for _ in range(rnd.randint(1, 4)):
            target[rnd.randrange(len(target))] = rnd.randrange(256)
        facts = judge_chain([bytes(c) for c in chain], "www.example.test", ca.now, bundle)
        json.dumps(facts)
        assert "could not be judged" not in facts.get("error", ""), facts["error"]
        outcomes.add("error" if "error" in facts else facts["trusted"])
    assert {"error", False} <= outcomes <= {"error", True, False}
