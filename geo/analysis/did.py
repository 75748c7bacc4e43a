"""Difference-in-differences with group-time effects on a count model.

Model: ``log E[n_it] = a_i + g_{area(i),t} + sum_c b_c D_it^c`` on district x period
counts, negative binomial (NB2) with district fixed effects and area x period fixed
effects, where ``D^c`` marks the periods a district of cohort ``c`` (districts whose
declaration began in the same period) was under declaration. One coefficient per
cohort, with only never-declared-in-the-window districts as controls, is the
count-model form of Callaway & Sant'Anna's group-time effects (Wooldridge 2023,
"Simple approaches to nonlinear difference-in-differences with panel data"): no
already-declared district serves as a control for a later one. The cohort effects are
aggregated with weights proportional to their declared district-periods (C&S's
"simple" aggregation) and reported as a relative effect ``exp(b) - 1``; the interval
is transformed the same way.

Inference: the larger of the model-based and the cluster-robust (by district) standard
error (see :mod:`geo.analysis.countfe` for why: with a handful of declared districts
cluster-robust errors are far too small); a normal reference for the model-based one,
``t`` with ``G - 1`` degrees of freedom for the cluster-robust one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from geo.analysis.countfe import CountFit, fit_fe_count
from geo.analysis.panel import Panel, fe_sample
from geo.analysis.results import Caveat, Estimate

#: Below this many events in the declared periods, a caveat says the estimate is fragile.
MIN_EVENTS = 30
#: With fewer declared districts, cluster-robust errors are unreliable (MacKinnon & Webb 2017).
MIN_CLUSTERS = 10


def time_cells(sample: pd.DataFrame) -> np.ndarray:
    """Area x period labels for the time fixed effects."""
    return (sample["area"].astype(str) + ":" + sample["period"].astype(str)).to_numpy()


def fit_sample(sample: pd.DataFrame, Z: np.ndarray) -> CountFit:
    """NB2 with district and area x period fixed effects on an :func:`fe_sample` frame."""
    return fit_fe_count(sample["n"].to_numpy(), sample["ubigeo"].to_numpy(), time_cells(sample), Z, family="nb2")


def lincom_inference(fit: CountFit, c: np.ndarray, *, level: float = 0.95) -> dict[str, float | str]:
    """Log-scale estimate, chosen standard error, interval, p-value for ``c @ params``.

    The larger of the model-based and the cluster-robust error is used (Angrist &
    Pischke 2009, sec. 8.2.3): ``inference`` says which.
    """
    est, se_m, se_c = fit.lincom(c)
    if not np.isfinite(est):
        return {"log": float("nan"), "se": float("nan"), "low": float("nan"), "high": float("nan"),
                "p_value": float("nan"), "se_model": se_m, "se_cluster": se_c, "inference": "none"}
    if se_c > se_m:
        df, se, kind = max(fit.n_clusters - 1, 1), se_c, "cluster"
        q, p = float(stats.t.ppf(0.5 + level / 2, df)), float(2 * stats.t.sf(abs(est / se), df)) if se > 0 else float("nan")
    else:
        se, kind = se_m, "model"
        q, p = float(stats.norm.ppf(0.5 + level / 2)), float(2 * stats.norm.sf(abs(est / se))) if se > 0 else float("nan")
    return {"log": est, "se": se, "low": est - q * se, "high": est + q * se, "p_value": p,
            "se_model": se_m, "se_cluster": se_c, "inference": kind}


def relative(inf: dict) -> tuple[float, tuple[float, float], float]:
    """``(effect, (low, high), p)`` on the relative scale ``exp(x) - 1``."""
    return (float(np.expm1(inf["log"])), (float(np.expm1(inf["low"])), float(np.expm1(inf["high"]))),
            inf["p_value"])


def cohort_design(sample: pd.DataFrame, role: str) -> tuple[np.ndarray, list[int], np.ndarray]:
    """Indicator columns ``D^c`` (one per cohort), the cohorts, and each column's weight
    (its number of declared district-periods)."""
    focal_post = ((sample["role"] == role) & sample["post"]).to_numpy()
    cohorts = sorted(int(c) for c in sample.loc[focal_post, "cohort"].unique())
    coh = sample["cohort"].to_numpy()
    Z = np.column_stack([focal_post & (coh == c) for c in cohorts]).astype(float) if cohorts else np.zeros((len(sample), 0))
    return Z, cohorts, Z.sum(axis=0)


def used_windows(panel: Panel, focal: pd.DataFrame) -> dict:
    """The before and after windows the rows of ``focal`` actually span (data may cut
    the nominal ones short), as dates, with their lengths in periods."""
    pre, post = focal.loc[~focal["post"].astype(bool), "period"], focal.loc[focal["post"].astype(bool), "period"]
    out = {"frequency": panel.frequency, "pre_periods": int(pre.nunique()), "post_periods": int(post.nunique())}
    if len(pre):
        out["pre"] = panel.window_dict(int(pre.min()), int(pre.max()))
    if len(post):
        out["post"] = panel.window_dict(int(post.min()), int(post.max()))
    return out


def did(panel: Panel, role: str = "treated") -> Estimate:
    """The DiD estimate for the declared districts (``role="treated"``) or, with
    ``role="ring"``, for their undeclared neighbours (used by :mod:`displacement`)."""
    method = "did" if role == "treated" else "displacement"
    s = fe_sample(panel, role)
    focal = s[s["role"] == role]
    comparison = sorted(s.loc[s["role"] == "comparison", "ubigeo"].unique())
    districts = {role: sorted(focal["ubigeo"].unique()), "comparison": comparison}
    if focal.empty or not focal["post"].any():
        why = "no declared period in the data" if role == "treated" else "no neighbouring district to study"
        return Estimate(method, districts=districts,
                        warnings=[Caveat("too_few_events", why, "sin periodos declarados en los datos" if role == "treated"
                                         else "no hay distritos vecinos que estudiar")])
    if not comparison:
        return Estimate(method, districts=districts,
                        warnings=[Caveat("no_comparison", "no comparison district", "no hay distritos de comparación")])
    Z, cohorts, weight = cohort_design(s, role)
    fit = fit_sample(s, Z)
    ok = ~np.isnan(fit.params)
    c = np.where(ok, weight, 0.0)
    warnings: list[Caveat] = []
    if c.sum() == 0:
        return Estimate(method, districts=districts, n_obs=fit.n_obs,
                        warnings=[Caveat("too_few_events", "no incident in the declared periods",
                                         "ningún incidente en los periodos declarados")])
    c = c / c.sum()
    inf = lincom_inference(fit, c)
    effect, ci, p = relative(inf)
    events_post = float(focal.loc[focal["post"], "n"].sum())
    if events_post < MIN_EVENTS:
        warnings.append(Caveat("small_counts", f"Only {int(events_post)} incidents in the declared periods: the estimate is fragile.",
                               f"Solo {int(events_post)} incidentes en los periodos declarados: la estimación es frágil."))
    n_focal = len(districts[role])
    if n_focal < MIN_CLUSTERS and role == "treated":
        warnings.append(Caveat("few_treated",
                               f"Only {n_focal} declared districts: the interval uses the model-based error when it is the larger, since cluster-robust errors are unreliable with so few.",
                               f"Solo {n_focal} distritos declarados: el intervalo usa el error del modelo cuando es mayor, porque los errores robustos por conglomerado no son fiables con tan pocos."))
    if not fit.converged:
        warnings.append(Caveat("poor_fit", "The count model did not converge; treat the figure with care.",
                               "El modelo de conteo no convergió; tome la cifra con cuidado."))
    per_cohort = []
    for j, cohort in enumerate(cohorts):
        e = np.zeros(len(cohorts))
        e[j] = 1.0
        ci_j = lincom_inference(fit, e)
        eff_j, (lo_j, hi_j), _ = relative(ci_j)
        members = sorted(focal.loc[focal["cohort"] == cohort, "ubigeo"].unique())
        per_cohort.append({"cohort_start": panel.period_start(cohort).isoformat(), "districts": members,
                           "periods": int(weight[j]), "effect": eff_j, "ci": [lo_j, hi_j]})
    windows = used_windows(panel, focal)
    details = {"log_effect": inf["log"], "se": inf["se"], "se_model": inf["se_model"], "se_cluster": inf["se_cluster"],
               "inference": inf["inference"], "nb2_alpha": fit.alpha, "cohorts": per_cohort,
               "events_declared": events_post, "model": "NB2, district + area x period fixed effects, one effect per cohort"}
    return Estimate(method, effect=effect, ci=ci, p_value=p, windows=windows, districts=districts,
                    n_obs=fit.n_obs, warnings=warnings, details=details)
