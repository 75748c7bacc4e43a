"""Demo generator speed: counts for the simulation tests, points, and whole demo stores.

Figures (medians; each beside an in-run reference):

- 200 weekly panels (58 districts x 4 years x 8 categories), what the analysis
  simulation tests draw; reference: the same panels at daily resolution.
- points for N incidents (1M quick, 10M full) with every MININTER column; reference:
  ``geopandas.GeoSeries.sample_points`` (uniform points only, no columns) on 1M of the
  same per-district sizes, compared as points per second.
- ``build_demo_store`` for 1M (and 10M in full mode) incidents: simulate, write both
  files, ingest both; reference: ``ingest_file`` of the same MININTER file into a fresh
  store, so the ratio shows what generation adds to the ingest.

Run: ``python -m benchmarks.bench_demo [--quick]``.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._common import Figure, median_time, print_figures
from geo import boundaries
from geo.declarations import Registry
from geo.demo import DemoConfig, build_demo_store, default_districts, simulate_counts, simulate_points


def _panels(districts, registry, adjacency, freq: str, n: int) -> None:
    for seed in range(n):
        simulate_counts(DemoConfig(n_incidents=50_000, seed=seed), districts, registry, adjacency, freq=freq)


def _store_build(n: int, districts, registry) -> tuple[float, float]:
    """Seconds to build a demo store of ``n`` incidents, and to ingest its MININTER file alone."""
    from geo.ingest import ingest_file

    tmp = Path(tempfile.mkdtemp(prefix="bench_demo_"))
    try:
        t = time.perf_counter()
        build_demo_store(tmp / "store", DemoConfig(n_incidents=n, seed=1), boundaries=districts, registry=registry,
                         workdir=tmp / "in")
        build = time.perf_counter() - t
        t = time.perf_counter()
        ingest_file(tmp / "in" / "mininter_synthetic_seed1.parquet", tmp / "plain", kind="mininter",
                    boundaries=districts, progress=False)
        return build, time.perf_counter() - t
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(quick: bool = False) -> list[Figure]:
    boundaries.fetch()
    districts = default_districts()
    adjacency = boundaries.adjacency(districts)
    registry = Registry.load()
    figures = []

    n_panels = 200
    weekly, _ = median_time(lambda: _panels(districts, registry, adjacency, "W", n_panels), runs=1 if quick else 3)
    daily, _ = median_time(lambda: _panels(districts, registry, adjacency, "D", n_panels), runs=1)
    figures.append(Figure(f"simulate_counts: {n_panels} weekly panels", weekly, "s", f"{n_panels} daily panels", daily,
                          ratio=daily / weekly, target="a few seconds (< 10 s)", met=weekly < 10, runs=1 if quick else 3))

    n_points = 1_000_000 if quick else 10_000_000
    counts, _ = simulate_counts(DemoConfig(n_incidents=n_points, seed=1), districts, registry, adjacency)
    t_points, points = median_time(lambda: simulate_points(counts, districts, seed=1), runs=1)
    n_made = len(points)
    sizes = points["ubigeo_hecho"].value_counts().reindex(districts["ubigeo"].astype(np.int64), fill_value=0).to_numpy()
    del points, counts
    ref_sizes = np.maximum(sizes * 1_000_000 // n_made, 0)
    t_ref, _ = median_time(lambda: districts.geometry.sample_points(size=ref_sizes, rng=1), runs=1)
    rate, ref_rate = n_made / t_points, ref_sizes.sum() / t_ref
    figures.append(Figure(f"simulate_points: {n_made:,} MININTER rows", t_points, "s",
                          "geopandas sample_points (timed on 1M, scaled)", n_made / ref_rate,
                          ratio=rate / ref_rate, target="10M well under 2 min", met=(t_points * 10_000_000 / n_made) < 120,
                          extra={"points_per_s": rate, "reference_points_per_s": ref_rate}))

    for n in ([1_000_000] if quick else [1_000_000, 10_000_000]):
        build, ingest_only = _store_build(n, districts, registry)
        figures.append(Figure(f"build_demo_store: {n:,} incidents", build, "s", "ingest_file of the same file", ingest_only,
                              ratio=build / ingest_only, ratio_kind="fraction"))
    return figures


if __name__ == "__main__":
    print_figures("demo generator", run(quick="--quick" in sys.argv))
