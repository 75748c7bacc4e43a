"""Generic point files (any city): CSV, Parquet or GeoJSON with the columns the user names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import numpy as np
import polars as pl

from geo.errors import HexwatchError
from geo.readers.columns import OnCoordinates, _resolve_columns
from geo.readers.files import _load
from geo.readers.ids import _repeated_ids, content_ids
from geo.readers.rejects import Parsed, ParsedFrames, _Raw, _quoted, _reasons, _rejects_frame
from geo.readers.times import _TIME_HELP, parse_times
from geo.readers.ubigeo import _normalise_ubigeo_distinct
from geo.readers.values import _blank, _cleaner, _gather, _may_have_edge_space, _nulls, _to_float


#: Column names of a point file's roles, as keyword arguments of :func:`read_points`.
POINT_ROLES = ("lat", "lon", "time", "category", "id", "subcategory")
#: Columns of an accepted point frame (the store's ``incidents`` without ``cell``/``ubigeo``,
#: plus ``reported_ubigeo``: the ubigeo the file itself gives, MININTER only).
POINT_COLUMNS = ("incident_id", "time", "day", "category", "subcategory", "lat", "lon", "source", "reported_ubigeo")


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
