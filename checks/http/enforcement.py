"""HTTPS enforcement, judged as CISA's pshtt does: HTTPS answers, plain HTTP redirects to it
on the same host, nothing redirects back, the chain ends on a page, www follows suit, and a
redirect endpoint redirects permanently to HTTPS.
"""

from __future__ import annotations

from checks.catalogue import Phrase
from checks.http.common import (
    REDIRECT_ONLY,
    chain_urls,
    downgrades,
    location_reason,
    unusable_location,
)
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


@check("http.https", pillar="http", level="required", severity="critical")
def https(ctx: CheckContext):
    http = ctx.section("http")
    value = http.get("https")
    if value is False:
        return failed("refused")
    if value is not True:
        reason = http.get("https_error")
        raise NotMeasured.because(reason) if reason else NotMeasured("https_untested")
    cert = ctx.facts.get("certificate") or {}
    if cert.get("trusted") is False or cert.get("hostname_match") is False:
        return warned("rejected_certificate",
                      evidence={"trusted": cert.get("trusted"), "hostname_match": cert.get("hostname_match")})
    if cert.get("trusted"):
        return passed("answers_valid")
    return passed("answers")


@check("http.redirect", pillar="http", level="required", severity="high")
def redirect(ctx: CheckContext):
    http = ctx.section("http")
    if http.get("http_listening") is False:
        return passed("no_plain_http")
    if http.get("redirects_to_https") is None:
        raise NotMeasured("plain_http_untested")
    chain = http.get("http_chain", [])
    evidence = {"hops": chain_urls(chain)}
    if (bad := unusable_location(chain)) is not None:
        return failed("unusable_location", location=bad["location"], reason=location_reason(bad),
                      evidence=evidence | {"location": bad["location"]})
    if http["redirects_to_https"]:
        found = downgrades(chain)
        if found:
            return failed("sent_back", hop=found[0], evidence=evidence | {"downgrades": found})
        if not http.get("http_first_hop_https_same_host"):
            return warned("first_hop_elsewhere", first=chain[0].get("location") if chain else None,
                          evidence=evidence)
        return passed("same_host", evidence=evidence)
    return failed("no_redirect", evidence=evidence)


@check("http.downgrade", pillar="http", level="required", severity="high", schemes=("https",))
def downgrade(ctx: CheckContext):
    http = ctx.section("http")
    if not http.get("https"):
        raise NotMeasured("https_silent")
    chain = http.get("https_chain", [])
    found = downgrades(chain)
    if found:
        return failed("downgrade", hop=found[0], evidence={"downgrades": found, "hops": chain_urls(chain)})
    return passed("no_downgrade", evidence={"hops": chain_urls(chain)})


@check("http.chain", pillar="http", level="recommended", severity="medium")
def chain(ctx: CheckContext):
    http = ctx.section("http")
    hops = http.get("https_chain") if http.get("https") else http.get("http_chain")
    if not hops:
        raise NotMeasured("no_chain")
    last = hops[-1]
    evidence = {"hops": chain_urls(hops)}
    if last.get("loop"):
        return failed("loop", url=last["url"], evidence=evidence)
    if last.get("cap"):
        return failed("too_many", redirects=len(hops) - 2, evidence=evidence)
    if last.get("not_followed"):
        return info("not_followed", url=last["url"], why=last["error"].removeprefix("not followed: "),
                    evidence=evidence)
    if last.get("location_error"):
        return failed("unusable_location", url=last["url"], location=last["location"], reason=location_reason(last),
                      evidence=evidence | {"location": last["location"]})
    if last.get("error") and len(hops) > 1:
        return failed("target_silent", url=last["url"], error=last["error"], evidence=evidence)
    if last.get("error"):
        raise NotMeasured.because(last["error"])
    if http.get("leaves_host"):
        return info("other_host", url=http["final_url"], status=http["status"], evidence=evidence)
    if last.get("status", 0) >= 400:
        return warned("error_status", url=last["url"], status=last["status"], evidence=evidence)
    return passed("ends", url=last["url"], redirects=len(hops) - 1, evidence=evidence)


@check("http.www", pillar="http", level="recommended", severity="medium")
def www(ctx: CheckContext):
    value = ctx.answer("http", "www")
    if value is None:
        return not_applicable("not_bare_domain")
    if value.get("exists") is None:
        reason = value.get("error")
        raise NotMeasured.because(reason) if reason else NotMeasured("unresolved")
    host = value["host"]
    if value["exists"] is False:
        return passed("absent", host=host)
    https_chain, http_chain = value.get("https_chain", []), value.get("http_chain", [])
    problems = []
    if not https_chain or "status" not in https_chain[0]:
        problems.append(Phrase("no_https_answer", host=host))
    if http_chain and "status" in http_chain[0]:
        if not any(h.get("url", "").startswith("https://") and "status" in h for h in http_chain):
            problems.append(Phrase("http_not_redirected", host=host))
    problems += [Phrase("downgraded", hop=d) for d in downgrades(https_chain) + downgrades(http_chain)]
    evidence = {"https": chain_urls(https_chain), "http": chain_urls(http_chain)}
    if problems:
        return failed("problems", problems=problems, evidence=evidence)
    return passed("enforced", host=host, evidence=evidence)


@check("http.redirect_target", pillar="http", level="recommended", severity="medium", kinds=REDIRECT_ONLY)
def redirect_target(ctx: CheckContext):
    http = ctx.section("http")
    hops = http.get("https_chain") if http.get("https") else http.get("http_chain")
    if not hops or "status" not in hops[0]:
        reason = (hops or [{}])[0].get("error")
        raise NotMeasured.because(reason) if reason else NotMeasured("endpoint_silent")
    first = hops[0]
    evidence = {"hops": chain_urls(hops)}
    location = first.get("location")
    if first.get("location_error"):
        return failed("unusable_location", location=location, reason=location_reason(first),
                      evidence=evidence | {"location": location})
    if not location:
        return failed("not_redirecting", status=first["status"], evidence=evidence)
    if not location.startswith("https://"):
        return failed("not_https", location=location, evidence=evidence)
    if first["status"] not in (301, 308):
        return warned("temporary", status=first["status"], location=location, evidence=evidence)
    return passed("permanent", status=first["status"], location=location, evidence=evidence)
