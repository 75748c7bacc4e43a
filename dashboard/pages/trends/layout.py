"""The trends section: weekly declared-vs-comparison chart and the per-district table."""

from __future__ import annotations

import dash_ag_grid as dag
from dash import dcc, html

from dashboard.layout import label


def layout(ctx) -> html.Section:
    """The section's frame; :func:`body` is mounted into it when the tab is first opened.

    Plotly and AG Grid are the page's heaviest scripts (about 6 MB); loading them only
    when the trends are asked for keeps them off the map's first paint.
    """
    return html.Section(id="section-trends", className="hw-section", children=[
        label("trends.title", html.H2),
        html.Div(id="trends-body"),
    ])


def body(ctx) -> list:
    """The chart and table (their data arrives from callbacks): officials get the exact
    weekly chart and the district table; the public gets the published grid's totals
    as ranges. Dash's validation layout (no request) gets both."""
    import flask

    from dashboard.access import may

    from dashboard.tabs import view_store

    official = not flask.has_request_context() or may("series")
    public = not flask.has_request_context() or not may("series")
    parts: list = [view_store("trends")]  # filled from the state while the tab is shown
    if official:
        parts += [
            html.P(id="series-note", className="hw-hint"),
            dcc.Graph(id="series", config={"displaylogo": False, "responsive": True}, style={"width": "100%"}),
            label("trends.note", html.P, className="hw-hint"),
            html.Div(className="hw-table-head", children=[
                label("table.title", html.H3),
                html.Button(label("table.download"), id="table-download-btn", n_clicks=0),
                dcc.Download(id="table-download"),
            ]),
            html.Div(id="district-table-box", children=table(ctx, "es")),
        ]
    if public:
        parts += [
            html.P(id="public-series-note", className="hw-hint"),
            dcc.Graph(id="public-series", config={"displaylogo": False, "responsive": True}, style={"width": "100%"}),
            label("trends.public_note", html.P, className="hw-hint"),
        ]
    return parts


def table(ctx, lang: str, row_data=None, column_defs=None) -> dag.AgGrid:
    """The district table in ``lang``: AG Grid's own texts (pagination, filters, "no
    rows") are a grid option read when it is created, so a language change builds it anew."""
    from dashboard.i18n import grid_locale

    return dag.AgGrid(id="district-table", rowData=row_data or [], columnDefs=column_defs or [],
                      className="ag-theme-alpine", defaultColDef={"sortable": True, "resizable": True, "filter": True},
                      dashGridOptions={"domLayout": "autoHeight", "pagination": True, "paginationPageSize": 20,
                                       "localeText": grid_locale(lang)},
                      style={"width": "100%"})
