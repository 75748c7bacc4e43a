"""Count cubes: incidents by (H3 cell, day, category) at several resolutions, and by
(district, day, category), with weekly roll-ups.

The cell cube is built from each point's cell at the finest cube resolution: one
parallel sort of a 64-bit key packed as ``day | category | base cell and digits``
puts every cell's children next to each other (an H3 parent is a prefix of its
children's digits), so each coarser resolution is a cumulative sum over runs of the
already sorted keys, not another group-by. Keys that do not fit 64 bits (more than
179 years of days, thousands of categories, resolutions above 10) go through a Polars
group-by instead, with the same result.

Output schemas are the store's (see ``docs/CONTRACTS.md``): ``cube_cell`` =
``resolution: int8, cell: uint64, day: date32, category: string, n: int32`` and
``cube_district`` = ``ubigeo: string, day: date32, category: string, n: int32``, sorted
by resolution, day, category, cell (district cubes by day, category, ubigeo).

Example
-------
>>> import pandas as pd, datetime as dt
>>> from geo.h3index import latlng_to_cells
>>> inc = pd.DataFrame({"lat": [-12.05, -12.05, -12.30], "lon": [-77.04, -77.04, -76.90],
...                     "day": [dt.date(2023, 9, 21)] * 3, "category": ["robo", "robo", "hurto"],
...                     "ubigeo": ["150101", "150101", None]})
>>> inc["cell"] = latlng_to_cells(inc["lat"].to_numpy(), inc["lon"].to_numpy(), 10)
>>> cube = cell_cube(inc, resolutions=(7, 10))
>>> cube.groupby("resolution")["n"].sum().to_dict()
{7: 3, 10: 3}
>>> district_cube(inc)[["ubigeo", "category", "n"]].to_dict("records")
[{'ubigeo': '150101', 'category': 'robo', 'n': 2}]
>>> weekly(district_cube(inc))["week"].tolist()
[datetime.date(2023, 9, 18)]
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa

from geo.h3index import CUBE_RESOLUTIONS, all_at_resolution, cell_resolution, cells_to_parent, latlng_to_cells

#: Arrow schema of the store's ``cube_cell`` table. No column holds nulls: declared so,
#: they are written as required Parquet columns (see :func:`geo.store.parquet_options`).
CUBE_CELL_SCHEMA = pa.schema([pa.field(name, t, nullable=False) for name, t in [
    ("resolution", pa.int8()), ("cell", pa.uint64()), ("day", pa.date32()), ("category", pa.string()),
    ("n", pa.int32())]])
#: Arrow schema of the store's ``cube_district`` table (no nulls: unlocated points are not counted).
CUBE_DISTRICT_SCHEMA = pa.schema([pa.field(name, t, nullable=False) for name, t in [
    ("ubigeo", pa.string()), ("day", pa.date32()), ("category", pa.string()), ("n", pa.int32())]])

_MODE_CELL = np.uint64(1) << np.uint64(59)
# The district cube counts in a dense table when it has at most this many cells per
# input row (or this many in all): a bincount beats a sort until the table dwarfs the input.
_DENSE_BINS_PER_ROW = 2
_DENSE_MIN_BINS = 1 << 16
# Points per step when packing cube keys (temporaries this small are reused, not faulted in).
_KEY_CHUNK = 1 << 20


def _frame(data) -> pl.DataFrame:
    if isinstance(data, pl.DataFrame):
        return data
    if isinstance(data, pa.Table):
        return pl.from_arrow(data)
    return pl.from_pandas(pd.DataFrame(data))


def day_numbers(s: pl.Series) -> np.ndarray:
    """Days since 1970-01-01 of a date or datetime column, as Polars' own ``int32`` (no
    copy for a Date column without nulls): what the ``*_arrays`` builders take.

    >>> import datetime as dt
    >>> day_numbers(pl.Series([dt.date(1970, 1, 2), dt.date(2023, 9, 20)])).tolist()
    [1, 19620]
    """
    if s.dtype != pl.Date:
        s = s.cast(pl.Date)
    return s.to_physical().to_numpy()


def _coded(s: pl.Series) -> tuple[pl.Series, list[str]]:
    """The physical codes of ``s`` as a sorted ``Enum`` (nulls kept) and its categories.
    An ``Enum`` column with sorted categories is used as it is (ingest codes once for
    both cubes), without a copy."""
    given = s.dtype.categories.to_list() if isinstance(s.dtype, pl.Enum) else None
    if given is None or given != sorted(given):
        s = s.cast(pl.String)
        s = s.cast(pl.Enum(sorted(s.drop_nulls().unique().to_list())))
    return s.to_physical(), s.dtype.categories.to_list()


def _filled(physical: pl.Series, code: int) -> np.ndarray:
    """Codes as NumPy, nulls replaced by ``code`` (no copy when there is no null)."""
    if physical.null_count():
        if code > {pl.UInt8: 0xFF, pl.UInt16: 0xFFFF}.get(physical.dtype, 0xFFFF_FFFF):
            physical = physical.cast(pl.UInt32)
        physical = physical.fill_null(code)
    return physical.to_numpy()


def _codes(s: pl.Series, *, nulls_last: bool = False) -> tuple[np.ndarray, list[str]]:
    """Category codes (unsigned integers) in alphabetical order of the categories, and
    the categories; a null gets code 0, or ``len(categories)`` with ``nulls_last``."""
    physical, cats = _coded(s)
    return _filled(physical, len(cats) if nulls_last else 0), cats


def _bits(n_values: int) -> int:
    return max(1, int(n_values - 1).bit_length())


def _sorted_runs(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of ``key`` in ascending order and how often each occurs (parallel sort)."""
    runs = pl.Series("k", key, dtype=pl.UInt64).sort(multithreaded=True, in_place=True).rle().struct.unnest()
    return runs["value"].to_numpy(), runs["len"].to_numpy().view(np.int32)  # run lengths < 2^31


def _category_array(codes: np.ndarray, cats: list[str]) -> pa.Array:
    """Text by code as an Arrow dictionary: no string is built per row (the cube has ~3
    rows per incident), and the Parquet writer stores the dictionary as it is. Signed
    codes of up to 32 bits keep their width; others become ``int32``."""
    if codes.dtype not in (np.int8, np.int16, np.int32):
        codes = codes.astype(np.int32)
    # Codes made here are in range: not checking them spares a pass over every row.
    return pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(cats, type=pa.string()), safe=False)


#: Text columns as ingest builds them (dictionaries); they are read back as plain text.
_TEXT = pa.dictionary(pa.int32(), pa.string())
_CUBE_CELL_BUILT = pa.schema([f.with_type(_TEXT) if f.type == pa.string() else f for f in CUBE_CELL_SCHEMA])
_CUBE_DISTRICT_BUILT = pa.schema([f.with_type(_TEXT) if f.type == pa.string() else f for f in CUBE_DISTRICT_SCHEMA])


def _pandas(table: pa.Table, schema: pa.Schema) -> pd.DataFrame:
    """The pandas form with plain text columns (as :meth:`geo.store.Store.read` gives)."""
    return table.cast(schema).to_pandas()


def _date_array(days: np.ndarray) -> pa.Array:
    return pa.array(days.astype(np.int32), type=pa.int32()).cast(pa.date32())


def cell_cube_arrays(cells: np.ndarray, days: np.ndarray, categories: pl.Series | Sequence[str],
                     resolutions: Sequence[int] = CUBE_RESOLUTIONS) -> pa.Table:
    """The cell cube (store schema, Arrow; ``category`` as a dictionary) from parallel arrays of points.

    ``cells``: ``uint64`` H3 cells at ``max(resolutions)`` or finer (``0`` = no cell,
    skipped); ``days``: days since 1970-01-01 (any integer type); ``categories``: text
    per point.
    """
    return cell_cube_batches(cells, days, categories, resolutions).read_all()


def cell_cube_batches(cells: np.ndarray, days: np.ndarray, categories: pl.Series | Sequence[str],
                      resolutions: Sequence[int] = CUBE_RESOLUTIONS) -> pa.RecordBatchReader:
    """:func:`cell_cube_arrays` as a stream of record batches of at most ``_KEY_CHUNK``
    rows, in the cube's order. The counting is done before this returns; each batch's
    columns are decoded only when it is read, into small arrays that are reused (the
    whole cube is ~3 rows per point: at 10M points, decoding it at once faults in
    ~500 MB of fresh memory). Read it once, in one thread.
    """
    resolutions = sorted({int(r) for r in resolutions}, reverse=True)
    if not resolutions:
        raise ValueError("give at least one cube resolution")
    finest = resolutions[0]
    cells = np.asarray(cells, dtype=np.uint64)
    days = np.asarray(days)
    cat_codes, cats = _codes(pl.Series("category", categories))
    if len(cells) and cells.min() == 0:
        keep = cells != 0
        cells, days, cat_codes = cells[keep], days[keep], cat_codes[keep]
    if not len(cells):
        return pa.RecordBatchReader.from_batches(_CUBE_CELL_BUILT, [])
    if not all_at_resolution(cells, finest):
        cells = cells_to_parent(cells, finest)
    day0, day1 = int(days.min()), int(days.max())
    cell_bits = 7 + 3 * finest  # base cell + one 3-bit digit per resolution
    cat_bits, day_bits = _bits(len(cats)), _bits(day1 - day0 + 1)
    if cell_bits + cat_bits + day_bits > 64:
        table = _cell_cube_groupby(cells, days.astype(np.int64), cat_codes, cats, resolutions)
        return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=_KEY_CHUNK))
    keys, counts = _sorted_runs(_packed_keys(cells, days, day0, cat_codes, cell_bits, cat_bits, finest))
    # Every level holds the same (day, category) pairs: found once, on the coarsest.
    levels = _levels(keys, counts, resolutions)
    coarse = levels[-1][1] >> np.uint64(cell_bits - 3 * (finest - resolutions[-1]))
    pairs = coarse[_run_starts(coarse)]
    del coarse
    pair_day = (pairs >> np.uint64(cat_bits)).astype(np.int32) + np.int32(day0)
    # The narrowest index type that holds every category: the column repeats one code
    # per cube row (~3 per point), so int8 instead of int32 saves ~90 MB at 10M points.
    index_type = next(t for t in (np.int8, np.int16, np.int32) if len(cats) <= np.iinfo(t).max)
    pair_cat = (pairs & np.uint64((1 << cat_bits) - 1)).astype(index_type)
    schema = _CUBE_CELL_BUILT.set(3, _CUBE_CELL_BUILT.field("category").with_type(
        pa.dictionary(pa.from_numpy_dtype(index_type), pa.string())))
    cat_dictionary = pa.array(cats, type=pa.string())

    def batches():
        for r, k, c in levels[::-1]:
            bits = cell_bits - 3 * (finest - r)
            # Keys are sorted by (day, category) first: each pair's rows are one stretch,
            # found by binary search, and its day and category are repeated over it.
            bounds = np.searchsorted(k, pairs << np.uint64(bits))
            pair_end = np.append(bounds[1:], len(k))
            fill = _MODE_CELL | (np.uint64(r) << np.uint64(52)) | np.uint64((1 << (3 * (15 - r))) - 1)
            for a in range(0, len(k), _KEY_CHUNK):
                b = min(a + _KEY_CHUNK, len(k))
                # The pairs met in [a, b) and how many of their rows fall inside it.
                p0, p1 = np.searchsorted(pair_end, a, side="right"), np.searchsorted(bounds, b, side="left")
                lengths = np.minimum(pair_end[p0:p1], b) - np.maximum(bounds[p0:p1], a)
                cell = np.bitwise_and(k[a:b], np.uint64((1 << bits) - 1))
                cell <<= np.uint64(3 * (15 - r))
                cell |= fill
                yield pa.record_batch([
                    pa.array(np.full(b - a, r, np.int8)),
                    pa.array(cell, pa.uint64()),
                    pa.array(np.repeat(pair_day[p0:p1], lengths), pa.int32()).view(pa.date32()),
                    pa.DictionaryArray.from_arrays(pa.array(np.repeat(pair_cat[p0:p1], lengths)), cat_dictionary,
                                                   safe=False),  # codes made here: in range
                    pa.array(c[a:b].astype(np.int32, copy=False)),
                ], schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


def _packed_keys(cells: np.ndarray, days: np.ndarray, day0: int, cat_codes: np.ndarray, cell_bits: int,
                 cat_bits: int, finest: int) -> np.ndarray:
    """``day | category | base cell and digits`` as one ``uint64`` per point, built in
    place a million points at a time: the small temporaries are reused, where a fresh
    10M-point array costs ~40 ms of page faults, more than the arithmetic."""
    key = cells >> np.uint64(3 * (15 - finest))
    key &= np.uint64((1 << cell_bits) - 1)
    for a in range(0, len(key), _KEY_CHUNK):
        b = a + _KEY_CHUNK
        part = np.subtract(days[a:b], day0, dtype=np.int64)  # >= 0, so its bits read the same as uint64
        part <<= cell_bits + cat_bits
        key[a:b] |= part.view(np.uint64)
        np.left_shift(cat_codes[a:b], cell_bits, out=part, dtype=np.int64, casting="unsafe")
        key[a:b] |= part.view(np.uint64)
    return key


def _levels(keys: np.ndarray, counts: np.ndarray, resolutions: list[int]) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """``(resolution, keys, counts)`` from the finest level's sorted distinct keys down:
    dropping one resolution's digit keeps the keys sorted, so equal runs are parents."""
    levels = [(resolutions[0], keys, counts)]
    for r in resolutions[1:]:
        prev, k, c = levels[-1]
        levels.append((r, *_parent_runs(k, c, np.uint64(3 * (prev - r)))))
    return levels


def _parent_runs(keys: np.ndarray, counts: np.ndarray, shift: np.uint64) -> tuple[np.ndarray, np.ndarray]:
    """Distinct ``keys >> shift`` of sorted ``keys`` and the summed ``counts`` of each.

    Done a million keys at a time, into outputs sized for the worst case (one parent
    per key) of which only the used part is ever touched: at 10M keys, the three coarser
    levels done with whole-array shifts, run marks and run positions faulted in ~600 MB
    of fresh memory, costlier than the arithmetic; this way ~400 MB, mostly the outputs."""
    out_keys, out_counts = np.empty(len(keys), keys.dtype), np.empty(len(counts), counts.dtype)
    m = 0  # parents written so far
    for a in range(0, len(keys), _KEY_CHUNK):
        shifted = keys[a:a + _KEY_CHUNK] >> shift
        c = counts[a:a + _KEY_CHUNK]
        first = np.empty(len(shifted), bool)
        first[0] = m == 0 or shifted[0] != out_keys[m - 1]
        np.not_equal(shifted[1:], shifted[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        if not first[0]:  # the previous chunk's last run goes on
            out_counts[m - 1] += c[:starts[0]].sum() if len(starts) else c.sum()
        if len(starts):
            np.take(shifted, starts, out=out_keys[m:m + len(starts)])
            np.add.reduceat(c, starts, out=out_counts[m:m + len(starts)])
            m += len(starts)
    return out_keys[:m], out_counts[:m]


def _run_starts(sorted_key: np.ndarray) -> np.ndarray:
    """Positions where a new value starts in a sorted array."""
    first = np.empty(len(sorted_key), bool)
    if len(first):
        first[0] = True
        np.not_equal(sorted_key[1:], sorted_key[:-1], out=first[1:])
    return np.flatnonzero(first)


def _cell_cube_groupby(cells, days, cat_codes, cats, resolutions) -> pa.Table:
    parts = []
    for r in sorted(resolutions):
        g = (pl.DataFrame({"cell": cells_to_parent(cells, r), "day": days, "cat": cat_codes})
             .group_by(["day", "cat", "cell"]).len().sort(["day", "cat", "cell"]))
        parts.append(pa.table({
            "resolution": pa.array(np.full(g.height, r, np.int8)),
            "cell": pa.array(g["cell"].to_numpy(), pa.uint64()),
            "day": _date_array(g["day"].to_numpy()),
            "category": _category_array(g["cat"].to_numpy(), cats),
            "n": pa.array(g["len"].to_numpy().astype(np.int32)),
        }, schema=_CUBE_CELL_BUILT))
    return pa.concat_tables(parts)


def district_cube_arrays(ubigeos: pl.Series | Sequence, days: np.ndarray, categories: pl.Series | Sequence[str]) -> pa.Table:
    """The district cube (store schema, Arrow; text as dictionaries) from parallel arrays;
    null ubigeos are skipped."""
    ubigeos = ubigeos if isinstance(ubigeos, pl.Series) else pl.Series("ubigeo", ubigeos, dtype=pl.String)
    unlocated = ubigeos.null_count()
    u_physical, names = _coded(ubigeos)  # no district: code len(names)
    cat_codes, cats = _codes(pl.Series("category", categories))
    days = np.asarray(days)
    if unlocated == len(days):
        return _CUBE_DISTRICT_BUILT.empty_table()
    day0 = int(days.min())
    n_days = int(days.max()) - day0 + 1

    # The districts that occur (a boundary set may list all 1,891 of Peru's for 60 used).
    used = np.sort(u_physical.drop_nulls().unique().to_numpy()).astype(np.int64)
    slot = np.full(len(names) + 1, len(used), np.int64)  # code len(names), no district: the last slot
    slot[used] = np.arange(len(used))
    slots = len(used) + (unlocated > 0)
    per_day = max(len(cats), 1) * slots
    if n_days * per_day <= max(_DENSE_BINS_PER_ROW * len(days), _DENSE_MIN_BINS):
        # Few enough (day, category, district) combinations to count them all in one
        # table: a bincount instead of a sort (10M points, 1,461 days x 8 categories x
        # 58 districts: 0.1 s instead of 0.4 s). The linear index keeps the cube's order;
        # points in no district are counted in a slot of their own, then dropped.
        # Keys are made a million points at a time: fresh 10M-point temporaries cost more
        # in page faults than the counting.
        counts = np.zeros(n_days * per_day, np.int64)
        for a in range(0, len(days), _KEY_CHUNK):
            b = a + _KEY_CHUNK
            key = np.subtract(days[a:b], day0, dtype=np.int64)
            key *= per_day
            key += np.multiply(cat_codes[a:b], slots, dtype=np.int64)  # codes may be as narrow as uint8
            key += slot[_filled(u_physical.slice(a, _KEY_CHUNK), len(names))]
            counts += np.bincount(key, minlength=len(counts))
        if unlocated:
            counts.reshape(-1, slots)[:, -1] = 0
        keys = np.flatnonzero(counts)
        counts = counts[keys]
        d, rest = np.divmod(keys, per_day)
        d += day0
        c, u = np.divmod(rest, slots)
        return _district_table(used[u], names, d, c, cats, counts)
    u_codes = _filled(u_physical, len(names))
    if unlocated:
        located = u_codes < len(names)
        days, u_codes, cat_codes = days[located], u_codes[located], cat_codes[located]
        day0 = int(days.min())
        n_days = int(days.max()) - day0 + 1
    u_bits, cat_bits, day_bits = _bits(len(names)), _bits(len(cats)), _bits(n_days)
    if u_bits + cat_bits + day_bits <= 64:
        key = np.subtract(days, day0, dtype=np.int64)  # >= 0: its bits read the same as uint64
        key <<= cat_bits + u_bits
        key = key.view(np.uint64)
        part = cat_codes.astype(np.uint64)
        part <<= np.uint64(u_bits)
        key |= part
        key |= u_codes.astype(np.uint64)
        del part
        keys, counts = _sorted_runs(key)
        d = (keys >> np.uint64(cat_bits + u_bits)).astype(np.int64) + day0
        c = ((keys >> np.uint64(u_bits)) & np.uint64((1 << cat_bits) - 1)).astype(np.int64)
        u = (keys & np.uint64((1 << u_bits) - 1)).astype(np.int64)
    else:
        g = pl.DataFrame({"d": days, "c": cat_codes, "u": u_codes}).group_by(["d", "c", "u"]).len().sort(["d", "c", "u"])
        d, c, u, counts = (g[k].to_numpy() for k in ("d", "c", "u", "len"))
    return _district_table(u, names, d, c, cats, counts)


def _district_table(u, names, d, c, cats, counts) -> pa.Table:
    return pa.table({"ubigeo": _category_array(u, names), "day": _date_array(d), "category": _category_array(c, cats),
                     "n": pa.array(np.asarray(counts).astype(np.int32))}, schema=_CUBE_DISTRICT_BUILT)


def cell_cube(incidents, resolutions: Sequence[int] = CUBE_RESOLUTIONS, index_resolution: int | None = None) -> pd.DataFrame:
    """Counts by ``(resolution, cell, day, category)`` for each of ``resolutions``.

    ``incidents`` (pandas, Arrow or Polars) needs ``day`` (date or datetime) and
    ``category``, and either ``cell`` (``uint64`` at ``index_resolution``, inferred when
    ``None``) or ``lat``/``lon`` in degrees. When the cells are coarser than the finest
    requested resolution they are recomputed from ``lat``/``lon``. Every resolution's
    counts add up to the number of rows with a cell.
    """
    frame = _frame(incidents)
    finest = max(resolutions)
    cells = frame["cell"].to_numpy().astype(np.uint64) if "cell" in frame.columns else None
    if cells is not None and index_resolution is None:
        nz = cells[cells != 0]
        index_resolution = int(cell_resolution(nz[:1])[0]) if len(nz) else finest
    if cells is None or index_resolution < finest:
        if not {"lat", "lon"} <= set(frame.columns):
            raise ValueError(f"cells are at resolution {index_resolution}, coarser than {finest}; "
                             f"give lat/lon so they can be recomputed")
        cells = latlng_to_cells(frame["lat"].to_numpy(), frame["lon"].to_numpy(), finest)
    return _pandas(cell_cube_arrays(cells, day_numbers(frame["day"]), frame["category"], resolutions), CUBE_CELL_SCHEMA)


def district_cube(incidents) -> pd.DataFrame:
    """Counts by ``(ubigeo, day, category)`` of the located rows (``ubigeo`` not null)."""
    frame = _frame(incidents)
    return _pandas(district_cube_arrays(frame["ubigeo"], day_numbers(frame["day"]), frame["category"]), CUBE_DISTRICT_SCHEMA)


def weekly(cube, key: Sequence[str] | None = None) -> pd.DataFrame:
    """Roll a daily cube up to weeks starting on Monday: ``week`` (date) replaces ``day``.

    ``key``: the columns kept besides the week (default: every column but ``day`` and
    ``n``). Counts are summed into ``n`` (``int64``); rows are sorted by key and week.

    >>> import datetime as dt
    >>> c = pd.DataFrame({"ubigeo": ["150132"] * 3, "day": [dt.date(2023, 9, 17), dt.date(2023, 9, 18), dt.date(2023, 9, 24)],
    ...                   "category": ["robo"] * 3, "n": [1, 2, 3]})
    >>> weekly(c)[["week", "n"]].to_dict("records")
    [{'week': datetime.date(2023, 9, 11), 'n': 1}, {'week': datetime.date(2023, 9, 18), 'n': 5}]
    """
    frame = _frame(cube)
    key = [c for c in frame.columns if c not in ("day", "n")] if key is None else list(key)
    day = pl.col("day").cast(pl.Date)
    out = (frame.with_columns((day - pl.duration(days=day.dt.weekday() - 1)).alias("week"))
           .group_by([*key, "week"]).agg(pl.col("n").cast(pl.Int64).sum()).sort([*key, "week"]))
    return out.to_arrow().to_pandas()
