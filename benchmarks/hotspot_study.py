"""Planted hot spots: does emerging hot spot analysis find what was put there, and only that?

One command prints the table (hit rate by size and strength, false-positive rate)::

    .venv/bin/python -m benchmarks.hotspot_study            # the full study (>= 100 stores per condition)
    .venv/bin/python -m benchmarks.hotspot_study --quick    # a few stores per condition (what CI runs, smaller)

Each simulated **store** is a real hexwatch store (``geo.store.write_version``: a
``cube_cell`` at resolution 8 and a ``cube_district``, labelled SYNTHETIC) over a
disk of H3 cells (radius 12: 469 cells of resolution 8, about 350 km²) and 104 weeks;
each cell-week's count is Poisson with a uniform rate, placed on a random day of
its week. It is analysed end to end by ``geo.hotspots.emerging_hotspots`` (weekly bins,
k = 1 ring, 1 previous week, BH FDR at 0.05), exactly as ``hexwatch hotspots`` does.

- **Null (false positives)**: uniform background only, at several rates per cell-week.
  Reported: the mean and the largest share of cells called a hot spot (any of the
  eight hot patterns) over the stores, and the share of stores with any such cell.
  Target: ≤ 5 % of cells called hot.
- **Planted (power)**: a spot of ``grid_disk(centre, radius)`` cells (radius 0, 1, 2:
  1, 7 or 19 cells) whose rate is multiplied by ``factor`` from week ``start`` (78 of
  104: the last 26 weeks) on. A spot is **found** when its centre cell's pattern is a
  hot spot pattern that is hot in the final week; reported also: the share of the
  spot's cells found, the median error of the found start (first week of the final
  run of hot weeks minus the planted start) and the cells called hot more than one
  ring outside the spot (false positives next to a real spot).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import h3
import numpy as np
import pandas as pd

START = date(2024, 1, 1)   # a Monday
N_WEEKS = 104
RESOLUTION = 8
CENTRE = (-12.05, -77.04)
RADIUS = 12
SPOT_START = 78


@dataclass(frozen=True)
class Spot:
    """A planted hot spot: every cell within ``radius`` rings of ``centre`` has its rate
    times ``factor`` from week ``start`` on."""

    centre: int
    radius: int
    start: int
    factor: float

    def cells(self) -> np.ndarray:
        return np.array(sorted(h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(self.centre), self.radius)),
                        dtype=np.uint64)


def region(radius: int = RADIUS, resolution: int = RESOLUTION, centre=CENTRE) -> np.ndarray:
    """Sorted cells of the study region (a disk of ``radius`` rings)."""
    c = h3.latlng_to_cell(*centre, resolution)
    return np.array(sorted(h3.str_to_int(x) for x in h3.grid_disk(c, radius)), dtype=np.uint64)


def simulate_counts(cells: np.ndarray, rate: float, spots=(), *, n_weeks: int = N_WEEKS, seed: int = 0) -> np.ndarray:
    """Poisson counts (cells x weeks): ``rate`` everywhere, times each spot's factor
    inside it from its start week."""
    rng = np.random.default_rng(seed)
    lam = np.full((cells.size, n_weeks), float(rate))
    for s in spots:
        inside = np.isin(cells, s.cells())
        lam[inside, s.start:] *= s.factor
    return rng.poisson(lam)


def write_store(path: Path, cells: np.ndarray, counts: np.ndarray, *, seed: int = 0,
                category: str = "robo") -> Path:
    """A hexwatch store holding ``counts`` (cells x weeks from :data:`START`) as a
    resolution-8 cell cube, each week's count on a random day of that week."""
    from geo.store import write_version

    rng = np.random.default_rng(seed + 7919)
    ci, wi = np.nonzero(counts)
    days = np.datetime64(START, "D") + (wi * 7 + rng.integers(0, 7, size=wi.size)).astype("timedelta64[D]")
    cube = pd.DataFrame({"resolution": pd.array(np.full(ci.size, RESOLUTION), dtype="int8"),
                         "cell": pd.array(cells[ci], dtype="uint64"), "day": days, "category": category,
                         "n": pd.array(counts[ci, wi], dtype="int32")}).groupby(
        ["resolution", "day", "category", "cell"], as_index=False)["n"].sum()
    cube["n"] = cube["n"].astype("int32")
    cube["day"] = cube["day"].dt.date  # Arrow date32, as the store's schema has it
    daily = cube.groupby("day", as_index=False)["n"].sum()
    district = pd.DataFrame({"ubigeo": "150101", "day": daily["day"], "category": category,
                             "n": daily["n"].astype("int32")})
    end = START + timedelta(days=7 * counts.shape[1] - 1)
    meta = {"synthetic": True, "dataset": "SYNTHETIC planted hot spot study — not real incidents",
            "h3_resolution": RESOLUTION, "cube_resolutions": [RESOLUTION],
            "coverage": {"start": START.isoformat(), "end": end.isoformat()}}
    write_version(path, tables={"cube_cell": cube, "cube_district": district}, meta=meta)
    return path


def analyse_store(path: Path, districts=None):
    """``emerging_hotspots`` of a simulated store, weekly, over all its weeks."""
    from geo.hotspots import emerging_hotspots
    from geo.store import Store
    from geo.viewspec import View

    st = Store.open(path)
    end = START + timedelta(days=7 * N_WEEKS - 1)
    return emerging_hotspots(st, View(start=START, end=end, resolution=RESOLUTION), period="week",
                             districts=districts, cache=False)


def _hot_now(patterns: np.ndarray) -> np.ndarray:
    from geo.hotspots import HOT_PATTERNS

    return np.isin(patterns, [p for p in HOT_PATTERNS if p != "historical hot spot"])


def null_run(rate: float, n_stores: int, workdir: Path, seed0: int = 0) -> dict:
    """False positives on a uniform background."""
    from geo.hotspots import HOT_PATTERNS

    cells = region()
    shares, any_hot = [], 0
    for s in range(n_stores):
        path = write_store(workdir / f"null-{rate}-{s}", cells, simulate_counts(cells, rate, seed=seed0 + s), seed=s)
        r = analyse_store(path, districts=False)
        hot = np.isin(r.pattern, HOT_PATTERNS)
        shares.append(hot.sum() / max(1, cells.size))
        any_hot += bool(hot.any())
    return {"rate": rate, "stores": n_stores, "mean_share_hot": float(np.mean(shares)),
            "max_share_hot": float(np.max(shares)), "stores_with_any_hot": any_hot / n_stores}


def planted_run(rate: float, radius: int, factor: float, n_stores: int, workdir: Path, seed0: int = 0) -> dict:
    """Power for one spot size and strength."""
    from geo.hotspots import HOT_PATTERNS

    cells = region()
    centre = h3.str_to_int(h3.latlng_to_cell(*CENTRE, RESOLUTION))
    found, share, start_err, outside_fp = 0, [], [], []
    spot = Spot(centre, radius, SPOT_START, factor)
    inside = np.isin(cells, spot.cells())
    far = ~np.isin(cells, Spot(centre, radius + 1, 0, 1).cells())
    for s in range(n_stores):
        counts = simulate_counts(cells, rate, [spot], seed=seed0 + 100_000 + s)
        path = write_store(workdir / f"spot-{rate}-{radius}-{factor}-{s}", cells, counts, seed=s)
        r = analyse_store(path, districts=False)
        pos = {int(c): i for i, c in enumerate(r.cells)}
        pat = np.array([r.pattern[pos[int(c)]] if int(c) in pos else "" for c in cells], dtype=object)
        hot = _hot_now(pat)
        ci = pos.get(int(centre))
        if ci is not None and hot[np.flatnonzero(cells == centre)[0]]:
            found += 1
            st = r.state[ci] > 0
            rev = st[::-1]
            run = int(np.argmax(~rev)) if not rev.all() else st.size
            start_err.append(st.size - run - SPOT_START)
        share.append(hot[inside].mean())
        outside_fp.append(np.isin(pat[far], HOT_PATTERNS).mean())
    return {"rate": rate, "radius": radius, "cells": int(inside.sum()), "factor": factor, "stores": n_stores,
            "hit_rate": found / n_stores, "cells_found": float(np.mean(share)),
            "start_error_weeks": float(statistics.median(start_err)) if start_err else None,
            "fp_outside": float(np.mean(outside_fp))}


def run_study(quick: bool = False, workdir: Path | None = None, n_stores: int | None = None) -> dict:
    """Both tables. ``quick``: 10 stores per condition and fewer conditions."""
    n = n_stores or (10 if quick else 100)
    rates = (0.3, 3.0) if quick else (0.1, 0.3, 1.0, 3.0, 10.0)
    grid = [(3.0, r, f) for r in (0, 1, 2) for f in ((2.0, 3.0) if quick else (1.5, 2.0, 3.0, 5.0))]
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        nulls = [null_run(rate, n, tmp, seed0=i * 10_000) for i, rate in enumerate(rates)]
        planted = [planted_run(rate, radius, factor, n, tmp, seed0=i * 10_000) for i, (rate, radius, factor) in enumerate(grid)]
        return {"null": nulls, "planted": planted, "seconds": time.perf_counter() - t,
                "design": {"cells": int(region().size), "weeks": N_WEEKS, "resolution": RESOLUTION,
                           "spot_start_week": SPOT_START, "k_rings": 1, "time_steps": 1, "fdr": "BH q=0.05"}}


def format_tables(study: dict) -> str:
    d = study["design"]
    lines = [f"Planted hot spot study (SYNTHETIC): {d['cells']} cells at res {d['resolution']}, {d['weeks']} weeks, "
             f"k={d['k_rings']} ring, {d['time_steps']} previous week, {d['fdr']}",
             "", "False positives (uniform background; target <= 5 % of cells called hot):",
             f"{'rate/cell-week':>15} {'stores':>7} {'mean % hot':>11} {'max % hot':>10} {'stores with any':>16}"]
    for r in study["null"]:
        lines.append(f"{r['rate']:>15g} {r['stores']:>7} {100 * r['mean_share_hot']:>10.2f}% "
                     f"{100 * r['max_share_hot']:>9.2f}% {100 * r['stores_with_any_hot']:>15.0f}%")
    lines += ["", f"Power (spot from week {d['spot_start_week']} to the end, background 3/cell-week):",
              f"{'radius':>6} {'cells':>6} {'factor':>7} {'stores':>7} {'hit rate':>9} {'cells found':>12} "
              f"{'start err (wk)':>15} {'FP outside':>11}"]
    for r in study["planted"]:
        err = "-" if r["start_error_weeks"] is None else f"{r['start_error_weeks']:+.0f}"
        lines.append(f"{r['radius']:>6} {r['cells']:>6} {r['factor']:>7g} {r['stores']:>7} {100 * r['hit_rate']:>8.0f}% "
                     f"{100 * r['cells_found']:>11.0f}% {err:>15} {100 * r['fp_outside']:>10.2f}%")
    lines.append(f"\n({study['seconds']:.0f} s)")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10 stores per condition, fewer conditions")
    ap.add_argument("--stores", type=int, default=None, help="stores per condition (default 100; quick 10)")
    ap.add_argument("--json", type=Path, default=None, help="also write the tables as JSON here")
    a = ap.parse_args(argv)
    study = run_study(quick=a.quick, n_stores=a.stores)
    print(format_tables(study))
    if a.json:
        import orjson

        from geo.store import atomic_write_bytes

        atomic_write_bytes(a.json, orjson.dumps(study, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
