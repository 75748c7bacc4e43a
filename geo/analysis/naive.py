"""The naive before/after figure: what the press reports, with an exact interval.

Counts in the declared districts over equal windows before and after the declaration
(each district's own: the ``k`` periods before its onset and the first ``k`` periods
fully declared, ``k`` the shorter of the two windows and of the declaration). Shown
for contrast only: it ignores seasonality, trends and everything that happened
elsewhere at the same time.

The ratio of two Poisson rates has an exact interval by conditioning on the total:
given ``before + after = N``, ``after ~ Binomial(N, pi)`` with
``pi = E_a R / (E_a R + E_b)`` (``E``: exposure in periods, ``R``: the rate ratio), so
a Clopper-Pearson interval for ``pi`` maps to one for ``R``, and the exact binomial
test of ``R = 1`` gives the p-value. That interval only knows Poisson noise; district
counts vary far more from period to period (the issue-17 simulation: 38 % "significant"
changes with no effect), so the reported interval is quasi-Poisson: the log ratio's
Poisson variance ``1/before + 1/after`` times the dispersion of the declared
districts' per-period totals before the declaration (variance over mean, at least 1).
Even so the naive figure is **descriptive, never a test of the declaration**: it
credits the declaration with every change of season, trend and city-wide shock
(``details["descriptive"]`` is True; the exact Poisson interval is kept in
``details["poisson_ci"]``).

Example
-------
>>> r = poisson_rate_ratio(589, 411)          # the press's SJL robberies, 30 days each
>>> round(r["ratio"], 3), [round(x, 3) for x in r["ci"]], r["p_value"] < 0.001
(0.698, [0.614, 0.793], True)
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from geo.analysis.panel import Panel, fe_sample
from geo.analysis.results import Caveat, Estimate

#: Below this many events in either window the exact interval is wide; a caveat says so.
MIN_EVENTS = 30


def poisson_rate_ratio(before: float, after: float, exposure_before: float = 1.0, exposure_after: float = 1.0,
                       *, level: float = 0.95) -> dict[str, float | tuple[float, float]]:
    """Ratio of the after rate to the before rate with its exact (conditional) interval.

    Returns ``{"ratio", "ci": (low, high), "p_value"}``; ``high`` is ``inf`` when
    ``before`` is 0.
    """
    b, a = int(round(before)), int(round(after))
    n = a + b
    if n == 0:
        return {"ratio": float("nan"), "ci": (float("nan"), float("nan")), "p_value": float("nan")}
    odds = exposure_before / exposure_after  # R = odds(pi) * E_b / E_a
    ci = stats.binomtest(a, n).proportion_ci(confidence_level=level, method="exact")
    pi0 = exposure_after / (exposure_after + exposure_before)

    def to_ratio(pi: float) -> float:
        return float("inf") if pi >= 1 else pi / (1 - pi) * odds

    p = stats.binomtest(a, n, pi0).pvalue
    ratio = (a / exposure_after) / (b / exposure_before) if b > 0 else float("inf")
    return {"ratio": float(ratio), "ci": (to_ratio(ci.low), to_ratio(ci.high)), "p_value": float(p)}


def naive(panel: Panel) -> Estimate:
    """Before/after counts in the declared districts, as :func:`poisson_rate_ratio`."""
    s = fe_sample(panel, "treated", comparable_only=False)
    s = s[s["role"] == "treated"]
    treated = panel.units[panel.units["role"] == "treated"]
    if s.empty:
        return Estimate("naive", warnings=[Caveat("too_few_events", "no declared district has data around the declaration",
                                                  "ningún distrito declarado tiene datos alrededor de la declaratoria")])
    # Each district's equal windows: k periods on each side, k limited by both sides.
    n_pre = s[~s["post"]].groupby("ubigeo")["rel"].min().abs()
    n_post = s[s["post"]].groupby("ubigeo")["rel"].max() + 1
    k = np.minimum(n_pre.reindex(treated["ubigeo"]).fillna(0), n_post.reindex(treated["ubigeo"]).fillna(0)).astype(int)
    k = k[k > 0]
    s = s[s["ubigeo"].isin(k.index)]
    kk = s["ubigeo"].map(k).to_numpy()
    rel = s["rel"].to_numpy()
    in_before = (~s["post"].to_numpy()) & (rel >= -kk)
    in_after = s["post"].to_numpy() & (rel < kk)
    before, after = float(s.loc[in_before, "n"].sum()), float(s.loc[in_after, "n"].sum())
    # Gaps can leave the two sides with different numbers of periods: rates, not counts.
    e_b, e_a = float(in_before.sum()), float(in_after.sum())
    if e_b == 0 or e_a == 0:
        return Estimate("naive", warnings=[Caveat("too_few_events", "no period on one side of the declaration",
                                                  "no hay periodos a un lado de la declaratoria")])
    r = poisson_rate_ratio(before, after, e_b, e_a)
    # Quasi-Poisson dispersion from the per-period totals before the declaration.
    per = s[in_before].groupby("period")["n"].sum()
    phi = float(max(per.var(ddof=1) / per.mean(), 1.0)) if len(per) >= 3 and per.mean() > 0 else float("nan")
    qp_ci = (float("nan"), float("nan"))
    if before > 0 and after > 0 and np.isfinite(phi):
        log_r = np.log(r["ratio"])
        se = float(np.sqrt(phi * (1 / before + 1 / after)))
        z = float(stats.norm.ppf(0.975))
        qp_ci = (float(np.exp(log_r - z * se)), float(np.exp(log_r + z * se)))
        p_qp = float(2 * stats.norm.sf(abs(log_r / se)))
    else:
        p_qp = float("nan")
    warnings = []
    if min(before, after) < MIN_EVENTS:
        warnings.append(Caveat("too_few_events", f"Only {int(min(before, after))} incidents on one side: the figure is very uncertain.",
                               f"Solo {int(min(before, after))} incidentes a un lado: la cifra es muy incierta."))
    main = treated.sort_values("cohort").iloc[0]
    kmain = int(k.get(main["ubigeo"], k.iloc[0])) if len(k) else 0
    windows = {"frequency": panel.frequency, "periods": kmain,
               "before": panel.window_dict(int(main["onset"]) - kmain, int(main["onset"]) - 1),
               "after": panel.window_dict(int(main["cohort"]), int(main["cohort"]) + kmain - 1)}
    ci = (qp_ci[0] - 1, qp_ci[1] - 1) if np.isfinite(qp_ci[0]) else (r["ci"][0] - 1, r["ci"][1] - 1)
    return Estimate("naive", effect=r["ratio"] - 1, ci=ci, p_value=p_qp if np.isfinite(p_qp) else r["p_value"],
                    windows=windows, districts={"treated": sorted(k.index)}, n_obs=int(e_b + e_a), warnings=warnings,
                    details={"before": before, "after": after, "periods": kmain,
                             "exposure_before": e_b, "exposure_after": e_a, "dispersion": phi,
                             "poisson_ci": [r["ci"][0] - 1, r["ci"][1] - 1], "poisson_p_value": r["p_value"],
                             "inference": "quasi_poisson", "role": "descriptive", "descriptive": True})
