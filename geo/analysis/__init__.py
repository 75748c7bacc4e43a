"""Did a declaration change incidents? Five estimates, their uncertainty, and plain sentences.

``analyze(store, "DS 105-2023-PCM")`` builds a district x week panel around the spell
(:mod:`~geo.analysis.panel`) and runs, in order:

- :func:`naive` — before/after counts with an exact Poisson interval, for contrast;
- :func:`did` — difference-in-differences, NB2 count model with district and area x
  week fixed effects, one effect per cohort (group-time effects);
- :func:`event_study` — effects week by week (-12 ... +16) and a joint pre-trend test;
- :func:`synthetic_control` — per declared district (pysyncon), in-space placebos;
- :func:`displacement` — the same DiD on the ring of neighbours, plus the weighted
  displacement difference test :func:`wdd`.

The result is an :class:`AnalysisResult` of :class:`Estimate` objects (see
:mod:`~geo.analysis.results` for the fields); :func:`event_study_figure` and
:func:`synthetic_control_figure` draw them with plotly.
"""

from geo.analysis.countfe import CountFit, fit_fe_count
from geo.analysis.did import did
from geo.analysis.displacement import displacement, wdd
from geo.analysis.event_study import event_study
from geo.analysis.naive import naive, poisson_rate_ratio
from geo.analysis.panel import Panel, Windows, build_panel, fe_sample, metro_area, period_counts
from geo.analysis.pipeline import SOURCES, analyze, analyze_counts, load_adjacency, load_counts, match_categories
from geo.analysis.plots import event_study_figure, synthetic_control_figure
from geo.analysis.results import METHODS, AnalysisResult, Caveat, Estimate
from geo.analysis.synth import synth_weights, synthetic_control

__all__ = [
    "METHODS", "SOURCES", "AnalysisResult", "Caveat", "CountFit", "Estimate", "Panel", "Windows",
    "analyze", "analyze_counts", "build_panel", "did", "displacement", "event_study", "event_study_figure",
    "fe_sample", "fit_fe_count", "load_adjacency", "load_counts", "match_categories", "metro_area", "naive",
    "period_counts", "poisson_rate_ratio", "synth_weights", "synthetic_control", "synthetic_control_figure", "wdd",
]
