"""Mail pillar: spoofing protection (SPF, DMARC per RFC 9989, null MX) and transport security of the MX.

Every registrable domain of a service is judged, declared mail domain or not: a domain
that sends no mail should say so (null MX, `v=spf1 -all`, DMARC `p=reject`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from checks.catalogue import Phrase
from checks.certificate import chain_validity
from checks.registry import (
    CheckContext,
    NotMeasured,
    Outcome,
    check,
    error,
    failed,
    not_applicable,
    passed,
    warned,
)
from checks.tls import classification, classified_verdict, version_verdict
from scanner.standards.mail import SPF_LOOKUP_LIMIT, SPF_VOID_LIMIT
from scanner.standards.tls_classification import DEFAULT

OLD_VERSIONS = ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1")


def _receives_mail(ctx: CheckContext) -> bool:
    """Whether the domain has mail servers (NotMeasured when its MX could not be looked up)."""
    if ctx.section("mail").get("mx_error"):
        raise NotMeasured.because(ctx.section("mail")["mx_error"])
    return not ctx.fact("mail", "null_mx") and bool(ctx.answer("mail", "mx"))


SENDER_MECHANISMS = ("a", "mx", "ip4", "ip6", "include", "exists", "ptr")


def _sends_mail(ctx: CheckContext) -> bool:
    """Whether the domain sends mail: it receives mail, or its SPF authorises some sender.

    A domain that does neither should say so in the strictest terms (SPF -all, DMARC reject).
    """
    if _receives_mail(ctx):
        return True
    record = (ctx.fact("mail", "spf").get("record") or "").lower().split()[1:]
    return any(t.lstrip("+-~?").split(":", 1)[0].split("/", 1)[0] in SENDER_MECHANISMS
               or t.startswith("redirect=") for t in record)


def _read(ctx: CheckContext, part: str) -> dict:
    """The SPF or DMARC facts; NotMeasured when the lookups behind them failed."""
    facts = ctx.fact("mail", part)
    if facts.get("error"):
        raise NotMeasured.because(facts["error"])
    return facts


def _no_mail() -> Outcome:
    return not_applicable("no_mail")


def _not_measured(detail: Phrase, **outcome) -> Outcome:
    """The `error` outcome the engine makes of NotMeasured, for one MX of several."""
    return error("common:not_measured", detail=detail, **outcome)


def _mx_target(mx: dict) -> str:
    return f"smtp://{mx['host']}:25"


def _per_starttls_mx(ctx: CheckContext, judge: Callable[[dict], Outcome]) -> Outcome | list[Outcome]:
    """One outcome per MX that speaks STARTTLS, from `judge(mx)`, aimed at that MX.

    An MX that could not be asked (or whose TLS was not read) is an error for that MX, never
    skipped; one that refuses STARTTLS is left to mail.starttls.
    """
    if not _receives_mail(ctx):
        return _no_mail()
    out = []
    for mx in ctx.fact("mail", "mx"):
        if mx.get("starttls") is False:
            continue
        try:
            if mx.get("starttls") is None:
                raise NotMeasured.because(mx.get("error"), "mx_silent")
            outcome = judge(mx)
        except NotMeasured as exc:
            outcome = _not_measured(Phrase(exc.code, **exc.params))
        out.append(replace(outcome, target=_mx_target(mx), key=mx["host"]))
    return out or not_applicable("no_starttls")


@check(
    "mail.spf",
    pillar="mail", level="required", severity="high", subject="mail_domain",
)
def spf(ctx: CheckContext):
    facts = _read(ctx, "spf")
    evidence = {"record": facts.get("record")}
    if facts.get("records", 0) > 1:
        return failed("several", count=facts["records"])
    if not facts.get("record"):
        return failed("no_spf")
    policy = facts.get("all")
    if facts.get("redirect") and not policy:
        # RFC 7208 §6.1: without `all`, the redirect target's policy is this domain's
        if facts.get("redirect_error"):
            raise NotMeasured("redirect_failed", domain=facts["redirect"], reason=facts["redirect_error"])
        if "redirect_all" not in facts:
            raise NotMeasured("redirect_unread", domain=facts["redirect"])
        if not facts.get("redirect_all"):
            return failed("redirect_without_all", domain=facts["redirect"],
                          evidence=evidence | {"redirect": facts["redirect"]})
        policy = facts["redirect_all"]
        evidence["redirect"] = facts["redirect"]
    qualifier = (policy or "")[:1]
    if qualifier == "-":
        return passed("hard_fail", evidence=evidence)
    if qualifier == "~":
        if not _sends_mail(ctx):
            return failed("soft_fail_without_mail", evidence=evidence)
        return warned("soft_fail", evidence=evidence)
    if qualifier in ("+", "?"):
        return failed("open", policy=policy, evidence=evidence)
    return warned("no_all", evidence=evidence)


@check(
    "mail.spf.lookups",
    pillar="mail", level="recommended", severity="medium", subject="mail_domain",
)
def spf_lookups(ctx: CheckContext):
    facts = _read(ctx, "spf")
    if not facts.get("record"):
        return not_applicable("no_spf")
    lookups, void = facts.get("lookups"), facts.get("void_lookups") or 0
    if lookups is None:
        raise NotMeasured("not_counted")
    evidence = {"lookups": lookups, "void_lookups": void}
    if lookups > SPF_LOOKUP_LIMIT:
        return failed("too_many", lookups=lookups, limit=SPF_LOOKUP_LIMIT, evidence=evidence)
    if void > SPF_VOID_LIMIT:
        return failed("too_many_void", void=void, limit=SPF_VOID_LIMIT, evidence=evidence)
    if facts.get("lookup_error"):  # counting stopped early: the true count may be higher
        raise NotMeasured("counted_up_to", lookups=lookups, reason=facts["lookup_error"])
    return passed("within", lookups=lookups, evidence=evidence)


@check(
    "mail.dmarc",
    pillar="mail", level="required", severity="high", subject="mail_domain",
)
def dmarc(ctx: CheckContext):
    facts = _read(ctx, "dmarc")
    if facts.get("records", 0) > 1:
        return failed("several")
    if not facts.get("record"):
        return failed("none")
    inherited = facts.get("inherited")
    # An inherited policy applies to us as an (existing) subdomain: sp, else p.
    policy = (facts.get("sp") or facts.get("p")) if inherited else facts.get("p")
    evidence = {"record": facts["record"], "found_at": facts.get("found_at")}
    if (facts.get("t") or "n").lower() == "y":
        return warned("testing", policy=policy, evidence=evidence)
    if policy == "reject":
        if inherited:
            return passed("reject_inherited", found_at=facts["found_at"], evidence=evidence)
        return passed("reject", evidence=evidence)
    if policy == "quarantine":
        if not _sends_mail(ctx):
            return failed("quarantine_without_mail", evidence=evidence)
        return warned("quarantine", evidence=evidence)
    if policy is None:
        return failed("no_policy", evidence=evidence)
    return failed("delivered", policy=policy, evidence=evidence)


@check(
    "mail.dmarc.reporting",
    pillar="mail", level="recommended", severity="low", subject="mail_domain",
)
def dmarc_reporting(ctx: CheckContext):
    facts = _read(ctx, "dmarc")
    if not facts.get("record"):
        return not_applicable("no_dmarc")
    if facts.get("rua"):
        return passed("reports", rua=facts["rua"], evidence={"rua": facts["rua"]})
    return warned("no_rua")


@check(
    "mail.null_mx",
    pillar="mail", level="recommended", severity="low", subject="mail_domain",
)
def null_mx(ctx: CheckContext):
    if ctx.fact("mail", "null_mx"):
        return passed("published")
    if ctx.answer("mail", "mx"):
        return not_applicable("receives_mail")
    return warned("missing")


@check(
    "mail.starttls",
    pillar="mail", level="required", severity="high", subject="mail_domain",
)
def starttls(ctx: CheckContext):
    if not _receives_mail(ctx):
        return _no_mail()
    out = []
    for mx in ctx.fact("mail", "mx"):
        target = _mx_target(mx)
        if mx.get("starttls") is True and mx.get("protocol"):
            out.append(passed("offered", protocol=mx["protocol"], target=target, key=mx["host"]))
        elif mx.get("starttls") is True:
            out.append(failed("handshake_failed", error=mx.get("tls_error"), target=target, key=mx["host"]))
        elif mx.get("starttls") is False:
            out.append(failed("not_offered", target=target, key=mx["host"]))
        else:
            reason = Phrase("common:probe_reason", reason=mx["error"]) if mx.get("error") else Phrase("no_answer")
            out.append(_not_measured(reason, target=target, key=mx["host"]))
    return out


@check(
    "mail.starttls.protocol",
    pillar="mail", level="required", severity="medium", subject="mail_domain",
    thresholds={"tls.classification": DEFAULT},
)
def starttls_protocol(ctx: CheckContext):
    cls = classification(ctx)

    def judge(mx: dict) -> Outcome:
        protocols = mx.get("protocols") or {}
        if not any(protocols.values()):
            raise NotMeasured.because(mx.get("tls_error"), "no_version")
        return version_verdict(protocols, OLD_VERSIONS, cls, Phrase("tls:what_old_versions"))

    return _per_starttls_mx(ctx, judge)


@check(
    "mail.starttls.suites",
    pillar="mail", level="recommended", severity="medium", subject="mail_domain",
    thresholds={"tls.classification": DEFAULT},
)
def starttls_suites(ctx: CheckContext):
    cls = classification(ctx)

    def judge(mx: dict) -> Outcome:
        tls = mx.get("tls")
        if not tls or tls.get("error"):
            raise NotMeasured("not_enumerated", reason=(tls or {}).get("error") or mx.get("tls_error"))
        levels = {n: cls.suite(n) for names in (tls.get("cipher_suites") or {}).values() for n in names}
        if not levels:
            raise NotMeasured("none_enumerated")
        return classified_verdict(cls, levels, "suites", {"suites": len(levels)})

    return _per_starttls_mx(ctx, judge)


@check(
    "mail.starttls.certificate",
    pillar="mail", level="recommended", severity="medium", subject="mail_domain",
)
def starttls_certificate(ctx: CheckContext):
    def judge(mx: dict) -> Outcome:
        cert = mx.get("certificate")
        if not cert or cert.get("error"):
            raise NotMeasured.because((cert or {}).get("error") or mx.get("tls_error"), "no_certificate")
        validity = {"certificates": chain_validity(ctx, cert.get("chain") or [])}  # for the expiry watch
        if cert.get("trusted") and cert.get("hostname_match"):
            return passed("valid", evidence=validity)
        if cert.get("trusted") is None or cert.get("hostname_match") is None:
            raise NotMeasured("not_judged")
        evidence = {"san": (cert.get("chain") or [{}])[0].get("san", [])[:10]} | validity
        if cert["trusted"]:
            return failed("not_named", host=mx["host"], evidence=evidence)
        reasons = cert.get("trust_reasons") or [{"message": cert.get("trust_error") or Phrase("no_trusted_path")}]
        return failed("untrusted", host=mx["host"], reason=reasons[0]["message"], evidence=evidence)

    return _per_starttls_mx(ctx, judge)


def _mx_pattern_matches(pattern: str, host: str) -> bool:
    """RFC 8461 §4.1: an exact name, or `*.` covering exactly one left-most label."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        return "." in host and host.split(".", 1)[1] == pattern[2:]
    return pattern == host


@check(
    "mail.mta_sts",
    pillar="mail", level="recommended", severity="low", subject="mail_domain",
)
def mta_sts(ctx: CheckContext):
    if not _receives_mail(ctx):
        return _no_mail()
    facts = ctx.fact("mail", "mta_sts")
    hosts = ctx.fact("mail", "mx")
    if not facts.get("record"):
        if all(mx.get("tlsa") and mx.get("tlsa_dnssec") == "secure" for mx in hosts):
            return passed("dane_instead")
        return warned("no_record")
    mode = facts.get("mode")
    if facts.get("policy_error"):
        return failed("policy_unreadable", error=facts["policy_error"])
    if facts.get("policy") is None:
        return failed("no_policy", status=facts.get("policy_status"))
    patterns = facts["policy"].get("mx", [])
    cut = {k: facts[k] for k in ("policy_truncated", "policy_bytes") if k in facts}  # judged on what was read
    uncovered = [mx["host"] for mx in hosts if not any(_mx_pattern_matches(p, mx["host"]) for p in patterns)]
    if mode == "enforce" and uncovered:
        return failed("mx_not_listed", hosts=uncovered, evidence={"policy_mx": patterns, "uncovered": uncovered, **cut})
    if mode == "enforce":
        return passed("enforced", evidence={"policy_mx": patterns, **cut})
    return warned("mode", mode=mode or Phrase("mode_missing"), evidence=cut)


@check(
    "mail.tls_rpt",
    pillar="mail", level="optional", severity="info", subject="mail_domain",
)
def tls_rpt(ctx: CheckContext):
    if not _receives_mail(ctx):
        return _no_mail()
    record = ctx.answer("mail", "tls_rpt")
    if record:
        return passed("published", evidence={"record": record})
    return warned("missing")


@check(
    "mail.dane",
    pillar="mail", level="optional", severity="low", subject="mail_domain",
)
def dane(ctx: CheckContext):
    if not _receives_mail(ctx):
        return _no_mail()
    out = []
    for mx in ctx.fact("mail", "mx"):
        target, status = _mx_target(mx), mx.get("tlsa_dnssec")
        if mx.get("tlsa") is None:
            out.append(_not_measured(Phrase("not_looked_up"), target=target, key=mx["host"]))
        elif not mx["tlsa"]:
            out.append(warned("no_records", target=target, key=mx["host"]))
        elif status == "secure":
            out.append(passed("signed", target=target, key=mx["host"]))
        elif status == "bogus":
            out.append(failed("bogus", target=target, key=mx["host"], severity="high"))
        elif status is None:
            out.append(_not_measured(Phrase("dnssec_unknown"), target=target, key=mx["host"]))
        else:
            out.append(warned("unsigned", target=target, key=mx["host"]))
    return out
