"""DNS pillar: DNSSEC, IPv6 and CAA for service hosts and mail domains (first cut)."""

from __future__ import annotations

from checks.registry import CheckContext, NotMeasured, check, failed, passed, warned

INTERNET_NL = "internet.nl"


def _dnssec(ctx: CheckContext, what: str):
    status = ctx.section("dns").get("dnssec")
    reason = ctx.section("dns").get("dnssec_reason")
    if status is None:
        raise NotMeasured(reason or "DNSSEC status unknown")
    evidence = {"reason": reason} if reason else {}
    if status == "secure":
        return passed(f"{what} is DNSSEC-signed and validates")
    if status == "bogus":
        return failed(f"DNSSEC validation fails: {reason}", evidence=evidence, severity="critical")
    return failed(f"{what} is not DNSSEC-signed", evidence=evidence)


_DNSSEC_TEXTS = dict(
    remediation={
        "en": "Sign the zone with DNSSEC and publish its DS record at the parent.",
        "nl": "Onderteken de zone met DNSSEC en publiceer het DS-record bij de bovenliggende zone.",
    },
    references=("RFC 4033", "RFC 4035", INTERNET_NL),
    controls=("NIST-CSF-2.0:PR.DS-02",),
)


@check(
    "dns.dnssec",
    pillar="dns", level="required", severity="high",
    title={"en": "The host name is DNSSEC-signed", "nl": "De hostnaam is ondertekend met DNSSEC"},
    **_DNSSEC_TEXTS,
)
def dnssec(ctx: CheckContext):
    return _dnssec(ctx, "the host name")


@check(
    "dns.dnssec.domain",
    pillar="dns", level="required", severity="high", subject="mail_domain",
    title={"en": "The mail domain is DNSSEC-signed", "nl": "Het maildomein is ondertekend met DNSSEC"},
    **_DNSSEC_TEXTS,
)
def dnssec_domain(ctx: CheckContext):
    return _dnssec(ctx, "the domain")


@check(
    "dns.ipv6",
    pillar="dns", level="recommended", severity="low",
    title={"en": "The host has an IPv6 address", "nl": "De host heeft een IPv6-adres"},
    remediation={
        "en": "Publish an AAAA record and serve the site over IPv6 as well.",
        "nl": "Publiceer een AAAA-record en bied de site ook via IPv6 aan.",
    },
    references=(INTERNET_NL, "RFC 8200"),
)
def ipv6(ctx: CheckContext):
    if ctx.fact("dns", "aaaa"):
        return passed("AAAA record published", evidence={"ipv6": ctx.section("dns").get("ipv6", [])})
    return warned("no AAAA record")


@check(
    "dns.caa",
    pillar="dns", level="recommended", severity="low",
    title={"en": "CAA restricts which CAs may issue", "nl": "CAA beperkt welke CA's certificaten mogen uitgeven"},
    remediation={
        "en": "Publish CAA records naming the CAs you use (RFC 8659).",
        "nl": "Publiceer CAA-records met de CA's die u gebruikt (RFC 8659).",
    },
    references=("RFC 8659", "CA/Browser Forum Baseline Requirements"),
)
def caa(ctx: CheckContext):
    records = ctx.section("dns").get("caa")
    if records is None:
        raise NotMeasured("CAA lookup failed")
    if records:
        issuers = [r for r in records if " issue" in r or " issuewild" in r]
        if not issuers:
            return warned("CAA records exist but none restricts issuance", evidence={"caa": records})
        return passed(f"CAA at {ctx.section('dns').get('caa_owner')}", evidence={"caa": records})
    return warned("no CAA records in the tree above this name")
