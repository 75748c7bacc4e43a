"""The page's state: one :class:`UIState` that the URL, the controls and every view share.

The URL query is :class:`geo.viewspec.View`'s (so a dashboard URL, an export and an
embed agree on what ``from=...&category=...`` means) plus presentation keys that
``View`` ignores: ``lang`` (``en``; Spanish is the default), ``day`` (the date whose
declarations are drawn), ``mode=week`` (map the selected week only), ``zoomres=0``
(keep ``res`` fixed instead of following the zoom) and ``district`` (open panel).

:func:`apply` is the reducer the controller callback calls: previous state + what the
user touched -> next state. It is pure, so it is tested without a browser.

>>> import datetime as dt
>>> cat = Catalog(start=dt.date(2022, 1, 1), end=dt.date(2025, 12, 31), categories=("hurto", "robo"), spells={})
>>> s = UIState.from_query("from=2023-09-20&to=2023-11-18&category=robo&lang=en&day=2023-10-15", cat)
>>> s.lang, s.day, s.view.categories
('en', datetime.date(2023, 10, 15), ('robo',))
>>> UIState.from_query(s.to_query(), cat) == s
True
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode

from dashboard.i18n import DEFAULT_LANG, norm_lang
from geo.errors import HexwatchError
from geo.viewspec import METRICS, View

#: Resolutions the map offers (the cubes' range).
MAP_RESOLUTIONS = (7, 8, 9, 10)
#: Days shown when the URL names no period: the last 13 weeks of data.
DEFAULT_DAYS = 91
MODES = ("range", "week")


@dataclass(frozen=True)
class Catalog:
    """What the store and registry offer: coverage, categories, spells (id -> (start, end))."""

    start: dt.date
    end: dt.date
    categories: tuple[str, ...]
    spells: Mapping[str, tuple[dt.date, dt.date]]
    #: The area a first visit (a URL with no view in it) opens on.
    home_area: str = "all"
    #: The store's areas (ids); empty = not known, any id is kept.
    areas: tuple[str, ...] = ()


#: URL keys that belong to the view (any of them means the URL names a view).
_VIEW_KEYS = frozenset({"from", "to", "category", "declaration", "area", "res", "metric", "baseline_from", "baseline_to"})


def monday(day: dt.date) -> dt.date:
    """The Monday starting ``day``'s ISO week."""
    return day - dt.timedelta(days=day.weekday())


def _clamp(day: dt.date, lo: dt.date, hi: dt.date) -> dt.date:
    return min(max(day, lo), hi)


@dataclass(frozen=True)
class UIState:
    """Everything that decides what the page shows (dates resolved, values validated)."""

    view: View
    lang: str = DEFAULT_LANG
    day: dt.date | None = None
    mode: str = "range"
    zoomres: bool = True
    district: str | None = None
    playing: bool = False
    notice: str = ""

    # -- URL ------------------------------------------------------------------------
    @classmethod
    def from_query(cls, query: str, catalog: Catalog) -> "UIState":
        """Parse a URL query; bad values fall back to defaults with a ``notice`` saying why."""
        params = parse_qs((query or "").lstrip("?"))

        def one(key: str) -> str | None:
            v = params.get(key)
            return v[-1] if v else None

        notice = ""
        try:
            view = View.from_query(query or "")
        except HexwatchError as exc:
            view, notice = View(), str(exc)
        if not params.keys() & _VIEW_KEYS:
            # A bare URL is a first visit: open on the store's home area (the demo's Lima +
            # Callao rather than all areas at once: Lima and Sullana lie 900 km apart).
            # Any chosen view carries its dates in the URL, so "all" stays "all" on reload.
            view = view.replace(area=catalog.home_area)
        state = cls(view=view, lang=norm_lang(one("lang")), mode=one("mode") if one("mode") in MODES else "range",
                    zoomres=one("zoomres") != "0", district=one("district") or None, notice=notice)
        try:
            day = dt.date.fromisoformat(one("day")) if one("day") else None
        except ValueError:
            day, state = None, dataclasses.replace(state, notice=f"day={one('day')!r} is not a date; use YYYY-MM-DD")
        return state.resolved(catalog, day=day)

    def to_query(self) -> str:
        """The URL query that restores this state."""
        extra: list[tuple[str, str]] = []
        if self.lang != DEFAULT_LANG:
            extra.append(("lang", self.lang))
        if self.day:
            extra.append(("day", self.day.isoformat()))
        if self.mode != "range":
            extra.append(("mode", self.mode))
        if not self.zoomres:
            extra.append(("zoomres", "0"))
        if self.district:
            extra.append(("district", self.district))
        q = self.view.to_query()
        more = urlencode(extra)
        return "?" + "&".join(p for p in (q, more) if p)

    # -- validation -------------------------------------------------------------------
    def resolved(self, catalog: Catalog, *, day: dt.date | None = None) -> "UIState":
        """Fill open dates, drop unknown categories and spells, keep ``day`` inside the period."""
        v = self.view
        if v.spell and v.spell not in catalog.spells:
            v = v.replace(spell=None)
        if catalog.areas and v.area not in catalog.areas:
            self = dataclasses.replace(self, notice=f"area={v.area!r} is not one of this store's areas")
            v = v.replace(area=catalog.home_area)
        if v.start is None and v.end is None and v.spell:
            s, e = catalog.spells[v.spell]
            v = v.replace(start=_clamp(s, catalog.start, catalog.end), end=_clamp(e, catalog.start, catalog.end))
        end = v.end or catalog.end
        start = v.start or max(catalog.start, end - dt.timedelta(days=DEFAULT_DAYS - 1))
        if end < start:
            start, end = end, start
        cats = tuple(c for c in v.categories if c in catalog.categories)
        res = v.resolution if v.resolution in MAP_RESOLUTIONS else min(MAP_RESOLUTIONS, key=lambda r: abs(r - v.resolution))
        v = v.replace(start=start, end=end, categories=cats, resolution=res)
        day = day or self.day or end
        return dataclasses.replace(self, view=v, day=_clamp(day, start, end))

    # -- the store ---------------------------------------------------------------------
    def to_store(self) -> dict[str, Any]:
        """JSON form for a ``dcc.Store``."""
        return {"q": self.to_query(), "playing": self.playing, "notice": self.notice}

    @classmethod
    def from_store(cls, data: Mapping[str, Any] | None, catalog: Catalog) -> "UIState":
        """Inverse of :meth:`to_store` (validated again: a store's data comes from the browser)."""
        data = data or {}
        s = cls.from_query(data.get("q", ""), catalog)
        return dataclasses.replace(s, playing=bool(data.get("playing")), notice=data.get("notice", s.notice) or "")

    # -- derived -------------------------------------------------------------------------
    @property
    def window(self) -> tuple[dt.date, dt.date]:
        """The dates the map and table count: the period, or the selected week in week mode."""
        if self.mode == "week":
            m = monday(self.day)
            return m, m + dt.timedelta(days=6)
        return self.view.start, self.view.end

    @property
    def baseline(self) -> tuple[dt.date, dt.date]:
        """The baseline window of :attr:`window` (given, else the equal window before)."""
        if self.view.baseline_start is not None:
            return self.view.baseline_start, self.view.baseline_end
        a, b = self.window
        n = (b - a).days + 1
        return a - dt.timedelta(days=n), a - dt.timedelta(days=1)

    def week_index(self) -> int:
        """Position of ``day``'s week on the week slider (0 = the period's first week)."""
        return (monday(self.day) - monday(self.view.start)).days // 7

    def n_weeks(self) -> int:
        """Weeks the slider spans."""
        return (monday(self.view.end) - monday(self.view.start)).days // 7 + 1


def resolution_for_zoom(zoom: float | None) -> int:
    """The H3 resolution that keeps hexes a few pixels to a few dozen pixels wide.

    >>> [resolution_for_zoom(z) for z in (9, 11, 13, 15)]
    [7, 8, 9, 10]
    """
    if zoom is None:
        return 8
    return 7 if zoom < 11 else 8 if zoom < 13 else 9 if zoom < 14 else 10


def apply(state: UIState, trigger: str | None, c: Mapping[str, Any], catalog: Catalog) -> UIState:
    """The next state after the user touched control ``trigger`` (values in ``c``).

    ``trigger`` is the id of the input that fired (``None`` or ``"url"``: read the URL).
    """
    if trigger in (None, "url"):
        return dataclasses.replace(UIState.from_query(c.get("url") or "", catalog), playing=state.playing)
    v, rep = state.view, {}
    if trigger == "lang":
        rep["lang"] = norm_lang(c.get("lang"))
    elif trigger == "dates":
        start = _parse_day(c.get("start")) or v.start
        end = _parse_day(c.get("end")) or v.end
        start, end = sorted((start, end))
        v = v.replace(start=start, end=end)
    elif trigger == "week":
        week = int(c.get("week") or 0)
        rep["day"] = monday(v.start) + dt.timedelta(days=7 * week)
    elif trigger == "tick":
        nxt = monday(state.day) + dt.timedelta(days=7)
        rep["day"] = nxt if nxt <= v.end else v.start
    elif trigger == "play":
        rep["playing"] = not state.playing
        if rep["playing"]:
            rep["mode"] = "week"
    elif trigger == "cats":
        v = v.replace(categories=tuple(c.get("cats") or ()))
    elif trigger == "spell":
        sid = c.get("spell") or None
        v = v.replace(spell=sid if sid in catalog.spells else None)
        if v.spell:
            s, e = catalog.spells[v.spell]
            v = v.replace(start=_clamp(s, catalog.start, catalog.end), end=_clamp(e, catalog.start, catalog.end),
                          baseline_start=None, baseline_end=None)
            rep["day"] = _clamp(s, catalog.start, catalog.end)
    elif trigger == "area":
        v = v.replace(area=c.get("area") if c.get("area") in catalog.areas else catalog.home_area)
    elif trigger == "metric":
        v = v.replace(metric=c.get("metric") if c.get("metric") in METRICS else "count")
    elif trigger == "res":
        r = c.get("res")
        if r in (None, "", "auto"):
            rep["zoomres"] = True
        else:
            rep["zoomres"] = False
            v = v.replace(resolution=int(r))
    elif trigger == "mode":
        rep["mode"] = c.get("mode") if c.get("mode") in MODES else "range"
    elif trigger == "baseline":
        bs, be = _parse_day(c.get("baseline_start")), _parse_day(c.get("baseline_end"))
        if bs and be:
            bs, be = sorted((bs, be))
        else:
            bs = be = None
        v = v.replace(baseline_start=bs, baseline_end=be)
    elif trigger == "click":
        feature = c.get("click") or {}
        rep["district"] = ((feature.get("properties") or {}).get("ubigeo")) or state.district
    elif trigger == "close":
        rep["district"] = None
    nxt = dataclasses.replace(state, view=v, notice="", **rep)
    return nxt.resolved(catalog)


def _parse_day(value: Any) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
