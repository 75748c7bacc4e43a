"""Displacement: did crime move into the undeclared districts next door?

Two views of the ring of neighbouring districts (see :mod:`geo.analysis.panel`):

1. the difference-in-differences of :mod:`geo.analysis.did` with the ring in place of
   the declared districts: its relative effect is this estimate's ``effect``;
2. Wheeler & Ratcliffe's (2018) weighted displacement difference test, :func:`wdd`, on
   the before/after counts of the declared districts (T), the ring (D) and the
   comparison districts (C), in the style of their ``ptools::wdd``:

   ``WDD = (T1 - T0) - (C1 - C0) + (D1 - D0) - (Cd1 - Cd0)``

   each count divided by its time and area weight, with the Poisson variance
   ``sum(count / weight^2)`` and a normal test. A negative total means fewer crimes in
   the declared area *and* its surroundings, net of the controls. Poisson variance
   is far too small for district totals (35 % rejections with nothing displaced in
   the issue-17 study), so :func:`displacement` scales each area's variance by the
   dispersion of its per-period totals around its before and after means
   (quasi-Poisson, at least 1). The WDD is still **descriptive**, not a test: that
   dispersion misses serial correlation (``details["wdd"]["descriptive"]``). Here one comparison
   pool serves as control for both T and D, each time scaled to the area's own
   pre-period count (the area weights), and its variance is counted once with the
   combined weight.

Example: the worked example of Wheeler & Ratcliffe (2018, Table 1)

>>> r = wdd(control=(308, 318), treated=(207, 110), displacement_control=(150, 140), displacement=(178, 157))
>>> r["total"], r["se_total"] ** 2, round(r["z"], 2)
(-118.0, 1568.0, -2.98)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import stats

from geo.analysis.did import did
from geo.analysis.panel import Panel, fe_sample
from geo.analysis.results import Caveat, Estimate


def wdd(
    control: Sequence[float],
    treated: Sequence[float],
    displacement_control: Sequence[float] | None = (0.0, 0.0),
    displacement: Sequence[float] = (0.0, 0.0),
    *,
    time_weights: Sequence[float] = (1.0, 1.0),
    area_weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
    dispersion: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
    level: float = 0.95,
) -> dict[str, float]:
    """Weighted displacement difference test (Wheeler & Ratcliffe 2018).

    Each area is ``(before, after)`` counts. ``time_weights``: lengths of the before
    and after windows (rates per unit time when they differ); ``area_weights``: sizes of
    control, treated, displacement control and displacement areas, in that order.
    ``displacement_control=None`` means the displacement area shares the treated
    area's control (same counts): its variance is then counted once, with both weights.
    ``dispersion``: quasi-Poisson variance factors of the same four areas (1 =
    Poisson, Wheeler & Ratcliffe's original).

    Returns ``local``, ``displacement``, ``total`` (the WDD), their standard errors
    ``se_*``, ``z``, two-sided ``p_value`` and ``low``/``high`` of the ``level``
    interval for the total.
    """
    tb, ta = time_weights
    wc, wt, wdc, wd = area_weights

    fc, ft, fdc, fd = dispersion

    def delta(counts: Sequence[float], area: float, phi: float) -> tuple[float, float]:
        """Change in rate and its (quasi-)Poisson variance."""
        b, a = counts
        return a / (ta * area) - b / (tb * area), phi * (a / (ta * area) ** 2 + b / (tb * area) ** 2)

    dt, vt = delta(treated, wt, ft)
    dd, vd = delta(displacement, wd, fd)
    if displacement_control is None:
        b, a = control
        dc_t, _ = delta(control, wc, fc)
        dc_d, _ = delta(control, wdc, fc)
        # One control, two weights: Var(a (1/wc + 1/wdc)/ta - b (...)/tb).
        shared = 1 / wc + 1 / wdc
        v_shared = fc * (a * (shared / ta) ** 2 + b * (shared / tb) ** 2)
        local, disp = dt - dc_t, dd - dc_d
        v_local = vt + fc * (a / (ta * wc) ** 2 + b / (tb * wc) ** 2)
        v_disp = vd + fc * (a / (ta * wdc) ** 2 + b / (tb * wdc) ** 2)
        v_total = vt + vd + v_shared
    else:
        dc, vc = delta(control, wc, fc)
        ddc, vdc = delta(displacement_control, wdc, fdc)
        local, disp = dt - dc, dd - ddc
        v_local, v_disp = vt + vc, vd + vdc
        v_total = v_local + v_disp
    total = local + disp
    se = math.sqrt(v_total)
    z = total / se if se > 0 else float("nan")
    q = float(stats.norm.ppf(0.5 + level / 2))
    return {"local": local, "se_local": math.sqrt(v_local), "displacement": disp, "se_displacement": math.sqrt(v_disp),
            "total": total, "se_total": se, "z": z, "p_value": float(2 * stats.norm.sf(abs(z))) if se > 0 else float("nan"),
            "low": total - q * se, "high": total + q * se}


def _dispersion(sample, role: str, periods_pre=None, periods_post=None) -> float:
    """Variance over mean of ``role``'s per-period totals around its before and after
    means (pooled), at least 1."""
    s = sample[sample["role"] == role]
    if periods_pre is not None:
        s = s[s["period"].isin(periods_pre) | s["period"].isin(periods_post)]
        post = s["period"].isin(periods_post)
    else:
        post = s["post"].astype(bool)
    tot = s.assign(_post=post.to_numpy()).groupby(["_post", "period"])["n"].sum()
    dev, mean_sum, k = 0.0, 0.0, 0
    for _, g in tot.groupby(level=0):
        if len(g) >= 2:
            dev += float(((g - g.mean()) ** 2).sum())
            mean_sum += float(g.sum())
            k += len(g) - 1
    if k == 0 or mean_sum <= 0:
        return 1.0
    return max(dev / k / (mean_sum / (k + sum(1 for _ in tot.groupby(level=0)))), 1.0)


def _before_after(sample, role: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """(before, after) counts and (before, after) numbers of periods for ``role`` rows."""
    s = sample[sample["role"] == role]
    pre = s[~s["post"].astype(bool)]
    post = s[s["post"].astype(bool)]
    return (float(pre["n"].sum()), float(post["n"].sum())), (float(pre["period"].nunique()), float(post["period"].nunique()))


def displacement(panel: Panel) -> Estimate:
    """Ring DiD (the ``effect``) plus the WDD test of declared + ring vs comparison."""
    est = did(panel, role="ring", checks=False)
    if not est.available:
        return est
    t_sample = fe_sample(panel, "treated")
    r_sample = fe_sample(panel, "ring")
    T, (tb, ta) = _before_after(t_sample, "treated")
    D, _ = _before_after(r_sample, "ring")
    cmp = t_sample[t_sample["role"] == "comparison"]
    first, last_pre = t_sample.loc[t_sample["role"] == "treated", "period"].min(), \
        t_sample.loc[(t_sample["role"] == "treated") & ~t_sample["post"].astype(bool), "period"].max()
    post_periods = set(t_sample.loc[(t_sample["role"] == "treated") & t_sample["post"].astype(bool), "period"])
    c_before = float(cmp.loc[(cmp["period"] >= first) & (cmp["period"] <= last_pre), "n"].sum())
    c_after = float(cmp.loc[cmp["period"].isin(post_periods), "n"].sum())
    C = (c_before, c_after)
    if min(T[0], D[0], C[0]) <= 0 or tb == 0 or ta == 0:
        est.warnings.append(Caveat("too_few_events", "The WDD test needs incidents before the declaration in every area.",
                                   "La prueba WDD necesita incidentes antes de la declaratoria en cada área."))
        return est
    # Area weights put the control on the scale of each area's own pre-period count.
    k_t, k_d = C[0] / T[0], C[0] / D[0]
    pre_periods = set(cmp.loc[(cmp["period"] >= first) & (cmp["period"] <= last_pre), "period"])
    phi = (_dispersion(t_sample, "comparison", pre_periods, post_periods), _dispersion(t_sample, "treated"), 1.0,
           _dispersion(r_sample, "ring"))
    w = wdd(C, T, None, D, time_weights=(tb, ta), area_weights=(k_t, 1.0, k_d, 1.0), dispersion=phi)
    est.details = {**est.details, "wdd": {**w, "treated": list(T), "displacement_area": list(D), "control": list(C),
                                          "periods": [tb, ta], "control_scale": [k_t, k_d],
                                          "dispersion": {"control": phi[0], "treated": phi[1], "displacement": phi[3]},
                                          "inference": "quasi_poisson", "descriptive": True,
                                          "unit": f"incidents per {panel.frequency}"}}
    est.districts = {"ring": est.districts.get("ring", []), "treated": sorted(t_sample.loc[t_sample["role"] == "treated", "ubigeo"].unique()),
                     "comparison": est.districts.get("comparison", [])}
    return est
