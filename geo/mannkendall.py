"""The Mann-Kendall trend test, vectorised over many series at once.

Emerging hot spot analysis runs one Mann-Kendall test per location on its series of
Gi* z-scores (thousands of series of ~50-200 values). ``pymannkendall.original_test``
and ``scipy.stats.kendalltau`` test one series per call; a Python loop over 5,000
series of 208 weeks takes tens of seconds, this takes well under one. The test suite
checks every output against ``pymannkendall.original_test`` (Hussain & Mahmud 2019).

The test (Mann 1945; Kendall 1975), for a series ``x_1 .. x_n``:

- ``S = sum_{i<j} sign(x_j - x_i)``;
- ``Var(S) = [n(n-1)(2n+5) - sum_t t(t-1)(2t+5)] / 18``, the sum over groups of ``t``
  tied values (exact float equality);
- ``z = (S - 1)/sqrt(Var S)`` when ``S > 0``, ``(S + 1)/sqrt(Var S)`` when ``S < 0``,
  else 0 (continuity correction); two-sided ``p = 2 (1 - Phi(|z|))``;
- ``tau = S / (n(n-1)/2)`` (Kendall's tau-a, as pymannkendall reports it).

Example
-------
>>> r = mann_kendall(np.array([[1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10], [3.0, 3, 3, 3, 3, 3, 3, 3, 3, 3]]))
>>> r.s.tolist(), r.tau.round(3).tolist(), bool(r.p[0] < 0.001), float(r.p[1])
([45, 0], [1.0, 0.0], True, 1.0)
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

#: Rows per task.
_CHUNK = 1024
#: Below this many values one thread does it all.
_THREADED = 500_000


@dataclass(frozen=True)
class MannKendall:
    """Results per series (arrays of one value per row of the input)."""

    s: np.ndarray      # int64, Kendall's S
    var_s: np.ndarray  # float64, variance of S with the tie correction
    z: np.ndarray      # float64, continuity-corrected normal score
    p: np.ndarray      # float64, two-sided p-value
    tau: np.ndarray    # float64, S / (n(n-1)/2)


def mann_kendall(x: np.ndarray, *, workers: int | None = None) -> MannKendall:
    """Mann-Kendall test of each row of ``x`` (shape ``(series, time)``, no NaN) for a
    monotonic trend in time. A series of fewer than 3 values gets ``p = 1``."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError("mann_kendall() takes a 2-D array: one series per row")
    m, n = x.shape
    # Row chunks: each one's working set stays in cache, and numpy releases the GIL in
    # its loops, so two threads use both cores.
    chunks = [slice(a, min(a + _CHUNK, m)) for a in range(0, m, _CHUNK)] or [slice(0, 0)]
    n_workers = min(len(chunks), workers or os.cpu_count() or 1)
    if n_workers == 1 or m * n < _THREADED:  # starting threads costs more than a small input takes
        parts = [_s_and_ties(x[c]) for c in chunks]
    else:
        with ThreadPoolExecutor(max_workers=n_workers) as pool:
            parts = list(pool.map(lambda c: _s_and_ties(x[c]), chunks))
    s = np.concatenate([p[0] for p in parts])
    tie = np.concatenate([p[1] for p in parts])
    var_s = (n * (n - 1) * (2 * n + 5) - tie) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (s - 1) / np.sqrt(var_s), np.where(s < 0, (s + 1) / np.sqrt(var_s), 0.0))
    z = np.where(var_s > 0, z, 0.0)
    p = 2.0 * ndtr(-np.abs(z))
    tau = s / (n * (n - 1) / 2.0) if n > 1 else np.zeros(m)
    if n < 3:
        p = np.ones(m)
    return MannKendall(s=s, var_s=var_s, z=z, p=p, tau=np.asarray(tau, dtype=np.float64))


#: Up to this many times per series, comparing every pair directly is the faster way.
_PAIRWISE_MAX = 64


def _s_and_ties(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ranks, tie = _dense_ranks(x)
    if x.shape[1] <= _PAIRWISE_MAX:
        s = np.zeros(x.shape[0], dtype=np.int64)
        for lag in range(1, x.shape[1]):  # one vectorised comparison of all series per lag
            d = ranks[:, lag:] - ranks[:, :-lag]
            s += np.sign(d).sum(axis=1)
        return s, tie
    return _kendall_s(ranks), tie


def _dense_ranks(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense ranks (1 = smallest, ties share a rank) of each row, and each row's tie
    term ``sum_t t(t-1)(2t+5)`` over its groups of equal values."""
    m, n = x.shape
    if n == 0 or m == 0:
        return np.zeros((m, n), dtype=np.int64), np.zeros(m)
    order = np.argsort(x, axis=1, kind="stable")
    xs = np.take_along_axis(x, order, axis=1)
    starts = np.ones((m, n), dtype=bool)
    starts[:, 1:] = xs[:, 1:] != xs[:, :-1]
    ranks = np.empty((m, n), dtype=np.int64)
    np.put_along_axis(ranks, order, np.cumsum(starts, axis=1), axis=1)
    group = np.cumsum(starts.ravel()) - 1          # one id per (row, run of equal values)
    t = np.bincount(group).astype(np.float64)      # size of each group
    row_of_group = np.repeat(np.arange(m), starts.sum(axis=1))
    return ranks, np.bincount(row_of_group, weights=t * (t - 1) * (2 * t + 5), minlength=m)


def _kendall_s(ranks: np.ndarray) -> np.ndarray:
    """``S`` of each row from its dense ranks: ``S = P - ties - 2 I`` with ``P`` the
    pairs, ``ties`` the tied pairs and ``I`` the inversions (earlier value above a later
    one). Inversions are counted in blocks of time, all rows at once: pairs inside a
    block by direct comparison, pairs across blocks from a running histogram of the
    earlier blocks' ranks. About N * T * (B + T / B) operations instead of the N * T^2 / 2
    of comparing every pair (2 s for 5,000 weekly series of four years)."""
    m, n = ranks.shape
    if n < 2 or m == 0:
        return np.zeros(m, dtype=np.int64)
    top = int(ranks.max()) + 1
    block = max(4, int(np.sqrt(n)))
    ranks = ranks.astype(np.int16 if top < 2**15 else np.int64)
    hist = np.zeros((m, top), dtype=np.int32)        # ranks seen in earlier blocks, per row
    base = (np.arange(m, dtype=np.int64) * top)[:, None]
    inversions = np.zeros(m, dtype=np.int64)
    upper = {}
    for b0 in range(0, n, block):
        blk = ranks[:, b0:b0 + block]
        if b0:
            at_most = np.take_along_axis(np.cumsum(hist, axis=1), blk, axis=1)
            inversions += (b0 - at_most).sum(axis=1)  # earlier blocks' values above each one
        w = blk.shape[1]
        if w not in upper:
            upper[w] = np.triu(np.ones((w, w), dtype=bool), 1)
        inversions += ((blk[:, :, None] > blk[:, None, :]) & upper[w]).sum(axis=(1, 2))
        hist += np.bincount((base + blk).ravel(), minlength=m * top).reshape(m, top).astype(np.int32)
    srt = np.sort(ranks, axis=1)
    starts = np.ones((m, n), dtype=bool)
    starts[:, 1:] = srt[:, 1:] != srt[:, :-1]
    group = np.cumsum(starts.ravel()) - 1
    t = np.bincount(group).astype(np.int64)
    tied = np.bincount(np.repeat(np.arange(m), starts.sum(axis=1)), weights=t * (t - 1) // 2, minlength=m)
    return (n * (n - 1) // 2 - tied.astype(np.int64) - 2 * inversions).astype(np.int64)
