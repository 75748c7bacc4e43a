"""Exports: round trip against the raw incidents, RFC 7946, provenance, public rules, safety."""

from __future__ import annotations

import re
from datetime import date

import geopandas as gpd
import h3
import numpy as np
import orjson
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely

from sharing_data import SHARING_CATEGORIES, build_sharing_store, sharing_districts, sharing_incidents
from geo.cli import main
from geo.errors import HexwatchError
from geo.export import export_filename, export_view, safe_filename, view_data
from geo.privacy import DEFAULT_K, is_sensitive
from geo.viewspec import View

VIEW = View(start=date(2023, 9, 20), end=date(2023, 11, 18), resolution=8, categories=("hurto", "robo"))
PERU_LON, PERU_LAT = (-81.4, -68.6), (-18.4, 0.1)


def truth_counts(store, view: View) -> pd.Series:
    """The oracle: the store's cell cube summed with plain pandas, per H3 id."""
    cube = pd.read_parquet(next((store / "versions").glob("*/cube_cell.parquet")))
    day = pd.to_datetime(cube["day"]).dt.date
    sel = cube.loc[(cube["resolution"] == view.resolution) & (day >= view.start) & (day <= view.end)
                   & cube["category"].isin(view.categories)]
    return sel.groupby(sel["cell"].map(lambda c: h3.int_to_str(int(c))))["n"].sum()


@pytest.fixture(scope="module")
def official_geojson(sharing_store, tmp_path_factory):
    store, _ = sharing_store
    out = tmp_path_factory.mktemp("exp") / "view.geojson"
    export_view(store, VIEW, "geojson", out, districts=sharing_districts(), registry=None)
    return out


def test_geojson_round_trip_gives_the_stores_counts(official_geojson, sharing_store):
    store, _ = sharing_store
    gdf = gpd.read_file(official_geojson)
    hexes = gdf.loc[gdf["layer"] == "hex"].set_index("h3")
    truth = truth_counts(store, VIEW)
    in_view = hexes.loc[hexes["count"] > 0, "count"].astype(int)
    assert in_view.sort_index().to_dict() == truth.sort_index().to_dict()
    assert (hexes["resolution"] == 8).all()
    # A hex's polygon is its H3 cell.
    cell = hexes.index[0]
    expect = shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)])
    assert hexes.geometry.iloc[0].equals_exact(expect, tolerance=1e-6)


def test_geojson_follows_rfc7946(official_geojson):
    raw = official_geojson.read_bytes()
    doc = orjson.loads(raw)
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    assert not re.search(rb"-?\d+\.\d{7,}", raw), "coordinates are rounded to 6 decimals"
    layers = {f["properties"]["layer"] for f in doc["features"]}
    assert layers == {"hex", "district"}
    for f in doc["features"]:
        geom = shapely.geometry.shape(f["geometry"])
        assert geom.is_valid
        for poly in getattr(geom, "geoms", [geom]):
            ring = f["geometry"]["coordinates"][0] if f["geometry"]["type"] == "Polygon" else None
            assert poly.exterior.is_ccw, "exterior rings are counter-clockwise (right-hand rule)"
            assert all(not h.is_ccw for h in poly.interiors)
            if ring is not None:
                assert ring[0] == ring[-1], "rings are closed"
        lon, lat = np.asarray(geom.exterior.coords if geom.geom_type == "Polygon" else geom.geoms[0].exterior.coords).T
        assert PERU_LON[0] < lon.min() and lon.max() < PERU_LON[1], "longitude first"
        assert PERU_LAT[0] < lat.min() and lat.max() < PERU_LAT[1]


def test_geojson_carries_provenance(official_geojson, sharing_store):
    store, _ = sharing_store
    prov = orjson.loads(official_geojson.read_bytes())["hexwatch"]
    assert prov["synthetic"] is True and prov["dataset"] == "sharing test store"
    assert prov["store_version"] == (store / "CURRENT").read_text().strip()
    assert prov["filters"]["start"] == "2023-09-20" and prov["filters"]["categories"] == ["hurto", "robo"]
    assert View.from_query(prov["query"]) == VIEW
    assert prov["hexwatch_version"] and prov["generated_at"] and prov["public"] is False


def test_csv_and_geoparquet_hold_the_same_rows_with_a_provenance_sidecar(sharing_store, official_geojson, tmp_path):
    store, _ = sharing_store
    gj = gpd.read_file(official_geojson)
    csv_path, csv_side = export_view(store, VIEW, "csv", tmp_path / "v.csv", districts=sharing_districts())
    pq_path, pq_side = export_view(store, VIEW, "geoparquet", tmp_path / "v.parquet", districts=sharing_districts())
    csv = pd.read_csv(csv_path, dtype={"ubigeo": str})
    gpq = gpd.read_parquet(pq_path)
    for table in (csv, gpq):
        hexes = table.loc[table["layer"] == "hex"].set_index("h3")["count"].astype(int)
        assert hexes.sort_index().to_dict() == gj.loc[gj["layer"] == "hex"].set_index("h3")["count"].astype(int).sort_index().to_dict()
    assert gpq.crs.to_epsg() == 4326 and b"geo" in pq.read_schema(pq_path).metadata
    for side in (csv_side, pq_side):
        assert side.name.endswith(".provenance.json")
        assert orjson.loads(side.read_bytes())["filters"]["categories"] == ["hurto", "robo"]


def test_csv_neutralises_spreadsheet_formulas(sharing_store, tmp_path):
    store, _ = sharing_store
    path, _ = export_view(store, VIEW, "csv", tmp_path / "v.csv", districts=sharing_districts())
    names = pd.read_csv(path)["name"].dropna().tolist()
    assert "'=HYPERLINK(\"x\")" in names and not any(n.startswith("=") for n in names)


def test_district_layer_has_counts_officially_and_area_filters_hexes(official_geojson, sharing_store):
    store, incidents = sharing_store
    gdf = gpd.read_file(official_geojson)
    d = gdf.loc[gdf["layer"] == "district"].set_index("ubigeo")
    day = incidents["day"].to_numpy().astype("datetime64[D]")
    sel = incidents.loc[(day >= np.datetime64(VIEW.start)) & (day <= np.datetime64(VIEW.end))
                        & incidents["category"].isin(VIEW.categories)]
    assert d["count"].astype(int).to_dict() == sel["ubigeo"].value_counts().to_dict()
    lima = export_view(store, VIEW.replace(area="lima_callao"), "geojson", official_geojson.with_name("lima.geojson"),
                       districts=sharing_districts())[0]
    g = gpd.read_file(lima)
    assert set(g.loc[g["layer"] == "district", "ubigeo"]) == {"150132", "150135"}
    assert g.loc[g["layer"] == "hex"].bounds["maxy"].max() < -11  # no Sullana hexes (about -4.9)


def test_public_export_has_no_small_count_fine_cell_point_or_sensitive_category(sharing_store, tmp_path):
    store, incidents = sharing_store
    view = View(start=date(2023, 9, 20), end=date(2023, 11, 18), resolution=10)
    for fmt in ("geojson", "csv", "geoparquet"):
        paths = export_view(store, view, fmt, tmp_path / f"pub.{fmt}", public=True, districts=sharing_districts())
        table = gpd.read_file(paths[0]) if fmt == "geojson" else (
            pd.read_csv(paths[0], dtype={"ubigeo": str}) if fmt == "csv" else gpd.read_parquet(paths[0]))
        hexes = table.loc[table["layer"] == "hex"]
        assert len(hexes) > 50
        exact = hexes["count"].dropna().astype(int)
        assert ((exact == 0) | (exact >= DEFAULT_K)).all()
        assert hexes["count_label"].astype(str).map(lambda s: s == "< 5" or "–" in s or int(s) == 0 or int(s) >= 5).all()
        assert (hexes["count_label"] == "< 5").any(), "the store holds small cells: some must be suppressed"
        assert max(h3.get_resolution(c) for c in hexes["h3"]) <= 8
        assert "count" not in table.loc[table["layer"] == "district"].dropna(axis=1, how="all").columns
        if fmt != "csv":
            assert set(table.geometry.geom_type) <= {"Polygon", "MultiPolygon"}
        text = b"".join(p.read_bytes() for p in paths).decode("utf-8", "replace").casefold()
        assert "violencia familiar" not in text
        assert not any(c.casefold() in text for c in incidents["category"].unique() if is_sensitive([c])[0])
        pts = incidents[["lon", "lat"]].round(6).head(2000)
        assert not any(f"{x:.6f}".rstrip("0") in text and f"{y:.6f}".rstrip("0") in text
                       for x, y in pts.itertuples(index=False)), "a raw incident coordinate leaked"


def test_public_district_layer_ignores_districts_with_only_sensitive_incidents(tmp_path):
    # Sullana's only incidents are sensitive: officials see its count, the public never sees it listed.
    inc = sharing_incidents(3000)
    inc.loc[inc["ubigeo"] == "200601", "category"] = SHARING_CATEGORIES[2]
    store = build_sharing_store(tmp_path / "store", inc)
    view = View(start=date(2023, 6, 1), end=date(2023, 7, 31), resolution=8)  # before any declaration
    official = view_data(store, view, districts=sharing_districts()).districts.set_index("ubigeo")
    assert official.loc["200601", "count"] > 0 and not official["emergency"].any()
    public = view_data(store, view, public=True, districts=sharing_districts()).districts
    assert set(public["ubigeo"]) == {"150132", "150135"}
    only_sensitive = view_data(build_sharing_store(tmp_path / "s2", inc.loc[inc["ubigeo"] == "200601"]), view,
                               public=True, districts=sharing_districts())
    assert len(only_sensitive.districts) == 0 and len(only_sensitive.hexes) == 0


def test_public_export_refuses_k_below_3_and_sensitive_categories(sharing_store, tmp_path):
    store, _ = sharing_store
    with pytest.raises(HexwatchError, match="k >= 3"):
        export_view(store, VIEW, "geojson", tmp_path / "x.geojson", public=True, k=2, districts=sharing_districts())
    with pytest.raises(HexwatchError, match="sensitive"):
        export_view(store, VIEW.replace(categories=(SHARING_CATEGORIES[2],)), "csv", tmp_path / "x.csv", public=True,
                    districts=sharing_districts())


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd", "etc_passwd"),
    ("..\\..\\x", "x"),
    ("C:\\Windows\\system32\\x.csv", "C_Windows_system32_x.csv"),
    ('robos "SJL" <2023>.geojson', "robos_SJL_2023.geojson"),
    ("hexwatch_../../etc/passwd_r8.csv", "hexwatch_etc_passwd_r8.csv"),
    ("a..b...c.csv", "a.b.c.csv"),
    ("--rf .bashrc..csv", "rf_bashrc.csv"),
    # Accents are transliterated (a header's plain filename= is ASCII); full-width look-alikes too.
    ("Año_Perú.csv", "Ano_Peru.csv"),
    ("VIOLACIÓN／..／Perú‥csv", "VIOLACION_Peru.csv"),
    ("a\x00b\nc.csv", "a_b_c.csv"),
    ("nul.geojson", "nul_.geojson"),
    # Nothing left after cleaning: the default name, keeping the extension when there is one.
    ("...", "hexwatch-export"),
    ("../..", "hexwatch-export"),
    ("../.csv", "hexwatch-export.csv"),
    ("日本語.csv", "hexwatch-export.csv"),
    ("\u202e\u200b", "hexwatch-export"),
])
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


def test_safe_filename_keeps_the_extension_when_cutting_and_never_leaves_dot_dot():
    long = safe_filename("x" * 300 + ".geojson")
    assert len(long) == 120 and long.endswith("x.geojson")
    name = export_filename(VIEW.replace(categories=("../../etc/passwd", "..\\..\\x", "robo")), "csv")
    assert name == "hexwatch_etc_passwd_x_robo_2023-09-20_2023-11-18_r8.csv"
    for raw in ("../" * 50 + "x.csv", "._-" * 40, "a" + "_.." * 60 + "b", "..\\" * 30):
        got = safe_filename(raw)
        assert ".." not in got and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", got) and len(got) <= 120, (raw, got)


def test_export_file_names_are_sanitised_and_writes_leave_no_temp_files(sharing_store, tmp_path):
    store, _ = sharing_store
    name = export_filename(VIEW.replace(categories=("<script>", "robo")), "geojson")
    assert re.fullmatch(r"[\w.\-]+", name) and name.endswith(".geojson")
    (tmp_path / "old.geojson").write_text("old")
    path = export_view(store, VIEW, "geojson", tmp_path / "old.geojson", districts=sharing_districts())[0]
    assert orjson.loads(path.read_bytes())["type"] == "FeatureCollection"
    written = export_view(store, VIEW, "csv", tmp_path / "a<b>|c.csv", districts=sharing_districts())
    assert [p.name for p in written] == ["a_b_c.csv", "a_b_c.csv.provenance.json"]
    folder = export_view(store, VIEW, "csv", tmp_path, districts=sharing_districts())[0]
    assert folder.parent == tmp_path and folder.name.startswith("hexwatch_")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_cli_export_writes_the_view_and_reports_user_errors(sharing_store, tmp_path, capsys):
    store, _ = sharing_store
    out = tmp_path / "cli.geojson"
    main(["export", "--store", str(store), "--format", "geojson", "--out", str(out), "--from", "2023-09-20",
          "--to", "2023-11-18", "--category", "robo", "--category", "hurto", "--resolution", "8"])
    gdf = gpd.read_file(out)
    hexes = gdf.loc[gdf["layer"] == "hex"].set_index("h3")
    assert hexes.loc[hexes["count"] > 0, "count"].astype(int).sort_index().to_dict() == \
        truth_counts(store, VIEW).sort_index().to_dict()
    with pytest.raises(SystemExit) as exc:
        main(["export", "--store", str(store), "--format", "shp", "--out", str(tmp_path / "x")])
    assert exc.value.code == 2 and "geojson, csv, geoparquet" in capsys.readouterr().err


def test_district_emergency_status_from_the_registry_on_real_boundaries(sharing_store, study_districts, tmp_path):
    store, _ = sharing_store
    view = View(start=date(2023, 10, 1), end=date(2023, 10, 31), area="lima_callao", spell="DS-105-2023-PCM")
    gdf = gpd.read_file(export_view(store, view, "geojson", tmp_path / "d.geojson", districts=study_districts)[0])
    d = gdf.loc[gdf["layer"] == "district"].set_index("ubigeo")
    assert d.loc["150132", "emergency"] and d.loc["150132", "spell"] == "DS-105-2023-PCM"
    assert d.loc["150132", "declared_days"] == 31 and str(d.loc["150132", "emergency_start"])[:10] == "2023-09-20"
    assert "DS-105-2023-PCM" in d.loc["150132", "decrees"]
    assert not d.loc[d.index.str.startswith("0701"), "emergency"].any()  # Callao was not under DS 105
    assert not d.index.str.startswith("2006").any()  # Sullana is outside the area


@pytest.mark.parametrize("public", [False, True])
def test_gpkg_shapefile_and_xlsx_hold_the_same_view_and_provenance(sharing_store, tmp_path, public):
    """QGIS/ArcGIS and spreadsheet users get what the GeoJSON holds: the same hexes and
    counts, the districts, and the provenance (dataset, synthetic flag, filters, privacy)."""
    import zipfile

    import openpyxl
    import pyogrio

    store, _ = sharing_store
    kw = dict(districts=sharing_districts(), public=public)
    ref = gpd.read_file(export_view(store, VIEW, "geojson", tmp_path / "v.geojson", **kw)[0])
    ref_hex = ref.loc[ref["layer"] == "hex"].set_index("h3").sort_index()
    gpkg = export_view(store, VIEW, "gpkg", tmp_path / "v.gpkg", **kw)[0]
    layers = dict(pyogrio.list_layers(gpkg))
    assert layers == {"hexes": "Polygon", "districts": "MultiPolygon", "provenance": None}
    hexes = pyogrio.read_dataframe(gpkg, layer="hexes").set_index("h3").sort_index()
    assert hexes["count_label"].tolist() == ref_hex["count_label"].tolist()
    assert hexes.crs.to_epsg() == 4326 and shapely.equals_exact(hexes.geometry.values, ref_hex.geometry.values, tolerance=1e-6).all()
    prov = pyogrio.read_dataframe(gpkg, layer="provenance", read_geometry=False).set_index("key")["value"]
    assert prov["synthetic"] == "true" and orjson.loads(prov["public"]) is public
    assert ("privacy" in prov.index) is public

    shp = export_view(store, VIEW, "shapefile", tmp_path / "v.shp.zip", **kw)[0]
    names = zipfile.ZipFile(shp).namelist()
    assert {"hexes.shp", "hexes.dbf", "hexes.prj", "hexes.cpg", "districts.shp", "provenance.json", "fields.csv"} <= set(names)
    sh = pyogrio.read_dataframe(f"/vsizip/{shp}/hexes.shp").set_index("h3").sort_index()
    assert all(len(c) <= 10 for c in sh.columns)
    assert sh["count_lab"].tolist() == ref_hex["count_label"].tolist()
    d = pyogrio.read_dataframe(f"/vsizip/{shp}/districts.shp")
    assert "San Juan <b>de</b> Lurigancho" in set(d["name"])  # UTF-8 and markup survive as text
    assert orjson.loads(zipfile.ZipFile(shp).read("provenance.json"))["public"] is public

    xlsx = export_view(store, VIEW, "xlsx", tmp_path / "v.xlsx", **kw)[0]
    wb = openpyxl.load_workbook(xlsx)
    assert wb.sheetnames == ["hexes", "districts", "provenance"]
    rows = list(wb["hexes"].values)
    header, body = rows[0], rows[1:]
    assert len(body) == len(ref_hex) and "geometry" not in header
    labels = sorted(str(r[header.index("count_label")]) for r in body)
    assert labels == sorted(ref_hex["count_label"].astype(str))
    cells = [c for row in wb["districts"].iter_rows() for c in row]
    formula = next(c for c in cells if isinstance(c.value, str) and c.value.startswith("=HYPERLINK"))
    assert formula.data_type == "s"  # text, never run as a formula
    meta = {k: v for k, v in wb["provenance"].values}
    assert meta["dataset"] == "sharing test store" and orjson.loads(meta["public"]) is public


def test_public_trends_come_from_the_published_grid_and_contain_the_truth(sharing_store):
    from geo.export import public_trends
    from geo.privacy import PublicGrid

    store, incidents = sharing_store
    grid = PublicGrid(k=5)
    t = public_trends(store, {"Lima": ["150132", "150135"], "all": "all"}, grid=grid, districts=sharing_districts(),
                      start=date(2023, 6, 10), end=date(2023, 12, 31))
    # June is cut by the start: a partial month is left out rather than drawn as a drop.
    assert sorted(set(t["period"].dt.strftime("%Y-%m"))) == ["2023-07", "2023-08", "2023-09", "2023-10", "2023-11", "2023-12"]
    public = incidents.loc[~incidents["category"].isin(["violencia familiar"])]
    month = pd.to_datetime(public["day"]).dt.strftime("%Y-%m")
    for (period, group), row in t.set_index(["period", "group"]).iterrows():
        sel = month == period.strftime("%Y-%m")
        if group == "Lima":
            sel &= public["ubigeo"].isin(["150132", "150135"])
        truth = int(sel.sum())
        assert row["n_low"] <= truth <= row["n_high"], (period, group)
        assert row["label"] == (f"{row['n_low']:,}" if row["exact"] else f"{row['n_low']:,}–{row['n_high']:,}")
    assert (t.loc[t["group"] == "all", "n_low"].to_numpy() >= t.loc[t["group"] == "Lima", "n_low"].to_numpy()).all()


@pytest.mark.parametrize("resolution,days,metric", [(7, 31, "count"), (7, 92, "count"), (8, 61, "rate")])
def test_public_fixed_classes_are_quantiles_of_every_run_of_whole_periods(views_store, resolution, days, metric):
    """The public legend's classes: quantiles of each hex's lower count (or per km²) in
    every run of as many whole months as the window spans, over the whole published grid.
    The oracle walks the runs one by one on the published grid itself."""
    from geo import legend, privacy
    from geo.export import cells_area_km2, public_fixed_classes, published_grid
    from geo.store import Store

    st = Store.open(views_store)
    grid = privacy.PublicGrid()
    pub = published_grid(st, grid)
    m = max(int(round(days / 30.44)), 1)
    months = sorted(pub["period"].unique())
    values = []
    for i in range(0, len(months), m):
        entries = pub.loc[pub["period"].isin(months[i:i + m])]
        counts = privacy.public_counts(entries, resolution, grid)
        low = counts["count_low"].to_numpy(float)
        if metric == "rate":
            low = low / np.asarray(cells_area_km2(counts["cell"].to_numpy(np.uint64)), dtype=float)
        values.append(low)
    want = legend.quantile_breaks(np.concatenate(values), 5, decimals=1 if metric == "rate" else 0)
    got = public_fixed_classes(st, resolution, days, metric=metric, grid=grid)
    assert want and list(got.breaks) == want
