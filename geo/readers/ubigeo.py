"""Peru's INEI district codes (ubigeos): six digits, department 01-25; the leading zero
that police exports drop is restored.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import polars as pl

from geo.readers.values import _map_distinct, _series


# Peru's departments are 01-25; anything else cannot be an INEI ubigeo.
_DEPARTMENTS = {f"{i:02d}" for i in range(1, 26)}


def normalise_ubigeo(values: Iterable) -> np.ndarray:
    """6-character ubigeo strings from ints, floats or strings; ``None`` where invalid.

    Police data writes ubigeos as integers, so the leading zero is restored; spaces and a
    ``.0`` suffix are dropped. A ubigeo has 5 or 6 digits once cleaned and starts with a
    department code 01-25.

    >>> normalise_ubigeo([10202, "150132", " 70106.0", 150132.0, "15013", "abc", None, 990101]).tolist()
    ['010202', '150132', '070106', '150132', '015013', None, None, None]
    """
    s = _series("u", values)
    return _normalise_ubigeo_pl(s).to_numpy().astype(object)


def _normalise_ubigeo_pl(s: pl.Series) -> pl.Series:
    """Vectorised :func:`normalise_ubigeo` on a Series of any dtype (nulls stay null)."""
    return _map_distinct(s, _normalise_ubigeo_distinct)


def _normalise_ubigeo_distinct(s: pl.Series) -> pl.Series:
    if s.dtype.is_float():
        whole = s.is_finite() & (s == s.floor()) & (s.abs() < 1e9)
        s = pl.select(pl.when(whole).then(s).otherwise(None)).to_series().cast(pl.Int64, strict=False).alias(s.name)
    text = s.cast(pl.String, strict=False).str.strip_chars()
    digits = text.str.extract(r"^(\d{5,6})(?:\.0*)?$", 1).str.zfill(6)
    ok = digits.str.slice(0, 2).is_in(sorted(_DEPARTMENTS))
    return pl.select(pl.when(ok).then(digits).otherwise(None)).to_series().alias(s.name)
