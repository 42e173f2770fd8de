"""DANE matching (RFC 6698, RFC 7671): usages, selectors and matching types against a served chain."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import serialization

from scanner.lab.ca import LabCA
from scanner.probes.certificate.dane import dane_facts, match_tlsa


@pytest.fixture(scope="module")
def pki():
    ca = LabCA()
    issued = ca.issue(["www.example.test"])
    served = [issued.cert, ca.intermediate]
    path = [issued.cert, ca.intermediate, ca.root]  # what PKIX validation built
    return ca, issued, served, path


def _data(cert, selector, mtype):
    raw = (cert.public_bytes(serialization.Encoding.DER) if selector == 0 else
           cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    return {0: raw, 1: hashlib.sha256(raw).digest(), 2: hashlib.sha512(raw).digest()}[mtype]


@pytest.mark.parametrize("selector", [0, 1])
@pytest.mark.parametrize("mtype", [0, 1, 2])
@pytest.mark.parametrize(("usage", "which"), [(3, "leaf"), (1, "leaf"), (2, "intermediate"), (0, "root"),
                                              (0, "intermediate")])
def test_every_usage_selector_and_matching_type(pki, usage, which, selector, mtype):
    ca, issued, served, path = pki
    cert = {"leaf": issued.cert, "intermediate": ca.intermediate, "root": ca.root}[which]
    rows = match_tlsa([(usage, selector, mtype, _data(cert, selector, mtype))], served, path, served, True, True)
    assert rows[0]["match"], rows[0]


def test_usage_rules(pki):
    ca, issued, served, path = pki
    leaf_spki = _data(issued.cert, 1, 1)
    root_spki = _data(ca.root, 1, 1)
    inter_spki = _data(ca.intermediate, 1, 1)

    def one(record, trusted=True, name_ok=True):
        return match_tlsa([record], served, path if trusted else [], served, trusted, name_ok)[0]

    assert one((3, 1, 1, leaf_spki), trusted=False, name_ok=False)["match"]  # DANE-EE ignores PKIX and name
    assert not one((1, 1, 1, leaf_spki), trusted=False)["match"]  # PKIX-EE needs a trusted chain
    assert "trusted" in one((1, 1, 1, leaf_spki), trusted=False)["reason"]
    assert not one((2, 1, 1, inter_spki), name_ok=False)["match"]  # DANE-TA needs the name
    assert not one((2, 1, 1, root_spki))["match"]  # DANE-TA: the root was not served
    assert not one((2, 1, 1, leaf_spki))["match"]  # DANE-TA never matches the leaf
    assert not one((3, 1, 1, inter_spki))["match"]  # DANE-EE only the leaf
    assert not one((0, 1, 1, root_spki), trusted=False)["match"]
    assert one((4, 1, 1, leaf_spki))["reason"] == "unusable parameters"
    assert one((3, 2, 1, leaf_spki))["reason"] == "unusable parameters"
    assert one((3, 1, 3, leaf_spki))["reason"] == "unusable parameters"
    assert not one((3, 1, 1, b"\x00" * 32))["match"]


def test_dane_facts(pki):
    ca, issued, served, path = pki
    secure = {"name": "_443._tcp.www.example.test", "records": [(3, 1, 1, _data(issued.cert, 1, 1)),
                                                             (3, 1, 1, b"\x01" * 32)], "dnssec": "secure"}
    facts = dane_facts(secure, served, path, served, True, True)
    assert facts["tlsa"] and facts["matched"] and facts["usable"] == 2 and len(facts["records"]) == 2
    none = dane_facts({"name": "_443._tcp.x", "records": []}, served, path, served, True, True)
    assert none["tlsa"] is False and none["matched"] is None
    broken = dane_facts({"name": "_443._tcp.x", "error": "timeout"}, served, path, served, True, True)
    assert broken["tlsa"] is None and broken["error"] == "timeout"
