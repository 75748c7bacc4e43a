"""Accessibility in headless Chromium (issue 16.8): axe-core finds no serious or critical
violation on any page (every tab, public and official, the login page, the embed); every
control is reachable with the keyboard. Also saves the desktop and 390 px phone
screenshots of the public and official views in artifacts/."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from served import wait_for

from dashboard.testing import ServedApp, chrome

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "tools" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
QUERY = "from=2023-09-20&to=2023-11-18&area=lima_callao&day=2023-10-15&declaration=DS-105-2023-PCM"
SERIOUS = ("serious", "critical")


@pytest.fixture(scope="module")
def public_site(views_store, demo_districts):
    from dashboard import create_app

    served = ServedApp(create_app(views_store, districts=demo_districts, public=True).server)
    yield served
    served.stop()


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: bash dev.sh test installs axe-core with npm", pytrace=False)
    return AXE.read_text(encoding="utf-8")


def run_axe(browser, source: str) -> list[dict]:
    browser.execute_script(source)
    browser.set_script_timeout(120)
    result = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations)).catch(e => done([{id: 'axe-error', impact: 'critical', description: String(e), nodes: []}]));""")
    return result


def wait_page(browser, tab: str):
    if tab == "map":
        wait_for(lambda: browser.execute_script("return document.querySelectorAll('path.hw-hex').length") > 0,
                 what="hexes")
        wait_for(lambda: browser.find_element(By.ID, "legend").text.strip(), what="the legend")
    else:
        wait_for(lambda: browser.find_elements(By.ID, f"page-{tab}") and
                 browser.find_element(By.ID, f"page-{tab}").is_displayed(), what=f"the {tab} tab")
        content = {"trends": "#series .main-svg, #public-series .main-svg", "impact": "#impact-summary, #section-impact *",
                   "about": "#section-about *"}[tab]
        wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, content), what=f"the {tab} content")


def test_no_serious_or_critical_axe_violation_on_any_page(served_app, public_site, browser, axe_source, artifacts):
    pages = [("official", served_app.url, t) for t in ("map", "trends", "impact", "about")]
    pages += [("public", public_site.url, t) for t in ("map", "trends", "impact", "about")]
    report, bad = [], []
    for role, base, tab in pages:
        browser.get(f"{base}/?{QUERY}" + ("" if tab == "map" else f"#tab={tab}"))
        wait_page(browser, tab)
        violations = run_axe(browser, axe_source)
        report.append({"page": f"{role}:{tab}", "url": browser.current_url, "violations": violations})
        bad += [(role, tab, v["id"], v["impact"], [n["target"] for n in v["nodes"]][:5])
                for v in violations if v.get("impact") in SERIOUS]
    for name, path in (("login", "/login?lang=en"), ("embed", f"/embed?{QUERY}&lang=es")):
        browser.get(served_app.url.rstrip("/") + path)
        wait_for(lambda: browser.execute_script("return document.readyState") == "complete", what=name)
        violations = run_axe(browser, axe_source)
        report.append({"page": name, "url": browser.current_url, "violations": violations})
        bad += [(name, "", v["id"], v["impact"], [n["target"] for n in v["nodes"]][:5])
                for v in violations if v.get("impact") in SERIOUS]
    (artifacts / "axe-report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    assert len(report) == 10
    assert not bad, bad


# Every control a user sets, by the id of its element (or of a wrapper the focus lands inside).
CONTROLS = ("filters-toggle", "tab-map", "tab-trends", "tab-impact", "tab-about", "lang", "dates", "week", "play",
            "cats", "spell", "area", "metric", "res", "mode", "share-open", "map")


def test_every_control_is_reachable_with_the_keyboard(served_app, browser):
    browser.get(f"{served_app.url}/?{QUERY}")
    wait_page(browser, "map")
    browser.execute_script("document.activeElement && document.activeElement.blur()")  # start from the top
    reached, order = set(), []
    for _ in range(160):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        ids = browser.execute_script("""
            const out = []; let e = document.activeElement;
            while (e && e !== document.body) { if (e.id) out.push(e.id); e = e.parentElement; }
            return out;""")
        reached.update(ids)
        order.append(ids[0] if ids else browser.execute_script("return document.activeElement.tagName + '.' + document.activeElement.className"))
        if set(CONTROLS) <= reached:
            break
    assert set(CONTROLS) <= reached, (sorted(set(CONTROLS) - reached), order[:60])


@pytest.mark.parametrize("width,height,name", [(1400, 900, "desktop"), (390, 844, "phone")])
def test_screenshots_of_public_and_official_views(served_app, public_site, artifacts, width, height, name):
    profile = tempfile.mkdtemp(prefix="hexwatch-chromium-")
    browser = chrome(profile, width=max(width, 500), height=height)
    if name == "phone":  # headless Chromium's window is at least 500 px wide: emulate the phone's viewport
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True})
    try:
        for role, base in (("official", served_app.url), ("public", public_site.url)):
            browser.get(f"{base}/?{QUERY}")
            wait_page(browser, "map")
            if name == "phone":  # the filters start closed on a phone: the map is the page
                assert not browser.find_element(By.ID, "filters-panel").is_displayed()
                width_px = browser.execute_script("return document.querySelector('.hw-map').getBoundingClientRect().width")
                assert width_px >= width - 2
                assert browser.execute_script("return document.documentElement.scrollWidth") <= width
            browser.save_screenshot(str(artifacts / f"{role}-{name}-map.png"))
            browser.get(f"{base}/?{QUERY}#tab=trends")
            wait_page(browser, "trends")
            browser.save_screenshot(str(artifacts / f"{role}-{name}-trends.png"))
            if name == "phone":
                browser.get(f"{base}/?{QUERY}#filters=1")
                wait_page(browser, "map")
                assert browser.find_element(By.ID, "filters-panel").is_displayed()
                browser.save_screenshot(str(artifacts / f"{role}-{name}-filters.png"))
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)
