"""MTA-STS (RFC 8461) and TLS reporting (RFC 8460): the records and the policy as senders read them.

Senders use MTA-STS only when exactly one `_mta-sts` record parses, the policy is served
with status 200 over HTTPS with a valid certificate for `mta-sts.<domain>`, without a
redirect, as text/plain and within the size they accept, and the policy itself parses
(§3.1-§3.3); anything less is as if the domain had no MTA-STS, so it fails. In `enforce`
mode every MX must match a policy `mx` pattern (§4.1), or mail to it bounces.
"""

from __future__ import annotations

from checks.mail.common import issue_evidence, no_mail, phrases, read, receives_mail
from checks.registry import CheckContext, NotMeasured, check, failed, passed, warned
from scanner.standards import mta_sts as sts_std
from scanner.standards import tls_rpt as tlsrpt_std
from scanner.standards.grammar import Issue


@check(
    "mail.mta_sts",
    pillar="mail", level="recommended", severity="low", subject="mail_domain",
)
def mta_sts(ctx: CheckContext):
    if not receives_mail(ctx):
        return no_mail()
    facts = read(ctx, "mta_sts")
    hosts = ctx.fact("mail", "mx")
    if "records" not in facts:  # facts of an older probe
        raise NotMeasured("common:fact_missing", fact="mail.mta_sts.records")
    if not facts["records"]:
        if all(mx.get("tlsa") and mx.get("tlsa_dnssec") == "secure" for mx in hosts):
            return passed("dane_instead")
        return warned("no_record")
    strict = [t for t in facts["records"] if sts_std.is_sts_record(t)]
    if len(strict) > 1:  # §3.1: senders then assume no MTA-STS
        return failed("several_records", count=len(strict), evidence={"records": strict})
    issues = sts_std.parse_record(strict[0] if strict else facts["records"][0]).issues
    if not strict and not issues:  # e.g. "v=STSv1 ; id=..."
        issues = [Issue("sts_record_prefix", 0, 0)]
    if issues:
        return failed("record_invalid", problems=phrases(issues),
                      evidence={"records": facts["records"], "issues": issue_evidence(issues)})
    return _policy_verdict(facts, hosts)


def _policy_verdict(facts: dict, hosts: list[dict]):
    if facts.get("policy_error"):
        return failed("policy_unreadable", error=facts["policy_error"])
    status = facts.get("policy_status")
    if status is not None and 300 <= status < 400:  # §3.3: redirects MUST NOT be followed
        return failed("policy_redirect", status=status, location=facts.get("policy_location") or "-")
    if status != 200:
        return failed("no_policy", status=status)
    if facts.get("policy_truncated"):
        return failed("policy_too_large", limit=sts_std.POLICY_SIZE_LIMIT // 1024)
    cert = facts.get("certificate") or {}
    if cert.get("error") or cert.get("trusted") is None:
        raise NotMeasured.because(cert.get("error"), "certificate_unread")
    if not cert["trusted"]:  # §3.3: the policy is then ignored
        return failed("policy_untrusted", reason=cert.get("trust_error") or "-", evidence={"certificate": cert})
    if not cert.get("hostname_match"):
        return failed("policy_not_named", evidence={"certificate": cert})
    if not sts_std.is_text_plain(facts.get("content_type")):
        return failed("media_type", content_type=facts.get("content_type") or "-")
    policy = sts_std.parse_policy(facts.get("policy") or "")
    evidence = {"policy_mx": policy.mx, "max_age": policy.max_age, "line_endings": policy.line_endings}
    if policy.remarks:
        evidence["remarks"] = issue_evidence(policy.remarks)
    if policy.issues:
        return failed("policy_invalid", problems=phrases(policy.issues),
                      evidence=evidence | {"issues": issue_evidence(policy.issues)})
    if policy.mode != "enforce":
        return warned("mode", mode=policy.mode, evidence=evidence)
    uncovered = [mx["host"] for mx in hosts if not any(sts_std.mx_matches(p, mx["host"]) for p in policy.mx)]
    if uncovered:
        return failed("mx_not_listed", hosts=uncovered, evidence=evidence | {"uncovered": uncovered})
    return passed("enforced", evidence=evidence)


@check(
    "mail.tls_rpt",
    pillar="mail", level="optional", severity="info", subject="mail_domain",
)
def tls_rpt(ctx: CheckContext):
    if not receives_mail(ctx):
        return no_mail()
    section = ctx.section("mail")
    if section.get("tls_rpt_error"):
        raise NotMeasured.because(section["tls_rpt_error"])
    records = ctx.answer("mail", "tls_rpt_records")
    if not records:
        return warned("missing")
    strict = [r for r in records if tlsrpt_std.is_tlsrpt_record(r)]
    if len(strict) > 1:  # §3: senders then assume no TLS-RPT
        return failed("several", count=len(strict), evidence={"records": strict})
    parsed = tlsrpt_std.parse(strict[0] if strict else records[0])
    syntax = [i for i in parsed.issues if i.code != "tlsrpt_uri_scheme"]
    if not strict or syntax:
        return failed("invalid", problems=phrases(syntax or parsed.issues),
                      evidence={"record": records[0], "issues": issue_evidence(parsed.issues)})
    if not parsed.rua:
        return failed("no_rua", problems=phrases(parsed.issues), evidence={"record": strict[0]})
    return passed("published", rua=parsed.rua, evidence={"record": strict[0]})
