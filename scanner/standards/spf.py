"""SPF (RFC 7208): the record grammar, macro expansion, and check_host() walked for what a
receiver spends and where it gives up, from DNS answers a probe collected.

`parse` follows the ABNF of §4.5, §5, §6 and §7.1 and returns every syntax error with its
offset and term index; one is enough for a receiver to return "permerror" (§4.6). `evaluate`
walks the record as check_host() would for mail from an address no mechanism matches (the
spoofer's case and the most expensive one): it counts the DNS-querying terms and the void
lookups (§4.6.4), follows include: and redirect= (§5.2, §6.1), expands the macros it can
(§7: the domain letters `d` and `o`; the others depend on the message), and stops at the
first permanent error as a receiver does. It does no I/O: answers it needs and has not got
are listed in `missing`, so a probe can fetch them and evaluate again.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scanner.standards.grammar import Issue

LOOKUP_LIMIT = 10  # §4.6.4: DNS-querying terms (include, a, mx, ptr, exists, redirect) per evaluation
VOID_LIMIT = 2  # §4.6.4: lookups that return no records (NOERROR without answers, or NXDOMAIN)
MX_NAME_LIMIT = 10  # §4.6.4: an mx mechanism whose MX set names more hosts is a permerror
STRING_LIMIT = 255  # RFC 1035 §3.3: one character-string of a TXT record
UDP_RECORD_LIMIT = 512  # §3.4: keep a record small enough for a 512-octet UDP answer

DNS_MECHANISMS = ("a", "mx", "ptr", "exists", "include")
MECHANISMS = ("all", "ip4", "ip6", *DNS_MECHANISMS)
_VERSION = re.compile(r"v=spf1(?: |$)", re.IGNORECASE)
_MODIFIER = re.compile(r"([A-Za-z][A-Za-z0-9\-_.]*)=(.*)", re.DOTALL)
_MECHANISM = re.compile(r"([+\-~?]?)([A-Za-z][A-Za-z0-9]*)(.*)", re.DOTALL)
_CIDR = re.compile(r"(.*?)((?:/[0-9]+)?(?://[0-9]+)?)", re.DOTALL)
_QNUM = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9][0-9]|[0-9])"
_IP4 = re.compile(rf"{_QNUM}(?:\.{_QNUM}){{3}}")
_LENGTH = re.compile(r"0|[1-9][0-9]*")
_TOPLABEL = re.compile(r"[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9\-]*[A-Za-z0-9]")
_MACRO = re.compile(r"%\{([A-Za-z])([0-9]*)([rR]?)([.\-+,/_=]*)\}")
MACRO_LETTERS = "slodiphcrtv"
EXP_ONLY_LETTERS = "crt"  # §7.2: only in the explanation string
KNOWN_LETTERS = "do"  # what a scanner knows of a message: the domain checked and the sender's domain


def is_spf_record(text: str) -> bool:
    """§4.5: exactly `v=spf1`, then a space or the end (case-insensitive, as ABNF strings are)."""
    return bool(_VERSION.match(text))


@dataclass
class Term:
    """One directive or modifier of a record."""

    index: int  # 1 for the first term after the version
    at: int  # offset in the record
    text: str
    kind: str  # "mechanism" or "modifier"
    name: str  # lower case
    qualifier: str = ""  # "+", "-", "~" or "?" for a mechanism (explicit: "all" is "+all")
    domain_spec: str | None = None
    value: str | None = None  # a modifier's value


@dataclass
class Record:
    text: str
    terms: list[Term] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    def mechanisms(self) -> list[Term]:
        return [t for t in self.terms if t.kind == "mechanism"]

    def modifier(self, name: str) -> Term | None:
        return next((t for t in self.terms if t.kind == "modifier" and t.name == name), None)

    def all_term(self) -> Term | None:
        return next((t for t in self.mechanisms() if t.name == "all"), None)


def parse(record: str) -> Record:
    """The terms of an SPF record and every syntax error in it (§4.6.1, §5, §6, §7.1)."""
    out = Record(record)
    match = _VERSION.match(record)
    if not match:
        out.issues.append(Issue("spf_version", 0, 0))
        return out
    pos = len("v=spf1")
    index = 0
    seen_modifiers: set[str] = set()
    for piece in record[pos:].split(" "):
        at = pos
        pos += len(piece) + 1
        if not piece:
            continue  # 1*SP between terms, *SP at the end
        index += 1
        term = _term(piece, index, at, out.issues)
        out.terms.append(term)
        if term.kind == "modifier" and term.name in ("redirect", "exp"):
            if term.name in seen_modifiers:  # §6: each at most once
                out.issues.append(Issue("spf_modifier_twice", term.at, index, {"name": term.name}))
            seen_modifiers.add(term.name)
    return out


def _term(text: str, index: int, at: int, issues: list[Issue]) -> Term:
    def bad(code: str, **params: Any) -> None:
        issues.append(Issue(code, at, index, {"text": text[:80], **params}))

    modifier = _MODIFIER.fullmatch(text)
    if modifier:
        name, value = modifier.group(1).lower(), modifier.group(2)
        term = Term(index, at, text, "modifier", name, value=value)
        if name in ("redirect", "exp"):
            term.domain_spec = value
            problem = domain_spec_problem(value)
            if problem:
                bad(problem)
        elif macro_string_problem(value, allow=MACRO_LETTERS):
            bad(macro_string_problem(value, allow=MACRO_LETTERS))
        return term
    mechanism = _MECHANISM.fullmatch(text)
    if not mechanism:
        bad("spf_term")
        return Term(index, at, text, "mechanism", "", "+")
    qualifier, name, rest = mechanism.group(1) or "+", mechanism.group(2).lower(), mechanism.group(3)
    term = Term(index, at, text, "mechanism", name, qualifier)
    if name not in MECHANISMS:
        bad("spf_unknown_mechanism", name=mechanism.group(2))
    elif name == "all":
        if rest:
            bad("spf_mechanism_syntax", name=name)
    elif name in ("include", "exists"):
        if not rest.startswith(":"):
            bad("spf_needs_domain", name=name)
        else:
            term.domain_spec = rest[1:]
            problem = domain_spec_problem(term.domain_spec)
            if problem:
                bad(problem)
    elif name in ("a", "mx", "ptr"):
        spec, cidr = (rest, "") if name == "ptr" else _CIDR.fullmatch(rest).groups()
        if spec and not spec.startswith(":"):
            bad("spf_mechanism_syntax", name=name)
        elif spec:
            term.domain_spec = spec[1:]
            problem = domain_spec_problem(term.domain_spec)
            if problem:
                bad(problem)
        if cidr and not _dual_cidr_ok(cidr):
            bad("spf_cidr")
    else:  # ip4, ip6
        if not rest.startswith(":"):
            bad("spf_needs_network", name=name)
        else:
            problem = _network_problem(name, rest[1:])
            if problem:
                bad(problem)
    return term


def _length_ok(text: str, limit: int) -> bool:
    return bool(_LENGTH.fullmatch(text)) and int(text) <= limit


def _dual_cidr_ok(cidr: str) -> bool:
    """§5.6 dual-cidr-length: `/n` (0-32) and/or `//m` (0-128)."""
    four, _, six = cidr.partition("//")
    return (not four or _length_ok(four[1:], 32)) and (not six or _length_ok(six, 128))


def _network_problem(name: str, value: str) -> str | None:
    network, slash, length = value.partition("/")
    if name == "ip4":
        if not _IP4.fullmatch(network):
            return "spf_ip4_address"
        return "spf_cidr" if slash and not _length_ok(length, 32) else None
    try:
        if "%" in network:
            raise ValueError
        ipaddress.IPv6Address(network)
    except ValueError:
        return "spf_ipv4_in_ip6" if _IP4.fullmatch(network) else "spf_ip6_address"
    return "spf_cidr" if slash and not _length_ok(length, 128) else None


def _macro_tokens(text: str) -> Iterable[tuple[str, re.Match | None]]:
    """The pieces of a macro-string (§7.1): ("%{...}", match), ("%%"/"%_"/"%-", None), literal
    characters as (char, None); a bad `%` as ("%", None) followed by the rest."""
    i = 0
    while i < len(text):
        if text[i] != "%":
            yield text[i], None
            i += 1
            continue
        match = _MACRO.match(text, i)
        if match:
            yield match.group(0), match
            i = match.end()
        elif text[i + 1:i + 2] in ("%", "_", "-"):
            yield text[i:i + 2], None
            i += 2
        else:
            yield "%", None
            i += 1


def macro_string_problem(text: str, allow: str = MACRO_LETTERS) -> str | None:
    """Why `text` is no macro-string (§7.1), or None. `allow`: the macro letters permitted here."""
    for token, match in _macro_tokens(text):
        if token == "%":
            return "spf_macro"
        if match:
            letter, digits = match.group(1).lower(), match.group(2)
            if letter not in MACRO_LETTERS or (digits and int(digits) == 0):  # §7.1: a DIGIT transformer is nonzero
                return "spf_macro"
            if letter not in allow:
                return "spf_macro_exp_only"
        elif not ("\x21" <= token[-1] <= "\x7e"):
            return "spf_macro"
    return None


def domain_spec_problem(spec: str) -> str | None:
    """Why `spec` is no domain-spec (§7.1: a macro-string ending in `.toplabel` or a macro), or None."""
    problem = macro_string_problem(spec, allow="".join(c for c in MACRO_LETTERS if c not in EXP_ONLY_LETTERS))
    if problem:
        return problem
    tokens = list(_macro_tokens(spec))
    if tokens and len(tokens[-1][0]) > 1:  # ends in a macro-expand
        return None
    body = spec[:-1] if spec.endswith(".") else spec
    head, dot, last = body.rpartition(".")
    if not dot or not head or not _TOPLABEL.fullmatch(last) or "%" in last:
        return "spf_domain_end"
    return None


def expand(spec: str, domain: str, sender_domain: str) -> str | None:
    """§7.3, §7.4: the domain-spec with its macros expanded, or None when it needs a letter a
    scanner cannot know (the sender's local part, the client's address, the HELO name...)."""
    values = {"d": domain, "o": sender_domain}
    out = []
    for token, match in _macro_tokens(spec):
        if not match:
            out.append({"%%": "%", "%_": " ", "%-": "%20"}.get(token, token))
            continue
        letter = match.group(1)
        if letter.lower() not in KNOWN_LETTERS:
            return None
        parts = re.split("[" + re.escape(match.group(4) or ".") + "]", values[letter.lower()])
        if match.group(3):
            parts.reverse()
        if match.group(2):
            parts = parts[-int(match.group(2)):]
        value = ".".join(parts)
        out.append(urllib.parse.quote(value, safe="") if letter.isupper() else value)
    expanded = "".join(out).rstrip(".")
    while len(expanded) > 253 and "." in expanded:  # §7.3: drop labels from the left until it fits
        expanded = expanded.split(".", 1)[1]
    return expanded.lower()


def lint(record: Record, strings: list[str] | None = None) -> list[Issue]:
    """What peers warn about though a receiver accepts it: `ptr` (§5.5: do not use), terms an
    evaluator never reaches (§5.1), `exp=` (§6.2), strings over 255 octets (RFC 1035 §3.3)
    and records over 512 octets (§3.4)."""
    out: list[Issue] = []
    all_term = record.all_term()
    for term in record.terms:
        if term.kind == "mechanism" and term.name == "ptr":
            out.append(Issue("spf_lint_ptr", term.at, term.index, {"text": term.text}))
        if all_term and term.kind == "mechanism" and term.index > all_term.index:
            out.append(Issue("spf_lint_after_all", term.at, term.index, {"text": term.text}))
        if all_term and term.kind == "modifier" and term.name == "redirect":
            out.append(Issue("spf_lint_redirect_with_all", term.at, term.index, {"text": term.text}))
        if term.kind == "modifier" and term.name == "exp":
            out.append(Issue("spf_lint_exp", term.at, term.index, {"text": term.text}))
    for n, string in enumerate(strings or []):
        if len(string.encode()) > STRING_LIMIT:
            out.append(Issue("spf_lint_long_string", None, n, {"octets": len(string.encode()), "limit": STRING_LIMIT}))
    size = len(record.text.encode())
    if size > UDP_RECORD_LIMIT:
        out.append(Issue("spf_lint_large_record", None, None, {"octets": size, "limit": UDP_RECORD_LIMIT}))
    return out


# -- check_host(), from collected answers ------------------------------------------------------


def query_key(rdtype: str, name: str) -> str:
    return f"{rdtype} {name.lower().rstrip('.')}"


@dataclass
class Evaluation:
    """What check_host() would spend and where it would stop, for mail no mechanism matches."""

    lookups: int = 0
    void: int = 0
    policy: str | None = None  # the `all` that ends evaluation ("-all"...), followed through redirect=
    policy_domain: str | None = None  # the domain whose record holds that `all`
    permerror: Issue | None = None  # the first permanent error, as a receiver meets it
    temperror: str | None = None  # a lookup that failed: evaluation could not go on
    unevaluable: list[Issue] = field(default_factory=list)  # terms that depend on the message
    missing: list[tuple[str, str]] = field(default_factory=list)  # (type, name) not collected yet

    def unfollowed(self) -> list[Issue]:
        """include:/redirect= targets that need the message to name them: the counts are lower bounds."""
        return [i for i in self.unevaluable if i.code == "spf_unfollowed"]


class _Stop(Exception):
    """check_host() ends here (permerror or temperror)."""


def evaluate(domain: str, answers: Iterable[Mapping[str, Any]]) -> Evaluation:
    """Walk `domain`'s SPF record as a receiver would, from the collected `answers`.

    Each answer is {"type", "name", "rcode", "count", "records", "error"?}: `count` the
    records of that type at the name, `records` (TXT) the texts that begin with v=spf1.
    The sender is taken to be an address at `domain` itself, sending over IPv4: `a` and
    `exists` are asked as A, so a name with only AAAA records is a void lookup here.
    """
    table = {query_key(a["type"], a["name"]): a for a in answers}
    ev = Evaluation()
    try:
        _check_host(domain.lower().rstrip("."), domain, table, ev, chain=(), via=None)
    except _Stop:
        pass
    return ev


def _answer(table: Mapping[str, Mapping[str, Any]], ev: Evaluation, rdtype: str, name: str) -> Mapping[str, Any] | None:
    answer = table.get(query_key(rdtype, name))
    if answer is None:
        if (rdtype, name) not in ev.missing:
            ev.missing.append((rdtype, name))
        return None
    if answer.get("error"):
        ev.temperror = f"{rdtype} {name}: {answer['error']}"
        raise _Stop
    return answer


def _permerror(ev: Evaluation, code: str, **params: Any) -> None:
    ev.permerror = Issue(code, params=params)
    raise _Stop


def _void(answer: Mapping[str, Any]) -> bool:
    return answer.get("rcode") == "NXDOMAIN" or (answer.get("rcode") == "NOERROR" and not answer.get("count"))


def _count(ev: Evaluation, term: str, domain: str) -> None:
    ev.lookups += 1
    if ev.lookups > LOOKUP_LIMIT:
        _permerror(ev, "spf_lookup_limit", limit=LOOKUP_LIMIT, term=term, domain=domain)


def _count_void(ev: Evaluation, answer: Mapping[str, Any], term: str, domain: str) -> None:
    if _void(answer):
        ev.void += 1
        if ev.void > VOID_LIMIT:
            _permerror(ev, "spf_void_limit", limit=VOID_LIMIT, term=term, domain=domain)


def _check_host(domain: str, sender_domain: str, table: Mapping[str, Mapping[str, Any]], ev: Evaluation,
                chain: tuple[str, ...], via: str | None) -> bool:
    """One level of check_host(); True when it defined the policy (an `all`, here or by redirect)."""
    answer = _answer(table, ev, "TXT", domain)
    if answer is None:
        return False
    found = [r for r in answer.get("records") or [] if is_spf_record(r)]
    if len(found) > 1:
        _permerror(ev, "spf_several_records", domain=domain, count=len(found))
    if not found:
        if via:  # §5.2, §6.1: an include or redirect target without SPF is a permerror
            _permerror(ev, f"spf_{via}_without_spf", domain=domain)
        return False
    record = parse(found[0])
    if record.issues:
        issue = record.issues[0]
        _permerror(ev, "spf_syntax", **{"text": "", **issue.params}, domain=domain, problem=issue.code,
                   at=issue.at, term=issue.term)
    chain = (*chain, domain)
    for term in record.mechanisms():
        if term.name == "all":
            if via != "include":
                ev.policy, ev.policy_domain = term.qualifier + "all", domain
            return via != "include"
        if term.name not in DNS_MECHANISMS:
            continue
        _count(ev, term.text, domain)
        if term.name == "ptr":  # §5.5: needs the client's address
            ev.unevaluable.append(Issue("spf_needs_client", params={"text": term.text, "domain": domain}))
            continue
        target = expand(term.domain_spec, domain, sender_domain) if term.domain_spec else domain
        if target is None:  # an unfollowed include leaves the count a lower bound
            code = "spf_unfollowed" if term.name == "include" else "spf_needs_message"
            ev.unevaluable.append(Issue(code, params={"text": term.text, "domain": domain}))
            continue
        if term.name == "include":
            if target in chain:
                _permerror(ev, "spf_include_loop", loop=" → ".join((*chain, target)))
            inner = _answer(table, ev, "TXT", target)
            if inner is not None:
                _count_void(ev, inner, term.text, domain)
                _check_host(target, sender_domain, table, ev, chain, "include")
            continue
        rdtype = "MX" if term.name == "mx" else "A"
        inner = _answer(table, ev, rdtype, target)
        if inner is None:
            continue
        _count_void(ev, inner, term.text, domain)
        if term.name == "mx" and (inner.get("count") or 0) > MX_NAME_LIMIT:
            _permerror(ev, "spf_mx_limit", limit=MX_NAME_LIMIT, count=inner["count"], domain=target)
    redirect = record.modifier("redirect")
    if redirect is None:
        return False
    _count(ev, redirect.text, domain)
    target = expand(redirect.domain_spec or "", domain, sender_domain)
    if target is None:
        ev.unevaluable.append(Issue("spf_unfollowed", params={"text": redirect.text, "domain": domain}))
        return False
    if target in chain:
        _permerror(ev, "spf_include_loop", loop=" → ".join((*chain, target)))
    inner = _answer(table, ev, "TXT", target)
    if inner is None:
        return False
    _count_void(ev, inner, redirect.text, domain)
    return _check_host(target, sender_domain, table, ev, chain, "redirect")
