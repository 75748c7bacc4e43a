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

Inference: randomisation inference (:mod:`geo.analysis.inference`): the declaration's
timing is re-assigned to comparison districts, the DiD re-estimated for each placebo,
and the observed estimate ranked among them; the interval inverts that test. The
model-based (NB2) and cluster-robust errors are still given in ``details`` for
reference, never used for the interval: with two declared districts neither has
known coverage (serially correlated noise makes the first too small, few clusters the
second). When too few placebo assignments exist for a 5 % test, the estimate is
marked descriptive.

Partial periods: a treated district's periods only partly under the declaration (a
spell starting on the 20th makes that month partly treated) are left out, neither
"before" nor "after" (see :mod:`geo.analysis.panel`); ``details["partial_periods"]``
says so and lists them.

This is the **primary analysis** of each area (:mod:`geo.analysis.primary`):
``details["role"] == "primary"`` for the declared districts, ``"robustness"`` for the
ring of neighbours.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from geo.analysis.countfe import CountFit, fit_fe_count
from geo.analysis.inference import placebo_distribution, rank_against
from geo.analysis.panel import Panel, fe_sample
from geo.analysis.results import Caveat, Estimate

#: Below this many events in the declared periods, a caveat says the estimate is fragile.
MIN_EVENTS = 30
#: With fewer declared districts, cluster-robust errors are unreliable (MacKinnon & Webb 2017).
MIN_CLUSTERS = 10
#: Frequencies whose randomisation intervals reached nominal coverage in the simulation
#: study (benchmarks/sim_study.py, 62 datasets per scenario on a shared machine): weekly
#: panels 92-95 % coverage, 3-6 % false positives. Monthly real-looking panels (three
#: declared months, AR(1) noise, lognormal sizes) did not: Lima+Callao 80 % coverage and
#: 16 % false positives, Sullana 90 % / 10 %. Their intervals are shown as descriptive.
VALIDATED_FREQUENCIES = ("week",)
NOT_VALIDATED = Caveat(
    "not_validated",
    "With monthly periods this interval did not reach its 95 % coverage in the simulation study (80-90 %), so it is descriptive, not a test.",
    "Con periodos mensuales este intervalo no alcanzó su cobertura del 95 % en el estudio de simulación (80-90 %), así que es descriptivo, no una prueba.")


def time_cells(sample: pd.DataFrame) -> np.ndarray:
    """Area x period labels for the time fixed effects."""
    return (sample["area"].astype(str) + ":" + sample["period"].astype(str)).to_numpy()


def fit_sample(sample: pd.DataFrame, Z: np.ndarray) -> CountFit:
    """NB2 with district and area x period fixed effects on an :func:`fe_sample` frame."""
    return fit_fe_count(sample["n"].to_numpy(), sample["ubigeo"].to_numpy(), time_cells(sample), Z, family="nb2")


def lincom_inference(fit: CountFit, c: np.ndarray, *, level: float = 0.95) -> dict[str, float | str]:
    """Log-scale estimate, model-based (NB2) standard error, normal interval and p-value
    of ``c @ params``, with the cluster-robust error for reference.

    These intervals assume the NB2 model's independent noise: they are what a
    per-period event-study band or a leave-one-out range uses, not the primary test
    (see :func:`did`).
    """
    est, se_m, se_c = fit.lincom(c)
    if not np.isfinite(est) or not (se_m > 0):
        return {"log": est, "se": se_m, "low": float("nan"), "high": float("nan"),
                "p_value": float("nan"), "se_model": se_m, "se_cluster": se_c, "inference": "none"}
    q = float(stats.norm.ppf(0.5 + level / 2))
    p = float(2 * stats.norm.sf(abs(est / se_m)))
    return {"log": est, "se": se_m, "low": est - q * se_m, "high": est + q * se_m, "p_value": p,
            "se_model": se_m, "se_cluster": se_c, "inference": "model"}


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


PARTIAL_RULE = {
    "en": "Periods only partly under the declaration (its first and last) are left out for the declared districts: neither before nor after.",
    "es": "Los periodos solo en parte bajo la declaratoria (el primero y el último) se dejan fuera para los distritos declarados: ni antes ni después.",
}


def partial_periods(panel: Panel, focal: pd.DataFrame) -> dict:
    """The partial-period rule and the periods it left out, per focal district."""
    units = panel.units[panel.units["ubigeo"].isin(set(focal["ubigeo"]))]
    c = panel.counts.merge(units[["ubigeo", "onset", "cohort", "last"]], on="ubigeo")
    part = c[(c["share"] > 0) & (c["share"] < 1 - 1e-9)]
    out = {u: [panel.period_start(int(x)).isoformat() for x in sorted(g["period"])] for u, g in part.groupby("ubigeo")}
    return {"rule": "left_out", "en": PARTIAL_RULE["en"], "es": PARTIAL_RULE["es"], "left_out": out}


def question(panel: Panel, windows: dict, method: str) -> dict:
    """What an estimate compares, in words the panel can show beside it."""
    weighting = {"did": "NB2 information weights over districts and periods (large districts weigh about equally)",
                 "event_study": "equal weight per period, each period relative to the pre-period average",
                 "synthetic_control": "each declared district against its own weighted donors, pooled by synthetic counts"}
    comparison = {"did": "all comparison districts of the area",
                  "event_study": "all comparison districts of the area",
                  "synthetic_control": "a weighted subset (donors) of the comparison districts, matched on the pre-period"}
    return {"window": {k: windows.get(k) for k in ("pre", "post") if k in windows}, "weighting": weighting[method],
            "comparison": comparison[method]}


def did_randomization(panel: Panel, s: pd.DataFrame, role: str, b_obs: float, *, seed: int = 0,
                      reuse: bool = False) -> dict:
    """Randomisation inference for the DiD ``b_obs`` on sample ``s`` (see :mod:`geo.analysis.inference`).

    ``reuse``: ``s`` is the panel's standard :func:`fe_sample` for ``role``, so its placebo
    distribution is kept on the panel and shared (the event study ranks its own
    estimate against the DiD's placebos)."""
    key = ("did", role, seed)
    if reuse and key in panel.cache:
        return rank_against(panel.cache[key], b_obs)
    focal_units = panel.units[(panel.units["role"] == role) & panel.units["ubigeo"].isin(set(s["ubigeo"]))]
    w = panel.windows
    post_rows = s[(s["role"] == role) & s["post"].astype(bool)]
    last_post = post_rows.groupby("ubigeo")["period"].max()
    patterns = [(int(r.onset), int(r.cohort), int(last_post.get(r.ubigeo, r.cohort + w.post - 1)))
                for r in focal_units.itertuples() if r.ubigeo in last_post.index]
    is_donor = (s["role"] == "comparison").to_numpy()
    donors = sorted(s.loc[is_donor, "ubigeo"].unique())
    is_focal = (s["role"] == role).to_numpy()
    dist = placebo_distribution(s["n"].to_numpy(), s["ubigeo"].to_numpy(), s["period"].to_numpy(), is_donor, donors,
                                patterns, treated_rows=is_focal, treated_post=is_focal & s["post"].to_numpy(bool),
                                cells=time_cells(s), seed=seed)
    if reuse:
        panel.cache[key] = dist
    return rank_against(dist, b_obs)


def did(panel: Panel, role: str = "treated", *, checks: bool = True) -> Estimate:
    """The DiD estimate for the declared districts (``role="treated"``) or, with
    ``role="ring"``, for their undeclared neighbours (used by :mod:`displacement`).

    ``checks``: run :func:`geo.analysis.robustness.checks` for the declared districts
    (``details["checks"]``; about 40 refits, so a simulation study turns it off)."""
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
    ri = did_randomization(panel, s, role, inf["log"], reuse=True)
    effect = float(np.expm1(inf["log"]))
    ci = (float(np.expm1(ri["low"])), float(np.expm1(ri["high"])))
    p = ri["p_value"]
    events_post = float(focal.loc[focal["post"], "n"].sum())
    if events_post < MIN_EVENTS:
        warnings.append(Caveat("small_counts", f"Only {int(events_post)} incidents in the declared periods: the estimate is fragile.",
                               f"Solo {int(events_post)} incidentes en los periodos declarados: la estimación es frágil."))
    if ri["descriptive"]:
        warnings.append(Caveat("few_placebos",
                               f"Only {ri['n_placebos']} ways to place the declaration on comparison districts: too few for a 5 % test, so this figure is descriptive, not a test.",
                               f"Solo {ri['n_placebos']} formas de asignar la declaratoria a distritos de comparación: muy pocas para una prueba al 5 %, así que la cifra es descriptiva, no una prueba."))
    descriptive = bool(ri["descriptive"]) or panel.frequency not in VALIDATED_FREQUENCIES
    if panel.frequency not in VALIDATED_FREQUENCIES:
        warnings.append(NOT_VALIDATED)
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
                           "periods": int(weight[j]), "effect": eff_j, "ci": [lo_j, hi_j],
                           "ci_inference": "model (descriptive: assumes independent noise)"})
    windows = used_windows(panel, focal)
    details = {"log_effect": inf["log"], "se": ri["se"], "se_model": inf["se_model"], "se_cluster": inf["se_cluster"],
               "inference": "randomization", "n_placebos": ri["n_placebos"], "placebo_t_quantiles": ri["q"],
               "variance_model": ri.get("variance_model", {}),
               "role": "primary" if role == "treated" else "robustness", "descriptive": descriptive,
               "nb2_alpha": fit.alpha, "cohorts": per_cohort, "events_declared": events_post,
               "model": "NB2, district + area x period fixed effects, one effect per cohort",
               "partial_periods": partial_periods(panel, focal),
               "question": question(panel, windows, "did")}
    if checks and role == "treated":
        from geo.analysis.robustness import checks as run_checks

        details["checks"] = run_checks(panel, {"p_value": p, "n_placebos": ri["n_placebos"]})
    return Estimate(method, effect=effect, ci=ci, p_value=p, windows=windows, districts=districts,
                    n_obs=fit.n_obs, warnings=warnings, details=details)
