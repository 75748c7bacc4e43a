"""Inference that holds with two declared districts, the partial-period rule, and the
primary analysis's checks (issue 17), on SYNTHETIC panels that look like the real
record: lognormal district sizes, serially correlated noise, monthly periods, a spell
starting on the 20th. The full simulation table is ``python -m benchmarks.sim_study``."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from geo.analysis import build_panel, did, event_study, naive
from geo.analysis.countfe import fit_fe_count
from geo.analysis.inference import assignments, one_step_placebos, placebo_columns, randomization_did, rank_test
from geo.analysis.primary import PRIMARY_RULE, primary_method
from geo.analysis.results import AnalysisResult, Estimate
from geo.analysis.simulate import SimConfig, simulate_panel
from geo.declarations import Registry, parse_declarations

# A spell starting on the 20th of March and ending on the 18th of May: March and May
# are partly declared, April fully.
REGISTRY = Registry(parse_declarations(
    "decree_id,start,days,areas,confirmed\n"
    "DS-900-2023-PCM,2023-03-20,60,150132 150135,yes\n"
    "DS-901-2024-PCM,2024-06-01,30,150101,yes\n"))
LIMA = ["150132", "150135"] + [f"1501{i:02d}" for i in range(1, 31) if i not in (32, 35)] + \
    [f"0701{i:02d}" for i in range(1, 8)]


def _monthly(seed=1, **kw):
    cfg = SimConfig(frequency="month", seed=seed, sizes={"150132": 3000.0, "150135": 2000.0}, rho=0.5, sigma=0.08, **kw)
    return simulate_panel(LIMA, REGISTRY, "DS-900-2023-PCM", cfg, start="2021-01-01", end="2024-12-31")


def test_a_spell_starting_on_the_20th_leaves_its_partial_months_out_and_says_so():
    counts, truth = _monthly(effect=-0.2)
    assert truth["share"]["150132"] == {"2023-03": 0.387, "2023-04": 1.0, "2023-05": 0.581}
    panel = build_panel(counts, REGISTRY, "DS-900-2023-PCM", None, frequency="month")
    d = did(panel, checks=False)
    rule = d.details["partial_periods"]
    assert rule["rule"] == "left_out" and "left out" in rule["en"] and "se dejan fuera" in rule["es"]
    assert rule["left_out"] == {"150132": ["2023-03-01", "2023-05-01"], "150135": ["2023-03-01", "2023-05-01"]}
    assert d.windows["post"] == {"start": "2023-04-01", "end": "2023-04-30"}
    assert d.windows["pre"]["end"] == "2023-02-28"
    # The partly declared months carry no weight: changing their counts changes nothing.
    partial = counts["ubigeo"].isin(["150132", "150135"]) & (counts["year"] == 2023) & counts["month"].isin([3, 5])
    d2 = did(build_panel(counts.assign(n=np.where(partial, counts["n"] * 5, counts["n"])), REGISTRY,
                         "DS-900-2023-PCM", None, frequency="month"), checks=False)
    assert d2.effect == pytest.approx(d.effect, abs=1e-10) and d2.ci == pytest.approx(d.ci, abs=1e-10)
    # ... while the fully declared month does.
    full = counts["ubigeo"].isin(["150132", "150135"]) & (counts["year"] == 2023) & (counts["month"] == 4)
    d3 = did(build_panel(counts.assign(n=np.where(full, counts["n"] * 2, counts["n"])), REGISTRY,
                         "DS-900-2023-PCM", None, frequency="month"), checks=False)
    assert math.log1p(d3.effect) - math.log1p(d.effect) == pytest.approx(math.log(2), abs=0.05)


def test_a_later_declaration_ends_the_panel_not_the_comparison_set():
    counts, _ = _monthly()
    panel = build_panel(counts, REGISTRY, "DS-900-2023-PCM", None, frequency="month")
    # 150101 is declared in June 2024, far past the declared run (April 2023) plus the
    # two-period tail: it stays a comparison district.
    assert "150101" in panel.role("comparison")
    assert panel.period_start(int(panel.counts["period"].max())).isoformat() == "2023-06-01"


def _small_panel(seed, effect, rho=0.6, units=24, periods=20, start=10):
    """Two large declared districts among lognormal ones, AR(1) district noise."""
    rng = np.random.default_rng(seed)
    unit, t = np.repeat(np.arange(units), periods), np.tile(np.arange(periods), units)
    size = np.exp(rng.normal(5.0, 1.0, units))
    size[:2] = [700.0, 450.0]
    e = np.zeros((units, periods))
    eps = rng.normal(0, 0.1, (units, periods))
    e[:, 0] = eps[:, 0]
    for k in range(1, periods):
        e[:, k] = rho * e[:, k - 1] + math.sqrt(1 - rho**2) * eps[:, k]
    D = ((unit < 2) & (t >= start)).astype(float)
    y = rng.poisson(size[unit] * np.exp(0.1 * np.sin(t / 2) + e.ravel() + math.log1p(effect) * D)).astype(float)
    return y, unit, t, D


def test_randomization_inference_covers_with_two_treated_districts_and_correlated_noise():
    effect, n = -0.15, 100
    cover_ri = cover_model = 0
    for seed in range(n):
        y, unit, t, D = _small_panel(seed, effect)
        fit = fit_fe_count(y, unit, t, D[:, None], family="nb2")
        b, se_model = fit.params[0], math.sqrt(fit.cov_model[0, 0])
        ri = randomization_did(y, unit, t, unit >= 2, np.arange(2, 24), [(10, 10, 19)] * 2, b,
                               treated_rows=unit < 2, treated_post=D > 0)
        truth = math.log1p(effect)
        cover_ri += ri["low"] <= truth <= ri["high"]
        cover_model += abs(b - truth) <= 1.96 * se_model
    # 100 datasets: a binomial standard error of about 2.2 points around 95 %.
    assert 0.89 <= cover_ri / n <= 0.99, cover_ri / n
    # The NB2 model's error alone, which assumes independent noise, does not.
    assert cover_model / n < 0.85, cover_model / n


def test_one_step_placebo_estimates_match_full_refits():
    y, unit, t, _ = _small_panel(3, 0.0)
    Z, combos = placebo_columns(unit, t, np.arange(24), [(10, 10, 19)] * 2)
    assert Z.shape[1] == math.comb(24, 2) == len(combos)
    r = one_step_placebos(y, unit, t, Z)
    for j in (0, 57, 200):
        full = fit_fe_count(y, unit, t, Z[:, j].toarray(), family="nb2")
        assert r["b"][j] == pytest.approx(full.params[0], abs=0.01)
        assert r["se"][j] == pytest.approx(math.sqrt(full.cov_model[0, 0]), rel=0.05)


def test_placebo_assignments_are_distinct_and_seeded():
    a = assignments(40, 7, ordered=False, seed=3)
    assert a.shape == (2000, 7) and len(np.unique(a, axis=0)) == 2000
    assert np.all(np.diff(a, axis=1) > 0)  # sorted, so no two rows are the same set
    assert np.array_equal(a, assignments(40, 7, ordered=False, seed=3))
    assert assignments(3, 2, ordered=True).tolist() == [[0, 1], [0, 2], [1, 0], [1, 2], [2, 0], [2, 1]]


@pytest.mark.parametrize("seed", range(30))
def test_the_p_value_and_the_interval_never_contradict(seed):
    rng = np.random.default_rng(seed)
    t_pl = rng.standard_t(df=rng.integers(2, 30), size=int(rng.integers(20, 600))) * rng.uniform(0.5, 2) \
        + rng.normal(0, 0.3)
    b, se = rng.normal(0, 0.3), rng.uniform(0.05, 0.2)
    r = rank_test(b, se, t_pl)
    excludes_zero = r["low"] > 0 or r["high"] < 0
    if r["p_value"] < 0.05:
        assert excludes_zero
    if excludes_zero:
        assert r["p_value"] <= 0.05 + 2 / (len(t_pl) + 1)


def test_the_primary_did_reports_its_method_role_question_and_checks():
    counts, _ = _monthly(effect=-0.2, seed=2)
    panel = build_panel(counts, REGISTRY, "DS-900-2023-PCM", None, frequency="month")
    d = did(panel)
    assert d.details["inference"] == "randomization" and d.details["role"] == "primary"
    assert d.details["n_placebos"] == math.comb(len(panel.role("comparison")), 2)
    # Monthly intervals did not reach 95 % in the simulation study: shown as descriptive.
    assert d.details["descriptive"] and any(w.code == "not_validated" for w in d.warnings)
    assert "randomisation" in d.sentence_en and "not a test" in d.sentence_en
    assert set(d.details["question"]) == {"window", "weighting", "comparison"}
    checks = d.details["checks"]
    assert set(checks) == {"placebo_time", "anticipation", "leave_one_out", "placebo_space"}
    assert checks["leave_one_out"]["n"] == len(panel.role("comparison"))
    lo, hi = checks["leave_one_out"]["range"]
    assert lo <= d.effect <= hi
    es = event_study(panel)
    assert es.details["role"] == "robustness" and es.details["reference"] == "pre-period average"
    assert es.details["pre_trend_power"]["minimum_detectable_trend"] > 0
    n = naive(panel)
    assert n.details["descriptive"] and n.details["role"] == "descriptive"
    # Quasi-Poisson: never narrower than the exact Poisson interval.
    assert n.ci[0] <= n.details["poisson_ci"][0] and n.ci[1] >= n.details["poisson_ci"][1]
    assert primary_method(AnalysisResult("DS-900-2023-PCM", {"did": d, "naive": n})) == "did"
    assert "aleatorización" in PRIMARY_RULE["es"] and "randomisation" in PRIMARY_RULE["en"]


def test_a_descriptive_estimate_claims_no_effect():
    e = Estimate("did", effect=-0.3, ci=(-0.5, -0.1), p_value=0.01, details={"descriptive": True})
    assert "lower than expected" not in e.sentence_en and "descriptive, not a test" in e.sentence_en
    assert "menores" not in e.sentence_es and "descriptiva" in e.sentence_es


def test_too_few_placebos_make_the_did_descriptive():
    counts, _ = _monthly(seed=4)
    few = counts[counts["ubigeo"].isin(LIMA[:7])]  # 2 declared, 5 comparison: 10 placebo pairs
    d = did(build_panel(few, REGISTRY, "DS-900-2023-PCM", None, frequency="month"), checks=False)
    assert d.details["n_placebos"] == 10 and d.details["descriptive"]
    assert any(w.code == "few_placebos" for w in d.warnings) and "not a test" in d.sentence_en


def test_one_area_of_a_spell_keeps_the_others_out():
    reg = Registry(parse_declarations("decree_id,start,days,areas,confirmed\n"
                                      "DS-902-2023-PCM,2023-03-20,60,150132 150135 150120,yes\n"))
    counts, _ = _monthly(seed=5)
    panel = build_panel(counts, reg, "DS-902-2023-PCM", None, frequency="month", treated=["150132", "150135"])
    assert panel.role("treated") == ["150132", "150135"]
    assert "150120" not in panel.role("comparison") + panel.role("ring")
    assert not any("150120" in c.en for c in panel.caveats)


def test_simulated_panels_have_the_asked_for_noise():
    counts, truth = _monthly(seed=6)
    sizes = np.array(list(truth["sizes"].values()))
    assert truth["synthetic"] and sizes.min() >= 30 and sizes.max() <= 6000

    def lag1(rho: float) -> float:
        cfg = SimConfig(frequency="month", seed=7, sizes={u: 5000.0 for u in LIMA}, rho=rho, sigma=0.1, alpha=0.0,
                        seasonal=0.0, trend_sd=0.0)
        c, _ = simulate_panel(LIMA, REGISTRY, "DS-900-2023-PCM", cfg, start="2021-01-01", end="2022-12-31")
        logs = np.log(c.pivot(index="ubigeo", columns=["year", "month"], values="n").to_numpy())
        r = logs - logs.mean(axis=1, keepdims=True)
        return float(np.sum(r[:, 1:] * r[:, :-1]) / np.sum(r**2))

    # AR(1) district noise: the months of a district are correlated as asked, and not without it.
    assert lag1(0.8) > 0.45 and abs(lag1(0.0)) < 0.1  # 24 months: the estimate is biased down


def test_synthetic_control_flags_a_trend_its_donors_cannot_match():
    from geo.analysis import synthetic_control

    # The declared districts fall 40 % a year faster than any donor, over the whole window.
    counts, _ = _monthly(seed=8, treated_trend=-0.4, trend_sd=0.0)
    sc = synthetic_control(build_panel(counts, REGISTRY, "DS-900-2023-PCM", None, frequency="month"))
    assert any(d["trend_mismatch"] for d in sc.details["districts"])
    assert any("drifts" in w.en for w in sc.warnings)
    assert sc.details["descriptive"] and "not a test" in sc.sentence_en
