"""The "about the data" section: dataset, coverage (months and a range publicly; days and gaps for officials), ingest report."""

from __future__ import annotations

from dash import html

from dashboard.layout import label


def layout(ctx) -> html.Section:
    """A collapsible panel filled by :func:`dashboard.pages.about.callbacks.about_panel`."""
    return html.Section(id="section-about", className="hw-section", children=[
        html.Details(id="about", open=False, children=[label("about.title", html.Summary), html.Div(id="about-body")]),
    ])
