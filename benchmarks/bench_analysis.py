"""Analysis speed: DiD + event study on 50 districts x 200 weeks; synthetic control for 10 districts.

Data: :func:`geo.demo.simulate_counts` over the 50 real districts of Lima and Callao,
200 weeks from Monday 2021-01-04, with a made-up registry that declares 10 districts
from week 100 for 100 weeks (one spell; -10 % injected), so that the windows can span
the whole panel: 100 weeks before, 100 after.

Figures (medians):

- DiD + event study on the full 50 x 200 panel (10,000 district-weeks; the event study
  has 199 week coefficients), given the panel; target <= 2 s. Reference: one plain
  ``statsmodels`` Poisson GLM with dummy columns on the DiD rows (what a direct
  implementation would fit, once, without the NB2 dispersion step or the event study).
- the same with the default windows (12 before, 16 after) from the raw counts through
  ``analyze_counts``, what ``hexwatch analyze`` runs, for scale.
- synthetic control for the 10 declared districts, with every in-space placebo;
  target <= 10 s. Reference: the same computation with pysyncon's stock ``Synth``
  (numerically differentiated weight problem).

Run: ``python -m benchmarks.bench_analysis [--quick]`` (quick: one run each).
"""

from __future__ import annotations

import sys
from unittest import mock

import numpy as np
import pandas as pd

from benchmarks._common import Figure, median_time, print_figures

START, WEEKS = "2021-01-04", 200
DECLARED = ("150102", "150106", "150108", "150119", "150120", "150124", "150126", "150127", "150129", "150138")
SPELL = "DS-001-2022-PCM"


def _data():
    from geo import boundaries
    from geo.declarations import Registry, parse_declarations
    from geo.demo import DemoConfig, default_districts, simulate_counts

    boundaries.fetch()
    lima = default_districts("lima_callao")
    adjacency = boundaries.adjacency(lima)
    start = pd.Timestamp(START)
    declared_from = (start + pd.Timedelta(weeks=100)).date()
    registry = Registry(parse_declarations(
        "decree_id,start,days,areas,confirmed\n"
        f"DS 001-2022-PCM,{declared_from},{7 * 100},{' '.join(DECLARED)},yes\n"))
    end = (start + pd.Timedelta(weeks=WEEKS) - pd.Timedelta(days=1)).date()
    cfg = DemoConfig(n_incidents=2_000_000, seed=1, start=START, end=str(end), area="lima_callao")
    counts, _ = simulate_counts(cfg, lima, registry, adjacency, freq="W")
    return counts, registry, adjacency, (cfg.start, cfg.end)


def _statsmodels_reference(panel) -> float:
    """Time of one dense statsmodels Poisson GLM on the DiD rows of ``panel``."""
    import statsmodels.api as sm

    from geo.analysis.did import cohort_design, time_cells
    from geo.analysis.panel import fe_sample

    s = fe_sample(panel, "treated")
    Z, _, _ = cohort_design(s, "treated")
    cells = pd.get_dummies(time_cells(s)).to_numpy(float)[:, 1:]
    X = np.c_[pd.get_dummies(s["ubigeo"]).to_numpy(float), cells, Z]
    y = s["n"].to_numpy()
    t, _ = median_time(lambda: sm.GLM(y, X, family=sm.families.Poisson()).fit(), runs=1)
    return t


def run(quick: bool = False) -> list[Figure]:
    from pysyncon import Synth

    from geo.analysis import Windows, analyze_counts, build_panel, did, event_study, synthetic_control
    from geo.analysis import synth as synth_module

    runs = 1 if quick else 3
    counts, registry, adjacency, coverage = _data()
    full = build_panel(counts, registry, SPELL, adjacency, windows=Windows(pre=100, post=100), coverage=coverage)
    n_rows = len(full.counts)
    n_districts = full.counts["ubigeo"].nunique()

    def did_es():
        return did(full), event_study(full)

    t_full, (d, es) = median_time(did_es, runs=runs, warmup=1)
    t_ref = _statsmodels_reference(full)
    t_default, _ = median_time(lambda: analyze_counts(counts, registry, SPELL, adjacency, coverage=coverage,
                                                      methods=("did", "event_study")), runs=runs)

    default_panel = build_panel(counts, registry, SPELL, adjacency, coverage=coverage)
    t_sc, sc = median_time(lambda: synthetic_control(default_panel), runs=runs)
    with mock.patch.object(synth_module, "_synth_class", lambda: Synth):
        t_sc_ref, sc_ref = median_time(lambda: synthetic_control(default_panel), runs=1)
    n_treated = len(sc.details["districts"])
    n_donors = sc.details["districts"][0]["n_donors"]
    same = abs(sc.effect - sc_ref.effect) < 1e-3
    sizes = {"districts": n_districts, "weeks": WEEKS, "district_weeks": n_rows, "fitted_rows": d.n_obs,
             "declared": len(DECLARED),
             "did_effect": d.effect, "event_study_coefficients": len(es.details["coefficients"]) - 1}
    return [
        Figure(f"DiD + event study, {n_districts} districts x {WEEKS} weeks ({n_rows:,} district-weeks; the fits use "
               f"the {d.n_obs:,} of declared + comparison districts, {sizes['event_study_coefficients']} event-time "
               "coefficients)", t_full, "s",
               "one statsmodels Poisson GLM with dummies on the DiD rows", t_ref, ratio=t_ref / t_full,
               target="<= 2 s", met=t_full <= 2, runs=runs, extra=sizes),
        Figure("analyze_counts (DiD + event study, default windows -12..+16) from raw weekly counts", t_default, "s",
               "the full 50 x 200 fit above", t_full, ratio=t_default / t_full, ratio_kind="fraction", runs=runs),
        Figure(f"synthetic control, {n_treated} declared districts, {n_donors} donors each, "
               f"{sc.details['n_placebos']} placebo fits", t_sc, "s", "the same with pysyncon's stock Synth", t_sc_ref,
               ratio=t_sc_ref / t_sc, target="<= 10 s", met=t_sc <= 10, runs=runs,
               extra={"treated": n_treated, "donors": n_donors, "placebos": sc.details["n_placebos"],
                      "same_effect_as_stock": same, "effect": sc.effect}),
    ]


if __name__ == "__main__":
    print_figures("analysis", run(quick="--quick" in sys.argv))
