"""The dashboard: escaped, self-contained, strict CSP, both languages, every service linked."""

import base64
import copy
import hashlib
import html
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
    evil["findings"][0]["message"] = evil["findings"][0]["message_nl"] = "<b>not bold</b>"  # the nl page shows message_nl
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
    # a copy: render_dashboard adds keys to the result it is given, and lab_scan is the session's
    render_dashboard(copy.deepcopy(lab_scan[0]), tmp_path / "d", default_registry(), primary="nl")
    nl = (tmp_path / "d" / "index.html").read_text()
    en = (tmp_path / "d" / "en" / "index.html").read_text()
    assert 'lang="nl"' in nl and "Per organisatie" in nl and 'href="en/index.html"' in nl
    assert 'lang="en"' in en and "By organisation" in en and 'href="../index.html"' in en
    page = (tmp_path / "d" / "services" / "onderwijs.html").read_text()
    assert "Oplossing" in page and "niet in orde" in page
    caps_nl = (tmp_path / "d" / "services" / "belastingaangifte.html").read_text()
    assert "B: TLS 1.0 of 1.1 aangeboden (tls.protocol.tls10 op https://" in caps_nl  # the cap told in Dutch
    caps_en = (tmp_path / "d" / "en" / "services" / "belastingaangifte.html").read_text()
    assert "B: TLS 1.0 or 1.1 offered" in caps_en
    for org in ("Digitaal Vlaanderen", "Stad Gent", "VDAB"):
        assert org in nl
    lapsing = nl.split("Certificaten die verlopen vóór ze vernieuwd worden", 1)[1]
    assert "https://archief.vlaanderen.test/" in lapsing and "verlopen" in lapsing  # the expired lab certificate
    assert "https://mijn.vlaanderen.test/" not in lapsing


def test_trend_against_the_previous_run_under_the_same_policy(lab_scan, tmp_path):
    import shutil

    from click.testing import CliRunner

    from scanner.cli import main
    from scanner.store import Store

    result, db, run_id = lab_scan
    copy = tmp_path / "history.db"
    shutil.copy(db, copy)
    store = Store(copy)
    policy = result["run"]["policy"]
    store.start_run("20200101T000000Z-old000", "2020-01-01T00:00:00Z", "0.0.1", policy, None, {})
    store.start_run("20200102T000000Z-other0", "2020-01-02T00:00:00Z", "0.0.1", "other@1", None, {})
    for run in ("20200101T000000Z-old000", "20200102T000000Z-other0"):
        for sid, grade, score in (("burgerprofiel", "C", 60.0), ("onderwijs", "A", 90.0)):
            store.save_service(run, sid, sid, "", {})
            store.save_judgement(run, sid, score, grade, [], {}, [], [])
        store.finish_run(run, True)
    assert store.previous_run(run_id) == "20200101T000000Z-old000"  # same policy, complete, earlier
    store.close()
    out = tmp_path / "report"
    res = CliRunner().invoke(main, ["report", "--db", str(copy), "--run", run_id, "--out", str(out)])
    assert res.exit_code == 0, res.output
    index = (out / "dashboard" / "index.html").read_text()
    assert "20200101T000000Z-old000" in index
    row = index.split('services/burgerprofiel.html')[1].split("</tr>")[0]
    assert "▲ was C" in row and "trend-up" in row
    row = index.split('services/onderwijs.html')[1].split("</tr>")[0]
    assert "▼ was A" in row and "trend-down" in row
    row = index.split('services/gent-eloket.html')[1].split("</tr>")[0]
    assert "nieuw" in row


def cap_items(page):
    """The list items under "Why this grade" of a service page."""
    text = page.read_text(encoding="utf-8")
    block = re.search(r'<ul class="caps">(.*?)</ul>', text, re.S)
    return [html.unescape(li) for li in re.findall(r"<li>(.*?)</li>", block[1], re.S)] if block else []


def test_every_cap_of_the_lab_is_told_in_each_language(lab_scan_all, tmp_path):
    """Each cap that fires anywhere in the lab: the Dutch page gives the policy's Dutch reason and
    names the check and target; the English page shows contract v1's line."""
    from checks.registry import default_registry as registry
    from scanner.policy import INCOMPLETE, load_policy

    result = copy.deepcopy(lab_scan_all[0])
    policy = load_policy(result["run"]["policy"], registry())
    dutch = {c.code: c.reason["nl"] for c in policy.caps}
    render_dashboard(result, tmp_path / "d", registry(), primary="nl")
    fired = 0
    for svc in result["services"]:
        nl = cap_items(tmp_path / "d" / "services" / f"{svc['id']}.html")
        en = cap_items(tmp_path / "d" / "en" / "services" / f"{svc['id']}.html")
        assert en == svc["caps"] and len(nl) == len(svc["caps_detail"]), svc["id"]
        for cap, line in zip(svc["caps_detail"], nl, strict=True):
            fired += 1
            if cap["grade"] == INCOMPLETE:
                assert line.startswith("onvolledig: verplichte controles konden niet worden uitgevoerd: "), line
            else:
                assert line.startswith(f"{cap['grade']}: {dutch[cap['code']]} ("), line
                assert all(t in line for t in cap["targets"]) and " op " in line, line
            assert all(c in line for c in cap["checks"]) and (cap["checks"] or "er werd niets gemeten" in line), line
    assert fired >= 20  # the lab fires many caps; a lab without them would prove nothing
