"""Standalone public maps: one HTML file that draws with no internet, for an ``<iframe>``.

:func:`embed_html` renders a view's *public* data (:func:`geo.export.view_data` with
``public=True``, so every privacy rule of :mod:`geo.privacy` applies) as a folium map:
hexes coloured by the view's metric, district outlines with the emergency status, a
title with the period and categories, a legend, and a banner when the data are
synthetic. Labels are Spanish (default) or English.

Offline by construction: folium's CDN links are removed and Leaflet's JS and CSS are
inlined from the ``django-js-lib-leaflet`` package's files (its images as data URIs);
there is no tile layer. :func:`embed_html` refuses to return a page that still
references an external asset. Strings from data (categories, district names, decree
ids) are HTML-escaped before they reach a tooltip or a panel, and the data block is
JSON with ``<``, ``>`` and ``&`` escaped, so a ``<script>`` in a category name shows
as text and never runs.

Example
-------
>>> js, css = leaflet_assets()
>>> "L.version" in js or "version" in js, ".leaflet-container" in css, "url(images/" in css
(True, True, False)
"""

from __future__ import annotations

import base64
import html
import os
import re
from functools import lru_cache
from importlib import resources

import folium
import numpy as np
import shapely
from branca.element import Element

from geo import privacy
from geo.errors import HexwatchError
from geo.export import ViewData, view_data
from geo.store import Store
from geo.viewspec import View

#: Languages the embed speaks.
LANGS = ("es", "en")

LABELS: dict[str, dict[str, str]] = {
    "es": {
        "title": "Incidentes por hexágono",
        "synthetic": "DATOS SINTÉTICOS DE DEMOSTRACIÓN: no son incidentes reales",
        "synthetic_hexes": "Hexágonos: DATOS SINTÉTICOS DE DEMOSTRACIÓN, no son incidentes reales · "
                           "los conteos reales por distrito ({real}) no están en este mapa",
        "period": "Periodo",
        "categories": "Categorías",
        "all_categories": "todas (excepto las sensibles)",
        "area": "Zona",
        "hex": "Hexágono",
        "incidents": "Incidentes",
        "rate": "Incidentes por km²",
        "change": "Cambio frente a la línea base",
        "baseline": "Línea base",
        "no_change": "sin dato exacto",
        "district": "Distrito",
        "emergency": "En estado de emergencia",
        "no_emergency": "Sin estado de emergencia en el periodo",
        "decrees": "Decretos",
        "suppressed": "Para proteger a las víctimas, los conteos menores que {k} se muestran como «< {k}» "
                      "y los rangos «a–b» incluyen celdas así protegidas (se colorean por su mínimo). "
                      "Hexágonos de resolución H3 {res}.",
        "source": "Fuente",
        "legend_declared": "Distrito en emergencia",
        "no_data": "Sin incidentes publicables en esta vista",
    },
    "en": {
        "title": "Incidents per hexagon",
        "synthetic": "SYNTHETIC DEMO DATA: not real incidents",
        "synthetic_hexes": "Hexes: SYNTHETIC DEMO DATA, not real incidents · "
                           "the real district counts ({real}) are not on this map",
        "period": "Period",
        "categories": "Categories",
        "all_categories": "all (except sensitive ones)",
        "area": "Area",
        "hex": "Hexagon",
        "incidents": "Incidents",
        "rate": "Incidents per km²",
        "change": "Change vs baseline",
        "baseline": "Baseline",
        "no_change": "no exact figure",
        "district": "District",
        "emergency": "Under a state of emergency",
        "no_emergency": "No state of emergency in the period",
        "decrees": "Decrees",
        "suppressed": "To protect victims, counts below {k} are shown as \u201c< {k}\u201d and ranges \u201ca–b\u201d "
                      "include cells protected that way (coloured by their minimum). H3 resolution {res} hexagons.",
        "source": "Source",
        "legend_declared": "District under emergency",
        "no_data": "No publishable incidents in this view",
    },
}
_AREA_NAMES = {"es": {"all": "todas", "lima_callao": "Lima y Callao", "sullana": "Sullana"},
               "en": {"all": "all", "lima_callao": "Lima and Callao", "sullana": "Sullana"}}
# ColorBrewer YlOrRd (sequential) and RdBu reversed (diverging: red = more incidents).
_SEQUENTIAL = ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026")
_DIVERGING = ("#2166ac", "#67a9cf", "#d1e5f0", "#fddbc7", "#ef8a62", "#b2182b")
_UNKNOWN = "#bdbdbd"
_EXTERNAL = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)


@lru_cache(maxsize=1)
def leaflet_assets() -> tuple[str, str]:
    """Leaflet's JS and CSS from the installed ``js_lib_leaflet`` package, the CSS's
    images inlined as data URIs (so nothing is fetched, even for the layers control)."""
    root = resources.files("js_lib_leaflet") / "static" / "js_lib_leaflet"
    js = (root / "leaflet.js").read_text(encoding="utf-8")
    css = (root / "leaflet.css").read_text(encoding="utf-8")

    def data_uri(m: re.Match) -> str:
        data = (root / "images" / m.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode()})"

    css = re.sub(r"url\(images/([\w\-.]+\.png)\)", data_uri, css)
    # The closing-tag sequence cannot appear inside an inline block.
    return js.replace("</script", "<\\/script"), css.replace("</style", "<\\/style")


def _esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _bins(values: np.ndarray, n: int) -> np.ndarray:
    """Up to ``n - 1`` increasing class breaks from the quantiles of the finite values."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return np.zeros(0)
    return np.unique(np.quantile(v, np.linspace(0, 1, n + 1)[1:-1]))


def _hex_colours(data: ViewData) -> tuple[np.ndarray, list[tuple[str, str]], str]:
    """Fill colour of each hex, the legend entries and the legend title key."""
    hx = data.hexes
    metric = data.view.metric
    if metric == "change":
        values = hx["change_pct"].to_numpy(dtype=float)
        breaks = np.array([-50.0, -20.0, 0.0, 20.0, 50.0])
        palette, title = _DIVERGING, "change"
        fmt = lambda x: f"{x:+.0f} %"  # noqa: E731
    else:
        # A hex shown as a range is coloured by its lower end: the count it has at least.
        values = hx["rate_km2" if metric == "rate" else "count_low"].to_numpy(dtype=float)
        breaks = _bins(values, len(_SEQUENTIAL))
        palette, title = _SEQUENTIAL, "rate" if metric == "rate" else "incidents"
        fmt = lambda x: f"{x:,.1f}" if metric == "rate" else f"{x:,.0f}"  # noqa: E731
    cls = np.searchsorted(breaks, values, side="right")
    colours = np.where(np.isfinite(values), np.asarray(palette, dtype=object)[np.minimum(cls, len(palette) - 1)], _UNKNOWN)
    edges = [None, *breaks.tolist(), None]
    legend = []
    for i in range(len(breaks) + 1):
        lo, hi = edges[i], edges[i + 1]
        if lo is None and hi is None:
            label = "—"
        elif metric == "count" and hi is not None:  # whole counts: a class is lo..hi-1
            first = 0 if lo is None else int(lo)
            label = f"{first}–{int(hi) - 1}" if int(hi) - 1 > first else f"{first}"
        else:
            label = f"< {fmt(hi)}" if lo is None else f"≥ {fmt(lo)}"
        legend.append((palette[min(i, len(palette) - 1)], label))
    legend.append((_UNKNOWN, "?"))
    return colours.astype(object), legend, title


def _hex_tips(data: ViewData, t: dict[str, str]) -> list[str]:
    hx = data.hexes
    change = hx["change_pct"].to_numpy(dtype=float)
    change_txt = np.where(np.isfinite(change), np.char.add(np.char.mod("%+.1f", np.nan_to_num(change)), " %"),
                          t["no_change"])
    return [f"<b>{_esc(t['hex'])}</b> {_esc(h)}<br>{_esc(t['incidents'])}: <b>{_esc(lab)}</b><br>"
            f"{_esc(t['change'])}: {_esc(c)}"
            for h, lab, c in zip(hx["h3"].tolist(), hx["count_label"].tolist(), change_txt.tolist())]


def _district_tips(data: ViewData, t: dict[str, str]) -> list[str]:
    d = data.districts
    out = []
    for name, ub, emerg, decrees, a, b in zip(d["name"].tolist(), d["ubigeo"].tolist(), d["emergency"].tolist(),
                                              d["decrees"].tolist(), d["emergency_start"].tolist(),
                                              d["emergency_end"].tolist()):
        status = (f"{_esc(t['emergency'])}<br>{_esc(t['decrees'])}: {_esc(decrees)}<br>{_esc(a)} – {_esc(b)}"
                  if emerg else _esc(t["no_emergency"]))
        out.append(f"<b>{_esc(name)}</b> ({_esc(ub)})<br>{status}")
    return out


def _feature_collection(geoms, tips: list[str], ids: list[str]) -> dict:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": i, "geometry": g.__geo_interface__, "properties": {"id": i, "tip": tip}}
        for g, tip, i in zip(geoms, tips, ids)]}


def _panel(data: ViewData, t: dict[str, str], lang: str) -> str:
    v = data.view
    cats = ", ".join(data.categories) if v.categories else t["all_categories"]
    rows = [f"<div class='hw-title'>{_esc(t['title'])}</div>",
            f"<div>{_esc(t['period'])}: {_esc(v.start)} – {_esc(v.end)}</div>",
            f"<div>{_esc(t['categories'])}: {_esc(cats)}</div>",
            f"<div>{_esc(t['area'])}: {_esc(_AREA_NAMES[lang].get(v.area, v.area))}</div>"]
    if v.spell:
        rows.append(f"<div>{_esc(t['decrees'])}: {_esc(v.spell)}</div>")
    if data.hexes.empty:
        rows.append(f"<div><i>{_esc(t['no_data'])}</i></div>")
    return "".join(rows)


def render_embed(data: ViewData, *, lang: str = "es") -> str:
    """The standalone HTML page for already computed *public* view data."""
    if lang not in LANGS:
        raise HexwatchError(f"language {lang!r} is not available; use one of {', '.join(LANGS)}")
    if not data.public:
        raise HexwatchError("embeds are public: compute the view with public=True")
    t = LABELS[lang]
    m = folium.Map(location=(-12.05, -77.04), zoom_start=10, tiles=None, control_scale=True)
    # No CDN: the instance's asset lists shadow folium's class-level ones.
    m.default_js, m.default_css = [], []
    js, css = leaflet_assets()
    root = m.get_root()
    root.header.add_child(Element(f"<style>{css}</style>"), name="leaflet_css_inline")
    root.header.add_child(Element(f"<script>{js}</script>"), name="leaflet_js_inline")
    root.header.add_child(Element(_STYLE), name="hexwatch_style")

    bounds = None
    if data.districts is not None and len(data.districts):
        d = data.districts
        emergency = dict(zip(d["ubigeo"].tolist(), d["emergency"].tolist()))
        fc = _feature_collection(d.geometry.values, _district_tips(data, t), d["ubigeo"].astype(str).tolist())
        folium.GeoJson(fc, name=t["district"], tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
                       style_function=lambda f: ({"color": "#b2182b", "weight": 3, "dashArray": "6 3", "fill": False}
                                                 if emergency.get(f["id"]) else
                                                 {"color": "#555555", "weight": 1, "fill": False})).add_to(m)
        bounds = d.total_bounds
    hx = data.hexes
    legend: list[tuple[str, str]] = []
    legend_title = "incidents"
    if len(hx):
        colours, legend, legend_title = _hex_colours(data)
        colour = dict(zip(hx["h3"].tolist(), colours.tolist()))
        fc = _feature_collection(hx["geometry"].to_numpy(), _hex_tips(data, t), hx["h3"].tolist())
        folium.GeoJson(fc, name=t["hex"], tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
                       style_function=lambda f: {"fillColor": colour[f["id"]], "fillOpacity": 0.7,
                                                 "color": "#666666", "weight": 0.5}).add_to(m)
        bounds = shapely.total_bounds(hx["geometry"].to_numpy())
    if bounds is not None and np.all(np.isfinite(bounds)):
        m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])

    prov = data.provenance
    # Say which layer is synthetic when the store also holds real counts (not drawn here).
    real = [info for info in (prov.get("layers") or {}).values() if not info.get("synthetic")]
    warning = t["synthetic_hexes"].format(real=real[0].get("attribution") or real[0].get("title", "")) if real else t["synthetic"]
    banner = f"<div class='hw-banner'>{_esc(warning)}</div>" if prov.get("synthetic") else ""
    legend_rows = "".join(f"<div><span class='hw-swatch' style='background:{c}'></span>{_esc(lab)}</div>"
                          for c, lab in legend)
    if data.districts is not None and data.districts["emergency"].any():
        legend_rows += f"<div><span class='hw-swatch hw-declared'></span>{_esc(t['legend_declared'])}</div>"
    k = (prov.get("privacy") or {}).get("k", privacy.DEFAULT_K)
    note = t["suppressed"].format(k=k, res=data.view.resolution)
    source = f"{t['source']}: {prov.get('dataset') or 'hexwatch'} · hexwatch {prov.get('hexwatch_version', '')}"
    root.html.add_child(Element(
        f"{banner}<div class='hw-panel'>{_panel(data, t, lang)}</div>"
        f"<div class='hw-legend'><div class='hw-title'>{_esc(t[legend_title])}</div>{legend_rows}"
        f"<div class='hw-note'>{_esc(note)}</div><div class='hw-note'>{_esc(source)}</div></div>"), name="hexwatch_panels")
    page = root.render()
    page = page.replace("<html>", f"<html lang=\"{lang}\">", 1)
    if _EXTERNAL.search(page):
        raise RuntimeError("embed page references an external asset; it would not draw offline")
    return page


_STYLE = """<style>
.leaflet-container { background: #f2f1ec; }
.hw-banner { position: absolute; top: 0; left: 0; right: 0; z-index: 1001; background: #b2182b; color: #fff;
  font: bold 13px sans-serif; text-align: center; padding: 3px; }
.hw-panel, .hw-legend { position: absolute; z-index: 1000; background: rgba(255,255,255,.92); padding: 6px 9px;
  font: 12px sans-serif; border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,.3); max-width: 320px; }
.hw-panel { top: 28px; left: 50px; }
.hw-legend { bottom: 24px; right: 10px; }
.hw-title { font-weight: bold; margin-bottom: 3px; }
.hw-note { color: #555; margin-top: 4px; font-size: 11px; }
.hw-swatch { display: inline-block; width: 14px; height: 10px; margin-right: 5px; border: 1px solid #888; }
.hw-declared { border: 2px dashed #b2182b; background: transparent; }
</style>"""


def embed_html(store: str | os.PathLike | Store, view: View, *, lang: str = "es", k: int = privacy.DEFAULT_K,
               grid: privacy.PublicGrid | None = None, registry=None, districts=None) -> str:
    """A standalone, offline HTML map of ``view``'s public data (see the module docstring).

    ``k`` and ``grid`` are the privacy settings (:class:`geo.privacy.PublicGrid`);
    ``districts`` and ``registry`` default to the fetched boundaries and the bundled
    declarations. A server's ``/embed`` route is ``embed_html(store,
    View.from_query(request.query_string), lang=...)`` with its configured grid.
    """
    if lang not in LANGS:
        raise HexwatchError(f"language {lang!r} is not available; use one of {', '.join(LANGS)}")
    return render_embed(view_data(store, view, public=True, k=k, grid=grid, registry=registry, districts=districts),
                        lang=lang)
