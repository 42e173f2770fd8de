"""What every ServerHello of the enumeration shows for free about how the server behaves.

The enumeration's hellos already offer secure renegotiation (RFC 5746), Extended Master
Secret (RFC 7627) and encrypt-then-MAC (RFC 7366); a server that supports them echoes the
extension in its ServerHello. The key exchanges it sends carry its ephemeral public
values: one seen twice means the server reuses its (EC)DHE secret (Raccoon, lost forward
secrecy). So these facts cost no connection of their own.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from scanner.probes.tls import wire
from scanner.standards import certificate as cert_rules
from scanner.standards import tls_registry as reg

LEGACY_TLS = ("TLSv1.0", "TLSv1.1", "TLSv1.2")  # the versions these extensions exist in


def _all(values: list[bool]) -> bool | None:
    """True when every observation says yes, False when one says no, None without any."""
    return all(values) if values else None


def is_cbc(suite: int) -> bool:
    s = reg.suites().get(suite)
    return bool(s and "CBC" in s.enc)


@dataclass
class HelloSigns:
    renegotiation_info: list[bool] = field(default_factory=list)
    extended_master_secret: list[bool] = field(default_factory=list)
    encrypt_then_mac: list[bool] = field(default_factory=list)  # only answers that chose a CBC suite
    publics: dict[str, Counter] = field(default_factory=lambda: {"ecdhe": Counter(), "dhe": Counter()})

    def observe(self, sh: wire.ServerHello, kx: wire.KeyExchange | None = None) -> None:
        if sh.version in LEGACY_TLS:
            self.renegotiation_info.append(wire.EXT_RENEGOTIATION_INFO in sh.extensions)
            self.extended_master_secret.append(wire.EXT_EXTENDED_MASTER_SECRET in sh.extensions)
            if is_cbc(sh.suite):
                self.encrypt_then_mac.append(wire.EXT_ENCRYPT_THEN_MAC in sh.extensions)
        if sh.key_share is not None and sh.group is not None:
            group = reg.groups().get(sh.group)
            self.public("dhe" if group and group.kind == "ff" else "ecdhe", sh.key_share)
        if kx is not None and kx.public is not None:
            self.public(kx.kind, kx.public)

    def public(self, kind: str, value: bytes) -> None:
        """One ephemeral public value the server sent (kind `ecdhe` or `dhe`); only digests are kept."""
        if kind in self.publics:
            self.publics[kind][hashlib.sha256(value).digest()] += 1

    def reuse(self) -> dict[str, bool | None]:
        """Per kind: True when one public value came twice, None with fewer than two seen."""
        return {kind: (None if sum(c.values()) < 2 else max(c.values()) > 1) for kind, c in self.publics.items()}

    def facts(self) -> dict[str, Any]:
        return {
            "secure_renegotiation": _all(self.renegotiation_info),
            "extended_master_secret": _all(self.extended_master_secret),
            "encrypt_then_mac": _all(self.encrypt_then_mac),
            "ephemeral_reuse": self.reuse(),
        }


def spki_sha256(der: bytes) -> str | None:
    """The key digest of a DER certificate (an SSL 2.0 server's), None when it does not parse."""
    try:
        return cert_rules.spki_sha256(x509.load_der_x509_certificate(der))
    except ValueError:
        return None
