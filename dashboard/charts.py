"""Plotly time charts in the chosen language, with declared periods shaded on every one."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go

from dashboard.i18n import PLOTLY_DATE_FORMAT, PLOTLY_SEPARATORS, fmt_date, plotly_locale, t

#: Line colours by group (declared = the emergency colour used on the map).
#: Okabe-Ito colours (distinct under the common colour-vision deficiencies).
GROUP_COLOURS = ["#D55E00", "#0072B2", "#000000", "#009E73"]
BAND_COLOUR = "rgba(178, 24, 43, 0.12)"


def graph_config(lang: str) -> dict:
    """``dcc.Graph`` config that registers the locale inline (no CDN locale script)."""
    # responsive: the chart follows its container (tab pages open and close; phones rotate).
    return {"displaylogo": False, "responsive": True, "locale": lang, "locales": {lang: plotly_locale(lang)},
            "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


def declared_bands(spells, start: dt.date, end: dt.date, lang: str) -> list[dict]:
    """Shaded bands ``{"x0", "x1", "label"}`` for the decree periods of ``spells`` overlapping ``[start, end]``."""
    bands = []
    for s in spells:
        if s.end < start or s.start > end:
            continue
        bands.append({"x0": max(s.start, start), "x1": min(s.end, end) + dt.timedelta(days=1),
                      "label": f"{s.spell_id}: {fmt_date(s.start, lang)} – {fmt_date(s.end, lang)}"})
    return bands


def weekly_figure(series: pd.DataFrame, lang: str, *, y: str, bands: list[dict], day: dt.date | None,
                  names: dict[str, str], height: int = 380, title: str = "") -> go.Figure:
    """Weekly lines (one per ``group``), declared periods shaded, the selected day marked.

    ``y`` is ``"n"`` (incidents per week) or ``"index"`` (pre-period = 100). A partial
    week (fewer than 7 days inside the period, at either edge) is drawn at its 7-day
    pace (value × 7 / days) with a hollow marker, and its hover gives the days and the
    count as counted: a period starting on a Thursday no longer shows a 4/7 "drop".
    """
    fig = go.Figure()
    datefmt = PLOTLY_DATE_FORMAT[lang]
    value = "%{y:,.1f}" if y == "index" else "%{y:,.0f}"
    hover = f"%{{x|{datefmt}}}<br>{value} (%{{customdata[0]:,}}%{{customdata[2]}})<extra>%{{fullData.name}}</extra>"
    for i, (group, g) in enumerate(series.groupby("group", sort=False)):
        colour = GROUP_COLOURS[i % len(GROUP_COLOURS)]
        days = g["days"].to_numpy()
        partial = days < 7
        pace = g[y].to_numpy(dtype=float) * 7.0 / days.clip(1)
        notes = [t("trends.partial_week", lang, days=int(d)) if p else "" for p, d in zip(partial, days)]
        custom = list(zip(g["n"].tolist(), days.tolist(), notes))
        fig.add_trace(go.Scatter(
            x=g["week"], y=pace, mode="lines+markers", name=names.get(group, group),
            line={"color": colour, "width": 2},
            marker={"size": [9 if p else 5 for p in partial], "symbol": ["circle-open" if p else "circle" for p in partial],
                    "line": {"width": 2, "color": colour}},
            customdata=custom, hovertemplate=hover))
    for b in bands:
        fig.add_vrect(x0=b["x0"], x1=b["x1"], fillcolor=BAND_COLOUR, line_width=0, layer="below")
    if bands:  # one legend entry for every band
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=t("trends.declared_band", lang),
                                 marker={"symbol": "square", "size": 12, "color": BAND_COLOUR}))
    if day is not None:
        fig.add_vline(x=day, line={"color": "#333", "width": 1, "dash": "dash"})
    if y == "index":
        fig.add_hline(y=100, line={"color": "#999", "width": 1})
    fig.update_layout(
        title={"text": title, "font": {"size": 14}} if title else None,
        height=height, margin={"l": 50, "r": 10, "t": 40 if title else 10, "b": 40},
        separators=PLOTLY_SEPARATORS[lang], hovermode="x unified", plot_bgcolor="white",
        legend={"orientation": "h", "y": -0.2},
        xaxis={"title": t("trends.week_axis", lang), "tickformat": "%b %Y", "hoverformat": datefmt,
               "gridcolor": "#eee"},
        yaxis={"title": t("trends.index_axis" if y == "index" else "trends.count_axis", lang), "gridcolor": "#eee",
               "rangemode": "tozero"},
    )
    return fig


def range_figure(frame: pd.DataFrame, lang: str, *, bands: list[dict], day: dt.date | None, title: str = "",
                 height: int = 380) -> go.Figure:
    """Public totals known as ranges (:func:`geo.export.public_trends`): per group a band
    from ``n_low`` to ``n_high`` with its edges drawn, hover giving the published label."""
    fig = go.Figure()
    datefmt = PLOTLY_DATE_FORMAT[lang]
    for i, (group, g) in enumerate(frame.groupby("group", sort=False)):
        colour = GROUP_COLOURS[i % len(GROUP_COLOURS)]
        x = pd.to_datetime(g["period"])
        fig.add_trace(go.Scatter(x=x, y=g["n_low"], mode="lines", line={"color": colour, "width": 1},
                                 name=group, legendgroup=group, showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=x, y=g["n_high"], mode="lines+markers", fill="tonexty", line={"color": colour, "width": 1},
                                 fillcolor=_rgba(colour, 0.25), name=group, legendgroup=group,
                                 customdata=g[["label"]].to_numpy(),
                                 hovertemplate=f"%{{x|{datefmt}}}<br>%{{customdata[0]}}<extra>%{{fullData.name}}</extra>"))
    for b in bands:
        fig.add_vrect(x0=b["x0"], x1=b["x1"], fillcolor=BAND_COLOUR, line_width=0, layer="below")
    if bands:
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=t("trends.declared_band", lang),
                                 marker={"symbol": "square", "size": 12, "color": BAND_COLOUR}))
    if day is not None:
        fig.add_vline(x=day, line={"color": "#333", "width": 1, "dash": "dash"})
    fig.update_layout(
        title={"text": title, "font": {"size": 14}} if title else None, height=height,
        margin={"l": 60, "r": 10, "t": 40 if title else 10, "b": 40}, separators=PLOTLY_SEPARATORS[lang],
        hovermode="x unified", plot_bgcolor="white", legend={"orientation": "h", "y": -0.2},
        xaxis={"title": t("trends.public_month_axis", lang), "tickformat": "%b %Y", "gridcolor": "#eee"},
        yaxis={"title": t("trends.public_axis", lang), "gridcolor": "#eee", "rangemode": "tozero"},
    )
    return fig


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    return f"rgba({int(h[0:2], 16)}, {int(h[2:4], 16)}, {int(h[4:6], 16)}, {alpha})"
