"""Parquet files: read pruned to the columns a reader needs (text roles as dictionaries);
whole rows are read again only for the few that are rejected.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from geo.errors import HexwatchError
from geo.readers.columns import OnCoordinates, _unique_names
from geo.readers.rejects import _Raw, _no_malformed
from geo.readers.values import _valid_text


def _parquet_schema(path: Path) -> pa.Schema:
    try:
        return pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        raise HexwatchError(f"cannot read {path.name} as Parquet ({str(exc).splitlines()[0]}); "
                            f"the file may be truncated: export it again") from None


def _read_parquet(path: Path, columns: list[str], coded: list[str] = (), *, early: list[str] | None = None,
                  on_early: OnCoordinates | None = None) -> _Raw:
    """The file's ``columns``; ``early`` (float lat, lon) are read first and passed to
    ``on_early`` before the rest is read (the file's column names must be unique)."""
    names = _parquet_schema(path).names
    physical = dict(zip(_unique_names(names), range(len(names))))
    try:
        pf = pq.ParquetFile(path, read_dictionary=[names[physical[c]] for c in coded])
        if early:
            first = pf.read(columns=early)
            got, coords = {}, []
            for c in early:
                col = first.column(c).cast(pa.float64())
                values = col.fill_null(np.nan).to_numpy()  # one contiguous copy of the row groups
                coords.append(values)
                # Without nulls the copy stands for the column too (the row groups are let go,
                # and later readers of the column get one chunk: no second copy).
                got[c] = pa.chunked_array([pa.array(values)]) if col.null_count == 0 else col
            del first
            on_early(*coords)
            rest = [c for c in columns if c not in early]
            got |= dict(zip(rest, pf.read(columns=rest).columns)) if rest else {}
            table = pa.table({c: got[c] for c in columns})
        elif len(set(names)) == len(names):
            table = pf.read(columns=[names[physical[c]] for c in columns])
        else:
            table = pf.read().select([physical[c] for c in columns])
    except (pa.ArrowException, OSError) as exc:
        raise HexwatchError(f"cannot read {path.name} as Parquet ({str(exc).splitlines()[0]}); "
                            f"the file may be truncated: export it again") from None
    table = pa.table({name: _valid_text(col) for name, col in zip(columns, table.columns)})
    return _Raw(table, None, _no_malformed(), "parquet",
                refetch=(lambda idx: _parquet_rows(path, idx)) if len(columns) < len(names) else None,
                coordinates_sent=bool(early))


def _parquet_rows(path: Path, idx: np.ndarray) -> pa.Table:
    """Whole rows at positions ``idx`` of a Parquet file, reading only their row groups."""
    pf = pq.ParquetFile(path)
    sizes = np.array([pf.metadata.row_group(i).num_rows for i in range(pf.num_row_groups)], dtype=np.int64)
    starts = np.r_[0, np.cumsum(sizes)]
    groups = np.unique(np.searchsorted(starts, idx, side="right") - 1)
    table = pf.read_row_groups(groups.tolist())
    offsets = np.r_[0, np.cumsum(sizes[groups])]
    local = offsets[np.searchsorted(groups, np.searchsorted(starts, idx, side="right") - 1)] + \
        (idx - starts[np.searchsorted(starts, idx, side="right") - 1])
    table = table.take(pa.array(local))
    return pa.table({name: _valid_text(col) for name, col in zip(_unique_names(table.column_names), table.columns)})
