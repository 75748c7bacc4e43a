"""Incident times: local (America/Lima), naive, millisecond precision.

Strings are tried against ISO 8601 (``2023-09-21 14:35:00``, ``2023-09-21T14:35``,
``2023-09-21``), ``dd/mm/yyyy HH:MM[:SS]``, ``yyyy/mm/dd`` and ``dd-mm-yyyy``; ten- and
thirteen-digit numbers are epoch seconds and milliseconds (UTC, converted to Lima time);
times with an offset (``Z``, ``-05:00``) are converted to Lima time. A ``time_format``
(strftime codes, or ``epoch_s``/``epoch_ms``) replaces the detection.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

import numpy as np
import polars as pl
import pyarrow as pa

from geo.errors import HexwatchError
from geo.readers.values import _nulls, _plain, _series, _to_float


TIMEZONE = "America/Lima"
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
