"""The dashboard: summary first, escaped, self-contained, strict CSP, both languages, history like
with like, every link resolving; small where the estate is large (tests/test_dashboard_browser.py
opens it in Chromium)."""

import html
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from markupsafe import escape

from checks.registry import default_registry
from reports import html as dashboard
from reports.history import history
from reports.html import csp_hash, render_dashboard
from reports.json import service_result
from reports.ledger import Ledger
from scanner.cli import main
from scanner.model import InputError
from scanner.store import Store


class Page(HTMLParser):
    """What a page links to, runs and declares."""

    def __init__(self, path: Path):
        super().__init__()
        self.links, self.scripts, self.inline_styles, self.csp, self.ids = [], [], 0, None, set()
        self.stylesheets, self._script = [], False
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("href", "src", "action", "xlink:href"):
            if key in attrs and tag != "link":
                self.links.append(attrs[key])
        if tag == "link":
            self.stylesheets.append(attrs.get("href"))
        if "style" in attrs or tag == "style":
            self.inline_styles += 1
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "script":
            self._script = True
            self.scripts.append(attrs.get("src") or "")
        if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy":
            self.csp = attrs["content"]

    def handle_data(self, data):
        if self._script:
            self.scripts[-1] += data

    def handle_endtag(self, tag):
        self._script = self._script and tag != "script"


def copy_store(db: Path, tmp_path: Path) -> Store:
    shutil.copy(db, tmp_path / "h.db")
    return Store(tmp_path / "h.db")


def render(store: Store, out: Path, run_id: str | None = None, **kw) -> Path:
    return render_dashboard(store, run_id or store.resolve_run(None), out, default_registry(), **kw)


def test_every_page_is_escaped_self_contained_and_links_only_to_pages_it_wrote(lab_scan, tmp_path):
    _, db, run_id = lab_scan
    store = copy_store(db, tmp_path)
    evil = {"name": '<script>alert("x")</script>', "organisation": '"><img src=x onerror=alert(1)>',
            "owner": "<b>eigenaar</b>"}
    definition = json.loads(store.db.execute("SELECT definition FROM services WHERE run_id = ? AND "
                                             "service_id = 'onderwijs'", (run_id,)).fetchone()[0])
    store.db.execute("UPDATE services SET name = ?, organisation = ?, definition = ? WHERE run_id = ? AND "
                     "service_id = 'onderwijs'",
                     (evil["name"], evil["organisation"], json.dumps(definition | evil), run_id))
    out = tmp_path / "dash"
    index = render(store, out, banner="TLP:AMBER <i>")
    store.close()
    text = index.read_text(encoding="utf-8")
    assert '<script>alert("x")' not in text and "&lt;script&gt;alert(&#34;x&#34;)" in text
    assert "<img src=x" not in text and "&lt;b&gt;eigenaar" not in text  # the owner is on the organisation page
    org_page = next((out / "organisations").glob("img-src-x-onerror-alert-1-*.html"))
    assert "&lt;b&gt;eigenaar&lt;/b&gt;" in org_page.read_text()
    pages = sorted(out.rglob("*.html"))
    assert {p.parent.name for p in pages} >= {"services", "organisations", "pillars", "lists", "en"}
    for page in pages:
        parsed = Page(page)
        raw = page.read_text()  # the name and organisation as text in every table row that shows them
        assert '<script>alert("x")' not in raw and "<img src=x" not in raw, page
        assert parsed.csp.startswith("default-src 'none'; style-src 'self'; script-src "), page
        [sheet] = parsed.stylesheets  # one stylesheet, the dashboard's own file; no style written inline
        assert parsed.inline_styles == 0 and (page.parent / sheet).resolve().parent in (out, out / "en"), page
        assert (page.parent / sheet).resolve().name == "style.css" and (page.parent / sheet).is_file(), page
        for script in parsed.scripts:  # inline only, and exactly the one the policy's hash allows
            assert script and csp_hash(script) in parsed.csp, page
        if not parsed.scripts:
            assert "script-src 'none'" in parsed.csp, page
        assert "TLP:AMBER &lt;i&gt;" in page.read_text(), page  # the classification, on every page
        for link in parsed.links:
            assert not re.match(r"^[a-z][a-z0-9+.-]*:", link), (page, link)  # nothing outside, not even https:
            target, _, fragment = link.partition("#")
            resolved = (page.parent / target).resolve() if target else page
            assert resolved.is_file(), (page, link)
            if fragment:
                assert fragment in Page(resolved).ids, (page, link)
    assert (out / "style.css").is_file() and (out / "en" / "style.css").is_file()


def test_a_service_page_shows_every_value_from_the_inventory_servers_and_findings_as_text(lab_scan, tmp_path):
    """The service page is written in Python (reports/service_page.py), not by an autoescaping
    template: every value it shows from the inventory, a server or a finding, hostile, reads as
    text in both languages, a problem's evidence too."""
    _, db, run_id = lab_scan
    store = copy_store(db, tmp_path)
    site = dashboard.Site(tmp_path / "dash", "nl", store.run(run_id), history(store, run_id), default_registry(), None)
    for lang in site.langs:
        (site.base(lang) / "services").mkdir(parents=True)
    svc = service_result(store.service(run_id, "onderwijs", facts="packed"))
    told: list[str] = []  # each hostile value, shown as itself

    def evil() -> str:
        told.append(f"<script>alert({len(told)})</script>\"'&<img src=x onerror=alert({len(told)})>")
        return told[-1]

    svc.update(name=evil(), owner=evil(), organisation=evil(), tags=[evil(), evil()], grade="incomplete",
               caps_detail=None, caps=[evil()], mail_domains=[{"domain": evil(), "declared": True}])
    for ep in svc["endpoints"]:
        ep.update(target=evil(), kind=evil(), addresses=[evil(), "::1"])
    problem = next(f for f in svc["findings"] if f["status"] == "fail")
    problem.update(target=evil(), message=evil(), message_nl=evil(), evidence={"header": told[0]})
    waiver = {"reason": evil(), "owner": evil(), "expires": evil()}
    other = next(f for f in svc["findings"] if f["status"] in ("info", "not_applicable"))
    other.update(message=evil(), message_nl=evil())
    cause = dict(problem, id="cause", status="error", message=evil(), message_nl=evil())  # why it is incomplete
    svc["findings"] += [dict(problem, id="waived", status="waived", waiver=waiver), cause]
    dashboard._service(site, store, Ledger(tmp_path / "ledger.db"), svc)
    store.close()
    for lang in site.langs:
        text = (site.base(lang) / "services" / "onderwijs.html").read_text(encoding="utf-8")
        assert "<script" not in text and "<img" not in text
        other_language = "message_nl" if lang == "en" else "message"  # each message shown in its own language
        assert [value for value in told if str(escape(value)) not in text] == [f[other_language] for f in
                                                                               (problem, other, cause)], lang
        assert str(escape(json.dumps(told[0])[1:-1])) in text  # in the evidence, as JSON


def test_both_languages_summary_first(lab_scan, tmp_path):
    _, db, _ = lab_scan
    store = copy_store(db, tmp_path)
    render(store, tmp_path / "d", primary="nl")
    store.close()
    nl = (tmp_path / "d" / "index.html").read_text()
    en = (tmp_path / "d" / "en" / "index.html").read_text()
    assert 'lang="nl"' in nl and 'href="en/index.html"' in nl and 'lang="en"' in en and 'href="../index.html"' in en
    sections = ["In één oogopslag", "Eerst aanpakken", "De zwakste diensten", "Sinds de vorige scan",
                "Per organisatie", "Onvolledige diensten", "Certificaten die verlopen vóór ze vernieuwd worden"]
    assert [nl.index(s) for s in sections] == sorted(nl.index(s) for s in sections)  # in this order
    assert "At a glance" in en and "Fix first" in en and "The weakest services" in en
    worst = nl.split('id="worst"')[1].split("</table>")[0]
    names = re.findall(r'services/([a-z0-9-]+)\.html', worst)
    assert names[0] == "wegenwerken" and names[-1] in ("burgerprofiel", "vdab-vacatures-api")  # worst first
    # a score never contradicts its grade: the capped result, in words
    row = worst.split("services/erfgoedinventaris.html")[1].split("</tr>")[0]
    assert "→ F: certificaat voor een andere naam" in html.unescape(row)
    en_row = en.split('id="worst"')[1].split("services/erfgoedinventaris.html")[1].split("</tr>")[0]
    assert "→ F: certificate for another name" in html.unescape(en_row)
    page = (tmp_path / "d" / "services" / "belastingaangifte.html").read_text()
    assert "B: TLS 1.0 of 1.1 aangeboden (tls.protocol.tls10 op https://" in page  # the cap told in Dutch
    assert page.index("Op te lossen") < page.index("In orde")  # problems first, passes folded below
    assert re.search(r"<details><summary>\d+ controles in orde</summary>", page)
    lapsing = nl.split('id="lapsing"')[1]
    assert "https://archief.vlaanderen.test/" in lapsing and "verlopen" in lapsing
    assert "https://mijn.vlaanderen.test/" not in lapsing
    org = (tmp_path / "d" / "organisations" / f"{dashboard.org_slug('Digitaal Vlaanderen')}.html").read_text()
    assert "team-burgerprofiel@vlaanderen.test" in org and "Open problemen per controle" in org


def test_trend_regression_and_the_age_of_each_problem_after_two_runs(two_runs):
    result, out = two_runs
    assert result.exit_code == 0, result.output
    index = html.unescape((out / "dashboard" / "index.html").read_text())
    changes = index.split('id="changes"')[1].split('id="organisations"')[0]
    regressed, improved = changes.split("Vooruitgegaan (1)")
    assert "Achteruitgegaan (2)" in regressed and "Stad Leuven – stadsportaal" in regressed
    assert "▼ achteruit" in regressed and "B → F" in regressed and "Stad Gent – e-loket" in regressed
    assert "Onderwijs Vlaanderen" in improved and "C → A+" in improved
    assert index.count('<svg class="trend"') == 1 and index.count('class="spark"') > 13
    leuven = html.unescape((out / "dashboard" / "services" / "leuven-stadsportaal.html").read_text())
    expiry = leuven.split("De certificaten zijn geldig en verlopen niet binnenkort")[1].split("</article>")[0]
    assert "Nieuw in deze scan." in expiry
    dmarc = leuven.split("Het DMARC-beleid weigert vervalste mail")[1].split("</article>")[0]
    assert "Open sinds minstens" in dmarc  # open in both runs, the first of which is the oldest kept
    assert "▼ achteruit" in leuven and '<svg class="trend"' in leuven
    en = html.unescape((out / "dashboard" / "en" / "services" / "leuven-stadsportaal.html").read_text())
    assert "New in this scan." in en and "Open since at least" in en and "▼ regressed" in en


def test_trends_compare_like_with_like_or_mark_the_policy_change(two_runs, tmp_path):
    _, out = two_runs
    store = copy_store(out / "history.db", tmp_path)
    first, second = (r["id"] for r in reversed(store.runs()))
    store.close()
    policy = tmp_path / "strict.toml"
    policy.write_text('[policy]\nname = "strikt"\nversion = "1"\nextends = "bolwerk-baseline@2026.11"\n\n'
                      '[[caps]]\ncheck = "http.permissions_policy"\nstatus = ["warn", "fail"]\ngrade = "C"\n'
                      'reason = { en = "no Permissions-Policy", nl = "geen Permissions-Policy" }\n')

    def rescore(run_id: str) -> str:
        res = CliRunner().invoke(main, ["rescore", run_id, "--policy", str(policy), "--db", str(tmp_path / "h.db"),
                                        "--out", str(tmp_path / "o")])
        assert res.exit_code == 0, res.output
        return res.stdout.strip()

    rescore(second)  # the latest judged under a new policy: the earlier scan only under the old one
    index = html.unescape((tmp_path / "o" / "dashboard" / "index.html").read_text())
    assert "ander beleid" in index.split('id="trend"')[1].split("</figure>")[0]  # the change marked on the chart
    assert "Er is nog geen eerdere scan onder hetzelfde beleid" in index  # and no regressions across policies
    rescore(first)  # the earlier scan re-judged under the new policy too: like with like
    store = Store(tmp_path / "h.db")
    render(store, tmp_path / "o2", run_id=next(r["id"] for r in store.runs() if r["rescored_from"] == second))
    store.close()
    index = html.unescape((tmp_path / "o2" / "index.html").read_text())
    assert "ander beleid" not in index.split('id="trend"')[1].split("</figure>")[0]
    assert "Achteruitgegaan (2)" in index


def test_every_cap_of_the_lab_is_told_in_each_language(lab_scan_all, tmp_path):
    """Each cap that fires anywhere in the lab: the Dutch page gives the policy's Dutch reason and
    names the check and target; the English page shows contract v1's line."""
    from scanner.policy import INCOMPLETE, load_policy

    result, db, _ = lab_scan_all
    policy = load_policy(result["run"]["policy"], default_registry())
    dutch = {c.code: c.reason["nl"] for c in policy.caps}
    store = copy_store(db, tmp_path)
    render(store, tmp_path / "d", primary="nl")
    store.close()
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
    assert fired > 10
    incomplete = [svc for svc in result["services"] if svc["grade"] == INCOMPLETE]
    assert incomplete
    index = html.unescape((tmp_path / "d" / "index.html").read_text()).split('id="incomplete"')[1]
    for svc in incomplete[:dashboard.TOP]:  # each with its cause in words: what its first required check said
        row = index.split(f"services/{svc['id']}.html")[1].split("</tr>")[0]
        assert "niet gemeten: " in row or "controle mislukt: " in row, row


def cap_items(page: Path) -> list[str]:
    block = re.search(r'<ul class="caps">(.*?)</ul>', page.read_text(encoding="utf-8"), re.S)
    return [html.unescape(li) for li in re.findall(r"<li>(.*?)</li>", block[1], re.S)] if block else []


def test_a_large_estate_gives_a_small_index_and_paginated_lists(lab_scan, tmp_path, monkeypatch):
    """Every service of a many-fold estate shares one key; the index names a few and counts the
    rest, lists are split into pages, and no page grows with the estate but the list pages."""
    _, db, run_id = lab_scan
    store = copy_store(db, tmp_path)
    for n in range(20):  # copies of every service, its hosts renamed (the same certificates: shared keys)
        host = f"replace({{}}, '.test', '.c{n}.test')"
        store.db.execute(
            "INSERT INTO services (run_id, service_id, name, organisation, definition, score, grade, caps, pillars, "
            f"judged, caps_detail, findings) SELECT run_id, service_id || '.c{n}', name, organisation, "
            f"{host.format('definition')}, score, grade, caps, pillars, judged, caps_detail, findings FROM services "
            "WHERE run_id = ? AND service_id NOT LIKE '%.c%'", (run_id,))
        store.db.execute(f"INSERT INTO endpoints SELECT run_id, service_id || '.c{n}', {host.format('target')}, "
                         "addresses, facts, collected FROM endpoints WHERE run_id = ? AND service_id NOT LIKE '%.c%'",
                         (run_id,))
        store.db.execute(f"INSERT INTO mail_domains SELECT run_id, service_id || '.c{n}', {host.format('domain')}, "
                         "facts, collected FROM mail_domains WHERE run_id = ? AND service_id NOT LIKE '%.c%'",
                         (run_id,))
    total = store.count_services(run_id)
    monkeypatch.setattr(dashboard, "PAGE", 100)
    out = tmp_path / "d"
    render(store, out, workers=2)  # two processes, each a share of the service pages
    store.close()
    assert len(list((out / "services").glob("*.html"))) == total
    lists = sorted((out / "lists").glob("all-*.html"))
    assert len(lists) == -(-total // 100)
    listed = [re.findall(r'href="\.\./services/([^"]+)\.html"', p.read_text()) for p in lists]
    assert sum(len(x) for x in listed) == total and len({s for x in listed for s in x}) == total
    index = (out / "index.html").read_text()
    assert len(re.findall(r'href="services/[^"]+\.html"', index.split('id="organisations"')[0])) < 3 * dashboard.TOP
    keys = index.split('id="keys"')[1]
    assert re.search(r"en nog \d+", keys)  # a key shared by many services: a few named, the rest counted
    assert len(index) < 200_000


def test_the_dashboard_is_replaced_whole(lab_scan, tmp_path):
    _, db, _ = lab_scan
    store = copy_store(db, tmp_path)
    out = tmp_path / "out" / "dashboard"
    render(store, out)
    stale = out / "services" / "a-service-that-left.html"
    stale.write_text("old")
    render(store, out)
    assert not stale.exists() and (out / "index.html").exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["dashboard"]  # no staging folders left
    foreign = tmp_path / "mine"
    (foreign / "notes").mkdir(parents=True)
    with pytest.raises(InputError, match="exists and is not a Bolwerk dashboard"):
        render(store, foreign)
    assert sorted(p.name for p in tmp_path.iterdir() if "mine" in p.name) == ["mine"]  # untouched, nothing beside
    store.close()


def _luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_text_colours_meet_wcag_aa_contrast():
    css = (Path(dashboard.__file__).parent / "templates" / "style.css").read_text()
    var = dict(re.findall(r"--([a-z-]+):(#[0-9a-f]{6})", css))
    page, white, card = var["bg"], "#ffffff", "#ffffff"
    for name in ("g-a", "g-b", "g-d", "g-e", "g-f", "g-inc"):  # white letters on the badges
        assert _contrast(var[name], white) >= 4.5, name
    assert _contrast(var["g-c"], var["ink"]) >= 4.5  # C: dark letters on amber
    for name in ("pass", "warn", "fail", "err", "na", "muted", "blue"):  # coloured words on page and cards
        assert min(_contrast(var[name], page), _contrast(var[name], card)) >= 4.5, name
    for band in re.findall(r"\.heat td\.h-\d, \.heat-chip\.h-\d \{ background:(#[0-9a-f]{6}); \}", css):
        assert _contrast(band, var["ink"]) >= 4.5, band


def test_every_interface_text_exists_in_both_languages():
    def keys(table, prefix=""):
        return {f"{prefix}{k}" for k in table} | {
            key for k, v in table.items() if isinstance(v, dict) for key in keys(v, f"{prefix}{k}.")}

    texts = dashboard.texts()
    assert keys(texts["nl"]) == keys(texts["en"])
