"""Map first (issue 16.4/16.6): the basemap probe, the URL hash (tab, filters panel, zoom,
centre), officials' points above the hexes, sign-in keeping view and language."""

from __future__ import annotations

import tempfile
import shutil

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from served import wait_for

from dashboard.testing import ServedApp, TileServer, chrome

pytestmark = pytest.mark.browser

QUERY = "from=2023-09-20&to=2023-11-18&area=lima_callao&day=2023-10-15"


@pytest.fixture(scope="module")
def tiles():
    server = TileServer()
    yield server
    server.stop()


def serve(views_store, demo_districts, **kwargs):
    from dashboard import create_app
    from dashboard.access import AccessConfig

    access = kwargs.pop("access", None) or AccessConfig(anonymous_role="official")
    return ServedApp(create_app(views_store, districts=demo_districts, access=access, **kwargs).server)


@pytest.fixture(scope="module")
def with_tiles(views_store, demo_districts, tiles):
    served = serve(views_store, demo_districts, tiles_url=tiles.template, tiles_attribution="Test tiles © nobody")
    yield served
    served.stop()


def js(browser, script: str):
    return browser.execute_script(script)


def hexes_drawn(browser) -> int:
    return js(browser, "return document.querySelectorAll('path.hw-hex').length")


def basemap(browser) -> str | None:
    found = browser.find_elements(By.ID, "basemap-status")
    return found[0].get_attribute("data-basemap") if found else None


def severe(browser) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def test_street_basemap_when_the_tile_server_answers(with_tiles, tiles, browser, artifacts):
    before = tiles.served
    browser.get(f"{with_tiles.url}/?{QUERY}")
    wait_for(lambda: hexes_drawn(browser) > 0, what="hexes")
    wait_for(lambda: basemap(browser) == "streets", what="the street basemap")
    wait_for(lambda: js(browser, "return document.querySelectorAll('.leaflet-tile-pane img.leaflet-tile-loaded').length") > 0,
             what="tiles drawn")
    assert tiles.served > before + 1  # the probe and the map's own tiles
    assert browser.find_element(By.CSS_SELECTOR, "#basemap-status .hw-bm-streets").is_displayed()
    assert "Test tiles" in browser.find_element(By.CLASS_NAME, "leaflet-control-attribution").text
    assert not severe(browser)
    browser.save_screenshot(str(artifacts / "official-desktop-basemap.png"))


def test_plain_background_said_so_when_the_tile_server_is_unreachable(views_store, demo_districts, browser):
    dead = "http://127.0.0.1:9/{z}/{x}/{y}.png"  # the discard port: nothing listens
    served = serve(views_store, demo_districts, tiles_url=dead)
    try:
        browser.get(f"{served.url}/?{QUERY}")
        wait_for(lambda: hexes_drawn(browser) > 0, what="hexes")
        wait_for(lambda: basemap(browser) == "offline", what="the offline background")
        status = browser.find_element(By.CSS_SELECTOR, "#basemap-status .hw-bm-offline")
        assert status.is_displayed() and "Sin mapa base" in status.text
        assert js(browser, "return document.querySelectorAll('.leaflet-tile-pane img').length") == 0
        # The only failed request is the probe's one tile.
        assert all("127.0.0.1:9/" in m for m in severe(browser))
    finally:
        served.stop()


def test_the_url_keeps_tab_filters_panel_zoom_and_centre(with_tiles, browser):
    browser.get(f"{with_tiles.url}/?{QUERY}")
    wait_for(lambda: hexes_drawn(browser) > 0, what="hexes")
    wait_for(lambda: "z=" in js(browser, "return location.hash"), what="zoom in the URL")
    browser.find_element(By.CSS_SELECTOR, ".leaflet-control-zoom-in").click()
    wait_for(lambda: "z=" in js(browser, "return location.hash") and
             float(js(browser, "return location.hash").split("z=")[1].split("&")[0]) >= 11, what="the new zoom")
    browser.find_element(By.ID, "filters-toggle").click()
    assert not browser.find_element(By.ID, "filters-panel").is_displayed()
    browser.find_element(By.ID, "tab-trends").click()
    wait_for(lambda: browser.find_element(By.ID, "page-trends").is_displayed(), what="the Trends tab")
    url = browser.current_url
    h = url.split("#", 1)[1]
    assert "tab=trends" in h and "filters=0" in h and "c=" in h and QUERY.split("&")[0] in url
    zoom, centre = h.split("z=")[1].split("&")[0], h.split("c=")[1].split("&")[0]

    browser.get("about:blank")
    browser.get(url)
    wait_for(lambda: browser.find_elements(By.ID, "page-trends") and browser.find_element(By.ID, "page-trends").is_displayed(),
             what="the Trends tab after reload")
    assert not browser.find_element(By.ID, "filters-panel").is_displayed()
    assert browser.find_element(By.ID, "tab-trends").get_attribute("aria-selected") == "true"
    browser.find_element(By.ID, "tab-map").click()
    wait_for(lambda: hexes_drawn(browser) > 0, what="hexes after reload")
    h2 = js(browser, "return location.hash")
    assert f"z={zoom}" in h2, (zoom, h2)
    lat, lon = (float(x) for x in centre.split(","))
    lat2, lon2 = (float(x) for x in h2.split("c=")[1].split("&")[0].split(","))
    assert abs(lat - lat2) < 1e-3 and abs(lon - lon2) < 1e-3
    browser.find_element(By.ID, "filters-toggle").click()
    assert browser.find_element(By.ID, "filters-panel").is_displayed()
    assert not severe(browser)


def test_officials_points_are_above_the_hexes_and_hoverable(sharing_store, browser):
    from sharing_data import sharing_districts

    served = serve(sharing_store[0], sharing_districts())
    browser.get(f"{served.url}/?from=2023-09-01&to=2023-10-31&day=2023-10-15&zoomres=0&res=10#z=15&c=-12.01,-76.98")
    wait_for(lambda: js(browser, "return document.querySelectorAll('path.hw-point').length") > 0, what="points")
    wait_for(lambda: hexes_drawn(browser) > 0, what="hexes")
    # Where a point is drawn, no map layer covers it: the topmost map element there is the
    # point itself, never a hex or an outline (floating panels such as the legend aside).
    top = js(browser, """
        const ps = Array.from(document.querySelectorAll('path.hw-point'));
        let on = 0, n = 0, first = -1;
        ps.forEach((p, i) => {
          const r = p.getBoundingClientRect();
          const e = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
          if (!e || !e.closest('.leaflet-map-pane')) return;
          n += 1;
          // Points may overlap one another; a point must never lie under a hex or an outline.
          if (e.classList.contains('hw-point')) { on += 1; if (first < 0 && e === p) first = i; }
        });
        return [on, n, first];""")
    assert top[1] > 0 and top[0] == top[1], top
    point = browser.find_elements(By.CSS_SELECTOR, "path.hw-point")[top[2]]
    ActionChains(browser).move_to_element(point).perform()
    tip = wait_for(lambda: [t.text for t in browser.find_elements(By.CSS_SELECTOR, ".leaflet-tooltip") if t.text],
                   what="the point's tooltip")
    assert any("2023-" in t for t in tip), tip
    served.stop()


def test_sign_in_keeps_the_view_and_the_language(views_store, demo_districts, official_users, official_login):
    from dashboard.access import AccessConfig

    served = serve(views_store, demo_districts, access=AccessConfig(users=official_users, secret_key="k" * 32))
    profile = tempfile.mkdtemp(prefix="hexwatch-chromium-")
    browser = chrome(profile)
    try:
        browser.get(f"{served.url}/?{QUERY}&lang=en#tab=trends")
        link = wait_for(lambda: browser.find_elements(By.ID, "login-link"), what="the sign-in link")[0]
        wait_for(lambda: hexes_drawn(browser) > 0 or browser.find_element(By.ID, "page-trends").is_displayed(),
                 what="the page")
        link.click()
        wait_for(lambda: browser.find_elements(By.NAME, "username"), what="the login form")
        assert "Sign in" in browser.page_source or "sign in" in browser.page_source.lower()
        browser.find_element(By.NAME, "username").send_keys(official_login[0])
        browser.find_element(By.NAME, "password").send_keys(official_login[1])
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_for(lambda: browser.find_elements(By.ID, "hw-account") and
                 browser.find_element(By.ID, "hw-account").get_attribute("data-role") == "official", what="signed in")
        url = browser.current_url
        assert QUERY.split("&")[0] in url and "lang=en" in url and "#tab=trends" in url, url
        wait_for(lambda: browser.find_element(By.TAG_NAME, "h1").text.startswith("hexwatch: incidents"),
                 what="the page in English")
        assert browser.find_element(By.ID, "page-trends").is_displayed()
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)
        served.stop()
