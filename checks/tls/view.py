"""One TLS verdict, two subjects: an HTTPS endpoint and each MX after STARTTLS.

A behaviour or attack verdict is a function of a `TlsView`: the TLS facts of one server,
the key of the certificate it serves, the policy's thresholds and what the run knows of
the whole estate (`CheckContext.estate`). `item` registers such a function as the
endpoint check `tls.<...>`; checks/mail/mx.py registers the same function per MX as
`mail.starttls.<...>`. Messages are shared (`tls:` codes in checks/texts/tls.toml).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from checks.registry import CheckContext, NotMeasured, Outcome, check
from scanner.standards import tls_registry as reg
from scanner.standards.tls_attacks import Attack

LEGACY_TLS = ("TLSv1.0", "TLSv1.1", "TLSv1.2")
UP_TO_TLS12 = ("SSLv3", *LEGACY_TLS)


def _leaf_key(certificate: Mapping[str, Any] | None) -> str | None:
    chain = (certificate or {}).get("chain") or []
    return chain[0].get("spki_sha256") if chain and not (certificate or {}).get("error") else None


@dataclass(frozen=True)
class TlsView:
    """What a part-two verdict may read about one server."""

    tls: Mapping[str, Any]
    target: str
    key: str | None = None  # SHA-256 of the served certificate's key (DROWN)
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    estate: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def endpoint(cls, ctx: CheckContext) -> TlsView:
        ctx.fact("tls", "protocols")  # no enumeration, no verdict
        return cls(ctx.section("tls"), ctx.target, _leaf_key(ctx.facts.get("certificate")), ctx.thresholds,
                   ctx.estate)

    @classmethod
    def mx(cls, ctx: CheckContext, mx: Mapping[str, Any], target: str) -> TlsView:
        tls = mx.get("tls")
        if not tls or tls.get("error") or not tls.get("protocols"):
            raise NotMeasured("tls:not_enumerated", reason=(tls or {}).get("error") or mx.get("tls_error") or "-")
        return cls(tls, target, _leaf_key(mx.get("certificate")), ctx.thresholds, ctx.estate)

    def offered(self, versions: tuple[str, ...] = reg.PROTOCOLS) -> list[str]:
        protocols = self.tls.get("protocols") or {}
        return [v for v in versions if protocols.get(v)]

    def untried(self, versions: tuple[str, ...]) -> list[str]:
        protocols = self.tls.get("protocols") or {}
        return [v for v in versions if protocols.get(v) is None]

    def part(self, section: str, key: str) -> Any:
        """A behaviour or vulnerability fact; NotMeasured when the probe did not run part two."""
        facts = self.tls.get(section)
        if facts is None or key not in facts:
            raise NotMeasured("common:fact_missing", fact=f"tls.{section}.{key}")
        return facts[key]

    def behaviour(self, key: str) -> Any:
        return self.part("behaviour", key)

    def vulnerability(self, key: str) -> Any:
        return self.part("vulnerabilities", key)

    def suites(self) -> Iterator[tuple[str, str, reg.CipherSuite | None]]:
        """(version, suite name, registry entry) for every accepted suite."""
        for version, names in (self.tls.get("cipher_suites") or {}).items():
            for name in names:
                yield version, name, reg.describe_suite(name)

    def exposed(self, attack: Attack) -> list[str]:
        """`version suite` for every accepted suite that exposes the server to `attack`."""
        return [f"{version} {name}" for version, name, suite in self.suites() if suite and attack.exposes(version, suite)]

    def not_measured_unless(self, versions: tuple[str, ...]) -> None:
        """Raise NotMeasured when whether any of `versions` is offered is unknown."""
        if self.untried(versions) and not self.offered(versions):
            raise NotMeasured("tls:versions_untried", versions=self.untried(versions))


def sslv2_keys(subject: Any) -> Iterator[tuple[str, str]]:
    """(target, key digest) for every server of a judged subject that speaks SSL 2.0: an
    endpoint, or each MX of a mail domain. The key is the SSL 2.0 certificate's, else the one
    it serves over TLS."""
    if subject.type == "endpoint":
        servers = [(subject.target, subject.facts.get("tls"), subject.facts.get("certificate"))]
    else:
        mail = subject.facts.get("mail") or {}
        servers = [(f"smtp://{mx.get('host')}:25", mx.get("tls"), mx.get("certificate"))
                   for mx in (mail.get("mx") or []) if isinstance(mx, Mapping)]
    for target, tls, certificate in servers:
        if tls and (tls.get("protocols") or {}).get("SSLv2"):
            key = tls.get("sslv2_spki_sha256") or _leaf_key(certificate)
            if key:
                yield target, key


Judge = Callable[[TlsView], Outcome]


@dataclass(frozen=True)
class Item:
    """One part-two verdict: its endpoint check, its per-MX mail check, how much it counts."""

    check: str
    mail: str | None
    judge: Judge
    level: str
    severity: str
    thresholds: Mapping[str, Any]


ITEMS: dict[str, Item] = {}


def item(check_id: str, *, mail: str | None, level: str, severity: str,
         thresholds: Mapping[str, Any] | None = None) -> Callable[[Judge], Judge]:
    """Register a verdict as the endpoint check `check_id` (and, by checks/mail/mx.py, as `mail`)."""

    def wrap(judge: Judge) -> Judge:
        ITEMS[check_id] = Item(check_id, mail, judge, level, severity, dict(thresholds or {}))
        check(check_id, pillar="tls", level=level, severity=severity, schemes=("https",),
              thresholds=thresholds)(lambda ctx: judge(TlsView.endpoint(ctx)))
        return judge

    return wrap
