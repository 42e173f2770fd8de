"""Content-Security-Policy rule by rule: what an injection can still do under every policy a
page enforces. Pure; the grammar and the browser's algorithms are scanner/standards/csp.py.

Each rule asks the browser's question for a few requests an attacker would make (an inline
script, `eval`, a script from a host the site does not know over https and over http, a
`data:` URL, a plain-http host the policy lists) and a request goes through only when
*every* enforced policy allows it (CSP3 §8.1): a strict policy next to a lax one still
blocks, and `default-src http:` beside `default-src https:` leaves any https host
(`http:` also matches https URLs, CSP3 §6.7.2.8), not any http one.

A verdict names the directive and the sources that let the request through, quoted from
the policy that allows the least, so a reader sees *which* rule failed and why. It carries
its words as a `Phrase` of checks/texts/http.toml (the `csp_*` texts).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from checks.catalogue import Phrase
from scanner.standards import csp
from scanner.standards.csp import Policy, Url

PASS, WARN, FAIL = "pass", "warn", "fail"

# Requests an injected page element would make (RFC 2606: .invalid is never a real host).
ANY_HTTPS = Url("https", "bolwerk-probe.invalid", None, "/x")
ANY_HTTP = Url("http", "bolwerk-probe.invalid", None, "/x")
DATA = Url("data")
BROAD = (ANY_HTTPS, ANY_HTTP, DATA)

Governing = tuple[Policy, str, list[str]]  # a policy, its effective directive, its sources


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


def _res(rule: str, status: str, message: Phrase, entry: Governing | None = None,
         sources: Iterable[str] = ()) -> RuleResult:
    policy, directive = (entry[0].raw, entry[1]) if entry else (None, None)
    return RuleResult(rule, status, message, directive, tuple(sources), policy)


def _quote(entry: Governing) -> str:
    return " ".join([entry[1], *entry[2]])


class _Requests:
    """The requests of one kind (script-src-elem, object-src...) over every enforced policy."""

    def __init__(self, policies: list[Policy], kind: str, page: Url) -> None:
        self.page, self.script = page, kind.startswith("script-src")
        self.governing = csp.governing(policies, kind)

    def allowed(self, url: Url) -> bool:
        return all(self.matching(entry, url) for entry in self.governing)

    def matching(self, entry: Governing, url: Url) -> list[str]:
        return csp.matching(entry[2], url, self.page, self.script)

    def listed(self, schemes: tuple[str, ...] = ("http", "ws")) -> list[tuple[str, Url]]:
        """Host sources of any policy, as the requests they name, limited to `schemes`."""
        out = []
        for _, _, sources in self.governing:
            for src in sources:
                url = csp.url_of(src, self.page)
                if url is not None and url.scheme in schemes:
                    out.append((src, url))
        return out

    def plain_http(self) -> list[str]:
        """Listed plain-http hosts every policy lets through (CSP3 upgrades them, never the reverse)."""
        return list(dict.fromkeys(src for src, url in self.listed() if self.allowed(url)))

    def least(self, probes: Iterable[Url]) -> Governing:
        """The governing policy that lets the fewest of `probes` through (ties: the first)."""
        probes = list(probes)
        return min(self.governing, key=lambda entry: sum(bool(self.matching(entry, url)) for url in probes))

    def sources_for(self, entry: Governing, probes: Iterable[Url]) -> list[str]:
        return list(dict.fromkeys(s for url in probes for s in self.matching(entry, url)))


# -- script rules ---------------------------------------------------------------------------

SCRIPT_RULES = ("unsafe-inline", "unsafe-eval", "unsafe-hashes", "broad-source", "data")


def _keyword_rule(req: _Requests, rule: str, keyword: str, present: str, absent: str) -> RuleResult:
    """A keyword every policy must carry for its behaviour to be allowed ('unsafe-eval'...)."""
    if all(keyword in sources for _, _, sources in req.governing):
        entry = req.governing[0]
        return _res(rule, WARN, Phrase(present, directive=entry[1], quoted=_quote(entry)), entry, [keyword])
    entry = next(e for e in req.governing if keyword not in e[2])
    return _res(rule, PASS, Phrase(absent, directive=entry[1]), entry)


def _inline(req: _Requests, attributes: _Requests) -> RuleResult:
    """Inline script: <script> elements, and event-handler attributes where script-src-attr is set."""
    for which in (req, attributes):
        if which.governing and all(csp.allows_all_inline(s, script=True) for _, _, s in which.governing):
            if which is attributes and not any(d == "script-src-attr" for _, d, _ in which.governing):
                continue
            entry = which.governing[0]
            return _res("unsafe-inline", FAIL, Phrase("csp_unsafe_inline", directive=entry[1], quoted=_quote(entry)),
                        entry, ["'unsafe-inline'"])
    entry = next(e for e in req.governing if not csp.allows_all_inline(e[2], script=True))
    if "'unsafe-inline'" in entry[2]:
        return _res("unsafe-inline", PASS, Phrase("csp_unsafe_inline_ignored", directive=entry[1]), entry)
    return _res("unsafe-inline", PASS, Phrase("csp_no_unsafe_inline", directive=entry[1]), entry)


def _strict_dynamic(entry: Governing) -> tuple[bool, bool]:
    """('strict-dynamic' present, with a nonce or hash beside it)."""
    dynamic = "'strict-dynamic'" in entry[2]
    return dynamic, dynamic and any(csp.is_nonce_or_hash(s) for s in entry[2])


def _broad_source(req: _Requests) -> RuleResult:
    hosts = [url for url in (ANY_HTTPS, ANY_HTTP) if req.allowed(url)]
    plain = req.plain_http()
    entry = req.least(BROAD)
    directive, quoted = entry[1], _quote(entry)
    if hosts:
        found = list(dict.fromkeys(req.sources_for(entry, hosts) + [s for s in plain if s in entry[2]]))
        return _res("broad-source", FAIL, Phrase("csp_any_host", directive=directive, found=found, quoted=quoted),
                    entry, found)
    if plain:
        return _res("broad-source", WARN, Phrase("csp_insecure_host", directive=directive, found=plain,
                                                 quoted=quoted), entry, plain)
    dynamic, anchored = _strict_dynamic(entry)
    if dynamic:
        ignored = [s for s in entry[2] if s == "data:" or s.startswith(("http://", "ws://"))
                   or any(csp.matches(s, url, req.page) for url in (ANY_HTTPS, ANY_HTTP))]
        if not anchored:
            return _res("broad-source", PASS, Phrase("csp_strict_dynamic_alone", directive=directive), entry)
        strict = (Phrase("csp_strict_dynamic_ignoring", directive=directive, ignored=ignored) if ignored
                  else Phrase("csp_strict_dynamic", directive=directive))
        return _res("broad-source", PASS, strict, entry)
    return _res("broad-source", PASS, Phrase("csp_no_broad_source", directive=directive), entry)


def _data(req: _Requests) -> RuleResult:
    entry = req.least([DATA])
    if req.allowed(DATA):
        return _res("data", FAIL, Phrase("csp_data", directive=entry[1], quoted=_quote(entry)), entry, ["data:"])
    if _strict_dynamic(entry)[1]:
        return _res("data", PASS, Phrase("csp_no_data_strict_dynamic", directive=entry[1]), entry)
    return _res("data", PASS, Phrase("csp_no_data", directive=entry[1]), entry)


def _script(policies: list[Policy], page: Url) -> list[RuleResult]:
    req = _Requests(policies, "script-src-elem", page)
    if not req.governing:  # no policy restricts scripts: one finding, not five
        raw = next((p.raw for p in policies if p.enforced), None)
        return [RuleResult("script-src", FAIL, Phrase("csp_scripts_unrestricted"), policy=raw)]
    return [
        _inline(req, _Requests(policies, "script-src-attr", page)),
        _keyword_rule(req, "unsafe-eval", "'unsafe-eval'", "csp_unsafe_eval", "csp_no_unsafe_eval"),
        _keyword_rule(req, "unsafe-hashes", "'unsafe-hashes'", "csp_unsafe_hashes", "csp_no_unsafe_hashes"),
        _broad_source(req),
        _data(req),
    ]


# -- other directives -----------------------------------------------------------------------

def _object(policies: list[Policy], page: Url) -> RuleResult:
    req = _Requests(policies, "object-src", page)
    if not req.governing:
        return _res("object-src", FAIL, Phrase("csp_plugins_unrestricted"))
    broad = [url for url in BROAD if req.allowed(url)]
    entry = req.least(BROAD)
    directive, quoted = entry[1], _quote(entry)
    if broad:
        bad = req.sources_for(entry, broad)
        return _res("object-src", FAIL, Phrase("csp_plugins_from", directive=directive, sources=bad, quoted=quoted),
                    entry, bad)
    others = [page] + [url for _, url in req.listed(("http", "https", "ws", "wss"))]
    if any(req.allowed(url) for url in others):
        entry = req.least(others)
        return _res("object-src", WARN, Phrase("csp_plugins_not_blocked", directive=entry[1], quoted=_quote(entry)),
                    entry, entry[2])
    if entry[2] in ([], ["'none'"]):
        return _res("object-src", PASS, Phrase("csp_plugins_none", directive=directive), entry)
    return _res("object-src", PASS, Phrase("csp_quoted", quoted=quoted), entry)


def restricted(policies: list[Policy], name: str, page: Url, plain_http: bool = True) -> RuleResult | None:
    """A directive that must not allow (nearly) any origin; None when no policy sets it.
    With `plain_http`, a listed http:// origin every policy lets through is a warning."""
    req = _Requests(policies, name, page)
    if not req.governing:
        return None
    broad = [url for url in BROAD if req.allowed(url)]
    entry = req.least(BROAD)
    quoted = _quote(entry)
    if broad:
        bad = req.sources_for(entry, broad)
        return _res(name, FAIL, Phrase("csp_allows", directive=name, sources=bad, quoted=quoted), entry, bad)
    plain = req.plain_http() if plain_http else []
    if plain:
        return _res(name, WARN, Phrase("csp_allows_plain_http", directive=name, sources=plain, quoted=quoted),
                    entry, plain)
    return _res(name, PASS, Phrase("csp_quoted", quoted=quoted), entry)


def _no_fallback(policies: list[Policy], name: str, why: Phrase, page: Url) -> RuleResult:
    """A directive that default-src does not stand in for; `why` says what its absence allows."""
    found = restricted(policies, name, page)
    return found or _res(name, WARN, Phrase("csp_unset_no_fallback", directive=name, why=why))


def frame_ancestors(policies: list[Policy], page: Url) -> RuleResult | None:
    """The frame-ancestors verdict (a <meta> policy cannot set it); None if unset."""
    return restricted(policies, "frame-ancestors", page, plain_http=False)


RULES = (*SCRIPT_RULES, "object-src", "base-uri", "form-action", "default-src")


def analyse(policies: list[Policy], page: Url) -> list[RuleResult]:
    """One result per rule over the enforced policies (header and meta); report-only ignored."""
    if not any(p.enforced for p in policies):
        return []
    return [
        *_script(policies, page),
        _object(policies, page),
        _no_fallback(policies, "base-uri", Phrase("csp_why_base_uri"), page),
        _no_fallback(policies, "form-action", Phrase("csp_why_form_action"), page),
        restricted(policies, "default-src", page) or _res("default-src", WARN, Phrase("csp_default_unset")),
    ]


# -- resources other than scripts (the optional lint) -----------------------------------------

def resources(policies: list[Policy], page: Url, kinds: Iterable[str]) -> list[RuleResult]:
    """Per kind of resource its own directive sets (not only default-src): any host, plain http,
    inline style. Kinds governed only by default-src or a script directive are judged elsewhere."""
    out = []
    for kind in kinds:
        req = _Requests(policies, kind, page)
        own = [e for e in req.governing if e[1] != "default-src" and not e[1].startswith("script-src")]
        if not own:
            continue
        hosts = [url for url in (ANY_HTTPS, ANY_HTTP) if req.allowed(url)]
        entry = req.least(BROAD)
        directive, quoted = entry[1], _quote(entry)
        if hosts:
            bad = req.sources_for(entry, hosts)
            out.append(_res(f"{kind}:any-host", WARN, Phrase("csp_resource_any_host", directive=directive, sources=bad,
                                                             quoted=quoted), entry, bad))
        elif plain := req.plain_http():
            out.append(_res(f"{kind}:plain-http", WARN, Phrase("csp_allows_plain_http", directive=directive,
                                                                sources=plain, quoted=quoted), entry, plain))
        if kind.startswith("style-src") and all(csp.allows_all_inline(s) for _, _, s in req.governing):
            out.append(_res(f"{kind}:unsafe-inline", WARN, Phrase("csp_style_inline", directive=directive,
                                                                   quoted=quoted), entry, ["'unsafe-inline'"]))
    return out
