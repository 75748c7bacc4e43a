"""Vectorised value helpers shared by the readers: text columns mapped once per distinct
value (kept as Polars ``Enum``), null tokens, numbers from text, valid UTF-8 text.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa


# Tokens that mean "no value" in exported spreadsheets.
_NULL_TOKENS = ("", "na", "n/a", "nan", "null", "none", "-", "nd", "s/d")


def _nulls(name: str, n: int, dtype=pl.String) -> pl.Series:
    return pl.repeat(None, n, eager=True, dtype=dtype).alias(name)


def _enum_from_codes(codes: np.ndarray, cats: list[str], name: str) -> pl.Series:
    """A sorted-``Enum`` Series from integer codes into ``cats`` (negative = null), built
    without materialising a string per row."""
    missing = codes < 0
    # 32-bit codes are read as they are (no copy); -1 under a null is never read.
    unsigned = codes.view(np.uint32) if codes.dtype.itemsize == 4 else codes.astype(np.uint32)
    if missing.any():
        valid = pa.array(~missing).buffers()[1]  # Arrow's validity bitmap marks the nulls
        physical = pl.from_arrow(pa.UInt32Array.from_buffers(pa.uint32(), len(codes), [valid, pa.py_buffer(unsigned)]))
    else:
        physical = pl.Series(unsigned)
    return physical.cat.to(pl.Enum(cats)).alias(name)


def _coded_text(col: pa.ChunkedArray, fn, name: str) -> pl.Series:
    """A low-cardinality text column (categories, ubigeos) mapped by ``fn`` (String
    Series -> String Series, null = missing) once per distinct value.

    Returns a sorted ``Enum`` (what the cubes count by, and far lighter than a string per
    row), or text when the column turns out to hold mostly distinct values. Arrow
    dictionary columns (Parquet read with ``read_dictionary``) are remapped by their
    indices alone.
    """
    if pa.types.is_dictionary(col.type) and col.num_chunks:
        col = col.unify_dictionaries()
        dictionary = _plain(pl.from_arrow(col.chunk(0).dictionary).alias(name))
        mapped = fn(dictionary)
        cats = sorted(set(mapped.drop_nulls().to_list()))
        position = {c: i for i, c in enumerate(cats)}
        lookup = np.array([-1 if v is None else position[v] for v in mapped.to_list()] + [-1], dtype=np.int32)
        indices = pa.chunked_array([c.indices for c in col.chunks]).combine_chunks()
        idx = indices.to_numpy(zero_copy_only=False) if indices.null_count == 0 else \
            indices.fill_null(len(lookup) - 1).to_numpy()
        return _enum_from_codes(lookup[idx], cats, name)
    s = _plain(pl.from_arrow(col) if not isinstance(col, pl.Series) else col).alias(name)
    return _map_distinct(s, fn, enum=True)


def _plain(s: pl.Series) -> pl.Series:
    """Lists, structs or bytes where a single value belongs become their text (validated as such)."""
    if s.dtype == pl.Binary:
        return pl.Series(s.name, [None if v is None else v.decode("utf-8", errors="replace") for v in s.to_list()],
                         dtype=pl.String)
    if s.dtype.is_nested() or s.dtype == pl.Object:
        return pl.Series(s.name, [None if v is None else str(v) for v in s.to_list()], dtype=pl.String)
    return s


def _series(name: str, values: Iterable) -> pl.Series:
    """A Polars Series from any sequence; mixed Python objects become text."""
    if isinstance(values, pl.Series):
        s = values
    else:
        vals = values.to_numpy(dtype=object) if isinstance(values, pd.Series) else values
        if not isinstance(vals, np.ndarray):
            vals = list(vals)
        try:
            s = pl.Series(name, vals, strict=False)
        except (TypeError, pl.exceptions.PolarsError):
            s = pl.Series(name, [None if v is None else str(v) for v in vals], dtype=pl.String)
    return _plain(s)


def _map_distinct(s: pl.Series, fn, *, enum: bool = False) -> pl.Series:
    """``fn`` (Series -> Series) computed once per distinct value and mapped back.

    For low-cardinality columns (categories, ubigeos): millions of rows, a few hundred
    values. Nulls map to null. With ``enum`` the result is a sorted ``Enum`` of the
    mapped values (text when most values are distinct).
    """
    values = None
    top = int(s.max()) if enum and s.dtype.is_integer() and s.null_count() < len(s) else None
    if top is not None and 0 <= s.min() and top < _DIRECT_LOOKUP_MAX:
        # Small non-negative integers (ubigeos written as numbers): which values occur is
        # a count over a table, not a hash of every row. Nulls count in slot top + 1.
        values = s.cast(pl.Int64).fill_null(top + 1).to_numpy()
        uniq = pl.Series(s.name, np.flatnonzero(np.bincount(values, minlength=top + 2)[:top + 1]), dtype=pl.Int64)
    else:
        uniq = s.drop_nulls().unique()
    if len(uniq) * 4 > len(s):
        return fn(s)
    mapped = fn(uniq)
    if not len(uniq):
        return _nulls(s.name, len(s), mapped.dtype)
    if enum:
        cats = sorted(set(mapped.drop_nulls().to_list()))
        if values is not None:
            # ... and index a table directly: one gather instead of a hash lookup per row.
            position = {c: i for i, c in enumerate(cats)}
            table = np.full(top + 2, -1, dtype=np.int32)  # last slot: null
            table[uniq.to_numpy()] = [-1 if v is None else position[v] for v in mapped.to_list()]
            return _enum_from_codes(table[values], cats, s.name)
        return s.replace_strict(uniq, mapped, default=None, return_dtype=pl.Enum(cats)).alias(s.name)
    return s.replace_strict(uniq, mapped, default=None, return_dtype=mapped.dtype).alias(s.name)


#: Integer columns below this are mapped through a lookup table (see :func:`_map_distinct`).
_DIRECT_LOOKUP_MAX = 1 << 22


def _valid_text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """A column safe to hand to Polars: extension types as their storage (GDAL labels
    GeoJSON properties of mixed JSON types ``arrow.json`` while holding each value's
    text) and text that is valid UTF-8 (Parquet and GDAL pass undecodable bytes
    through; Polars would crash on them), bad bytes replaced."""
    if isinstance(col.type, pa.BaseExtensionType):
        col = pa.chunked_array([c.storage for c in col.chunks], type=col.type.storage_type)
    if pa.types.is_dictionary(col.type) and (pa.types.is_string(col.type.value_type) or
                                             pa.types.is_large_string(col.type.value_type)):
        return pa.chunked_array([pa.DictionaryArray.from_arrays(c.indices, _valid_text(pa.chunked_array([c.dictionary]))
                                                                .combine_chunks()) for c in col.chunks], type=col.type)
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        try:
            col.validate(full=True)
        except pa.ArrowInvalid:
            col = pa.chunked_array([pa.array([None if v is None else v.decode("utf-8", errors="replace")
                                              for v in col.cast(pa.binary()).to_pylist()], col.type)], type=col.type)
    return col


def _blank(s: pl.Series) -> pl.Series:
    """True where a value is missing: null, or text that is empty or a null token."""
    if s.dtype == pl.String:
        return s.is_null() | s.str.strip_chars().str.to_lowercase().is_in(list(_NULL_TOKENS))
    return s.is_null()


def _to_float(s: pl.Series) -> pl.Series:
    """Floats from numbers or text (decimal comma allowed); null where not a number."""
    if s.dtype.is_numeric():
        return s.cast(pl.Float64)
    if s.dtype == pl.Boolean or s.dtype.is_temporal():
        return _nulls(s.name, len(s), pl.Float64)
    text = s.cast(pl.String, strict=False).str.strip_chars().str.replace_all(",", ".", literal=True)
    return text.cast(pl.Float64, strict=False)


def _cleaner(*, lower: bool):
    """Text cleaner (String Series -> String Series): trimmed, inner whitespace collapsed,
    lower case when asked; blanks and null tokens -> null."""
    def clean(u: pl.Series) -> pl.Series:
        t = u.cast(pl.String, strict=False).str.strip_chars().str.replace_all(r"\s+", " ")
        if lower:
            t = t.str.to_lowercase()
        return pl.select(pl.when(_blank(t)).then(None).otherwise(t)).to_series().alias(u.name)

    return clean


def _may_have_edge_space(col: pa.ChunkedArray) -> bool:
    """Whether any text value may start or end with whitespace (so stripping could
    change it), read from the first and last byte of each value: ids are unique, so
    stripping copies 10M distinct strings for nothing when none has any. Bytes up to
    space and any non-ASCII byte count as possible whitespace; other types say yes.

    An empty or null value reads its neighbour's byte instead, which is checked anyway.
    Values are read a million at a time, so the temporaries stay small (a fresh 80 MB
    array costs more in page faults than the whole test)."""
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return True
    width = np.int64 if pa.types.is_large_string(col.type) else np.int32
    for chunk in col.chunks:
        if not len(chunk) or chunk.buffers()[2] is None:
            continue
        offsets = np.frombuffer(chunk.buffers()[1], dtype=width)[chunk.offset: chunk.offset + len(chunk) + 1]
        data = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)
        if not len(data):  # every value empty or null
            continue
        for a in range(0, len(chunk), _EDGE_STEP):
            at = offsets[a: a + _EDGE_STEP + 1]
            for edge in (np.take(data, at[:-1], mode="clip"), np.take(data, at[1:] - 1, mode="clip")):
                edge -= 0x21  # bytes <= 0x20 wrap round to >= 0xDF, joining the non-ASCII ones
                if (edge >= 0x5F).any():
                    return True
    return False


#: Values per step of :func:`_may_have_edge_space`.
_EDGE_STEP = 1 << 20


def _gather(s: pl.Series | None, idx: np.ndarray) -> pl.Series | None:
    return None if s is None else s.gather(idx)


def _is_whole(x: pl.Series, lo: float, hi: float) -> pl.Series:
    return x.is_finite() & (x == x.floor()) & (x >= lo) & (x <= hi)
