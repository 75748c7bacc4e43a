"""Public embed of one city's view: its size and the time to make it.

On the demo store (1,000,000 incidents; 200,000 with ``--quick``), the public embed of
Lima + Callao over DS 105-2023-PCM (2023-09-01 .. 2024-01-31 after snapping to months,
resolution 8, every public category):

- ``embed size``: bytes of the page (``geo.embed.embed_html``), beside the public GeoJSON
  export of the same view (``geo.export.to_geojson``: the same hexes and outlines,
  unsimplified, uncompressed) as a fraction; target < 500 kB (issue 16: 2-7 MB before).
- ``embed time``: making the page once the store version's published grid is computed
  (what a served ``/embed`` pays per request), beside computing the view's public data
  alone (``view_data``) as a fraction: what drawing and compressing add.

Run alone: ``python -m benchmarks.bench_embed [--quick]``.
"""

from __future__ import annotations

import sys

from benchmarks._common import Figure, median_time, print_figures
from benchmarks.bench_dashboard import demo_store

QUERY = "declaration=DS-105-2023-PCM&area=lima_callao"


def run(quick: bool = False) -> list[Figure]:
    from geo.embed import embed_html
    from geo.export import to_geojson, view_data
    from geo.store import Store
    from geo.viewspec import View

    n = 200_000 if quick else 1_000_000
    runs = 3 if quick else 5
    store = Store.open(demo_store(n))
    view = View.from_query(QUERY)
    t_page, page = median_time(lambda: embed_html(store, view, lang="es"), runs=runs, warmup=1)
    t_data, data = median_time(lambda: view_data(store, view, public=True), runs=runs, warmup=1)
    size = len(page.encode("utf-8"))
    geojson = len(to_geojson(data))
    return [
        Figure("embed size, Lima + Callao DS-105 public", size / 1e3, "kB", "public GeoJSON of the same view",
               geojson / 1e3, size / geojson, "fraction", "< 500 kB", size < 500_000, 1,
               {"hexes": len(data.hexes), "districts": 0 if data.districts is None else len(data.districts)}),
        Figure("embed time (published grid cached)", t_page, "s", "view_data(public=True) alone", t_data,
               t_page / t_data, "fraction", None, None, runs),
    ]


if __name__ == "__main__":
    print_figures("embed", run("--quick" in sys.argv))
