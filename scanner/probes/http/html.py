"""What the HTTP checks need from an HTML page, extracted by the stdlib parser. Pure, no I/O.

Only facts are kept, never the page: `<meta http-equiv>` policies, script and stylesheet
sources with their integrity attributes (Subresource Integrity), and every sub-resource
or form loaded over plain http:// (mixed content). Lists are capped.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from scanner.probes.http.redact import redact_url

LIST_CAP = 100
URL_CAP = 300

# Sub-resources a browser fetches from a page: tag -> attributes holding a URL, and whether
# the content is "active" (script-capable: blocked as mixed content) or "passive" (upgraded
# or shown with a warning). https://www.w3.org/TR/mixed-content/
RESOURCE_ATTRS: dict[str, tuple[tuple[str, ...], str]] = {
    "script": (("src",), "active"),
    "iframe": (("src",), "active"),
    "frame": (("src",), "active"),
    "object": (("data",), "active"),
    "embed": (("src",), "active"),
    "link": (("href",), "active"),  # stylesheets, preloads, icons; judged by rel below
    "img": (("src", "srcset"), "passive"),
    "audio": (("src",), "passive"),
    "video": (("src", "poster"), "passive"),
    "source": (("src", "srcset"), "passive"),
    "track": (("src",), "passive"),
    "form": (("action",), "form"),
}
LINK_ACTIVE = frozenset({"stylesheet", "preload", "modulepreload", "prefetch", "import"})


class _Extractor(HTMLParser):
    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self._page = self.base = page_url
        self.meta_csp: list[str] = []
        self.meta_referrers: list[str] = []
        self.scripts: list[dict[str, Any]] = []
        self.stylesheets: list[dict[str, Any]] = []
        self.insecure: list[dict[str, str]] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "base" and a.get("href") and self.base == self._page:
            self.base = urljoin(self._page, a["href"].strip())
        elif tag == "meta":
            equiv = a.get("http-equiv", "").strip().lower()
            if equiv == "content-security-policy" and len(self.meta_csp) < 10:
                self.meta_csp.append(a.get("content", "")[:4096])
            elif a.get("name", "").strip().lower() == "referrer" and len(self.meta_referrers) < 10:
                self.meta_referrers.append(a.get("content", "")[:100])
        elif tag == "script":
            if a.get("src"):
                self._add(self.scripts, {"src": self._abs(a["src"]), "integrity": bool(a.get("integrity", "").strip()),
                                         "crossorigin": a.get("crossorigin")})
            else:
                self.inline_scripts += 1
        elif tag == "link" and "stylesheet" in a.get("rel", "").lower().split() and a.get("href"):
            self._add(self.stylesheets, {"src": self._abs(a["href"]), "integrity": bool(a.get("integrity", "").strip()),
                                         "crossorigin": a.get("crossorigin")})
        self._mixed(tag, a)

    def _abs(self, url: str) -> str:
        return redact_url(urljoin(self.base, url.strip()))[:URL_CAP]

    @staticmethod
    def _add(target: list, item: dict[str, Any]) -> None:
        if len(target) < LIST_CAP:
            target.append(item)

    def _mixed(self, tag: str, a: dict[str, str]) -> None:
        spec = RESOURCE_ATTRS.get(tag)
        if spec is None:
            return
        attrs, kind = spec
        if tag == "link":
            rels = set(a.get("rel", "").lower().split())
            if not rels & (LINK_ACTIVE | {"icon"}):
                return
            kind = "active" if rels & LINK_ACTIVE else "passive"
        for attr in attrs:
            value = a.get(attr, "").strip()
            if not value:
                continue
            urls = [part.strip().split()[0] for part in value.split(",") if part.strip()] if attr == "srcset" else [value]
            for url in urls:
                full = urljoin(self.base, url)
                if urlsplit(full).scheme in ("http", "ws"):
                    self._add(self.insecure, {"tag": tag, "attr": attr, "url": redact_url(full)[:URL_CAP],
                                              "kind": kind})


def extract(body: bytes, page_url: str, charset: str | None = None) -> dict[str, Any]:
    """Facts of one HTML page; tolerant of broken markup (the parser never raises on it)."""
    parser = _Extractor(page_url)
    try:
        parser.feed(_text(body, charset))
        parser.close()
    except (AssertionError, ValueError):  # pathological markup: keep what was read
        pass
    return {"meta_csp": parser.meta_csp, "meta_referrers": parser.meta_referrers, "scripts": parser.scripts,
            "stylesheets": parser.stylesheets, "insecure": parser.insecure,
            "inline_scripts": parser.inline_scripts}


def _text(body: bytes, charset: str | None) -> str:
    """The page as text in its declared charset when that is a text codec that can decode it
    leniently; otherwise as UTF-8 (a server may name `idna`, `undefined` or `base64`)."""
    if charset:
        try:
            return body.decode(charset, "replace")
        except (LookupError, UnicodeError):  # unknown, not a text codec, or strict-only
            pass
    return body.decode("utf-8", "replace")


def charset_of(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"').lower() or None
    return None
