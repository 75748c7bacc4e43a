"""Real district-month counts beside synthetic points: views, labels, exports, embeds, the demo's guards.

The counts are a small file in the real SIDPOL release's exact format
(tests/sidpol_fixture.py), ingested as the ``sidpol`` layer through
``geo.datasets.ingest_dataset`` into a copy of the synthetic views store.
"""

from __future__ import annotations

import datetime as dt
import shutil

import orjson
import pandas as pd
import pytest

from geo import datasets
from geo.datasets import DatasetError
from geo.errors import HexwatchError
from geo.store import Store, write_version
from geo.views import MonthViews, months_touching, open_month_views
from sidpol_fixture import PUBLIC_TYPES, SENSITIVE, expected_counts, manifest_for, sidpol_frame, write_sidpol_fixture


@pytest.fixture(scope="module")
def fixture_file(tmp_path_factory):
    return write_sidpol_fixture(tmp_path_factory.mktemp("sidpol") / "denuncias_sidpol_clean.parquet")


@pytest.fixture(scope="module")
def mixed_store(views_store, fixture_file, tmp_path_factory):
    """Synthetic points (cubes) + the real-format counts as the real layer."""
    root = tmp_path_factory.mktemp("mixed") / "store"
    shutil.copytree(views_store, root)
    datasets.ingest_dataset("sidpol", root, path=fixture_file, manifest=manifest_for(fixture_file))
    return root


def test_ingest_adds_up_and_records_the_real_layer(mixed_store, fixture_file):
    frame = sidpol_frame()
    store = Store.open(mixed_store)
    dm = store.read("district_month")
    assert len(dm) == len(frame) - 1  # every row but the malformed c"2018" one
    assert int(dm["n"].sum()) == int(frame["cantidad"].sum()) - 4
    assert set(dm["ubigeo"]) >= {"070101", "080101", "150132"}  # leading zeros restored
    layers = datasets.store_layers(store.meta)
    assert layers["points"]["synthetic"] is True and layers["district_month"]["synthetic"] is False
    assert layers["district_month"]["attribution"] == "Fuente: Ministerio del Interior (MININTER), SIDPOL — datos abiertos"
    assert layers["district_month"]["sha256"] == manifest_for(fixture_file)["datasets"]["sidpol"]["sha256"]
    # Again: nothing added, the layer's record unchanged.
    again = datasets.ingest_dataset("sidpol", mixed_store, path=fixture_file, manifest=manifest_for(fixture_file))
    assert again.n_accepted == 0 and again.version is None


def test_ingest_refuses_another_file_and_a_synthetic_layer(fixture_file, tmp_path):
    other = tmp_path / "other.parquet"
    sidpol_frame(seed=12).to_parquet(other, index=False)
    with pytest.raises(DatasetError, match="is not the pinned denuncias_sidpol_clean.parquet"):
        datasets.ingest_dataset("sidpol", tmp_path / "s1", path=other, manifest=manifest_for(fixture_file))
    synth = tmp_path / "s2"
    write_version(synth, tables={"district_month": pd.DataFrame({
        "ubigeo": ["150132"], "year": pd.array([2023], "int16"), "month": pd.array([1], "int8"),
        "category": ["Robo"], "n": pd.array([5], "int64")})}, meta={"synthetic": True})
    with pytest.raises(DatasetError, match="holds synthetic data; real sidpol counts must not mix"):
        datasets.ingest_dataset("sidpol", synth, path=fixture_file, manifest=manifest_for(fixture_file))


def test_month_views_match_pandas(mixed_store):
    views = open_month_views(Store.open(mixed_store))
    assert views.first == (2022, 1) and views.last == (2026, 4)
    months = [(2023, 9), (2023, 10), (2023, 11)]
    got = views.counts(months_touching((dt.date(2023, 9, 20), dt.date(2023, 11, 18))))
    want = expected_counts(sidpol_frame(), months, public=False)
    assert got[got > 0].to_dict() == want.to_dict()
    public = [c for c in views.categories if c in {t.lower() for t in PUBLIC_TYPES}]  # ingest keeps categories in lower case
    got = views.counts(((2023, 9), (2023, 11)), public)
    assert got[got > 0].to_dict() == expected_counts(sidpol_frame(), months, public=True).to_dict()
    assert got.attrs["months"] == ((2023, 9), (2023, 11))
    # A span outside the record: zeros, and it says the record covers none of it.
    outside = views.counts(((2030, 1), (2030, 2)))
    assert outside.sum() == 0 and outside.attrs["months"] is None
    series = views.monthly({"sjl": ["150132"], "all": None}, ((2023, 1), (2023, 12)))
    assert list(series.columns) == ["month", "group", "n"] and len(series) == 24
    assert series[series["group"] == "all"]["n"].sum() == views.counts(((2023, 1), (2023, 12))).sum()
    assert open_month_views(Store.open(mixed_store)) is views  # cached per store version


def test_month_views_without_counts_say_what_to_do(views_store):
    with pytest.raises(HexwatchError, match="holds no district-month counts"):
        MonthViews.build(Store.open(views_store))


def test_banner_and_impact_source_follow_the_layers(mixed_store, views_store, tmp_path):
    from dashboard.layout import banner_key

    assert banner_key(Store.open(mixed_store)) == "banner.mixed"
    assert banner_key(Store.open(views_store)) == "banner.synthetic"
    real_only = tmp_path / "real"
    shutil.copytree(mixed_store, real_only)
    for table in ("cube_cell", "cube_district"):  # a store of the real counts alone
        (Store.open(real_only).table_path(table)).unlink()
    assert banner_key(Store.open(real_only)) is None


def _app(store, demo_districts, role="public"):
    from dashboard import create_app
    from dashboard.access import AccessConfig

    return create_app(store, districts=demo_districts, access=AccessConfig(anonymous_role=role))


def test_counts_view_numbers_and_labels(mixed_store, demo_districts):
    from dashboard.pages.impact.layout import default_source
    from dashboard.pages.map import counts_layer
    from dashboard.state import UIState

    app = _app(mixed_store, demo_districts)
    ctx = app.hexwatch
    assert default_source(ctx) == "sidpol" and counts_layer.default_layer(ctx) == "districts"
    with app.server.test_request_context("/"):
        state = UIState.from_query("from=2023-09-20&to=2023-11-18&area=lima_callao", ctx.catalog())
        public = counts_layer.counts_view(ctx, state, public=True)
        official = counts_layer.counts_view(ctx, state, public=False)
        months = [(2023, 9), (2023, 10), (2023, 11)]
        sjl = {r["ubigeo"]: r["n"] for r in public["top"]}["150132"]
        assert sjl == expected_counts(sidpol_frame(), months, public=True)["150132"]
        assert {r["ubigeo"]: r["n"] for r in official["top"]}["150132"] == expected_counts(sidpol_frame(), months,
                                                                                          public=False)["150132"]
        assert any(SENSITIVE.lower() in n for n in public["notes"]) and not official["notes"]
        assert any("otros" in n for n in public["notes"])  # left out (not reviewed), and said so
        assert public["real"] and "DATOS REALES" in public["summary"] and "sep. 2023 – nov. 2023" in public["summary"]
        assert "Fuente: Ministerio del Interior (MININTER)" in public["source"] and "ODC-By" in public["source"]
        tips = {f["properties"]["ubigeo"]: f["properties"]["tooltip"] for f in public["geojson"]["features"]}
        assert "DATOS REALES" in tips["150132"] and len(tips) == 50  # every Lima + Callao district, none elsewhere
        # The points' category spelling (ROBO) finds the counts' (Robo); one with no match is named.
        picked = UIState.from_query("from=2023-09-20&to=2023-11-18&category=ROBO", ctx.catalog())
        assert "ROBO" in ctx.catalog().categories  # the synthetic points' spelling
        robo = counts_layer.counts_view(ctx, picked, public=True)
        want = sidpol_frame()
        want = want[(want["tipo_hecho"] == "Robo") & (want["ubigeo"] == "150132")
                    & want["anio"].isin(["2023"]) & want["mes"].isin(["9", "10", "11"])]["cantidad"].sum()
        assert {r["ubigeo"]: r["n"] for r in robo["top"]}["150132"] == want
        # EXTORSION (points) is extorsión (counts): accents are ignored too.
        ext = counts_layer.categories_for(open_month_views(ctx.store()), ("EXTORSION",), public=True)
        assert ext == (["extorsión"], [])
        cats, unmatched = counts_layer.categories_for(open_month_views(ctx.store()), ("robo", "PHISHING"), public=True)
        assert cats == ["robo"] and unmatched == ["PHISHING"]
        en = counts_layer.counts_view(ctx, UIState.from_query("lang=en&area=all&from=2023-09-20&to=2023-11-18",
                                                               ctx.catalog()), public=True)
        assert "REAL DATA" in en["summary"] and "reports in" in en["summary"]


def test_exports_and_embeds_say_which_layer_is_synthetic(mixed_store, demo_districts, tmp_path):
    from geo.embed import embed_html
    from geo.export import export_view
    from geo.viewspec import View

    view = View.from_query("from=2023-09-01&to=2023-09-30&area=lima_callao&res=8")
    path = export_view(mixed_store, view, "geojson", tmp_path, public=True, districts=demo_districts)[0]
    prov = orjson.loads(path.read_bytes())["hexwatch"]
    assert prov["synthetic"] is True and prov["counts_layer"] == "points"
    assert prov["layers"]["points"]["synthetic"] is True and prov["layers"]["district_month"]["synthetic"] is False
    assert prov["layers"]["district_month"]["licence"].startswith("ODC-By")
    page = embed_html(mixed_store, view, lang="es", districts=demo_districts)
    assert "Hexágonos: DATOS SINTÉTICOS DE DEMOSTRACIÓN" in page and "SIDPOL — datos abiertos" in page


def test_demo_refuses_synthetic_counts_over_real_ones(tmp_path):
    import geopandas as gpd
    import shapely

    from geo.declarations import Registry, parse_declarations
    from geo.demo import DemoConfig, build_demo_store, simulate_counts

    squares = gpd.GeoDataFrame({"ubigeo": ["990101", "990102"], "name": ["A", "B"]}, crs=4326,
                               geometry=[shapely.box(i * 0.1, 0, i * 0.1 + 0.1, 0.1) for i in range(2)])
    registry = Registry(parse_declarations("decree_id,start,days,areas,confirmed\nDS 1-2023-PCM,2023-03-01,31,990101,yes\n"))
    cfg = DemoConfig(n_incidents=2_000, seed=1, start="2023-01-01", end="2023-06-30")
    _, truth = simulate_counts(cfg, squares, registry)
    root = tmp_path / "store"
    write_version(root, tables={"district_month": pd.DataFrame({
        "ubigeo": ["150132"], "year": pd.array([2023], "int16"), "month": pd.array([1], "int8"),
        "category": ["Robo"], "n": pd.array([5], "int64")})},
        meta={"synthetic": True, "demo": orjson.loads(orjson.dumps(dict(truth))),
              "layers": {"district_month": datasets.layer_entry(datasets.dataset("sidpol"))}})
    with pytest.raises(HexwatchError, match="holds real district-month counts; synthetic ones must not mix"):
        build_demo_store(root, cfg, boundaries=squares, registry=registry, district_counts=True)


def test_about_panel_lists_each_layer_as_real_or_synthetic(mixed_store, demo_districts):
    from dashboard.pages.about.callbacks import layers_list

    app = _app(mixed_store, demo_districts)
    with app.server.test_request_context("/"):
        items = {li.to_plotly_json()["props"]["data-layer"]: li for li in layers_list(app.hexwatch, "es").children[1].children}
    assert set(items) == {"points", "district_month"}
    assert items["district_month"].to_plotly_json()["props"]["data-real"] == "yes"
    assert items["points"].to_plotly_json()["props"]["data-real"] == "no"
    assert "SIDPOL — datos abiertos" in str(items["district_month"].children)
