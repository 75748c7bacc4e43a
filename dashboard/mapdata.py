"""What the map sends to the browser: compact hex payloads, colour classes, district outlines.

A GeoJSON of 5,000 hexagons is about 1.5 MB; the map instead receives one base64
buffer holding, per hex, its cell id, centre (1e-6°), vertex offsets from the centre
(int8, in units of ``q`` micro-degrees: under 15 m of error at resolution 7, under 1 m
at 10), counts, change and district, about 57 bytes a hex once base64-encoded;
``assets/hexwatch.js`` rebuilds the features in the browser (a clientside callback), so
the payload stays well under 400 KB for 5,000 hexes.

Buffer layout (little endian, ``n`` hexes, ``m`` vertices in all)::

    uint64[n] cell | int32[n] centre lat | int32[n] centre lon | uint32[n] count
    | uint32[n] baseline count | int16[n] change in 0.1 % (-32768 = none)
    | int16[n] district index (-1 = none) | int8[2m] vertex (lat, lon) offsets
    | uint8[n] vertices per hex | int8[n] colour class (-1 = none)
"""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from dashboard.i18n import fmt_num, fmt_pct, t

_Q = 1e6  # coordinate quantum: 1e-6 degree (~0.1 m)

#: Sequential palette for counts and rates (light = few), ColorBrewer YlOrRd.
SEQUENTIAL = ["#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026"]
#: Diverging palette for change, ColorBrewer RdBu reversed: blue = fewer, red = more.
DIVERGING = ["#2166ac", "#67a9cf", "#d1e5f0", "#f7f7f7", "#fddbc7", "#ef8a62", "#b2182b"]
NA_COLOUR = "#bdbdbd"


def hex_geometry(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centres and vertex offsets of cells: ``(lat, lon, offsets, n_vertices)``.

    ``lat``/``lon`` are int64 micro-degrees (1e-6°), ``offsets`` an int64 array of
    (lat, lon) pairs from the centre in micro-degrees, ``n_vertices`` per cell.
    """
    from h3ronpy import vector as h3v

    cells = np.asarray(cells, dtype=np.uint64)
    if len(cells) == 0:
        z = np.zeros(0, np.int64)
        return z, z, z, np.zeros(0, np.uint8)
    wkb = np.asarray(pa.array(h3v.cells_to_wkb_polygons(cells)).to_pylist(), dtype=object)
    rings = shapely.get_exterior_ring(shapely.from_wkb(wkb))
    xy, which = shapely.get_coordinates(rings, return_index=True)
    # Each ring repeats its first vertex last; drop it.
    counts = np.bincount(which, minlength=len(cells))
    keep = np.ones(len(xy), dtype=bool)
    keep[np.cumsum(counts) - 1] = False
    xy, which = xy[keep], which[keep]
    nv = counts - 1
    lon_q = np.round(xy[:, 0] * _Q).astype(np.int64)
    lat_q = np.round(xy[:, 1] * _Q).astype(np.int64)
    # The centre is the mean of the vertices, so offsets are small and symmetric.
    c_lat = np.round(np.bincount(which, weights=lat_q) / nv).astype(np.int64)
    c_lon = np.round(np.bincount(which, weights=lon_q) / nv).astype(np.int64)
    off = np.empty(2 * len(xy), dtype=np.int64)
    off[0::2] = lat_q - c_lat[which]
    off[1::2] = lon_q - c_lon[which]
    return c_lat, c_lon, off, nv.astype(np.uint8)


def encode_hexes(cells: np.ndarray, n: np.ndarray, n_baseline: np.ndarray, change: np.ndarray,
                 district: np.ndarray, cls: np.ndarray) -> tuple[str, int]:
    """The buffer of the module docstring (URL-safe base64) and the offset quantum ``q`` (micro-degrees)."""
    lat, lon, off, nv = hex_geometry(cells)
    q = max(1, int(np.ceil(np.abs(off).max(initial=0) / 127)))
    chg = np.where(np.isfinite(change), np.clip(np.round(np.nan_to_num(change) * 10), -32767, 32767), -32768)
    parts = [np.asarray(cells, "<u8"), lat.astype("<i4"), lon.astype("<i4"),
             np.minimum(n, 2**32 - 1).astype("<u4"), np.minimum(n_baseline, 2**32 - 1).astype("<u4"),
             chg.astype("<i2"), np.asarray(district).astype("<i2"), np.round(off / q).astype(np.int8), nv,
             np.asarray(cls).astype(np.int8)]
    # URL-safe alphabet: Dash's JSON encoder escapes "/" as six bytes.
    return base64.urlsafe_b64encode(b"".join(p.tobytes() for p in parts)).decode("ascii"), q


def class_labels(lg, lang: str, *, unit: str = "", signed: bool = False) -> list[str]:
    """Labels of a :class:`geo.legend.Legend`'s classes in ``lang``: each class is
    ``[lo, next break - one step]`` of the values as shown (whole counts, or the
    legend's decimals), so no two labels share a number ("1–5, 6–18, ≥ 19").

    >>> from geo.legend import classes
    >>> class_labels(classes([1, 7, 2000], breaks=[6, 1500]), "es")
    ['1–5', '6–1.499', '≥ 1.500']
    """
    d, step = lg.decimals, 10.0 ** -lg.decimals
    b = list(lg.breaks)

    def f(x: float) -> str:
        sign = "+" if signed and x > 0 else ""
        return sign + fmt_num(x, lang, d) + unit

    if not b:
        return [t("map.legend_any", lang)]
    lowest = 0.0 if b[0] > 0 else None
    out, edges = [], [lowest, *b]
    for i, lo in enumerate(edges):
        if i == len(edges) - 1:
            out.append(f"≥ {f(lo)}")
        elif lo is None:
            out.append(f"≤ {f(edges[i + 1] - step)}")
        else:
            hi = round(edges[i + 1] - step, d)
            lo_txt = fmt_num(lo, lang, d) if not signed or lo <= 0 else "+" + fmt_num(lo, lang, d)
            out.append(f(lo) if hi <= lo else f"{lo_txt}{' – ' if signed else '–'}{f(hi)}")
    return out


#: Extra classes of a public change map, whose counts are known only as ranges
#: (:func:`geo.legend.interval_classes`): class code -> (colour, label key).
RANGE_CLASSES = {-2: ("#f4a582", "map.legend_rise"), -3: ("#92c5de", "map.legend_fall"),
                 -4: ("#f7f7f7", "map.legend_uncertain")}


def palette_for(metric: str, n_classes: int) -> list[str]:
    """Colours of ``n_classes`` classes: the diverging scale for change, else the last
    ``n_classes`` of the sequential one (both ColorBrewer, colour-blind safe)."""
    if metric == "change":
        return DIVERGING[:n_classes] if n_classes == len(DIVERGING) else DIVERGING[(len(DIVERGING) - n_classes) // 2:][:n_classes]
    return SEQUENTIAL[max(0, len(SEQUENTIAL) - n_classes):]


def legend_payload(lg, cls: np.ndarray, metric: str, lang: str, min_baseline: int, *,
                   fixed: bool, public: bool = False) -> tuple[dict, list[str], np.ndarray]:
    """Legend ``{"title", "items": [{"colour", "label", "n"}], "fixed"}``, palette, and
    the class codes as the buffer carries them (range classes moved after the palette).

    ``cls`` are :meth:`geo.legend.Legend.classify` codes (or :func:`geo.legend.interval_classes`
    codes for a public change map); ``n`` of each item is its histogram bar."""
    labels = class_labels(lg, lang, unit=" %" if metric == "change" else "", signed=metric == "change")
    palette = palette_for(metric, len(labels))
    cls = np.asarray(cls, dtype=np.int64).copy()
    counts = np.bincount(cls[cls >= 0], minlength=len(labels))
    items = [{"colour": c, "label": lab, "n": int(n)} for c, lab, n in zip(palette, labels, counts)]
    if metric == "change" and public:
        for code, (colour, key) in RANGE_CLASSES.items():
            hit = cls == code
            items.append({"colour": colour, "label": t(key, lang), "n": int(hit.sum())})
            palette = [*palette, colour]
            cls[hit] = len(palette) - 1
    n_na = int((cls < 0).sum())
    if metric == "change" or n_na:
        items.append({"colour": NA_COLOUR, "label": t("map.legend_na", lang, k=min_baseline), "n": n_na})
    title = t(f"map.legend_{metric}", lang) + (" " + t("map.legend_at_least", lang) if public and metric != "change" else "")
    return {"title": title, "items": items, "fixed": fixed}, palette, cls


def hex_payload(hexes: pd.DataFrame, *, resolution: int, metric: str, lang: str, names: dict[str, str],
                emergency: dict[str, str], min_baseline: int, legend, cls: np.ndarray | None = None,
                values: np.ndarray | None = None, public: bool = False, fixed: bool = True) -> dict:
    """The map's hex update: geometry buffer, values, colours, tooltip labels and legend.

    ``hexes`` is :meth:`geo.views.StoreViews.hex_counts` output; ``names`` maps ubigeo to
    district name; ``emergency`` maps declared ubigeos to their decree label; ``legend``
    is the :class:`geo.legend.Legend` whose (fixed) classes colour the map; ``cls`` the
    class codes, else ``legend.classify(values)`` (default values: the metric's column).
    """
    if cls is None:
        if values is None:
            values = {"count": hexes["n"], "rate": hexes["rate_km2"], "change": hexes["change_pct"]}[metric]
        cls = legend.classify(np.asarray(values, dtype=np.float64))
    leg, palette, cls = legend_payload(legend, cls, metric, lang, min_baseline, fixed=fixed, public=public)
    ub = hexes["ubigeo"].to_numpy(dtype=object) if "ubigeo" in hexes else np.full(len(hexes), None, dtype=object)
    codes, uniq = pd.factorize(pd.Series(ub, dtype=object), use_na_sentinel=True)
    uniq = [str(u) for u in uniq]
    geom, q = encode_hexes(hexes["cell"].to_numpy(np.uint64), hexes["n"].to_numpy(), hexes["n_baseline"].to_numpy(),
                           hexes["change_pct"].to_numpy(np.float64), codes, cls)
    payload = {
        "res": int(resolution),
        "metric": metric,
        "lang": lang,
        "count": len(hexes),
        "q": q,
        "buf": geom,
        "ubs": uniq,
        "names": [names.get(u, u) for u in uniq],
        "emer": [emergency.get(u) for u in uniq],
        "palette": palette,
        "na": NA_COLOUR,
        "labels": {k: t(f"tip.{k}", lang) for k in ("cell", "count", "baseline", "change", "rate", "district",
                                                        "emergency", "none", "outside")},
        "legend": leg,
        "total": int(hexes["n"].sum()),
    }
    if metric == "rate":
        payload["rate"] = [round(float(x), 2) for x in hexes["rate_km2"]]
    return payload


def district_geojson(districts, tolerance_deg: float = 0.0003) -> dict:
    """District outlines as GeoJSON, simplified together so neighbours keep a shared edge.

    ``districts`` is :meth:`geo.views.StoreViews.outlines` output (``label`` tells apart
    names that repeat across a city's boroughs). Coordinates are rounded to 1e-5°
    (about 1 m) to keep the one-off download small. No districts: an empty collection.
    """
    if districts is None or len(districts) == 0:
        return {"type": "FeatureCollection", "features": []}
    geoms = shapely.coverage_simplify(districts.geometry.to_numpy(), tolerance_deg)
    geoms = shapely.set_precision(geoms, 1e-5)
    names = districts["label"] if "label" in districts else districts["name"]
    provinces = districts["province"] if "province" in districts else [None] * len(districts)
    features = []
    for ubigeo, name, province, g in zip(districts["ubigeo"], names, provinces, geoms):
        features.append({"type": "Feature", "geometry": shapely.geometry.mapping(g),
                         "properties": {"ubigeo": str(ubigeo), "name": name, "province": province}})
    return {"type": "FeatureCollection", "features": features}


def bounds_of(districts) -> list[list[float]]:
    """Leaflet bounds ``[[south, west], [north, east]]`` of a district frame."""
    w, s, e, n = districts.total_bounds
    return [[float(s), float(w)], [float(n), float(e)]]
