"""The "¿Funcionó?" panel in a real headless Chromium: plots drawn, numbers equal to the analysis JSON."""

from __future__ import annotations


import pytest
from selenium.webdriver.common.by import By

from geo.analysis import analyze
from served import wait_for

pytestmark = pytest.mark.browser

SPELL = "DS-105-2023-PCM"




def numbers(browser, method: str) -> list[float | None] | None:
    """The effect, CI and p-value the panel holds for ``method`` (its ``data-*`` attributes)."""
    d = browser.execute_script(f"const e = document.getElementById('impact-{method}'); return e && e.dataset")
    return None if d is None else [float(d[k]) if d[k] else None for k in ("effect", "ciLow", "ciHigh", "p")]


def text(browser, id_: str) -> str:
    """An element's visible text, read in one step (the panel re-renders while we poll)."""
    return browser.execute_script(f"const e = document.getElementById('{id_}'); return e ? e.innerText : ''")


def traces(browser, graph_id: str) -> int:
    return browser.execute_script(f"return document.querySelectorAll('#{graph_id} .scatterlayer .trace').length")


def severe(browser) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def pct(x: float, lang: str) -> str:
    """Independent of the dashboard's formatter: one decimal, true minus, the locale's mark and sign."""
    s = f"{100 * x:+.1f}".replace("-", "\u2212")
    return s.replace(".", ",") + " %" if lang == "es" else s + "%"


def test_panel_plots_and_numbers_match_the_analysis_in_spanish_and_english(served_app, browser, views_store, artifacts):
    # The URL looks at Lima and Callao: the panel leads with that area's own answer.
    expected = analyze(views_store, SPELL).by_area("lima_callao").to_dict()["estimates"]
    browser.get(f"{served_app.url}/?declaration={SPELL}&area=lima_callao")
    wait_for(lambda: browser.find_elements(By.ID, "tab-impact"), what="the impact tab")[0].click()
    summary = wait_for(lambda: browser.find_elements(By.ID, "impact-summary"), what="the panel")[0]
    browser.execute_script("arguments[0].scrollIntoView()", summary)
    assert not browser.find_elements(By.ID, "impact-did")  # nothing estimated before the panel opens
    summary.click()
    wait_for(lambda: browser.find_elements(By.ID, "impact-did"), what="the analysis")
    wait_for(lambda: traces(browser, "impact-es-graph") >= 2 and traces(browser, "impact-sc-graph") >= 2,
             what="event-study and synthetic-control plots")
    for m in ("did", "event_study", "synthetic_control", "displacement", "naive"):
        e = expected[m]
        assert numbers(browser, m) == [e["effect"], *e["ci"], e["p_value"]], m
    did = expected["did"]
    big = text(browser, "impact-did-text")
    assert big == f"{pct(did['effect'], 'es')} (IC 95 %: {pct(did['ci'][0], 'es')} a {pct(did['ci'][1], 'es')})"
    assert did["sentence_es"] in text(browser, "impact-sentence")
    assert "DATOS SINTÉTICOS" in text(browser, "impact-synthetic")
    browser.execute_script("document.getElementById('section-impact').scrollIntoView()")
    browser.save_screenshot(str(artifacts / "impact.png"))

    browser.find_element(By.CSS_SELECTOR, "#lang input[value='en']").click()
    wait_for(lambda: "95% CI" in text(browser, "impact-did-text"), what="English numbers")
    big = text(browser, "impact-did-text")
    assert big == f"{pct(did['effect'], 'en')} (95% CI: {pct(did['ci'][0], 'en')} to {pct(did['ci'][1], 'en')})"
    assert did["sentence_en"] in text(browser, "impact-sentence")
    assert numbers(browser, "did") == [did["effect"], *did["ci"], did["p_value"]]
    wait_for(lambda: traces(browser, "impact-es-graph") >= 2, what="the English event-study plot")
    assert "Weeks since the declaration" in text(browser, "impact-es-graph")
    assert not severe(browser)


@pytest.fixture(scope="module")
def public_site(views_store, demo_districts):
    from dashboard import create_app
    from dashboard.testing import ServedApp

    served = ServedApp(create_app(views_store, districts=demo_districts, public=True).server)
    yield served
    served.stop()


#: The demo categories the reviewed public vocabulary admits (written out, not computed).
PUBLIC_CATEGORIES = ["ROBO", "HURTO", "ESTAFA", "EXTORSION", "MICROCOMERCIALIZACION DE DROGAS", "HOMICIDIO"]


def test_public_site_answers_did_it_work_with_the_verdict_only(public_site, browser, views_store, artifacts):
    """A public site (a newsroom's, a city's) answers the headline question: the verdict and
    every estimate's interval on the public categories, without counts, plots or downloads."""
    expected = analyze(views_store, SPELL, category=PUBLIC_CATEGORIES).by_area("lima_callao").to_dict()["estimates"]
    browser.get(f"{public_site.url}/?declaration={SPELL}&area=lima_callao")
    wait_for(lambda: browser.find_elements(By.ID, "tab-impact"), what="the impact tab")[0].click()
    summary = wait_for(lambda: browser.find_elements(By.ID, "impact-summary"), what="the panel")[0]
    wait_for(lambda: summary.is_displayed(), what="the tab to open")
    summary.click()
    wait_for(lambda: browser.find_elements(By.ID, "impact-did"), what="the verdict")
    did = expected["did"]
    assert numbers(browser, "did") == [did["effect"], *did["ci"], did["p_value"]]
    assert text(browser, "impact-did-text") == (f"{pct(did['effect'], 'es')} (IC 95 %: {pct(did['ci'][0], 'es')} a "
                                                f"{pct(did['ci'][1], 'es')})")
    assert did["sentence_es"] in text(browser, "impact-sentence")
    body = text(browser, "section-impact")
    assert "Vista pública" in body and "VIOLENCIA" not in body.upper()
    assert not browser.find_elements(By.CSS_SELECTOR, "#section-impact .js-plotly-plot")
    assert not browser.find_element(By.ID, "impact-download-btn").is_displayed()
    browser.save_screenshot(str(artifacts / "impact_public.png"))
    assert not severe(browser)
