"""The dashboard: escaped, self-contained, strict CSP, both languages, every service linked."""

import base64
import copy
import hashlib
import re
from html.parser import HTMLParser

from checks.registry import default_registry
from reports.html import render_dashboard


class Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls, self.scripts, self.style, self.csp = [], 0, None, None
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("href", "src", "action"):
            if key in attrs:
                self.urls.append(attrs[key])
        if tag == "script":
            self.scripts += 1
        if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy":
            self.csp = attrs["content"]
        self._in_style = tag == "style"

    def handle_data(self, data):
        if self._in_style:
            self.style = data
            self._in_style = False


def parse(path):
    c = Collector()
    c.feed(path.read_text(encoding="utf-8"))
    return c


def test_dashboard_is_escaped_and_self_contained(lab_scan, tmp_path):
    result = copy.deepcopy(lab_scan[0])
    evil = result["services"][0]
    evil["name"] = '<script>alert("x")</script>'
    evil["organisation"] = '"><img src=x onerror=alert(1)>'
    evil["findings"][0]["message"] = "<b>not bold</b>"
    index = render_dashboard(result, tmp_path / "dash", default_registry())
    html = index.read_text(encoding="utf-8")
    assert '<script>alert("x")' not in html and "&lt;script&gt;" in html
    assert "<img src=x" not in html
    pages = sorted((tmp_path / "dash").rglob("*.html"))
    assert len(pages) == 2 * (1 + len(result["services"]))
    for page in pages:
        c = parse(page)
        assert c.scripts == 0
        assert c.csp and "default-src 'none'" in c.csp
        digest = base64.b64encode(hashlib.sha256(c.style.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in c.csp, page  # the only style allowed is our own
        for url in c.urls:
            assert not re.match(r"^[a-z]+:", url), (page, url)  # nothing external, not even https:
    service_page = (tmp_path / "dash" / "services" / f"{evil['id']}.html").read_text()
    assert "&lt;b&gt;not bold&lt;/b&gt;" in service_page


def test_both_languages(lab_scan, tmp_path):
    render_dashboard(lab_scan[0], tmp_path / "d", default_registry(), primary="nl")
    nl = (tmp_path / "d" / "index.html").read_text()
    en = (tmp_path / "d" / "en" / "index.html").read_text()
    assert 'lang="nl"' in nl and "Per organisatie" in nl and 'href="en/index.html"' in nl
    assert 'lang="en"' in en and "By organisation" in en and 'href="../index.html"' in en
    page = (tmp_path / "d" / "services" / "onderwijs.html").read_text()
    assert "Oplossing" in page and "niet in orde" in page
    caps_nl = (tmp_path / "d" / "services" / "belastingaangifte.html").read_text()
    assert "B: niet in orde: TLS 1.0 en TLS 1.1 worden niet aangeboden" in caps_nl  # the cap told in Dutch
    caps_en = (tmp_path / "d" / "en" / "services" / "belastingaangifte.html").read_text()
    assert "B: TLS 1.0 or 1.1 offered" in caps_en
    for org in ("Digitaal Vlaanderen", "Stad Gent", "VDAB"):
        assert org in nl
    lapsing = nl.split("Certificaten die verlopen vóór ze vernieuwd worden", 1)[1]
    assert "https://archief.vlaanderen.test/" in lapsing and "verlopen" in lapsing  # the expired lab certificate
    assert "https://mijn.vlaanderen.test/" not in lapsing
