"""The map section: hexes, district outlines, emergency overlay, legend, district panel."""

from __future__ import annotations

import dash_leaflet as dl
from dash import dcc, html

from dashboard import sharing
from dashboard.access import visible
from dashboard.layout import label
from dashboard.mapdata import bounds_of
from dashboard.pages.map import counts_layer

# Leaflet panes stack by z-index: clickable district fills under the hexes, emergency
# outlines on top so they stay visible over busy cells; officials' points above all.
_PANES = {"districts": 350, "hexes": 400, "outlines": 450, "points": 500}


def _centre(bounds: list[list[float]]) -> list[float]:
    (s, w), (n, e) = bounds
    return [(s + n) / 2, (w + e) / 2]


def layout(ctx) -> html.Section:
    """Static map layout; data arrives through the stores ``hex-payload``, ``district-geo``, ``emergency``."""
    tiles = [dl.TileLayer(url=ctx.tiles_url, attribution=ctx.tiles_attribution)] if ctx.tiles_url else []
    # Raw points exist in an official's page only (their callback checks the role again).
    points = visible("points")
    return html.Section(id="section-map", className="hw-section hw-map-section", children=[
        label("map.title", html.H2),
        html.Div(id="map-summary", className="hw-summary"),
        html.Div(id="map-capped", className="hw-notice"),
        sharing.controls(),
        *counts_layer.controls(ctx),
        html.Div(className="hw-map-wrap", children=[
            dl.Map(id="map", center=_centre(bounds_of(ctx.districts)), zoom=10, minZoom=5, maxZoom=17,
                   style={"height": "70vh", "background": "#f2efe9"}, children=[
                *tiles,
                *counts_layer.map_layers(ctx),
                dl.Pane(name="districts", style={"zIndex": _PANES["districts"]}, children=[
                    dl.GeoJSON(id="district-fill", style={"variable": "hexwatch.districtStyle"}, pane="districts")]),
                dl.Pane(name="hexes", style={"zIndex": _PANES["hexes"]}, children=[
                    dl.GeoJSON(id="hexes", style={"variable": "hexwatch.hexStyle"}, pane="hexes")]),
                dl.Pane(name="outlines", style={"zIndex": _PANES["outlines"]}, children=[
                    dl.GeoJSON(id="emergency-outline", style={"variable": "hexwatch.outlineStyle"}, pane="outlines",
                               interactive=False)]),
                *([dl.Pane(name="points", style={"zIndex": _PANES["points"]}, children=[
                    dl.GeoJSON(id="points", pointToLayer={"variable": "hexwatchShare.pointToLayer"}, pane="points")])]
                  if points else []),
                dl.ScaleControl(position="bottomleft", imperial=False),
            ]),
            html.Div(id="legend", className="hw-legend"),
            # Machine-readable state of what is drawn (tests and screen readers read it).
            html.Div(id="map-status", className="hw-sr-only", **{"data-hexes": "0", "data-total": "0",
                                                                  "data-emergency": "", "data-districts": "0"}),
            *([html.Div(id="points-status", className="hw-hint")] if points else []),
        ]),
        *counts_layer.layout(ctx),
        html.Aside(id="district-panel", className="hw-panel", children=[
            html.Button(label("panel.close"), id="panel-close", n_clicks=0, className="hw-close"),
            html.Div(id="panel-body", children=label("panel.hint", html.P, className="hw-hint")),
        ]),
        dcc.Store(id="hex-payload"),
        dcc.Store(id="district-geo"),
        dcc.Store(id="emergency"),
    ])
