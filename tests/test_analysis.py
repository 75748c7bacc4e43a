"""The analysis: each method on data with a known answer, the count model against
statsmodels, the group-time DiD against the `differences` package, the WDD test against
Wheeler & Ratcliffe's worked example, honest sentences, and `hexwatch analyze` on stores."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import orjson
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats import rates as sm_rates

from geo import boundaries
from geo.analysis import (AnalysisResult, Estimate, Panel, Windows, analyze, analyze_counts, build_panel, did,
                          event_study, event_study_figure, fit_fe_count, poisson_rate_ratio,
                          synth_weights, synthetic_control, synthetic_control_figure, wdd)
from geo.declarations import Registry
from geo.demo import DemoConfig, simulate_counts
from geo.errors import HexwatchError

DS105 = "DS-105-2023-PCM"


@pytest.fixture(scope="module")
def lima(demo_districts):
    d = demo_districts[demo_districts["ubigeo"].str[:4].isin(["1501", "0701"])].copy()
    d["area_km2"] = boundaries.area_km2(d)
    return d.reset_index(drop=True)


@pytest.fixture(scope="module")
def adjacency(demo_districts):
    return boundaries.adjacency(demo_districts)


@pytest.fixture(scope="module")
def registry():
    return Registry.load()


def weekly(lima, registry, adjacency, *, seed, effect=-0.10, displacement=0.03, n=150_000,
           start="2023-01-02", end="2024-03-31", overdispersion=30.0):
    cfg = DemoConfig(n_incidents=n, seed=seed, start=start, end=end, area="lima_callao", effect=effect,
                     displacement=displacement, overdispersion=overdispersion)
    counts, truth = simulate_counts(cfg, lima, registry, adjacency, freq="W")
    return counts, truth, (cfg.start, cfg.end)


# --------------------------------------------------------------------------- count model


def _panel_data(seed=3):
    rng = np.random.default_rng(seed)
    units, periods = 24, 30
    unit = np.repeat(np.arange(units), periods)
    t = np.tile(np.arange(periods), units)
    area = (unit >= 12).astype(int)
    cell = area * 1000 + t
    d1 = ((unit < 3) | ((unit >= 12) & (unit < 15))) & (t >= 15)
    d2 = (unit == 5) & (t >= 22)
    mu = np.exp(1.8 + 0.05 * unit + 0.3 * np.sin(t / 4) + area * 0.2 * np.cos(t / 3) - 0.2 * d1 + 0.1 * d2)
    y = rng.negative_binomial(6, 6 / (6 + mu))
    Z = np.c_[d1, d2].astype(float)
    # The same model as dense dummies: one time dummy per area is redundant with the units.
    dummies = pd.get_dummies(cell).drop(columns=[0, 1000]).to_numpy(float)
    X = np.c_[pd.get_dummies(unit).to_numpy(float), dummies, Z]
    return y, unit, cell, Z, X


@pytest.mark.parametrize("family", ["poisson", "nb2"])
def test_fe_count_fit_equals_statsmodels_glm(family):
    y, unit, cell, Z, X = _panel_data()
    fit = fit_fe_count(y, unit, cell, Z, family=family)
    fam = sm.families.Poisson() if family == "poisson" else sm.families.NegativeBinomial(alpha=fit.alpha)
    if family == "nb2":
        assert fit.alpha > 0.05  # the data are overdispersed (gamma shape 6)
    robust = sm.GLM(y, X, family=fam).fit(cov_type="cluster", cov_kwds={"groups": unit})
    model = sm.GLM(y, X, family=fam).fit(scale="X2")
    np.testing.assert_allclose(fit.params, robust.params[-2:], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov_cluster)), robust.bse[-2:], rtol=1e-4)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov_model)), model.bse[-2:], rtol=1e-4)


def test_fe_count_fit_drops_a_regressor_without_events():
    y, unit, cell, Z, _ = _panel_data()
    y = y.copy()
    y[Z[:, 1] == 1] = 0  # the second regressor's rows now hold no event: its MLE is -inf
    fit = fit_fe_count(y, unit, cell, Z)
    assert fit.dropped == (1,) and np.isnan(fit.params[1]) and np.isfinite(fit.params[0])


def test_cluster_robust_error_collapses_with_one_treated_district_model_error_does_not():
    # Why the analysis never relies on cluster-robust errors alone: with one declared
    # district its residuals sum to zero by construction, so the "meat" nearly vanishes.
    y, unit, cell, Z, _ = _panel_data()
    fit = fit_fe_count(y, unit, cell, Z)
    assert math.sqrt(fit.cov_cluster[1, 1]) < 0.5 * math.sqrt(fit.cov_model[1, 1])


# --------------------------------------------------------------------------- naive


def test_poisson_rate_ratio_p_value_is_the_exact_conditional_test():
    r = poisson_rate_ratio(589, 411)
    assert r["ratio"] == pytest.approx(411 / 589)
    ref = sm_rates.test_poisson_2indep(411, 1, 589, 1, method="exact-cond")
    assert r["p_value"] == pytest.approx(ref.pvalue, rel=1e-6)


def test_poisson_rate_ratio_interval_bounds_are_where_the_exact_test_reaches_2_5_percent():
    b, a, eb, ea = 40, 25, 12.0, 10.0
    lo, hi = poisson_rate_ratio(b, a, eb, ea)["ci"]
    # At each bound, the one-sided exact conditional test of that ratio sits at 2.5 %.
    up = sm_rates.test_poisson_2indep(a, ea, b, eb, value=lo, method="exact-cond", alternative="larger").pvalue
    down = sm_rates.test_poisson_2indep(a, ea, b, eb, value=hi, method="exact-cond", alternative="smaller").pvalue
    assert up == pytest.approx(0.025, abs=1e-6) and down == pytest.approx(0.025, abs=1e-6)


# --------------------------------------------------------------------------- WDD


def test_wdd_reproduces_wheeler_ratcliffe_worked_example():
    # Wheeler & Ratcliffe (2018), Table 1: control 308 -> 318, treated 207 -> 110,
    # displacement control 150 -> 140, displacement area 178 -> 157.
    r = wdd(control=(308, 318), treated=(207, 110), displacement_control=(150, 140), displacement=(178, 157))
    # local:        (110 - 207) - (318 - 308) = -97 - 10 = -107
    # displacement: (157 - 178) - (140 - 150) = -21 + 10 = -11
    # WDD = -107 + -11 = -118
    # Var = 207 + 110 + 308 + 318 + 178 + 157 + 150 + 140 = 1568, sd = 39.598
    # z = -118 / 39.598 = -2.98; 95 % CI = -118 -/+ 1.96 * 39.598 = [-195.6, -40.4]
    assert r["local"] == -107 and r["displacement"] == -11 and r["total"] == -118
    assert r["se_total"] == pytest.approx(math.sqrt(1568))
    assert round(r["z"], 2) == -2.98
    assert (round(r["low"]), round(r["high"])) == (-196, -40)
    assert r["p_value"] == pytest.approx(0.00288, abs=5e-5)


def test_wdd_time_weights_give_rates_per_period():
    # 2 years before, 1 after: treated 80 -> 20, control 100 -> 50.
    # local = (20/1 - 80/2) - (50/1 - 100/2) = -20 - 0 = -20
    # Var = 20/1 + 80/4 + 50/1 + 100/4 = 20 + 20 + 50 + 25 = 115
    r = wdd(control=(100, 50), treated=(80, 20), time_weights=(2, 1))
    assert r["total"] == -20 and r["se_total"] ** 2 == pytest.approx(115)


def test_wdd_shared_control_counts_its_variance_once_with_both_weights():
    # One control (200 -> 220) scaled to the treated (k = 2) and to the displacement area (k = 4).
    # WDD = (90 - 100) - (220 - 200)/2 + (55 - 50) - (220 - 200)/4 = -10 - 10 + 5 - 5 = -20
    # Var = 100 + 90 + 50 + 55 + (200 + 220) * (1/2 + 1/4)^2 = 295 + 420 * 0.5625 = 531.25
    r = wdd(control=(200, 220), treated=(100, 90), displacement_control=None, displacement=(50, 55),
            area_weights=(2, 1, 4, 1))
    assert r["total"] == pytest.approx(-20) and r["se_total"] ** 2 == pytest.approx(531.25)


# --------------------------------------------------------------------------- panel design


def test_panel_roles_for_ds105_follow_the_design_rules(lima, registry, adjacency):
    counts, truth, cov = weekly(lima, registry, adjacency, seed=1)
    p = build_panel(counts, registry, "ds 105-2023-pcm", adjacency, coverage=cov)
    assert p.spell_id == DS105
    treated = p.units[p.units["role"] == "treated"].set_index("ubigeo")
    assert sorted(treated.index) == ["150132", "150135"]
    assert any(c.code == "dropped_districts" and "200601" in c.en for c in p.caveats)  # Sullana: not in the data
    # Starts Wednesday 2023-09-20: the week of Monday 09-18 is only partly declared.
    assert p.period_start(int(treated.loc["150132", "onset"])) == date(2023, 9, 18)
    assert p.period_start(int(treated.loc["150132", "cohort"])) == date(2023, 9, 25)
    ring, cmp = set(p.role("ring")), set(p.role("comparison"))
    assert ring and ring <= set(truth["spells"][DS105]["adjacent"])
    assert not (cmp & set(truth["spells"][DS105]["adjacent"]))  # no neighbour is a control
    # Cercado de Lima and Lince were reportedly added (unconfirmed): never controls.
    assert not ({"150101", "150116"} & cmp)
    assert all(u[:4] in ("1501", "0701") for u in cmp)
    assert any(c.code == "overlapping_declarations" for c in p.caveats)


def test_spell_declaring_the_whole_metro_area_has_no_comparison_and_says_so(lima, registry, adjacency):
    counts, _, cov = weekly(lima, registry, adjacency, seed=2, start="2024-10-07", end="2025-06-29", n=60_000)
    r = analyze_counts(counts, registry, "DS 035-2025-PCM", adjacency, coverage=cov,
                       methods=("naive", "did", "synthetic_control"))
    assert r["naive"].available  # the naive figure needs no comparison
    assert not r["did"].available and not r["synthetic_control"].available
    assert any(w.code == "no_comparison" for w in r.warnings)
    assert "could not be estimated" in r["did"].sentence_en and "no se pudo estimar" in r["did"].sentence_es


# --------------------------------------------------------------------------- estimators


def test_did_and_event_study_recover_a_large_effect(lima, registry, adjacency):
    counts, _, cov = weekly(lima, registry, adjacency, seed=4, effect=-0.25, n=1_000_000, overdispersion=None)
    p = build_panel(counts, registry, DS105, adjacency, coverage=cov)
    d = did(p)
    assert d.ci[0] < -0.25 < d.ci[1] and d.ci[1] < 0
    assert "lower than expected from the comparison districts" in d.sentence_en
    assert "menores de lo esperado" in d.sentence_es
    es = event_study(p)
    co = pd.DataFrame(es.details["coefficients"]).set_index("rel")
    # Bins of 4 weeks, each against the pre-period average: the pre bins average zero
    # and the post bins sit at the effect.
    assert list(co.index) == [-12, -8, -4, 0, 4, 8, 12] and list(co["rel_end"]) == [-9, -5, -1, 3, 7, 11, 15]
    assert np.log1p(co.loc[:-1, "effect"]).mean() == pytest.approx(0.0, abs=1e-9)
    assert np.log1p(co.loc[0:, "effect"]).mean() == pytest.approx(math.log(0.75), abs=0.05)
    assert math.log1p(es.effect) == pytest.approx(math.log1p(d.effect), abs=0.03)  # same question as the DiD
    assert es.details["pre_trend_p"] > 0.05
    assert "does not prove there is none" in es.sentence_en and "no prueba que no las haya" in es.sentence_es
    # Simultaneous bands are wider than pointwise ones would be.
    assert es.details["band_critical_value"] > 1.96


def test_event_study_flags_a_trend_that_began_before_the_declaration(lima, registry, adjacency):
    counts, _, cov = weekly(lima, registry, adjacency, seed=5, effect=0.0, displacement=0.0, n=400_000,
                            overdispersion=None)
    # SJL and SMP drift upwards by 3 % a week in the twelve weeks before the start.
    wk = pd.to_datetime(counts["week"])
    weeks_before = ((pd.Timestamp("2023-09-18") - wk).dt.days // 7).clip(lower=0, upper=12)
    drift = np.where(counts["ubigeo"].isin(["150132", "150135"]) & (wk < "2023-09-18"), 0.97 ** weeks_before, 1.0)
    counts = counts.assign(n=np.random.default_rng(0).binomial(counts["n"], drift))
    r = analyze_counts(counts, registry, DS105, adjacency, coverage=cov, methods=("did", "event_study"))
    assert r["event_study"].details["pre_trend_p"] < 0.05
    assert any(w.code == "pre_trend" for w in r["did"].warnings)
    assert "not reliable" in r["did"].sentence_en and "no es confiable" in r["did"].sentence_es


def _manual_panel(effects={12: -0.2, 18: -0.1}, seed=0):
    """A staggered panel built by hand: 8 districts start at period 12, 8 at 18, 24 never."""
    rng = np.random.default_rng(seed)
    units, periods = 40, 30
    cohort = np.r_[np.full(8, 12), np.full(8, 18), np.full(24, -1)]
    a = np.log(rng.uniform(400, 1500, units))
    g = rng.normal(0, 0.1, periods)
    rows = []
    for i in range(units):
        for t in range(periods):
            on = cohort[i] >= 0 and t >= cohort[i]
            mu = math.exp(a[i] + g[t] + (effects[cohort[i]] if on else 0.0))
            rows.append((f"15{i:04d}", t, float(rng.poisson(mu)), 1.0 if on else 0.0, cohort[i]))
    counts = pd.DataFrame(rows, columns=["ubigeo", "period", "n", "share", "cohort"])
    counts["other"] = 0.0
    u = counts.groupby("ubigeo")["cohort"].first()
    units_df = pd.DataFrame({"ubigeo": u.index, "role": np.where(u.to_numpy() >= 0, "treated", "comparison"),
                             "area": "lima_callao", "onset": u.to_numpy(), "cohort": u.to_numpy(),
                             "last": np.where(u.to_numpy() >= 0, periods - 1, -1), "comparable": True})
    panel = Panel("TEST", "week", np.datetime64("2023-01-02"), Windows(pre=12, post=12), counts.drop(columns="cohort"),
                  units_df)
    return panel, counts


def test_group_time_did_agrees_with_the_differences_package():
    from differences import ATTgt

    panel, counts = _manual_panel()
    d = did(panel)
    mine = {c["cohort_start"]: math.log1p(c["effect"]) for c in d.details["cohorts"]}
    # Callaway & Sant'Anna on log counts (large counts: log-linear is the same model),
    # never-declared controls, averaged over the same 12 post periods per cohort.
    data = counts.assign(y=np.log(counts["n"]), cohort=counts["cohort"].where(counts["cohort"] >= 0))
    att = ATTgt(data=data[["ubigeo", "period", "y", "cohort"]].set_index(["ubigeo", "period"]), cohort_column="cohort")
    att.fit(formula="y", control_group="never_treated", progress_bar=False)
    gt = att.results()[("ATTgtElements", "", "ATT")].reset_index()
    for g in (12, 18):
        cs = gt[(gt["cohort"] == g) & (gt["time"] >= g) & (gt["time"] < g + 12)][("ATTgtElements", "", "ATT")].mean()
        assert mine[panel.period_start(g).isoformat()] == pytest.approx(cs, abs=0.02)
    # Both recover the truth, and the aggregate weighs the two cohorts equally here.
    assert math.log1p(d.effect) == pytest.approx(-0.15, abs=0.02)


def test_synthetic_control_finds_the_effect_and_a_small_placebo_p_value(lima, registry, adjacency):
    counts, _, cov = weekly(lima, registry, adjacency, seed=6, effect=-0.3, n=600_000, start="2022-10-03",
                            overdispersion=None)
    p = build_panel(counts, registry, DS105, adjacency, coverage=cov)
    sc = synthetic_control(p)
    assert sc.ci[0] < -0.3 < sc.ci[1] and sc.ci[1] < 0 and sc.p_value < 0.05
    for dd in sc.details["districts"]:
        assert sum(dd["weights"].values()) == pytest.approx(1, abs=0.05)
        assert dd["p_value"] <= 0.1  # the declared districts' RMSPE ratios top their placebos
        assert len(dd["path"]) == 26 + 16


def test_synth_weights_recover_a_known_convex_combination():
    rng = np.random.default_rng(1)
    donors = rng.uniform(0.5, 1.5, size=(30, 8))
    w = np.array([0.5, 0.3, 0.2, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(synth_weights(donors @ w, donors), w, atol=1e-3)


def test_displacement_recovers_spillover_and_runs_the_wdd_test(lima, registry, adjacency):
    counts, _, cov = weekly(lima, registry, adjacency, seed=7, effect=-0.2, displacement=0.15, n=600_000)
    r = analyze_counts(counts, registry, DS105, adjacency, coverage=cov, methods=("displacement",))
    d = r["displacement"]
    assert d.ci[0] < 0.15 < d.ci[1] and d.ci[0] > 0
    w = d.details["wdd"]
    assert w["local"] < 0 < w["displacement"]
    # The ring is several times the declared area, so +15 % there outweighs -20 % in it.
    (t0, t1), (d0, d1), (c0, c1), (pb, pa) = w["treated"], w["displacement_area"], w["control"], w["periods"]
    kt, kd = c0 / t0, c0 / d0
    per = lambda b, a, k: a / (pa * k) - b / (pb * k)  # change in weekly rate, control scaled by k
    assert w["local"] == pytest.approx(per(t0, t1, 1) - per(c0, c1, kt))
    assert w["displacement"] == pytest.approx(per(d0, d1, 1) - per(c0, c1, kd))
    assert w["total"] == pytest.approx(w["local"] + w["displacement"]) and w["total"] > 0
    assert "higher than expected" in d.sentence_en


# --------------------------------------------------------------------------- results


def test_sentences_never_claim_more_than_the_interval():
    spans = Estimate("did", effect=-0.04, ci=(-0.12, 0.05), p_value=0.4)
    assert "cannot distinguish the change from zero" in spans.sentence_en
    assert "no podemos distinguir el cambio de cero" in spans.sentence_es
    assert "lower" not in spans.sentence_en and "menores" not in spans.sentence_es
    up = Estimate("displacement", effect=0.08, ci=(0.01, 0.16), p_value=0.03)
    assert "8% higher" in up.sentence_en and "8 % mayores" in up.sentence_es
    naive_est = Estimate("naive", effect=-0.3, ci=(-0.38, -0.21), p_value=1e-8, windows={"frequency": "week"},
                         details={"before": 589, "after": 411, "periods": 4})
    assert "589" in naive_est.sentence_en and "ignores seasonality" in naive_est.sentence_en
    assert "ingenua" in naive_est.sentence_es


def test_result_json_round_trip_keeps_every_field():
    e = Estimate("did", effect=-0.1, ci=(-0.2, 0.01), p_value=0.07, windows={"frequency": "week"},
                 districts={"treated": ["150132"]}, n_obs=10, details={"x": float("nan")})
    r = AnalysisResult("DS-105-2023-PCM", {"did": e}, synthetic=True)
    d = orjson.loads(r.to_json())
    assert d["estimates"]["did"]["ci"] == [-0.2, 0.01] and d["estimates"]["did"]["details"]["x"] is None
    assert set(d["estimates"]["did"]) >= {"method", "effect", "ci", "p_value", "windows", "districts", "warnings",
                                          "sentence_es", "sentence_en"}
    back = AnalysisResult.from_dict(d)
    assert back.to_dict() == d
    assert "Synthetic demo data" in r.sentence_en


# --------------------------------------------------------------------------- stores and the CLI


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory, boundary_cache):
    """A small demo store built the product's way: synthetic points and SIDPOL rows, ingested."""
    from geo.demo import build_demo_store

    path = tmp_path_factory.mktemp("analysis") / "demo"
    build_demo_store(path, DemoConfig(n_incidents=200_000, seed=7, start="2023-01-02", end="2024-03-31"))
    return path


def test_cli_analyze_on_a_demo_store_recovers_the_injected_effect(demo_store, tmp_path, capsys):
    from geo.cli import main
    from geo.store import Store

    out = tmp_path / "ds105.json"
    main(["analyze", "--store", str(demo_store), "--declaration", "DS 105-2023-PCM", "--json", str(out)])
    printed = capsys.readouterr().out
    result = orjson.loads(out.read_bytes())
    did_est = result["estimates"]["did"]
    injected = Store.open(demo_store).meta["demo"]["effects"][DS105]["declared"]
    assert injected == -0.10
    assert did_est["ci"][0] <= injected <= did_est["ci"][1]
    # The printout leads with the area's own primary estimate, sentence and all; the pooled
    # figure is secondary and shown as its table row.
    lead = result["areas"][0]
    assert lead["area"] == "lima_callao" and lead["estimates"]["did"]["ci"][0] <= injected <= lead["estimates"]["did"]["ci"][1]
    assert lead["estimates"]["did"]["sentence_en"] in printed and result["sentence_en"] in printed
    pooled = printed.split("All areas pooled")[1]
    assert f"{100 * did_est['effect']:+.1f}%" in next(l for l in pooled.splitlines() if l.startswith("Difference-in-differences"))
    assert result["synthetic"] is True and "Synthetic demo data" in printed
    assert set(result["estimates"]) == {"naive", "did", "event_study", "synthetic_control", "displacement"}
    # All nine districts are declared; Sullana's seven have no comparison district in
    # the demo area (only Lancones, their neighbour), so only Lima's two are compared.
    treated = {t["ubigeo"]: t["compared"] for t in result["design"]["treated"]}
    assert len(treated) == 9 and sorted(u for u, c in treated.items() if c) == ["150132", "150135"]
    assert len(result["estimates"]["naive"]["districts"]["treated"]) == 9
    assert did_est["districts"]["treated"] == ["150132", "150135"]


def test_analyze_by_category_and_on_the_sidpol_layer(demo_store):
    r = analyze(demo_store, "ds-105-2023-pcm", category="robo", methods=("naive", "did"))
    assert r.category == "robo" and r["did"].available and r["did"].n_obs > 0
    everything = analyze(demo_store, DS105, methods=("naive",))
    assert r["naive"].details["before"] < 0.5 * everything["naive"].details["before"]  # robbery is about 30 %
    m = analyze(demo_store, DS105, source="sidpol", methods=("naive", "did", "event_study"))
    assert m.frequency == "month" and m["did"].windows["frequency"] == "month" and m["did"].available
    # Twelve months before September 2023 would start in 2022: the data start in January 2023.
    assert m["did"].windows["pre"] == {"start": "2023-01-01", "end": "2023-08-31"}
    assert any(w.code == "short_window" for w in m.warnings)
    assert "meses" in m["naive"].sentence_es and "months" in m["naive"].sentence_en
    with pytest.raises(HexwatchError, match="no category 'theft'"):
        analyze(demo_store, DS105, category="theft")


def test_cli_user_errors_are_one_line(tmp_path, capsys):
    from geo.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["analyze", "--store", str(tmp_path / "none"), "--declaration", DS105])
    assert exc.value.code == 2 and "no hexwatch store" in capsys.readouterr().err


def test_figures_carry_the_estimates(lima, registry, adjacency):
    counts, _, cov = weekly(lima, registry, adjacency, seed=8, start="2022-10-03")
    r = analyze_counts(counts, registry, DS105, adjacency, coverage=cov, methods=("event_study", "synthetic_control"))
    fig = event_study_figure(r, lang="en")
    co = [c for c in r["event_study"].details["coefficients"] if c["effect"] is not None]
    assert list(fig.data[1].y) == pytest.approx([100 * c["effect"] for c in co])
    assert fig.layout.xaxis.title.text == "Weeks since the declaration"
    sc = synthetic_control_figure(r, lang="es")
    obs = sum(sum(row["observed"] for row in d["path"]) for d in r["synthetic_control"].details["districts"])
    assert sum(sc.data[0].y) == pytest.approx(obs) and sc.layout.yaxis.title.text == "Incidentes"
