"""Path validation as a browser does it, and the reasons when it fails.

`validate` asks cryptography's X.509 verifier (the webpki profile: key usages, basic
constraints, validity, RSA >= 2048 on signing keys, no SHA-1) whether the served chain
builds a path to a root of the trust store, with the host name left aside: a client
verifier whose extended-key-usage rule we replace by "serverAuth or anyExtendedKeyUsage",
so the policy equals the server verifier's except for the name.

The library says yes or no; `diagnose` says why, in the words a browser would use:
expired, not yet valid, unknown issuer, self-signed, missing intermediate (with the AIA
caIssuers URL that could repair it; never fetched here), untrusted root, weak key or
signature anywhere on the path, and, separately, the hygiene of what was served (wrong
order, extra certificates, the root sent along, an over-long chain).

The trust store is certifi's copy of Mozilla's roots or `--ca-bundle`. A PEM bundle
cannot carry Mozilla's distrust-after dates (CKA_NSS_SERVER_DISTRUST_AFTER), nor Chrome's
or Apple's own constraints, so a certificate issued after a root's distrust date is
reported trusted here while browsers reject it. Facts say so (`trust_store.limits`).
"""

from __future__ import annotations

import functools
import os
import re
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import certifi
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    ExtensionOID,
    SignatureAlgorithmOID,
)
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from scanner.standards import certificate as rules

_SHA256 = hashes.SHA256()
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
MAX_DEPTH = 8  # intermediates a path may use (the library's default is 8 too)

DISTRUST_NOTE = ("a PEM bundle carries no distrust-after dates: certificates from roots that Mozilla or Chrome "
                 "distrust for new issuance are reported trusted here")


@dataclass(frozen=True)
class TrustStore:
    source: str
    roots: tuple[x509.Certificate, ...]
    store: Store
    by_subject: dict[bytes, tuple[x509.Certificate, ...]] = field(default_factory=dict)
    fingerprints: frozenset[bytes] = frozenset()
    skipped: int = 0  # PEM blocks that did not parse

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "roots": len(self.roots), "limits": DISTRUST_NOTE}
        if self.skipped:
            out["unreadable_roots"] = self.skipped
        return out

    def issuers_of(self, cert: x509.Certificate) -> list[x509.Certificate]:
        return [r for r in self.by_subject.get(cert.issuer.public_bytes(), ()) if issued_by(cert, r)]

    def contains(self, cert: x509.Certificate) -> bool:
        return cert.fingerprint(_SHA256) in self.fingerprints or any(
            r.public_key() == cert.public_key() for r in self.by_subject.get(cert.subject.public_bytes(), ()))



def load_trust_store(ca_bundle: Path | None) -> TrustStore:
    """The roots from `ca_bundle` (or certifi), parsed once per file version."""
    path = Path(ca_bundle or certifi.where())
    stat = path.stat()
    return _load(str(path), stat.st_mtime_ns, stat.st_size, ca_bundle is None)


@functools.lru_cache(maxsize=8)
def _load(path: str, _mtime: int, _size: int, is_certifi: bool) -> TrustStore:
    roots, skipped = [], 0
    for block in _PEM.findall(Path(path).read_bytes()):
        try:
            with warnings.catch_warnings():  # e.g. a root with a non-positive serial: still a root
                warnings.simplefilter("ignore")
                roots.append(x509.load_pem_x509_certificate(block))
        except ValueError:
            skipped += 1  # one unreadable root must not lose the whole store
    if not roots:
        raise ValueError(f"{path}: no certificates in the CA bundle")
    by_subject: dict[bytes, list[x509.Certificate]] = {}
    for root in roots:
        by_subject.setdefault(root.subject.public_bytes(), []).append(root)
    source = f"certifi {certifi.__version__} (Mozilla)" if is_certifi else f"CA bundle {os.path.basename(path)}"
    return TrustStore(source, tuple(roots), Store(roots), {k: tuple(v) for k, v in by_subject.items()},
                      frozenset(r.fingerprint(_SHA256) for r in roots), skipped)


def verify_signature(key, signature: bytes, data: bytes, hash_alg, pss: bool = False) -> bool:
    """Does `signature` over `data` verify with `key`? Any algorithm, weak hashes included."""
    try:
        if isinstance(key, rsa.RSAPublicKey):
            pad = padding.PSS(padding.MGF1(hash_alg), padding.PSS.AUTO) if pss else padding.PKCS1v15()
            key.verify(signature, data, pad, hash_alg)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hash_alg))
        elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            key.verify(signature, data)
        elif isinstance(key, dsa.DSAPublicKey):
            key.verify(signature, data, hash_alg)
        else:
            return False
    except Exception:  # InvalidSignature, unsupported parameters
        return False
    return True


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Is `cert` signed by `issuer` (names chain and the signature verifies)?

    The library's own check refuses weak algorithms (SHA-1, MD5); for the diagnosis we
    still want to know who signed, so those signatures are verified by hand.
    """
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except InvalidSignature:
        return False
    except (ValueError, TypeError, UnsupportedAlgorithm):  # "Unsupported signature algorithm": check by hand
        pass
    try:
        return verify_signature(issuer.public_key(), cert.signature, cert.tbs_certificate_bytes,
                                cert.signature_hash_algorithm,
                                cert.signature_algorithm_oid == SignatureAlgorithmOID.RSASSA_PSS)
    except Exception:  # an algorithm we cannot even name
        return False


def self_signed(cert: x509.Certificate) -> bool:
    return cert.subject == cert.issuer and issued_by(cert, cert)


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return False


def aia_urls(cert: x509.Certificate, method) -> list[str]:
    try:
        aia = cert.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [d.access_location.value for d in aia
            if d.access_method == method and isinstance(d.access_location, x509.UniformResourceIdentifier)][:4]


def ca_issuers(cert: x509.Certificate) -> list[str]:
    return aia_urls(cert, AuthorityInformationAccessOID.CA_ISSUERS)


# -- the library's verdict -------------------------------------------------------------------

def _server_eku(_policy, _cert, ext) -> None:
    if ext is None:
        return
    if ExtendedKeyUsageOID.SERVER_AUTH not in ext and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in ext:
        raise ValueError("extended key usage does not allow TLS server authentication")


_EE_POLICY = (ExtensionPolicy.webpki_defaults_ee()
              .may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
              .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _server_eku))
_CA_POLICY = ExtensionPolicy.webpki_defaults_ca().may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC,
                                                                 _server_eku)


def validate(chain: list[x509.Certificate], trust: TrustStore, now: datetime
             ) -> tuple[bool, list[x509.Certificate] | None, str | None]:
    """(trusted, the path the library built, its error): the webpki server profile, name aside."""
    verifier = (PolicyBuilder().store(trust.store).time(now).max_chain_depth(MAX_DEPTH)
                .extension_policies(ca_policy=_CA_POLICY, ee_policy=_EE_POLICY).build_client_verifier())
    try:
        verified = verifier.verify(chain[0], chain[1:])
    except VerificationError as exc:
        return False, None, _tidy(str(exc))
    except ValueError as exc:  # malformed input the library refuses outright
        return False, None, _tidy(str(exc))
    return True, list(verified.chain), None


def _tidy(message: str) -> str:
    """The library's message without its object dump."""
    return message.split(" (encountered processing", 1)[0][:300]


# -- our diagnosis -------------------------------------------------------------------------------

def _reason(code: str, message: str, index: int | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"code": code, "message": message}
    if index is not None:
        out["certificate"] = index
    out.update(extra)
    return out


@dataclass
class Diagnosis:
    path: list[int]  # indices into the served chain, leaf first, as we walked it
    anchor: x509.Certificate | None  # the trusted root the walk ended at
    reasons: list[dict[str, Any]]  # why the chain is not trusted (empty: no objection of ours)
    issues: list[dict[str, Any]]  # how the served chain could be better, trusted or not


def walk(chain: list[x509.Certificate], trust: TrustStore) -> tuple[list[int], x509.Certificate | None, str]:
    """Leaf upwards through the served certificates; (path, anchor, how it ended).

    At each step a trusted root that issued the current certificate wins over a served
    one (as in a path builder that prefers the shortest path to a trust anchor).
    """
    path = [0]
    while len(path) <= MAX_DEPTH + 1:
        current = chain[path[-1]]
        if trust.contains(current):
            return path, current, "anchored"
        roots = trust.issuers_of(current)
        if roots:
            served = [i for i, c in enumerate(chain) if c.fingerprint(_SHA256) == roots[0].fingerprint(_SHA256)]
            return path + served[:1], roots[0], "anchored"  # a served copy of the root belongs to the path
        if self_signed(current):
            return path, None, "self_signed"
        nxt = next((i for i, c in enumerate(chain) if i not in path and issued_by(current, c)), None)
        if nxt is None:
            return path, None, "no_issuer"
        path.append(nxt)
    return path, None, "too_long"


def diagnose(chain: list[x509.Certificate], trust: TrustStore, now: datetime, served_count: int,
             verified: list[x509.Certificate] | None = None) -> Diagnosis:
    """Why the chain is (not) trusted, and what is wrong with how it is served.

    `verified` is the library's path when it found one: then only our extra objections
    (a weak leaf key, which the library does not look at) are reasons, and hygiene is
    judged against that path. Otherwise our own walk explains the failure.
    """
    if verified:
        index = {c.fingerprint(_SHA256): i for i, c in reversed(list(enumerate(chain)))}
        anchor = verified[-1]
        path = [index[c.fingerprint(_SHA256)] for c in verified if c.fingerprint(_SHA256) in index]
        reasons = [r for r in _path_reasons([(index.get(c.fingerprint(_SHA256)), c) for c in verified[:-1]], now)
                   if r["code"] in ("weak_key", "weak_signature")]
    else:
        path, anchor, ending = walk(chain, trust)
        reasons = _ending_reasons(chain, path, ending)
        anchor_print = anchor.fingerprint(_SHA256) if anchor is not None else None
        reasons += _path_reasons([(i, chain[i]) for i in path if chain[i].fingerprint(_SHA256) != anchor_print], now)
        if anchor is not None and rules.key_weakness(anchor):
            reasons.append(_reason("weak_key", f"trusted root {_cn(anchor)}: {rules.key_weakness(anchor)}"))
    issues = _hygiene(chain, path, anchor, served_count)
    if any(r["code"] == "missing_intermediate" for r in reasons):
        issues.insert(0, {"code": "missing_intermediate", "message": "an intermediate certificate is missing"})
    return Diagnosis(path, anchor, reasons, issues)


def _ending_reasons(chain: list[x509.Certificate], path: list[int], ending: str) -> list[dict[str, Any]]:
    top = chain[path[-1]]
    if ending == "self_signed":
        if path == [0]:
            return [_reason("self_signed", "the certificate is self-signed and not a trusted root", 0)]
        return [_reason("untrusted_root", f"the chain ends at {_cn(top)}, a root that is not trusted", path[-1])]
    if ending == "no_issuer":
        urls = ca_issuers(top)
        if not is_ca(top):
            fix = f"; its AIA caIssuers URL {urls[0]} names the missing certificate" if urls else ""
            return [_reason("missing_intermediate",
                            f"the issuer of {_cn(top)} ({_cn_name(top.issuer)}) was not served{fix}",
                            path[-1], aia_ca_issuers=urls)]
        return [_reason("unknown_issuer", f"{_cn(top)} is issued by {_cn_name(top.issuer)}, which is neither "
                        "served nor a trusted root", path[-1], aia_ca_issuers=urls)]
    if ending == "too_long":
        return [_reason("path_too_long", f"no trusted root within {MAX_DEPTH} intermediates")]
    return []


def _path_reasons(certs: list[tuple[int | None, x509.Certificate]], now: datetime) -> list[dict[str, Any]]:
    """Dates, keys and signatures of the certificates on a path (the trust anchor left out)."""
    reasons = []
    for i, cert in certs:
        if cert.not_valid_after_utc < now:
            reasons.append(_reason("expired", f"{_cn(cert)} expired on {_day(cert.not_valid_after_utc)}", i))
        elif cert.not_valid_before_utc > now:
            reasons.append(_reason("not_yet_valid", f"{_cn(cert)} is valid only from {_day(cert.not_valid_before_utc)}", i))
        weak = rules.key_weakness(cert)
        if weak:
            reasons.append(_reason("weak_key", f"{_cn(cert)}: {weak}", i))
        if not self_signed(cert):
            weak = rules.signature_weakness(cert)
            if weak:
                reasons.append(_reason("weak_signature", f"{_cn(cert)}: {weak}", i))
    return reasons


def _hygiene(chain: list[x509.Certificate], path: list[int], anchor, served_count: int) -> list[dict[str, Any]]:
    issues = []
    if path != sorted(path):
        issues.append({"code": "wrong_order", "message": "the certificates are not served in order, leaf first",
                       "served_order": [_cn(c) for c in chain]})
    prints = [c.fingerprint(_SHA256) for c in chain]
    for i, fp in enumerate(prints):
        if fp in prints[:i]:
            issues.append({"code": "duplicate", "message": f"{_cn(chain[i])} is served twice", "certificate": i})
    used = {prints[i] for i in path}
    unused = [i for i, fp in enumerate(prints) if fp not in used]
    if unused:
        issues.append({"code": "extra_certificates",
                       "message": f"{len(unused)} served certificate(s) are not on the path: "
                                  + ", ".join(_cn(chain[i]) for i in unused[:5]),
                       "certificates": unused[:20]})
    if anchor is not None and len(path) > 1 and anchor.fingerprint(_SHA256) in used:
        issues.append({"code": "root_served", "message": f"the root {_cn(anchor)} is sent along (harmless, wasted bytes)"})
    if served_count > len(chain):
        issues.append({"code": "chain_too_long",
                       "message": f"the server sent {served_count} certificates; only the first {len(chain)} were read"})
    return issues


def _cn_name(name: x509.Name) -> str:
    try:
        cns = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        if cns:
            return str(cns[0].value)[:120]
        return name.rfc4514_string()[:120] or "(empty name)"
    except ValueError:
        return "(unreadable name)"


def _cn(cert: x509.Certificate) -> str:
    return _cn_name(cert.subject)


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")

