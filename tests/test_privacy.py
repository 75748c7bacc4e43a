"""The public-output rules: k, sensitive categories, the fixed grid, and the differencing attack."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharing_data import build_sharing_store, sharing_districts
from geo import privacy
from geo.errors import HexwatchError
from geo.export import view_data
from geo.h3index import cell_resolution, cells_to_parent, latlng_to_cells
from geo.viewspec import View

MONTHS = [date(2023, m, 1) for m in range(6, 13)]


def month_end(d: date) -> date:
    return privacy.snap_range(d, d, "month")[1]


def test_k_below_three_is_refused_and_three_is_allowed():
    with pytest.raises(HexwatchError, match="k >= 3"):
        privacy.check_k(2)
    with pytest.raises(HexwatchError):
        privacy.PublicGrid(k=1)
    assert privacy.PublicGrid(k=3).k == 3


def test_public_grid_refuses_resolutions_finer_than_8_and_views_are_clamped():
    with pytest.raises(HexwatchError, match="0-8"):
        privacy.PublicGrid(resolution=9)
    assert privacy.public_resolution(10, privacy.PublicGrid()) == 8
    assert privacy.public_resolution(7, privacy.PublicGrid()) == 7


def test_sensitive_categories_match_any_case_and_accents_and_are_configurable():
    cats = ["VIOLENCIA FAMILIAR", "Violencia Sexual", "violación", "Robo agravado", "hurto"]
    assert privacy.is_sensitive(cats).tolist() == [True, True, True, False, False]
    only_robo = privacy.Vocabulary(admit=("robo",), deny=("sexual",))
    assert privacy.is_sensitive(cats, only_robo).tolist() == [True, True, True, False, True]


@settings(max_examples=200, deadline=None)
@given(st.dates(date(2020, 1, 1), date(2027, 12, 31)), st.integers(0, 400), st.sampled_from(privacy.PERIODS))
def test_snapped_ranges_cover_the_request_with_whole_periods(start, days, period):
    end = start + timedelta(days=days)
    a, b = privacy.snap_range(start, end, period)
    assert a <= start and end <= b
    starts = privacy.period_starts(np.array([a, b], dtype="datetime64[D]"), period)
    assert starts[0] == np.datetime64(a)  # a period begins at a
    assert privacy.period_starts(np.array([b + timedelta(days=1)], dtype="datetime64[D]"), period)[0] == \
        np.datetime64(b + timedelta(days=1))  # and one begins right after b
    p0, p1 = privacy.previous_periods(a, b, period)
    assert p1 == a - timedelta(days=1) and privacy.snap_range(p0, p1, period) == (p0, p1)


def test_publish_suppresses_entries_below_k_and_drops_sensitive_categories():
    cell = latlng_to_cells(np.array([-12.0]), np.array([-77.0]), 8)[0]
    cube = pd.DataFrame({
        "cell": np.array([cell] * 5, dtype=np.uint64),
        "day": np.array(["2023-06-02", "2023-06-20", "2023-07-01", "2023-06-05", "2023-06-07"], dtype="datetime64[D]"),
        "category": ["robo", "robo", "robo", "violencia familiar", "hurto"],
        "n": [3, 2, 4, 50, 1],
    })
    pub = privacy.publish(cube, privacy.PublicGrid(k=5))
    got = {(str(p)[:7], g): n for p, g, n in zip(pub["period"].astype(str), pub["group"], pub["n"])}
    assert got[("2023-06", "robo")] == 5  # 3 + 2 within one month reach k
    assert pd.isna(got[("2023-07", "robo")]) and pd.isna(got[("2023-06", "hurto")])
    assert not any("violencia" in g for g in pub["group"])


def test_public_counts_give_intervals_that_hold_the_truth():
    rng = np.random.default_rng(1)
    cells = latlng_to_cells(rng.uniform(-12.1, -11.9, 300), rng.uniform(-77.1, -76.9, 300), 8)
    cube = pd.DataFrame({"cell": cells, "day": np.datetime64("2023-06-01") + rng.integers(0, 90, 300).astype("timedelta64[D]"),
                         "category": rng.choice(["robo", "hurto"], 300), "n": rng.integers(1, 7, 300)})
    grid = privacy.PublicGrid(k=5)
    for res in (8, 7):
        pub = privacy.public_counts(privacy.publish(cube, grid), res, grid).set_index("cell")
        truth = cube.assign(cell=cells_to_parent(cube["cell"].to_numpy(), res)).groupby("cell")["n"].sum()
        assert ((pub["count_low"] <= truth) & (truth <= pub["count_high"])).all()
        assert set(cell_resolution(pub.index.to_numpy(np.uint64))) == {res}


def test_count_labels_show_k_for_a_lone_suppressed_entry():
    assert privacy.count_labels(np.array([7, 1, 3, 0]), np.array([7, 4, 12, 0]), 5).tolist() == ["7", "< 5", "3–12", "0"]


def test_public_categories_widen_to_groups_and_refuse_sensitive_ones():
    grid = privacy.PublicGrid(groups={"robo": "patrimonio", "hurto": "patrimonio"})
    cats, notes = privacy.public_categories(["robo"], ["robo", "hurto", "estafa", "violencia familiar"], grid)
    assert cats == ["hurto", "robo"] and "hurto" in notes[0]
    every, _ = privacy.public_categories([], ["robo", "violencia familiar"], grid)
    assert every == ["robo"]
    with pytest.raises(HexwatchError, match="sensitive"):
        privacy.public_categories(["Violencia Familiar"], ["robo", "Violencia Familiar"], grid)


# --- the differencing attack, on a real store ---------------------------------------


def _public(store, start, end, res=8, cats=()):
    v = View(start=start, end=end, resolution=res, categories=cats)
    return view_data(store, v, public=True, districts=sharing_districts()).hexes.set_index("h3")


def test_differencing_two_overlapping_public_ranges_never_reveals_a_count_below_k(sharing_store):
    store, incidents = sharing_store
    ranges = [(a, month_end(b)) for i, a in enumerate(MONTHS) for b in MONTHS[i:]]
    views = {r: _public(store, *r) for r in ranges}
    checked = 0
    for (a1, b1), big in views.items():
        for (a2, b2), small in views.items():
            if (a1, b1) == (a2, b2) or not (a1 <= a2 and b2 <= b1):
                continue
            both = big.merge(small, left_index=True, right_index=True, suffixes=("", "_s"))
            exact = both["count"].notna() & both["count_s"].notna()
            diff = (both.loc[exact, "count"] - both.loc[exact, "count_s"]).astype(int)
            assert ((diff == 0) | (diff >= privacy.DEFAULT_K)).all(), (a1, b1, a2, b2)
            checked += int(exact.sum())
    assert checked > 100  # the attack had material to work on


def test_changing_a_suppressed_count_changes_no_public_output(sharing_store, tmp_path):
    """Every public number is a function of the published grid: move a cell-month from
    2 to 4 incidents (both below k) and no public view, at any range, resolution or
    category selection, changes; the official view does."""
    store, incidents = sharing_store
    inc = incidents.copy()
    inc["cell8"] = latlng_to_cells(inc["lat"].to_numpy(), inc["lon"].to_numpy(), 8)
    inc["month"] = inc["day"].to_numpy().astype("datetime64[M]")
    sizes = inc.loc[inc["category"] == "robo"].groupby(["cell8", "month"]).size()
    cell8, month = sizes[sizes == 2].index[0]
    victim = inc.loc[(inc["cell8"] == cell8) & (inc["month"] == month) & (inc["category"] == "robo")].iloc[:1]
    extra = pd.concat([victim] * 2, ignore_index=True)
    extra["incident_id"] = ["added1", "added2"]
    changed = build_sharing_store(tmp_path / "changed", pd.concat([incidents, extra.drop(columns=["cell8", "month"])],
                                                                  ignore_index=True))
    m = pd.Timestamp(month).date()
    views = [(MONTHS[0], date(2023, 12, 31), 8, ()), (m, month_end(m), 8, ("robo",)), (m, month_end(m), 7, ()),
             (m - timedelta(days=20), m + timedelta(days=40), 8, ("hurto", "robo"))]
    cols = ["count", "count_low", "count_high", "count_label", "rate_km2", "baseline_count", "change_pct"]
    for start, end, res, cats in views:
        pd.testing.assert_frame_equal(_public(store, start, end, res, cats)[cols], _public(changed, start, end, res, cats)[cols])
    official = [view_data(s, View(start=m, end=month_end(m), categories=("robo",))).hexes["count"].sum()
                for s in (store, changed)]
    assert official[1] == official[0] + 2


def test_a_view_cut_from_the_whole_published_grid_equals_publishing_its_window_alone(sharing_store):
    """Public views are filtered from the store's whole published grid, computed once;
    that must be exactly what publishing the view's own periods and groups gives."""
    from geo.export import grid_cube, published_entries
    from geo.store import Store

    store, _ = sharing_store
    st = Store.open(store)
    grouped = privacy.PublicGrid(groups={"robo": "patrimonio", "hurto": "patrimonio"})
    cats_all = sorted(set(grid_cube(st, privacy.PublicGrid())["category"]))
    compared = 0
    for grid in (privacy.PublicGrid(), grouped, privacy.PublicGrid(period="week", k=3)):
        for start, end in ((MONTHS[0], month_end(MONTHS[2])), (MONTHS[3], month_end(MONTHS[3])), (MONTHS[1], date(2023, 12, 31))):
            start, end = privacy.snap_range(start, end, grid.period)
            for picked in ((), ("robo",), ("hurto", "robo")):
                cats = privacy.public_categories(picked, cats_all, grid)[0]
                alone = privacy.publish(grid_cube(st, grid, start, end, cats), grid)
                cut = published_entries(st, grid, start, end, cats)
                pd.testing.assert_frame_equal(cut.reset_index(drop=True), alone.reset_index(drop=True))
                compared += len(alone)
    assert compared > 100
