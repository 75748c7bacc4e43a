"""The map section: it fills the page. Hexes, area outlines, emergency overlay, legend
with histogram, basemap status, district panel; the summary and share links float over it."""

from __future__ import annotations

import dash_leaflet as dl
from dash import dcc, html

from dashboard.access import visible
from dashboard.layout import label
from dashboard.pages.map import counts_layer

# Leaflet panes stack by z-index: clickable district fills under the hexes, emergency
# outlines on top so they stay visible over busy cells; officials' points above all
# (hexwatch.pointToLayer puts each point in its pane, so it takes the hover).
_PANES = {"districts": 350, "hexes": 400, "outlines": 450, "points": 500}


def _centre(bounds: list[list[float]]) -> list[float]:
    (s, w), (n, e) = bounds
    return [(s + n) / 2, (w + e) / 2]


def layout(ctx) -> html.Section:
    """Static map layout; data arrives through the stores ``hex-payload``, ``district-geo``, ``emergency``.

    The basemap is decided in the browser: ``basemap-config`` names the tile server, and
    ``hexwatch.probeBasemap`` fetches one tile of the first view; if it loads, the
    street layer is added with its attribution, otherwise the plain offline background
    stays. Either way the map says which (``#basemap-status``).
    """
    # Raw points exist in an official's page only (their callback checks the role again).
    points = visible("points")
    extent = ctx.first_extent
    return html.Section(id="section-map", className="hw-map-section", **{"aria-label": "map"}, children=[
        label("map.title", html.H2, className="hw-sr-only"),
        dl.Map(id="map", center=_centre(extent), zoom=10, minZoom=3, maxZoom=18, className="hw-map",
               keyboard=True, children=[
            dl.LayerGroup(id="basemap"),
            *counts_layer.map_layers(ctx),
            dl.Pane(name="districts", style={"zIndex": _PANES["districts"]}, children=[
                dl.GeoJSON(id="district-fill", style={"variable": "hexwatch.districtStyle"}, pane="districts")]),
            dl.Pane(name="hexes", style={"zIndex": _PANES["hexes"]}, children=[
                dl.GeoJSON(id="hexes", style={"variable": "hexwatch.hexStyle"}, pane="hexes")]),
            dl.Pane(name="outlines", style={"zIndex": _PANES["outlines"]}, children=[
                dl.GeoJSON(id="emergency-outline", style={"variable": "hexwatch.outlineStyle"}, pane="outlines",
                           interactive=False)]),
            *([dl.Pane(name="points", style={"zIndex": _PANES["points"]}, children=[
                dl.GeoJSON(id="points", pointToLayer={"variable": "hexwatch.pointToLayer"}, pane="points")])]
              if points else []),
            dl.ScaleControl(position="bottomleft", imperial=False),
        ]),
        html.Div(className="hw-map-top", children=[
            html.Div(id="map-summary", className="hw-summary", **{"aria-live": "polite"}),
            html.Div(id="map-capped", className="hw-notice"),
            *([html.Div(id="points-status", className="hw-hint")] if points else []),
            *counts_layer.controls(ctx),
        ]),
        html.Div(className="hw-legend-box", children=[
            html.Div(id="legend", className="hw-legend"),
            html.Div(id="basemap-status", className="hw-basemap-status", **{"data-basemap": "probing"}, children=[
                label("basemap.streets", className="hw-bm-streets"), label("basemap.offline", className="hw-bm-offline"),
                label("basemap.probing", className="hw-bm-probing")]),
        ]),
        # Machine-readable state of what is drawn (tests and screen readers read it).
        html.Div(id="map-status", className="hw-sr-only", **{"data-hexes": "0", "data-total": "0",
                                                              "data-emergency": "", "data-districts": "0"}),
        # The real district counts' legend, top districts and monthly series, folded over the map.
        *([html.Details(className="hw-counts-box", open=True, children=[
            label("counts.panel", html.Summary), *counts_layer.layout(ctx)])] if counts_layer.has_counts(ctx) else []),
        html.Aside(id="district-panel", className="hw-panel", children=[
            html.Button(label("panel.close"), id="panel-close", n_clicks=0, className="hw-close"),
            html.Div(id="panel-body", children=label("panel.hint", html.P, className="hw-hint")),
        ]),
        dcc.Store(id="hex-payload"),
        dcc.Store(id="district-geo"),
        dcc.Store(id="area-bounds"),
        dcc.Store(id="emergency"),
        dcc.Store(id="basemap-config", data=ctx.basemap_config()),
        dcc.Store(id="hash-sync"),
    ])
