"""Plotly figures of an analysis: the event study and the synthetic control.

Plain :class:`plotly.graph_objects.Figure` objects (no Dash needed), built only from an
estimate's ``details``, so a saved JSON result draws the same figure. Labels follow
``lang`` (``"es"`` or ``"en"``).

Example
-------
>>> from geo.analysis.results import Estimate
>>> e = Estimate("event_study", effect=0.0, ci=(-0.1, 0.1), windows={"frequency": "week"},
...              details={"coefficients": [{"rel": -1, "effect": 0.0, "ci": [0.0, 0.0]},
...                                        {"rel": 0, "effect": -0.1, "ci": [-0.2, 0.0]}]})
>>> fig = event_study_figure(e, lang="en")
>>> [t.name for t in fig.data]
['95% CI', 'Estimate']
"""

from __future__ import annotations

from geo.analysis.results import AnalysisResult, Estimate

_TEXT = {
    "es": {"ci": "IC 95 %", "est": "Estimación", "week": "Semanas desde la declaratoria", "month": "Meses desde la declaratoria",
           "effect": "Cambio relativo (%)", "es_title": "Estudio de eventos", "sc_title": "Control sintético",
           "observed": "Observado (declarados)", "synthetic": "Control sintético", "count": "Incidentes", "start": "Inicio"},
    "en": {"ci": "95% CI", "est": "Estimate", "week": "Weeks since the declaration", "month": "Months since the declaration",
           "effect": "Relative change (%)", "es_title": "Event study", "sc_title": "Synthetic control",
           "observed": "Observed (declared)", "synthetic": "Synthetic control", "count": "Incidents", "start": "Start"},
}


def _estimate(obj: Estimate | AnalysisResult, method: str) -> Estimate:
    return obj[method] if isinstance(obj, AnalysisResult) else obj


def event_study_figure(result: Estimate | AnalysisResult, *, lang: str = "es"):
    """Coefficients by event time with 95 % intervals; the reference period sits at 0."""
    import plotly.graph_objects as go

    t = _TEXT[lang]
    e = _estimate(result, "event_study")
    co = [c for c in e.details.get("coefficients", []) if c.get("effect") is not None]
    x = [c["rel"] for c in co]
    y = [100 * c["effect"] for c in co]
    lo = [100 * c["ci"][0] for c in co]
    hi = [100 * c["ci"][1] for c in co]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x + x[::-1], y=hi + lo[::-1], fill="toself", fillcolor="rgba(31,119,180,0.2)",
                             line={"width": 0}, hoverinfo="skip", name=t["ci"]))
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=t["est"], line={"color": "#1f77b4"},
                             customdata=[[l_, h_] for l_, h_ in zip(lo, hi)],
                             hovertemplate="%{x}: %{y:.1f}% [%{customdata[0]:.1f}, %{customdata[1]:.1f}]<extra></extra>"))
    fig.add_hline(y=0, line={"color": "grey", "width": 1})
    fig.add_vline(x=-0.5, line={"color": "firebrick", "dash": "dash"}, annotation_text=t["start"])
    freq = e.windows.get("frequency", "week")
    fig.update_layout(title=t["es_title"], xaxis_title=t[freq], yaxis_title=t["effect"], template="plotly_white",
                      legend={"orientation": "h"}, margin={"l": 50, "r": 20, "t": 50, "b": 40})
    return fig


def synthetic_control_figure(result: Estimate | AnalysisResult, *, lang: str = "es", ubigeo: str | None = None):
    """Observed vs synthetic counts by event time, summed over the declared districts
    (or for one ``ubigeo``)."""
    import plotly.graph_objects as go

    t = _TEXT[lang]
    e = _estimate(result, "synthetic_control")
    totals: dict[int, list[float]] = {}
    for d in e.details.get("districts", []):
        if ubigeo is not None and d["ubigeo"] != ubigeo:
            continue
        for row in d["path"]:
            acc = totals.setdefault(row["rel"], [0.0, 0.0])
            acc[0] += row["observed"]
            acc[1] += row["synthetic"]
    x = sorted(totals)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=[totals[r][0] for r in x], mode="lines+markers", name=t["observed"],
                             line={"color": "#d62728"}))
    fig.add_trace(go.Scatter(x=x, y=[totals[r][1] for r in x], mode="lines", name=t["synthetic"],
                             line={"color": "#1f77b4", "dash": "dash"}))
    fig.add_vline(x=-0.5, line={"color": "firebrick", "dash": "dash"}, annotation_text=t["start"])
    freq = e.windows.get("frequency", "week")
    fig.update_layout(title=t["sc_title"], xaxis_title=t[freq], yaxis_title=t["count"], template="plotly_white",
                      legend={"orientation": "h"}, margin={"l": 50, "r": 20, "t": 50, "b": 40})
    return fig
