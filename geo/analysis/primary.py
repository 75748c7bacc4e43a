"""The pre-specified primary analysis of each area, and what the other estimates are.

A verdict rests on one estimate chosen before looking at the results: the
difference-in-differences (:func:`geo.analysis.did`) on the area's own panel (its
declared districts against its comparison districts), its default window, all the
reported incidents of the chosen category, and randomisation inference
(:mod:`geo.analysis.inference`). Every other estimate is a robustness check or a
description. Only when the DiD cannot be computed does the synthetic control stand
in; the naive before/after figure never does.

>>> from geo.analysis.results import AnalysisResult, Estimate
>>> r = AnalysisResult("DS-1", {"did": Estimate("did", effect=-0.1, ci=(-0.2, 0.0), p_value=0.05)})
>>> primary_method(r)
'did'
>>> role_of("naive"), role_of("event_study")
('descriptive', 'robustness')
"""

from __future__ import annotations

#: The order in which methods may serve as the primary analysis.
PRIMARY_ORDER = ("did", "synthetic_control")

PRIMARY_RULE = {
    "en": ("Primary analysis, fixed in advance: the difference-in-differences of the area's declared districts against "
           "its comparison districts (all reported incidents of the chosen category, the declared months or weeks "
           "against the 12 before, partly declared periods left out), with randomisation inference over placebo "
           "declarations on comparison districts. The other estimates are robustness checks."),
    "es": ("Análisis principal, fijado de antemano: diferencias en diferencias de los distritos declarados del área "
           "frente a sus distritos de comparación (todas las denuncias de la categoría elegida, los periodos "
           "declarados frente a los 12 anteriores, sin los periodos declarados solo en parte), con inferencia por "
           "aleatorización sobre declaratorias placebo en distritos de comparación. Las demás estimaciones son "
           "pruebas de robustez."),
}

#: What each method is when it is not the primary one.
ROLES = {"did": "primary", "synthetic_control": "robustness", "event_study": "robustness",
         "displacement": "robustness", "naive": "descriptive"}


def primary_method(result) -> str | None:
    """The method the verdict of ``result`` (an :class:`AnalysisResult`) rests on:
    the DiD when it produced a number, else the synthetic control, else ``None``."""
    for m in PRIMARY_ORDER:
        if m in result.estimates and result.estimates[m].available:
            return m
    return None


def role_of(method: str, primary: str | None = "did") -> str:
    """``primary``, ``robustness`` or ``descriptive`` for ``method`` given the primary one."""
    if method == primary:
        return "primary"
    return "descriptive" if ROLES.get(method) == "descriptive" else "robustness"
