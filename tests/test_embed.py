"""Public embeds: offline, escaped, privacy rules applied; drawn in a real headless Chromium."""

from __future__ import annotations

import json
import re
import tempfile
from datetime import date

import h3
import pytest

from sharing_data import SHARING_CATEGORIES, build_sharing_store, planted_grid, sharing_districts, sharing_incidents
from geo.cli import main
from geo.embed import embed_html
from geo.errors import HexwatchError
from geo.viewspec import View

SCRIPT = SHARING_CATEGORIES[3]  # "<script>window.__pwned=1</script>"
VIEW = View(start=date(2023, 9, 20), end=date(2023, 11, 18), categories=("robo", "hurto", SCRIPT), resolution=9)


def geojson_blocks(page: str) -> list[dict]:
    """The GeoJSON data folium inlined into the page."""
    dec = json.JSONDecoder()
    return [dec.raw_decode(page, m.end())[0] for m in re.finditer(r"geo_json_[0-9a-f]+_add\(", page)]


@pytest.fixture(scope="module")
def page(sharing_store) -> str:
    store, _ = sharing_store
    return embed_html(store, VIEW, districts=sharing_districts(), grid=planted_grid())


def test_embed_is_self_contained(page):
    assert not re.search(r"""<(script|link|img|iframe)\b[^>]*(src|href)\s*=""", page, re.I)
    assert "L.map(" in page and ".leaflet-container" in page  # Leaflet inlined
    assert not re.search(r"L\.tileLayer\(\s*[\"']", page)  # no basemap tiles: a plain background


def test_embed_escapes_data_strings(page):
    assert SCRIPT not in page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    tips = [f["properties"]["tip"] for block in geojson_blocks(page) for f in block["features"]]
    assert any("San Juan &lt;b&gt;de&lt;/b&gt; Lurigancho" in t for t in tips)


def test_embed_applies_the_public_rules(page, sharing_store):
    _, incidents = sharing_store
    blocks = geojson_blocks(page)
    hexes = [f for b in blocks for f in b["features"] if h3.is_valid_cell(f["id"])]
    assert len(hexes) > 50
    assert max(h3.get_resolution(f["id"]) for f in hexes) == 8  # asked 9: clamped
    labels = [re.search(r"<b>([^<]*)</b>", f["properties"]["tip"].split("<br>")[1]).group(1) for f in hexes]
    assert all(lab == "&lt; 5" or "–" in lab or int(lab) == 0 or int(lab) >= 5 for lab in labels)
    assert "&lt; 5" in labels
    assert {f["geometry"]["type"] for b in blocks for f in b["features"]} <= {"Polygon", "MultiPolygon"}
    assert "violencia familiar" not in page.casefold()
    text = page.casefold()
    assert not any(f"{lat:.6f}" in text and f"{lon:.6f}" in text for lat, lon in incidents[["lat", "lon"]].head(3000).itertuples(index=False))


def test_embed_labels_follow_the_language_and_the_synthetic_flag(sharing_store, tmp_path):
    store, _ = sharing_store
    en = embed_html(store, VIEW, lang="en", districts=sharing_districts(), grid=planted_grid())
    assert 'lang="en"' in en and "Incidents per hexagon" in en and "SYNTHETIC DEMO DATA" in en
    real = build_sharing_store(tmp_path / "real", sharing_incidents(n=2000), synthetic=False)
    es = embed_html(real, VIEW, districts=sharing_districts(), grid=planted_grid())
    assert "Incidentes por hexágono" in es and "SINTÉTICOS" not in es
    with pytest.raises(HexwatchError, match="language"):
        embed_html(store, VIEW, lang="fr", districts=sharing_districts(), grid=planted_grid())


def test_cli_embed_writes_a_page(sharing_store, tmp_path):
    store, _ = sharing_store
    main(["embed", "--store", str(store), "--out", str(tmp_path / "m<1>.html"), "--from", "2023-09-01",
          "--to", "2023-09-30", "--lang", "en"])
    assert "Incidents per hexagon" in (tmp_path / "m_1.html").read_text()


@pytest.mark.browser
def test_embed_draws_offline_in_chromium_and_planted_script_never_runs(page, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    path = tmp_path / "embed.html"
    path.write_text(page, encoding="utf-8")
    n_features = sum(len(b["features"]) for b in geojson_blocks(page))
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1000,800",
                f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path)}", "--host-resolver-rules=MAP * ~NOTFOUND"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        driver.get(path.as_uri())
        drawn = driver.execute_script("return document.querySelectorAll('path.leaflet-interactive').length")
        assert drawn == n_features > 50
        assert driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)") == []
        tips = driver.execute_script("""
            const texts = [];
            for (const k of Object.keys(window)) { const g = window[k];
              if (g && g instanceof L.GeoJSON && g.getTooltip()) {
                g.eachLayer(l => { l.fire('mouseover', {latlng: l.getBounds().getCenter()}, true);
                                   const el = g.getTooltip().getElement(); if (el) texts.push(el.innerText);
                                   l.fire('mouseout', {}, true); }); } }
            return texts;""")
        assert len(tips) == n_features and any("San Juan <b>de</b> Lurigancho" in t for t in tips)
        assert driver.execute_script("return typeof window.__pwned") == "undefined"
        assert SCRIPT in driver.execute_script("return document.body.innerText")
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
        driver.save_screenshot(str(tmp_path / "embed.png"))
    finally:
        driver.quit()
