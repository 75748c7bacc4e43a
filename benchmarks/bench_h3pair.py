"""Exact H3 cells at res 9 and 10 in one pass (``latlng_to_cells_multi``) vs two passes.

Input: the ingest benchmark's synthetic MININTER points (``benchmarks.bench_ingest.demo_file``:
10,000,000 rows; ``--quick`` 1,000,000) over Lima/Callao and Sullana, coordinates in memory.

Figure: ``geo.h3index.latlng_to_cells_multi(lat, lon, (9, 10))`` vs the reference of two
full ``latlng_to_cells`` passes (res 9, then res 10) over the same points. Runs alternate
with the reference's (the machine is shared), medians of 3 are compared. The share of
points re-indexed exactly at res 9 (the fallback) is reported, and every run's result is
checked equal to the reference's, point by point.

Run: ``python -m benchmarks.bench_h3pair [--quick]``.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np
import pyarrow.parquet as pq

from benchmarks._common import Figure, print_figures
from benchmarks.bench_ingest import demo_file
from geo import h3index
from geo.h3index import latlng_to_cells, latlng_to_cells_multi

RUNS = 3
RESOLUTIONS = (9, 10)


def run(quick: bool = False) -> list[Figure]:
    n_target = 1_000_000 if quick else 10_000_000
    coords = pq.read_table(demo_file(n_target), columns=["lat_hecho", "long_hecho"])
    lat, lon = coords.column("lat_hecho").to_numpy(), coords.column("long_hecho").to_numpy()
    n = len(lat)
    del coords

    # Points re-indexed exactly per resolution, counted on the side (one call per pass).
    reindexed: dict[int, int] = {}
    exact = h3index.latlng_to_cells

    def counting(a, b, resolution, **kw):
        reindexed[resolution] = reindexed.get(resolution, 0) + len(a)
        return exact(a, b, resolution, **kw)

    t_multi, t_ref, shares = [], [], []
    for _ in range(RUNS):
        reindexed.clear()
        h3index.latlng_to_cells = counting
        try:
            t = time.perf_counter()
            got = latlng_to_cells_multi(lat, lon, RESOLUTIONS)
            t_multi.append(time.perf_counter() - t)
        finally:
            h3index.latlng_to_cells = exact
        shares.append(reindexed.get(9, 0) / n)
        t = time.perf_counter()
        want = {r: latlng_to_cells(lat, lon, r) for r in RESOLUTIONS}
        t_ref.append(time.perf_counter() - t)
        for r in RESOLUTIONS:
            if not np.array_equal(got[r], want[r]):
                raise AssertionError(f"latlng_to_cells_multi differs from latlng_to_cells at res {r} "
                                     f"on {int((got[r] != want[r]).sum())} points")
        del got, want
    tm, tr = statistics.median(t_multi), statistics.median(t_ref)
    return [Figure(
        f"exact H3 cells of {n:,} points at res 9 and 10 (latlng_to_cells_multi)", tm, "s",
        reference_name="two latlng_to_cells passes (res 9, res 10)", reference_value=tr, ratio=tr / tm,
        runs=RUNS, extra={"fallback_share_res9": statistics.median(shares), "runs_multi_s": t_multi,
                          "runs_reference_s": t_ref, "n": n})]


if __name__ == "__main__":
    figs = run(quick="--quick" in sys.argv[1:])
    print_figures("h3pair", figs)
    for f in figs:
        print(f"    res-9 points re-indexed exactly (fallback): {f.extra['fallback_share_res9']:.1%}; "
              f"runs multi {', '.join(f'{t:.2f}' for t in f.extra['runs_multi_s'])} s, "
              f"reference {', '.join(f'{t:.2f}' for t in f.extra['runs_reference_s'])} s; results equal")
