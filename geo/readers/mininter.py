"""Peru's geo-referenced police reports (MININTER): ``fecha_hora_hecho``, ``lat_hecho``,
``long_hecho``, ``tipo_hecho``, ``subtipo_hecho``, ``ubigeo_hecho`` and
``id_denuncia``/``nro_denuncia`` when present; read as points with these names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from geo.readers.columns import OnCoordinates, _resolve_columns
from geo.readers.files import _load
from geo.readers.points import _points
from geo.readers.rejects import Parsed, ParsedFrames


#: Default source columns of a MININTER geo-referenced police report file, by role. The
#: file's district name (``distrito_hecho``) is not read: the district is located from the
#: coordinates, and what the police wrote is compared through ``ubigeo_hecho``.
MININTER_COLUMNS: dict[str, str] = {
    "time": "fecha_hora_hecho", "lat": "lat_hecho", "lon": "long_hecho", "category": "tipo_hecho",
    "subcategory": "subtipo_hecho", "reported_ubigeo": "ubigeo_hecho",
}
#: Id columns looked for (in this order) in a MININTER file.
MININTER_ID_COLUMNS = ("id_denuncia", "nro_denuncia", "id", "id_hecho")


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
