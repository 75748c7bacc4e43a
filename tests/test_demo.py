"""The synthetic demo generator: reproducible, the documented model, effects as recorded,
points inside their own district in the exact MININTER format, a store labelled synthetic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from geo import boundaries
from geo.cli import main
from geo.declarations import Registry
from geo.demo import (DATASET_LABEL, DEFAULT_CATEGORIES, MININTER_COLUMNS, SIDPOL_COLUMNS, SUBTYPES, DemoConfig,
                      build_demo_store, sidpol_frame, simulate_counts, simulate_points)
from geo.errors import HexwatchError
from geo.locate import assign_districts
from geo.store import Store

DS105 = "DS-105-2023-PCM"


@pytest.fixture(scope="module")
def districts(demo_districts):
    return demo_districts


@pytest.fixture(scope="module")
def adjacency(districts):
    return boundaries.adjacency(districts)


@pytest.fixture(scope="module")
def registry():
    return Registry.load()


@pytest.fixture(scope="module")
def small(districts, registry, adjacency):
    """A year of daily counts and their points: small enough to be quick."""
    cfg = DemoConfig(n_incidents=30_000, seed=11, start="2023-01-01", end="2023-12-31")
    counts, truth = simulate_counts(cfg, districts, registry, adjacency)
    return cfg, counts, truth, simulate_points(counts, districts, seed=11)


def test_default_area_is_lima_callao_and_sullana(districts):
    u = districts["ubigeo"]
    assert len(districts) == 58
    assert (u.str[:4] == "2006").sum() == 8 and (u.str[:4].isin(["1501", "0701"])).sum() == 50


def test_same_seed_same_data_other_seed_other_data(districts, registry, adjacency, small):
    cfg, counts, truth, points = small
    again, truth_again = simulate_counts(cfg, districts, registry, adjacency)
    pd.testing.assert_frame_equal(counts, again)
    assert truth == truth_again
    pd.testing.assert_frame_equal(points, simulate_points(again, districts, seed=11))
    other, _ = simulate_counts(DemoConfig(**{**cfg.__dict__, "seed": 12}), districts, registry, adjacency)
    assert not counts["n"].equals(other["n"])
    assert not points[["lat_hecho", "long_hecho"]].equals(simulate_points(counts, districts, seed=12)[["lat_hecho", "long_hecho"]])


def test_total_is_near_the_requested_number(districts, registry, adjacency):
    cfg = DemoConfig(n_incidents=200_000, seed=3)
    counts, truth = simulate_counts(cfg, districts, registry, adjacency, freq="W")
    total = int(counts["n"].sum())
    assert truth["n_incidents"] == total
    assert abs(total - 200_000) < 0.02 * 200_000


def test_panel_is_dense_and_typed(small, districts):
    cfg, counts, _, _ = small
    n_days = (cfg.end - cfg.start).days + 1
    assert len(counts) == len(districts) * n_days * len(cfg.categories)
    assert str(counts["ubigeo"].dtype) == "str" and counts["day"].dtype == "datetime64[s]" and counts["n"].dtype == np.int32
    assert (counts["n"] == 0).any()


def test_weekly_panel_has_monday_weeks_and_matches_daily_totals(districts, registry, adjacency):
    cfg = DemoConfig(n_incidents=400_000, seed=5, overdispersion=None)
    daily, _ = simulate_counts(cfg, districts, registry, adjacency)
    weekly, truth = simulate_counts(cfg, districts, registry, adjacency, freq="W")
    assert list(weekly.columns) == ["ubigeo", "week", "category", "n"] and truth["freq"] == "W"
    assert (weekly["week"].dt.day_of_week == 0).all()
    assert weekly["week"].nunique() == 210  # 2022-01-01 is a Saturday: the first week is partial
    by_d = daily.groupby("ubigeo")["n"].sum()
    by_w = weekly.groupby("ubigeo")["n"].sum()
    # Same expectation, independent Poisson draws: differences within 4 standard deviations.
    assert (np.abs(by_d - by_w) < 4 * np.sqrt(by_d + by_w) + 1).all()


def test_ds105_treats_sjl_not_lancones_and_adjacent_set_comes_from_the_borders(small, adjacency):
    _, _, truth, _ = small
    spell = truth["spells"][DS105]
    treated = set(spell["treated"])
    assert treated == {"150132", "150135", "200601", "200602", "200603", "200605", "200606", "200607", "200608"}
    assert "200604" not in treated
    expected_adjacent = set().union(*(adjacency[u] for u in treated)) - treated
    assert set(spell["adjacent"]) == expected_adjacent
    assert "200604" in spell["adjacent"]  # Lancones borders declared Sullana districts
    assert spell["start"] == "2023-09-20" and spell["decree_ids"] == [DS105, "DS-126-2023-PCM"]
    assert spell["declared_district_days"] == 9 * (pd.Timestamp("2023-12-31") - pd.Timestamp("2023-09-20")).days + 9
    assert truth["effects"][DS105] == {"declared": -0.10, "adjacent": 0.03}


def _window_ratio(counts: pd.DataFrame, group: set[str], comparison: set[str]) -> float:
    """(group after / group a year before) / (comparison after / comparison a year before),
    over the DS 105-2023-PCM spell: the same calendar window, so season cancels."""
    day = counts["day"]
    after = (day >= "2023-09-20") & (day <= "2024-01-17")
    before = (day >= "2022-09-20") & (day <= "2023-01-17")

    def total(members, when):
        return counts.loc[when & counts["ubigeo"].isin(members), "n"].sum()

    return (total(group, after) / total(group, before)) / (total(comparison, after) / total(comparison, before))


@pytest.mark.parametrize("effect,displacement", [(-0.30, 0.20), (0.0, 0.0)])
def test_injected_effect_shows_in_a_simple_before_after_ratio(districts, registry, adjacency, effect, displacement):
    cfg = DemoConfig(n_incidents=3_000_000, seed=21, effect=effect, displacement=displacement, overdispersion=None)
    counts, truth = simulate_counts(cfg, districts, registry, adjacency)
    spell = truth["spells"][DS105]
    treated, adjacent = set(spell["treated"]), set(spell["adjacent"])
    comparison = set(districts["ubigeo"]) - treated - adjacent - {"150101", "150116"}
    assert abs(_window_ratio(counts, treated, comparison) - (1 + effect)) < 0.03
    assert abs(_window_ratio(counts, adjacent, comparison) - (1 + displacement)) < 0.03
    assert truth["effects"][DS105] == {"declared": effect, "adjacent": displacement}
    assert spell["expected_declared"] == pytest.approx(spell["expected_declared_without_effect"] * (1 + effect))


def test_per_spell_override_and_unknown_spell(districts, registry, adjacency):
    cfg = DemoConfig(n_incidents=10_000, seed=1, effects={"ds 105-2023-pcm": (-0.5, 0.0)})
    _, truth = simulate_counts(cfg, districts, registry, adjacency, freq="W")
    assert truth["effects"][DS105] == {"declared": -0.5, "adjacent": 0.0}
    assert truth["effects"]["DS-100-2024-PCM"] == {"declared": -0.10, "adjacent": 0.03}
    with pytest.raises(HexwatchError, match="DS-999-2023-PCM"):
        simulate_counts(DemoConfig(n_incidents=10, seed=1, effects={"DS 999-2023-PCM": (0, 0)}),
                        districts, registry, adjacency)


def test_unconfirmed_spells_get_effects_only_when_the_registry_includes_them(districts, adjacency):
    cfg = DemoConfig(n_incidents=10_000, seed=1)
    _, confirmed = simulate_counts(cfg, districts, Registry.load(), adjacency, freq="W")
    _, everything = simulate_counts(cfg, districts, Registry.load(include_unconfirmed=True), adjacency, freq="W")
    assert "150101" not in confirmed["spells"][DS105]["treated"]
    assert "150101" in everything["spells"][DS105]["treated"]  # Cercado de Lima, added around 2023-10-10


@pytest.mark.parametrize("kwargs,message", [
    ({"effect": -1.0}, "above -1"),
    ({"start": "2024-01-01", "end": "2023-01-01"}, "before start"),
    ({"start": "2024-13-01"}, "not a date"),
    ({"n_incidents": 0}, "at least 1"),
    ({"categories": (("ROBO", 0.0),)}, "positive shares"),
    ({"area": "lima"}, "unknown demo area"),
])
def test_bad_config_is_a_one_line_user_error(kwargs, message):
    with pytest.raises(HexwatchError, match=message):
        DemoConfig(**{"n_incidents": 100, "seed": 1, **kwargs})


def test_weekly_and_yearly_seasonality_follow_the_model(districts, registry, adjacency):
    amp_w, amp_y = 0.2, 0.15
    cfg = DemoConfig(n_incidents=2_000_000, seed=8, effect=0.0, displacement=0.0, annual_trend=0.0,
                     overdispersion=None, weekly_amplitude=amp_w, yearly_amplitude=amp_y)
    counts, _ = simulate_counts(cfg, districts, registry, adjacency)
    per_day = counts.groupby("day")["n"].sum()
    by_weekday = per_day.groupby(per_day.index.day_of_week).mean()
    assert by_weekday.idxmax() == 5  # Saturday
    # Saturday vs Tuesday: (1 + a) / (1 + a cos(2 pi (1 - 5) / 7)), to within noise.
    assert by_weekday[5] / by_weekday[1] == pytest.approx((1 + amp_w) / (1 + amp_w * np.cos(-8 * np.pi / 7)), rel=0.02)
    by_month = per_day.groupby(per_day.index.month).mean()
    assert by_month.idxmax() in (12, 1) and by_month.idxmin() in (6, 7)
    assert by_month.max() / by_month.min() > 1 + amp_y
    flat, _ = simulate_counts(DemoConfig(**{**cfg.__dict__, "weekly_amplitude": 0.0, "yearly_amplitude": 0.0}),
                              districts, registry, adjacency)
    flat_day = flat.groupby("day")["n"].sum()
    flat_weekday = flat_day.groupby(flat_day.index.day_of_week).mean()
    assert flat_weekday.max() / flat_weekday.min() < 1.02


def test_trend_grows_the_yearly_totals(districts, registry, adjacency):
    cfg = DemoConfig(n_incidents=1_000_000, seed=2, annual_trend=0.10, effect=0.0, displacement=0.0, overdispersion=None)
    counts, _ = simulate_counts(cfg, districts, registry, adjacency, freq="W")
    per_year = counts.groupby(counts["week"].dt.year)["n"].sum()
    assert per_year[2024] / per_year[2023] == pytest.approx(1.10, abs=0.02)


def test_overdispersion_makes_district_weeks_vary_more_than_poisson(districts, registry, adjacency):
    def dispersion(k):
        cfg = DemoConfig(n_incidents=2_000_000, seed=4, overdispersion=k, weekly_amplitude=0, yearly_amplitude=0,
                         annual_trend=0, effect=0, displacement=0)
        w, _ = simulate_counts(cfg, districts, registry, adjacency, freq="W")
        w = w[(w["week"] > w["week"].min()) & (w["week"] < w["week"].max())]  # drop the partial weeks
        per = w.groupby(["ubigeo", "week"])["n"].sum().groupby("ubigeo")
        return float((per.var() / per.mean()).median())

    assert dispersion(None) == pytest.approx(1.0, abs=0.3)
    assert dispersion(10.0) > 5  # variance mu + mu^2 / k with mu in the hundreds


def test_points_are_inside_their_own_district_and_located_back_there(small, districts):
    _, _, _, points = small
    geoms = districts.set_index(districts["ubigeo"].astype(np.int64))["geometry"]
    for code, rows in points.groupby("ubigeo_hecho"):
        assert shapely.contains_xy(geoms[code], rows["long_hecho"].to_numpy(), rows["lat_hecho"].to_numpy()).all()
    # Sullana's simplified districts overlap a little: points avoid the overlaps that the
    # locator gives to another district, so ingest puts every point where it was drawn.
    located = assign_districts(points["lat_hecho"].to_numpy(), points["long_hecho"].to_numpy(), districts, cache_dir=False)
    assert (located == points["ubigeo_hecho"].astype(str).str.zfill(6).to_numpy()).all()


def test_points_have_the_exact_mininter_format(small, districts):
    _, counts, _, points = small
    assert tuple(points.columns) == MININTER_COLUMNS
    assert points["fecha_hora_hecho"].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
    for c in ("id_denuncia", "fecha_hora_hecho", "tipo_hecho", "subtipo_hecho", "distrito_hecho"):
        assert str(points[c].dtype) == "str", c
    assert points["lat_hecho"].dtype == np.float64 and points["ubigeo_hecho"].dtype == np.int64
    assert points["id_denuncia"].is_unique
    time = pd.to_datetime(points["fecha_hora_hecho"], format="%Y-%m-%d %H:%M:%S")
    assert time.is_monotonic_increasing
    # Police style: Ventanilla 070106 is the integer 70106; names upper case without accents.
    names = points.drop_duplicates("ubigeo_hecho").set_index("ubigeo_hecho")["distrito_hecho"]
    assert names[70106] == "VENTANILLA" and names[150135] == "SAN MARTIN DE PORRES" and names[150105] == "BRENA"
    # One point per counted incident, on its day and category.
    again = (points.assign(ubigeo=points["ubigeo_hecho"].astype(str).str.zfill(6), day=time.dt.normalize(),
                           category=points["tipo_hecho"])
             .groupby(["ubigeo", "day", "category"]).size())
    expected = counts[counts["n"] > 0].set_index(["ubigeo", "day", "category"])["n"]
    assert again.sort_index().to_dict() == expected.sort_index().to_dict()


def test_category_mix_and_subtypes(small):
    cfg, _, _, points = small
    shares = points["tipo_hecho"].value_counts(normalize=True)
    for name, share in DEFAULT_CATEGORIES:
        assert shares[name] == pytest.approx(share, abs=4 * np.sqrt(share * (1 - share) * 30 / len(points)) + 0.005)
    for name, options in SUBTYPES.items():
        assert set(points.loc[points["tipo_hecho"] == name, "subtipo_hecho"]) == {o for o, _ in options}
    hours = pd.to_datetime(points["fecha_hora_hecho"]).dt.hour.value_counts()
    assert hours[20] > 2 * hours[4]  # evenings are busier than before dawn


def test_sidpol_rows_add_up_to_the_points(small, districts):
    _, counts, _, points = small
    s = sidpol_frame(counts, districts)
    assert tuple(s.columns) == SIDPOL_COLUMNS
    assert int(s["cantidad"].sum()) == len(points)
    assert (s["cantidad"] > 0).all()
    lima = s[s["UBIGEO_HECHO"] == 150132].iloc[0]
    assert lima["DPTO_HECHO_NEW"] == "LIMA METROPOLITANA" and lima["DIST_HECHO"] == "SAN JUAN DE LURIGANCHO"
    assert set(s.loc[s["UBIGEO_HECHO"] == 70106, "DPTO_HECHO_NEW"]) == {"PROV. CONST. DEL CALLAO"}
    assert set(s.loc[s["UBIGEO_HECHO"] == 200604, "DPTO_HECHO_NEW"]) == {"PIURA"}


def test_points_need_daily_counts_of_known_districts(districts, registry, adjacency):
    weekly, _ = simulate_counts(DemoConfig(n_incidents=100, seed=1), districts, registry, adjacency, freq="W")
    with pytest.raises(HexwatchError, match="daily counts"):
        simulate_points(weekly, districts, seed=1)
    stray = pd.DataFrame({"ubigeo": ["999999"], "day": pd.to_datetime(["2023-01-01"]), "category": ["ROBO"], "n": [1]})
    with pytest.raises(HexwatchError, match="999999"):
        simulate_points(stray, districts, seed=1)


def test_demo_store_is_labelled_synthetic_and_holds_both_layers(tmp_path, districts, registry):
    cfg = DemoConfig(n_incidents=4_000, seed=9, start="2023-07-01", end="2023-12-31")
    report = build_demo_store(tmp_path / "store", cfg, boundaries=districts, registry=registry)
    store = Store.open(tmp_path / "store")
    meta = store.meta
    assert meta["synthetic"] is True and meta["dataset"] == DATASET_LABEL
    assert meta["demo"]["effects"][DS105] == {"declared": -0.10, "adjacent": 0.03}
    assert meta["demo"]["seed"] == 9 and "150132" in meta["demo"]["spells"][DS105]["treated"]
    n = meta["demo"]["n_incidents"]
    assert report.n_input == report.n_accepted == n and report.n_rejected == 0
    assert report.n_outside_districts == 0 and report.n_reported_ubigeo_mismatch == 0
    assert len(store.read("incidents", columns=["incident_id"])) == n
    assert int(store.read("district_month", columns=["n"])["n"].sum()) == n
    assert set(store.read("incidents", columns=["category"])["category"]) == {c.lower() for c, _ in DEFAULT_CATEGORIES}
    # The same demo again (e.g. after an interrupted build) completes it: nothing is added twice.
    again = build_demo_store(tmp_path / "store", cfg, boundaries=districts, registry=registry)
    assert again.n_accepted == 0 and again.n_already_present == n
    assert len(Store.open(tmp_path / "store").read("incidents", columns=["incident_id"])) == n
    # Another demo, or any other data, is never mixed in.
    with pytest.raises(HexwatchError, match="already holds a store with other data"):
        build_demo_store(tmp_path / "store", DemoConfig(**{**cfg.__dict__, "seed": 10}), boundaries=districts,
                         registry=registry)


def test_cli_demo_builds_and_prints_the_truth(tmp_path, capsys):
    target = tmp_path / "cli-store"
    argv = ["demo", "--store", str(target), "--incidents", "2000", "--seed", "4", "--effect", "-0.2",
            "--start", "2023-09-01", "--end", "2023-12-31"]
    main(argv)
    printed = capsys.readouterr().out
    assert "SYNTHETIC" in printed and "DS-105-2023-PCM" in printed and "-20.0%" in printed
    assert Store.open(target).meta["synthetic"] is True
    with pytest.raises(SystemExit) as again:
        main([a if a != "4" else "5" for a in argv])  # another seed into the same store
    assert again.value.code == 2
    assert capsys.readouterr().err.strip().startswith("error:")


def test_any_city_boundaries_without_declarations(registry):
    import geopandas as gpd

    city = gpd.GeoDataFrame({"ubigeo": ["north", "south"], "name": ["Barrio Norte", "Barrio Sur"]}, crs="EPSG:4326",
                            geometry=[shapely.box(-58.5, -34.5, -58.4, -34.4), shapely.box(-58.5, -34.6, -58.4, -34.5)])
    counts, truth = simulate_counts(DemoConfig(n_incidents=3_000, seed=2, start="2024-01-01", end="2024-03-31"),
                                    city, registry)
    assert truth["effects"] == {} and truth["never_treated_or_adjacent"] == ["north", "south"]
    points = simulate_points(counts, city, seed=2)
    assert set(points["ubigeo_hecho"]) == {"north", "south"}  # ids that are not numbers stay text
    assert set(points["distrito_hecho"]) == {"BARRIO NORTE", "BARRIO SUR"}


def test_each_districts_spatial_pattern_persists_through_the_years(districts, registry, adjacency):
    """Cells with incidents per year stay put: hotspot points are spread over all of a
    district's days, not handed to its latest rows (which made 2025 pile into a few
    clusters and every change map swing by ±50 %)."""
    from geo.h3index import latlng_to_cells

    cfg = DemoConfig(n_incidents=120_000, seed=5, start="2022-01-01", end="2025-12-31")
    counts, _ = simulate_counts(cfg, districts, registry, adjacency, freq="D")
    points = simulate_points(counts, districts, seed=5)
    year = points["fecha_hora_hecho"].str[:4].astype(int)
    cells = latlng_to_cells(points["lat_hecho"].to_numpy(), points["long_hecho"].to_numpy(), 8)
    frame = pd.DataFrame({"year": year, "cell": cells, "district": points["ubigeo_hecho"]})
    per_year = frame.groupby("year")["cell"].nunique()
    n_per_year = frame.groupby("year").size()
    # Equal numbers of points would reach about as many cells each year; correct for the trend.
    spread = per_year / n_per_year ** 0.5
    assert spread.max() / spread.min() < 1.1, per_year.to_dict()
    # And within each district, the share of points in its 10 busiest cells of the first year
    # is about the same in the last year (the hotspots are the same spots, equally busy).
    first, last = frame[frame["year"] == 2022], frame[frame["year"] == 2025]
    shares = []
    for u, g in first.groupby("district"):
        top = g["cell"].value_counts().index[:10]
        h = last[last["district"] == u]
        if len(g) > 500 and len(h) > 500:
            shares.append((g["cell"].isin(top).mean(), h["cell"].isin(top).mean()))
    shares = np.array(shares)
    assert len(shares) > 20
    assert np.abs(shares[:, 0] - shares[:, 1]).max() < 0.08
