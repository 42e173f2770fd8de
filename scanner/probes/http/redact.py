"""URLs fit for facts and evidence: passwords and token-like query or fragment values removed.

A Location header, a redirect hop or a script URL may carry an OAuth code, a login state
or a session id; facts are stored and reports are shared, so such values never leave the
probe. Parameter names stay (they say what was there), values are replaced.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

SENSITIVE_PARAM = re.compile(
    r"(?i)(token|code|session|sess|sid|ticket|auth|key|secret|pass|pwd|state|jwt|sig|saml|assertion|nonce|credential)")


def redact_url(url: str) -> str:
    """A URL fit for evidence: passwords and token-like query or fragment values removed."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url[:300]
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "[redacted]@" + netloc.rsplit("@", 1)[1]

    def scrub(qs: str) -> str:
        out = []
        for pair in qs.split("&"):
            name, eq, _ = pair.partition("=")
            out.append(f"{name}=[redacted]" if eq and SENSITIVE_PARAM.search(name) else pair)
        return "&".join(out)

    rebuilt = f"{parts.scheme}://{netloc}{parts.path}"
    if parts.query:
        rebuilt += "?" + scrub(parts.query)
    if parts.fragment:
        rebuilt += "#" + scrub(parts.fragment)
    return rebuilt[:500]
