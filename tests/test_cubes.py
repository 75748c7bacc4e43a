"""Count cubes (geo.cubes): totals equal rows, cells follow the H3 hierarchy, weeks start on Monday."""

from __future__ import annotations

import datetime as dt

import h3
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.cubes import cell_cube, cell_cube_arrays, district_cube, weekly
from geo.h3index import cells_to_parent, latlng_to_cells


def _points(n: int, seed: int, n_categories: int = 5, days: tuple[str, str] = ("2022-01-01", "2025-12-31")) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lat = rng.uniform(-12.2, -11.9, n)
    lon = rng.uniform(-77.15, -76.85, n)
    d0, d1 = (np.datetime64(d, "D").astype(np.int64) for d in days)
    day = (rng.integers(d0, d1 + 1, n)).astype("datetime64[D]")
    cats = np.array([f"cat {i} é" for i in range(n_categories)], dtype=object)[rng.integers(0, n_categories, n)]
    # Clustered points, so that cells hold several incidents on a day.
    lat[: n // 2] = np.round(lat[: n // 2], 2)
    lon[: n // 2] = np.round(lon[: n // 2], 2)
    return pd.DataFrame({"lat": lat, "lon": lon, "day": day, "category": cats,
                         "ubigeo": np.array(["150132", "150135", None], dtype=object)[rng.integers(0, 3, n)]})


def _reference(points: pd.DataFrame, resolutions=(7, 8, 9, 10)) -> pd.DataFrame:
    """Plain pandas: each point counted in the parents of its resolution-10 cell."""
    c10 = latlng_to_cells(points["lat"].to_numpy(), points["lon"].to_numpy(), 10)
    parts = []
    for r in resolutions:
        g = (pd.DataFrame({"cell": cells_to_parent(c10, r), "day": points["day"].dt.date, "category": points["category"]})
             .groupby(["cell", "day", "category"]).size().rename("n").reset_index())
        parts.append(g.assign(resolution=r))
    return pd.concat(parts).set_index(["resolution", "cell", "day", "category"])["n"].sort_index()


def _as_index(cube: pd.DataFrame) -> pd.Series:
    return cube.astype({"resolution": int}).set_index(["resolution", "cell", "day", "category"])["n"].sort_index()


def test_cell_cube_equals_plain_groupby_and_totals_equal_rows():
    pts = _points(20_000, seed=1)
    cube = cell_cube(pts)
    assert list(cube.columns) == ["resolution", "cell", "day", "category", "n"]
    assert str(cube["cell"].dtype) == "uint64" and str(cube["n"].dtype) == "int32"
    assert isinstance(cube["day"].iloc[0], dt.date)
    pd.testing.assert_series_equal(_as_index(cube), _reference(pts), check_dtype=False)
    for r, part in cube.groupby("resolution"):
        assert part["n"].sum() == len(pts)
        assert part.groupby("category")["n"].sum().to_dict() == pts["category"].value_counts().to_dict()
    assert (cube["n"] > 1).any()  # the clustering made real groups, so the test is not trivial


def test_cell_cube_cells_are_h3_cells_of_the_points():
    pts = _points(300, seed=2)
    cube = cell_cube(pts, resolutions=(7, 10))
    fine = {h3.latlng_to_cell(a, b, 10) for a, b in zip(pts["lat"], pts["lon"])}
    got10 = {h3.int_to_str(int(c)) for c in cube.loc[cube["resolution"] == 10, "cell"]}
    assert got10 == fine
    assert {h3.int_to_str(int(c)) for c in cube.loc[cube["resolution"] == 7, "cell"]} == {h3.cell_to_parent(c, 7) for c in fine}
    assert all(h3.is_valid_cell(h3.int_to_str(int(c))) for c in cube["cell"])


def test_coarser_resolutions_sum_their_children():
    pts = _points(5_000, seed=3)
    cube = cell_cube(pts)
    c10 = cube[cube["resolution"] == 10]
    rolled = (c10.assign(cell=cells_to_parent(c10["cell"].to_numpy(), 8)).groupby(["cell", "day", "category"])["n"].sum())
    c8 = cube[cube["resolution"] == 8].set_index(["cell", "day", "category"])["n"].sort_index()
    pd.testing.assert_series_equal(rolled.sort_index(), c8, check_dtype=False, check_names=False)


def test_wide_keys_take_the_group_by_path_with_the_same_result():
    # 3,000 categories over almost two centuries do not fit the packed 64-bit key.
    pts = _points(6_000, seed=4, n_categories=3_000, days=("1901-01-01", "2099-12-31"))
    pd.testing.assert_series_equal(_as_index(cell_cube(pts)), _reference(pts), check_dtype=False)


def test_cell_cube_takes_given_cells_and_recomputes_coarse_ones():
    pts = _points(2_000, seed=5)
    with_cells = pts.assign(cell=latlng_to_cells(pts["lat"].to_numpy(), pts["lon"].to_numpy(), 10))
    pd.testing.assert_frame_equal(cell_cube(with_cells.drop(columns=["lat", "lon"])), cell_cube(pts))
    coarse = pts.assign(cell=latlng_to_cells(pts["lat"].to_numpy(), pts["lon"].to_numpy(), 9))
    pd.testing.assert_frame_equal(cell_cube(coarse, index_resolution=9), cell_cube(pts))
    with pytest.raises(ValueError, match="lat/lon"):
        cell_cube(coarse.drop(columns=["lat", "lon"]))


def test_cell_cube_skips_points_without_a_cell():
    cells = np.array([0, 0], dtype=np.uint64)
    assert cell_cube_arrays(cells, np.array([19000, 19001]), ["a", "b"]).num_rows == 0


def test_district_cube_counts_located_rows_only():
    pts = _points(10_000, seed=6)
    cube = district_cube(pts)
    assert list(cube.columns) == ["ubigeo", "day", "category", "n"]
    assert cube["n"].sum() == pts["ubigeo"].notna().sum()
    ref = pts.dropna(subset=["ubigeo"]).assign(day=lambda d: d["day"].dt.date).groupby(["ubigeo", "day", "category"]).size()
    got = cube.set_index(["ubigeo", "day", "category"])["n"]
    pd.testing.assert_series_equal(got.sort_index(), ref.sort_index(), check_dtype=False, check_names=False)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 600), st.integers(0, 2**31 - 1), st.integers(1, 6), st.integers(0, 3_000), st.sampled_from([8, 600]))
def test_district_cube_dense_count_equals_the_sorted_path_row_for_row(n, seed, n_categories, span_days, n_districts):
    # The dense count and the sort must agree exactly, order included (day, category, ubigeo).
    import geo.cubes as cubes

    rng = np.random.default_rng(seed)
    days = rng.integers(19_000, 19_001 + span_days, n)
    cats = [f"c{i}" for i in rng.integers(0, n_categories, n)]
    # Over 255 districts, their codes no longer fit a byte. The Enum also lists districts
    # with no point (as the locator's, which holds every district of its boundary set).
    ubigeos = [None if k == 0 else f"15{k:04d}" for k in rng.integers(0, n_districts + 1, n)]
    unused = [f"16{k:04d}" for k in range(n_districts)]
    ubigeos = pl.Series("ubigeo", ubigeos, dtype=pl.String).cast(pl.Enum(sorted({u for u in ubigeos if u} | set(unused))))
    try:
        cubes._KEY_CHUNK = 64  # several chunks
        dense = cubes.district_cube_arrays(ubigeos, days, cats)
        cubes._DENSE_BINS_PER_ROW, cubes._DENSE_MIN_BINS = 0, 0
        by_sort = cubes.district_cube_arrays(ubigeos, days, cats)
    finally:
        cubes._DENSE_BINS_PER_ROW, cubes._DENSE_MIN_BINS, cubes._KEY_CHUNK = 2, 1 << 16, 1 << 20
    assert dense.cast(cubes.CUBE_DISTRICT_SCHEMA).equals(by_sort.cast(cubes.CUBE_DISTRICT_SCHEMA))
    frame = dense.cast(cubes.CUBE_DISTRICT_SCHEMA).to_pandas()
    assert frame["n"].sum() == ubigeos.count()
    assert list(frame.itertuples(index=False)) == sorted(frame.itertuples(index=False),
                                                       key=lambda r: (r.day, r.category, r.ubigeo))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.dates(dt.date(2000, 1, 1), dt.date(2030, 12, 31)), st.integers(1, 50)), min_size=1, max_size=40))
def test_weekly_weeks_start_monday_and_keep_totals(rows):
    cube = pd.DataFrame({"ubigeo": "150132", "day": [d for d, _ in rows], "category": "robo", "n": [n for _, n in rows]})
    w = weekly(cube)
    assert list(w.columns) == ["ubigeo", "category", "week", "n"]
    assert all(d.weekday() == 0 for d in w["week"])
    assert w["n"].sum() == cube["n"].sum()
    for d, _ in rows:
        assert d - dt.timedelta(days=d.weekday()) in set(w["week"])


def test_weekly_sunday_belongs_to_the_week_before():
    cube = pd.DataFrame({"day": [dt.date(2023, 9, 17), dt.date(2023, 9, 18)], "n": [1, 2], "resolution": [9, 9],
                         "cell": np.array([5, 5], dtype=np.uint64), "category": ["robo", "robo"]})
    w = weekly(cube, key=["resolution", "cell", "category"])
    assert dict(zip(w["week"], w["n"])) == {dt.date(2023, 9, 11): 1, dt.date(2023, 9, 18): 2}


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 400), st.integers(0, 2**31 - 1), st.integers(1, 40))
def test_cell_cube_in_small_chunks_equals_the_plain_groupby_in_the_cube_order(n, seed, chunk):
    # Runs of equal parents and (day, category) stretches cross the chunk boundaries.
    import geo.cubes as cubes

    pts = _points(n, seed=seed, n_categories=3, days=("2023-01-01", "2023-01-04"))
    cells = latlng_to_cells(pts["lat"].to_numpy(), pts["lon"].to_numpy(), 10)
    days = pts["day"].to_numpy().astype("datetime64[D]").astype(np.int64)
    saved = cubes._KEY_CHUNK
    try:
        cubes._KEY_CHUNK = chunk
        batches = list(cubes.cell_cube_batches(cells, days, pts["category"].tolist()))
    finally:
        cubes._KEY_CHUNK = saved
    assert all(b.num_rows <= chunk for b in batches)
    cube = cubes._pandas(pa.Table.from_batches(batches), cubes.CUBE_CELL_SCHEMA)
    pd.testing.assert_series_equal(_as_index(cube), _reference(pts), check_dtype=False)
    order = list(zip(cube["resolution"], cube["day"], cube["category"], cube["cell"]))
    assert order == sorted(order)
