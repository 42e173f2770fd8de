"""TLS pillar: protocol versions, cipher suites, key exchange, judged against a classification.

Facts come from scanner/probes/tls/probe.py. Which classification counts (NCSC-NL 2025 by
default, or Mozilla intermediate 6.0) is the policy threshold `tls.classification`;
every finding names the classification and level it applied, and its evidence lists
the offending versions, suites or groups.
"""

from __future__ import annotations

from typing import Any

from checks.common import MOZILLA_TLS, NCSC_TLS
from checks.registry import (
    CheckContext,
    NotMeasured,
    Outcome,
    check,
    failed,
    not_applicable,
    passed,
    warned,
)
from scanner.standards.tls_classification import DEFAULT, LABEL_NL, Classification, load
from scanner.standards.tls_registry import describe_suite

CLASSIFY = {"tls.classification": DEFAULT}


def classification(ctx: CheckContext) -> Classification:
    """The classification the policy names (threshold `tls.classification`)."""
    return load(ctx.thresholds.get("tls.classification", DEFAULT))


def _offered(ctx: CheckContext, version: str) -> bool:
    return bool(ctx.fact("tls", "protocols", version))


def version_verdict(protocols: dict[str, Any], versions: tuple[str, ...], cls: Classification,
                    what: str, what_nl: str) -> Outcome:
    """Fail when any of `versions` is offered; pass only when every one was tried and refused.

    A version the probe could not try (null) leaves "not offered" unproven: not measured,
    never a pass. Shared by HTTPS endpoints and by each MX after STARTTLS.
    """
    offered = [v for v in versions if protocols.get(v)]
    unknown = [v for v in versions if protocols.get(v) is None]
    rule = {v: cls.version(v) for v in versions}
    if offered:
        levels = ", ".join(f"{v} {rule[v]}" for v in offered)
        levels_nl = ", ".join(f"{v} {LABEL_NL.get(rule[v], rule[v])}" for v in offered)
        return failed(f"{what} offered: {', '.join(offered)} ({cls.title}: {levels})",
                      message_nl=f"{what_nl} aangeboden: {', '.join(offered)} ({cls.title}: {levels_nl})",
                      evidence={"offered": offered, "classification": cls.id, "levels": rule})
    if unknown:
        refused = [v for v in versions if v not in unknown]
        raise NotMeasured(f"{', '.join(unknown)} could not be tried"
                          + (f" ({', '.join(refused)} refused)" if refused else ""))
    return passed(f"{what} not offered: {', '.join(versions)} refused",
                  message_nl=f"{what_nl} niet aangeboden: {', '.join(versions)} geweigerd")


def _version_check(ctx: CheckContext, versions: tuple[str, ...], what: str, what_nl: str) -> Outcome:
    return version_verdict(ctx.fact("tls", "protocols"), versions, classification(ctx), what, what_nl)


@check(
    "tls.protocol.ssl",
    pillar="tls", level="required", severity="critical", schemes=("https",),
    title={"en": "SSL 2.0 and SSL 3.0 are not offered", "nl": "SSL 2.0 en SSL 3.0 worden niet aangeboden"},
    remediation={
        "en": "Disable SSLv2 and SSLv3 on the server; they are broken (DROWN, POODLE).",
        "nl": "Schakel SSLv2 en SSLv3 uit op de server; ze zijn gebroken (DROWN, POODLE).",
    },
    references=(NCSC_TLS, MOZILLA_TLS, "RFC 6176", "RFC 7568"), thresholds=CLASSIFY,
)
def ssl_versions(ctx: CheckContext):
    return _version_check(ctx, ("SSLv2", "SSLv3"), "SSL", "SSL")


@check(
    "tls.protocol.tls10",
    pillar="tls", level="required", severity="high", schemes=("https",),
    title={"en": "TLS 1.0 and TLS 1.1 are not offered", "nl": "TLS 1.0 en TLS 1.1 worden niet aangeboden"},
    remediation={
        "en": "Disable TLS 1.0 and 1.1 (deprecated by RFC 8996); offer TLS 1.2 and 1.3 only.",
        "nl": "Schakel TLS 1.0 en 1.1 uit (afgeschaft door RFC 8996); bied enkel TLS 1.2 en 1.3 aan.",
    },
    references=(NCSC_TLS, MOZILLA_TLS, "RFC 8996"), thresholds=CLASSIFY,
)
def tls10(ctx: CheckContext):
    return _version_check(ctx, ("TLSv1.0", "TLSv1.1"), "Deprecated TLS", "Verouderde TLS")


@check(
    "tls.protocol.tls13",
    pillar="tls", level="recommended", severity="low", schemes=("https",),
    title={"en": "TLS 1.3 is offered", "nl": "TLS 1.3 wordt aangeboden"},
    remediation={
        "en": "Enable TLS 1.3: it removes legacy key exchange and shortens the handshake.",
        "nl": "Schakel TLS 1.3 in: het schrapt verouderde sleuteluitwisseling en maakt de verbindingsopbouw korter.",
    },
    references=(NCSC_TLS, MOZILLA_TLS, "RFC 8446"),
)
def tls13(ctx: CheckContext):
    if _offered(ctx, "TLSv1.3"):
        return passed("TLS 1.3 offered", message_nl="TLS 1.3 wordt aangeboden")
    return warned("TLS 1.3 not offered", message_nl="TLS 1.3 wordt niet aangeboden")


@check(
    "tls.protocol.modern",
    pillar="tls", level="required", severity="high", schemes=("https",),
    title={"en": "TLS 1.2 or TLS 1.3 is offered", "nl": "TLS 1.2 of TLS 1.3 wordt aangeboden"},
    remediation={
        "en": "Enable TLS 1.2 and TLS 1.3; clients that follow current guidance accept nothing older.",
        "nl": "Schakel TLS 1.2 en TLS 1.3 in; clients die de huidige richtlijnen volgen aanvaarden niets ouder.",
    },
    references=(NCSC_TLS, MOZILLA_TLS),
)
def modern(ctx: CheckContext):
    protocols = ctx.fact("tls", "protocols")
    versions = ("TLSv1.2", "TLSv1.3")
    offered = [v for v in versions if protocols.get(v)]
    if offered:
        return passed(f"offered: {', '.join(offered)}", message_nl=f"aangeboden: {', '.join(offered)}",
                      evidence={"offered": offered})
    unknown = [v for v in versions if protocols.get(v) is None]
    if unknown:
        raise NotMeasured(f"{', '.join(unknown)} could not be tried")
    return failed("neither TLS 1.2 nor TLS 1.3 is offered", message_nl="noch TLS 1.2 noch TLS 1.3 wordt aangeboden")


# ---------------------------------------------------------------------------- suites


def _suites(ctx: CheckContext) -> dict[str, list[str]]:
    suites = ctx.fact("tls", "cipher_suites")
    return {v: list(names) for v, names in suites.items() if names}


def _graded(items: dict[str, str]) -> dict[str, list[str]]:
    """level -> names, for the levels below `sufficient`."""
    out: dict[str, list[str]] = {}
    for name, level in items.items():
        if level in ("phase_out", "insufficient"):
            out.setdefault(level, []).append(name)
    return out


def classified_verdict(cls: Classification, levels: dict[str, str], what: str, what_nl: str,
                       evidence: dict[str, Any]) -> Outcome:
    """Fail on anything `insufficient`, warn on `phase_out`, naming the items; `levels` maps item -> level."""
    bad = _graded(levels)
    evidence = {"classification": cls.id, **evidence, **bad}
    if bad.get("insufficient"):
        names = ", ".join(bad["insufficient"][:8])
        return failed(f"{what} rated insufficient by {cls.title}: {names}",
                      message_nl=f"{what_nl} met niveau '{LABEL_NL['insufficient']}' volgens {cls.title}: {names}",
                      evidence=evidence)
    if bad.get("phase_out"):
        names = ", ".join(bad["phase_out"][:8])
        return warned(f"{what} to phase out per {cls.title}: {names}",
                      message_nl=f"{what_nl} met niveau '{LABEL_NL['phase_out']}' volgens {cls.title}: {names}",
                      evidence=evidence)
    return passed(f"all {what.lower()} are good or sufficient per {cls.title}",
                  message_nl=f"alle {what_nl.lower()} zijn goed of voldoende volgens {cls.title}", evidence=evidence)


@check(
    "tls.suites.classification",
    pillar="tls", level="required", severity="high", schemes=("https",),
    title={"en": "Only good or sufficient cipher suites are offered",
           "nl": "Enkel goede of voldoende cipher suites worden aangeboden"},
    remediation={
        "en": "Remove the cipher suites the evidence lists; keep ECDHE with AES-GCM or ChaCha20-Poly1305.",
        "nl": "Verwijder de cipher suites die het bewijs opsomt; behoud ECDHE met AES-GCM of ChaCha20-Poly1305.",
    },
    references=(NCSC_TLS, MOZILLA_TLS, "IANA TLS Cipher Suites registry"), thresholds=CLASSIFY,
)
def suites_classified(ctx: CheckContext):
    cls = classification(ctx)
    levels = {n: cls.suite(n) for names in _suites(ctx).values() for n in names}
    if not levels:
        return not_applicable("no cipher suite accepted", message_nl="geen enkele cipher suite aanvaard")
    return classified_verdict(cls, levels, "Cipher suites", "Cipher suites", {"suites": len(levels)})


@check(
    "tls.suites.forward_secrecy",
    pillar="tls", level="required", severity="medium", schemes=("https",),
    title={"en": "Every cipher suite has forward secrecy", "nl": "Elke cipher suite biedt forward secrecy"},
    remediation={
        "en": "Remove suites with RSA or static (EC)DH key exchange; offer only ECDHE (or DHE) suites.",
        "nl": "Verwijder suites met RSA- of statische (EC)DH-sleuteluitwisseling; bied enkel ECDHE- (of DHE-)suites aan.",
    },
    references=(NCSC_TLS, MOZILLA_TLS, "RFC 9325 (BCP 195)"),
)
def forward_secrecy(ctx: CheckContext):
    suites = _suites(ctx)
    without = sorted({n for names in suites.values() for n in names
                      if not ((d := describe_suite(n)) and d.fs)})
    if not suites:
        return not_applicable("no cipher suite accepted", message_nl="geen enkele cipher suite aanvaard")
    if without:
        return failed(f"suites without forward secrecy: {', '.join(without[:8])}",
                      message_nl=f"suites zonder forward secrecy: {', '.join(without[:8])}",
                      evidence={"without_forward_secrecy": without})
    return passed("every accepted suite uses ephemeral key exchange",
                  message_nl="elke aanvaarde suite gebruikt een efemere sleuteluitwisseling")


@check(
    "tls.suites.aead",
    pillar="tls", level="recommended", severity="low", schemes=("https",),
    title={"en": "Only AEAD ciphers are offered", "nl": "Enkel AEAD-versleuteling wordt aangeboden"},
    remediation={
        "en": "Remove CBC, RC4 and NULL suites; keep AES-GCM and ChaCha20-Poly1305, as TLS 1.3 requires.",
        "nl": "Verwijder CBC-, RC4- en NULL-suites; behoud AES-GCM en ChaCha20-Poly1305, zoals TLS 1.3 vereist.",
    },
    references=(NCSC_TLS, MOZILLA_TLS, "RFC 8446"),
)
def aead(ctx: CheckContext):
    names = {n for names in _suites(ctx).values() for n in names}
    if not names:
        return not_applicable("no cipher suite accepted", message_nl="geen enkele cipher suite aanvaard")
    legacy = sorted(n for n in names if not ((d := describe_suite(n)) and d.aead))
    if not legacy:
        return passed("every accepted suite is AEAD", message_nl="elke aanvaarde suite is AEAD")
    evidence = {"not_aead": legacy}
    if len(legacy) == len(names):
        return failed("no AEAD cipher suite accepted", message_nl="geen enkele AEAD-suite aanvaard", evidence=evidence)
    return warned(f"non-AEAD suites offered: {', '.join(legacy[:8])}",
                  message_nl=f"niet-AEAD-suites aangeboden: {', '.join(legacy[:8])}", evidence=evidence)


# ---------------------------------------------------------------------------- key exchange


def _groups(ctx: CheckContext) -> list[str]:
    """The key-exchange groups accepted. TLS 1.3 always negotiates one, so none seen there is not measured."""
    groups = list(ctx.fact("tls", "groups"))
    if not groups and ctx.fact("tls", "protocols").get("TLSv1.3"):
        raise NotMeasured("TLS 1.3 is offered but no key-exchange group was recorded")
    return groups


@check(
    "tls.groups.classification",
    pillar="tls", level="required", severity="medium", schemes=("https",),
    title={"en": "Only good or sufficient key-exchange groups are accepted",
           "nl": "Enkel goede of voldoende groepen voor sleuteluitwisseling worden aanvaard"},
    remediation={
        "en": "Restrict the server's groups (curves) to X25519MLKEM768, x25519, secp256r1 and secp384r1.",
        "nl": "Beperk de groepen (curves) van de server tot X25519MLKEM768, x25519, secp256r1 en secp384r1.",
    },
    references=(NCSC_TLS, MOZILLA_TLS, "RFC 8446 §4.2.7", "RFC 7919"), thresholds=CLASSIFY,
)
def groups_classified(ctx: CheckContext):
    cls = classification(ctx)
    groups = _groups(ctx)
    if not groups:
        return not_applicable("no (EC)DHE group negotiated", message_nl="geen (EC)DHE-groep onderhandeld")
    levels = {g: cls.group(g) for g in groups}
    return classified_verdict(cls, levels, "Groups", "Groepen", {"groups": groups})


@check(
    "tls.groups.post_quantum",
    pillar="tls", level="optional", severity="info", schemes=("https",),
    title={"en": "A post-quantum hybrid key exchange is offered",
           "nl": "Een post-kwantum hybride sleuteluitwisseling wordt aangeboden"},
    remediation={
        "en": "Enable X25519MLKEM768 (OpenSSL 3.5 and later do by default) against harvest-now-decrypt-later.",
        "nl": "Schakel X25519MLKEM768 in (OpenSSL 3.5 en later doen dat standaard) tegen 'nu oogsten, later ontcijferen'.",
    },
    references=(NCSC_TLS, "draft-ietf-tls-ecdhe-mlkem", "draft-ietf-tls-hybrid-design"),
)
def post_quantum(ctx: CheckContext):
    groups = _groups(ctx)
    hybrid = [g for g in groups if "MLKEM" in g]
    if hybrid:
        return passed(f"hybrid groups: {', '.join(hybrid)}", message_nl=f"hybride groepen: {', '.join(hybrid)}",
                      evidence={"hybrid": hybrid})
    return warned("no post-quantum hybrid group accepted", message_nl="geen post-kwantum hybride groep aanvaard")


@check(
    "tls.dh.size",
    pillar="tls", level="required", severity="high", schemes=("https",),
    title={"en": "Finite-field Diffie-Hellman uses a strong group",
           "nl": "Finite-field Diffie-Hellman gebruikt een sterke groep"},
    remediation={
        "en": "Use ffdhe3072 or larger (RFC 7919) for DHE suites, or remove DHE suites in favour of ECDHE.",
        "nl": "Gebruik ffdhe3072 of groter (RFC 7919) voor DHE-suites, of vervang DHE-suites door ECDHE.",
    },
    references=(NCSC_TLS, MOZILLA_TLS, "RFC 7919", "Logjam (weakdh.org)"),
    thresholds={**CLASSIFY, "tls.dh_min_bits": 2048},
)
def dh_size(ctx: CheckContext):
    tls = ctx.section("tls")
    bits = ctx.answer("tls", "dh_bits")
    if bits is None:
        return not_applicable("no DHE suite accepted", message_nl="geen DHE-suite aanvaard")
    cls = classification(ctx)
    used = [(d.get("dh_group"), d["dh_bits"]) for per in (tls.get("kx") or {}).values() for d in per.values()
            if "dh_bits" in d] or [(None, bits)]
    levels = {(name or f"custom {b}-bit"): cls.dh_group(name, b) for name, b in used}
    evidence = {"dh_bits": bits, "dh_groups": sorted(levels), "classification": cls.id}
    minimum = int(ctx.thresholds.get("tls.dh_min_bits", 2048))
    if bits < minimum or "insufficient" in levels.values():
        return failed(f"DHE with a {bits}-bit group (minimum {minimum})",
                      message_nl=f"DHE met een groep van {bits} bits (minimum {minimum})", evidence=evidence)
    if "phase_out" in levels.values():
        weak = [n for n, level in levels.items() if level == "phase_out"]
        return warned(f"DHE group to phase out per {cls.title}: {', '.join(weak)}",
                      message_nl=f"DHE-groep uit te faseren volgens {cls.title}: {', '.join(weak)}", evidence=evidence)
    return passed(f"DHE groups of at least {bits} bits", message_nl=f"DHE-groepen van minstens {bits} bits",
                  evidence=evidence)


@check(
    "tls.kx.hash",
    pillar="tls", level="recommended", severity="medium", schemes=("https",),
    title={"en": "Key exchange is signed with a SHA-2 hash",
           "nl": "De sleuteluitwisseling is ondertekend met een SHA-2-hashfunctie"},
    remediation={
        "en": "Let the server sign its key exchange with SHA-256 or stronger; drop SHA-1 signature algorithms.",
        "nl": "Laat de server zijn sleuteluitwisseling ondertekenen met SHA-256 of sterker; schrap SHA-1-handtekeningalgoritmen.",
    },
    references=(NCSC_TLS, "RFC 9155"), thresholds=CLASSIFY,
)
def kx_hash(ctx: CheckContext):
    tls = ctx.section("tls")
    hashes = list(ctx.answer("tls", "kx_hashes") or [])
    if not hashes:
        return not_applicable("no signed key exchange observed", message_nl="geen ondertekende sleuteluitwisseling gezien")
    cls = classification(ctx)
    levels = {h: cls.hash(h) for h in hashes}
    return classified_verdict(cls, levels, "Key-exchange hashes", "Hashfuncties voor sleuteluitwisseling",
                    {"hashes": hashes, "signatures": list(tls.get("kx_signatures") or [])})
