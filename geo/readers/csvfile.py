"""CSV files: encoding (UTF-8, UTF-8 with BOM, Windows-1252/Latin-1), sniffed delimiter,
and rows that cannot be split into the header's columns kept as ``malformed_row`` rejects.
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from geo.errors import HexwatchError
from geo.readers.columns import _unique_names
from geo.readers.rejects import _Raw, _no_malformed


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
    return _Raw(table, row_number, malformed, "csv", notes)
