"""What kind of incident file a file is, from its column names.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from geo.readers.csvfile import _sniff_delimiter, _to_utf8
from geo.readers.files import _detect_format
from geo.readers.sidpol import counts_preset


def detect_kind(path: str | os.PathLike, fmt: str = "auto") -> str:
    """``"sidpol"`` (either SIDPOL preset), ``"mininter"`` or ``"points"`` from a file's column names."""
    path = Path(path)
    fmt = _detect_format(path, fmt)
    if fmt == "parquet":
        try:
            names = pq.read_schema(path).names
        except (pa.ArrowException, OSError):
            return "points"
    elif fmt == "geojson":
        return "points"
    else:
        with open(path, "rb") as fh:
            head, _ = _to_utf8(fh.read(65536))
        text = head.decode("utf-8", errors="replace")
        first = text.splitlines()[0] if text.strip() else ""
        names = next(csv.reader([first], delimiter=_sniff_delimiter(text)), [])
    lower = {n.strip().lower() for n in names}
    if counts_preset(names) is not None:
        return "sidpol"
    if {"lat_hecho", "long_hecho", "fecha_hora_hecho"} <= lower:
        return "mininter"
    return "points"
