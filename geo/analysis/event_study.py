"""Event study: the effect over event time, in pooled bins, against the pre-period average.

Same count model as :mod:`geo.analysis.did`, with one coefficient per cohort and bin of
event time (Sun & Abraham's interaction-weighted estimator, cohorts averaged per bin
with weights proportional to their districts). Single periods are too noisy to read
(the issue-17 simulation found single-week coefficients about 3x noisier than the
DiD), so event time is pooled into bins of :data:`BIN` periods (4 weeks, 3 months),
and every bin is reported **relative to the pre-period average** rather than to the
one period before the declaration.

Read side by side with the DiD. The summary ``effect`` averages the bins within the
declared run only (bins after it are shown, not averaged), weighted by their periods:
the same window and comparison as the DiD, with equal weight per period instead of
the DiD's information weights. Its interval uses the DiD's randomisation inference
(:mod:`geo.analysis.inference`): the placebo ``t`` quantiles and the DiD's predicted
error (the two share window and districts; their model errors differ by a few %).

Bands. Each bin's band is simultaneous (sup-t over all bins, from the model
covariance inflated by the ratio of the randomisation error to the model error of the
DiD), so "every band covers its truth" holds at 95 % jointly, not bin by bin.

Pre-trends. ``pre_trend_p`` is a joint Wald test that the pre bins equal their average
(on the inflated covariance). A test that does not reject is no proof of parallel
trends: ``details["pre_trend_power"]`` gives the smallest linear trend (relative
change per period) it detects with 80 % power and the bias such an undetected trend
would put on the post average; ``details["honest"]`` widens the interval by
Rambachan & Roth's (2023) relative-magnitude bound (post-period deviations from
parallel trends no larger, period to period, than the largest between consecutive
pre bins, ``M = 1``; a conservative union bound).

:func:`event_study_figure` in :mod:`geo.analysis.plots` draws ``details["coefficients"]``.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats

from geo.analysis.did import NOT_VALIDATED, VALIDATED_FREQUENCIES, did_randomization, fit_sample, lincom_inference, question, used_windows
from geo.analysis.panel import Panel, fe_sample
from geo.analysis.results import Caveat, Estimate

#: Pre-trend test level at which a caveat is raised.
PRE_TREND_LEVEL = 0.05
#: Periods pooled per bin, by frequency.
BIN = {"week": 4, "month": 3}
#: Power at which the minimum detectable trend is stated.
POWER = 0.80
#: Relative-magnitude bound of the sensitivity analysis.
M_BAR = 1.0


def _bin_of(rel: np.ndarray, width: int) -> np.ndarray:
    """Bin index of event times: bins end at -1 before (``[-w, -1]``, ``[-2w, -w-1]``...)
    and start at 0 after (``[0, w-1]``...)."""
    rel = np.asarray(rel, dtype=float)
    return np.where(rel < 0, -((-rel - 1) // width) - 1, rel // width)


def sup_t_critical(corr: np.ndarray, level: float = 0.95, *, draws: int = 20000, seed: int = 0) -> float:
    """Critical value ``c`` with ``P(max |Z_k| <= c) = level`` for ``Z ~ N(0, corr)``."""
    k = corr.shape[0]
    if k == 0:
        return float("nan")
    if k == 1:
        return float(stats.norm.ppf(0.5 + level / 2))
    w, v = np.linalg.eigh(corr)
    root = v * np.sqrt(np.clip(w, 0, None))
    z = np.random.default_rng(seed).standard_normal((draws, k)) @ root.T
    return float(np.quantile(np.abs(z).max(axis=1), level))


def minimum_detectable_trend(L: np.ndarray, V: np.ndarray, slope: np.ndarray, *, level: float = PRE_TREND_LEVEL,
                             power: float = POWER) -> float:
    """Smallest linear trend ``d`` (per period, log scale) that the Wald test of
    ``L b = 0`` (covariance ``L V L'``) detects with probability ``power``, when the
    trend moves ``L b`` by ``d * slope``."""
    df = L.shape[0]
    if df == 0:
        return float("nan")
    Vinv = np.linalg.pinv(L @ V @ L.T)
    g = float(slope @ Vinv @ slope)
    if not g > 0:
        return float("inf")
    crit = stats.chi2.ppf(1 - level, df)
    lam = optimize.brentq(lambda nc: stats.ncx2.sf(crit, df, nc) - power, 1e-6, 1e4)
    return float(np.sqrt(lam / g))


def event_study(panel: Panel) -> Estimate:
    """Binned coefficients for event times ``-pre .. post-1`` against the pre-period average."""
    w = panel.windows
    width = BIN.get(panel.frequency, 4)
    s = fe_sample(panel, "treated", event_time=True)
    focal = s[s["role"] == "treated"]
    districts = {"treated": sorted(focal["ubigeo"].unique()),
                 "comparison": sorted(s.loc[s["role"] == "comparison", "ubigeo"].unique())}
    if focal.empty or not districts["comparison"] or not focal["post"].any():
        return Estimate("event_study", districts=districts,
                        warnings=[Caveat("no_comparison", "no comparison district or no declared period",
                                         "no hay distritos de comparación o periodos declarados")])
    is_t = (s["role"] == "treated").to_numpy()
    rel = s["rel"].to_numpy()
    coh = s["cohort"].to_numpy()
    bins = np.where(is_t, _bin_of(np.nan_to_num(rel, nan=0.0), width), np.nan)
    cohorts = sorted(int(c) for c in focal["cohort"].unique())
    all_bins = sorted(int(b) for b in np.unique(bins[is_t]))
    ref = max(b for b in all_bins if b < 0) if any(b < 0 for b in all_bins) else None
    if ref is None or not any(b >= 0 for b in all_bins):
        return Estimate("event_study", districts=districts,
                        warnings=[Caveat("too_few_events", "no period before or after the declaration",
                                         "no hay periodos antes o después de la declaratoria")])
    cols, keys = [], []
    for c in cohorts:
        for b in all_bins:
            if b == ref:
                continue
            col = is_t & (coh == c) & (bins == b)
            if col.any():
                cols.append(col)
                keys.append((c, b))
    Z = np.column_stack(cols).astype(float)
    fit = fit_sample(s, Z)
    size = {c: focal.loc[focal["cohort"] == c, "ubigeo"].nunique() for c in cohorts}
    ok = ~np.isnan(fit.params)

    def raw(b: int) -> np.ndarray:
        """Cohort-averaged coefficient of bin ``b`` against the reference bin."""
        if b == ref:
            return np.zeros(len(keys))
        v = np.array([size[c] if (bb == b and ok[j]) else 0.0 for j, (c, bb) in enumerate(keys)])
        return v / v.sum() if v.sum() > 0 else v

    pre_bins = [b for b in all_bins if b < 0 and (b == ref or raw(b).any())]
    post_bins = [b for b in all_bins if b >= 0 and raw(b).any()]
    # Periods per bin actually present (the first pre bin may be cut by the window).
    rel_t = rel[is_t]
    n_in = {b: len(np.unique(rel_t[bins[is_t] == b])) for b in all_bins}
    pre_avg = sum((n_in[b] * raw(b) for b in pre_bins), np.zeros(len(keys))) / sum(n_in[b] for b in pre_bins)
    norm = {b: raw(b) - pre_avg for b in pre_bins + post_bins}
    used = panel.units[panel.units["ubigeo"].isin(districts["treated"])]
    last_rel = int((used["last"] - used["cohort"]).max())
    # Averaged bins: those starting inside the declared run (the DiD's window).
    avg_bins = [b for b in post_bins if b * width <= last_rel] or post_bins[:1]
    post_avg = sum((n_in[b] * norm[b] for b in avg_bins), np.zeros(len(keys))) / sum(n_in[b] for b in avg_bins)
    inf = lincom_inference(fit, post_avg)
    if not np.isfinite(inf["log"]):
        return Estimate("event_study", districts=districts, n_obs=fit.n_obs,
                        warnings=[Caveat("too_few_events", "no incident after the declaration",
                                         "ningún incidente tras la declaratoria")])
    # Randomisation inference: the DiD's placebo t distribution and variance model,
    # applied to this estimate (same window and comparison).
    did_s = fe_sample(panel, "treated")
    ri = did_randomization(panel, did_s, "treated", inf["log"], reuse=True)
    inflation = float(ri["se"] / inf["se"]) if inf["se"] > 0 and np.isfinite(ri["se"]) else 1.0
    inflation = max(inflation, 1.0)
    low, high = ri["low"], ri["high"]
    effect = float(np.expm1(inf["log"]))
    ci = (float(np.expm1(low)), float(np.expm1(high)))
    Vo = fit.cov_model[np.ix_(ok, ok)] * inflation**2
    b_ok = fit.params[ok]
    shown = pre_bins + post_bins
    L_all = np.vstack([norm[b][ok] for b in shown])
    est_all = L_all @ b_ok
    V_all = L_all @ Vo @ L_all.T
    se_all = np.sqrt(np.clip(np.diag(V_all), 0, None))
    live = se_all > 0
    corr = V_all[np.ix_(live, live)] / np.outer(se_all[live], se_all[live])
    crit = sup_t_critical(corr)
    main = min(cohorts)
    main_onset = int(focal.loc[focal["cohort"] == main, "onset"].min())

    def start(r: int) -> str:  # calendar start of event time r for the first cohort
        return panel.period_start(main + r if r >= 0 else main_onset + r).isoformat()

    coefficients = []
    for b, e_log, se_b in zip(shown, est_all, se_all):
        r0 = b * width
        r1 = r0 + width - 1
        lo_b, hi_b = (e_log - crit * se_b, e_log + crit * se_b) if se_b > 0 else (e_log, e_log)
        coefficients.append({"rel": int(r0), "rel_end": int(r1), "start": start(r0), "effect": float(np.expm1(e_log)),
                             "ci": [float(np.expm1(lo_b)), float(np.expm1(hi_b))], "log": float(e_log),
                             "se": float(se_b), "declared": bool(0 <= r0 <= last_rel), "averaged": b in avg_bins})
    # Joint test that the pre bins equal their average (one restriction fewer than bins).
    k_pre = len(pre_bins)
    chi2 = pre_p = mdt = bias_mdt = float("nan")
    if k_pre >= 2:
        Lp = np.vstack([norm[b][ok] for b in pre_bins[1:]])  # the first is implied by the average
        Lb = Lp @ b_ok
        Vp = Lp @ Vo @ Lp.T
        chi2 = float(Lb @ np.linalg.pinv(Vp) @ Lb)
        pre_p = float(stats.chi2.sf(chi2, df=k_pre - 1))
        # Mid event time of each bin, centred on the pre-period average.
        mid = {b: float(np.mean(np.unique(rel_t[bins[is_t] == b]))) for b in pre_bins + post_bins}
        pre_mean_rel = sum(n_in[b] * mid[b] for b in pre_bins) / sum(n_in[b] for b in pre_bins)
        slope = np.array([mid[b] - pre_mean_rel for b in pre_bins[1:]])
        mdt = minimum_detectable_trend(Lp, Vo, slope)
        post_mean_rel = sum(n_in[b] * mid[b] for b in avg_bins) / sum(n_in[b] for b in avg_bins)
        bias_mdt = mdt * (post_mean_rel - pre_mean_rel)
    # Relative magnitudes: the largest move between consecutive pre bins bounds each
    # post bin's move; the post average's bias is at most the mean of k * delta.
    pre_est = [float(norm[b][ok] @ b_ok) for b in pre_bins]
    delta = max((abs(pre_est[i + 1] - pre_est[i]) for i in range(len(pre_est) - 1)), default=float("nan"))
    k_avg = np.mean([avg_bins.index(b) + 1 for b in avg_bins])
    bound = M_BAR * delta * k_avg
    honest = {"method": "relative magnitudes (Rambachan & Roth 2023), union bound", "m_bar": M_BAR,
              "max_pre_move": delta, "bias_bound": bound,
              "ci": [float(np.expm1(low - bound)), float(np.expm1(high + bound))] if np.isfinite(bound) else [None, None]}
    warnings = [] if panel.frequency in VALIDATED_FREQUENCIES else [NOT_VALIDATED]
    if np.isfinite(pre_p) and pre_p < PRE_TREND_LEVEL:
        warnings.append(Caveat("pre_trend",
                               f"Before the declaration the declared and comparison districts already moved differently (joint test p = {pre_p:.3f}).",
                               f"Antes de la declaratoria los distritos declarados y los de comparación ya evolucionaban distinto (prueba conjunta p = {pre_p:.3f})."))
    if fit.dropped:
        warnings.append(Caveat("small_counts", "Some periods had no incident in the declared districts and have no coefficient.",
                               "Algunos periodos no tuvieron incidentes en los distritos declarados y no tienen coeficiente."))
    windows = used_windows(panel, focal[(focal["rel"] < 0) | (focal["rel"] <= last_rel)])
    details = {"coefficients": coefficients, "reference": "pre-period average", "bin_periods": width,
               "band": "simultaneous (sup-t)", "band_critical_value": crit, "pre_trend_chi2": chi2,
               "pre_trend_df": max(k_pre - 1, 0), "pre_trend_p": pre_p,
               "pre_trend_power": {"power": POWER, "level": PRE_TREND_LEVEL, "minimum_detectable_trend": float(np.expm1(mdt)) if np.isfinite(mdt) else None,
                                   "bias_at_that_trend": float(np.expm1(bias_mdt)) if np.isfinite(bias_mdt) else None},
               "honest": honest, "inference": "randomization", "n_placebos": ri["n_placebos"],
               "model_error_inflation": inflation, "declared_through_rel": last_rel, "log_effect": inf["log"],
               "se": ri["se"], "se_model": inf["se"],
               "role": "robustness",
               "descriptive": bool(ri["descriptive"]) or panel.frequency not in VALIDATED_FREQUENCIES,
               "question": question(panel, windows, "event_study")}
    return Estimate("event_study", effect=effect, ci=ci, p_value=ri["p_value"], windows=windows, districts=districts,
                    n_obs=fit.n_obs, warnings=warnings, details=details)
