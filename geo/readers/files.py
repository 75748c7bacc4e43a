"""Which reader a file needs (by extension, then content) and the one entry that reads it:
:func:`_load` gives the rows and the columns resolved for the roles.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from geo.errors import HexwatchError
from geo.readers.columns import OnCoordinates, _CODED_ROLES, _unique_names
from geo.readers.csvfile import _csv_layout, _read_csv
from geo.readers.geojsonfile import _read_geojson
from geo.readers.parquetfile import _parquet_schema, _read_parquet
from geo.readers.rejects import _Raw


def _detect_format(path: Path, fmt: str) -> str:
    if fmt != "auto":
        if fmt not in ("csv", "parquet", "geojson"):
            raise HexwatchError(f"unknown file format {fmt!r}; use csv, parquet or geojson")
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq", ".geoparquet"):
        return "parquet"
    if suffix in (".geojson", ".json"):
        return "geojson"
    if suffix in (".csv", ".txt", ".tsv"):
        return "csv"
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head == b"PAR1":
        return "parquet"
    return "geojson" if head.lstrip()[:1] == b"{" else "csv"


def _check_file(path: Path) -> None:
    if not path.exists():
        raise HexwatchError(f"{path} does not exist")
    if path.is_dir():
        raise HexwatchError(f"{path} is a folder; give a CSV, Parquet or GeoJSON file")
    if path.stat().st_size == 0:
        raise HexwatchError(f"{path.name} is empty; export the data again")


def _load(path: Path, fmt: str, resolve, on_coordinates: OnCoordinates | None = None) -> tuple[_Raw, dict[str, str | None]]:
    """Read ``path`` and map roles to its columns with ``resolve(column_names)``.

    Parquet is read with only the resolved columns (whole rows are fetched again for
    rejects); CSV and GeoJSON are read whole. Text columns of :data:`_CODED_ROLES` are
    read as Arrow dictionaries: no string per row is built for them.
    """
    _check_file(path)
    fmt = _detect_format(path, fmt)
    if fmt == "parquet":
        schema = _parquet_schema(path)
        names = _unique_names(schema.names)
        cols = resolve(names)
        original = dict(zip(names, schema.names))
        for c in {c for c in cols.values() if c is not None}:
            if schema.names.count(original[c]) > 1:
                raise HexwatchError(f"{path.name} has {schema.names.count(original[c])} columns named {original[c]!r}; "
                                    f"rename them so that each column has its own name")
        wanted = sorted({c for c in cols.values() if c is not None}, key=names.index)
        coded = [cols[r] for r in _CODED_ROLES if cols.get(r) and
                 (pa.types.is_string(t := schema.field(names.index(cols[r])).type) or pa.types.is_large_string(t))]
        coords = [cols.get("lat"), cols.get("lon")]
        # Float coordinates need no validation to be indexed: hand them over before the
        # other columns are read, so indexing overlaps the reading too.
        early = coords if on_coordinates is not None and None not in coords and len(set(names)) == len(names) and \
            all(pa.types.is_floating(schema.field(names.index(c)).type) for c in coords) else None
        return _read_parquet(path, wanted, coded, early=early, on_early=on_coordinates), cols
    if fmt == "geojson":
        raw = _read_geojson(path)
        return raw, resolve(raw.table.column_names)
    layout = _csv_layout(path)
    cols = resolve(layout[3])
    return _read_csv(path, layout, [cols[r] for r in _CODED_ROLES if cols.get(r)]), cols
