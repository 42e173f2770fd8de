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

from checks.common import CABF, NCSC_TLS, parse_time
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
from scanner.standards import certificate as rules

TEXTS = tomllib.loads(resources.files("checks").joinpath("data/certificate.toml").read_text(encoding="utf-8"))

MOZ_POLICY = "Mozilla Root Store Policy 3.0"
CHROME_CT = "Chrome Certificate Transparency Policy"
CERTIFICATE = {"pillar": "certificate", "schemes": ("https",)}


def _cn(entry: dict[str, Any]) -> str:
    subject = entry.get("subject") or ""
    for part in subject.split(","):
        if part.startswith("CN="):
            return part[3:]
    return subject[:80]


def _who(i: int, entry: dict[str, Any]) -> tuple[str, str]:
    """The certificate at position i, named in English and Dutch."""
    return ("the certificate", "het certificaat") if i == 0 else (f"intermediate {_cn(entry)}",
                                                                   f"tussencertificaat {_cn(entry)}")


def _nl_labels(items: list[dict[str, Any]], table: str, chain: list[dict[str, Any]]) -> str:
    """Dutch labels for the probe's reason or issue codes, each with the certificate it names."""
    labels = TEXTS["nl"][table]
    out = []
    for item in items:
        text = labels.get(item.get("code"), labels.get("other", item.get("code", "")))
        i = item.get("certificate")
        if isinstance(i, int) and 0 <= i < len(chain):
            text += f" ({_cn(chain[i])})"
        out.append(text)
    return "; ".join(dict.fromkeys(out))


def _judged_chain(chain: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """The leaf and the served intermediates; a served self-signed root is the client's business."""
    return [(i, c) for i, c in enumerate(chain) if i == 0 or not c.get("self_signed")]


# -- trust and name ---------------------------------------------------------------------------

@check(
    "certificate.trusted", **CERTIFICATE, level="required", severity="critical",
    title={"en": "The certificate chain is trusted", "nl": "De certificaatketen wordt vertrouwd"},
    remediation={
        "en": "Serve a certificate from a publicly trusted CA, still valid, with a strong key and signature, "
              "together with its intermediate certificates.",
        "nl": "Gebruik een certificaat van een publiek vertrouwde CA, nog geldig, met een sterke sleutel en "
              "handtekening, en stuur de tussencertificaten mee.",
    },
    references=(CABF, "RFC 5280", MOZ_POLICY),
)
def trusted(ctx: CheckContext):
    cert = ctx.section("certificate")
    store = (cert.get("trust_store") or {}).get("source", "the trust store")
    if ctx.fact("certificate", "trusted"):
        return passed(f"the served chain validates to a root of {store}", evidence={"trust_store": store},
                      message_nl=f"de aangeboden keten valideert tot een root van {store}")
    reasons = cert.get("trust_reasons") or [{"code": "other", "message": cert.get("trust_error") or "no path"}]
    chain_ = ctx.fact("certificate", "chain")
    more = len(reasons) - 1
    return failed(f"not trusted: {reasons[0]['message']}" + (f" (and {more} more)" if more else ""),
                  message_nl=f"niet vertrouwd: {_nl_labels(reasons, 'trust', chain_)}",
                  evidence={"subject": chain_[0]["subject"], "issuer": chain_[0]["issuer"], "trust_store": store,
                            "reasons": [{"code": r["code"], "message": r["message"]} for r in reasons]})


@check(
    "certificate.hostname", **CERTIFICATE, level="required", severity="critical",
    title={"en": "The certificate names the host", "nl": "Het certificaat vermeldt de hostnaam"},
    remediation={
        "en": "Issue a certificate whose subjectAltName lists this host name (the common name alone does not count).",
        "nl": "Vraag een certificaat aan met deze hostnaam in subjectAltName (de common name alleen telt niet).",
    },
    references=("RFC 6125", "RFC 9525", CABF),
)
def hostname(ctx: CheckContext):
    cert = ctx.section("certificate")
    host = ctx.subject.get("host", "")
    if ctx.fact("certificate", "hostname_match"):
        by = cert.get("hostname_matched_by")
        return passed(f"{host} is named in subjectAltName" + (f" ({by})" if by else ""),
                      message_nl=f"{host} staat in subjectAltName" + (f" ({by})" if by else ""))
    leaf = ctx.fact("certificate", "chain")[0]
    reason = cert.get("hostname_reason") or f"{host} is not among the certificate's names"
    shown = ", ".join(leaf["san"][:5]) or "geen"
    return failed(reason, evidence={"host": host, "san": leaf["san"][:20], "san_count": leaf.get("san_count")},
                  message_nl=f"{host} staat niet tussen de namen van het certificaat (subjectAltName: {shown})")


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
    not_before, not_after = parse_time(entry["not_before"]), parse_time(entry["not_after"])
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
    title={"en": "The certificates are valid and not about to expire",
           "nl": "De certificaten zijn geldig en verlopen niet binnenkort"},
    remediation={
        "en": "Renew the certificate well before it expires and automate renewal (ACME); make sure the server "
              "serves the renewed certificate and current intermediates.",
        "nl": "Vernieuw het certificaat ruim voor het verloopt en automatiseer de vernieuwing (ACME); zorg dat de "
              "server het vernieuwde certificaat en actuele tussencertificaten gebruikt.",
    },
    references=(CABF, "RFC 8555"),
    thresholds={"certificate_expiry_warn_days": 14, "certificate_expiry_warn_fraction": 0.1},
)
def expiry(ctx: CheckContext):
    rows = chain_validity(ctx, ctx.fact("certificate", "chain"))
    if not rows:
        raise NotMeasured("no certificate validity dates could be read")
    order = ("ok", "due", "not_yet_valid", "expired")
    worst = max((r["status"] for r in rows), key=order.index)
    evidence = {"certificates": rows}
    bad = [r for r in rows if r["status"] == worst]
    if worst == "ok":
        leaf = rows[0]
        return passed(f"valid for {leaf['days_remaining']:.0f} more days ({leaf['fraction_remaining']:.0%} of its "
                      "lifetime)", evidence=evidence,
                      message_nl=f"nog {leaf['days_remaining']:.0f} dagen geldig ({leaf['fraction_remaining']:.0%} "
                                 "van de looptijd)")
    first = bad[0]
    what, what_nl = _who(first["certificate"], {"subject": f"CN={first['subject']}"})
    if worst == "expired":
        return failed(f"{what} expired {abs(first['days_remaining']):.0f} days ago ({first['not_after']})",
                      evidence=evidence, message_nl=f"{what_nl} is {abs(first['days_remaining']):.0f} dagen geleden "
                                                    f"verlopen ({first['not_after']})")
    if worst == "not_yet_valid":
        return failed(f"{what} is not yet valid (from {first['not_before']})", evidence=evidence,
                      message_nl=f"{what_nl} is nog niet geldig (pas vanaf {first['not_before']})")
    return warned(f"{what} expires in {first['days_remaining']:.0f} days "
                  f"({first['fraction_remaining']:.0%} of its lifetime left): renewal is overdue", evidence=evidence,
                  message_nl=f"{what_nl} verloopt over {first['days_remaining']:.0f} dagen "
                             f"(nog {first['fraction_remaining']:.0%} van de looptijd): de vernieuwing is te laat")


@check(
    "certificate.lifespan", **CERTIFICATE, level="recommended", severity="medium",
    title={"en": "The certificate lifetime is within the CA/Browser Forum limit",
           "nl": "De looptijd van het certificaat blijft binnen de limiet van het CA/Browser Forum"},
    remediation={
        "en": "Use certificates no longer than the limit in force when they are issued (200 days from 15 March "
              "2026, 100 from 15 March 2027, 47 from 15 March 2029) and automate their renewal.",
        "nl": "Gebruik certificaten die niet langer geldig zijn dan de limiet op het moment van uitgifte (200 "
              "dagen vanaf 15 maart 2026, 100 vanaf 15 maart 2027, 47 vanaf 15 maart 2029) en automatiseer de "
              "vernieuwing.",
    },
    references=(CABF + " §6.3.2", "CA/B Forum ballot SC-081v3"),
)
def lifespan(ctx: CheckContext):
    leaf = ctx.fact("certificate", "chain")[0]
    not_before, not_after = parse_time(leaf["not_before"]), parse_time(leaf["not_after"])
    days = rules.validity_days(not_before, not_after)
    limit = rules.lifetime_limit(not_before.date())
    evidence = {"issued": leaf["not_before"], "not_after": leaf["not_after"], "validity_days": round(days, 2)}
    if limit is None:
        return info(f"issued {not_before.date()}, before the first limit Bolwerk records", evidence=evidence,
                    message_nl=f"uitgegeven op {not_before.date()}, voor de eerste limiet die Bolwerk kent")
    evidence |= {"limit_days": limit["days"], "limit_from": str(limit["from"]), "source": limit["source"]}
    if days > limit["days"]:
        return failed(f"valid for {days:.0f} days; certificates issued on {not_before.date()} may last at most "
                      f"{limit['days']} days ({limit['source']})", evidence=evidence,
                      message_nl=f"{days:.0f} dagen geldig; certificaten uitgegeven op {not_before.date()} mogen "
                                 f"hoogstens {limit['days']} dagen geldig zijn ({limit['source']})")
    return passed(f"valid for {days:.0f} days (limit {limit['days']} days at issue)", evidence=evidence,
                  message_nl=f"{days:.0f} dagen geldig (limiet bij uitgifte: {limit['days']} dagen)")


# -- keys and signatures -----------------------------------------------------------------------

@check(
    "certificate.key", **CERTIFICATE, level="required", severity="high",
    title={"en": "The certificate keys are strong enough", "nl": "De sleutels van de certificaten zijn sterk genoeg"},
    remediation={
        "en": "Use an ECDSA P-256 or P-384 key, or an RSA key of at least 3072 bits (2048 is being phased out).",
        "nl": "Gebruik een ECDSA-sleutel op P-256 of P-384, of een RSA-sleutel van minstens 3072 bits (2048 bits "
              "wordt uitgefaseerd).",
    },
    references=(NCSC_TLS, CABF + " §6.1.5", MOZ_POLICY),
    thresholds={"rsa_min_bits": 2048, "rsa_good_bits": 3072},
)
def key(ctx: CheckContext):
    chain = ctx.fact("certificate", "chain")
    findings = []  # (severity rank, English, Dutch)
    for i, entry in _judged_chain(chain):
        kind, bits, curve = entry["key_type"], entry.get("key_bits"), entry.get("curve")
        who, who_nl = _who(i, entry)
        if kind in ("RSA", "DSA") and (bits is None or bits < ctx.threshold("rsa_min_bits")):
            findings.append((2, f"{who}: {kind} key of {bits} bits", f"{who_nl}: {kind}-sleutel van {bits} bits"))
        elif kind == "DSA":
            findings.append((2, f"{who}: DSA keys are not accepted by browsers",
                             f"{who_nl}: browsers aanvaarden geen DSA-sleutels"))
        elif kind == "RSA" and i == 0 and bits < ctx.threshold("rsa_good_bits"):
            findings.append((1, f"{who}: RSA key of {bits} bits, which NCSC 2025 marks 'phase out' "
                                "(fine today; plan 3072 bits or ECDSA)",
                             f"{who_nl}: RSA-sleutel van {bits} bits, volgens NCSC 2025 'uit te faseren' "
                             "(vandaag in orde; plan 3072 bits of ECDSA)"))
        elif kind == "EC":
            verdict = rules.curve_verdict(curve)
            if verdict == "warn":
                findings.append((1, f"{who}: curve {curve} is not supported everywhere",
                                 f"{who_nl}: curve {curve} wordt niet overal ondersteund"))
            elif verdict != "good":
                findings.append((2, f"{who}: curve {curve} is not accepted by browsers",
                                 f"{who_nl}: browsers aanvaarden curve {curve} niet"))
        elif kind not in ("RSA", "EC"):
            findings.append((2, f"{who}: {kind} keys are not accepted in the Web PKI",
                             f"{who_nl}: {kind}-sleutels worden niet aanvaard in de publieke webcertificaten"))
    leaf = chain[0]
    evidence = {"key_type": leaf["key_type"], "key_bits": leaf.get("key_bits"), "curve": leaf.get("curve"),
                "problems": [en for _, en, _ in findings]}
    worst = [f for f in findings if f[0] == 2] or findings
    if worst:
        make = failed if worst[0][0] == 2 else warned
        return make("; ".join(en for _, en, _ in worst), evidence=evidence,
                    message_nl="; ".join(nl for _, _, nl in worst))
    size = f"{leaf['curve']}" if leaf["key_type"] == "EC" else f"{leaf.get('key_bits')} bits"
    return passed(f"{leaf['key_type']} key ({size})", evidence=evidence, message_nl=f"{leaf['key_type']}-sleutel ({size})")


@check(
    "certificate.signature", **CERTIFICATE, level="required", severity="high",
    title={"en": "The certificates are signed with a strong hash",
           "nl": "De certificaten zijn ondertekend met een sterke hashfunctie"},
    remediation={
        "en": "Reissue the certificate (and use intermediates) with SHA-256 or stronger signatures.",
        "nl": "Laat het certificaat opnieuw uitgeven (en gebruik tussencertificaten) met SHA-256-handtekeningen of "
              "sterker.",
    },
    references=(CABF + " §7.1.3.2", NCSC_TLS),
)
def signature(ctx: CheckContext):
    chain = ctx.fact("certificate", "chain")
    weak = [f"{_cn(c)} ({c.get('signature_hash')})" for i, c in _judged_chain(chain)
            if not c.get("self_signed") and c.get("signature_hash") is not None
            and rules.hash_verdict(c.get("signature_hash")) == "fail"]
    if weak:
        return failed(f"weak signature hash on {', '.join(weak)}", evidence={"certificates": weak},
                      message_nl=f"zwakke hashfunctie in de handtekening van {', '.join(weak)}")
    algorithm = chain[0].get("signature_hash") or "EdDSA"
    return passed(f"leaf signed with {algorithm}", message_nl=f"certificaat ondertekend met {algorithm}")


# -- how the chain is served --------------------------------------------------------------------

CHAIN_FAIL = tuple(TEXTS["chain"]["fail"])
CHAIN_WARN = tuple(TEXTS["chain"]["warn"])


@check(
    "certificate.chain", **CERTIFICATE, level="recommended", severity="medium",
    title={"en": "The server sends a complete, ordered chain", "nl": "De server stuurt een volledige, geordende keten"},
    remediation={
        "en": "Configure the server with the leaf certificate followed by its intermediates in order, without the "
              "root and without unrelated certificates (most servers take a 'fullchain' file).",
        "nl": "Configureer de server met het certificaat gevolgd door de tussencertificaten in volgorde, zonder de "
              "root en zonder certificaten die niet in de keten horen (meestal een 'fullchain'-bestand).",
    },
    references=("RFC 8446 §4.4.2", "RFC 5246 §7.4.2"),
)
def chain(ctx: CheckContext):
    cert = ctx.section("certificate")
    served_chain = ctx.fact("certificate", "chain")
    issues = list(ctx.fact("certificate", "chain_issues"))
    issues += [{"code": "malformed", "message": m["message"]} for m in cert.get("malformed") or []]
    evidence = {"served": cert.get("served_count"), "issues": issues}
    bad = [i for i in issues if i["code"] in CHAIN_FAIL]
    if bad:
        return failed("; ".join(i["message"] for i in bad), evidence=evidence,
                      message_nl=_nl_labels(bad, "chain", served_chain))
    odd = [i for i in issues if i["code"] in CHAIN_WARN]
    if odd:
        return warned("; ".join(i["message"] for i in odd), evidence=evidence,
                      message_nl=_nl_labels(odd, "chain", served_chain))
    note = "; ".join(i["message"] for i in issues)
    note_nl = _nl_labels(issues, "chain", served_chain)
    served = cert.get("served_count") or len(served_chain)
    return passed(f"{served} certificate(s), in order" + (f" ({note})" if note else ""), evidence=evidence,
                  message_nl=f"{served} {'certificaat' if served == 1 else 'certificaten'}, in volgorde"
                  + (f" ({note_nl})" if note_nl else ""))


@check(
    "certificate.key_sharing", **CERTIFICATE, level="optional", severity="low",
    title={"en": "The certificate key is not shared by very many names",
           "nl": "De sleutel van het certificaat wordt niet door heel veel namen gedeeld"},
    remediation={
        "en": "Prefer one certificate (and key) per service over one certificate for very many names: a "
              "compromised key then exposes one service, and renewals do not depend on each other.",
        "nl": "Gebruik liever een certificaat (en sleutel) per dienst dan een certificaat voor heel veel namen: "
              "een gelekte sleutel treft dan een dienst, en vernieuwingen hangen niet van elkaar af.",
    },
    references=("NIST SP 800-57 Part 1 Rev. 5 §5.2",),
    thresholds={"certificate_max_names": 100},
)
def key_sharing(ctx: CheckContext):
    leaf = ctx.fact("certificate", "chain")[0]
    count = leaf.get("san_count", len(leaf["san"]))
    wildcards = [n for n in leaf["san"] if n.startswith("*.")]
    evidence = {"names": count, "wildcards": wildcards[:10], "spki_sha256": leaf.get("spki_sha256")}
    if count > ctx.threshold("certificate_max_names"):
        return warned(f"one key serves {count} names", evidence=evidence,
                      message_nl=f"één sleutel bedient {count} namen")
    return passed(f"{count} name(s)" + (f", {len(wildcards)} wildcard(s)" if wildcards else ""), evidence=evidence,
                  message_nl=f"{count} {'naam' if count == 1 else 'namen'}"
                  + (f", waarvan {len(wildcards)} met jokerteken" if wildcards else ""))


# -- certificate transparency, revocation, must-staple ---------------------------------------------

@check(
    "certificate.sct", **CERTIFICATE, level="recommended", severity="medium",
    title={"en": "The certificate is logged in Certificate Transparency",
           "nl": "Het certificaat is opgenomen in Certificate Transparency"},
    remediation={
        "en": "Use a CA that embeds Signed Certificate Timestamps (every public CA does); browsers reject "
              "publicly trusted certificates without them.",
        "nl": "Gebruik een CA die Signed Certificate Timestamps insluit (elke publieke CA doet dat); browsers "
              "weigeren publiek vertrouwde certificaten zonder.",
    },
    references=("RFC 6962", CHROME_CT, "Apple Certificate Transparency policy"),
)
def sct(ctx: CheckContext):
    leaf = ctx.fact("certificate", "chain")[0]
    if leaf.get("self_signed"):
        return not_applicable("self-signed: Certificate Transparency applies to publicly trusted certificates",
                              message_nl="door zichzelf ondertekend: Certificate Transparency geldt voor publiek "
                                         "vertrouwde certificaten")
    scts = ctx.fact("certificate", "scts")
    lifetime = rules.validity_days(parse_time(leaf["not_before"]), parse_time(leaf["not_after"]))
    need_embedded = rules.scts_required(lifetime, embedded=True)
    need_delivered = rules.scts_required(lifetime, embedded=False)
    delivered = (scts.get("tls_extension") or 0) + (scts.get("ocsp") or 0)
    evidence = {k: scts.get(k) for k in ("embedded", "tls_extension", "ocsp", "total", "measured")}
    evidence |= {"required_embedded": need_embedded, "required_delivered": need_delivered}
    if scts["embedded"] >= need_embedded or delivered >= need_delivered:
        return passed(f"{scts['total']} SCT(s) ({scts['embedded']} embedded, {delivered} delivered in the handshake)",
                      evidence=evidence, message_nl=f"{scts['total']} SCT('s) ({scts['embedded']} in het certificaat, "
                                                    f"{delivered} meegestuurd bij de verbinding)")
    if scts.get("tls_extension") is None:
        return error(f"not measured: {scts['embedded']} embedded SCT(s), {need_embedded} needed; SCTs the server may "
                     f"deliver in the TLS handshake were not visible ({scts.get('measured')})", evidence=evidence,
                     message_nl=f"niet gemeten: {scts['embedded']} SCT('s) in het certificaat, {need_embedded} nodig; "
                                "SCT's die de server bij de verbinding meestuurt, waren niet zichtbaar")
    if scts["total"] == 0:
        return failed("no Signed Certificate Timestamps: Chrome and Safari reject such publicly trusted certificates",
                      evidence=evidence, message_nl="geen Signed Certificate Timestamps: Chrome en Safari weigeren "
                                                    "zulke publiek vertrouwde certificaten")
    return warned(f"{scts['total']} SCT(s); Chrome's policy wants {need_embedded} embedded or {need_delivered} "
                  "delivered", evidence=evidence,
                  message_nl=f"{scts['total']} SCT('s); het beleid van Chrome vraagt er {need_embedded} in het "
                             f"certificaat of {need_delivered} meegestuurd")


@check(
    # recommended: a revoked staple also fails certificate.trusted (required, critical); this check adds the
    # warnings about stale or unknown staples, and cannot say anything when nothing is stapled
    "certificate.revocation", **CERTIFICATE, level="recommended", severity="critical",
    title={"en": "The certificate is not revoked (stapled OCSP)",
           "nl": "Het certificaat is niet ingetrokken (volgens het meegestuurde OCSP-antwoord)"},
    remediation={
        "en": "Replace a revoked certificate at once. If the server staples OCSP responses, keep them fresh.",
        "nl": "Vervang een ingetrokken certificaat onmiddellijk. Als de server OCSP-antwoorden meestuurt "
              "(stapling), houd ze dan actueel.",
    },
    references=("RFC 6960", "RFC 6066 §8", CABF + " §4.9"),
)
def revocation(ctx: CheckContext):
    status = ctx.fact("certificate", "ocsp")
    evidence = {k: status.get(k) for k in ("stapled", "status", "this_update", "next_update", "revocation_time",
                                           "revocation_reason", "problem", "reason") if status.get(k) is not None}
    if status.get("stapled") is None:  # the raw handshake that reads staples failed (as for certificate.sct)
        raise NotMeasured(f"stapled OCSP: {status.get('reason')}")
    if status.get("stapled") is False:
        return info("no OCSP response stapled (optional; several CAs are ending OCSP)", evidence=evidence,
                    message_nl="geen OCSP-antwoord meegestuurd (optioneel; verschillende CA's stoppen met OCSP)")
    if not status.get("valid"):
        return warned(f"the stapled OCSP response cannot be relied on: {status.get('problem')}", evidence=evidence,
                      severity="medium", message_nl="op het meegestuurde OCSP-antwoord kan men niet vertrouwen "
                                                    f"({status.get('problem')})")
    if status.get("status") == "revoked":
        reason = f" ({status['revocation_reason']})" if status.get("revocation_reason") else ""
        return failed(f"the CA revoked this certificate on {status.get('revocation_time')}{reason}", evidence=evidence,
                      message_nl=f"de CA heeft dit certificaat ingetrokken op {status.get('revocation_time')}{reason}")
    if status.get("status") == "unknown":
        return warned("the stapled OCSP response does not know this certificate", evidence=evidence, severity="medium",
                      message_nl="het meegestuurde OCSP-antwoord kent dit certificaat niet")
    return passed(f"stapled OCSP response: good until {status.get('next_update')}", evidence=evidence,
                  message_nl=f"meegestuurd OCSP-antwoord: geldig tot {status.get('next_update')}")


@check(
    "certificate.must_staple", **CERTIFICATE, level="recommended", severity="high",
    title={"en": "A must-staple certificate comes with a stapled OCSP response",
           "nl": "Bij een must-staple-certificaat stuurt de server een OCSP-antwoord mee"},
    remediation={
        "en": "Enable OCSP stapling on the server (and keep the responses fresh), or use a certificate without "
              "the OCSP must-staple extension.",
        "nl": "Schakel OCSP-stapling in op de server (en houd de antwoorden actueel), of gebruik een certificaat "
              "zonder de OCSP-must-staple-extensie.",
    },
    references=("RFC 7633", "RFC 6066 §8"),
)
def must_staple(ctx: CheckContext):
    if not ctx.answer("certificate", "must_staple"):
        return not_applicable("the certificate does not demand stapling",
                              message_nl="het certificaat vraagt geen meegestuurd OCSP-antwoord")
    status = ctx.fact("certificate", "ocsp")
    if status.get("stapled") is None:
        raise NotMeasured(f"must-staple certificate; stapling: {status.get('reason')}")
    if status.get("stapled") and status.get("valid"):
        return passed("must-staple certificate, valid OCSP response stapled",
                      message_nl="must-staple-certificaat, met een geldig meegestuurd OCSP-antwoord")
    if status.get("stapled"):
        why, why_nl = status.get("problem"), f"het meegestuurde OCSP-antwoord is onbruikbaar ({status.get('problem')})"
    else:
        why, why_nl = "no OCSP response was stapled", "er wordt geen OCSP-antwoord meegestuurd"
    return failed(f"must-staple certificate but {why}: Firefox refuses to connect",
                  message_nl=f"must-staple-certificaat, maar {why_nl}: Firefox weigert de verbinding")


# -- DNS: CAA and DANE --------------------------------------------------------------------------------

def caa_properties(records: list[str]) -> dict[str, list[str]]:
    """`0 issue "ca.example; account=1"` lines -> {"issue": ["ca.example"], "issuewild": [...]}."""
    out: dict[str, list[str]] = {}
    for record in records:
        parts = record.split(None, 2)
        if len(parts) < 3:
            continue
        tag, value = parts[1].lower(), parts[2].strip().strip('"')
        out.setdefault(tag, []).append(value.split(";", 1)[0].strip().lower())
    return out


@check(
    "certificate.caa", **CERTIFICATE, level="recommended", severity="medium",
    title={"en": "CAA allows the CA that issued the certificate",
           "nl": "CAA laat de CA toe die het certificaat uitgaf"},
    remediation={
        "en": "Keep the CAA records in line with the CA you use: add its CAA domain (issue, and issuewild for "
              "wildcards), or renewals will be refused.",
        "nl": "Houd de CAA-records in lijn met de CA die u gebruikt: voeg haar CAA-domein toe (issue, en "
              "issuewild voor wildcards), anders worden vernieuwingen geweigerd.",
    },
    references=("RFC 8659", CABF + " §3.2.2.8"),
)
def caa(ctx: CheckContext):
    cert = ctx.section("certificate")
    leaf = ctx.fact("certificate", "chain")[0]
    if leaf.get("self_signed"):
        return not_applicable("self-signed: CAA governs public CAs",
                              message_nl="door zichzelf ondertekend: CAA geldt voor publieke CA's")
    dns = ctx.section("dns")
    records = dns.get("caa")
    if records is None:
        raise NotMeasured(dns.get("caa_error") or "CAA records were not looked up")
    if not records:
        return not_applicable("no CAA records: any CA may issue (see dns.caa)",
                              message_nl="geen CAA-records: elke CA mag certificaten uitgeven (zie dns.caa)")
    props = caa_properties(records)
    wildcard = (cert.get("hostname_matched_by") or "").startswith("*.")
    allowed = props.get("issuewild") if wildcard and "issuewild" in props else props.get("issue", [])
    ca_name, domains = rules.caa_domains_for(leaf["issuer"])
    evidence = {"caa": records[:20], "issuer": leaf["issuer"], "ca": ca_name, "ca_domains": domains,
                "allowed": allowed, "wildcard": wildcard}
    if ca_name is None:
        issuer = _cn({"subject": leaf["issuer"]})
        return info(f"cannot tell which CAA domain {issuer} uses (not in Bolwerk's CA table)", evidence=evidence,
                    message_nl=f"onbekend welk CAA-domein {issuer} gebruikt (niet in de CA-tabel van Bolwerk)")
    if set(domains) & set(allowed):
        named = ", ".join(sorted(set(domains) & set(allowed)))
        return passed(f"CAA allows {ca_name} ({named})", evidence=evidence, message_nl=f"CAA laat {ca_name} toe ({named})")
    shown = ", ".join(a for a in allowed if a)
    return warned(f"CAA allows {shown or 'no CA'}, not {ca_name} which issued this certificate: its renewal will be "
                  "refused", evidence=evidence,
                  message_nl=f"CAA laat {shown or 'geen enkele CA'} toe, niet {ca_name} die dit certificaat uitgaf: "
                             "de vernieuwing zal geweigerd worden")


@check(
    "certificate.dane", **CERTIFICATE, level="recommended", severity="medium",
    title={"en": "TLSA records (DANE) match the served certificate",
           "nl": "TLSA-records (DANE) passen bij het aangeboden certificaat"},
    remediation={
        "en": "Update the TLSA records before every key or certificate change (publish the new record first, "
              "then switch), and sign the zone with DNSSEC, or remove the TLSA records.",
        "nl": "Werk de TLSA-records bij voor elke sleutel- of certificaatwissel (eerst het nieuwe record "
              "publiceren, dan wisselen) en onderteken de zone met DNSSEC, of verwijder de TLSA-records.",
    },
    references=("RFC 6698", "RFC 7671", "RFC 7218"),
)
def dane(ctx: CheckContext):
    facts = ctx.fact("certificate", "dane")
    if facts.get("error"):
        raise NotMeasured(f"TLSA lookup failed: {facts['error']}")
    if not facts.get("records"):
        return not_applicable(f"no TLSA records at {facts.get('name')}",
                              message_nl=f"geen TLSA-records bij {facts.get('name')}")
    evidence = {"name": facts["name"], "dnssec": facts.get("dnssec"), "records": facts["records"][:10]}
    status = facts.get("dnssec")
    if status == "bogus":
        return failed(f"the TLSA records at {facts['name']} fail DNSSEC validation: DANE clients cannot connect "
                      f"({facts.get('dnssec_reason')})", evidence=evidence,
                      message_nl=f"de TLSA-records bij {facts['name']} valideren niet met DNSSEC: clients die DANE "
                                 "toepassen kunnen geen verbinding maken")
    if status is None:
        return error(f"not measured: DNSSEC status of the TLSA records unknown ({facts.get('dnssec_reason')})",
                     evidence=evidence, message_nl="niet gemeten: de DNSSEC-status van de TLSA-records is onbekend")
    if status != "secure":
        return warned(f"the TLSA records at {facts['name']} are not DNSSEC-signed, so DANE clients ignore them",
                      evidence=evidence, message_nl=f"de TLSA-records bij {facts['name']} zijn niet met DNSSEC "
                                                    "ondertekend, dus clients die DANE toepassen negeren ze")
    matched = [r for r in facts["records"] if r["match"]]
    if matched:
        one = len(matched) == 1
        return passed(f"TLSA {matched[0]['record']} matches ({matched[0]['usage']})" if one
                      else f"{len(matched)} TLSA records match", evidence=evidence,
                      message_nl=f"TLSA {matched[0]['record']} past ({matched[0]['usage']})" if one
                      else f"{len(matched)} TLSA-records passen")
    reasons = "; ".join(f"{r['record']}: {r.get('reason')}" for r in facts["records"][:3])
    return failed(f"no TLSA record matches the served chain: DANE clients will refuse to connect ({reasons})",
                  evidence=evidence, message_nl="geen enkel TLSA-record past bij de aangeboden keten: clients die DANE "
                                                "toepassen zullen de verbinding weigeren")
