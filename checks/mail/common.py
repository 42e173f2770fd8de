"""What the mail checks share: does the domain take or send mail, the per-MX outcome shape,
and a standard's `Issue` told as a catalogue phrase."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from checks.catalogue import Phrase
from checks.registry import (
    CheckContext,
    NotMeasured,
    Outcome,
    error,
    not_applicable,
    passed,
    warned,
)
from scanner.standards import spf as spf_std
from scanner.standards.grammar import Issue

SENDER_MECHANISMS = ("a", "mx", "ip4", "ip6", "include", "exists", "ptr")


def receives_mail(ctx: CheckContext) -> bool:
    """Whether the domain has mail servers (NotMeasured when its MX could not be looked up)."""
    if ctx.section("mail").get("mx_error"):
        raise NotMeasured.because(ctx.section("mail")["mx_error"])
    return not ctx.fact("mail", "null_mx") and bool(ctx.answer("mail", "mx"))


def sends_mail(ctx: CheckContext) -> bool:
    """Whether the domain sends mail: it receives mail, or its SPF authorises some sender.

    A domain that does neither should say so in the strictest terms (SPF -all, DMARC reject).
    """
    if receives_mail(ctx):
        return True
    record = spf_std.parse(ctx.fact("mail", "spf").get("record") or "v=spf1")
    return (any(t.name in SENDER_MECHANISMS for t in record.mechanisms())
            or record.modifier("redirect") is not None)


def read(ctx: CheckContext, part: str) -> dict:
    """A part of the mail facts (spf, dmarc, mta_sts...); NotMeasured when its lookups failed."""
    facts = ctx.fact("mail", part)
    if facts.get("error"):
        raise NotMeasured.because(facts["error"])
    return facts


def no_mail() -> Outcome:
    return not_applicable("no_mail")


def not_measured(detail: Phrase, **outcome: Any) -> Outcome:
    """The `error` outcome the engine makes of NotMeasured, for one target of several."""
    return error("common:not_measured", detail=detail, **outcome)


def mx_target(mx: dict) -> str:
    return f"smtp://{mx['host']}:25"


def per_mx(ctx: CheckContext, judge: Callable[[dict], Outcome], *, starttls_only: bool = True) -> Outcome | list[Outcome]:
    """One outcome per MX, from `judge(mx)`, aimed at that MX; by default only the MX hosts
    that speak STARTTLS (one that refuses it is left to mail.starttls).

    An MX that could not be asked (or whose TLS was not read) is an error for that MX, never
    skipped.
    """
    if not receives_mail(ctx):
        return no_mail()
    out = []
    for mx in ctx.fact("mail", "mx"):
        if starttls_only and mx.get("starttls") is False:
            continue
        try:
            if starttls_only and mx.get("starttls") is None:
                raise NotMeasured.because(mx.get("error"), "mx_silent")
            outcome = judge(mx)
        except NotMeasured as exc:
            outcome = not_measured(Phrase(exc.code, **exc.params))
        out.append(replace(outcome, target=mx_target(mx), key=mx["host"]))
    return out or not_applicable("no_starttls")


def lint_outcome(issues: Iterable[Issue], codes: tuple[str, ...], found: str, clean: str) -> Outcome:
    """A lint check's verdict: a warning listing the issues of these codes, else a pass."""
    picked = [i for i in issues if i.code in codes]
    if picked:
        return warned(found, problems=phrases(picked), evidence={"lint": issue_evidence(picked)})
    return passed(clean)


def phrase(issue: Issue) -> Phrase:
    """A standard's issue in words: its code is a `[shared]` text of checks/texts/mail.toml, and a
    `problem` parameter (the syntax error behind a permerror) is itself such a code."""
    params = {k: v for k, v in issue.params.items() if k != "problem"}
    if "problem" in issue.params:
        params["problem"] = Phrase(issue.params["problem"], **params)
    return Phrase(issue.code, **params)


def phrases(issues: Iterable[Issue]) -> list[Phrase]:
    return [phrase(i) for i in issues]


def issue_evidence(issues: Iterable[Issue]) -> list[dict[str, Any]]:
    """Issues as evidence: code, offset, term index and details, at most ten."""
    return [i.to_dict() for i in list(issues)[:10]]
