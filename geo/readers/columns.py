"""Column names: made unique, and matched to the roles a reader needs (exact name first,
then ignoring case and surrounding spaces).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np

from geo.errors import HexwatchError


#: Roles whose columns hold few distinct values: read as dictionaries, kept as Enums.
_CODED_ROLES = ("category", "subcategory", "reported_ubigeo", "ubigeo")
#: ``on_coordinates(lat, lon)``: see :func:`parse_points`.
OnCoordinates = Callable[[np.ndarray, np.ndarray], None]


def _unique_names(names: list[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for i, name in enumerate(names):
        base = name.strip() or f"column_{i + 1}"
        cand, k = base, 2
        while cand in seen:
            cand, k = f"{base}_{k}", k + 1
        seen.add(cand)
        out.append(cand)
    return out


def _resolve_columns(available: list[str], wanted: Mapping[str, str | None], path: Path,
                     optional: Iterable[str] = ()) -> dict[str, str | None]:
    """Map each role to a column of the file: exact name first, then ignoring case/spaces."""
    folded = {c.strip().lower(): c for c in reversed(available)}
    resolved: dict[str, str | None] = {}
    for role, name in wanted.items():
        if name is None:
            resolved[role] = None
        elif name in available:
            resolved[role] = name
        elif name.strip().lower() in folded:
            resolved[role] = folded[name.strip().lower()]
        elif role in optional:
            resolved[role] = None
        else:
            shown = [c for c in available if not c.startswith("__")]
            listing = ", ".join(shown[:40]) + (f", ... ({len(shown)} in all)" if len(shown) > 40 else "")
            raise HexwatchError(f"{path.name} has no column {name!r} (for {role}); columns found: {listing or 'none'}")
    return resolved
