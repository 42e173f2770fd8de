"""CAA (RFC 8659): the property tags and the grammar of their values.

The tags (issuance, known, the iodef URL schemes) come from `data/dns/caa.toml`, after
RFC 8659 §4 and the IANA "Certification Authority Restriction Properties" registry; the
value grammar is RFC 8659 §4.2's ABNF.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from scanner.standards import read_toml

ISSUER_CRITICAL = 128  # the flag that forbids issuance by a CA that does not know the tag (§4.1)

_LABEL = r"[A-Za-z0-9](?:-*[A-Za-z0-9])*"
_PARAM = rf"{_LABEL}[ \t]*=[ \t]*[\x21-\x3a\x3c-\x7e]*"
_ISSUE_VALUE = re.compile(rf"[ \t]*(?:{_LABEL}(?:\.{_LABEL})*[ \t]*)?"
                          rf"(?:;[ \t]*(?:{_PARAM}(?:[ \t]*;[ \t]*{_PARAM})*[ \t]*)?)?")
_TAG = re.compile(r"[A-Za-z0-9]{1,15}")


@cache
def _table() -> dict[str, Any]:
    return read_toml("dns", "caa.toml")


def valid_tag(tag: str) -> bool:
    """1-15 letters and digits (§4.1.1)."""
    return bool(_TAG.fullmatch(tag))


def known_tag(tag: str) -> bool:
    return tag.lower() in _table()["known"]


def restricts_issuance(tag: str) -> bool:
    """`issue` or `issuewild`: a tag that says who may issue (§4.2, §4.3)."""
    return tag.lower() in _table()["issuance"]


def valid_issuer_value(value: str) -> bool:
    """An issuer domain name with optional key=value parameters (§4.2)."""
    return bool(_ISSUE_VALUE.fullmatch(value))


def valid_iodef(value: str) -> bool:
    """A mailto:, http: or https: URL (§4.4)."""
    return value.split(":", 1)[0].lower() in _table()["iodef_schemes"]
