"""Individual incidents in a map view: the officials' points layer at high zoom.

Points are raw incident locations, so they are **never public** (see
``docs/privacy.md``): the dashboard asks for them only after its role check passes.
The query reads the ``incidents`` table with DuckDB, which skips Parquet row groups
by their day/lat/lon statistics and scans the rest on every core.

Example
-------
>>> import tempfile, datetime as dt, pandas as pd
>>> from geo.store import Store, write_version
>>> d = tempfile.mkdtemp()
>>> _ = write_version(d, tables={"incidents": pd.DataFrame({
...     "incident_id": ["a", "b"], "time": pd.to_datetime(["2023-10-01 08:00", "2023-10-02 21:30"]),
...     "day": [dt.date(2023, 10, 1), dt.date(2023, 10, 2)], "category": ["robo", "hurto"],
...     "subcategory": [None, None], "lat": [-12.0, -12.1], "lon": [-77.0, -77.1],
...     "ubigeo": ["150132", "150135"], "source": ["x", "x"]})}, meta={})
>>> points_in_view(Store.open(d), (dt.date(2023, 10, 1), dt.date(2023, 10, 31)), ["robo"])["incident_id"].tolist()
['a']
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

import duckdb
import pandas as pd

from geo.store import Store

#: Columns of :func:`points_in_view`.
POINT_COLUMNS = ("incident_id", "time", "day", "category", "subcategory", "lat", "lon", "ubigeo")
#: Points sent to a map at most (the newest first): beyond that a map is unreadable anyway.
DEFAULT_LIMIT = 5000


def points_in_view(store: Store, window: tuple[dt.date, dt.date], categories: Collection[str] | None = None, *,
                   bbox: tuple[float, float, float, float] | None = None, area: str = "all",
                   limit: int = DEFAULT_LIMIT) -> pd.DataFrame:
    """Incidents of ``window`` (inclusive days) in ``categories`` (None or empty = all),
    inside ``bbox`` = ``(south, west, north, east)`` degrees and the named ``area``,
    newest first, at most ``limit`` rows; ``.attrs["n_points"]`` = how many matched.

    A store without an ``incidents`` table (counts only, e.g. SIDPOL) gives no rows.
    """
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in POINT_COLUMNS})
    empty.attrs["n_points"] = 0
    if not store.has("incidents"):
        return empty
    where = ["day BETWEEN $start AND $end"]
    params: dict = {"path": str(store.table_path("incidents")), "start": window[0], "end": window[1]}
    if categories:
        where.append("list_contains($cats, category)")
        params["cats"] = list(categories)
    if bbox is not None:
        where.append("lat BETWEEN $s AND $n AND lon BETWEEN $w AND $e")
        params.update(s=bbox[0], w=bbox[1], n=bbox[2], e=bbox[3])
    if area != "all":
        from geo.views import area_members

        where.append("list_contains($members, ubigeo)")
        params["members"] = sorted(area_members(store, area))
    cond = " AND ".join(where)
    sql = (f"SELECT {', '.join(POINT_COLUMNS)}, count(*) OVER () AS n_points FROM read_parquet($path) "
           f"WHERE {cond} ORDER BY time DESC, incident_id LIMIT {int(limit)}")
    with duckdb.connect() as con:
        frame = con.execute(sql, params).df()
    n = int(frame["n_points"].iloc[0]) if len(frame) else 0
    frame = frame.drop(columns="n_points")
    frame.attrs["n_points"] = n
    return frame
