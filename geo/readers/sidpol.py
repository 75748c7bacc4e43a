"""Peru's SIDPOL open data (district-month counts): the counts reader with SIDPOL's column
names as a preset, the upstream CSV's or the cleaned release's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping

from geo.errors import HexwatchError
from geo.readers.counts import parse_counts
from geo.readers.rejects import Parsed, ParsedFrames


#: Columns of Peru's SIDPOL district-month open dataset.
SIDPOL_COLUMNS = ("ANIO", "MES", "DPTO_HECHO_NEW", "PROV_HECHO", "DIST_HECHO", "UBIGEO_HECHO",
                  "P_MODALIDADES", "cantidad")
#: Column presets of Peru's SIDPOL release: the upstream CSV's names, and the names of the
#: cleaned Parquet most users meet (``anio, mes, ..., ubigeo, tipo_hecho, cantidad``).
SIDPOL_PRESETS: dict[str, dict[str, str]] = {
    "sidpol": {"year": "ANIO", "month": "MES", "ubigeo": "UBIGEO_HECHO", "category": "P_MODALIDADES", "count": "cantidad"},
    "sidpol_clean": {"year": "anio", "month": "mes", "ubigeo": "ubigeo", "category": "tipo_hecho", "count": "cantidad"},
}


def counts_preset(names: Iterable[str]) -> str | None:
    """Which SIDPOL column preset a file's column names match (case and spaces ignored), if any."""
    lower = {n.strip().lower() for n in names}
    for name, preset in SIDPOL_PRESETS.items():
        if {c.lower() for c in preset.values()} <= lower:
            return name
    return None


def _preset_columns(names: list[str], path: Path) -> dict[str, str]:
    chosen = counts_preset(names)
    if chosen is None:
        want = " or ".join("(" + ", ".join(p.values()) + ")" for p in SIDPOL_PRESETS.values())
        raise HexwatchError(f"{path.name} does not have SIDPOL's columns {want}; "
                            f"name its columns with --format counts --ubigeo ... --year ... --count ...")
    return SIDPOL_PRESETS[chosen]


def parse_sidpol(path: str | os.PathLike, *, known_ubigeos: Iterable[str] | None = None, fmt: str = "auto",
                 source: str | None = None, columns: Mapping[str, str | None] | None = None) -> ParsedFrames:
    """:func:`read_sidpol` returning Polars frames (``columns`` overrides preset names by role)."""
    path = Path(path)
    return parse_counts(path, columns, known_ubigeos=known_ubigeos, fmt=fmt, source=source,
                        defaults=lambda names: _preset_columns(names, path), kind="sidpol")


def read_sidpol(path: str | os.PathLike, *, known_ubigeos: Iterable[str] | None = None) -> Parsed:
    """Read Peru's SIDPOL district-month counts into ``district_month`` rows.

    The counts reader with SIDPOL's column names: the upstream CSV's (``ANIO, MES,
    UBIGEO_HECHO, P_MODALIDADES, cantidad``) or the cleaned release's (``anio, mes,
    ubigeo, tipo_hecho, cantidad``). The ubigeo is an integer in the open data (``10202``
    is ``"010202"``); ``known_ubigeos`` (e.g. the boundary districts) rejects codes of no
    known district as ``unknown_ubigeo``. ``MES`` may be a number or a month name.
    """
    return parse_sidpol(path, known_ubigeos=known_ubigeos).to_parsed()
