"""URLs from the network, read once and strictly: RFC 3986, refusing what browsers read otherwise.

A browser reads a URL by the WHATWG URL Standard, which repairs what RFC 3986 forbids: it
drops tabs and newlines anywhere, reads a backslash as a slash, takes `https:host` for
`https://host`, decodes percent-escapes and IDNA in host names, and reads `0x7f.1` or
`2130706433` as 127.0.0.1. Where the two readings of a URL can differ, a URL is ambiguous:
clients disagree on where it leads (the stuff of open redirects and SSRF filter bypasses).
`parse` returns one normalised reading when both agree and raises `UrlError` (with a code)
otherwise, and refuses credentials (`user:password@`) outright: a URL that carries them is
a finding about the site, never a request of ours.

Where both readings agree, `parse` normalises as both do: scheme and host lower-cased,
international names in IDNA (UTS #46, non-transitional), the default port dropped, dot
segments removed (`%2e` counts as a dot), and spaces and non-ASCII characters in path,
query and fragment percent-encoded (UTF-8). A relative reference is resolved against a
base (RFC 3986 §5.2). Schemes other than http, https, ws and wss are kept opaque.
Pure, no I/O. (To tell whether a stored text is a URI at all, and where its grammar breaks,
for a lint finding: scanner/standards/uri.py.)
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import idna

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}  # WHATWG "special" schemes with a host
MAX_LENGTH = 8192

# UrlError codes and what they mean (the texts of findings that cite them are in checks/texts/).
REASONS = {
    "too_long": f"longer than {MAX_LENGTH} characters",
    "control": "a control character (tab, newline...) inside",
    "backslash": "a backslash, which browsers read as a slash",
    "userinfo": "credentials (user:password@) before the host",
    "bad_scheme": "not a valid scheme",
    "no_host": "no host after the scheme",
    "bad_host": "a host that is no valid name or address",
    "ambiguous_ipv4": "a host browsers read as an IPv4 address in another notation",
    "bad_port": "a port that is no number from 1 to 65535",
    "bad_percent": "a % not followed by two hexadecimal digits",
    "relative": "a relative reference without a base URL",
}

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_SPLIT = re.compile(r"^(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$", re.S)  # RFC 3986 App. B
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_NUMBER = re.compile(r"(?:0[xX][0-9A-Fa-f]*|[0-9]+)")
_OCTET = re.compile(r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])")
# RFC 3986 pchar (unreserved, sub-delims, ":" "@") plus "/" and "%"; "?" too in query and fragment
_PATH_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/%")
_QUERY_SAFE = _PATH_SAFE | {"?"}
_DOTS = {".": ".", "%2e": ".", "..": "..", ".%2e": "..", "%2e.": "..", "%2e%2e": ".."}


class UrlError(ValueError):
    """A URL `parse` will not read: `code` is a key of REASONS; `scheme` is the scheme a
    browser would give it (so a broken http:// URL on a page still counts as plain HTTP)."""

    def __init__(self, code: str, scheme: str | None = None) -> None:
        super().__init__(REASONS[code])
        self.code = code
        self.scheme = scheme


@dataclass(frozen=True)
class Url:
    """One URL, normalised. For http(s) and ws(s) `host` is ASCII (an IPv6 address without
    brackets) and `port` None for the scheme's default; other schemes keep `path` opaque."""

    scheme: str
    host: str = ""
    port: int | None = None
    path: str = ""
    query: str | None = None
    fragment: str | None = None

    @property
    def hierarchical(self) -> bool:
        return self.scheme in DEFAULT_PORTS

    @property
    def effective_port(self) -> int | None:
        return self.port if self.port is not None else DEFAULT_PORTS.get(self.scheme)

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    @property
    def origin(self) -> tuple[str, str, int | None]:
        return self.scheme, self.host, self.effective_port

    def without_fragment(self) -> Url:
        return Url(self.scheme, self.host, self.port, self.path, self.query)

    def __str__(self) -> str:
        out = f"{self.scheme}://{self.authority}{self.path}" if self.hierarchical else f"{self.scheme}:{self.path}"
        if self.query is not None:
            out += "?" + self.query
        if self.fragment is not None:
            out += "#" + self.fragment
        return out


def parse(text: str, base: Url | str | None = None) -> Url:
    """`text` (a URL or a reference relative to `base`) as one normalised URL, or UrlError."""
    scheme = browser_scheme(text, base)
    if len(text) > MAX_LENGTH:
        raise UrlError("too_long", scheme)
    text = text.strip("".join(map(chr, range(0x21))))  # as every reader does: C0 controls and space
    head = _SCHEME.match(text)
    if head and text[head.end():head.end() + 1] == ":" and head.group().lower() not in DEFAULT_PORTS:
        return Url(head.group().lower(), path=text[head.end() + 1:])  # mailto:, data:, javascript:...
    if _CONTROL.search(text):
        raise UrlError("control", scheme)
    if "\\" in text:
        raise UrlError("backslash", scheme)
    ref_scheme, authority, path, query, fragment = _SPLIT.match(text).groups()
    if ref_scheme is not None:
        if not _SCHEME.fullmatch(ref_scheme):
            raise UrlError("bad_scheme", scheme)
        if authority is None:  # "https:host" or "https:/host": a browser would add the slashes
            raise UrlError("no_host", scheme)
        return _build(ref_scheme.lower(), authority, _remove_dots(path), query, fragment)
    if base is None:
        raise UrlError("relative")
    base = parse(base) if isinstance(base, str) else base
    if not base.hierarchical:
        raise UrlError("relative")
    if authority is not None:
        return _build(base.scheme, authority, _remove_dots(path), query, fragment)
    if not path:
        path, query = base.path, query if query is not None else base.query
    elif path.startswith("/"):
        path = _remove_dots(path)
    else:
        path = _remove_dots(base.path[:base.path.rfind("/") + 1] + path)
    return _build(base.scheme, base.authority, path, query, fragment)


def browser_scheme(text: str, base: Url | str | None = None) -> str | None:
    """The scheme a browser gives `text` (tabs and newlines dropped, C0 and space trimmed;
    a reference takes its base's), even where `parse` refuses the URL."""
    cleaned = re.sub(r"[\t\n\r]", "", text[:MAX_LENGTH]).strip("".join(map(chr, range(0x21))))
    head = _SCHEME.match(cleaned)
    if head and cleaned[head.end():head.end() + 1] == ":":
        return head.group().lower()
    if base is None:
        return None
    return base.scheme if isinstance(base, Url) else browser_scheme(base)


def _build(scheme: str, authority: str, path: str, query: str | None, fragment: str | None) -> Url:
    if "@" in authority:
        raise UrlError("userinfo", scheme)
    host, port = _host_port(authority, scheme)
    return Url(scheme, host, port, _encode(path, _PATH_SAFE, scheme) or "/",
               None if query is None else _encode(query, _QUERY_SAFE, scheme),
               None if fragment is None else _encode(fragment, _QUERY_SAFE, scheme))


def _host_port(authority: str, scheme: str) -> tuple[str, int | None]:
    if authority.startswith("["):
        inner, bracket, rest = authority[1:].partition("]")
        try:
            if "%" in inner or not bracket:  # a zone index ("%25eth0") names an interface of the reader's own machine
                raise ValueError(inner)
            address = ipaddress.IPv6Address(inner)
            # RFC 5952 §5: an IPv4-mapped address is written with its IPv4 address in dotted form
            host = f"::ffff:{address.ipv4_mapped}" if address.ipv4_mapped else address.compressed
        except ValueError:
            raise UrlError("bad_host", scheme) from None
        if rest and not rest.startswith(":"):
            raise UrlError("bad_host", scheme)
        port_text = rest[1:] if rest else None
    else:
        name, colon, port_text = authority.rpartition(":") if ":" in authority else (authority, "", None)
        host = _host(name, scheme)
        if not colon:
            port_text = None
    port = None
    if port_text:  # "host:" is the default port (RFC 3986 §3.2.3)
        if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
            raise UrlError("bad_port", scheme)
        port = int(port_text)
    return host, None if port == DEFAULT_PORTS[scheme] else port


def _host(name: str, scheme: str) -> str:
    """A host name in ASCII, or a dotted-quad IPv4 address; what browsers would read otherwise fails."""
    if not name:
        raise UrlError("no_host", scheme)
    if "%" in name:  # a browser decodes it first: another host than the text says
        raise UrlError("bad_host", scheme)
    if not name.isascii():
        try:
            name = idna.encode(name, uts46=True, transitional=False).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            raise UrlError("bad_host", scheme) from None
    name = name.lower()
    name = name[:-1] if name.endswith(".") else name
    labels = name.split(".")
    if _NUMBER.fullmatch(labels[-1]):  # WHATWG: a host ending in a number is an IPv4 address
        if len(labels) == 4 and all(_OCTET.fullmatch(label) for label in labels):
            return name
        raise UrlError("ambiguous_ipv4", scheme)
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise UrlError("bad_host", scheme)
    for label in labels:
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except (idna.IDNAError, UnicodeError, ValueError):
                raise UrlError("bad_host", scheme) from None
    return name


def _encode(part: str, safe: frozenset[str], scheme: str) -> str:
    """Percent-encode what RFC 3986 does not allow (as UTF-8, as browsers do); a stray % fails."""
    if _BAD_PERCENT.search(part):
        raise UrlError("bad_percent", scheme)
    return "".join(c if c in safe else "".join(f"%{b:02X}" for b in c.encode("utf-8", "surrogatepass"))
                   for c in part)


def _remove_dots(path: str) -> str:
    """RFC 3986 §5.2.4, with `%2e` read as a dot (both readers do)."""
    if not path:
        return path
    segments = path.split("/")
    out: list[str] = []
    for i, segment in enumerate(segments):
        dots = _DOTS.get(segment.lower())
        last = i == len(segments) - 1
        if dots == ".":
            if last:
                out.append("")
        elif dots == "..":
            if len(out) > 1 or (out and out[0] != ""):
                out.pop()
            if last:
                out.append("")
        else:
            out.append(segment)
    joined = "/".join(out)
    if path.startswith("/") and not joined.startswith("/"):
        joined = "/" + joined
    return joined
