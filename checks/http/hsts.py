"""HSTS (RFC 6797): the header on the endpoint's first HTTPS response, and whether a bare
domain meets what hstspreload.org checks before it accepts a submission. A browser ignores
the header on a connection whose certificate it rejects (§8.1), so there it is not in force.
"""

from __future__ import annotations

from checks.catalogue import Phrase
from checks.http.common import DATA, WEB_AND_API, in_english
from checks.registry import (
    CheckContext,
    NotMeasured,
    check,
    failed,
    info,
    not_applicable,
    passed,
    warned,
)


@check(
    "http.hsts",
    pillar="http", level="required", severity="medium", schemes=("https",), kinds=WEB_AND_API,
    thresholds={"hsts_min_max_age": 31536000},
)
def hsts(ctx: CheckContext):
    http = ctx.section("http")
    if not http.get("https"):
        raise NotMeasured("unreadable")
    value = ctx.answer("http", "hsts")
    if value is None:
        return failed("missing")
    evidence = {"header": value.get("raw"), "count": value.get("count", 1)}
    cert = ctx.facts.get("certificate") or {}
    if cert.get("trusted") is False or cert.get("hostname_match") is False:
        # RFC 6797 §8.1: not in force. A warning, as http.https gives: the cause and its cap are the certificate's.
        return warned("ignored_certificate", evidence=evidence | {"trusted": cert.get("trusted"),
                                                                  "hostname_match": cert.get("hostname_match")})
    if value.get("valid") is False or value.get("max_age") is None:
        errors = value.get("errors") or ["no valid max-age"]
        return failed("invalid", errors="; ".join(errors), evidence=evidence | {"errors": errors})
    max_age = value["max_age"]
    minimum = ctx.threshold("hsts_min_max_age")
    if max_age == 0:
        return failed("forget", evidence=evidence)
    if value.get("count", 1) > 1:
        return warned("several", count=value["count"], raw=value.get("raw"), evidence=evidence)
    if max_age < minimum:
        return warned("short", max_age=max_age, minimum=minimum, evidence=evidence)
    if value.get("include_subdomains"):
        return passed("max_age_subdomains", max_age=max_age, evidence=evidence)
    return passed("max_age", max_age=max_age, evidence=evidence)


@check("http.hsts_preload", pillar="http", level="optional", severity="low", schemes=("https",), kinds=WEB_AND_API)
def hsts_preload(ctx: CheckContext):
    http = ctx.section("http")
    value = http.get("hsts") or {}
    if ctx.answer("http", "www") is None:
        if value.get("preload"):
            return info("preload_on_subdomain")
        return not_applicable("not_bare_domain")
    if not http.get("https"):
        raise NotMeasured("https_silent")
    missing = []
    cert = ctx.facts.get("certificate") or {}
    if cert.get("trusted") is False or cert.get("hostname_match") is False:
        missing.append(Phrase("needs_valid_certificate"))
    if http.get("http_listening") and not http.get("http_first_hop_https_same_host"):
        missing.append(Phrase("needs_same_host_redirect"))
    www_facts = http["www"]
    if www_facts.get("exists") and not any("status" in h for h in www_facts.get("https_chain", [])[:1]):
        missing.append(Phrase("needs_www_https", host=www_facts["host"]))
    minimum = DATA["hsts_preload"]["min_max_age"]
    if not value:
        missing.append(Phrase("needs_header"))
    else:
        if (value.get("max_age") or 0) < minimum:
            missing.append(Phrase("needs_max_age", minimum=minimum))
        if not value.get("include_subdomains"):
            missing.append(Phrase("needs_include_subdomains"))
        if not value.get("preload"):
            missing.append(Phrase("needs_preload"))
    if missing:
        evidence = {"missing": [in_english("http.hsts_preload", p) for p in missing]}
        if [p.code for p in missing] == ["needs_preload"]:
            return info("not_ready", missing=missing, evidence=evidence)
        return warned("not_ready", missing=missing, evidence=evidence)
    return passed("ready")
