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
5. **Only reviewed categories, failing closed.** A category is public only if the public
   :class:`Vocabulary` admits it (``data/privacy_vocabulary.toml``, reviewed; compared
   after :func:`normalise_category`); its deny terms (sexual and family violence and the
   like) win over admission, and a wording nobody reviewed is never published. Everything
   else is "sensitive": left out of public output, including its totals and its dates;
   asking for one publicly is an error.
6. **Public metadata comes from the published grid too** (:func:`grid_coverage`): the
   months it covers and its total as a range, never the store's exact first or last day,
   its gaps or its exact total, which count every category.

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

import functools
import os
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
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
def check_k(k: int) -> int:
    """``k`` as an int, or a :class:`HexwatchError` when it is below :data:`MIN_K`.

    >>> check_k(5)
    5
    """
    k = int(k)
    if k < MIN_K:
        raise HexwatchError(f"k={k} is too small: public counts need k >= {MIN_K} (default {DEFAULT_K})")
    return k


#: The reviewed public vocabulary bundled with hexwatch (see :class:`Vocabulary`).
_CHECKOUT_VOCABULARY = Path(__file__).resolve().parent.parent / "data" / "privacy_vocabulary.toml"
#: The reviewed vocabulary: the checkout's ``data/`` file, else the copy an installed wheel carries.
VOCABULARY_FILE = (_CHECKOUT_VOCABULARY if _CHECKOUT_VOCABULARY.is_file()
                   else Path(__file__).resolve().parent / "_data" / "privacy_vocabulary.toml")
# Characters that are not seen but split a word for a substring test (zero-width space,
# joiners, soft hyphen, BOM, bidi marks: Unicode category Cf), and runs of anything that is
# not a letter or a digit (hyphens, dashes, punctuation, several spaces).
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise_category(text: str) -> str:
    """The form categories are compared in: NFKC, case folded, accents and invisible
    characters removed, every run of non-alphanumerics one space.

    >>> normalise_category("  Violencia\u200b-FAMILIAR ")
    'violencia familiar'
    >>> normalise_category("Extorsión"), normalise_category("ﬁnanzas")
    ('extorsion', 'finanzas')
    """
    s = unicodedata.normalize("NFKC", str(text)).casefold()
    s = "".join(c for c in unicodedata.normalize("NFKD", s)
                if not unicodedata.combining(c) and unicodedata.category(c) != "Cf")
    return _NOT_WORD.sub(" ", s).strip()


def _terms(values, where: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise HexwatchError(f"{where} must be a list of strings")
    # A term's edge spaces are kept: they mark a word boundary (e.g. "trata ").
    out = []
    for v in values:
        core = normalise_category(v)
        if not core:
            raise HexwatchError(f"{where} holds an empty term {v!r}")
        out.append((" " if v[:1].isspace() else "") + core + (" " if v[-1:].isspace() else ""))
    return tuple(out)


@dataclass(frozen=True)
class Vocabulary:
    """Which categories public output may show: **fail closed** (docs/privacy.md, rule 5).

    A category is public only if a term of ``admit`` admits it (its normalised words
    begin with the term's), no term of ``deny`` occurs in it (anywhere, also with all
    spaces removed), unless its whole normalised name is in ``admit_exact``. A wording
    nobody reviewed is therefore never published. The bundled, reviewed lists are in
    ``data/privacy_vocabulary.toml``; :meth:`load` merges a deployment's own file.

    >>> v = Vocabulary(admit=("robo", "hurto"), deny=("sexual", "familia"))
    >>> v.is_public(["ROBO agravado", "Hurto", "robo sexual", "intrafamiliar", "Estafa"]).tolist()
    [True, True, False, False, False]
    """

    admit: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    admit_exact: tuple[str, ...] = ()
    source: str = field(default="", compare=False)

    @classmethod
    def from_document(cls, doc: Mapping, where: str = "vocabulary") -> "Vocabulary":
        """From a parsed TOML document ``{"public": {"admit": [...], "admit_exact": [...]},
        "sensitive": {"deny": [...]}}``."""
        if not isinstance(doc, Mapping):
            raise HexwatchError(f"{where} is not a table")
        unknown = set(doc) - {"version", "public", "sensitive"}
        if unknown:
            raise HexwatchError(f"{where}: unknown section {sorted(unknown)[0]!r}; use [public] and [sensitive]")
        pub, sens = doc.get("public") or {}, doc.get("sensitive") or {}
        for name, table, keys in (("public", pub, {"admit", "admit_exact"}), ("sensitive", sens, {"deny"})):
            if not isinstance(table, Mapping) or set(table) - keys:
                raise HexwatchError(f"{where}: [{name}] may hold only {', '.join(sorted(keys))}")
        return cls(admit=_terms(pub.get("admit"), f"{where} [public].admit"),
                   deny=_terms(sens.get("deny"), f"{where} [sensitive].deny"),
                   admit_exact=tuple(t.strip() for t in _terms(pub.get("admit_exact"), f"{where} [public].admit_exact")),
                   source=where)

    @classmethod
    def read(cls, path: str | os.PathLike) -> "Vocabulary":
        """The vocabulary of a TOML file (one-line :class:`HexwatchError` when unreadable)."""
        path = Path(path)
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise HexwatchError(f"cannot read the vocabulary file {path}: {exc.strerror}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise HexwatchError(f"vocabulary file {path} is not valid TOML: {str(exc).splitlines()[0]}") from None
        return cls.from_document(doc, str(path))

    @classmethod
    def load(cls, extra: str | os.PathLike | None = None) -> "Vocabulary":
        """The bundled vocabulary, merged with a deployment's file ``extra`` (its terms are
        added to each list: a deployment can admit more or deny more)."""
        base = _bundled()
        return base if extra is None else base.merged(cls.read(extra))

    def merged(self, other: "Vocabulary") -> "Vocabulary":
        """Both vocabularies' terms (deny still wins over admit)."""
        def join(a, b):
            return tuple(dict.fromkeys(a + b))

        return Vocabulary(join(self.admit, other.admit), join(self.deny, other.deny),
                          join(self.admit_exact, other.admit_exact), source=f"{self.source} + {other.source}")

    def _one(self, name: str) -> bool:
        if name in self.admit_exact:
            return True
        padded, squeezed = f" {name} ", name.replace(" ", "")
        for term in self.deny:
            if term in padded or (term == term.strip() and term.replace(" ", "") in squeezed):
                return False
        return any(padded.startswith(" " + term.strip() + " ") for term in self.admit)

    def is_public(self, categories: Iterable[str]) -> np.ndarray:
        """Whether each category may be published (bool array, same order)."""
        # Decide each distinct category once: cube rows repeat a handful many times.
        codes, uniques = pd.factorize(pd.Series(list(categories), dtype=object).astype(str))
        if not len(codes):
            return np.zeros(0, dtype=bool)
        ok = np.fromiter((self._one(normalise_category(c)) for c in uniques), dtype=bool, count=len(uniques))
        return ok[codes]


@functools.cache
def _bundled() -> Vocabulary:
    return Vocabulary.read(VOCABULARY_FILE)


def default_vocabulary() -> Vocabulary:
    """The reviewed vocabulary in ``data/privacy_vocabulary.toml``."""
    return _bundled()


def is_sensitive(categories: Iterable[str], vocabulary: Vocabulary | None = None) -> np.ndarray:
    """Whether each category is kept out of public output: every category that
    ``vocabulary`` (default: the bundled one) does not admit, not only the ones it denies.

    >>> is_sensitive(["Robo", "VIOLENCIA FAMILIAR", "Violación", "viol\u200bencia sexual", "sin revisar"]).tolist()
    [False, True, True, True, True]
    """
    return ~(vocabulary or default_vocabulary()).is_public(categories)


#: Ingest-report keys a public page may show: data quality (rejected rows and why), never a
#: count of accepted incidents, which would hold the sensitive categories (rule 5).
PUBLIC_REPORT_KEYS: tuple[str, ...] = ("source_file", "kind", "n_rejected", "rejects_by_reason", "boundaries",
                                       "h3_resolution")


def public_ingest_report(report: Mapping) -> dict:
    """The part of an ingest report (``ingest_report.json``) that public output may show.

    Rows read and accepted, located or outside districts count every category, so
    with a public total (which leaves sensitive categories out) they would give away
    the sensitive total; server paths are no one's business either; the dates the rows
    span and the time of the ingest count every category too (the last row of a file
    can be its only sensitive one). Keys not listed in :data:`PUBLIC_REPORT_KEYS`
    (including ones added later) are left out.

    >>> public_ingest_report({"source_file": "x.csv", "path": "/srv/x.csv", "n_input": 10, "n_accepted": 9,
    ...                       "n_rejected": 1, "rejects_by_reason": {"bad_time": 1}})
    {'source_file': 'x.csv', 'n_rejected': 1, 'rejects_by_reason': {'bad_time': 1}}
    """
    return {k: report[k] for k in PUBLIC_REPORT_KEYS if k in report}


@dataclass(frozen=True)
class PublicGrid:
    """The fixed grid that public counts are published on (see the module docstring).

    ``groups`` maps a category to its public group (categories not listed are their own
    group); ``vocabulary`` decides which categories may be published at all (default:
    the bundled :class:`Vocabulary`). A deployment fixes one grid; every public output
    is derived from it.
    """

    k: int = DEFAULT_K
    resolution: int = MAX_PUBLIC_RESOLUTION
    period: str = "month"
    groups: Mapping[str, str] = field(default_factory=dict)
    vocabulary: Vocabulary = field(default_factory=default_vocabulary)

    @property
    def sensitive(self) -> Vocabulary:
        """The vocabulary (what :func:`is_sensitive` takes): the name older callers use."""
        return self.vocabulary

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


def _in_calendar(fn):
    """Dates a public calendar cannot hold (its periods would start before year 1 or end
    after 9999) are a user error, not a crash."""
    @functools.wraps(fn)
    def inner(start: date, end: date, period: str) -> tuple[date, date]:
        try:
            return fn(start, end, period)
        except (OverflowError, ValueError):
            raise HexwatchError(f"dates {start} to {end} are outside the calendar public output uses; "
                                "give dates between 0001-02-01 and 9999-11-30") from None
    return inner


@_in_calendar
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


@_in_calendar
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

    Empty ``selected`` means every public category (those the grid's vocabulary admits).
    A selected category is widened to its whole group (the grid publishes groups, not
    their parts). Asking for any other category is an error.
    """
    available = sorted(set(available))
    sens = set(np.asarray(available, dtype=object)[is_sensitive(available, grid.sensitive)]) if available else set()
    asked_sensitive = [c for c in selected if is_sensitive([c], grid.sensitive)[0]]
    if asked_sensitive:
        raise HexwatchError(f"category {asked_sensitive[0]!r} is sensitive or not in the public vocabulary, so it is "
                            "never published; choose another category or use the officials' (logged-in) view")
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


def grid_coverage(published: pd.DataFrame, grid: PublicGrid) -> dict:
    """What public output may say about a store's extent: computed from its published
    grid alone (so from public categories alone, rule 6).

    Returns ``start_month`` and ``end_month`` (``"YYYY-MM"``: the months of the first
    and last published periods, ``None`` when nothing is published), ``start`` and
    ``end`` (their first and last days, ISO, for date pickers), and the total as a range
    ``n_low``/``n_high`` (exact when nothing is suppressed), like every public count.
    Never the store's exact first or last day, gaps or exact total: those count
    sensitive incidents too, and a suppressed one could be read off by subtraction.

    >>> pub = pd.DataFrame({"period": np.array(["2023-06-01", "2023-08-01"], dtype="datetime64[D]"),
    ...                     "n": pd.array([12, pd.NA], dtype="Int64")})
    >>> grid_coverage(pub, PublicGrid(k=5))
    {'start_month': '2023-06', 'end_month': '2023-08', 'start': '2023-06-01', 'end': '2023-08-31', 'n_low': 13, 'n_high': 16}
    """
    if not len(published):
        return {"start_month": None, "end_month": None, "start": None, "end": None, "n_low": 0, "n_high": 0}
    periods = published["period"].to_numpy().astype("datetime64[D]")
    first = pd.Timestamp(periods.min()).date()
    last_start = pd.Timestamp(periods.max()).date()
    last = snap_range(last_start, last_start, grid.period)[1]
    start, end = snap_range(first, last, "month")
    n = published["n"]
    s = int(n.isna().sum())
    known = int(n.fillna(0).astype(np.int64).sum())
    return {"start_month": start.isoformat()[:7], "end_month": end.isoformat()[:7], "start": start.isoformat(),
            "end": end.isoformat(), "n_low": known + s, "n_high": known + (grid.k - 1) * s}
