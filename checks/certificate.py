"""Certificate pillar: trust, name, validity, key and signature strength, chain, lifespan, CT,
revocation, must-staple, CAA and DANE of the served certificate chain.

Every check reads the `certificate` facts of one endpoint (plus `dns.caa` for CAA); the
standards they apply (curve and hash classifications, CA/B Forum lifetime limits, CT
policy, CA -> CAA domain names) are data under `scanner/standards/data/certificate/`, read through
`scanner.standards.certificate` (pure: no I/O beyond the packaged tables).

Reuse of one key across many hosts of the estate is not a check (a check sees one
endpoint): facts carry `chain[i].spki_sha256`, and `reports/key_reuse.py` groups them
across a whole result; `certificate.key_sharing` judges what one certificate shows
(how many names share its key).
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from importlib import resources
from typing import Any

from checks.catalogue import Phrase, catalogue, rendered
from checks.registry import (
    CheckContext,
    NotMeasured,
    check,
    error,
    failed,
    info,
    not_applicable,
    passed,
    warned,
)
from scanner.standards import caa as caa_grammar
from scanner.standards import certificate as rules
from scanner.times import parse_rfc3339

# certificate.chain: which served-chain issues fail the check and which warn; others are notes
CHAIN = tomllib.loads(resources.files("checks").joinpath("data/certificate.toml").read_text(encoding="utf-8"))["chain"]
CHAIN_FAIL, CHAIN_WARN = tuple(CHAIN["fail"]), tuple(CHAIN["warn"])

CERTIFICATE = {"pillar": "certificate", "schemes": ("https",)}


def _cn(entry: dict[str, Any]) -> str:
    subject = entry.get("subject") or ""
    for part in subject.split(","):
        if part.startswith("CN="):
            return part[3:]
    return subject[:80]


def _who(i: int, entry: dict[str, Any]) -> Phrase:
    """The certificate at position i, as a message names it."""
    return Phrase("the_certificate") if i == 0 else Phrase("intermediate", name=_cn(entry))


def _labels(items: list[dict[str, Any]], kind: str, chain: list[dict[str, Any]]) -> list[Phrase]:
    """Labels (`trust_<code>` or `chain_<code>` in the catalogue) for the probe's reason or issue codes,
    each with the certificate it names, once each."""
    known = catalogue().shared["certificate"]
    out: dict[tuple[str, Any, str | None], Phrase] = {}
    for item in items:
        code = item.get("code")
        label = Phrase(f"{kind}_{code}") if f"{kind}_{code}" in known else Phrase(f"{kind}_other", issue=code)
        i = item.get("certificate")
        name = _cn(chain[i]) if isinstance(i, int) and 0 <= i < len(chain) else None
        labelled = label if name is None else Phrase("labelled", label=label, certificate=name)
        out.setdefault((label.code, label.params.get("issue"), name), labelled)
    return list(out.values())


def _judged_chain(chain: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """The leaf and the served intermediates; a served self-signed root is the client's business."""
    return [(i, c) for i, c in enumerate(chain) if i == 0 or not c.get("self_signed")]


# -- trust and name ---------------------------------------------------------------------------

@check("certificate.trusted", **CERTIFICATE, level="required", severity="critical")
def trusted(ctx: CheckContext):
    cert = ctx.section("certificate")
    store = (cert.get("trust_store") or {}).get("source", Phrase("the_trust_store"))
    evidence = {"trust_store": rendered(store, "certificate.trusted")}
    if ctx.fact("certificate", "trusted"):
        return passed("validates", store=store, evidence=evidence)
    reasons = cert.get("trust_reasons") or [{"code": "other", "message": cert.get("trust_error")
                                             or rendered(Phrase("no_path"), "certificate.trusted")}]
    chain_ = ctx.fact("certificate", "chain")
    more = len(reasons) - 1
    return failed("untrusted_more" if more else "untrusted", reason=reasons[0]["message"], more=more,
                  labels=_labels(reasons, "trust", chain_),
                  evidence={"subject": chain_[0]["subject"], "issuer": chain_[0]["issuer"], **evidence,
                            "reasons": [{"code": r["code"], "message": r["message"]} for r in reasons]})


@check("certificate.hostname", **CERTIFICATE, level="required", severity="critical")
def hostname(ctx: CheckContext):
    cert = ctx.section("certificate")
    host = ctx.subject.get("host", "")
    if ctx.fact("certificate", "hostname_match"):
        by = cert.get("hostname_matched_by")
        return passed("named_by", host=host, by=by) if by else passed("named", host=host)
    leaf = ctx.fact("certificate", "chain")[0]
    return failed("not_named", reason=cert.get("hostname_reason") or Phrase("not_among_names", host=host),
                  host=host, names=leaf["san"][:5] or Phrase("no_names"),
                  evidence={"host": host, "san": leaf["san"][:20], "san_count": leaf.get("san_count")})


# -- validity ---------------------------------------------------------------------------------

def renewal_window(lifetime_days: float, warn_days: float, warn_fraction: float) -> float:
    """Days before expiry from which a certificate counts as overdue for renewal.

    The smaller of a fixed number of days and a fraction of the lifetime, so a 90-day
    ACME certificate (renewed with 30 days left) and a 6-day one do not warn all the time,
    while a year-long certificate still warns two weeks ahead.
    """
    return min(warn_days, lifetime_days * warn_fraction) if lifetime_days > 0 else warn_days


def validity_status(entry: dict[str, Any], now: datetime, warn_days: float, warn_fraction: float
                    ) -> tuple[str, float, float, float]:
    """("expired" | "not_yet_valid" | "due" | "ok", days left, lifetime in days, fraction left) at `now`."""
    not_before, not_after = parse_rfc3339(entry["not_before"]), parse_rfc3339(entry["not_after"])
    lifetime = rules.validity_days(not_before, not_after)
    left = (not_after - now).total_seconds() / 86400
    fraction = max(0.0, min(1.0, left / lifetime)) if lifetime > 0 else 0.0
    if left < 0:
        return "expired", left, lifetime, fraction
    if not_before > now:
        return "not_yet_valid", left, lifetime, fraction
    if left < renewal_window(lifetime, warn_days, warn_fraction):
        return "due", left, lifetime, fraction
    return "ok", left, lifetime, fraction


def chain_validity(ctx: CheckContext, chain: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each judged certificate of a chain with its validity at the run's time, under the policy's
    renewal window: the evidence of certificate.expiry (and of mail.starttls.certificate for MX
    hosts) from which the expiry watch lists lapsing certificates without judging again. An entry
    without readable dates is left out."""
    rows = []
    for i, entry in _judged_chain(chain):
        try:
            status, left, lifetime, fraction = validity_status(
                entry, ctx.now, ctx.threshold("certificate_expiry_warn_days"),
                ctx.threshold("certificate_expiry_warn_fraction"))
        except (KeyError, TypeError, ValueError):
            continue
        rows.append({"certificate": i, "position": "leaf" if i == 0 else "intermediate", "subject": _cn(entry),
                     "subject_dn": entry.get("subject"), "issuer": entry.get("issuer"),
                     "not_before": entry["not_before"], "not_after": entry["not_after"],
                     "days_remaining": round(left, 1), "lifetime_days": round(lifetime, 1),
                     "fraction_remaining": round(fraction, 3), "status": status, "sha256": entry.get("sha256")})
    return rows


@check(
    "certificate.expiry", **CERTIFICATE, level="required", severity="high",
    thresholds={"certificate_expiry_warn_days": 14, "certificate_expiry_warn_fraction": 0.1},
)
def expiry(ctx: CheckContext):
    rows = chain_validity(ctx, ctx.fact("certificate", "chain"))
    if not rows:
        raise NotMeasured("no_dates")
    order = ("ok", "due", "not_yet_valid", "expired")
    worst = max((r["status"] for r in rows), key=order.index)
    evidence = {"certificates": rows}
    if worst == "ok":
        leaf = rows[0]
        return passed("valid", days=leaf["days_remaining"], fraction=leaf["fraction_remaining"], evidence=evidence)
    first = next(r for r in rows if r["status"] == worst)
    what = _who(first["certificate"], {"subject": f"CN={first['subject']}"})
    if worst == "expired":
        return failed("expired", what=what, days=abs(first["days_remaining"]), not_after=first["not_after"],
                      evidence=evidence)
    if worst == "not_yet_valid":
        return failed("not_yet_valid", what=what, not_before=first["not_before"], evidence=evidence)
    return warned("due", what=what, days=first["days_remaining"], fraction=first["fraction_remaining"],
                  evidence=evidence)


@check("certificate.lifespan", **CERTIFICATE, level="recommended", severity="medium")
def lifespan(ctx: CheckContext):
    leaf = ctx.fact("certificate", "chain")[0]
    not_before, not_after = parse_rfc3339(leaf["not_before"]), parse_rfc3339(leaf["not_after"])
    days = rules.validity_days(not_before, not_after)
    limit = rules.lifetime_limit(not_before.date())
    issued = str(not_before.date())
    evidence = {"issued": leaf["not_before"], "not_after": leaf["not_after"], "validity_days": round(days, 2)}
    if limit is None:
        return info("before_limits", date=issued, evidence=evidence)
    evidence |= {"limit_days": limit["days"], "limit_from": str(limit["from"]), "source": limit["source"]}
    if days > limit["days"]:
        return failed("too_long", days=days, date=issued, limit=limit["days"], source=limit["source"],
                      evidence=evidence)
    return passed("within", days=days, limit=limit["days"], evidence=evidence)


# -- keys and signatures -----------------------------------------------------------------------

@check(
    "certificate.key", **CERTIFICATE, level="required", severity="high",
    thresholds={"rsa_min_bits": 2048, "rsa_good_bits": 3072},
)
def key(ctx: CheckContext):
    chain = ctx.fact("certificate", "chain")
    findings: list[tuple[int, Phrase]] = []  # (severity rank, problem)
    for i, entry in _judged_chain(chain):
        kind, bits, curve = entry["key_type"], entry.get("key_bits"), entry.get("curve")
        who = _who(i, entry)
        if kind in ("RSA", "DSA") and (bits is None or bits < ctx.threshold("rsa_min_bits")):
            findings.append((2, Phrase("too_small", who=who, type=kind, bits=bits)))
        elif kind == "DSA":
            findings.append((2, Phrase("dsa", who=who)))
        elif kind == "RSA" and i == 0 and bits < ctx.threshold("rsa_good_bits"):
            findings.append((1, Phrase("rsa_phase_out", who=who, bits=bits)))
        elif kind == "EC":
            verdict = rules.curve_verdict(curve)
            if verdict == "warn":
                findings.append((1, Phrase("curve_not_everywhere", who=who, curve=curve)))
            elif verdict != "good":
                findings.append((2, Phrase("curve_refused", who=who, curve=curve)))
        elif kind not in ("RSA", "EC"):
            findings.append((2, Phrase("type_refused", who=who, type=kind)))
    leaf = chain[0]
    evidence = {"key_type": leaf["key_type"], "key_bits": leaf.get("key_bits"), "curve": leaf.get("curve"),
                "problems": rendered([problem for _, problem in findings], "certificate.key")}
    worst = [f for f in findings if f[0] == 2] or findings
    if worst:
        make = failed if worst[0][0] == 2 else warned
        return make("problems", problems=[problem for _, problem in worst], evidence=evidence)
    size = leaf["curve"] if leaf["key_type"] == "EC" else Phrase("bits", bits=leaf.get("key_bits"))
    return passed("strong", type=leaf["key_type"], size=size, evidence=evidence)


@check("certificate.signature", **CERTIFICATE, level="required", severity="high")
def signature(ctx: CheckContext):
    chain = ctx.fact("certificate", "chain")
    weak = [f"{_cn(c)} ({c.get('signature_hash')})" for i, c in _judged_chain(chain)
            if not c.get("self_signed") and c.get("signature_hash") is not None
            and rules.hash_verdict(c.get("signature_hash")) == "fail"]
    if weak:
        return failed("weak", certificates=weak, evidence={"certificates": weak})
    return passed("strong", algorithm=chain[0].get("signature_hash") or "EdDSA")


# -- how the chain is served --------------------------------------------------------------------

@check("certificate.chain", **CERTIFICATE, level="recommended", severity="medium")
def chain(ctx: CheckContext):
    cert = ctx.section("certificate")
    served_chain = ctx.fact("certificate", "chain")
    issues = list(ctx.fact("certificate", "chain_issues"))
    issues += [{"code": "malformed", "message": m["message"]} for m in cert.get("malformed") or []]
    evidence = {"served": cert.get("served_count"), "issues": issues}

    def words(items: list[dict[str, Any]]) -> dict[str, Any]:
        return {"messages": [i["message"] for i in items], "labels": _labels(items, "chain", served_chain)}

    bad = [i for i in issues if i["code"] in CHAIN_FAIL]
    if bad:
        return failed("issues", **words(bad), evidence=evidence)
    odd = [i for i in issues if i["code"] in CHAIN_WARN]
    if odd:
        return warned("issues", **words(odd), evidence=evidence)
    served = cert.get("served_count") or len(served_chain)
    unit = Phrase("one_certificate" if served == 1 else "certificates")
    if issues:
        return passed("in_order_notes", served=served, unit=unit, **words(issues), evidence=evidence)
    return passed("in_order", served=served, unit=unit, evidence=evidence)


@check(
    "certificate.key_sharing", **CERTIFICATE, level="optional", severity="low",
    thresholds={"certificate_max_names": 100},
)
def key_sharing(ctx: CheckContext):
    leaf = ctx.fact("certificate", "chain")[0]
    count = leaf.get("san_count", len(leaf["san"]))
    wildcards = [n for n in leaf["san"] if n.startswith("*.")]
    evidence = {"names": count, "wildcards": wildcards[:10], "spki_sha256": leaf.get("spki_sha256")}
    if count > ctx.threshold("certificate_max_names"):
        return warned("shared_widely", count=count, evidence=evidence)
    unit = Phrase("one_name" if count == 1 else "many_names")
    if wildcards:
        return passed("names_wildcards", count=count, unit=unit, wildcards=len(wildcards), evidence=evidence)
    return passed("names", count=count, unit=unit, evidence=evidence)


# -- certificate transparency, revocation, must-staple ---------------------------------------------

@check("certificate.sct", **CERTIFICATE, level="recommended", severity="medium")
def sct(ctx: CheckContext):
    leaf = ctx.fact("certificate", "chain")[0]
    if leaf.get("self_signed"):
        return not_applicable("self_signed")
    scts = ctx.fact("certificate", "scts")
    lifetime = rules.validity_days(parse_rfc3339(leaf["not_before"]), parse_rfc3339(leaf["not_after"]))
    need_embedded = rules.scts_required(lifetime, embedded=True)
    need_delivered = rules.scts_required(lifetime, embedded=False)
    delivered = (scts.get("tls_extension") or 0) + (scts.get("ocsp") or 0)
    evidence = {k: scts.get(k) for k in ("embedded", "tls_extension", "ocsp", "total", "measured")}
    evidence |= {"required_embedded": need_embedded, "required_delivered": need_delivered}
    if scts["embedded"] >= need_embedded or delivered >= need_delivered:
        return passed("logged", total=scts["total"], embedded=scts["embedded"], delivered=delivered,
                      evidence=evidence)
    if scts.get("tls_extension") is None:
        return error("common:not_measured", evidence=evidence, detail=Phrase(
            "handshake_unseen", embedded=scts["embedded"], needed=need_embedded, measured=scts.get("measured")))
    if scts["total"] == 0:
        return failed("none", evidence=evidence)
    return warned("too_few", total=scts["total"], embedded_needed=need_embedded, delivered_needed=need_delivered,
                  evidence=evidence)


@check(
    # recommended: a revoked staple also fails certificate.trusted (required, critical); this check adds the
    # warnings about stale or unknown staples, and cannot say anything when nothing is stapled
    "certificate.revocation", **CERTIFICATE, level="recommended", severity="critical",
)
def revocation(ctx: CheckContext):
    status = ctx.fact("certificate", "ocsp")
    evidence = {k: status.get(k) for k in ("stapled", "status", "this_update", "next_update", "revocation_time",
                                           "revocation_reason", "problem", "reason") if status.get(k) is not None}
    if status.get("stapled") is None:  # the raw handshake that reads staples failed (as for certificate.sct)
        raise NotMeasured("staple_unread", reason=status.get("reason"))
    if status.get("stapled") is False:
        return info("not_stapled", evidence=evidence)
    if not status.get("valid"):
        return warned("unreliable", problem=status.get("problem"), evidence=evidence, severity="medium")
    if status.get("status") == "revoked":
        time, reason = status.get("revocation_time"), status.get("revocation_reason")
        return (failed("revoked_because", time=time, reason=reason, evidence=evidence) if reason
                else failed("revoked", time=time, evidence=evidence))
    if status.get("status") == "unknown":
        return warned("unknown", evidence=evidence, severity="medium")
    return passed("good", next_update=status.get("next_update"), evidence=evidence)


@check("certificate.must_staple", **CERTIFICATE, level="recommended", severity="high")
def must_staple(ctx: CheckContext):
    if not ctx.answer("certificate", "must_staple"):
        return not_applicable("not_demanded")
    status = ctx.fact("certificate", "ocsp")
    if status.get("stapled") is None:
        raise NotMeasured("stapling_unread", reason=status.get("reason"))
    if status.get("stapled") and status.get("valid"):
        return passed("stapled")
    if status.get("stapled"):
        return failed("unusable", problem=status.get("problem"))
    return failed("not_stapled")


# -- DNS: CAA and DANE --------------------------------------------------------------------------------

def caa_properties(records: list[str]) -> dict[str, list[str]]:
    """`0 issue "ca.example; account=1"` lines -> {"issue": ["ca.example"], "issuewild": [...]};
    a value that breaks RFC 8659 §4.2's grammar names no CA (""), as a CA reads it."""
    out: dict[str, list[str]] = {}
    for record in records:
        parts = record.split(None, 2)
        if len(parts) < 3:
            continue
        tag, value = parts[1].lower(), parts[2].strip().strip('"')
        issuer, _, _ = caa_grammar.parse_issuer_value(value)
        out.setdefault(tag, []).append(issuer or "")
    return out


@check("certificate.caa", **CERTIFICATE, level="recommended", severity="medium")
def caa(ctx: CheckContext):
    cert = ctx.section("certificate")
    leaf = ctx.fact("certificate", "chain")[0]
    if leaf.get("self_signed"):
        return not_applicable("self_signed")
    dns = ctx.section("dns")
    records = dns.get("caa")
    if records is None:
        raise NotMeasured.because(dns.get("caa_error"), "not_looked_up")
    if not records:
        return not_applicable("no_records")
    props = caa_properties(records)
    wildcard = (cert.get("hostname_matched_by") or "").startswith("*.")
    allowed = props.get("issuewild") if wildcard and "issuewild" in props else props.get("issue", [])
    ca_name, domains = rules.caa_domains_for(leaf["issuer"])
    evidence = {"caa": records[:20], "issuer": leaf["issuer"], "ca": ca_name, "ca_domains": domains,
                "allowed": allowed, "wildcard": wildcard}
    if ca_name is None:
        return info("unknown_ca", issuer=_cn({"subject": leaf["issuer"]}), evidence=evidence)
    if set(domains) & set(allowed):
        return passed("allowed", ca=ca_name, domains=sorted(set(domains) & set(allowed)), evidence=evidence)
    return warned("not_allowed", allowed=[a for a in allowed if a] or Phrase("no_ca"), ca=ca_name, evidence=evidence)


@check("certificate.dane", **CERTIFICATE, level="recommended", severity="medium")
def dane(ctx: CheckContext):
    facts = ctx.fact("certificate", "dane")
    if facts.get("error"):
        raise NotMeasured("lookup_failed", error=facts["error"])
    if not facts.get("records"):
        return not_applicable("no_records", name=facts.get("name"))
    evidence = {"name": facts["name"], "dnssec": facts.get("dnssec"), "records": facts["records"][:10]}
    status = facts.get("dnssec")
    if status == "bogus":
        return failed("bogus", name=facts["name"], reason=facts.get("dnssec_reason"), evidence=evidence)
    if status is None:
        return error("common:not_measured", detail=Phrase("dnssec_unknown", reason=facts.get("dnssec_reason")),
                     evidence=evidence)
    if status != "secure":
        return warned("unsigned", name=facts["name"], evidence=evidence)
    matched = [r for r in facts["records"] if r["match"]]
    if len(matched) == 1:
        return passed("matches", record=matched[0]["record"], usage=matched[0]["usage"], evidence=evidence)
    if matched:
        return passed("several_match", count=len(matched), evidence=evidence)
    reasons = [Phrase("record_reason", record=r["record"], reason=r.get("reason")) for r in facts["records"][:3]]
    return failed("none_match", reasons=reasons, evidence=evidence)
