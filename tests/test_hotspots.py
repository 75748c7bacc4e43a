"""Emerging hot spots (geo.hotspots, geo.mannkendall, `hexwatch hotspots`).

References: esda's ``G_Local(star=True)`` for Gi*, pymannkendall's ``original_test`` for
the trend, hand-made series for each of Esri's 17 categories, planted hot spots for
power, uniform stores for false positives, and the published grid for public output.
"""

from __future__ import annotations

import warnings
from datetime import date

import h3
import numpy as np
import orjson
import pandas as pd
import pytest

from benchmarks import hotspot_study as study
from geo import hotspots as hs
from geo.errors import HexwatchError
from geo.mannkendall import mann_kendall
from geo.store import Store, write_version
from geo.viewspec import View


def _irregular_cells(seed: int = 0) -> np.ndarray:
    """Two clusters of resolution-8 cells with holes: neighbourhoods of every size 1-7."""
    rng = np.random.default_rng(seed)
    out = set()
    for lat, lon, r in ((-12.05, -77.04, 4), (-4.90, -80.69, 2)):
        disk = list(h3.grid_disk(h3.latlng_to_cell(lat, lon, 8), r))
        out |= {c for c in disk if rng.random() < 0.7}
    out.add(h3.latlng_to_cell(-12.40, -76.80, 8))  # an island: its only neighbour is itself
    return np.array(sorted(h3.str_to_int(c) for c in out), dtype=np.uint64)


# --- Gi* against esda ----------------------------------------------------------------------


@pytest.mark.parametrize("k_rings,time_steps", [(1, 1), (2, 0), (1, 3)])
def test_gi_star_equals_esda_g_local_star(k_rings, time_steps):
    import esda  # a test dependency (pyproject `test`): a missing one fails, never skips
    from libpysal.graph import Graph

    cells = _irregular_cells()
    rng = np.random.default_rng(5)
    # over-dispersed counts with many zeros and a few large ones, as real cells are
    x = rng.negative_binomial(1, 0.4, size=(cells.size, 15)).astype(float)
    x[:3] *= 9
    nb = hs.neighbour_matrix(cells, k_rings)
    ours = hs.gi_star(x, nb, time_steps)
    w = Graph.from_sparse(hs.space_time_weights(nb, x.shape[1], time_steps))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = esda.G_Local(x.ravel(), w, transform="B", star=True, permutations=0)
    assert np.abs(ours.z.ravel() - ref.Zs).max() < 1e-9
    assert np.allclose(ours.p.ravel(), 2 * ref.p_norm, atol=1e-12)


def test_neighbour_matrix_is_grid_disk_within_the_locations():
    cells = _irregular_cells()
    nb = hs.neighbour_matrix(cells, 1).tocsr()
    members = set(int(c) for c in cells)
    for i in (0, 5, cells.size - 1):
        want = {h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(int(cells[i])), 1)} & members
        got = set(int(c) for c in cells[nb[i].indices])
        assert got == want and int(cells[i]) in got
    assert (nb != nb.T).nnz == 0


def test_space_time_neighbourhood_is_current_and_previous_bins():
    cells = _irregular_cells()
    x = np.zeros((cells.size, 6))
    x[0, 2] = 10.0   # one burst in bin 2
    z = hs.gi_star(x, hs.neighbour_matrix(cells, 1), time_steps=1).z
    assert z[0, 2] > 0 and z[0, 3] > 0          # bins 2 and 3 see bin 2
    assert z[0, 1] < 0 and z[0, 4] < 0          # bin 1 is before it, bin 4 one step too late


# --- Mann-Kendall against pymannkendall ---------------------------------------------------------


def test_mann_kendall_equals_pymannkendall():
    import pymannkendall as pmk  # a test dependency: a missing one fails, never skips
    rng = np.random.default_rng(2)
    for n in (3, 4, 10, 37, 104):
        x = np.round(rng.normal(size=(25, n)) + np.linspace(0, rng.normal(), n), 1)  # ties on purpose
        x[0] = 2.0  # constant
        r = mann_kendall(x)
        for i in range(x.shape[0]):
            ref = pmk.original_test(x[i])
            assert r.s[i] == ref.s
            assert r.var_s[i] == pytest.approx(ref.var_s, abs=1e-9)
            assert r.z[i] == pytest.approx(ref.z, abs=1e-12)
            assert r.p[i] == pytest.approx(ref.p, abs=1e-12)
            assert r.tau[i] == pytest.approx(ref.Tau, abs=1e-12)


# --- Esri's 17 patterns -------------------------------------------------------------------------


def _series(states: str, trend: float = 0.0):
    """A location from a string of bin states: H hot, C cold, . not significant."""
    st = np.array([{"H": 1, "C": -1, ".": 0}[c] for c in states])
    z = np.where(st != 0, 3.0 * st, 0.1) + trend * np.arange(st.size)
    return z, st != 0


CASES = [
    ("." * 19 + "H", 0, "new hot spot"),
    ("." * 17 + "HHH", 0, "consecutive hot spot"),
    ("H" * 20, +0.5, "intensifying hot spot"),
    ("H" * 20, 0.0, "persistent hot spot"),
    ("H" * 20, -0.1, "diminishing hot spot"),
    ("..H..H....HH...." + "..HH", 0, "sporadic hot spot"),
    ("..C......" + "." * 9 + "HH", 0, "oscillating hot spot"),
    ("H" * 18 + "..", 0, "historical hot spot"),
    ("." * 19 + "C", 0, "new cold spot"),
    ("." * 16 + "CCCC", 0, "consecutive cold spot"),
    ("C" * 20, -0.5, "intensifying cold spot"),
    ("C" * 20, 0.0, "persistent cold spot"),
    ("C" * 20, +0.1, "diminishing cold spot"),
    (".C...C.........CC..C", 0, "sporadic cold spot"),
    ("HH................CC", 0, "oscillating cold spot"),
    ("C" * 19 + ".", 0, "historical cold spot"),
    ("...HHH..............", 0, "no pattern detected"),   # hot in the past only, < 90 %
    ("." * 20, 0, "no pattern detected"),
]


@pytest.mark.parametrize("states,trend,want", CASES, ids=[c[2] + f"-{i}" for i, c in enumerate(CASES)])
def test_classify_each_esri_category(states, trend, want):
    z, sig = _series(states, trend)
    mk = mann_kendall(z[None, :])
    got = hs.classify(z[None, :], sig[None, :], mk.tau, mk.p)[0]
    assert got == want


def test_every_pattern_is_tested_and_there_are_seventeen():
    assert len(hs.PATTERNS) == 17
    assert {c[2] for c in CASES} == set(hs.PATTERNS)


def test_ninety_percent_rule_is_inclusive():
    z, sig = _series("." * 2 + "H" * 18)          # exactly 90 % hot, final hot, no trend
    mk = mann_kendall(np.where(sig, 3.0, 3.0)[None, :])
    assert hs.classify(z[None, :], sig[None, :], mk.tau, mk.p)[0] == "persistent hot spot"
    z, sig = _series("." * 3 + "H" * 17)          # 85 %: one final run, nothing before
    mk = mann_kendall(z[None, :])
    assert hs.classify(z[None, :], sig[None, :], np.zeros(1), np.ones(1))[0] == "consecutive hot spot"


# --- bins -----------------------------------------------------------------------------------------


def test_time_bins_leave_partial_bins_out():
    weeks = hs.time_bins(date(2023, 9, 20), date(2023, 11, 18), "week")   # Wed .. Sat
    assert weeks[0] == np.datetime64("2023-09-25") and hs.bin_ends(weeks, "week")[-1] == np.datetime64("2023-11-12")
    months = hs.time_bins(date(2023, 1, 31), date(2023, 12, 31), "month")
    assert months[0] == np.datetime64("2023-02-01") and months.size == 11
    assert hs.time_bins(date(2024, 2, 1), date(2024, 2, 28), "month").size == 0  # 2024 is a leap year
    with pytest.raises(HexwatchError, match="period"):
        hs.time_bins(date(2024, 1, 1), date(2024, 2, 1), "day")


# --- planted hot spots and the null (a small version of benchmarks/hotspot_study.py) ------------------


def test_uniform_background_gives_few_hot_cells_over_100_cubes():
    cells = study.region(radius=8)          # 217 cells
    nb = hs.neighbour_matrix(cells, 1)
    shares = []
    for s in range(100):
        x = study.simulate_counts(cells, 1.0, n_weeks=52, seed=s)
        r = hs.analyse_counts(cells, x, neighbours=nb)
        shares.append(np.isin(r.patterns, hs.HOT_PATTERNS).mean())
    assert np.mean(shares) <= 0.05 and np.max(shares) <= 0.05


@pytest.mark.parametrize("radius", [1, 2])
def test_planted_hot_spot_is_found_at_its_place_and_start(tmp_path, radius):
    cells = study.region()
    centre = h3.str_to_int(h3.latlng_to_cell(*study.CENTRE, 8))
    spot = study.Spot(centre, radius, study.SPOT_START, 3.0)
    store = study.write_store(tmp_path / "s", cells, study.simulate_counts(cells, 3.0, [spot], seed=radius))
    r = study.analyse_store(store, districts=False)
    f = r.cells_frame().set_index("cell")
    inside = spot.cells()
    hot_now = [p for p in hs.HOT_PATTERNS if p != "historical hot spot"]
    assert f.loc[inside, "pattern"].isin(hot_now).mean() >= 0.8
    far = ~f.index.isin(study.Spot(centre, radius + 1, 0, 1).cells())
    assert f.loc[far, "pattern"].isin(hs.HOT_PATTERNS).mean() <= 0.01
    hist = r.history(int(centre))
    run_start = hist["bin"][hist["state"].eq("hot")[::-1].cummin()[::-1]].min()
    planted = np.datetime64(study.START, "D") + np.timedelta64(7 * study.SPOT_START, "D")
    assert abs((run_start - planted).days) <= 14


def test_permutations_are_seeded_and_agree_with_analytic():
    cells = study.region(radius=6)
    x = study.simulate_counts(cells, 2.0, [study.Spot(int(cells[cells.size // 2]), 1, 30, 4.0)], n_weeks=40, seed=1)
    nb = hs.neighbour_matrix(cells, 1)
    a = hs.gi_star_permutation(x, nb, 1, permutations=199, seed=3)
    b = hs.gi_star_permutation(x, nb, 1, permutations=199, seed=3)
    assert np.array_equal(a.z, b.z) and np.array_equal(a.p, b.p)
    analytic = hs.gi_star(x, nb, 1)
    assert np.corrcoef(a.z.ravel(), analytic.z.ravel())[0, 1] > 0.95
    assert a.p.min() >= 2 / 200 - 1e-12 and a.p.max() <= 1


# --- the store path, the CLI and public output ----------------------------------------------------


@pytest.fixture(scope="module")
def planted_store(tmp_path_factory):
    cells = study.region()
    centre = h3.str_to_int(h3.latlng_to_cell(*study.CENTRE, 8))
    counts = study.simulate_counts(cells, 3.0, [study.Spot(centre, 1, study.SPOT_START, 3.0)], seed=11)
    return study.write_store(tmp_path_factory.mktemp("hs") / "store", cells, counts), centre


def test_cli_writes_json_and_geojson_with_provenance(planted_store, tmp_path, capsys):
    from geo.cli import main

    store, centre = planted_store
    j, g = tmp_path / "hs.json", tmp_path / "hs.geojson"
    main(["hotspots", "--store", str(store), "--from", "2024-01-01", "--to", "2025-12-28",
          "--resolution", "8", "--period", "week", "--json", str(j), "--out", str(g)])
    printed = capsys.readouterr().out
    assert "SYNTHETIC" in printed and "consecutive hot spot" in printed
    doc = orjson.loads(j.read_bytes())
    assert doc["hexwatch"]["synthetic"] is True and "Benjamini-Hochberg" in doc["method"]["multiple_testing"]
    by_cell = {c["cell"]: c for c in doc["cells"]}
    c = by_cell[h3.int_to_str(centre)]
    assert c["pattern"] in hs.PATTERNS and c["pattern"].endswith("hot spot")
    assert set(c["trend"]) >= {"tau", "p"} and c["z"] > 0 and 0 <= c["p"] < 0.05
    assert len(doc["bins"]) == 104 and sum(doc["patterns"].values()) == len(doc["cells"])
    gj = orjson.loads(g.read_bytes())
    assert gj["type"] == "FeatureCollection" and gj["hexwatch"]["synthetic"] is True
    feat = next(f for f in gj["features"] if f["properties"]["h3"] == h3.int_to_str(centre))
    assert feat["properties"]["pattern"] == c["pattern"] and feat["properties"]["z"] == pytest.approx(c["z"], abs=1e-6)
    ring = feat["geometry"]["coordinates"][0]
    assert feat["geometry"]["type"] == "Polygon" and ring[0] == ring[-1] and len(ring) == 7


def test_cli_errors_are_one_line(planted_store, capsys):
    from geo.cli import main

    store, _ = planted_store
    with pytest.raises(SystemExit) as e:
        main(["hotspots", "--store", str(store), "--from", "2024-01-01", "--to", "2024-02-20"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "at least 10" in err and len(err.splitlines()) == 1
    with pytest.raises(SystemExit):
        main(["hotspots", "--store", str(store), "--period", "day"])
    assert "period" in capsys.readouterr().err


def test_views_store_by_category_and_area(views_store, demo_districts):
    st = Store.open(views_store)
    view = View(start=date(2022, 1, 1), end=date(2025, 12, 31), resolution=8, categories=("robo",), area="sullana")
    r = hs.emerging_hotspots(st, view, period="month", districts=demo_districts)
    assert r.n_locations > 0 and r.bins.size == 48
    assert all(str(u).startswith("2006") for u in r.ubigeo)
    everywhere = hs.emerging_hotspots(st, view.replace(area="all"), period="month", districts=demo_districts)
    assert everywhere.n_locations > r.n_locations
    # counts per cell and month equal the cube summed by hand
    cube = st.read("cube_cell", filters=[("resolution", "=", 8)])
    cube = cube[cube["category"] == "ROBO"]   # "robo" asked: matched ignoring case
    cell = int(r.cells[np.argmax(r.low.sum(axis=1))])
    mine = cube[cube["cell"] == cell]
    by_month = mine.groupby(pd.to_datetime(mine["day"]).dt.to_period("M"))["n"].sum()
    hist = r.history(cell)
    want = by_month.reindex(pd.PeriodIndex(pd.to_datetime(hist["bin"]), freq="M"), fill_value=0).to_numpy()
    assert np.array_equal(hist["count_low"].to_numpy(), want)


def test_coarser_resolution_sums_the_finer_cube(views_store, demo_districts):
    st = Store.open(views_store)
    view = View(start=date(2022, 1, 1), end=date(2025, 12, 31), resolution=6)
    r = hs.emerging_hotspots(st, view, period="month", districts=demo_districts)
    assert set(h3.get_resolution(h3.int_to_str(int(c))) for c in r.cells) == {6}
    total = st.read("cube_cell", filters=[("resolution", "=", 7)])["n"].sum()
    assert r.low.sum() == total


def _public_pair(path, views_store, bump):
    """A copy of the views store with one suppressed published entry changed by ``bump``."""
    from geo import export
    from geo.privacy import PublicGrid

    st = Store.open(views_store)
    cube = st.read("cube_cell")
    grid = PublicGrid()
    pub = export.published_grid(st, grid)
    target = pub[pub["n"].isna()].iloc[len(pub) // 7 % max(1, pub["n"].isna().sum())]
    month = pd.Timestamp(target["period"])
    day = pd.to_datetime(cube["day"])
    rows = cube.index[(cube["resolution"] == 8) & (cube["cell"] == target["cell"]) & (cube["category"] == target["group"])
                      & (day.dt.year == month.year) & (day.dt.month == month.month)]
    assert len(rows) and cube.loc[rows, "n"].sum() < grid.k
    cube = cube.copy()
    cube.loc[rows[0], "n"] += bump   # still below k
    assert cube.loc[rows, "n"].sum() < grid.k
    write_version(path, tables={"cube_cell": cube, "cube_district": st.read("cube_district")}, meta=st.meta)
    return Store.open(path)


def test_public_patterns_come_from_the_published_grid_only(views_store, demo_districts, tmp_path):
    st = Store.open(views_store)
    view = View(start=date(2022, 1, 1), end=date(2025, 12, 31), resolution=9)
    pub = hs.emerging_hotspots(st, view, period="week", public=True, districts=demo_districts)
    assert pub.view.resolution == 8 and pub.period == "month"      # the grid's resolution and period
    assert any("published grid" in n for n in pub.notes)
    assert not any("violencia" in c.lower() for c in pub.provenance["categories"])
    assert any(c.lower() == "robo" for c in pub.provenance["categories"])
    changed = _public_pair(tmp_path / "copy", views_store, bump=2)
    pub2 = hs.emerging_hotspots(changed, view, period="week", public=True, districts=demo_districts)
    # a change inside a suppressed entry changes nothing public
    assert np.array_equal(pub.cells, pub2.cells)
    assert np.array_equal(pub.z, pub2.z) and np.array_equal(pub.pattern, pub2.pattern)
    assert np.array_equal(pub.low, pub2.low) and np.array_equal(pub.high, pub2.high)
    # the official analysis does see it
    off = hs.emerging_hotspots(st, view.replace(resolution=8), period="month", districts=demo_districts)
    off2 = hs.emerging_hotspots(changed, view.replace(resolution=8), period="month", districts=demo_districts)
    assert not np.array_equal(off.low, off2.low)
    d = pub.to_dict()
    assert d["hexwatch"]["public"] is True and "censoring" in d["method"]
    assert all(c["count"] is None or c["count_low"] == c["count_high"] for c in d["cells"])


# --- the dashboard callback enforces the public rules on the server -------------------------------


def test_public_hot_spot_callback_ignores_a_forged_fine_resolution(views_store, demo_districts):
    from dashboard import create_app
    from dashboard.access import AccessConfig
    from dashboard.state import UIState
    from dashboard.testing import response_values, update_request

    app = create_app(views_store, districts=demo_districts, access=AccessConfig(public=True))
    with app.server.test_request_context():
        st = UIState.from_query("from=2024-01-01&to=2025-12-31&area=lima_callao", app.hexwatch.catalog()).to_store()
    body = update_request(app, "hs-hexes.data", {"state.data": st, "hs-res.value": 10, "hs-period.value": "week",
                                                 "hs-span.value": "24"}, "hs-res.value")
    r = app.server.test_client().post("/_dash-update-component", json=body)
    assert r.status_code == 200
    got = response_values(r.get_json())
    assert got["hs-status.data-public"] == "1" and got["hs-status.data-resolution"] == "8"
    want = hs.emerging_hotspots(Store.open(views_store), View(start=date(2024, 1, 1), end=date(2025, 12, 31),
                                                              area="lima_callao", resolution=8),
                                period="month", public=True, districts=demo_districts)
    assert got["hs-status.data-cells"] == str(want.n_locations)
    drawn = {f["properties"]["h3"]: f["properties"]["pattern"] for f in got["hs-hexes.data"]["features"]}
    f = want.cells_frame()
    assert drawn == {h: p for h, p in zip(f["h3"], f["pattern"]) if p != hs.NO_PATTERN}


def test_module_examples_run():
    import doctest

    import geo.mannkendall

    for mod in (hs, geo.mannkendall):
        r = doctest.testmod(mod)
        assert r.attempted > 0 and r.failed == 0, mod.__name__


def test_cli_public_json_holds_only_published_values(views_store, tmp_path, capsys):
    from geo.cli import main

    j = tmp_path / "public.json"
    main(["hotspots", "--store", str(views_store), "--public", "--resolution", "9", "--period", "week",
          "--from", "2022-01-01", "--to", "2025-12-31", "--json", str(j)])
    doc = orjson.loads(j.read_bytes())
    assert doc["hexwatch"]["public"] is True and doc["hexwatch"]["privacy"]["k"] == 5
    assert doc["period"] == "month" and {h3.get_resolution(c["cell"]) for c in doc["cells"]} == {8}
    assert "censoring" in doc["method"] and "Benjamini-Hochberg" in doc["method"]["multiple_testing"]
    assert not any("violencia" in c.lower() for c in doc["hexwatch"]["categories"])
    # a suppressed total is never printed as a number: count is null unless exact
    assert all((c["count"] is None) == (c["count_low"] != c["count_high"]) for c in doc["cells"])
    assert "published grid" in capsys.readouterr().out
