"""TLS pillar: protocol versions (first cut; the TLS pillar issue adds suites and groups)."""

from __future__ import annotations

from checks.registry import CheckContext, check, failed, passed, warned

NCSC = "NCSC-NL ICT-beveiligingsrichtlijnen voor TLS (2025)"
MOZ = "Mozilla Server Side TLS 6.0 (intermediate)"


def _offered(ctx: CheckContext, version: str) -> bool:
    return bool(ctx.fact("tls", "protocols", version))


def _version_check(ctx: CheckContext, versions: tuple[str, ...], what: str):
    protocols = ctx.fact("tls", "protocols")
    offered = [v for v in versions if protocols.get(v)]
    unknown = [v for v in versions if protocols.get(v) is None]
    if offered:
        return failed(f"{what} offered: {', '.join(offered)}", evidence={"offered": offered})
    if unknown:
        return passed(f"{what} not offered (not tested: {', '.join(unknown)})", evidence={"not_tested": unknown})
    return passed(f"{what} not offered")


@check(
    "tls.protocol.ssl",
    pillar="tls", level="required", severity="critical", schemes=("https",),
    title={"en": "SSL 2.0 and SSL 3.0 are not offered", "nl": "SSL 2.0 en SSL 3.0 worden niet aangeboden"},
    remediation={
        "en": "Disable SSLv2 and SSLv3 on the server; they are broken (DROWN, POODLE).",
        "nl": "Schakel SSLv2 en SSLv3 uit op de server; ze zijn gebroken (DROWN, POODLE).",
    },
    references=(NCSC, MOZ, "RFC 6176", "RFC 7568"),
    controls=("NIST-CSF-2.0:PR.DS-02",),
)
def ssl_versions(ctx: CheckContext):
    return _version_check(ctx, ("SSLv2", "SSLv3"), "SSL")


@check(
    "tls.protocol.tls10",
    pillar="tls", level="required", severity="high", schemes=("https",),
    title={"en": "TLS 1.0 and TLS 1.1 are not offered", "nl": "TLS 1.0 en TLS 1.1 worden niet aangeboden"},
    remediation={
        "en": "Disable TLS 1.0 and 1.1 (deprecated by RFC 8996); offer TLS 1.2 and 1.3 only.",
        "nl": "Schakel TLS 1.0 en 1.1 uit (afgeschaft door RFC 8996); bied enkel TLS 1.2 en 1.3 aan.",
    },
    references=(NCSC, MOZ, "RFC 8996"),
    controls=("NIST-CSF-2.0:PR.DS-02",),
)
def tls10(ctx: CheckContext):
    return _version_check(ctx, ("TLSv1.0", "TLSv1.1"), "Deprecated TLS")


@check(
    "tls.protocol.tls13",
    pillar="tls", level="recommended", severity="low", schemes=("https",),
    title={"en": "TLS 1.3 is offered", "nl": "TLS 1.3 wordt aangeboden"},
    remediation={
        "en": "Enable TLS 1.3: it removes legacy key exchange and shortens the handshake.",
        "nl": "Schakel TLS 1.3 in: het schrapt verouderde sleuteluitwisseling en verkort de handdruk.",
    },
    references=(NCSC, MOZ, "RFC 8446"),
)
def tls13(ctx: CheckContext):
    if _offered(ctx, "TLSv1.3"):
        return passed("TLS 1.3 offered")
    return warned("TLS 1.3 not offered")


@check(
    "tls.protocol.modern",
    pillar="tls", level="required", severity="high", schemes=("https",),
    title={"en": "TLS 1.2 or TLS 1.3 is offered", "nl": "TLS 1.2 of TLS 1.3 wordt aangeboden"},
    remediation={
        "en": "Enable TLS 1.2 and TLS 1.3; clients that follow current guidance accept nothing older.",
        "nl": "Schakel TLS 1.2 en TLS 1.3 in; clients die de huidige richtlijnen volgen aanvaarden niets ouder.",
    },
    references=(NCSC, MOZ),
)
def modern(ctx: CheckContext):
    protocols = ctx.fact("tls", "protocols")
    offered = [v for v in ("TLSv1.2", "TLSv1.3") if protocols.get(v)]
    if offered:
        return passed(f"offered: {', '.join(offered)}", evidence={"offered": offered})
    return failed("neither TLS 1.2 nor TLS 1.3 is offered")
