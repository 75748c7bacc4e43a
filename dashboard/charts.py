"""Plotly time charts in the chosen language, with declared periods shaded on every one."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go

from dashboard.i18n import PLOTLY_DATE_FORMAT, PLOTLY_SEPARATORS, fmt_date, plotly_locale, t

#: Line colours by group (declared = the emergency colour used on the map).
GROUP_COLOURS = ["#b2182b", "#2166ac", "#4d4d4d", "#1b7837"]
BAND_COLOUR = "rgba(178, 24, 43, 0.12)"


def graph_config(lang: str) -> dict:
    """``dcc.Graph`` config that registers the locale inline (no CDN locale script)."""
    return {"displaylogo": False, "locale": lang, "locales": {lang: plotly_locale(lang)},
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

    ``y`` is ``"n"`` (incidents per week) or ``"index"`` (pre-period = 100). Partial
    weeks (fewer than 7 days inside the period) get hollow markers so a dip at an edge is
    not mistaken for a drop.
    """
    fig = go.Figure()
    datefmt = PLOTLY_DATE_FORMAT[lang]
    if y == "index":
        hover = f"%{{x|{datefmt}}}<br>%{{y:,.1f}} (%{{customdata[0]:,}})<extra>%{{fullData.name}}</extra>"
    else:
        hover = f"%{{x|{datefmt}}}<br>%{{y:,}}<extra>%{{fullData.name}}</extra>"
    for i, (group, g) in enumerate(series.groupby("group", sort=False)):
        colour = GROUP_COLOURS[i % len(GROUP_COLOURS)]
        partial = (g["days"] < 7).to_numpy()
        fig.add_trace(go.Scatter(
            x=g["week"], y=g[y], mode="lines+markers", name=names.get(group, group),
            line={"color": colour, "width": 2},
            marker={"size": [8 if p else 4 for p in partial], "symbol": ["circle-open" if p else "circle" for p in partial]},
            customdata=g[["n"]].to_numpy(), hovertemplate=hover))
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
