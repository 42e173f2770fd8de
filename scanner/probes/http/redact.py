"""URLs fit for facts and evidence: credentials and token-like query or fragment values removed.

A Location header, a redirect hop or a script URL may carry an OAuth code, a login state
or a session id; facts are stored and reports are shared, so such values never leave the
probe. Parameter names stay (they say what was there), values are replaced. A URL that
`scanner.standards.urls` would not read is shown by `redact_text`: its credentials cut
out the same way, control characters escaped.
"""

from __future__ import annotations

import re

from scanner.standards.urls import Url

SENSITIVE_PARAM = re.compile(
    r"(?i)(token|code|session|sess|sid|ticket|auth|key|secret|pass|pwd|state|jwt|sig|saml|assertion|nonce|credential)")
SHOWN_CAP = 500
_USERINFO = re.compile(r"^([^/?#]*?//)[^/?#]*@")  # everything up to the authority's last "@"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _scrub(qs: str) -> str:
    out = []
    for pair in qs.split("&"):
        name, eq, _ = pair.partition("=")
        out.append(f"{name}=[redacted]" if eq and SENSITIVE_PARAM.search(name) else pair)
    return "&".join(out)


def redact_url(url: Url) -> str:
    """A parsed URL fit for evidence (it carries no credentials: the parser refuses them)."""
    shown = str(Url(url.scheme, url.host, url.port, url.path))
    if url.query is not None:
        shown += "?" + _scrub(url.query)
    if url.fragment is not None:
        shown += "#" + _scrub(url.fragment)
    return shown[:SHOWN_CAP]


def redact_text(text: str) -> str:
    """A URL the parser refused, fit for evidence: credentials cut out, query and fragment
    values scrubbed, control characters escaped, capped."""
    found = _USERINFO.match(text.replace("\\", "/"))  # browsers read a backslash as a slash
    if found:
        text = text[:len(found.group(1))] + "***@" + text[found.end():]
    head, hash_, fragment = text.partition("#")
    head, question, query = head.partition("?")
    shown = head + (question + _scrub(query) if question else "") + (hash_ + _scrub(fragment) if hash_ else "")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", shown)[:SHOWN_CAP]
