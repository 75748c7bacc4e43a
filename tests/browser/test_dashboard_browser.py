"""The dashboard in a real headless Chromium (Debian's), served on a loopback port."""

from __future__ import annotations


import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from served import wait_for

pytestmark = pytest.mark.browser

BASE = "from=2023-09-20&to=2023-11-18&area=lima_callao"




def status(browser) -> dict[str, str | None]:
    """The map's machine-readable state (all None while the page is still rendering)."""
    found = browser.find_elements(By.ID, "map-status")
    return {k: found[0].get_attribute(f"data-{k}") if found else None for k in ("hexes", "total", "emergency", "districts")}


def severe(browser) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def load(browser, url: str, query: str):
    browser.get(f"{url}/?{query}")
    wait_for(lambda: browser.execute_script("return document.querySelectorAll('path.hw-hex').length") > 0,
             what="hexes drawn")
    wait_for(lambda: status(browser)["districts"] not in ("0", None), what="districts drawn")
    wait_for(lambda: status(browser)["total"] not in ("0", None), what="hex counts")


def test_page_loads_draws_hexes_without_console_errors(served_app, browser, artifacts):
    load(browser, served_app.url, BASE + "&day=2023-10-15")
    n_paths = browser.execute_script("return document.querySelectorAll('path.hw-hex').length")
    st = status(browser)
    assert n_paths == int(st["hexes"]) > 0 and int(st["total"]) > 0
    assert "DATOS SINTÉTICOS" in browser.find_element(By.ID, "synthetic-banner").text
    assert browser.find_element(By.ID, "legend").text.strip()
    assert not severe(browser)
    browser.save_screenshot(str(artifacts / "dashboard.png"))


def test_sjl_is_drawn_under_emergency_in_october_not_august(served_app, browser):
    load(browser, served_app.url, BASE + "&day=2023-10-15")
    wait_for(lambda: "150132" in status(browser)["emergency"].split(), what="SJL under emergency")
    assert browser.execute_script("return document.querySelectorAll('path.hw-d-150132.hw-emergency').length") > 0
    load(browser, served_app.url, "from=2023-08-01&to=2023-08-31&area=lima_callao&day=2023-08-15")
    wait_for(lambda: status(browser)["emergency"] == "", what="no district under emergency")
    assert browser.execute_script("return document.querySelectorAll('path.hw-d-150132.hw-emergency').length") == 0
    assert browser.execute_script("return document.querySelectorAll('path.hw-d-150132').length") > 0
    assert not severe(browser)


def test_category_filter_changes_drawn_counts_and_the_url(served_app, browser):
    load(browser, served_app.url, BASE + "&day=2023-10-15")
    before = int(status(browser)["total"])
    browser.find_element(By.ID, "cats").click()
    option = wait_for(lambda: [o for o in browser.find_elements(By.CSS_SELECTOR, ".dash-dropdown-content [role=option]")
                               if o.text.strip() == "Robo"], what="the category list")[0]
    # The list shows the label table's name; the code as the data write it is on hover.
    assert option.get_attribute("title") == "ROBO" or option.find_elements(By.CSS_SELECTOR, "[title=ROBO]")
    option.click()
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    wait_for(lambda: status(browser)["total"] not in (str(before), None), what="drawn counts to change")
    after = int(status(browser)["total"])
    assert 0 < after < before
    assert "category=ROBO" in browser.current_url
    # The URL is the bookmark: loading it again restores the filter and the same counts.
    url = browser.current_url
    browser.get("about:blank")
    browser.get(url)
    wait_for(lambda: status(browser)["total"] == str(after), what="the bookmarked view")
    assert not severe(browser)


def test_switching_to_english_changes_labels(served_app, browser):
    load(browser, served_app.url, BASE + "&day=2023-10-15")
    title = browser.find_element(By.TAG_NAME, "h1")
    assert title.text.startswith("hexwatch: incidentes")
    browser.find_element(By.CSS_SELECTOR, "#lang input[value='en']").click()
    wait_for(lambda: browser.find_element(By.TAG_NAME, "h1").text.startswith("hexwatch: incidents"), what="English title")
    wait_for(lambda: "incidents in" in browser.find_element(By.ID, "map-summary").text, what="English summary")
    assert "Oct 15, 2023" in browser.find_element(By.ID, "week-label").text
    assert "lang=en" in browser.current_url
    assert not severe(browser)


def test_the_table_follows_the_language_at_once(served_app, browser):
    load(browser, served_app.url, BASE + "&day=2023-10-15")
    browser.find_element(By.ID, "tab-trends").click()

    def table_text() -> str:  # read in one step: the grid is rebuilt on a language change
        return browser.execute_script("const e = document.getElementById('district-table'); return e ? e.innerText : ''")

    def cells(col: str) -> list[str]:
        return browser.execute_script(
            "return [...document.querySelectorAll(`#district-table [col-id='${arguments[0]}'].ag-cell`)].map(c => c.innerText)",
            col)

    wait_for(lambda: "Página" in table_text() and "de" in table_text(), what="the Spanish table (AG Grid's texts)")
    spanish = cells("change_pct")
    assert any(x.endswith(" %") and "," in x for x in spanish if x != "—")  # -12,3 % in Spanish
    browser.find_element(By.CSS_SELECTOR, "#lang input[value='en']").click()
    wait_for(lambda: "Page" in table_text() and "Página" not in table_text(), what="the English table, no reload")
    wait_for(lambda: "District" in table_text(), what="English headers")
    english = wait_for(lambda: cells("change_pct"), what="the English cells")
    assert english and all("," not in x for x in english if x != "—")  # 12.3%, not 12,3 %
    assert any(x.endswith("%") and not x.endswith(" %") for x in english if x != "—")
    assert not severe(browser)
