"""Mail pillar: spoofing protection (SPF, DMARC per RFC 9989, null MX) and transport security of the MX.

Every registrable domain of a service is judged, declared mail domain or not: a domain
that sends no mail should say so (null MX, `v=spf1 -all`, DMARC `p=reject`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from checks.catalogue import Phrase
from checks.common import INTERNET_NL_MAIL, NCSC_TLS
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
from checks.tls_classification import DEFAULT
from scanner.probes.mail import SPF_LOOKUP_LIMIT, SPF_VOID_LIMIT  # RFC 7208 §4.6.4

M3AAWG = "M3AAWG Email Authentication Recommended Best Practices (2020)"


OLD_VERSIONS = ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1")
NO_MAIL = ("the domain receives no mail (null MX or no MX)", "het domein ontvangt geen mail (null MX of geen MX)")


def _receives_mail(ctx: CheckContext) -> bool:
    """Whether the domain has mail servers (NotMeasured when its MX could not be looked up)."""
    if ctx.section("mail").get("mx_error"):
        raise NotMeasured(ctx.section("mail")["mx_error"])
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
        raise NotMeasured(facts["error"])
    return facts


def _no_mail() -> Outcome:
    return not_applicable(NO_MAIL[0], message_nl=NO_MAIL[1])


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
                raise NotMeasured(mx.get("error") or "the mail server did not answer")
            outcome = judge(mx)
        except NotMeasured as exc:
            outcome = error(f"not measured: {exc}", message_nl=f"niet gemeten: {exc}")
        out.append(replace(outcome, target=_mx_target(mx), key=mx["host"]))
    return out or not_applicable("no mail server offers STARTTLS (see mail.starttls)",
                                 message_nl="geen enkele mailserver biedt STARTTLS aan (zie mail.starttls)")


@check(
    "mail.spf",
    pillar="mail", level="required", severity="high", subject="mail_domain",
    title={"en": "SPF is published and ends in a strict policy", "nl": "SPF is gepubliceerd en eindigt met een strikt beleid"},
    remediation={
        "en": "Publish exactly one SPF record listing your senders and ending in -all (a domain that sends no mail: v=spf1 -all).",
        "nl": "Publiceer precies één SPF-record met uw verzenders dat eindigt op -all (een domein dat geen mail verstuurt: v=spf1 -all).",
    },
    references=("RFC 7208", M3AAWG, INTERNET_NL_MAIL),
)
def spf(ctx: CheckContext):
    facts = _read(ctx, "spf")
    evidence = {"record": facts.get("record")}
    if facts.get("records", 0) > 1:
        return failed(f"{facts['records']} SPF records: receivers treat that as a permanent error",
                      message_nl=f"{facts['records']} SPF-records: ontvangers beschouwen dat als een permanente fout")
    if not facts.get("record"):
        return failed("no SPF record", message_nl="geen SPF-record")
    policy = facts.get("all")
    if facts.get("redirect") and not policy:
        # RFC 7208 §6.1: without `all`, the redirect target's policy is this domain's
        if facts.get("redirect_error") or "redirect_all" not in facts:
            why = facts.get("redirect_error") or "the policy there was not read"
            raise NotMeasured(f"SPF delegates to {facts['redirect']} by redirect=: {why}")
        if not facts.get("redirect_all"):
            return failed(f"SPF redirects to {facts['redirect']}, which has no single SPF record with 'all' "
                          "(a permanent error for receivers)", evidence=evidence | {"redirect": facts["redirect"]},
                          message_nl=f"SPF verwijst met redirect= naar {facts['redirect']}, dat geen enkelvoudig "
                                     "SPF-record met 'all' heeft (een permanente fout voor ontvangers)")
        policy = facts["redirect_all"]
        evidence["redirect"] = facts["redirect"]
    qualifier = (policy or "")[:1]
    if qualifier == "-":
        return passed("SPF ends in -all", evidence=evidence, message_nl="SPF eindigt op -all")
    if qualifier == "~":
        if not _sends_mail(ctx):
            return failed("a domain that sends no mail should end SPF in -all, not ~all", evidence=evidence,
                          message_nl="een domein dat geen mail verstuurt, hoort SPF met -all te beëindigen, niet met ~all")
        return warned("SPF ends in ~all (soft fail)", evidence=evidence,
                      message_nl="SPF eindigt op ~all (zachte weigering: vervalste mail wordt enkel gemarkeerd)")
    if qualifier in ("+", "?"):
        return failed(f"SPF ends in {policy}: anyone may send as this domain", evidence=evidence,
                      message_nl=f"SPF eindigt op {policy}: iedereen mag namens dit domein versturen")
    return warned("SPF has no 'all' mechanism", evidence=evidence, message_nl="SPF heeft geen 'all'-mechanisme")


@check(
    "mail.spf.lookups",
    pillar="mail", level="recommended", severity="medium", subject="mail_domain",
    title={"en": "SPF stays within 10 DNS lookups", "nl": "SPF blijft binnen 10 DNS-opvragingen"},
    remediation={
        "en": "Flatten or trim includes: more than 10 lookups is a permanent error for receivers.",
        "nl": "Vereenvoudig de includes: meer dan 10 opvragingen is een permanente fout bij ontvangers.",
    },
    references=("RFC 7208 §4.6.4",),
)
def spf_lookups(ctx: CheckContext):
    facts = _read(ctx, "spf")
    if not facts.get("record"):
        return not_applicable("no SPF record", message_nl="geen SPF-record")
    lookups, void = facts.get("lookups"), facts.get("void_lookups") or 0
    if lookups is None:
        raise NotMeasured("SPF lookups not counted")
    evidence = {"lookups": lookups, "void_lookups": void}
    if lookups > SPF_LOOKUP_LIMIT:
        return failed(f"{lookups} DNS lookups (limit {SPF_LOOKUP_LIMIT})", evidence=evidence,
                      message_nl=f"{lookups} DNS-opvragingen (limiet {SPF_LOOKUP_LIMIT})")
    if void > SPF_VOID_LIMIT:
        return failed(f"{void} void lookups (limit {SPF_VOID_LIMIT})", evidence=evidence,
                      message_nl=f"{void} opvragingen zonder antwoord (limiet {SPF_VOID_LIMIT})")
    if facts.get("lookup_error"):  # counting stopped early: the true count may be higher
        raise NotMeasured(f"SPF lookups counted up to {lookups}, then {facts['lookup_error']}")
    return passed(f"{lookups} DNS lookups", evidence=evidence, message_nl=f"{lookups} DNS-opvragingen")


@check(
    "mail.dmarc",
    pillar="mail", level="required", severity="high", subject="mail_domain",
    title={"en": "DMARC policy rejects spoofed mail", "nl": "Het DMARC-beleid weigert vervalste mail"},
    remediation={
        "en": "Publish _dmarc with p=reject (after monitoring with p=none and reports); RFC 9989 removed pct=.",
        "nl": "Publiceer _dmarc met p=reject (na opvolging met p=none en rapporten); RFC 9989 schrapte pct=.",
    },
    references=("RFC 9989", M3AAWG, INTERNET_NL_MAIL),
)
def dmarc(ctx: CheckContext):
    facts = _read(ctx, "dmarc")
    if facts.get("records", 0) > 1:
        return failed("several DMARC records: receivers ignore them all",
                      message_nl="meerdere DMARC-records: ontvangers negeren ze allemaal")
    if not facts.get("record"):
        return failed("no DMARC record (none found by the tree walk either)",
                      message_nl="geen DMARC-record (ook niet hoger in de domeinboom)")
    inherited = facts.get("inherited")
    # An inherited policy applies to us as an (existing) subdomain: sp, else p.
    policy = (facts.get("sp") or facts.get("p")) if inherited else facts.get("p")
    evidence = {"record": facts["record"], "found_at": facts.get("found_at")}
    if (facts.get("t") or "n").lower() == "y":
        return warned(f"p={policy} but t=y (testing mode): receivers apply a weaker policy", evidence=evidence,
                      message_nl=f"p={policy}, maar t=y (testmodus): ontvangers passen een zwakker beleid toe")
    if policy == "reject":
        return passed("p=reject" + (f" inherited from {facts['found_at']}" if inherited else ""), evidence=evidence,
                      message_nl="p=reject" + (f", overgenomen van {facts['found_at']}" if inherited else ""))
    if policy == "quarantine":
        if not _sends_mail(ctx):
            return failed("a domain that sends no mail should use p=reject", evidence=evidence,
                          message_nl="een domein dat geen mail verstuurt, hoort p=reject te gebruiken")
        return warned("p=quarantine (reject is stronger)", evidence=evidence,
                      message_nl="p=quarantine (reject beschermt beter)")
    if policy is None:
        return failed("the DMARC record has no valid p= tag: receivers deliver spoofed mail", evidence=evidence,
                      message_nl="het DMARC-record heeft geen geldige p=-tag: ontvangers leveren vervalste mail af")
    return failed(f"p={policy}: spoofed mail is delivered", evidence=evidence,
                  message_nl=f"p={policy}: vervalste mail wordt afgeleverd")


@check(
    "mail.dmarc.reporting",
    pillar="mail", level="recommended", severity="low", subject="mail_domain",
    title={"en": "DMARC aggregate reports are requested", "nl": "DMARC-verzamelrapporten worden opgevraagd"},
    remediation={
        "en": "Add rua=mailto:... to the DMARC record to learn who sends as your domain.",
        "nl": "Voeg rua=mailto:... toe aan het DMARC-record om te zien wie namens uw domein verstuurt.",
    },
    references=("RFC 9989", "RFC 9990"),
)
def dmarc_reporting(ctx: CheckContext):
    facts = _read(ctx, "dmarc")
    if not facts.get("record"):
        return not_applicable("no DMARC record", message_nl="geen DMARC-record")
    if facts.get("rua"):
        return passed(f"reports go to {facts['rua']}", evidence={"rua": facts["rua"]},
                      message_nl=f"rapporten gaan naar {facts['rua']}")
    return warned("no rua= reporting address", message_nl="geen rapportageadres (rua=)")


@check(
    "mail.null_mx",
    pillar="mail", level="recommended", severity="low", subject="mail_domain",
    title={"en": "A domain without mail says so (null MX)", "nl": "Een domein zonder mail zegt dat (null MX)"},
    remediation={
        "en": "Publish 'MX 0 .' (RFC 7505) for a domain that receives no mail.",
        "nl": "Publiceer 'MX 0 .' (RFC 7505) voor een domein dat geen mail ontvangt.",
    },
    references=("RFC 7505",),
)
def null_mx(ctx: CheckContext):
    if ctx.fact("mail", "null_mx"):
        return passed("null MX published", message_nl="null MX gepubliceerd")
    if ctx.answer("mail", "mx"):
        return not_applicable("the domain receives mail", message_nl="het domein ontvangt mail")
    return warned("no MX and no null MX: senders fall back to the A record",
                  message_nl="geen MX en geen null MX: verzenders proberen dan het A-record")


@check(
    "mail.starttls",
    pillar="mail", level="required", severity="high", subject="mail_domain",
    title={"en": "Every mail server offers STARTTLS", "nl": "Elke mailserver biedt STARTTLS aan"},
    remediation={
        "en": "Enable STARTTLS with a modern TLS configuration on every MX host.",
        "nl": "Schakel STARTTLS in met een moderne TLS-configuratie op elke MX-host.",
    },
    references=("RFC 3207", INTERNET_NL_MAIL),
)
def starttls(ctx: CheckContext):
    if not _receives_mail(ctx):
        return _no_mail()
    out = []
    for mx in ctx.fact("mail", "mx"):
        target = _mx_target(mx)
        if mx.get("starttls") is True and mx.get("protocol"):
            out.append(passed(f"STARTTLS with {mx['protocol']}", target=target, key=mx["host"],
                              message_nl=f"STARTTLS met {mx['protocol']}"))
        elif mx.get("starttls") is True:
            out.append(failed(f"STARTTLS offered but the handshake failed: {mx.get('tls_error')}", target=target,
                              key=mx["host"], message_nl=f"STARTTLS aangeboden, maar de TLS-verbinding mislukt: "
                                                         f"{mx.get('tls_error')}"))
        elif mx.get("starttls") is False:
            out.append(failed("STARTTLS is not offered: mail travels in clear text", target=target, key=mx["host"],
                              message_nl="STARTTLS wordt niet aangeboden: mail gaat onversleuteld over het net"))
        else:
            reason = mx.get("error") or "no answer"
            out.append(error(f"not measured: {reason}", target=target, key=mx["host"],
                             message_nl=f"niet gemeten: {reason}"))
    return out


@check(
    "mail.starttls.protocol",
    pillar="mail", level="required", severity="medium", subject="mail_domain",
    title={"en": "Mail servers offer only TLS 1.2 or newer", "nl": "Mailservers bieden enkel TLS 1.2 of nieuwer aan"},
    remediation={
        "en": "Disable SSL, TLS 1.0 and TLS 1.1 on the MX; offer TLS 1.2 and 1.3.",
        "nl": "Schakel SSL, TLS 1.0 en TLS 1.1 uit op de MX; bied TLS 1.2 en 1.3 aan.",
    },
    references=(NCSC_TLS, "RFC 8996", INTERNET_NL_MAIL),
    thresholds={"tls.classification": DEFAULT},
)
def starttls_protocol(ctx: CheckContext):
    cls = classification(ctx)

    def judge(mx: dict) -> Outcome:
        protocols = mx.get("protocols") or {}
        if not any(protocols.values()):
            raise NotMeasured(mx.get("tls_error") or "no TLS version was negotiated")
        return version_verdict(protocols, OLD_VERSIONS, cls, Phrase("tls:what_old_versions"))

    return _per_starttls_mx(ctx, judge)


@check(
    "mail.starttls.suites",
    pillar="mail", level="recommended", severity="medium", subject="mail_domain",
    title={"en": "Mail servers offer only good or sufficient cipher suites",
           "nl": "Mailservers bieden enkel goede of voldoende cipher suites aan"},
    remediation={
        "en": "Remove the cipher suites the evidence lists from the MX's STARTTLS configuration.",
        "nl": "Verwijder de cipher suites die het bewijs opsomt uit de STARTTLS-configuratie van de MX.",
    },
    references=(NCSC_TLS, INTERNET_NL_MAIL),
    thresholds={"tls.classification": DEFAULT},
)
def starttls_suites(ctx: CheckContext):
    cls = classification(ctx)

    def judge(mx: dict) -> Outcome:
        tls = mx.get("tls")
        if not tls or tls.get("error"):
            raise NotMeasured(f"cipher suites not enumerated: {(tls or {}).get('error') or mx.get('tls_error')}")
        levels = {n: cls.suite(n) for names in (tls.get("cipher_suites") or {}).values() for n in names}
        if not levels:
            raise NotMeasured("no cipher suite was enumerated")
        return classified_verdict(cls, levels, "suites", {"suites": len(levels)})

    return _per_starttls_mx(ctx, judge)


@check(
    "mail.starttls.certificate",
    pillar="mail", level="recommended", severity="medium", subject="mail_domain",
    title={"en": "Mail servers present a valid certificate for their name",
           "nl": "Mailservers tonen een geldig certificaat voor hun naam"},
    remediation={
        "en": "Serve a publicly trusted certificate naming the MX host: senders that enforce MTA-STS refuse anything else.",
        "nl": "Gebruik een publiek vertrouwd certificaat met de naam van de MX-host: verzenders die MTA-STS afdwingen weigeren al het andere.",
    },
    references=("RFC 8461 §4.1", "RFC 7672"),
)
def starttls_certificate(ctx: CheckContext):
    def judge(mx: dict) -> Outcome:
        cert = mx.get("certificate")
        if not cert or cert.get("error"):
            raise NotMeasured((cert or {}).get("error") or mx.get("tls_error") or "no certificate was read")
        if cert.get("trusted") and cert.get("hostname_match"):
            return passed("trusted certificate for the MX name",
                          message_nl="vertrouwd certificaat voor de naam van de mailserver")
        if cert.get("trusted") is None or cert.get("hostname_match") is None:
            raise NotMeasured("the certificate could not be judged")
        reasons = cert.get("trust_reasons") or [{"message": cert.get("trust_error") or "no path to a trusted root"}]
        why = reasons[0]["message"] if not cert["trusted"] else f"the certificate does not name {mx['host']}"
        why_nl = "geen geldig pad naar een vertrouwde root" if not cert["trusted"] else f"{mx['host']} staat er niet in"
        return failed(f"certificate not valid for {mx['host']}: {why}",
                      evidence={"san": (cert.get("chain") or [{}])[0].get("san", [])[:10]},
                      message_nl=f"certificaat niet geldig voor {mx['host']}: {why_nl}")

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
    title={"en": "MTA-STS enforces TLS for incoming mail", "nl": "MTA-STS dwingt TLS af voor inkomende mail"},
    remediation={
        "en": "Publish _mta-sts TXT and an MTA-STS policy with mode: enforce (RFC 8461), or DANE.",
        "nl": "Publiceer een _mta-sts TXT-record en een MTA-STS-beleid met mode: enforce (RFC 8461), of DANE.",
    },
    references=("RFC 8461",),
)
def mta_sts(ctx: CheckContext):
    if not _receives_mail(ctx):
        return _no_mail()
    facts = ctx.fact("mail", "mta_sts")
    hosts = ctx.fact("mail", "mx")
    if not facts.get("record"):
        if all(mx.get("tlsa") and mx.get("tlsa_dnssec") == "secure" for mx in hosts):
            return passed("DANE protects every MX instead of MTA-STS",
                          message_nl="DANE beschermt elke mailserver, in plaats van MTA-STS")
        return warned("no MTA-STS record", message_nl="geen MTA-STS-record")
    mode = facts.get("mode")
    if facts.get("policy_error"):
        return failed(f"MTA-STS record but the policy cannot be fetched: {facts['policy_error']}",
                      message_nl=f"MTA-STS-record, maar het beleid kan niet opgehaald worden: {facts['policy_error']}")
    if facts.get("policy") is None:
        return failed(f"MTA-STS record but no policy is served (HTTP {facts.get('policy_status')}): senders ignore it",
                      message_nl=f"MTA-STS-record, maar er wordt geen beleid aangeboden (HTTP {facts.get('policy_status')}): "
                                 "verzenders negeren het")
    patterns = facts["policy"].get("mx", [])
    uncovered = [mx["host"] for mx in hosts if not any(_mx_pattern_matches(p, mx["host"]) for p in patterns)]
    if mode == "enforce" and uncovered:
        return failed(f"MTA-STS enforces a policy that does not list MX {', '.join(uncovered)}: mail to it will bounce",
                      evidence={"policy_mx": patterns, "uncovered": uncovered},
                      message_nl=f"MTA-STS dwingt een beleid af dat MX {', '.join(uncovered)} niet vermeldt: mail "
                                 "naar die server wordt geweigerd")
    if mode == "enforce":
        return passed("MTA-STS mode: enforce", evidence={"policy_mx": patterns}, message_nl="MTA-STS-modus: enforce")
    return warned(f"MTA-STS mode: {mode or 'missing'}", message_nl=f"MTA-STS-modus: {mode or 'ontbreekt'}")


@check(
    "mail.tls_rpt",
    pillar="mail", level="optional", severity="info", subject="mail_domain",
    title={"en": "TLS reporting (TLS-RPT) is requested", "nl": "TLS-rapportering (TLS-RPT) wordt opgevraagd"},
    remediation={
        "en": "Publish _smtp._tls TXT \"v=TLSRPTv1; rua=mailto:...\" to hear about failed TLS deliveries.",
        "nl": "Publiceer _smtp._tls TXT \"v=TLSRPTv1; rua=mailto:...\" om mislukte TLS-leveringen te vernemen.",
    },
    references=("RFC 8460",),
)
def tls_rpt(ctx: CheckContext):
    if not _receives_mail(ctx):
        return _no_mail()
    record = ctx.answer("mail", "tls_rpt")
    if record:
        return passed("TLS-RPT record published", evidence={"record": record},
                      message_nl="TLS-RPT-record gepubliceerd")
    return warned("no TLS-RPT record", message_nl="geen TLS-RPT-record")


@check(
    "mail.dane",
    pillar="mail", level="optional", severity="low", subject="mail_domain",
    title={"en": "DANE (TLSA) protects the mail servers", "nl": "DANE (TLSA) beschermt de mailservers"},
    remediation={
        "en": "Publish DNSSEC-signed TLSA records for _25._tcp of each MX (RFC 7672).",
        "nl": "Publiceer met DNSSEC ondertekende TLSA-records voor _25._tcp van elke MX (RFC 7672).",
    },
    references=("RFC 7672", "RFC 6698"),
)
def dane(ctx: CheckContext):
    if not _receives_mail(ctx):
        return _no_mail()
    out = []
    for mx in ctx.fact("mail", "mx"):
        target, status = _mx_target(mx), mx.get("tlsa_dnssec")
        if mx.get("tlsa") is None:
            out.append(error("not measured: the TLSA lookup was not made", target=target, key=mx["host"],
                             message_nl="niet gemeten: de TLSA-records werden niet opgevraagd"))
        elif not mx["tlsa"]:
            out.append(warned("no TLSA records", target=target, key=mx["host"], message_nl="geen TLSA-records"))
        elif status == "secure":
            out.append(passed("DNSSEC-signed TLSA records", target=target, key=mx["host"],
                              message_nl="met DNSSEC ondertekende TLSA-records"))
        elif status == "bogus":
            out.append(failed("the TLSA records fail DNSSEC validation: DANE senders defer mail to this server",
                              target=target, key=mx["host"], severity="high",
                              message_nl="de TLSA-records valideren niet met DNSSEC: verzenders die DANE toepassen "
                                         "stellen de aflevering bij deze server uit"))
        elif status is None:
            out.append(error("not measured: the DNSSEC status of the TLSA records is unknown", target=target,
                             key=mx["host"], message_nl="niet gemeten: de DNSSEC-status van de TLSA-records is onbekend"))
        else:
            out.append(warned("TLSA records without DNSSEC are ignored by senders", target=target, key=mx["host"],
                              message_nl="verzenders negeren TLSA-records zonder DNSSEC"))
    return out
