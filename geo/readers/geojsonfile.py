"""GeoJSON files (via pyogrio): properties as columns, Point coordinates as ``__lat``/
``__lon``, other or missing geometries named in ``__geometry_type``.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow as pa

from geo.errors import HexwatchError
from geo.readers.columns import _unique_names
from geo.readers.csvfile import _to_utf8
from geo.readers.rejects import _Raw, _no_malformed
from geo.readers.values import _valid_text


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
    return _Raw(props, None, _no_malformed(), "geojson", notes)
