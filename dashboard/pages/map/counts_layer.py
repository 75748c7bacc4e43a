"""The map's district-month layer: reported counts per district (e.g. SIDPOL, real, all of Peru).

A store may hold real district-month counts beside synthetic points (``bash dev.sh
demo``); this part of the map section draws the counts as a district choropleth (every
district of the area, all of Peru for "all"), lists the districts with most reports and
plots the area's monthly series, each labelled real or synthetic from
``meta["layers"]`` (:func:`geo.datasets.store_layers`) with the source's attribution and
licence. The data are monthly, so a period counts the whole months it touches, and the
summary says which.

Counts that the source itself publishes as open data (SIDPOL: district x month x type,
ODC-By) are shown to every role, without the sensitive categories for the public; the
callbacks are guarded with the public ``map`` kind. Absent a ``district_month`` table the
section adds nothing.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import dash_leaflet as dl
import numpy as np
import plotly.graph_objects as go
import shapely
import shapely.geometry
from dash import Input, Output, dcc, html, no_update

from dashboard.access import guarded, may, public_grid
from dashboard.charts import BAND_COLOUR, GROUP_COLOURS, declared_bands, graph_config
from dashboard.i18n import PLOTLY_SEPARATORS, fmt_int, fmt_month, norm_lang, t
from dashboard.layout import label, source_line
from dashboard.mapdata import NA_COLOUR, district_geojson, legend_payload
from geo.legend import classes
from dashboard.state import UIState
from geo.boundaries import normalise_name
from geo.datasets import store_layers
from geo.privacy import is_sensitive
from geo.views import months_touching, open_month_views
from geo.viewspec import in_area

#: Leaflet pane of the choropleth: under the clickable district outlines (350) and the hexes (400).
PANE_Z = 340
#: Districts listed under the map.
TOP_N = 10
#: Layer choices; "districts" hides the hexes, "hexes" the choropleth (a class on the section, see hexwatch.css).
LAYERS = ("districts", "hexes", "both")
_SECTION_CLASS = "hw-section hw-map-section"
# Outline simplification (degrees): ~150 m for a metro area's districts, ~500 m for a country's.
_TOLERANCE_DEG = 0.0015
_COUNTRY_TOLERANCE_DEG = 0.005
_DETAILED_MAX = 200


def has_counts(ctx) -> bool:
    """Whether the store holds a district-month layer."""
    return ctx.store().has("district_month")


def layer_info(ctx) -> dict:
    """``meta["layers"]["district_month"]`` of the live store (see :func:`geo.datasets.store_layers`)."""
    return store_layers(ctx.store().meta)["district_month"]


def default_layer(ctx) -> str:
    """The real choropleth first when the counts are real, else the hexes as before."""
    return "districts" if has_counts(ctx) and not layer_info(ctx)["synthetic"] else "hexes"


def map_layers(ctx) -> list:
    """The choropleth's pane, for the map's children (empty without counts)."""
    if not has_counts(ctx):
        return []
    return [dl.Pane(name="counts", style={"zIndex": PANE_Z}, children=[
        dl.GeoJSON(id="counts-districts", style={"variable": "hexwatchCounts.style"}, pane="counts")])]


def controls(ctx) -> list:
    """Above the map: the layer switch, the summary and the attribution (empty without counts)."""
    if not has_counts(ctx):
        return []
    return [html.Div(id="counts-layer", className="hw-counts", children=[
        html.Div(className="hw-control", children=[
            label("counts.layer", html.Label, className="hw-label"),
            dcc.RadioItems(id="map-layer", options=layer_options(ctx, "es"), value=default_layer(ctx), inline=True),
        ]),
        html.P(id="counts-summary", className="hw-summary"),
        html.P(id="counts-source", className="hw-source"),
        html.Div(id="counts-status", className="hw-sr-only", **{"data-total": "0", "data-districts": "0",
                                                                  "data-real": "", "data-months": ""}),
    ])]


def layout(ctx) -> list:
    """Below the map: legend, top districts and the monthly chart (empty without counts)."""
    if not has_counts(ctx):
        return []
    return [html.Div(className="hw-counts hw-counts-panel", children=[
        html.Div(id="counts-legend", className="hw-counts-legend"),
        html.Div(id="counts-top"),
        # The chart arrives with its data: a dcc.Graph in the first layout makes the renderer
        # wait for Plotly's 3.5 MB script before the map's first callbacks (+1.4 s to first hexes).
        html.Div(id="counts-series-box"),
    ])]


def layer_options(ctx, lang: str) -> list[dict]:
    """The layer radio's options in ``lang``; the districts option says real or synthetic."""
    key = "counts.layer_districts_synthetic" if layer_info(ctx)["synthetic"] else "counts.layer_districts"
    return [{"label": t(key, lang), "value": "districts"}, {"label": t("counts.layer_hexes", lang), "value": "hexes"},
            {"label": t("counts.layer_both", lang), "value": "both"}]


# --- data -----------------------------------------------------------------------------------


@lru_cache(maxsize=2)
def _all_districts(ctx):
    """Every district of the boundaries (the counts cover all of Peru, the map's areas do not)."""
    if ctx.districts_override is not None:
        return ctx.districts_override
    from geo.boundaries import load_study_districts

    return load_study_districts()


@lru_cache(maxsize=8)
def _outlines(ctx, area: str) -> dict:
    """The area's district outlines as GeoJSON (cached per app and area).

    A metro area keeps shared edges at ~150 m (:func:`dashboard.mapdata.district_geojson`);
    a country's ~1,900 districts are simplified each on its own to ~500 m and rounded to
    1e-3°, which keeps all of Peru near 1 MB (4 MB at the metro detail) and takes ~2 s
    once instead of ~8 s."""
    d = _all_districts(ctx)
    d = d[in_area(d["ubigeo"].tolist(), area)]
    if len(d) <= _DETAILED_MAX:
        return district_geojson(d, tolerance_deg=_TOLERANCE_DEG)
    geoms = shapely.set_precision(shapely.simplify(d.geometry.to_numpy(), _COUNTRY_TOLERANCE_DEG), 1e-3)
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": shapely.geometry.mapping(g),
         "properties": {"ubigeo": u, "name": n, "province": p}}
        for u, n, p, g in zip(d["ubigeo"], d["name"], d["province"], geoms) if g is not None and not g.is_empty]}


def categories_for(views, chosen: tuple[str, ...], public: bool) -> tuple[list[str], list[str]]:
    """The counts' categories matching the filter (case and accents ignored; none chosen:
    all), without the sensitive ones for the public; and the chosen ones with no match."""
    mine = list(views.categories)
    if chosen:
        keys = dict(zip(normalise_name(mine), mine))
        wanted = normalise_name(chosen)
        picked = [keys[k] for k in wanted if k in keys]
        unmatched = [c for c, k in zip(chosen, wanted) if k not in keys]
    else:
        picked, unmatched = mine, []
    if public and picked:
        picked = [c for c, s in zip(picked, is_sensitive(picked, public_grid().sensitive)) if not s]
    return picked, unmatched


def counts_view(ctx, state: UIState, *, public: bool) -> dict:
    """Everything the layer shows for a state: GeoJSON with colours, legend, summary, top rows, series."""
    lang, v = state.lang, state.view
    views = open_month_views(ctx.store())
    info = layer_info(ctx)
    cats, unmatched = categories_for(views, tuple(v.categories), public)
    months = months_touching(state.window)
    n = views.counts(months, cats)
    names = _all_districts(ctx).set_index("ubigeo")
    geo = _outlines(ctx, v.area)
    area = [f["properties"]["ubigeo"] for f in geo["features"]]
    values = n.reindex(area).fillna(0).to_numpy(np.int64)
    lg = classes(values.astype(np.float64))
    leg, palette, cls = legend_payload(lg, lg.classify(values), "count", lang, ctx.min_baseline, fixed=False)
    tag = t("counts.synthetic" if info["synthetic"] else "counts.real", lang)
    features = []
    for f, value, c in zip(geo["features"], values, cls):
        p = f["properties"]
        features.append({**f, "properties": {
            **p, "n": int(value), "fill": palette[c] if c >= 0 else NA_COLOUR,
            "tooltip": f"{t('counts.tip', lang, name=p['name'], n=fmt_int(int(value), lang))} ({tag})"}})
    covered = n.attrs["months"]
    label_text = f"{tag} · {info['title_en'] if lang == 'en' else info['title']}"
    first, last = (dt.date(*m, 1) for m in months)
    if covered is None:
        start, end = dt.date(*views.first, 1), dt.date(*views.last, 1)
        summary = t("counts.none", lang, label=label_text, first=fmt_month(first, lang), last=fmt_month(last, lang),
                    start=fmt_month(start, lang), end=fmt_month(end, lang))
    else:
        summary = t("counts.summary", lang, label=label_text, n=fmt_int(int(values.sum()), lang),
                    districts=fmt_int(int((values > 0).sum()), lang), first=fmt_month(dt.date(*covered[0], 1), lang),
                    last=fmt_month(dt.date(*covered[1], 1), lang))
    notes = []
    if unmatched:
        notes.append(t("counts.unmatched", lang, cats=", ".join(unmatched)))
    left_out = [c for c in views.categories if c not in cats and public]
    if public and left_out and not v.categories:
        notes.append(t("counts.public_note", lang, cats=", ".join(left_out)))
    order = np.argsort(-values, kind="stable")[:TOP_N]
    top = [{"ubigeo": area[i], "name": names["name"].get(area[i], area[i]),
            "province": names["province"].get(area[i], ""), "n": int(values[i])} for i in order if values[i] > 0]
    return {"geojson": {"type": "FeatureCollection", "features": features},
            "legend": leg, "summary": summary, "notes": notes,
            "top": top, "total": int(values.sum()), "districts": len(area), "real": not info["synthetic"],
            "months": f"{months[0][0]:04d}-{months[0][1]:02d}/{months[1][0]:04d}-{months[1][1]:02d}",
            "series": series_figure(ctx, state, views, cats, area, info), "source": source_line(info, lang)}


def series_figure(ctx, state: UIState, views, cats, area: list[str], info: dict) -> go.Figure:
    """Monthly reports of the area over the whole record; with a spell, its declared
    districts against the rest of the area; declared periods shaded."""
    lang = state.lang
    spell = ctx.spell(state.view.spell)
    if spell is not None:
        declared = [u for u in area if u in spell.ubigeos]
        rest = [u for u in area if u not in spell.ubigeos]
        groups = {t("counts.series_declared", lang, n=len(declared)): declared,
                  t("counts.series_rest", lang, n=len(rest)): rest}
        spells = [spell]
    else:
        groups = {t("counts.series_area", lang, n=len(area)): area}
        spells = [s for s in ctx.spells if s.ubigeos & set(area)]
    series = views.monthly(groups, None, cats)
    fig = go.Figure()
    for i, (name, g) in enumerate(series.groupby("group", sort=False)):
        fig.add_trace(go.Scatter(x=g["month"], y=g["n"], mode="lines+markers", name=name, marker={"size": 4},
                                 line={"color": GROUP_COLOURS[i % len(GROUP_COLOURS)], "width": 2},
                                 hovertemplate="%{x|%b %Y}<br>%{y:,}<extra>%{fullData.name}</extra>"))
    if len(series):
        start, end = series["month"].min(), series["month"].max()
        for b in declared_bands(spells, start, end + dt.timedelta(days=31), lang):
            fig.add_vrect(x0=b["x0"], x1=b["x1"], fillcolor=BAND_COLOUR, line_width=0, layer="below")
    w0, w1 = state.window
    fig.add_vrect(x0=dt.date(w0.year, w0.month, 1), x1=w1, line={"color": "#333", "width": 1, "dash": "dot"}, fillcolor="rgba(0,0,0,0)")
    tag = t("counts.synthetic" if info["synthetic"] else "counts.real", lang)
    fig.update_layout(
        title={"text": f"{t('counts.series_title', lang)} — {tag}", "font": {"size": 14}}, height=320,
        margin={"l": 50, "r": 10, "t": 40, "b": 40}, separators=PLOTLY_SEPARATORS[lang], hovermode="x unified",
        plot_bgcolor="white", legend={"orientation": "h", "y": -0.25},
        xaxis={"title": t("counts.month_axis", lang), "tickformat": "%b %Y", "gridcolor": "#eee"},
        yaxis={"title": t("counts.count_axis", lang), "gridcolor": "#eee", "rangemode": "tozero"})
    return fig


def top_table(rows: list[dict], lang: str) -> html.Div:
    """The districts with most reports, each row marked with its ubigeo (tests and screen readers read it)."""
    head = html.Tr([html.Th(t("counts.col_district", lang)), html.Th(t("counts.col_province", lang)),
                    html.Th(t("counts.col_n", lang))])
    body = [html.Tr([html.Td(f"{r['name']} ({r['ubigeo']})"), html.Td(r["province"]),
                     html.Td(fmt_int(r["n"], lang), className="hw-num")],
                    **{"data-ubigeo": r["ubigeo"], "data-n": str(r["n"])}) for r in rows]
    return html.Div([html.H3(t("counts.top", lang), style={"fontSize": "1rem"}),
                     html.Table([html.Thead(head), html.Tbody(body)], id="counts-top-table", className="hw-table")])


def _legend(leg: dict, lang: str) -> list:
    return [html.Div(t("counts.legend", lang), className="hw-legend-title"),
            *[html.Div([html.Span(className="hw-swatch", style={"background": i["colour"]}), i["label"]],
                       className="hw-legend-item") for i in leg["items"]]]


def register(app, ctx) -> None:
    """Add the layer's callbacks (none without counts: their components are not in the page)."""
    if not has_counts(ctx):
        return

    @app.callback(Output("counts-districts", "data"), Output("counts-summary", "children"),
                  Output("counts-source", "children"), Output("counts-legend", "children"),
                  Output("counts-top", "children"), Output("counts-series-box", "children"),
                  Output("counts-status", "data-total"), Output("counts-status", "data-districts"),
                  Output("counts-status", "data-real"), Output("counts-status", "data-months"),
                  Input("state", "data"))
    @guarded("map")
    def update_counts(state_data):
        if not state_data:
            return (no_update,) * 10
        state = UIState.from_store(state_data, ctx.catalog())
        view = counts_view(ctx, state, public=not may("sensitive"))
        summary = [view["summary"], *[html.Span([html.Br(), n]) for n in view["notes"]]]
        source = [view["source"], html.Br(), t("counts.caveat", state.lang)]
        return (view["geojson"], summary, source, _legend(view["legend"], state.lang), top_table(view["top"], state.lang),
                dcc.Graph(id="counts-series", figure=view["series"], config=graph_config(state.lang)), str(view["total"]), str(view["districts"]),
                "yes" if view["real"] else "no", view["months"])

    @app.callback(Output("section-map", "className"), Input("map-layer", "value"))
    @guarded("map")
    def show_layer(layer):
        return f"{_SECTION_CLASS} hw-layer-{layer if layer in LAYERS else 'both'}"

    @app.callback(Output("map-layer", "options"), Input("lang", "value"))
    @guarded("map")
    def translate(lang):
        return layer_options(ctx, norm_lang(lang))
