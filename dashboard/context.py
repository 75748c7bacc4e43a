"""What every callback needs: the store, the districts, the registry, and their catalogue.

One :class:`AppContext` per app. Everything it caches is derived from immutable inputs
(a store version, the boundary files, the registry CSV), so two gunicorn workers hold
equal copies and answer alike; the store is reopened on each call, so a new version
written by ingest is served from the next request on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from geo.store import Store
from dashboard.access import visible_categories, visible_day_range
from dashboard.state import Catalog
from geo.views import MIN_BASELINE, StoreViews, open_views


@dataclass(frozen=True)
class SpellInfo:
    """A declaration spell as the dashboard lists it."""

    spell_id: str
    start: dt.date
    end: dt.date
    ubigeos: frozenset[str]
    decree_ids: tuple[str, ...]
    confirmed: bool


@dataclass(eq=False)  # hashed by identity: callbacks cache per-app results with lru_cache
class AppContext:
    """Inputs of one app: ``store_dir`` plus optional preloaded districts and registry."""

    store_dir: Path
    public: bool = False
    districts_override: Any = None
    registry_override: Any = None
    tiles_url: str | None = None
    tiles_attribution: str = ""
    min_baseline: int = MIN_BASELINE

    #: A policy-event CSV for this store (``None``: Peru's registry for a Peru store, else none).
    events_path: Path | None = None
    #: Run heavy analyses in a low-priority helper process (:mod:`dashboard.helper`): served apps.
    helper_process: bool = False

    @cached_property
    def helper(self):
        """Where the ¿Funcionó? analyses run (:class:`dashboard.helper.Helper`)."""
        from dashboard.helper import Helper

        return Helper(self.helper_process)

    @property
    def districts(self):
        """The districts the dashboard draws: the store's own boundaries (those its areas
        list), or ``districts_override``; ``None`` for a store ingested without boundaries."""
        return self.views().districts

    @cached_property
    def registry(self):
        """The declarations (:class:`geo.declarations.Registry`), or ``None`` when this
        store has none (the declaration controls are hidden then)."""
        if self.registry_override is not None:
            return self.registry_override
        from geo.declarations import Registry, policy_events

        if self.districts_override is not None and self.events_path is None:
            from geo.areas import guess_kind

            if guess_kind(self.districts_override) != "peru":
                return None
            # Province-wide decrees (e.g. all of Lima) expand to the districts drawn here.
            return Registry.load(districts=self.districts_override["ubigeo"].astype(str).tolist())
        return policy_events(self.store(), self.events_path)

    def store(self) -> Store:
        """The store's live version (reopened each call: cheap, and sees new versions)."""
        return Store.open(self.store_dir)

    def views(self) -> StoreViews:
        """Cached views of the live version (over the store's own boundaries unless overridden)."""
        return open_views(self.store(), self.districts_override)

    def catalog(self) -> Catalog:
        """Coverage, categories and spells of the live version (what the controls offer the current role)."""
        views = self.views()
        # The public role's dates are the published months, never the store's exact days.
        start, end = visible_day_range(self.store(), views.day_range)
        # The public role is never offered a sensitive category (docs/privacy.md, rule 5).
        return Catalog(start=start, end=end, categories=tuple(visible_categories(views.categories)),
                       spells={s.spell_id: (s.start, s.end) for s in self.spells}, home_area=views.home_area,
                       areas=tuple(views.areas["area"]))

    @property
    def area_ids(self) -> tuple[str, ...]:
        """The store's areas, in display order (``all`` first)."""
        return tuple(self.views().areas["area"])

    @property
    def home_area(self) -> str:
        """The area a first visit opens on (:attr:`geo.views.StoreViews.home_area`)."""
        return self.views().home_area

    @property
    def area_choices(self) -> list[tuple[str, str, str]]:
        """``(id, Spanish name, English name)`` of every area the zone control offers."""
        t = self.views().areas
        return list(zip(t["area"], t["label"], t["name_en"].where(t["name_en"].notna() & (t["kind"] == "group"),
                                                                     t["label"])))

    def extent(self, area: str | None = None) -> list[list[float]]:
        """Leaflet bounds ``[[s, w], [n, e]]`` of ``area`` (default: the home area); a store
        without boundaries gets its hexes' extent."""
        s, w, n, e = self.views().extent(area or self.home_area)
        return [[s, w], [n, e]]

    @property
    def first_extent(self) -> list[list[float]]:
        """Leaflet bounds of the area a first visit opens on."""
        return self.extent()

    def basemap_config(self) -> dict:
        """What the browser needs to probe the tile server: URL, attribution, a point of the first view."""
        (s, w), (n, e) = self.first_extent
        return {"url": self.tiles_url or "", "attribution": self.tiles_attribution,
                "centre": [(s + n) / 2, (w + e) / 2], "timeout_ms": 4000}

    @cached_property
    def spells(self) -> list[SpellInfo]:
        """Every spell of the registry, earliest first."""
        if self.registry is None:
            return []
        out = [SpellInfo(s.spell_id, s.start, s.end, frozenset(s.ubigeos), tuple(s.decree_ids), bool(s.confirmed))
               for s in self.registry.spells]
        return sorted(out, key=lambda s: (s.start, s.spell_id))

    def spell(self, spell_id: str | None) -> SpellInfo | None:
        """The spell with this id, or None."""
        return next((s for s in self.spells if s.spell_id == spell_id), None)

    def emergency_on(self, day: dt.date) -> dict[str, dict[str, str]]:
        """Declared districts on ``day``: ubigeo -> ``{"decree", "start", "end", "spell", ...}``.

        ``start``/``end`` are those of the decree period covering the day; ``spell_*``
        those of the whole chain of extensions.
        """
        out = {}
        if self.registry is None:
            return out
        for ubigeo, spell in self.registry.declared_ubigeos(day).items():
            decree, start, end = spell.spell_id, spell.start, spell.end
            for p_start, p_end, p_ubigeos, p_decree in spell.periods:
                if p_start <= day <= p_end and ubigeo in p_ubigeos:
                    decree, start, end = p_decree, p_start, p_end
                    break
            out[ubigeo] = {"decree": decree, "start": start.isoformat(), "end": end.isoformat(),
                           "spell": spell.spell_id, "spell_start": spell.start.isoformat(),
                           "spell_end": spell.end.isoformat(), "confirmed": bool(spell.confirmed)}
        return out
