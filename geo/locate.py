"""Which district is each point in: exact point-in-polygon through an H3 shortcut.

The answer equals ``geopandas.sjoin(points, districts, predicate="within")``:

- a point strictly inside a district gets that district's ubigeo;
- a point outside every district, or exactly on a boundary (``within`` is false for
  boundary points), gets ``None``; so does a point with a missing or invalid
  coordinate (H3 cell ``0``);
- where districts overlap (simplified boundary sets do), a point inside several
  gets the one that comes first in ``districts``' row order. The loaders in
  :mod:`geo.boundaries` sort by ubigeo, so the rule is "lowest ubigeo wins".

How: every H3 cell (resolution 9 by default) that holds points is classified once
against the districts, with the cell's hexagon grown by :data:`MARGIN_DEG` so that
the curved true cell edge is inside it. A cell that lies in the interior of exactly
one district and meets no other gives all its points to that district; a cell that
meets no district gives ``None``; only points in the remaining border cells are
tested exactly (``shapely.contains_xy``) against the few districts their cell meets.
Classifications are kept in memory and on disk, keyed by a hash of the boundary
set, so a warm lookup is one hash-table probe per point. Work is spread over
threads; shapely and pandas' hash table release the GIL.

Example
-------
>>> import geopandas as gpd, numpy as np, shapely
>>> squares = gpd.GeoDataFrame({"ubigeo": ["west", "east"]}, crs="EPSG:4326",
...     geometry=[shapely.box(-77.1, -12.1, -77.0, -12.0), shapely.box(-77.0, -12.1, -76.9, -12.0)])
>>> assign_districts(np.array([-12.05, -12.05, -12.5]), np.array([-77.05, -76.95, -77.0]), squares,
...                  cache_dir=False).tolist()
['west', 'east', None]
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from h3ronpy import ContainmentMode
from h3ronpy import vector as _h3v

from geo.errors import HexwatchError
from geo.h3index import DEFAULT_RESOLUTION, _workers, all_at_resolution, cell_resolution, latlng_to_cells
from geo.store import atomic_write_bytes

#: How far (degrees) a cell's straight-edged hexagon is grown before it is compared
#: with districts. True H3 edges are great-circle arcs; at resolution 7 (1.4 km edges)
#: and |latitude| <= 60 they stray under 3 cm from the straight edge, far below this
#: ~1 m margin, so a point is always inside the grown hexagon of its own cell.
MARGIN_DEG = 1e-5
#: Resolutions the margin above is valid for (coarser cells have longer, more curved edges).
RESOLUTIONS = range(7, 13)

_OUTSIDE = -1  # cell meets no district
_BORDER = -2   # cell needs exact tests
_LOCATOR_FORMAT = 1  # bump when the cached classification's meaning changes
_CHUNK = 65_536


def boundary_set_hash(districts: gpd.GeoDataFrame) -> str:
    """A hash of the ids, geometries and row order of ``districts`` (cache key)."""
    h = hashlib.sha256(f"hexwatch-locate-{_LOCATOR_FORMAT}".encode())
    h.update("\x1f".join(districts["ubigeo"].astype("str").tolist()).encode())
    for wkb in shapely.to_wkb(districts.geometry.to_numpy()):
        h.update(wkb if wkb is not None else b"\x00")
    return h.hexdigest()[:24]


class DistrictLocator:
    """Locates points in one set of districts; keeps the cell classification it learns.

    ``districts`` needs a ``ubigeo`` column and polygonal geometry (reprojected to
    EPSG:4326 if needed; rows without geometry never match). ``cache_dir`` is where
    the classification is kept between runs (default: the boundary cache's
    ``locate/`` folder; ``False`` keeps it in memory only).
    """

    def __init__(self, districts: gpd.GeoDataFrame, *, resolution: int = DEFAULT_RESOLUTION,
                 cache_dir: str | os.PathLike | None | bool = None) -> None:
        if "ubigeo" not in districts.columns:
            raise HexwatchError("districts need a 'ubigeo' column; read your file with "
                                "geo.boundaries.read_boundary_file(path, id_field=...)")
        if resolution not in RESOLUTIONS:
            raise ValueError(f"locator resolution must be {RESOLUTIONS.start}-{RESOLUTIONS.stop - 1}, got {resolution}")
        if districts.crs is not None and not districts.crs.equals("EPSG:4326"):
            districts = districts.to_crs("EPSG:4326")
        self.resolution = resolution
        self.ubigeos = districts["ubigeo"].astype("str").to_numpy(dtype=object)
        self.key = boundary_set_hash(districts)
        geoms = districts.geometry.to_numpy().copy()
        usable = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        self._geoms = np.where(usable, geoms, None)
        shapely.prepare(self._geoms[usable])
        self._tree = shapely.STRtree(self._geoms)
        self._path = self._cache_file(cache_dir)
        self._pending = 0
        # The cell table only grows (old slots stay valid), so readers need no lock;
        # writers take this one so that concurrent calls never drop a classification.
        self._lock = threading.Lock()
        self._set_table(np.zeros(0, np.uint64), np.zeros(0, np.int32), np.zeros(1, np.int64), np.zeros(0, np.int32))
        if self._path is not None and self._path.is_file():
            self._load()

    # -- public -------------------------------------------------------------------

    def positions(self, lat, lon, *, cells=None) -> np.ndarray:
        """Row position in ``districts`` of each point's district (``int32``, -1 = none).

        ``cells`` may pass the points' H3 cells (``uint64``, 0 = no cell) at this
        locator's resolution when the caller has them already; they must be the cells
        of ``lat``/``lon``.
        """
        lat = np.ascontiguousarray(lat, dtype=np.float64)
        lon = np.ascontiguousarray(lon, dtype=np.float64)
        if lat.shape != lon.shape or lat.ndim != 1:
            raise ValueError(f"lat and lon must be 1-d arrays of one length, got {lat.shape} and {lon.shape}")
        cells = latlng_to_cells(lat, lon, self.resolution) if cells is None else self._at_resolution(cells, len(lat))
        slot = self._slots(cells)
        if self._pending and self._path is not None and self._pending * 20 >= len(self._cells):
            self.save()  # grow-by-5% rule: rewrites stay proportional to the table's size
        # Slot -1 (cell 0) picks the appended "outside": one gather for every point.
        rows = np.append(self._owner, np.int32(_OUTSIDE))[slot]
        border = np.flatnonzero(rows == _BORDER)
        if border.size:
            rows[border] = self._exact(border, slot[border], lon, lat)
        return rows

    def assign(self, lat, lon, *, cells=None) -> np.ndarray:
        """The ubigeo of each point's district, or ``None`` (``object`` array)."""
        rows = self.positions(lat, lon, cells=cells)
        return np.append(self.ubigeos, None)[rows]  # -1 picks the trailing None

    def precompute(self, ubigeos=None) -> int:
        """Classify every cell that meets the given districts (default: all), so later
        lookups there need no geometry work; returns how many cells were new.

        Meant for a study area (e.g. Lima, Callao and Sullana: about 80,000 cells at
        resolution 9); all of Peru at resolution 9 is 12 million cells.
        """
        chosen = np.ones(len(self.ubigeos), bool) if ubigeos is None else np.isin(self.ubigeos, list(ubigeos))
        polygons = self._geoms[chosen & ~shapely.is_missing(self._geoms)]
        if polygons.size == 0:
            return 0
        wkb = pa.array(shapely.to_wkb(polygons), type=pa.binary())
        cells = pa.array(_h3v.wkb_to_cells(wkb, self.resolution, ContainmentMode.IntersectsBoundary, flatten=True))
        new = self._learn(pd.unique(cells.to_numpy(zero_copy_only=False).astype(np.uint64)))
        if new:
            self.save()
        return new

    def save(self) -> None:
        """Write the classification learnt so far to the cache (atomic; a no-op without one)."""
        if self._path is None:
            return
        with self._lock:
            cells, owner, cand_off, cand = self._cells, self._owner, self._cand_off, self._cand
            self._pending = 0
        candidates = pa.ListArray.from_arrays(pa.array(cand_off.astype(np.int32)), pa.array(cand))
        table = pa.table({"cell": cells, "owner": owner, "candidates": candidates})
        table = table.replace_schema_metadata({"hexwatch_locator": f"{self.key}:{self.resolution}:{len(self.ubigeos)}"})
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        atomic_write_bytes(self._path, buf.getvalue())

    @property
    def n_cells(self) -> int:
        """How many cells are classified."""
        return int(len(self._cells))

    @property
    def n_border_cells(self) -> int:
        """How many classified cells need exact tests."""
        return int((self._owner == _BORDER).sum())

    # -- the cell table -----------------------------------------------------------

    def _set_table(self, cells, owner, cand_off, cand) -> None:
        # Parallel arrays; border cell i's candidate rows are cand[cand_off[i]:cand_off[i+1]].
        # The index goes last: a reader that finds a cell in it finds its row everywhere.
        self._cells, self._owner, self._cand_off, self._cand = cells, owner, cand_off, cand
        self._index = pd.Index(cells)

    def _add(self, cells, owner, cand_off, cand) -> None:
        self._set_table(np.concatenate([self._cells, cells]), np.concatenate([self._owner, owner]),
                        np.concatenate([self._cand_off, cand_off[1:] + self._cand_off[-1]]),
                        np.concatenate([self._cand, cand]))
        self._pending += len(cells)

    def _slots(self, cells: np.ndarray) -> np.ndarray:
        """Table position of each cell (-1 for cell 0), classifying unseen cells first."""
        slot = _threaded(self._index.get_indexer, cells, np.intp)
        unseen = (slot < 0) & (cells != 0)
        if unseen.any():
            self._learn(pd.unique(cells[unseen]))
            slot[unseen] = self._index.get_indexer(cells[unseen])
        return slot

    def _learn(self, cells: np.ndarray) -> int:
        """Classify those of ``cells`` not in the table yet; returns how many were new."""
        with self._lock:
            new = cells[self._index.get_indexer(cells) < 0]  # another thread may have added some
            if new.size:
                self._add(new, *self._classify(new))
            return int(new.size)

    def _cache_file(self, cache_dir) -> Path | None:
        if cache_dir is False:
            return None
        from geo.boundaries import cache_path

        return cache_path(cache_dir) / "locate" / f"{self.key}-r{self.resolution}.parquet"

    def _load(self) -> None:
        try:
            table = pq.read_table(self._path)
            stamp = (table.schema.metadata or {}).get(b"hexwatch_locator", b"").decode()
        except (OSError, pa.ArrowException):
            return  # an unreadable cache is rebuilt, never trusted
        if stamp != f"{self.key}:{self.resolution}:{len(self.ubigeos)}":
            return
        candidates = table.column("candidates").combine_chunks()
        self._set_table(table.column("cell").to_numpy().astype(np.uint64), table.column("owner").to_numpy().astype(np.int32),
                        candidates.offsets.to_numpy().astype(np.int64), candidates.values.to_numpy().astype(np.int32))

    def _at_resolution(self, cells, n: int) -> np.ndarray:
        cells = np.asarray(cells, dtype=np.uint64)
        if cells.shape != (n,):
            raise ValueError(f"cells must hold one cell per point ({n}), got shape {cells.shape}")
        # H3 is not exactly nested (a child pokes out of its parent), so the parent of
        # a point's fine cell may not hold the point: only same-resolution cells do.
        if not all_at_resolution(cells, self.resolution):
            res = np.unique(cell_resolution(cells[cells != 0])).tolist()
            raise ValueError(f"cells are at resolution {res}, the locator at {self.resolution}; "
                             f"pass cells at {self.resolution} or build the locator at theirs")
        return cells

    # -- geometry -----------------------------------------------------------------

    def _classify(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Owner of each cell (row, -1 outside, -2 border) and the border cells' candidate rows."""
        hexes = _threaded(_grown_hexagons, cells, object, min_size=_CHUNK)
        h, d = self._tree.query(hexes)  # bounding boxes only: cheap
        meets = _by_district(d, lambda j, sel: shapely.intersects(self._geoms[j], hexes[h[sel]]))
        h, d = h[meets], d[meets]
        order = np.lexsort((d, h))
        h, d = h[order], d[order]
        n_meet = np.bincount(h, minlength=len(cells))
        owner = np.where(n_meet == 0, _OUTSIDE, _BORDER).astype(np.int32)
        alone = np.flatnonzero(n_meet[h] == 1)
        inside = _by_district(d[alone], lambda j, sel: shapely.contains_properly(self._geoms[j], hexes[h[alone[sel]]]))
        owner[h[alone[inside]]] = d[alone[inside]]
        border = owner[h] == _BORDER
        cand_off = np.concatenate([[0], np.cumsum(np.bincount(h[border], minlength=len(cells)))]).astype(np.int64)
        return owner, cand_off, d[border].astype(np.int32)

    def _exact(self, points: np.ndarray, slots: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Exact district of border points: first candidate row whose polygon contains it."""
        start = self._cand_off[slots]
        count = self._cand_off[slots + 1] - start
        pair_k = np.repeat(np.arange(points.size), count)  # k-th border point
        # Candidate i of border point k sits at cand[start[k] + i]: a ragged arange, vectorised.
        pair_first = np.repeat(np.cumsum(count) - count, count)
        pair_row = self._cand[np.repeat(start, count) + np.arange(pair_k.size) - pair_first]
        pair_point = points[pair_k]
        hit = _by_district(pair_row, lambda j, sel: shapely.contains_xy(
            self._geoms[j], lon[pair_point[sel]], lat[pair_point[sel]]))
        # Pairs are point-major with candidates in ascending row order: the first hit of
        # each point is its lowest-row district (the documented tie rule).
        hk, hr = pair_k[hit], pair_row[hit]
        first = np.r_[True, hk[1:] != hk[:-1]] if hk.size else np.zeros(0, bool)
        result = np.full(points.size, _OUTSIDE, np.int32)
        result[hk[first]] = hr[first]
        return result


def _grown_hexagons(cells: np.ndarray) -> np.ndarray:
    """Each cell's hexagon scaled about its vertex mean so every edge moves out by at
    least :data:`MARGIN_DEG` (vectorised; ~5x cheaper than ``shapely.buffer``)."""
    wkb = pa.array(_h3v.cells_to_wkb_polygons(pa.array(cells, pa.uint64()))).to_numpy(zero_copy_only=False)
    xy, part = shapely.get_coordinates(shapely.from_wkb(wkb), return_index=True)
    n = len(cells)
    count = np.bincount(part, minlength=n)
    start = np.r_[0, np.cumsum(count)[:-1]]
    # Rings are closed (last vertex = first): leave one copy out of the mean.
    cx = (np.bincount(part, weights=xy[:, 0], minlength=n) - xy[start, 0]) / (count - 1)
    cy = (np.bincount(part, weights=xy[:, 1], minlength=n) - xy[start, 1]) / (count - 1)
    dx, dy = xy[:, 0] - cx[part], xy[:, 1] - cy[part]
    # An edge's distance from the centre is at least half the nearest vertex's for
    # H3's near-regular convex cells, so this scale moves every edge out >= MARGIN_DEG.
    scale = 1.0 + 2.0 * MARGIN_DEG / np.minimum.reduceat(np.hypot(dx, dy), start)
    grown = np.column_stack([cx[part] + dx * scale[part], cy[part] + dy * scale[part]])
    return shapely.polygons(shapely.linearrings(grown, indices=part))


def _threaded(fn: Callable[[np.ndarray], np.ndarray], values: np.ndarray, dtype, *, min_size: int = 4 * _CHUNK) -> np.ndarray:
    """``fn`` over chunks of ``values`` on several threads, concatenated."""
    workers = _workers()
    if len(values) < min_size or workers == 1:
        return np.asarray(fn(values), dtype=dtype)
    chunks = np.array_split(values, max(workers * 4, len(values) // (16 * _CHUNK)))
    with ThreadPoolExecutor(workers) as pool:
        return np.concatenate([np.asarray(r, dtype=dtype) for r in pool.map(fn, chunks)])


def _by_district(rows: np.ndarray, test: Callable[[int, np.ndarray], np.ndarray]) -> np.ndarray:
    """``test(row, selection)`` once per distinct district row, on several threads.

    Each district's prepared geometry is used by one thread only (GEOS builds a
    prepared geometry's index lazily, which is not safe to race). Returns the
    booleans in the order of ``rows``.
    """
    out = np.zeros(rows.size, bool)
    if rows.size == 0:
        return out
    # Stable radix sort when rows fit in 16 bits (any real district set does).
    keys = rows.astype(np.int16) if rows.max() < 2**15 else rows
    order = np.argsort(keys, kind="stable")
    sorted_rows = rows[order]
    cuts = np.flatnonzero(np.r_[True, sorted_rows[1:] != sorted_rows[:-1], True])
    runs = sorted(zip(cuts[:-1], cuts[1:]), key=lambda r: r[0] - r[1])  # largest first
    workers = _workers() if rows.size >= _CHUNK and len(runs) > 1 else 1
    # Greedy balance: each run goes to the least-loaded worker; one task per worker.
    batches: list[list[tuple[int, int]]] = [[] for _ in range(workers)]
    load = np.zeros(workers)
    for a, b in runs:
        w = int(load.argmin())
        batches[w].append((a, b))
        load[w] += b - a

    def run(batch) -> None:
        for a, b in batch:
            sel = order[a:b]
            out[sel] = test(int(sorted_rows[a]), sel)

    if workers == 1:
        run(batches[0])
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, batches))
    return out


_LOCATORS: dict[tuple, DistrictLocator] = {}
_MAX_LOCATORS = 4


def assign_districts(lat, lon, districts: gpd.GeoDataFrame, *, cells=None, resolution: int | None = None,
                     cache_dir: str | os.PathLike | None | bool = None) -> np.ndarray:
    """The ubigeo of the district holding each point, or ``None``; see the module doc.

    ``lat``/``lon`` are degrees (WGS84); ``cells`` optionally the points' H3 cells, all
    at one resolution (7-12), which then is the lookup's resolution (else
    ``resolution``, default 9). Locators are reused across calls with the same
    boundary set, so repeated calls only pay for cells they have not seen.
    """
    if resolution is None:
        found = np.unique(cell_resolution(np.asarray(cells, np.uint64)[np.asarray(cells) != 0])) if cells is not None else []
        resolution = int(found[0]) if len(found) == 1 and found[0] in RESOLUTIONS else DEFAULT_RESOLUTION
    key = (boundary_set_hash(districts), resolution, str(cache_dir))
    locator = _LOCATORS.pop(key, None) or DistrictLocator(districts, resolution=resolution, cache_dir=cache_dir)
    _LOCATORS[key] = locator  # most recently used last
    while len(_LOCATORS) > _MAX_LOCATORS:
        _LOCATORS.pop(next(iter(_LOCATORS)))
    return locator.assign(lat, lon, cells=cells)
