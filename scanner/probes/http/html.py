"""What the HTTP checks need from an HTML page, extracted by an HTML5 parser (Lexbor, through
selectolax). Pure, no I/O.

Only facts are kept, never the page: `<meta http-equiv>` policies, script and stylesheet
sources with their integrity attributes (Subresource Integrity), and every sub-resource
or form loaded over plain http:// (mixed content). Lists are capped.
"""

from __future__ import annotations

from typing import Any

from selectolax.lexbor import LexborHTMLParser

from scanner.probes.http.redact import redact_text, redact_url
from scanner.standards import urls
from scanner.standards.urls import Url, UrlError

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


class _Extractor:
    """Takes the elements of the parsed document in document order, keeping only the facts."""

    def __init__(self, base: Url) -> None:
        self.base = base
        self.meta_csp: list[str] = []
        self.meta_referrers: list[str] = []
        self.scripts: list[dict[str, Any]] = []
        self.stylesheets: list[dict[str, Any]] = []
        self.insecure: list[dict[str, str]] = []
        self.inline_scripts = 0

    def element(self, tag: str, a: dict[str, str]) -> None:
        if tag == "meta":
            equiv = a.get("http-equiv", "").strip().lower()
            if equiv == "content-security-policy" and len(self.meta_csp) < 10:
                self.meta_csp.append(a.get("content", "")[:4096])
            elif a.get("name", "").strip().lower() == "referrer" and len(self.meta_referrers) < 10:
                self.meta_referrers.append(a.get("content", "")[:100])
        elif tag == "script":
            if a.get("src"):
                self._add(self.scripts, {"src": self._shown(a["src"]), "integrity": bool(a.get("integrity", "").strip()),
                                         "crossorigin": a.get("crossorigin")})
            else:
                self.inline_scripts += 1
        elif tag == "link" and "stylesheet" in a.get("rel", "").lower().split() and a.get("href"):
            self._add(self.stylesheets, {"src": self._shown(a["href"]), "integrity": bool(a.get("integrity", "").strip()),
                                         "crossorigin": a.get("crossorigin")})
        self._mixed(tag, a)

    def _read(self, value: str) -> tuple[str, str | None]:
        """A reference on the page: (as facts show it, the scheme a browser loads it with)."""
        try:
            url = urls.parse(value, self.base)
        except UrlError as exc:
            return redact_text(value.strip()), exc.scheme
        return (redact_url(url) if url.hierarchical else redact_text(str(url))), url.scheme

    def _shown(self, value: str) -> str:
        return self._read(value)[0][:URL_CAP]

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
            refs = [part.strip().split()[0] for part in value.split(",") if part.strip()] if attr == "srcset" else [value]
            for ref in refs:
                shown, scheme = self._read(ref)
                if scheme in ("http", "ws"):
                    self._add(self.insecure, {"tag": tag, "attr": attr, "url": shown[:URL_CAP], "kind": kind})


def extract(body: bytes, page_url: Url, charset: str | None = None) -> dict[str, Any]:
    """Facts of one HTML page; tolerant of broken markup (an HTML5 parser never rejects a page).

    Lexbor's parse is linear in the page; still, the HTTP probe runs this in a CPU worker
    under a time budget (scanner/probes/cpu.py), as every parse of a large input.
    """
    tree = LexborHTMLParser(_text(body, charset))
    parser = _Extractor(_base(tree, page_url))
    for node in tree.css("*"):
        parser.element(node.tag, {k.lower(): (v or "") for k, v in node.attributes.items()})
    return {"meta_csp": parser.meta_csp, "meta_referrers": parser.meta_referrers, "scripts": parser.scripts,
            "stylesheets": parser.stylesheets, "insecure": parser.insecure,
            "inline_scripts": parser.inline_scripts}


def _base(tree: LexborHTMLParser, page: Url) -> Url:
    """The document's base URL: the first <base> with an href, if it reads (HTML §4.2.3)."""
    node = tree.css_first("base[href]")
    try:
        found = urls.parse((node.attributes.get("href") or "").strip(), page) if node else page
    except UrlError:
        return page
    return found if found.hierarchical else page


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
