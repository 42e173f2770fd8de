"""HTTP pillar: HTTPS enforcement (as pshtt), HSTS, CSP rule by rule, the other security
headers, cookies, CORS, page hygiene (SRI, mixed content), security.txt, address parity.

Every check is a pure function of the endpoint's facts (scanner/probes/http/probe.py explains
them). Which response is judged: HSTS on the endpoint's first HTTPS response; headers,
cookies and page facts on the last response still on the endpoint's own host. A chain
that leaves for another host (a central login page) is reported by `http.chain` and that
host is judged as its own endpoint, never blamed on this one.

Checks that find several problems (CSP rules, cookies, security.txt format) give one
finding per failed rule, distinguished by `key=`, with the directive or item quoted;
when nothing fails they give a single pass.
"""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from checks import csp as csplib
from checks.common import INTERNET_NL, parse_time
from checks.registry import (
    BROWSER_KINDS,
    CheckContext,
    NotMeasured,
    Outcome,
    check,
    failed,
    info,
    not_applicable,
    passed,
    warned,
)
from scanner.model import EndpointKind, Severity
from scanner.standards.http import header_classes

OBSERVATORY = "Mozilla HTTP Observatory"
WEB_AND_API = (EndpointKind.WEB, EndpointKind.API)
REDIRECT_ONLY = (EndpointKind.REDIRECT,)
# Header value classes: the standards' (scanner/standards/http.py) and our own weights and heuristics.
DATA = header_classes() | tomllib.loads(
    resources.files("checks").joinpath("data/http/headers.toml").read_text(encoding="utf-8"))


def _http(ctx: CheckContext) -> dict[str, Any]:
    return dict(ctx.section("http"))


def _headers(ctx: CheckContext) -> dict[str, str]:
    http = ctx.section("http")
    if http.get("status") is None:
        raise NotMeasured(http.get("chain_error") or _first_error(http) or "no HTTP response was received")
    return ctx.fact("http", "headers")


def _first_error(http) -> str | None:
    for name in ("https_chain", "http_chain"):
        for hop in http.get(name) or []:
            if hop.get("error"):
                return hop["error"]
    return None


def _page(ctx: CheckContext) -> Outcome | None:
    """A not-applicable outcome when the judged response is not a page a browser renders."""
    http = _http(ctx)
    resp = http.get("response") or {}
    status = resp.get("status", http.get("status"))
    if status is None:
        raise NotMeasured(_first_error(http) or "no HTTP response was received")
    if 300 <= status < 400:
        where = http.get("leaves_host")
        tail = f" to another host ({where})" if where else ""
        tail_nl = f" naar een andere host ({where})" if where else ""
        return not_applicable(f"the endpoint answers with a redirect ({status}){tail}, not with a page",
                              message_nl=f"het eindpunt antwoordt met een doorverwijzing ({status}){tail_nl}, niet met "
                                         "een pagina")
    return None


def _chain_urls(chain: list[dict[str, Any]]) -> list[str]:
    return [h.get("url", "") for h in chain]


def _downgrades(chain: list[dict[str, Any]]) -> list[str]:
    """Hops from https:// to http:// in a chain."""
    out = []
    for hop in chain:
        loc = hop.get("location") or ""
        if hop.get("url", "").startswith("https://") and loc.startswith("http://"):
            out.append(f"{hop['url']} -> {loc}")
    return out


# ---------------------------------------------------------------- enforcement (pshtt)


@check(
    "http.https",
    pillar="http", level="required", severity="critical",
    title={"en": "The site is available over HTTPS", "nl": "De site is bereikbaar via HTTPS"},
    remediation={
        "en": "Serve the site over HTTPS with a valid certificate.",
        "nl": "Bied de site aan via HTTPS met een geldig certificaat.",
    },
    references=("RFC 9110", "pshtt"),
)
def https(ctx: CheckContext):
    http = ctx.section("http")
    value = http.get("https")
    if value is False:
        return failed("nothing answers on HTTPS (port 443 refused the connection)",
                      message_nl="niets antwoordt via HTTPS (poort 443 weigert de verbinding)")
    if value is not True:
        raise NotMeasured(http.get("https_error") or "HTTPS could not be tested")
    cert = ctx.facts.get("certificate") or {}
    if cert.get("trusted") is False or cert.get("hostname_match") is False:
        return warned("HTTPS answers, but with a certificate browsers reject (see the certificate pillar)",
                      evidence={"trusted": cert.get("trusted"), "hostname_match": cert.get("hostname_match")},
                      message_nl="HTTPS antwoordt, maar met een certificaat dat browsers weigeren (zie de pijler "
                                 "certificaat)")
    valid = cert.get("trusted")
    return passed("HTTPS answers" + (" with a valid certificate" if valid else ""),
                  message_nl="HTTPS antwoordt" + (" met een geldig certificaat" if valid else ""))


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
        return passed("no plain HTTP service (port 80 closed)",
                      message_nl="geen dienst via gewoon HTTP (poort 80 gesloten)")
    if http.get("redirects_to_https") is None:
        raise NotMeasured("plain HTTP could not be tested")
    chain = http.get("http_chain", [])
    evidence = {"hops": _chain_urls(chain)}
    if http["redirects_to_https"]:
        downgrades = _downgrades(chain)
        if downgrades:
            return failed(f"http:// reaches HTTPS but is sent back to plain HTTP: {downgrades[0]}",
                          evidence=evidence | {"downgrades": downgrades},
                          message_nl=f"http:// bereikt HTTPS, maar wordt teruggestuurd naar gewoon HTTP: {downgrades[0]}")
        if not http.get("http_first_hop_https_same_host"):
            first = chain[0].get("location") if chain else None
            return warned(f"redirects to HTTPS, but the first hop goes to {first} instead of the same host "
                          "over HTTPS (HSTS for this host is never seen)", evidence=evidence,
                          message_nl=f"verwijst door naar HTTPS, maar de eerste stap gaat naar {first} in plaats van "
                                     "naar dezelfde host via HTTPS (de browser ziet de HSTS van deze host nooit)")
        return passed("http:// redirects to https:// on the same host", evidence=evidence,
                      message_nl="http:// verwijst door naar https:// op dezelfde host")
    return failed("http:// does not redirect to https://", evidence=evidence,
                  message_nl="http:// verwijst niet door naar https://")


@check(
    "http.downgrade",
    pillar="http", level="required", severity="high", schemes=("https",),
    title={"en": "HTTPS never redirects to plain HTTP", "nl": "HTTPS verwijst nooit door naar gewoon HTTP"},
    remediation={
        "en": "Make every redirect from an https:// URL point to an https:// URL.",
        "nl": "Laat elke doorverwijzing vanaf een https://-adres naar een https://-adres gaan.",
    },
    references=("pshtt", "RFC 6797 §7.2"),
)
def downgrade(ctx: CheckContext):
    http = ctx.section("http")
    if not http.get("https"):
        raise NotMeasured("HTTPS did not answer")
    chain = http.get("https_chain", [])
    found = _downgrades(chain)
    if found:
        return failed(f"HTTPS redirects to plain HTTP: {found[0]}",
                      evidence={"downgrades": found, "hops": _chain_urls(chain)},
                      message_nl=f"HTTPS verwijst door naar gewoon HTTP: {found[0]}")
    return passed("no redirect from HTTPS to plain HTTP", evidence={"hops": _chain_urls(chain)},
                  message_nl="geen doorverwijzing van HTTPS naar gewoon HTTP")


@check(
    "http.chain",
    pillar="http", level="recommended", severity="medium",
    title={"en": "Redirects end on an answering page", "nl": "Doorverwijzingen eindigen op een antwoordende pagina"},
    remediation={
        "en": "Redirect directly to the final URL; avoid loops and long chains.",
        "nl": "Verwijs rechtstreeks door naar het uiteindelijke adres; vermijd lussen en lange ketens.",
    },
    references=("RFC 9110 §15.4", "pshtt"),
)
def chain(ctx: CheckContext):
    http = ctx.section("http")
    hops = http.get("https_chain") if http.get("https") else http.get("http_chain")
    if not hops:
        raise NotMeasured("no redirect chain was recorded")
    last = hops[-1]
    evidence = {"hops": _chain_urls(hops)}
    if last.get("loop"):
        return failed(f"redirect loop at {last['url']}", evidence=evidence,
                      message_nl=f"doorverwijzingslus bij {last['url']}")
    if last.get("cap"):
        return failed(f"more than {len(hops) - 2} redirects", evidence=evidence,
                      message_nl=f"meer dan {len(hops) - 2} doorverwijzingen")
    if last.get("not_followed"):
        why = last["error"].removeprefix("not followed: ")
        return info(f"ends on {last['url']}, not followed: {why}", evidence=evidence,
                    message_nl=f"eindigt op {last['url']}, niet gevolgd: {why}")
    if last.get("error") and len(hops) > 1:
        return failed(f"the redirect target {last['url']} does not answer: {last['error']}", evidence=evidence,
                      message_nl=f"het doel van de doorverwijzing, {last['url']}, antwoordt niet: {last['error']}")
    if last.get("error"):
        raise NotMeasured(last["error"])
    if http.get("leaves_host"):
        return info(f"ends on another host, {http['final_url']} (status {http['status']}); that host is judged "
                    "as its own endpoint", evidence=evidence,
                    message_nl=f"eindigt op een andere host, {http['final_url']} (status {http['status']}); die host "
                               "wordt als afzonderlijk eindpunt beoordeeld")
    if last.get("status", 0) >= 400:
        return warned(f"ends on {last['url']} with status {last['status']}", evidence=evidence,
                      message_nl=f"eindigt op {last['url']} met status {last['status']}")
    return passed(f"ends on {last['url']} after {len(hops) - 1} redirect(s)", evidence=evidence,
                  message_nl=f"eindigt op {last['url']} na {len(hops) - 1} doorverwijzing(en)")


@check(
    "http.www",
    pillar="http", level="recommended", severity="medium",
    title={"en": "The www name enforces HTTPS too", "nl": "Ook de www-naam dwingt HTTPS af"},
    remediation={
        "en": "Serve www.<domain> over HTTPS with a valid certificate and redirect its http:// to https://.",
        "nl": "Bied www.<domein> aan via HTTPS met een geldig certificaat en verwijs http:// door naar https://.",
    },
    references=("pshtt",),
)
def www(ctx: CheckContext):
    value = ctx.answer("http", "www")
    if value is None:
        return not_applicable("not a bare domain", message_nl="geen kaal domein")
    if value.get("exists") is None:
        raise NotMeasured(value.get("error") or "the www name could not be resolved")
    if value["exists"] is False:
        return passed(f"{value['host']} does not exist", message_nl=f"{value['host']} bestaat niet")
    https_chain, http_chain = value.get("https_chain", []), value.get("http_chain", [])
    problems = []  # (English, Dutch)
    if not https_chain or "status" not in https_chain[0]:
        problems.append((f"https://{value['host']}/ does not answer", f"https://{value['host']}/ antwoordt niet"))
    if http_chain and "status" in http_chain[0]:
        if not any(h.get("url", "").startswith("https://") and "status" in h for h in http_chain):
            problems.append((f"http://{value['host']}/ does not redirect to HTTPS",
                             f"http://{value['host']}/ verwijst niet door naar HTTPS"))
    problems += [(f"downgrade {d}", f"terugval naar HTTP: {d}") for d in _downgrades(https_chain) + _downgrades(http_chain)]
    evidence = {"https": _chain_urls(https_chain), "http": _chain_urls(http_chain)}
    if problems:
        return failed("; ".join(en for en, _ in problems), evidence=evidence,
                      message_nl="; ".join(nl for _, nl in problems))
    return passed(f"{value['host']} answers over HTTPS and its http:// redirects to HTTPS", evidence=evidence,
                  message_nl=f"{value['host']} antwoordt via HTTPS en zijn http:// verwijst door naar HTTPS")


@check(
    "http.redirect_target",
    pillar="http", level="recommended", severity="medium", kinds=REDIRECT_ONLY,
    title={"en": "The redirect is permanent and goes to HTTPS",
           "nl": "De doorverwijzing is permanent en gaat naar HTTPS"},
    remediation={
        "en": "Redirect with 301 or 308 straight to the https:// address of the destination.",
        "nl": "Verwijs door met 301 of 308, rechtstreeks naar het https://-adres van de bestemming.",
    },
    references=("RFC 9110 §15.4", "pshtt"),
)
def redirect_target(ctx: CheckContext):
    http = ctx.section("http")
    hops = http.get("https_chain") if http.get("https") else http.get("http_chain")
    if not hops or "status" not in hops[0]:
        raise NotMeasured((hops or [{}])[0].get("error") or "the endpoint did not answer")
    first = hops[0]
    evidence = {"hops": _chain_urls(hops)}
    location = first.get("location")
    if not location:
        return failed(f"the endpoint does not redirect (status {first['status']})", evidence=evidence,
                      message_nl=f"het eindpunt verwijst niet door (status {first['status']})")
    if not location.startswith("https://"):
        return failed(f"redirects to {location}, not to an https:// address", evidence=evidence,
                      message_nl=f"verwijst door naar {location}, niet naar een https://-adres")
    if first["status"] not in (301, 308):
        return warned(f"temporary redirect ({first['status']}) to {location}; use 301 or 308", evidence=evidence,
                      message_nl=f"tijdelijke doorverwijzing ({first['status']}) naar {location}; gebruik 301 of 308")
    return passed(f"permanent redirect ({first['status']}) to {location}", evidence=evidence,
                  message_nl=f"permanente doorverwijzing ({first['status']}) naar {location}")


# ---------------------------------------------------------------- HSTS


@check(
    "http.hsts",
    pillar="http", level="required", severity="medium", schemes=("https",), kinds=WEB_AND_API,
    title={"en": "HSTS is set with a long max-age", "nl": "HSTS staat aan met een lange max-age"},
    remediation={
        "en": "Send exactly one Strict-Transport-Security: max-age=31536000; includeSubDomains on every HTTPS response.",
        "nl": "Stuur precies één Strict-Transport-Security: max-age=31536000; includeSubDomains mee met elk HTTPS-antwoord.",
    },
    references=("RFC 6797", OBSERVATORY),
    thresholds={"hsts_min_max_age": 31536000},
)
def hsts(ctx: CheckContext):
    http = ctx.section("http")
    if not http.get("https"):
        raise NotMeasured("HTTPS did not answer, so HSTS could not be read")
    value = ctx.answer("http", "hsts")
    if value is None:
        return failed("no Strict-Transport-Security header", message_nl="geen Strict-Transport-Security-header")
    evidence = {"header": value.get("raw"), "count": value.get("count", 1)}
    if value.get("valid") is False or value.get("max_age") is None:
        errors = value.get("errors") or ["no valid max-age"]
        return failed(f"Strict-Transport-Security is invalid and ignored by browsers: {'; '.join(errors)}",
                      evidence=evidence | {"errors": errors},
                      message_nl=f"Strict-Transport-Security is ongeldig en browsers negeren de header ({'; '.join(errors)})")
    max_age = value["max_age"]
    minimum = ctx.threshold("hsts_min_max_age")
    if max_age == 0:
        return failed("max-age=0 tells browsers to forget HSTS", evidence=evidence,
                      message_nl="max-age=0 laat browsers HSTS vergeten")
    if value.get("count", 1) > 1:
        return warned(f"{value['count']} Strict-Transport-Security headers: browsers use only the first "
                      f"({value.get('raw')!r})", evidence=evidence,
                      message_nl=f"{value['count']} Strict-Transport-Security-headers: browsers gebruiken enkel de "
                                 f"eerste ({value.get('raw')!r})")
    if max_age < minimum:
        return warned(f"max-age={max_age} is shorter than {minimum}", evidence=evidence,
                      message_nl=f"max-age={max_age} is korter dan {minimum}")
    shown = f"max-age={max_age}" + ("; includeSubDomains" if value.get("include_subdomains") else "")
    return passed(shown, evidence=evidence, message_nl=shown)


@check(
    "http.hsts_preload",
    pillar="http", level="optional", severity="low", schemes=("https",), kinds=WEB_AND_API,
    title={"en": "The domain is ready for the HSTS preload list",
           "nl": "Het domein is klaar voor de HSTS-preloadlijst"},
    remediation={
        "en": "On the bare domain: redirect http:// to https:// on the same host, serve HTTPS on www too, and send "
              "Strict-Transport-Security: max-age=31536000; includeSubDomains; preload. Then submit it at hstspreload.org.",
        "nl": "Op het kale domein: verwijs http:// door naar https:// op dezelfde host, bied ook www via HTTPS aan en "
              "stuur Strict-Transport-Security: max-age=31536000; includeSubDomains; preload. Meld het daarna aan op hstspreload.org.",
    },
    references=("hstspreload.org", "RFC 6797"),
)
def hsts_preload(ctx: CheckContext):
    http = ctx.section("http")
    value = http.get("hsts") or {}
    if ctx.answer("http", "www") is None:
        if value.get("preload"):
            return info("the preload directive is set on a subdomain; only a registrable domain can be submitted",
                        message_nl="de preload-richtlijn staat op een subdomein; enkel een registreerbaar domein kan "
                                   "aangemeld worden")
        return not_applicable("not a bare domain (only registrable domains are preloaded)",
                              message_nl="geen kaal domein (enkel registreerbare domeinen komen op de preloadlijst)")
    if not http.get("https"):
        raise NotMeasured("HTTPS did not answer")
    missing = []  # (English, Dutch)
    cert = ctx.facts.get("certificate") or {}
    if cert.get("trusted") is False or cert.get("hostname_match") is False:
        missing.append(("a valid certificate", "een geldig certificaat"))
    if http.get("http_listening") and not http.get("http_first_hop_https_same_host"):
        missing.append(("http:// redirecting first to https:// on the same host",
                        "http:// dat eerst naar https:// op dezelfde host doorverwijst"))
    www_facts = http["www"]
    if www_facts.get("exists") and not any("status" in h for h in www_facts.get("https_chain", [])[:1]):
        missing.append((f"HTTPS on {www_facts['host']}", f"HTTPS op {www_facts['host']}"))
    minimum = DATA["hsts_preload"]["min_max_age"]
    if not value:
        missing.append(("a Strict-Transport-Security header", "een Strict-Transport-Security-header"))
    else:
        if (value.get("max_age") or 0) < minimum:
            missing.append((f"max-age of at least {minimum}", f"een max-age van minstens {minimum}"))
        if not value.get("include_subdomains"):
            missing.append(("includeSubDomains", "includeSubDomains"))
        if not value.get("preload"):
            missing.append(("the preload directive", "de preload-richtlijn"))
    if missing:
        outcome = info if [en for en, _ in missing] == ["the preload directive"] else warned
        return outcome("not preload-ready: needs " + ", ".join(en for en, _ in missing),
                       evidence={"missing": [en for en, _ in missing]},
                       message_nl="nog niet klaar voor de preloadlijst: nodig is " + ", ".join(nl for _, nl in missing))
    return passed("meets the hstspreload.org requirements that can be seen from outside",
                  message_nl="voldoet aan de vereisten van hstspreload.org die van buitenaf zichtbaar zijn")


# ---------------------------------------------------------------- CSP


def _policies(http: dict[str, Any]) -> list[csplib.Policy]:
    headers = http.get("headers") or {}
    policies = csplib.parse_header(headers.get("content-security-policy"), "header")
    for meta in (http.get("html") or {}).get("meta_csp", []):
        policies += csplib.parse_header(meta, "meta")
    policies += csplib.parse_header(headers.get("content-security-policy-report-only"), "report-only")
    return policies


def _enforced(ctx: CheckContext) -> tuple[list[csplib.Policy], Outcome | None]:
    if (skip := _page(ctx)) is not None:
        return [], skip
    policies = _policies(_http(ctx))
    if not [p for p in policies if p.source != "report-only"]:
        return [], not_applicable("no enforced Content-Security-Policy (see http.csp)",
                                  message_nl="geen afgedwongen Content-Security-Policy (zie http.csp)")
    return policies, None


@check(
    "http.csp",
    pillar="http", level="recommended", severity="medium", kinds=BROWSER_KINDS,
    title={"en": "A Content-Security-Policy is enforced", "nl": "Er wordt een Content-Security-Policy afgedwongen"},
    remediation={
        "en": "Send a Content-Security-Policy header that restricts script sources (no 'unsafe-inline').",
        "nl": "Stuur een Content-Security-Policy-header mee die de bronnen van scripts beperkt (geen 'unsafe-inline').",
    },
    references=(OBSERVATORY, "CSP Level 3"),
)
def csp(ctx: CheckContext):
    if (skip := _page(ctx)) is not None:
        return skip
    policies = _policies(_http(ctx))
    header = [p for p in policies if p.source == "header"]
    meta = [p for p in policies if p.source == "meta"]
    report_only = [p for p in policies if p.source == "report-only"]
    evidence: dict[str, Any] = {"policy": [p.raw for p in header + meta]}
    if report_only:
        evidence["report_only"] = [p.raw for p in report_only]
    if not header and not meta:
        if report_only:
            return warned("only Content-Security-Policy-Report-Only is sent: violations are reported, "
                          "nothing is blocked", evidence=evidence,
                          message_nl="enkel Content-Security-Policy-Report-Only wordt meegestuurd: overtredingen worden "
                                     "gemeld, niets wordt tegengehouden")
        return failed("no Content-Security-Policy header", evidence=evidence,
                      message_nl="geen Content-Security-Policy-header")
    odd = sorted({d for p in header + meta for d in p.duplicates})
    bad = sorted({d for p in header + meta for d in p.invalid})
    if odd or bad:
        parts = ([f"repeated directives ignored by browsers: {', '.join(odd)}"] if odd else []) + (
            [f"malformed directive names: {', '.join(bad)}"] if bad else [])
        parts_nl = ([f"herhaalde richtlijnen die browsers negeren: {', '.join(odd)}"] if odd else []) + (
            [f"misvormde namen van richtlijnen: {', '.join(bad)}"] if bad else [])
        return warned("; ".join(parts), evidence=evidence | {"duplicates": odd, "invalid": bad},
                      message_nl="; ".join(parts_nl))
    where = "header" if header else "<meta> element (frame-ancestors and reporting do not work there)"
    where_nl = "de header" if header else "een <meta>-element (frame-ancestors en meldingen werken daar niet)"
    extra = " (a report-only policy is also sent)" if report_only else ""
    extra_nl = " (er wordt ook een report-only-beleid meegestuurd)" if report_only else ""
    return passed(f"Content-Security-Policy is enforced by {where}{extra}", evidence=evidence,
                  message_nl=f"Content-Security-Policy wordt afgedwongen via {where_nl}{extra_nl}")


_RULE_SEVERITY = {rule: Severity(level) for rule, level in DATA["csp_severity"].items()}


def _rule_outcomes(results: list[csplib.RuleResult], summary: tuple[str, str]) -> list[Outcome]:
    make = {csplib.FAIL: failed, csplib.WARN: warned}
    bad = [r for r in results if r.status != csplib.PASS]
    if not bad:
        return [passed(summary[0], evidence={"rules": [r.message for r in results]}, message_nl=summary[1])]
    return [make[r.status](r.message, key=r.rule, evidence=r.evidence() | {"rule": r.rule},
                           severity=_RULE_SEVERITY.get(r.rule), message_nl=r.message_nl) for r in bad]


@check(
    "http.csp.script",
    pillar="http", level="recommended", severity="high", kinds=BROWSER_KINDS,
    title={"en": "The CSP stops injected scripts", "nl": "De CSP houdt geïnjecteerde scripts tegen"},
    remediation={
        "en": "Allow scripts by nonce or hash (with 'strict-dynamic') or by exact hosts; drop 'unsafe-inline', "
              "'unsafe-eval', wildcards, https: and data: from script-src.",
        "nl": "Sta scripts toe via een nonce of hash (met 'strict-dynamic') of via exacte hosts; schrap "
              "'unsafe-inline', 'unsafe-eval', jokertekens, https: en data: uit script-src.",
    },
    references=("CSP Level 3 §6.7.3", OBSERVATORY, "Google CSP Evaluator"),
)
def csp_script(ctx: CheckContext):
    policies, skip = _enforced(ctx)
    if skip:
        return skip
    results = [r for r in csplib.analyse(policies) if r.rule in (*csplib.SCRIPT_RULES, "script-src")]
    return _rule_outcomes(results, ("script-src allows no inline script, eval, wildcard or data: source",
                                    "script-src laat geen inline scripts, eval, jokertekens of data:-bronnen toe"))


@check(
    "http.csp.directives",
    pillar="http", level="recommended", severity="medium", kinds=BROWSER_KINDS,
    title={"en": "The CSP restricts plugins, base URL and form targets",
           "nl": "De CSP beperkt plug-ins, basis-URL en formulierdoelen"},
    remediation={
        "en": "Add object-src 'none', base-uri 'none' (or 'self'), form-action 'self' and default-src 'self'.",
        "nl": "Voeg object-src 'none', base-uri 'none' (of 'self'), form-action 'self' en default-src 'self' toe.",
    },
    references=("CSP Level 3", OBSERVATORY),
)
def csp_directives(ctx: CheckContext):
    policies, skip = _enforced(ctx)
    if skip:
        return skip
    results = [r for r in csplib.analyse(policies) if r.rule in ("object-src", "base-uri", "form-action", "default-src")]
    return _rule_outcomes(results, ("object-src, base-uri, form-action and default-src are restricted",
                                    "object-src, base-uri, form-action en default-src zijn beperkt"))


# ---------------------------------------------------------------- other headers


@check(
    "http.framing",
    pillar="http", level="recommended", severity="medium", kinds=BROWSER_KINDS,
    title={"en": "Framing by other sites is restricted", "nl": "Inkadering door andere sites is beperkt"},
    remediation={
        "en": "Send Content-Security-Policy: frame-ancestors 'self' (or X-Frame-Options: DENY/SAMEORIGIN).",
        "nl": "Stuur Content-Security-Policy: frame-ancestors 'self' mee (of X-Frame-Options: DENY/SAMEORIGIN).",
    },
    references=(OBSERVATORY, "RFC 7034", "CSP Level 3 §6.4.2"),
)
def framing(ctx: CheckContext):
    if (skip := _page(ctx)) is not None:
        return skip
    headers = _headers(ctx)
    fa = csplib.frame_ancestors(_policies(_http(ctx)))
    xfo = headers.get("x-frame-options")
    values = sorted({v.strip().lower() for v in xfo.split(",") if v.strip()}) if xfo else []
    evidence = {"x-frame-options": xfo, **(fa.evidence() if fa else {})}
    if fa is not None:  # browsers that know frame-ancestors ignore X-Frame-Options
        if fa.status == csplib.PASS:
            note = " (X-Frame-Options is ignored where frame-ancestors is supported)" if xfo else ""
            note_nl = " (X-Frame-Options wordt genegeerd waar frame-ancestors ondersteund is)" if xfo else ""
            return passed(f"CSP {fa.message}{note}", evidence=evidence, message_nl=f"CSP {fa.message_nl}{note_nl}")
        return failed(f"CSP {fa.message}", evidence=evidence, message_nl=f"CSP {fa.message_nl}")
    if not values:
        return failed("neither CSP frame-ancestors nor X-Frame-Options restricts framing",
                      message_nl="noch CSP frame-ancestors noch X-Frame-Options beperkt de inkadering")
    if len(values) > 1:
        return warned(f"conflicting X-Frame-Options values {', '.join(values)}", evidence=evidence,
                      message_nl=f"tegenstrijdige waarden voor X-Frame-Options: {', '.join(values)}")
    value = values[0].split()[0]
    if value in DATA["frame_options"]["good"]:
        return passed(f"X-Frame-Options: {xfo.strip()}", evidence=evidence, message_nl=f"X-Frame-Options: {xfo.strip()}")
    if value in DATA["frame_options"]["obsolete"]:
        return failed(f"X-Frame-Options: {xfo.strip()} is obsolete and ignored by current browsers", evidence=evidence,
                      message_nl=f"X-Frame-Options: {xfo.strip()} is verouderd en huidige browsers negeren het")
    return failed(f"invalid X-Frame-Options value {xfo.strip()!r}", evidence=evidence,
                  message_nl=f"ongeldige waarde voor X-Frame-Options: {xfo.strip()!r}")


@check(
    "http.content_type_options",
    pillar="http", level="recommended", severity="low", kinds=WEB_AND_API,
    title={"en": "X-Content-Type-Options is nosniff", "nl": "X-Content-Type-Options staat op nosniff"},
    remediation={
        "en": "Send X-Content-Type-Options: nosniff so browsers do not guess content types.",
        "nl": "Stuur X-Content-Type-Options: nosniff mee zodat browsers het inhoudstype niet raden.",
    },
    references=(OBSERVATORY, "Fetch §3.4"),
)
def content_type_options(ctx: CheckContext):
    value = _headers(ctx).get("x-content-type-options")
    # Fetch: the first value counts ("nosniff, nosniff" from a duplicated header still works)
    if value and value.split(",")[0].strip().lower() == "nosniff":
        return passed("nosniff", message_nl="nosniff")
    if value is None:
        return failed("no X-Content-Type-Options header", message_nl="geen X-Content-Type-Options-header")
    return failed(f"invalid X-Content-Type-Options value {value!r}",
                  message_nl=f"ongeldige waarde voor X-Content-Type-Options: {value!r}")


@check(
    "http.referrer_policy",
    pillar="http", level="recommended", severity="low", kinds=BROWSER_KINDS,
    title={"en": "Referrer-Policy keeps URLs on the site", "nl": "Referrer-Policy houdt adressen binnen de site"},
    remediation={
        "en": "Send Referrer-Policy: strict-origin-when-cross-origin (or no-referrer / same-origin).",
        "nl": "Stuur Referrer-Policy: strict-origin-when-cross-origin mee (of no-referrer / same-origin).",
    },
    references=("W3C Referrer Policy", OBSERVATORY),
)
def referrer_policy(ctx: CheckContext):
    if (skip := _page(ctx)) is not None:
        return skip
    http = _http(ctx)
    value = _headers(ctx).get("referrer-policy") or (http.get("html") or {}).get("meta_referrer")
    if not value:
        return warned("no Referrer-Policy: the browser's default applies (strict-origin-when-cross-origin "
                      "in current browsers, full URLs in older ones)",
                      message_nl="geen Referrer-Policy: de standaard van de browser geldt (strict-origin-when-cross-origin "
                                 "in huidige browsers, volledige adressen in oudere)")
    classes = DATA["referrer_policy"]
    # a list of values is a fallback chain: the browser uses the last one it knows
    tokens = [t.strip().lower() for t in value.split(",") if t.strip()]
    known = [t for t in tokens if any(t in classes[c] for c in ("good", "acceptable", "bad"))]
    if not known:
        return failed(f"Referrer-Policy {value!r} has no valid value", evidence={"value": value},
                      message_nl=f"Referrer-Policy {value!r} heeft geen geldige waarde")
    effective = known[-1]
    evidence = {"value": value, "effective": effective}
    if effective in classes["good"]:
        return passed(f"Referrer-Policy: {effective}", evidence=evidence, message_nl=f"Referrer-Policy: {effective}")
    if effective in classes["acceptable"]:
        return warned(f"Referrer-Policy: {effective} sends the origin to every site, also over plain HTTP",
                      evidence=evidence, message_nl=f"Referrer-Policy: {effective} stuurt de oorsprong naar elke site, "
                                                    "ook via gewoon HTTP")
    return failed(f"Referrer-Policy: {effective} sends full URLs (paths and queries) to other sites",
                  evidence=evidence, message_nl=f"Referrer-Policy: {effective} stuurt volledige adressen (pad en "
                                                "zoekparameters) naar andere sites")


@check(
    "http.permissions_policy",
    pillar="http", level="optional", severity="low", kinds=BROWSER_KINDS,
    title={"en": "Permissions-Policy limits powerful features", "nl": "Permissions-Policy beperkt krachtige functies"},
    remediation={
        "en": "Send Permissions-Policy disabling what the site does not use, e.g. camera=(), microphone=(), geolocation=().",
        "nl": "Stuur Permissions-Policy mee die uitschakelt wat de site niet gebruikt, bv. camera=(), microphone=(), geolocation=().",
    },
    references=("W3C Permissions Policy",),
)
def permissions_policy(ctx: CheckContext):
    if (skip := _page(ctx)) is not None:
        return skip
    value = _headers(ctx).get("permissions-policy")
    if not value:
        return warned("no Permissions-Policy header", message_nl="geen Permissions-Policy-header")
    features: dict[str, str] = {}
    malformed = []
    for item in value.split(","):
        name, eq, allow = item.strip().partition("=")
        if not eq or not name.strip():
            malformed.append(item.strip()[:60])
            continue
        features[name.strip().lower()] = allow.strip()
    open_to_all = [f for f, allow in features.items() if f in DATA["permissions_policy"]["powerful"]
                   and (allow == "*" or allow.startswith("*") or "*" in allow.strip("()").split())]
    evidence = {"value": value[:500]}
    if malformed:
        return warned(f"malformed Permissions-Policy entries: {', '.join(malformed)}", evidence=evidence,
                      message_nl=f"misvormde regels in Permissions-Policy: {', '.join(malformed)}")
    if open_to_all:
        return warned(f"powerful features allowed for every origin: {', '.join(open_to_all)}", evidence=evidence,
                      message_nl=f"krachtige functies toegestaan voor elke oorsprong: {', '.join(open_to_all)}")
    return passed(f"Permissions-Policy sets {len(features)} feature(s)", evidence=evidence,
                  message_nl=f"Permissions-Policy regelt {len(features)} functie(s)")


@check(
    "http.cross_origin",
    pillar="http", level="optional", severity="low", kinds=BROWSER_KINDS,
    title={"en": "Cross-origin isolation headers are set (COOP, COEP, CORP)",
           "nl": "Headers voor cross-origin-isolatie zijn ingesteld (COOP, COEP, CORP)"},
    remediation={
        "en": "Send Cross-Origin-Opener-Policy: same-origin, Cross-Origin-Resource-Policy: same-origin and, "
              "where the page allows, Cross-Origin-Embedder-Policy: require-corp.",
        "nl": "Stuur Cross-Origin-Opener-Policy: same-origin en Cross-Origin-Resource-Policy: same-origin mee en, "
              "waar de pagina het toelaat, Cross-Origin-Embedder-Policy: require-corp.",
    },
    references=("HTML Living Standard §7.1.3", "Fetch §3.7"),
)
def cross_origin(ctx: CheckContext):
    if (skip := _page(ctx)) is not None:
        return skip
    headers = _headers(ctx)
    out = []
    for name, classes in DATA["cross_origin"].items():
        raw = headers.get(name)
        value = raw.split(";")[0].split(",")[0].strip().lower() if raw else None
        if value in classes["good"]:
            out.append(passed(f"{name}: {value}", key=name, message_nl=f"{name}: {value}"))
        elif value is None:
            out.append(info(f"no {name} header", key=name, message_nl=f"geen {name}-header"))
        elif value in classes["weak"]:
            out.append(info(f"{name}: {value} gives no isolation", key=name,
                            message_nl=f"{name}: {value} biedt geen isolatie"))
        else:
            out.append(warned(f"invalid {name} value {raw!r}", key=name,
                              message_nl=f"ongeldige waarde voor {name}: {raw!r}"))
    return out


# ---------------------------------------------------------------- cookies and CORS


def _cookie_problems(cookie: dict[str, Any], over_https: bool) -> tuple[str, list[tuple[str, str]]]:
    """("pass" | "warn" | "fail", problems as (English, Dutch)) for one cookie's attributes."""
    name = cookie.get("name", "")
    low = name.lower()
    fails, warns = [], []
    samesite = (cookie.get("samesite") or "").strip().lower() or None
    if over_https and not cookie.get("secure"):
        fails.append(("no Secure attribute (sent over plain HTTP too)",
                      "geen Secure-attribuut (wordt ook via gewoon HTTP verstuurd)"))
    if name.startswith("__Host-"):
        if not cookie.get("secure") or cookie.get("path") != "/" or cookie.get("domain"):
            fails.append(("__Host- prefix needs Secure, Path=/ and no Domain (browsers reject it)",
                          "het voorvoegsel __Host- vraagt Secure, Path=/ en geen Domain (browsers weigeren de cookie)"))
    elif name.startswith("__Secure-") and not cookie.get("secure"):
        fails.append(("__Secure- prefix needs Secure (browsers reject it)",
                      "het voorvoegsel __Secure- vraagt Secure (browsers weigeren de cookie)"))
    if samesite == "none" and not cookie.get("secure"):
        fails.append(("SameSite=None without Secure (browsers reject it)",
                      "SameSite=None zonder Secure (browsers weigeren de cookie)"))
    elif samesite is None:
        warns.append(("no SameSite attribute", "geen SameSite-attribuut"))
    elif samesite not in ("strict", "lax", "none"):
        warns.append((f"invalid SameSite value {cookie.get('samesite')!r}",
                      f"ongeldige waarde voor SameSite: {cookie.get('samesite')!r}"))
    sensitive = any(s in low for s in DATA["cookies"]["session_like"]) and not any(
        s in low for s in DATA["cookies"]["script_readable"])
    if sensitive and not cookie.get("httponly"):
        warns.append(("looks like a session cookie but has no HttpOnly attribute",
                      "lijkt een sessiecookie, maar heeft geen HttpOnly-attribuut"))
    if fails:
        return "fail", fails + warns
    return ("warn", warns) if warns else ("pass", [])


@check(
    "http.cookies",
    pillar="http", level="recommended", severity="medium", kinds=WEB_AND_API,
    title={"en": "Cookies are Secure, HttpOnly and SameSite", "nl": "Cookies zijn Secure, HttpOnly en SameSite"},
    remediation={
        "en": "Set cookies with Secure, HttpOnly (unless scripts must read them) and SameSite=Lax or Strict; "
              "prefer the __Host- prefix for session cookies.",
        "nl": "Zet cookies met Secure, HttpOnly (tenzij scripts ze moeten lezen) en SameSite=Lax of Strict; "
              "gebruik bij voorkeur het voorvoegsel __Host- voor sessiecookies.",
    },
    references=("RFC 6265bis", OBSERVATORY),
)
def cookies(ctx: CheckContext):
    _headers(ctx)  # no response, no cookies to judge: not measured rather than "no cookies"
    found = ctx.answer("http", "cookies") or []
    if not found:
        return not_applicable("no cookies are set", message_nl="er worden geen cookies gezet")
    out = []
    for cookie in found:
        status, problems = _cookie_problems(cookie, cookie.get("scheme", "https") == "https")
        if status == "pass":
            continue
        # the cookie's value is never stored or shown: only its name and attributes
        evidence = {k: cookie.get(k) for k in ("name", "secure", "httponly", "samesite", "path", "domain")}
        make = failed if status == "fail" else warned
        out.append(make(f"cookie {cookie['name']}: {'; '.join(en for en, _ in problems)}",
                        key=f"cookie:{cookie['name']}", evidence=evidence,
                        message_nl=f"cookie {cookie['name']}: {'; '.join(nl for _, nl in problems)}"))
    return out or passed(f"{len(found)} cookie(s), all with Secure, SameSite and (where needed) HttpOnly",
                         evidence={"cookies": [c.get("name") for c in found]},
                         message_nl=f"{len(found)} cookie(s), alle met Secure, SameSite en (waar nodig) HttpOnly")


@check(
    "http.cors",
    pillar="http", level="recommended", severity="high", kinds=WEB_AND_API,
    title={"en": "CORS does not open the site to every origin",
           "nl": "CORS stelt de site niet open voor elke oorsprong"},
    remediation={
        "en": "Allow only known origins in Access-Control-Allow-Origin; never reflect the request's Origin "
              "together with Access-Control-Allow-Credentials: true.",
        "nl": "Sta in Access-Control-Allow-Origin alleen gekende oorsprongen toe; kaats de Origin van de aanvraag "
              "nooit terug samen met Access-Control-Allow-Credentials: true.",
    },
    references=("Fetch §3.2 (CORS protocol)", "OWASP WSTG-CLNT-07"),
)
def cors(ctx: CheckContext):
    value = ctx.fact("http", "cors")
    if value.get("error"):
        raise NotMeasured(f"the CORS request failed: {value['error']}")
    allow, creds = value.get("allow_origin"), value.get("allow_credentials")
    evidence = {"origin_sent": value.get("origin_sent"), "access-control-allow-origin": allow,
                "access-control-allow-credentials": creds}
    if allow is None:
        return passed("a foreign Origin is not allowed", evidence=evidence,
                      message_nl="een vreemde oorsprong (Origin) wordt niet toegelaten")
    if value.get("reflected") and creds:
        return failed("any Origin is reflected with credentials allowed: every site can read this site's "
                      "responses as the logged-in visitor", evidence=evidence,
                      message_nl="elke Origin wordt teruggekaatst en aanmeldgegevens zijn toegestaan: elke site kan de "
                                 "antwoorden van deze site lezen als de aangemelde bezoeker")
    if value.get("reflected"):
        return warned("any Origin is reflected in Access-Control-Allow-Origin", evidence=evidence,
                      message_nl="elke Origin wordt teruggekaatst in Access-Control-Allow-Origin")
    if allow.strip() == "*":
        if creds:
            return warned("Access-Control-Allow-Origin: * with credentials (browsers refuse it; a sign of "
                          "a misconfigured CORS layer)", evidence=evidence,
                          message_nl="Access-Control-Allow-Origin: * met aanmeldgegevens (browsers weigeren dat; een "
                                     "teken van een verkeerd ingestelde CORS-laag)")
        return info("Access-Control-Allow-Origin: * (public content, readable by every site without "
                    "credentials)", evidence=evidence,
                    message_nl="Access-Control-Allow-Origin: * (publieke inhoud, leesbaar voor elke site zonder "
                               "aanmeldgegevens)")
    if allow.strip().lower() == "null":
        return failed("Access-Control-Allow-Origin: null (sandboxed documents and local files are allowed)",
                      evidence=evidence, message_nl="Access-Control-Allow-Origin: null (documenten in een sandbox en "
                                                    "lokale bestanden worden toegelaten)")
    return passed(f"only {allow} is allowed", evidence=evidence, message_nl=f"enkel {allow} wordt toegelaten")


# ---------------------------------------------------------------- the page


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or ""), parts.port


@check(
    "http.sri",
    pillar="http", level="recommended", severity="medium", kinds=BROWSER_KINDS,
    title={"en": "External scripts carry Subresource Integrity",
           "nl": "Externe scripts hebben Subresource Integrity"},
    remediation={
        "en": "Add integrity=\"sha384-...\" and crossorigin=\"anonymous\" to scripts and stylesheets from other "
              "origins, or host them yourself.",
        "nl": "Voeg integrity=\"sha384-...\" en crossorigin=\"anonymous\" toe aan scripts en stylesheets van andere "
              "oorsprongen, of host ze zelf.",
    },
    references=("W3C Subresource Integrity", OBSERVATORY),
)
def sri(ctx: CheckContext):
    if (skip := _page(ctx)) is not None:
        return skip
    http = _http(ctx)
    page = ctx.answer("http", "html")
    if page is None:
        return not_applicable("the response is not an HTML page", message_nl="het antwoord is geen HTML-pagina")
    page_origin = _origin((http.get("response") or {}).get("url") or http.get("final_url") or "")
    external = [s for s in page.get("scripts", []) + page.get("stylesheets", [])
                if _origin(s["src"])[0] in ("http", "https") and _origin(s["src"]) != page_origin]
    if not external:
        return passed("no scripts or stylesheets from other origins",
                      message_nl="geen scripts of stylesheets van andere oorsprongen")
    plain = [s["src"] for s in external if s["src"].startswith("http://")]
    missing = [s["src"] for s in external if not s.get("integrity")]
    if plain:
        return failed(f"{len(plain)} external resource(s) over plain HTTP: {plain[0]}", evidence={"http": plain},
                      message_nl=f"{len(plain)} externe bron(nen) via gewoon HTTP: {plain[0]}")
    if missing:
        return warned(f"{len(missing)} external resource(s) without integrity: {missing[0]}",
                      evidence={"without_integrity": missing},
                      message_nl=f"{len(missing)} externe bron(nen) zonder integrity-attribuut: {missing[0]}")
    return passed(f"{len(external)} external resource(s), all with integrity",
                  message_nl=f"{len(external)} externe bron(nen), alle met integrity-attribuut")


@check(
    "http.mixed_content",
    pillar="http", level="recommended", severity="medium", kinds=BROWSER_KINDS, schemes=("https",),
    title={"en": "The HTTPS page loads nothing over plain HTTP", "nl": "De HTTPS-pagina laadt niets via gewoon HTTP"},
    remediation={
        "en": "Load every script, style, frame, image and form target over https:// (or send "
              "Content-Security-Policy: upgrade-insecure-requests).",
        "nl": "Laad elk script, elke stijl, elk frame, elke afbeelding en elk formulierdoel via https:// (of stuur "
              "Content-Security-Policy: upgrade-insecure-requests mee).",
    },
    references=("W3C Mixed Content", OBSERVATORY),
)
def mixed_content(ctx: CheckContext):
    if (skip := _page(ctx)) is not None:
        return skip
    http = _http(ctx)
    page = ctx.answer("http", "html")
    if page is None:
        return not_applicable("the response is not an HTML page", message_nl="het antwoord is geen HTML-pagina")
    if not str((http.get("response") or {}).get("url", "")).startswith("https://"):
        return not_applicable("the judged page is not served over HTTPS",
                              message_nl="de beoordeelde pagina wordt niet via HTTPS aangeboden")
    insecure = page.get("insecure", [])
    if not insecure:
        return passed("no http:// sub-resources or form targets",
                      message_nl="geen http://-bronnen of -formulierdoelen")
    if any("upgrade-insecure-requests" in p.directives for p in _policies(http) if p.source != "report-only"):
        return passed("http:// references are upgraded by CSP upgrade-insecure-requests",
                      evidence={"insecure": [i["url"] for i in insecure]},
                      message_nl="http://-verwijzingen worden naar HTTPS omgezet door CSP upgrade-insecure-requests")
    active = [f"<{i['tag']} {i['attr']}={i['url']}>" for i in insecure if i["kind"] == "active"]
    other = [f"<{i['tag']} {i['attr']}={i['url']}>" for i in insecure if i["kind"] != "active"]
    if active:
        return failed(f"active mixed content (blocked by browsers): {active[0]}",
                      evidence={"active": active, "passive": other},
                      message_nl=f"actieve gemengde inhoud (browsers blokkeren die): {active[0]}")
    return warned(f"passive mixed content or forms over http: {other[0]}", evidence={"passive": other},
                  message_nl=f"passieve gemengde inhoud of formulieren via http: {other[0]}")


@check(
    "http.version_disclosure",
    pillar="http", level="optional", severity="info", kinds=WEB_AND_API,
    title={"en": "Server software versions are not disclosed", "nl": "Versies van de serversoftware worden niet prijsgegeven"},
    remediation={
        "en": "Remove version numbers from Server, X-Powered-By and X-AspNet-Version headers.",
        "nl": "Verwijder versienummers uit de headers Server, X-Powered-By en X-AspNet-Version.",
    },
    references=(OBSERVATORY, "OWASP WSTG-INFO-02"),
)
def version_disclosure(ctx: CheckContext):
    headers = _headers(ctx)
    spec = DATA["version_disclosure"]
    leaks = {k: headers[k][:200] for k in spec["headers"] if k in headers
             and (k in spec["always"] or any(ch.isdigit() for ch in headers[k]))}
    if leaks:
        return info(f"versions disclosed in {', '.join(leaks)}", evidence=leaks,
                    message_nl=f"versies prijsgegeven in {', '.join(leaks)}")
    return passed("no version numbers in Server, X-Powered-By or X-AspNet-Version",
                  message_nl="geen versienummers in Server, X-Powered-By of X-AspNet-Version")


@check(
    "http.compression",
    pillar="http", level="optional", severity="info", kinds=BROWSER_KINDS, schemes=("https",),
    title={"en": "HTTP compression over HTTPS (BREACH)", "nl": "HTTP-compressie over HTTPS (BREACH)"},
    remediation={
        "en": "Where a page reflects user input next to secrets (CSRF tokens), protect it against BREACH: "
              "mask the secrets per response or disable compression for those pages.",
        "nl": "Waar een pagina invoer van de gebruiker naast geheimen (CSRF-tokens) toont, bescherm haar tegen "
              "BREACH: maskeer de geheimen per antwoord of schakel compressie uit voor die pagina's.",
    },
    references=("BREACH (breachattack.com)", "RFC 7457 §2.6"),
)
def compression(ctx: CheckContext):
    http = _http(ctx)
    if not http.get("https"):
        raise NotMeasured("HTTPS did not answer")
    encoding = ctx.answer("http", "content_encoding")
    if encoding and encoding != "identity":
        return info(f"the HTTPS response is compressed ({encoding}): BREACH applies to pages that reflect "
                    "input next to secrets", evidence={"content-encoding": encoding},
                    message_nl=f"het HTTPS-antwoord is gecomprimeerd ({encoding}): BREACH treft pagina's die invoer "
                               "naast geheimen tonen")
    return passed("the HTTPS response is not compressed", message_nl="het HTTPS-antwoord is niet gecomprimeerd")


# ---------------------------------------------------------------- security.txt


def _rfc3339(value: str) -> datetime | None:
    """security.txt's Expires as RFC 3339 requires it (with a zone), else None."""
    try:
        parsed = parse_time(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


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
        legacy = value.get("legacy") or {}
        if legacy.get("found"):
            return failed("security.txt is only at /security.txt; RFC 9116 §3 requires /.well-known/security.txt",
                          evidence={"found_at": legacy.get("url"), "status": value.get("status")},
                          message_nl="security.txt staat enkel op /security.txt; RFC 9116 §3 vereist "
                                     "/.well-known/security.txt")
        return failed("no valid /.well-known/security.txt", evidence={"status": value.get("status")},
                      message_nl="geen geldig /.well-known/security.txt")
    fields = value.get("fields") or {}
    if not fields.get("contact"):
        return failed("security.txt has no Contact field (RFC 9116 §2.5.3: required)",
                      message_nl="security.txt heeft geen Contact-veld (RFC 9116 §2.5.3: verplicht)")
    expires = fields.get("expires") or []
    if not expires:
        return failed("security.txt has no Expires field (RFC 9116 §2.5.5: required)",
                      message_nl="security.txt heeft geen Expires-veld (RFC 9116 §2.5.5: verplicht)")
    when = _rfc3339(expires[0])
    if when is None:
        return failed(f"Expires is not an RFC 3339 date-time: {expires[0]!r}",
                      message_nl=f"Expires is geen datum en tijd volgens RFC 3339: {expires[0]!r}")
    if when < ctx.now:
        return failed(f"security.txt expired on {expires[0]}", message_nl=f"security.txt is verlopen op {expires[0]}")
    return passed("security.txt with Contact and Expires", evidence={"contact": fields["contact"][:3],
                                                                    "expires": expires[0]},
                  message_nl="security.txt met Contact en Expires")


@check(
    "http.security_txt.format",
    pillar="http", level="optional", severity="low", schemes=("https",), kinds=WEB_AND_API,
    title={"en": "security.txt follows RFC 9116 to the letter", "nl": "security.txt volgt RFC 9116 nauwgezet"},
    remediation={
        "en": "Serve it as text/plain; charset=utf-8, with one Expires less than a year ahead, Contact URIs "
              "(mailto:, https:, tel:), a Canonical naming its own URL, and sign it with OpenPGP.",
        "nl": "Lever het als text/plain; charset=utf-8, met één Expires minder dan een jaar vooruit, Contact-URI's "
              "(mailto:, https:, tel:), een Canonical met het eigen adres, en onderteken het met OpenPGP.",
    },
    references=("RFC 9116",),
)
def security_txt_format(ctx: CheckContext):
    value = ctx.fact("http", "security_txt")
    if value.get("found") is None:
        raise NotMeasured(value.get("error") or "security.txt could not be fetched")
    if not value["found"]:
        return not_applicable("no security.txt (see http.security_txt)",
                              message_nl="geen security.txt (zie http.security_txt)")
    fields = value.get("fields") or {}
    spec = DATA["security_txt"]
    problems: list[Outcome] = []
    ctype = (value.get("content_type") or "").lower()
    if not ctype.startswith("text/plain"):
        problems.append(failed(f"served as {ctype or 'no content type'!r}, not text/plain", key="content-type",
                               message_nl=f"aangeboden als {ctype or 'geen inhoudstype'!r}, niet als text/plain"))
    elif "charset=utf-8" not in ctype.replace(" ", "").replace('"', ""):
        problems.append(warned(f"Content-Type {value.get('content_type')!r} lacks charset=utf-8", key="content-type",
                               message_nl=f"Content-Type {value.get('content_type')!r} mist charset=utf-8"))
    expires = fields.get("expires") or []
    if len(expires) > 1:
        problems.append(failed(f"Expires appears {len(expires)} times (once allowed)", key="expires-once",
                               message_nl=f"Expires komt {len(expires)} keer voor (één keer toegestaan)"))
    when = _rfc3339(expires[0]) if expires else None
    if when is not None and when > ctx.now + timedelta(days=spec["max_expires_days"]):
        problems.append(warned(f"Expires {expires[0]} is more than a year ahead (RFC 9116 §2.5.5)",
                               key="expires-horizon",
                               message_nl=f"Expires {expires[0]} ligt meer dan een jaar vooruit (RFC 9116 §2.5.5)"))
    bad_contacts = [c for c in fields.get("contact", []) if c.split(":", 1)[0].lower() not in spec["contact_schemes"]]
    if bad_contacts:
        problems.append(failed(f"Contact is not a mailto:, https: or tel: URI: {bad_contacts[0]!r}",
                               key="contact-uri", evidence={"contact": bad_contacts},
                               message_nl=f"Contact is geen mailto:-, https:- of tel:-URI: {bad_contacts[0]!r}"))
    canonical = fields.get("canonical", [])
    fetched = {value.get("url"), value.get("final_url")}
    if canonical and not fetched & set(canonical):
        problems.append(failed(f"Canonical does not name the URL it was fetched from ({value.get('url')})",
                               key="canonical", evidence={"canonical": canonical},
                               message_nl=f"Canonical vermeldt niet het adres waar het bestand werd opgehaald "
                                          f"({value.get('url')})"))
    if value.get("truncated"):
        problems.append(warned("the file is larger than the scanner reads (32 KiB)", key="size",
                               message_nl="het bestand is groter dan wat de scanner leest (32 KiB)"))
    if value.get("invalid_lines"):
        problems.append(warned(f"lines that are not fields or comments: {value['invalid_lines'][0]!r}",
                               key="syntax", evidence={"lines": value["invalid_lines"]},
                               message_nl=f"regels die geen veld of commentaar zijn: {value['invalid_lines'][0]!r}"))
    if value.get("signed") and value.get("signature"):
        signed = info("signed with an OpenPGP cleartext signature (not verified by the scanner)", key="signature",
                      message_nl="ondertekend met een OpenPGP-handtekening in klare tekst (niet gecontroleerd door de "
                                 "scanner)")
    else:
        signed = info("not signed (RFC 9116 §2.3: signing is recommended)", key="signature",
                      message_nl="niet ondertekend (RFC 9116 §2.3: ondertekenen wordt aanbevolen)")
    follows = passed("format, content type, Expires, Contact and Canonical follow RFC 9116",
                     message_nl="opmaak, inhoudstype, Expires, Contact en Canonical volgen RFC 9116")
    return [*(problems or [follows]), signed]


# ---------------------------------------------------------------- IPv4/IPv6 parity


@check(
    "http.address_parity",
    pillar="http", level="recommended", severity="medium",
    title={"en": "Every address serves the same site", "nl": "Elk adres levert dezelfde site"},
    remediation={
        "en": "Give every A and AAAA address of the host the same configuration (status, HSTS, CSP and the other "
              "security headers); a forgotten IPv6 front end is a common gap.",
        "nl": "Geef elk A- en AAAA-adres van de host dezelfde configuratie (status, HSTS, CSP en de andere "
              "beveiligingsheaders); een vergeten IPv6-voorkant is een veelvoorkomend gat.",
    },
    references=(INTERNET_NL, "RFC 6724"),
)
def address_parity(ctx: CheckContext):
    http = _http(ctx)
    _headers(ctx)  # the probe compares addresses only once one of them answered
    rows = http.get("per_address")
    if not rows:
        return not_applicable("the host has a single address", message_nl="de host heeft één adres")
    answered = [r for r in rows if "status" in r]
    if not answered:
        raise NotMeasured("no address answered")
    base = answered[0]
    problems, evidence = [], {r["address"]: r.get("status", r.get("error")) for r in rows}  # (English, Dutch)
    for row in rows:
        if row is base:
            continue
        here, there = row["address"], base["address"]
        if "status" not in row:
            problems.append((f"{here} does not answer ({row.get('error')})",
                             f"{here} antwoordt niet ({row.get('error')})"))
            continue
        if row["status"] != base["status"]:
            problems.append((f"{here} answers {row['status']}, {there} answers {base['status']}",
                             f"{here} antwoordt {row['status']}, {there} antwoordt {base['status']}"))
        names = sorted(set(row["headers"]) | set(base["headers"]))
        differ = ", ".join(n for n in names if row["headers"].get(n) != base["headers"].get(n))
        if differ:
            problems.append((f"{here} differs from {there} in {differ}", f"{here} verschilt van {there} in {differ}"))
    if problems:
        return failed("; ".join(en for en, _ in problems), evidence=evidence,
                      message_nl="; ".join(nl for _, nl in problems))
    return passed(f"{len(rows)} addresses give the same status and security headers", evidence=evidence,
                  message_nl=f"{len(rows)} adressen geven dezelfde status en beveiligingsheaders")
