"""The areas a store offers: named from the boundaries it was ingested with, not from code.

Whatever boundaries located a store's points (Peru's districts, a user's own file, or
none) decide which areas the dashboard, exports and embeds offer, their names,
outlines and extents. Ingest keeps the boundary polygons in the store (table
``boundaries``) and says which set they are in ``meta["boundary_set"]``, so a store
copied to another machine needs no boundary cache and no original file.

Area ids (``View.area``, ``--area``) are text:

=============== ============================================================
``all``         everything in the store (no filter; points outside every
                district included)
``lima_callao`` a named **group** of districts: for Peru's boundaries from
                ``data/boundaries/areas.csv`` (Peru's metro areas), for any
                store from ``meta["area_groups"]``
``province:X``  the districts of one province (borough), by code or name
``district:X``  one district (neighbourhood), by its id
=============== ============================================================

Only districts that hold data are offered for a national set such as Peru's (1,891
districts, most empty in a city's store); a user's own file is offered whole (they
drew it for their city).

Example
-------
>>> import geopandas as gpd, shapely
>>> d = gpd.GeoDataFrame({"ubigeo": ["A-1", "B-1", "B-2"], "name": ["Centre", "Centre", "Port"],
...                       "province": ["A", "B", "B"], "province_code": ["A", "B", "B"]},
...                      geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(2, 0, 3, 1)],
...                      crs="EPSG:4326")
>>> t = areas_table(d, kind="file", counts={"A-1": 5, "B-1": 2})
>>> t["area"].tolist()
['all', 'province:A', 'province:B', 'district:A-1', 'district:B-1', 'district:B-2']
>>> t.set_index("area").loc["district:B-1", "label"], t.set_index("area").loc["province:B", "ubigeos"]
('Centre (B)', ('B-1', 'B-2'))
"""

from __future__ import annotations

import csv
import io
import re
import threading
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from geo.errors import HexwatchError

#: The area of everything (no filter).
ALL = "all"
#: Kinds of area, in the order :func:`areas_table` lists them.
KINDS = ("all", "group", "province", "district")
#: Columns of :func:`areas_table`.
AREA_COLUMNS = ("area", "kind", "name", "name_en", "label", "south", "west", "north", "east", "ubigeos", "n")
#: Columns of the store's ``boundaries`` table (``geometry`` as WKB).
BOUNDARY_COLUMNS = ("ubigeo", "name", "province", "department", "province_code")
#: Boundary-set kinds (``meta["boundary_set"]["kind"]``).
SET_KINDS = ("peru", "file", "custom", "none")
#: Metres per degree of latitude (simplification tolerances are given in metres).
M_PER_DEGREE = 111_320.0
_AREA_ID = re.compile(r"^[^\x00-\x1f]{1,200}$")
#: Peru's table names as they appear in a boundary-set label (``study_districts@peru-…``).
_PERU_TABLES = ("study_districts", "districts", "lima_callao")


def check_area_id(area: str) -> str:
    """``area`` if it can be an area id (1-200 characters, no control characters)."""
    if not isinstance(area, str) or not _AREA_ID.match(area) or area != area.strip():
        raise HexwatchError(f"area {area!r} is not an area id; use 'all' or an id from the store's areas")
    return area


# --- the boundary set a store was built with ------------------------------------------------


def set_kind(label: str | None) -> str:
    """The kind of a boundary-set label (``meta["boundaries"]``) as ingest writes it.

    >>> set_kind("study_districts@peru-91b6 (58 areas, 1a2b)"), set_kind("file:city.geojson (9 areas, ab)")
    ('peru', 'file')
    >>> set_kind(None), set_kind("none"), set_kind("custom (3 areas, x)")
    ('none', 'none', 'custom')
    """
    if not label or label == "none":
        return "none"
    first = label.split(" + ")[-1]
    if first.startswith("file:"):
        return "file"
    if "@peru-" in first and first.split("@", 1)[0] in _PERU_TABLES:
        return "peru"
    return "custom"


def guess_kind(districts) -> str:
    """The kind of a boundary set handed over in code: from its label when it has one;
    unlabelled ids that are all ubigeos (6 digits) are taken as Peru's."""
    kind = set_kind(districts.attrs.get("boundary_set"))
    if kind in ("custom", "none"):
        ids = districts["ubigeo"].astype(str)
        return "peru" if len(ids) and ids.str.fullmatch(r"\d{6}").all() else "file"
    return kind


def boundary_record(districts, key: str | None = None) -> dict[str, Any]:
    """What ``meta["boundary_set"]`` says about ``districts`` (a GeoDataFrame ingest used)."""
    label = districts.attrs.get("boundary_set", "custom")
    return {"kind": set_kind(label), "label": label, "hash": key, "n_areas": int(len(districts))}


def boundary_set(store) -> dict[str, Any]:
    """``{"kind", "label", "hash", "n_areas"}`` of the boundaries ``store`` was built with
    (``kind`` in :data:`SET_KINDS`; stores from before ``meta["boundary_set"]`` existed are
    read from their ``meta["boundaries"]`` label)."""
    rec = store.meta.get("boundary_set")
    if rec:
        return dict(rec)
    label = store.meta.get("boundaries")
    return {"kind": set_kind(label), "label": label or "none", "hash": None, "n_areas": None}


def peru_like(store) -> bool:
    """Whether ``store`` is of Peru's districts: built with Peru's boundaries, or built
    with none (a SIDPOL counts file ingested before the boundaries were fetched) while
    every district id its tables hold is a six-digit ubigeo."""
    kind = boundary_set(store)["kind"]
    if kind != "none":
        return kind == "peru"
    ids = data_district_ids(store)
    return bool(ids) and all(isinstance(u, str) and len(u) == 6 and u.isdigit() for u in ids)


def data_district_ids(store) -> list[str]:
    """The district ids ``store``'s count tables hold (sorted; none for a store of points
    located in no boundaries)."""
    ids: set = set()
    for table in ("district_month", "cube_district"):
        if store.has(table):
            ids.update(store.read_arrow(table, columns=["ubigeo"]).column("ubigeo").unique().to_pylist())
    ids.discard(None)
    return sorted(ids)


def boundaries_table(districts) -> pa.Table:
    """The store's ``boundaries`` table for ``districts``: the text columns and the
    geometry as WKB (EPSG:4326)."""
    import geopandas as gpd

    frame = gpd.GeoDataFrame(
        {c: (districts[c].astype(object).where(districts[c].notna(), None).to_numpy() if c in districts
             else np.full(len(districts), None, dtype=object)) for c in BOUNDARY_COLUMNS},
        geometry=districts.geometry.to_numpy(), crs=districts.crs or "EPSG:4326").to_crs("EPSG:4326")
    import shapely

    cols = {c: pa.array(frame[c].to_numpy(dtype=object), pa.string()) for c in BOUNDARY_COLUMNS}
    cols["ubigeo"] = pa.array(frame["ubigeo"].astype(str).to_numpy(dtype=object), pa.string())
    cols["geometry"] = pa.array(shapely.to_wkb(frame.geometry.to_numpy()), pa.binary())
    return pa.table(cols)


_BOUNDARIES: dict[tuple, Any] = {}
_LOCK = threading.Lock()


def store_boundaries(store):
    """The boundaries ``store`` was ingested with (GeoDataFrame of :data:`BOUNDARY_COLUMNS`
    and ``geometry``, EPSG:4326), or ``None`` for a store located in no boundaries.

    Read from the store's ``boundaries`` table; a store written before that table existed
    gets Peru's table named by its label from the boundary cache (``None`` when not
    fetched). Cached per store version; do not modify the result.
    """
    key = (str(store.root), store.version)
    with _LOCK:
        if key in _BOUNDARIES:
            return _BOUNDARIES[key]
    gdf = _read_boundaries(store)
    with _LOCK:
        while len(_BOUNDARIES) >= 8:
            _BOUNDARIES.pop(next(iter(_BOUNDARIES)))
        _BOUNDARIES[key] = gdf
    return gdf


def _read_boundaries(store):
    import geopandas as gpd

    rec = boundary_set(store)
    if store.has("boundaries"):
        import shapely

        t = store.read_arrow("boundaries")
        geometry = shapely.from_wkb(t["geometry"].to_numpy(zero_copy_only=False))
        frame = t.drop(["geometry"]).to_pandas()
        gdf = gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326")
        gdf.attrs["boundary_set"] = rec.get("label") or "custom"
        return gdf
    if rec["kind"] != "peru":
        return None
    from geo import boundaries

    table = rec["label"].split(" + ")[-1].split("@", 1)[0]
    try:
        return getattr(boundaries, f"load_{table}")()
    except HexwatchError:  # not fetched on this machine: hexes only
        return None


# --- groups (Peru's metro areas, or the store's own) ------------------------------------------


def _groups_path() -> Path:
    here = Path(__file__).resolve().parent
    checkout = here.parent / "data" / "boundaries" / "areas.csv"
    return checkout if checkout.exists() else here / "_data" / "boundary_areas.csv"


def read_groups(text: str, source: str = "areas.csv") -> list[dict[str, Any]]:
    """Named groups from an areas CSV: ``area, name_es, name_en, boundary_set, provinces,
    districts`` (codes separated by spaces). A province code (``150100``) takes every
    district whose id starts with its first 4 characters (Peru's ubigeo rule).

    >>> read_groups("area,name_es,name_en,boundary_set,provinces,districts\\nx,Equis,Ex,peru,150100,070101\\n")
    [{'area': 'x', 'name': 'Equis', 'name_en': 'Ex', 'boundary_set': 'peru', 'provinces': ['150100'], 'districts': ['070101']}]
    """
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    out = []
    for i, row in enumerate(rows, start=2):
        area = (row.get("area") or "").strip()
        if not area:
            raise HexwatchError(f"{source} line {i}: area is blank")
        if area == ALL or ":" in area:
            raise HexwatchError(f"{source} line {i}: {area!r} cannot name a group ('all' and ids with ':' are taken)")
        out.append({"area": check_area_id(area), "name": (row.get("name_es") or area).strip(),
                    "name_en": (row.get("name_en") or row.get("name_es") or area).strip(),
                    "boundary_set": (row.get("boundary_set") or "").strip(),
                    "provinces": (row.get("provinces") or "").split(), "districts": (row.get("districts") or "").split()})
    return out


def groups_for(store, kind: str | None = None) -> list[dict[str, Any]]:
    """The named groups for ``store``: ``meta["area_groups"]`` when the store has them
    (``[{"area", "name", "name_en", "districts": [...]}]``), else the groups of
    ``data/boundaries/areas.csv`` for its boundary-set kind (Peru's metro areas)."""
    own = store.meta.get("area_groups")
    if own:
        return [{"area": check_area_id(g["area"]), "name": g.get("name", g["area"]),
                 "name_en": g.get("name_en", g.get("name", g["area"])), "provinces": list(g.get("provinces", [])),
                 "districts": list(g.get("districts", []))} for g in own]
    kind = kind or boundary_set(store)["kind"]
    path = _groups_path()
    if not path.is_file():
        return []
    return [g for g in read_groups(path.read_text(encoding="utf-8"), path.name) if g["boundary_set"] == kind]


def group_members(group: Mapping[str, Any], ubigeos: Sequence[str]) -> tuple[str, ...]:
    """The districts of ``ubigeos`` in ``group`` (its districts, and its provinces' by prefix)."""
    prefixes = tuple(p[:4] for p in group.get("provinces", ()))
    listed = set(group.get("districts", ()))
    return tuple(u for u in ubigeos if u in listed or (prefixes and u.startswith(prefixes)))


# --- the areas table ---------------------------------------------------------------------------


def _bbox(geoms) -> tuple[float, float, float, float]:
    import shapely

    w, s, e, n = shapely.total_bounds(np.asarray(geoms, dtype=object))
    return float(s), float(w), float(n), float(e)


def areas_table(districts, *, kind: str = "custom", counts: Mapping[str, int] | None = None,
                groups: Sequence[Mapping[str, Any]] = (), extent_all: tuple[float, float, float, float] | None = None,
                n_all: int | None = None) -> pd.DataFrame:
    """The areas of a boundary set as a table of :data:`AREA_COLUMNS` (pure function).

    ``districts``: the set (``ubigeo, name, province, province_code, geometry``) or None;
    ``kind``: its :data:`SET_KINDS` entry; ``counts``: incidents per district id (which
    districts hold data); ``groups``: named groups (:func:`groups_for`); ``extent_all``:
    the extent of ``all`` (default: the districts'); ``n_all``: incidents in ``all``.
    For a national set (``peru``, ``custom``) only districts holding data are listed;
    a user's file (``file``) is listed whole. Groups and provinces without data are
    left out; a province equal to a group is listed once, as the group.
    """
    counts = dict(counts or {})
    rows: list[dict[str, Any]] = []
    total = int(n_all if n_all is not None else sum(counts.values()))
    if districts is None or len(districts) == 0:
        box = extent_all or (np.nan,) * 4
        rows.append({"area": ALL, "kind": "all", "name": "Todo", "name_en": "All", "label": "Todo",
                     "south": box[0], "west": box[1], "north": box[2], "east": box[3], "ubigeos": (), "n": total})
        return pd.DataFrame(rows, columns=list(AREA_COLUMNS))
    d = drawn_districts(districts, kind=kind, counts=counts)
    ids = d["ubigeo"].astype(str).tolist()
    geoms = d.geometry.to_numpy()
    pos = {u: i for i, u in enumerate(ids)}
    n_of = lambda members: int(sum(counts.get(u, 0) for u in members))  # noqa: E731
    box = extent_all or _bbox(geoms)
    rows.append({"area": ALL, "kind": "all", "name": "Todo", "name_en": "All", "label": "Todo",
                 "south": box[0], "west": box[1], "north": box[2], "east": box[3], "ubigeos": (), "n": total})
    seen_sets: set[frozenset] = set()
    for g in groups:
        members = group_members(g, ids)
        if not members or n_of(members) == 0:
            continue
        seen_sets.add(frozenset(members))
        s, w, n, e = _bbox(geoms[[pos[u] for u in members]])
        rows.append({"area": g["area"], "kind": "group", "name": g["name"], "name_en": g["name_en"],
                     "label": g["name"], "south": s, "west": w, "north": n, "east": e,
                     "ubigeos": members, "n": n_of(members)})
    prov_name = _text(d, "province")
    prov_code = _text(d, "province_code")
    prov_key = np.where(prov_code != "", prov_code, prov_name)
    if (prov_key != "").any():
        for key in pd.unique(prov_key[prov_key != ""]):
            sel = np.flatnonzero(prov_key == key)
            members = tuple(ids[i] for i in sel)
            if frozenset(members) in seen_sets or n_of(members) == 0 or len(set(prov_key)) < 2:
                continue
            s, w, n, e = _bbox(geoms[sel])
            name = prov_name[sel[0]] or key
            rows.append({"area": f"province:{key}", "kind": "province", "name": name, "name_en": name, "label": name,
                         "south": s, "west": w, "north": n, "east": e, "ubigeos": members, "n": n_of(members)})
    names = _text(d, "name")
    names = np.where(names != "", names, np.array(ids, dtype=object))
    repeated = pd.Series(names).duplicated(keep=False).to_numpy()
    bounds = np.asarray([_bbox([g]) for g in geoms]) if len(geoms) else np.zeros((0, 4))
    for i, u in enumerate(ids):
        label = f"{names[i]} ({prov_name[i] or prov_key[i] or u})" if repeated[i] else names[i]
        if repeated[i] and not (prov_name[i] or prov_key[i]):
            label = f"{names[i]} ({u})"
        s, w, n, e = bounds[i]
        rows.append({"area": f"district:{u}", "kind": "district", "name": names[i], "name_en": names[i],
                     "label": label, "south": s, "west": w, "north": n, "east": e, "ubigeos": (u,),
                     "n": int(counts.get(u, 0))})
    return pd.DataFrame(rows, columns=list(AREA_COLUMNS))


def _text(frame, column: str) -> np.ndarray:
    if column not in frame:
        return np.full(len(frame), "", dtype=object)
    s = frame[column].astype(object)
    return s.where(s.notna() & (s.astype(str) != "None"), "").astype(str).to_numpy(dtype=object)


def drawn_districts(districts, *, kind: str, counts: Mapping[str, int]):
    """The districts a store's views use: all of a user's file; of a national set, those
    holding data (sorted as given)."""
    if kind == "file":
        return districts.reset_index(drop=True)
    has = {u for u, n in counts.items() if n}
    return districts.loc[districts["ubigeo"].astype(str).isin(has)].reset_index(drop=True)


def in_area(ubigeos: Sequence[str | None], members: Collection[str] | None) -> np.ndarray:
    """Whether each district id is one of ``members`` (``None`` = the area ``all``: every row).

    >>> in_area(["150132", "200601", None], {"150132"}).tolist(), in_area(["x", None], None).tolist()
    ([True, False, False], [True, True])
    """
    if isinstance(members, str):
        raise TypeError("in_area takes the area's members (geo.views.area_members), not its id")
    n = len(ubigeos)
    if members is None:
        return np.ones(n, dtype=bool)
    return pd.Series(ubigeos, dtype=object).isin(set(members)).to_numpy(dtype=bool)


def members_of(table: pd.DataFrame, area: str) -> frozenset[str] | None:
    """The district ids of ``area`` in an areas table (``None`` for ``all``); an unknown
    area raises a one-line :class:`HexwatchError` listing some known ones."""
    check_area_id(area)
    if area == ALL:
        return None
    hit = table.loc[table["area"] == area]
    if hit.empty:
        offered = [a for a in table["area"] if not a.startswith("district:")][:8]
        raise HexwatchError(f"area {area!r} is not one of this store's areas; use one of {', '.join(offered)}"
                            + (" or district:<id>" if (table["kind"] == "district").any() else ""))
    return frozenset(hit.iloc[0]["ubigeos"])


def simplify(geoms, simplify_m: float | None) -> np.ndarray:
    """Polygons simplified so that no vertex moves more than ``simplify_m`` metres
    (topology of each polygon kept; unchanged when ``None``).

    The tolerance in degrees is ``simplify_m`` over a degree of latitude, the longer
    degree: a move along longitude is shorter in metres still.
    """
    import shapely

    geoms = np.asarray(geoms, dtype=object)
    if not simplify_m:
        return geoms
    return shapely.simplify(geoms, float(simplify_m) / M_PER_DEGREE, preserve_topology=True)
