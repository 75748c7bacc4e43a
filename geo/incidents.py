"""Incident files -> canonical frames: every input row is accepted or rejected with a reason.

Three kinds of file are read:

- **points** (any city): CSV (delimiter sniffed; UTF-8, UTF-8 with BOM or Latin-1),
  Parquet or GeoJSON (Point features), with the columns named by the user;
- **mininter**: Peru's geo-referenced police reports (``fecha_hora_hecho``,
  ``lat_hecho``, ``long_hecho``, ``tipo_hecho``, ``subtipo_hecho``, ``ubigeo_hecho``,
  and ``id_denuncia``/``nro_denuncia`` when present);
- **sidpol**: Peru's SIDPOL open dataset of district-month counts (``ANIO, MES,
  DPTO_HECHO_NEW, PROV_HECHO, DIST_HECHO, UBIGEO_HECHO, P_MODALIDADES, cantidad``).

Validation is vectorised (Polars). A rejected row keeps its 1-based data row number,
a machine ``reason`` (see :data:`REJECT_REASONS`), a human ``detail`` and the original
row as JSON, so ``len(accepted) + len(rejects) == n_input`` always holds.

Times are local (America/Lima) and naive. Strings are tried against ISO 8601
(``2023-09-21 14:35:00``, ``2023-09-21T14:35``, ``2023-09-21``), ``dd/mm/yyyy
HH:MM[:SS]``, ``yyyy/mm/dd`` and ``dd-mm-yyyy``; ten- and thirteen-digit numbers are
epoch seconds and milliseconds (UTC, converted to Lima time); times with an offset
(``Z``, ``-05:00``) are converted to Lima time. A ``time_format`` (strftime codes, or
``epoch_s``/``epoch_ms``) replaces the detection.

When a file has no id column (or a row's id is blank), the id is a hash of the row's
parsed content (time, coordinates to 1e-7 degrees, category, subcategory), so the same
incident gets the same id from CSV, Parquet or GeoJSON and a re-ingest adds nothing;
the k-th identical row of a file gets the suffix ``-k`` so genuinely repeated reports
are kept.

Example
-------
>>> import tempfile, os
>>> p = os.path.join(tempfile.mkdtemp(), "x.csv")
>>> _ = open(p, "w").write("when;y;x;what\\n21/09/2023 14:35;-12.05;-77.04;Robo\\n;-12.05;-77.04;Robo\\n")
>>> parsed = read_points(p, lat="y", lon="x", time="when", category="what")
>>> parsed.accepted[["time", "category"]].to_dict("records")
[{'time': Timestamp('2023-09-21 14:35:00'), 'category': 'robo'}]
>>> parsed.rejects["reason"].tolist(), parsed.n_input
(['unparseable_time'], 2)
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
from datetime import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
import orjson
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from geo.errors import HexwatchError

#: Machine codes of rejected rows, with what each means.
REJECT_REASONS: dict[str, str] = {
    "malformed_row": "the row could not be split into the header's columns",
    "missing_coordinate": "latitude or longitude is empty",
    "bad_coordinate": "latitude/longitude not a number, not finite, out of range, or 0,0",
    "unparseable_time": "the time (or year/month) could not be read",
    "missing_category": "the category is empty",
    "duplicate_id": "the id repeats an earlier row of the same file",
    "unknown_ubigeo": "the ubigeo is not a 6-digit code of a known district",
    "bad_count": "the count is not a non-negative whole number",
    "already_in_store": "the store already holds this incident (or district-month)",
    "outside_area": "the point lies outside every district (only when clipping)",
}

#: Column names of a point file's roles, as keyword arguments of :func:`read_points`.
POINT_ROLES = ("lat", "lon", "time", "category", "id", "subcategory")
#: Default source columns of a MININTER geo-referenced police report file, by role. The
#: file's district name (``distrito_hecho``) is not read: the district is located from the
#: coordinates, and what the police wrote is compared through ``ubigeo_hecho``.
MININTER_COLUMNS: dict[str, str] = {
    "time": "fecha_hora_hecho", "lat": "lat_hecho", "lon": "long_hecho", "category": "tipo_hecho",
    "subcategory": "subtipo_hecho", "reported_ubigeo": "ubigeo_hecho",
}
#: Id columns looked for (in this order) in a MININTER file.
MININTER_ID_COLUMNS = ("id_denuncia", "nro_denuncia", "id", "id_hecho")
#: Columns of Peru's SIDPOL district-month open dataset.
SIDPOL_COLUMNS = ("ANIO", "MES", "DPTO_HECHO_NEW", "PROV_HECHO", "DIST_HECHO", "UBIGEO_HECHO",
                  "P_MODALIDADES", "cantidad")

#: Schema of the store's ``rejects`` table.
REJECTS_SCHEMA = pa.schema([("source_file", pa.string()), ("row_number", pa.int64()),
                            ("reason", pa.string()), ("detail", pa.string()), ("raw", pa.string())])
#: Columns of an accepted point frame (the store's ``incidents`` without ``cell``/``ubigeo``,
#: plus ``reported_ubigeo``: the ubigeo the file itself gives, MININTER only).
POINT_COLUMNS = ("incident_id", "time", "day", "category", "subcategory", "lat", "lon", "source", "reported_ubigeo")
#: Columns of an accepted SIDPOL frame (the store's ``district_month``).
DISTRICT_MONTH_COLUMNS = ("ubigeo", "year", "month", "category", "n")

TIMEZONE = "America/Lima"
# Tokens that mean "no value" in exported spreadsheets.
_NULL_TOKENS = ("", "na", "n/a", "nan", "null", "none", "-", "nd", "s/d")
# Tried in order on the strings the previous formats could not read.
_TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%d",
    "%d/%m/%Y %H:%M:%S%.f", "%d/%m/%Y %H:%M", "%d/%m/%Y",
    "%Y/%m/%d %H:%M:%S%.f", "%Y/%m/%d %H:%M", "%Y/%m/%d",
    "%d-%m-%Y %H:%M:%S%.f", "%d-%m-%Y %H:%M", "%d-%m-%Y",
    "%Y%m%d",
)
_TIME_FORMATS_TZ = ("%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M%#z")
_TIME_HELP = "known: ISO 8601, dd/mm/yyyy HH:MM[:SS], epoch seconds/ms; or pass a time format"
# Accepted times: anything else is almost surely a unit or typing error.
_TIME_MIN = datetime(1900, 1, 1)
_TIME_MAX = datetime(2100, 1, 1)
_TIME_MIN_MS, _TIME_MAX_MS = (int((t - datetime(1970, 1, 1)).total_seconds() * 1000) for t in (_TIME_MIN, _TIME_MAX))
_MONTHS_ES = {"ENERO": 1, "FEBRERO": 2, "MARZO": 3, "ABRIL": 4, "MAYO": 5, "JUNIO": 6, "JULIO": 7, "AGOSTO": 8,
              "SETIEMBRE": 9, "SEPTIEMBRE": 9, "OCTUBRE": 10, "NOVIEMBRE": 11, "DICIEMBRE": 12}
# Peru's departments are 01-25; anything else cannot be an INEI ubigeo.
_DEPARTMENTS = {f"{i:02d}" for i in range(1, 26)}


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Parsed:
    """What a reader made of a file.

    ``accepted``: canonical rows (:data:`POINT_COLUMNS` for point files,
    :data:`DISTRICT_MONTH_COLUMNS` for SIDPOL); ``rejects``: the store's ``rejects``
    schema; ``n_input``: data rows in the file. ``len(accepted) + len(rejects) == n_input``.
    """

    accepted: pd.DataFrame
    rejects: pd.DataFrame
    n_input: int


@dataclass
class ParsedFrames:
    """:class:`Parsed` as Polars frames (what :mod:`geo.ingest` works on; no pandas copy)."""

    accepted: pl.DataFrame
    rejects: pl.DataFrame
    n_input: int
    kind: str
    notes: list[str] = field(default_factory=list)
    #: Where each accepted row came from: its position in the file's table (for
    #: :meth:`reject`); ``None`` when row ``i`` is the table's row ``i`` (all accepted).
    accepted_pos: np.ndarray | None = None
    raw: _Raw | None = None

    def __post_init__(self) -> None:
        if self.accepted.height + self.rejects.height != self.n_input:
            raise AssertionError(f"parser lost rows: {self.accepted.height} accepted + "
                                 f"{self.rejects.height} rejected != {self.n_input} input")

    def reject(self, mask: np.ndarray, reason: str, detail: pl.Series | str, *, source_file: str,
               with_raw: bool = True) -> tuple[pl.DataFrame, np.ndarray]:
        """Move accepted rows where ``mask`` holds to rejects (a later stage's verdict).

        Returns the new reject rows (``raw`` left empty unless ``with_raw``, which costs
        a JSON encoding per row) and the mask of rows kept; ``self`` is updated so that
        the counts still add up.
        """
        idx = np.flatnonzero(mask)
        if isinstance(detail, str):
            detail = pl.repeat(detail, len(idx), eager=True, dtype=pl.String)
        elif len(detail) == len(mask):
            detail = detail.gather(idx)
        pos = self.accepted_pos[idx] if self.accepted_pos is not None else idx
        rows = self.raw.row_numbers(pos) if self.raw is not None else pos + 1
        raw = self.raw.rows_json(pos) if (with_raw and self.raw is not None) else \
            _nulls("raw", len(idx))
        new = pl.DataFrame({"source_file": pl.repeat(source_file, len(idx), eager=True, dtype=pl.String),
                            "row_number": pl.Series(rows, dtype=pl.Int64), "reason": pl.repeat(reason, len(idx), eager=True),
                            "detail": detail.alias("detail"), "raw": raw.alias("raw")})
        keep = ~np.asarray(mask, dtype=bool)
        self.accepted = self.accepted.filter(pl.Series(keep))
        self.accepted_pos = np.flatnonzero(keep) if self.accepted_pos is None else self.accepted_pos[keep]
        self.rejects = pl.concat([self.rejects, new])
        return new, keep

    def to_parsed(self) -> Parsed:
        """The pandas form (dates as :class:`datetime.date`, as :meth:`geo.store.Store.read` gives)."""
        plain = self.accepted.with_columns(pl.col(pl.Enum, pl.Categorical).cast(pl.String))
        return Parsed(plain.to_arrow().to_pandas(), self.rejects.to_arrow().cast(REJECTS_SCHEMA).to_pandas(), self.n_input)


@dataclass(frozen=True)
class _RowCount:
    """What is left of a released table: how many rows it had."""

    num_rows: int


@dataclass
class _Raw:
    """A file's rows before validation: the source columns and each row's data row number.

    ``table`` may hold only the columns validation needs (Parquet is read pruned);
    :meth:`rows_json` fetches whole original rows for the few that are rejected.
    """

    table: pa.Table | _RowCount  # only its row count once released (see :meth:`release`)
    #: int64, 1-based data row of each table row; ``None`` when it is the position + 1
    #: (no malformed rows were skipped), so that no per-row array is kept for nothing.
    row_number: np.ndarray | None
    malformed: pl.DataFrame  # rejects for rows that could not be split into columns
    fmt: str
    notes: list[str] = field(default_factory=list)
    path: Path | None = None
    pruned: bool = False
    #: The coordinates already went to the caller's ``on_coordinates`` (read first).
    coordinates_sent: bool = False

    @property
    def n_input(self) -> int:
        return self.table.num_rows + self.malformed.height

    def release(self) -> None:
        """Let go of the values read once they are validated, when whole rows can be read
        again from the file (a pruned Parquet read): ~570 MB at 10M MININTER rows that
        the rest of an ingest would otherwise carry."""
        if self.pruned and self.path is not None:
            self.table = _RowCount(self.table.num_rows)

    def row_numbers(self, idx: np.ndarray) -> np.ndarray:
        """Data row numbers (1-based) of table positions ``idx``."""
        idx = np.asarray(idx, dtype=np.int64)
        return idx + 1 if self.row_number is None else self.row_number[idx]

    def column(self, name: str | None) -> pl.Series | None:
        if name is None:
            return None
        s = pl.from_arrow(self.table.column(name))
        return _plain(s if isinstance(s, pl.Series) else s.to_series())

    def text(self, name: str, fn, alias: str) -> pl.Series:
        """A low-cardinality text column mapped by ``fn`` (see :func:`_coded_text`)."""
        return _coded_text(self.table.column(name), fn, alias)

    def rows(self, name: str, idx: np.ndarray) -> pl.Series:
        """Column ``name`` at positions ``idx`` as read (for explaining rejects)."""
        s = pl.from_arrow(self.table.column(name).take(pa.array(idx, pa.int64())))
        s = s if isinstance(s, pl.Series) else s.to_series()
        if s.dtype == pl.Categorical:
            s = s.cast(pl.String)
        return _plain(s)

    def rows_json(self, idx: np.ndarray) -> pl.Series:
        """The original rows at table positions ``idx`` as JSON objects (column -> value)."""
        if not len(idx):
            return pl.Series("raw", [], dtype=pl.String)
        if self.pruned and self.path is not None:
            sub = _parquet_rows(self.path, idx)
        else:
            sub = self.table.take(pa.array(idx))
        return _json_rows(sub.drop_columns([c for c in sub.column_names if c.startswith("__")]))


# --------------------------------------------------------------------------- ubigeo


def normalise_ubigeo(values: Iterable) -> np.ndarray:
    """6-character ubigeo strings from ints, floats or strings; ``None`` where invalid.

    Police data writes ubigeos as integers, so the leading zero is restored; spaces and a
    ``.0`` suffix are dropped. A ubigeo has 5 or 6 digits once cleaned and starts with a
    department code 01-25.

    >>> normalise_ubigeo([10202, "150132", " 70106.0", 150132.0, "15013", "abc", None, 990101]).tolist()
    ['010202', '150132', '070106', '150132', '015013', None, None, None]
    """
    s = _series("u", values)
    return _normalise_ubigeo_pl(s).to_numpy().astype(object)


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


def _normalise_ubigeo_pl(s: pl.Series) -> pl.Series:
    """Vectorised :func:`normalise_ubigeo` on a Series of any dtype (nulls stay null)."""
    return _map_distinct(s, _normalise_ubigeo_distinct)


def _normalise_ubigeo_distinct(s: pl.Series) -> pl.Series:
    if s.dtype.is_float():
        whole = s.is_finite() & (s == s.floor()) & (s.abs() < 1e9)
        s = pl.select(pl.when(whole).then(s).otherwise(None)).to_series().cast(pl.Int64, strict=False).alias(s.name)
    text = s.cast(pl.String, strict=False).str.strip_chars()
    digits = text.str.extract(r"^(\d{5,6})(?:\.0*)?$", 1).str.zfill(6)
    ok = digits.str.slice(0, 2).is_in(sorted(_DEPARTMENTS))
    return pl.select(pl.when(ok).then(digits).otherwise(None)).to_series().alias(s.name)


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


# --------------------------------------------------------------------------- reading files


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


#: Roles whose columns hold few distinct values: read as dictionaries, kept as Enums.
_CODED_ROLES = ("category", "subcategory", "reported_ubigeo", "ubigeo")
#: Integer columns below this are mapped through a lookup table (see :func:`_map_distinct`).
_DIRECT_LOOKUP_MAX = 1 << 22
#: ``on_coordinates(lat, lon)``: see :func:`parse_points`.
OnCoordinates = Callable[[np.ndarray, np.ndarray], None]


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


def _no_malformed() -> pl.DataFrame:
    return pl.DataFrame(schema={"source_file": pl.String, "row_number": pl.Int64, "reason": pl.String,
                                "detail": pl.String, "raw": pl.String})


def _unique_names(names: list[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for i, name in enumerate(names):
        base = name.strip() or f"column_{i + 1}"
        cand, k = base, 2
        while cand in seen:
            cand, k = f"{base}_{k}", k + 1
        seen.add(cand)
        out.append(cand)
    return out


def _to_utf8(data: bytes) -> tuple[bytes, str]:
    """The file as UTF-8 bytes and the encoding it was in.

    A file that is not valid UTF-8 is read as UTF-8 anyway (bad bytes replaced) when it
    holds more valid multi-byte characters than bad bytes (a truncated or lightly
    damaged UTF-8 file), else as Windows-1252/Latin-1 (spreadsheet exports in Peru).
    """
    if data.startswith(codecs.BOM_UTF8):
        data, bom = data[len(codecs.BOM_UTF8):], "utf-8-sig"
    else:
        bom = ""
    try:
        data.decode("utf-8")
        return data, bom or "utf-8"
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    n_bad = text.count("\ufffd") - data.count("\xef\xbf\xbd".encode("latin-1"))
    n_multibyte = len(data) - len(text) + n_bad
    if bom or n_multibyte > n_bad:
        return text.encode("utf-8"), (bom or "utf-8") + " (damaged bytes replaced)"
    try:
        return data.decode("cp1252").encode("utf-8"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1").encode("utf-8"), "latin-1"


def _sniff_delimiter(head: str) -> str:
    lines = [ln for ln in head.splitlines()[:50] if ln.strip()]
    if len(lines) > 1 and not head.endswith("\n"):
        lines = lines[:-1]  # a cut line would skew the counts
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|").delimiter
    except csv.Error:
        # Fall back to the candidate that appears most often in the header line.
        first = lines[0] if lines else ""
        counts = {d: first.count(d) for d in ",;\t|"}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def _csv_layout(path: Path) -> tuple[bytes, str, str, list[str]]:
    """A CSV file as UTF-8 bytes, its encoding, delimiter and (unique) column names."""
    data, encoding = _to_utf8(path.read_bytes())
    head = data[:65536].decode("utf-8", errors="replace")
    if not head.strip():
        raise HexwatchError(f"{path.name} holds no rows; export the data again")
    delimiter = _sniff_delimiter(head)
    header = next(csv.reader([head.splitlines()[0]], delimiter=delimiter), [])
    names = _unique_names(header)
    if not names:
        raise HexwatchError(f"{path.name} has no header line; the first line must name the columns")
    return data, encoding, delimiter, names


def _read_csv(path: Path, layout: tuple[bytes, str, str, list[str]], coded: list[str] = ()) -> _Raw:
    data, encoding, delimiter, names = layout
    types = {n: (pa.dictionary(pa.int32(), pa.string()) if n in coded else pa.string()) for n in names}

    def read(use_threads: bool) -> tuple[pa.Table, list[tuple[int | None, str, int, int]]]:
        bad: list[tuple[int | None, str, int, int]] = []

        def handler(row) -> str:
            bad.append((row.number, row.text, row.expected_columns, row.actual_columns))
            return "skip"

        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, use_threads=use_threads),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, invalid_row_handler=handler),
            convert_options=pacsv.ConvertOptions(column_types=types,
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
        return table, bad

    try:
        table, bad = read(True)
        if bad and any(b[0] is None for b in bad):
            table, bad = read(False)  # row numbers of bad rows are only known single-threaded
    except pa.ArrowInvalid as exc:
        raise HexwatchError(f"cannot read {path.name} as CSV ({str(exc).splitlines()[0]}); check the delimiter and quoting") from None
    notes = [] if encoding in ("utf-8", "utf-8-sig") else [f"{path.name}: read as {encoding}"]
    n_records = table.num_rows + len(bad)
    tail = data[-4096:]
    if n_records and not data.endswith((b"\n", b"\r")) and tail.rsplit(b"\n", 1)[-1].count(b'"') % 2 \
            and all(b[0] != n_records + 1 for b in bad):
        # The file stops inside a quoted value: its last row is cut, whatever Arrow made of it.
        bad.append((n_records + 1, tail.rsplit(b"\n", 1)[-1].decode("utf-8", errors="replace"), len(names), -1))
        table = table.slice(0, table.num_rows - 1)
    # Arrow counts the header as row 1 of the file; data rows are numbered from 1.
    bad_rows = np.array([b[0] - 1 for b in bad], dtype=np.int64)
    n_total = table.num_rows + len(bad)
    row_number = np.setdiff1d(np.arange(1, n_total + 1, dtype=np.int64), bad_rows, assume_unique=True) \
        if len(bad_rows) else None
    malformed = _no_malformed() if not bad else pl.DataFrame({
        "source_file": [path.name] * len(bad),
        "row_number": bad_rows,
        "reason": ["malformed_row"] * len(bad),
        "detail": [f"{actual} fields where the header has {expected}" if actual >= 0 else
                   "the file ends inside a quoted value (cut short?)" for _, _, expected, actual in bad],
        "raw": pl.Series([{"_line": text} for _, text, _, _ in bad]).struct.json_encode(),
    }, schema_overrides={"row_number": pl.Int64})
    return _Raw(table, row_number, malformed, "csv", notes, path=path)


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
                path=path, pruned=len(columns) < len(names), coordinates_sent=bool(early))


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


def _read_geojson(path: Path) -> _Raw:
    import pyogrio
    import shapely

    data, encoding = _to_utf8(path.read_bytes())
    notes = [] if encoding in ("utf-8", "utf-8-sig") else [f"{path.name}: read as {encoding}"]
    try:
        # GDAL copies undecodable bytes into Arrow text as they are: give it UTF-8 only.
        _, table = pyogrio.read_arrow(io.BytesIO(data) if encoding != "utf-8" else path)
    except Exception as exc:  # pyogrio's DataSourceError and GDAL's errors share no base class
        raise HexwatchError(f"cannot read {path.name} as GeoJSON ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
                            f"the file may be truncated or not a FeatureCollection") from None
    geom_col = next((c for c in ("wkb_geometry", "geometry") if c in table.column_names), None)
    if geom_col is None:
        raise HexwatchError(f"{path.name} has no geometries; give Point features")
    geoms = shapely.from_wkb(table.column(geom_col).to_numpy(zero_copy_only=False), on_invalid="ignore")
    is_point = shapely.get_type_id(geoms) == 0
    x = np.where(is_point, shapely.get_x(geoms), np.nan)
    y = np.where(is_point, shapely.get_y(geoms), np.nan)
    gtype = shapely.get_type_id(geoms)
    props = table.drop_columns([geom_col])
    # A missing geometry is a missing coordinate; another geometry type is a bad one.
    lon = pa.array(np.where(gtype == -1, np.nan, x), mask=gtype == -1)
    lat = pa.array(np.where(gtype == -1, np.nan, y), mask=gtype == -1)
    type_names = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
                           "MultiPolygon", "GeometryCollection", "missing"], dtype=object)
    # Built in one go: a file of bare geometries has no property columns, and a table of
    # no columns has no rows to append coordinates to.
    props = pa.table({**{name: _valid_text(col) for name, col in zip(_unique_names(props.column_names), props.columns)},
                      "__lon": lon, "__lat": lat, "__geometry_type": pa.array(type_names[gtype], type=pa.string())})
    return _Raw(props, None, _no_malformed(), "geojson", notes, path=path)


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


def _resolve_columns(available: list[str], wanted: Mapping[str, str | None], path: Path,
                     optional: Iterable[str] = ()) -> dict[str, str | None]:
    """Map each role to a column of the file: exact name first, then ignoring case/spaces."""
    folded = {c.strip().lower(): c for c in reversed(available)}
    resolved: dict[str, str | None] = {}
    for role, name in wanted.items():
        if name is None:
            resolved[role] = None
        elif name in available:
            resolved[role] = name
        elif name.strip().lower() in folded:
            resolved[role] = folded[name.strip().lower()]
        elif role in optional:
            resolved[role] = None
        else:
            shown = [c for c in available if not c.startswith("__")]
            listing = ", ".join(shown[:40]) + (f", ... ({len(shown)} in all)" if len(shown) > 40 else "")
            raise HexwatchError(f"{path.name} has no column {name!r} (for {role}); columns found: {listing or 'none'}")
    return resolved


# --------------------------------------------------------------------------- validation helpers


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


def parse_times(values: pl.Series | Iterable, time_format: str | None = None) -> pl.Series:
    """Local naive times (``Datetime[ms]``) from text, numbers or timestamps; null where unreadable.

    Detects the formats listed in this module's docstring unless ``time_format`` (strftime
    codes, or ``epoch_s``/``epoch_ms``) is given. Times outside 1900-2099 are null.

    >>> parse_times(["2023-09-21 14:35:00", "21/09/2023 14:35", "1695325200", "x"]).dt.to_string("%Y-%m-%d %H:%M").to_list()
    ['2023-09-21 14:35', '2023-09-21 14:35', '2023-09-21 14:40', None]
    """
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        if time_format is None and values.type in (pa.string(), pa.large_string()):
            # Arrow's strict ISO 8601 cast is several times faster than any strptime; a
            # column it cannot read whole goes through the format detection below.
            try:
                values = values.cast(pa.timestamp("ms"))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
        s = pl.from_arrow(values)
        s = _plain(s if isinstance(s, pl.Series) else s.to_series())
    else:
        s = _series("time", values)
    if isinstance(s.dtype, pl.Datetime):
        out = s
        if s.dtype.time_zone is not None:
            out = s.dt.convert_time_zone(TIMEZONE).dt.replace_time_zone(None)
        out = out.dt.cast_time_unit("ms")
    elif s.dtype == pl.Date:
        out = s.cast(pl.Datetime("ms"))
    elif s.dtype.is_numeric():
        out = _epoch(s.cast(pl.Float64), time_format)
    else:
        out = _parse_time_text(s.cast(pl.String, strict=False), time_format)
    ms = out.cast(pl.Datetime("ms")).to_physical()  # compared as numbers: Python dates stop at year 9999
    if ms.null_count() < len(ms) and ms.min() >= _TIME_MIN_MS and ms.max() < _TIME_MAX_MS:
        return out.alias(s.name)  # all in range: no copy
    in_range = (ms >= _TIME_MIN_MS) & (ms < _TIME_MAX_MS)
    return pl.select(pl.when(in_range).then(out).otherwise(None)).to_series().alias(s.name)


def _epoch(x: pl.Series, time_format: str | None) -> pl.Series:
    """Epoch numbers (UTC) to Lima time; seconds unless ``epoch_ms`` or the value is ≥ 1e11."""
    if time_format not in (None, "epoch", "epoch_s", "epoch_ms"):
        return _nulls(x.name, len(x), pl.Datetime("ms"))
    finite = x.is_finite() & (x.abs() < 1e15)
    ms = x * 1000.0 if time_format == "epoch_s" else (x if time_format == "epoch_ms" else
                                                      pl.select(pl.when(x.abs() >= 1e11).then(x).otherwise(x * 1000.0)).to_series())
    ms = pl.select(pl.when(finite).then(ms.round(0)).otherwise(None)).to_series().cast(pl.Int64, strict=False)
    return (ms.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC").dt.convert_time_zone(TIMEZONE)
            .dt.replace_time_zone(None).alias(x.name))


def _parse_time_text(s: pl.Series, time_format: str | None) -> pl.Series:
    if time_format in ("epoch", "epoch_s", "epoch_ms"):
        return _epoch(_to_float(s), time_format)
    if time_format is not None:
        try:
            parsed = s.str.strip_chars().str.to_datetime(time_format, time_unit="ms", strict=False, exact=True)
        except (pl.exceptions.ComputeError, pl.exceptions.InvalidOperationError) as exc:
            raise HexwatchError(f"time format {time_format!r} is not valid ({str(exc).splitlines()[0]}); "
                                f"use strftime codes, e.g. %d/%m/%Y %H:%M") from None
        if isinstance(parsed.dtype, pl.Datetime) and parsed.dtype.time_zone is not None:
            parsed = parsed.dt.convert_time_zone(TIMEZONE).dt.replace_time_zone(None)
        given = s.drop_nulls()
        if len(given) and parsed.null_count() == len(parsed):
            raise HexwatchError(f"time format {time_format!r} reads none of the times (e.g. {given[0]!r}); "
                                f"fix it or leave it out to detect the format")
        return parsed
    # The common case (one format for the whole file) costs one pass; later formats only
    # see the strings the earlier ones could not read.
    out = s.str.to_datetime(_TIME_FORMATS[0], time_unit="ms", strict=False, exact=True)
    todo = np.flatnonzero((out.is_null() & s.is_not_null()).to_numpy())
    if not len(todo):
        return out
    values = out.to_numpy().copy()
    rest = s.gather(todo).str.strip_chars().str.replace(r"^(\d{4}-\d{1,2}-\d{1,2})T", "$1 ").str.replace(r"Z$", "+00:00")
    got = _nulls(rest.name, len(rest), pl.Datetime("ms"))
    for fmt in _TIME_FORMATS + _TIME_FORMATS_TZ:
        missing = got.is_null()
        if not missing.any():
            break
        attempt = rest.str.to_datetime(fmt, time_unit="ms", strict=False, exact=True)
        if attempt.dtype.time_zone is not None:
            attempt = attempt.dt.convert_time_zone(TIMEZONE).dt.replace_time_zone(None)
        got = got.fill_null(attempt)
    # Bare numbers: ten digits are epoch seconds, thirteen epoch milliseconds.
    digits = rest.str.extract(r"^(\d{10}|\d{13})(?:\.\d+)?$", 0)
    got = got.fill_null(_epoch(digits.cast(pl.Float64, strict=False), None))
    values[todo] = got.to_numpy()
    return pl.Series(s.name, values, dtype=pl.Datetime("ms"))


def _reasons(rules: list[tuple[pl.Series, str, pl.Series | str]], n: int) -> tuple[pl.Series, pl.Series]:
    """First failing rule of each row: ``(reason, detail)``, null where every rule passes."""
    reason, detail = _nulls("reason", n), _nulls("detail", n)
    for fails, code, why in rules:
        take = fails.fill_null(False) & reason.is_null()
        if not take.any():
            continue
        why_s = why if isinstance(why, pl.Series) else pl.repeat(why, n, eager=True, dtype=pl.String)
        reason = pl.select(pl.when(take).then(pl.lit(code)).otherwise(reason)).to_series()
        detail = pl.select(pl.when(take).then(why_s).otherwise(detail)).to_series()
    return reason.alias("reason"), detail.alias("detail")


def _quoted(s: pl.Series) -> pl.Series:
    text = s.cast(pl.String, strict=False).fill_null("")
    return "'" + text.str.slice(0, 60) + "'"


def _json_rows(sub: pa.Table) -> pl.Series:
    """Rows of an Arrow table as JSON objects (values as read; exotic types as text)."""
    frame = pl.from_arrow(sub)
    if isinstance(frame, pl.Series):
        frame = frame.to_frame()
    safe = [pl.col(c) if (frame[c].dtype.is_numeric() or frame[c].dtype in (pl.String, pl.Boolean))
            else pl.col(c).cast(pl.String, strict=False) for c in frame.columns]
    try:
        return frame.select(pl.struct(safe).struct.json_encode().alias("raw")).to_series()
    except pl.exceptions.PolarsError:
        return pl.Series("raw", [orjson.dumps(r, default=str).decode() for r in sub.to_pylist()], dtype=pl.String)


def _rejects_frame(raw: _Raw, idx: np.ndarray, reason: pl.Series, detail: pl.Series, source_file: str) -> pl.DataFrame:
    """Reject rows for table positions ``idx`` (with their reasons), plus the malformed rows."""
    bad = pl.DataFrame({
        "source_file": pl.repeat(source_file, len(idx), eager=True, dtype=pl.String),
        "row_number": pl.Series(raw.row_numbers(idx), dtype=pl.Int64),
        "reason": reason.alias("reason"),
        "detail": detail.alias("detail"),
        "raw": raw.rows_json(idx),
    })
    malformed = raw.malformed.with_columns(pl.lit(source_file).alias("source_file"))
    return pl.concat([malformed, bad]).sort("row_number") if malformed.height else bad.sort("row_number")


# --------------------------------------------------------------------------- ids


_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a fixed, well-spread 64-bit mix (stable across versions)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _MIX1
        x = (x ^ (x >> np.uint64(27))) * _MIX2
        return x ^ (x >> np.uint64(31))


def _text_hash(s: pl.Series) -> np.ndarray:
    """A stable 64-bit hash of each string (blake2b of each distinct value); null -> 0."""
    uniq = s.drop_nulls().unique()
    codes = [int.from_bytes(hashlib.blake2b(v.encode(), digest_size=8).digest(), "little") for v in uniq.to_list()]
    mapped = s.replace_strict(uniq, pl.Series(codes, dtype=pl.UInt64), default=0, return_dtype=pl.UInt64) if len(uniq) else \
        pl.Series([0] * len(s), dtype=pl.UInt64)
    return mapped.to_numpy()


def content_ids(time: pl.Series, lat: pl.Series, lon: pl.Series, category: pl.Series,
                subcategory: pl.Series | None = None) -> pl.Series:
    """Deterministic incident ids from parsed content: ``"h<uint64>"``, ``-k`` on the k-th repeat.

    Stable across runs, versions and file formats (a fixed mix of the time in ms,
    coordinates in 1e-7 degrees and blake2b hashes of the texts).

    >>> import polars as pl
    >>> t = pl.Series([1_695_300_900_000, 1_695_300_900_000]).cast(pl.Datetime("ms"))
    >>> ids = content_ids(t, pl.Series([-12.05, -12.05]), pl.Series([-77.04, -77.04]), pl.Series(["robo", "robo"]))
    >>> ids[1] == ids[0] + "-1"
    True
    """
    parts = [
        time.cast(pl.Datetime("ms")).dt.epoch("ms").fill_null(0).to_numpy().astype(np.int64).view(np.uint64),
        (lat.fill_nan(None).fill_null(0) * 1e7).round(0).cast(pl.Int64).to_numpy().view(np.uint64),
        (lon.fill_nan(None).fill_null(0) * 1e7).round(0).cast(pl.Int64).to_numpy().view(np.uint64),
        _text_hash(category.cast(pl.String)),
        _text_hash(subcategory.cast(pl.String)) if subcategory is not None else np.zeros(len(time), np.uint64),
    ]
    h = np.full(len(time), 0x9E3779B97F4A7C15, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i, p in enumerate(parts):
            h = _mix64(h ^ (p + np.uint64(i + 1) * np.uint64(0x9E3779B97F4A7C15)))
    hs = pl.Series("incident_id", h, dtype=pl.UInt64)
    ids = "h" + hs.cast(pl.String)
    if hs.n_unique() == len(hs):
        return ids
    k = pl.DataFrame({"h": hs}).select(pl.int_range(pl.len()).over("h").alias("k")).to_series()
    return pl.select(pl.when(k > 0).then(ids + "-" + k.cast(pl.String)).otherwise(ids)).to_series().alias("incident_id")


def _repeated_ids(ids: pl.Series, candidate: np.ndarray, raw: _Raw) -> tuple[np.ndarray, pl.Series]:
    """Positions of ``candidate`` rows whose id repeats an earlier candidate's, and why.

    Fast paths, so that the repeated ids are sought only when there are some: ids in
    increasing order (database exports usually are) are distinct when no two neighbours
    are equal, one pass; else a per-run 64-bit hash with ``n_unique`` proves them
    distinct without sorting the strings.
    """
    every = bool(candidate.all())
    cand_idx = None if every else np.flatnonzero(candidate)
    sub = ids if every else ids.gather(cand_idx)  # no copy of every id when all are in
    if (len(sub) and sub.is_sorted() and sub.rle_id().max() == len(sub) - 1) or sub.hash(seed=0).n_unique() == len(sub):
        return np.zeros(0, np.int64), pl.Series("detail", [], dtype=pl.String)
    if cand_idx is None:
        cand_idx = np.arange(len(ids))
    frame = pl.DataFrame({"id": sub, "pos": cand_idx, "row": raw.row_numbers(cand_idx)})
    dup_ids = frame.group_by("id").len().filter(pl.col("len") > 1)["id"]
    dups = (frame.filter(pl.col("id").is_in(dup_ids.implode())).sort("pos")
            .with_columns(pl.col("row").first().over("id").alias("first_row"), pl.int_range(pl.len()).over("id").alias("k"))
            .filter(pl.col("k") > 0))
    detail = "id '" + dups["id"].str.slice(0, 60) + "' already on row " + dups["first_row"].cast(pl.String)
    return dups["pos"].to_numpy().astype(np.int64), detail.alias("detail")


# --------------------------------------------------------------------------- points


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


def _points(raw: _Raw, cols: Mapping[str, str | None], *, time_format: str | None, source_file: str,
            source: str, kind: str, on_coordinates: OnCoordinates | None = None) -> ParsedFrames:
    n = raw.table.num_rows
    lat, lon = _to_float(raw.column(cols["lat"])), _to_float(raw.column(cols["lon"]))
    if on_coordinates is not None and not raw.coordinates_sent:
        on_coordinates(lat.fill_null(np.nan).to_numpy(), lon.fill_null(np.nan).to_numpy())
    times = parse_times(raw.table.column(cols["time"]), time_format).alias("time")
    category = raw.text(cols["category"], _cleaner(lower=True), "category")
    gtype = raw.column("__geometry_type") if raw.fmt == "geojson" else None
    good = pl.DataFrame({"lat": lat, "lon": lon, "t": times, "c": category}).select(
        (pl.col("lat").is_finite() & pl.col("lon").is_finite() & (pl.col("lat").abs() <= 90) & (pl.col("lon").abs() <= 180)
         & ((pl.col("lat") != 0) | (pl.col("lon") != 0)) & pl.col("t").is_not_null() & pl.col("c").is_not_null())
        .fill_null(False)).to_series()
    if gtype is not None:
        good = good & (gtype == "Point")
    ok = good.to_numpy()
    # Only the failing rows need explaining; text is built for them alone.
    bad_idx = np.flatnonzero(~ok)
    reason, detail = _explain_points(raw.rows(cols["lat"], bad_idx), raw.rows(cols["lon"], bad_idx), lat.gather(bad_idx),
                                     lon.gather(bad_idx), raw.rows(cols["time"], bad_idx), times.gather(bad_idx),
                                     category.gather(bad_idx), _gather(gtype, bad_idx))
    subcategory = raw.text(cols["subcategory"], _cleaner(lower=False), "subcategory") if cols.get("subcategory") else \
        _nulls("subcategory", n)
    given = raw.column(cols.get("id"))
    if given is None:
        ids, need = _nulls("incident_id", n), ok
    else:
        ids = given.cast(pl.String, strict=False)
        if _may_have_edge_space(raw.table.column(cols["id"])):
            ids = ids.str.strip_chars()
        ids = ids.alias("incident_id")
        need = ok & (ids.is_null() | (ids == "")).to_numpy()
    if need.any():
        at = np.flatnonzero(need)
        ids = ids.scatter(at, content_ids(times.gather(at), lat.gather(at), lon.gather(at), category.gather(at),
                                          subcategory.gather(at)))
    repeat_idx, repeat_detail = _repeated_ids(ids, ok, raw)
    ok[repeat_idx] = False
    idx = np.concatenate([bad_idx, repeat_idx])
    reason = pl.concat([reason, pl.repeat("duplicate_id", len(repeat_idx), eager=True, dtype=pl.String)])
    detail = pl.concat([detail, repeat_detail])
    reported = raw.text(cols["reported_ubigeo"], _normalise_ubigeo_distinct, "reported_ubigeo") \
        if cols.get("reported_ubigeo") else _nulls("reported_ubigeo", n)
    accepted = pl.DataFrame([
        ids, times, times.dt.date().alias("day"), category, subcategory, lat.alias("lat"), lon.alias("lon"),
        pl.repeat(source, n, eager=True, dtype=pl.Enum([source])).alias("source"), reported,
    ])
    if not ok.all():  # filtering copies every column, ids included
        accepted = accepted.filter(pl.Series(ok))
    parsed = ParsedFrames(accepted, _rejects_frame(raw, idx, reason, detail, source_file), raw.n_input, kind,
                          list(raw.notes), accepted_pos=None if ok.all() else np.flatnonzero(ok), raw=raw)
    raw.release()
    return parsed


def _explain_points(lat_raw, lon_raw, lat, lon, time_raw, times, category, gtype) -> tuple[pl.Series, pl.Series]:
    """Reason and detail of each failing row (inputs are the failing rows only)."""
    q_lat, q_lon = _quoted(lat_raw), _quoted(lon_raw)
    rules: list[tuple[pl.Series, str, pl.Series | str]] = []
    if gtype is not None:
        rules.append((gtype == "missing", "missing_coordinate", "feature has no geometry"))
        rules.append((gtype != "Point", "bad_coordinate", "geometry is a " + gtype + ", not a Point"))
    rules += [
        (_blank(lat_raw) | _blank(lon_raw), "missing_coordinate", "latitude or longitude is empty"),
        (lat.is_null() | lon.is_null() | ~lat.is_finite() | ~lon.is_finite(), "bad_coordinate",
         "lat " + q_lat + " / lon " + q_lon + " is not a finite number"),
        ((lat.abs() > 90) | (lon.abs() > 180), "bad_coordinate",
         "lat " + q_lat + " / lon " + q_lon + " out of range (|lat| <= 90, |lon| <= 180)"),
        ((lat == 0) & (lon == 0), "bad_coordinate", "0,0 is a placeholder, not a place"),
        (_blank(time_raw), "unparseable_time", "time is empty"),
        (times.is_null(), "unparseable_time", "cannot read time " + _quoted(time_raw) + f" ({_TIME_HELP})"),
        (category.is_null(), "missing_category", "category is empty"),
    ]
    return _reasons(rules, len(lat))


def parse_points(path: str | os.PathLike, columns: Mapping[str, str | None], *, time_format: str | None = None,
                 fmt: str = "auto", source: str | None = None,
                 on_coordinates: OnCoordinates | None = None) -> ParsedFrames:
    """:func:`read_points` returning Polars frames (``columns`` maps roles to file columns).

    ``on_coordinates(lat, lon)`` is called once with every data row's coordinates
    (``float64`` in file order, NaN where not a number) as soon as they are read, before
    the other columns are validated: a caller can index them meanwhile and keep the
    accepted rows' results by :attr:`ParsedFrames.accepted_pos`.
    """
    path = Path(path)
    wanted = {role: columns.get(role) for role in POINT_ROLES}

    def resolve(available: list[str]) -> dict[str, str | None]:
        w = dict(wanted)
        if "__lat" in available:  # GeoJSON: coordinates from the Point geometries
            w["lat"], w["lon"] = w["lat"] or "__lat", w["lon"] or "__lon"
        for role in ("lat", "lon", "time", "category"):
            if not w.get(role):
                raise HexwatchError(f"name the {role} column of {path.name} (--{role} COLUMN)")
        return {**_resolve_columns(available, w, path), "reported_ubigeo": None}

    raw, cols = _load(path, fmt, resolve, on_coordinates)
    return _points(raw, cols, time_format=time_format, source_file=path.name, source=source or path.name, kind="points",
                   on_coordinates=on_coordinates)


def read_points(path: str | os.PathLike, *, lat: str | None = None, lon: str | None = None, time: str,
                category: str, id: str | None = None, subcategory: str | None = None,
                time_format: str | None = None, fmt: str = "auto") -> Parsed:
    """Read a generic point file (CSV, Parquet or GeoJSON) whose columns the user names.

    ``lat``/``lon`` name the coordinate columns in degrees (WGS84); a GeoJSON file takes
    them from its Point geometries (lon, lat order) unless named. ``id`` names a unique
    id column (else ids are content hashes, see the module docstring). ``fmt`` is
    ``auto`` (by extension, then content), ``csv``, ``parquet`` or ``geojson``.
    Raises :class:`HexwatchError` naming a missing column and the columns found.
    """
    return parse_points(path, {"lat": lat, "lon": lon, "time": time, "category": category, "id": id,
                               "subcategory": subcategory}, time_format=time_format, fmt=fmt).to_parsed()


# --------------------------------------------------------------------------- MININTER


def parse_mininter(path: str | os.PathLike, *, columns: Mapping[str, str | None] | None = None,
                   time_format: str | None = None, fmt: str = "auto", source: str | None = None,
                   on_coordinates: OnCoordinates | None = None) -> ParsedFrames:
    """:func:`read_mininter` returning Polars frames; ``columns`` overrides default names by role
    (``on_coordinates`` as in :func:`parse_points`)."""
    path = Path(path)
    given = {role: name for role, name in (columns or {}).items() if name}

    def resolve(available: list[str]) -> dict[str, str | None]:
        lower = {c.strip().lower() for c in available}
        wanted: dict[str, str | None] = {**MININTER_COLUMNS,
                                         "id": next((c for c in MININTER_ID_COLUMNS if c in lower), None), **given}
        optional = {"subcategory", "reported_ubigeo"} - set(given)
        return _resolve_columns(available, wanted, path, optional=optional)

    raw, cols = _load(path, fmt, resolve, on_coordinates)
    return _points(raw, cols, time_format=time_format, source_file=path.name, source=source or path.name, kind="mininter",
                   on_coordinates=on_coordinates)


def read_mininter(path: str | os.PathLike, *, time_format: str | None = None) -> Parsed:
    """Read Peru's geo-referenced police reports (the MININTER layer).

    Category is ``tipo_hecho`` (trimmed, lower case, accents kept), subcategory
    ``subtipo_hecho``; ``ubigeo_hecho`` is kept as ``reported_ubigeo`` (what the police
    wrote, compared with the located district in the ingest report, never used to
    assign it). The id is ``id_denuncia``/``nro_denuncia`` when present. Times as
    ``2023-09-21 14:35:00`` or ``21/09/2023 14:35`` (see the module docstring).
    """
    return parse_mininter(path, time_format=time_format).to_parsed()


# --------------------------------------------------------------------------- SIDPOL


def parse_sidpol(path: str | os.PathLike, *, known_ubigeos: Iterable[str] | None = None, fmt: str = "auto",
                 source: str | None = None) -> ParsedFrames:
    """:func:`read_sidpol` returning Polars frames."""
    path = Path(path)
    raw, cols = _load(path, fmt, lambda available: _resolve_columns(available, {
        "year": "ANIO", "month": "MES", "ubigeo": "UBIGEO_HECHO", "category": "P_MODALIDADES", "count": "cantidad"}, path))
    u_raw, y_raw, m_raw, n_raw = (raw.column(cols[k]) for k in ("ubigeo", "year", "month", "count"))
    ubigeo = raw.text(cols["ubigeo"], _normalise_ubigeo_distinct, "ubigeo").cast(pl.String)
    year = _to_float(y_raw)
    month_name = _map_distinct(m_raw, lambda u: u.cast(pl.String, strict=False).str.strip_chars().str.to_uppercase()
                               .replace_strict(_MONTHS_ES, default=None, return_dtype=pl.Float64))
    month = _to_float(m_raw).fill_null(month_name)
    count = _to_float(n_raw)
    category = raw.text(cols["category"], _cleaner(lower=True), "category").cast(pl.String)
    known = None if known_ubigeos is None else pl.Series(sorted({str(u) for u in known_ubigeos}), dtype=pl.String)
    frame = pl.DataFrame({"u": ubigeo, "y": year, "m": month, "c": category, "n": count})
    good = frame.select((
        pl.col("u").is_not_null() & (pl.col("u").is_in(known.implode()) if known is not None else pl.lit(True))
        & (pl.col("y") == pl.col("y").floor()) & (pl.col("y") >= 1900) & (pl.col("y") <= 2099)
        & (pl.col("m") == pl.col("m").floor()) & (pl.col("m") >= 1) & (pl.col("m") <= 12)
        & pl.col("c").is_not_null()
        & pl.col("n").is_finite() & (pl.col("n") >= 0) & (pl.col("n") == pl.col("n").floor()) & (pl.col("n") <= 2**53)
    ).fill_null(False)).to_series().to_numpy()
    idx = np.flatnonzero(~good)
    sub = {k: v.gather(idx) for k, v in {"u_raw": u_raw, "u": ubigeo, "y_raw": y_raw, "y": year, "m_raw": m_raw,
                                         "m": month, "c": category, "n_raw": n_raw, "n": count}.items()}
    rules: list[tuple[pl.Series, str, pl.Series | str]] = [
        (sub["u"].is_null(), "unknown_ubigeo", _quoted(sub["u_raw"]) + " is not a 6-digit ubigeo"),
    ]
    if known is not None:
        rules.append((~sub["u"].is_in(known.implode()), "unknown_ubigeo", sub["u"] + " is not a district of the boundaries"))
    y, m, c = sub["y"], sub["m"], sub["n"]
    rules += [
        (y.is_null() | (y != y.floor()) | (y < 1900) | (y > 2099) | m.is_null() | (m != m.floor()) | (m < 1) | (m > 12),
         "unparseable_time", "year " + _quoted(sub["y_raw"]) + " / month " + _quoted(sub["m_raw"]) + " is not a year-month"),
        (sub["c"].is_null(), "missing_category", "P_MODALIDADES is empty"),
        (c.is_null() | ~c.is_finite() | (c < 0) | (c != c.floor()) | (c > 2**53),
         "bad_count", "cantidad " + _quoted(sub["n_raw"]) + " is not a whole number >= 0"),
    ]
    reason, detail = _reasons(rules, len(idx))
    keep = pl.Series(good)
    accepted = pl.DataFrame({
        "ubigeo": ubigeo, "year": year.cast(pl.Int16, strict=False), "month": month.cast(pl.Int8, strict=False),
        "category": category, "n": count.cast(pl.Int64, strict=False),
    }).filter(keep)
    return ParsedFrames(accepted, _rejects_frame(raw, idx, reason, detail, path.name), raw.n_input, "sidpol", list(raw.notes),
                        accepted_pos=np.flatnonzero(good), raw=raw)


def read_sidpol(path: str | os.PathLike, *, known_ubigeos: Iterable[str] | None = None) -> Parsed:
    """Read Peru's SIDPOL district-month counts into ``district_month`` rows.

    ``UBIGEO_HECHO`` is an integer in the open data (``10202`` is ``"010202"``);
    ``known_ubigeos`` (e.g. the boundary districts) rejects codes of no known district
    as ``unknown_ubigeo``. ``MES`` may be a number or a Spanish month name. Rows are
    returned as read (one per input row); :mod:`geo.ingest` sums repeated keys.
    """
    return parse_sidpol(path, known_ubigeos=known_ubigeos).to_parsed()


# --------------------------------------------------------------------------- kind detection


def detect_kind(path: str | os.PathLike, fmt: str = "auto") -> str:
    """``"sidpol"``, ``"mininter"`` or ``"points"`` from a file's column names."""
    path = Path(path)
    fmt = _detect_format(path, fmt)
    if fmt == "parquet":
        try:
            names = pq.read_schema(path).names
        except (pa.ArrowException, OSError):
            return "points"
    elif fmt == "geojson":
        return "points"
    else:
        with open(path, "rb") as fh:
            head, _ = _to_utf8(fh.read(65536))
        text = head.decode("utf-8", errors="replace")
        first = text.splitlines()[0] if text.strip() else ""
        names = next(csv.reader([first], delimiter=_sniff_delimiter(text)), [])
    lower = {n.strip().lower() for n in names}
    if {"ubigeo_hecho", "cantidad", "anio", "mes"} <= lower:
        return "sidpol"
    if {"lat_hecho", "long_hecho", "fecha_hora_hecho"} <= lower:
        return "mininter"
    return "points"
