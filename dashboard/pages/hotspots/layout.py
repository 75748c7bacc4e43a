"""The "Puntos calientes / Hot spots" section: its own map of emerging hot spot patterns.

It reads the page's filters (dates' end, categories, area, language) from the shared
``state`` store and adds its own choices (periods, history, resolution). Officials
choose resolutions up to the store's finest; the public sees the published grid only
(resolution ≤ 8), see docs/hotspots.md and docs/privacy.md.
"""

from __future__ import annotations

import dash_leaflet as dl
from dash import dcc, html

from dashboard.access import visible
from dashboard.i18n import DEFAULT_LANG, t
from dashboard.layout import label
from dashboard.tabs import view_store

#: History choices: months of data ending at the view's end (None: everything).
SPANS = {"12": 12, "24": 24, "all": None}
DEFAULT_SPAN = "24"
DEFAULT_PERIOD = "month"
PUBLIC_RESOLUTIONS = (7, 8)


def resolutions(ctx) -> list[int]:
    """Resolutions the current role may pick: the store's, up to 8 for the public."""
    have = [r for r in ctx.views().resolutions if 5 <= r <= 10]
    return have if visible("hexes") else [r for r in have if r in PUBLIC_RESOLUTIONS] or [8]


def options(ctx, lang: str) -> dict[str, list[dict]]:
    return {
        "period": [{"label": t(f"hotspots.period_{p}", lang), "value": p} for p in ("week", "month")],
        "span": [{"label": t(f"hotspots.span_{s}", lang), "value": s} for s in SPANS],
        "res": [{"label": str(r), "value": r} for r in resolutions(ctx)],
    }


def layout(ctx) -> html.Section:
    (s, w), (n, e) = ctx.first_extent  # the store's own first area (any city, boundaries or not)
    opts = options(ctx, DEFAULT_LANG)
    res = 8 if 8 in resolutions(ctx) else resolutions(ctx)[-1]
    return html.Section(id="section-hotspots", className="hw-section", children=[
        label("hotspots.title", html.H2),
        label("hotspots.hint", html.P, className="hw-hint"),
        html.Div(className="hw-filters", children=[
            html.Div([label("hotspots.period", html.Label, className="hw-label"),
                      dcc.RadioItems(id="hs-period", options=opts["period"], value=DEFAULT_PERIOD, inline=True)],
                     className="hw-control"),
            html.Div([label("hotspots.span", html.Label, className="hw-label"),
                      dcc.RadioItems(id="hs-span", options=opts["span"], value=DEFAULT_SPAN, inline=True)],
                     className="hw-control"),
            html.Div([label("hotspots.resolution", html.Label, className="hw-label"),
                      dcc.RadioItems(id="hs-res", options=opts["res"], value=res, inline=True)],
                     className="hw-control"),
        ]),
        html.P(id="hs-summary", className="hw-summary"),
        html.Div(className="hw-map-wrap", children=[
            dl.Map(id="hs-map", center=[(s + n) / 2, (w + e) / 2], zoom=10, minZoom=5, maxZoom=16,
                   style={"height": "60vh", "background": "#f2efe9"}, children=[
                # Streets only once the browser has fetched a tile (as on the main map); else the plain background.
                dl.LayerGroup(id="hs-basemap"),
                dl.Pane(name="hs-cells", style={"zIndex": 400}, children=[
                    dl.GeoJSON(id="hs-hexes", style={"variable": "hexwatchHotspots.style"}, pane="hs-cells")]),
                dl.Pane(name="hs-declared", style={"zIndex": 450}, children=[
                    dl.GeoJSON(id="hs-declared", style={"variable": "hexwatchHotspots.declaredStyle"},
                               pane="hs-declared", interactive=False)]),
                dl.ScaleControl(position="bottomleft", imperial=False),
            ]),
            html.Div(id="hs-legend", className="hw-legend"),
            html.Div(id="hs-status", className="hw-sr-only", **{"data-cells": "", "data-patterned": "",
                                                                 "data-public": "", "data-resolution": ""}),
        ]),
        html.Div(id="hs-history", className="hw-panel hw-panel-open", children=[
            html.P(t("hotspots.history_hint", DEFAULT_LANG), id="hs-history-text", className="hw-hint"),
            html.Div(id="hs-history-box"),  # the cell's chart, made on a click (no Plotly on the first page)
        ]),
        view_store("hotspots"),  # the state while the tab is shown (dashboard/tabs.py)
        dcc.Store(id="hs-area"),  # the area the map was last fitted to
        dcc.Store(id="hs-basemap-config", data={**ctx.basemap_config(), "tile_id": "hs-basemap-tiles"}),
    ])
