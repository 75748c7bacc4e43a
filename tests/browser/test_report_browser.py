"""The printable report (``hexwatch report``) opened in a real headless Chromium, the way an official opens
the file: one A4 page, the declared districts on the map, each area's series, every estimate equal to the JSON."""

from __future__ import annotations

import base64
import re

import orjson
import pytest

from geo.analysis import analyze
from geo.report import report_html
from geo.store import Store, write_version
from test_area_answers import AREAS, LIMA_TREATED, REGISTRY, SPELL, SULLANA_TREATED, adjacency, monthly_counts

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def report(tmp_path_factory, boundary_cache):
    from geo import boundaries
    from geo.declarations import Registry, parse_declarations

    folder = tmp_path_factory.mktemp("report")
    counts = monthly_counts()
    write_version(folder / "store", tables={"district_month": counts.astype({"year": "int16", "month": "int8"})},
                  meta={"synthetic": False, "dataset": "district-month counts fixture"})
    registry = Registry(parse_declarations(REGISTRY), districts=sorted(counts["ubigeo"].unique()))
    result = analyze(folder / "store", SPELL, registry=registry, adjacency=adjacency(), areas=AREAS)
    districts = boundaries.load_study_districts(boundary_cache)[["ubigeo", "geometry"]]
    pages = {}
    for lang in ("es", "en"):
        path = folder / f"informe_{lang}.html"
        path.write_text(report_html(result, folder / "store", lang=lang, registry=registry, districts=districts),
                        encoding="utf-8")
        pages[lang] = path
    return pages, orjson.loads(result.to_json()), Store.open(folder / "store").version


def test_report_opens_offline_on_one_page_with_map_series_and_every_estimate(browser, report, artifacts):
    pages, expected, version = report
    browser.get(pages["es"].as_uri())
    assert browser.execute_script("return document.documentElement.lang") == "es"
    assert browser.find_element("css selector", "h1").text.startswith("¿Funcionó la declaratoria de emergencia?")
    # Self-contained: nothing to fetch (no script, stylesheet, image or font from anywhere).
    assert browser.execute_script("return document.querySelectorAll('script, [src], link[href]').length") == 0
    declared = browser.execute_script(
        "return [...document.querySelectorAll('svg.district-map path[data-role=treated]')].map(p => p.dataset.ubigeo)")
    assert sorted(declared) == sorted(LIMA_TREATED + SULLANA_TREATED)
    areas = browser.execute_script("return [...document.querySelectorAll('section.area')].map(s => s.dataset.area)")
    assert areas == [a["area"] for a in expected["areas"]] == ["lima_callao", "sullana"]
    for area in areas:
        lines = browser.execute_script(
            f"return document.querySelectorAll('section[data-area={area}] svg.series-chart polyline').length")
        shaded = browser.execute_script(
            f"return document.querySelectorAll('section[data-area={area}] svg.series-chart rect.spell').length")
        assert (lines, shaded) == (2, 1), area
    # Every estimate of every area, and the pooled ones, equal the JSON.
    for a in expected["areas"]:
        rows = browser.execute_script(
            f"return [...document.querySelectorAll('section[data-area={a['area']}] tr[data-method]')]"
            ".map(r => [r.dataset.method, r.dataset.effect, r.dataset.ciLow, r.dataset.ciHigh, r.className, r.innerText])")
        assert [r[0] for r in rows] == list(a["estimates"])
        for method, effect, low, high, cls, shown in rows:
            e = a["estimates"][method]
            assert (float(effect) if effect else None) == e["effect"], method
            if e["ci"]:
                assert (float(low), float(high)) == tuple(e["ci"]), method
            assert e["sentence_es"] in shown
            assert (cls == "primary") == (method == a["primary"]["method"])
    body = browser.find_element("css selector", "body").text
    assert "Cociente 2x2 transparente" in body and "eventos esperados" in body
    assert "Fuente: Ministerio del Interior (MININTER), SIDPOL" in body and version in body
    assert "DS-126-2023-PCM" in body  # the decrees and their sources
    browser.set_window_size(900, 1300)
    browser.save_screenshot(str(artifacts / "report_ds105_es.png"))
    pdf = base64.b64decode(browser.execute_cdp_cmd("Page.printToPDF", {"preferCSSPageSize": True})["data"])
    (artifacts / "report_ds105_es.pdf").write_bytes(pdf)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1  # one printed page


def test_report_in_english(browser, report, artifacts):
    pages, expected, _ = report
    browser.get(pages["en"].as_uri())
    assert browser.execute_script("return document.documentElement.lang") == "en"
    body = browser.find_element("css selector", "body").text
    assert "Did the state of emergency work?" in body and "Transparent 2x2" in body and "¿Funcionó" not in body
    assert expected["areas"][0]["estimates"]["did"]["sentence_en"] in body
    browser.save_screenshot(str(artifacts / "report_ds105_en.png"))
