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
from geo.embed import embed_html, read_payload
from geo.errors import HexwatchError
from geo.viewspec import View

SCRIPT = SHARING_CATEGORIES[3]  # "<script>window.__pwned=1</script>"
VIEW = View(start=date(2023, 9, 20), end=date(2023, 11, 18), categories=("robo", "hurto", SCRIPT), resolution=9)


def payload(page: str) -> dict:
    """The page's compressed map data, inflated as the browser does."""
    return read_payload(page)


def ring(a: list[int]) -> list[tuple[float, float]]:
    import numpy as np

    q = np.cumsum(np.asarray(a).reshape(-1, 2), axis=0) / 1e5
    return [tuple(x) for x in q]


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
    tips = [tip for _, _, tip in payload(page)["dist"]]
    assert any("San Juan &lt;b&gt;de&lt;/b&gt; Lurigancho" in t for t in tips)


def test_embed_applies_the_public_rules(page, sharing_store):
    _, incidents = sharing_store
    data = payload(page)
    ids = data["ids"]
    assert len(ids) > 50 and all(h3.is_valid_cell(i) for i in ids)
    assert max(h3.get_resolution(i) for i in ids) == 8  # asked 9: clamped
    labels = [data["labels"][lab] for _, _, lab in data["hex"]]
    assert all(lab == "&lt; 5" or "–" in lab or int(lab) == 0 or int(lab) >= 5 for lab in labels)
    assert "&lt; 5" in labels
    # Each hexagon's six vertices, to about a metre.
    for (r, _, _), i in list(zip(data["hex"], ids))[:20]:
        got = sorted(ring(r))
        want = sorted(h3.cell_to_boundary(i))
        assert len(got) == 6 and all(abs(a - c) < 2e-5 and abs(b - d) < 2e-5 for (a, b), (c, d) in zip(got, want))
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


def offline_page(path, tmp_path, size: str):
    """Headless Chromium with no network, on ``path``, once the embed has drawn."""
    import time

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", f"--window-size={size}",
                f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path)}", "--host-resolver-rules=MAP * ~NOTFOUND"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    driver.get(path.as_uri())
    for _ in range(150):  # the data inflate asynchronously
        if driver.execute_script("return document.body.dataset.hwReady"):
            break
        time.sleep(0.1)
    return driver


@pytest.mark.browser
def test_embed_draws_offline_in_chromium_and_planted_script_never_runs(page, tmp_path):
    path = tmp_path / "embed.html"
    path.write_text(page, encoding="utf-8")
    data = payload(page)
    n_features = len(data["hex"]) + len(data["dist"])
    driver = offline_page(path, tmp_path, "1000,800")
    try:
        drawn = driver.execute_script("return document.querySelectorAll('path.leaflet-interactive').length")
        assert drawn == n_features > 50
        assert driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)") == []
        tips = driver.execute_script("""
            const texts = [];
            for (const g of [hwLayers.hexes, hwLayers.districts]) {
                g.eachLayer(l => { l.fire('mouseover', {latlng: l.getBounds().getCenter()}, true);
                                   const el = l.getTooltip().getElement(); if (el) texts.push(el.innerText);
                                   l.fire('mouseout', {}, true); }); }
            return texts;""")
        assert len(tips) == n_features and any("San Juan <b>de</b> Lurigancho" in t for t in tips)
        assert driver.execute_script("return typeof window.__pwned") == "undefined"
        assert SCRIPT in driver.execute_script("return document.body.innerText")
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
        driver.save_screenshot(str(tmp_path / "embed.png"))
    finally:
        driver.quit()


def test_embed_of_a_city_view_is_small_in_its_language_with_a_gapless_legend(tmp_path):
    """A made-up city's public embed: every string in the page's language (the synthetic
    banner and source too), legend classes that meet without gaps, well under 500 kB."""
    from anycity_data import build_anycity_store

    build_anycity_store(tmp_path / "city")
    view = View(start=date(2024, 1, 1), end=date(2024, 3, 31), area="province:S")
    es = embed_html(tmp_path / "city", view, lang="es")
    en = embed_html(tmp_path / "city", view, lang="en")
    assert len(es.encode()) < 500_000
    assert "not real incidents" not in es and "no son incidentes reales" in es and "Southport" in es
    assert "no son" not in en and "not real incidents" in en
    labels = re.findall(r"</span>([^<]*)<span class='hw-n'>", es)
    counts = [lab for lab in labels if lab[0].isdigit() or lab.startswith("≥")]
    assert counts and counts[-1].startswith("≥")
    def span(label: str) -> tuple[int, int | None]:
        if label.startswith("≥"):
            return int(label.strip("≥ ").replace(",", "")), None
        lo, _, hi = label.partition("–")
        return int(lo.replace(",", "")), int((hi or lo).replace(",", ""))

    spans = [span(lab) for lab in counts]
    assert len(spans) >= 3
    assert all(b[0] == a[1] + 1 for a, b in zip(spans, spans[1:]))  # each class starts right after the last


@pytest.fixture(scope="module")
def lima_page(tmp_path_factory, demo_districts):
    """The public embed of Lima + Callao over a declaration, from a store dense enough that
    nearly every resolution-8 cell of the metro area holds incidents (the size's worst case)."""
    import importlib.util
    from pathlib import Path

    # By path: "from conftest import" could pick tests/browser/conftest.py.
    spec = importlib.util.spec_from_file_location("tests_conftest", Path(__file__).with_name("conftest.py"))
    top = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(top)
    store = top.build_views_store(tmp_path_factory.mktemp("lima") / "store", n_incidents=400_000, seed=4)
    view = View.from_query("declaration=DS-105-2023-PCM&area=lima_callao")
    return embed_html(store, view, lang="es", districts=demo_districts)


@pytest.mark.browser
def test_public_lima_embed_is_under_500_kb_and_draws_offline(lima_page, tmp_path):
    size = len(lima_page.encode("utf-8"))
    print(f"Lima embed: {size / 1e3:.0f} kB")
    assert size < 500_000
    data = payload(lima_page)
    assert len(data["hex"]) > 2500 and len(data["dist"]) == 50  # Lima's 43 districts and Callao's 7
    assert "SYNTHETIC" not in lima_page and "not real" not in lima_page
    path = tmp_path / "lima.html"
    path.write_text(lima_page, encoding="utf-8")
    driver = offline_page(path, tmp_path, "900,700")
    try:
        drawn = driver.execute_script("return document.querySelectorAll('path.leaflet-interactive').length")
        assert drawn == len(data["hex"]) + len(data["dist"])
        assert driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)") == []
        # The map is centred on Lima, and no control sits under the banner.
        c = driver.execute_script("const c = hwMap.getCenter(); return [c.lat, c.lng]")
        assert -12.4 < c[0] < -11.6 and -77.3 < c[1] < -76.7
        banner = driver.execute_script("return document.querySelector('.hw-banner').getBoundingClientRect().bottom")
        tops = driver.execute_script("return [...document.querySelectorAll('.leaflet-control, .hw-legend, .hw-panel')]"
                                     ".map(e => e.getBoundingClientRect().top)")
        assert tops and min(tops) >= banner
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
        driver.save_screenshot(str(tmp_path / "lima.png"))
    finally:
        driver.quit()
