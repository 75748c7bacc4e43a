"""Hot-spot callbacks: the pattern map with its legend and declared districts, and a
cell's history on click. The analysis is :func:`geo.hotspots.emerging_hotspots` (cached
per store version and view); this module only picks the view and formats.

Officials get the exact cube at any resolution of the store; everyone else the
published grid only (``public=True``: resolution ≤ 8, whole months, sensitive
categories left out, suppressed entries censored), as every public number.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import plotly.graph_objects as go
from dash import ClientsideFunction, Input, Output, State, dcc, html, no_update

from dashboard.access import guarded, may, public_grid
from dashboard.tabs import shown
from dashboard.charts import graph_config
from dashboard.i18n import fmt_date, fmt_int, fmt_num, norm_lang, t
from dashboard.mapdata import district_geojson
from dashboard.pages.hotspots.layout import DEFAULT_PERIOD, DEFAULT_SPAN, SPANS, options
from dashboard.state import UIState
from geo.errors import HexwatchError
from geo.hotspots import (COLD_PATTERNS, HOT_PATTERNS, NO_PATTERN, PATTERNS, bin_ends, emerging_hotspots, layer_features,
                          span_start)
from geo.viewspec import View

#: Legend colours: reds for hot patterns (darker = more recent or stronger), blues for cold.
COLOURS = dict(zip(HOT_PATTERNS, ("#7f0000", "#b30000", "#d7301f", "#ef6548", "#fc8d59", "#fdbb84", "#e7a0c8", "#fee8c8")))
COLOURS |= dict(zip(COLD_PATTERNS, ("#08306b", "#08519c", "#2171b5", "#4292c6", "#6baed6", "#9ecae1", "#b3a2d6", "#deebf7")))
COLOURS[NO_PATTERN] = "#d9d9d9"


def _p(p: float, lang: str) -> str:
    return ("< " + fmt_num(0.001, lang, 3)) if p < 0.001 else fmt_num(p, lang, 3)


def hotspot_result(ctx, state: UIState, period, span, res):
    """The analysis the section shows for the page's state and its own choices."""
    v = state.view
    first, _ = ctx.views().day_range
    official = may("hexes")
    view = View(start=span_start(v.end, SPANS.get(str(span), SPANS[DEFAULT_SPAN]), first), end=v.end,
                categories=v.categories, area=v.area, resolution=int(res or 8))
    return emerging_hotspots(ctx.store(), view, period=period if period in ("week", "month") else DEFAULT_PERIOD,
                             public=not official, grid=None if official else public_grid(), districts=ctx.districts,
                             registry=ctx.registry)


@lru_cache(maxsize=32)
def _declared_geo(ctx, ubigeos: frozenset) -> dict:
    d = ctx.districts  # None: a store without boundaries has no outlines to draw
    if d is None or not ubigeos:
        return {"type": "FeatureCollection", "features": []}
    return district_geojson(d[d["ubigeo"].isin(ubigeos)])


def _legend(result, state: UIState) -> html.Div:
    lang = state.lang
    counts = result.pattern_counts()
    return html.Div([
        html.Div(t("hotspots.legend", lang), className="hw-legend-title"),
        *[html.Div([html.Span(className="hw-swatch", style={"background": COLOURS[p]}),
                    f"{t('pattern.' + p, lang)} ({fmt_int(counts[p], lang)})"],
                   className="hw-legend-item", **{"data-pattern": p, "data-count": str(counts[p])}) for p in PATTERNS],
        html.Div([html.Span(className="hw-swatch hw-swatch-emergency"),
                  t("hotspots.legend_declared", lang, day=fmt_date(state.day, lang))], className="hw-legend-item"),
    ])


def hotspot_view(ctx, state: UIState, period, span, res) -> tuple:
    """Everything the update callback returns, in its output order."""
    lang = state.lang
    declared = _declared_geo(ctx, frozenset(ctx.emergency_on(state.day)))
    try:
        result = hotspot_result(ctx, state, period, span, res)
    except HexwatchError as exc:
        empty = {"type": "FeatureCollection", "features": []}
        text = t("hotspots.too_short", lang) if "at least" in str(exc) else str(exc)
        return empty, declared, "", text, "0", "0", "", ""
    layer = layer_features(result)
    for f in layer["features"]:
        p = f["properties"]
        tip = t("hotspots.tip", lang, pattern=t("pattern." + p["pattern"], lang), z=fmt_num(p["z"], lang, 2),
                p=_p(p["p"], lang), tau=fmt_num(p["trend_tau"], lang, 2))
        # only what the map and the click need travel to the browser
        f["properties"] = {"h3": p["h3"], "pattern": p["pattern"], "code": p["code"], "colour": COLOURS[p["pattern"]],
                           "tooltip": tip, **({"censored": True} if p["censored"] else {})}
    counts = result.pattern_counts()
    b = result.bins
    summary = t("hotspots.summary", lang, cells=fmt_int(result.n_locations, lang), res=result.view.resolution,
                bins=fmt_int(b.size, lang), unit=t(f"hotspots.unit_{result.period}", lang),
                start=fmt_date(b[0].item(), lang), end=fmt_date(bin_ends(b, result.period)[-1].item(), lang),
                hot=fmt_int(sum(counts[p] for p in HOT_PATTERNS), lang),
                cold=fmt_int(sum(counts[p] for p in COLD_PATTERNS), lang),
                alpha=fmt_num(result.settings["alpha"], lang, 2), tests=fmt_int(result.z.size, lang))
    if result.public:
        summary += t("hotspots.summary_public", lang, k=public_grid().k)
    return (layer, declared, _legend(result, state), summary, str(result.n_locations), str(len(layer["features"])),
            "1" if result.public else "0", str(result.view.resolution))


def history_figure(result, cell: str, lang: str) -> tuple[str, go.Figure]:
    """A cell's counts (bars; a range where public values were suppressed) and z per bin,
    significant bins marked, and a sentence with its pattern and trend."""
    h = result.history(cell)
    i = int(np.flatnonzero(result.cells == np.uint64(int(cell, 16)))[0])
    pattern = t("pattern." + str(result.pattern[i]), lang)
    x = h["bin"].astype(str).tolist()
    low, high = h["count_low"].to_numpy(), h["count_high"].to_numpy()
    fig = go.Figure()
    fig.add_bar(x=x, y=low, name=t("hotspots.count", lang), marker_color="#bdbdbd",
                error_y={"type": "data", "symmetric": False, "array": (high - low).tolist(), "arrayminus": [0] * len(x),
                         "visible": bool((high > low).any())})
    fig.add_scatter(x=x, y=h["z"].round(3), name=t("hotspots.z", lang), yaxis="y2", mode="lines", line={"color": "#333"})
    for state, colour, key in (("hot", "#d7301f", "hotspots.hot_bin"), ("cold", "#2171b5", "hotspots.cold_bin")):
        m = h["state"] == state
        if m.any():
            fig.add_scatter(x=[a for a, k in zip(x, m) if k], y=h.loc[m, "z"].round(3), yaxis="y2", mode="markers",
                            name=t(key, lang), marker={"color": colour, "size": 7})
    fig.update_layout(height=260, margin={"l": 40, "r": 40, "t": 10, "b": 30}, legend={"orientation": "h", "y": -0.25},
                      yaxis={"title": t("hotspots.count", lang)},
                      yaxis2={"title": t("hotspots.z", lang), "overlaying": "y", "side": "right", "zeroline": True})
    text = (t("hotspots.history_title", lang, cell=cell, pattern=pattern) + ". "
            + t("hotspots.history_trend", lang, tau=fmt_num(float(result.trend_tau[i]), lang, 2),
                p=_p(float(result.trend_p[i]), lang))
            + (" " + t("hotspots.censored", lang) if result.censored[i] else ""))
    return text, fig


def area_bounds(ctx, area: str) -> list[list[float]]:
    """Leaflet bounds of ``area``: the store's own areas (a store without boundaries gets its hexes' extent)."""
    return ctx.extent(area)


def register(app, ctx) -> None:
    """Add the section's callbacks to ``app``."""
    app.clientside_callback(ClientsideFunction(namespace="hexwatch", function_name="probeBasemapLayer"),
                            Output("hs-basemap", "children"), Input("hs-basemap-config", "data"))

    @app.callback(Output("hs-period", "options"), Output("hs-span", "options"), Input("lang", "value"))
    def translate(lang):
        o = options(ctx, norm_lang(lang))
        return o["period"], o["span"]

    @app.callback(Output("hs-hexes", "data"), Output("hs-declared", "data"), Output("hs-legend", "children"),
                  Output("hs-summary", "children"), Output("hs-status", "data-cells"),
                  Output("hs-status", "data-patterned"), Output("hs-status", "data-public"),
                  Output("hs-status", "data-resolution"),
                  shown("hotspots"), Input("hs-period", "value"), Input("hs-span", "value"), Input("hs-res", "value"),
                  State("state", "data"), prevent_initial_call=True)
    @guarded("map")
    def update_hotspots(_shown, period, span, res, state_data):
        if not state_data:
            return (no_update,) * 8
        return hotspot_view(ctx, UIState.from_store(state_data, ctx.catalog()), period, span, res)

    @app.callback(Output("hs-map", "viewport"), Output("hs-area", "data"), shown("hotspots"), State("state", "data"),
                  State("hs-area", "data"), prevent_initial_call=True)
    @guarded("map")
    def fit_area(_shown, state_data, fitted):
        area = UIState.from_store(state_data, ctx.catalog()).view.area if state_data else None
        if not area or area == fitted:  # pans and zooms are the reader's until the area changes
            return no_update, no_update
        return {"bounds": area_bounds(ctx, area), "transition": "fitBounds"}, area

    @app.callback(Output("hs-history-text", "children"), Output("hs-history-box", "children"),
                  Input("hs-hexes", "clickData"), State("state", "data"), State("hs-period", "value"),
                  State("hs-span", "value"), State("hs-res", "value"), prevent_initial_call=True)
    @guarded("map")
    def show_history(click, state_data, period, span, res):
        cell = ((click or {}).get("properties") or {}).get("h3")
        if not cell or not state_data:
            return no_update, no_update
        state = UIState.from_store(state_data, ctx.catalog())
        try:
            result = hotspot_result(ctx, state, period, span, res)
            text, fig = history_figure(result, str(cell), state.lang)
        except (HexwatchError, ValueError):
            return t("hotspots.history_hint", state.lang), []
        # The graph is created here, not in the layout: a dcc.Graph on the first page makes
        # the renderer wait for Plotly's 3.5 MB script before the map's first callbacks.
        return text, dcc.Graph(id="hs-history-graph", figure=fig, config=graph_config(state.lang))
