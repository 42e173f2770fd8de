"""Content Security Policy Level 3: the grammar of a policy and the algorithms a browser
applies to it (W3C CSP3, tables in `data/http/csp.toml`). Pure, no I/O, no judgement.

- Parsing follows §2.2.1 ("parse a serialized CSP") and §2.2.2 (a header value is a
  comma-separated list of policies; a `<meta>` element holds exactly one, HTML §4.2.5.3).
  A directive name is lower-cased and only its first occurrence counts (later ones are
  ignored, §2.2.1 step 2.4). Every deviation from the grammar of §2.1 and §2.3.1 is kept
  as an `Issue` with its offset in the value, so a reader sees what a browser skipped.
- Matching follows §6.7.2 ("does url match source list / expression"): `*` matches only
  http(s) and the page's own scheme, `http:` also matches https URLs (§6.7.2.8, scheme-part
  match), `'none'` has an effect only alone, and under `'strict-dynamic'` host and scheme
  sources, `'self'` and `'unsafe-inline'` are ignored for scripts (§8.2).
- Several enforced policies are all enforced (§8.1, "enforce multiple policies"): a request
  goes through only if every policy that governs it allows it. `allowed` answers that.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from scanner.standards import read_toml

HEADER, META, REPORT_ONLY = "header", "meta", "report-only"

_NAME = re.compile(r"[a-z0-9-]+")                       # §2.1 directive-name (lower-cased)
_WORD = re.compile(r"[^\t\n\f\r ]+")                   # split on ASCII whitespace
_VALUE_CHARS = re.compile(r"[\x21-\x2b\x2d-\x3a\x3c-\x7e\t\n\f\r ]*")  # §2.1 directive-value
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):")          # §2.3.1 scheme-source
_HOST = re.compile(r"(?:([a-z][a-z0-9+.-]*)://)?"       # §2.3.1 host-source
                   r"(\*|(?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.?)"
                   r"(?::([0-9]+|\*))?"
                   r"(/[^;,\s]*)?")
_BASE64 = r"[A-Za-z0-9+/_-]+={0,2}"                   # §2.3.1 base64-value
_NONCE = re.compile(rf"'nonce-{_BASE64}'")
_HASH = re.compile(rf"'([a-z0-9]+)-{_BASE64}'")
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


@cache
def _table() -> dict[str, Any]:
    return read_toml("http", "csp.toml")


@dataclass(frozen=True)
class Issue:
    """A deviation from the grammar, at `position` in the value it was read from.

    `code`: "repeated" (a directive again: ignored), "directive_name", "directive_value"
    (characters outside §2.1's grammar), "source" (not a source expression, §2.3.1: it
    matches nothing), "none_not_alone" ('none' next to other sources has no effect).
    """

    position: int
    code: str
    token: str

    def as_dict(self) -> dict[str, Any]:
        return {"position": self.position, "code": self.code, "token": self.token}


@dataclass
class Policy:
    """One parsed policy: its directives in order (first occurrence only) and its issues."""

    directives: dict[str, list[str]]
    source: str  # HEADER, META or REPORT_ONLY
    raw: str
    issues: list[Issue] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # directives a <meta> policy may not set

    @property
    def enforced(self) -> bool:
        """Enforced, and restricting something: a policy without directives restricts nothing."""
        return self.source != REPORT_ONLY and bool(self.directives)

    def get(self, name: str) -> list[str] | None:
        return self.directives.get(name)

    def effective(self, kind: str) -> tuple[str, list[str]] | None:
        """The directive that governs `kind` in this policy (§6.8.3) with its sources, or None."""
        for name in _table()["fallback"].get(kind, [kind]):
            if name in self.directives:
                return name, self.directives[name]
        return None


def parse_policy(text: str, source: str = HEADER, offset: int = 0) -> Policy:
    """§2.2.1 "parse a serialized CSP"; `offset` is where `text` starts in the header value."""
    directives: dict[str, list[str]] = {}
    issues: list[Issue] = []
    ignored: list[str] = []
    start = offset
    for token in text.split(";"):
        words = [(start + m.start(), m.group()) for m in _WORD.finditer(token)]
        start += len(token) + 1
        if not words:
            continue
        here, name = words[0][0], words[0][1].lower()
        if not _NAME.fullmatch(name):
            issues.append(Issue(here, "directive_name", name[:60]))
            continue
        if not _VALUE_CHARS.fullmatch(token):
            issues.append(Issue(here, "directive_value", token.strip()[:60]))
        if source == META and name in _table()["meta_ignored"]:
            ignored.append(name)
            continue
        if name in directives:
            issues.append(Issue(here, "repeated", name))
            continue
        directives[name] = [_normalise(v) for _, v in words[1:]]
        if name in _table()["source_lists"]:
            issues += _source_issues(words[1:], name in _table()["ancestor_source_lists"])
    return Policy(directives, source, text.strip()[:1000], issues, ignored)


def parse_list(value: str | None, source: str = HEADER) -> list[Policy]:
    """A header value: §2.2.2, a comma-separated list of policies (empty members dropped)."""
    out = []
    start = 0
    for part in (value or "").split(","):
        if part.strip():
            out.append(parse_policy(part, source, start))
        start += len(part) + 1
    return out


def _normalise(src: str) -> str:
    """Keywords, schemes and hosts are case-insensitive; a nonce's or hash's value is not."""
    low = src.lower()
    if low.startswith(("'nonce-", "'sha")) and "-" in low:
        cut = low.index("-") + 1
        return low[:cut] + src[cut:]
    return low


def _source_issues(sources: list[tuple[int, str]], ancestors: bool) -> list[Issue]:
    """Source expressions that break §2.3.1's grammar (a browser ignores each of them)."""
    out = []
    if len(sources) > 1:
        out += [Issue(at, "none_not_alone", raw) for at, raw in sources if raw.lower() == "'none'"]
    for at, raw in sources:
        if raw.lower() != "'none'" and not valid_source(_normalise(raw), ancestors):
            out.append(Issue(at, "source", raw[:80]))
    return out


def valid_source(src: str, ancestors: bool = False) -> bool:
    """A (normalised) source expression of §2.3.1; frame-ancestors takes only hosts, schemes, 'self'."""
    if _SCHEME.fullmatch(src) or _HOST.fullmatch(src) or src == "'self'":
        return True
    if ancestors:
        return False
    if src in _table()["keywords"] or _NONCE.fullmatch(src):
        return True
    found = _HASH.fullmatch(src)
    return bool(found) and found.group(1) in _table()["hash_algorithms"]


def is_nonce_or_hash(src: str) -> bool:
    return bool(_NONCE.fullmatch(src)) or (bool(m := _HASH.fullmatch(src)) and m.group(1) in _table()["hash_algorithms"])


# -- matching (§6.7.2) ------------------------------------------------------------------------

@dataclass(frozen=True)
class Url:
    """A request's URL as the matching algorithms see it."""

    scheme: str
    host: str | None = None
    port: int | None = None
    path: str = "/"

    @property
    def effective_port(self) -> int | None:
        return self.port if self.port is not None else DEFAULT_PORTS.get(self.scheme)

    @classmethod
    def parse(cls, text: str) -> Url:
        """A page's URL; an unparsable one is an https page on no host (matches no 'self')."""
        try:
            parts = urlsplit(text)
            return cls(parts.scheme.lower() or "https", parts.hostname, parts.port, parts.path or "/")
        except ValueError:
            return cls("https")


def url_of(src: str, page: Url) -> Url | None:
    """The URL a host-source names, wildcards filled in (a request it lets through), or None."""
    m = _HOST.fullmatch(src)
    if m is None:
        return None
    scheme, host, port, path = m.groups()
    host = "bolwerk-probe.invalid" if host == "*" else host.replace("*.", "probe.", 1)
    return Url(scheme or page.scheme, host, int(port) if port and port != "*" else None, path or "/")


def _scheme_part_match(a: str, b: str) -> bool:
    """§6.7.2.8 "scheme-part match": equal, or b is a secure upgrade of a."""
    return a == b or (a, b) in {("http", "https"), ("ws", "wss"), ("ws", "http"), ("ws", "https"), ("wss", "https")}


def _host_part_match(pattern: str, host: str) -> bool:
    pattern = pattern.rstrip(".")
    host = host.rstrip(".").lower()
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


def _port_part_match(port: str | None, url: Url) -> bool:
    if port == "*":
        return True
    if port is None:
        return url.effective_port == DEFAULT_PORTS.get(url.scheme)
    wanted = int(port)
    return wanted == url.effective_port or (wanted == 80 and url.scheme in ("https", "wss")
                                            and url.effective_port == 443)


def _path_part_match(path: str | None, url: Url) -> bool:
    if not path or path == "/":
        return True
    return url.path.startswith(path) if path.endswith("/") else url.path == path


def matches(src: str, url: Url, page: Url) -> bool:
    """§6.7.2.8: does `url` match the (normalised) source expression on a page at `page`?"""
    if src == "*":
        return url.scheme in ("http", "https") or url.scheme == page.scheme
    if m := _SCHEME.fullmatch(src):
        return _scheme_part_match(m.group(1), url.scheme)
    if src == "'self'":
        return (url.host == page.host and (url.scheme, url.effective_port) == (page.scheme, page.effective_port)
                or (url.host == page.host and page.scheme == "http" and url.scheme == "https"))
    m = _HOST.fullmatch(src)
    if m is None or url.host is None:
        return False
    scheme, host, port, path = m.groups()
    if not _scheme_part_match(scheme or page.scheme, url.scheme):
        return False
    return _host_part_match(host, url.host) and _port_part_match(port, url) and _path_part_match(path, url)


def matching(sources: Iterable[str], url: Url, page: Url, script: bool = False) -> list[str]:
    """The sources of one list that let `url` through (§6.7.2.5); none for `'none'` alone."""
    sources = list(sources)
    if sources == ["'none'"]:
        return []
    if script and "'strict-dynamic'" in sources:  # §8.2: host and scheme sources, 'self' ignored
        return []
    return [s for s in sources if matches(s, url, page)]


def allows_all_inline(sources: Iterable[str], script: bool = False) -> bool:
    """§6.7.3.3 "does a source list allow all inline behavior": 'unsafe-inline' counts only
    without a nonce or hash (and, for scripts, without 'strict-dynamic')."""
    sources = list(sources)
    if any(is_nonce_or_hash(s) for s in sources) or (script and "'strict-dynamic'" in sources):
        return False
    return "'unsafe-inline'" in sources


def governing(policies: Iterable[Policy], kind: str) -> list[tuple[Policy, str, list[str]]]:
    """The enforced policies that govern `kind`, each with its effective directive and sources."""
    out = []
    for policy in policies:
        if policy.enforced and (found := policy.effective(kind)) is not None:
            out.append((policy, *found))
    return out


def allowed(policies: Iterable[Policy], kind: str, url: Url, page: Url) -> bool:
    """§8.1: a request of `kind` to `url` goes through only when every enforced policy allows it."""
    script = kind.startswith("script-src")
    return all(matching(sources, url, page, script) for _, _, sources in governing(policies, kind))
