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
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

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
    message: str
    directive: str | None = None
    sources: tuple[str, ...] = ()
    policy: str | None = None  # the raw policy the verdict was read from
    message_nl: str = ""

    def evidence(self) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.directive:
            out["directive"] = self.directive
        if self.sources:
            out["sources"] = list(self.sources)
        if self.policy:
            out["policy"] = self.policy
        return out


def _res(rule: str, status: str, message: tuple[str, str], policy: Policy, directive: str | None = None,
         sources: Iterable[str] = ()) -> RuleResult:
    """A rule's verdict; `message` is (English, Dutch)."""
    return RuleResult(rule, status, message[0], directive, tuple(sources), policy.raw, message[1])


def _quote(directive: str, sources: Iterable[str]) -> str:
    return " ".join([directive, *sources])


# -- script rules ---------------------------------------------------------------------------

def _script(policy: Policy) -> list[RuleResult]:
    found = policy.effective("script-src")
    if found is None:
        return [_res(rule, FAIL, ("neither script-src nor default-src is set: any script may run",
                                  "noch script-src noch default-src is ingesteld: elk script mag uitvoeren"), policy)
                for rule in SCRIPT_RULES]
    directive, sources = found
    nonce = [s for s in sources if is_nonce(s)]
    hashes = [s for s in sources if is_hash(s)]
    dynamic = "'strict-dynamic'" in sources
    q = f"`{_quote(directive, sources)}`"
    out = []

    if "'unsafe-inline'" in sources and not (nonce or hashes or dynamic):
        out.append(_res("unsafe-inline", FAIL, (f"{directive} allows 'unsafe-inline' without a nonce or hash: {q}",
                                                f"{directive} laat 'unsafe-inline' toe zonder nonce of hash: {q}"),
                        policy, directive, ["'unsafe-inline'"]))
    elif "'unsafe-inline'" in sources:
        out.append(_res("unsafe-inline", PASS, (f"'unsafe-inline' in {directive} is ignored: a nonce, hash or "
                                                "'strict-dynamic' is present (backward-compatible fallback)",
                                                f"'unsafe-inline' in {directive} wordt genegeerd: er is een nonce, hash "
                                                "of 'strict-dynamic' (terugvaloptie voor oudere browsers)"),
                        policy, directive))
    else:
        out.append(_res("unsafe-inline", PASS, (f"{directive} does not allow inline script",
                                                f"{directive} laat geen inline scripts toe"), policy, directive))

    if "'unsafe-eval'" in sources:
        out.append(_res("unsafe-eval", WARN, (f"{directive} allows 'unsafe-eval' (eval and new Function): {q}",
                                              f"{directive} laat 'unsafe-eval' toe (eval en new Function): {q}"),
                        policy, directive, ["'unsafe-eval'"]))
    else:
        out.append(_res("unsafe-eval", PASS, (f"{directive} does not allow eval", f"{directive} laat geen eval toe"),
                        policy, directive))

    if "'unsafe-hashes'" in sources:
        out.append(_res("unsafe-hashes", WARN, (f"{directive} allows 'unsafe-hashes' (inline event handlers): {q}",
                                                f"{directive} laat 'unsafe-hashes' toe (inline event handlers): {q}"),
                        policy, directive, ["'unsafe-hashes'"]))
    else:
        out.append(_res("unsafe-hashes", PASS, (f"{directive} does not allow inline event handlers",
                                                f"{directive} laat geen inline event handlers toe"), policy, directive))

    data = [s for s in sources if s == "data:"]
    broad = [s for s in sources if is_broad(s) and s != "data:"]
    insecure = [s for s in sources if is_insecure_host(s)]
    if dynamic and (nonce or hashes):
        ignored = data + broad + insecure
        note = f" ({', '.join(ignored)} ignored under 'strict-dynamic')" if ignored else ""
        note_nl = f" ({', '.join(ignored)} genegeerd onder 'strict-dynamic')" if ignored else ""
        out.append(_res("broad-source", PASS, (f"{directive} uses 'strict-dynamic' with a nonce or hash{note}",
                                               f"{directive} gebruikt 'strict-dynamic' met een nonce of hash{note_nl}"),
                        policy, directive))
        out.append(_res("data", PASS, (f"{directive} allows no data: scripts under 'strict-dynamic'",
                                       f"{directive} laat onder 'strict-dynamic' geen data:-scripts toe"),
                        policy, directive))
        return out
    if broad or insecure:
        status = FAIL if broad else WARN
        what = "allows scripts from any host" if broad else "allows scripts over unencrypted http"
        what_nl = "laat scripts van elke host toe" if broad else "laat scripts via onversleuteld http toe"
        found = ", ".join(broad + insecure)
        out.append(_res("broad-source", status, (f"{directive} {what}: {found} in {q}",
                                                 f"{directive} {what_nl}: {found} in {q}"),
                        policy, directive, broad + insecure))
    else:
        out.append(_res("broad-source", PASS, (f"{directive} lists no wildcard or scheme-wide source",
                                               f"{directive} bevat geen jokerteken of bron voor een heel schema"),
                        policy, directive))
    if data:
        out.append(_res("data", FAIL, (f"{directive} allows data: URLs as scripts: {q}",
                                       f"{directive} laat data:-URL's als script toe: {q}"), policy, directive, data))
    else:
        out.append(_res("data", PASS, (f"{directive} does not allow data: scripts",
                                       f"{directive} laat geen data:-scripts toe"), policy, directive))
    return out


SCRIPT_RULES = ("unsafe-inline", "unsafe-eval", "unsafe-hashes", "broad-source", "data")


# -- other directives -----------------------------------------------------------------------

def _object(policy: Policy) -> RuleResult:
    found = policy.effective("object-src")
    if found is None:
        return _res("object-src", FAIL, ("neither object-src nor default-src is set: plugins may load from anywhere",
                                         "noch object-src noch default-src is ingesteld: plug-ins mogen van overal "
                                         "laden"), policy)
    directive, sources = found
    q = f"`{_quote(directive, sources)}`"
    if sources == ["'none'"]:
        return _res("object-src", PASS, (f"{directive} 'none' blocks plugins", f"{directive} 'none' blokkeert plug-ins"),
                    policy, directive)
    bad = [s for s in sources if is_broad(s)]
    if bad:
        return _res("object-src", FAIL, (f"{directive} allows plugin content from {', '.join(bad)}: {q}",
                                         f"{directive} laat plug-ins toe van {', '.join(bad)}: {q}"),
                    policy, directive, bad)
    return _res("object-src", WARN, (f"{directive} does not block plugins ('none' recommended): {q}",
                                     f"{directive} blokkeert plug-ins niet ('none' aanbevolen): {q}"),
                policy, directive, sources)


def _no_fallback(policy: Policy, name: str, why: tuple[str, str]) -> RuleResult:
    sources = policy.get(name)
    if sources is None:
        return _res(name, WARN, (f"{name} is not set (it has no default-src fallback): {why[0]}",
                                 f"{name} is niet ingesteld (default-src geldt er niet voor): {why[1]}"), policy)
    q = f"`{_quote(name, sources)}`"
    bad = [s for s in sources if is_broad(s)]
    if bad:
        return _res(name, FAIL, (f"{name} allows {', '.join(bad)}: {q}", f"{name} laat {', '.join(bad)} toe: {q}"),
                    policy, name, bad)
    return _res(name, PASS, (q, q), policy, name)


def _default(policy: Policy) -> RuleResult:
    sources = policy.get("default-src")
    if sources is None:
        return _res("default-src", WARN, ("default-src is not set: directives without their own rule allow anything",
                                          "default-src is niet ingesteld: richtlijnen zonder eigen regel laten alles toe"),
                    policy)
    q = f"`{_quote('default-src', sources)}`"
    bad = [s for s in sources if is_broad(s)]
    if bad:
        return _res("default-src", FAIL, (f"default-src allows {', '.join(bad)}: {q}",
                                          f"default-src laat {', '.join(bad)} toe: {q}"), policy, "default-src", bad)
    return _res("default-src", PASS, (q, q), policy, "default-src")


def frame_ancestors(policies: list[Policy]) -> RuleResult | None:
    """The frame-ancestors verdict from header policies (meta cannot set it); None if unset."""
    results = []
    for policy in policies:
        if policy.source != "header" or policy.get("frame-ancestors") is None:
            continue
        results.append(_no_fallback(policy, "frame-ancestors", ("", "")))
    return _best(results) if results else None


def _rule_results(policy: Policy) -> list[RuleResult]:
    return [
        *_script(policy),
        _object(policy),
        _no_fallback(policy, "base-uri", ("an injected <base> tag can redirect relative script URLs",
                                          "een geïnjecteerde <base>-tag kan relatieve scriptadressen omleiden")),
        _no_fallback(policy, "form-action", ("an injected form can post to any site",
                                             "een geïnjecteerd formulier kan naar elke site versturen")),
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
        out = [RuleResult("script-src", FAIL, first.message, policy=first.policy, message_nl=first.message_nl)] + [
            r for r in out if r.rule not in SCRIPT_RULES]
    return out
