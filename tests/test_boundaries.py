"""Boundaries: fetch through the mirror, refuse damaged files, load, user files, adjacency, areas."""

from __future__ import annotations

import doctest
import functools
import http.server
import shutil
import threading

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod

from geo import boundaries
from geo.boundaries import BoundaryError
from geo.cli import main

LIMA_CALLAO = ("150100", "070100")


def _equal_area(geoms):
    return gpd.GeoSeries(geoms, crs="EPSG:4326").to_crs(boundaries.AREA_CRS).to_numpy()


# --- fetched tables --------------------------------------------------------------


def test_mirror_fetch_gives_every_district_and_province(districts, provinces, study_districts):
    assert len(districts) == 1891 and len(study_districts) == 1891
    assert len(provinces) == 196
    for table, columns in ((districts, boundaries.DISTRICT_COLUMNS), (study_districts, boundaries.DISTRICT_COLUMNS),
                           (provinces, boundaries.PROVINCE_COLUMNS)):
        assert tuple(table.columns) == columns
        assert table.crs.equals("EPSG:4326")
        assert table.is_valid.all() and (table.geom_type == "MultiPolygon").all()
    assert districts["ubigeo"].is_unique and districts["ubigeo"].str.fullmatch(r"\d{6}").all()
    assert (districts["ubigeo"].str[:4] == districts["province_code"].str[:4]).all()
    assert provinces["province_code"].is_unique and provinces["province_code"].str.endswith("00").all()
    assert set(districts["province_code"]) == set(provinces["province_code"])
    row = districts.set_index("ubigeo").loc["150135"]
    assert (row["name"], row["province"], row["department"]) == ("San Martín de Porres", "Lima", "Lima")
    assert provinces.set_index("province_code").loc["200600", "name"] == "Sullana"


def test_all_fifty_lima_callao_districts_get_their_ubigeo(districts, lima_callao):
    assert len(lima_callao) == 50 and lima_callao["ubigeo"].is_unique
    expected = districts[districts["province_code"].isin(LIMA_CALLAO)]
    assert set(lima_callao["ubigeo"]) == set(expected["ubigeo"])
    names = lima_callao.set_index("ubigeo")["name"]
    assert names["150132"] == "San Juan de Lurigancho"
    assert names["070107"] == "Mi Perú"  # upstream's mis-encoded MI PERÃz
    assert names["070102"] == "Bellavista"  # the Callao one, not Sullana's 200602
    # The name join must have put each high-detail shape on its own district: it
    # overlaps the simplified shape of the same ubigeo far more than chance would.
    simplified = districts.set_index("ubigeo").geometry.loc[lima_callao["ubigeo"]].to_numpy()
    a, b = _equal_area(lima_callao.geometry.to_numpy()), _equal_area(simplified)
    iou = shapely.area(shapely.intersection(a, b)) / shapely.area(shapely.union(a, b))
    assert iou.min() > 0.7


def test_study_districts_take_high_detail_geometry_only_for_lima_callao(districts, lima_callao, study_districts):
    study = study_districts.set_index("ubigeo").geometry
    high = lima_callao.set_index("ubigeo").geometry
    low = districts.set_index("ubigeo").geometry
    assert study["150132"].equals(high["150132"]) and not study["150132"].equals(low["150132"])
    others = low.index.difference(high.index)
    assert shapely.equals(study.loc[others].to_numpy(), low.loc[others].to_numpy()).all()
    assert list(study_districts["ubigeo"]) == list(districts["ubigeo"])


def test_second_fetch_uses_the_cache_without_reading_sources(boundary_cache, tmp_path):
    empty_mirror = tmp_path / "empty"
    empty_mirror.mkdir()
    paths = boundaries.fetch(mirror=empty_mirror, cache_dir=boundary_cache)
    assert set(paths) == set(boundaries.TABLES) and all(p.is_file() for p in paths.values())
    with pytest.raises(BoundaryError, match="not in the mirror folder"):
        boundaries.fetch(mirror=empty_mirror, cache_dir=boundary_cache, force=True)
    assert len(boundaries.load_districts(boundary_cache)) == 1891  # a failed forced fetch keeps the cache


@pytest.mark.parametrize("victim", ["map_PROV.rda", "lima_callao_distritos.geojson"])
def test_mirror_file_with_one_byte_changed_is_refused_and_nothing_cached(mirror, tmp_path, victim):
    copy = tmp_path / "mirror"
    shutil.copytree(mirror, copy)
    data = bytearray((copy / victim).read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / victim).chmod(0o644)
    (copy / victim).write_bytes(bytes(data))
    cache = tmp_path / "cache"
    with pytest.raises(BoundaryError) as info:
        boundaries.fetch(mirror=copy, cache_dir=cache)
    message = str(info.value)
    assert victim in message and "sha256" in message and "\n" not in message
    assert not cache.exists() or not any(cache.rglob("*"))


def test_cli_refuses_a_damaged_mirror_in_one_line(mirror, tmp_path, monkeypatch, capsys):
    copy = tmp_path / "mirror"
    shutil.copytree(mirror, copy)
    (copy / "map_DIST.rda").chmod(0o644)
    with open(copy / "map_DIST.rda", "r+b") as fh:
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setenv("HEXWATCH_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(SystemExit) as exit_info:
        main(["boundaries", "fetch", "--mirror", str(copy)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "error: map_DIST.rda failed its sha256 check" in err.replace("\n", "") and "Traceback" not in err
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.parquet"))


def test_cli_fetch_reports_the_counts(boundary_cache, capsys):
    main(["boundaries", "fetch"])  # the session's env points at the fetched cache
    out = capsys.readouterr().out
    assert "districts: 1,891" in out and "provinces: 196" in out and "50 (50 with ubigeo)" in out


def test_loaders_without_fetched_boundaries_say_what_to_run(tmp_path, monkeypatch):
    for loader in (boundaries.load_districts, boundaries.load_provinces, boundaries.load_lima_callao,
                   boundaries.load_study_districts):
        with pytest.raises(BoundaryError, match="hexwatch boundaries fetch"):
            loader(tmp_path)
    monkeypatch.setenv("HEXWATCH_CACHE_DIR", str(tmp_path / "elsewhere"))
    with pytest.raises(BoundaryError, match="hexwatch boundaries fetch"):
        boundaries.load_study_districts()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


def test_download_path_verifies_what_it_downloads(mirror, tmp_path, monkeypatch):
    """Without a mirror, files come over HTTP from the manifest's URL (here a loopback
    server holding the real files, as the network may be absent) and are verified."""
    served = tmp_path / "served"
    shutil.copytree(mirror, served)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        manifest = boundaries.load_manifest()
        for src in manifest["sources"].values():
            src["url"] = f"http://127.0.0.1:{server.server_address[1]}/{src['file']}"
        monkeypatch.setattr(boundaries, "load_manifest", lambda: manifest)
        monkeypatch.setattr(boundaries, "default_mirror", lambda: None)
        monkeypatch.delenv("HEXWATCH_BOUNDARY_MIRROR", raising=False)
        paths = boundaries.fetch(cache_dir=tmp_path / "cache")
        assert len(gpd.read_parquet(paths["lima_callao"])) == 50
        (served / "map_PROV.rda").chmod(0o644)
        (served / "map_PROV.rda").write_bytes(b"not the pinned file")
        with pytest.raises(BoundaryError, match="sha256"):
            boundaries.fetch(cache_dir=tmp_path / "cache2")
        (served / "map_PROV.rda").unlink()
        with pytest.raises(BoundaryError, match="could not download map_PROV.rda"):
            boundaries.fetch(cache_dir=tmp_path / "cache3")
        assert not (tmp_path / "cache2").exists() and not (tmp_path / "cache3").exists()
    finally:
        server.shutdown()
        server.server_close()


# --- user boundary files ---------------------------------------------------------


def _user_areas(crs="EPSG:4326"):
    frame = gpd.GeoDataFrame(
        {"codigo": [101, 102, 103], "nombre": ["Centro", "Norte", "Sur"], "zona": ["A", "A", "B"]},
        geometry=[shapely.box(-71.55, -16.42, -71.52, -16.39), shapely.box(-71.55, -16.39, -71.52, -16.36),
                  shapely.Polygon([(-71.55, -16.45), (-71.52, -16.42), (-71.52, -16.45), (-71.55, -16.42)])],  # bow-tie
        crs="EPSG:4326")
    return frame.to_crs(crs)


def test_user_geojson_with_field_mapping(tmp_path):
    path = tmp_path / "arequipa.geojson"
    _user_areas().to_file(path, driver="GeoJSON")
    got = boundaries.read_boundary_file(path, id_field="codigo", name_field="nombre", province_field="zona")
    assert tuple(got.columns) == boundaries.DISTRICT_COLUMNS
    assert got["ubigeo"].tolist() == ["101", "102", "103"]
    assert got["name"].tolist() == ["Centro", "Norte", "Sur"] and got["province"].tolist() == ["A", "A", "B"]
    assert got["department"].isna().all()
    assert got.is_valid.all() and (got.geom_type == "MultiPolygon").all()  # the bow-tie is repaired
    assert got.geometry.iloc[0].equals(shapely.MultiPolygon([shapely.box(-71.55, -16.42, -71.52, -16.39)]))


def test_user_geopackage_in_utm_is_reprojected(tmp_path):
    path = tmp_path / "areas.gpkg"
    _user_areas("EPSG:32719").to_file(path, driver="GPKG", layer="zonas")
    got = boundaries.read_boundary_file(path, id_field="codigo", layer="zonas")
    assert got.crs.equals("EPSG:4326")
    assert got["name"].tolist() == got["ubigeo"].tolist()  # no name field: the id stands in
    np.testing.assert_allclose(got.geometry.iloc[1].bounds, (-71.55, -16.39, -71.52, -16.36), atol=1e-7)


def test_user_file_errors_are_one_clear_line(tmp_path):
    path = tmp_path / "areas.geojson"
    _user_areas().to_file(path, driver="GeoJSON")
    with pytest.raises(BoundaryError, match=r"no field 'ubigeo'; its fields are: codigo, nombre, zona"):
        boundaries.read_boundary_file(path, id_field="ubigeo")
    with pytest.raises(BoundaryError, match="repeats"):
        boundaries.read_boundary_file(path, id_field="zona")
    with pytest.raises(BoundaryError, match="does not exist"):
        boundaries.read_boundary_file(tmp_path / "nope.gpkg", id_field="codigo")
    junk = tmp_path / "junk.geojson"
    junk.write_text("{not json")
    with pytest.raises(BoundaryError, match="cannot read"):
        boundaries.read_boundary_file(junk, id_field="codigo")


def test_shapefile_without_crs_needs_one(tmp_path):
    path = tmp_path / "areas.shp"
    _user_areas().to_file(path)
    path.with_suffix(".prj").unlink()
    with pytest.raises(BoundaryError, match="crs='EPSG"):
        boundaries.read_boundary_file(path, id_field="codigo")
    got = boundaries.read_boundary_file(path, id_field="codigo", crs="EPSG:4326")
    assert got["ubigeo"].tolist() == ["101", "102", "103"]


# --- adjacency and areas ---------------------------------------------------------


def test_adjacency_is_symmetric_and_matches_the_map(study_districts):
    adj = boundaries.adjacency(study_districts)
    assert set(adj) == set(study_districts["ubigeo"])
    assert all(u not in n and all(u in adj[v] for v in n) for u, n in adj.items())
    assert "200602" in adj["200601"]  # Sullana - Bellavista (Sullana province)
    assert "200604" in adj["200601"]  # Lancones, not declared in 2023, borders Sullana
    # San Juan de Lurigancho and San Martín de Porres do not touch: Rímac and
    # Independencia lie between them, and both border those two.
    assert "150135" not in adj["150132"]
    assert {"150128", "150112"} <= adj["150132"] & adj["150135"]
    assert "150716" in adj["150132"]  # across the Lima/Huarochirí edge of mixed sources


def test_adjacency_tolerates_hairline_gaps():
    left = shapely.box(-77.0, -12.0, -76.99, -11.99)
    right = shapely.box(-76.99 + 2e-6, -12.0, -76.98, -11.99)  # ~0.2 m apart
    far = shapely.box(-76.95, -12.0, -76.94, -11.99)
    frame = gpd.GeoDataFrame({"ubigeo": ["l", "r", "f"]}, geometry=[left, right, far], crs="EPSG:4326")
    assert boundaries.adjacency(frame) == {"l": {"r"}, "r": {"l"}, "f": set()}
    assert boundaries.adjacency(frame, tolerance_m=0) == {"l": set(), "r": set(), "f": set()}


def test_area_km2_matches_geodesic_area(study_districts):
    area = boundaries.area_km2(study_districts).set_axis(study_districts["ubigeo"])
    geod = Geod(ellps="WGS84")
    for ubigeo in ("150132", "200601", "070107", "150101"):
        geom = study_districts.set_index("ubigeo").geometry[ubigeo]
        assert area[ubigeo] == pytest.approx(abs(geod.geometry_area_perimeter(geom)[0]) / 1e6, rel=1e-4)
    assert area.sum() == pytest.approx(1_285_216, rel=0.01)  # Peru's official area


def test_normalise_name_joins_police_spellings():
    assert boundaries.normalise_name(["San Martín  de Porres", " breña ", "Ñaña"]) == \
        ["SAN MARTIN DE PORRES", "BRENA", "NANA"]


def test_docstring_examples_run():
    assert doctest.testmod(boundaries, raise_on_error=False).failed == 0
