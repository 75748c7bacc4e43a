"""One definition of "a view": the filters a map, an export and an embed all share.

A :class:`View` is what a user picked: a date range, categories, a declaration spell,
an area (an id of the store's areas, see :mod:`geo.areas`), an H3 resolution, a metric and a baseline window. It round-trips through URL
query strings (the dashboard's bookmarkable URL, the public ``/embed?...`` address) and
is built from CLI options through the same parser, so the three never disagree.

Query keys: ``from``, ``to`` (inclusive, ``YYYY-MM-DD``), ``category`` (repeatable),
``declaration`` (a spell's decree id), ``area``, ``res``, ``metric``,
``baseline_from``, ``baseline_to``. Unknown keys (``lang``, ``k`` ...) are ignored so
that one URL can carry presentation options too.

Example
-------
>>> v = View.from_query("from=2023-09-20&to=2023-11-18&category=robo&area=lima_callao&res=8")
>>> v.start, v.categories, v.resolution
(datetime.date(2023, 9, 20), ('robo',), 8)
>>> View.from_query(v.to_query()) == v
True
>>> v.baseline_window()  # the equally long window just before
(datetime.date(2023, 7, 22), datetime.date(2023, 9, 19))
>>> View(categories=("robo",)).with_defaults(start=date(2024, 1, 1), end=date(2024, 1, 31)).days
31
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

from geo.areas import check_area_id
from geo.errors import HexwatchError

#: What a hex's value means: incidents, incidents per km², or relative change vs the baseline.
METRICS = ("count", "rate", "change")
#: Resolution a view uses unless the user picks one (the finest a public map may show).
DEFAULT_RESOLUTION = 8
#: Resolutions a view may ask for (the cubes' range; coarser maps are parents of these).
RESOLUTIONS = range(0, 16)

_KEYS = ("from", "to", "category", "declaration", "area", "res", "metric", "baseline_from", "baseline_to")


def _date(value: str | date | None, key: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise HexwatchError(f"{key}={value!r} is not a date; use YYYY-MM-DD") from None


def _spell_id(value: str | None) -> str | None:
    if value is None or not str(value).strip():
        return None
    from geo.declarations import normalise_decree_id

    return normalise_decree_id(str(value))


@dataclass(frozen=True)
class View:
    """The filters of one map view. Dates are inclusive; ``None`` means "not chosen yet".

    ``categories`` is a sorted tuple (empty = every category); ``spell`` is the spell
    id (the decree id of its first decree). Resolve the open dates with
    :meth:`with_defaults` before querying.
    """

    start: date | None = None
    end: date | None = None
    categories: tuple[str, ...] = ()
    spell: str | None = None
    area: str = "all"
    resolution: int = DEFAULT_RESOLUTION
    metric: str = "count"
    baseline_start: date | None = None
    baseline_end: date | None = None

    def __post_init__(self) -> None:
        cats = self.categories
        if isinstance(cats, str):
            cats = (cats,)
        object.__setattr__(self, "categories", tuple(sorted({str(c) for c in cats if str(c) != ""})))
        if self.metric not in METRICS:
            raise HexwatchError(f"metric {self.metric!r} is unknown; use one of {', '.join(METRICS)}")
        # Which areas exist is the store's business (geo.areas): here only the form is checked.
        check_area_id(self.area)
        if int(self.resolution) not in RESOLUTIONS:
            raise HexwatchError(f"resolution {self.resolution} is not an H3 resolution; use 0-15 (maps use 7-10)")
        object.__setattr__(self, "resolution", int(self.resolution))
        if self.start and self.end and self.end < self.start:
            raise HexwatchError(f"the view ends ({self.end}) before it starts ({self.start}); swap --from and --to")
        if (self.baseline_start is None) != (self.baseline_end is None):
            raise HexwatchError("give both baseline_from and baseline_to, or neither (default: the equal window just before)")
        if self.baseline_start and self.baseline_end < self.baseline_start:
            raise HexwatchError(f"the baseline ends ({self.baseline_end}) before it starts ({self.baseline_start})")

    @classmethod
    def from_query(cls, query: str | Mapping[str, Any]) -> "View":
        """Parse a URL query string (``"from=...&category=a&category=b"``) or a mapping
        whose values are strings, lists of strings or ``None`` (as CLI options give)."""
        if isinstance(query, str):
            params: Mapping[str, Any] = parse_qs(query.lstrip("?"), keep_blank_values=False)
        else:
            params = query

        def one(key: str) -> Any:
            v = params.get(key)
            if isinstance(v, (list, tuple)):
                return v[-1] if v else None
            return v

        cats = params.get("category") or ()
        if isinstance(cats, str):
            cats = (cats,)
        res = one("res")
        try:
            res = DEFAULT_RESOLUTION if res in (None, "") else int(res)
        except ValueError:
            raise HexwatchError(f"res={res!r} is not an H3 resolution; use an integer 0-15") from None
        return cls(
            start=_date(one("from"), "from"),
            end=_date(one("to"), "to"),
            categories=tuple(cats),
            spell=_spell_id(one("declaration")),
            area=one("area") or "all",
            resolution=res,
            metric=one("metric") or "count",
            baseline_start=_date(one("baseline_from"), "baseline_from"),
            baseline_end=_date(one("baseline_to"), "baseline_to"),
        )

    def to_query(self) -> str:
        """The URL query string for this view (only the keys that differ from the defaults)."""
        pairs: list[tuple[str, str]] = []
        if self.start:
            pairs.append(("from", self.start.isoformat()))
        if self.end:
            pairs.append(("to", self.end.isoformat()))
        pairs += [("category", c) for c in self.categories]
        if self.spell:
            pairs.append(("declaration", self.spell))
        if self.area != "all":
            pairs.append(("area", self.area))
        if self.resolution != DEFAULT_RESOLUTION:
            pairs.append(("res", str(self.resolution)))
        if self.metric != "count":
            pairs.append(("metric", self.metric))
        if self.baseline_start:
            pairs += [("baseline_from", self.baseline_start.isoformat()), ("baseline_to", self.baseline_end.isoformat())]
        return urlencode(pairs)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (dates as ISO strings), e.g. for provenance records."""
        d = dataclasses.asdict(self)
        d["categories"] = list(self.categories)
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in d.items()}

    def replace(self, **changes: Any) -> "View":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @property
    def days(self) -> int:
        """Length of the view in days (inclusive); needs resolved dates."""
        if self.start is None or self.end is None:
            raise HexwatchError("the view has no date range yet; give --from and --to or a declaration")
        return (self.end - self.start).days + 1

    def with_defaults(self, *, start: date, end: date) -> "View":
        """Fill an open start/end with the given dates (e.g. a spell's, or the data's coverage)."""
        return self.replace(start=self.start or start, end=self.end or end)

    def baseline_window(self) -> tuple[date, date]:
        """The baseline window: the one given, else the equally long window just before the view."""
        if self.baseline_start is not None:
            return self.baseline_start, self.baseline_end
        days = self.days
        return self.start - timedelta(days=days), self.start - timedelta(days=1)



# --- transition: the dashboard's imports until it uses geo.views.areas (issue 16) ----------------
def _legacy_areas() -> dict[str, tuple[str, ...]]:
    from geo.areas import _groups_path, read_groups

    groups = read_groups(_groups_path().read_text(encoding="utf-8")) if _groups_path().is_file() else []
    return {"all": (), **{g["area"]: tuple(p[:4] for p in g["provinces"]) for g in groups if g["boundary_set"] == "peru"}}


#: DEPRECATED (remove once dashboard/ uses :func:`geo.views.areas`): Peru's groups of
#: ``data/boundaries/areas.csv`` as ubigeo prefixes. Not the list of a store's areas.
AREAS: dict[str, tuple[str, ...]] = _legacy_areas()


def in_area(ubigeos, area: str):
    """DEPRECATED (see :data:`AREAS`): whether each ubigeo lies in Peru's group ``area``.
    Use ``geo.areas.in_area(ubigeos, geo.views.area_members(store, area))``."""
    import numpy as np
    import pandas as pd

    prefixes = AREAS.get(area, ())
    s = pd.Series(ubigeos, dtype="string")
    if not prefixes:
        return np.ones(len(s), dtype=bool)
    return s.str.startswith(prefixes).fillna(False).to_numpy(dtype=bool)
