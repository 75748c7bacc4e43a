"""CSV files: encoding (UTF-8, UTF-8 with BOM, Windows-1252/Latin-1), sniffed delimiter,
and rows that cannot be split into the header's columns kept as ``malformed_row`` rejects.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from pathlib import Path

import numpy as np
import orjson
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from geo.errors import HexwatchError
from geo.readers.columns import _unique_names
from geo.readers.rejects import _Raw, _no_malformed


def _to_utf8(data: bytes) -> tuple[bytes, str]:
    """The file as UTF-8 bytes and the encoding it was in.

    A file that is not valid UTF-8 and holds no valid multi-byte UTF-8 character is
    Windows-1252/Latin-1 (spreadsheet exports in Peru). One that holds both is a file
    pieced together from exports in both encodings, or damaged UTF-8: it is read line by
    line, each byte sequence that is not UTF-8 as Windows-1252, so that "extorsión" is one
    category whichever export a row came from.
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
    # Valid multi-byte characters take more bytes than characters; a bad byte is replaced
    # by one character.
    has_multibyte = len(data) > len(data.decode("utf-8", errors="replace"))
    if bom or has_multibyte:
        fixed, n_lines = _mixed_to_utf8(data)
        return fixed, f"{bom or 'utf-8'}, with {n_lines:,} line{'s' * (n_lines != 1)} in Windows-1252 (mixed encodings)"
    try:
        return data.decode("cp1252").encode("utf-8"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1").encode("utf-8"), "latin-1"


#: Bytes per block of :func:`_mixed_to_utf8` (blocks that are valid UTF-8 pass whole).
_MIXED_BLOCK = 1 << 20


def _mixed_to_utf8(data: bytes) -> tuple[bytes, int]:
    """UTF-8 bytes of a file mixing UTF-8 and Windows-1252, and how many lines needed the latter."""
    out: list[bytes] = []
    n_fixed, start = 0, 0
    while start < len(data):
        end = data.find(b"\n", min(start + _MIXED_BLOCK, len(data)))
        end = len(data) if end < 0 else end + 1
        block = data[start:end]
        start = end
        try:
            block.decode("utf-8")
            out.append(block)
            continue
        except UnicodeDecodeError:
            pass
        for line in block.splitlines(keepends=True):
            try:
                line.decode("utf-8")
                out.append(line)
            except UnicodeDecodeError:
                out.append(_utf8_or_cp1252(line).encode("utf-8"))
                n_fixed += 1
    return b"".join(out), n_fixed


def _utf8_or_cp1252(line: bytes) -> str:
    """A line's text: UTF-8 where it is, each other byte run read as Windows-1252."""
    parts, pos = [], 0
    while True:
        try:
            parts.append(line[pos:].decode("utf-8"))
            return "".join(parts)
        except UnicodeDecodeError as exc:
            parts.append(line[pos:pos + exc.start].decode("utf-8"))
            parts.append(line[pos + exc.start:pos + exc.end].decode("cp1252", errors="replace"))
            pos += exc.end


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
    """A CSV file as UTF-8 bytes, its encoding, delimiter and (unique) column names.

    Raises :class:`HexwatchError` when two columns have the same name (which one is
    meant cannot be known); empty header cells are named ``column_<i>``.
    """
    data, encoding = _to_utf8(path.read_bytes())
    head = data[:65536].decode("utf-8", errors="replace")
    if not head.strip():
        raise HexwatchError(f"{path.name} holds no rows; export the data again")
    delimiter = _sniff_delimiter(head)
    header = next(csv.reader([head.splitlines()[0]], delimiter=delimiter), [])
    _refuse_repeated_names(header, path)
    names = _unique_names(header)
    if not names:
        raise HexwatchError(f"{path.name} has no header line; the first line must name the columns")
    return data, encoding, delimiter, names


#: A CSV value longer than this is no value of an incident table (Arrow's default block:
#: a longer field used to fail the whole file with Arrow's "straddling object" wording).
MAX_FIELD_BYTES = 1 << 20


def _read_csv(path: Path, layout: tuple[bytes, str, str, list[str]], coded: list[str] = ()) -> _Raw:
    """Every record of a CSV file, split into the header's columns.

    Records that do not split, that an unclosed quote ran over several lines, or that
    hold a field over :data:`MAX_FIELD_BYTES` become ``malformed_row`` rejects; the lines
    an unclosed quote swallowed are counted as rows of their own (rejected with it), so
    the rows read are the file's lines however its quoting fails.
    """
    data, encoding, delimiter, names = layout
    types = {n: (pa.dictionary(pa.int32(), pa.string()) if n in coded else pa.string()) for n in names}

    def read(use_threads: bool, block_size: int | None = None) -> tuple[pa.Table, list[tuple[int | None, str, int, int]]]:
        bad: list[tuple[int | None, str, int, int]] = []

        def handler(row) -> str:
            bad.append((row.number, row.text, row.expected_columns, row.actual_columns))
            return "skip"

        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, use_threads=use_threads,
                                           **({"block_size": block_size} if block_size else {})),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, invalid_row_handler=handler),
            convert_options=pacsv.ConvertOptions(column_types=types,
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
        return table, bad

    try:
        try:
            table, bad = read(True)
        except pa.ArrowInvalid as exc:
            if "straddling" not in str(exc):
                raise
            # A field longer than a block: read the file as one block, reject that row below.
            table, bad = read(False, block_size=max(len(data) + 1, 1 << 20))
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
    details = [f"{actual} fields where the header has {expected}" if actual >= 0 else
               "the file ends inside a quoted value (cut short?)" for _, _, expected, actual in bad]
    raws = [{"_line": text} for _, text, _, _ in bad]
    # Values that run over several lines: legitimate in CSV, but an unclosed quote makes
    # Arrow read the following lines into one value. Only looked for when the file has
    # more lines than records.
    if data.count(b"\n") > n_total + 1:
        table, row_number, bad_rows, details, raws = _split_swallowed(table, row_number, bad_rows, details, raws, bad,
                                                                      names, delimiter)
    huge = _huge_rows(table)
    if len(huge):
        numbers = row_number[huge] if row_number is not None else huge + 1
        for i, number in zip(huge, numbers):
            row = table.slice(int(i), 1).to_pylist()[0]
            column, size = max(((c, len((v or "").encode())) for c, v in row.items()), key=lambda cv: cv[1])
            details.append(f"field {column!r} holds {size:,} bytes; a value over {MAX_FIELD_BYTES:,} bytes is no "
                           f"value of this table")
            raws.append({c: (v if len(v or "") <= 200 else v[:200] + "...") for c, v in row.items()})
        bad_rows = np.concatenate([bad_rows, numbers.astype(np.int64)])
        keep = np.ones(table.num_rows, dtype=bool)
        keep[huge] = False
        table = table.filter(pa.array(keep))
        row_number = (row_number if row_number is not None else np.arange(1, len(keep) + 1, dtype=np.int64))[keep]
    malformed = _no_malformed() if not len(bad_rows) else pl.DataFrame({
        "source_file": [path.name] * len(bad_rows),
        "row_number": bad_rows,
        "reason": ["malformed_row"] * len(bad_rows),
        "detail": details,
        "raw": [orjson.dumps(r).decode() for r in raws],
    }, schema_overrides={"row_number": pl.Int64})
    return _Raw(table, row_number, malformed, "csv", notes)


def _refuse_repeated_names(header: list[str], path: Path) -> None:
    seen: dict[str, int] = {}
    for i, name in enumerate(header, start=1):
        key = name.strip()
        if not key:
            continue
        if key in seen:
            raise HexwatchError(f"{path.name} has two columns named {key!r} (columns {seen[key]} and {i}); "
                                f"rename one so that each column has its own name")
        seen[key] = i


def _huge_rows(table: pa.Table) -> np.ndarray:
    """Positions of rows with a text value over :data:`MAX_FIELD_BYTES` (cheap when there is
    none: a chunk whose text buffer is smaller holds none)."""
    found = np.zeros(table.num_rows, dtype=bool)
    hit = False
    for col in table.columns:
        start = 0
        for chunk in col.chunks:
            values = chunk.dictionary if pa.types.is_dictionary(chunk.type) else chunk
            if values.nbytes > MAX_FIELD_BYTES:
                lengths = pc.binary_length(values).fill_null(0).to_numpy(zero_copy_only=False)
                big = lengths > MAX_FIELD_BYTES
                if big.any():
                    if pa.types.is_dictionary(chunk.type):
                        idx = chunk.indices.fill_null(0).to_numpy(zero_copy_only=False)
                        big = big[idx] & chunk.indices.is_valid().to_numpy(zero_copy_only=False)
                    found[start:start + len(chunk)] |= big
                    hit = True
            start += len(chunk)
    return np.flatnonzero(found) if hit else np.zeros(0, dtype=np.int64)


#: Line breaks as CSV knows them (str.splitlines also splits on \x1c-\x1e, \x85, ...).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _split_swallowed(table, row_number, bad_rows, details, raws, bad, names, delimiter):
    """Records whose value ran over following lines that look like records of their own
    (as many delimiters as the header): the record is rejected, and each line it swallowed
    is counted as a row of its own, rejected with it; later rows are renumbered."""
    need = len(names) - 1
    # (record number, table position or None for a record that did not split, lines, column, the lines)
    swallowers: list[tuple[int, int | None, int, str | None, list[str]]] = []

    def swallowed_lines(text: str) -> list[str]:
        lines = _LINE_BREAK.split(text)[1:]
        while lines and not lines[-1]:
            lines.pop()
        # A line that closes the value's quote (an odd count of quotes) is the value's own
        # end, as in a legitimate multi-line value, not a record it swallowed.
        return lines if lines and lines[0].count(delimiter) >= need > 0 and lines[0].count('"') % 2 == 0 else []

    for name, col in zip(table.column_names, table.columns):
        values = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
        if pa.types.is_dictionary(values.type):
            values = values.dictionary_decode()
        broken = pc.match_substring_regex(values, r"[\r\n]").fill_null(False)
        for i in np.flatnonzero(broken.to_numpy(zero_copy_only=False)):
            lines = swallowed_lines(values[int(i)].as_py())
            if lines and not any(s[1] == i for s in swallowers):
                number = int(row_number[i]) if row_number is not None else int(i) + 1
                swallowers.append((number, int(i), len(lines), name, lines))
    for j, (_, text, _, _) in enumerate(bad):
        lines = swallowed_lines(text)
        if lines:
            swallowers.append((int(bad_rows[j]), None, len(lines), None, lines))
            raws[j] = {"_line": _LINE_BREAK.split(text)[0]}
            details[j] = (f"a quote is not closed, so the {len(lines):,} line{'s' * (len(lines) != 1)} after it "
                          f"were read into this row; fix the quote and ingest again")
    if not swallowers:
        return table, row_number, bad_rows, details, raws
    swallowers.sort(key=lambda s: s[0])
    first = np.array([s[0] for s in swallowers], dtype=np.int64)
    extra = np.concatenate([[0], np.cumsum([s[2] for s in swallowers])])

    def renumber(r: np.ndarray) -> np.ndarray:
        return r + extra[np.searchsorted(first, r, side="left")]

    numbers = row_number if row_number is not None else np.arange(1, table.num_rows + 1, dtype=np.int64)
    numbers, bad_rows = renumber(numbers), renumber(bad_rows)
    keep = np.ones(table.num_rows, dtype=bool)
    add_rows, add_details, add_raws = [], [], []
    for k, (number, pos, n_lines, column, lines) in enumerate(swallowers):
        new = number + int(extra[k])
        if pos is not None:
            keep[pos] = False
            row = table.slice(pos, 1).to_pylist()[0]
            add_rows.append(new)
            add_details.append(f"a quote opened in column {column!r} is not closed, so the {n_lines:,} "
                               f"line{'s' * (n_lines != 1)} after it were read into this row; fix the quote and ingest again")
            add_raws.append({c: (_LINE_BREAK.split(v)[0] if isinstance(v, str) and c == column else v) for c, v in row.items()})
        for m, line in enumerate(lines, start=1):
            add_rows.append(new + m)
            add_details.append(f"read into row {new} by its unclosed quote")
            add_raws.append({"_line": line})
    table = table.filter(pa.array(keep))
    numbers = numbers[keep]
    return (table, numbers, np.concatenate([bad_rows, np.array(add_rows, dtype=np.int64)]),
            details + add_details, raws + add_raws)
