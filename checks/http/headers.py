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


@check("http.referrer_policy", pillar="http", level="recommended", severity="low", kinds=BROWSER_KINDS)
def referrer_policy(ctx: CheckContext):
    if (skip := not_a_page(ctx)) is not None:
        return skip
    value = headers(ctx).get("referrer-policy") or (http_facts(ctx).get("html") or {}).get("meta_referrer")
    if not value:
        return warned("missing")
    classes = DATA["referrer_policy"]
    # a list of values is a fallback chain: the browser uses the last one it knows
    tokens = [t.strip().lower() for t in value.split(",") if t.strip()]
    known = [t for t in tokens if any(t in classes[c] for c in ("good", "acceptable", "bad"))]
    if not known:
        return failed("invalid", value=value, evidence={"value": value})
    effective = known[-1]
    evidence = {"value": value, "effective": effective}
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


@check("http.cross_origin", pillar="http", level="optional", severity="low", kinds=BROWSER_KINDS)
def cross_origin(ctx: CheckContext):
    if (skip := not_a_page(ctx)) is not None:
        return skip
    sent = headers(ctx)
    out = []
    for name, classes in DATA["cross_origin"].items():
        raw = sent.get(name)
        value = raw.split(";")[0].split(",")[0].strip().lower() if raw else None
        if value in classes["good"]:
            out.append(passed("isolates", header=name, value=value, key=name))
        elif value is None:
            out.append(info("missing", header=name, key=name))
        elif value in classes["weak"]:
            out.append(info("no_isolation", header=name, value=value, key=name))
        else:
            out.append(warned("invalid", header=name, value=raw, key=name))
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
