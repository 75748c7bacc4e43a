"""Map callbacks: hex payload, district outlines, emergency overlay, district panel,
officials' incident points, share and export links.

Officials get exact hexes (:meth:`geo.views.StoreViews.hex_counts`); everyone else
gets the public view (:func:`geo.export.view_data` with ``public=True``: every number
from the fixed published grid, counts below k as labels), see ``docs/privacy.md``.
"""

from __future__ import annotations

import datetime as dt
import html as _html
import threading
from functools import lru_cache

import numpy as np
import pandas as pd
from dash import ClientsideFunction, Input, Output, dcc, html, no_update

from dashboard import sharing
from dashboard.access import ALLOWED, check, guarded, may, public_grid
from dashboard.charts import declared_bands, graph_config, weekly_figure
from dashboard.i18n import fmt_date, fmt_int, fmt_pct, norm_lang, t
from dashboard.mapdata import bounds_of, district_geojson, hex_payload
from dashboard.pages.map import counts_layer
from dashboard.state import UIState, resolution_for_zoom
from geo.h3index import cells_to_latlng
from geo.legend import change_interval, interval_classes
from geo.viewspec import View

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


def _legend(ctx, payload: dict, state: UIState) -> html.Div:
    """Title, one row per class with its swatch, range and a histogram bar (hexes in the
    class on this map), the emergency outline."""
    leg, lang = payload["legend"], state.lang
    most = max([i.get("n", 0) for i in leg["items"]] + [1])
    return html.Div([
        html.Div(leg["title"], className="hw-legend-title"),
        *[html.Div([html.Span(className="hw-swatch", style={"background": i["colour"]}), html.Span(i["label"]),
                    html.Span(className="hw-hist", style={"width": f"{round(60 * i.get('n', 0) / most)}px"},
                              title=t("map.legend_hist", lang, n=fmt_int(i.get("n", 0), lang))),
                    html.Span(fmt_int(i.get("n", 0), lang), className="hw-legend-count")],
                   className="hw-legend-item") for i in leg["items"]],
        html.Div(t("map.legend_fixed" if leg.get("fixed") else "map.legend_own", lang), className="hw-hint"),
        *([html.Div([html.Span(className="hw-swatch hw-swatch-emergency"),
                     t("map.legend_emergency", lang, day=fmt_date(state.day, lang))], className="hw-legend-item")]
          if ctx.spells else []),
    ])


def hex_view(ctx, state: UIState, zoom, bounds, role: str) -> tuple[dict, html.Div, str, str]:
    """Hex payload, legend and summary text for a state and viewport; the public view
    unless ``role`` may see exact hexes."""
    if "hexes" not in ALLOWED.get(role, ()):
        return public_hex_view(ctx, state, zoom, bounds)
    lang, v = state.lang, state.view
    res = resolution_for_zoom(zoom) if state.zoomres else v.resolution
    views = ctx.views()
    res = min(views.resolutions, key=lambda r: (abs(r - res), -r)) if res not in views.resolutions else res
    window, baseline = state.window, state.baseline
    hexes = views.hex_counts(res, window, v.categories, baseline=baseline, bbox=_bbox(bounds), area=v.area)
    emergency = {u: e["label"] for u, e in emergency_labels(ctx, state.day, lang).items()}
    days = (window[1] - window[0]).days + 1
    values = {"count": hexes["n"], "rate": hexes["rate_km2"], "change": hexes["change_pct"]}[v.metric]
    lg, fixed = legend_or_own(cached_legend(ctx, False, res, days, tuple(v.categories), v.metric), values, v.metric)
    payload = hex_payload(hexes, resolution=res, metric=v.metric, lang=lang, names=views.district_names,
                          emergency=emergency, min_baseline=ctx.min_baseline, legend=lg, values=values, fixed=fixed)
    summary = t("map.summary", lang, n=fmt_int(payload["total"], lang), cells=fmt_int(len(hexes), lang), res=res,
                start=fmt_date(window[0], lang), end=fmt_date(window[1], lang))
    n_cells = hexes.attrs.get("n_cells", len(hexes))
    capped = t("map.capped", lang, shown=fmt_int(len(hexes), lang), total=fmt_int(n_cells, lang)) if n_cells > len(hexes) else ""
    return payload, _legend(ctx, payload, state), summary, capped


#: Window lengths (days) whose fixed classes are computed; a view uses the nearest (in
#: ratio), so a 60- and a 61-day view share colours and a handful of legends cover every view.
LEGEND_DAYS = (1, 7, 14, 28, 31, 61, 91, 182, 365, 730, 1461)
_legends: dict = {}
_pending: set = set()
_legends_lock = threading.Lock()


def legend_days(days: int) -> int:
    """The :data:`LEGEND_DAYS` bucket of a window of ``days``.

    >>> legend_days(60), legend_days(100), legend_days(7)
    (61, 91, 7)
    """
    return min(LEGEND_DAYS, key=lambda d: abs(np.log(d / max(days, 1))))


def cached_legend(ctx, public: bool, resolution: int, days: int, categories: tuple, metric: str, *, grid=None):
    """The fixed classes of this kind of view, or ``None`` while they are being computed.

    Whole-period quantiles cost 0.05–5 s on the 1M demo (the public ones read the whole
    published grid), too long for a callback: a miss starts the computation in the
    background and the caller draws this view with its own classes, saying so, until the
    next request finds them (``warm`` computes the home view's up front)."""
    version = ctx.store().version
    key = (id(ctx), public, version, int(resolution), legend_days(days), tuple(categories), metric)
    with _legends_lock:
        hit = _legends.get(key)
        if hit is not None or key in _pending:
            return hit
        _pending.add(key)
    grid = grid if grid is not None else (public_grid() if public else None)

    def compute() -> None:
        try:
            if public:
                from geo.export import public_fixed_classes

                lg = public_fixed_classes(ctx.store(), resolution, key[4], list(categories) or None, metric=metric,
                                          grid=grid)
            else:
                lg = ctx.views().fixed_classes(resolution, key[4], list(categories) or None, metric=metric)
            with _legends_lock:
                _legends[key] = lg
                while len(_legends) > 512:
                    _legends.pop(next(iter(_legends)))
        finally:
            with _legends_lock:
                _pending.discard(key)

    if metric == "change":  # fixed constants: no reason to wait
        compute()
        return _legends.get(key)
    threading.Thread(target=compute, name="hexwatch-legend", daemon=True).start()
    return None


def legend_or_own(lg, values, metric: str):
    """``(legend, fixed)``: the fixed classes, else this view's own quantiles (not fixed)."""
    if lg is not None:
        return lg, True
    from geo import legend

    return legend.classes(np.asarray(values, dtype=float), decimals=1 if metric == "rate" else 0), False


@lru_cache(maxsize=16)
def _public_data(ctx, version: str, view: View):
    """The public view data (cached per store version: the grid never changes within one)."""
    from geo.export import view_data

    return view_data(ctx.store(), view, public=True, grid=public_grid(), registry=ctx.registry, districts=ctx.districts,
                     with_district_layer=False, with_hex_geometry=False)


def public_hex_view(ctx, state: UIState, zoom, bounds) -> tuple[dict, html.Div, str, str]:
    """The public map: hexes of the published grid only (resolution ≤ the grid's, whole
    periods, no sensitive categories). A hex's count goes in the payload only when it is
    exact (then ≥ k); otherwise 0, with its label (``"< 5"``, ``"8–11"``) in ``clab``
    and its colour from the lower end."""
    lang, v = state.lang, state.view
    data = _public_data(ctx, ctx.store().version, sharing.view_of(state, zoom))
    hx = data.hexes
    bbox = _bbox(bounds)
    if bbox is not None and len(hx):
        lat, lon = cells_to_latlng(hx["cell"].to_numpy(np.uint64))  # centre in view, as the official map does
        s, w, n, e = bbox
        hx = hx.loc[(lat >= s) & (lat <= n) & (lon >= w) & (lon <= e)]
    count, base = hx["count"], hx["baseline_count"]
    frame = pd.DataFrame({"cell": hx["cell"].to_numpy(np.uint64), "n": count.fillna(0).to_numpy(np.int64),
                          "n_baseline": base.fillna(0).to_numpy(np.int64),
                          "change_pct": hx["change_pct"].to_numpy(np.float64),
                          "rate_km2": hx["rate_km2"].to_numpy(np.float64), "ubigeo": hx["ubigeo"].to_numpy(object)})
    emergency = {u: e["label"] for u, e in emergency_labels(ctx, state.day, lang).items()}
    dv = data.view
    days = (dv.end - dv.start).days + 1
    low = hx["count_low"].to_numpy(np.float64)
    own = low if v.metric == "count" else low / hx["area_km2"].to_numpy(np.float64)
    lg, fixed = legend_or_own(cached_legend(ctx, True, dv.resolution, days, tuple(v.categories), v.metric), own,
                              v.metric)
    # Public counts are ranges; every colour is derived from the range, never from a hidden count:
    # count and rate from the lower end ("at least"), change from the range of changes the ranges allow.
    if v.metric == "count":
        cls = lg.classify(low)
    elif v.metric == "rate":
        cls = lg.classify(low / hx["area_km2"].to_numpy(np.float64))
    else:
        b0, b1 = dv.baseline_window()
        lo, hi = change_interval(low, hx["count_high"].to_numpy(np.float64), hx["baseline_low"].to_numpy(np.float64),
                                 hx["baseline_high"].to_numpy(np.float64), days, (b1 - b0).days + 1, ctx.min_baseline)
        cls = interval_classes(lo, hi, lg.breaks)
    payload = hex_payload(frame, resolution=dv.resolution, metric=v.metric, lang=lang,
                          names=ctx.views().district_names, emergency=emergency, min_baseline=ctx.min_baseline,
                          legend=lg, cls=cls, public=True, fixed=fixed)
    exact = count.notna().to_numpy()
    payload["clab"] = np.where(exact, [fmt_int(x, lang) for x in frame["n"]], hx["count_label"].to_numpy(object)).tolist()
    payload["blab"] = np.where(base.notna().to_numpy(), [fmt_int(x, lang) for x in frame["n_baseline"]],
                               t("tip.none", lang)).tolist()
    payload["total"] = int(hx["count_low"].sum())
    if v.metric == "rate":  # "at least": the lower end over the cell's area
        payload["rate"] = np.round(low / hx["area_km2"].to_numpy(np.float64), 2).tolist()
    summary = t("map.summary_public", lang, n=fmt_int(payload["total"], lang), cells=fmt_int(len(hx), lang),
                res=dv.resolution, start=fmt_date(dv.start, lang), end=fmt_date(dv.end, lang), k=public_grid().k)
    return payload, _legend(ctx, payload, state), summary, ""


@lru_cache(maxsize=16)
def _district_geo(ctx, version: str, area: str) -> tuple[dict, list]:
    """Outlines of ``area``'s districts (GeoJSON) and the area's bounds, per store version."""
    d = ctx.views().outlines(area)
    return district_geojson(d), ctx.extent(area)


def district_panel(ctx, state: UIState, *, detail: bool = True) -> list:
    """The panel of the selected district: status on the day, its declarations and, with
    ``detail`` (officials), its counts and weekly chart."""
    lang, u = state.lang, state.district
    views = ctx.views()
    name = views.district_names.get(u, u)
    d = ctx.districts
    row = d[d["ubigeo"] == u] if d is not None else d
    province = row["province"].iloc[0] if row is not None and len(row) and "province" in row else ""
    status = ctx.emergency_on(state.day).get(u)
    day = fmt_date(state.day, lang)
    status_text = (t("panel.status_on", lang, day=day, decree=status["decree"], start=fmt_date(status["start"], lang),
                     end=fmt_date(status["end"], lang)) if status else t("panel.status_off", lang, day=day))
    spells = [s for s in ctx.spells if u in s.ubigeos]
    head = [html.H3(f"{name} ({u})", id="panel-name", **{"data-ubigeo": u}), html.P(province, className="hw-hint"),
            html.P(status_text, id="panel-status", className="hw-emergency-text" if status else "")]
    spell_list = [html.H4(t("panel.spells", lang)),
                  html.Ul([html.Li(f"{s.spell_id}: {fmt_date(s.start, lang)} – {fmt_date(s.end, lang)}"
                                   + ("" if s.confirmed else " (?)")) for s in spells] or [html.Li("—")])]
    if not detail:  # district counts are not public (docs/privacy.md, rule 6)
        return head + spell_list
    table = views.district_table(state.window, state.baseline, state.view.categories, min_baseline=ctx.min_baseline)
    r = table[table["ubigeo"] == u]
    n, b = (int(r["n"].iloc[0]), int(r["n_baseline"].iloc[0])) if len(r) else (0, 0)
    chg = float(r["change_pct"].iloc[0]) if len(r) else float("nan")
    start = min(state.view.start, state.baseline[0])
    series = views.weekly_series({name: [u]}, (start, state.view.end), state.view.categories)
    fig = weekly_figure(series, lang, y="n", bands=declared_bands(spells, start, state.view.end, lang), day=state.day,
                        height=220, names={name: name})
    return [*head, html.P(t("panel.counts", lang, n=fmt_int(n, lang), b=fmt_int(b, lang), chg=fmt_pct(chg, lang))),
            *spell_list, dcc.Graph(figure=fig, config={**graph_config(lang), "displayModeBar": False})]


#: Officials see individual incidents from this zoom (or at resolution 10 and finer).
POINTS_ZOOM = 15
#: Points drawn at most (the newest): more is unreadable and slow to send.
MAX_POINTS = 2000
_NO_POINTS = {"type": "FeatureCollection", "features": []}


def shows_points(state: UIState, zoom) -> bool:
    """Whether the map is close enough for individual incidents."""
    res = resolution_for_zoom(zoom) if state.zoomres else state.view.resolution
    return res >= 10 or (zoom or 0) >= POINTS_ZOOM


def points_geojson(points: pd.DataFrame, lang: str) -> dict:
    """Incident points as GeoJSON with an escaped tooltip each (category, time, id)."""
    when = pd.to_datetime(points["time"]).dt.strftime("%Y-%m-%d %H:%M").tolist()
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(lo, 6), round(la, 6)]},
                 "properties": {"tooltip": f"<b>{_html.escape(str(c))}</b><br>{w}<br>{_html.escape(str(i))}"}}
                for lo, la, c, w, i in zip(points["lon"].tolist(), points["lat"].tolist(), points["category"].tolist(),
                                           when, points["incident_id"].tolist())]
    return {"type": "FeatureCollection", "features": features}


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

    @app.callback(Output("district-geo", "data"), Output("area-bounds", "data"), Input("area", "value"))
    @guarded("map")
    def update_district_geo(area):
        area = area if area in ctx.area_ids else ctx.home_area
        geo, bounds = _district_geo(ctx, ctx.store().version, area)
        return geo, {"area": area, "bounds": bounds, "home": ctx.home_area}

    # Reads the day and language only: the controller sends each when it changes.
    @app.callback(Output("emergency", "data"), Input("day", "data"), Input("lang", "value"))
    @guarded("map")
    def update_emergency(day, lang):
        try:
            day = dt.date.fromisoformat(day)
        except (TypeError, ValueError):  # before the controller's first answer (or a forged body)
            return no_update
        lang = norm_lang(lang)
        labels = emergency_labels(ctx, day, lang)
        return {"day": day.isoformat(), "lang": lang,
                "districts": {u: {"label": e["label"], "decree": e["decree"], "start": e["start"], "end": e["end"]}
                              for u, e in labels.items()},
                "title": t("tip.emergency", lang)}

    @app.callback(Output("district-panel", "className"), Output("panel-body", "children"), Input("state", "data"))
    @guarded("map")
    def update_panel(state_data):
        if not state_data:
            return no_update, no_update
        state = UIState.from_store(state_data, ctx.catalog())
        if not state.district:
            return "hw-panel", [html.P(t("panel.hint", state.lang), className="hw-hint")]
        return "hw-panel hw-panel-open", district_panel(ctx, state, detail=may("district"))

    @app.callback(Output("points", "data"), Output("points-status", "children"),
                  Input("state", "data"), Input("map", "zoom"), Input("map", "bounds"))
    @guarded("points")
    def update_points(state_data, zoom, bounds):
        if not state_data:
            return no_update, no_update
        state = UIState.from_store(state_data, ctx.catalog())
        if not shows_points(state, zoom):
            return _NO_POINTS, ""
        from geo.points import points_in_view

        pts = points_in_view(ctx.store(), state.window, state.view.categories, bbox=_bbox(bounds),
                             area=state.view.area, limit=MAX_POINTS)
        note = t("map.points", state.lang, shown=fmt_int(len(pts), state.lang),
                 n=fmt_int(pts.attrs["n_points"], state.lang))
        return points_geojson(pts, state.lang), note

    sharing.register_callbacks(app, ctx)
    counts_layer.register(app, ctx)

    # The viewport: the URL hash's zoom and centre on a first load, else the area's bounds.
    app.clientside_callback(ClientsideFunction(namespace="hexwatch", function_name="areaViewport"),
                            Output("map", "viewport"), Input("area-bounds", "data"))
    app.clientside_callback(ClientsideFunction(namespace="hexwatch", function_name="syncHash"),
                            Output("hash-sync", "data"), Input("map", "zoom"), Input("map", "center"))
    app.clientside_callback(ClientsideFunction(namespace="hexwatch", function_name="probeBasemap"),
                            Output("basemap", "children"), Output("basemap-status", "data-basemap"),
                            Input("basemap-config", "data"))
    app.clientside_callback(
        ClientsideFunction(namespace="hexwatch", function_name="decodeHexes"),
        Output("hexes", "data"), Output("map-status", "data-hexes"), Output("map-status", "data-total"),
        Input("hex-payload", "data"))
    app.clientside_callback(
        ClientsideFunction(namespace="hexwatch", function_name="renderDistricts"),
        Output("district-fill", "data"), Output("emergency-outline", "data"), Output("map-status", "data-emergency"),
        Output("map-status", "data-districts"),
        Input("district-geo", "data"), Input("emergency", "data"))

