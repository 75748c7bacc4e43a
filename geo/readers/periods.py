"""Periods and the precision of a time: years, months and dates written in one or two
columns, times of day in a column of their own, and which incidents are known only to
the month or the year.

An incident's ``time_precision`` is one of :data:`TIME_PRECISIONS`: ``time`` (date and
time of day), ``day`` (a date with no time of day), ``month`` or ``year``. A month- or
year-only row keeps the first instant of its period in ``time`` so that the column stays
a time, and its precision says that this instant is not the incident's: the store keeps
such rows in ``incidents`` and leaves them out of the daily cubes (see
:mod:`geo.ingest`).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import polars as pl
import pyarrow as pa

from geo.readers.times import parse_times
from geo.readers.values import _blank, _enum_from_codes, _is_whole, _map_distinct, _nulls, _plain, _series, _to_float

#: How precise an incident's time is, finest first.
TIME_PRECISIONS = ("time", "day", "month", "year")

_MONTHS_ES = {"ENERO": 1, "FEBRERO": 2, "MARZO": 3, "ABRIL": 4, "MAYO": 5, "JUNIO": 6, "JULIO": 7, "AGOSTO": 8,
              "SETIEMBRE": 9, "SEPTIEMBRE": 9, "OCTUBRE": 10, "NOVIEMBRE": 11, "DICIEMBRE": 12}

#: Month names and abbreviations (Spanish and English) a month column may hold.
_MONTH_NAMES = {**_MONTHS_ES, **{k: v for v, names in enumerate([
    ("ENE", "JAN", "JANUARY"), ("FEB", "FEBRUARY"), ("MAR", "MARCH"), ("ABR", "APR", "APRIL"), ("MAY",),
    ("JUN", "JUNE"), ("JUL", "JULY"), ("AGO", "AUG", "AUGUST"), ("SET", "SEP", "SEPT", "SEPTEMBER"),
    ("OCT", "OCTOBER"), ("NOV", "NOVEMBER"), ("DIC", "DEC", "DECEMBER")], start=1) for k in names}}
_YEAR_MIN, _YEAR_MAX = 1900, 2099


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


_DAY_MS = 86_400_000
#: Times of day, tried in order (24-hour first; then 12-hour with AM/PM).
_TIME_OF_DAY_FORMATS = ("%H:%M:%S", "%H:%M", "%H:%M:%S%.f", "%I:%M %p", "%I:%M:%S %p", "%I:%M%p", "%I %p", "%H%M")


def parse_time_of_day(values: pl.Series | pa.ChunkedArray | Iterable) -> pl.Series:
    """Milliseconds since midnight (``Int64``) from ``14:35``, ``14:35:10``, ``2:35 PM``,
    ``1435``, typed times or datetimes (their time part), or a fraction of a day as
    spreadsheets store it (``0.6076``); null where blank or unreadable."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        s = pl.from_arrow(values)
        s = _plain(s if isinstance(s, pl.Series) else s.to_series())
    else:
        s = _series("time_of_day", values)
    if s.dtype == pl.Time:
        return (s.cast(pl.Int64) // 1_000_000).alias(s.name)
    if isinstance(s.dtype, pl.Datetime):
        ms = s.dt.cast_time_unit("ms").cast(pl.Int64)
        return (ms % _DAY_MS).alias(s.name)
    if s.dtype.is_numeric():
        x = s.cast(pl.Float64)
        ok = x.is_finite() & (x >= 0) & (x < 1)
        return pl.select(pl.when(ok).then((x * _DAY_MS).round(0)).otherwise(None)).to_series().cast(pl.Int64).alias(s.name)

    def one(u: pl.Series) -> pl.Series:
        t = u.cast(pl.String, strict=False).str.strip_chars().str.to_uppercase() \
            .str.replace_all(r"\.", "").str.replace(r"\s*(A|P)\s*M$", " ${1}M")
        got = _nulls("t", len(t), pl.Time)
        for fmt in _TIME_OF_DAY_FORMATS:
            if not got.is_null().any():
                break
            got = got.fill_null(t.str.to_time(fmt, strict=False))
        frac = _to_float(u)
        frac = pl.select(pl.when(frac.is_finite() & (frac >= 0) & (frac < 1) & ~t.str.contains(":").fill_null(False))
                         .then((frac * _DAY_MS).round(0))).to_series().cast(pl.Int64)
        return (got.cast(pl.Int64) // 1_000_000).fill_null(frac).alias(u.name)

    return _map_distinct(s, one)


def _format_precision(time_format: str) -> str:
    """What a strftime format pins down: ``time``, ``day``, ``month`` or ``year``."""
    if time_format.startswith("epoch") or any(c in time_format for c in ("%H", "%I", "%M", "%S", "%T", "%R", "%c", "%s")):
        return "time"
    if any(c in time_format for c in ("%d", "%e", "%j", "%F", "%D", "%x")):
        return "day"
    return "month" if any(c in time_format for c in ("%m", "%b", "%B", "%h")) else "year"


def incident_times(values: pa.ChunkedArray | pl.Series, time_format: str | None = None,
                   time_of_day: pa.ChunkedArray | pl.Series | None = None) -> tuple[pl.Series, pl.Series, pl.Series]:
    """``(time, time_precision, bad_time_of_day)`` of an incident file's time column(s).

    ``time`` as :func:`~geo.readers.times.parse_times` reads it; where it reads nothing, a
    year (``2023``) or a month (``2023-09``, ``sep-2023``) is taken at its first instant with
    precision ``year``/``month`` (never silently as 1 January). A date whose text has no
    time of day is precision ``day``; with ``time_format``, the format says the precision.
    ``time_of_day`` (a second column) is added to the date; a blank one leaves the date at
    precision ``day``, an unreadable one makes ``time`` null with ``bad_time_of_day`` set.
    """
    times = parse_times(values, time_format)
    n = len(times)
    codes = np.zeros(n, dtype=np.int8)
    code = {p: i for i, p in enumerate(TIME_PRECISIONS)}
    if time_format is not None:
        codes[:] = code[_format_precision(time_format)]
    else:
        ms = times.cast(pl.Datetime("ms")).to_physical()
        midnight = ((ms % _DAY_MS) == 0).fill_null(False).to_numpy()
        if midnight.any():  # dates, or times at 00:00: a time is written with a colon
            at = np.flatnonzero(midnight)
            raw = _text_at(values, at)
            codes[at[~raw.str.contains(":").fill_null(False).to_numpy()]] = code["day"]
        missing = times.is_null().to_numpy()
        if missing.any():
            at = np.flatnonzero(missing)
            period = parse_period(_text_at(values, at))
            coarse = period["precision"].is_in(["month", "year"]) & _is_whole(period["year"], _YEAR_MIN, _YEAR_MAX) \
                & (period["month"].is_null() | _is_whole(period["month"], 1, 12))
            coarse = coarse.fill_null(False).to_numpy()
            if coarse.any():
                take = at[coarse]
                sub = period.filter(pl.Series(coarse))
                start = pl.select(pl.datetime(sub["year"].cast(pl.Int32), sub["month"].fill_null(1).cast(pl.Int32), 1)
                                  .dt.cast_time_unit("ms")).to_series()
                times = times.scatter(take, start)
                codes[take] = np.where(sub["precision"].to_numpy() == "month", code["month"], code["year"])
    bad_tod = pl.repeat(False, n, eager=True)
    if time_of_day is not None:
        tod = parse_time_of_day(time_of_day)
        unread = tod.is_null().to_numpy()
        blank = np.zeros(n, dtype=bool)
        if unread.any():
            at = np.flatnonzero(unread)
            blank[at] = _blank(_text_at(time_of_day, at)).to_numpy()
        fine = (codes <= code["day"]) & times.is_not_null().to_numpy()
        have = tod.is_not_null().to_numpy() & fine
        bad = unread & ~blank & fine
        day_start = times.dt.truncate("1d")
        combined = (day_start.to_physical() + tod.fill_null(0)).cast(pl.Datetime("ms"))
        times = pl.select(pl.when(pl.Series(have)).then(combined).when(pl.Series(bad)).then(None)
                          .otherwise(times)).to_series().alias(times.name)
        codes[have] = code["time"]
        codes[fine & ~have & ~bad] = code["day"]
        bad_tod = pl.Series(bad)
    precision = _enum_from_codes(codes.astype(np.int32), list(TIME_PRECISIONS), "time_precision")
    return times, precision, bad_tod


def _as_series(values) -> pl.Series:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        s = pl.from_arrow(values)
        return s if isinstance(s, pl.Series) else s.to_series()
    return values if isinstance(values, pl.Series) else _series("v", values)


def _text_at(values, at: np.ndarray) -> pl.Series:
    """Values at positions ``at`` as text (typed dates and times as ISO text)."""
    s = _plain(_as_series(values)).gather(at)
    return s if s.dtype == pl.String else s.cast(pl.String, strict=False)
