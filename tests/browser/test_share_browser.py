"""Sharing and access in a real headless Chromium: planted markup in categories and
district names never runs (public and official pages), an official signs in through the
form and gets points, the share dialog and export links; the served /embed draws inside
another site's frame under its own Content-Security-Policy."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from dashboard import create_app
from dashboard.access import AccessConfig
from dashboard.testing import ServedApp
from sharing_data import planted_grid, sharing_districts

pytestmark = pytest.mark.browser

PLANTED = "<script>window.__pwned=1</script>"  # a category of the sharing store
NASTY = '<img src=x onerror="window.__pwned=2">'  # a district name from a boundary file
QUERY = urlencode({"from": "2023-09-01", "to": "2023-10-31", "day": "2023-10-15", "category": ["robo", PLANTED]},
                  doseq=True)
HOVER = """
    const paths = [...document.querySelectorAll(arguments[0])].slice(0, arguments[1]);
    for (const p of paths) {
      const r = p.getBoundingClientRect();
      const at = {bubbles: true, clientX: r.x + r.width / 2, clientY: r.y + r.height / 2};
      p.dispatchEvent(new MouseEvent('mouseover', at));
      p.dispatchEvent(new MouseEvent('mousemove', at));
    }
    return [...document.querySelectorAll('.leaflet-tooltip')].map(t => t.innerText);"""


@pytest.fixture(scope="module")
def served(sharing_store, official_users):
    districts = sharing_districts()
    districts.loc[districts["ubigeo"] == "150135", "name"] = NASTY
    # The planted category is admitted publicly here (a deployment's allow file): by
    # default the public vocabulary fails closed and it would never reach a public page.
    app = create_app(sharing_store[0], districts=districts, access=AccessConfig(
        users=official_users, secret_key="browser-test-key-" + "z" * 32, grid=planted_grid()))
    server = ServedApp(app.server)
    yield server
    server.stop()


def wait(browser, fn, what: str, timeout: float = 30):
    return WebDriverWait(browser, timeout, poll_frequency=0.1).until(lambda d: fn(), message=f"waiting for {what}")


def count(browser, selector: str) -> int:
    return browser.execute_script("return document.querySelectorAll(arguments[0]).length", selector)


def hover_texts(browser, selector: str, limit: int = 2000) -> list[str]:
    """Hover the paths matching ``selector`` (up to ``limit``); the texts of the open tooltips."""
    return browser.execute_script(HOVER, selector, limit)


def severe(browser) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def only_own_requests(browser, origin: str) -> bool:
    names = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    return all(n.startswith(origin) or n.startswith("data:") for n in names)


def test_public_page_shows_planted_markup_as_text_and_asks_for_nothing_it_may_not_see(served, browser):
    browser.get(f"{served.url}/?{QUERY}")
    wait(browser, lambda: count(browser, "path.hw-hex") > 0 and count(browser, "path.hw-district") == 3, "the map")
    texts = hover_texts(browser, "path.hw-hex") + hover_texts(browser, "path.hw-district")
    assert any(NASTY in t for t in texts) and any("< 5" in t for t in texts)
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    assert PLANTED in browser.find_element(By.ID, "cats").text  # the chosen category, drawn as text
    assert count(browser, "#points") == 0
    # The public Trends tab holds the published-grid chart only: no exact series, no district table.
    browser.find_element(By.ID, "tab-trends").click()
    wait(browser, lambda: count(browser, "#public-series .main-svg") > 0, "the public trends chart")
    assert count(browser, "#series") == 0 and count(browser, "#district-table") == 0
    assert browser.find_element(By.ID, "login-link").is_displayed()
    assert only_own_requests(browser, served.url)
    assert severe(browser) == []  # no callback was refused: the page holds only what the public may fill


def test_an_official_signs_in_and_gets_points_the_share_dialog_and_export_links(served, browser, official_login):
    target = "/?" + QUERY + "&zoomres=0&res=10"
    browser.get(f"{served.url}/login?next={quote(target)}")
    browser.find_element(By.NAME, "username").send_keys(official_login[0])
    browser.find_element(By.NAME, "password").send_keys(official_login[1])
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(browser, lambda: count(browser, "path.hw-point") > 0, "the official's points")
    assert browser.find_element(By.ID, "hw-account").get_attribute("data-role") == "official"
    shown = browser.find_element(By.ID, "points-status").text.split()[0].replace(".", "")  # "1.874 de ..."
    assert int(shown) == count(browser, "path.hw-point")
    # The district table and the panel draw the planted name as text too (the table is on the Trends tab).
    browser.find_element(By.ID, "tab-trends").click()
    wait(browser, lambda: NASTY in browser.find_element(By.ID, "section-trends").text, "the district table")
    browser.find_element(By.ID, "tab-map").click()
    browser.execute_script("""document.querySelector('path.hw-d-150135').dispatchEvent(
        new MouseEvent('click', {bubbles: true, clientX: 300, clientY: 300}))""")
    wait(browser, lambda: NASTY in browser.find_element(By.ID, "panel-body").text, "the district panel")
    hover_texts(browser, "path.hw-hex", limit=200)
    assert browser.execute_script("return typeof window.__pwned") == "undefined"

    browser.find_element(By.ID, "share-open").click()
    dialog = browser.find_element(By.ID, "share-dialog")
    wait(browser, dialog.is_displayed, "the share dialog")
    snippet = browser.find_element(By.ID, "share-snippet").get_attribute("value")
    assert snippet.startswith(f'<iframe src="{served.url}/embed?from=2023-09-01&amp;to=2023-10-31')
    assert "res=10" in snippet and "lang=es" in snippet
    href = browser.find_element(By.ID, "export-geojson").get_attribute("href")
    assert href.startswith(f"{served.url}/export?fmt=geojson&from=2023-09-01") and "res=10" in href
    browser.find_element(By.ID, "share-close").click()
    wait(browser, lambda: not dialog.is_displayed(), "the dialog to close")
    browser.find_element(By.CSS_SELECTOR, "#lang input[value='en']").click()
    browser.find_element(By.ID, "share-open").click()
    wait(browser, lambda: "Embed this map" in dialog.text, "the dialog in English")
    wait(browser, lambda: "lang=en" in browser.find_element(By.ID, "share-snippet").get_attribute("value"),
         "the English snippet")
    browser.find_element(By.ID, "share-close").click()
    assert severe(browser) == []

    browser.find_element(By.ID, "logout-btn").click()
    wait(browser, lambda: count(browser, "#login-link") == 1 and count(browser, "#points") == 0, "signed out")


def test_the_served_embed_draws_inside_another_sites_frame_under_its_csp(served, browser):
    src = f"{served.url}/embed?{QUERY}&lang=en"
    page = f'<!doctype html><title>news</title><iframe id="map" src="{src}" width="900" height="600"></iframe>'

    def other_site(environ, start_response):  # another origin (its own port) that embeds the map
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [page.encode()]

    site = ServedApp(other_site)
    try:
        browser.get(site.url)
        browser.switch_to.frame(browser.find_element(By.ID, "map"))
        wait(browser, lambda: count(browser, "path.leaflet-interactive") > 10, "the embedded map")
        assert PLANTED in browser.execute_script("return document.body.innerText")
        assert browser.execute_script("return typeof window.__pwned") == "undefined"
        assert only_own_requests(browser, served.url)
    finally:
        browser.switch_to.default_content()
        site.stop()
    assert severe(browser) == []  # a blocked script or style would be logged as a CSP violation
