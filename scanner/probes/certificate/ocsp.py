"""A stapled OCSP response (RFC 6960, RFC 6066 §8): what it says about the leaf, and whether to believe it.

The response must be successful, about this leaf (serial and issuer key hash), signed by
the issuer or by a responder certificate the issuer delegated (id-kp-OCSPSigning), and
current (thisUpdate not in the future, nextUpdate not past). Only then does its status
(good, revoked, unknown) count; a response that fails any of these is reported with the
reason and is not used to call a certificate revoked.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, SignatureAlgorithmOID

from scanner.probes.certificate.path import issued_by, verify_signature
from scanner.times import rfc3339

CLOCK_SKEW = timedelta(minutes=5)
_PSS = {SignatureAlgorithmOID.RSASSA_PSS}


def _time(value: datetime | None) -> str | None:
    return rfc3339(value) if value else None


def _issuer_key_hash(issuer: x509.Certificate, algorithm) -> bytes:
    spki = issuer.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    # The hash is over the subjectPublicKey BIT STRING contents, not the whole SPKI.
    key_bits = _bit_string_contents(spki)
    digest = hashes.Hash(algorithm)
    digest.update(key_bits)
    return digest.finalize()


def _bit_string_contents(spki: bytes) -> bytes:
    """The subjectPublicKey of a DER SubjectPublicKeyInfo, minus its unused-bits octet."""
    def header(buf: bytes, pos: int) -> tuple[int, int]:  # -> (content start, content length)
        length = buf[pos + 1]
        if length < 0x80:
            return pos + 2, length
        n = length & 0x7F
        return pos + 2 + n, int.from_bytes(buf[pos + 2:pos + 2 + n], "big")

    start, _ = header(spki, 0)  # SEQUENCE
    alg_start, alg_len = header(spki, start)  # AlgorithmIdentifier
    bits_start, bits_len = header(spki, alg_start + alg_len)
    return spki[bits_start + 1:bits_start + bits_len]


def _signer(resp: ocsp.OCSPResponse, issuer: x509.Certificate) -> tuple[Any, str | None]:
    """The public key that should have signed the response, or why there is none."""
    if resp.responder_name is not None and resp.responder_name == issuer.subject:
        return issuer.public_key(), None
    if resp.responder_key_hash is not None and resp.responder_key_hash == _issuer_key_hash(issuer, hashes.SHA1()):
        return issuer.public_key(), None
    for cert in resp.certificates[:4]:
        if not issued_by(cert, issuer):
            continue
        try:
            eku = cert.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value
        except (x509.ExtensionNotFound, ValueError):
            continue
        if ExtendedKeyUsageOID.OCSP_SIGNING in eku:
            return cert.public_key(), None
    return None, "signed by a responder the issuer did not delegate"


def judge_ocsp(der: bytes, leaf: x509.Certificate, issuer: x509.Certificate | None, now: datetime) -> dict[str, Any]:
    """Facts about one stapled OCSP response for `leaf`."""
    out: dict[str, Any] = {"stapled": True, "status": None, "valid": False, "problem": None, "size": len(der)}
    try:
        resp = ocsp.load_der_ocsp_response(der)
    except ValueError as exc:
        out["problem"] = f"the stapled OCSP response does not parse: {exc}"[:200]
        return out
    out["response_status"] = resp.response_status.name.lower()
    if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        out["problem"] = f"the responder answered {out['response_status']}"
        return out
    try:
        single = next(iter(resp.responses))
        status = single.certificate_status
        out.update({
            "status": status.name.lower(),
            "this_update": _time(single.this_update_utc),
            "next_update": _time(single.next_update_utc),
            "produced_at": _time(resp.produced_at_utc),
            "revocation_time": _time(single.revocation_time_utc),
            "revocation_reason": single.revocation_reason.name if single.revocation_reason else None,
        })
        out["scts"] = _ocsp_scts(resp)
    except (ValueError, StopIteration) as exc:
        out["problem"] = f"the stapled OCSP response is malformed: {exc}"[:200]
        return out
    problems = []
    if single.serial_number != leaf.serial_number:
        problems.append("it is about another certificate (serial number differs)")
    if issuer is None:
        problems.append("the issuer certificate is unknown, so its signature cannot be checked")
    else:
        if single.issuer_key_hash != _issuer_key_hash(issuer, single.hash_algorithm):
            problems.append("it names another issuer")
        key, why = _signer(resp, issuer)
        if key is None:
            problems.append(why)
        elif not verify_signature(key, resp.signature, resp.tbs_response_bytes, resp.signature_hash_algorithm,
                                  resp.signature_algorithm_oid in _PSS):
            problems.append("its signature does not verify")
    if single.this_update_utc > now + CLOCK_SKEW:
        problems.append("its thisUpdate lies in the future")
    if single.next_update_utc is not None and single.next_update_utc < now - CLOCK_SKEW:
        problems.append(f"it is stale (nextUpdate {_time(single.next_update_utc)})")
    out["valid"] = not problems
    out["problem"] = "; ".join(problems) or None
    return out


def _ocsp_scts(resp: ocsp.OCSPResponse) -> int:
    try:
        ext = resp.single_extensions.get_extension_for_oid(ExtensionOID.SIGNED_CERTIFICATE_TIMESTAMPS)
    except (x509.ExtensionNotFound, ValueError):
        return 0
    try:
        return len(list(ext.value))
    except TypeError:
        return 0
