"""Mail pillar: spoofing protection (SPF, DMARC per RFC 9989, null MX) and transport security of the MX.

Every registrable domain of a service is judged, declared mail domain or not: a domain
that sends no mail should say so (null MX, `v=spf1 -all`, DMARC `p=reject`).
"""

from __future__ import annotations

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
from checks.tls import classified_verdict, graded
from checks.tls_classification import DEFAULT, load

M3AAWG = "M3AAWG / internet.nl mail test"
PROTECT = "NIST-CSF-2.0:PR.DS-02"


def _mail(ctx: CheckContext) -> dict:
    return ctx.section("mail")


def _sends_mail(ctx: CheckContext) -> bool:
    mail = _mail(ctx)
    return not mail.get("null_mx") and bool(mail.get("mx"))


def _mx_target(mx: dict) -> str:
    return f"smtp://{mx['host']}:25"


@check(
    "mail.spf",
    pillar="mail", level="required", severity="high", subject="mail_domain",
    title={"en": "SPF is published and ends in a strict policy", "nl": "SPF is gepubliceerd en eindigt met een strikt beleid"},
    remediation={
        "en": "Publish exactly one SPF record listing your senders and ending in -all (a domain that sends no mail: v=spf1 -all).",
        "nl": "Publiceer precies één SPF-record met uw verzenders dat eindigt op -all (een domein dat geen mail verstuurt: v=spf1 -all).",
    },
    references=("RFC 7208", M3AAWG),
    controls=(PROTECT,),
)
def spf(ctx: CheckContext):
    facts = ctx.fact("mail", "spf")
    evidence = {"record": facts.get("record")}
    if facts.get("records", 0) > 1:
        return failed(f"{facts['records']} SPF records: receivers treat that as a permanent error")
    if not facts.get("record"):
        return failed("no SPF record")
    qualifier = (facts.get("all") or "")[:1]
    if facts.get("redirect") and not facts.get("all"):
        return passed("SPF delegates by redirect=", evidence=evidence)
    if qualifier == "-":
        return passed("SPF ends in -all", evidence=evidence)
    if qualifier == "~":
        if not _sends_mail(ctx):
            return failed("a domain that sends no mail should end SPF in -all, not ~all", evidence=evidence)
        return warned("SPF ends in ~all (soft fail)", evidence=evidence)
    if qualifier in ("+", "?"):
        return failed(f"SPF ends in {facts['all']}: anyone may send as this domain", evidence=evidence)
    return warned("SPF has no 'all' mechanism", evidence=evidence)


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
    facts = ctx.fact("mail", "spf")
    if not facts.get("record"):
        return not_applicable("no SPF record")
    lookups, void = facts.get("lookups"), facts.get("void_lookups") or 0
    if lookups is None:
        raise NotMeasured("SPF lookups not counted")
    evidence = {"lookups": lookups, "void_lookups": void}
    if lookups > 10:
        return failed(f"{lookups} DNS lookups (limit 10)", evidence=evidence)
    if void > 2:
        return failed(f"{void} void lookups (limit 2)", evidence=evidence)
    return passed(f"{lookups} DNS lookups", evidence=evidence)


@check(
    "mail.dmarc",
    pillar="mail", level="required", severity="high", subject="mail_domain",
    title={"en": "DMARC policy rejects spoofed mail", "nl": "Het DMARC-beleid weigert vervalste mail"},
    remediation={
        "en": "Publish _dmarc with p=reject (after monitoring with p=none and reports); RFC 9989 removed pct=.",
        "nl": "Publiceer _dmarc met p=reject (na opvolging met p=none en rapporten); RFC 9989 schrapte pct=.",
    },
    references=("RFC 9989", M3AAWG),
    controls=(PROTECT,),
)
def dmarc(ctx: CheckContext):
    facts = ctx.fact("mail", "dmarc")
    if facts.get("records", 0) > 1:
        return failed("several DMARC records: receivers ignore them all")
    if not facts.get("record"):
        return failed("no DMARC record (none found by the tree walk either)")
    inherited = facts.get("inherited")
    # An inherited policy applies to us as a subdomain: np for non-existent, sp, else p.
    policy = (facts.get("sp") or facts.get("p")) if inherited else facts.get("p")
    evidence = {"record": facts["record"], "found_at": facts.get("found_at")}
    if (facts.get("t") or "n").lower() == "y":
        return warned(f"p={policy} but t=y (testing mode): receivers apply a weaker policy", evidence=evidence)
    if policy == "reject":
        return passed("p=reject" + (f" inherited from {facts['found_at']}" if inherited else ""), evidence=evidence)
    if policy == "quarantine":
        if not _sends_mail(ctx):
            return failed("a domain that sends no mail should use p=reject", evidence=evidence)
        return warned("p=quarantine (reject is stronger)", evidence=evidence)
    return failed(f"p={policy}: spoofed mail is delivered", evidence=evidence)


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
    facts = ctx.fact("mail", "dmarc")
    if not facts.get("record"):
        return not_applicable("no DMARC record")
    if facts.get("rua"):
        return passed("rua is set", evidence={"rua": facts["rua"]})
    return warned("no rua= reporting address")


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
    mail = _mail(ctx)
    if mail.get("null_mx"):
        return passed("null MX published")
    if mail.get("mx"):
        return not_applicable("the domain receives mail")
    return warned("no MX and no null MX: senders fall back to the A record")


@check(
    "mail.starttls",
    pillar="mail", level="required", severity="high", subject="mail_domain",
    title={"en": "Every mail server offers STARTTLS", "nl": "Elke mailserver biedt STARTTLS aan"},
    remediation={
        "en": "Enable STARTTLS with a modern TLS configuration on every MX host.",
        "nl": "Schakel STARTTLS in met een moderne TLS-configuratie op elke MX-host.",
    },
    references=("RFC 3207", M3AAWG),
    controls=(PROTECT,),
)
def starttls(ctx: CheckContext):
    if not _sends_mail(ctx):
        return not_applicable("the domain receives no mail")
    out = []
    for mx in _mail(ctx)["mx"]:
        target = _mx_target(mx)
        if mx.get("starttls") is True and mx.get("protocol"):
            out.append(passed(f"STARTTLS with {mx['protocol']}", target=target, key=mx["host"]))
        elif mx.get("starttls") is True:
            out.append(failed(f"STARTTLS offered but the handshake failed: {mx.get('tls_error')}", target=target, key=mx["host"]))
        elif mx.get("starttls") is False:
            out.append(failed("STARTTLS is not offered: mail travels in clear text", target=target, key=mx["host"]))
        else:
            out.append(error(f"not measured: {mx.get('error') or 'no answer'}", target=target, key=mx["host"]))
    return out


@check(
    "mail.starttls.protocol",
    pillar="mail", level="required", severity="medium", subject="mail_domain",
    title={"en": "Mail servers offer only TLS 1.2 or newer", "nl": "Mailservers bieden enkel TLS 1.2 of nieuwer aan"},
    remediation={
        "en": "Disable SSL, TLS 1.0 and TLS 1.1 on the MX; offer TLS 1.2 and 1.3.",
        "nl": "Schakel SSL, TLS 1.0 en TLS 1.1 uit op de MX; bied TLS 1.2 en 1.3 aan.",
    },
    references=("NCSC-NL ICT-beveiligingsrichtlijnen voor TLS (2025)", "RFC 8996"),
)
def starttls_protocol(ctx: CheckContext):
    if not _sends_mail(ctx):
        return not_applicable("the domain receives no mail")
    out = []
    for mx in _mail(ctx)["mx"]:
        protocols = mx.get("protocols") or {}
        if not any(protocols.values()):
            continue
        target = _mx_target(mx)
        old = [p for p in ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1") if protocols.get(p)]
        offered = [p for p, on in protocols.items() if on]
        if old:
            out.append(failed(f"offers {', '.join(old)}", target=target, key=mx["host"], evidence={"offered": offered}))
        elif not any(protocols.get(p) is None for p in ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1")):
            out.append(passed(f"offers only {', '.join(offered)}", target=target, key=mx["host"]))
        elif mx.get("protocol") in ("TLSv1.2", "TLSv1.3"):
            out.append(passed(f"negotiated {mx['protocol']} (older versions not enumerated)", target=target,
                              key=mx["host"]))
        else:
            out.append(failed(f"negotiated {mx.get('protocol')}", target=target, key=mx["host"]))
    return out or not_applicable("no MX completed a TLS handshake")


@check(
    "mail.starttls.suites",
    pillar="mail", level="recommended", severity="medium", subject="mail_domain",
    title={"en": "Mail servers offer only good or sufficient cipher suites",
           "nl": "Mailservers bieden enkel goede of voldoende cipher suites aan"},
    remediation={
        "en": "Remove the cipher suites the evidence lists from the MX's STARTTLS configuration.",
        "nl": "Verwijder de cipher suites uit het bewijs uit de STARTTLS-configuratie van de MX.",
    },
    references=("NCSC-NL ICT-beveiligingsrichtlijnen voor TLS (2025)", "internet.nl mail test"),
    thresholds={"tls.classification": DEFAULT},
)
def starttls_suites(ctx: CheckContext):
    if not _sends_mail(ctx):
        return not_applicable("the domain receives no mail")
    cls = load(ctx.thresholds.get("tls.classification", DEFAULT))
    out = []
    for mx in _mail(ctx)["mx"]:
        tls = mx.get("tls") or {}
        if not tls or "error" in tls:
            continue
        levels = {n: cls.suite(n) for names in tls.get("cipher_suites", {}).values() for n in names}
        verdict = classified_verdict(cls, graded(cls, levels), "Cipher suites", "Cipher suites", {"suites": len(levels)})
        out.append(Outcome(verdict.status, verdict.message, verdict.evidence, key=mx["host"], target=_mx_target(mx),
                           message_nl=verdict.message_nl))
    return out or not_applicable("no MX suites enumerated")


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
    if not _sends_mail(ctx):
        return not_applicable("the domain receives no mail")
    out = []
    for mx in _mail(ctx)["mx"]:
        cert = mx.get("certificate")
        if not cert:
            continue
        target = _mx_target(mx)
        if cert.get("error"):
            out.append(error(f"not measured: {cert['error']}", target=target, key=mx["host"]))
        elif cert.get("trusted") and cert.get("hostname_match"):
            out.append(passed("trusted certificate for the MX name", target=target, key=mx["host"]))
        else:
            why = cert.get("trust_error") if not cert.get("trusted") else f"the certificate does not name {mx['host']}"
            out.append(failed(f"certificate not valid for {mx['host']}: {why}", target=target, key=mx["host"],
                              evidence={"san": (cert.get("chain") or [{}])[0].get("san", [])[:10]}))
    return out or not_applicable("no MX completed a TLS handshake")


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
    if not _sends_mail(ctx):
        return not_applicable("the domain receives no mail")
    facts = _mail(ctx).get("mta_sts") or {}
    if any(mx.get("tlsa") and mx.get("tlsa_dnssec") == "secure" for mx in _mail(ctx)["mx"]):
        if not facts.get("record"):
            return passed("DANE protects the MX instead of MTA-STS")
    if not facts.get("record"):
        return warned("no MTA-STS record")
    mode = facts.get("mode")
    if facts.get("policy_error"):
        return failed(f"MTA-STS record but the policy cannot be fetched: {facts['policy_error']}")
    patterns = (facts.get("policy") or {}).get("mx", [])
    uncovered = [mx["host"] for mx in _mail(ctx)["mx"] if not any(_mx_pattern_matches(p, mx["host"]) for p in patterns)]
    if mode == "enforce" and uncovered:
        return failed(f"MTA-STS enforces a policy that does not list MX {', '.join(uncovered)}: mail to it will bounce",
                      evidence={"policy_mx": patterns, "uncovered": uncovered})
    if mode == "enforce":
        return passed("MTA-STS mode: enforce", evidence={"policy_mx": patterns})
    return warned(f"MTA-STS mode: {mode or 'missing'}")


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
    if not _sends_mail(ctx):
        return not_applicable("the domain receives no mail")
    record = _mail(ctx).get("tls_rpt")
    if record:
        return passed("TLS-RPT record published", evidence={"record": record})
    return warned("no TLS-RPT record")


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
    if not _sends_mail(ctx):
        return not_applicable("the domain receives no mail")
    out = []
    for mx in _mail(ctx)["mx"]:
        target = _mx_target(mx)
        if mx.get("tlsa") and mx.get("tlsa_dnssec") == "secure":
            out.append(passed("DNSSEC-signed TLSA records", target=target, key=mx["host"]))
        elif mx.get("tlsa"):
            out.append(warned("TLSA records without DNSSEC are ignored by senders", target=target, key=mx["host"]))
        else:
            out.append(warned("no TLSA records", target=target, key=mx["host"]))
    return out
