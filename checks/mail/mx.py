"""The mail servers (MX): null MX for a domain without mail, STARTTLS, the TLS it starts (its
versions and suites, and per MX the TLS pillar's behaviour and attack verdicts), the
certificate, and DANE (RFC 7672) with the TLSA records matched against the served chain.
"""

from __future__ import annotations

from collections.abc import Callable

from checks.catalogue import Phrase
from checks.certificate import chain_validity
from checks.mail.common import mx_target, no_mail, not_measured, per_mx, receives_mail
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
from checks.tls import attacks as _tls_attacks  # noqa: F401  (registers the shared TLS verdicts)
from checks.tls import behaviour as _tls_behaviour  # noqa: F401
from checks.tls.protocol import classification, classified_verdict, version_verdict
from checks.tls.view import ITEMS, Item, TlsView
from scanner.standards.tls_classification import DEFAULT

OLD_VERSIONS = ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1")
DANE_USAGES = ("DANE-TA", "DANE-EE")  # RFC 7672 §3.1.3: SMTP clients treat PKIX-TA and PKIX-EE as unusable


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
    if not receives_mail(ctx):
        return no_mail()
    out = []
    for mx in ctx.fact("mail", "mx"):
        target = mx_target(mx)
        if mx.get("starttls") is True and mx.get("protocol"):
            out.append(passed("offered", protocol=mx["protocol"], target=target, key=mx["host"]))
        elif mx.get("starttls") is True:
            out.append(failed("handshake_failed", error=mx.get("tls_error"), target=target, key=mx["host"]))
        elif mx.get("starttls") is False:
            out.append(failed("not_offered", target=target, key=mx["host"]))
        else:
            reason = Phrase("common:probe_reason", reason=mx["error"]) if mx.get("error") else Phrase("no_answer")
            out.append(not_measured(reason, target=target, key=mx["host"]))
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

    return per_mx(ctx, judge)


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

    return per_mx(ctx, judge)


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

    return per_mx(ctx, judge)


@check(
    "mail.dane",
    pillar="mail", level="optional", severity="low", subject="mail_domain",
)
def dane(ctx: CheckContext):
    return per_mx(ctx, _dane_verdict, starttls_only=False)


def _dane_verdict(mx: dict) -> Outcome:
    """RFC 7672 for one MX: signed TLSA records, and of the usable ones, one that matches."""
    status = mx.get("tlsa_dnssec")
    if mx.get("tlsa") is None:
        raise NotMeasured("not_looked_up")
    if not mx["tlsa"]:
        return warned("no_records")
    if status == "bogus":
        return failed("bogus", severity="high")
    if status is None:
        raise NotMeasured("dnssec_unknown")
    if status != "secure":
        return warned("unsigned")
    if mx.get("starttls") is False:  # §2.2: a DANE sender requires TLS, and gets none
        return failed("no_starttls", severity="high")
    rows = (mx.get("dane") or {}).get("records")
    if not rows:
        raise NotMeasured.because(mx.get("tls_error") or mx.get("error"), "not_matched")
    usable = [r for r in rows if r["usage"] in DANE_USAGES and r.get("reason") != "unusable parameters"]
    evidence = {"tlsa": [{k: r.get(k) for k in ("record", "usage", "match", "reason")} for r in rows]}
    if not usable:  # §2.2: encryption without authentication
        return warned("none_usable", evidence=evidence)
    matched = [r for r in usable if r["match"]]
    if matched:
        return passed("matched", usage=matched[0]["usage"], evidence=evidence)
    return failed("no_match", severity="high", evidence=evidence)


def _starttls_item(verdict: Item) -> Callable[[CheckContext], Outcome | list[Outcome]]:
    """A part-two TLS verdict (checks/tls/) judged for every MX that speaks STARTTLS."""

    def run(ctx: CheckContext) -> Outcome | list[Outcome]:
        return per_mx(ctx, lambda mx: verdict.judge(TlsView.mx(ctx, mx, mx_target(mx))))

    return run


# mail.starttls.order, .compression, .renegotiation, .heartbleed, .robot, .drown ...: how each MX
# behaves after STARTTLS and which known attacks apply, as for an HTTPS endpoint.
for _verdict in ITEMS.values():
    if _verdict.mail:
        check(_verdict.mail, pillar="mail", level=_verdict.level, severity=_verdict.severity, subject="mail_domain",
              thresholds=_verdict.thresholds)(_starttls_item(_verdict))
