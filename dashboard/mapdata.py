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
import math

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
#: Change classes in percent; the middle class (-10 %, +10 %) reads as "about the same".
CHANGE_BREAKS = [-50.0, -25.0, -10.0, 10.0, 25.0, 50.0]
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


def _sig(x: float) -> float:
    """Round a class break to 2 significant digits so legends read well."""
    if x <= 0 or not math.isfinite(x):
        return x
    p = 10 ** (math.floor(math.log10(x)) - 1)
    return round(x / p) * p


def classes(values: np.ndarray, metric: str) -> tuple[np.ndarray, list[float], list[str]]:
    """Colour class of each value, the class breaks and the palette.

    Counts and rates: up to six quantile classes (breaks rounded, duplicates merged),
    because incident counts are heavily skewed. Change: fixed symmetric breaks
    (:data:`CHANGE_BREAKS`), so a colour means the same on every map. NaN gets class
    ``-1`` (drawn grey).
    """
    v = np.asarray(values, dtype=np.float64)
    if metric == "change":
        breaks = CHANGE_BREAKS
        palette = DIVERGING
    else:
        finite = v[np.isfinite(v) & (v > 0)]
        if finite.size == 0:
            return np.full(len(v), -1, np.int16), [], SEQUENTIAL[:1]
        qs = np.quantile(finite, [1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6])
        breaks = sorted({_sig(float(q)) for q in qs if q > finite.min()})
        palette = SEQUENTIAL[len(SEQUENTIAL) - len(breaks) - 1:]
    cls = np.searchsorted(np.asarray(breaks), v, side="right").astype(np.int16)
    cls[~np.isfinite(v)] = -1
    return cls, list(breaks), palette


def legend(metric: str, breaks: list[float], palette: list[str], lang: str, min_baseline: int) -> dict:
    """Legend entries ``{"title", "items": [{"colour", "label"}]}`` with units, in ``lang``."""
    title = t(f"map.legend_{metric}", lang)
    decimals = 1 if metric == "rate" else 0

    def f(x: float) -> str:
        return fmt_pct(x, lang, 0) if metric == "change" else fmt_num(x, lang, decimals if x < 100 else 0)

    items = []
    edges = [None, *breaks, None]
    for i, colour in enumerate(palette):
        lo, hi = edges[i], edges[i + 1]
        if lo is None and hi is None:
            label = "> 0"
        elif lo is None:
            label = f"< {f(hi)}"
        elif hi is None:
            label = f"≥ {f(lo)}"
        else:
            label = f"{f(lo)} – {f(hi)}"
        items.append({"colour": colour, "label": label})
    if metric == "change":
        items.append({"colour": NA_COLOUR, "label": t("map.legend_na", lang, k=min_baseline)})
    return {"title": title, "items": items}


def with_histogram(leg: dict, cls: np.ndarray, n_classes: int) -> dict:
    """``leg`` with the number of hexes in each class (``items[i]["n"]``; the no-value class last)."""
    counts = np.bincount(np.asarray(cls)[np.asarray(cls) >= 0].astype(np.int64), minlength=n_classes)
    n_na = int((np.asarray(cls) < 0).sum())
    items = [{**item, "n": int(counts[i]) if i < n_classes else n_na} for i, item in enumerate(leg["items"])]
    return {**leg, "items": items}


def hex_payload(hexes: pd.DataFrame, *, resolution: int, metric: str, lang: str, names: dict[str, str],
                emergency: dict[str, str], min_baseline: int, values: np.ndarray | None = None) -> dict:
    """The map's hex update: geometry buffer, values, colours, tooltip labels and legend.

    ``hexes`` is :meth:`geo.views.StoreViews.hex_counts` output; ``names`` maps ubigeo to
    district name; ``emergency`` maps declared ubigeos to their decree label; ``values``
    (default: the metric's column) are what the colours classify.
    """
    if values is None:
        values = {"count": hexes["n"], "rate": hexes["rate_km2"], "change": hexes["change_pct"]}[metric]
    value = np.asarray(values, dtype=np.float64)
    cls, breaks, palette = classes(value, metric)
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
        "legend": with_histogram(legend(metric, breaks, palette, lang, min_baseline), cls, len(palette)),
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
