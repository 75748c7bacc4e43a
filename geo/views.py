"""Read-only views of a store for the dashboard: hex counts, weekly series, district tables.

Every view reads the pre-aggregated cubes (``cube_cell``, ``cube_district``), never the
raw incidents. A :class:`StoreViews` holds one store version's cubes in numpy form,
laid out so that a query is a slice plus a ``bincount``; :func:`open_views` keeps a
small per-process LRU of them keyed by the store's version, so a new version is picked
up on the next request and every process (e.g. gunicorn worker) computes the same
answer from the same immutable files.

Days are ``datetime.date``; windows are inclusive ``(start, end)`` pairs. Counts are
incidents; rates say their unit in their name (``rate_km2``: incidents per km² in the
window).

Example
-------
>>> import tempfile, datetime as dt, pandas as pd, h3
>>> from geo.store import write_version, Store
>>> cell = h3.str_to_int(h3.latlng_to_cell(-12.0, -77.0, 7))
>>> d = tempfile.mkdtemp()
>>> _ = write_version(d, tables={
...     "cube_cell": pd.DataFrame({"resolution": pd.array([7, 7], "int8"), "cell": pd.array([cell, cell], "uint64"),
...                                "day": [dt.date(2023, 1, 2), dt.date(2023, 1, 9)], "category": ["robo", "hurto"],
...                                "n": pd.array([3, 4], "int32")}),
...     "cube_district": pd.DataFrame({"ubigeo": ["150132"], "day": [dt.date(2023, 1, 2)], "category": ["robo"],
...                                    "n": pd.array([3], "int32")})}, meta={"synthetic": True})
>>> v = open_views(Store.open(d))
>>> hx = v.hex_counts(7, (dt.date(2023, 1, 1), dt.date(2023, 1, 31)))
>>> int(hx["n"].sum()), v.categories
(7, ['hurto', 'robo'])
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from geo.errors import HexwatchError
from geo.h3index import cells_to_latlng
from geo.privacy import PublicGrid, is_sensitive, public_ingest_report
from geo.store import Store
from geo import areas as _areas
from geo.areas import ALL, in_area

#: Below this many baseline incidents a cell's or district's change is not reported (too noisy).
MIN_BASELINE = 5
#: Hex views never return more cells than this; the caller is told how many were left out.
MAX_CELLS = 5000

_EPOCH = dt.date(1970, 1, 1)
_CACHE_SIZE = 4
_cache: OrderedDict[tuple, "StoreViews"] = OrderedDict()
_cache_lock = threading.Lock()
# The locator of a boundary set is shared process-wide, and two calls racing on it
# corrupted the heap in threaded gunicorn workers (GEOS builds a prepared polygon's
# index lazily; pandas its Index hash table): one call at a time. Results are cached
# per store version and resolution, so only cold requests wait here.
_locate_lock = threading.Lock()

Window = tuple[dt.date, dt.date]


def _ord(day: dt.date | str | np.datetime64) -> int:
    """Days since 1970-01-01."""
    if isinstance(day, str):
        day = dt.date.fromisoformat(day)
    if isinstance(day, np.datetime64):
        return int(day.astype("datetime64[D]").astype(np.int64))
    return (day - _EPOCH).days


def _day(ordinal: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=int(ordinal))


def baseline_before(window: Window) -> Window:
    """The window of the same length that ends the day before ``window`` starts.

    >>> baseline_before((dt.date(2023, 9, 20), dt.date(2023, 10, 19)))
    (datetime.date(2023, 8, 21), datetime.date(2023, 9, 19))
    """
    start, end = window
    n = (end - start).days + 1
    return start - dt.timedelta(days=n), start - dt.timedelta(days=1)


def change_pct(n: np.ndarray, n_baseline: np.ndarray, days: int, baseline_days: int,
               min_baseline: int = MIN_BASELINE) -> np.ndarray:
    """Percent change of the daily rate against the baseline's daily rate.

    NaN where the baseline holds fewer than ``min_baseline`` incidents: a change from
    1 to 3 incidents is +200 % and means nothing.

    >>> change_pct(np.array([12, 3]), np.array([10, 2]), 30, 30).tolist()
    [20.0, nan]
    """
    n = np.asarray(n, dtype=np.float64)
    b = np.asarray(n_baseline, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (n * baseline_days - b * days) / (b * days) * 100.0
    out[b < min_baseline] = np.nan
    return out


@dataclass(frozen=True)
class _CellCube:
    """One resolution's cell counts, sorted by (category, day) so a window is a slice."""

    cells: np.ndarray        # uint64, sorted unique
    cell_idx: np.ndarray     # int32 per row, index into ``cells``
    n: np.ndarray            # int32 per row
    offsets: np.ndarray      # int64 (n_categories, n_days + 1): first row of each (category, day)

    def sums(self, cats: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """Counts per cell over day indexes ``[lo, hi)`` and the given category codes."""
        total = np.zeros(len(self.cells), dtype=np.float64)
        for c in cats:  # a handful of categories; each adds one vectorised bincount
            s, e = self.offsets[c, lo], self.offsets[c, hi]
            if e > s:
                total += np.bincount(self.cell_idx[s:e], weights=self.n[s:e], minlength=len(self.cells))
        return total

    @cached_property
    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        return cells_to_latlng(self.cells)

    @cached_property
    def area_km2(self) -> np.ndarray:
        import h3ronpy

        return np.asarray(pa.array(h3ronpy.cells_area_km2(self.cells)))


@dataclass
class StoreViews:
    """Cached, read-only queries over one version of a store (see :func:`open_views`).

    ``districts`` (a GeoDataFrame with ``ubigeo``, ``name`` and ``geometry``) is only
    needed to name the district of a hex and to filter hexes by area.
    """

    store: Store
    districts: object | None = None
    _cell_cubes: dict[int, _CellCube] = field(default_factory=dict, repr=False)
    _cell_ubigeo: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    _outlines: dict[tuple, object] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def version(self) -> str:
        return self.store.version

    @cached_property
    def meta(self) -> dict:
        return self.store.meta

    # -- shared axes ---------------------------------------------------------------
    @cached_property
    def _district_table(self) -> pa.Table:
        return self.store.read_arrow("cube_district", columns=["ubigeo", "day", "category", "n"])

    @cached_property
    def categories(self) -> list[str]:
        """Every category in the store, sorted."""
        cats = set(pc.unique(self._district_table["category"]).to_pylist())
        if self.store.has("cube_cell"):
            # Read as dictionary: the distinct values, not tens of millions of strings.
            col = pq.read_table(self.store.table_path("cube_cell"), columns=["category"],
                                read_dictionary=["category"])["category"]
            for chunk in col.chunks:
                cats |= set(chunk.dictionary.to_pylist())
        return sorted(c for c in cats if c is not None)

    @cached_property
    def day_range(self) -> Window:
        """First and last day the store covers (``meta["coverage"]`` or the cubes)."""
        cov = self.meta.get("coverage") or {}
        bounds = [_ord(cov[k]) for k in ("start", "end") if cov.get(k)]
        for table in ("cube_district", "cube_cell"):
            if self.store.has(table):
                bounds += _day_bounds(self.store.table_path(table))
        first = min(bounds) if bounds else None
        last = max(bounds) if bounds else None
        if first is None:
            raise HexwatchError(f"store {self.store.root} holds no counts; ingest incidents first")
        return _day(first), _day(last)

    @cached_property
    def _day0(self) -> int:
        return _ord(self.day_range[0])

    @cached_property
    def _n_days(self) -> int:
        return _ord(self.day_range[1]) - self._day0 + 1

    def _cat_codes(self, categories: Collection[str] | None) -> np.ndarray:
        if not categories:
            return np.arange(len(self.categories))
        known = {c: i for i, c in enumerate(self.categories)}
        return np.array(sorted(known[c] for c in categories if c in known), dtype=np.int64)

    def _day_slice(self, window: Window) -> tuple[int, int, int]:
        """Clamp ``window`` to the store's days: ``(lo, hi)`` indexes and the window's true length."""
        a, b = _ord(window[0]), _ord(window[1])
        if b < a:
            raise HexwatchError(f"the window ends ({window[1]}) before it starts ({window[0]}); swap the dates")
        lo = min(max(a - self._day0, 0), self._n_days)
        hi = min(max(b - self._day0 + 1, 0), self._n_days)
        return lo, max(lo, hi), b - a + 1

    # -- district counts -------------------------------------------------------------
    @cached_property
    def ubigeos(self) -> list[str]:
        """Districts that have counts, plus every district given in ``districts``, sorted."""
        u = set(pc.unique(self._district_table["ubigeo"]).to_pylist())
        if self.districts is not None:
            u |= set(self.districts["ubigeo"].dropna())
        return sorted(x for x in u if x is not None)

    @cached_property
    def _district_dense(self) -> np.ndarray:
        """Counts as a dense int32 array (district, category, day): small (~60 x 10 x 1,500)."""
        t = self._district_table
        u_idx = pc.index_in(t["ubigeo"], value_set=pa.array(self.ubigeos, pa.string())).to_numpy(zero_copy_only=False)
        c_idx = pc.index_in(t["category"], value_set=pa.array(self.categories, pa.string())).to_numpy(zero_copy_only=False)
        d_idx = t["day"].cast(pa.int32()).to_numpy() - self._day0
        ok = ~np.isnan(u_idx.astype(np.float64)) & ~np.isnan(c_idx.astype(np.float64))
        out = np.zeros((len(self.ubigeos), len(self.categories), self._n_days), dtype=np.int32)
        np.add.at(out, (u_idx[ok].astype(np.int64), c_idx[ok].astype(np.int64), d_idx[ok]), t["n"].to_numpy()[ok])
        return out

    def _district_daily(self, categories: Collection[str] | None) -> np.ndarray:
        """(district, day) counts summed over the chosen categories."""
        return self._district_dense[:, self._cat_codes(categories), :].sum(axis=1)

    def district_counts(self, window: Window, categories: Collection[str] | None = None) -> pd.Series:
        """Incidents per district (index ``ubigeo``) in ``window``."""
        lo, hi, _ = self._day_slice(window)
        return pd.Series(self._district_daily(categories)[:, lo:hi].sum(axis=1), index=pd.Index(self.ubigeos, name="ubigeo"), name="n")

    def district_table(self, window: Window, baseline: Window | None = None, categories: Collection[str] | None = None,
                       *, area: str = "all", declared: Collection[str] = (), min_baseline: int = MIN_BASELINE) -> pd.DataFrame:
        """Per-district counts in ``baseline`` (default: the equal window just before) and ``window``.

        Columns: ``ubigeo, name, declared, n_baseline, n, change_pct``; ``change_pct``
        compares daily rates (windows may differ in length) and is NaN below ``min_baseline``.
        """
        baseline = baseline or baseline_before(window)
        _, _, days = self._day_slice(window)
        _, _, bdays = self._day_slice(baseline)
        n = self.district_counts(window, categories)
        nb = self.district_counts(baseline, categories)
        df = pd.DataFrame({"ubigeo": n.index.astype(object), "n_baseline": nb.to_numpy(), "n": n.to_numpy()})
        df = df[in_area(df["ubigeo"], self.area_members(area))].reset_index(drop=True)
        df.insert(1, "name", df["ubigeo"].map(self.district_names).fillna(df["ubigeo"]))
        df.insert(2, "declared", df["ubigeo"].isin(set(declared)))
        df["change_pct"] = change_pct(df["n"].to_numpy(), df["n_baseline"].to_numpy(), days, bdays, min_baseline)
        return df

    @cached_property
    def district_names(self) -> dict[str, str]:
        """ubigeo -> district name (empty without ``districts``)."""
        if self.districts is None:
            return {}
        return dict(zip(self.districts["ubigeo"], self.districts["name"]))

    def weekly_series(self, groups: Mapping[str, Collection[str]], window: Window,
                      categories: Collection[str] | None = None, *, index_before: dt.date | None = None) -> pd.DataFrame:
        """Weekly incidents (ISO weeks from Monday) of each group of districts in ``window``.

        Columns ``week, group, n, days`` (days of the week inside the store's coverage
        and the window: partial weeks are marked, not hidden) and, when ``index_before``
        is given, ``index``: the weekly count as a percent of the group's mean weekly
        count over the complete weeks before that day (100 = as in the pre-period).
        """
        lo, hi, _ = self._day_slice(window)
        daily = self._district_daily(categories)
        ui = {u: i for i, u in enumerate(self.ubigeos)}
        ords = np.arange(self._day0 + lo, self._day0 + hi)
        monday = ords - (ords + 3) % 7  # 1970-01-01 was a Thursday
        weeks, week_of_day = np.unique(monday, return_inverse=True)
        days_in = np.bincount(week_of_day, minlength=len(weeks))
        frames = []
        for name, members in groups.items():  # two or three groups, each one vectorised sum
            rows = [ui[u] for u in members if u in ui]
            per_day = daily[rows, lo:hi].sum(axis=0) if rows else np.zeros(hi - lo, dtype=np.int64)
            n = np.bincount(week_of_day, weights=per_day, minlength=len(weeks))
            f = pd.DataFrame({"week": [_day(w) for w in weeks], "group": name, "n": n.astype(np.int64), "days": days_in})
            if index_before is not None:
                pre = (weeks + 7 <= _ord(index_before)) & (days_in == 7)
                base = n[pre].mean() if pre.any() else np.nan
                f["index"] = n / base * 100.0 if base and base > 0 else np.nan
            frames.append(f)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["week", "group", "n", "days"])

    # -- cell counts ----------------------------------------------------------------
    @cached_property
    def resolutions(self) -> list[int]:
        """Resolutions held in ``cube_cell``."""
        res = self.meta.get("cube_resolutions")
        if res:
            return sorted(int(r) for r in res)
        t = self.store.read_arrow("cube_cell", columns=["resolution"])
        return sorted(int(r) for r in pc.unique(t["resolution"]).to_pylist())

    def _cell_cube(self, resolution: int) -> _CellCube:
        with self._lock:  # two requests arriving together build the cube once
            cube = self._cell_cubes.get(resolution)
            if cube is None:
                cube = self._cell_cubes[resolution] = self._build_cell_cube(resolution)
            return cube

    def _build_cell_cube(self, resolution: int) -> _CellCube:
        if resolution not in self.resolutions:
            raise HexwatchError(f"resolution {resolution} is not in this store's cubes ({self.resolutions}); pick one of those")
        t = self.store.read_arrow("cube_cell", columns=["cell", "day", "category", "n"],
                                  filters=[("resolution", "=", resolution)])
        cells_all = t["cell"].to_numpy().astype(np.uint64)
        cells, cell_idx = np.unique(cells_all, return_inverse=True)
        day_idx = t["day"].cast(pa.int32()).to_numpy() - self._day0
        cat_lookup = pa.array(self.categories)
        cat = pc.index_in(t["category"], value_set=cat_lookup).to_numpy(zero_copy_only=False)
        key = cat.astype(np.int64) * (self._n_days + 1) + day_idx
        order = np.argsort(key, kind="stable")
        key = key[order]
        bounds = (np.arange(len(self.categories))[:, None] * (self._n_days + 1) + np.arange(self._n_days + 1)[None, :])
        offsets = np.searchsorted(key, bounds.ravel(), side="left").reshape(bounds.shape)
        return _CellCube(cells=cells, cell_idx=cell_idx[order].astype(np.int32),
                         n=t["n"].to_numpy()[order].astype(np.int32), offsets=offsets)

    def _cell_ubigeos(self, resolution: int, cube: _CellCube) -> np.ndarray:
        """District (object array, None outside) of each cell's centre; needs ``districts``."""
        with self._lock:
            got = self._cell_ubigeo.get(resolution)
            if got is None:
                lat, lon = cube.centres
                got = self._cell_ubigeo[resolution] = locate_points(lat, lon, self.districts)
            return got

    def hex_counts(self, resolution: int, window: Window, categories: Collection[str] | None = None, *,
                   baseline: Window | None = None, bbox: tuple[float, float, float, float] | None = None,
                   area: str = "all", max_cells: int = MAX_CELLS, min_baseline: int = MIN_BASELINE) -> pd.DataFrame:
        """Cells with incidents in ``window`` or ``baseline`` (default: the equal window before).

        Returns a frame sorted by ``n`` descending, at most ``max_cells`` rows, with columns
        ``cell`` (uint64), ``n``, ``n_baseline``, ``change_pct``, ``rate_km2`` (incidents
        per km² in the window), ``lat``, ``lon`` (cell centre, degrees) and ``ubigeo``
        (district of the centre, when ``districts`` were given). ``bbox`` is
        ``(south, west, north, east)`` in degrees. ``df.attrs["n_cells"]`` holds how
        many cells matched before the cap.
        """
        cube = self._cell_cube(int(resolution))
        baseline = baseline or baseline_before(window)
        cats = self._cat_codes(categories)
        lo, hi, days = self._day_slice(window)
        blo, bhi, bdays = self._day_slice(baseline)
        n = cube.sums(cats, lo, hi)
        nb = cube.sums(cats, blo, bhi)
        keep = (n > 0) | (nb > 0)
        lat, lon = cube.centres
        if bbox is not None:
            s, w, nn, e = bbox
            keep &= (lat >= s) & (lat <= nn) & (lon >= w) & (lon <= e)
        ub = None
        members = self.area_members(area)
        if self.districts is not None:
            ub = self._cell_ubigeos(int(resolution), cube)
            if members is not None:
                keep &= in_area(ub, members)
        idx = np.flatnonzero(keep)
        n_cells = len(idx)
        if n_cells > max_cells:
            # Keep the busiest cells: the quiet ones are what a user loses least.
            idx = idx[np.argsort(-(n[idx] + nb[idx]), kind="stable")[:max_cells]]
        idx = idx[np.argsort(-n[idx], kind="stable")]
        out = pd.DataFrame({
            "cell": cube.cells[idx], "n": n[idx].astype(np.int64), "n_baseline": nb[idx].astype(np.int64),
            "change_pct": change_pct(n[idx], nb[idx], days, bdays, min_baseline),
            "rate_km2": n[idx] / cube.area_km2[idx], "lat": lat[idx], "lon": lon[idx],
        })
        if ub is not None:
            out["ubigeo"] = ub[idx]
        out.attrs["n_cells"] = n_cells
        return out

    # -- areas ---------------------------------------------------------------------
    @cached_property
    def boundary_set(self) -> dict:
        """Which boundaries the store was built with (:func:`geo.areas.boundary_set`)."""
        return _areas.boundary_set(self.store)

    @cached_property
    def district_totals(self) -> dict[str, int]:
        """Incidents per district over the whole store (``cube_district``, else ``district_month``)."""
        return _district_totals(self.store)

    @cached_property
    def areas(self) -> pd.DataFrame:
        """The store's areas (:data:`geo.areas.AREA_COLUMNS`): ``all``, named groups,
        provinces and districts of the boundaries it was ingested with (or of the
        ``districts`` given to :func:`open_views`)."""
        own = self.districts is None or self.districts is _areas_districts(self.store)
        boundaries = _areas.store_boundaries(self.store) if own else self.districts
        kind = self.boundary_set["kind"] if own else _areas.guess_kind(self.districts)
        groups = _areas.groups_for(self.store, kind)
        table = _areas.areas_table(boundaries, kind=kind, counts=self.district_totals, groups=groups,
                                   n_all=int(sum(self.district_totals.values())) or self._n_all_cells())
        hexes = self._hex_extent()
        if hexes is not None:
            s, w, n, e = table.loc[0, ["south", "west", "north", "east"]]
            hs, hw, hn, he = hexes
            table.loc[0, ["south", "west", "north", "east"]] = (
                np.nanmin([s, hs]), np.nanmin([w, hw]), np.nanmax([n, hn]), np.nanmax([e, he]))
        return table

    def area_members(self, area: str = ALL) -> frozenset[str] | None:
        """District ids of ``area`` (``None`` for ``all``); an unknown area is a one-line error."""
        if area == ALL:
            return None
        return _areas.members_of(self.areas, area)

    def extent(self, area: str = ALL) -> tuple[float, float, float, float]:
        """``(south, west, north, east)`` degrees of ``area`` (``all``: districts and hexes)."""
        self.area_members(area)  # unknown areas fail here with the list of known ones
        row = self.areas.loc[self.areas["area"] == area].iloc[0]
        return tuple(float(row[k]) for k in ("south", "west", "north", "east"))

    @cached_property
    def home_area(self) -> str:
        """The area a first visit opens on: the named group holding most incidents when the
        store's areas have groups that leave some data out (Lima + Callao in the demo, which
        also holds Sullana 900 km away), else ``all``."""
        t = self.areas
        groups = t.loc[t["kind"] == "group"]
        if groups.empty:
            return ALL
        best = groups.sort_values("n", ascending=False, kind="stable").iloc[0]
        return str(best["area"]) if best["n"] < t.loc[0, "n"] else ALL

    def outlines(self, area: str = ALL, simplify_m: float | None = None):
        """The districts of ``area`` as a GeoDataFrame ``ubigeo, name, label, province,
        geometry`` (EPSG:4326), simplified by ``simplify_m`` metres when given; empty
        for a store without boundaries."""
        import geopandas as gpd

        key = (area, simplify_m)
        with self._lock:
            hit = self._outlines.get(key)
        if hit is not None:
            return hit
        members = self.area_members(area)
        if self.districts is None:
            out = gpd.GeoDataFrame({"ubigeo": [], "name": [], "label": [], "province": []},
                                   geometry=gpd.GeoSeries([], crs="EPSG:4326"), crs="EPSG:4326")
        else:
            d = self.districts
            d = d.loc[in_area(d["ubigeo"].astype(str).to_numpy(dtype=object), members)]
            labels = self.areas.set_index("area")["label"]
            ids = d["ubigeo"].astype(str).to_numpy(dtype=object)
            out = gpd.GeoDataFrame({
                "ubigeo": ids, "name": d["name"].astype(object).to_numpy(),
                "label": [labels.get(f"district:{u}", n) for u, n in zip(ids, d["name"].astype(object))],
                "province": d["province"].astype(object).to_numpy() if "province" in d else None,
            }, geometry=_areas.simplify(d.geometry.to_numpy(), simplify_m), crs="EPSG:4326").reset_index(drop=True)
        with self._lock:
            self._outlines[key] = out
        return out

    def _n_all_cells(self) -> int:
        if not self.store.has("cube_cell"):
            return 0
        r = min(self.resolutions)
        t = self.store.read_arrow("cube_cell", columns=["n"], filters=[("resolution", "=", r)])
        return int(pc.sum(t["n"]).as_py() or 0)

    def _hex_extent(self, trim: float = 0.001) -> tuple[float, float, float, float] | None:
        """Where the incidents are: weighted quantiles ``trim`` .. ``1 - trim`` of the
        coarsest cells' centres, so a stray point far away does not zoom the map out."""
        if not self.store.has("cube_cell"):
            return None
        cube = self._cell_cube(min(self.resolutions))
        if not len(cube.cells):
            return None
        weight = np.bincount(cube.cell_idx, weights=cube.n, minlength=len(cube.cells))
        lat, lon = cube.centres

        def q(x: np.ndarray) -> tuple[float, float]:
            order = np.argsort(x)
            cum = np.cumsum(weight[order]) / weight.sum()
            lo = x[order][np.searchsorted(cum, trim)]
            hi = x[order][min(np.searchsorted(cum, 1 - trim), len(x) - 1)]
            return float(lo), float(hi)

        (s, n), (w, e) = q(lat), q(lon)
        # Pad by about a cell's radius: extents are of centres.
        pad = {7: 0.012, 8: 0.005, 9: 0.002, 10: 0.001}.get(min(self.resolutions), 0.01)
        return s - pad, w - pad, n + pad, e + pad

    # -- legend classes -------------------------------------------------------------
    def fixed_classes(self, resolution: int, days: int, categories: Collection[str] | None = None, *,
                      metric: str = "count", n: int = 5, values=None, breaks=None):
        """Legend classes that mean the same for every window of ``days`` days: quantiles,
        over every cell with incidents in the store's whole period, of its mean count in
        ``days`` (``metric="rate"``: per km²); ``breaks`` fixes them instead (user-chosen).
        ``values`` (the current view's) fill the histogram. ``metric="change"``: the fixed
        symmetric change classes. Returns a :class:`geo.legend.Legend`."""
        from geo import legend

        if metric == "change":
            return legend.classes(values if values is not None else [], breaks=breaks or legend.CHANGE_BREAKS, unit=" %", signed=True)
        decimals = 1 if metric == "rate" else 0
        if breaks is None:
            # The reference: every cell's count in every window of ``days`` days that the
            # store holds (consecutive windows; at most 200, evenly spread), cells with none left out.
            cube = self._cell_cube(int(resolution))
            cats = self._cat_codes(categories)
            n_win = max(self._n_days // max(int(days), 1), 1)
            ref = []
            for w in np.unique(np.linspace(0, n_win - 1, min(n_win, 200)).astype(int)):
                lo, hi = w * days, min((w + 1) * days, self._n_days)
                total = cube.sums(cats, lo, hi)
                hit = total > 0
                ref.append(total[hit] / cube.area_km2[hit] if metric == "rate" else total[hit])
            breaks = legend.quantile_breaks(np.concatenate(ref) if ref else [], n, decimals=decimals)
        return legend.classes(values if values is not None else [], breaks=breaks, decimals=decimals)

    # -- honesty -------------------------------------------------------------------
    def coverage(self, *, public: bool = False, grid: PublicGrid | None = None) -> dict:
        """What the store covers: first/last day, incidents, and runs of ≥ 7 days without any.

        Keys: ``start``, ``end`` (ISO dates), ``n_days``, ``n_incidents``, ``n_empty_days``,
        ``gaps`` (list of ``{"start", "end", "days"}``), ``synthetic``, ``dataset``,
        ``sensitive_left_out``. ``public``: incidents, empty days and gaps count only
        the categories that are not sensitive under ``grid`` (default
        :class:`geo.privacy.PublicGrid`): public totals leave sensitive categories out
        (``docs/privacy.md``, rule 5).
        """
        dense = self._district_dense
        if public:
            dense = dense[:, ~is_sensitive(self.categories, (grid or PublicGrid()).sensitive), :]
        per_day = dense.sum(axis=(0, 1))
        empty = per_day == 0
        gaps = []
        if empty.any():
            # Run-length encode the empty days.
            edges = np.flatnonzero(np.diff(np.concatenate([[0], empty.astype(np.int8), [0]])))
            for a, b in zip(edges[::2], edges[1::2]):
                if b - a >= 7:
                    gaps.append({"start": _day(self._day0 + a).isoformat(), "end": _day(self._day0 + b - 1).isoformat(),
                                 "days": int(b - a)})
        start, end = self.day_range
        return {"start": start.isoformat(), "end": end.isoformat(), "n_days": int(self._n_days),
                "n_incidents": int(per_day.sum()), "n_empty_days": int(empty.sum()), "gaps": gaps,
                "synthetic": bool(self.meta.get("synthetic", False)), "dataset": self.meta.get("dataset", ""),
                "sensitive_left_out": public}

    def ingest_report(self, *, public: bool = False) -> dict | None:
        """The store's ``ingest_report.json`` (accepted/rejected rows and why), or None.
        ``public``: only what public output may show (:func:`geo.privacy.public_ingest_report`:
        rejected rows and why, no count of accepted incidents)."""
        p = self.store.path / "ingest_report.json"
        if not p.exists():
            return None
        report = self.store.read_json("ingest_report.json")
        return public_ingest_report(report) if public else report


def _day_bounds(path) -> list[int]:
    """Min and max of a Parquet file's ``day`` column from its row-group statistics."""
    md = pq.ParquetFile(path).metadata
    col = md.schema.names.index("day")
    out = []
    for i in range(md.num_row_groups):
        st = md.row_group(i).column(col).statistics
        if st is None or not st.has_min_max:  # no statistics: read the column (once per version)
            days = pq.read_table(path, columns=["day"])["day"]
            return [_ord(v.as_py()) for v in pc.min_max(days).values()] if len(days) else []
        out += [_ord(st.min), _ord(st.max)]
    return [min(out), max(out)] if out else []


def locate_points(lat: np.ndarray, lon: np.ndarray, districts) -> np.ndarray:
    """Ubigeo of the district containing each point (object array; None outside all).

    Safe to call from several request threads: they take turns (see ``_locate_lock``).
    """
    try:
        from geo.locate import assign_districts
    except ImportError:  # geo.locate is optional for views; shapely's tree gives the same answer
        assign_districts = None
    if assign_districts is not None:
        with _locate_lock:
            return np.asarray(assign_districts(lat, lon, districts), dtype=object)
    import shapely

    pts = shapely.points(lon, lat)
    tree = shapely.STRtree(districts.geometry.to_numpy())
    pi, gi = tree.query(pts, predicate="within")
    out = np.full(len(lat), None, dtype=object)
    out[pi] = districts["ubigeo"].to_numpy()[gi]
    return out


def open_views(store: Store, districts=None) -> StoreViews:
    """The cached :class:`StoreViews` of ``store``'s pinned version (LRU of a few).

    The key is the store's root, its version and the identity of ``districts``, so a
    new version written by ingest is seen by the next call while the old one's cubes
    are dropped after a few more.
    """
    if districts is None:
        districts = _areas_districts(store)
    key = (str(store.root.resolve()), store.version, id(districts))
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit.districts is districts:
            _cache.move_to_end(key)
            return hit
        views = StoreViews(store, districts)
        _cache[key] = views
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
        return views


def _district_totals(store: Store) -> dict[str, int]:
    """Incidents per district id over the whole store (all categories and days)."""
    for table, cols in (("cube_district", ["ubigeo", "n"]), ("district_month", ["ubigeo", "n"])):
        if store.has(table):
            t = store.read_arrow(table, columns=cols).group_by("ubigeo").aggregate([("n", "sum")])
            return {u: int(n) for u, n in zip(t["ubigeo"].to_pylist(), t["n_sum"].to_pylist()) if u is not None}
    return {}


_DRAWN: OrderedDict[tuple, object] = OrderedDict()


def _areas_districts(store: Store):
    """The store's own districts as views use them (:func:`geo.areas.drawn_districts` of
    :func:`geo.areas.store_boundaries`), one object per store version (cached)."""
    key = (str(store.root.resolve()), store.version)
    with _cache_lock:
        if key in _DRAWN:
            _DRAWN.move_to_end(key)
            return _DRAWN[key]
    b = _areas.store_boundaries(store)
    drawn = None
    if b is not None:
        drawn = _areas.drawn_districts(b, kind=_areas.boundary_set(store)["kind"], counts=_district_totals(store))
        drawn.attrs = dict(b.attrs)
    with _cache_lock:
        drawn = _DRAWN.setdefault(key, drawn)
        while len(_DRAWN) > _CACHE_SIZE * 2:
            _DRAWN.popitem(last=False)
    return drawn


# -- areas of a store (the dashboard's, exports' and embeds' choices) ------------------------


def areas(store: Store) -> pd.DataFrame:
    """The areas ``store`` offers (see :meth:`StoreViews.areas` and :mod:`geo.areas`)."""
    return open_views(store).areas


def area_members(store: Store, area: str = ALL) -> frozenset[str] | None:
    """District ids of ``area`` in ``store`` (``None`` = ``all``)."""
    return open_views(store).area_members(area)


def extent(store: Store, area: str = ALL) -> tuple[float, float, float, float]:
    """``(south, west, north, east)`` of ``area`` in ``store``: the first map extent."""
    return open_views(store).extent(area)


def outlines(store: Store, area: str = ALL, *, simplify_m: float | None = None):
    """Outlines of ``area``'s districts (GeoDataFrame), simplified by ``simplify_m`` metres."""
    return open_views(store).outlines(area, simplify_m)


def home_area(store: Store) -> str:
    """The area a bare dashboard URL opens on (:attr:`StoreViews.home_area`)."""
    return open_views(store).home_area
