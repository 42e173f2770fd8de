"""security.txt (RFC 9116): published where the RFC says, with its required fields, and, as
an optional check, to the letter (content type, one Expires within a year, URIs over https,
Canonical, language tags, syntax, signature framing). The probe keeps the file's text; the
grammar is scanner/standards/security_txt.py, so a stored run is re-judged by today's parser.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from checks.catalogue import Phrase
from checks.http.common import WEB_AND_API
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
from scanner.standards import security_txt
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


def _parsed(value: dict[str, Any]) -> security_txt.SecurityTxt:
    """The published file, parsed from its text (facts stored before the text was kept: NotMeasured)."""
    if "text" not in value:
        raise NotMeasured("security_txt_no_text")
    return security_txt.parse(value["text"])


@check("http.security_txt", pillar="http", level="recommended", severity="low", schemes=("https",),
       kinds=WEB_AND_API)
def published(ctx: CheckContext):
    value = _fetched(ctx)
    if not value["found"]:
        legacy = value.get("legacy") or {}
        if legacy.get("found"):
            return failed("legacy_only", evidence={"found_at": legacy.get("url"), "status": value.get("status")})
        return failed("missing", evidence={"status": value.get("status")})
    fields = _parsed(value).fields
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


# What a syntax issue of the parser becomes: (status, finding key, message code). Contact's
# scheme, Expires' date and the repeated Expires have rules of their own below.
_ISSUES = {
    "invalid_line": ("warn", "syntax", "invalid_lines"),
    "no_space": ("warn", "separator", "no_space"),
    "dash_escape": ("warn", "dash-escape", "dash_escape"),
    "no_final_newline": ("warn", "final-newline", "no_final_newline"),
    "not_uri": ("fail", "uri", "not_uri"),
    "not_https": ("fail", "https", "not_https"),
    "bad_language": ("warn", "languages", "bad_language"),
    "repeated": ("fail", "once", "repeated"),
}
_MAKE = {"warn": warned, "fail": failed}


def _content_type(value: dict[str, Any]) -> Outcome | None:
    ctype = (value.get("content_type") or "").lower()
    if not ctype:
        return failed("served_without_type", key="content-type")
    if not ctype.startswith("text/plain"):
        return failed("not_text_plain", content_type=ctype, key="content-type")
    if not security_txt.charset_ok(ctype):
        return warned("no_charset", content_type=value.get("content_type"), key="content-type")
    return None


def _syntax(parsed: security_txt.SecurityTxt) -> list[Outcome]:
    """One finding per kind of syntax issue, naming its first line; evidence lists them all."""
    by_kind: dict[str, list[security_txt.Issue]] = {}
    for issue in parsed.issues:
        name = issue.field.lower()
        skip = (issue.code == "not_https" and name == "contact") or issue.code == "bad_date" or (
            issue.code == "repeated" and name == "expires")
        if not skip:
            by_kind.setdefault(issue.code, []).append(issue)
    out = []
    for code, found in by_kind.items():
        status, key, message = _ISSUES[code]
        first = found[0]
        evidence = {"issues": [i.as_dict() for i in found[:20]]}
        if code == "invalid_line":
            evidence["lines"] = [i.text for i in found[:5]]
        out.append(_MAKE[status](message, line=first.line, field=first.field, value=first.text, key=key,
                                 evidence=evidence))
    return out


def _signature(parsed: security_txt.SecurityTxt) -> Outcome:
    if parsed.signed:
        return info("signed", key="signature")
    if parsed.framing:
        first = parsed.framing[0]
        return warned("signature_broken", problem=Phrase(f"frame_{first.code}"), line=first.line, key="signature",
                      evidence={"framing": [i.as_dict() for i in parsed.framing[:10]]})
    return info("unsigned", key="signature")


@check("http.security_txt.format", pillar="http", level="optional", severity="low", schemes=("https",),
       kinds=WEB_AND_API)
def to_the_letter(ctx: CheckContext):
    value = _fetched(ctx)
    if not value["found"]:
        return not_applicable("none_published")
    parsed = _parsed(value)
    fields = parsed.fields
    spec = security_txt.table()
    problems: list[Outcome] = [p for p in [_content_type(value)] if p]
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
    problems += _syntax(parsed)
    return [*(problems or [passed("follows")]), _signature(parsed)]
