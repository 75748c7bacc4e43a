"""The "¿Funcionó?" section: a closed panel whose body is computed when it is opened.

The analysis of a spell takes seconds, so nothing is estimated until the reader opens
the panel (a click on its summary); the body then arrives from
:func:`dashboard.pages.impact.callbacks.impact_body` under a loading spinner.
"""

from __future__ import annotations

from dash import dcc, html

from dashboard.access import visible
from dashboard.i18n import DEFAULT_LANG, t
from dashboard.layout import label
from dashboard.tabs import view_store

#: Count sources of :func:`geo.analysis.analyze` and the store table each one reads.
SOURCE_TABLES = {"points": "cube_district", "sidpol": "district_month"}


def source_options(ctx, lang: str) -> list[dict]:
    """The data-source choices in ``lang``; a source whose table the store lacks is disabled."""
    store = ctx.store()
    return [{"label": t(f"impact.source_{s}", lang), "value": s, "disabled": not store.has(table)}
            for s, table in SOURCE_TABLES.items()]


def default_source(ctx) -> str:
    """The real record first: SIDPOL when its counts are real and the points are not;
    otherwise points when the store has them, else SIDPOL."""
    from geo.datasets import store_layers

    store = ctx.store()
    layers = store_layers(store.meta)
    if store.has(SOURCE_TABLES["sidpol"]) and not layers["district_month"]["synthetic"] and layers["points"]["synthetic"]:
        return "sidpol"
    return "points" if store.has(SOURCE_TABLES["points"]) else "sidpol"


def layout(ctx) -> html.Section:
    """The section's frame: summary (opens the panel), source choice, spinner around the body."""
    return html.Section(id="section-impact", className="hw-section", children=[
        html.Details(id="impact", open=False, children=[
            # Dash does not report ``Details.open``; the summary's clicks do (odd = open).
            html.Summary(label("impact.title", html.H2, style={"display": "inline"}), id="impact-summary", n_clicks=0,
                         style={"cursor": "pointer"}),
            label("impact.lazy", html.P, className="hw-hint"),
            html.Div(className="hw-control", children=[
                label("impact.source", html.Label, className="hw-label"),
                dcc.RadioItems(id="impact-source", options=source_options(ctx, DEFAULT_LANG), value=default_source(ctx),
                               inline=True),
            ]),
            dcc.Loading(html.Div(id="impact-body"), id="impact-loading", type="circle"),
            # Only for roles that may download (the callback checks again).
            html.Button(label("impact.download"), id="impact-download-btn", n_clicks=0,
                        style={} if visible("download") else {"display": "none"}),
            dcc.Download(id="impact-download"),
            # The printable one-page report of the same result (geo.report), in the page's language.
            html.Button(label("impact.report"), id="impact-report-btn", n_clicks=0,
                        style={} if visible("download") else {"display": "none"}),
            dcc.Download(id="impact-report"),
            # What the body shows now (spell, categories, source, language, store version).
            dcc.Store(id="impact-shown"),
            view_store("impact"),  # the state while the tab is shown (dashboard/tabs.py)
        ]),
    ])
