"""DKIM keys (RFC 6376 §3.6.1, RFC 8301, RFC 8463) of the selectors the inventory names.

A selector cannot be discovered from the DNS, so without selectors in the inventory
(`dkim_selectors`) nothing can be concluded, least of all that the domain does not sign:
the finding says so and counts for nothing. With selectors, each key is judged on what a
verifier does with it: a missing, revoked or malformed key, a key type it does not know,
an RSA key under 1024 bits or one restricted to SHA-1 signs nothing it accepts.
"""

from __future__ import annotations

from dataclasses import replace

from checks.catalogue import Phrase
from checks.mail.common import issue_evidence, not_measured, phrases
from checks.registry import CheckContext, NotMeasured, Outcome, check, failed, info, passed, warned
from scanner.standards import dkim as dkim_std


@check(
    "mail.dkim",
    pillar="mail", level="recommended", severity="medium", subject="mail_domain",
)
def dkim(ctx: CheckContext):
    facts = ctx.section("mail").get("dkim")
    if facts is None:  # facts of an older probe
        raise NotMeasured("common:fact_missing", fact="mail.dkim")
    if not facts.get("selectors"):
        return info("no_selectors")
    out = []
    for entry in facts.get("keys") or []:
        target, key = entry["name"], entry["selector"]
        if entry.get("error"):
            out.append(not_measured(Phrase("common:probe_reason", reason=entry["error"]), target=target, key=key))
            continue
        outcome = _verdict(entry)
        out.append(replace(outcome, params={"selector": key, **outcome.params}, target=target, key=key))
    return out


def _verdict(entry: dict) -> Outcome:
    records = entry.get("records") or []
    if not records:
        return failed("missing", name=entry["name"])
    if len(records) > 1:  # §3.6.2.2: a verifier may pick any one of them
        return warned("several", count=len(records), evidence={"records": records})
    key = dkim_std.parse_key(records[0])
    evidence = {"record": records[0][:300]}
    if key.issues:
        return failed("invalid", problems=phrases(key.issues), evidence=evidence | {"issues": issue_evidence(key.issues)})
    if key.revoked:
        return failed("revoked", evidence=evidence)
    if not key.email:
        return failed("not_for_email", evidence=evidence)
    if not dkim_std.usable_hash(key):
        return failed("sha1_only", evidence=evidence)
    rules = dkim_std.rules()["key_types"]
    evidence |= {"key_type": key.key_type, "bits": key.bits}
    if key.key_type == "rsa" and key.bits < rules["rsa"]["min_bits"]:
        return failed("rsa_too_small", bits=key.bits, limit=rules["rsa"]["min_bits"], evidence=evidence)
    if key.key_type == "rsa" and key.bits < rules["rsa"]["recommended_bits"]:
        return warned("rsa_small", bits=key.bits, limit=rules["rsa"]["recommended_bits"], evidence=evidence)
    if key.testing:
        return warned("testing", key_type=key.key_type, bits=key.bits, evidence=evidence)
    return passed("strong", key_type=key.key_type, bits=key.bits, evidence=evidence)
