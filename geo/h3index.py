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
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

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
    with cores. Results equal ``h3.latlng_to_cell`` point by point.
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


def cells_to_parent(cells, resolution: int) -> np.ndarray:
    """Parent cells at ``resolution`` by bit arithmetic (no Python loop); ``0`` stays ``0``.

    Every input cell must be at ``resolution`` or finer.
    """
    cells = np.asarray(cells, dtype=np.uint64)
    if cells.size and int(cell_resolution(cells[cells != 0]).min(initial=15)) < resolution:
        raise ValueError(f"cannot take parents at resolution {resolution} of coarser cells")
    # Digits finer than the parent's resolution are set to 7 ("unused") per the H3 spec.
    unused = np.uint64((1 << ((15 - resolution) * 3)) - 1)
    parent = (cells & ~_RES_MASK) | (np.uint64(resolution) << _RES_SHIFT) | unused
    return np.where(cells == 0, np.uint64(0), parent)


def cells_to_str(cells) -> np.ndarray:
    """Hexadecimal H3 strings (as ``h3.int_to_str``) of ``uint64`` cells; ``0`` gives ``""``."""
    cells = np.asarray(cells, dtype=np.uint64)
    s = np.char.mod("%x", cells).astype(object)
    s[cells == 0] = ""
    return s


def str_to_cells(strings) -> np.ndarray:
    """``uint64`` cells from hexadecimal H3 strings."""
    return np.array([int(s, 16) for s in strings], dtype=np.uint64) if len(strings) else np.zeros(0, np.uint64)
