"""Event study: the effect period by period, from ``pre`` periods before to ``post`` after.

Same count model as :mod:`geo.analysis.did`, with one coefficient per cohort and event
time (Sun & Abraham's interaction-weighted estimator): ``-1``, the last period before
the declaration, is the reference, so each coefficient compares that period's
declared-vs-comparison gap with the gap just before. Cohorts are averaged per event
time with weights proportional to their districts. Before the declaration the
coefficients should hover around zero; a joint Wald test of all of them
(``pre_trend_p``) flags trends that already differed, in which case the DiD cannot be
trusted. The summary ``effect`` is the average of the post-period coefficients.

:func:`event_study_figure` in :mod:`geo.analysis.plots` draws ``details["coefficients"]``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from geo.analysis.did import MIN_CLUSTERS, fit_sample, lincom_inference, relative, used_windows
from geo.analysis.panel import Panel, fe_sample
from geo.analysis.results import Caveat, Estimate

#: Pre-trend test level at which a caveat is raised.
PRE_TREND_LEVEL = 0.05


def event_study(panel: Panel) -> Estimate:
    """Coefficients for event times ``-pre .. post-1`` (``-1`` is the reference)."""
    w = panel.windows
    s = fe_sample(panel, "treated", event_time=True)
    focal = s[s["role"] == "treated"]
    districts = {"treated": sorted(focal["ubigeo"].unique()),
                 "comparison": sorted(s.loc[s["role"] == "comparison", "ubigeo"].unique())}
    if focal.empty or not districts["comparison"] or not focal["post"].any():
        return Estimate("event_study", districts=districts,
                        warnings=[Caveat("no_comparison", "no comparison district or no declared period",
                                         "no hay distritos de comparación o periodos declarados")])
    rels = [r for r in range(-w.pre, w.post) if r != -1]
    cohorts = sorted(int(c) for c in focal["cohort"].unique())
    is_t = (s["role"] == "treated").to_numpy()
    rel = s["rel"].to_numpy()
    coh = s["cohort"].to_numpy()
    cols, keys = [], []
    for c in cohorts:
        for r in rels:
            col = is_t & (coh == c) & (rel == r)
            if col.any():
                cols.append(col)
                keys.append((c, r))
    Z = np.column_stack(cols).astype(float)
    fit = fit_sample(s, Z)
    size = {c: focal.loc[focal["cohort"] == c, "ubigeo"].nunique() for c in cohorts}
    ok = ~np.isnan(fit.params)

    def combo(r: int) -> np.ndarray:
        v = np.array([size[c] if (rr == r and ok[j]) else 0.0 for j, (c, rr) in enumerate(keys)])
        return v / v.sum() if v.sum() > 0 else v

    combos = {r: combo(r) for r in rels}
    post_avg = sum((combos[r] for r in rels if r >= 0 and combos[r].any()), np.zeros(len(keys)))
    n_post = sum(1 for r in rels if r >= 0 and combos[r].any())
    if n_post == 0:
        return Estimate("event_study", districts=districts, n_obs=fit.n_obs,
                        warnings=[Caveat("too_few_events", "no incident after the declaration",
                                         "ningún incidente tras la declaratoria")])
    post_avg = post_avg / n_post
    inf = lincom_inference(fit, post_avg)
    effect, ci, p = relative(inf)
    # A cluster-robust covariance has rank below the number of declared districts, so
    # a joint test of many coefficients can only use it when there are plenty of them.
    n_treated = len(districts["treated"])
    V = fit.cov_cluster if inf["inference"] == "cluster" and n_treated > max(MIN_CLUSTERS, w.pre) else fit.cov_model
    main = min(cohorts)
    main_onset = int(focal.loc[focal["cohort"] == main, "onset"].min())

    def start(r: int) -> str:  # calendar start of event time r for the first cohort
        return panel.period_start(main + r if r >= 0 else main_onset + r).isoformat()

    coefficients = [{"rel": -1, "start": start(-1), "effect": 0.0, "ci": [0.0, 0.0], "log": 0.0, "se": 0.0,
                     "reference": True}]
    for r in rels:
        if not combos[r].any():
            coefficients.append({"rel": r, "start": start(r), "effect": None, "ci": [None, None], "log": None, "se": None})
            continue
        i = lincom_inference(fit, combos[r])
        e, (lo, hi), _ = relative(i)
        coefficients.append({"rel": r, "start": start(r), "effect": e, "ci": [lo, hi], "log": i["log"], "se": i["se"]})
    coefficients.sort(key=lambda d: d["rel"])
    # Joint test that every pre-period coefficient is zero.
    pre_rows = [combos[r] for r in rels if r < -1 and combos[r].any()]
    chi2 = pre_p = float("nan")
    if pre_rows:
        L = np.vstack(pre_rows)[:, ok]
        b = fit.params[ok]
        Vo = V[np.ix_(ok, ok)]
        Lb = L @ b
        chi2 = float(Lb @ np.linalg.pinv(L @ Vo @ L.T) @ Lb)
        pre_p = float(stats.chi2.sf(chi2, df=len(pre_rows)))
    warnings = []
    if np.isfinite(pre_p) and pre_p < PRE_TREND_LEVEL:
        warnings.append(Caveat("pre_trend",
                               f"Before the declaration the declared and comparison districts already moved differently (joint test p = {pre_p:.3f}).",
                               f"Antes de la declaratoria los distritos declarados y los de comparación ya evolucionaban distinto (prueba conjunta p = {pre_p:.3f})."))
    if fit.dropped:
        warnings.append(Caveat("small_counts", "Some periods had no incident in the declared districts and have no coefficient.",
                               "Algunos periodos no tuvieron incidentes en los distritos declarados y no tienen coeficiente."))
    windows = used_windows(panel, focal)
    used = panel.units[panel.units["ubigeo"].isin(districts["treated"])]
    last_rel = int((used["last"] - used["cohort"]).max())
    details = {"coefficients": coefficients, "reference_rel": -1, "pre_trend_chi2": chi2,
               "pre_trend_df": len(pre_rows), "pre_trend_p": pre_p, "inference": inf["inference"],
               "declared_through_rel": last_rel, "log_effect": inf["log"], "se": inf["se"]}
    return Estimate("event_study", effect=effect, ci=ci, p_value=p, windows=windows, districts=districts,
                    n_obs=fit.n_obs, warnings=warnings, details=details)
