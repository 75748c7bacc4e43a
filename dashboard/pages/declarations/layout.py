"""The all-declarations section: closed until opened, then the table and the forest plot.

The table is :func:`geo.analysis.all_declarations.all_declarations`, computed once per
store version (cached beside the store and in the process), so opening the section on
a store already evaluated costs a file read.
"""

from __future__ import annotations

from dash import dcc, html

from dashboard.layout import label
from dashboard.tabs import view_store


def layout(ctx) -> html.Section:
    """The section's frame: summary (opens it), a spinner around the body."""
    return html.Section(id="section-declarations", className="hw-section", children=[
        html.Details(id="declarations", open=False, children=[
            # Dash does not report ``Details.open``; the summary's clicks do (odd = open).
            html.Summary(label("decl.title", html.H2, style={"display": "inline"}), id="declarations-summary",
                         n_clicks=0, style={"cursor": "pointer"}),
            label("decl.intro", html.P, className="hw-hint"),
            dcc.Loading(html.Div(id="declarations-body"), id="declarations-loading", type="circle"),
            dcc.Store(id="declarations-shown"),
            view_store("declarations"),  # the state while the tab is shown (dashboard/tabs.py)
        ]),
    ])
