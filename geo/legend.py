"""Map legend classes that do not overlap, leave no gap and can be fixed for a whole period.

A :class:`Legend` is a list of classes over values rounded to what the label shows
(whole counts, or ``decimals`` places), so a label like ``6–18`` is exact: the next class
starts at ``19``, never at ``18`` again (``"6 – 19, 19 – 88"`` is the bug this replaces).
``breaks`` come from quantiles of a *reference* (e.g. every cell over the store's whole
period, :func:`geo.views.StoreViews.fixed_classes`) or are given by the user, so colours
mean the same in every week. ``counts`` is the histogram of the values drawn.

>>> lg = classes(np.array([1, 2, 3, 6, 7, 19, 40, 88]), breaks=[6, 19, 88])
>>> lg.labels, lg.counts
(('1–5', '6–18', '19–87', '≥ 88'), (3, 2, 2, 1))
>>> classes(np.array([0.04, 1.26, 3.3]), breaks=[1.25, 3.3], decimals=1).labels
('0.0–1.1', '1.2–3.2', '≥ 3.3')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Legend:
    """Classes ``[breaks[i-1], breaks[i])`` of rounded values; class 0 is below ``breaks[0]``."""

    breaks: tuple[float, ...]
    labels: tuple[str, ...]
    counts: tuple[int, ...]
    decimals: int
    n_missing: int = 0

    def classify(self, values) -> np.ndarray:
        """Class index of each value (-1 where missing)."""
        v = np.round(np.asarray(values, dtype=float), self.decimals)
        out = np.searchsorted(np.asarray(self.breaks, dtype=float), v, side="right")
        return np.where(np.isfinite(v), out, -1)

    def to_dict(self) -> dict:
        return {"breaks": list(self.breaks), "labels": list(self.labels), "counts": list(self.counts),
                "decimals": self.decimals, "n_missing": self.n_missing}


def quantile_breaks(reference, n: int = 5, *, decimals: int = 0) -> list[float]:
    """Up to ``n - 1`` increasing breaks from quantiles of the finite, positive ``reference``
    values, rounded to ``decimals`` (distinct after rounding)."""
    v = np.asarray(reference, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return []
    q = np.quantile(v, np.linspace(0, 1, n + 1)[1:-1])
    step = 10.0 ** -decimals
    # Up to the next shown step, so that no break sits at or below the smallest value.
    q = np.round(np.ceil(np.round(q / step, 6)) * step, decimals)
    q = q[q > np.round(v.min(), decimals)]  # a break at the minimum makes an empty first class
    return sorted(set(q.tolist()))


def _fmt(x: float, decimals: int, unit: str, signed: bool = False) -> str:
    sign = "+" if signed and x > 0 else ""
    return sign + (f"{x:,.{decimals}f}" if decimals else f"{int(round(x)):,}") + unit


def classes(values, *, breaks=None, reference=None, n: int = 5, decimals: int = 0, unit: str = "",
            signed: bool = False) -> Legend:
    """Classes for ``values``: ``breaks`` as given, else quantiles of ``reference`` (default:
    the values themselves). Labels are exact for values rounded to ``decimals``; the
    first class starts at the smallest value, at 0 for positive breaks without values,
    else reads ``≤ x``. ``signed``: ``+`` before positive numbers (changes).

    >>> classes([], breaks=[-20, 20], unit=" %", signed=True).labels
    ('≤ -21 %', '-20 – +19 %', '≥ +20 %')
    """
    v = np.asarray(values, dtype=float)
    if breaks is None:
        breaks = quantile_breaks(v if reference is None else reference, n, decimals=decimals)
    b = [float(x) for x in np.round(np.asarray(breaks, dtype=float), decimals)]
    if any(y <= x for x, y in zip(b, b[1:])):
        raise ValueError(f"legend breaks must increase: {b}")
    step = 10.0 ** -decimals
    finite = v[np.isfinite(v)]
    if finite.size:
        lowest = float(np.round(finite.min(), decimals))
    else:
        lowest = 0.0 if not b or b[0] > 0 else None
    if lowest is not None and b:
        lowest = min(lowest, b[0] - step)
    f = lambda x, u=unit: _fmt(x, decimals, u, signed)  # noqa: E731
    sep = " – " if signed else "–"
    labels = []
    edges = [lowest, *b]
    for i, lo in enumerate(edges):
        if i == len(edges) - 1:
            labels.append(f"≥ {f(lo)}" if b else f(lo if lo is not None else 0))
        elif lo is None:
            labels.append(f"≤ {f(edges[i + 1] - step)}")
        else:
            hi = edges[i + 1] - step
            labels.append(f(lo) if hi <= lo else f"{f(lo, '')}{sep}{f(hi)}")
    lg = Legend(tuple(b), tuple(labels), (), decimals)
    cls = lg.classify(v)
    counts = np.bincount(cls[cls >= 0], minlength=len(labels))
    return Legend(tuple(b), tuple(labels), tuple(int(c) for c in counts), decimals, int((cls < 0).sum()))


#: Change classes (percent): fixed and symmetric, so "more" and "less" read alike everywhere.
CHANGE_BREAKS = (-50, -20, -5, 5, 20, 50)


def change_interval(low, high, base_low, base_high, days: int, baseline_days: int, min_baseline: int = 5):
    """The range of percent change a public hex's count ranges allow: from the lowest
    count against the highest baseline to the highest count against the lowest
    baseline (daily rates). NaN where the baseline may be below ``min_baseline``."""
    low, high = np.asarray(low, float), np.asarray(high, float)
    bl, bh = np.asarray(base_low, float), np.asarray(base_high, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = (low / days) / (bh / baseline_days) * 100 - 100
        hi = (high / days) / (bl / baseline_days) * 100 - 100
    bad = bl < min_baseline
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def interval_classes(lo, hi, breaks=CHANGE_BREAKS) -> np.ndarray:
    """A class for a change known only as a range: the class both ends share; else
    ``-2`` when the whole range is a rise, ``-3`` a fall, ``-4`` when it spans no change;
    ``-1`` when unknown."""
    b = np.asarray(breaks, dtype=float)
    clo = np.searchsorted(b, np.round(lo), side="right")
    chi = np.searchsorted(b, np.round(hi), side="right")
    out = np.where(clo == chi, clo, np.where(np.asarray(lo) > 0, -2, np.where(np.asarray(hi) < 0, -3, -4)))
    return np.where(np.isfinite(lo) & np.isfinite(hi), out, -1)
