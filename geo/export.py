"""Exports of one view: hexes and districts as GeoJSON (RFC 7946), CSV or GeoParquet.

An export holds exactly what a :class:`geo.viewspec.View` shows: one feature per H3 cell
(``h3`` id, ``count``, ``rate_km2``, ``baseline_count``, ``change_pct`` vs the baseline
window, as the dashboard computes them) and, when boundaries are at hand, one per district of the view's area with its
emergency status (spell, decrees, dates). Provenance (dataset, synthetic?, generated at,
filters, store version, hexwatch version, privacy rule) travels in a top-level
``hexwatch`` member of the GeoJSON and in a ``<file>.provenance.json`` sidecar for CSV
and GeoParquet.

GeoJSON follows RFC 7946: WGS84 lon/lat, no ``crs`` member, polygons with
counter-clockwise exterior rings (right-hand rule), closed rings, coordinates rounded
to 6 decimals (about 0.1 m). Official exports carry exact counts; ``public=True`` applies
:mod:`geo.privacy` (resolution ≤ 8, counts below k shown as ``"< k"``, every number
derived from the fixed published grid, sensitive categories left out, no district counts).

Example
-------
>>> safe_filename("../../etc/passwd")
'etc_passwd'
>>> safe_filename('robos "SJL" <2023>.geojson')
'robos_SJL_2023.geojson'
"""

from __future__ import annotations

import io
import os
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import duckdb
import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import shapely
from h3ronpy import cells_area_km2
from h3ronpy import vector as _h3v

import geo
from geo import privacy
from geo.errors import HexwatchError
from geo.h3index import CUBE_RESOLUTIONS, cells_to_latlng, cells_to_parent, cells_to_str
from geo.store import Store, atomic_write_bytes, write_json
from geo.areas import in_area
from geo.viewspec import View
from geo.views import change_pct, locate_points, open_views

#: Output formats of :func:`export_view`.
FORMATS = ("geojson", "csv", "geoparquet", "gpkg", "shapefile", "xlsx")
#: Decimals kept in coordinates (1e-6 degree is about 0.1 m).
COORD_DECIMALS = 6
_EXT = {"geojson": ".geojson", "csv": ".csv", "geoparquet": ".parquet", "gpkg": ".gpkg", "shapefile": ".shp.zip",
        "xlsx": ".xlsx"}
#: Shapefile field names are 10 characters at most: these columns get shorter ones
#: (``fields.csv`` in the zip maps them back).
SHAPEFILE_FIELDS = {"resolution": "res", "count_label": "count_lab", "baseline_count": "base_count",
                    "change_pct": "change_pc", "department": "departmnt", "emergency_start": "emerg_from",
                    "emergency_end": "emerg_to", "declared_days": "decl_days"}
#: Hex columns, in order, of every export.
HEX_COLUMNS = ("layer", "h3", "resolution", "ubigeo", "count", "count_low", "count_high", "count_label",
               "rate_km2", "baseline_count", "change_pct")
#: District columns, in order (counts only in official exports).
DISTRICT_COLUMNS = ("layer", "ubigeo", "name", "province", "department", "emergency", "spell", "decrees",
                    "emergency_start", "emergency_end", "declared_days", "count", "baseline_count", "change_pct")


#: Device names Windows will not open as files, whatever their extension.
_WINDOWS_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                               *(f"LPT{i}" for i in range(1, 10))})
_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,10})$")


def safe_filename(name: str, *, default: str = "hexwatch-export", max_len: int = 120) -> str:
    r"""A file name safe on every OS and in a ``Content-Disposition`` header.

    Path parts are joined with ``_`` (never a path: ``/`` and ``\`` are gone, also as
    full-width look-alikes). Letters are transliterated to ASCII (``Año Perú`` ->
    ``Ano_Peru``: still readable, and a plain ``filename=`` in an HTTP header must be
    ASCII); ASCII letters, digits and ``-`` stay, anything else becomes ``_`` (a name in
    a script without Latin letters ends up as ``default``). Runs of dots collapse to one
    and dots next to ``_`` go, so no ``..`` is left; the name never starts with ``.``,
    ``-`` or ``_`` (no hidden files, no command-line options) nor ends with ``.`` or
    ``_``; Windows device names get a ``_`` suffix. A trailing extension of 1-10
    letters/digits is kept, also when the name is cut to ``max_len`` or nothing else is
    left (``default`` + extension); a name with nothing left at all is ``default``.

    >>> safe_filename(r"..\..\x.csv"), safe_filename("hexwatch_../../etc/passwd.geojson")
    ('x.csv', 'hexwatch_etc_passwd.geojson')
    >>> safe_filename("-rf .. .csv"), safe_filename("..."), safe_filename("CON.csv"), safe_filename("Año Perú.csv")
    ('rf.csv', 'hexwatch-export', 'CON_.csv', 'Ano_Peru.csv')
    """
    # NFKD splits accents off their letters and turns look-alikes (full-width "／", "‥") into ASCII.
    s = "".join(c for c in unicodedata.normalize("NFKD", str(name)) if not unicodedata.combining(c))
    s = s.replace("\\", "/")
    s = "_".join(p for p in s.split("/") if p.strip(". "))
    s = re.sub(r"[^A-Za-z0-9_.\-]+", "_", s)
    found = _EXTENSION.search(s)
    ext = "." + found.group(1) if found else ""
    stem = s[: found.start()] if found else s

    def clean(stem: str) -> str:
        stem = re.sub(r"\.{2,}", ".", stem)
        stem = re.sub(r"[._-]*_[._-]*", "_", stem)  # "_.." or "._" between words: one separator
        return stem.lstrip("._-").rstrip("._")

    stem = clean(stem) or (default if ext else "")
    stem = clean(stem[: max(1, max_len - len(ext))])
    if not stem:
        return default
    if stem.split(".")[0].upper() in _WINDOWS_RESERVED:
        stem += "_"
    return stem + ext


def export_filename(view: View, fmt: str, *, public: bool = False) -> str:
    """A descriptive, sanitised file name for a view's export, e.g.
    ``hexwatch_DS-105-2023-PCM_2023-09-20_2023-11-18_r8.geojson``."""
    parts = ["hexwatch", "public" if public else "", view.spell or "", view.area if view.area != "all" else "",
             *(view.categories[:3]), view.start.isoformat() if view.start else "",
             view.end.isoformat() if view.end else "", f"r{view.resolution}"]
    return safe_filename("_".join(p for p in parts if p) + _EXT[_check_format(fmt)])


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise HexwatchError(f"format {fmt!r} is unknown; use one of {', '.join(FORMATS)}")
    return fmt


# --- geometry ---------------------------------------------------------------------


def cells_to_polygons(cells) -> np.ndarray:
    """Shapely polygons of H3 cells (lon/lat degrees, closed rings), built in Rust by h3ronpy."""
    cells = np.asarray(cells, dtype=np.uint64)
    if cells.size == 0:
        return np.empty(0, dtype=object)
    wkb = pa.array(_h3v.cells_to_wkb_polygons(cells)).to_numpy(zero_copy_only=False)
    return shapely.from_wkb(wkb)


def rfc7946_geometries(geoms, decimals: int = COORD_DECIMALS) -> np.ndarray:
    """Round coordinates to ``decimals`` and orient polygons by the right-hand rule
    (counter-clockwise exteriors, clockwise holes), vectorised over the array."""
    rounded = shapely.transform(np.asarray(geoms, dtype=object), lambda xy: np.round(xy, decimals))
    return shapely.orient_polygons(rounded, exterior_cw=False)


# --- the public grid's input -----------------------------------------------------


def _source_resolution(store: Store, resolution: int) -> int:
    """The cube resolution to read for ``resolution``: itself, else the nearest finer one."""
    have = sorted(int(r) for r in store.meta.get("cube_resolutions", CUBE_RESOLUTIONS))
    finer = [r for r in have if r >= resolution]
    if not finer:
        raise HexwatchError(f"the store's cubes stop at resolution {have[-1]}; ask for resolution {have[-1]} or coarser")
    return finer[0]


def grid_cube(store: Store, grid: privacy.PublicGrid, start: date | None = None, end: date | None = None,
              categories=None) -> pd.DataFrame:
    """Cell-cube rows ``cell, day, category, n`` at the grid's resolution for days
    ``start..end`` (inclusive; ``None``: no bound) and ``categories`` (``None``: all),
    pre-summed by period in DuckDB (``day`` is then the period's first day). Input of
    :func:`geo.privacy.publish`."""
    src = _source_resolution(store, grid.resolution)
    unit = "month" if grid.period == "month" else "week"  # DuckDB's weeks are ISO weeks (Monday first)
    where, params = ["resolution = $res"], {"path": str(store.table_path("cube_cell")), "res": src}
    if start is not None:
        where.append("day >= $start")
        params["start"] = start
    if end is not None:
        where.append("day <= $end")
        params["end"] = end
    if categories is not None:
        where.append("list_contains($cats, category)")
        params["cats"] = list(categories)
    sql = (f"SELECT cell, date_trunc('{unit}', day)::DATE AS day, category, sum(n)::BIGINT AS n "
           f"FROM read_parquet($path) WHERE {' AND '.join(where)} GROUP BY ALL")
    with duckdb.connect() as con:
        frame = con.execute(sql, params).df()
    frame["cell"] = frame["cell"].to_numpy(dtype=np.uint64)
    if src != grid.resolution and len(frame):
        frame["cell"] = cells_to_parent(frame["cell"].to_numpy(), grid.resolution)
    frame["day"] = frame["day"].to_numpy().astype("datetime64[D]")
    return frame


#: Whole published grids, by store version and grid (see :func:`published_grid`).
_PUBLISHED: dict[tuple, pd.DataFrame] = {}
_CACHES_LOCK = threading.Lock()  # guards this module's per-process caches
_PUBLISHED_KEEP = 4


def _grid_key(store: Store, grid: privacy.PublicGrid) -> tuple:
    return (str(store.root), store.version, grid.k, grid.resolution, grid.period,
            tuple(sorted(grid.groups.items())), grid.vocabulary)


_COVERAGE: dict[tuple, dict] = {}


def public_coverage(store: Store, grid: privacy.PublicGrid) -> dict:
    """:func:`geo.privacy.grid_coverage` of the store version's published grid (months
    and a total range: all that public output may say about the store's extent), kept
    per store version and grid like the grid itself."""
    key = _grid_key(store, grid)
    with _CACHES_LOCK:
        hit = _COVERAGE.get(key)
    if hit is None:
        hit = privacy.grid_coverage(published_grid(store, grid), grid)
        with _CACHES_LOCK:
            while len(_COVERAGE) >= _PUBLISHED_KEEP:
                _COVERAGE.pop(next(iter(_COVERAGE)))
            _COVERAGE[key] = hit
    return dict(hit)


def published_grid(store: Store, grid: privacy.PublicGrid) -> pd.DataFrame:
    """The store version's whole published grid (every period and public group):
    :func:`geo.privacy.publish` of all its cube rows.

    Each entry depends on its own cell, period and group only, so a public view's
    entries are simply the rows of its periods and groups, whatever else is
    published. Computed once per store version and grid and kept in this process (a
    few at a time): a new public view is then a filter, not two cube scans. The
    result is shared: do not modify it.
    """
    key = _grid_key(store, grid)
    with _CACHES_LOCK:  # one computation at a time: a second request waits for the first's result
        if key not in _PUBLISHED:
            while len(_PUBLISHED) >= _PUBLISHED_KEEP:
                _PUBLISHED.pop(next(iter(_PUBLISHED)))
            _PUBLISHED[key] = privacy.publish(grid_cube(store, grid), grid)
        return _PUBLISHED[key]


#: District of each cell centre met so far, by boundary set (the GeoDataFrame itself is
#: kept in the entry, so its ``id`` cannot be reused by another while it is cached).
_CENTRES: dict[int, tuple[gpd.GeoDataFrame, np.ndarray, np.ndarray]] = {}
_CENTRES_KEEP = 4


def _centre_ubigeos(cells: np.ndarray, districts: gpd.GeoDataFrame) -> np.ndarray:
    """The district (object array, ``None`` outside) of each cell's centre; each cell is
    located once per boundary set and process (public views share most of their cells)."""
    with _CACHES_LOCK:
        entry = _CENTRES.get(id(districts))
    known, ubigeos = (entry[1], entry[2]) if entry is not None and entry[0] is districts else \
        (np.zeros(0, np.uint64), np.zeros(0, object))
    pos = np.minimum(np.searchsorted(known, cells), max(len(known) - 1, 0))
    hit = known[pos] == cells if len(known) else np.zeros(len(cells), bool)
    if hit.all():
        return ubigeos[pos]
    new = np.unique(cells[~hit])
    found = locate_points(*cells_to_latlng(new), districts)
    all_cells = np.concatenate([known, new])
    order = np.argsort(all_cells, kind="stable")
    known, ubigeos = all_cells[order], np.concatenate([ubigeos, found])[order]
    with _CACHES_LOCK:
        _CENTRES.pop(id(districts), None)
        while len(_CENTRES) >= _CENTRES_KEEP:
            _CENTRES.pop(next(iter(_CENTRES)))
        _CENTRES[id(districts)] = (districts, known, ubigeos)
    return ubigeos[np.searchsorted(known, cells)]


#: Per published grid: its rows ordered by (group, period), so a window of some groups is a
#: few contiguous slices (``(grid, order, group codes, periods, group names)``).
_PUBLISHED_INDEX: dict[tuple, tuple] = {}


def _published_index(store: Store, grid: privacy.PublicGrid) -> tuple:
    """The published grid with its (group, period) ordering (built once per grid and process)."""
    pub = published_grid(store, grid)
    key = _grid_key(store, grid)
    with _CACHES_LOCK:
        hit = _PUBLISHED_INDEX.get(key)
    if hit is not None and hit[0] is pub:
        return hit
    groups = pd.Categorical(pub["group"].to_numpy(dtype=object))
    codes = groups.codes.astype(np.int64)
    periods = pub["period"].to_numpy().astype("datetime64[D]")
    order = np.lexsort((periods, codes))
    entry = (pub, order, codes[order], periods[order], list(groups.categories))
    with _CACHES_LOCK:
        while len(_PUBLISHED_INDEX) >= _PUBLISHED_KEEP:
            _PUBLISHED_INDEX.pop(next(iter(_PUBLISHED_INDEX)))
        _PUBLISHED_INDEX[key] = entry
    return entry


def _published_rows(store: Store, grid: privacy.PublicGrid, categories, start: date | None = None,
                    end: date | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """The published grid and the positions (ascending) of its rows of the public groups of
    ``categories`` in whole periods ``start..end`` (every period where not given): a few
    slices of its (group, period) ordering."""
    pub, order, codes, periods, names = _published_index(store, grid)
    wanted = set(grid.group_of(categories))
    parts = []
    for code, name in enumerate(names):
        if name not in wanted:
            continue
        a, b = np.searchsorted(codes, [code, code + 1])
        block = periods[a:b]  # this group's periods, ascending
        i = 0 if start is None else np.searchsorted(block, np.datetime64(start, "D"), side="left")
        j = len(block) if end is None else np.searchsorted(block, np.datetime64(end, "D"), side="right")
        parts.append(order[a + i:a + j])
    return pub, (np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64))


def published_entries(store: Store, grid: privacy.PublicGrid, start: date, end: date, categories) -> pd.DataFrame:
    """The published entries of whole periods ``start..end`` and of the public groups of
    ``categories`` (what :func:`geo.privacy.publish` gives for that window alone), in the
    published grid's row order.

    Every public map request asks this of the whole grid (millions of rows on a 10M
    store): slices of a (group, period) ordering replace two full-column masks.
    """
    pub, rows = _published_rows(store, grid, categories, start, end)
    return pub.iloc[rows]


# --- public trends and legend classes (from the published grid only) ------------------------


def public_trends(store: str | os.PathLike | Store, groups: Mapping[str, Any], categories=None, *,
                  grid: privacy.PublicGrid | None = None, start: date | None = None, end: date | None = None,
                  districts: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """Public incidents per period (the grid's: months by default) of each group of areas,
    from the published grid only, as ranges.

    ``groups``: ``{name: area id}`` (e.g. ``{"Lima y Callao": "lima_callao", "Todo": "all"}``)
    or ``{name: collection of district ids}``. A hex is in a group when its centre is in one
    of the group's districts (``all``: every published hex). Columns ``period`` (first day),
    ``group``, ``n_low``, ``n_high`` (each suppressed entry counts 1 to k-1), ``label``
    (``"1,234"`` or ``"1,230–1,262"``), ``exact``. Only public categories count (sensitive
    ones are never in the grid). Periods cut by ``start``/``end`` are left out (a partial
    month is not a drop).
    """
    st = _open(store)
    grid = grid or privacy.PublicGrid()
    sv = open_views(st, districts if districts is not None else _load_districts(st, None, []))
    cats, _ = privacy.public_categories(list(categories or ()), sv.categories, grid)
    pub = published_grid(st, grid)
    pub = pub.loc[pub["group"].isin(set(grid.group_of(cats)))]
    first, last = sv.day_range
    a, b = max(start or first, first), min(end or last, last)
    period = pub["period"].to_numpy().astype("datetime64[D]")
    whole = {}
    for p in np.unique(period):  # a few dozen periods
        p0, p1 = privacy.snap_range(p.item(), p.item(), grid.period)
        whole[p] = a <= p0 and p1 <= b
    keep = np.array([whole[p] for p in period], dtype=bool) if len(period) else np.zeros(0, bool)
    pub = pub.loc[keep]
    cells = pub["cell"].to_numpy(dtype=np.uint64)
    ub = _centre_ubigeos(cells, sv.districts) if sv.districts is not None and len(cells) else np.full(len(cells), None, object)
    n = pub["n"]
    known = n.fillna(0).to_numpy(dtype=np.int64)
    sup = n.isna().to_numpy().astype(np.int64)
    frames = []
    for name, members in groups.items():
        m = sv.area_members(members) if isinstance(members, str) else frozenset(members)
        sel = in_area(ub, m)
        f = pd.DataFrame({"period": period[keep][sel], "known": known[sel], "s": sup[sel]}).groupby("period").sum()
        f = f.reindex(sorted(set(period[keep])), fill_value=0)
        low, high = (f["known"] + f["s"]).to_numpy(), (f["known"] + (grid.k - 1) * f["s"]).to_numpy()
        frames.append(pd.DataFrame({"period": f.index.to_numpy(), "group": name, "n_low": low, "n_high": high,
                                    "label": [f"{a:,}" if a == b else f"{a:,}–{b:,}" for a, b in zip(low, high)],
                                    "exact": low == high}))
    cols = ["period", "group", "n_low", "n_high", "label", "exact"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def public_fixed_classes(store: str | os.PathLike | Store, resolution: int, days: int, categories=None, *,
                         metric: str = "count", grid: privacy.PublicGrid | None = None, n: int = 5,
                         values=None):
    """Legend classes for public maps that stay the same whatever window is shown: quantiles,
    over every published hex and every run of as many whole periods as ``days`` spans in
    the whole store, of its count's lower end (``metric="rate"``: per km²). ``values``: the current view's values, for the histogram.
    Returns a :class:`geo.legend.Legend`; ``metric="change"`` gets the fixed change classes."""
    from geo import legend

    st = _open(store)
    grid = grid or privacy.PublicGrid()
    if metric == "change":
        return legend.classes(values if values is not None else [], breaks=legend.CHANGE_BREAKS, unit=" %", signed=True)
    period_days = 30.44 if grid.period == "month" else 7.0
    key = (str(st.root), st.version, grid.k, grid.resolution, grid.period, tuple(sorted(grid.groups.items())),
           grid.vocabulary, int(resolution), max(int(round(days / period_days)), 1),
           tuple(sorted(categories or ())), metric, n)
    with _CACHES_LOCK:
        breaks = _FIXED.get(key)
    if breaks is None:
        breaks = _public_breaks(st, grid, resolution, days, categories, metric, n)
        with _CACHES_LOCK:
            while len(_FIXED) >= 256:  # a few floats each
                _FIXED.pop(next(iter(_FIXED)))
            _FIXED[key] = breaks
    return legend.classes(values if values is not None else [], breaks=breaks, decimals=1 if metric == "rate" else 0)


#: Public legend breaks by store version, grid and window (see :func:`public_fixed_classes`).
_FIXED: dict[tuple, list[float]] = {}


def _public_breaks(st: Store, grid: privacy.PublicGrid, resolution: int, days: int, categories, metric: str,
                   n: int) -> list[float]:
    from geo import legend

    res = privacy.public_resolution(resolution, grid)
    cats, _ = privacy.public_categories(list(categories or ()), open_views(st).categories, grid)
    pub, rows = _published_rows(st, grid, cats)
    # The reference: each hex's lower count in each run of as many whole periods as the
    # window spans (3 months for a 90-92-day view: public views are whole periods, so
    # every 3-month view gets the same classes). One group-by over (run, hex) for all runs.
    period_days = 30.44 if grid.period == "month" else 7.0
    m = max(int(round(days / period_days)), 1)
    period = pub["period"].to_numpy()[rows]
    run = np.searchsorted(np.unique(period), period) // m
    cell = pub["cell"].to_numpy(np.uint64)[rows]
    if res < grid.resolution:
        cell = cells_to_parent(cell, res)
    n_pub = pub["n"]
    frame = pd.DataFrame({"run": run, "cell": cell, "known": n_pub.fillna(0).to_numpy(np.int64)[rows],
                          "s": n_pub.isna().to_numpy()[rows].astype(np.int64)})
    g = frame.groupby(["run", "cell"], sort=False, as_index=False).sum()
    counts = pd.DataFrame({"cell": g["cell"].to_numpy(np.uint64), "count_low": (g["known"] + g["s"]).to_numpy(np.int64)})
    per_window = counts["count_low"].to_numpy(float)
    decimals = 0
    if metric == "rate":
        per_window = per_window / pa.array(cells_area_km2(counts["cell"].to_numpy(np.uint64))).to_numpy(zero_copy_only=False)
        decimals = 1
    return legend.quantile_breaks(per_window, n, decimals=decimals)


# --- the view's data --------------------------------------------------------------


@dataclass
class ViewData:
    """Everything an export or embed of one view shows.

    ``view`` is the view as computed (dates filled; for public output snapped to the
    grid and clamped in resolution); ``hexes`` has :data:`HEX_COLUMNS` plus ``cell``
    (``uint64``) and ``geometry``; ``districts`` is a GeoDataFrame with
    :data:`DISTRICT_COLUMNS` or ``None`` without boundaries; ``categories`` are the
    categories counted.
    """

    view: View
    hexes: pd.DataFrame
    districts: gpd.GeoDataFrame | None
    provenance: dict[str, Any]
    public: bool
    categories: list[str] = field(default_factory=list)


def _open(store: str | os.PathLike | Store) -> Store:
    return store if isinstance(store, Store) else Store.open(store)


def resolve_view(store: Store, view: View, registry=None, coverage: Mapping[str, Any] | None = None) -> View:
    """Fill the open dates of ``view``: a spell's dates when it names one, else
    ``coverage`` (``{"start", "end"}``, ISO; default: the store's)."""
    if view.start and view.end:
        return view
    if view.spell:
        spell = _registry(registry).spell(view.spell)
        return view.with_defaults(start=spell.start, end=spell.end)
    cov = (store.meta.get("coverage") if coverage is None else coverage) or {}
    if not cov.get("start"):
        raise HexwatchError("the store records no date coverage; give --from and --to")
    return view.with_defaults(start=date.fromisoformat(cov["start"]), end=date.fromisoformat(cov["end"]))


def _registry(registry):
    if registry is not None:
        return registry
    from geo.declarations import Registry

    return Registry.load()


def default_registry(store: Store, districts=None):
    """The declarations a view of ``store`` uses when none are given: the store's own
    (:func:`geo.declarations.policy_events`: Peru's registry for a Peru store), Peru's
    for districts handed over that are Peru's, else none at all (an empty registry)."""
    from geo.areas import guess_kind
    from geo.declarations import Registry, policy_events

    reg = policy_events(store)
    if reg is None and districts is not None and guess_kind(districts) == "peru":
        reg = Registry.load(districts=districts["ubigeo"].astype(str).tolist())
    return reg if reg is not None else Registry((), source="no declarations")


def _load_districts(store: Store, districts: gpd.GeoDataFrame | None, notes: list[str]) -> gpd.GeoDataFrame | None:
    """The given districts, else those the store was ingested with (geo.areas)."""
    if districts is not None:
        return districts
    from geo.views import _areas_districts

    own = _areas_districts(store)
    if own is None:
        notes.append("no district layer: the store was built without boundaries"
                     if geo.areas.boundary_set(store)["kind"] != "peru"
                     else "no district layer: boundaries are not fetched (run `hexwatch boundaries fetch`)")
    return own


def _hex_frame(cells: np.ndarray, low, high, base_low, base_high, ubigeo, view: View, k: int | None,
               geometry: bool = True) -> pd.DataFrame:
    """The hex layer; rate and change only where the counts are exact."""
    count = np.where(low == high, low, np.nan)
    baseline = np.where(base_low == base_high, base_low, np.nan)
    area = pa.array(cells_area_km2(cells)).to_numpy(zero_copy_only=False) if cells.size else np.zeros(0)
    b0, b1 = view.baseline_window()
    frame = pd.DataFrame({
        "cell": cells,
        "layer": "hex",
        "h3": cells_to_str(cells),
        "resolution": np.full(cells.size, view.resolution, dtype=np.int8),
        "ubigeo": ubigeo,
        "count": pd.array(count, dtype="Int64"),
        "count_low": low.astype(np.int64),
        "count_high": high.astype(np.int64),
        "count_label": privacy.count_labels(low, high, k) if k is not None else low.astype(str).astype(object),
        "rate_km2": np.round(count / area, 3),
        "baseline_count": pd.array(baseline, dtype="Int64"),
        "change_pct": np.round(change_pct(count, baseline, view.days, (b1 - b0).days + 1), 2),
        # Not exported (HEX_COLUMNS): what an embed needs to class public ranges honestly.
        "baseline_low": base_low.astype(np.int64), "baseline_high": base_high.astype(np.int64), "area_km2": area,
    })
    if geometry:
        frame["geometry"] = rfc7946_geometries(cells_to_polygons(cells))
    return frame


def _public_hexes(st: Store, view: View, grid: privacy.PublicGrid, cats: list[str], districts,
                  geometry: bool = True, members=None) -> pd.DataFrame:
    """Public hex values for ``view`` (already snapped), from the published grid only."""
    b0, b1 = view.baseline_window()
    windows = [privacy.public_counts(published_entries(st, grid, s, e, cats), view.resolution, grid)
               for s, e in ((view.start, view.end), (b0, b1))]
    m = windows[0].merge(windows[1], on="cell", how="outer", suffixes=("", "_base")).fillna(0)
    cells = m["cell"].to_numpy(dtype=np.uint64)
    ubigeo = np.full(cells.size, None, dtype=object)
    if districts is not None and cells.size:
        ubigeo = _centre_ubigeos(cells, districts)
    keep = in_area(ubigeo, members)
    col = lambda c: m[c].to_numpy(dtype=np.int64)[keep]  # noqa: E731
    return _hex_frame(cells[keep], col("count_low"), col("count_high"), col("count_low_base"),
                      col("count_high_base"), ubigeo[keep], view, grid.k, geometry)


def _official_hexes(sv, view: View, geometry: bool = True) -> pd.DataFrame:
    """Exact hex values for ``view``: the dashboard's own query (:meth:`StoreViews.hex_counts`)."""
    hx = sv.hex_counts(view.resolution, (view.start, view.end), list(view.categories) or None,
                       baseline=view.baseline_window(), area=view.area, max_cells=np.iinfo(np.int64).max)
    hx = hx.sort_values("cell", ignore_index=True)
    n, nb = hx["n"].to_numpy(np.int64), hx["n_baseline"].to_numpy(np.int64)
    ubigeo = hx["ubigeo"].to_numpy(dtype=object) if "ubigeo" in hx else np.full(len(hx), None, dtype=object)
    return _hex_frame(hx["cell"].to_numpy(np.uint64), n, n, nb, nb, ubigeo, view, None, geometry)


def view_data(store: str | os.PathLike | Store, view: View, *, public: bool = False, k: int = privacy.DEFAULT_K,
              grid: privacy.PublicGrid | None = None, registry=None, districts: gpd.GeoDataFrame | None = None,
              analysis: Mapping[str, Any] | None = None, with_district_layer: bool = True,
              with_hex_geometry: bool = True) -> ViewData:
    """Compute what ``view`` shows, officially (exact counts) or publicly (privacy rules).

    ``grid`` fixes the public grid (default: ``PublicGrid(k=k)``); ``districts`` are the
    boundaries (default: the fetched study districts; needed for ``area`` and the
    district layer); ``analysis`` is an analysis result as JSON (``hexwatch analyze
    --json``), included in official output only. ``with_district_layer=False`` leaves
    the district layer out (``districts`` is then ``None``) and ``with_hex_geometry=False``
    the hexagons' polygons (no ``geometry`` column): the map draws both itself.
    """
    st = _open(store)
    notes: list[str] = []
    requested = view
    districts = _load_districts(st, districts, notes)
    if registry is None:
        registry = default_registry(st, districts)
    if public:
        grid = grid or privacy.PublicGrid(k=k)
        # Open dates come from the published months, not the store's exact days (rule 6).
        view = resolve_view(st, view, registry, coverage=public_coverage(st, grid))
    else:
        view = resolve_view(st, view, registry)
    sv = open_views(st, districts)
    members = sv.area_members(view.area)  # an area the store does not have fails here, in one line
    available = sv.categories
    privacy_info: dict[str, Any] | None = None
    if public:
        res = privacy.public_resolution(view.resolution, grid)
        if res != view.resolution:
            notes.append(f"resolution {view.resolution} is finer than public maps allow; shown at {res}")
        cats, cat_notes = privacy.public_categories(view.categories, available, grid)
        notes += cat_notes
        start, end = privacy.snap_range(view.start, view.end, grid.period)
        if view.baseline_start is None:
            b0, b1 = privacy.previous_periods(start, end, grid.period)
        else:
            b0, b1 = privacy.snap_range(view.baseline_start, view.baseline_end, grid.period)
        if (start, end) != (view.start, view.end):
            notes.append(f"dates widened to whole {grid.period}s: {start} to {end}")
        view = view.replace(start=start, end=end, baseline_start=b0, baseline_end=b1, resolution=res,
                            categories=tuple(cats) if view.categories else ())
        hexes = _public_hexes(st, view, grid, cats, districts, with_hex_geometry, members)
        privacy_info = {"k": grid.k, "grid_resolution": grid.resolution, "period": grid.period,
                        "groups": dict(grid.groups), "sensitive_categories": "left out",
                        "rule": "every number is derived from the fixed published grid (cell x period x group); "
                                "entries below k are suppressed; see docs/privacy.md"}
    else:
        cats = list(view.categories) or available
        unknown = sorted(set(view.categories) - set(available))
        if unknown:
            notes.append("categories not in the store: " + ", ".join(unknown))
        hexes = _official_hexes(sv, view, with_hex_geometry)
    dist = district_layer(sv, view, registry, public=public, grid=grid) \
        if districts is not None and with_district_layer else None
    prov = provenance(st, view, requested=requested, public=public, categories=cats, notes=notes,
                      coverage=_public_extent(st, grid) if public else None,
                      privacy_info=privacy_info, n_hexes=len(hexes), n_districts=0 if dist is None else len(dist),
                      analysis=None if public else analysis)
    return ViewData(view=view, hexes=hexes, districts=dist, provenance=prov, public=public, categories=list(cats))


def district_layer(sv, view: View, registry=None, *, public: bool = False,
                   grid: privacy.PublicGrid | None = None) -> gpd.GeoDataFrame:
    """Districts of the view's area that hold data or were declared in the view's dates,
    with their emergency status (``sv`` is a :class:`geo.views.StoreViews` with
    districts). Official layers add ``count``, ``baseline_count`` and ``change_pct``
    from the district cube; public ones carry no counts (districts are a second
    partition of space: differencing them against hexes could expose small counts),
    and only the non-sensitive categories of ``grid`` (default :class:`geo.privacy.PublicGrid`)
    count as data, so a district is never shown because of sensitive incidents alone."""
    reg = _registry(registry)
    d = sv.districts.loc[in_area(sv.districts["ubigeo"].astype(str).to_numpy(dtype=object), sv.area_members(view.area))]
    status = reg.status_frame(list(d["ubigeo"]), view.start, view.end)
    if view.spell:
        status = status.loc[status["spell_id"] == view.spell]
    if public:
        cats = privacy.public_categories(view.categories, sv.categories, grid or privacy.PublicGrid())[0]
    else:
        cats = list(view.categories) or sv.categories
    table = sv.district_table((view.start, view.end), view.baseline_window(), cats, area=view.area).set_index("ubigeo")
    # No category at all (a store of sensitive incidents only, shown publicly): no district holds data.
    has_data = set(table.index[(table["n"] > 0) | (table["n_baseline"] > 0)]) if cats else set()
    d = d.loc[d["ubigeo"].isin(has_data | set(status["ubigeo"]))]
    per = status.groupby("ubigeo").agg(spell=("spell_id", lambda s: ";".join(sorted(set(s)))),
                                       declared_days=("day", "size"))
    d = d.join(per, on="ubigeo")
    spells = {sid: reg.spell(sid) for sid in set(status["spell_id"])}

    def spell_attr(fn):
        return d["spell"].map(lambda s: ";".join(fn(spells[x]) for x in s.split(";")) if isinstance(s, str) else None)

    out = gpd.GeoDataFrame({
        "layer": "district",
        "ubigeo": d["ubigeo"].astype(object).to_numpy(),
        "name": d["name"].astype(object).to_numpy(),
        "province": d["province"].astype(object).to_numpy(),
        "department": d["department"].astype(object).to_numpy(),
        "emergency": d["spell"].notna().to_numpy(),
        "spell": d["spell"].astype(object).to_numpy(),
        "decrees": spell_attr(lambda sp: ",".join(sp.decree_ids)).to_numpy(),
        "emergency_start": spell_attr(lambda sp: sp.start.isoformat()).to_numpy(),
        "emergency_end": spell_attr(lambda sp: sp.end.isoformat()).to_numpy(),
        "declared_days": d["declared_days"].fillna(0).astype(np.int64).to_numpy(),
    }, geometry=rfc7946_geometries(d.geometry.values), crs="EPSG:4326")
    if not public:
        row = table.reindex(out["ubigeo"])
        out["count"] = row["n"].fillna(0).astype(np.int64).to_numpy()
        out["baseline_count"] = row["n_baseline"].fillna(0).astype(np.int64).to_numpy()
        out["change_pct"] = np.round(row["change_pct"].to_numpy(dtype=float), 2)
    return out.reset_index(drop=True)


def _public_extent(store: Store, grid: privacy.PublicGrid) -> dict:
    cov = public_coverage(store, grid)
    return {"start_month": cov["start_month"], "end_month": cov["end_month"],
            "note": "months of the published grid; exact dates are not public"}


def provenance(store: Store, view: View, *, requested: View | None = None, public: bool = False,
               categories=(), notes: list[str] = (), privacy_info: Mapping[str, Any] | None = None, n_hexes: int = 0,
               n_districts: int = 0, analysis: Mapping[str, Any] | None = None,
               coverage: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Where an export comes from: dataset, synthetic flag, time, filters, versions.
    ``coverage`` replaces the store's exact coverage (public output gives months only)."""
    from geo.datasets import LAYERS, store_layers

    meta = store.meta
    layers = store_layers(meta)
    b0, b1 = view.baseline_window()
    prov: dict[str, Any] = {
        "dataset": meta.get("dataset", ""),
        # Every count exported here (hexes and district counts) comes from the points layer;
        # ``layers`` says, per layer of the store, what is real and what synthetic.
        "synthetic": bool(layers["points"]["synthetic"]),
        "counts_layer": "points",
        "layers": {name: info for name, info in layers.items()
                   if any(store.has(t) for t in LAYERS[name])},
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "hexwatch_version": geo.__version__,
        "store_version": store.version,
        "store_coverage": dict(coverage) if coverage is not None else meta.get("coverage"),
        "boundaries": meta.get("boundaries"),
        "public": public,
        "filters": view.to_dict() | {"baseline_start": b0.isoformat(), "baseline_end": b1.isoformat()},
        "query": view.to_query(),
        "coordinates": "WGS84 longitude/latitude (RFC 7946), 6 decimals",
        "categories": list(categories),
        "counts": {"hexes": n_hexes, "districts": n_districts},
        "notes": list(notes),
    }
    if requested is not None and requested != view:
        prov["requested_filters"] = requested.to_dict()
    if privacy_info is not None:
        prov["privacy"] = dict(privacy_info)
    if analysis is not None:
        prov["analysis"] = analysis
    return prov


# --- serialisation ----------------------------------------------------------------


def _columns_as_lists(frame: pd.DataFrame, columns) -> list[list]:
    """Column values as Python lists with ``None`` for missing values (JSON null)."""
    out = []
    for c in columns:
        s = frame[c]
        values = s.astype(object).where(s.notna(), None).tolist()
        out.append(values)
    return out


def _features(frame: pd.DataFrame, columns, geometry_key: str = "geometry") -> list[dict]:
    cols = [c for c in columns if c in frame.columns]
    rows = zip(*_columns_as_lists(frame, cols)) if cols else iter(())
    geoms = frame[geometry_key].to_numpy() if len(frame) else np.empty(0, object)
    polys = shapely.get_type_id(geoms) == 3 if len(geoms) else np.zeros(0, bool)
    if polys.all():
        # Hexes: one ring each; slice one coordinate array instead of walking shapes in Python.
        coords, idx = shapely.get_coordinates(geoms, return_index=True)
        rings = np.split(coords, np.cumsum(np.bincount(idx, minlength=len(geoms)))[:-1])
        geometries = [{"type": "Polygon", "coordinates": [r]} for r in rings]
    else:
        geometries = [g.__geo_interface__ for g in geoms]
    return [{"type": "Feature", "geometry": g, "properties": dict(zip(cols, row))}
            for g, row in zip(geometries, rows)]


def to_geojson(data: ViewData) -> bytes:
    """The view as an RFC 7946 FeatureCollection (hexes, then districts), with provenance
    in the top-level ``hexwatch`` member. Serialised with orjson."""
    features = _features(data.hexes, HEX_COLUMNS)
    if data.districts is not None:
        features += _features(data.districts, DISTRICT_COLUMNS)
    doc = {"type": "FeatureCollection", "hexwatch": data.provenance, "features": features}
    return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)


def _tabular(data: ViewData) -> pd.DataFrame:
    frames = [data.hexes[[c for c in HEX_COLUMNS if c in data.hexes] + ["geometry"]]]
    if data.districts is not None:
        frames.append(pd.DataFrame(data.districts[[c for c in DISTRICT_COLUMNS if c in data.districts] + ["geometry"]]))
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
    # Rows of the other layer leave holes: keep integer columns integer (nullable) all the same.
    ints = [c for c in ("resolution", "count", "count_low", "count_high", "baseline_count", "declared_days") if c in out]
    out[ints] = out[ints].astype("Int64")
    if "emergency" in out:
        out["emergency"] = out["emergency"].astype("boolean")
    return out


_FORMULA = re.compile(r"^[=+\-@\t\r]")


def _csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula (CSV injection) with ``'``."""
    out = frame.copy()
    for c in out.columns:
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            s = out[c].astype(object)
            risky = s.map(lambda v: isinstance(v, str) and bool(_FORMULA.match(v)))
            out[c] = s.where(~risky, "'" + s.astype(str))
    return out


def to_csv(data: ViewData) -> bytes:
    """The view as CSV: one row per hex and per district (``layer`` column), no geometry
    (the ``h3`` id and ``ubigeo`` identify the shapes)."""
    frame = _csv_safe(_tabular(data).drop(columns="geometry"))
    return frame.to_csv(index=False).encode("utf-8")


def to_geoparquet(data: ViewData) -> bytes:
    """The view as GeoParquet (hexes and districts, ``layer`` column, EPSG:4326)."""
    gdf = gpd.GeoDataFrame(_tabular(data), geometry="geometry", crs="EPSG:4326")
    buf = io.BytesIO()
    gdf.to_parquet(buf, compression="zstd")
    return buf.getvalue()


def _layers(data: ViewData) -> dict[str, gpd.GeoDataFrame]:
    """The view's layers as GeoDataFrames with their export columns (EPSG:4326)."""
    out = {"hexes": gpd.GeoDataFrame(data.hexes[[c for c in HEX_COLUMNS if c in data.hexes] + ["geometry"]].copy(),
                                     geometry="geometry", crs="EPSG:4326")}
    if data.districts is not None:
        out["districts"] = gpd.GeoDataFrame(data.districts[[c for c in DISTRICT_COLUMNS if c in data.districts]
                                                           + ["geometry"]].copy(), geometry="geometry", crs="EPSG:4326")
    for g in out.values():
        for c in g.columns:
            if c != "geometry" and g[c].dtype == object:
                g[c] = g[c].astype("string")
    return out


def _provenance_rows(prov: Mapping[str, Any]) -> pd.DataFrame:
    """Provenance as (key, value) rows: plain values as text, the rest as JSON."""
    rows = [(k, v if isinstance(v, str) else orjson.dumps(v, default=str).decode()) for k, v in prov.items()]
    return pd.DataFrame(rows, columns=["key", "value"])


def _scratch(suffix: str) -> tuple[Path, Any]:
    import tempfile

    tmp = tempfile.TemporaryDirectory(prefix="hexwatch-export-")
    return Path(tmp.name) / f"view{suffix}", tmp


def to_gpkg(data: ViewData) -> bytes:
    """The view as a GeoPackage: layers ``hexes`` and ``districts`` (EPSG:4326) and an
    attribute table ``provenance`` (key, value), for QGIS/ArcGIS."""
    import pyogrio

    path, tmp = _scratch(".gpkg")
    with tmp:
        for name, layer in _layers(data).items():
            pyogrio.write_dataframe(layer, path, layer=name, driver="GPKG", append=path.exists(),
                                    promote_to_multi=name == "districts")
        pyogrio.write_dataframe(_provenance_rows(data.provenance), path, layer="provenance", driver="GPKG", append=True)
        return path.read_bytes()


def to_shapefile(data: ViewData) -> bytes:
    """The view as a zip of Shapefiles (``hexes.shp``, ``districts.shp``, UTF-8 ``.cpg``),
    with ``provenance.json`` and ``fields.csv`` (Shapefile names cut to 10 characters
    mapped back to the full ones)."""
    import zipfile

    import pyogrio

    path, tmp = _scratch("")
    with tmp:
        folder = path.parent
        fields = []
        for name, layer in _layers(data).items():
            short = {c: SHAPEFILE_FIELDS.get(c, c) for c in layer.columns if c != "geometry"}
            fields += [(name, s, c) for c, s in short.items()]
            pyogrio.write_dataframe(layer.rename(columns=short), folder / f"{name}.shp", driver="ESRI Shapefile",
                                    layer_options={"ENCODING": "UTF-8"}, promote_to_multi=name == "districts")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(folder.iterdir()):
                if f.suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
                    z.write(f, f.name)
            z.writestr("provenance.json", orjson.dumps(data.provenance, option=orjson.OPT_INDENT_2, default=str))
            z.writestr("fields.csv", pd.DataFrame(fields, columns=["layer", "field", "column"]).to_csv(index=False))
        return buf.getvalue()


def to_xlsx(data: ViewData) -> bytes:
    """The view as an Excel workbook: sheets ``hexes``, ``districts`` (no geometry: the
    ``h3`` id and ``ubigeo`` identify the shapes) and ``provenance``. Text is written as
    text, never as a formula or a link, whatever it starts with."""
    buf = io.BytesIO()
    options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    with pd.ExcelWriter(buf, engine="xlsxwriter", engine_kwargs={"options": options}) as xl:
        for name, layer in _layers(data).items():
            frame = pd.DataFrame(layer.drop(columns="geometry"))
            for c in frame.columns:  # Excel has no NA: empty cells
                if isinstance(frame[c].dtype, (pd.BooleanDtype, pd.Int64Dtype, pd.StringDtype)):
                    frame[c] = frame[c].astype(object).where(frame[c].notna(), None)
            frame.to_excel(xl, sheet_name=name, index=False, freeze_panes=(1, 0))
        _provenance_rows(data.provenance).to_excel(xl, sheet_name="provenance", index=False)
    return buf.getvalue()


def export_view(store: str | os.PathLike | Store, view: View, fmt: str = "geojson", out: str | os.PathLike = ".", *,
                public: bool = False, k: int = privacy.DEFAULT_K, grid: privacy.PublicGrid | None = None,
                registry=None, districts: gpd.GeoDataFrame | None = None,
                analysis: Mapping[str, Any] | None = None) -> list[Path]:
    """Write ``view`` as ``fmt`` to ``out`` atomically; return the written paths.

    ``out`` is a file, or a folder (then :func:`export_filename` names the file); the
    file name is sanitised with :func:`safe_filename`. CSV and GeoParquet get a
    ``<file>.provenance.json`` sidecar. See :func:`view_data` for the other options.
    """
    _check_format(fmt)
    data = view_data(store, view, public=public, k=k, grid=grid, registry=registry, districts=districts,
                     analysis=analysis)
    out = Path(out)
    path = out / export_filename(data.view, fmt, public=public) if out.is_dir() else out.with_name(safe_filename(out.name))
    writers = {"geojson": to_geojson, "csv": to_csv, "geoparquet": to_geoparquet, "gpkg": to_gpkg,
               "shapefile": to_shapefile, "xlsx": to_xlsx}
    atomic_write_bytes(path, writers[fmt](data))
    if fmt in ("geojson", "shapefile"):  # provenance inside the file
        return [path]
    sidecar = path.with_name(path.name + ".provenance.json")
    write_json(sidecar, data.provenance)
    return [path, sidecar]
