"""DMARC (RFC 9989, reports per RFC 9990): the policy a receiver applies, where reports go,
whether external report destinations agreed to take them, and the lint peers give.

The record is read by `scanner/standards/dmarc.py` as a receiver reads it: an invalid tag
value falls back to its default, an invalid or missing `p` (or an invalid `sp`/`np`) makes
the record act as `p=none` if it names a valid report URI and void otherwise (§4.10.1),
and `t=y` lowers the policy by one level (§4.7), so testing mode is judged after the policy
and never rates better than the policy it lowers.
"""

from __future__ import annotations

from checks.catalogue import Phrase
from checks.mail.common import issue_evidence, lint_outcome, not_measured, read, sends_mail
from checks.registry import CheckContext, NotMeasured, check, failed, not_applicable, passed, warned
from scanner.standards import dmarc as dmarc_std
from scanner.standards.grammar import uri_host


def _record(ctx: CheckContext) -> tuple[dict, dmarc_std.Record] | None:
    facts = read(ctx, "dmarc")
    if not facts.get("record"):
        return None
    return facts, dmarc_std.parse(facts["record"])


@check(
    "mail.dmarc",
    pillar="mail", level="required", severity="high", subject="mail_domain",
)
def dmarc(ctx: CheckContext):
    facts = read(ctx, "dmarc")
    if facts.get("records", 0) > 1:
        return failed("several")
    if not facts.get("record"):
        return failed("none")
    record = dmarc_std.parse(facts["record"])
    inherited = bool(facts.get("inherited"))
    applied = dmarc_std.applied_policy(record, inherited=inherited,
                                       exists=ctx.section("mail").get("domain_exists", True))
    evidence = {"record": facts["record"], "found_at": facts.get("found_at")}
    if record.issues:
        evidence["discarded"] = issue_evidence(record.issues)
    if applied.policy is None:
        return failed("no_policy", evidence=evidence)
    if applied.fallback:
        return failed("fallback", evidence=evidence)
    if applied.testing:
        if applied.policy == "quarantine" and sends_mail(ctx):
            return warned("testing", policy=applied.published, applied=applied.policy, evidence=evidence)
        return failed("testing_weak", policy=applied.published, applied=applied.policy, evidence=evidence)
    if applied.policy == "reject":
        if inherited:
            return passed("reject_inherited", found_at=facts["found_at"], tag=applied.tag, evidence=evidence)
        return passed("reject", evidence=evidence)
    if applied.policy == "quarantine":
        if not sends_mail(ctx):
            return failed("quarantine_without_mail", evidence=evidence)
        return warned("quarantine", evidence=evidence)
    return failed("delivered", policy=applied.policy, evidence=evidence)


@check(
    "mail.dmarc.reporting",
    pillar="mail", level="recommended", severity="low", subject="mail_domain",
)
def dmarc_reporting(ctx: CheckContext):
    found = _record(ctx)
    if found is None:
        return not_applicable("no_dmarc")
    _, record = found
    bad = [i.params["uri"] for i in record.issues if i.code == "dmarc_bad_uri" and i.params["tag"] == "rua"]
    mailto = [u for u in record.rua if u.split(":", 1)[0].lower() == "mailto" and uri_host(u)]
    if not record.rua and bad:  # RFC 9989 §4.8: what is no URI is ignored
        return warned("no_valid_rua", uris=bad, evidence={"invalid": bad})
    if not record.rua:
        return warned("no_rua")
    if not mailto:  # §4.7: receivers MUST support mailto:, other schemes they may ignore
        return warned("no_mailto", rua=record.rua, evidence={"rua": record.rua})
    evidence = {"rua": record.rua} | ({"invalid": bad} if bad else {})
    return passed("reports", rua=record.rua, evidence=evidence)


@check(
    "mail.dmarc.external_reports",
    pillar="mail", level="recommended", severity="low", subject="mail_domain",
)
def dmarc_external_reports(ctx: CheckContext):
    found = _record(ctx)
    if found is None:
        return not_applicable("no_dmarc")
    facts, _ = found
    if "external" not in facts:  # facts of an older probe
        raise NotMeasured("common:fact_missing", fact="mail.dmarc.external")
    if not facts["external"]:
        return not_applicable("all_internal")
    out = []
    for entry in facts["external"]:
        key = f"{entry['tag']}:{entry['host']}"
        if entry.get("error"):
            out.append(not_measured(Phrase("common:probe_reason", reason=entry["error"]), key=key))
        elif entry.get("name") is None:
            out.append(failed("name_too_long", host=entry["host"], uri=entry["uri"], key=key))
        elif any(dmarc_std.is_dmarc_record(r) for r in entry.get("records") or []):
            out.append(passed("authorised", host=entry["host"], name=entry["name"], key=key))
        else:  # RFC 9990: receivers MUST ignore the URI
            out.append(failed("unauthorised", host=entry["host"], uri=entry["uri"], name=entry["name"], key=key,
                              evidence={"uri": entry["uri"], "queried": entry["name"]}))
    return out


def _lint(ctx: CheckContext, codes: tuple[str, ...], found: str, clean: str):
    record = _record(ctx)
    if record is None:
        return not_applicable("no_dmarc")
    return lint_outcome(dmarc_std.lint(record[1]), codes, found, clean)


@check(
    "mail.dmarc.removed_tags",
    pillar="mail", level="optional", severity="info", subject="mail_domain",
)
def dmarc_removed_tags(ctx: CheckContext):
    return _lint(ctx, ("dmarc_lint_removed", "dmarc_lint_size_suffix"), "removed", "current")


@check(
    "mail.dmarc.rua_count",
    pillar="mail", level="optional", severity="low", subject="mail_domain",
)
def dmarc_rua_count(ctx: CheckContext):
    return _lint(ctx, ("dmarc_lint_many_rua",), "many", "few")
