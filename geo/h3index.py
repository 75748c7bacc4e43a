"""H3 indexing of point arrays, vectorised and spread over the machine's cores.

Cells are ``uint64`` arrays throughout (``0`` marks "no cell": a missing or invalid
coordinate). Names say their units: ``lat``/``lon`` in degrees (WGS84), resolutions
are H3 resolutions 0-15.

Example
-------
>>> import numpy as np, h3
>>> cells = latlng_to_cells(np.array([-12.0464]), np.array([-77.0428]), resolution=9)
>>> h3.int_to_str(int(cells[0])) == h3.latlng_to_cell(-12.0464, -77.0428, 9)
True
>>> h3.int_to_str(int(cells_to_parent(cells, 7)[0])) == h3.cell_to_parent(h3.latlng_to_cell(-12.0464, -77.0428, 9), 7)
True
>>> both = latlng_to_cells_multi(np.array([-12.0464, np.nan]), np.array([-77.0428, 0.0]), (10, 9))
>>> [h3.int_to_str(int(both[r][0])) == h3.latlng_to_cell(-12.0464, -77.0428, r) for r in (9, 10)], int(both[9][1])
([True, True], 0)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numpy as np
import pyarrow as pa
from h3ronpy import vector as _h3v

#: Resolution at which a point's own cell is stored, unless the user asks otherwise.
DEFAULT_RESOLUTION = 9
#: Resolutions kept in the cell cubes (the dashboard's zoom range).
CUBE_RESOLUTIONS = (7, 8, 9, 10)

_RES_SHIFT = np.uint64(52)
_RES_MASK = np.uint64(0xF) << _RES_SHIFT
# Below this many points, thread start-up costs more than it saves.
_PARALLEL_MIN = 200_000


def _workers() -> int:
    return max(1, min(os.cpu_count() or 1, int(os.environ.get("HEXWATCH_THREADS", "0")) or (os.cpu_count() or 1)))


def _chunk_cells(lat: np.ndarray, lon: np.ndarray, resolution: int) -> np.ndarray:
    ok = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    if ok.all():
        return pa.array(_h3v.coordinates_to_cells(lat, lon, resolution)).to_numpy(zero_copy_only=False).astype(np.uint64, copy=False)
    out = np.zeros(lat.shape[0], dtype=np.uint64)
    if ok.any():
        out[ok] = pa.array(_h3v.coordinates_to_cells(lat[ok], lon[ok], resolution)).to_numpy(zero_copy_only=False)
    return out


def latlng_to_cells(lat, lon, resolution: int = DEFAULT_RESOLUTION, *, workers: int | None = None) -> np.ndarray:
    """H3 cells (``uint64``) of points given as latitude/longitude arrays in degrees.

    Invalid coordinates (NaN, inf, out of range) get cell ``0``. Large inputs are split
    into chunks indexed on several threads: h3ronpy releases the GIL, so this scales
    with cores. Results equal ``h3.latlng_to_cell`` point by point, except that for a
    point exactly on a cell boundary (a vertex, an edge) h3ronpy (h3o) and h3-py (the C
    library) may break the tie towards different neighbouring cells.
    """
    lat = np.ascontiguousarray(lat, dtype=np.float64)
    lon = np.ascontiguousarray(lon, dtype=np.float64)
    if lat.shape != lon.shape:
        raise ValueError(f"lat and lon differ in length ({lat.shape[0]} vs {lon.shape[0]})")
    if not 0 <= resolution <= 15:
        raise ValueError(f"H3 resolution must be 0-15, got {resolution}")
    n = lat.shape[0]
    w = workers or _workers()
    if n < _PARALLEL_MIN or w == 1:
        return _chunk_cells(lat, lon, resolution)
    bounds = np.linspace(0, n, w * 4 + 1, dtype=np.int64)
    out = np.empty(n, dtype=np.uint64)

    def run(i: int) -> None:
        a, b = bounds[i], bounds[i + 1]
        out[a:b] = _chunk_cells(lat[a:b], lon[a:b], resolution)

    with ThreadPoolExecutor(max_workers=w) as pool:
        list(pool.map(run, range(len(bounds) - 1)))
    return out


def cell_resolution(cells: np.ndarray) -> np.ndarray:
    """Resolution of each cell (``uint8``)."""
    cells = np.asarray(cells, dtype=np.uint64)
    return ((cells & _RES_MASK) >> _RES_SHIFT).astype(np.uint8)


def all_at_resolution(cells, resolution: int) -> bool:
    """Whether every non-zero cell is an H3 cell at ``resolution`` (true when none is).

    Cells sharing their top 12 bits (reserved bit, mode, resolution) with both the
    smallest and the largest non-zero cell share them all, so two reductions decide it:
    no per-cell array, no sort (``np.unique`` of the resolutions would sort every cell).

    >>> c = latlng_to_cells(np.array([-12.05, -12.1]), np.array([-77.04, -77.0]), 9)
    >>> all_at_resolution(np.r_[c, 0], 9), all_at_resolution(c, 10)
    (True, False)
    """
    cells = np.asarray(cells, dtype=np.uint64)
    span = _nonzero_span(cells)
    top = (1 << 7) | resolution  # cell mode 1, then the resolution
    return span is None or (span[0] >> int(_RES_SHIFT) == top and span[1] >> int(_RES_SHIFT) == top)


def _nonzero_span(cells: np.ndarray) -> tuple[int, int, bool] | None:
    """The smallest and the largest non-zero cell and whether a ``0`` occurs, or ``None``
    when no cell is non-zero: two reductions, and a masked one only when a 0 occurs.
    Cells' bits above the resolution field are the same for all (reserved 0, mode 1),
    so the smallest cell is at the coarsest resolution and the largest at the finest."""
    highest = int(cells.max()) if cells.size else 0
    if highest == 0:
        return None
    lowest = int(cells.min())
    if lowest == 0:
        return int(np.min(cells, where=cells != 0, initial=np.uint64(highest))), highest, True
    return lowest, highest, False


def cells_to_parent(cells, resolution: int) -> np.ndarray:
    """Parent cells at ``resolution`` by bit arithmetic (no Python loop); ``0`` stays ``0``.

    Every input cell must be at ``resolution`` or finer.
    """
    cells = np.asarray(cells, dtype=np.uint64)
    span = _nonzero_span(cells)
    if span is not None and (span[0] & int(_RES_MASK)) >> int(_RES_SHIFT) < resolution:
        raise ValueError(f"cannot take parents at resolution {resolution} of coarser cells")
    # Digits finer than the parent's resolution are set to 7 ("unused") per the H3 spec.
    parent = cells & ~_RES_MASK
    parent |= (np.uint64(resolution) << _RES_SHIFT) | np.uint64((1 << ((15 - resolution) * 3)) - 1)
    if span is None or span[2]:
        parent[cells == 0] = 0
    return parent


def cells_to_latlng(cells) -> tuple[np.ndarray, np.ndarray]:
    """Centres of ``uint64`` cells as latitude and longitude arrays in degrees.

    >>> import h3
    >>> lat, lon = cells_to_latlng(np.array([h3.str_to_int(h3.latlng_to_cell(-12.05, -77.04, 8))], np.uint64))
    >>> bool(abs(lat[0] + 12.05) < 0.01 and abs(lon[0] + 77.04) < 0.01)
    True
    """
    centres = pa.record_batch(_h3v.cells_to_coordinates(pa.array(np.asarray(cells, dtype=np.uint64), pa.uint64())))
    return centres.column("lat").to_numpy(), centres.column("lng").to_numpy()


def cells_to_str(cells) -> np.ndarray:
    """Hexadecimal H3 strings (as ``h3.int_to_str``) of ``uint64`` cells; ``0`` gives ``""``."""
    cells = np.asarray(cells, dtype=np.uint64)
    s = np.char.mod("%x", cells).astype(object)
    s[cells == 0] = ""
    return s


def str_to_cells(strings) -> np.ndarray:
    """``uint64`` cells from hexadecimal H3 strings."""
    return np.array([int(s, 16) for s in strings], dtype=np.uint64) if len(strings) else np.zeros(0, np.uint64)


# --- exact cells at several resolutions from one indexing pass -------------------------
#
# H3 cells are not nested: the parent (by bit arithmetic) of a point's res-10 cell is the
# res-9 cell holding the point for only ~93% of points. ``latlng_to_cells_multi`` indexes
# the finest resolution exactly and, for each coarser one, takes the parent and PROVES it
# holds the point when the point lies in a hexagon about the parent's centre that is
# proven inside the parent's own (see ``_safe_hexagons``); only the unproven points are
# indexed again, exactly.
#
# Why the test is safe. Within one icosahedron face, H3 assigns a point to a cell by
# rounding its position in the face's gnomonic plane onto a hexagon grid, so a cell is a
# hexagon with straight edges in that plane, i.e. a spherical hexagon whose edges are
# great-circle arcs between the vertices ``cell_to_boundary`` returns. We measure in the
# local chart x = (lon - lon_c) * cos(lat_c), y = lat - lat_c (degrees) around the
# parent's centre. The chart is a smooth bijection, so testing the point against the
# chart image of the cell is exact; the only approximation is drawing each edge as the
# straight chord between its vertices' images. A great circle in this chart has
# curvature at most tan|lat| / R, so an edge of length L bows off its chord by at most
# L^2 tan|lat| / (8 R): for L up to ~20 km (res-5 edges) and |lat| <= 80 that is < 0.3%
# of the centre's distance to any edge (~0.87 L), and < 0.001% for res 9 over Lima.
# Floating point in degrees (~1e-12 relative) is negligible. Moving every edge's chord
# towards the centre by 1% of its distance (``_EDGE_SAFETY``) therefore more than covers
# both: what lies inside all six moved chords lies inside the cell.
#
# Cells for which that argument does not hold are never "proven": pentagons and any cell
# that is not a plain 6-vertex hexagon (class III cells crossing a face edge carry extra
# distortion vertices), cells that may reach past their face's edge (where the grid
# switches to the next face's plane), cells near the poles (|lat_c| > 80, where the chart
# degenerates) or the antimeridian (|lon_c| > 179, where longitudes wrap), resolutions
# coarser than ``_PROVE_MIN_RES`` and invalid coordinates. Their points go to the exact
# ``latlng_to_cells`` fallback, so every result equals ``latlng_to_cells`` exactly.

#: Fraction of each edge chord's distance from the cell's centre kept as proven inside
#: the cell (see the comment above for why 1% is ample).
_EDGE_SAFETY = 0.99
#: Coarsest resolution at which parents are proven rather than recomputed (coarser cells
#: are large enough for edge curvature and face edges to matter; they are cheap to redo).
_PROVE_MIN_RES = 5
_MAX_ABS_LAT = 80.0
_MAX_ABS_LON = 179.0
# Fewer distinct parents than this per thread are not worth a thread.
_PROOF_CHUNK_MIN = 10_000
# Proving costs about as much per distinct parent (its boundary and hexagon) as indexing
# a few dozen points: with fewer points per distinct parent than this, re-indexing all
# points exactly is cheaper (measured: 1M demo points in ~60k res-9 cells lose, 10M win).
_MIN_POINTS_PER_PARENT = 40


def _xyz(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)


@cache
def _face_centres() -> np.ndarray:
    """Unit vectors of the 20 icosahedron face centres (H3 assigns a point to the face
    whose centre is nearest). Each face holds four res-0 cells lying on it alone, a
    centre one and three placed symmetrically about it, so their mean direction is the
    face centre."""
    import h3

    sums = np.zeros((20, 3))
    for cell in h3.get_res0_cells():
        faces = h3.get_icosahedron_faces(cell)
        if len(faces) == 1:
            sums[faces[0]] += _xyz(*np.array(h3.cell_to_latlng(cell)))
    return sums / np.linalg.norm(sums, axis=1, keepdims=True)


# A hexagon as WKB: byte order (1), type (uint32 3 = polygon), rings (uint32 1), points
# (uint32 7: the ring is closed), then 7 (lon, lat) float64 pairs.
_WKB_HEX = np.dtype([("order", "u1"), ("type", "<u4"), ("rings", "<u4"), ("points", "<u4"), ("xy", "<f8", (7, 2))])


def _hexagon_rings(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closed boundary rings (lon, lat degrees; shape ``(n, 7, 2)``) of cells, read
    straight from h3ronpy's WKB polygons, and whether each cell is a plain hexagon (any
    other shape, e.g. a pentagon or a cell with distortion vertices, gets ``False`` and
    NaN coordinates)."""
    wkb = pa.array(_h3v.cells_to_wkb_polygons(cells))
    offsets = np.frombuffer(wkb.buffers()[1], dtype=np.int64)[wkb.offset: wkb.offset + len(wkb) + 1]
    data = np.frombuffer(wkb.buffers()[2], dtype=np.uint8)
    hexagon = np.diff(offsets) == _WKB_HEX.itemsize
    rec = np.zeros(len(cells), dtype=_WKB_HEX)
    if hexagon.all():
        rec[:] = data[offsets[0]: offsets[-1]].view(_WKB_HEX)
    else:
        take = offsets[:-1][hexagon, None] + np.arange(_WKB_HEX.itemsize)
        rec[hexagon] = data[take].reshape(-1).view(_WKB_HEX)
    hexagon &= (rec["order"] == 1) & (rec["type"] == 3) & (rec["rings"] == 1) & (rec["points"] == 7)
    rings = rec["xy"]
    rings[~hexagon] = np.nan
    return rings, hexagon


def _safe_hexagons(parents: np.ndarray) -> pa.Table:
    """Per distinct (non-zero) cell: its centre (``lat_c``, ``lon_c``) and a linear map
    ``(qx, qy) = B (dlon, dlat)`` (``dlon = lon - lon_c``, ``dlat = lat - lat_c``,
    degrees; ``B = [[b11, b12], [b21, b22]]``) under which every point with
    ``|qx| < 1``, ``|qx/2 + qy*sqrt(3)/2| < 1`` and ``|qx/2 - qy*sqrt(3)/2| < 1`` (a
    regular hexagon of inradius 1) is proven inside the cell; ``NaN`` coefficients where
    nothing is proven.

    How ``B`` is built: the chart's hexagon is first made nearly regular by the linear
    map ``A = M^-1/2`` (``M``: the vertices' second moments), then turned so that its
    vertices sit near the regular hexagon's. A regular hexagon of inradius ``h`` lies
    inside every edge's half-plane, moved towards the centre by 1% of its distance
    (``_EDGE_SAFETY``), when each of its six vertices does; ``h`` is the largest such,
    found exactly from the six edges, and ``B`` = rotation x ``A`` / ``h``. Linear maps
    keep "inside" inside and scale an edge's bow and the centre's distance to that edge
    alike, so the safety argument above holds unchanged. The regular hexagon covers
    ~98% of the cell, against ~89% for the inscribed ellipse used before: for res 9
    from res 10, ~8% of points are indexed again instead of ~15% (the ~7% outside their
    parent cannot be proven).
    """
    centre = pa.record_batch(_h3v.cells_to_coordinates(parents))
    lat_c, lon_c = centre.column("lat").to_numpy(), centre.column("lng").to_numpy()
    rings, hexagon = _hexagon_rings(parents)
    x = rings[:, :, 0] - lon_c[:, None]
    y = rings[:, :, 1] - lat_c[:, None]
    mxx, mxy, myy = (x[:, :6] ** 2).mean(1), (x[:, :6] * y[:, :6]).mean(1), (y[:, :6] ** 2).mean(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        # A = M^-1/2 of the symmetric 2x2 M, in closed form: (M + sqrt(det) I)^-1 * (...).
        det = mxx * myy - mxy * mxy
        root = np.sqrt(det)
        t = np.sqrt(mxx + myy + 2 * root)
        # M^1/2 = (M + root I) / t; its inverse is A.
        s11, s12, s22 = (mxx + root) / t, mxy / t, (myy + root) / t
        sdet = s11 * s22 - s12 * s12
        a11, a12, a22 = s22 / sdet, -s12 / sdet, s11 / sdet
        u = a11[:, None] * x + a12[:, None] * y  # vertices after A (the ring stays closed)
        v = a12[:, None] * x + a22[:, None] * y
        # Turn the vertices onto the regular hexagon's (at 30 + 60k degrees): their
        # angles' six-fold mean is the hexagon's phase.
        phase = np.angle((np.exp(6j * np.arctan2(v[:, :6], u[:, :6]))).sum(axis=1)) / 6
        turn = np.radians(30.0) - phase
        c, sn = np.cos(turn), np.sin(turn)
        r11, r12, r21, r22 = c * a11 - sn * a12, c * a12 - sn * a22, sn * a11 + c * a12, sn * a12 + c * a22
        ru, rv = c[:, None] * u - sn[:, None] * v, sn[:, None] * u + c[:, None] * v
        # Edge k's outward normal and its distance from the centre (the ring must turn
        # one way about the centre: star-shaped).
        ex, ey = ru[:, 1:] - ru[:, :-1], rv[:, 1:] - rv[:, :-1]
        cross = ru[:, :-1] * rv[:, 1:] - ru[:, 1:] * rv[:, :-1]
        star = (cross > 0).all(axis=1) | (cross < 0).all(axis=1)
        turning = np.sign(cross[:, :1])
        nx, ny = ey * turning, -ex * turning
        dist = nx * ru[:, :-1] + ny * rv[:, :-1]  # > 0 for a star-shaped ring
        # The regular hexagon of inradius 1 has vertices (2/sqrt 3)(cos, sin)(30 + 60j).
        ang = np.radians(30.0 + 60.0 * np.arange(6))
        reach = (nx[:, :, None] * np.cos(ang) + ny[:, :, None] * np.sin(ang)).max(axis=2) * (2 / np.sqrt(3))
        h = _EDGE_SAFETY * (dist / reach).min(axis=1)
    # Farthest vertex from the centre, in degrees of arc (to within the chart's ~1%).
    far = np.hypot(x * np.cos(np.radians(lat_c))[:, None], y).max(axis=1)
    # The cell lies on one face (whose plane the grid is in) if every point within
    # ``far`` of its centre is nearer that face's centre than any other: the angle to
    # each face centre moves by at most ``far`` (x1.5 for the chart's distortion).
    # (Three multiply-adds rather than a matrix product: BLAS would wake OpenBLAS's
    # threads, which then spin on both cores while the rest of the ingest needs them.)
    xyz, centres = _xyz(lat_c, lon_c), _face_centres()
    cosines = xyz[:, :1] * centres[:, 0] + xyz[:, 1:2] * centres[:, 1] + xyz[:, 2:] * centres[:, 2]
    face = np.arccos(np.clip(cosines, -1.0, 1.0))
    face.sort(axis=1)
    with np.errstate(invalid="ignore"):
        ok = (hexagon & star & (det > 0) & (h > 0) & (face[:, 1] - face[:, 0] > 2 * 1.5 * np.radians(far))
              & (np.abs(lat_c) <= _MAX_ABS_LAT) & (np.abs(lon_c) <= _MAX_ABS_LON) & (far < 5.0))
        scale = np.where(ok, 1.0 / h, np.nan)
    return pa.table({"p": parents, "lat_c": lat_c, "lon_c": lon_c, "b11": r11 * scale, "b12": r12 * scale,
                     "b21": r21 * scale, "b22": r22 * scale})


def _safe_hexagons_parallel(parents: np.ndarray, workers: int) -> pa.Table:
    """``_safe_hexagons`` over chunks on ``workers`` threads (h3ronpy and numpy release
    the GIL), for the tens of thousands of distinct parents of a large input."""
    if workers == 1 or parents.shape[0] < 2 * _PROOF_CHUNK_MIN:
        return _safe_hexagons(parents)
    parts = np.array_split(parents, min(workers, parents.shape[0] // _PROOF_CHUNK_MIN))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return pa.concat_tables(list(pool.map(_safe_hexagons, parts)))


@cache
def _duckdb():
    """A private in-memory DuckDB for the proofs (opening one costs ~20 ms); each call
    works on its own cursor, so concurrent calls do not share registered tables.
    Imported here so that importing this module stays light."""
    import duckdb

    return duckdb.connect(config={"threads": _workers()})


def _unproven(lat: np.ndarray, lon: np.ndarray, parent: np.ndarray, workers: int) -> np.ndarray | None:
    """Sorted indices of the points not proven to lie in ``parent`` (every point whose
    parent is 0, an invalid point's, is unproven), or ``None`` when there are
    too few points per distinct parent for proofs to pay (re-index them all).

    DuckDB finds the distinct parents, then joins every point to its parent's proven
    hexagon and tests it in one streamed pass on ``workers`` threads, returning only the
    unproven points' indices: no per-point table is ever materialised. NaN (no proof)
    and NULL (no parent) both fail the test.
    """
    n = lat.shape[0]
    points = pa.table({"i": np.arange(n, dtype=np.uint32 if n < 2**32 else np.uint64),
                       "lat": lat, "lon": lon, "p": parent})
    with _duckdb().cursor() as con:
        con.execute(f"SET threads = {int(workers)}")
        con.register("points", points)
        distinct = con.execute("SELECT DISTINCT p FROM points WHERE p <> 0").fetchnumpy()["p"]
        if n < _MIN_POINTS_PER_PARENT * len(distinct):
            return None
        if not len(distinct):  # no valid coordinate at all
            return np.arange(n)
        con.register("hexagons", _safe_hexagons_parallel(np.ascontiguousarray(distinct, dtype=np.uint64), workers))
        redo = con.execute("""
            WITH q AS (SELECT i, b11 * (lon - lon_c) + b12 * (lat - lat_c) AS qx,
                                 b21 * (lon - lon_c) + b22 * (lat - lat_c) AS qy
                       FROM points LEFT JOIN hexagons USING (p))
            SELECT i FROM q
            WHERE NOT coalesce(abs(qx) < 1.0 AND abs(0.5 * qx + 0.8660254037844386 * qy) < 1.0
                               AND abs(0.5 * qx - 0.8660254037844386 * qy) < 1.0, false)""").fetchnumpy()["i"]
    return np.sort(np.asarray(redo))


def latlng_to_cells_multi(lat, lon, resolutions: Iterable[int], *,
                          workers: int | None = None) -> dict[int, np.ndarray]:
    """Exact H3 cells (``uint64``) of points at several resolutions, for little more than
    one indexing pass: ``{resolution: cells}``, each array equal to
    ``latlng_to_cells(lat, lon, resolution)`` point by point (``0`` for invalid
    coordinates).

    The finest resolution is indexed in full; for each coarser one the parent of the
    finest cell is kept where it is proven to hold the point (the point lies inside a
    hexagon proven inside the parent's), and the remaining points (~8% for res 9 from
    res 10) are indexed exactly. When there are too few points per distinct parent
    for the proofs to pay (``_MIN_POINTS_PER_PARENT``), that resolution is simply indexed
    exactly in full. ``resolutions`` may be in any order; duplicates are ignored.
    ``workers`` caps the threads used (default: all cores).
    """
    res = sorted({int(r) for r in resolutions})
    if not res:
        raise ValueError("no resolutions given")
    if not 0 <= res[0] <= res[-1] <= 15:
        raise ValueError(f"H3 resolutions must be 0-15, got {res}")
    lat = np.ascontiguousarray(lat, dtype=np.float64)
    lon = np.ascontiguousarray(lon, dtype=np.float64)
    finest = latlng_to_cells(lat, lon, res[-1], workers=workers)
    out = {res[-1]: finest}
    for r in res[:-1]:
        out[r] = latlng_to_cells_from_finer(lat, lon, finest, r, workers=workers)
    return out


def latlng_to_cells_from_finer(lat, lon, finer_cells, resolution: int, *, workers: int | None = None) -> np.ndarray:
    """Exact H3 cells (``uint64``) at ``resolution`` of points whose cells at a finer
    resolution are known (``finer_cells``, as :func:`latlng_to_cells` gives them: ``0``
    for invalid coordinates): equal to ``latlng_to_cells(lat, lon, resolution)`` point
    by point, for a fraction of its cost (see :func:`latlng_to_cells_multi`).

    >>> lat, lon = np.array([-12.0464, -12.1]), np.array([-77.0428, -77.0])
    >>> fine = latlng_to_cells(lat, lon, 10)
    >>> bool((latlng_to_cells_from_finer(lat, lon, fine, 9) == latlng_to_cells(lat, lon, 9)).all())
    True
    """
    lat = np.ascontiguousarray(lat, dtype=np.float64)
    lon = np.ascontiguousarray(lon, dtype=np.float64)
    finer_cells = np.asarray(finer_cells, dtype=np.uint64)
    if not lat.shape == lon.shape == finer_cells.shape:
        raise ValueError(f"lat, lon and finer_cells differ in length ({lat.shape[0]}, {lon.shape[0]}, "
                         f"{finer_cells.shape[0]})")
    w = workers or _workers()
    r = int(resolution)
    if r < _PROVE_MIN_RES:
        return latlng_to_cells(lat, lon, r, workers=w)
    cells = cells_to_parent(finer_cells, r)
    redo = _unproven(lat, lon, cells, w)
    if redo is None:
        cells = latlng_to_cells(lat, lon, r, workers=w)
    elif redo.size:
        cells[redo] = latlng_to_cells(lat[redo], lon[redo], r, workers=w)
    return cells
