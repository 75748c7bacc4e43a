"""The rules for public output (embeds, the dashboard's public mode, public exports).

Public output must never let anyone locate a victim. The rules, as pure functions:

1. **No raw points.** Public values come only from the cell cube, never from
   ``incidents``; the only geometries published are H3 hexagons and district outlines.
2. **Coarse cells.** Hexes at H3 resolution ≤ :data:`MAX_PUBLIC_RESOLUTION` (8, about
   0.7 km²). A finer request is clamped to the grid's resolution (and the output says so).
3. **Small counts are suppressed.** A published count below ``k`` (default 5, never below
   :data:`MIN_K` = 3) is replaced by ``"< k"``.
4. **One fixed published grid, and everything public is derived from it.** The only
   counts ever published are the entries of one table, the *published grid*: incidents
   per (H3 cell at the grid resolution, calendar period, category group), where periods
   are whole calendar months (or whole ISO weeks, Monday first) of a fixed calendar and
   groups are a fixed partition of the non-sensitive categories. Its entries below ``k``
   are suppressed. A public view (any date range, resolution ≤ the grid's, categories,
   area) is computed *from the published grid only*: its date range is snapped outward to
   whole periods, its categories to whole groups, and a hex's value is the sum of the
   grid entries it covers. Where a suppressed entry is among them, the value is not
   exact: it is published as an interval ``[low, high]`` with ``low = known + s`` and
   ``high = known + (k - 1)·s`` for ``s`` suppressed entries (labelled ``"low–high"``,
   or ``"< k"`` when that is all there is). Because every public number is a function of
   the published grid alone, differencing any two public views (overlapping date
   ranges, a coarse and a fine resolution, one category and all) can only recover what
   the grid already shows: never a count below ``k``. The test suite checks this both
   ways: the difference of two exact overlapping views is 0 or ≥ k, and changing a
   suppressed count leaves every public view unchanged.
5. **Sensitive categories** (sexual and family violence and the like:
   :data:`SENSITIVE_CATEGORIES`, matched case- and accent-insensitively as substrings,
   configurable) are left out of public output, including its totals; asking for one
   publicly is an error.

What this does not cover: a store that is re-ingested with new incidents changes the
published grid, so two public outputs made from *different store versions* can differ
by fewer than ``k`` incidents. Deployments that must prevent that publish from a frozen
store version. Deployments should also fix ``k`` and the grid in their configuration
rather than per request: the smallest ``k`` ever used is the one in force.

Example
-------
>>> import pandas as pd, numpy as np, h3
>>> a, b = (h3.str_to_int(h3.latlng_to_cell(-12.05, lon, 8)) for lon in (-77.04, -77.00))
>>> cube = pd.DataFrame({"cell": np.array([a, a, b], dtype=np.uint64),
...                      "day": pd.to_datetime(["2024-01-03", "2024-02-10", "2024-01-05"]).values.astype("datetime64[D]"),
...                      "category": ["robo", "robo", "robo"], "n": [7, 2, 9]})
>>> grid = PublicGrid(k=5, resolution=8, period="month")
>>> pub = publish(cube, grid)
>>> pub["n"].tolist()  # cell 1 in February had 2: suppressed
[7, <NA>, 9]
>>> count_labels(np.array([8]), np.array([11]), 5).tolist()  # 7 + one suppressed entry (1-4)
['8–11']
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from geo.errors import HexwatchError
from geo.h3index import cell_resolution, cells_to_parent

#: The smallest k anyone may publish with.
MIN_K = 3
#: k unless configured otherwise.
DEFAULT_K = 5
#: The finest H3 resolution public output may show (res 8 hexes cover about 0.74 km²).
MAX_PUBLIC_RESOLUTION = 8
#: Calendar units a published grid may use.
PERIODS = ("month", "week")
#: Substrings (lower case, no accents) that mark a category as sensitive.
SENSITIVE_CATEGORIES: tuple[str, ...] = (
    "violencia sexual",
    "violencia familiar",
    "violacion",
    "sexual",
    "pudor",
    "feminicidio",
    "trata de personas",
    "violencia contra la mujer",
)


def check_k(k: int) -> int:
    """``k`` as an int, or a :class:`HexwatchError` when it is below :data:`MIN_K`.

    >>> check_k(5)
    5
    """
    k = int(k)
    if k < MIN_K:
        raise HexwatchError(f"k={k} is too small: public counts need k >= {MIN_K} (default {DEFAULT_K})")
    return k


def _fold(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", str(s).casefold()) if not unicodedata.combining(c))


def is_sensitive(categories: Iterable[str], patterns: Sequence[str] = SENSITIVE_CATEGORIES) -> np.ndarray:
    """Whether each category is sensitive (contains a pattern, ignoring case and accents).

    >>> is_sensitive(["Robo", "VIOLENCIA FAMILIAR", "Violación"]).tolist()
    [False, True, True]
    """
    # Fold each distinct category once: cube rows repeat a handful of categories many times.
    codes, uniques = pd.factorize(pd.Series(list(categories), dtype=object).astype(str))
    folded = pd.Series([_fold(c) for c in uniques], dtype="string")
    hit = np.zeros(len(folded), dtype=bool)
    for p in patterns:
        hit |= folded.str.contains(_fold(p), regex=False).to_numpy(dtype=bool)
    return hit[codes] if len(codes) else np.zeros(0, dtype=bool)


#: Ingest-report keys a public page may show: data quality (rejected rows and why), never a
#: count of accepted incidents, which would hold the sensitive categories (rule 5).
PUBLIC_REPORT_KEYS: tuple[str, ...] = ("source_file", "kind", "n_rejected", "rejects_by_reason", "coverage",
                                       "boundaries", "h3_resolution", "started_at")


def public_ingest_report(report: Mapping) -> dict:
    """The part of an ingest report (``ingest_report.json``) that public output may show.

    Rows read and accepted, located or outside districts count every category, so
    with a public total (which leaves sensitive categories out) they would give away
    the sensitive total; server paths are no one's business either. Keys not listed in
    :data:`PUBLIC_REPORT_KEYS` (including ones added later) are left out.

    >>> public_ingest_report({"source_file": "x.csv", "path": "/srv/x.csv", "n_input": 10, "n_accepted": 9,
    ...                       "n_rejected": 1, "rejects_by_reason": {"bad_time": 1}})
    {'source_file': 'x.csv', 'n_rejected': 1, 'rejects_by_reason': {'bad_time': 1}}
    """
    return {k: report[k] for k in PUBLIC_REPORT_KEYS if k in report}


@dataclass(frozen=True)
class PublicGrid:
    """The fixed grid that public counts are published on (see the module docstring).

    ``groups`` maps a category to its public group (categories not listed are their own
    group); ``sensitive`` are the patterns of categories never published. A deployment
    fixes one grid; every public output is derived from it.
    """

    k: int = DEFAULT_K
    resolution: int = MAX_PUBLIC_RESOLUTION
    period: str = "month"
    groups: Mapping[str, str] = field(default_factory=dict)
    sensitive: tuple[str, ...] = SENSITIVE_CATEGORIES

    def __post_init__(self) -> None:
        check_k(self.k)
        if not 0 <= int(self.resolution) <= MAX_PUBLIC_RESOLUTION:
            raise HexwatchError(f"a public grid's resolution must be 0-{MAX_PUBLIC_RESOLUTION}, got {self.resolution}")
        if self.period not in PERIODS:
            raise HexwatchError(f"public period {self.period!r} is unknown; use one of {', '.join(PERIODS)}")

    def group_of(self, categories: Iterable[str]) -> np.ndarray:
        """The public group of each category (itself unless ``groups`` says otherwise)."""
        s = pd.Series(list(categories), dtype=object)
        return s.map(lambda c: self.groups.get(c, c)).to_numpy(dtype=object) if self.groups else s.to_numpy(dtype=object)


def public_resolution(requested: int, grid: PublicGrid) -> int:
    """The resolution a public view is drawn at: the request, clamped to the grid's.

    >>> public_resolution(10, PublicGrid())
    8
    """
    return min(int(requested), grid.resolution)


def snap_range(start: date, end: date, period: str) -> tuple[date, date]:
    """Widen ``[start, end]`` (inclusive) to whole periods of the fixed calendar.

    >>> snap_range(date(2023, 9, 20), date(2023, 11, 18), "month")
    (datetime.date(2023, 9, 1), datetime.date(2023, 11, 30))
    >>> snap_range(date(2023, 9, 20), date(2023, 11, 18), "week")  # Monday to Sunday
    (datetime.date(2023, 9, 18), datetime.date(2023, 11, 19))
    """
    if period == "month":
        first = start.replace(day=1)
        nxt = date(end.year + (end.month == 12), end.month % 12 + 1, 1)
        return first, nxt - timedelta(days=1)
    if period == "week":
        return start - timedelta(days=start.weekday()), end + timedelta(days=6 - end.weekday())
    raise HexwatchError(f"public period {period!r} is unknown; use one of {', '.join(PERIODS)}")


def previous_periods(start: date, end: date, period: str) -> tuple[date, date]:
    """The window of as many whole periods as ``[start, end]`` holds, just before it (the
    default baseline of a public view, so that it never overlaps the view).

    >>> previous_periods(date(2023, 9, 1), date(2023, 11, 30), "month")
    (datetime.date(2023, 6, 1), datetime.date(2023, 8, 31))
    """
    start, end = snap_range(start, end, period)
    if period == "week":
        return start - (end - start + timedelta(days=1)), start - timedelta(days=1)
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    m = start.year * 12 + start.month - 1 - months
    return date(m // 12, m % 12 + 1, 1), start - timedelta(days=1)


def period_starts(days, period: str) -> np.ndarray:
    """First day (``datetime64[D]``) of each day's period: the 1st of its month or its ISO Monday."""
    d = np.asarray(days).astype("datetime64[D]")
    if period == "month":
        return d.astype("datetime64[M]").astype("datetime64[D]")
    # 1970-01-01 was a Thursday: shift by 3 so that Monday is 0.
    return d - ((d.astype(np.int64) + 3) % 7).astype("timedelta64[D]")


def public_categories(selected: Sequence[str], available: Sequence[str], grid: PublicGrid) -> tuple[list[str], list[str]]:
    """The categories a public view covers, and notes about what was changed.

    Empty ``selected`` means every non-sensitive category. A selected category is widened
    to its whole group (the grid publishes groups, not their parts). Asking for a
    sensitive category is an error.
    """
    available = sorted(set(available))
    sens = set(np.asarray(available, dtype=object)[is_sensitive(available, grid.sensitive)]) if available else set()
    asked_sensitive = [c for c in selected if is_sensitive([c], grid.sensitive)[0]]
    if asked_sensitive:
        raise HexwatchError(f"category {asked_sensitive[0]!r} is sensitive and never published; "
                            "choose another category or use the officials' (logged-in) view")
    public = [c for c in available if c not in sens]
    if not selected:
        return public, ([f"{len(sens)} sensitive categories left out"] if sens else [])
    groups = set(grid.group_of(selected))
    widened = [c for c in public if grid.group_of([c])[0] in groups]
    notes = []
    extra = sorted(set(widened) - set(selected))
    if extra:
        notes.append("categories widened to their public groups: added " + ", ".join(extra))
    return widened, notes


def publish(cube: pd.DataFrame, grid: PublicGrid) -> pd.DataFrame:
    """The published grid from cube rows ``cell, day, category, n`` at ``grid.resolution``.

    Returns ``cell, period, group, n`` with ``n`` a nullable integer: ``<NA>`` marks an
    entry below ``k`` (suppressed). Sensitive categories are dropped. The caller passes
    cube rows covering whole periods only (see :func:`snap_range`); each entry depends on
    the incidents of its own cell, period and group and nothing else.
    """
    if len(cube) and (cell_resolution(cube["cell"].to_numpy(dtype=np.uint64)) != grid.resolution).any():
        raise ValueError(f"publish() needs cells at the grid's resolution {grid.resolution}")
    keep = ~is_sensitive(cube["category"].astype(object).to_numpy(), grid.sensitive) if len(cube) else np.zeros(0, bool)
    c = cube.loc[keep]
    frame = pd.DataFrame({
        "cell": c["cell"].to_numpy(dtype=np.uint64),
        "period": period_starts(c["day"].to_numpy(), grid.period),
        "group": grid.group_of(c["category"].to_numpy(dtype=object)),
        "n": c["n"].to_numpy(dtype=np.int64),
    })
    out = frame.groupby(["cell", "period", "group"], sort=True, as_index=False)["n"].sum()
    out["n"] = out["n"].astype("Int64").mask(out["n"] < grid.k)
    return out


def public_counts(published: pd.DataFrame, resolution: int, grid: PublicGrid) -> pd.DataFrame:
    """Hex values of a public view from published-grid entries (already filtered to the
    view's periods and groups): ``cell, count_low, count_high`` per cell at ``resolution``.

    ``count_low == count_high`` exactly when no suppressed entry is involved.
    """
    if resolution > grid.resolution:
        raise HexwatchError(f"public views go to resolution {grid.resolution} at most (asked {resolution})")
    cells = published["cell"].to_numpy(dtype=np.uint64)
    if resolution < grid.resolution:
        cells = cells_to_parent(cells, resolution)
    n = published["n"]
    suppressed = n.isna().to_numpy()
    frame = pd.DataFrame({"cell": cells, "known": n.fillna(0).to_numpy(dtype=np.int64), "s": suppressed.astype(np.int64)})
    g = frame.groupby("cell", sort=True, as_index=False).sum()
    return pd.DataFrame({
        "cell": g["cell"].to_numpy(dtype=np.uint64),
        "count_low": (g["known"] + g["s"]).to_numpy(dtype=np.int64),
        "count_high": (g["known"] + (grid.k - 1) * g["s"]).to_numpy(dtype=np.int64),
    })


def count_labels(low: np.ndarray, high: np.ndarray, k: int) -> np.ndarray:
    """Display labels: the count when exact, ``"< k"`` for one suppressed entry alone,
    else ``"low–high"``.

    >>> count_labels(np.array([12, 1, 2]), np.array([12, 4, 8]), 5).tolist()
    ['12', '< 5', '2–8']
    """
    low = np.asarray(low, dtype=np.int64)
    high = np.asarray(high, dtype=np.int64)
    exact = low.astype(str).astype(object)
    ranged = np.char.add(np.char.add(low.astype(str), "–"), high.astype(str)).astype(object)
    return np.where(low == high, exact, np.where(high < k, f"< {k}", ranged)).astype(object)
