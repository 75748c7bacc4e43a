"""Hot spots that move: space-time Getis-Ord Gi* and emerging hot spot patterns on H3 cells.

For a view (dates, categories, area, resolution) the cell cube is summed into one count
per (H3 cell, time bin), bins being whole ISO weeks (Monday first) or whole calendar
months inside the view's dates. Then, as Esri's Emerging Hot Spot Analysis does it
(docs/hotspots.md has the definitions and the sources):

1. **Locations** are the cells of the view that hold at least one incident in at least
   one bin (Esri: "the locations analyzed will be those with at least one point for at
   least one time-step interval"); other cells are absent, not zero.
2. **Space-time neighbourhood** of a bin (cell ``i``, bin ``t``): the cells of
   ``grid_disk(i, k_rings)`` that are locations (the cell itself included), each in
   bins ``t - time_steps .. t`` (bins before the first are absent). Weights are binary:
   1 for every such (cell, bin), 0 otherwise.
3. **Gi*** (Getis & Ord 1992; Ord & Getis 1995) of every bin over the whole cube of
   ``n = locations x bins`` values: ``z = (sum_j w_j x_j - xbar W) / (s sqrt((n W - W^2)
   / (n - 1)))`` with ``W`` the neighbourhood's size, ``xbar`` and ``s`` the mean and
   (population) standard deviation of all ``n`` values: exactly
   ``esda.G_Local(x, W, transform="B", star=True).Zs`` on the space-time weights
   (:func:`space_time_weights`), which the tests check to 1e-9. Two-sided p from the
   normal, or (``permutations > 0``) from conditional permutations: the bin's own value
   stays, the rest of its neighbourhood is drawn at random from the other bins.
4. **Multiple testing**: Benjamini-Hochberg FDR over all ``n`` bins at ``alpha``
   (default 0.05); a bin is a significant hot (cold) spot when its BH-adjusted p
   (``q``) is below ``alpha`` and ``z > 0`` (``z < 0``).
5. **Trend**: the Mann-Kendall test of each location's z-scores over time
   (:mod:`geo.mannkendall`), significant when its p is below ``alpha``.
6. **Pattern**: one of Esri's 17 categories (:data:`PATTERNS`) from the significant
   bins and the trend (:func:`classify`).

Everything is vectorised: one sparse neighbour matrix (``scipy.sparse``) times the
dense (cell x bin) counts gives every spatial sum at once, a cumulative sum over time
the space-time sums; conditional permutations run on both cores.

Public output (``public=True``) follows :mod:`geo.privacy`: the values are the
published grid's (cell x period x group) entries and nothing else, so a public
pattern is a function of what is already published and can reveal no suppressed
count. A suppressed entry is censored (it holds 1 to k-1 incidents): the analysis
runs with every suppressed entry at ``k/2`` and again at both bounds (1 and k-1);
a cell whose pattern is not the same in all three is published as "no pattern
detected" with ``censored = True`` (see docs/privacy.md).

Example
-------
>>> import numpy as np, h3
>>> centre = h3.latlng_to_cell(-12.05, -77.04, 8)
>>> cells = np.array(sorted(h3.str_to_int(c) for c in h3.grid_disk(centre, 3)), dtype=np.uint64)
>>> rng = np.random.default_rng(1)
>>> x = rng.poisson(2.0, size=(len(cells), 30)).astype(float)
>>> hot = np.isin(cells, [h3.str_to_int(c) for c in h3.grid_disk(centre, 1)])
>>> x[hot, 20:] += 8                       # a hot spot of 7 cells from bin 20 on
>>> r = analyse_counts(cells, x)
>>> sorted(set(r.patterns[hot]))
['consecutive hot spot']
>>> int((r.patterns[~hot] == "no pattern detected").sum()) >= 20
True
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp
import shapely
from scipy.special import ndtr
from scipy.stats import false_discovery_control

from geo.errors import HexwatchError
from geo.mannkendall import mann_kendall

#: Esri's 17 emerging hot spot categories, in the order of their legend.
HOT_PATTERNS = ("new hot spot", "consecutive hot spot", "intensifying hot spot", "persistent hot spot",
                "diminishing hot spot", "sporadic hot spot", "oscillating hot spot", "historical hot spot")
COLD_PATTERNS = tuple(p.replace("hot", "cold") for p in HOT_PATTERNS)
NO_PATTERN = "no pattern detected"
PATTERNS: tuple[str, ...] = HOT_PATTERNS + COLD_PATTERNS + (NO_PATTERN,)
#: Time bins the analysis can use.
PERIODS = ("week", "month")
#: Esri's EHSA needs at least ten time steps for its trend test.
MIN_BINS = 10
#: Share of bins a location must be significant in to be persistent, intensifying, ...
PERSISTENT_SHARE = 0.9
ALPHA = 0.05
DEFAULT_K_RINGS = 1
DEFAULT_TIME_STEPS = 1
#: Permutations are capped: each bin draws its whole neighbourhood this many times.
MAX_PERMUTATIONS = 9999

_CODE = {p: i for i, p in enumerate(PATTERNS)}


# --- neighbours and weights ---------------------------------------------------------


def neighbour_matrix(cells: np.ndarray, k_rings: int = DEFAULT_K_RINGS) -> sp.csr_matrix:
    """Binary (locations x locations) matrix: 1 where cell ``j`` is within ``k_rings``
    grid steps of cell ``i`` (``h3 grid_disk``, the cell itself included) and is one of
    ``cells`` (sorted unique ``uint64``). Symmetric, with a unit diagonal."""
    import h3ronpy

    cells = np.asarray(cells, dtype=np.uint64)
    if k_rings < 0:
        raise HexwatchError(f"k_rings must be 0 or more, not {k_rings}")
    if cells.size == 0:
        return sp.csr_matrix((0, 0))
    disks = pa.array(h3ronpy.grid_disk(cells, int(k_rings)))
    offsets = disks.offsets.to_numpy()
    members = disks.values.to_numpy().astype(np.uint64)
    rows = np.repeat(np.arange(cells.size), np.diff(offsets))
    pos = np.minimum(np.searchsorted(cells, members), cells.size - 1)
    keep = cells[pos] == members
    data = np.ones(int(keep.sum()), dtype=np.float64)
    return sp.csr_matrix((data, (rows[keep], pos[keep])), shape=(cells.size, cells.size))


def space_time_weights(neighbours: sp.spmatrix, n_bins: int, time_steps: int = DEFAULT_TIME_STEPS) -> sp.csr_matrix:
    """The binary space-time weights over all (location, bin) pairs, row ``i * n_bins + t``:
    1 for (cell ``j``, bin ``s``) when ``j`` neighbours ``i`` and ``t - time_steps <= s <= t``.
    What :func:`gi_star` computes without building it (the tests and the benchmark give it
    to ``esda.G_Local``)."""
    band = sp.csr_matrix(np.tril(np.triu(np.ones((n_bins, n_bins)), -int(time_steps))))
    return sp.kron(sp.csr_matrix(neighbours), band, format="csr")


# --- Gi* -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GiStar:
    """Gi* of every (location, bin): arrays of shape (locations, bins)."""

    z: np.ndarray
    p: np.ndarray            # two-sided
    weights: np.ndarray      # W: the size of each neighbourhood
    method: str              # "analytic" or "conditional permutation (N)"


def _space_time_sums(x: np.ndarray, neighbours: sp.csr_matrix, time_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Neighbourhood sums and sizes of every (location, bin)."""
    n_loc, n_bins = x.shape
    spatial = np.asarray(neighbours @ x)                 # sum over the cell's disk, every bin at once
    deg = np.asarray(neighbours.sum(axis=1)).ravel()
    csum = np.cumsum(spatial, axis=1)
    sums = csum.copy()
    lag = int(time_steps) + 1
    if lag < n_bins:
        sums[:, lag:] -= csum[:, :-lag]
    steps = np.minimum(np.arange(n_bins), int(time_steps)) + 1
    return sums, deg[:, None] * steps[None, :]


def gi_star(x: np.ndarray, neighbours: sp.csr_matrix, time_steps: int = DEFAULT_TIME_STEPS) -> GiStar:
    """Analytic space-time Gi* z-scores and two-sided p-values of counts ``x``
    (locations x bins) with binary ``neighbours`` (unit diagonal)."""
    x = np.asarray(x, dtype=np.float64)
    sums, w = _space_time_sums(x, neighbours, time_steps)
    n = x.size
    mean = x.mean() if n else 0.0
    s = np.sqrt(max((x * x).mean() - mean * mean, 0.0)) if n else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (sums - mean * w) / (s * np.sqrt(w * (n - w) / (n - 1)))
    z = np.where(np.isfinite(z), z, 0.0)  # a constant cube (or W = n) has no hot spot
    return GiStar(z=z, p=2.0 * ndtr(-np.abs(z)), weights=w, method="analytic")


def gi_star_permutation(x: np.ndarray, neighbours: sp.csr_matrix, time_steps: int = DEFAULT_TIME_STEPS, *,
                        permutations: int = 999, seed: int = 0, workers: int | None = None) -> GiStar:
    """Gi* with conditional permutations: for each bin, its own value stays and the other
    ``W - 1`` members of its neighbourhood are drawn without replacement from the other
    ``n - 1`` bins, ``permutations`` times. ``z`` is the observed sum standardised by the
    permuted sums' mean and standard deviation, ``p`` the two-sided pseudo p-value
    ``2 * (min(#>=, #<=) + 1) / (permutations + 1)`` (capped at 1).

    The smallest p it can give is ``2 / (permutations + 1)``: with FDR over many bins,
    use thousands of permutations or the analytic test. Deterministic for a ``seed``.
    """
    if not 1 <= permutations <= MAX_PERMUTATIONS:
        raise HexwatchError(f"permutations must be 1-{MAX_PERMUTATIONS}, not {permutations}")
    x = np.asarray(x, dtype=np.float64)
    sums, w = _space_time_sums(x, neighbours, time_steps)
    flat, obs, wflat = x.ravel(), sums.ravel(), w.ravel().astype(np.int64)
    n = flat.size
    if n < 2:
        return gi_star(x, neighbours, time_steps)
    z = np.zeros(n)
    p = np.ones(n)
    # Bins with the same neighbourhood size share one draw shape; each task is a slice of one.
    tasks = []
    chunk = max(1, 4_000_000 // max(1, permutations))
    for size in np.unique(wflat):
        idx = np.flatnonzero(wflat == size)
        tasks += [(int(size), idx[a:a + chunk]) for a in range(0, idx.size, chunk)]
    seeds = np.random.SeedSequence(seed).spawn(len(tasks))

    def run(task, ss):
        size, idx = task
        rng = np.random.default_rng(ss)
        m = size - 1
        if m <= 0 or m > n - 1:
            return idx, np.zeros(idx.size), np.ones(idx.size)
        draws = _draw_without_replacement(rng, idx, m, permutations, n)
        perm = flat[idx, None] + flat[draws].sum(axis=2)          # (bins, permutations)
        mu, sd = perm.mean(axis=1), perm.std(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            zz = np.where(sd > 0, (obs[idx] - mu) / sd, 0.0)
        ge = (perm >= obs[idx, None] - 1e-9).sum(axis=1)
        le = (perm <= obs[idx, None] + 1e-9).sum(axis=1)
        pp = np.minimum(1.0, 2.0 * (np.minimum(ge, le) + 1) / (permutations + 1))
        return idx, zz, pp

    with ThreadPoolExecutor(max_workers=workers or min(2, os.cpu_count() or 1)) as pool:
        for idx, zz, pp in pool.map(run, tasks, seeds):
            z[idx], p[idx] = zz, pp
    return GiStar(z=z.reshape(x.shape), p=p.reshape(x.shape), weights=w, method=f"conditional permutation ({permutations})")


def _draw_without_replacement(rng: np.random.Generator, idx: np.ndarray, m: int, permutations: int, n: int) -> np.ndarray:
    """``m`` distinct indexes of ``0..n-1`` other than ``idx[b]``, for each bin ``b`` and
    permutation: uniform draws, the few rows with a repeat drawn again."""
    draws = rng.integers(0, n - 1, size=(idx.size, permutations, m))
    draws += draws >= idx[:, None, None]                           # skip the bin itself
    if m > 1:
        while True:
            srt = np.sort(draws, axis=2)
            bad = (srt[:, :, 1:] == srt[:, :, :-1]).any(axis=2)
            if not bad.any():
                break
            b, q = np.nonzero(bad)
            fresh = rng.integers(0, n - 1, size=(b.size, m))
            fresh += fresh >= idx[b, None]
            draws[b, q] = fresh
    return draws


# --- patterns ----------------------------------------------------------------------------


def classify(z: np.ndarray, significant: np.ndarray, trend_tau: np.ndarray, trend_p: np.ndarray,
             alpha: float = ALPHA) -> np.ndarray:
    """Esri's emerging hot spot category of each location (object array of :data:`PATTERNS`).

    ``z`` and ``significant`` are (locations x bins); a bin is hot when significant with
    ``z > 0``, cold when significant with ``z < 0``. The rules (docs/hotspots.md):
    the final bin decides between hot and cold families; a share of hot bins ≥ 90 % with
    the final bin hot is intensifying / diminishing (significant rising / falling
    Mann-Kendall trend) or persistent (no significant trend); below 90 %, any cold bin
    makes it oscillating, else one final run of hot bins and none before is new (run of
    one) or consecutive (two or more), else sporadic. ≥ 90 % hot without the final bin
    is historical. Cold spots mirror this (intensifying = significantly falling z).
    """
    n_loc, n_bins = z.shape
    out = np.full(n_loc, _CODE[NO_PATTERN], dtype=np.int8)
    if n_bins == 0:
        return np.asarray(PATTERNS, dtype=object)[out]
    rising = (trend_p < alpha) & (trend_tau > 0)
    falling = (trend_p < alpha) & (trend_tau < 0)
    for sign, names, stronger, weaker in ((1, HOT_PATTERNS, rising, falling), (-1, COLD_PATTERNS, falling, rising)):
        this = significant & (np.sign(z) == sign)
        other = significant & (np.sign(z) == -sign)
        share = this.mean(axis=1)
        last = this[:, -1]
        rev = this[:, ::-1]
        run = np.where(rev.all(axis=1), n_bins, np.argmax(~rev, axis=1))   # final run of this kind
        before = this.sum(axis=1) > run                                    # any such bin before that run
        mostly = share >= PERSISTENT_SHARE
        rules = [
            (last & mostly & stronger, names[2]),                 # intensifying
            (last & mostly & weaker, names[4]),                   # diminishing
            (last & mostly & ~stronger & ~weaker, names[3]),      # persistent
            (last & ~mostly & other.any(axis=1), names[6]),       # oscillating
            (last & ~mostly & ~other.any(axis=1) & ~before & (run == 1), names[0]),  # new
            (last & ~mostly & ~other.any(axis=1) & ~before & (run >= 2), names[1]),  # consecutive
            (last & ~mostly & ~other.any(axis=1) & before, names[5]),               # sporadic
        ]
        for mask, name in rules:
            out[mask] = _CODE[name]
        hist = ~significant[:, -1] & mostly
        out[hist] = _CODE[names[7]]
    return np.asarray(PATTERNS, dtype=object)[out]


@dataclass(frozen=True)
class CubeAnalysis:
    """The analysis of one (locations x bins) count cube; arrays per location or per bin."""

    cells: np.ndarray        # uint64 (locations)
    gi: GiStar
    q: np.ndarray            # BH-adjusted p of every bin (locations x bins)
    state: np.ndarray        # int8 (locations x bins): +1 significant hot, -1 cold, 0 not
    trend_tau: np.ndarray
    trend_z: np.ndarray
    trend_p: np.ndarray
    trend_s: np.ndarray
    patterns: np.ndarray     # object (locations)


def analyse_counts(cells: np.ndarray, x: np.ndarray, *, k_rings: int = DEFAULT_K_RINGS,
                   time_steps: int = DEFAULT_TIME_STEPS, alpha: float = ALPHA, permutations: int = 0,
                   seed: int = 0, neighbours: sp.csr_matrix | None = None) -> CubeAnalysis:
    """Gi*, FDR, Mann-Kendall and patterns of counts ``x`` (locations x bins) of ``cells``
    (sorted unique ``uint64``). The pure core of :func:`emerging_hotspots`."""
    cells = np.asarray(cells, dtype=np.uint64)
    x = np.asarray(x, dtype=np.float64)
    if x.shape[0] != cells.size:
        raise ValueError("x needs one row per cell")
    if not 0 < alpha < 1:
        raise HexwatchError(f"alpha must be between 0 and 1, not {alpha}")
    if time_steps < 0:
        raise HexwatchError(f"time_steps must be 0 or more, not {time_steps}")
    nb = neighbours if neighbours is not None else neighbour_matrix(cells, k_rings)
    gi = gi_star_permutation(x, nb, time_steps, permutations=permutations, seed=seed) if permutations \
        else gi_star(x, nb, time_steps)
    q = false_discovery_control(gi.p.ravel(), method="bh").reshape(gi.p.shape) if gi.p.size else gi.p
    sig = q < alpha
    state = (np.sign(gi.z) * sig).astype(np.int8)
    mk = mann_kendall(gi.z)
    patterns = classify(gi.z, sig, mk.tau, mk.p, alpha)
    return CubeAnalysis(cells=cells, gi=gi, q=q, state=state, trend_tau=mk.tau, trend_z=mk.z, trend_p=mk.p,
                        trend_s=mk.s, patterns=patterns)


# --- time bins ---------------------------------------------------------------------------


def time_bins(start: date, end: date, period: str) -> np.ndarray:
    """First days (``datetime64[D]``) of the whole weeks (Monday to Sunday) or calendar
    months that lie inside ``start..end`` (inclusive); partial ones at either end are
    left out, since a bin with fewer days would look like a cold spot everywhere.

    >>> time_bins(date(2024, 1, 3), date(2024, 1, 31), "week").astype(str).tolist()
    ['2024-01-08', '2024-01-15', '2024-01-22']
    >>> time_bins(date(2024, 1, 1), date(2024, 3, 30), "month").astype(str).tolist()
    ['2024-01-01', '2024-02-01']
    """
    if period not in PERIODS:
        raise HexwatchError(f"period {period!r} is unknown; use one of {', '.join(PERIODS)}")
    a, b = np.datetime64(start, "D"), np.datetime64(end, "D")
    if period == "week":
        first = a + (-(a.astype(np.int64) + 3) % 7)          # the Monday on or after start
        last = b - ((b.astype(np.int64) + 4) % 7)            # the Monday of the last whole week (ends on a Sunday <= end)
        return np.arange(first, last + 1, 7, dtype="datetime64[D]") if last >= first else np.zeros(0, "datetime64[D]")
    m0 = a.astype("datetime64[M]") + (0 if a == a.astype("datetime64[M]").astype("datetime64[D]") else 1)
    m1 = (b + 1).astype("datetime64[M]") - 1                 # the last month whose last day is <= end
    return np.arange(m0, m1 + 1, dtype="datetime64[M]").astype("datetime64[D]") if m1 >= m0 else np.zeros(0, "datetime64[D]")


def bin_ends(bins: np.ndarray, period: str) -> np.ndarray:
    """Last day of each bin."""
    if period == "week":
        return bins + 6
    return (bins.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1


def _bin_of_day(days: np.ndarray, bins: np.ndarray, period: str) -> np.ndarray:
    """Bin index of each day (``int64``), -1 outside the bins."""
    days = days.astype("datetime64[D]")
    if period == "week":
        start = days - ((days.astype(np.int64) + 3) % 7).astype("timedelta64[D]")
    else:
        start = days.astype("datetime64[M]").astype("datetime64[D]")
    pos = np.searchsorted(bins, start)
    ok = (pos < bins.size) & (bins[np.minimum(pos, bins.size - 1)] == start) if bins.size else np.zeros(days.size, bool)
    return np.where(ok, pos, -1)


# --- reading a view's cube -----------------------------------------------------------------


@dataclass(frozen=True)
class _ViewCube:
    cells: np.ndarray     # uint64 locations
    low: np.ndarray       # (locations x bins) counts; equal to high where exact
    high: np.ndarray
    mid: np.ndarray       # the value analysed: exact counts, or suppressed entries at k/2
    ubigeo: np.ndarray    # object, district of each cell's centre (None outside / unknown)


#: A (cell x category x bin) array of a whole cube is kept when it is at most this many
#: counts (int32: 160 MB); then a view is one slice and sum instead of a pass over the rows.
BINNED_MAX = 40_000_000
_BINNED: dict[int, dict] = {}


def _binned(sv, resolution: int, cube, period: str):
    """``(bins, counts)`` of every period touching the store's days, counts as int32
    (categories x cells x bins), built once per store version, resolution and period
    (kept with the views; ``None`` when it would be larger than :data:`BINNED_MAX`)."""
    with _CACHE_LOCK:
        per = _BINNED.get(id(sv))
        if per is None:
            per = _BINNED[id(sv)] = {}
            weakref.finalize(sv, _BINNED.pop, id(sv), None)
        lock = per.setdefault("lock", threading.Lock())
    with lock:  # two requests for the same cube build it once
        key = (resolution, period)
        if key in per:
            return per[key]
        days = np.arange(sv._day0, sv._day0 + sv._n_days).astype("datetime64[D]")
        starts = days.astype("datetime64[M]").astype("datetime64[D]") if period == "month" else \
            days - ((days.astype(np.int64) + 3) % 7).astype("timedelta64[D]")
        bins, bin_of_day = np.unique(starts, return_inverse=True)
        n_cats = cube.offsets.shape[0]
        if cube.cells.size * n_cats * bins.size > BINNED_MAX:
            per[key] = None
            return None
        out = np.zeros((n_cats, cube.cells.size, bins.size), dtype=np.int32)  # a category's slab is contiguous
        for c in range(n_cats):  # a handful of categories, each one pass over its rows
            offs = cube.offsets[c]
            s, e = offs[0], offs[-1]
            if e <= s:
                continue
            b = bin_of_day[np.repeat(np.arange(sv._n_days), np.diff(offs))]
            key_rows = cube.cell_idx[s:e].astype(np.int64) * bins.size + b
            out[c] = np.bincount(key_rows, weights=cube.n[s:e], minlength=cube.cells.size * bins.size
                                       ).reshape(cube.cells.size, bins.size)
        per[key] = (bins, out)
        return per[key]


def _official_cube(sv, view, bins: np.ndarray, period: str) -> _ViewCube:
    """(cell x bin) counts from the store's cell cube (exact)."""
    from geo.h3index import cells_to_parent

    src = _source_resolution(sv, view.resolution)
    cube = sv._cell_cube(src)  # the per-version cube the map uses: (category, day)-sorted rows, kept in memory
    cats = sv._cat_codes(list(view.categories) or None)
    n_bins = bins.size
    n_all = cube.cells.size
    binned = _binned(sv, src, cube, period)
    if binned is not None:
        all_bins, counts = binned
        i0 = int(np.searchsorted(all_bins, bins[0]))   # a view's bins are consecutive periods
        dense = np.zeros((n_all, n_bins))
        for c in cats:
            dense += counts[c, :, i0:i0 + n_bins]
    else:
        first, last = int(bins[0].astype(np.int64)), int(bin_ends(bins, period)[-1].astype(np.int64))
        lo, hi, _ = sv._day_slice((_as_date(first), _as_date(last)))
        day0 = sv._day0
        bin_of = _bin_of_day(np.arange(day0 + lo, day0 + hi).astype("datetime64[D]"), bins, period)
        total = np.zeros(n_all * n_bins, dtype=np.float64)
        for c in cats:  # a handful of categories, each one vectorised pass over its rows
            offs = cube.offsets[c, lo:hi + 1]
            s, e = offs[0], offs[-1]
            if e <= s:
                continue
            day_of_row = np.repeat(np.arange(hi - lo), np.diff(offs))
            b = bin_of[day_of_row]
            ok = b >= 0
            key = cube.cell_idx[s:e][ok].astype(np.int64) * n_bins + b[ok]
            total += np.bincount(key, weights=cube.n[s:e][ok], minlength=n_all * n_bins)
        dense = total.reshape(n_all, n_bins)
    cells = cube.cells
    ubigeo = _cell_districts(sv, src, cube, view.area)
    keep = dense.sum(axis=1) > 0
    if ubigeo is not None and view.area != "all":
        from geo.viewspec import in_area

        keep &= in_area(ubigeo, view.area)
    if src != view.resolution:
        parents = cells_to_parent(cells[keep], view.resolution)
        up, inv = np.unique(parents, return_inverse=True)
        agg = np.zeros((up.size, n_bins))
        np.add.at(agg, inv, dense[keep])
        ub = None if ubigeo is None else _first_per_group(ubigeo[keep], inv, up.size)
        return _ViewCube(up, agg, agg, agg, ub if ub is not None else np.full(up.size, None, object))
    rows = dense[keep]
    ub = ubigeo[keep] if ubigeo is not None else np.full(int(keep.sum()), None, dtype=object)
    return _ViewCube(cells[keep], rows, rows, rows, ub)


def _first_per_group(values: np.ndarray, inv: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, None, dtype=object)
    order = np.argsort(inv, kind="stable")[::-1]
    out[inv[order]] = values[order]   # the last write per group is its first member
    return out


def _cell_districts(sv, resolution: int, cube, area: str) -> np.ndarray | None:
    if sv.districts is None:
        if area != "all":
            raise HexwatchError("filtering hot spots by area needs the district boundaries; run `hexwatch boundaries fetch`")
        return None
    return sv._cell_ubigeos(resolution, cube)


def _source_resolution(sv, resolution: int) -> int:
    have = sorted(sv.resolutions)
    finer = [r for r in have if r >= resolution]
    if not finer:
        raise HexwatchError(f"the store's cubes stop at resolution {have[-1]}; ask for resolution {have[-1]} or coarser")
    return finer[0]


_PUBLIC_BINNED: OrderedDict[tuple, tuple] = OrderedDict()


def _public_binned(store, grid, resolution: int, districts):
    """The store version's whole published grid as arrays, built once per process:
    ``(cells, ubigeo, periods, groups, known, suppressed)`` with ``known`` and
    ``suppressed`` (groups x cells x periods) the sum of the exact entries and the
    number of suppressed ones, cells at ``resolution`` (parents of the grid's)."""
    from geo import export
    from geo.h3index import cells_to_parent

    key = (str(store.root.resolve()), store.version, _grid_key(grid), int(resolution), id(districts))
    with _CACHE_LOCK:
        hit = _PUBLIC_BINNED.get(key)
        if hit is not None and hit[0] is districts:
            return hit[1]
    pub = export.published_grid(store, grid)
    cells = pub["cell"].to_numpy(dtype=np.uint64)
    if resolution < grid.resolution:
        cells = cells_to_parent(cells, resolution)
    uc, ci = np.unique(cells, return_inverse=True)
    period = pub["period"].to_numpy().astype("datetime64[D]")
    first, last = (period.min(), period.max()) if period.size else (np.datetime64("1970-01-01"),) * 2
    if grid.period == "month":
        periods = np.arange(first.astype("datetime64[M]"), last.astype("datetime64[M]") + 1).astype("datetime64[D]")
    else:
        periods = np.arange(first, last + 1, 7, dtype="datetime64[D]")
    pi = np.searchsorted(periods, period)
    groups, gi = np.unique(pub["group"].to_numpy(dtype=object).astype(str), return_inverse=True)
    n = pub["n"]
    flat = (gi * uc.size + ci) * periods.size + pi
    size = groups.size * uc.size * periods.size
    known = np.bincount(flat, weights=n.fillna(0).to_numpy(dtype=np.float64), minlength=size)
    supp = np.bincount(flat, weights=n.isna().to_numpy().astype(np.float64), minlength=size)
    shape = (groups.size, uc.size, periods.size)
    ubigeo = export._centre_ubigeos(uc, districts) if districts is not None and uc.size else np.full(uc.size, None, object)
    value = (uc, ubigeo, periods, groups, known.reshape(shape).astype(np.int32), supp.reshape(shape).astype(np.int16))
    with _CACHE_LOCK:
        _PUBLIC_BINNED[key] = (districts, value)
        while len(_PUBLIC_BINNED) > 4:
            _PUBLIC_BINNED.popitem(last=False)
    return value


def _public_cube(store, sv, view, bins: np.ndarray, grid, cats: list[str], districts) -> _ViewCube:
    """(cell x period) values from the published grid only; suppressed entries censored."""
    cells, ubigeo, periods, groups, known, supp = _public_binned(store, grid, view.resolution, districts)
    want = set(grid.group_of(cats)) if cats else set()
    gsel = [i for i, g in enumerate(groups) if g in want]
    pos = np.searchsorted(periods, bins)
    inside = (pos < periods.size) & (periods[np.minimum(pos, max(periods.size - 1, 0))] == bins) if periods.size \
        else np.zeros(bins.size, bool)
    kn = np.zeros((cells.size, bins.size))
    s = np.zeros((cells.size, bins.size))
    cols = np.flatnonzero(inside)
    for g in gsel:  # a handful of public groups
        kn[:, cols] += known[g][:, pos[cols]]
        s[:, cols] += supp[g][:, pos[cols]]
    keep = (kn + s).sum(axis=1) > 0
    if view.area != "all":
        from geo.viewspec import in_area

        keep &= in_area(ubigeo, view.area)
    kn, s = kn[keep], s[keep]
    return _ViewCube(cells[keep], kn + s, kn + (grid.k - 1) * s, kn + s * grid.k / 2.0, ubigeo[keep])




def _grid_key(grid) -> tuple | None:
    if grid is None:
        return None
    return (grid.k, grid.resolution, grid.period, tuple(sorted(grid.groups.items())), grid.vocabulary)


def match_categories(requested, available) -> tuple[list[str], list[str]]:
    """The store's categories that the requested ones name, ignoring case and accents
    (``robo`` finds ``ROBO``), and the requested ones that name none.

    >>> match_categories(["robo", "Extorsión", "x"], ["EXTORSION", "HURTO", "ROBO"])
    (['EXTORSION', 'ROBO'], ['x'])
    """
    import unicodedata

    def fold(c: str) -> str:
        return "".join(ch for ch in unicodedata.normalize("NFKD", str(c).casefold()) if not unicodedata.combining(ch))

    by_fold: dict[str, list[str]] = {}
    for c in available:
        by_fold.setdefault(fold(c), []).append(c)
    matched = sorted({m for r in requested for m in by_fold.get(fold(r), [])})
    unknown = [r for r in requested if fold(r) not in by_fold]
    return matched, unknown


def _as_date(ordinal: int) -> date:
    return date(1970, 1, 1) + timedelta(days=int(ordinal))


# --- the result ------------------------------------------------------------------------------


@dataclass
class HotspotResult:
    """Emerging hot spots of one view: per-location patterns and per-bin Gi*.

    ``cells`` (``uint64``) are the locations, ``bins`` the first day of each bin;
    ``low``/``high`` the counts per (location, bin) (equal unless public values were
    suppressed), ``z``, ``p`` (two-sided), ``q`` (BH-adjusted) and ``state`` (+1 hot,
    -1 cold, 0) per (location, bin); ``pattern``, ``trend_*`` and ``censored`` per
    location. ``settings`` says how it was computed, ``provenance`` where it comes from.
    """

    view: Any
    period: str
    cells: np.ndarray
    bins: np.ndarray
    low: np.ndarray
    high: np.ndarray
    z: np.ndarray
    p: np.ndarray
    q: np.ndarray
    state: np.ndarray
    pattern: np.ndarray
    trend_tau: np.ndarray
    trend_z: np.ndarray
    trend_p: np.ndarray
    censored: np.ndarray
    ubigeo: np.ndarray
    settings: dict[str, Any]
    public: bool
    notes: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    _index: dict = field(default_factory=dict, repr=False)

    @property
    def n_locations(self) -> int:
        return int(self.cells.size)

    def cells_frame(self) -> pd.DataFrame:
        """One row per location: ``cell`` (uint64), ``h3``, ``pattern``, last-bin ``z``,
        ``p``, ``q``, ``trend_tau``, ``trend_z``, ``trend_p``, ``hot_bins``, ``cold_bins``,
        ``count`` (exact total, or NA when public values were suppressed), ``count_low``,
        ``count_high``, ``censored``, ``ubigeo``."""
        from geo.h3index import cells_to_str

        last = slice(-1, None)
        low, high = self.low.sum(axis=1), self.high.sum(axis=1)
        return pd.DataFrame({
            "cell": self.cells,
            "h3": cells_to_str(self.cells) if self.cells.size else np.zeros(0, object),
            "pattern": self.pattern,
            "z": self.z[:, last].ravel() if self.z.size else np.zeros(0),
            "p": self.p[:, last].ravel() if self.p.size else np.zeros(0),
            "q": self.q[:, last].ravel() if self.q.size else np.zeros(0),
            "trend_tau": self.trend_tau, "trend_z": self.trend_z, "trend_p": self.trend_p,
            "hot_bins": (self.state > 0).sum(axis=1), "cold_bins": (self.state < 0).sum(axis=1),
            "count": pd.array(np.where(low == high, low, np.nan), dtype="Int64"),
            "count_low": low.astype(np.int64), "count_high": high.astype(np.int64),
            "censored": self.censored, "ubigeo": self.ubigeo,
        })

    def history(self, cell: int | str) -> pd.DataFrame:
        """One location's series: ``bin`` (first day), ``bin_end``, ``count_low``,
        ``count_high``, ``z``, ``p``, ``q``, ``state`` ("hot", "cold" or "")."""
        import h3

        key = h3.str_to_int(cell) if isinstance(cell, str) else int(cell)
        if not self._index:
            self._index.update({int(c): i for i, c in enumerate(self.cells)})
        i = self._index.get(key)
        if i is None:
            raise HexwatchError(f"cell {h3.int_to_str(key) if key else cell} is not a location of this hot spot analysis")
        return pd.DataFrame({
            "bin": self.bins, "bin_end": bin_ends(self.bins, self.period),
            "count_low": self.low[i].astype(np.int64), "count_high": self.high[i].astype(np.int64),
            "z": self.z[i], "p": self.p[i], "q": self.q[i],
            "state": np.where(self.state[i] > 0, "hot", np.where(self.state[i] < 0, "cold", "")),
        })

    def pattern_counts(self) -> dict[str, int]:
        """Locations per pattern, every pattern listed (legend order)."""
        vals, counts = np.unique(self.pattern.astype(str), return_counts=True) if self.pattern.size else ([], [])
        got = dict(zip(vals, counts))
        return {p: int(got.get(p, 0)) for p in PATTERNS}

    def method(self) -> dict[str, Any]:
        """How the figures were computed (stated in every output)."""
        s = self.settings
        return {
            "statistic": "Getis-Ord Gi* (space-time), binary weights, the cell itself included",
            "spatial_neighbours": f"h3 grid_disk(cell, k={s['k_rings']}) among the locations",
            "temporal_neighbours": f"the current bin and the {s['time_steps']} previous bin(s)",
            "locations": "cells with at least one incident in at least one bin of the view",
            "bins": f"whole {self.period}s inside the view's dates",
            "inference": s["inference"],
            "multiple_testing": f"Benjamini-Hochberg false discovery rate at q = {s['alpha']} over all "
                                f"{self.z.size} location-bins; a bin is a significant hot (cold) spot when its "
                                f"adjusted p < {s['alpha']} and z > 0 (z < 0)",
            "trend": f"Mann-Kendall test of each location's z-scores over time, significant at p < {s['alpha']}",
            "patterns": "Esri's emerging hot spot categories; definitions and sources in docs/hotspots.md",
            "k_rings": s["k_rings"], "time_steps": s["time_steps"], "alpha": s["alpha"],
            "permutations": s["permutations"], "seed": s.get("seed"),
            **({"censoring": s["censoring"]} if "censoring" in s else {}),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: provenance, method, bins, pattern counts and one entry per cell
        (``cell``, ``pattern``, last-bin ``z``/``p``/``q``, ``trend`` {tau, z, p}, ...)."""
        f = self.cells_frame()
        cells = [{
            "cell": h, "pattern": pat, "z": _num(z), "p": _num(p), "q": _num(q),
            "trend": {"tau": _num(tau), "z": _num(tz), "p": _num(tp)},
            "hot_bins": int(hb), "cold_bins": int(cb), "count": None if pd.isna(cnt) else int(cnt),
            "count_low": int(cl), "count_high": int(ch), "censored": bool(cen), "ubigeo": ub,
        } for h, pat, z, p, q, tau, tz, tp, hb, cb, cnt, cl, ch, cen, ub in zip(
            f["h3"], f["pattern"], f["z"], f["p"], f["q"], f["trend_tau"], f["trend_z"], f["trend_p"], f["hot_bins"],
            f["cold_bins"], f["count"], f["count_low"], f["count_high"], f["censored"], f["ubigeo"])]
        return {
            "hexwatch": self.provenance, "method": self.method(), "period": self.period,
            "bins": [str(b) for b in self.bins.astype(str)], "n_locations": self.n_locations,
            "patterns": self.pattern_counts(), "notes": list(self.notes), "cells": cells,
        }

    def summary(self) -> str:
        """A few readable lines: the view, the method, locations per pattern."""
        v = self.view
        lines = [f"emerging hot spots: {self.n_locations:,} cells at resolution {v.resolution}, "
                 f"{self.bins.size} {self.period}s {self.bins[0] if self.bins.size else ''} to "
                 f"{bin_ends(self.bins, self.period)[-1] if self.bins.size else ''}"
                 + (" (public: published grid only)" if self.public else ""),
                 f"method: Gi* (k={self.settings['k_rings']} rings, {self.settings['time_steps']} previous bin(s)), "
                 f"{self.settings['inference']}; BH FDR q={self.settings['alpha']}; Mann-Kendall trend"]
        if self.provenance.get("synthetic"):
            lines.insert(0, "DATOS SINTÉTICOS / SYNTHETIC DATA")
        for p, n in self.pattern_counts().items():
            if n:
                lines.append(f"  {p:<24} {n:>7,}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _num(v) -> float | None:
    v = float(v)
    return round(v, 6) if np.isfinite(v) else None


# --- the entry point ---------------------------------------------------------------------------

_CACHE: OrderedDict[tuple, tuple[Any, HotspotResult]] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_KEEP = 8


def emerging_hotspots(store, view, *, period: str = "week", k_rings: int = DEFAULT_K_RINGS,
                      time_steps: int = DEFAULT_TIME_STEPS, alpha: float = ALPHA, permutations: int = 0,
                      seed: int = 0, public: bool = False, grid=None, k: int | None = None, districts=None,
                      registry=None, cache: bool = True) -> HotspotResult:
    """Emerging hot spot analysis of ``view`` (a :class:`geo.viewspec.View`) over ``store``.

    ``period`` is ``"week"`` or ``"month"`` (public output: the published grid's period);
    the view's dates must hold at least :data:`MIN_BINS` whole bins. ``resolution`` may
    be any resolution up to the store's finest cube (coarser ones are summed from the
    nearest finer cube); public output is clamped to the grid's (≤ 8). ``districts``
    (default: the fetched study districts; ``False``: none) name each cell's district
    and filter by ``area``. Results are cached per process by store version and arguments.
    """
    from geo import export, privacy
    from geo.store import Store
    from geo.views import open_views

    st = store if isinstance(store, Store) else Store.open(store)
    if period not in PERIODS:
        raise HexwatchError(f"period {period!r} is unknown; use one of {', '.join(PERIODS)}")
    if int(k_rings) < 0 or int(k_rings) > 10:
        raise HexwatchError(f"k_rings must be 0-10, not {k_rings}")
    if int(time_steps) < 0:
        raise HexwatchError(f"time_steps must be 0 or more, not {time_steps}")
    if permutations and not 1 <= permutations <= MAX_PERMUTATIONS:
        raise HexwatchError(f"permutations must be 0 (analytic) or 1-{MAX_PERMUTATIONS}, not {permutations}")
    notes: list[str] = []
    requested = view
    view = export.resolve_view(st, view, registry)
    districts = None if districts is False else districts if districts is not None else export._load_districts(st, None, notes)
    if view.area != "all" and districts is None:
        raise HexwatchError(f"area {view.area!r} needs district boundaries: run `hexwatch boundaries fetch`, or use --area all")
    if public:
        grid = grid or privacy.PublicGrid(**({"k": k} if k is not None else {}))
        if period != grid.period:
            notes.append(f"public hot spots use the published grid's {grid.period}s (asked: {period}s)")
            period = grid.period
        res = privacy.public_resolution(view.resolution, grid)
        if res != view.resolution:
            notes.append(f"resolution {view.resolution} is finer than public maps allow; shown at {res}")
            view = view.replace(resolution=res)
    key = (str(st.root.resolve()), st.version, view, period, int(k_rings), int(time_steps), float(alpha),
           int(permutations), int(seed), public, _grid_key(grid), id(districts))
    if cache:
        with _CACHE_LOCK:
            hit = _CACHE.get(key)
            if hit is not None and hit[0] is districts:  # the same boundaries, not a reused id
                _CACHE.move_to_end(key)
                return hit[1]
    sv = open_views(st, districts)
    cov0, cov1 = sv.day_range
    start, end = max(view.start, cov0), min(view.end, cov1)
    if (start, end) != (view.start, view.end):
        notes.append(f"dates clipped to the store's coverage: {start} to {end}")
    bins = time_bins(start, end, period) if start <= end else np.zeros(0, "datetime64[D]")
    if bins.size < MIN_BINS:
        raise HexwatchError(f"{bins.size} whole {period}(s) between {start} and {end}: emerging hot spots need at least "
                            f"{MIN_BINS} (Esri's minimum for the trend test); widen the dates or use --period week")
    b_end = bin_ends(bins, period)
    if (np.datetime64(start, "D"), np.datetime64(end, "D")) != (bins[0], b_end[-1]):
        notes.append(f"partial {period}s left out: bins run from {bins[0]} to {b_end[-1]}")
    if view.categories:
        matched, unknown = match_categories(view.categories, sv.categories)
        if unknown:
            notes.append("categories not in the store: " + ", ".join(unknown))
        view = view.replace(categories=tuple(matched) or view.categories)
    if public:
        cats, cat_notes = privacy.public_categories(view.categories, sv.categories, grid)
        notes += cat_notes
        cube = _public_cube(st, sv, view, bins, grid, cats, districts)
    else:
        cats = [c for c in view.categories if c in sv.categories] or (sv.categories if not view.categories else [])
        cube = _official_cube(sv, view, bins, period)
    if cube.cells.size == 0:
        notes.append("no incidents in this view: no locations to analyse")
    nb = neighbour_matrix(cube.cells, k_rings)
    kw = dict(k_rings=k_rings, time_steps=time_steps, alpha=alpha, permutations=permutations, seed=seed, neighbours=nb)
    main = analyse_counts(cube.cells, cube.mid, **kw)
    pattern = main.patterns
    censored = np.zeros(cube.cells.size, dtype=bool)
    settings: dict[str, Any] = {
        "k_rings": int(k_rings), "time_steps": int(time_steps), "alpha": float(alpha), "permutations": int(permutations),
        "seed": int(seed) if permutations else None,
        "inference": main.gi.method if permutations == 0 else
        f"{main.gi.method}, two-sided pseudo p-values (the smallest possible is {2 / (permutations + 1):.2g})",
    }
    if public and (cube.low != cube.high).any():
        lo = analyse_counts(cube.cells, cube.low, **kw).patterns
        hi = analyse_counts(cube.cells, cube.high, **kw).patterns
        censored = (lo != pattern) | (hi != pattern)
        pattern = np.where(censored, NO_PATTERN, pattern).astype(object)
        settings["censoring"] = (f"suppressed entries (1 to {grid.k - 1} incidents) analysed at {grid.k / 2:g}; the "
                                 f"analysis is repeated with all of them at 1 and at {grid.k - 1}, and a cell whose "
                                 "pattern differs is shown as 'no pattern detected' (censored)")
        if censored.any():
            notes.append(f"{int(censored.sum())} cells have no pattern because suppressed counts could change it")
    result = HotspotResult(
        view=view, period=period, cells=cube.cells, bins=bins, low=cube.low, high=cube.high, z=main.gi.z,
        p=main.gi.p, q=main.q, state=main.state, pattern=pattern, trend_tau=main.trend_tau, trend_z=main.trend_z,
        trend_p=main.trend_p, censored=censored, ubigeo=cube.ubigeo, settings=settings, public=public, notes=notes)
    privacy_info = None
    if public:
        privacy_info = {"k": grid.k, "grid_resolution": grid.resolution, "period": grid.period,
                        "groups": dict(grid.groups), "sensitive_categories": "left out",
                        "rule": "every value is derived from the fixed published grid (cell x period x group); "
                                "suppressed entries are censored, never estimated from the store; see docs/privacy.md"}
    prov = export.provenance(st, view, requested=requested, public=public, categories=cats, notes=notes,
                             privacy_info=privacy_info, n_hexes=result.n_locations)
    prov["filters"] = {k2: v for k2, v in prov["filters"].items() if k2 not in ("baseline_start", "baseline_end", "metric")}
    prov["analysis"] = "emerging hot spots (space-time Getis-Ord Gi* + Mann-Kendall)"
    result.provenance = prov
    if cache:
        with _CACHE_LOCK:
            _CACHE[key] = (districts, result)
            while len(_CACHE) > _CACHE_KEEP:
                _CACHE.popitem(last=False)
    return result


# --- outputs ----------------------------------------------------------------------------------

#: Properties of each GeoJSON feature (and CSV-like rows), in order.
FEATURE_COLUMNS = ("layer", "h3", "resolution", "pattern", "z", "p", "q", "trend_tau", "trend_z", "trend_p",
                   "hot_bins", "cold_bins", "count", "count_low", "count_high", "censored", "ubigeo")


def to_geojson(result: HotspotResult) -> bytes:
    """The result as an RFC 7946 FeatureCollection of hexagons (one per location, the
    properties of :data:`FEATURE_COLUMNS`), with provenance and method in the top-level
    ``hexwatch`` member, like every export (:mod:`geo.export`)."""
    import orjson

    from geo import export

    f = result.cells_frame()
    f["layer"] = "hotspot"
    f["resolution"] = np.full(len(f), result.view.resolution, dtype=np.int8)
    for c in ("z", "p", "q", "trend_tau", "trend_z", "trend_p"):
        f[c] = f[c].round(6)
    f["geometry"] = export.rfc7946_geometries(export.cells_to_polygons(f["cell"].to_numpy(np.uint64)))
    doc = {"type": "FeatureCollection",
           "hexwatch": result.provenance | {"method": result.method(), "period": result.period,
                                            "bins": [str(b) for b in result.bins.astype(str)],
                                            "patterns": result.pattern_counts()},
           "features": export._features(f, FEATURE_COLUMNS)}
    return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)


def to_json(result: HotspotResult) -> bytes:
    """:meth:`HotspotResult.to_dict` as indented JSON bytes."""
    import orjson

    return orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY, default=str)


def write_outputs(result: HotspotResult, *, json_path: str | os.PathLike | None = None,
                  geojson_path: str | os.PathLike | None = None) -> list[Path]:
    """Write the JSON and/or GeoJSON atomically (names made safe as in :func:`geo.export.safe_filename`)."""
    from geo.export import safe_filename
    from geo.store import atomic_write_bytes

    written = []
    for path, make in ((json_path, to_json), (geojson_path, to_geojson)):
        if path is None:
            continue
        p = Path(path)
        p = p.with_name(safe_filename(p.name))
        atomic_write_bytes(p, make(result))
        written.append(p)
    return written


# --- map layers (what the dashboard draws) ---------------------------------------------------


def span_start(end: date, months: int | None, first: date) -> date:
    """First day of a window of ``months`` whole months ending with ``end``'s month
    (``None``: from ``first``), never before ``first``.

    >>> span_start(date(2025, 12, 31), 24, date(2022, 1, 1))
    datetime.date(2024, 1, 1)
    >>> span_start(date(2025, 12, 31), None, date(2022, 1, 1))
    datetime.date(2022, 1, 1)
    """
    if months is None:
        return first
    m = end.year * 12 + end.month - 1 - (int(months) - 1)
    return max(first, date(m // 12, m % 12 + 1, 1))


def layer_features(result: HotspotResult, *, with_no_pattern: bool = False, decimals: int = 5) -> dict:
    """The result's cells as a GeoJSON FeatureCollection (dict) for a map: one hexagon per
    location with a pattern (all locations with ``with_no_pattern``), coordinates rounded
    to ``decimals`` (5: about 1 m), properties ``h3``, ``pattern``, ``code`` (index in
    :data:`PATTERNS`), final-bin ``z`` and ``p``, ``trend_tau``, ``trend_p``, ``censored``."""
    from geo import export
    from geo.h3index import cells_to_str

    keep = np.ones(result.cells.size, bool) if with_no_pattern else result.pattern != NO_PATTERN
    idx = np.flatnonzero(keep)
    cells = result.cells[idx]
    if not idx.size:
        return {"type": "FeatureCollection", "features": []}
    coords, which = shapely.get_coordinates(export.rfc7946_geometries(export.cells_to_polygons(cells)),
                                            return_index=True)
    rings = np.split(np.round(coords, decimals), np.cumsum(np.bincount(which, minlength=idx.size))[:-1])
    codes = np.fromiter((_CODE[p] for p in result.pattern[idx]), dtype=np.int64, count=idx.size)
    cols = zip(cells_to_str(cells).tolist(), result.pattern[idx].tolist(), codes.tolist(),
               np.round(result.z[idx, -1], 3).tolist(), np.round(result.p[idx, -1], 4).tolist(),
               np.round(result.trend_tau[idx], 3).tolist(), np.round(result.trend_p[idx], 4).tolist(),
               result.censored[idx].tolist(), rings)
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring.tolist()]},
         "properties": {"h3": h, "pattern": pat, "code": c, "z": z, "p": p, "trend_tau": tau, "trend_p": tp,
                        "censored": cen}}
        for h, pat, c, z, p, tau, tp, cen, ring in cols]}
