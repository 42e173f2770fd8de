"""HTTP pillar: HTTPS enforced, HSTS, the basic security headers, security.txt (first cut)."""

from __future__ import annotations

from datetime import datetime

from checks.registry import BROWSER_KINDS, CheckContext, NotMeasured, check, failed, info, passed, warned
from scanner.model import EndpointKind

OBSERVATORY = "Mozilla HTTP Observatory"
WEB_AND_API = (EndpointKind.WEB, EndpointKind.API)


@check(
    "http.https",
    pillar="http", level="required", severity="critical",
    title={"en": "The site is available over HTTPS", "nl": "De site is bereikbaar via HTTPS"},
    remediation={
        "en": "Serve the site over HTTPS with a valid certificate.",
        "nl": "Bied de site aan via HTTPS met een geldig certificaat.",
    },
    references=("RFC 9110", "pshtt"),
    controls=("NIST-CSF-2.0:PR.DS-02",),
)
def https(ctx: CheckContext):
    value = ctx.section("http").get("https")
    if value is True:
        return passed("HTTPS answers")
    if value is False:
        return failed("nothing answers on HTTPS (port 443 refused the connection)")
    raise NotMeasured(ctx.section("http").get("https_error") or "HTTPS could not be tested")


@check(
    "http.redirect",
    pillar="http", level="required", severity="high",
    title={"en": "Plain HTTP redirects to HTTPS", "nl": "Gewoon HTTP verwijst door naar HTTPS"},
    remediation={
        "en": "Answer every http:// request with a redirect (301/308) to the same host over https://.",
        "nl": "Beantwoord elke http://-aanvraag met een doorverwijzing (301/308) naar dezelfde host via https://.",
    },
    references=("pshtt", "RFC 6797 §7.2"),
)
def redirect(ctx: CheckContext):
    http = ctx.section("http")
    if http.get("http_listening") is False:
        return passed("no plain HTTP service (port 80 closed)")
    if http.get("redirects_to_https") is None:
        raise NotMeasured("plain HTTP could not be tested")
    chain = http.get("http_chain", [])
    if http["redirects_to_https"]:
        if not http.get("http_first_hop_https_same_host"):
            return warned("redirects to HTTPS, but not first to the same host over HTTPS",
                          evidence={"hops": [h.get("url") for h in chain]})
        return passed("http:// redirects to https://", evidence={"hops": [h.get("url") for h in chain]})
    return failed("http:// does not redirect to https://", evidence={"hops": [h.get("url") for h in chain]})


@check(
    "http.hsts",
    pillar="http", level="required", severity="medium", schemes=("https",), kinds=WEB_AND_API,
    title={"en": "HSTS is set with a long max-age", "nl": "HSTS staat aan met een lange max-age"},
    remediation={
        "en": "Send Strict-Transport-Security: max-age=31536000; includeSubDomains on every HTTPS response.",
        "nl": "Stuur Strict-Transport-Security: max-age=31536000; includeSubDomains mee met elk HTTPS-antwoord.",
    },
    references=("RFC 6797", OBSERVATORY),
    thresholds={"hsts_min_max_age": 31536000},
)
def hsts(ctx: CheckContext):
    http = ctx.section("http")
    if not http.get("https"):
        raise NotMeasured("HTTPS did not answer, so HSTS could not be read")
    value = http.get("hsts")
    if value is None:
        return failed("no Strict-Transport-Security header")
    max_age = value.get("max_age")
    minimum = ctx.threshold("hsts_min_max_age")
    evidence = {"header": value.get("raw")}
    if max_age is None:
        return failed("Strict-Transport-Security has no valid max-age", evidence=evidence)
    if max_age < minimum:
        return warned(f"max-age={max_age} is shorter than {minimum}", evidence=evidence)
    return passed(f"max-age={max_age}" + ("; includeSubDomains" if value.get("include_subdomains") else ""),
                  evidence=evidence)


@check(
    "http.content_type_options",
    pillar="http", level="recommended", severity="low", kinds=WEB_AND_API,
    title={"en": "X-Content-Type-Options is nosniff", "nl": "X-Content-Type-Options staat op nosniff"},
    remediation={
        "en": "Send X-Content-Type-Options: nosniff so browsers do not guess content types.",
        "nl": "Stuur X-Content-Type-Options: nosniff mee zodat browsers het inhoudstype niet raden.",
    },
    references=(OBSERVATORY,),
)
def content_type_options(ctx: CheckContext):
    value = ctx.fact("http", "headers").get("x-content-type-options")
    if value and value.strip().lower() == "nosniff":
        return passed("nosniff")
    return failed("missing" if value is None else f"invalid value {value!r}")


@check(
    "http.framing",
    pillar="http", level="recommended", severity="medium", kinds=BROWSER_KINDS,
    title={"en": "Framing by other sites is restricted", "nl": "Inkadering door andere sites is beperkt"},
    remediation={
        "en": "Send Content-Security-Policy: frame-ancestors 'self' (or X-Frame-Options: DENY/SAMEORIGIN).",
        "nl": "Stuur Content-Security-Policy: frame-ancestors 'self' mee (of X-Frame-Options: DENY/SAMEORIGIN).",
    },
    references=(OBSERVATORY, "RFC 7034"),
)
def framing(ctx: CheckContext):
    headers = ctx.fact("http", "headers")
    csp = headers.get("content-security-policy", "")
    if "frame-ancestors" in csp.lower():
        return passed("CSP frame-ancestors is set")
    xfo = headers.get("x-frame-options")
    if xfo and xfo.strip().upper() in ("DENY", "SAMEORIGIN"):
        return passed(f"X-Frame-Options: {xfo.strip()}")
    return failed("neither CSP frame-ancestors nor X-Frame-Options restricts framing")


@check(
    "http.csp",
    pillar="http", level="recommended", severity="medium", kinds=BROWSER_KINDS,
    title={"en": "A Content-Security-Policy is set", "nl": "Er is een Content-Security-Policy ingesteld"},
    remediation={
        "en": "Send a Content-Security-Policy that restricts script sources (no 'unsafe-inline').",
        "nl": "Stuur een Content-Security-Policy mee die de bronnen van scripts beperkt (geen 'unsafe-inline').",
    },
    references=(OBSERVATORY, "CSP Level 3"),
)
def csp(ctx: CheckContext):
    headers = ctx.fact("http", "headers")
    value = headers.get("content-security-policy")
    if not value:
        return failed("no Content-Security-Policy header")
    if "'unsafe-inline'" in value and "script-src" in value:
        return warned("script-src allows 'unsafe-inline'", evidence={"policy": value})
    return passed("Content-Security-Policy is set", evidence={"policy": value})


@check(
    "http.security_txt",
    pillar="http", level="recommended", severity="low", schemes=("https",), kinds=WEB_AND_API,
    title={"en": "security.txt is published", "nl": "security.txt is gepubliceerd"},
    remediation={
        "en": "Publish /.well-known/security.txt with Contact and Expires (RFC 9116).",
        "nl": "Publiceer /.well-known/security.txt met Contact en Expires (RFC 9116).",
    },
    references=("RFC 9116",),
)
def security_txt(ctx: CheckContext):
    value = ctx.fact("http", "security_txt")
    if value.get("found") is None:
        raise NotMeasured(value.get("error") or "security.txt could not be fetched")
    if not value["found"]:
        return failed("no valid /.well-known/security.txt", evidence={"status": value.get("status")})
    if not value.get("expires"):
        return warned("security.txt has no Expires field")
    try:
        expires = datetime.fromisoformat(value["expires"].replace("Z", "+00:00"))
    except ValueError:
        return warned(f"Expires is not an RFC 3339 date: {value['expires']!r}")
    if expires < ctx.now:
        return failed(f"security.txt expired on {value['expires']}")
    return passed("security.txt with Contact and Expires")


@check(
    "http.version_disclosure",
    pillar="http", level="optional", severity="info", kinds=WEB_AND_API,
    title={"en": "Server software versions are not disclosed", "nl": "Versies van de serversoftware worden niet prijsgegeven"},
    remediation={
        "en": "Remove version numbers from Server and X-Powered-By headers.",
        "nl": "Verwijder versienummers uit de headers Server en X-Powered-By.",
    },
    references=(OBSERVATORY,),
)
def version_disclosure(ctx: CheckContext):
    headers = ctx.fact("http", "headers")
    leaks = {k: headers[k] for k in ("server", "x-powered-by", "x-aspnet-version") if k in headers
             and any(ch.isdigit() for ch in headers[k])}
    if leaks:
        return info(f"versions disclosed in {', '.join(leaks)}", evidence=leaks)
    return passed("no version numbers in Server or X-Powered-By")
