"""The page itself: external scripts and stylesheets carry Subresource Integrity, and an
HTTPS page loads nothing over plain HTTP (W3C Mixed Content).
"""

from __future__ import annotations

from typing import Any

from checks.http.common import http_facts, not_a_page, policies
from checks.registry import (
    BROWSER_KINDS,
    CheckContext,
    Outcome,
    check,
    failed,
    not_applicable,
    passed,
    warned,
)
from scanner.standards import urls
from scanner.standards.urls import UrlError


def _html(ctx: CheckContext) -> tuple[dict[str, Any], dict[str, Any]] | Outcome:
    """The http facts and the judged page's HTML facts, or not applicable when it is no HTML page."""
    if (skip := not_a_page(ctx)) is not None:
        return skip
    page = ctx.answer("http", "html")
    if page is None:
        return not_applicable("not_html")
    return http_facts(ctx), page


def _origin(url: str) -> tuple[str | None, str, int | None]:
    """(scheme, host, port) of a URL as the probe stored it; one the parser refused has only
    the scheme a browser would give it (scanner/standards/urls.py)."""
    try:
        return urls.parse(url).origin
    except UrlError as exc:
        return exc.scheme, "", None


@check("http.sri", pillar="http", level="recommended", severity="medium", kinds=BROWSER_KINDS)
def sri(ctx: CheckContext):
    if isinstance(found := _html(ctx), Outcome):
        return found
    http, page = found
    page_origin = _origin((http.get("response") or {}).get("url") or http.get("final_url") or "")
    external = [s for s in page.get("scripts", []) + page.get("stylesheets", [])
                if _origin(s["src"])[0] in ("http", "https") and _origin(s["src"]) != page_origin]
    if not external:
        return passed("no_external")
    plain = [s["src"] for s in external if s["src"].startswith("http://")]
    missing = [s["src"] for s in external if not s.get("integrity")]
    if plain:
        return failed("plain_http", count=len(plain), first=plain[0], evidence={"http": plain})
    if missing:
        return warned("without_integrity", count=len(missing), first=missing[0],
                      evidence={"without_integrity": missing})
    return passed("all_integrity", count=len(external))


@check("http.mixed_content", pillar="http", level="recommended", severity="medium", kinds=BROWSER_KINDS,
       schemes=("https",))
def mixed_content(ctx: CheckContext):
    if isinstance(found := _html(ctx), Outcome):
        return found
    http, page = found
    if not str((http.get("response") or {}).get("url", "")).startswith("https://"):
        return not_applicable("not_https")
    insecure = page.get("insecure", [])
    if not insecure:
        return passed("none_insecure")
    if any("upgrade-insecure-requests" in p.directives for p in policies(http) if p.enforced):
        return passed("upgraded", evidence={"insecure": [i["url"] for i in insecure]})
    active = [f"<{i['tag']} {i['attr']}={i['url']}>" for i in insecure if i["kind"] == "active"]
    other = [f"<{i['tag']} {i['attr']}={i['url']}>" for i in insecure if i["kind"] != "active"]
    if active:
        return failed("active", element=active[0], evidence={"active": active, "passive": other})
    return warned("passive", element=other[0], evidence={"passive": other})
