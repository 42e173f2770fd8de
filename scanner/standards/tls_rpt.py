"""SMTP TLS Reporting (RFC 8460): the `_smtp._tls` TXT record (§3).

tlsrpt-record = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]; the one
required field is `rua`, a comma-separated list of `mailto:` or `https:` URIs (§3). Unknown
fields of the right shape are ignored (a superset of the specification is allowed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from scanner.standards.grammar import FIELD_VALUE, Issue, fields_after, is_uri, uri_host

SCHEMES = ("mailto", "https")  # §3: the two rua schemes this version defines
_EXT_NAME = re.compile(r"[A-Za-z0-9_\-.]{1,32}")


def is_tlsrpt_record(text: str) -> bool:
    """§3: records that do not begin with "v=TLSRPTv1;" are discarded."""
    return text.startswith("v=TLSRPTv1;")


def looks_like_tlsrpt(text: str) -> bool:
    return text[:10].lower() == "v=tlsrptv1"


@dataclass
class TlsRptRecord:
    text: str
    rua: list[str] = field(default_factory=list)  # URIs a sender can report to
    issues: list[Issue] = field(default_factory=list)


def parse(text: str) -> TlsRptRecord:
    out = TlsRptRecord(text)
    fields = fields_after(text, "v=TLSRPTv1")
    if fields is None:
        out.issues.append(Issue("tlsrpt_version", 0, 0))
        return out
    seen_rua = False
    for field_ in fields:
        name, has_value, value = field_.parts()
        if not field_.text:
            if not field_.last:
                out.issues.append(Issue("tlsrpt_field", field_.at, field_.index, {"text": ""}))
        elif name == "rua" and seen_rua:
            out.issues.append(Issue("tlsrpt_duplicate_rua", field_.at, field_.index))
        elif name == "rua":
            seen_rua = True
            out.rua, issues = _uris(value, field_.at, field_.index)
            out.issues += issues
        elif not has_value or not _EXT_NAME.fullmatch(name) or not FIELD_VALUE.fullmatch(value):
            out.issues.append(Issue("tlsrpt_field", field_.at, field_.index, {"text": field_.text[:80]}))
    if not seen_rua:
        out.issues.append(Issue("tlsrpt_no_rua", None, None))
    return out


def _uris(value: str, at: int, index: int) -> tuple[list[str], list[Issue]]:
    """tlsrpt-rua: URIs a sender can report to, and the ones it cannot use."""
    uris, issues = [], []
    for item in value.split(","):
        uri = item.strip(" \t")
        if not is_uri(uri):
            issues.append(Issue("tlsrpt_bad_uri", at, index, {"uri": uri[:120]}))
        elif uri.split(":", 1)[0].lower() not in SCHEMES or uri_host(uri) is None:
            issues.append(Issue("tlsrpt_uri_scheme", at, index, {"uri": uri[:120]}))
        else:
            uris.append(uri)
    return uris, issues
