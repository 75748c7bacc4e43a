"""Fuzzing every ingest format: malformed files never crash a reader.

Each test builds files the way a broken export would look (wrong types, huge values,
NaN/inf coordinates, invalid UTF-8, Latin-1, BOMs, quoted newlines, missing and extra
columns, rows with too many or too few fields, truncated and empty files) and checks
what a user depends on:

- a file that cannot be read at all (empty, truncated, a required column missing)
  raises :class:`geo.errors.HexwatchError` with a one-line message; a readable file
  never does, and nothing else is ever raised;
- every input row is accepted or rejected: ``accepted + rejected == n_input`` and
  ``n_input`` equals the number of rows the test wrote (counted here, not by the
  reader); each reject carries a known reason and its own data-row number;
- the oracle: a row the test built only from valid values is accepted, a row with an
  invalid value (or the wrong number of fields) is rejected, and no accepted row
  holds a non-finite or out-of-range coordinate, an empty time or category.

CI runs ``HEXWATCH_FUZZ_EXAMPLES`` examples per test (default 40, a few seconds
each). A longer run is one command::

    HEXWATCH_FUZZ_EXAMPLES=5000 .venv/bin/python -m pytest tests/test_fuzz_ingest.py -n 2

Hypothesis keeps failing examples in ``.hypothesis/`` and replays them first.
"""

from __future__ import annotations

import calendar
import codecs
import io
import json
import math
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.errors import HexwatchError
from geo.incidents import REJECT_REASONS, normalise_ubigeo, read_mininter, read_points, read_sidpol

EXAMPLES = int(os.environ.get("HEXWATCH_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])

# Lone surrogates U+DC80..U+DCFF in generated text stand for raw bytes 0x80..0xFF: how a
# test writes invalid UTF-8 (or stray Latin-1) into a file. Characters the target
# encoding lacks become "?", as a spreadsheet export does.


def _raw_bytes_or_question(exc: UnicodeEncodeError) -> tuple[bytes, int]:
    chunk = exc.object[exc.start:exc.end]
    return bytes(ord(c) - 0xDC00 if 0xDC80 <= ord(c) <= 0xDCFF else ord("?") for c in chunk), exc.end


codecs.register_error("hexwatch_fuzz", _raw_bytes_or_question)


def encode(text: str, encoding: str) -> bytes:
    """``text`` in ``encoding`` (``utf-8-sig`` adds a BOM), surrogates as raw bytes."""
    bom = codecs.BOM_UTF8 if encoding == "utf-8-sig" else b""
    return bom + text.encode("utf-8" if encoding == "utf-8-sig" else encoding, errors="hexwatch_fuzz")


def no_surrogates(text: str) -> str:
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


# --------------------------------------------------------------------------- values
# Each role has text that is surely valid ("ok") and surely invalid ("bad") for it.

NULL_TOKENS = ["", " ", "NA", "n/a", "null", "None", "-", "s/d", "nan"]
BROKEN = ["\udcff", "\udcc3", "\udc80\udc81", "-12\udce9", "\udcef\udcbb\udcbf"]  # invalid UTF-8 / Latin-1 bytes
# Things that are text, not numbers: quotes, delimiters, newlines, NUL, formulas, long runs.
JUNK = ["abc", "12.0.1", "--12", "1e", "\"", "a,b;c\t|d", "line\nbreak", "cr\rlf\r\n", "\x00", "=1+1", "x" * 300,
        "Ω≈ç√", "1,234.5.6", "0x1F", "١٢"]


def number_text(lo: float, hi: float) -> st.SearchStrategy[str]:
    """A number in [lo, hi] written as exports write it (repr, fixed, decimal comma, padded)."""
    fmts = [repr, "{:.6f}".format, lambda x: f"{x:.4f}".replace(".", ","), lambda x: f"  {x:.5f} ", "{:.2e}".format]
    return st.tuples(st.floats(lo, hi), st.sampled_from(fmts)).map(lambda t: t[1](t[0]))


def bad_number_text(limit: float) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(NULL_TOKENS + ["NaN", "inf", "-inf", "Infinity", "1e400", "-1e400", "1e308", "9" * 400]),
        st.sampled_from(JUNK + BROKEN),
        st.floats(min_value=limit * 1.001, max_value=1e300).map(lambda x: repr(x * (1 if x > 2 else -1))),
    )


LAT_OK, LON_OK = number_text(-18.3, -0.05), number_text(-81.3, -68.7)
LAT_BAD, LON_BAD = bad_number_text(90), bad_number_text(180)

TIME_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%Y-%m-%d",
                "%d/%m/%Y", "%Y/%m/%d %H:%M", "%d-%m-%Y"]
# Far enough from 1900 and 2100 that the UTC -> Lima shift of epoch numbers stays inside.
DATETIMES = st.datetimes(datetime(1950, 1, 1), datetime(2090, 12, 31)).map(lambda d: d.replace(microsecond=0))


def _epoch_text(d: datetime, ms: bool) -> str:
    s = calendar.timegm(d.timetuple())
    return str(s * 1000 if ms else s)


TIME_OK = st.one_of(
    st.tuples(DATETIMES, st.sampled_from(TIME_FORMATS)).map(lambda t: t[0].strftime(t[1])),
    # Bare epoch numbers: 10 digits are seconds, 13 milliseconds.
    st.tuples(st.datetimes(datetime(2001, 9, 10), datetime(2090, 1, 1)), st.booleans()).map(lambda t: _epoch_text(*t)),
)
TIME_BAD = st.one_of(
    st.sampled_from(NULL_TOKENS + JUNK + BROKEN),
    st.sampled_from(["2023-13-45 10:00", "32/01/2023", "2023-02-29", "1899-12-31", "2100-01-02 00:00",
                     "0000-00-00 00:00:00", "99999999999999999", "0", "-1", "12:30", "NaT", "2023-09-21 25:61"]),
)
CATEGORY_OK = st.one_of(
    st.sampled_from(["Robo", "HURTO", "extorsión", "Violencia  familiar", "  homicidio ", "Ñandú\udcf1"]),
    # A letter first: Python's and Rust's ideas of "whitespace" differ on control characters.
    st.text(max_size=12).map(lambda s: "c" + s),
)
CATEGORY_BAD = st.sampled_from(NULL_TOKENS + ["\t", "   "])
ANY_TEXT = st.one_of(st.text(max_size=15), st.sampled_from(JUNK + BROKEN + NULL_TOKENS))
ID_TEXT = st.one_of(st.integers(0, 12).map(str), st.integers(0, 12).map(lambda i: f" {i} "), st.just(""))

# SIDPOL
YEAR_OK = st.one_of(st.integers(1990, 2030).map(str), st.integers(1990, 2030).map(lambda y: f"{y}.0"),
                    st.integers(1990, 2030).map(lambda y: f" {y} "))
YEAR_BAD = st.sampled_from(NULL_TOKENS + ["abc", "1800", "20233", "2023.5", "2200", "inf", "\udcff"])
MONTHS = ["enero", "FEBRERO", "Marzo", "abril", "MAYO", "junio", "JULIO", "agosto", "SETIEMBRE", "septiembre",
          "Octubre", "noviembre", "DICIEMBRE"]
MONTH_OK = st.one_of(st.integers(1, 12).map(str), st.integers(1, 12).map(lambda m: f"{m:02d}"),
                     st.sampled_from(MONTHS), st.sampled_from(MONTHS).map(lambda m: f" {m} "),
                     st.sampled_from(["ENE", "Set", "sep.", "Dic", "August", "ABR"]))
MONTH_BAD = st.sampled_from(NULL_TOKENS + ["0", "13", "1.5", "-1", "abc", "ENX", "1e400", "\udcff"])
UBIGEO_OK = st.one_of(
    st.tuples(st.integers(1, 25), st.integers(101, 9999)).map(lambda t: str(t[0] * 10000 + t[1])),  # as an integer
    st.tuples(st.integers(1, 25), st.integers(101, 9999)).map(lambda t: f"{t[0]:02d}{t[1]:04d}"),
    st.tuples(st.integers(1, 25), st.integers(101, 9999)).map(lambda t: f"{t[0] * 10000 + t[1]}.0"),
)
UBIGEO_BAD = st.sampled_from(NULL_TOKENS + ["abc", "990101", "1234", "1234567", "15013.5", "-150132", "260101",
                                            "00150132", "\udcff", "1e400"])
COUNT_OK = st.one_of(st.integers(0, 10_000).map(str), st.integers(0, 500).map(lambda n: f"{n}.0"),
                     st.integers(0, 500).map(lambda n: f" {n} "))
COUNT_BAD = st.sampled_from(NULL_TOKENS + ["-1", "2.5", "abc", "inf", "1e400", "1e20", "\udcff", "--3"])
DEPARTMENTS = st.sampled_from(["LIMA METROPOLITANA", "REGION LIMA", "PROV. CONST. DEL CALLAO", "ÁNCASH", "JUNÍN",
                               "PIURA", "\udcc1NCASH", ""])


@dataclass(frozen=True)
class Role:
    """One column of a layout: its default name, valid and invalid text, and whether the reader needs it."""

    role: str
    name: str
    ok: st.SearchStrategy[str]
    bad: st.SearchStrategy[str] | None  # None: the reader does not validate this column
    required: bool = True


POINT_ROLES = [Role("lat", "lat", LAT_OK, LAT_BAD), Role("lon", "lon", LON_OK, LON_BAD),
               Role("time", "time", TIME_OK, TIME_BAD), Role("category", "category", CATEGORY_OK, CATEGORY_BAD),
               Role("id", "id", ID_TEXT, None, required=False), Role("subcategory", "subcat", ANY_TEXT, None, required=False)]
MININTER_ROLES = [Role("lat", "lat_hecho", LAT_OK, LAT_BAD), Role("lon", "long_hecho", LON_OK, LON_BAD),
                  Role("time", "fecha_hora_hecho", TIME_OK, TIME_BAD),
                  Role("category", "tipo_hecho", CATEGORY_OK, CATEGORY_BAD),
                  Role("id", "id_denuncia", ID_TEXT, None, required=False),
                  Role("subcategory", "subtipo_hecho", ANY_TEXT, None, required=False),
                  Role("district_name", "distrito_hecho", ANY_TEXT, None, required=False),
                  Role("reported_ubigeo", "ubigeo_hecho", st.one_of(UBIGEO_OK, UBIGEO_BAD), None, required=False)]
SIDPOL_ROLES = [Role("year", "ANIO", YEAR_OK, YEAR_BAD), Role("month", "MES", MONTH_OK, MONTH_BAD),
                Role("department", "DPTO_HECHO_NEW", DEPARTMENTS, None, required=False),
                Role("province", "PROV_HECHO", ANY_TEXT, None, required=False),
                Role("district", "DIST_HECHO", ANY_TEXT, None, required=False),
                Role("ubigeo", "UBIGEO_HECHO", UBIGEO_OK, UBIGEO_BAD),
                Role("category", "P_MODALIDADES", CATEGORY_OK, CATEGORY_BAD),
                Role("count", "cantidad", COUNT_OK, COUNT_BAD)]


# --------------------------------------------------------------------------- cases


@dataclass
class Case:
    """A generated file and what the test knows about it independently of the reader."""

    data: bytes
    suffix: str
    columns: list[str]  # roles present in the file
    n_rows: int  # data rows written
    valid: list[bool | None] = field(default_factory=list)  # per row; None = not asserted
    ids: list[str | None] = field(default_factory=list)  # per row: the id key (None = blank)
    missing_required: bool = False  # a column the reader needs is absent
    may_fail: bool = False  # a HexwatchError is acceptable (unreadable by design)
    cut: tuple[int, int] | None = None  # truncated: n_input must lie in this range
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def expect_error(self) -> bool:
        return self.missing_required or (not self.data.strip())


def _csv_field(value: str, delimiter: str, quote_all: bool) -> str:
    if quote_all or any(c in value for c in (delimiter, '"', "\r", "\n")):
        return '"' + value.replace('"', '""') + '"'
    return value


def _name_variant(name: str) -> st.SearchStrategy[str]:
    """How exports spell a header: as is, upper/lower/title case, padded (matched case- and space-blind)."""
    return st.sampled_from([name, name.upper(), name.lower(), name.title(), f" {name} "])


def _present_roles(draw, roles: list[Role]) -> tuple[list[Role], bool]:
    """Roles in the file: optional ones at random; sometimes one required role dropped."""
    present = [r for r in roles if r.required or draw(st.booleans())]
    missing = False
    if draw(st.integers(0, 9)) == 0:
        required = [r for r in present if r.required]
        gone = draw(st.sampled_from(required))
        present = [r for r in present if r is not gone]
        missing = True
    return draw(st.permutations(present)), missing


def _row_values(draw, present: list[Role], valid_share: int = 8) -> tuple[dict[str, str], bool]:
    """Text per role and whether every validated value is valid."""
    values, valid = {}, True
    for r in present:
        good = r.bad is None or draw(st.integers(0, 9)) < valid_share
        values[r.role] = draw(r.ok if good else r.bad)
        valid &= good
    return values, valid


def _id_key(values: dict[str, Any]) -> str | None:
    v = values.get("id")
    if v is None:
        return None
    s = str(v).strip()
    return s or None


@st.composite
def csv_case(draw, roles: list[Role]) -> Case:
    """A CSV file of ``roles`` with damaged rows, odd encodings and maybe a cut."""
    present, missing = _present_roles(draw, roles)
    n_extra = draw(st.integers(0, 2))
    names = [draw(_name_variant(r.name)) for r in present] + [f"x_extra{i}" for i in range(n_extra)]
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    quote_all = draw(st.booleans())
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "latin-1"]))
    lines = [delimiter.join(_csv_field(n, delimiter, quote_all) for n in names)]
    case = Case(b"", ".csv", [r.role for r in present], 0, missing_required=missing)
    for _ in range(draw(st.integers(0, 25))):
        values, valid = _row_values(draw, present)
        fields = [values[r.role] for r in present] + [draw(ANY_TEXT) for _ in range(n_extra)]
        shape = draw(st.sampled_from(["ok"] * 8 + ["extra", "short"]))
        if shape == "extra":
            fields += ["surplus"] * draw(st.integers(1, 2))
        elif shape == "short":
            # Keep at least two fields: a line with no delimiter could be blank, and blank lines are no rows.
            fields = fields[:max(2, len(fields) - draw(st.integers(1, 2)))] if len(fields) > 2 else fields + ["x"] * 2
        lines.append(delimiter.join(_csv_field(f, delimiter, quote_all) for f in fields))
        case.valid.append(valid and shape == "ok")
        case.ids.append(_id_key(values))
        if "count" in values:  # counts tables: two rows of one key are rejected together
            case.notes.setdefault("ubigeos", []).append(values.get("ubigeo"))
    case.n_rows = len(lines) - 1
    chunks = [encode(line + newline, encoding) for line in lines]
    if encoding == "utf-8-sig":
        chunks = [chunks[0]] + [c.removeprefix(codecs.BOM_UTF8) for c in chunks[1:]]
    case.data = b"".join(chunks)
    if draw(st.integers(0, 5)) == 0:  # truncated: rows wholly before the cut are certain, the cut one may count
        at = draw(st.integers(0, len(case.data)))
        ends = np.cumsum([len(c) for c in chunks])
        whole = int((ends[1:] <= at).sum())
        case.data, case.cut, case.may_fail = case.data[:at], (whole, whole + 1), True
    return case


@st.composite
def parquet_case(draw, roles: list[Role]) -> Case:
    """A Parquet file whose columns have random (often wrong) Arrow types."""
    present, missing = _present_roles(draw, roles)
    n = draw(st.integers(0, 25))
    case = Case(b"", ".parquet", [r.role for r in present], n, missing_required=missing)
    case.valid = [True] * n
    columns: dict[str, pa.Array] = {}
    id_values: list[Any] = [None] * n
    for r in present:
        values, validity, arrow_type = draw(typed_column(r, n))
        columns[draw(_name_variant(r.name)).strip() or r.name] = pa.array(values, type=arrow_type)
        case.notes[r.role] = str(arrow_type)
        for i, v in enumerate(validity):
            case.valid[i] = None if (v is None or case.valid[i] is None) else (case.valid[i] and v)
        if r.role == "id":
            id_values = values
    for i in range(draw(st.integers(0, 2))):
        columns[f"x_extra{i}"] = pa.array([draw(ANY_TEXT).encode("utf-8", "hexwatch_fuzz") for _ in range(n)])
    case.ids = [_id_key({"id": v}) for v in id_values]
    case.may_fail = any(t.startswith("list") for t in case.notes.values())  # an array where a scalar belongs
    buf = io.BytesIO()
    pq.write_table(pa.table(columns) if columns else pa.table({"x_extra": pa.array([], pa.string())}), buf,
                   compression=draw(st.sampled_from(["zstd", "snappy", "none"])))
    case.data = buf.getvalue()
    if draw(st.integers(0, 5)) == 0:
        case.data = case.data[:draw(st.integers(0, len(case.data) - 1))]
        case.cut, case.may_fail = (0, n), True
    return case


def _typed(values_ok, values_bad, n, draw, valid_share=8) -> tuple[list, list[bool]]:
    out, validity = [], []
    for _ in range(n):
        good = draw(st.integers(0, 9)) < valid_share
        out.append(draw(values_ok if good else values_bad))
        validity.append(good)
    return out, validity


@st.composite
def typed_column(draw, role: Role, n: int) -> tuple[list, list[bool | None], pa.DataType]:
    """Values of one Parquet column, their validity (None: not asserted) and the Arrow type."""
    text_ok = role.ok.map(no_surrogates)
    text_bad = (role.bad if role.bad is not None else role.ok).map(no_surrogates)
    kinds = ["string", "large_string", "dictionary", "null", "bool", "binary", "list"]
    if role.role in ("lat", "lon"):
        kinds += ["float64", "float64", "float32", "int64"]
    elif role.role == "time":
        kinds += ["timestamp", "timestamp_tz", "date32", "epoch_int", "epoch_float"]
    kind = draw(st.sampled_from(kinds))
    if role.role == "id":  # what a bool or binary id compares equal to is the reader's business
        kind = draw(st.sampled_from(["string", "dictionary", "int64", "null"]))
    lo, hi = (-18.3, -0.05) if role.role == "lat" else (-81.3, -68.7)
    limit = 90 if role.role == "lat" else 180
    unknown = [None] * n
    if kind in ("string", "large_string", "dictionary"):
        if role.bad is None:
            values, validity = [draw(text_ok) for _ in range(n)], unknown
        else:
            values, validity = _typed(text_ok, text_bad | st.none(), n, draw)
        types = {"string": pa.string(), "large_string": pa.large_string(), "dictionary": pa.dictionary(pa.int32(), pa.string())}
        return values, validity, types[kind]
    if kind == "null":
        return [None] * n, [False if role.bad is not None else None] * n, pa.null()
    if kind == "bool":
        return [draw(st.booleans() | st.none()) for _ in range(n)], unknown, pa.bool_()
    if kind == "binary":
        return [draw(role.ok).encode("utf-8", "hexwatch_fuzz") for _ in range(n)], unknown, pa.binary()
    if kind == "list":
        return [draw(st.lists(st.integers(-100, 100), max_size=3)) for _ in range(n)], unknown, pa.list_(pa.int64())
    if kind in ("float64", "float32"):
        bad = st.sampled_from([math.nan, math.inf, -math.inf, 1e308 if kind == "float64" else 3e38, limit + 1.0, None])
        # float32 bounds must be exact in 32 bits: whole degrees inside the valid box.
        ok = st.floats(lo, hi) if kind == "float64" else st.floats(math.ceil(lo), math.floor(hi), width=32)
        values, validity = _typed(ok, bad, n, draw)
        return values, validity, pa.float64() if kind == "float64" else pa.float32()
    if kind == "int64" and role.role == "id":
        return [draw(st.integers(0, 12) | st.none()) for _ in range(n)], unknown, pa.int64()
    if kind == "int64":
        values, validity = _typed(st.integers(math.ceil(lo), math.floor(hi)),
                                  st.sampled_from([None, 2**62, -(2**62), limit + 1]), n, draw)
        return values, validity, pa.int64()
    if kind in ("timestamp", "timestamp_tz"):
        bad = st.sampled_from([None, datetime(1800, 1, 1), datetime(2200, 6, 1)])
        values, validity = _typed(DATETIMES, bad, n, draw)
        if kind == "timestamp_tz":
            values = [v.replace(tzinfo=timezone.utc) if v else None for v in values]
            return values, validity, pa.timestamp("us", tz="UTC")
        return values, validity, pa.timestamp("ms")
    if kind == "date32":
        values, validity = _typed(DATETIMES.map(datetime.date), st.sampled_from([None, date(1850, 1, 1)]), n, draw)
        return values, validity, pa.date32()
    # Epoch numbers: seconds 2001..2090; 5e9 s is year 2128 (out of range), 1e16 is no time at all.
    seconds = st.integers(1_000_000_000, 3_800_000_000)
    if kind == "epoch_int":
        values, validity = _typed(seconds, st.sampled_from([None, 5_000_000_000, 10**16]), n, draw)
        return values, validity, pa.int64()
    values, validity = _typed(seconds.map(float), st.sampled_from([None, math.nan, math.inf, 5e9]), n, draw)
    return values, validity, pa.float64()


@st.composite
def geojson_case(draw) -> Case:
    """A GeoJSON FeatureCollection of Point (and not-Point, and missing) geometries."""
    props = [r for r in POINT_ROLES if r.role not in ("lat", "lon")]
    present, missing = _present_roles(draw, props)
    n = draw(st.integers(0, 25))
    case = Case(b"", ".geojson", [r.role for r in present], n, missing_required=missing)
    features = []
    for _ in range(n):
        values, valid = _row_values(draw, present)
        geometry, geometry_ok = draw(geometries())
        valid = valid and geometry_ok
        if draw(st.integers(0, 9)) == 0:  # a wrong-typed property: what it becomes is GDAL's choice
            role = draw(st.sampled_from([r.role for r in present] or ["x"]))
            values[role] = draw(st.sampled_from([12345, 1.5, True, {"a": 1}, [1, 2]]))
            valid = None
        feature = {"type": "Feature", "properties": {**{r.name: values[r.role] for r in present},
                                                     "x_extra": draw(ANY_TEXT)}}
        if geometry != "absent":
            feature["geometry"] = geometry
        features.append(feature)
        case.valid.append(valid)
        case.ids.append(_id_key(values))
    text = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=draw(st.booleans()),
                      allow_nan=True)
    case.data = encode(text, draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig"])))
    # Raw invalid bytes or NaN tokens make it invalid JSON: GDAL may refuse the whole file.
    # A collection with no geometry at all may be refused as "no Point features".
    case.may_fail = (b"NaN" in case.data or b"Infinity" in case.data or not _is_utf8(case.data)
                     or not any(f.get("geometry") for f in features))
    if draw(st.integers(0, 5)) == 0:
        case.data = case.data[:draw(st.integers(0, max(len(case.data) - 2, 0)))]
        case.cut, case.may_fail = (0, n), True
    return case


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


@st.composite
def geometries(draw) -> tuple[Any, bool]:
    """A geometry member and whether it is a usable point."""
    kind = draw(st.sampled_from(["point"] * 6 + ["point3d", "bad_point", "null", "absent", "line", "polygon",
                                                  "multipoint", "empty"]))
    lat, lon = draw(st.floats(-18.3, -0.05)), draw(st.floats(-81.3, -68.7))
    if kind == "point":
        return {"type": "Point", "coordinates": [lon, lat]}, True
    if kind == "point3d":
        return {"type": "Point", "coordinates": [lon, lat, draw(st.floats(-100, 5000))]}, True
    if kind == "bad_point":
        x, y = draw(st.sampled_from([(1e308, lat), (lon, 91.5), (0.0, 0.0), (lon, -1e300), (200.0, lat)]))
        return {"type": "Point", "coordinates": [x, y]}, False
    if kind == "null":
        return None, False
    if kind == "absent":
        return "absent", False
    if kind == "line":
        return {"type": "LineString", "coordinates": [[lon, lat], [lon + 0.01, lat]]}, False
    if kind == "polygon":
        ring = [[lon, lat], [lon + 0.01, lat], [lon, lat + 0.01], [lon, lat]]
        return {"type": "Polygon", "coordinates": [ring]}, False
    if kind == "multipoint":
        return {"type": "MultiPoint", "coordinates": [[lon, lat]]}, False
    return {"type": "Point", "coordinates": []}, False


# --------------------------------------------------------------------------- checks


def parse(read: Callable, case: Case, tmp_path: Path):
    """Write ``case`` to a fresh file and read it; check the error contract; return Parsed or None."""
    path = tmp_path / f"fuzz{case.suffix}"
    path.write_bytes(case.data)
    try:
        parsed = read(path)
    except HexwatchError as exc:
        msg = str(exc)
        assert msg.strip() and "\n" not in msg, f"error message must be one line: {msg!r}"
        assert case.expect_error or case.may_fail, f"a readable file was refused: {msg}"
        return None
    assert not case.expect_error, "a file lacking a required column (or empty) was accepted"
    return parsed


def check_counts(parsed, case: Case) -> None:
    """Counts add up; n_input is what the test wrote; each reject has a reason and its own row."""
    n_acc, n_rej = len(parsed.accepted), len(parsed.rejects)
    assert n_acc + n_rej == parsed.n_input
    if case.cut is None:
        assert parsed.n_input == case.n_rows
    else:
        assert case.cut[0] <= parsed.n_input <= case.cut[1]
    rej = parsed.rejects
    assert set(rej["reason"]) <= set(REJECT_REASONS), set(rej["reason"]) - set(REJECT_REASONS)
    rows = rej["row_number"].to_numpy()
    assert len(set(rows.tolist())) == len(rows), "two rejects name the same row"
    assert ((rows >= 1) & (rows <= parsed.n_input)).all(), f"reject row numbers {rows} outside 1..{parsed.n_input}"
    assert rej["detail"].notna().all() and rej["raw"].notna().all()
    if case.cut is None and case.valid:
        repeats, unsure = _repeated_ids(case)
        surely_bad = {i + 1 for i, v in enumerate(case.valid) if v is False}
        surely_ok = {i + 1 for i, v in enumerate(case.valid) if v is True} - repeats - unsure - _shared_keys(case)
        got = set(rows.tolist())
        assert surely_bad <= got, f"invalid rows {sorted(surely_bad - got)} accepted"
        wrongly = rej[rej["row_number"].isin(got & surely_ok)]
        assert wrongly.empty, f"valid rows rejected: {wrongly[['row_number', 'reason', 'detail']].to_dict('records')}"
        assert repeats <= got, f"repeated ids on rows {sorted(repeats - got)} not rejected"


def _shared_keys(case: Case) -> set[int]:
    """Counts tables: valid rows (1-based) whose district another valid row shares (their
    keys may be one, and repeated keys are rejected; districts rarely repeat in 25 rows)."""
    if "ubigeos" not in case.notes:
        return set()
    codes = normalise_ubigeo([u if ok else None for u, ok in zip(case.notes["ubigeos"], case.valid)])
    seen = pd.Series([c for c in codes]).dropna()
    shared = seen[seen.duplicated(keep=False)]
    return {int(i) + 1 for i in shared.index}


def _repeated_ids(case: Case) -> tuple[set[int], set[int]]:
    """Valid rows (1-based) that surely repeat an earlier valid row's id, and those that may."""
    if "id" not in case.columns:
        return set(), set()
    sure, maybe, repeats, unsure = set(), set(), set(), set()
    for i, (ok, key) in enumerate(zip(case.valid, case.ids)):
        if ok is False or key is None:
            continue
        if key in sure and ok:
            repeats.add(i + 1)
        elif key in sure or key in maybe:
            unsure.add(i + 1)
        (sure if ok else maybe).add(key)
    return repeats, unsure


def check_points(parsed) -> None:
    """No accepted point carries a bogus coordinate, time or category; ids are unique."""
    a = parsed.accepted
    if not len(a):
        return
    lat, lon = a["lat"].to_numpy(dtype=float), a["lon"].to_numpy(dtype=float)
    assert np.isfinite(lat).all() and np.isfinite(lon).all()
    assert (np.abs(lat) <= 90).all() and (np.abs(lon) <= 180).all() and not ((lat == 0) & (lon == 0)).any()
    assert a["time"].notna().all() and (a["time"] >= "1900-01-01").all() and (a["time"] < "2100-01-01").all()
    assert a["category"].notna().all() and (a["category"].str.strip() != "").all()
    assert a["incident_id"].is_unique and a["incident_id"].notna().all()


def check_sidpol(parsed) -> None:
    a = parsed.accepted
    # Every readable count is an event, accepted or rejected.
    assert parsed.n_events_input is not None and parsed.n_events_input >= a["n"].sum()
    if not len(a):
        return
    assert a["ubigeo"].str.fullmatch(r"(0[1-9]|1\d|2[0-5])\d{4}").all()
    assert a["month"].between(1, 12).all() and a["year"].between(1900, 2099).all()
    assert (a["n"] >= 0).all() and a["category"].notna().all()


def _points_reader(columns: list[str], coordinates: bool = True) -> Callable:
    """``read_points`` naming the file's columns by their default names (GeoJSON: no lat/lon)."""
    names = {r.role: r.name for r in POINT_ROLES}
    roles = ("lat", "lon", "time", "category") if coordinates else ("time", "category")
    kwargs = {role: names[role] for role in roles}
    kwargs.update({role: names[role] for role in ("id", "subcategory") if role in columns})
    return lambda path: read_points(path, **kwargs)


# --------------------------------------------------------------------------- tests


READERS = {  # format -> (the files it gets, how they are read, what accepted rows must satisfy)
    "points CSV": (csv_case(POINT_ROLES), lambda case: _points_reader(case.columns), check_points),
    "points Parquet": (parquet_case(POINT_ROLES), lambda case: _points_reader(case.columns), check_points),
    "points GeoJSON": (geojson_case(), lambda case: _points_reader(case.columns, coordinates=False), check_points),
    "MININTER CSV": (csv_case(MININTER_ROLES), lambda case: read_mininter, check_points),
    "MININTER Parquet": (parquet_case(MININTER_ROLES), lambda case: read_mininter, check_points),
    "SIDPOL CSV": (csv_case(SIDPOL_ROLES), lambda case: read_sidpol, check_sidpol),
}


@pytest.mark.parametrize("fmt", READERS)
@FUZZ
@given(data=st.data())
def test_reader_refuses_cleanly_or_accounts_for_every_row(fmt, data, tmp_path_factory):
    cases, reader, check_accepted = READERS[fmt]
    case = data.draw(cases, label="case")
    parsed = parse(reader(case), case, tmp_path_factory.mktemp("f"))
    if parsed is not None:
        check_counts(parsed, case)
        check_accepted(parsed)


@pytest.mark.parametrize("data", [b"", b"   \n\n", codecs.BOM_UTF8, codecs.BOM_UTF8 + b"\r\n"])
@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".geojson"])
def test_empty_files_are_one_line_errors(tmp_path, data, suffix):
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(data)
    for read in (_points_reader(["id"]), read_mininter, read_sidpol):
        with pytest.raises(HexwatchError) as info:
            read(path)
        assert "\n" not in str(info.value) and path.name in str(info.value)


# --------------------------------------------------------------------------- end to end

E2E = settings(FUZZ, max_examples=max(5, EXAMPLES // 4))


@pytest.fixture(scope="module")
def two_districts():
    """Two made-up districts splitting the fuzzed points' box (some points fall outside both)."""
    import geopandas as gpd
    import shapely

    return gpd.GeoDataFrame({"ubigeo": ["150101", "150102"], "name": ["West", "East"]},
                            geometry=[shapely.box(-81.3, -18.3, -75.0, -9.0), shapely.box(-75.0, -18.3, -68.7, -9.0)],
                            crs="EPSG:4326")


def ingest_twice(case: Case, tmp: Path, **kwargs):
    """Ingest ``case`` into a new store, check the store, ingest it again; the first report (or None)."""
    from geo.ingest import ingest_file
    from geo.store import Store, StoreError

    src = tmp / f"in{case.suffix}"
    src.write_bytes(case.data)
    store = tmp / "store"
    try:
        report = ingest_file(src, store, progress=False, **kwargs)
    except HexwatchError as exc:
        assert "\n" not in str(exc) and (case.expect_error or case.may_fail), str(exc)
        with pytest.raises(StoreError):  # nothing half-written is left to open
            Store.open(store)
        return None, None
    assert not case.expect_error
    assert report.n_accepted + report.n_rejected == report.n_input
    assert sum(report.rejects_by_reason.values()) == report.n_rejected
    assert report.n_input == case.n_rows if case.cut is None else case.cut[0] <= report.n_input <= case.cut[1]
    if report.version is None:  # nothing to store: no store is made
        assert report.n_accepted == report.n_rejected == 0
        return report, None
    s = Store.open(store)
    assert (s.read_arrow("rejects").num_rows if s.has("rejects") else 0) == report.n_rejected
    again = ingest_file(src, store, progress=False, **kwargs)
    assert again.n_input == report.n_input and again.n_accepted == 0
    assert again.n_already_present == report.n_accepted
    assert Store.open(store).version == s.version, "a re-ingest of the same file wrote a new version"
    return report, s


@E2E
@given(case=st.one_of(csv_case(MININTER_ROLES), parquet_case(MININTER_ROLES)))
def test_mininter_files_ingest_end_to_end(case, tmp_path_factory, two_districts):
    report, s = ingest_twice(case, tmp_path_factory.mktemp("e2e"), kind="mininter", boundaries=two_districts)
    if s is None:
        return
    inc = s.read("incidents", columns=["incident_id", "ubigeo", "cell"])
    assert len(inc) == report.n_accepted and inc["incident_id"].is_unique and (inc["cell"] > 0).all()
    assert inc["ubigeo"].isna().sum() == report.n_outside_districts
    cube = s.read("cube_cell", columns=["resolution", "n"]).groupby("resolution")["n"].sum()
    assert (cube == len(inc)).all() and len(cube) == (len(s.meta["cube_resolutions"]) if len(inc) else 0)
    assert s.read("cube_district", columns=["n"])["n"].sum() == inc["ubigeo"].notna().sum()


@E2E
@given(case=csv_case(SIDPOL_ROLES))
def test_sidpol_files_ingest_end_to_end(case, tmp_path_factory):
    report, s = ingest_twice(case, tmp_path_factory.mktemp("e2e"), kind="sidpol", boundaries=False)
    if s is None:
        return
    parsed = read_sidpol(s.root.parent / "in.csv")
    if not s.has("district_month"):
        assert report.n_accepted == 0
        return
    dm = s.read("district_month")
    assert dm["n"].sum() == parsed.accepted["n"].sum() == report.n_events_accepted
    assert report.n_events_accepted + report.n_events_rejected == report.n_events_input
    assert not dm.duplicated(["ubigeo", "year", "month", "category"]).any()
