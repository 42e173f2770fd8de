"""DMARC (RFC 9989): the policy record grammar, the policy a receiver applies, and the
external report destinations that need an authorisation record (RFC 9990).

`parse` reads a record as a receiver does (§4.8): unknown tags are ignored, a value that
breaks its tag's rule is discarded for the tag's default (`t`, `psd`, `adkim`, `aspf`, `fo`)
or ignored (a report URI that is no URI), and every such error is returned with its
position. `applied_policy` then follows §4.10.1: an invalid or missing `p`, or an invalid
`sp`/`np`, makes the record act as `p=none` when it still names a valid report URI, and
leaves the domain without DMARC otherwise; `t=y` asks for the policy one level below the
one published (§4.7).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from scanner.standards import read_toml
from scanner.standards.grammar import Issue, is_uri, split_tags, uri_host
from scanner.standards.public_suffix import registrable_domain

MAX_QUERIES = 8  # §4.10: the DNS tree walk asks at most this many names
_RECORD = re.compile(r"[vV][ \t]*=[ \t]*DMARC1[ \t]*(?:;|$)")  # §4.7: the value is case sensitive
_VALUE = re.compile(r"[\x20-\x3a\x3c-\x7e]+")  # dmarc-value: printing characters but ';'
_SIZE = re.compile(r"!\d+[kmgtKMGT]?")  # obs-dmarc-report-size
WEAKER = {"reject": "quarantine", "quarantine": "none", "none": "none"}  # §4.7 t=y


@cache
def _table() -> dict[str, Any]:
    return read_toml("mail", "dmarc.toml")


def is_dmarc_record(text: str) -> bool:
    """§4.10 step 2: a record that starts with the `v=DMARC1` tag (else it is discarded)."""
    return bool(_RECORD.match(text))


@dataclass
class Record:
    text: str
    values: dict[str, str] = field(default_factory=dict)  # valid values, lower case, defaults applied
    invalid: dict[str, str] = field(default_factory=dict)  # tag -> the value a receiver discarded
    rua: list[str] = field(default_factory=list)  # valid URIs, in order
    ruf: list[str] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)  # what a receiver discarded, with its place
    unknown: list[str] = field(default_factory=list)  # tag names a receiver ignores
    size_suffixes: int = 0  # URIs with the obsolete `!size` suffix


def parse(record: str) -> Record:
    out = Record(record)
    tags, issues = split_tags(record)
    out.issues += issues
    table = _table()["tags"]
    seen: set[str] = set()
    for tag in tags[1:]:  # tags[0] is v=DMARC1 (is_dmarc_record)
        name = tag.name.lower()
        if name in seen:
            out.issues.append(Issue("dmarc_duplicate_tag", tag.at, tag.index, {"tag": tag.name}))
            continue
        seen.add(name)
        rule = table.get(name)
        if rule is None:
            out.unknown.append(tag.name)
            continue
        if not tag.value or not _VALUE.fullmatch(tag.value):
            out.invalid[name] = tag.value
            out.issues.append(Issue("dmarc_invalid_value", tag.at, tag.index, {"tag": name, "value": tag.value[:80]}))
        elif rule.get("rule") == "urilist":
            setattr(out, name, _uris(out, tag.value, name, tag.at, tag.index))
        elif (_fo_ok(tag.value) if rule.get("rule") == "fo" else tag.value.lower() in rule["values"]):
            out.values[name] = tag.value.lower()
        else:
            out.invalid[name] = tag.value
            out.issues.append(Issue("dmarc_invalid_value", tag.at, tag.index, {"tag": name, "value": tag.value[:80]}))
    for name, rule in table.items():
        if "default" in rule:
            out.values.setdefault(name, rule["default"])
    return out


def _uris(out: Record, value: str, tag: str, at: int, index: int) -> list[str]:
    """A dmarc-urilist: comma-separated URIs; one that is no URI is ignored (§4.8)."""
    uris = []
    for item in value.split(","):
        uri = item.strip(" \t")
        size = _SIZE.search(uri)
        if size and size.end() == len(uri):
            uri = uri[:size.start()]
            out.size_suffixes += 1
        if is_uri(uri):
            uris.append(uri)
        else:
            out.issues.append(Issue("dmarc_bad_uri", at, index, {"tag": tag, "uri": uri[:120]}))
    return uris


def _fo_ok(value: str) -> bool:
    """dmarc-fo: 0, 1, d, s joined by ':', each at most once, 0 and 1 not together."""
    parts = value.lower().split(":")
    return (all(p in ("0", "1", "d", "s") for p in parts) and len(set(parts)) == len(parts)
            and not {"0", "1"} <= set(parts))


@dataclass
class Applied:
    """The policy a receiver applies to mail from the judged domain."""

    published: str | None  # the tag's policy as written (p, sp or np), None when invalid or absent
    tag: str  # which tag that is: "p", "sp" or "np"
    policy: str | None  # what is applied: after the §4.10.1 fallback and t=y; None: no DMARC at all
    fallback: bool = False  # §4.10.1: the record acts as p=none
    testing: bool = False  # t=y lowered the policy


def applied_policy(record: Record, *, inherited: bool, exists: bool = True) -> Applied:
    """§4.10.1: the policy for the domain itself (`inherited` False) or for a subdomain that
    found its record higher up the tree (sp if it exists, np if not, else p)."""
    tag = "p"
    if inherited:
        candidates = (["np"] if not exists else []) + ["sp"]
        tag = next((t for t in candidates if t in record.values or t in record.invalid), "p")
    broken = "p" not in record.values or "sp" in record.invalid or "np" in record.invalid
    published = record.values.get(tag)
    if broken:
        if not record.rua:
            return Applied(published, tag, None)
        return Applied(published, tag, "none", fallback=True)
    testing = record.values.get("t") == "y" and published != "none"
    return Applied(published, tag, WEAKER[published] if testing else published, testing=testing)


def lint(record: Record) -> list[Issue]:
    """What peers flag though receivers cope: tags RFC 9989 removed (pct, rf, ri), more
    report URIs than a receiver must support, the obsolete `!size` suffix."""
    out: list[Issue] = []
    tags, _ = split_tags(record.text)
    removed = _table()["removed"]["tags"]
    for tag in tags:
        if tag.name.lower() in removed:
            out.append(Issue("dmarc_lint_removed", tag.at, tag.index, {"tag": tag.name.lower()}))
    supported = _table()["reporting"]["supported_uris"]
    if len(record.rua) > supported:
        out.append(Issue("dmarc_lint_many_rua", None, None, {"count": len(record.rua), "limit": supported}))
    if record.size_suffixes:
        out.append(Issue("dmarc_lint_size_suffix", None, None, {"count": record.size_suffixes}))
    return out


def organisation(domain: str) -> str:
    """The domain's Organizational Domain, by the Public Suffix List (RFC 7489's way, as
    Bolwerk's inventory draws it; RFC 9989 §4.10.2 would find it by a DNS tree walk of its own)."""
    name = domain.lower().rstrip(".")
    return registrable_domain(name) or name


def external_host(policy_domain: str, uri: str) -> str | None:
    """RFC 9990 (Verifying External Destinations): the host of a report URI when it lies
    outside the policy domain's organisation, so that it must authorise the reports; else None."""
    host = uri_host(uri)
    if host is None or organisation(host) == organisation(policy_domain):
        return None
    return host


def authorisation_name(policy_domain: str, host: str) -> str | None:
    """The name whose TXT record (starting with v=DMARC1) authorises reports for
    `policy_domain` to go to `host`; None when it is too long for the DNS (step 4: no
    positive determination can be made)."""
    name = f"{policy_domain.lower().rstrip('.')}._report._dmarc.{host}"
    return name if len(name) <= 253 and all(0 < len(label) <= 63 for label in name.split(".")) else None
