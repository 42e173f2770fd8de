"""Cookies (RFC 6265bis attributes and prefixes) and CORS (whether a foreign Origin may read
the site's responses). A cookie's value is never stored or shown: only its name and attributes.
"""

from __future__ import annotations

from typing import Any

from checks.catalogue import Phrase
from checks.http.common import DATA, WEB_AND_API, headers
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


def _cookie_problems(cookie: dict[str, Any], over_https: bool) -> tuple[str, list[Phrase]]:
    """("pass" | "warn" | "fail", the problems in words) for one cookie's attributes."""
    name = cookie.get("name", "")
    low = name.lower()
    fails, warns = [], []
    samesite = (cookie.get("samesite") or "").strip().lower() or None
    if over_https and not cookie.get("secure"):
        fails.append(Phrase("no_secure"))
    if name.startswith("__Host-"):
        if not cookie.get("secure") or cookie.get("path") != "/" or cookie.get("domain"):
            fails.append(Phrase("host_prefix"))
    elif name.startswith("__Secure-") and not cookie.get("secure"):
        fails.append(Phrase("secure_prefix"))
    if samesite == "none" and not cookie.get("secure"):
        fails.append(Phrase("samesite_none_insecure"))
    elif samesite is None:
        warns.append(Phrase("no_samesite"))
    elif samesite not in ("strict", "lax", "none"):
        warns.append(Phrase("invalid_samesite", value=cookie.get("samesite")))
    sensitive = any(s in low for s in DATA["cookies"]["session_like"]) and not any(
        s in low for s in DATA["cookies"]["script_readable"])
    if sensitive and not cookie.get("httponly"):
        warns.append(Phrase("session_not_httponly"))
    if fails:
        return "fail", fails + warns
    return ("warn", warns) if warns else ("pass", [])


@check("http.cookies", pillar="http", level="recommended", severity="medium", kinds=WEB_AND_API)
def cookies(ctx: CheckContext):
    headers(ctx)  # no response, no cookies to judge: not measured rather than "no cookies"
    found = ctx.answer("http", "cookies") or []
    if not found:
        return not_applicable("no_cookies")
    out = []
    for cookie in found:
        status, problems = _cookie_problems(cookie, cookie.get("scheme", "https") == "https")
        if status == "pass":
            continue
        evidence = {k: cookie.get(k) for k in ("name", "secure", "httponly", "samesite", "path", "domain")}
        where = {"key": f"cookie:{cookie['name']}", "evidence": evidence}
        if status == "fail":
            out.append(failed("cookie", name=cookie["name"], problems=problems, **where))
        else:
            out.append(warned("cookie", name=cookie["name"], problems=problems, **where))
    return out or passed("all_set", count=len(found), evidence={"cookies": [c.get("name") for c in found]})


@check("http.cors", pillar="http", level="recommended", severity="high", kinds=WEB_AND_API)
def cors(ctx: CheckContext):
    value = ctx.fact("http", "cors")
    if value.get("error"):
        raise NotMeasured("request_failed", error=value["error"])
    allow, creds = value.get("allow_origin"), value.get("allow_credentials")
    evidence = {"origin_sent": value.get("origin_sent"), "access-control-allow-origin": allow,
                "access-control-allow-credentials": creds}
    if allow is None:
        return passed("foreign_refused", evidence=evidence)
    if value.get("reflected") and creds:
        return failed("reflected_with_credentials", evidence=evidence)
    if value.get("reflected"):
        return warned("reflected", evidence=evidence)
    if allow.strip() == "*":
        if creds:
            return warned("wildcard_with_credentials", evidence=evidence)
        return info("wildcard", evidence=evidence)
    if allow.strip().lower() == "null":
        return failed("null_origin", evidence=evidence)
    return passed("only", origin=allow, evidence=evidence)
