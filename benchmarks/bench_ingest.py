"""Ingest speed: H3 indexing vs a plain h3 loop, and the whole ingest vs its raw H3 step.

Input: N synthetic police reports (10,000,000; ``--quick`` 1,000,000) in the MININTER
column format as Parquet, made by ``geo.demo`` over the real districts of Lima/Callao
and Sullana (text times ``YYYY-MM-DD HH:MM:SS``, text ids, integer ubigeos: what
``hexwatch demo`` ingests). The file is kept in ``benchmarks/out/`` (git-ignored).

Figures, each beside an in-run reference on the same points:

- H3 indexing of all N points at resolution 9 with ``geo.h3index.latlng_to_cells``
  (h3ronpy on both cores) vs a single-threaded ``h3.latlng_to_cell`` loop, timed on a
  500,000-point subsample and scaled linearly to N (the figure says so); target >= 1.6x.
- The whole ``geo.ingest.ingest_file`` (read, validate, exact H3 cells at res 9 and
  10 by ``latlng_to_cells_multi``, locate in the study districts, cubes at
  resolutions 7-10, write a store version) into a fresh store vs the raw H3 indexing
  step above (one ``latlng_to_cells`` pass over the points already in memory);
  target <= 4x. The step timings of the median run are printed too; they overlap
  (``h3_overlapped`` runs during ``parse``; ``h3`` is what it took beyond it;
  ``write`` includes building the cubes).
- The same ingest as the first thing a fresh process does (median of 3 processes): what
  a one-shot ``hexwatch ingest`` pays. It is slower than the runs above because a new
  process touches all its memory for the first time, which is costly and erratic on
  these VMs; no target (the target above compares runs in one process, as the
  reference is).
- That fresh-process ingest again after ``hexwatch ingest``'s process settings (no
  transparent huge pages, glibc keeping freed memory, no cyclic GC: the command's, not
  the library's, which changes nothing in its host) vs without (``--no-tune-process``);
  the runs alternate.

Runs of each figure alternate with its reference's (the machine is shared, so a busy
spell slows both) and medians are compared. District assignment vs ``geopandas.sjoin``
is measured by ``benchmarks.bench_locate``.

Run: ``python -m benchmarks.bench_ingest [--quick]``.
"""

from __future__ import annotations

import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h3
import numpy as np
import pyarrow.parquet as pq

from benchmarks._common import Figure, median_time, print_figures
from geo.h3index import DEFAULT_RESOLUTION, latlng_to_cells

OUT = Path(__file__).resolve().parent / "out"
LOOP_SAMPLE = 500_000
SEED = 7
RUNS = 3


def demo_file(n: int) -> Path:
    """A MININTER-format Parquet file of about ``n`` synthetic reports, made once and kept."""
    from geo.declarations import Registry
    from geo.demo import DemoConfig, default_districts, simulate_counts, simulate_points, write_parquet

    path = OUT / f"ingest_mininter_{n}_seed{SEED}.parquet"
    if not path.is_file():
        districts = default_districts()
        counts, _ = simulate_counts(DemoConfig(n_incidents=n, seed=SEED), districts, Registry.load())
        write_parquet(simulate_points(counts, districts, seed=SEED), path)
    return path


def run(quick: bool = False) -> list[Figure]:
    from geo import boundaries
    from geo.ingest import ingest_file

    n_target = 1_000_000 if quick else 10_000_000
    boundaries.fetch()
    path = demo_file(n_target)
    coords = pq.read_table(path, columns=["lat_hecho", "long_hecho"])
    lat, lon = coords.column("lat_hecho").to_numpy(), coords.column("long_hecho").to_numpy()
    n = len(lat)
    del coords

    # The machine is shared: each figure's runs alternate with its reference's, so a busy
    # spell slows both rather than one, and the medians are compared.
    sub = np.random.default_rng(SEED).choice(n, size=min(LOOP_SAMPLE, n), replace=False)
    sub_lat, sub_lon = lat[sub].tolist(), lon[sub].tolist()
    loop_cells = [h3.latlng_to_cell(a, b, DEFAULT_RESOLUTION) for a, b in zip(sub_lat, sub_lon)]
    if [h3.str_to_int(c) for c in loop_cells] != latlng_to_cells(lat, lon, DEFAULT_RESOLUTION)[sub].tolist():
        raise AssertionError("latlng_to_cells disagrees with h3.latlng_to_cell")
    del loop_cells
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    reports, t_h3, t_loop_sub, t_ingest = [], [], [], []

    def one_ingest():
        store = work / f"store-{time.time_ns()}"
        reports.append(ingest_file(path, store, kind="mininter", progress=False))
        shutil.rmtree(store, ignore_errors=True)

    try:
        for _ in range(RUNS):
            t_h3.append(median_time(lambda: latlng_to_cells(lat, lon, DEFAULT_RESOLUTION), runs=1)[0])
            t_loop_sub.append(median_time(lambda: [h3.latlng_to_cell(a, b, DEFAULT_RESOLUTION)
                                                   for a, b in zip(sub_lat, sub_lon)], runs=1)[0])
            t_ingest.append(median_time(one_ingest, runs=1)[0])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # What `hexwatch ingest` pays with its process settings (the default) and without
    # (--no-tune-process, the library alone), alternating.
    t_cold, t_tuned = [], []
    for _ in range(RUNS):
        t_cold.append(_fresh_process_ingest(path, tuned=False))
        t_tuned.append(_fresh_process_ingest(path, tuned=True))
    # The reference's runs in order: the first comes before any ingest, so a drift here
    # would show an ingest leaving the process slower (it must not).
    h3_runs = [round(t, 3) for t in t_h3]
    t_h3, t_ingest = statistics.median(t_h3), statistics.median(t_ingest)
    t_loop = statistics.median(t_loop_sub) * n / len(sub)
    figures = [Figure(
        f"H3 indexing of {n:,} points at res {DEFAULT_RESOLUTION} (geo.h3index.latlng_to_cells)", t_h3, "s",
        reference_name=f"h3.latlng_to_cell loop, single thread (timed on {len(sub):,} points, scaled to {n:,})",
        reference_value=t_loop, ratio=t_loop / t_h3, target=">= 1.6x", met=t_loop / t_h3 >= 1.6, runs=RUNS,
        extra={"loop_seconds_on_sample": statistics.median(t_loop_sub), "sample": len(sub), "runs_seconds": h3_runs})]
    median_report = sorted(reports, key=lambda r: sum(r.seconds.values()))[len(reports) // 2]
    ratio = t_ingest / t_h3
    figures.append(Figure(
        f"whole ingest of {n:,} MININTER rows from Parquet (parse, exact H3 at res 9 and 10, locate in "
        f"{median_report.boundaries.split(' (')[0]}, cubes 7-10, write)", t_ingest, "s",
        reference_name="raw H3 indexing step (latlng_to_cells, points in memory)", reference_value=t_h3,
        ratio=ratio, ratio_kind="fraction", target="<= 4x", met=ratio <= 4.0, runs=RUNS,
        extra={"steps_seconds": median_report.seconds, "n_accepted": median_report.n_accepted,
               "n_rejected": median_report.n_rejected, "n_outside_districts": median_report.n_outside_districts,
               "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}))
    figures.append(Figure(
        "the same ingest as the first thing a fresh process does (what one `hexwatch ingest` pays; "
        "imports and boundary loading not counted)", statistics.median(t_cold), "s",
        reference_name="raw H3 indexing step (as above)", reference_value=t_h3,
        ratio=statistics.median(t_cold) / t_h3, ratio_kind="fraction", runs=RUNS,
        extra={"runs_seconds": t_cold}))
    figures.append(Figure(
        "the same fresh-process ingest with `hexwatch ingest`'s process settings (no THP, glibc keeps freed "
        "memory, no cyclic GC; --no-tune-process turns them off)", statistics.median(t_tuned), "s",
        reference_name="the same without them (the library alone, figure above)",
        reference_value=statistics.median(t_cold), ratio=statistics.median(t_tuned) / statistics.median(t_cold),
        ratio_kind="fraction", runs=RUNS, extra={"runs_seconds": t_tuned}))
    return figures


def _fresh_process_ingest(path: Path, tuned: bool = False) -> float:
    """Seconds of one ``ingest_file`` run first thing in a new Python process (``tuned``:
    after ``hexwatch ingest``'s process settings, as the command applies them). A fresh
    process touches all its memory for the first time, which costs far more on these
    VMs than reusing what an earlier ingest freed; the figure above is a warm process."""
    code = ("import sys, time, tempfile, shutil; from pathlib import Path; import geo.ingest as gi; "
            # (the context is kept referenced: a dropped one would be closed, and restored, at once)
            + ("from geo import cli; tuned = cli._tuned_for_bulk_work(); tuned.__enter__(); " if tuned else "") +
            "from geo import boundaries; boundaries.load_study_districts(); d = Path(tempfile.mkdtemp()); "
            "t0 = time.perf_counter(); gi.ingest_file(Path(sys.argv[1]), d / 's', kind='mininter', progress=False); "
            "print(time.perf_counter() - t0); shutil.rmtree(d)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1])
    return float(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    figs = run(quick="--quick" in sys.argv[1:])
    print_figures("ingest", figs)
    for f in figs:
        if f.extra.get("sample"):
            print("    raw H3 step's runs in order (s): " + ", ".join(f"{t:.3f}" for t in f.extra["runs_seconds"]))
        if f.extra.get("steps_seconds"):
            print("    steps (s): " + ", ".join(f"{k} {v:.2f}" for k, v in f.extra["steps_seconds"].items())
                  + f"; peak RSS {f.extra['peak_rss_gb']:.1f} GB")
