"""security.txt (RFC 9116): published where the RFC says, with its required fields, and, as
an optional check, to the letter (content type, one Expires within a year, Contact URIs,
Canonical, syntax, signature).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from checks.http.common import DATA, WEB_AND_API
from checks.registry import (
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
from scanner.times import parse_rfc3339


def _rfc3339(value: str) -> datetime | None:
    """security.txt's Expires as RFC 3339 requires it (with a zone), else None."""
    try:
        parsed = parse_rfc3339(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _fetched(ctx: CheckContext) -> dict[str, Any]:
    """The security.txt facts; NotMeasured when the file could not be fetched at all."""
    value = ctx.fact("http", "security_txt")
    if value.get("found") is None:
        reason = value.get("error")
        raise NotMeasured.because(reason) if reason else NotMeasured("security_txt_unfetched")
    return value


@check("http.security_txt", pillar="http", level="recommended", severity="low", schemes=("https",),
       kinds=WEB_AND_API)
def security_txt(ctx: CheckContext):
    value = _fetched(ctx)
    if not value["found"]:
        legacy = value.get("legacy") or {}
        if legacy.get("found"):
            return failed("legacy_only", evidence={"found_at": legacy.get("url"), "status": value.get("status")})
        return failed("missing", evidence={"status": value.get("status")})
    fields = value.get("fields") or {}
    if not fields.get("contact"):
        return failed("no_contact")
    expires = fields.get("expires") or []
    if not expires:
        return failed("no_expires")
    when = _rfc3339(expires[0])
    if when is None:
        return failed("bad_expires", value=expires[0])
    if when < ctx.now:
        return failed("expired", date=expires[0])
    return passed("published", evidence={"contact": fields["contact"][:3], "expires": expires[0]})


@check("http.security_txt.format", pillar="http", level="optional", severity="low", schemes=("https",),
       kinds=WEB_AND_API)
def security_txt_format(ctx: CheckContext):
    value = _fetched(ctx)
    if not value["found"]:
        return not_applicable("none_published")
    fields = value.get("fields") or {}
    spec = DATA["security_txt"]
    problems: list[Outcome] = []
    ctype = (value.get("content_type") or "").lower()
    if not ctype:
        problems.append(failed("served_without_type", key="content-type"))
    elif not ctype.startswith("text/plain"):
        problems.append(failed("not_text_plain", content_type=ctype, key="content-type"))
    elif "charset=utf-8" not in ctype.replace(" ", "").replace('"', ""):
        problems.append(warned("no_charset", content_type=value.get("content_type"), key="content-type"))
    expires = fields.get("expires") or []
    if len(expires) > 1:
        problems.append(failed("expires_repeated", count=len(expires), key="expires-once"))
    when = _rfc3339(expires[0]) if expires else None
    if when is not None and when > ctx.now + timedelta(days=spec["max_expires_days"]):
        problems.append(warned("expires_far", date=expires[0], key="expires-horizon"))
    bad_contacts = [c for c in fields.get("contact", []) if c.split(":", 1)[0].lower() not in spec["contact_schemes"]]
    if bad_contacts:
        problems.append(failed("contact_uri", value=bad_contacts[0], key="contact-uri",
                               evidence={"contact": bad_contacts}))
    canonical = fields.get("canonical", [])
    fetched = {value.get("url"), value.get("final_url")}
    if canonical and not fetched & set(canonical):
        problems.append(failed("canonical", url=value.get("url"), key="canonical", evidence={"canonical": canonical}))
    if value.get("truncated"):
        problems.append(warned("truncated", key="size"))
    if value.get("invalid_lines"):
        problems.append(warned("invalid_lines", line=value["invalid_lines"][0], key="syntax",
                               evidence={"lines": value["invalid_lines"]}))
    if value.get("signed") and value.get("signature"):
        signed = info("signed", key="signature")
    else:
        signed = info("unsigned", key="signature")
    return [*(problems or [passed("follows")]), signed]
