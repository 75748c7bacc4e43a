"""A city that is not Peru: a store built from the made-up city's own boundary file
(tests/anycity_data.py: 13 neighbourhoods in 3 boroughs, names repeated across
boroughs), served by ``hexwatch serve`` and opened by the browser as its first request."""

from __future__ import annotations

import os

import pytest
from selenium.webdriver.common.by import By
from served import hexwatch_serve, wait_for

from anycity_data import AREAS, CENTRE, build_anycity_store, write_anycity_files

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def city_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("anycity-browser")
    files = write_anycity_files(root / "input")
    build_anycity_store(root / "store", files)
    return root / "store", files


def drawn(browser) -> dict:
    return browser.execute_script("""
        var s = document.getElementById('map-status');
        return {hexes: document.querySelectorAll('path.hw-hex').length,
                districts: s ? s.getAttribute('data-districts') : null, hash: window.location.hash};""")


def area_options(browser) -> list[str]:
    browser.find_element(By.CSS_SELECTOR, "#area").click()
    opts = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".dash-dropdown-content [role=option]"),
                    what="the area list")
    texts = [o.text.strip() for o in opts]
    browser.find_element(By.TAG_NAME, "body").click()
    return texts


def test_first_page_draws_the_citys_hexes_and_areas_and_offers_no_peruvian_area(city_store, browser, artifacts):
    store, _ = city_store
    with hexwatch_serve(store, workers=2) as url:
        browser.get(url + "/")  # the server's very first request
        wait_for(lambda: drawn(browser)["hexes"] > 0, timeout=90, what="the city's hexes")
        wait_for(lambda: drawn(browser)["districts"] == str(len(AREAS)), what="the city's 13 outlines")
        # The first view is the city's: the map's centre (kept in the URL hash) lies in it.
        wait_for(lambda: "c=" in drawn(browser)["hash"], what="the map's centre in the URL")
        c = drawn(browser)["hash"].split("c=")[1].split("&")[0].split(",")
        lat, lon = float(c[0]), float(c[1])
        assert abs(lat - CENTRE[0]) < 0.15 and abs(lon - CENTRE[1]) < 0.2, (lat, lon)
        # Outlines are the city's own ids (no ubigeo of Peru among them).
        ids = browser.execute_script(
            "return Array.from(document.querySelectorAll('path.hw-district')).map(p => p.getAttribute('class'))")
        assert ids and all("hw-d-" in c and "hw-d-15" not in c and "hw-d-20" not in c for c in ids)
        texts = area_options(browser)
        joined = " ".join(texts).lower()
        assert "lima" not in joined and "sullana" not in joined and "callao" not in joined
        # Repeated names are told apart by their borough.
        assert "Central (Southport)" in texts and "Central (Northfield)" in texts
        # No policy events were given: no declaration control and no "did it work?" tab.
        assert not browser.find_element(By.ID, "spell-control").is_displayed()
        assert not browser.find_elements(By.ID, "tab-impact")
        assert "DATOS SINTÉTICOS" in browser.find_element(By.ID, "synthetic-banner").text
        severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not severe, severe
        browser.save_screenshot(str(artifacts / "anycity-public-desktop.png"))


def test_the_citys_policy_events_bring_the_declaration_control(city_store, browser):
    store, files = city_store
    with hexwatch_serve(store, workers=1, env={**os.environ, "HEXWATCH_DECLARATIONS": str(files.events)}) as url:
        browser.get(url + "/?from=2023-09-01&to=2023-11-30&day=2023-10-01")
        wait_for(lambda: drawn(browser)["hexes"] > 0, timeout=90, what="the city's hexes")
        assert browser.find_element(By.ID, "spell-control").is_displayed()
        wait_for(lambda: browser.find_element(By.ID, "map-status").get_attribute("data-emergency") == "S-01 S-02",
                 what="the curfew's areas outlined on 1 October 2023")
