"""The security headers besides HSTS and CSP: framing, nosniff, Referrer-Policy,
Permissions-Policy, cross-origin isolation, version disclosure and compression (BREACH).
The value classes they apply are data: checks/data/http/headers.toml.
"""

from __future__ import annotations

from checks.catalogue import Phrase
from checks.http import csp_policy
from checks.http.common import (
    DATA,
    WEB_AND_API,
    headers,
    http_facts,
    not_a_page,
    page_url,
    policies,
)
from checks.registry import (
    BROWSER_KINDS,
    CheckContext,
    NotMeasured,
    check,
    failed,
    info,
    passed,
    warned,
)
from scanner.standards import structured_fields


@check("http.framing", pillar="http", level="recommended", severity="medium", kinds=BROWSER_KINDS)
def framing(ctx: CheckContext):
    if (skip := not_a_page(ctx)) is not None:
        return skip
    xfo = headers(ctx).get("x-frame-options")
    http = http_facts(ctx)
    fa = csp_policy.frame_ancestors(policies(http), page_url(http))
    values = sorted({v.strip().lower() for v in xfo.split(",") if v.strip()}) if xfo else []
    evidence = {"x-frame-options": xfo, **(fa.evidence() if fa else {})}
    if fa is not None:  # browsers that know frame-ancestors ignore X-Frame-Options
        if fa.status != csp_policy.PASS:
            return failed("csp", rule=fa.message, evidence=evidence)
        if xfo:
            return passed("csp_xfo_ignored", rule=fa.message, evidence=evidence)
        return passed("csp", rule=fa.message, evidence=evidence)
    if not values:
        return failed("unrestricted")
    if len(values) > 1:
        return warned("conflicting", values=values, evidence=evidence)
    value = values[0].split()[0]
    if value in DATA["frame_options"]["good"]:
        return passed("xfo", value=xfo.strip(), evidence=evidence)
    if value in DATA["frame_options"]["obsolete"]:
        return failed("xfo_obsolete", value=xfo.strip(), evidence=evidence)
    return failed("xfo_invalid", value=xfo.strip(), evidence=evidence)


@check("http.content_type_options", pillar="http", level="recommended", severity="low", kinds=WEB_AND_API)
def content_type_options(ctx: CheckContext):
    value = headers(ctx).get("x-content-type-options")
    # Fetch: the first value counts ("nosniff, nosniff" from a duplicated header still works)
    if value and value.split(",")[0].strip().lower() == "nosniff":
        return passed("nosniff")
    if value is None:
        return failed("missing")
    return failed("invalid", value=value)


def _referrer_policy(header: str | None, metas: list[str]) -> str | None:
    """The policy in force: the header's last known token (a fallback chain), then each
    <meta name="referrer"> in document order with a known value overrides it (HTML §4.2.5.2)."""
    classes = DATA["referrer_policy"]
    known = {t for c in ("good", "acceptable", "bad") for t in classes[c]}
    tokens = [t.strip().lower() for t in (header or "").split(",")]
    policy = next((t for t in reversed(tokens) if t in known), None)
    for content in metas:
        value = content.strip().lower()
        value = classes["meta_legacy"].get(value, value)
        if value in known:
            policy = value
    return policy


@check("http.referrer_policy", pillar="http", level="recommended", severity="low", kinds=BROWSER_KINDS)
def referrer_policy(ctx: CheckContext):
    if (skip := not_a_page(ctx)) is not None:
        return skip
    header = headers(ctx).get("referrer-policy")
    metas = [m for m in (http_facts(ctx).get("html") or {}).get("meta_referrers", []) if m.strip()]
    if not header and not metas:
        return warned("missing")
    value = header or metas[-1]
    effective = _referrer_policy(header, metas)
    evidence = {"value": value} | ({"meta": metas} if metas else {})
    if effective is None:
        return failed("invalid", value=value, evidence=evidence)
    evidence["effective"] = effective
    classes = DATA["referrer_policy"]
    if effective in classes["good"]:
        return passed("keeps_urls", policy=effective, evidence=evidence)
    if effective in classes["acceptable"]:
        return warned("sends_origin", policy=effective, evidence=evidence)
    return failed("sends_full_urls", policy=effective, evidence=evidence)


@check("http.permissions_policy", pillar="http", level="optional", severity="low", kinds=BROWSER_KINDS)
def permissions_policy(ctx: CheckContext):
    if (skip := not_a_page(ctx)) is not None:
        return skip
    value = headers(ctx).get("permissions-policy")
    if not value:
        return warned("missing")
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
        return warned("malformed", entries=malformed, evidence=evidence)
    if open_to_all:
        return warned("open_to_all", features=open_to_all, evidence=evidence)
    return passed("sets", count=len(features), evidence=evidence)


def _cross_origin_value(raw: str, grammar: str) -> tuple[str | None, Phrase | None]:
    """The value a browser acts on, or None with why it ignores the header (data: cross_origin)."""
    if grammar == "exact":
        return raw.strip(), None
    item, failure = structured_fields.parse_item(raw)
    if failure is not None:
        members, _ = structured_fields.parse_list(raw)
        if members and len(members) > 1:
            return None, Phrase("sf_several", count=len(members))
        return None, Phrase("sf_malformed", position=failure.position + 1)
    if not isinstance(item.value, structured_fields.Token):
        return None, Phrase("sf_not_token")
    return str(item.value), None


@check("http.cross_origin", pillar="http", level="optional", severity="low", kinds=BROWSER_KINDS)
def cross_origin(ctx: CheckContext):
    if (skip := not_a_page(ctx)) is not None:
        return skip
    sent = headers(ctx)
    out = []
    for name, classes in DATA["cross_origin"].items():
        raw = sent.get(name)
        if raw is None:
            out.append(info("missing", header=name, key=name))
            continue
        value, why = _cross_origin_value(raw, classes["grammar"])
        if value in classes["good"]:
            out.append(passed("isolates", header=name, value=value, key=name))
        elif value in classes["weak"]:
            out.append(info("no_isolation", header=name, value=value, key=name))
        else:
            why = why or Phrase("unknown_value", value=value)
            out.append(warned("ignored", header=name, value=raw, why=why, key=name, evidence={name: raw[:200]}))
    return out


@check("http.version_disclosure", pillar="http", level="optional", severity="info", kinds=WEB_AND_API)
def version_disclosure(ctx: CheckContext):
    sent = headers(ctx)
    spec = DATA["version_disclosure"]
    leaks = {k: sent[k][:200] for k in spec["headers"] if k in sent
             and (k in spec["always"] or any(ch.isdigit() for ch in sent[k]))}
    if leaks:
        return info("disclosed", names=list(leaks), evidence=leaks)
    return passed("none_disclosed")


@check("http.compression", pillar="http", level="optional", severity="info", kinds=BROWSER_KINDS, schemes=("https",))
def compression(ctx: CheckContext):
    if not http_facts(ctx).get("https"):
        raise NotMeasured("https_silent")
    encoding = ctx.answer("http", "content_encoding")
    if encoding and encoding != "identity":
        return info("compressed", encoding=encoding, evidence={"content-encoding": encoding})
    return passed("uncompressed")
