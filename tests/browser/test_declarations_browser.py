"""The "Todas las declaratorias / All declarations" section in a real headless Chromium: opened by a click,
one row per spell and area equal to the library's table, the forest plot drawn."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from geo.analysis.all_declarations import all_declarations
from served import wait_for

pytestmark = pytest.mark.browser


def text(browser, id_: str) -> str:
    """An element's visible text, read in one step (the section re-renders while we poll)."""
    return browser.execute_script(f"const e = document.getElementById('{id_}'); return e ? e.innerText : ''")


def test_all_declarations_table_and_forest_plot(served_app, browser, views_store, artifacts):
    browser.get(f"{served_app.url}/?area=lima_callao")
    wait_for(lambda: browser.find_elements(By.ID, "tab-declarations"), what="the tab")[0].click()
    summary = wait_for(lambda: browser.find_elements(By.ID, "declarations-summary"), what="the section")[0]
    wait_for(lambda: summary.is_displayed(), what="the tab to open")
    assert not browser.find_elements(By.ID, "declarations-table")  # nothing read before it opens
    summary.click()
    wait_for(lambda: browser.find_elements(By.ID, "declarations-table"), what="the table")
    wait_for(lambda: browser.execute_script(
        "return document.querySelectorAll('#declarations-forest .scatterlayer .trace').length") >= 1, what="the forest plot")
    rows = browser.execute_script(
        "return [...document.querySelectorAll('#declarations-table tr[data-spell]')]"
        ".map(r => [r.dataset.spell, r.dataset.area, r.dataset.effect, r.innerText])")
    table = all_declarations(views_store)  # the cache the page's request wrote (same key: version, registry, source)
    assert [(r[0], r[1]) for r in rows] == [(r["spell_id"], r["area"]) for r in table.rows]
    for shown, r in zip(rows, table.rows):
        e = r["estimates"][r["primary"] or "did"]["effect"]
        assert shown[2] == (repr(e) if e is not None else "")
        verdict = text(browser, f"decl-verdict-{r['spell_id']}-{r['area']}")
        assert verdict == r["sentence_es"]
    assert "apiladas" in text(browser, "declarations-pooled")
    browser.execute_script("document.getElementById('section-declarations').scrollIntoView()")
    browser.save_screenshot(str(artifacts / "all_declarations.png"))
    browser.find_element(By.CSS_SELECTOR, "#lang input[value='en']").click()
    wait_for(lambda: "stacked" in text(browser, "declarations-pooled"), what="English")
    assert table.rows[0]["sentence_en"] in text(browser, "declarations-table")
