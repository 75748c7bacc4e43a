"""The first page a newcomer sees, on a store holding real-format SIDPOL counts beside synthetic points.

The store is built by the test: the small synthetic points store of the other browser
tests, plus a SIDPOL file in the real release's exact format (tests/sidpol_fixture.py)
ingested through ``geo.datasets.ingest_dataset`` as the real ``sidpol`` layer. The page
is opened as an anonymous visitor (the public role) with a bare URL, the way a user
arrives: the browser's request is the server's first.
"""

from __future__ import annotations

import shutil

import pytest
from selenium.webdriver.common.by import By
from served import wait_for

from dashboard.testing import ServedApp
from sidpol_fixture import expected_counts, manifest_for, sidpol_frame, write_sidpol_fixture

pytestmark = pytest.mark.browser

ATTRIBUTION = "Fuente: Ministerio del Interior (MININTER), SIDPOL — datos abiertos"


@pytest.fixture(scope="module")
def real_store(views_store, tmp_path_factory):
    from geo.datasets import ingest_dataset

    root = tmp_path_factory.mktemp("real-counts") / "store"
    shutil.copytree(views_store, root)
    fixture = write_sidpol_fixture(tmp_path_factory.mktemp("sidpol") / "denuncias_sidpol_clean.parquet")
    report = ingest_dataset("sidpol", root, path=fixture, manifest=manifest_for(fixture))
    assert report.n_rejected == 1 and report.rejects_by_reason == {"bad_period": 1}  # the c"2018" row
    return root


@pytest.fixture(scope="module")
def served_public(real_store, demo_districts):
    from dashboard import create_app
    from dashboard.access import AccessConfig

    app = create_app(real_store, districts=demo_districts, access=AccessConfig())  # anonymous visitors: public
    served = ServedApp(app.server)
    yield served
    served.stop()


def _attr(browser, element_id: str, name: str) -> str | None:
    found = browser.find_elements(By.ID, element_id)
    return found[0].get_attribute(f"data-{name}") if found else None


def _text(browser, element_id: str) -> str:
    """An element's text read in one script call (a node Dash replaces meanwhile cannot go stale)."""
    return browser.execute_script("var e = document.getElementById(arguments[0]); return e ? e.innerText : '';",
                                  element_id) or ""


def _sjl_row(browser) -> dict | None:
    """San Juan de Lurigancho's row of the top-districts table: its count and text (None until drawn)."""
    return browser.execute_script("""var r = document.querySelector("#counts-top-table tr[data-ubigeo='150132']");
        return r ? {n: r.getAttribute('data-n'), text: r.innerText} : null;""")


def test_first_page_shows_real_sjl_counts_labelled_and_attributed(served_public, browser, artifacts):
    browser.get(served_public.url + "/")
    wait_for(lambda: _sjl_row(browser) is not None, what="the real counts' top districts")
    wait_for(lambda: browser.execute_script("return document.querySelectorAll('path.hw-counts-district').length") > 0,
             what="the district choropleth")
    # The default view is the store's last 13 weeks, counted in the whole months it touches.
    first, last = (tuple(int(x) for x in m.split("-")) for m in _attr(browser, "counts-status", "months").split("/"))
    months = [(y, m) for y in range(first[0], last[0] + 1) for m in range(1, 13) if first <= (y, m) <= last]
    assert 3 <= len(months) <= 4 and last <= (2026, 4)
    expected = expected_counts(sidpol_frame(), months, public=True)
    row = _sjl_row(browser)
    sjl = int(row["n"])
    assert sjl == int(expected["150132"]) > 1000  # real counts, sensitive category left out for the public
    assert "San Juan de Lurigancho" in row["text"]
    assert _attr(browser, "counts-status", "real") == "yes"
    assert int(_attr(browser, "counts-status", "total")) == int(expected[expected.index.str[:4].isin(
        ["1501", "0701"])].sum())  # the home area, Lima + Callao, and nothing outside it

    banner = _text(browser, "synthetic-banner")
    assert "DATOS REALES" in banner and "DATOS SINTÉTICOS" in banner
    assert banner.index("Distritos") < banner.index("DATOS REALES") < banner.index("Hexágonos") < banner.index("DATOS SINTÉTICOS")
    source = _text(browser, "counts-source")
    assert ATTRIBUTION in source and "ODC-By" in source
    assert "DATOS REALES" in _text(browser, "counts-summary")
    # The real layer is the one drawn: the synthetic hexes are hidden, SJL's district is coloured.
    assert browser.execute_script("""
        var p = document.querySelector('path.hw-counts-district.hw-c-150132');
        return p !== null && getComputedStyle(p).display !== 'none' && p.getAttribute('fill') !== '#bdbdbd';""")
    hidden = browser.execute_script("""return Array.from(document.querySelectorAll('path.hw-hex'))
        .every(function (p) { return getComputedStyle(p).display === 'none'; });""")
    assert hidden
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    browser.save_screenshot(str(artifacts / "real_counts_first_page.png"))


def test_layer_switch_and_english_keep_the_labels(served_public, browser):
    browser.get(served_public.url + "/?from=2023-09-20&to=2023-11-18&area=all")
    wait_for(lambda: _attr(browser, "counts-status", "months") == "2023-09/2023-11", what="Sep-Nov 2023 counts")
    # "all" is every district the counts cover, Sullana's small Lancones included.
    wait_for(lambda: browser.execute_script("return document.querySelectorAll('path.hw-c-200604').length") > 0,
             what="Lancones drawn")
    browser.find_element(By.CSS_SELECTOR, "#map-layer input[value='hexes']").click()
    wait_for(lambda: browser.execute_script("""var h = document.querySelector('path.hw-hex');
        return h !== null && getComputedStyle(h).display !== 'none';"""), what="hexes shown")
    assert browser.execute_script("""return Array.from(document.querySelectorAll('path.hw-counts-district'))
        .every(function (p) { return getComputedStyle(p).display === 'none'; });""")
    browser.find_element(By.CSS_SELECTOR, "#lang input[value='en']").click()
    wait_for(lambda: "REAL DATA" in _text(browser, "synthetic-banner"), what="the English banner")
    assert "SYNTHETIC" in _text(browser, "synthetic-banner")
    wait_for(lambda: "reports in" in _text(browser, "counts-summary"), what="the English summary")
    assert "REAL DATA" in _text(browser, "counts-summary")
    assert ATTRIBUTION in _text(browser, "counts-source")
