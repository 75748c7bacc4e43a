"""The "Puntos calientes / Hot spots" section in a real headless Chromium: the drawn
patterns equal geo.hotspots' answer, declared districts are outlined, a click shows the
cell's history, and the public page shows the published grid only."""

from __future__ import annotations

from datetime import date

import pytest
from selenium.webdriver.common.by import By

from geo.hotspots import PATTERNS, emerging_hotspots, span_start
from geo.privacy import PublicGrid
from geo.store import Store
from geo.viewspec import View
from served import wait_for

pytestmark = pytest.mark.browser

QUERY = "/?from=2024-01-01&to=2025-12-31&area=lima_callao&day=2023-10-02"
END = date(2025, 12, 31)


def status(browser) -> dict:
    return browser.execute_script("const e = document.getElementById('hs-status'); return e ? {...e.dataset} : {}")


def legend_counts(browser) -> dict[str, int]:
    return browser.execute_script(
        "const o = {}; document.querySelectorAll('#hs-legend [data-pattern]').forEach("
        "e => o[e.dataset.pattern] = parseInt(e.dataset.count)); return o")


def expected(store, demo_districts, *, public: bool):
    st = Store.open(store)
    first = date.fromisoformat(st.meta["coverage"]["start"])
    view = View(start=span_start(END, 24, first), end=END, area="lima_callao", resolution=8)
    return emerging_hotspots(st, view, period="month", public=public, grid=PublicGrid() if public else None,
                             districts=demo_districts)


def open_section(browser, url: str):
    browser.get(url)
    # The map is the page; the hot spots open from their tab, as a reader opens them.
    tab = wait_for(lambda: browser.find_elements(By.ID, "tab-hotspots"), what="the hot-spot tab")[0]
    tab.click()
    section = wait_for(lambda: browser.find_elements(By.ID, "section-hotspots"), what="the hot-spot section")[0]
    wait_for(lambda: section.is_displayed(), what="the hot-spot tab to open")
    wait_for(lambda: status(browser).get("cells"), what="the hot-spot layer")


def test_official_hot_spot_map_legend_overlay_and_history(served_app, browser, views_store, demo_districts, artifacts):
    want = expected(views_store, demo_districts, public=False)
    open_section(browser, served_app.url + QUERY)
    s = status(browser)
    assert s["public"] == "0" and s["resolution"] == "8" and int(s["cells"]) == want.n_locations
    n_patterned = sum(v for p, v in want.pattern_counts().items() if p != "no pattern detected")
    assert int(s["patterned"]) == n_patterned > 0
    wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#hs-map path.hw-hs")) == n_patterned,
             what="one hexagon per patterned cell")
    assert legend_counts(browser) == want.pattern_counts()
    assert set(legend_counts(browser)) == set(PATTERNS)
    # the districts declared on the page's day (kept inside the period: 2024-01-01) are outlined
    declared = browser.find_elements(By.CSS_SELECTOR, "#hs-map path.hw-hs-declared")
    assert any("hw-d-150132" in (e.get_attribute("class") or "") for e in declared)
    # the resolution choice offers the officials' finer cells
    opts = [e.get_attribute("value") for e in browser.find_elements(By.CSS_SELECTOR, "#hs-res input")]
    assert {"9", "10"} <= set(opts)
    # a click on a coloured hexagon shows its history: counts and z per month
    hexes = browser.find_elements(By.CSS_SELECTOR, "#hs-map path.hw-hs")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", hexes[0])
    browser.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", hexes[0])
    text = wait_for(lambda: browser.find_element(By.ID, "hs-history-text").text.startswith("Celda ")
                    and browser.find_element(By.ID, "hs-history-text").text, what="the history text")
    assert "Mann-Kendall" in text
    wait_for(lambda: browser.execute_script(
        "return document.querySelectorAll('#hs-history-graph .barlayer .trace').length") >= 1, what="the count bars")
    cell = text.split()[1].rstrip(":")
    i = list(want.cells_frame()["h3"]).index(cell)
    from dashboard.i18n import t
    assert t("pattern." + want.pattern[i], "es") in text
    browser.save_screenshot(str(artifacts / "hotspots.png"))
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


@pytest.fixture(scope="module")
def public_app(views_store, demo_districts):
    from dashboard import create_app
    from dashboard.access import AccessConfig
    from dashboard.testing import ServedApp

    app = create_app(views_store, districts=demo_districts, access=AccessConfig(public=True))
    served = ServedApp(app.server)
    yield served
    served.stop()


def test_public_hot_spots_come_from_the_published_grid(public_app, browser, views_store, demo_districts):
    want = expected(views_store, demo_districts, public=True)
    open_section(browser, public_app.url + QUERY)
    s = status(browser)
    assert s["public"] == "1" and int(s["resolution"]) <= 8 and int(s["cells"]) == want.n_locations
    assert legend_counts(browser) == want.pattern_counts()
    assert "grilla publicada" in browser.find_element(By.ID, "hs-summary").text
    opts = [e.get_attribute("value") for e in browser.find_elements(By.CSS_SELECTOR, "#hs-res input")]
    assert opts and not {"9", "10"} & set(opts)
