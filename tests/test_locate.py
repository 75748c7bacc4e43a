"""District assignment: equal to geopandas.sjoin(predicate="within") with the tie rule
"first row wins", on the real boundaries and on generated ones."""

from __future__ import annotations

import doctest
import threading

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo import locate
from geo.errors import HexwatchError
from geo.h3index import latlng_to_cells
from geo.locate import DistrictLocator, assign_districts

STUDY_PROVINCES = ("150100", "070100", "200600")  # Lima, Callao, Sullana


def sjoin_rows(lat, lon, districts) -> np.ndarray:
    """The reference: row position of the district each point is within (sjoin), the
    lowest row where several are, -1 where none is."""
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    joined = gpd.sjoin(points, districts[["geometry"]].reset_index(drop=True), predicate="within", how="inner")
    first = joined["index_right"].groupby(level=0).min()
    rows = np.full(len(lat), -1)
    rows[first.index.to_numpy()] = first.to_numpy()
    return rows


def _boundary_points(geoms, n, rng, jitter):
    """Points on (jitter=0) or a hair's breadth off the boundaries of ``geoms``."""
    coords = shapely.get_coordinates(shapely.boundary(geoms))
    i = rng.integers(0, len(coords) - 1, n)
    t = rng.random(n)[:, None] * (jitter > 0)  # on vertices when jitter is 0, along edges otherwise
    xy = coords[i] + t * (coords[i + 1] - coords[i]) + rng.normal(0, jitter or 0, (n, 2))
    return xy[:, 1], xy[:, 0]


@pytest.fixture(scope="module")
def study_points(study_districts):
    """110,000 points over Lima/Callao and Sullana: uniform over their bounding boxes
    (sea and neighbouring provinces included), on and next to district boundaries, and
    invalid coordinates."""
    rng = np.random.default_rng(20230920)
    area = study_districts[study_districts["province_code"].isin(STUDY_PROVINCES)]
    lats, lons = [], []
    for codes, n in ((("150100", "070100"), 60_000), (("200600",), 25_000)):
        x0, y0, x1, y1 = area[area["province_code"].isin(codes)].total_bounds
        lats.append(rng.uniform(y0 - 0.05, y1 + 0.05, n))
        lons.append(rng.uniform(x0 - 0.05, x1 + 0.05, n))
    for n, jitter in ((15_000, 1e-7), (5_000, 1e-9), (4_000, 0.0)):
        lat, lon = _boundary_points(area.geometry.to_numpy(), n, rng, jitter)
        lats.append(lat)
        lons.append(lon)
    lats.append(np.array([np.nan, -12.05, np.inf, 95.0, -12.05]))
    lons.append(np.array([-77.05, np.nan, -77.05, -77.05, 200.0]))
    return np.concatenate(lats), np.concatenate(lons)


def test_equals_sjoin_on_110k_points_over_lima_callao_and_sullana(study_districts, study_points, tmp_path):
    lat, lon = study_points
    assert len(lat) >= 100_000
    expected = sjoin_rows(lat, lon, study_districts)
    locator = DistrictLocator(study_districts, cache_dir=tmp_path)
    cold = locator.positions(lat, lon)
    np.testing.assert_array_equal(cold, expected)
    warm = locator.positions(lat, lon, cells=latlng_to_cells(lat, lon, 9))  # cells given by the caller
    np.testing.assert_array_equal(warm, expected)
    # Cells at another resolution get a lookup at that resolution (every 4th point: the
    # sparse uniform ones make many cells to classify at resolution 10).
    some = slice(None, None, 4)
    ubigeos = assign_districts(lat[some], lon[some], study_districts, cells=latlng_to_cells(lat[some], lon[some], 10),
                               cache_dir=tmp_path)
    want = np.append(study_districts["ubigeo"].to_numpy(dtype=object), None)[expected[some]]
    assert ubigeos.dtype == object and (ubigeos == want).all()
    # The comparison covered what matters: points outside every district (sea,
    # boundaries, invalid input), overlaps resolved by the tie rule, many districts.
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    multi = gpd.sjoin(points, study_districts[["geometry"]], predicate="within").index.duplicated().sum()
    assert multi > 100
    assert (expected == -1).sum() > 1_000 and np.isnan(lat).any()
    assert len(np.unique(expected[expected >= 0])) >= 58
    assert 0 < locator.n_border_cells < locator.n_cells


def test_points_on_a_boundary_and_invalid_points_get_none(study_districts):
    sjl = study_districts.set_index("ubigeo").geometry["150132"]
    vx, vy = shapely.get_coordinates(sjl.geoms[0].exterior)[5]
    cx, cy = shapely.get_coordinates(sjl.representative_point())[0]
    lat = np.array([cy, vy, np.nan, -12.0, 91.0])
    lon = np.array([cx, vx, -77.0, np.inf, -77.0])
    got = assign_districts(lat, lon, study_districts, cache_dir=False)
    assert got[0] == "150132"
    assert got[1] != "150132"  # on SJL's own boundary: not within SJL (maybe within an overlapping neighbour)
    assert got[1] == (study_districts["ubigeo"].iloc[r] if (r := sjoin_rows(lat, lon, study_districts)[1]) >= 0 else None)
    assert got[2:].tolist() == [None, None, None]


@pytest.fixture(scope="module")
def lima_locator(study_districts):
    return DistrictLocator(study_districts, cache_dir=False)


@pytest.fixture(scope="module")
def lima_vertices(study_districts):
    area = study_districts[study_districts["province_code"].isin(("150100", "070100"))]
    return shapely.get_coordinates(shapely.boundary(area.geometry.to_numpy()))


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_property_equals_sjoin_on_real_lima_boundaries(data, study_districts, lima_locator, lima_vertices):
    n_free = data.draw(st.integers(0, 30))
    lat = data.draw(st.lists(st.floats(-12.6, -11.5), min_size=n_free, max_size=n_free))
    lon = data.draw(st.lists(st.floats(-77.3, -76.6), min_size=n_free, max_size=n_free))
    picks = data.draw(st.lists(st.integers(0, len(lima_vertices) - 1), max_size=10))
    nudge = data.draw(st.sampled_from([0.0, 1e-12, -1e-9, 1e-6]))
    lat = np.array(lat + [lima_vertices[i, 1] + nudge for i in picks], dtype=float)
    lon = np.array(lon + [lima_vertices[i, 0] - nudge for i in picks], dtype=float)
    np.testing.assert_array_equal(lima_locator.positions(lat, lon), sjoin_rows(lat, lon, study_districts))


GRID = 0.004  # degrees; rectangles and some points share these grid lines exactly


@settings(max_examples=60, deadline=None)
@given(
    boxes=st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12), st.integers(1, 8), st.integers(1, 8)),
                   min_size=1, max_size=6),
    on_grid=st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), max_size=20),
    free=st.lists(st.tuples(st.floats(0, 20 * GRID), st.floats(0, 20 * GRID)), max_size=20),
)
def test_property_equals_sjoin_on_overlapping_user_areas(boxes, on_grid, free):
    """Any city's own areas: overlapping rectangles; points on their edges and corners too."""
    x0, y0 = -71.55, -16.42  # Arequipa
    geoms = [shapely.box(x0 + i * GRID, y0 + j * GRID, x0 + (i + w) * GRID, y0 + (j + h) * GRID) for i, j, w, h in boxes]
    areas = gpd.GeoDataFrame({"ubigeo": [f"z{k}" for k in range(len(geoms))]}, geometry=geoms, crs="EPSG:4326")
    lon = np.array([x0 + i * GRID for i, _ in on_grid] + [x0 + dx for dx, _ in free], dtype=float)
    lat = np.array([y0 + j * GRID for _, j in on_grid] + [y0 + dy for _, dy in free], dtype=float)
    got = DistrictLocator(areas, cache_dir=False).positions(lat, lon)
    np.testing.assert_array_equal(got, sjoin_rows(lat, lon, areas))


def test_classification_is_cached_on_disk_by_boundary_set(study_districts, tmp_path):
    sullana = study_districts[study_districts["province_code"] == "200600"]
    first = DistrictLocator(study_districts, cache_dir=tmp_path)
    new = first.precompute(sullana["ubigeo"])
    assert new == first.n_cells > 1_000
    files = list((tmp_path / "locate").glob("*.parquet"))
    assert [f.name for f in files] == [f"{first.key}-r9.parquet"]
    # Points inside the precomputed area need no new classification, and a fresh
    # locator on the same boundary set starts from the saved table.
    rng = np.random.default_rng(1)
    x0, y0, x1, y1 = sullana.total_bounds
    lat, lon = rng.uniform(y0, y1, 20_000), rng.uniform(x0, x1, 20_000)
    inside = sjoin_rows(lat, lon, sullana) >= 0
    first.positions(lat[inside], lon[inside])
    assert first.n_cells == new
    again = DistrictLocator(study_districts, cache_dir=tmp_path)
    assert again.n_cells == new
    np.testing.assert_array_equal(again.positions(lat, lon), sjoin_rows(lat, lon, study_districts))
    # Another boundary set (one district fewer) does not reuse that table.
    other = DistrictLocator(study_districts.iloc[1:], cache_dir=tmp_path)
    assert other.key != first.key and other.n_cells == 0


def test_a_damaged_cache_file_is_ignored(study_districts, tmp_path):
    locator = DistrictLocator(study_districts, cache_dir=tmp_path)
    locator.precompute(["200604"])
    path = tmp_path / "locate" / f"{locator.key}-r9.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    fresh = DistrictLocator(study_districts, cache_dir=tmp_path)
    assert fresh.n_cells == 0
    lat, lon = np.array([-4.75, -4.9]), np.array([-80.5, -80.7])
    np.testing.assert_array_equal(fresh.positions(lat, lon), sjoin_rows(lat, lon, study_districts))


def test_concurrent_calls_share_one_locator_safely(study_districts):
    """The dashboard may locate from several threads: answers stay exact and no
    classification learnt by one thread is lost to another."""
    rng = np.random.default_rng(3)
    jobs = [(rng.uniform(-12.2, -11.9, 30_000), rng.uniform(-77.1, -76.9, 30_000)),   # Lima
            (rng.uniform(-4.95, -4.75, 30_000), rng.uniform(-80.8, -80.5, 30_000))]   # Sullana
    locator = DistrictLocator(study_districts, cache_dir=False)
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def work(i):
        barrier.wait()
        results[i] = locator.positions(*jobs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (lat, lon), got in zip(jobs, results):
        np.testing.assert_array_equal(got, sjoin_rows(lat, lon, study_districts))
    all_cells = np.concatenate([latlng_to_cells(lat, lon, 9) for lat, lon in jobs])
    assert locator.n_cells == len(np.unique(all_cells))


def test_other_crs_gives_the_same_answer(study_districts):
    lima = study_districts[study_districts["province_code"] == "150100"]
    rng = np.random.default_rng(7)
    lat, lon = rng.uniform(-12.3, -11.8, 5_000), rng.uniform(-77.2, -76.8, 5_000)
    in_utm = DistrictLocator(lima.to_crs("EPSG:32718"), cache_dir=False).assign(lat, lon)
    assert (in_utm == DistrictLocator(lima, cache_dir=False).assign(lat, lon)).all()


def test_bad_arguments_are_refused(study_districts):
    loc = DistrictLocator(study_districts.iloc[:5], cache_dir=False)
    with pytest.raises(ValueError, match="one length"):
        loc.positions(np.zeros(3), np.zeros(2))
    for res in (8, 10):  # not even finer cells: a parent need not hold its child's points
        with pytest.raises(ValueError, match="the locator at 9"):
            loc.positions(np.array([-12.0]), np.array([-77.0]), cells=latlng_to_cells(np.array([-12.0]), np.array([-77.0]), res))
    lat3, lon3 = np.array([-12.0, -12.0, -12.1]), np.array([-77.0, -77.0, -77.1])
    mixed = np.r_[latlng_to_cells(lat3[:2], lon3[:2], 9), latlng_to_cells(lat3[2:], lon3[2:], 8)]
    mixed[1] = 0  # no cell: allowed beside cells at the locator's resolution, not beside others
    with pytest.raises(ValueError, match=r"resolution \[8, 9\], the locator at 9"):
        loc.positions(lat3, lon3, cells=mixed)
    assert loc.positions(lat3[:2], lon3[:2], cells=mixed[:2]).tolist() == loc.positions(lat3[:2], lon3[:2])[:1].tolist() + [-1]
    with pytest.raises(ValueError, match="resolution must be"):
        DistrictLocator(study_districts.iloc[:5], resolution=4)
    with pytest.raises(HexwatchError, match="ubigeo"):
        DistrictLocator(study_districts.rename(columns={"ubigeo": "code"}))
    assert loc.assign(np.zeros(0), np.zeros(0)).tolist() == []


def test_docstring_examples_run():
    assert doctest.testmod(locate, raise_on_error=False).failed == 0
