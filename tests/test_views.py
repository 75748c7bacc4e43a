"""geo.views answers equal plain pandas sums over the cubes, for every filter it takes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from geo.errors import HexwatchError
from geo.store import Store, write_version
from geo.views import baseline_before, change_pct, open_views
from geo.areas import in_area

W = (dt.date(2023, 9, 20), dt.date(2023, 11, 18))


@pytest.fixture(scope="module")
def store(views_store):
    return Store.open(views_store)


@pytest.fixture(scope="module")
def sv(store, demo_districts):
    return open_views(store, demo_districts)


@pytest.fixture(scope="module")
def cube_cell(store):
    df = store.read("cube_cell")
    df["day"] = pd.to_datetime(df["day"]).dt.date
    return df


@pytest.fixture(scope="module")
def cube_district(store):
    df = store.read("cube_district")
    df["day"] = pd.to_datetime(df["day"]).dt.date
    return df


def _window_sum(cube, key, window, cats=None):
    m = (cube["day"] >= window[0]) & (cube["day"] <= window[1])
    if cats:
        m &= cube["category"].isin(cats)
    return cube[m].groupby(key)["n"].sum()


@pytest.mark.parametrize("res", [7, 8, 9, 10])
def test_hex_counts_equal_cube_sums(sv, cube_cell, res):
    cats = sorted(cube_cell["category"].unique())[:2]
    hx = sv.hex_counts(res, W, cats, max_cells=10**9)
    cube = cube_cell[cube_cell["resolution"] == res]
    expect = _window_sum(cube, "cell", W, cats)
    expect_b = _window_sum(cube, "cell", baseline_before(W), cats)
    got = hx.set_index("cell")
    assert got["n"][got["n"] > 0].sort_index().to_dict() == expect[expect > 0].sort_index().to_dict()
    assert got["n_baseline"][got["n_baseline"] > 0].sort_index().to_dict() == expect_b[expect_b > 0].sort_index().to_dict()
    assert hx["n"].is_monotonic_decreasing


def test_category_filter_changes_counts_and_all_means_every_category(sv, cube_cell):
    cats = sorted(cube_cell["category"].unique())
    every = sv.hex_counts(8, W, None, max_cells=10**9)["n"].sum()
    assert every == sv.hex_counts(8, W, cats, max_cells=10**9)["n"].sum()
    one = sv.hex_counts(8, W, cats[:1], max_cells=10**9)["n"].sum()
    assert 0 < one < every
    assert sv.hex_counts(8, W, ["no such category"], max_cells=10**9).empty


def test_window_days_are_inclusive(sv, cube_cell):
    day = dt.date(2023, 10, 15)
    cube = cube_cell[(cube_cell["resolution"] == 9) & (cube_cell["day"] == day)]
    assert sv.hex_counts(9, (day, day), max_cells=10**9)["n"].sum() == cube["n"].sum() > 0


def test_bbox_and_area_keep_only_matching_cells(sv):
    lima = sv.hex_counts(8, W, area="lima_callao", max_cells=10**9)
    sullana = sv.hex_counts(8, W, area="sullana", max_cells=10**9)
    assert len(lima) and len(sullana)
    assert in_area(lima["ubigeo"].tolist(), sv.area_members("lima_callao")).all()
    assert set(lima["ubigeo"].str[:4]) <= {"1501", "0701"}
    assert (sullana["lat"] > -5.5).all() and (lima["lat"] < -11).all()  # Sullana is ~7 degrees north of Lima
    box = (-12.1, -77.1, -12.0, -77.0)
    hx = sv.hex_counts(9, W, bbox=box, max_cells=10**9)
    assert len(hx) and hx["lat"].between(box[0], box[2]).all() and hx["lon"].between(box[1], box[3]).all()


def test_cap_keeps_the_cells_busiest_in_window_plus_baseline_and_says_how_many_matched(sv):
    full = sv.hex_counts(10, W, max_cells=10**9)
    capped = sv.hex_counts(10, W, max_cells=100)
    assert len(capped) == 100 and capped.attrs["n_cells"] == len(full) > 100
    # Busiest over both windows, so a cell that fell from 40 to 0 still shows on a change map.
    both = full["n"] + full["n_baseline"]
    assert (capped["n"] + capped["n_baseline"]).min() >= both.nlargest(100).min()


def test_rate_per_km2_uses_the_cell_area(sv):
    import h3

    hx = sv.hex_counts(8, W).head(5)
    for cell, n, rate in zip(hx["cell"], hx["n"], hx["rate_km2"]):
        assert rate == pytest.approx(n / h3.cell_area(h3.int_to_str(int(cell)), "km^2"), rel=1e-6)


def test_district_table_matches_district_cube(sv, cube_district):
    cats = sorted(cube_district["category"].unique())[1:3]
    tab = sv.district_table(W, None, cats, area="lima_callao", declared={"150132"})
    expect = _window_sum(cube_district, "ubigeo", W, cats)
    base = _window_sum(cube_district, "ubigeo", baseline_before(W), cats)
    for _, r in tab.iterrows():
        assert r["n"] == expect.get(r["ubigeo"], 0)
        assert r["n_baseline"] == base.get(r["ubigeo"], 0)
    assert set(tab["ubigeo"].str[:4]) <= {"1501", "0701"}
    assert tab.set_index("ubigeo").loc["150132", "declared"] and tab["declared"].sum() == 1
    assert tab.set_index("ubigeo").loc["150132", "name"] == "San Juan de Lurigancho"


def test_weekly_series_sums_and_index(sv, cube_district):
    groups = {"a": ["150132", "150135"], "b": ["150101"]}
    window = (dt.date(2023, 6, 1), dt.date(2023, 12, 31))
    s = sv.weekly_series(groups, window, index_before=dt.date(2023, 9, 20))
    assert set(s["group"]) == {"a", "b"}
    a = s[s["group"] == "a"]
    assert a["n"].sum() == _window_sum(cube_district[cube_district["ubigeo"].isin(groups["a"])], "ubigeo", window).sum()
    assert all(w.weekday() == 0 for w in a["week"])
    assert a["days"].iloc[0] < 7 and a["days"].iloc[1] == 7  # 2023-06-01 is a Thursday: first week partial
    pre = a[(a["days"] == 7) & (a["week"] + pd.Timedelta(days=7) <= pd.Timestamp("2023-09-20").date())]
    assert pre["index"].mean() == pytest.approx(100.0)


def test_change_pct_compares_daily_rates_and_hides_small_baselines():
    assert change_pct(np.array([20]), np.array([10]), 10, 5).tolist() == [0.0]  # same daily rate
    assert np.isnan(change_pct(np.array([9]), np.array([4]), 7, 7)[0])


def test_coverage_reports_days_incidents_and_gaps(tmp_path, sv, cube_district):
    cov = sv.coverage()
    assert cov["start"] == "2022-01-01" and cov["end"] == "2025-12-31"
    assert cov["n_incidents"] == cube_district["n"].sum() and cov["synthetic"] is True
    # A store with a three-week hole reports it.
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(60) if not 10 <= i < 31]
    cd = pd.DataFrame({"ubigeo": "150132", "day": days, "category": "ROBO", "n": np.ones(len(days), "int32")})
    write_version(tmp_path, tables={"cube_district": cd}, meta={})
    gaps = open_views(Store.open(tmp_path)).coverage()["gaps"]
    assert gaps == [{"start": "2024-01-11", "end": "2024-01-31", "days": 21}]


def test_public_coverage_leaves_sensitive_categories_out(tmp_path, sv, cube_district):
    sensitive = cube_district["category"].isin(["VIOLENCIA FAMILIAR", "VIOLENCIA SEXUAL"])
    assert sensitive.any()
    public = sv.coverage(public=True)
    assert public["n_incidents"] == cube_district.loc[~sensitive, "n"].sum() and public["sensitive_left_out"] is True
    assert sv.coverage()["n_incidents"] == cube_district["n"].sum() and sv.coverage()["sensitive_left_out"] is False
    # Three weeks with only family-violence incidents: a gap publicly, not for officials.
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(60)]
    cats = ["Violencia familiar" if 10 <= i < 31 else "ROBO" for i in range(60)]
    cd = pd.DataFrame({"ubigeo": "150132", "day": days, "category": cats, "n": np.ones(60, "int32")})
    write_version(tmp_path, tables={"cube_district": cd}, meta={})
    v = open_views(Store.open(tmp_path))
    assert v.coverage()["gaps"] == [] and v.coverage()["n_incidents"] == 60
    pub = v.coverage(public=True)
    assert pub["gaps"] == [{"start": "2024-01-11", "end": "2024-01-31", "days": 21}] and pub["n_incidents"] == 39


def test_public_ingest_report_holds_no_accepted_counts(sv):
    rep = sv.ingest_report(public=True)
    assert rep == {"n_rejected": 7, "rejects_by_reason": {"bad_coordinate": 5, "bad_time": 2}}


def test_ingest_report_is_read(sv):
    rep = sv.ingest_report()
    assert rep["n_accepted"] + rep["n_rejected"] == rep["n_input"]


def test_views_are_cached_per_store_version(tmp_path, views_store, demo_districts):
    a = open_views(Store.open(views_store), demo_districts)
    assert open_views(Store.open(views_store), demo_districts) is a
    cd = pd.DataFrame({"ubigeo": ["150132"], "day": [dt.date(2024, 1, 1)], "category": ["ROBO"], "n": np.array([2], "int32")})
    write_version(tmp_path, tables={"cube_district": cd}, meta={})
    v1 = open_views(Store.open(tmp_path))
    write_version(tmp_path, tables={"cube_district": cd.assign(n=np.array([5], "int32"))}, meta={})
    v2 = open_views(Store.open(tmp_path))
    assert v2 is not v1 and v2.coverage()["n_incidents"] == 5 and v1.coverage()["n_incidents"] == 2


def test_user_errors_are_hexwatch_errors(sv):
    with pytest.raises(HexwatchError, match="resolution 6"):
        sv.hex_counts(6, W)
    with pytest.raises(HexwatchError, match="swap"):
        sv.hex_counts(8, (W[1], W[0]))


def test_fixed_classes_are_the_same_for_every_window_and_never_overlap(sv):
    from geo.legend import classes

    # A small store (40,000 incidents in 4 years): 90-day windows of resolution-7 cells.
    march = (dt.date(2024, 3, 1), dt.date(2024, 5, 29))
    a = sv.fixed_classes(7, 90)
    b = sv.fixed_classes(7, 90, values=sv.hex_counts(7, march)["n"])
    assert a.breaks == b.breaks and len(a.breaks) >= 2
    assert sum(b.counts) == len(sv.hex_counts(7, march, max_cells=5000))
    longer = sv.fixed_classes(7, 360)
    assert longer.breaks[-1] > a.breaks[-1]  # a longer window holds more incidents per hex
    assert sv.fixed_classes(7, 90, values=sv.hex_counts(7, (dt.date(2023, 3, 1), dt.date(2023, 5, 29)))["n"]).breaks == a.breaks
    # Labels of whole counts: each class starts one after the last one ends.
    lab = a.labels
    ends = [int(x.split("–")[1]) for x in lab[:-1] if "–" in x]
    starts = [int(x.split("–")[0]) if "–" in x else int(x.lstrip("≥ ")) for x in lab[1:]]
    assert [e + 1 for e in ends] == starts[-len(ends):] or [e + 1 for e in ends] == starts[:len(ends)]
    user = sv.fixed_classes(7, 30, breaks=[10, 20, 40])
    assert user.labels[1:] == ("10–19", "20–39", "≥ 40")
    with pytest.raises(ValueError, match="increase"):
        classes([1, 2], breaks=[5, 5])
    rate = sv.fixed_classes(7, 90, metric="rate")
    assert all("." in x for x in rate.labels)
