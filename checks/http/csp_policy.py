"""Content-Security-Policy: a parser and a rule-by-rule analysis (CSP Level 3). Pure, no I/O.

Parsing follows CSP3 §2.2 ("parse a serialized CSP"): a header value is a comma-separated
list of policies; a policy is `;`-separated directives; a directive name is lower-cased and
only its first occurrence counts (later ones are ignored by browsers, and reported here).

The analysis evaluates each rule on each *enforced* policy. Every enforced policy must let
a resource through, so a rule is as good as its best policy: one strict policy next to a
lax one still blocks the script. Each rule result names the directive and the source that
failed it, so a reader sees *which* rule failed and why.

Browser semantics that matter (CSP3 §6.7.3, §8.2):
- `'unsafe-inline'` is ignored for scripts when the list holds a nonce, a hash or
  `'strict-dynamic'`;
- under `'strict-dynamic'` host and scheme sources (and `'self'`) are ignored for scripts;
- `script-src` and `object-src` fall back to `default-src`; `base-uri`, `form-action` and
  `frame-ancestors` do not fall back;
- a policy delivered by `<meta>` ignores `frame-ancestors`, `report-uri` and `sandbox`.

A verdict carries its words as a `Phrase` of the http pillar's catalogue
(checks/texts/http.toml, the `csp_*` texts), so the checks that report it show it in
every language; the parser itself holds no text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from checks.catalogue import Phrase

META_IGNORED = frozenset({"frame-ancestors", "report-uri", "sandbox"})
_NAME = re.compile(r"^[a-z0-9-]+$")
_SCHEME_SOURCE = re.compile(r"^[a-z][a-z0-9+.-]*:$")
_NONCE = re.compile(r"^'nonce-[A-Za-z0-9+/_=-]+'$")
_HASH = re.compile(r"^'(sha256|sha384|sha512)-[A-Za-z0-9+/_=-]+'$")

PASS, WARN, FAIL = "pass", "warn", "fail"
_RANK = {PASS: 0, WARN: 1, FAIL: 2}


@dataclass
class Policy:
    """One parsed policy: directives in order, first occurrence only."""

    directives: dict[str, list[str]]
    source: str  # "header", "meta" or "report-only"
    raw: str
    duplicates: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)

    def get(self, name: str) -> list[str] | None:
        return self.directives.get(name)

    def effective(self, name: str, fallback: str | None = "default-src") -> tuple[str, list[str]] | None:
        """The directive that governs `name` (itself or its fallback), with its source list."""
        if name in self.directives:
            return name, self.directives[name]
        if fallback and fallback in self.directives:
            return fallback, self.directives[fallback]
        return None


def parse_policy(text: str, source: str = "header") -> Policy:
    directives: dict[str, list[str]] = {}
    duplicates: list[str] = []
    invalid: list[str] = []
    for token in text.split(";"):
        token = token.strip()
        if not token:
            continue
        name, *values = token.split()
        name = name.lower()
        if not _NAME.match(name):
            invalid.append(name[:60])
            continue
        if source == "meta" and name in META_IGNORED:
            continue
        if name in directives:
            duplicates.append(name)
            continue
        directives[name] = [_normalise(v) for v in values]
    return Policy(directives, source, text.strip()[:1000], duplicates, invalid)


def parse_header(value: str | None, source: str = "header") -> list[Policy]:
    """A (possibly combined) header value: a comma-separated list of policies."""
    if not value:
        return []
    return [parse_policy(part, source) for part in value.split(",") if part.strip()]


def _normalise(src: str) -> str:
    low = src.lower()
    # keywords, schemes and hosts are case-insensitive; nonces and hashes are not
    if low.startswith(("'nonce-", "'sha256-", "'sha384-", "'sha512-")):
        return low[: low.index("-") + 1] + src[low.index("-") + 1:]
    return low


def is_nonce(src: str) -> bool:
    return bool(_NONCE.match(src))


def is_hash(src: str) -> bool:
    return bool(_HASH.match(src))


def is_broad(src: str) -> bool:
    """A source that allows (nearly) any origin: `*`, a bare scheme, or a wildcard host."""
    if src == "*" or _SCHEME_SOURCE.match(src):
        return True
    host = src.split("://", 1)[-1]
    return host == "*" or host.startswith("*:") or host.startswith("*/")


def is_insecure_host(src: str) -> bool:
    return src.startswith(("http://", "ws://"))


@dataclass(frozen=True)
class RuleResult:
    rule: str
    status: str
    message: Phrase  # the verdict in words: a text of checks/texts/http.toml with its fields
    directive: str | None = None
    sources: tuple[str, ...] = ()
    policy: str | None = None  # the raw policy the verdict was read from

    def evidence(self) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.directive:
            out["directive"] = self.directive
        if self.sources:
            out["sources"] = list(self.sources)
        if self.policy:
            out["policy"] = self.policy
        return out


def _res(rule: str, status: str, message: Phrase, policy: Policy, directive: str | None = None,
         sources: Iterable[str] = ()) -> RuleResult:
    return RuleResult(rule, status, message, directive, tuple(sources), policy.raw)


def _quote(directive: str, sources: Iterable[str]) -> str:
    return " ".join([directive, *sources])


# -- script rules ---------------------------------------------------------------------------

def _script(policy: Policy) -> list[RuleResult]:
    found = policy.effective("script-src")
    if found is None:
        return [_res(rule, FAIL, Phrase("csp_scripts_unrestricted"), policy) for rule in SCRIPT_RULES]
    directive, sources = found
    nonce = [s for s in sources if is_nonce(s)]
    hashes = [s for s in sources if is_hash(s)]
    dynamic = "'strict-dynamic'" in sources
    quoted = _quote(directive, sources)
    out = []

    if "'unsafe-inline'" in sources and not (nonce or hashes or dynamic):
        out.append(_res("unsafe-inline", FAIL, Phrase("csp_unsafe_inline", directive=directive, quoted=quoted),
                        policy, directive, ["'unsafe-inline'"]))
    elif "'unsafe-inline'" in sources:
        out.append(_res("unsafe-inline", PASS, Phrase("csp_unsafe_inline_ignored", directive=directive),
                        policy, directive))
    else:
        out.append(_res("unsafe-inline", PASS, Phrase("csp_no_unsafe_inline", directive=directive), policy, directive))

    if "'unsafe-eval'" in sources:
        out.append(_res("unsafe-eval", WARN, Phrase("csp_unsafe_eval", directive=directive, quoted=quoted),
                        policy, directive, ["'unsafe-eval'"]))
    else:
        out.append(_res("unsafe-eval", PASS, Phrase("csp_no_unsafe_eval", directive=directive), policy, directive))

    if "'unsafe-hashes'" in sources:
        out.append(_res("unsafe-hashes", WARN, Phrase("csp_unsafe_hashes", directive=directive, quoted=quoted),
                        policy, directive, ["'unsafe-hashes'"]))
    else:
        out.append(_res("unsafe-hashes", PASS, Phrase("csp_no_unsafe_hashes", directive=directive),
                        policy, directive))

    data = [s for s in sources if s == "data:"]
    broad = [s for s in sources if is_broad(s) and s != "data:"]
    insecure = [s for s in sources if is_insecure_host(s)]
    if dynamic and (nonce or hashes):
        ignored = data + broad + insecure
        strict = (Phrase("csp_strict_dynamic_ignoring", directive=directive, ignored=ignored) if ignored
                  else Phrase("csp_strict_dynamic", directive=directive))
        out.append(_res("broad-source", PASS, strict, policy, directive))
        out.append(_res("data", PASS, Phrase("csp_no_data_strict_dynamic", directive=directive), policy, directive))
        return out
    if broad:
        out.append(_res("broad-source", FAIL, Phrase("csp_any_host", directive=directive, found=broad + insecure,
                                                     quoted=quoted), policy, directive, broad + insecure))
    elif insecure:
        out.append(_res("broad-source", WARN, Phrase("csp_insecure_host", directive=directive, found=insecure,
                                                     quoted=quoted), policy, directive, insecure))
    else:
        out.append(_res("broad-source", PASS, Phrase("csp_no_broad_source", directive=directive), policy, directive))
    if data:
        out.append(_res("data", FAIL, Phrase("csp_data", directive=directive, quoted=quoted), policy, directive, data))
    else:
        out.append(_res("data", PASS, Phrase("csp_no_data", directive=directive), policy, directive))
    return out


SCRIPT_RULES = ("unsafe-inline", "unsafe-eval", "unsafe-hashes", "broad-source", "data")


# -- other directives -----------------------------------------------------------------------

def _object(policy: Policy) -> RuleResult:
    found = policy.effective("object-src")
    if found is None:
        return _res("object-src", FAIL, Phrase("csp_plugins_unrestricted"), policy)
    directive, sources = found
    quoted = _quote(directive, sources)
    if sources == ["'none'"]:
        return _res("object-src", PASS, Phrase("csp_plugins_none", directive=directive), policy, directive)
    bad = [s for s in sources if is_broad(s)]
    if bad:
        return _res("object-src", FAIL, Phrase("csp_plugins_from", directive=directive, sources=bad, quoted=quoted),
                    policy, directive, bad)
    return _res("object-src", WARN, Phrase("csp_plugins_not_blocked", directive=directive, quoted=quoted),
                policy, directive, sources)


def _restricted(policy: Policy, name: str, sources: list[str]) -> RuleResult:
    """A directive that is set: it fails when it allows (nearly) any origin."""
    quoted = _quote(name, sources)
    bad = [s for s in sources if is_broad(s)]
    if bad:
        return _res(name, FAIL, Phrase("csp_allows", directive=name, sources=bad, quoted=quoted), policy, name, bad)
    return _res(name, PASS, Phrase("csp_quoted", quoted=quoted), policy, name)


def _no_fallback(policy: Policy, name: str, why: Phrase) -> RuleResult:
    """A directive that default-src does not stand in for; `why` says what its absence allows."""
    sources = policy.get(name)
    if sources is None:
        return _res(name, WARN, Phrase("csp_unset_no_fallback", directive=name, why=why), policy)
    return _restricted(policy, name, sources)


def _default(policy: Policy) -> RuleResult:
    sources = policy.get("default-src")
    if sources is None:
        return _res("default-src", WARN, Phrase("csp_default_unset"), policy)
    return _restricted(policy, "default-src", sources)


def frame_ancestors(policies: list[Policy]) -> RuleResult | None:
    """The frame-ancestors verdict from header policies (meta cannot set it); None if unset."""
    results = [_restricted(policy, "frame-ancestors", policy.get("frame-ancestors")) for policy in policies
               if policy.source == "header" and policy.get("frame-ancestors") is not None]
    return _best(results) if results else None


def _rule_results(policy: Policy) -> list[RuleResult]:
    return [
        *_script(policy),
        _object(policy),
        _no_fallback(policy, "base-uri", Phrase("csp_why_base_uri")),
        _no_fallback(policy, "form-action", Phrase("csp_why_form_action")),
        _default(policy),
    ]


RULES = (*SCRIPT_RULES, "object-src", "base-uri", "form-action", "default-src")


def _best(results: list[RuleResult]) -> RuleResult:
    return min(results, key=lambda r: _RANK[r.status])


def analyse(policies: list[Policy]) -> list[RuleResult]:
    """One result per rule over the enforced policies (header and meta); report-only ignored."""
    enforced = [p for p in policies if p.source in ("header", "meta")]
    if not enforced:
        return []
    by_rule: dict[str, list[RuleResult]] = {rule: [] for rule in RULES}
    for policy in enforced:
        for result in _rule_results(policy):
            by_rule[result.rule].append(result)
    out = [_best(by_rule[rule]) for rule in RULES]
    unrestricted = [r for r in out if r.rule in SCRIPT_RULES and r.status == FAIL and r.directive is None]
    if len(unrestricted) == len(SCRIPT_RULES):  # no policy restricts scripts: one finding, not five
        first = unrestricted[0]
        out = [RuleResult("script-src", FAIL, first.message, policy=first.policy)] + [
            r for r in out if r.rule not in SCRIPT_RULES]
    return out
