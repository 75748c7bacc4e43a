"""Emerging hot spots (issue 15): Gi* + patterns on the 10M-incident store, beside esda.

Data: the 10,000,000-incident demo store (``benchmarks.bench_dashboard.demo_store``,
shared with the dashboard benchmark; ``--quick``: the 1,000,000 one), resolution 8,
ISO weeks over its four years (208 bins), all categories, k = 1 ring, 1 previous week.

Figures:

- **whole analysis**: ``geo.hotspots.emerging_hotspots`` (cube -> cell x week counts ->
  Gi* of every bin -> BH FDR -> Mann-Kendall per cell -> 17 patterns), from a store
  version already open in the process (its cell cube in memory, as in a dashboard
  worker), uncached. Median of 3.
- **Gi* alone** (``geo.hotspots.gi_star`` on the same cell x week counts), beside the
  reference ``esda.G_Local(y, w, transform="B", star=True, permutations=0)`` on the
  same cells and space-time weights (``space_time_weights``, given as a libpysal
  ``Graph``). esda on all 208 weeks (~2M bins, ~28M weights) does not fit a shared
  machine's time, so it runs on the first ``ESDA_BINS`` weeks (same cells, same weight
  structure), and its time is scaled linearly by the number of bins (its work is one
  sparse product and elementwise moments, linear in the weights); ours is timed on
  those same bins too, and the z-scores of both are compared there (max |dz|). Target:
  ≥ 10x, identical z (≤ 1e-9).
- **patterns alone** (FDR + Mann-Kendall + classification) for the record.

Run: ``python -m benchmarks.bench_hotspots [--quick]``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from datetime import date

import numpy as np

from benchmarks._common import Figure, median_time, print_figures

ESDA_BINS = 26
RUNS = 3


def _store(quick: bool):
    from benchmarks.bench_dashboard import demo_store

    return demo_store(1_000_000 if quick else 10_000_000)


def run(quick: bool = False) -> list[Figure]:
    import esda
    from libpysal.graph import Graph

    from geo import hotspots as hs
    from geo.store import Store
    from geo.viewspec import View
    from geo.views import open_views

    st = Store.open(_store(quick))
    start, end = (date.fromisoformat(st.meta["coverage"][k]) for k in ("start", "end"))
    view = View(start=start, end=end, resolution=8)
    hs.emerging_hotspots(st, view, period="week", cache=False)  # opens the views: cube in memory, districts located
    whole, result = median_time(lambda: hs.emerging_hotspots(st, view, period="week", cache=False), runs=RUNS)
    n_cells, n_bins = result.cells.size, result.bins.size
    x = result.low.astype(np.float64)
    nb = hs.neighbour_matrix(result.cells, 1)

    t_all, _ = median_time(lambda: hs.gi_star(x, nb, 1), runs=RUNS)
    sub = x[:, :ESDA_BINS]
    t_sub, ours = median_time(lambda: hs.gi_star(sub, nb, 1), runs=RUNS)
    weights = hs.space_time_weights(nb, ESDA_BINS, 1)
    t0 = time.perf_counter()
    graph = Graph.from_sparse(weights)
    t_graph = time.perf_counter() - t0

    def reference():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return esda.G_Local(sub.ravel(), graph, transform="B", star=True, permutations=0)

    t_esda, ref = median_time(reference, runs=RUNS)
    dz = float(np.abs(ours.z.ravel() - ref.Zs).max())
    scale = n_bins / ESDA_BINS
    esda_scaled = t_esda * scale
    t_patterns, _ = median_time(lambda: hs.analyse_counts(result.cells, x, neighbours=nb), runs=RUNS)
    label = "1M" if quick else "10M"
    common = {"cells": int(n_cells), "bins": int(n_bins), "location_bins": int(n_cells * n_bins),
              "incidents_in_view": int(x.sum()), "patterns": result.pattern_counts()}
    figs = [
        Figure(f"emerging_hotspots, {label} store, res 8, {n_bins} weeks, {n_cells:,} cells (whole analysis)", whole, "s",
               reference_name=f"esda.G_Local on the same cells and weights, scaled from {ESDA_BINS} to {n_bins} weeks "
                              "(Gi* only, no FDR/trend/patterns; Graph build not counted)",
               reference_value=esda_scaled, ratio=esda_scaled / whole, runs=RUNS, extra=common),
        Figure(f"gi_star on {ESDA_BINS} weeks x {n_cells:,} cells", t_sub, "s",
               reference_name="esda.G_Local(star=True, transform='B', permutations=0), same bins and weights",
               reference_value=t_esda, ratio=t_esda / t_sub, target=">= 10x with identical z (max |dz| <= 1e-9)",
               met=bool(t_esda / t_sub >= 10 and dz <= 1e-9), runs=RUNS,
               extra={"max_abs_dz": dz, "graph_build_s": t_graph, "weights_nnz": int(weights.nnz)}),
        Figure(f"gi_star on all {n_bins} weeks x {n_cells:,} cells", t_all, "s",
               reference_name=f"esda.G_Local scaled from {ESDA_BINS} weeks (x{scale:.1f})", reference_value=esda_scaled,
               ratio=esda_scaled / t_all, target=">= 10x", met=bool(esda_scaled / t_all >= 10), runs=RUNS),
        Figure(f"analyse_counts (Gi* + BH FDR + Mann-Kendall + patterns), {n_cells:,} cells x {n_bins} weeks",
               t_patterns, "s", ratio_kind="", runs=RUNS),
    ]
    open_views(st)  # keep the views alive until here (the timing above reuses them)
    return figs


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args(argv)
    print_figures("hotspots", run(quick=a.quick))


if __name__ == "__main__":
    main()
