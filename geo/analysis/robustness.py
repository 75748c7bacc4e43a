"""Robustness checks around the primary DiD: what a policy-journal reviewer asks.

:func:`checks` runs, on the same panel and with the same model as :func:`geo.analysis.did`:

- ``placebo_time``: a fake declaration in the pre-period (its second half against its
  first, the real declaration's districts), with the same randomisation inference;
  an effect here means the design picks up something that is not the declaration.
- ``placebo_space``: the randomisation distribution itself (the real declaration moved
  to comparison districts): how many placebo estimates are as large as the real one.
- ``leave_one_out``: the DiD with each comparison district left out in turn: the range
  and the district whose removal moves the estimate most.
- ``anticipation``: the period just before the onset left out (the decree is published
  the day before it takes effect, and may be announced earlier); with randomisation
  inference.

Each check says in ``passed`` only whether it flags nothing at 5 %; a pass is not proof.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.analysis.did import cohort_design, did_randomization, fit_sample, lincom_inference
from geo.analysis.panel import Panel, fe_sample


def _fit_did(sample: pd.DataFrame) -> float:
    Z, _, weight = cohort_design(sample, "treated")
    if Z.shape[1] == 0:
        return float("nan")
    fit = fit_sample(sample, Z)
    ok = ~np.isnan(fit.params)
    c = np.where(ok, weight, 0.0)
    if c.sum() == 0:
        return float("nan")
    return lincom_inference(fit, c / c.sum())["log"]


def _summary(b: float, ri: dict) -> dict:
    return {"effect": float(np.expm1(b)) if np.isfinite(b) else None,
            "ci": [float(np.expm1(ri["low"])), float(np.expm1(ri["high"]))] if np.isfinite(ri["low"]) else [None, None],
            "p_value": ri["p_value"], "n_placebos": ri["n_placebos"],
            "passed": bool(not (ri["p_value"] < 0.05)) if np.isfinite(ri["p_value"]) else None}


def placebo_time(panel: Panel) -> dict:
    """A fake declaration halfway through the pre-period, on the pre-period alone."""
    s = fe_sample(panel, "treated")
    is_t = (s["role"] == "treated").to_numpy()
    onset = s["onset"].to_numpy()
    rel = s["rel"].to_numpy()
    h = max(panel.windows.pre // 2, 1)
    first_onset = int(s.loc[is_t, "onset"].min())
    keep = np.where(is_t, ~s["post"].to_numpy(bool), s["period"].to_numpy() < first_onset)
    f = s[keep].copy()
    t_rows = (f["role"] == "treated").to_numpy()
    f["post"] = t_rows & (f["rel"].to_numpy() >= -h)
    # The fake declaration's own onset and cohort.
    f.loc[t_rows, "cohort"] = f.loc[t_rows, "onset"] - h
    f.loc[t_rows, "onset"] = f.loc[t_rows, "onset"] - h
    del onset, rel
    if not f["post"].any() or (~f.loc[t_rows, "post"]).sum() == 0:
        return {"effect": None, "ci": [None, None], "p_value": None, "passed": None, "fake_periods": h}
    b = _fit_did(f)
    fake = panel.units.copy()
    fake.loc[fake["role"] == "treated", ["onset", "cohort"]] -= h
    fake.loc[fake["role"] == "treated", "last"] = fake.loc[fake["role"] == "treated", "onset"] + h - 1
    fp = Panel(panel.spell_id, panel.frequency, panel.anchor, panel.windows, panel.counts, fake)
    ri = did_randomization(fp, f, "treated", b)
    return {**_summary(b, ri), "fake_periods": h,
            "fake_start": panel.period_start(first_onset - h).isoformat()}


def anticipation(panel: Panel) -> dict:
    """The DiD without the last period before the onset."""
    s = fe_sample(panel, "treated")
    f = s[~((s["role"] == "treated") & (s["rel"] == -1))]
    b = _fit_did(f)
    ri = did_randomization(panel, f, "treated", b)
    return {**_summary(b, ri), "left_out": "the last period before the onset"}


def leave_one_out(panel: Panel) -> dict:
    """The DiD with each comparison district left out in turn (point estimates)."""
    s = fe_sample(panel, "treated")
    comparison = sorted(s.loc[s["role"] == "comparison", "ubigeo"].unique())
    full = _fit_did(s)
    effects = {u: _fit_did(s[s["ubigeo"] != u]) for u in comparison}
    vals = np.array([v for v in effects.values() if np.isfinite(v)])
    if not len(vals):
        return {"effect": None, "range": [None, None], "most_influential": None}
    most = max(effects, key=lambda u: abs(effects[u] - full) if np.isfinite(effects[u]) else -1)
    return {"effect": float(np.expm1(full)), "range": [float(np.expm1(vals.min())), float(np.expm1(vals.max()))],
            "most_influential": most, "effect_without_it": float(np.expm1(effects[most])),
            "n": len(comparison)}


def checks(panel: Panel, did_details: dict | None = None) -> dict:
    """Every check, as a JSON-ready dict (see the module docstring)."""
    out = {"placebo_time": placebo_time(panel), "anticipation": anticipation(panel),
           "leave_one_out": leave_one_out(panel)}
    if did_details is not None:
        out["placebo_space"] = {"p_value": did_details.get("p_value"), "n_placebos": did_details.get("n_placebos"),
                                "what": "the real declaration's timing moved to comparison districts (the DiD's randomisation inference)"}
    return out
