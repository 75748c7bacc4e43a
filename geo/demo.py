"""Synthetic demo data with a known answer: counts, MININTER-style points and SIDPOL rows.

Everything this module makes is **synthetic** — invented incidents over real district
boundaries — so the product can be shown and its statistics tested without exposing any
real victim. The generating model is simple and fully recorded:

``expected[d, t] = scale * base[d] * weekday[t] * season[t] * trend[t] * gamma[d, week(t)] * effect[d, t]``

- ``base[d]``: a district's rate, ``sqrt(min(area_km2, 100)) * lognormal(0, district_sd)``.
  Invented, not estimated from anything: bigger districts get more, up to the size of a
  dense urban district, and a random factor spreads them out.
- ``weekday``, ``season``: cosine profiles (peak Saturday and mid-December) with mean 1.
- ``trend``: ``(1 + annual_trend) ** years``.
- ``gamma``: over-dispersion shared by all days of a district-week, ``Gamma(k, 1/k)``
  (mean 1, so a week's count has variance ``mu + mu**2 / k``).
- ``effect``: ``1 + declared`` on a district-day under a spell of emergency, ``1 +
  adjacent`` on an undeclared district-day that touches a declared district.
- ``scale`` makes the expected total equal ``n_incidents``.

Counts are Poisson given ``expected``, split by category with fixed shares. The
``truth`` dict records every injected effect per spell, which districts were treated or
adjacent, and on how many district-days, so tests can check what the analysis recovers.

Example
-------
>>> import geopandas as gpd, shapely
>>> from geo.declarations import Registry, parse_declarations
>>> squares = gpd.GeoDataFrame({"ubigeo": ["990101", "990102", "990103"], "name": ["A", "B", "C"]},
...     geometry=[shapely.box(i * 0.1, 0, i * 0.1 + 0.1, 0.1) for i in range(3)], crs=4326)
>>> registry = Registry(parse_declarations(
...     "decree_id,start,days,areas,confirmed\\nDS 1-2023-PCM,2023-03-01,31,990101,yes\\n"))
>>> cfg = DemoConfig(n_incidents=20_000, seed=1, start="2023-01-01", end="2023-06-30")
>>> counts, truth = simulate_counts(cfg, squares, registry)
>>> list(counts.columns), truth["spells"]["DS-001-2023-PCM"]["treated"], truth["spells"]["DS-001-2023-PCM"]["adjacent"]
(['ubigeo', 'day', 'category', 'n'], ['990101'], ['990102'])
>>> points = simulate_points(counts, squares, seed=1)
>>> len(points) == int(counts["n"].sum()), sorted(points["ubigeo_hecho"].unique().tolist())
(True, [990101, 990102, 990103])
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import shapely
from scipy import sparse

from geo import boundaries
from geo.boundaries import normalise_name
from geo.declarations import Registry, normalise_decree_id
from geo.errors import HexwatchError
from geo.store import atomic_write_bytes

#: Province codes of each named demo area (a district belongs when ``ubigeo[:4] == code[:4]``).
AREAS: dict[str, tuple[str, ...]] = {
    "lima_callao_sullana": ("150100", "070100", "200600"),
    "lima_callao": ("150100", "070100"),
    "sullana": ("200600",),
}

#: Category mix as the MININTER ``tipo_hecho`` writes it (upper case, no accents), with
#: shares of all incidents. Invented shares of a plausible order, not official figures.
DEFAULT_CATEGORIES: tuple[tuple[str, float], ...] = (
    ("ROBO", 0.30),
    ("HURTO", 0.28),
    ("VIOLENCIA FAMILIAR", 0.15),
    ("ESTAFA", 0.12),
    ("EXTORSION", 0.05),
    ("MICROCOMERCIALIZACION DE DROGAS", 0.05),
    ("VIOLENCIA SEXUAL", 0.04),
    ("HOMICIDIO", 0.01),
)

#: ``subtipo_hecho`` values drawn within a category (with shares); other categories repeat
#: their ``tipo_hecho``.
SUBTYPES: dict[str, tuple[tuple[str, float], ...]] = {
    "ROBO": (("ROBO AGRAVADO", 0.75), ("ROBO", 0.25)),
    "HURTO": (("HURTO AGRAVADO", 0.55), ("HURTO", 0.45)),
    "VIOLENCIA FAMILIAR": (("VIOLENCIA FISICA", 0.55), ("VIOLENCIA PSICOLOGICA", 0.45)),
    "ESTAFA": (("ESTAFA", 0.7), ("ESTAFA AGRAVADA", 0.3)),
    "VIOLENCIA SEXUAL": (("VIOLACION DE LA LIBERTAD SEXUAL", 0.5), ("TOCAMIENTOS INDEBIDOS", 0.5)),
    "HOMICIDIO": (("HOMICIDIO CALIFICADO", 0.5), ("HOMICIDIO SIMPLE", 0.3), ("SICARIATO", 0.2)),
}

#: Relative frequency of each hour of the day (0-23): quiet before dawn, busiest in the
#: evening. Invented to look plausible.
HOUR_WEIGHTS = np.array([3.0, 2.5, 2.0, 1.6, 1.3, 1.3, 1.8, 2.8, 3.8, 4.2, 4.4, 4.6,
                         4.8, 4.7, 4.6, 4.6, 4.8, 5.2, 5.8, 6.2, 6.0, 5.2, 4.4, 3.6])

#: Columns of :func:`simulate_points`, a subset of the MININTER geo-referenced reports.
MININTER_COLUMNS = ("id_denuncia", "fecha_hora_hecho", "lat_hecho", "long_hecho", "tipo_hecho",
                    "subtipo_hecho", "departamento_hecho", "provincia_hecho", "distrito_hecho", "ubigeo_hecho")
#: Columns of :func:`sidpol_frame`, as in Peru's SIDPOL open dataset.
SIDPOL_COLUMNS = ("ANIO", "MES", "DPTO_HECHO_NEW", "PROV_HECHO", "DIST_HECHO", "UBIGEO_HECHO", "P_MODALIDADES", "cantidad")

#: Label written into a demo store's ``meta["dataset"]``.
DATASET_LABEL = "SYNTHETIC demo data — not real incidents"

# Districts larger than this (km²) are mostly empty land: their rate stops growing.
_AREA_CAP_KM2 = 100.0
_SEASON_PEAK_DOY = 350  # mid-December: holidays and bonuses
_WEEKDAY_PEAK = 5  # Saturday (Monday = 0)


@dataclass(frozen=True)
class DemoConfig:
    """What to simulate. Dates accept ``date`` or ``"YYYY-MM-DD"``.

    - ``n_incidents``: expected total over all districts, days and categories.
    - ``effect`` / ``displacement``: relative change (``-0.10`` = -10 %) in declared
      districts while declared / in undeclared districts touching a declared one.
    - ``effects``: per-spell overrides ``{spell_id: (declared, adjacent)}``.
    - ``categories``: ``(tipo_hecho, share)`` pairs; shares are normalised.
    - ``overdispersion``: gamma shape ``k`` at district-week level; ``None`` = pure Poisson.
    - ``weekly_amplitude`` / ``yearly_amplitude``: half the peak-to-trough ratio of the
      cosine profiles; ``annual_trend``: relative change per year.
    - ``district_sd``: log-scale spread of district base rates.
    - ``area``: a key of :data:`AREAS` (used when no districts are passed).

    >>> DemoConfig(n_incidents=1000, seed=7).effect_for("DS-105-2023-PCM")
    (-0.1, 0.03)
    """

    n_incidents: int = 1_000_000
    seed: int = 42
    start: date | str = date(2022, 1, 1)
    end: date | str = date(2025, 12, 31)
    effect: float = -0.10
    displacement: float = 0.03
    effects: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    categories: tuple[tuple[str, float], ...] = DEFAULT_CATEGORIES
    overdispersion: float | None = 30.0
    weekly_amplitude: float = 0.12
    yearly_amplitude: float = 0.10
    annual_trend: float = 0.03
    district_sd: float = 0.5
    area: str = "lima_callao_sullana"

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if isinstance(value, str):
                try:
                    object.__setattr__(self, name, date.fromisoformat(value))
                except ValueError:
                    raise HexwatchError(f"demo {name} {value!r} is not a date; use YYYY-MM-DD") from None
        if self.end < self.start:
            raise HexwatchError(f"demo end {self.end} is before start {self.start}; swap them")
        if self.n_incidents < 1:
            raise HexwatchError(f"demo needs at least 1 incident, got {self.n_incidents}")
        rates = [self.effect, self.displacement, *(v for pair in self.effects.values() for v in pair)]
        if min(rates) <= -1:
            raise HexwatchError("an injected effect must be above -1 (-1 would remove every incident)")
        if not self.categories or min(s for _, s in self.categories) <= 0:
            raise HexwatchError("demo categories need positive shares, e.g. (('ROBO', 0.6), ('HURTO', 0.4))")
        if not (0 <= self.weekly_amplitude < 1 and 0 <= self.yearly_amplitude < 1):
            raise HexwatchError("seasonality amplitudes must be in [0, 1)")
        if self.overdispersion is not None and self.overdispersion <= 0:
            raise HexwatchError("overdispersion is a gamma shape and must be > 0 (or None for pure Poisson)")
        if self.area not in AREAS:
            raise HexwatchError(f"unknown demo area {self.area!r}; use one of {', '.join(AREAS)}")

    def effect_for(self, spell_id: str) -> tuple[float, float]:
        """``(declared, adjacent)`` relative effects injected for ``spell_id``."""
        return tuple(self._effects().get(spell_id, (self.effect, self.displacement)))

    def _effects(self) -> dict[str, tuple[float, float]]:
        return {normalise_decree_id(k): tuple(v) for k, v in self.effects.items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy (dates as ISO strings, categories as a dict)."""
        d = asdict(self)
        d.update(start=self.start.isoformat(), end=self.end.isoformat(),
                 categories=dict(self.categories), effects={k: list(v) for k, v in self.effects.items()})
        return d


# --------------------------------------------------------------------------- districts


def default_districts(area: str = "lima_callao_sullana") -> gpd.GeoDataFrame:
    """The real districts of a demo ``area`` (default: 50 of Lima/Callao + 8 of Sullana),
    with the district columns plus ``area_km2``.

    Taken from :func:`geo.boundaries.load_study_districts`, the set that ingest locates
    points in, so every synthetic point lands in the district it was drawn for.
    """
    if area not in AREAS:
        raise HexwatchError(f"unknown demo area {area!r}; use one of {', '.join(AREAS)}")
    d = boundaries.load_study_districts()
    prefixes = tuple(code[:4] for code in AREAS[area])
    d = d[d["ubigeo"].str[:4].isin(prefixes)].reset_index(drop=True)
    d["area_km2"] = boundaries.area_km2(d)  # spares simulate_counts a reprojection per call
    return d


def _ubigeos(districts: pd.DataFrame) -> np.ndarray:
    u = districts["ubigeo"].astype(str).to_numpy(dtype=object)
    if len(u) == 0:
        raise HexwatchError("no districts to simulate; pass a non-empty districts table")
    if len(set(u)) != len(u):
        raise HexwatchError("districts repeat a ubigeo; give one row per district")
    return u


def _district_rows(values: pd.Series, ubigeos: np.ndarray) -> np.ndarray:
    """Row of each value's district in ``ubigeos``; raises if a value names none."""
    rows = pd.Index(ubigeos).get_indexer(values.astype("str"))
    if (rows < 0).any():
        missing = sorted(set(values[rows < 0]))
        raise HexwatchError(f"counts name districts missing from the districts table: {', '.join(missing[:5])}; "
                            f"simulate with the same districts")
    return rows.astype(np.int32)


def _area_km2(districts: gpd.GeoDataFrame) -> np.ndarray:
    if "area_km2" in districts:
        return districts["area_km2"].to_numpy(dtype=float)
    return boundaries.area_km2(districts).to_numpy()


def _adjacency_matrix(ubigeos: np.ndarray, districts: gpd.GeoDataFrame, adjacency) -> sparse.csr_array:
    """Symmetric 0/1 ``float32`` matrix of neighbours among ``ubigeos`` (others ignored).

    Sparse on purpose: a dense BLAS product this small is slower, and on a busy machine
    BLAS threads make it a hundred times slower.
    """
    if adjacency is None:
        adjacency = boundaries.adjacency(districts)
    index = {u: i for i, u in enumerate(ubigeos)}
    pairs = [(index[u], index[v]) for u, neighbours in adjacency.items() if u in index
             for v in neighbours if v in index and v != u]
    i, j = (np.array(x, dtype=np.int64) for x in zip(*pairs)) if pairs else (np.zeros(0, np.int64),) * 2
    n = len(ubigeos)
    a = sparse.coo_array((np.ones(2 * len(i), np.float32), (np.r_[i, j], np.r_[j, i])), shape=(n, n)).tocsr()
    a.data[:] = 1  # duplicates were summed
    return a


# --------------------------------------------------------------------------- counts


def _declared_grid(registry: Registry, ubigeos: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """``int16[D, T]``: index into the returned spell ids of the spell declaring each
    district-day, -1 for none (the registry decides ties: the later spell wins)."""
    spell_ids = [s.spell_id for s in registry.spells]
    status = registry.status_frame(list(ubigeos), days[0].item(), days[-1].item())
    grid = np.full((len(ubigeos), len(days)), -1, dtype=np.int16)
    cols = (status["day"].to_numpy().astype("datetime64[D]") - days[0]).astype(np.int64)
    grid[_district_rows(status["ubigeo"], ubigeos), cols] = pd.Index(spell_ids).get_indexer(status["spell_id"])
    return grid, spell_ids


def _calendar(start: date, end: date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    days = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1)
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    monday = days - weekday
    week = ((monday - monday[0]).astype(np.int64) // 7).astype(np.int64)
    return days, weekday, week


def _time_profile(cfg: DemoConfig, days: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    doy = (days - days.astype("datetime64[Y]")).astype(np.int64)
    years = (days - days[0]).astype(np.int64) / 365.25
    weekly = 1 + cfg.weekly_amplitude * np.cos(2 * np.pi * (weekday - _WEEKDAY_PEAK) / 7)
    yearly = 1 + cfg.yearly_amplitude * np.cos(2 * np.pi * (doy - _SEASON_PEAK_DOY) / 365.25)
    return weekly * yearly * (1 + cfg.annual_trend) ** years


def simulate_counts(
    config: DemoConfig,
    districts: pd.DataFrame,
    registry: Registry,
    adjacency: Mapping[str, Iterable[str]] | None = None,
    *,
    freq: str = "D",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Simulate incident counts per district, day (or week) and category, with known effects.

    ``districts``: one row per district with ``ubigeo`` and a ``geometry`` (or an
    ``area_km2`` column) — e.g. :func:`default_districts`. ``registry``: the
    :class:`geo.declarations.Registry` whose spells get effects (confirmed spells only,
    unless it was loaded with ``include_unconfirmed=True``). ``adjacency``: ``{ubigeo:
    neighbours}``; computed with :func:`geo.boundaries.adjacency` when omitted.

    ``freq="D"`` returns ``ubigeo, day, category, n``; ``freq="W"`` returns ``ubigeo,
    week, category, n`` with ``week`` the Monday of each ISO week (the first and last
    weeks may be partial; the first Monday may precede ``start``): the same
    distribution as summing the daily counts, at a seventh of the size. The panel is
    dense (zeros included); ``day``/``week`` are ``datetime64[s]``, ``n`` is ``int32``.

    Returns ``(counts, truth)``; ``truth["effects"]`` is ``{spell_id: {"declared": e,
    "adjacent": a}}`` for every spell that touched the simulated districts and days,
    ``truth["spells"][spell_id]`` lists its ``treated`` and ``adjacent`` ubigeos, the
    district-days affected and the expected counts with and without the effect.
    """
    if freq not in ("D", "W"):
        raise HexwatchError(f"freq must be 'D' (days) or 'W' (weeks), not {freq!r}")
    cfg = config
    ubigeos = _ubigeos(districts)
    days, weekday, week = _calendar(cfg.start, cfg.end)
    n_d, n_t = len(ubigeos), len(days)
    rng_base, rng_gamma, rng_counts = (np.random.default_rng(s) for s in np.random.SeedSequence(cfg.seed).spawn(3))

    declared, spell_ids = _declared_grid(registry, ubigeos, days)
    unknown = sorted(set(cfg._effects()) - set(spell_ids))
    if unknown:
        raise HexwatchError(f"effects given for spells not in the registry: {', '.join(unknown)}; "
                            f"its spells: {', '.join(spell_ids) or 'none'}")
    a = _adjacency_matrix(ubigeos, districts, adjacency)
    is_declared = declared >= 0
    adjacent = np.full((n_d, n_t), -1, dtype=np.int16)
    for k in range(len(spell_ids)):
        near = ((a @ (declared == k).astype(np.float32)) > 0) & ~is_declared
        adjacent[near] = k

    multiplier = np.ones((n_d, n_t))
    for k, spell_id in enumerate(spell_ids):
        e_declared, e_adjacent = cfg.effect_for(spell_id)
        multiplier[declared == k] *= 1 + e_declared
        multiplier[adjacent == k] *= 1 + e_adjacent

    area = _area_km2(districts)
    base = np.sqrt(np.minimum(area, _AREA_CAP_KM2)) * rng_base.lognormal(0.0, cfg.district_sd, n_d)
    expected = base[:, None] * _time_profile(cfg, days, weekday)[None, :] * multiplier
    expected *= cfg.n_incidents / expected.sum()
    if cfg.overdispersion is None:
        noisy = expected
    else:
        k_shape = cfg.overdispersion
        noisy = expected * rng_gamma.gamma(k_shape, 1 / k_shape, size=(n_d, week[-1] + 1))[:, week]

    names = np.array([c for c, _ in cfg.categories], dtype=object)
    shares = np.array([s for _, s in cfg.categories], dtype=float)
    shares /= shares.sum()
    if freq == "W":
        starts = np.flatnonzero(np.r_[True, week[1:] != week[:-1]])
        noisy = np.add.reduceat(noisy, starts, axis=1)
        periods = days[starts] - weekday[starts]
    else:
        periods = days
    n_p, n_c = len(periods), len(names)
    n = rng_counts.poisson(noisy[:, :, None] * shares[None, None, :]).astype(np.int32)
    counts = pa.table({
        "ubigeo": _dictionary_strings(np.repeat(np.arange(n_d), n_p * n_c), list(ubigeos)),
        "day" if freq == "D" else "week": pa.array(np.tile(np.repeat(periods, n_c), n_d).astype("datetime64[s]")),
        "category": _dictionary_strings(np.tile(np.arange(n_c), n_d * n_p), list(names)),
        "n": n.ravel(),
    }).to_pandas()
    truth = _truth(cfg, registry, spell_ids, ubigeos, days, declared, adjacent, expected, multiplier, base,
                   int(n.sum()), freq)
    return counts, truth


def _truth(cfg, registry, spell_ids, ubigeos, days, declared, adjacent, expected, multiplier, base, n_total,
           freq) -> dict[str, Any]:
    per_spell, effects = {}, {}
    for k, spell_id in enumerate(spell_ids):
        on, near = declared == k, adjacent == k
        if not on.any():
            continue
        e_declared, e_adjacent = cfg.effect_for(spell_id)
        effects[spell_id] = {"declared": e_declared, "adjacent": e_adjacent}
        cols = np.flatnonzero(on.any(axis=0))
        per_spell[spell_id] = {
            "decree_ids": list(registry.spell(spell_id).decree_ids),
            "start": str(days[cols[0]]),
            "end": str(days[cols[-1]]),
            "treated": sorted(ubigeos[on.any(axis=1)].tolist()),
            "adjacent": sorted(ubigeos[near.any(axis=1)].tolist()),
            "declared_district_days": int(on.sum()),
            "adjacent_district_days": int(near.sum()),
            "expected_declared": float(expected[on].sum()),
            "expected_declared_without_effect": float((expected[on] / multiplier[on]).sum()),
            "expected_adjacent": float(expected[near].sum()),
            "expected_adjacent_without_effect": float((expected[near] / multiplier[near]).sum()),
        }
    touched = (declared >= 0).any(axis=1) | (adjacent >= 0).any(axis=1)
    return {
        "seed": cfg.seed,
        "n_incidents_expected": cfg.n_incidents,
        "n_incidents": n_total,
        "start": cfg.start.isoformat(),
        "end": cfg.end.isoformat(),
        "freq": freq,
        "model": "Poisson(scale*base*weekday*season*trend*gamma[district-week]*effect), split by category shares",
        "effects": effects,
        "spells": per_spell,
        "never_treated_or_adjacent": sorted(ubigeos[~touched].tolist()),
        "base_rate_relative": {u: float(b) for u, b in zip(ubigeos, base / base.mean())},
        "config": cfg.to_dict(),
    }


# --------------------------------------------------------------------------- points


def _sample_in_polygon(geom, n: int, rng: np.random.Generator, hotspot_share: float,
                       n_hotspots: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points inside ``geom``: a uniform share and a share around a few hotspots.

    Rejection sampling in rounds sized by the acceptance rate seen so far; each round is
    one vectorised ``contains_xy`` call (shapely releases the GIL, so districts run in
    parallel threads).
    """
    shapely.prepare(geom)
    minx, miny, maxx, maxy = geom.bounds
    box_area = (maxx - minx) * (maxy - miny)
    rate = max(geom.area / box_area, 0.01) if box_area > 0 else 1.0

    def uniform(m: int) -> tuple[np.ndarray, np.ndarray]:
        return rng.uniform(minx, maxx, m), rng.uniform(miny, maxy, m)

    def fill(m: int, propose) -> tuple[np.ndarray, np.ndarray]:
        xs, ys, got, accept = [], [], 0, rate
        while got < m:
            k = int((m - got) / accept * 1.2) + 16
            x, y = propose(k)
            ok = shapely.contains_xy(geom, x, y)
            accept = max(ok.mean(), 0.001)
            xs.append(x[ok]), ys.append(y[ok])
            got += int(ok.sum())
        return np.concatenate(xs)[:m], np.concatenate(ys)[:m]

    n_hot = int(rng.binomial(n, hotspot_share)) if n_hotspots else 0
    cx, cy = fill(n_hotspots, uniform) if n_hot else (np.zeros(0), np.zeros(0))
    # Hotspots a few hundred metres wide, scaled to the district.
    sd = float(np.clip(0.05 * math.sqrt(geom.area), 0.0015, 0.01))

    def around(m: int) -> tuple[np.ndarray, np.ndarray]:
        c = rng.integers(0, n_hotspots, m)
        return cx[c] + rng.normal(0, sd, m), cy[c] + rng.normal(0, sd, m)

    ux, uy = fill(n - n_hot, uniform)
    hx, hy = fill(n_hot, around) if n_hot else (np.zeros(0), np.zeros(0))
    # The caller hands the points to rows in time order: unshuffled, every hotspot point
    # went to the district's latest rows (res-7 cells with incidents per quarter fell from
    # ~1,470 to ~400 in 2025, and every change map showed spurious swings).
    mix = rng.permutation(n)
    return np.concatenate([ux, hx])[mix], np.concatenate([uy, hy])[mix]


def _sampling_geometries(geoms: np.ndarray) -> np.ndarray:
    """Each district minus the districts before it that overlap it.

    Simplified boundary sets overlap a little; the locator gives a point in an overlap
    to the first district in row order, so drawing only where a district comes first
    makes every point land in its own district when ingested with the same boundaries.
    """
    out = np.array(geoms, dtype=object)
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    earlier = right < left
    for i in np.unique(left[earlier]):
        out[i] = shapely.difference(geoms[i], shapely.union_all(geoms[right[earlier & (left == i)]]))
    return out


def _police_names(districts: pd.DataFrame) -> dict[str, list[str]]:
    """District, province and department names per row as the police writes them
    (upper case, no accents); missing columns or values give empty strings."""
    out = {}
    for column in ("name", "province", "department"):
        values = districts[column] if column in districts else pd.Series("", index=districts.index)
        out[column] = normalise_name(values.astype("str").fillna(""))
    return out


def _police_ubigeo(ubigeos: np.ndarray) -> np.ndarray:
    """Ubigeos as police files write them: integers (``"070106"`` -> ``70106``); other
    ids (a city's own boundary file) stay text."""
    numeric = pd.to_numeric(pd.Series(ubigeos, dtype=object), errors="coerce")
    return numeric.to_numpy(dtype=np.int64) if numeric.notna().all() else ubigeos


def _dictionary_strings(codes: np.ndarray, values: list[str]) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(values, pa.string())).cast(pa.string())


def simulate_points(
    counts: pd.DataFrame,
    districts: gpd.GeoDataFrame,
    seed: int,
    *,
    hotspot_share: float = 0.3,
    n_hotspots: int = 3,
    workers: int | None = None,
) -> pd.DataFrame:
    """One synthetic police report per counted incident, in the MININTER column format.

    ``counts``: daily counts from :func:`simulate_counts` (``ubigeo, day, category, n``).
    Each incident gets a time on its day (hour from :data:`HOUR_WEIGHTS`, minute
    uniform) and a point inside its district's polygon but outside any earlier row's
    polygon that overlaps it, so :func:`geo.locate.assign_districts` with the same
    ``districts`` puts it back in its district. ``hotspot_share`` of the points cluster
    around ``n_hotspots`` random spots per district, the rest are uniform. Rows are
    sorted by time.

    Columns (:data:`MININTER_COLUMNS`): ``id_denuncia`` (text, unique per seed),
    ``fecha_hora_hecho`` (text ``YYYY-MM-DD HH:MM:SS``), ``lat_hecho``,
    ``long_hecho`` (float64), ``tipo_hecho``, ``subtipo_hecho``, ``departamento_hecho``,
    ``provincia_hecho``, ``distrito_hecho`` (upper case, no accents), ``ubigeo_hecho``
    (int64, as the police writes it: ``70106`` for ``"070106"``; text when the
    districts' ids are not numeric).
    """
    if "day" not in counts:
        raise HexwatchError("simulate_points needs daily counts: call simulate_counts(..., freq='D')")
    ubigeos = _ubigeos(districts)
    nz = counts[counts["n"] > 0]
    reps = nz["n"].to_numpy(dtype=np.int64)
    n = int(reps.sum())
    district = np.repeat(_district_rows(nz["ubigeo"], ubigeos), reps)
    cat_codes, cat_names = pd.factorize(nz["category"])
    category = np.repeat(cat_codes.astype(np.int32), reps)
    day_s = np.repeat(nz["day"].to_numpy().astype("datetime64[s]").astype(np.int64), reps)

    seeds = np.random.SeedSequence([seed, 1]).spawn(len(ubigeos) + 1)
    rng = np.random.default_rng(seeds[-1])
    hour = rng.choice(24, size=n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    seconds = day_s + hour * 3600 + rng.integers(0, 60, n) * 60

    # Subtypes: one vectorised draw per category.
    sub_names: list[str] = []
    sub_code = np.empty(n, dtype=np.int32)
    for c, name in enumerate(cat_names):
        where = np.flatnonzero(category == c)
        options = SUBTYPES.get(name, ((name, 1.0),))
        p = np.array([s for _, s in options], dtype=float)
        sub_code[where] = len(sub_names) + rng.choice(len(options), size=len(where), p=p / p.sum())
        sub_names.extend(o for o, _ in options)

    # Points: districts in parallel, each with its own seed, so threads do not change results.
    order = np.argsort(district, kind="stable")
    bounds = np.searchsorted(district[order], np.arange(len(ubigeos) + 1))
    lon = np.empty(n)
    lat = np.empty(n)
    geoms = _sampling_geometries(districts.geometry.to_numpy())

    def draw(i: int) -> None:
        a, b = bounds[i], bounds[i + 1]
        if b > a:
            x, y = _sample_in_polygon(geoms[i], b - a, np.random.default_rng(seeds[i]), hotspot_share, n_hotspots)
            lon[order[a:b]], lat[order[a:b]] = x, y

    jobs = sorted(range(len(ubigeos)), key=lambda i: bounds[i] - bounds[i + 1])
    with ThreadPoolExecutor(max_workers=workers or min(2, os.cpu_count() or 1)) as pool:
        list(pool.map(draw, jobs))

    names = _police_names(districts)
    by_time = np.argsort(seconds, kind="stable")
    district, category, sub_code = district[by_time], category[by_time], sub_code[by_time]
    times = pa.array(seconds[by_time].astype("datetime64[s]"))
    ids = pc.binary_join_element_wise(f"S{seed}-", pc.utf8_lpad(pa.array(np.arange(1, n + 1)).cast(pa.string()), 9, "0"), "")
    table = pa.table({
        "id_denuncia": ids,
        # Arrow's cast writes "YYYY-MM-DD HH:MM:SS" for timestamp[s], 30x faster than strftime.
        "fecha_hora_hecho": times.cast(pa.string()),
        "lat_hecho": lat[by_time],
        "long_hecho": lon[by_time],
        "tipo_hecho": _dictionary_strings(category, list(cat_names)),
        "subtipo_hecho": _dictionary_strings(sub_code, sub_names),
        "departamento_hecho": _dictionary_strings(district, names["department"]),
        "provincia_hecho": _dictionary_strings(district, names["province"]),
        "distrito_hecho": _dictionary_strings(district, names["name"]),
        "ubigeo_hecho": pa.array(_police_ubigeo(ubigeos)[district]),
    })
    return table.to_pandas()


# --------------------------------------------------------------------------- SIDPOL


def _sidpol_department(ubigeo: str, department: str) -> str:
    # SIDPOL splits Lima department and names Callao as the constitutional province.
    if ubigeo.startswith("1501"):
        return "LIMA METROPOLITANA"
    if ubigeo.startswith("15"):
        return "REGION LIMA"
    if ubigeo.startswith("07"):
        return "PROV. CONST. DEL CALLAO"
    return department


def sidpol_frame(counts: pd.DataFrame, districts: pd.DataFrame) -> pd.DataFrame:
    """District-month rows in the SIDPOL open-data format from daily ``counts``.

    Columns :data:`SIDPOL_COLUMNS`; ``UBIGEO_HECHO`` is an integer as SIDPOL writes it,
    ``P_MODALIDADES`` the category; only months with incidents appear, so the
    ``cantidad`` total equals the counts' total.

    >>> c = pd.DataFrame({"ubigeo": ["070106"] * 2, "day": pd.to_datetime(["2023-01-05", "2023-01-20"]),
    ...                   "category": ["ROBO"] * 2, "n": [2, 3]})
    >>> d = pd.DataFrame({"ubigeo": ["070106"], "name": ["Ventanilla"], "province": ["Callao"], "department": ["Callao"]})
    >>> sidpol_frame(c, d).to_dict("records")[0]
    {'ANIO': 2023, 'MES': 1, 'DPTO_HECHO_NEW': 'PROV. CONST. DEL CALLAO', 'PROV_HECHO': 'CALLAO', 'DIST_HECHO': 'VENTANILLA', 'UBIGEO_HECHO': 70106, 'P_MODALIDADES': 'ROBO', 'cantidad': 5}
    """
    if "day" not in counts:
        raise HexwatchError("sidpol_frame needs daily counts: call simulate_counts(..., freq='D')")
    nz = counts[counts["n"] > 0]
    day = nz["day"].dt
    monthly = (nz.assign(ANIO=day.year.astype(np.int64), MES=day.month.astype(np.int64))
               .groupby(["ubigeo", "ANIO", "MES", "category"], as_index=False, sort=True)["n"].sum())
    ubigeos = _ubigeos(districts)
    names = _police_names(districts)
    departments = [_sidpol_department(u, d) for u, d in zip(ubigeos, names["department"])]
    row = _district_rows(monthly["ubigeo"], ubigeos)
    return pd.DataFrame({
        "ANIO": monthly["ANIO"], "MES": monthly["MES"],
        "DPTO_HECHO_NEW": np.asarray(departments, dtype=object)[row],
        "PROV_HECHO": np.asarray(names["province"], dtype=object)[row],
        "DIST_HECHO": np.asarray(names["name"], dtype=object)[row],
        "UBIGEO_HECHO": _police_ubigeo(ubigeos)[row], "P_MODALIDADES": monthly["category"],
        "cantidad": monthly["n"].astype(np.int64),
    })


# --------------------------------------------------------------------------- files and store


def write_parquet(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``frame`` as Parquet (zstd) atomically: a crash leaves no half-written file."""
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink, compression="zstd")
    atomic_write_bytes(path, sink.getvalue().to_pybytes())
    return Path(path)


def write_sidpol_csv(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write SIDPOL rows as the open dataset ships them (UTF-8 with BOM), atomically."""
    sink = pa.BufferOutputStream()
    pacsv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), sink,
                    pacsv.WriteOptions(quoting_style="needed"))
    atomic_write_bytes(path, b"\xef\xbb\xbf" + sink.getvalue().to_pybytes())
    return Path(path)


def truth_summary(truth: Mapping[str, Any]) -> str:
    """What was injected, one line per spell, for people (the CLI prints it).

    >>> print(truth_summary({"n_incidents": 10, "seed": 1, "start": "2023-01-01", "end": "2023-12-31",
    ...     "effects": {"DS-001-2023-PCM": {"declared": -0.1, "adjacent": 0.03}},
    ...     "spells": {"DS-001-2023-PCM": {"start": "2023-03-01", "end": "2023-03-31", "treated": ["990101"],
    ...                "adjacent": ["990102"], "declared_district_days": 31, "adjacent_district_days": 31}}}))
    SYNTHETIC demo data — not real incidents: 10 incidents, seed 1, 2023-01-01 to 2023-12-31
    injected effects (relative change while declared):
      DS-001-2023-PCM  2023-03-01 to 2023-03-31  declared -10.0% in 1 districts (31 district-days); adjacent +3.0% in 1 districts (31 district-days)
    """
    lines = [f"{DATASET_LABEL}: {truth['n_incidents']:,} incidents, seed {truth['seed']}, "
             f"{truth['start']} to {truth['end']}", "injected effects (relative change while declared):"]
    for spell_id, s in truth["spells"].items():
        e = truth["effects"][spell_id]
        lines.append(f"  {spell_id}  {s['start']} to {s['end']}  declared {e['declared']:+.1%} in {len(s['treated'])} "
                     f"districts ({s['declared_district_days']:,} district-days); adjacent {e['adjacent']:+.1%} in "
                     f"{len(s['adjacent'])} districts ({s['adjacent_district_days']:,} district-days)")
    if not truth["spells"]:
        lines.append("  none: no spell of the registry falls on these districts and dates")
    return "\n".join(lines)


def _same_demo(meta: Mapping[str, Any], truth: Mapping[str, Any]) -> bool:
    """Whether a store's metadata describes the demo that ``truth`` describes."""
    recorded = {k: v for k, v in meta.get("demo", {}).items() if k != "inputs"}
    return bool(meta.get("synthetic")) and recorded == orjson.loads(orjson.dumps(dict(truth)))


def build_demo_store(
    store: str | os.PathLike,
    config: DemoConfig,
    *,
    boundaries: gpd.GeoDataFrame | None = None,
    registry: Registry | None = None,
    workdir: str | os.PathLike | None = None,
    progress: bool = False,
):
    """Build a store of synthetic data: simulate, write the input files, ingest them.

    Simulates daily counts and their points over ``boundaries`` (default:
    :func:`default_districts` of ``config.area``) with the spells of ``registry``
    (default: :meth:`Registry.load`), writes a MININTER-format Parquet file and a SIDPOL
    district-month CSV of the same counts into ``workdir`` (default ``STORE/demo-input``),
    and ingests both with :func:`geo.ingest.ingest_file`. Every version of the store
    carries ``meta["synthetic"] = True``, ``meta["dataset"] = DATASET_LABEL`` and
    ``meta["demo"]`` (the ``truth`` of :func:`simulate_counts`: seed, effects per
    spell, treated and adjacent districts, the config).

    Returns the :class:`geo.ingest.IngestReport` of the points. A folder that already
    holds a store is refused, so synthetic rows never mix with real ones or with another
    demo — unless it holds this very demo (same ``truth``): then the build runs again and,
    ingest being idempotent, completes an interrupted build or adds nothing.
    """
    from geo import ingest
    from geo.store import Store, StoreError

    root = Path(store)
    try:
        existing = Store.open(root).meta
    except StoreError:
        existing = None
    districts = default_districts(config.area) if boundaries is None else boundaries
    registry = Registry.load() if registry is None else registry
    counts, truth = simulate_counts(config, districts, registry)
    if existing is not None and not _same_demo(existing, truth):
        raise HexwatchError(f"{root} already holds a store with other data; build the demo into a new folder "
                            f"(or delete this one)")
    work = Path(workdir) if workdir is not None else root / "demo-input"
    points = simulate_points(counts, districts, config.seed)
    mininter = write_parquet(points, work / f"mininter_synthetic_seed{config.seed}.parquet")
    del points
    sidpol = write_sidpol_csv(sidpol_frame(counts, districts), work / f"sidpol_synthetic_seed{config.seed}.csv")
    del counts
    meta = {"synthetic": True, "dataset": DATASET_LABEL,
            "demo": {**truth, "inputs": {"mininter": str(mininter), "sidpol": str(sidpol)}}}
    # SIDPOL first, so the points' report (returned, printed) describes the finished store.
    ingest.ingest_file(sidpol, root, kind="sidpol", progress=progress, meta_updates=meta)
    return ingest.ingest_file(mininter, root, kind="mininter", boundaries=districts, progress=progress, meta_updates=meta)
