"""The dashboard as a person sees it: Debian's Chromium opens the pages from file:// (tests/browser.py).

No console errors or refused resources, no request outside file://, the trend, the regression
and each problem's age in both languages, tables that sort and filter with the script and read
without it, a phone-width page that keeps the grade in view, a printout of the failures only,
and markup from a server's headers and security.txt or the inventory's names shown as text and
never run. Screenshots of the index, an organisation and a service at 1400 and 390 px are kept
in $BOLWERK_SCREENSHOTS (.ci/run sets it and names the folder in its log). Skipped, not failed,
where Chromium is not installed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from reports.html import org_slug
from scanner.cli import main
from tests.browser import Chromium, chromium_path

pytestmark = pytest.mark.skipif(chromium_path() is None,
                                reason="chromium is not installed (.ci/run installs Debian's chromium)")
WIDTHS = (1400, 390)


@pytest.fixture(scope="module")
def browser():
    with Chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("BOLWERK_SCREENSHOTS")
    return Path(folder) if folder else tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def site(two_runs) -> Path:
    result, out = two_runs
    assert result.exit_code == 0, result.output
    return out / "dashboard"


def opened(browser: Chromium, page: Path, width: int = 1400):
    browser.viewport(width)
    load = browser.open(page.as_uri())
    assert load.errors == [], (page, load.errors)
    outside = [u for u in load.requests if not u.startswith("file:")]
    assert outside == [], (page, outside)
    return load


def test_pages_open_clean_from_file_at_desktop_and_phone_width(browser, site, shots):
    leuven_org = f"organisations/{org_slug('Stad Leuven')}.html"
    pages = {"index": "index.html", "organisation": leuven_org, "service": "services/leuven-stadsportaal.html",
             "pillar": "pillars/certificate.html", "list": "lists/all-1.html", "changes": "lists/changes-1.html",
             "index-en": "en/index.html", "organisation-en": f"en/{leuven_org}",
             "service-en": "en/services/onderwijs.html"}
    for name, page in pages.items():
        for width in WIDTHS:
            load = opened(browser, site / page, width)
            assert load.requests[0] == (site / page).as_uri() and all(
                u.endswith(("style.css", ".html")) for u in load.requests), load.requests  # the page, its stylesheet
            assert browser.evaluate("document.documentElement.scrollWidth") <= width + 1, (page, width)
            if name in ("index", "organisation", "service"):
                browser.screenshot(shots / f"{name}-{width}.png")
    browser.viewport(390)
    browser.open((site / "index.html").as_uri())
    right = browser.evaluate("document.querySelector('#worst ~ .scroll tbody .grade').getBoundingClientRect().right")
    assert 0 < right <= 390  # on a phone the grade stays in view
    assert sorted(p.name for p in shots.glob("*.png")) == sorted(
        f"{n}-{w}.png" for n in ("index", "organisation", "service") for w in WIDTHS)


def test_trend_regression_and_age_as_a_reader_sees_them_in_both_languages(browser, site):
    opened(browser, site / "index.html")
    text = browser.evaluate("document.body.innerText")
    assert "2 achteruitgegaan" in text and "1 vooruitgegaan" in text
    regressed = text.split("Achteruitgegaan (2)")[1].split("Vooruitgegaan (1)")[0]
    assert "Stad Leuven – stadsportaal" in regressed and "▼ achteruit B → F" in regressed
    assert "nu niet in orde: " in regressed  # which checks turned, in words
    assert browser.evaluate("document.querySelectorAll('svg.trend rect').length") >= 4  # two runs, stacked
    assert browser.evaluate("document.querySelector('svg.trend').getBoundingClientRect().height") > 100
    opened(browser, site / "services" / "leuven-stadsportaal.html")
    text = browser.evaluate("document.body.innerText")
    assert "Score 71 → F: certificaat niet vertrouwd" in text or "→ F: certificaat" in text
    assert "Nieuw in deze scan." in text and "Open sinds minstens" in text
    assert "Rapport per scan: B → F" in text
    opened(browser, site / "en" / "services" / "leuven-stadsportaal.html")
    text = browser.evaluate("document.body.innerText")
    assert "New in this scan." in text and "Open since at least" in text and "Grade per scan: B → F" in text
    assert browser.evaluate("document.documentElement.lang") == "en"
    opened(browser, site / "en" / "index.html")
    text = browser.evaluate("document.body.innerText")
    assert "now failing: " in text.split("Regressed (2)")[1].split("Improved (1)")[0]


def test_tables_sort_and_filter_with_the_script_and_read_without_it(browser, site):
    opened(browser, site / "index.html")
    rows = "[...document.querySelectorAll('#org-table tbody tr')]"
    names = browser.evaluate(f"{rows}.map(r => r.cells[0].innerText)")
    browser.evaluate("document.querySelector('#org-table thead th').querySelector('button').click()")
    assert browser.evaluate(f"{rows}.map(r => r.cells[0].innerText)") == sorted(names, key=str.lower)
    assert browser.evaluate("document.querySelector('#org-table thead th').getAttribute('aria-sort')") == "ascending"
    browser.evaluate("const f = document.getElementById('org-filter'); f.value = 'leuven';"
                     "f.dispatchEvent(new Event('input'))")
    assert browser.evaluate(f"{rows}.filter(r => !r.hidden).map(r => r.cells[0].innerText)") == ["Stad Leuven"]
    assert browser.evaluate("document.getElementById('org-filter').offsetParent !== null")  # shown with scripts
    browser.call("Emulation.setScriptExecutionDisabled", session=True, value=True)
    try:
        opened(browser, site / "index.html")
        assert browser.evaluate("document.getElementById('org-filter').offsetParent") is None  # hidden without
        assert browser.evaluate(f"{rows}.length") == len(names)  # every row there, in the written order
        assert browser.evaluate("document.querySelector('#org-table thead button')") is None
    finally:
        browser.call("Emulation.setScriptExecutionDisabled", session=True, value=False)


def test_printed_a_service_page_shows_its_failures_in_colour(browser, site):
    opened(browser, site / "services" / "leuven-stadsportaal.html")
    browser.call("Emulation.setEmulatedMedia", session=True, media="print")
    try:
        assert browser.evaluate("getComputedStyle(document.querySelector('section.passes')).display") == "none"
        assert browser.evaluate("getComputedStyle(document.querySelector('header nav')).display") == "none"
        adjust = browser.evaluate("getComputedStyle(document.querySelector('.grade')).printColorAdjust")
        assert adjust == "exact"
        assert browser.evaluate("getComputedStyle(document.querySelector('.finding')).display") == "block"
    finally:
        browser.call("Emulation.setEmulatedMedia", session=True, media="")


@pytest.fixture(scope="module")
def hostile(lab, lab_args, tmp_path_factory) -> Path:
    """The dashboard of a scan of the lab server whose headers and security.txt carry markup, listed
    under an inventory whose names do too."""
    folder = tmp_path_factory.mktemp("hostile")
    inventory = folder / "inventory.toml"
    inventory.write_text(
        "[[service]]\n"
        "id = \"opmaak\"\n"
        "name = \"<script>window.__pwned=5</script>\"\n"
        "organisation = '\"><img src=x onerror=\"window.__pwned=6\">'\n"
        "owner = \"<svg onload=window.__pwned=7>\"\n"
        "urls = [\"https://opmaak.webproef.test/\"]\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["scan", str(inventory), "--db", str(folder / "h.db"), "--out",
                                    str(folder / "out"), *lab_args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return folder / "out" / "dashboard"


def test_markup_from_servers_and_the_inventory_is_shown_as_text_and_runs_nothing(browser, hostile):
    hostile_org = '"><img src=x onerror="window.__pwned=6">'
    organisation = f"organisations/{org_slug(hostile_org)}.html"
    for page in ("index.html", "services/opmaak.html", organisation, "pillars/http.html", "en/services/opmaak.html"):
        load = opened(browser, hostile / page)
        assert browser.evaluate("window.__pwned") is None, page
        assert browser.evaluate("document.images.length") == 0 and browser.evaluate(
            "document.querySelectorAll('svg [onload], [onerror]').length") == 0, page
        assert browser.evaluate("document.querySelectorAll('script').length") <= 1, page  # ours, at most
        assert not any(u.endswith("/x") for u in load.requests), page
    browser.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    text = browser.evaluate("document.body.innerText")
    for shown in ("<script>window.__pwned=5</script>",  # the inventory's name
                  "<script>window.__pwned=3</script>",  # a Content-Security-Policy header
                  '"><img src=x onerror="window.__pwned=1">',  # an X-Frame-Options header
                  "<script>window.__pwned=4</script>",  # a security.txt Contact
                  '"><img src=x onerror="window.__pwned=6">'):  # the inventory's organisation
        assert shown in text, shown
