"""What several HTTP checks share: the response they judge, redirect chains, the CSP
policies a page sends (parsed by scanner/standards/csp.py), the header value classes (the
standards' in scanner/standards/http.py and our own in checks/data/http/headers.toml), and
a phrase's English text for evidence that has always quoted it in English.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

from checks.catalogue import Phrase, catalogue, localise
from checks.registry import CheckContext, NotMeasured, Outcome, not_applicable
from scanner.model import EndpointKind
from scanner.standards import csp
from scanner.standards.http import header_classes

WEB_AND_API = (EndpointKind.WEB, EndpointKind.API)
REDIRECT_ONLY = (EndpointKind.REDIRECT,)
# Header value classes: the standards' (scanner/standards/http.py) and our own weights and heuristics.
DATA = header_classes() | tomllib.loads(
    resources.files("checks").joinpath("data/http/headers.toml").read_text(encoding="utf-8"))


def http_facts(ctx: CheckContext) -> dict[str, Any]:
    return dict(ctx.section("http"))


def _first_error(http: dict[str, Any]) -> str | None:
    for name in ("https_chain", "http_chain"):
        for hop in http.get(name) or []:
            if hop.get("error"):
                return hop["error"]
    return None


def headers(ctx: CheckContext) -> dict[str, str]:
    """The judged response's headers; NotMeasured when no response came back."""
    http = ctx.section("http")
    if http.get("status") is None:
        reason = http.get("chain_error") or _first_error(http)
        raise NotMeasured.because(reason) if reason else NotMeasured("no_response")
    return ctx.fact("http", "headers")


def not_a_page(ctx: CheckContext) -> Outcome | None:
    """A not-applicable outcome when the judged response is not a page a browser renders."""
    http = http_facts(ctx)
    resp = http.get("response") or {}
    status = resp.get("status", http.get("status"))
    if status is None:
        reason = _first_error(http)
        raise NotMeasured.because(reason) if reason else NotMeasured("no_response")
    if 300 <= status < 400:
        if where := http.get("leaves_host"):
            return not_applicable("redirect_elsewhere_not_page", status=status, host=where)
        return not_applicable("redirect_not_page", status=status)
    return None


def chain_urls(chain: list[dict[str, Any]]) -> list[str]:
    return [h.get("url", "") for h in chain]


def unusable_location(chain: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The hop whose Location the probe would not read (scanner/standards/urls.py), if any:
    its code is the reason, as a catalogue phrase `url_<code>`."""
    return next((hop for hop in chain if hop.get("location_error")), None)


def location_reason(hop: dict[str, Any]) -> Phrase:
    return Phrase(f"url_{hop['location_error']}")


def downgrades(chain: list[dict[str, Any]]) -> list[str]:
    """Hops from https:// to http:// in a chain."""
    out = []
    for hop in chain:
        loc = hop.get("location") or ""
        if hop.get("url", "").startswith("https://") and loc.startswith("http://"):
            out.append(f"{hop['url']} -> {loc}")
    return out


def policies(http: dict[str, Any]) -> list[csp.Policy]:
    """Every CSP the judged page sends: header, <meta> elements (one policy each: HTML
    §4.2.5.3 parses the content as a single policy, commas and all), then report-only."""
    headers = http.get("headers") or {}
    found = csp.parse_list(headers.get("content-security-policy"), csp.HEADER)
    found += [csp.parse_policy(meta, csp.META) for meta in (http.get("html") or {}).get("meta_csp", [])]
    found += csp.parse_list(headers.get("content-security-policy-report-only"), csp.REPORT_ONLY)
    return found


def page_url(http: dict[str, Any]) -> csp.Url:
    """The judged page's URL, for the sources that depend on it ('self', a host without a scheme)."""
    return csp.Url.parse((http.get("response") or {}).get("url") or http.get("final_url") or "")


def in_english(check_id: str, phrase: Phrase) -> str:
    """A phrase's English text, for evidence that has always quoted it in English (evidence is not localised)."""
    return localise(phrase, lambda code: catalogue().template(check_id, "http", code))["en"]
