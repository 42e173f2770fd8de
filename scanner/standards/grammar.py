"""Pieces the mail record grammars share: a syntax issue with its position, tag=value
lists (the DKIM tag-list of RFC 6376 §3.2, which DMARC, TLS-RPT and MTA-STS records
follow or imitate) and URI syntax (RFC 3986 §3, for DMARC and TLS-RPT report addresses).

An `Issue` carries a message code (its text is in `checks/texts/mail.toml`) and where it
is: the character offset in the record and the index of the term or tag, so a report can
point at the exact spot a receiver would stumble on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Issue:
    """One thing a standard's grammar or rules say is wrong (or, for lint, unwise)."""

    code: str
    at: int | None = None  # character offset in the record (or line number in a policy file)
    term: int | None = None  # index of the term, tag or line (0: the first)
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "at": self.at, "term": self.term, **self.params}


@dataclass
class Tag:
    """One `name=value` of a tag list, where it starts and its index."""

    name: str
    value: str
    at: int
    index: int


_WSP = " \t"


def split_tags(record: str, *, fws: bool = False) -> tuple[list[Tag], list[Issue]]:
    """The tags of a `;`-separated tag list, in order, and the pieces that are no tag.

    Whitespace around names, `=` and values is dropped (`*WSP`; with `fws`, line breaks too,
    as RFC 6376 §3.2 allows). An empty piece (`;;`, a trailing `;`) is allowed; a piece
    without `=` or with an empty name is an issue `tag_syntax`. Names keep their case:
    whether they are case-sensitive is each record's own rule.
    """
    tags: list[Tag] = []
    issues: list[Issue] = []
    blank = _WSP + ("\r\n" if fws else "")
    start = 0
    for index, piece in enumerate(record.split(";")):
        at = start + len(piece) - len(piece.lstrip(blank))
        start += len(piece) + 1
        if not piece.strip(blank):
            continue
        name, sep, value = piece.partition("=")
        name = name.strip(blank)
        if not sep or not name:
            issues.append(Issue("tag_syntax", at, index, {"text": piece.strip(blank)[:80]}))
            continue
        tags.append(Tag(name, value.strip(blank), at, index))
    return tags, issues


@dataclass
class Field:
    """One `;`-delimited field after a record's version (MTA-STS and TLS-RPT TXT records)."""

    text: str  # without the white space around it
    at: int
    index: int
    last: bool  # the piece after the final `;`: it alone may be empty

    def parts(self) -> tuple[str, bool, str]:
        name, sep, value = self.text.partition("=")
        return name, bool(sep), value


FIELD_VALUE = re.compile(r"[\x21-\x3a\x3c\x3e-\x7e]+")  # sts-ext-value, tlsrpt-ext-value


def fields_after(record: str, version: str) -> list[Field] | None:
    """`version 1*(*WSP ";" *WSP field) [*WSP ";"]`: the fields, or None when the record does
    not start with `version` (exactly: these versions are case-sensitive)."""
    pieces = record.split(";")
    if pieces[0].rstrip(_WSP) != version:
        return None
    out, pos = [], len(pieces[0]) + 1
    for index, piece in enumerate(pieces[1:], start=1):
        out.append(Field(piece.strip(_WSP), pos, index, index == len(pieces) - 1))
        pos += len(piece) + 1
    return out


_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|{_PCT})"
_URI = re.compile(rf"[A-Za-z][A-Za-z0-9+\-.]*:(?:{_PCHAR}|[/?#\[\]])*")
_ADDR = re.compile(r"[^@\s]+@([A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)+)\.?")


def is_uri(text: str) -> bool:
    """RFC 3986 §3 `URI`: a scheme, a colon, then only characters a URI may hold (percent
    escapes well formed). `user@example.com` has no scheme, so it is no URI."""
    return bool(_URI.fullmatch(text)) and text.count("#") <= 1


def uri_host(uri: str) -> str | None:
    """The host a `mailto:` or `https:` URI delivers to (lower case), else None."""
    scheme, _, rest = uri.partition(":")
    scheme = scheme.lower()
    if scheme == "mailto":
        match = _ADDR.fullmatch(rest.split("?", 1)[0].split(",", 1)[0].replace("%40", "@"))
        return match.group(1).lower() if match else None
    if scheme == "https" and rest.startswith("//"):
        authority = rest[2:].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
        host = authority.rsplit("@", 1)[-1]
        host = host.rsplit(":", 1)[0] if not host.startswith("[") else host
        return host.lower().rstrip(".") or None
    return None
