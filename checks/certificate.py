"""Certificate pillar: trust, name, validity and key strength of the served certificate."""

from __future__ import annotations

from datetime import datetime

from checks.registry import CheckContext, check, failed, passed, warned

CABF = "CA/Browser Forum Baseline Requirements"


@check(
    "certificate.trusted",
    pillar="certificate", level="required", severity="critical", schemes=("https",),
    title={"en": "The certificate chain is trusted", "nl": "De certificaatketen wordt vertrouwd"},
    remediation={
        "en": "Serve a certificate from a publicly trusted CA, still valid, with its intermediate certificates.",
        "nl": "Gebruik een certificaat van een publiek vertrouwde CA, nog geldig, samen met de tussencertificaten.",
    },
    references=(CABF, "RFC 5280"),
    controls=("NIST-CSF-2.0:PR.DS-02",),
)
def trusted(ctx: CheckContext):
    cert = ctx.section("certificate")
    if ctx.fact("certificate", "trusted"):
        return passed("the served chain validates to a trusted root")
    leaf = cert["chain"][0]
    return failed(f"not trusted: {cert.get('trust_error') or 'no path to a trusted root'}",
                  evidence={"subject": leaf["subject"], "issuer": leaf["issuer"], "reason": cert.get("trust_error")})


@check(
    "certificate.hostname",
    pillar="certificate", level="required", severity="critical", schemes=("https",),
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
        return passed(f"{host} is named in subjectAltName")
    san = cert["chain"][0]["san"]
    return failed(f"{host} is not among the certificate's names", evidence={"host": host, "san": san[:20]})


@check(
    "certificate.expiry",
    pillar="certificate", level="required", severity="high", schemes=("https",),
    title={"en": "The certificate is valid and not about to expire", "nl": "Het certificaat is geldig en verloopt niet binnenkort"},
    remediation={
        "en": "Renew the certificate well before it expires; automate renewal (ACME).",
        "nl": "Vernieuw het certificaat ruim voor het verloopt; automatiseer de vernieuwing (ACME).",
    },
    references=(CABF,),
    thresholds={"certificate_expiry_warn_days": 14, "certificate_expiry_warn_fraction": 0.1},
)
def expiry(ctx: CheckContext):
    days = ctx.fact("certificate", "days_remaining")
    lifetime = ctx.section("certificate").get("lifetime_days") or 0
    leaf = ctx.fact("certificate", "chain")[0]
    evidence = {"not_after": leaf["not_after"], "days_remaining": days}
    if days < 0:
        return failed(f"expired {abs(days):.0f} days ago", evidence=evidence)
    if datetime.fromisoformat(leaf["not_before"].replace("Z", "+00:00")) > ctx.now:
        return failed("not yet valid", evidence=evidence | {"not_before": leaf["not_before"]})
    # Short-lived (ACME) certificates are judged on the fraction of their life left too.
    warn_days = min(ctx.threshold("certificate_expiry_warn_days"),
                    lifetime * ctx.threshold("certificate_expiry_warn_fraction") if lifetime else 1e9)
    if days < warn_days:
        return warned(f"expires in {days:.0f} days", evidence=evidence)
    return passed(f"valid for {days:.0f} more days", evidence=evidence)


@check(
    "certificate.key",
    pillar="certificate", level="required", severity="high", schemes=("https",),
    title={"en": "The certificate key is strong enough", "nl": "De sleutel van het certificaat is sterk genoeg"},
    remediation={
        "en": "Use an RSA key of at least 2048 bits (3072 for the future) or an ECDSA P-256/P-384 key.",
        "nl": "Gebruik een RSA-sleutel van minstens 2048 bits (3072 voor de toekomst) of een ECDSA P-256/P-384-sleutel.",
    },
    references=("NCSC-NL ICT-beveiligingsrichtlijnen voor TLS (2025)", CABF),
    thresholds={"rsa_min_bits": 2048, "rsa_good_bits": 3072},
)
def key(ctx: CheckContext):
    leaf = ctx.fact("certificate", "chain")[0]
    kind, bits = leaf["key_type"], leaf["key_bits"]
    evidence = {"key_type": kind, "key_bits": bits}
    if kind in ("RSA", "DSA"):
        if bits is None or bits < ctx.threshold("rsa_min_bits"):
            return failed(f"{kind} key of {bits} bits", evidence=evidence)
        if bits < ctx.threshold("rsa_good_bits"):
            return warned(f"{kind} key of {bits} bits: NCSC 2025 'phase out' (fine today, plan 3072)", evidence=evidence)
        return passed(f"{kind} key of {bits} bits", evidence=evidence)
    if kind == "EC" and (bits or 0) < 256:
        return failed(f"EC key of {bits} bits", evidence=evidence)
    return passed(f"{kind} key" + (f" of {bits} bits" if bits else ""), evidence=evidence)


@check(
    "certificate.signature",
    pillar="certificate", level="required", severity="high", schemes=("https",),
    title={"en": "The certificate is signed with a strong hash", "nl": "Het certificaat is ondertekend met een sterke hashfunctie"},
    remediation={
        "en": "Reissue the certificate with a SHA-256 (or stronger) signature.",
        "nl": "Laat het certificaat opnieuw uitgeven met een SHA-256-handtekening (of sterker).",
    },
    references=(CABF, "NCSC-NL ICT-beveiligingsrichtlijnen voor TLS (2025)"),
)
def signature(ctx: CheckContext):
    chain = ctx.fact("certificate", "chain")
    weak = [c["subject"] for c in chain if not c.get("self_issued") and (c.get("signature_hash") or "").lower() in ("md5", "sha1")]
    if weak:
        return failed(f"weak signature hash on {len(weak)} certificate(s)", evidence={"certificates": weak})
    return passed(f"leaf signed with {chain[0].get('signature_hash')}")
