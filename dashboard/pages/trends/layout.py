"""The trends section: weekly declared-vs-comparison chart and the per-district table."""

from __future__ import annotations

import dash_ag_grid as dag
from dash import dcc, html

from dashboard.layout import label


def layout(ctx) -> html.Section:
    """The section's frame; :func:`body` is mounted into it once the map has drawn.

    Plotly and AG Grid are the page's heaviest scripts (about 6 MB); loading them after
    the hexes are on screen halves the time to a usable map.
    """
    return html.Section(id="section-trends", className="hw-section", children=[
        label("trends.title", html.H2),
        html.Div(id="trends-body"),
    ])


def body(ctx) -> list:
    """The chart and table (their data arrives from callbacks)."""
    return [
        html.P(id="series-note", className="hw-hint"),
        dcc.Graph(id="series", config={"displaylogo": False}),
        label("trends.note", html.P, className="hw-hint"),
        html.Div(className="hw-table-head", children=[
            label("table.title", html.H3),
            html.Button(label("table.download"), id="table-download-btn", n_clicks=0),
            dcc.Download(id="table-download"),
        ]),
        dag.AgGrid(id="district-table", rowData=[], columnDefs=[], className="ag-theme-alpine",
                   defaultColDef={"sortable": True, "resizable": True, "filter": True},
                   dashGridOptions={"domLayout": "autoHeight", "pagination": True, "paginationPageSize": 20},
                   style={"width": "100%"}),
    ]
