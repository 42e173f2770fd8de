"""MTA-STS (RFC 8461): the `_mta-sts` TXT record (§3.1), the policy file (§3.2, §3.3) and
MX pattern matching (§4.1).

Keys and values are case-sensitive (`%s"..."` in the ABNF). Lines of the policy end in
LF or CRLF (the `sts-policy-term` rule; the prose says CRLF, erratum 6253 reads it as the
ABNF does), so a bare CR is an error and LF-only line endings are a remark, not a fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from scanner.standards.grammar import FIELD_VALUE, Issue, fields_after

POLICY_PATH = "/.well-known/mta-sts.txt"  # §3.3
POLICY_SIZE_LIMIT = 64 * 1024  # §3.3: the size senders are told they may refuse beyond
MAX_AGE_LIMIT = 31_557_600  # §3.2: max_age at most one year
MODES = ("enforce", "testing", "none")
_WSP = " \t"
_ID = re.compile(r"[A-Za-z0-9]{1,32}")
_EXT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-.]{0,31}")
_MAX_AGE = re.compile(r"[0-9]{1,10}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
_MX = re.compile(rf"(?:\*\.)?{_LABEL}(?:\.{_LABEL})*\.?")  # ["*."] Domain (RFC 5321 §4.1.2)
_POLICY_VALUE = re.compile(r"[^\x00-\x1f\x7f]*")


def is_sts_record(text: str) -> bool:
    """§3.1: records that do not begin with "v=STSv1;" are discarded."""
    return text.startswith("v=STSv1;")


def looks_like_sts(text: str) -> bool:
    """A TXT string meant as an MTA-STS record, however malformed (to report, not to apply)."""
    return text[:7].lower() == "v=stsv1"


@dataclass
class StsRecord:
    text: str
    id: str | None = None
    issues: list[Issue] = field(default_factory=list)


def parse_record(text: str) -> StsRecord:
    """sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]."""
    out = StsRecord(text)
    fields = fields_after(text, "v=STSv1")
    if fields is None:
        out.issues.append(Issue("sts_record_version", 0, 0))
        return out
    for field_ in fields:
        name, has_value, value = field_.parts()
        if not field_.text:
            if not field_.last:  # only a trailing delimiter may leave a field empty
                out.issues.append(Issue("sts_record_field", field_.at, field_.index, {"text": ""}))
        elif name == "id":
            if out.id is not None:
                out.issues.append(Issue("sts_record_duplicate_id", field_.at, field_.index))
            elif not _ID.fullmatch(value):
                out.issues.append(Issue("sts_record_id", field_.at, field_.index, {"value": value[:60]}))
            else:
                out.id = value
        elif not has_value or not _EXT_NAME.fullmatch(name) or not FIELD_VALUE.fullmatch(value):
            out.issues.append(Issue("sts_record_field", field_.at, field_.index, {"text": field_.text[:80]}))
    if out.id is None and not any(i.code == "sts_record_id" for i in out.issues):
        out.issues.append(Issue("sts_record_no_id", None, None))
    return out


@dataclass
class Policy:
    version: str | None = None
    mode: str | None = None
    max_age: int | None = None
    mx: list[str] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)  # what makes senders reject the policy
    remarks: list[Issue] = field(default_factory=list)  # what the grammar frowns on but parsers accept
    line_endings: str | None = None  # "CRLF", "LF" or "mixed"


def parse_policy(body: str) -> Policy:
    """§3.2: `key: value` lines; version, mode and max_age once each, mx per allowed host."""
    out = Policy()
    lines = re.split(r"\r?\n", body)
    crlf, lf = body.count("\r\n"), body.count("\n") - body.count("\r\n")
    out.line_endings = "CRLF" if crlf and not lf else "LF" if lf and not crlf else "mixed" if crlf else None
    if lines and lines[-1] == "":
        lines.pop()  # the optional final sts-policy-term
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if "\r" in line:  # no line end, and no character a value may hold: the line is lost
            out.issues.append(Issue("sts_policy_bare_cr", number, number - 1, {"line": number}))
            continue
        if not line.strip(_WSP):
            out.remarks.append(Issue("sts_policy_empty_line", number, number - 1, {"line": number}))
            continue
        if line[0] in _WSP:
            out.remarks.append(Issue("sts_policy_leading_space", number, number - 1, {"line": number}))
        key, sep, value = line.strip(_WSP).partition(":")
        value = value.strip(_WSP)
        if not sep or not _EXT_NAME.fullmatch(key) or not value or not _POLICY_VALUE.fullmatch(value):
            out.issues.append(Issue("sts_policy_line", number, number - 1, {"line": number, "text": line[:80]}))
            continue
        if key == "mx":
            if _MX.fullmatch(value):
                out.mx.append(value.lower().rstrip("."))
            else:
                out.issues.append(Issue("sts_policy_mx", number, number - 1, {"line": number, "value": value[:80]}))
            continue
        if key not in ("version", "mode", "max_age"):
            continue  # an extension: ignored
        if key in seen:
            out.issues.append(Issue("sts_policy_duplicate", number, number - 1, {"line": number, "key": key}))
            continue
        seen.add(key)
        if key == "version":
            out.version = value
            if value != "STSv1":
                out.issues.append(Issue("sts_policy_version", number, number - 1, {"line": number, "value": value[:40]}))
        elif key == "mode":
            if value in MODES:
                out.mode = value
            else:
                out.issues.append(Issue("sts_policy_mode", number, number - 1, {"line": number, "value": value[:40]}))
        elif _MAX_AGE.fullmatch(value) and int(value) <= MAX_AGE_LIMIT:
            out.max_age = int(value)
        else:
            out.issues.append(Issue("sts_policy_max_age", number, number - 1,
                                    {"line": number, "value": value[:40], "limit": MAX_AGE_LIMIT}))
    for key in ("version", "mode", "max_age"):
        if key not in seen:
            out.issues.append(Issue("sts_policy_missing", None, None, {"key": key}))
    if out.mode in ("enforce", "testing") and not out.mx:
        out.issues.append(Issue("sts_policy_no_mx", None, None))
    return out


def is_text_plain(content_type: str | None) -> bool:
    """§3.2: the policy's media type MUST be text/plain (parameters other than charset ignored)."""
    return (content_type or "").split(";", 1)[0].strip().lower() == "text/plain"


def mx_matches(pattern: str, host: str) -> bool:
    """§4.1: an exact name, or `*.` standing for exactly one left-most label."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        return "." in host and host.split(".", 1)[1] == pattern[2:]
    return pattern == host
