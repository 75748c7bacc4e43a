"""GeoJSON export speed: hexwatch's orjson writer vs the stdlib ``json`` and vs GeoPandas.

The hex layer of N res-8 cells around Lima (polygons built by h3ronpy, rounded and
oriented for RFC 7946) is serialised three ways; each time is printed beside a
reference as a ratio:

- ``geo.export.to_geojson`` (orjson) against the same feature dicts written with the
  stdlib ``json`` (the reference; it includes turning coordinate arrays into lists,
  which the stdlib needs);
- the same against ``GeoDataFrame.to_file(driver="GeoJSON")`` (pyogrio/GDAL).

Run alone: ``python -m benchmarks.bench_export [--quick]``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import date
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np

from benchmarks._common import Figure, median_time, print_figures
from geo.export import HEX_COLUMNS, ViewData, _features, _hex_frame, to_geojson
from geo.viewspec import View


def hex_view(n: int) -> ViewData:
    """View data for ``n`` hexes (a disk of res-8 cells around central Lima)."""
    k = 1
    while 3 * k * (k + 1) + 1 < n:
        k += 1
    cells = np.array(sorted(h3.str_to_int(c) for c in h3.grid_disk(h3.latlng_to_cell(-12.05, -77.04, 8), k))[:n],
                     dtype=np.uint64)
    rng = np.random.default_rng(0)
    counts = rng.poisson(20, n).astype(np.int64)
    base = rng.poisson(20, n).astype(np.int64)
    view = View(start=date(2023, 9, 20), end=date(2023, 11, 18))
    hexes = _hex_frame(cells, counts, counts, base, base, np.full(n, None, dtype=object), view, None)
    return ViewData(view=view, hexes=hexes, districts=None, provenance={"dataset": "bench"}, public=False)


def _stdlib(data: ViewData) -> bytes:
    feats = _features(data.hexes, HEX_COLUMNS)
    for f in feats:  # the stdlib cannot write numpy arrays
        f["geometry"]["coordinates"] = [r.tolist() for r in f["geometry"]["coordinates"]]
    doc = {"type": "FeatureCollection", "hexwatch": data.provenance, "features": feats}
    return json.dumps(doc, separators=(",", ":")).encode()


def run(quick: bool = False) -> list[Figure]:
    n = 5_000 if quick else 50_000
    runs = 3 if quick else 5
    data = hex_view(n)
    gdf = gpd.GeoDataFrame(data.hexes[list(HEX_COLUMNS)], geometry=data.hexes["geometry"].to_numpy(), crs="EPSG:4326")
    t_orjson, payload = median_time(lambda: to_geojson(data), runs=runs, warmup=1)
    t_json, _ = median_time(lambda: _stdlib(data), runs=runs, warmup=1)
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "hexes.geojson"
        t_gpd, _ = median_time(lambda: gdf.to_file(out, driver="GeoJSON"), runs=runs, warmup=1)
    size = {"hexes": n, "bytes": len(payload)}
    return [
        Figure(f"GeoJSON export, {n:,} hexes (orjson)", t_orjson, "s", "stdlib json, same features", t_json,
               t_json / t_orjson, runs=runs, extra=size),
        Figure(f"GeoJSON export, {n:,} hexes (orjson)", t_orjson, "s", "geopandas to_file(driver='GeoJSON')", t_gpd,
               t_gpd / t_orjson, runs=runs, extra=size),
    ]


if __name__ == "__main__":
    print_figures("export", run(quick="--quick" in sys.argv))
