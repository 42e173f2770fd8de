"""security.txt (RFC 9116): the fields of a file, the OpenPGP cleartext frame around them,
and every line that breaks the grammar. Pure, no I/O, linear in the file (no regular
expression that can backtrack: a 32 KiB line costs microseconds).

- Grammar: RFC 9116 §4. Every line ends in a line break (`eol`), a field is
  `name ":" SP value`, a comment starts with "#"; field names are case-insensitive (§2.4).
- Values: the URI fields of §2.5 follow RFC 3986 and a web URI among them begins with
  https:// ; Expires is an RFC 3339 date-time (§2.5.5); Preferred-Languages is a
  comma-separated list of BCP 47 tags (§2.5.8); Expires and Preferred-Languages appear
  at most once.
- Signature: RFC 4880 §7 (RFC 9116 §2.3). A file is `signed` only when it is exactly one
  cleartext-signed message: the "BEGIN PGP SIGNED MESSAGE" line first, armor headers, an
  empty line, the dash-escaped text, then one signature block to its END line and nothing
  after it. A missing, unterminated, empty or doubled signature block, or armor lines
  outside that frame, is a `framing` issue and the file is not signed. The signature
  itself is not verified: the scanner carries no OpenPGP implementation, and RFC 9116
  lets each reader decide which keys to trust.

Table data (which fields are URIs, which may appear once): `data/http/security-txt.toml`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from scanner.standards import language_tags, read_toml, uri

SIGNED_HEAD = "-----BEGIN PGP SIGNED MESSAGE-----"
SIG_HEAD = "-----BEGIN PGP SIGNATURE-----"
SIG_TAIL = "-----END PGP SIGNATURE-----"
ARMOR = ("-----BEGIN PGP ", "-----END PGP ")
ARMOR_KEYS = frozenset({"Hash", "Charset", "Version", "Comment", "MessageID"})  # RFC 4880 §6.2, §7
VALUES_CAP = 10
VALUE_LEN = 300
ISSUES_CAP = 50
_FTEXT = frozenset(chr(c) for c in range(33, 127) if c != 58)  # RFC 5322 §3.6.8 field-name
_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
# RFC 3339 §5.6 date-time; fixed width, so matching is linear.
_DATE_TIME = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:[Zz]|[+-]\d\d:\d\d)")


@cache
def table() -> dict[str, Any]:
    return read_toml("http", "security-txt.toml")


# Syntax: neither field nor comment, no SP after the colon, not a URI, a web URI without
# https, not an RFC 3339 date-time, not a BCP 47 tag, a field that may appear once again, a
# signed line starting with "-" that is not dash-escaped (RFC 4880 §7.1), no final line break.
SYNTAX = ("invalid_line", "no_space", "not_uri", "not_https", "bad_date", "bad_language", "repeated", "dash_escape",
          "no_final_newline")
# Why an OpenPGP frame is not one cleartext-signed message (RFC 4880 §7).
FRAMING = ("signature_missing", "signature_unterminated", "signature_empty", "armor_header", "signature_repeated",
           "outside_frame", "after_signature")


@dataclass(frozen=True)
class Issue:
    """Something a reader of the file would stumble on (a SYNTAX or FRAMING code), at a 1-based `line`."""

    line: int
    code: str
    text: str = ""
    field: str = ""  # the field's name as the file writes it

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"line": self.line, "code": self.code, "text": self.text}
        if self.field:
            out["field"] = self.field
        return out


@dataclass
class SecurityTxt:
    fields: dict[str, list[str]] = field(default_factory=dict)  # lower-case name -> values in order
    signed: bool = False
    framing: list[Issue] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    def add(self, line: int, code: str, text: str = "", name: str = "") -> None:
        if len(self.issues) < ISSUES_CAP:  # built only when kept: a hostile file may hold thousands
            self.issues.append(Issue(line, code, text, name))


def parse(text: str) -> SecurityTxt:
    """The file's fields, whether it is one well-formed signed message, and its issues."""
    out = SecurityTxt()
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    elif text:
        out.add(len(lines), "no_final_newline")
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    if lines and lines[0] == SIGNED_HEAD:
        body = _signed_body(lines, out)
        out.signed = not out.framing
    else:
        body = []
        for number, line in enumerate(lines, 1):
            if line.startswith(ARMOR):
                out.framing.append(Issue(number, "outside_frame", line[:80]))
            else:
                body.append((number, line))
    seen: dict[str, int] = {}
    for number, line in body:
        _line(number, line, out, seen)
    out.issues.sort(key=lambda issue: issue.line)
    return out


def _signed_body(lines: list[str], out: SecurityTxt) -> list[tuple[int, str]]:
    """The cleartext of a signed message (dash-escapes undone), framing issues into `out`."""
    i = _armor_headers(lines, 1)
    if lines[i:i + 1] == [""]:
        i += 1
    else:
        out.framing.append(Issue(i + 1, "armor_header", lines[i][:80] if i < len(lines) else ""))
    body: list[tuple[int, str]] = []
    while i < len(lines) and lines[i] != SIG_HEAD:
        line = lines[i]
        if line.startswith("- "):
            line = line[2:]
        elif line.startswith(ARMOR):
            out.framing.append(Issue(i + 1, "signature_repeated" if line == SIGNED_HEAD else "outside_frame", line[:80]))
            i += 1
            continue
        elif line.startswith("-"):
            out.add(i + 1, "dash_escape", line[:80])
        body.append((i + 1, line))
        i += 1
    if i >= len(lines):
        out.framing.append(Issue(len(lines), "signature_missing"))
        return body
    start = i + 1
    i = _armor_headers(lines, start)
    data = 0
    while i < len(lines) and lines[i] != SIG_TAIL:
        if lines[i].startswith(ARMOR):
            out.framing.append(Issue(i + 1, "signature_repeated", lines[i][:80]))
        elif lines[i].strip() and all(c in _BASE64 for c in lines[i].strip()):
            data += 1
        i += 1
    if i >= len(lines):
        out.framing.append(Issue(len(lines), "signature_unterminated"))
        return body
    if not data:
        out.framing.append(Issue(start, "signature_empty"))
    for number in range(i + 2, len(lines) + 1):
        line = lines[number - 1]
        if line.strip():
            code = "signature_repeated" if line in (SIG_HEAD, SIGNED_HEAD) else "after_signature"
            out.framing.append(Issue(number, code, line[:80]))
            break
    return body


def _armor_headers(lines: list[str], i: int) -> int:
    """The index after the armor header lines ("Hash: SHA256") that start at `i`."""
    while i < len(lines) and lines[i].partition(": ")[0] in ARMOR_KEYS:
        i += 1
    return i


def _line(number: int, line: str, out: SecurityTxt, seen: dict[str, int]) -> None:
    """One line of the (unsigned) text: a field, a comment, empty, or an issue."""
    content = line.rstrip(" \t")
    if not content or content.startswith("#"):
        return
    name, colon, value = content.partition(":")
    if not colon or not name or any(c not in _FTEXT for c in name):
        out.add(number, "invalid_line", line[:100])
        return
    written, name = name[:60], name.lower()
    if not value.startswith(" "):
        out.add(number, "no_space", content[:100], written)
    value = value.strip(" \t")
    seen[name] = seen.get(name, 0) + 1
    if seen[name] > 1 and name in table()["once"]:
        out.add(number, "repeated", value[:100], written)
    values = out.fields.setdefault(name, [])
    if len(values) < VALUES_CAP:
        values.append(value[:VALUE_LEN])
    for code in _value_problems(name, value):
        out.add(number, code, value[:100], written)


def _value_problems(name: str, value: str) -> list[str]:
    if name in table()["uri_fields"]:
        if uri.problem(value) is not None:
            return ["not_uri"]
        return ["not_https"] if uri.scheme_of(value) == "http" else []
    if name == "expires":
        return [] if _DATE_TIME.fullmatch(value) else ["bad_date"]
    if name == "preferred-languages":
        tags = [t.strip(" \t") for t in value.split(",")]
        return ["bad_language"] if not all(language_tags.well_formed(t) for t in tags) else []
    return []


def charset_ok(content_type: str) -> bool | None:
    """Whether a Content-Type names UTF-8 as its charset (§3; csUTF8 is its IANA alias); None: no charset."""
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"').lower() in table()["charsets"]
    return None
