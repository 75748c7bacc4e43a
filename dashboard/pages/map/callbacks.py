"""Map callbacks: hex payload, district outlines, emergency overlay, district panel."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from dash import ClientsideFunction, Input, Output, dcc, html, no_update

from dashboard.access import check, guarded, map_limits
from dashboard.charts import declared_bands, graph_config, weekly_figure
from dashboard.i18n import fmt_date, fmt_int, fmt_pct, t
from dashboard.mapdata import bounds_of, district_geojson, hex_payload
from dashboard.state import UIState, resolution_for_zoom
from geo.viewspec import in_area

# Hexes just outside the viewport are drawn too, so a small pan shows no blank edge.
_PAD = 0.25


def _bbox(bounds) -> tuple[float, float, float, float] | None:
    """Leaflet bounds ``[[s, w], [n, e]]`` -> padded ``(s, w, n, e)``."""
    try:
        (s, w), (n, e) = bounds
    except (TypeError, ValueError):
        return None
    dy, dx = (n - s) * _PAD, (e - w) * _PAD
    return s - dy, w - dx, n + dy, e + dx


def emergency_labels(ctx, day: dt.date, lang: str) -> dict[str, dict]:
    """Declared districts on ``day`` with a tooltip line in ``lang`` each."""
    out = {}
    for ubigeo, e in ctx.emergency_on(day).items():
        e = dict(e)
        e["label"] = f"{e['decree']} ({fmt_date(e['start'], lang)} – {fmt_date(e['end'], lang)})"
        out[ubigeo] = e
    return out


def hex_view(ctx, state: UIState, zoom, bounds, role: str) -> tuple[dict, html.Div, str, str]:
    """Hex payload, legend and summary text for a state and viewport."""
    lang, v = state.lang, state.view
    limits = map_limits(role)
    res = resolution_for_zoom(zoom) if state.zoomres else v.resolution
    res = min(res, limits["max_resolution"])
    views = ctx.views()
    res = min(views.resolutions, key=lambda r: (abs(r - res), -r)) if res not in views.resolutions else res
    window, baseline = state.window, state.baseline
    hexes = views.hex_counts(res, window, v.categories, baseline=baseline, bbox=_bbox(bounds), area=v.area)
    if limits["min_count"] > 1:
        hexes = hexes[hexes["n"] >= limits["min_count"]]
    emergency = {u: e["label"] for u, e in emergency_labels(ctx, state.day, lang).items()}
    payload = hex_payload(hexes, resolution=res, metric=v.metric, lang=lang, names=views.district_names,
                          emergency=emergency, min_baseline=ctx.min_baseline)
    leg = payload["legend"]
    legend = html.Div([
        html.Div(leg["title"], className="hw-legend-title"),
        *[html.Div([html.Span(className="hw-swatch", style={"background": i["colour"]}), i["label"]],
                   className="hw-legend-item") for i in leg["items"]],
        html.Div([html.Span(className="hw-swatch hw-swatch-emergency"),
                  t("map.legend_emergency", lang, day=fmt_date(state.day, lang))], className="hw-legend-item"),
    ])
    summary = t("map.summary", lang, n=fmt_int(payload["total"], lang), cells=fmt_int(len(hexes), lang), res=res,
                start=fmt_date(window[0], lang), end=fmt_date(window[1], lang))
    n_cells = hexes.attrs.get("n_cells", len(hexes))
    capped = t("map.capped", lang, shown=fmt_int(len(hexes), lang), total=fmt_int(n_cells, lang)) if n_cells > len(hexes) else ""
    return payload, legend, summary, capped


@lru_cache(maxsize=8)
def _district_geo(ctx, area: str) -> tuple[dict, list]:
    d = ctx.districts
    d = d[in_area(d["ubigeo"].tolist(), area)]
    return district_geojson(d), bounds_of(d)


def district_panel(ctx, state: UIState) -> list:
    """The panel of the selected district: status on the day, counts, its declarations, weekly chart."""
    lang, u = state.lang, state.district
    views = ctx.views()
    name = views.district_names.get(u, u)
    row = ctx.districts[ctx.districts["ubigeo"] == u]
    province = row["province"].iloc[0] if len(row) else ""
    status = ctx.emergency_on(state.day).get(u)
    day = fmt_date(state.day, lang)
    status_text = (t("panel.status_on", lang, day=day, decree=status["decree"], start=fmt_date(status["start"], lang),
                     end=fmt_date(status["end"], lang)) if status else t("panel.status_off", lang, day=day))
    table = views.district_table(state.window, state.baseline, state.view.categories, min_baseline=ctx.min_baseline)
    r = table[table["ubigeo"] == u]
    n, b = (int(r["n"].iloc[0]), int(r["n_baseline"].iloc[0])) if len(r) else (0, 0)
    chg = float(r["change_pct"].iloc[0]) if len(r) else float("nan")
    spells = [s for s in ctx.spells if u in s.ubigeos]
    start = min(state.view.start, state.baseline[0])
    series = views.weekly_series({name: [u]}, (start, state.view.end), state.view.categories)
    fig = weekly_figure(series, lang, y="n", bands=declared_bands(spells, start, state.view.end, lang), day=state.day,
                        height=220, names={name: name})
    return [
        html.H3(f"{name} ({u})", id="panel-name", **{"data-ubigeo": u}),
        html.P(province, className="hw-hint"),
        html.P(status_text, id="panel-status", className="hw-emergency-text" if status else ""),
        html.P(t("panel.counts", lang, n=fmt_int(n, lang), b=fmt_int(b, lang), chg=fmt_pct(chg, lang))),
        html.H4(t("panel.spells", lang)),
        html.Ul([html.Li(f"{s.spell_id}: {fmt_date(s.start, lang)} – {fmt_date(s.end, lang)}"
                         + ("" if s.confirmed else " (?)")) for s in spells] or [html.Li("—")]),
        dcc.Graph(figure=fig, config={**graph_config(lang), "displayModeBar": False}),
    ]


def register(app, ctx) -> None:
    """Add the map's callbacks to ``app``."""

    @app.callback(Output("hex-payload", "data"), Output("legend", "children"), Output("map-summary", "children"),
                  Output("map-capped", "children"),
                  Input("state", "data"), Input("map", "zoom"), Input("map", "bounds"))
    @guarded("map")
    def update_hexes(state_data, zoom, bounds):
        if not state_data:
            return no_update, no_update, no_update, no_update
        state = UIState.from_store(state_data, ctx.catalog())
        return hex_view(ctx, state, zoom, bounds, check("map"))

    @app.callback(Output("district-geo", "data"), Output("map", "viewport"), Input("area", "value"))
    @guarded("map")
    def update_district_geo(area):
        geo, bounds = _district_geo(ctx, area if area in ("lima_callao", "sullana", "all") else "all")
        return geo, {"bounds": bounds, "transition": "fitBounds"}

    @app.callback(Output("emergency", "data"), Input("state", "data"))
    @guarded("map")
    def update_emergency(state_data):
        if not state_data:
            return no_update
        state = UIState.from_store(state_data, ctx.catalog())
        labels = emergency_labels(ctx, state.day, state.lang)
        return {"day": state.day.isoformat(), "lang": state.lang,
                "districts": {u: {"label": e["label"], "decree": e["decree"], "start": e["start"], "end": e["end"]}
                              for u, e in labels.items()},
                "title": t("tip.emergency", state.lang)}

    @app.callback(Output("district-panel", "className"), Output("panel-body", "children"), Input("state", "data"))
    @guarded("district")
    def update_panel(state_data):
        if not state_data:
            return no_update, no_update
        state = UIState.from_store(state_data, ctx.catalog())
        if not state.district:
            return "hw-panel", [html.P(t("panel.hint", state.lang), className="hw-hint")]
        return "hw-panel hw-panel-open", district_panel(ctx, state)

    app.clientside_callback(
        ClientsideFunction(namespace="hexwatch", function_name="decodeHexes"),
        Output("hexes", "data"), Output("map-status", "data-hexes"), Output("map-status", "data-total"),
        Input("hex-payload", "data"))
    app.clientside_callback(
        ClientsideFunction(namespace="hexwatch", function_name="renderDistricts"),
        Output("district-fill", "data"), Output("emergency-outline", "data"), Output("map-status", "data-emergency"),
        Output("map-status", "data-districts"),
        Input("district-geo", "data"), Input("emergency", "data"))

