"""SPF (RFC 7208): the policy a receiver applies, what evaluating it costs, and the lint peers give.

The record and every DNS answer check_host() needs are facts; `scanner/standards/spf.py`
parses and walks them, as a receiver would for mail from an address no mechanism lists.
A permanent error anywhere (a syntax error, a limit, an include loop, an include or
redirect target without SPF) means receivers apply no SPF at all: `mail.spf` fails.
"""

from __future__ import annotations

from checks.mail.common import lint_outcome, phrase, read, sends_mail
from checks.registry import CheckContext, NotMeasured, check, failed, not_applicable, passed, warned
from scanner.standards import spf as spf_std

LIMIT_CODES = {"spf_lookup_limit": "too_many", "spf_void_limit": "too_many_void", "spf_mx_limit": "mx_names",
               "spf_include_loop": "loop"}


def _record(ctx: CheckContext) -> dict:
    facts = read(ctx, "spf")
    if not facts.get("record"):
        raise _NoRecord
    return facts


class _NoRecord(Exception):
    """The domain has no single SPF record: the lint and lookup checks do not apply."""


def _walk(ctx: CheckContext, facts: dict) -> spf_std.Evaluation:
    if "dns" not in facts:  # facts of an older probe: the answers were not kept
        raise NotMeasured("not_counted")
    walk = spf_std.evaluate(ctx.target, facts["dns"])
    if walk.temperror and not walk.permerror:
        raise NotMeasured("counted_up_to", lookups=walk.lookups, reason=walk.temperror)
    if walk.missing and not walk.permerror:
        raise NotMeasured("budget_spent", lookups=walk.lookups)
    return walk


@check(
    "mail.spf",
    pillar="mail", level="required", severity="high", subject="mail_domain",
)
def spf(ctx: CheckContext):
    facts = read(ctx, "spf")
    evidence = {"record": facts.get("record")}
    if facts.get("records", 0) > 1:
        return failed("several", count=facts["records"])
    if not facts.get("record"):
        return failed("no_spf")
    walk = _walk(ctx, facts)
    if walk.permerror:
        return failed("permerror", reason=phrase(walk.permerror),
                      evidence=evidence | {"permerror": walk.permerror.to_dict()})
    if walk.policy is None and walk.unfollowed():
        raise NotMeasured("unfollowed", terms=[i.params["text"] for i in walk.unfollowed()])
    if walk.policy_domain and walk.policy_domain != ctx.target.lower():
        evidence["redirect"] = walk.policy_domain  # §6.1: the redirect target's `all` decides
    qualifier = (walk.policy or "")[:1]
    if qualifier == "-":
        return passed("hard_fail", evidence=evidence)
    if qualifier == "~":
        if not sends_mail(ctx):
            return failed("soft_fail_without_mail", evidence=evidence)
        return warned("soft_fail", evidence=evidence)
    if qualifier in ("+", "?"):
        return failed("open", policy=walk.policy, evidence=evidence)
    return warned("no_all", evidence=evidence)


@check(
    "mail.spf.lookups",
    pillar="mail", level="recommended", severity="medium", subject="mail_domain",
)
def spf_lookups(ctx: CheckContext):
    try:
        facts = _record(ctx)
    except _NoRecord:
        return not_applicable("no_spf")
    walk = _walk(ctx, facts)
    evidence = {"lookups": walk.lookups, "void_lookups": walk.void}
    if walk.permerror and walk.permerror.code in LIMIT_CODES:
        return failed(LIMIT_CODES[walk.permerror.code], lookups=walk.lookups, void=walk.void,
                      reason=phrase(walk.permerror), evidence=evidence | {"permerror": walk.permerror.to_dict()})
    if walk.permerror:  # receivers stop there, before any limit (mail.spf reports it)
        return not_applicable("stopped", reason=phrase(walk.permerror))
    if walk.unfollowed():  # a macro names the target: the true count may be higher
        raise NotMeasured("unfollowed", terms=[i.params["text"] for i in walk.unfollowed()])
    return passed("within", lookups=walk.lookups, void=walk.void, evidence=evidence)


def _lint(ctx: CheckContext, codes: tuple[str, ...], found: str, clean: str):
    try:
        facts = _record(ctx)
    except _NoRecord:
        return not_applicable("no_spf")
    return lint_outcome(spf_std.lint(spf_std.parse(facts["record"]), facts.get("strings")), codes, found, clean)


@check(
    "mail.spf.ptr",
    pillar="mail", level="optional", severity="low", subject="mail_domain",
)
def spf_ptr(ctx: CheckContext):
    return _lint(ctx, ("spf_lint_ptr",), "ptr", "no_ptr")


@check(
    "mail.spf.after_all",
    pillar="mail", level="optional", severity="info", subject="mail_domain",
)
def spf_after_all(ctx: CheckContext):
    return _lint(ctx, ("spf_lint_after_all", "spf_lint_redirect_with_all"), "ignored_terms", "nothing_ignored")


@check(
    "mail.spf.exp",
    pillar="mail", level="optional", severity="info", subject="mail_domain",
)
def spf_exp(ctx: CheckContext):
    return _lint(ctx, ("spf_lint_exp",), "exp", "no_exp")


@check(
    "mail.spf.size",
    pillar="mail", level="optional", severity="low", subject="mail_domain",
)
def spf_size(ctx: CheckContext):
    return _lint(ctx, ("spf_lint_long_string", "spf_lint_large_record"), "too_large", "small")
