"""URI syntax (RFC 3986 §3), enough to tell a URI from a string that is not one. Pure, linear.

`problem` checks the generic syntax every URI shares: a scheme (§3.1), then only characters
the grammar allows, with `%` followed by two hex digits (§2.1); a web URI (http, https) also
needs an authority with a host (§3.2, RFC 9110 §4.2). Positions are 0-based offsets.
"""

from __future__ import annotations

import re
from string import ascii_letters, digits

_SCHEME_CHARS = frozenset(ascii_letters + digits + "+-.")
# Single character classes, so a search is linear. §2.2 reserved, §2.3 unreserved, "%" (§2.1).
_NOT_URI_CHAR = re.compile(r"[^A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
WEB_SCHEMES = ("http", "https")


def scheme_of(text: str) -> str | None:
    """The lower-case scheme of a URI (§3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"), or None."""
    head, colon, _ = text.partition(":")
    if not colon or not head or head[0] not in ascii_letters or any(c not in _SCHEME_CHARS for c in head):
        return None
    return head.lower()


def problem(text: str) -> tuple[int, str] | None:
    """(offset, reason) of the first break of the URI grammar, or None for a URI.

    Reasons: "no_scheme", "character", "percent", "no_host" (a web URI without a host).
    """
    scheme = scheme_of(text)
    if scheme is None:
        return 0, "no_scheme"
    start = len(scheme) + 1
    if bad := _NOT_URI_CHAR.search(text, start):
        return bad.start(), "character"
    if bad := _BAD_PERCENT.search(text, start):
        return bad.start(), "percent"
    if scheme in WEB_SCHEMES:
        rest = text[len(scheme) + 1:]
        authority = rest[2:].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1]
        host = authority.partition("]")[0].lstrip("[") if authority.startswith("[") else authority.split(":", 1)[0]
        if not rest.startswith("//") or not host:
            return len(scheme) + 1, "no_host"
    return None
