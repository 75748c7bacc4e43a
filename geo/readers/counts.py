"""District-period counts tables (any release): one row per district, period and category
with a count. Every row and every event (the sum of the counts) is accepted or rejected
with a reason.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
import polars as pl

from geo.errors import HexwatchError
from geo.readers.columns import _resolve_columns
from geo.readers.files import _load
from geo.readers.rejects import Parsed, ParsedFrames, _quoted, _reasons, _rejects_frame
from geo.readers.times import parse_times
from geo.readers.ubigeo import _normalise_ubigeo_distinct
from geo.readers.values import _cleaner, _is_whole, _map_distinct, _nulls, _plain, _series, _to_float


#: Columns of an accepted SIDPOL frame (the store's ``district_month``).
DISTRICT_MONTH_COLUMNS = ("ubigeo", "year", "month", "category", "n")
_MONTHS_ES = {"ENERO": 1, "FEBRERO": 2, "MARZO": 3, "ABRIL": 4, "MAYO": 5, "JUNIO": 6, "JULIO": 7, "AGOSTO": 8,
              "SETIEMBRE": 9, "SEPTIEMBRE": 9, "OCTUBRE": 10, "NOVIEMBRE": 11, "DICIEMBRE": 12}
#: Roles of a district-period counts table (the ``columns`` of :func:`parse_counts`).
COUNT_ROLES = ("ubigeo", "year", "month", "date", "category", "count")
#: Month names and abbreviations (Spanish and English) a month column may hold.
_MONTH_NAMES = {**_MONTHS_ES, **{k: v for v, names in enumerate([
    ("ENE", "JAN", "JANUARY"), ("FEB", "FEBRUARY"), ("MAR", "MARCH"), ("ABR", "APR", "APRIL"), ("MAY",),
    ("JUN", "JUNE"), ("JUL", "JULY"), ("AGO", "AUG", "AUGUST"), ("SET", "SEP", "SEPT", "SEPTEMBER"),
    ("OCT", "OCTOBER"), ("NOV", "NOVEMBER"), ("DIC", "DEC", "DECEMBER")], start=1) for k in names}}
_YEAR_MIN, _YEAR_MAX = 1900, 2099


def _parse_count(s: pl.Series) -> pl.Series:
    """Counts as floats (null where not a number); thousands separators are allowed
    (``1,303``, ``1.303``, ``1 303``: a count is whole, so three digits after a comma
    or point are thousands, never decimals)."""
    if s.dtype.is_numeric():
        return s.cast(pl.Float64)
    if s.dtype == pl.Boolean or s.dtype.is_temporal():
        return _nulls(s.name, len(s), pl.Float64)
    def one(u: pl.Series) -> pl.Series:
        t = u.cast(pl.String, strict=False).str.strip_chars().str.replace_all(r"[\s\u00a0\u202f]", "")
        grouped = t.str.contains(r"^-?\d{1,3}([.,]\d{3})+$")
        t = pl.select(pl.when(grouped).then(t.str.replace_all(r"[.,]", "")).otherwise(t.str.replace(",", ".", literal=True)))\
            .to_series()
        return t.cast(pl.Float64, strict=False).alias(u.name)
    return _map_distinct(s, one)


def _parse_year(s: pl.Series) -> pl.Series:
    """Years as floats (validated later); ``2018``, ``2018.0`` or text padded with spaces."""
    return _map_distinct(s, _to_float) if not s.dtype.is_numeric() else s.cast(pl.Float64)


def _parse_month(s: pl.Series) -> pl.Series:
    """Months 1-12 as floats from numbers, or month names/abbreviations in Spanish or English."""
    if s.dtype.is_numeric():
        return s.cast(pl.Float64)

    def one(u: pl.Series) -> pl.Series:
        t = u.cast(pl.String, strict=False).str.strip_chars().str.strip_chars_end(".").str.to_uppercase()
        t = t.str.replace_all("[ÁÀ]", "A").str.replace_all("[ÉÈ]", "E").str.replace_all("Í", "I")
        named = t.replace_strict(_MONTH_NAMES, default=None, return_dtype=pl.Float64)
        return _to_float(u).fill_null(named).alias(u.name)

    return _map_distinct(s, one)


#: Periods written in one column, tried in order: (pattern, which group is the year,
#: which the month; None: a year alone).
_PERIOD_PATTERNS = (
    (r"^(\d{4})$", 1, None),                                    # 2023
    (r"^(\d{4})[-/.](\d{1,2})$", 1, 2),                         # 2023-09, 2023/9
    (r"^(\d{4})(\d{2})$", 1, 2),                                # 202309
    (r"^(\d{1,2})[-/.](\d{4})$", 2, 1),                         # 09/2023
    (r"^([^\W\d_]+)\.?[-/ ]+(?:de[ ]+)?(\d{4})$", 2, 1),        # sep-2023, setiembre de 2023
)


def _days_frame(t: pl.Series) -> pl.DataFrame:
    return pl.DataFrame({"year": t.dt.year().cast(pl.Float64), "month": t.dt.month().cast(pl.Float64),
                         "day": t.dt.day().cast(pl.Float64),
                         "precision": pl.select(pl.when(t.is_not_null()).then(pl.lit("day"))).to_series().cast(pl.String)})


def _period_text(u: pl.Series) -> pl.DataFrame:
    """:func:`parse_period` of distinct text values."""
    n = len(u)
    year, month = _nulls("year", n, pl.Float64), _nulls("month", n, pl.Float64)
    found = pl.repeat(False, n, eager=True)
    for pattern, y_group, m_group in _PERIOD_PATTERNS:
        got = u.str.extract_groups(pattern)
        y = _to_float(got.struct.field(str(y_group)))
        m = _nulls("m", n, pl.Float64) if m_group is None else _parse_month(got.struct.field(str(m_group)))
        take = ~found & y.is_not_null() & (m.is_not_null() if m_group is not None else True)
        year = pl.select(pl.when(take).then(y).otherwise(year)).to_series()
        month = pl.select(pl.when(take).then(m).otherwise(month)).to_series()
        found = found | take
    dates = _days_frame(parse_times(pl.select(pl.when(found).then(None).otherwise(u)).to_series()))
    precision = pl.select(pl.when(found & month.is_not_null()).then(pl.lit("month")).when(found).then(pl.lit("year"))
                          .otherwise(dates["precision"])).to_series()
    return pl.DataFrame({"year": year.fill_null(dates["year"]), "month": month.fill_null(dates["month"]),
                         "day": dates["day"], "precision": precision})


def parse_period(values: pl.Series | Iterable) -> pl.DataFrame:
    """``year, month, day`` (floats, null where absent) and ``precision`` (``"year"``,
    ``"month"``, ``"day"``; null where unreadable) of a period written in one column.

    ``2023`` is a year; ``2023-09``, ``202309``, ``09/2023``, ``sep-2023``, ``setiembre de
    2023`` are months; anything :func:`parse_times` reads (or a typed date) is a day,
    except that a column whose every date is the 1st of a month is a column of months.
    Numbers are years (``2023``) or ``yyyymm`` (``202309``).

    >>> parse_period(["2023", "2023-09", "Set-2023", "21/09/2023", "x"]).rows()  # doctest: +NORMALIZE_WHITESPACE
    [(2023.0, None, None, 'year'), (2023.0, 9.0, None, 'month'), (2023.0, 9.0, None, 'month'),
     (2023.0, 9.0, 21.0, 'day'), (None, None, None, None)]
    """
    s = _plain(values if isinstance(values, pl.Series) else _series("period", values))
    if s.dtype.is_numeric():
        x = s.cast(pl.Float64)
        ym = _is_whole(x, 190001, 209912)
        frame = pl.DataFrame({
            "year": pl.select(pl.when(ym).then(x // 100).otherwise(x)).to_series(),
            "month": pl.select(pl.when(ym).then(x % 100).otherwise(None)).to_series().cast(pl.Float64),
            "day": _nulls("day", len(x), pl.Float64),
            "precision": pl.select(pl.when(ym).then(pl.lit("month")).when(x.is_not_null()).then(pl.lit("year"))).to_series()})
    elif s.dtype.is_temporal():
        frame = _days_frame(parse_times(s))
    else:
        text = s.cast(pl.String, strict=False).str.strip_chars().alias("key")
        uniq = text.drop_nulls().unique()
        table = _period_text(uniq).with_columns(uniq)
        frame = text.to_frame().join(table, on="key", how="left", maintain_order="left").drop("key")
    is_day = frame["precision"] == "day"
    if is_day.any() and (frame["day"].filter(is_day) == 1).all():
        frame = frame.with_columns(
            pl.when(is_day).then(pl.lit("month")).otherwise(pl.col("precision")).alias("precision"),
            pl.when(is_day).then(None).otherwise(pl.col("day")).alias("day"))
    return frame.select("year", "month", "day", pl.col("precision").cast(pl.String))


def _counts_columns(available: list[str], given: Mapping[str, str | None], path: Path,
                    defaults: Callable[[list[str]], Mapping[str, str]] | None) -> dict[str, str | None]:
    wanted: dict[str, str | None] = dict(defaults(available)) if defaults is not None else {}
    wanted.update({r: c for r, c in given.items() if c})
    if given.get("date"):
        if given.get("year") or given.get("month"):
            raise HexwatchError("give either --date COLUMN or --year COLUMN [--month COLUMN], not both")
        wanted.pop("year", None), wanted.pop("month", None)
    if wanted.get("month") and not wanted.get("year") and not wanted.get("date"):
        raise HexwatchError("--month needs --year (or give one --date column)")
    for role, flag in (("ubigeo", "--ubigeo"), ("category", "--category"), ("count", "--count")):
        if not wanted.get(role):
            raise HexwatchError(f"name the {role} column of {path.name} ({flag} COLUMN)")
    if not (wanted.get("year") or wanted.get("date")):
        raise HexwatchError(f"name the period of {path.name}: --year COLUMN [--month COLUMN] or --date COLUMN")
    return _resolve_columns(available, {r: wanted.get(r) for r in COUNT_ROLES}, path)


def parse_counts(path: str | os.PathLike, columns: Mapping[str, str | None] | None = None, *,
                 known_ubigeos: Iterable[str] | None = None, fmt: str = "auto", source: str | None = None,
                 defaults: Callable[[list[str]], Mapping[str, str]] | None = None,
                 kind: str = "counts") -> ParsedFrames:
    """:func:`read_counts` returning Polars frames; ``defaults(column_names)`` names the
    columns that ``columns`` leaves out (a preset: see :mod:`geo.readers.sidpol`)."""
    path = Path(path)
    raw, cols = _load(path, fmt, lambda available: _counts_columns(available, dict(columns or {}), path, defaults))
    n = raw.table.num_rows
    u_raw, n_raw = raw.column(cols["ubigeo"]), raw.column(cols["count"])
    ubigeo = raw.text(cols["ubigeo"], _normalise_ubigeo_distinct, "ubigeo").cast(pl.String)
    category = raw.text(cols["category"], _cleaner(lower=True), "category").cast(pl.String)
    count = _parse_count(n_raw)
    if cols.get("date"):
        p_raw = raw.column(cols["date"])
        period = parse_period(p_raw)
        year, month, day, precision = (period[c] for c in ("year", "month", "day", "precision"))

        def period_text(i: np.ndarray) -> pl.Series:
            return "period " + _quoted(p_raw.gather(i)) + " is not a year, a month or a date"
    else:
        y_raw = raw.column(cols["year"])
        year = _parse_year(y_raw)
        day = _nulls("day", n, pl.Float64)
        if cols.get("month"):
            m_raw = raw.column(cols["month"])
            month = _parse_month(m_raw)
            precision = pl.repeat("month", n, eager=True, dtype=pl.String)

            def period_text(i: np.ndarray) -> pl.Series:
                return ("year " + _quoted(y_raw.gather(i)) + " / month " + _quoted(m_raw.gather(i))
                        + f" is not a year {_YEAR_MIN}-{_YEAR_MAX} and a month 1-12 or its name")
        else:
            month, precision = _nulls("month", n, pl.Float64), pl.repeat("year", n, eager=True, dtype=pl.String)

            def period_text(i: np.ndarray) -> pl.Series:
                return "year " + _quoted(y_raw.gather(i)) + f" is not a year {_YEAR_MIN}-{_YEAR_MAX}"
    year, month, day = (x.cast(pl.Float64) for x in (year, month, day))
    known = None if known_ubigeos is None else pl.Series(sorted({str(u) for u in known_ubigeos}), dtype=pl.String)
    f = pl.DataFrame({"u": ubigeo, "y": year, "m": month, "d": day, "p": precision, "c": category, "n": count})
    checks = f.select(
        ok_u=pl.col("u").is_not_null() & (pl.col("u").is_in(known.implode()) if known is not None else pl.lit(True)),
        ok_p=pl.col("p").is_not_null() & (pl.col("y").is_finite() & (pl.col("y") == pl.col("y").floor())
                                         & pl.col("y").is_between(_YEAR_MIN, _YEAR_MAX))
        & ((pl.col("p") == "year") | (pl.col("m").is_finite() & (pl.col("m") == pl.col("m").floor())
                                     & pl.col("m").is_between(1, 12))),
        ok_c=pl.col("c").is_not_null(),
        ok_n=pl.col("n").is_finite() & (pl.col("n") >= 0) & (pl.col("n") == pl.col("n").floor()) & (pl.col("n") <= 2**53),
    ).fill_null(False)
    ok_n = checks["ok_n"]
    good = (checks["ok_u"] & checks["ok_p"] & checks["ok_c"] & ok_n).to_numpy().copy()
    # Events are the counts of rows whose count is readable; a row without one carries none.
    events = pl.select(pl.when(ok_n).then(count).otherwise(0)).to_series().cast(pl.Int64).alias("events")
    idx = np.flatnonzero(~good)
    sub = {k: v.gather(idx) for k, v in {"u_raw": u_raw, "u": ubigeo, "c": category, "n_raw": n_raw}.items()}
    fails = {k: ~checks[k].gather(idx) for k in ("ok_u", "ok_p", "ok_c", "ok_n")}
    rules: list[tuple[pl.Series, str, pl.Series | str]] = [
        (sub["u"].is_null(), "unknown_ubigeo", _quoted(sub["u_raw"]) + " is not a 6-digit ubigeo"),
        (fails["ok_u"], "unknown_ubigeo", sub["u"].fill_null("") + " is not a district of the boundaries"),
        (fails["ok_p"], "bad_period", period_text(idx)),
        (fails["ok_c"], "missing_category", "the category is empty"),
        (fails["ok_n"], "bad_count", "count " + _quoted(sub["n_raw"]) + " is not a whole number >= 0"),
    ]
    reason, detail = _reasons(rules, len(idx))
    # The same district, period and category twice: a repeat of the same count is a
    # duplicated line (the first is kept); different counts cannot both be right, so
    # every row of that key is rejected.
    key = ["u", "y", "m", "d", "c"]
    rows = raw.row_numbers(np.arange(n))
    keyed = f.with_columns(pl.Series("row", rows), pl.Series("pos", np.arange(n)), pl.Series("ok", good))\
        .filter(pl.col("ok"))
    dup_pos, dup_reason, dup_detail = np.zeros(0, np.int64), pl.Series([], dtype=pl.String), pl.Series([], dtype=pl.String)
    if keyed.height and keyed.select(pl.struct(key).is_duplicated().any()).item():
        grp = keyed.with_columns(
            pl.len().over(key).alias("k"), pl.col("n").n_unique().over(key).alias("distinct"),
            pl.col("row").first().over(key).alias("first_row"), pl.int_range(pl.len()).over(key).alias("i"),
            pl.col("n").cast(pl.Int64).cast(pl.String).unique(maintain_order=True).str.join(", ").over(key).alias("counts"),
            pl.col("row").cast(pl.String).str.join(", ").over(key).alias("rows")).filter(pl.col("k") > 1)
        grp = grp.filter((pl.col("distinct") > 1) | (pl.col("i") > 0))
        label = (grp["u"] + " " + grp["y"].cast(pl.Int64).cast(pl.String)
                 + pl.select(pl.when(grp["m"].is_not_null()).then("-" + grp["m"].cast(pl.Int64).cast(pl.String).str.zfill(2))
                             .otherwise(pl.lit(""))).to_series()
                 + pl.select(pl.when(grp["d"].is_not_null()).then("-" + grp["d"].cast(pl.Int64).cast(pl.String).str.zfill(2))
                             .otherwise(pl.lit(""))).to_series()
                 + " " + grp["c"].str.slice(0, 60))
        conflict = grp["distinct"] > 1
        dup_pos = grp["pos"].to_numpy().astype(np.int64)
        dup_reason = pl.select(pl.when(conflict).then(pl.lit("conflicting_count")).otherwise(pl.lit("duplicate_row"))).to_series()
        dup_detail = pl.select(pl.when(conflict).then(label + " has different counts (" + grp["counts"] + ") on rows "
                                                      + grp["rows"].str.slice(0, 80))
                               .otherwise(label + " repeats row " + grp["first_row"].cast(pl.String))).to_series()
        good[dup_pos] = False
    all_idx = np.concatenate([idx, dup_pos])
    reason = pl.concat([reason, dup_reason.alias("reason")])
    detail = pl.concat([detail, dup_detail.alias("detail")])
    keep = pl.Series(good)
    accepted = pl.DataFrame({
        "ubigeo": ubigeo, "year": year.cast(pl.Int16, strict=False), "month": month.cast(pl.Int8, strict=False),
        "category": category, "n": count.cast(pl.Int64, strict=False),
    }).filter(keep)
    notes = list(raw.notes)
    if (precision.filter(keep) == "day").any():
        notes.append(f"{path.name}: counts per day were summed into months")
    rejects = _rejects_frame(raw, all_idx, reason, detail, path.name, events=events.gather(all_idx))
    return ParsedFrames(accepted, rejects, raw.n_input, kind, notes, accepted_pos=np.flatnonzero(good), raw=raw,
                        n_events_input=int(events.sum()))


def read_counts(path: str | os.PathLike, *, ubigeo: str | None = None, category: str | None = None,
                count: str | None = None, year: str | None = None,
                month: str | None = None, date: str | None = None, known_ubigeos: Iterable[str] | None = None,
                fmt: str = "auto") -> Parsed:
    """Read any district-period counts table (CSV in any delimiter and encoding, or Parquet).

    The period is ``year`` and ``month`` columns (``month`` left out: yearly counts), or
    one ``date`` column (a year, a month such as ``2023-09`` or ``sep-2023``, or a date:
    counts per day are summed into months). One row per district, period and category:
    a repeated key with the same count is rejected ``duplicate_row`` (the first kept),
    with different counts ``conflicting_count`` (every row of it). ``accepted`` has the
    ``district_month`` columns (``month`` null for yearly rows); ``n_events_input`` is the
    sum of every readable count, so accepted ``n`` plus rejected ``events`` add up to it.
    """
    return parse_counts(path, {"ubigeo": ubigeo, "category": category, "count": count, "year": year, "month": month,
                               "date": date}, known_ubigeos=known_ubigeos, fmt=fmt).to_parsed()
