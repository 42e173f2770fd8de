"""TLS pillar: protocol versions, cipher suites, key exchange, judged against a classification.

Facts come from scanner/probes/tls/probe.py. Which classification counts (NCSC-NL 2025 by
default, or Mozilla intermediate 6.0) is the policy threshold `tls.classification`;
every finding names the classification and level it applied, and its evidence lists
the offending versions, suites or groups.
"""

from __future__ import annotations

from typing import Any

from checks.catalogue import Phrase
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
from scanner.standards.tls_classification import DEFAULT, Classification, load
from scanner.standards.tls_registry import describe_suite

CLASSIFY = {"tls.classification": DEFAULT}


def classification(ctx: CheckContext) -> Classification:
    """The classification the policy names (threshold `tls.classification`)."""
    return load(ctx.thresholds.get("tls.classification", DEFAULT))


def _offered(ctx: CheckContext, version: str) -> bool:
    return bool(ctx.fact("tls", "protocols", version))


def version_verdict(protocols: dict[str, Any], versions: tuple[str, ...], cls: Classification,
                    what: Phrase) -> Outcome:
    """Fail when any of `versions` is offered; pass only when every one was tried and refused.

    A version the probe could not try (null) leaves "not offered" unproven: not measured,
    never a pass. Shared by HTTPS endpoints and by each MX after STARTTLS.
    """
    offered = [v for v in versions if protocols.get(v)]
    unknown = [v for v in versions if protocols.get(v) is None]
    rule = {v: cls.version(v) for v in versions}
    if offered:
        levels = [Phrase("tls:version_level", version=v, level=Phrase(f"tls:level_{rule[v]}")) for v in offered]
        return failed("tls:versions_offered", what=what, offered=offered, classification=cls.title, levels=levels,
                      evidence={"offered": offered, "classification": cls.id, "levels": rule})
    if unknown:
        refused = [v for v in versions if v not in unknown]
        if refused:
            raise NotMeasured("tls:versions_untried_some_refused", versions=unknown, refused=refused)
        raise NotMeasured("tls:versions_untried", versions=unknown)
    return passed("tls:versions_refused", what=what, versions=list(versions))


def _version_check(ctx: CheckContext, versions: tuple[str, ...], what: Phrase) -> Outcome:
    return version_verdict(ctx.fact("tls", "protocols"), versions, classification(ctx), what)


@check(
    "tls.protocol.ssl",
    pillar="tls", level="required", severity="critical", schemes=("https",),
    thresholds=CLASSIFY,
)
def ssl_versions(ctx: CheckContext):
    return _version_check(ctx, ("SSLv2", "SSLv3"), Phrase("tls:what_ssl"))


@check(
    "tls.protocol.tls10",
    pillar="tls", level="required", severity="high", schemes=("https",),
    thresholds=CLASSIFY,
)
def tls10(ctx: CheckContext):
    return _version_check(ctx, ("TLSv1.0", "TLSv1.1"), Phrase("tls:what_deprecated_tls"))


@check(
    "tls.protocol.tls13",
    pillar="tls", level="recommended", severity="low", schemes=("https",),
)
def tls13(ctx: CheckContext):
    if _offered(ctx, "TLSv1.3"):
        return passed("offered")
    return warned("not_offered")


@check(
    "tls.protocol.modern",
    pillar="tls", level="required", severity="high", schemes=("https",),
)
def modern(ctx: CheckContext):
    protocols = ctx.fact("tls", "protocols")
    versions = ("TLSv1.2", "TLSv1.3")
    offered = [v for v in versions if protocols.get(v)]
    if offered:
        return passed("offered", offered=offered, evidence={"offered": offered})
    unknown = [v for v in versions if protocols.get(v) is None]
    if unknown:
        raise NotMeasured("tls:versions_untried", versions=unknown)
    return failed("neither")


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


def classified_verdict(cls: Classification, levels: dict[str, str], what: str, evidence: dict[str, Any]) -> Outcome:
    """Fail on anything `insufficient`, warn on `phase_out`, naming the items; `levels` maps item -> level.

    `what` names the items: `tls:what_<what>` and `tls:what_<what>_lower` in the TLS catalogue.
    """
    bad = _graded(levels)
    evidence = {"classification": cls.id, **evidence, **bad}
    name = Phrase(f"tls:what_{what}")
    if bad.get("insufficient"):
        return failed("tls:rated_insufficient", what=name, classification=cls.title,
                      names=bad["insufficient"][:8], evidence=evidence)
    if bad.get("phase_out"):
        return warned("tls:rated_phase_out", what=name, classification=cls.title, names=bad["phase_out"][:8],
                      evidence=evidence)
    return passed("tls:rated_good", what_lower=Phrase(f"tls:what_{what}_lower"), classification=cls.title,
                  evidence=evidence)


@check(
    "tls.suites.classification",
    pillar="tls", level="required", severity="high", schemes=("https",),
    thresholds=CLASSIFY,
)
def suites_classified(ctx: CheckContext):
    cls = classification(ctx)
    levels = {n: cls.suite(n) for names in _suites(ctx).values() for n in names}
    if not levels:
        return not_applicable("no_suite")
    return classified_verdict(cls, levels, "suites", {"suites": len(levels)})


@check(
    "tls.suites.forward_secrecy",
    pillar="tls", level="required", severity="medium", schemes=("https",),
)
def forward_secrecy(ctx: CheckContext):
    suites = _suites(ctx)
    without = sorted({n for names in suites.values() for n in names
                      if not ((d := describe_suite(n)) and d.fs)})
    if not suites:
        return not_applicable("no_suite")
    if without:
        return failed("without", suites=without[:8], evidence={"without_forward_secrecy": without})
    return passed("all_ephemeral")


@check(
    "tls.suites.aead",
    pillar="tls", level="recommended", severity="low", schemes=("https",),
)
def aead(ctx: CheckContext):
    names = {n for names in _suites(ctx).values() for n in names}
    if not names:
        return not_applicable("no_suite")
    legacy = sorted(n for n in names if not ((d := describe_suite(n)) and d.aead))
    if not legacy:
        return passed("all_aead")
    evidence = {"not_aead": legacy}
    if len(legacy) == len(names):
        return failed("none_aead", evidence=evidence)
    return warned("some_not_aead", suites=legacy[:8], evidence=evidence)


# ---------------------------------------------------------------------------- key exchange


def _groups(ctx: CheckContext) -> list[str]:
    """The key-exchange groups accepted. TLS 1.3 always negotiates one, so none seen there is not measured."""
    groups = list(ctx.fact("tls", "groups"))
    if not groups and ctx.fact("tls", "protocols").get("TLSv1.3"):
        raise NotMeasured("tls:no_group_recorded")
    return groups


@check(
    "tls.groups.classification",
    pillar="tls", level="required", severity="medium", schemes=("https",),
    thresholds=CLASSIFY,
)
def groups_classified(ctx: CheckContext):
    cls = classification(ctx)
    groups = _groups(ctx)
    if not groups:
        return not_applicable("no_group")
    levels = {g: cls.group(g) for g in groups}
    return classified_verdict(cls, levels, "groups", {"groups": groups})


@check(
    "tls.groups.post_quantum",
    pillar="tls", level="optional", severity="info", schemes=("https",),
)
def post_quantum(ctx: CheckContext):
    groups = _groups(ctx)
    hybrid = [g for g in groups if "MLKEM" in g]
    if hybrid:
        return passed("hybrid", groups=hybrid, evidence={"hybrid": hybrid})
    return warned("no_hybrid")


@check(
    "tls.dh.size",
    pillar="tls", level="required", severity="high", schemes=("https",),
    thresholds={**CLASSIFY, "tls.dh_min_bits": 2048},
)
def dh_size(ctx: CheckContext):
    tls = ctx.section("tls")
    bits = ctx.answer("tls", "dh_bits")
    if bits is None:
        return not_applicable("no_dhe")
    cls = classification(ctx)
    used = [(d.get("dh_group"), d["dh_bits"]) for per in (tls.get("kx") or {}).values() for d in per.values()
            if "dh_bits" in d] or [(None, bits)]
    levels = {(name or f"custom {b}-bit"): cls.dh_group(name, b) for name, b in used}
    evidence = {"dh_bits": bits, "dh_groups": sorted(levels), "classification": cls.id}
    minimum = int(ctx.thresholds.get("tls.dh_min_bits", 2048))
    if bits < minimum or "insufficient" in levels.values():
        return failed("too_small", bits=bits, minimum=minimum, evidence=evidence)
    if "phase_out" in levels.values():
        weak = [n for n, level in levels.items() if level == "phase_out"]
        return warned("phase_out", classification=cls.title, groups=weak, evidence=evidence)
    return passed("strong", bits=bits, evidence=evidence)


@check(
    "tls.kx.hash",
    pillar="tls", level="recommended", severity="medium", schemes=("https",),
    thresholds=CLASSIFY,
)
def kx_hash(ctx: CheckContext):
    tls = ctx.section("tls")
    hashes = list(ctx.answer("tls", "kx_hashes") or [])
    if not hashes:
        return not_applicable("no_signed_kx")
    cls = classification(ctx)
    levels = {h: cls.hash(h) for h in hashes}
    return classified_verdict(cls, levels, "kx_hashes",
                              {"hashes": hashes, "signatures": list(tls.get("kx_signatures") or [])})
