"""Administrative boundaries: fetch, verify, cache and load them as GeoDataFrames.

Peru's boundaries come from three public upstream files listed in
``data/boundaries/manifest.toml`` (URL pinned to a commit, sha256, licence, field
mapping). :func:`fetch` takes each from a mirror folder or downloads it, refuses any
file whose sha256 differs, and writes GeoParquet tables into a cache folder keyed by
the manifest, so a second fetch is instant and loading takes milliseconds:

- ``districts``: the 1,891 districts of Peru (mapsPERU, simplified geometry);
- ``provinces``: the 196 provinces;
- ``lima_callao``: the 50 districts of Lima province and Callao in high detail (IGN),
  joined to their ubigeo by name;
- ``study_districts``: ``districts`` with those 50 replaced by the high-detail ones.

Every table is in EPSG:4326 with valid ``MultiPolygon`` geometries, one row per unit,
sorted by code. The loaders raise :class:`BoundaryError` until :func:`fetch` has run.
Any other city works through :func:`read_boundary_file` and the user's own file.

Example
-------
>>> import geopandas as gpd, shapely
>>> squares = gpd.GeoDataFrame({"ubigeo": ["a", "b", "c"]}, crs="EPSG:4326",
...     geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(5, 5, 6, 6)])
>>> adjacency(squares)
{'a': {'b'}, 'b': {'a'}, 'c': set()}
>>> normalise_name(["San Martín  de Porres", "Breña"])
['SAN MARTIN DE PORRES', 'BRENA']
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import threading
import tomllib
import uuid
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

from geo import pinned
from geo.errors import HexwatchError
from geo.store import atomic_write_bytes

#: Columns of every district table, in this order.
DISTRICT_COLUMNS = ("ubigeo", "name", "province", "department", "province_code", "geometry")
#: Columns of the province table, in this order.
PROVINCE_COLUMNS = ("province_code", "name", "department", "geometry")
#: Coordinate reference system of every table this module returns.
CRS = "EPSG:4326"
#: Equal-area projection (valid worldwide) used for areas in km².
AREA_CRS = "EPSG:6933"
#: Tables that :func:`fetch` writes, by name.
TABLES = ("districts", "provinces", "lima_callao", "study_districts")

# Bump when the derivation below changes, so caches built by older code are rebuilt.
_DERIVATION_VERSION = 1
# sf classes the rdata converter must hand back untouched (we build geometry ourselves);
# `crs` and `bbox` are dropped: the manifest states the CRS.
_SF_PASSTHROUGH = ("sfc_MULTIPOLYGON", "sfc", "MULTIPOLYGON", "XY", "sfg", "crs", "bbox")
_METRES_PER_DEGREE = 111_320.0


class BoundaryError(HexwatchError):
    """Boundaries are missing, damaged or unreadable; the message says what to do."""


# --- where things are ------------------------------------------------------------


def _checkout_root() -> Path | None:
    """The project root when running from a source checkout, else ``None`` (a wheel)."""
    return pinned.checkout_root("data/boundaries/manifest.toml")


def load_manifest() -> dict[str, Any]:
    """The boundary manifest: ``data/boundaries/manifest.toml`` in a checkout, else the
    copy bundled in the wheel. Its ``sources`` table maps each source name to its
    ``file``, ``url``, ``sha256``, ``licence``, ``format`` and ``fields``."""
    root = _checkout_root()
    if root is not None:
        text = (root / "data" / "boundaries" / "manifest.toml").read_text(encoding="utf-8")
    else:
        text = resources.files("geo").joinpath("_data/boundaries_manifest.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def default_cache_dir() -> Path:
    """``$HEXWATCH_CACHE_DIR``, else ``data/boundaries/cache`` in a checkout (git-ignored),
    else ``~/.cache/hexwatch/boundaries``."""
    env = os.environ.get("HEXWATCH_CACHE_DIR")
    if env:
        return Path(env)
    root = _checkout_root()
    return root / "data" / "boundaries" / "cache" if root else Path.home() / ".cache" / "hexwatch" / "boundaries"


def default_mirror() -> Path | None:
    """``$HEXWATCH_BOUNDARY_MIRROR``, else ``<project root>/../shared/boundaries`` when it
    exists, else ``None`` (download)."""
    env = os.environ.get("HEXWATCH_BOUNDARY_MIRROR")
    if env:
        return Path(env)
    root = _checkout_root()
    if root is not None and (root.parent / "shared" / "boundaries").is_dir():
        return root.parent / "shared" / "boundaries"
    return None


def _set_key(manifest: Mapping[str, Any]) -> str:
    # Everything that shapes the derived tables goes into the key; URLs and licences
    # do not (a moved mirror must not invalidate a verified cache).
    shaping = {name: {k: v for k, v in src.items() if k not in ("url", "licence")}
               for name, src in sorted(manifest["sources"].items())}
    blob = orjson.dumps({"v": _DERIVATION_VERSION, "sources": shaping}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(blob).hexdigest()[:16]


def cache_path(cache_dir: str | os.PathLike | None = None) -> Path:
    """The boundary cache folder: ``cache_dir`` if given, else :func:`default_cache_dir`
    (may not exist yet). Fetched tables go in a ``peru-<manifest key>`` folder inside."""
    return Path(cache_dir) if cache_dir is not None else default_cache_dir()


def _set_dir(cache_dir: str | os.PathLike | None, manifest: Mapping[str, Any]) -> Path:
    return cache_path(cache_dir) / f"peru-{_set_key(manifest)}"


# --- fetch -----------------------------------------------------------------------


def fetch(*, mirror: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
          force: bool = False) -> dict[str, Path]:
    """Fetch the manifest's boundary files, verify them and cache them as GeoParquet.

    Each file is read from ``mirror`` (argument, else ``$HEXWATCH_BOUNDARY_MIRROR``, else
    ``../shared/boundaries`` beside the project when it exists) or downloaded from its
    pinned URL. Every file's sha256 is checked before anything is derived: a mismatch
    raises :class:`BoundaryError` and leaves the cache untouched. The tables are written
    to a fresh folder that is renamed into place, so a crash leaves no half cache.

    Returns ``{table name: GeoParquet path}`` for :data:`TABLES`. When the cache for
    this manifest is complete and ``force`` is false, returns at once without reading
    the sources.
    """
    manifest = load_manifest()
    target = _set_dir(cache_dir, manifest)
    paths = {name: target / f"{name}.parquet" for name in TABLES}
    if not force and all(p.is_file() for p in paths.values()):
        return paths
    explicit = mirror is not None or bool(os.environ.get("HEXWATCH_BOUNDARY_MIRROR"))
    mirror_dir = Path(mirror) if mirror is not None else default_mirror()
    raw = {name: _obtain(src, mirror_dir, strict=explicit) for name, src in manifest["sources"].items()}
    tables = derive_tables(raw, manifest)
    provenance = {name: {k: src[k] for k in ("file", "url", "sha256", "licence")}
                  for name, src in manifest["sources"].items()}
    _write_set(target, tables, {"key": target.name, "sources": provenance})
    return paths


def _obtain(src: Mapping[str, Any], mirror: Path | None, *, strict: bool) -> bytes:
    """The verified bytes of one source, from the mirror or the network."""
    return pinned.obtain(src, mirror, strict=strict, error=BoundaryError, manifest="data/boundaries/manifest.toml")


def _write_set(target: Path, tables: Mapping[str, gpd.GeoDataFrame], provenance: Mapping[str, Any]) -> None:
    """Write the tables into a private folder, then rename it to ``target`` in one step."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.partial"
    tmp.mkdir()
    try:
        for name, frame in tables.items():
            buf = io.BytesIO()
            frame.to_parquet(buf, index=False, compression="zstd")
            atomic_write_bytes(tmp / f"{name}.parquet", buf.getvalue())
        atomic_write_bytes(tmp / "sources.json", orjson.dumps(provenance, option=orjson.OPT_INDENT_2))
        stale = target.parent / f".{target.name}.{uuid.uuid4().hex}.old"
        try:
            os.rename(target, stale)  # force=True: move the old set aside first
        except FileNotFoundError:
            pass
        try:
            os.rename(tmp, target)
        except OSError:
            # A concurrent fetch put the same tables there first; keep theirs.
            if not all((target / f"{name}.parquet").is_file() for name in tables):
                raise
            _remove_tree(tmp)
        _remove_tree(stale)
    except BaseException:
        _remove_tree(tmp)
        raise


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# --- derive ----------------------------------------------------------------------


def derive_tables(raw: Mapping[str, bytes], manifest: Mapping[str, Any]) -> dict[str, gpd.GeoDataFrame]:
    """Build the :data:`TABLES` from the verified upstream bytes (pure: no I/O)."""
    sources = manifest["sources"]
    districts = _read_source(raw["districts"], sources["districts"], DISTRICT_COLUMNS, key="ubigeo")
    provinces = _read_source(raw["provinces"], sources["provinces"], PROVINCE_COLUMNS, key="province_code")
    lima_callao = _join_high_detail(_read_geojson(raw["lima_callao"], sources["lima_callao"]), districts,
                                    sources["lima_callao"])
    return {"districts": districts, "provinces": provinces, "lima_callao": lima_callao,
            "study_districts": replace_geometry(districts, lima_callao)}


def _read_source(data: bytes, src: Mapping[str, Any], columns: tuple[str, ...], *, key: str) -> gpd.GeoDataFrame:
    frame = read_rda_sf(data, src["object"])
    missing = [f for f in src["fields"].values() if f not in frame.columns]
    if missing:
        raise BoundaryError(f"{src['file']} lacks the fields {missing}; fix `fields` in data/boundaries/manifest.toml")
    out = pd.DataFrame({ours: frame[theirs].astype("str").to_numpy() for ours, theirs in src["fields"].items()})
    gdf = gpd.GeoDataFrame(out, geometry=frame.geometry.to_numpy(), crs=src["crs"])
    gdf = gdf[[c for c in columns if c in gdf.columns]]
    _check_rows(gdf, src, key)
    return gdf.sort_values(key, ignore_index=True)


def _check_rows(gdf: gpd.GeoDataFrame, src: Mapping[str, Any], key: str) -> None:
    if len(gdf) != src.get("expected_rows", len(gdf)) or gdf[key].duplicated().any():
        raise BoundaryError(f"{src['file']} gave {len(gdf)} rows ({gdf[key].nunique()} distinct {key}), expected "
                            f"{src['expected_rows']}; the manifest and the file disagree")


def read_rda_sf(data: bytes, object_name: str) -> gpd.GeoDataFrame:
    """Read an R ``sf`` data frame of multipolygons from the bytes of an ``.rda`` file.

    Non-geometry columns keep their R values; ``geometry`` holds valid shapely
    ``MultiPolygon`` objects (no CRS is set: the caller knows it).
    """
    import rdata

    classes = dict(rdata.conversion.DEFAULT_CLASS_MAP)
    classes.update({cls: _keep for cls in _SF_PASSTHROUGH})
    # sf frames are also tibbles; a tibble is a data.frame for our purposes.
    classes.update({cls: classes["data.frame"] for cls in ("tbl_df", "tbl")})
    try:
        parsed = rdata.parser.parse_data(data)
        objects = rdata.conversion.SimpleConverter(constructor_dict=classes).convert(parsed)
    except Exception as exc:  # rdata raises bare ValueErrors/NotImplementedErrors on odd files
        raise BoundaryError(f"cannot read the R data file ({type(exc).__name__}: {exc})") from None
    if object_name not in objects:
        raise BoundaryError(f"the R data file holds {sorted(objects)}, not {object_name!r}; fix `object` in the manifest")
    frame = objects[object_name].reset_index(drop=True)
    geometry = _multipolygons_from_sf(frame["geometry"].tolist())
    return gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=geometry)


def _keep(obj: Any, attrs: Any) -> Any:
    return obj


def _multipolygons_from_sf(features: list) -> np.ndarray:
    """sf MULTIPOLYGONs (feature -> polygons -> rings, each ring an n x 2 matrix) to shapely.

    The rings are concatenated once and handed to ``shapely.from_ragged_array``, which
    builds every geometry in C.
    """
    polygons = [polygon for feature in features for polygon in feature]
    rings = [np.asarray(ring, dtype=np.float64).reshape(-1, 2) for polygon in polygons for ring in polygon]
    offsets = (
        np.concatenate([[0], np.cumsum([len(r) for r in rings])]),
        np.concatenate([[0], np.cumsum([len(p) for p in polygons])]),
        np.concatenate([[0], np.cumsum([len(f) for f in features])]),
    )
    geoms = shapely.from_ragged_array(shapely.GeometryType.MULTIPOLYGON, np.ascontiguousarray(np.concatenate(rings)), offsets)
    return valid_multipolygons(geoms)


def valid_multipolygons(geoms: Iterable) -> np.ndarray:
    """Valid ``MultiPolygon`` per input geometry (``None`` where nothing polygonal is left).

    Invalid geometries are repaired with ``shapely.make_valid`` (structure method, so a
    polygon stays a polygon); non-polygonal parts (points, lines) are dropped.

    >>> bowtie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    >>> fixed = valid_multipolygons([bowtie])[0]
    >>> fixed.geom_type, fixed.is_valid, round(fixed.area, 6)
    ('MultiPolygon', True, 2.0)
    """
    geoms = np.asarray(geoms, dtype=object)
    geoms = geoms.copy()
    present = ~shapely.is_missing(geoms)
    broken = present & ~shapely.is_valid(np.where(present, geoms, None))
    if broken.any():
        geoms[broken] = shapely.make_valid(geoms[broken], method="structure", keep_collapsed=False)
    parts, index = shapely.get_parts(geoms, return_index=True)
    polygonal = shapely.get_type_id(parts) == shapely.GeometryType.POLYGON
    polygonal &= ~shapely.is_empty(parts)
    out = np.full(len(geoms), None, dtype=object)
    if polygonal.any():
        shapely.multipolygons(parts[polygonal], indices=index[polygonal], out=out)
    return out


def _read_geojson(data: bytes, src: Mapping[str, Any]) -> gpd.GeoDataFrame:
    gdf = gpd.read_file(io.BytesIO(data), engine="pyogrio")
    if gdf.crs is None:
        gdf = gdf.set_crs(src["crs"])
    gdf = gdf.to_crs(CRS)
    gdf["geometry"] = valid_multipolygons(gdf.geometry.to_numpy())
    _check_rows(gdf, src, src["fields"]["name"])
    return gdf


def normalise_name(names: Iterable[str]) -> list[str]:
    """Names as keys for joining: upper case, accents stripped, runs of spaces collapsed.

    Police files write district names this way (``SAN MARTIN DE PORRES``).
    """
    s = pd.Series(list(names), dtype="str")
    s = s.str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii")
    return s.str.upper().str.split().str.join(" ").tolist()


def _join_high_detail(hd: gpd.GeoDataFrame, districts: gpd.GeoDataFrame, src: Mapping[str, Any]) -> gpd.GeoDataFrame:
    """Give each high-detail feature the ubigeo of the district it names, and that
    district's attributes; only districts of ``join_province_codes`` are candidates."""
    names = hd[src["fields"]["name"]].astype("str").replace(src.get("name_fixes", {}))
    keys = normalise_name(names)
    pool = districts[districts["province_code"].isin(src["join_province_codes"])]
    pool_keys = pd.Series(normalise_name(pool["name"]), index=pool.index)
    if pool_keys.duplicated().any():
        raise BoundaryError(f"district names repeat within {src['join_province_codes']}: "
                            f"{sorted(set(pool_keys[pool_keys.duplicated()]))}; the name join is ambiguous")
    ubigeo = pd.Series(keys).map(dict(zip(pool_keys, pool["ubigeo"])))
    if ubigeo.isna().any():
        unmatched = sorted(names[ubigeo.isna().to_numpy()])
        raise BoundaryError(f"{src['file']}: no district of {src['join_province_codes']} is named {unmatched}; "
                            f"add them to [sources.lima_callao.name_fixes] in the manifest")
    if ubigeo.duplicated().any():
        raise BoundaryError(f"{src['file']}: several features name {sorted(set(ubigeo[ubigeo.duplicated()]))}")
    attrs = districts.drop(columns="geometry").set_index("ubigeo").loc[ubigeo.to_numpy()].reset_index()
    out = gpd.GeoDataFrame(attrs, geometry=hd.geometry.to_numpy(), crs=CRS)
    return out[list(DISTRICT_COLUMNS)].sort_values("ubigeo", ignore_index=True)


def replace_geometry(districts: gpd.GeoDataFrame, better: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``districts`` with the geometry of every ubigeo in ``better`` taken from ``better``.

    Rows and their order are those of ``districts``; other columns are unchanged.
    """
    out = districts.copy()
    replacement = better.set_index("ubigeo").geometry
    hit = out["ubigeo"].isin(replacement.index).to_numpy()
    out.loc[hit, "geometry"] = replacement.loc[out.loc[hit, "ubigeo"].to_numpy()].to_numpy()
    return out


# --- load ------------------------------------------------------------------------


def _load(name: str, cache_dir: str | os.PathLike | None) -> gpd.GeoDataFrame:
    target = _set_dir(cache_dir, load_manifest())
    path = target / f"{name}.parquet"
    if not path.is_file():
        raise BoundaryError(f"boundaries are not fetched into {target.parent}: run `hexwatch boundaries fetch` "
                            f"(or set HEXWATCH_CACHE_DIR to a folder where they were fetched)")
    gdf = gpd.read_parquet(path)
    gdf.attrs["boundary_set"] = f"{name}@{target.name}"
    return gdf


def load_districts(cache_dir: str | os.PathLike | None = None) -> gpd.GeoDataFrame:
    """The 1,891 districts of Peru: ``ubigeo, name, province, department, province_code,
    geometry`` (EPSG:4326, valid MultiPolygons), sorted by ubigeo.

    ``.attrs["boundary_set"]`` names the table and its cache key (for store metadata).
    Raises :class:`BoundaryError` until ``hexwatch boundaries fetch`` has run.
    """
    return _load("districts", cache_dir)


def load_provinces(cache_dir: str | os.PathLike | None = None) -> gpd.GeoDataFrame:
    """The 196 provinces of Peru: ``province_code, name, department, geometry``."""
    return _load("provinces", cache_dir)


def load_lima_callao(cache_dir: str | os.PathLike | None = None) -> gpd.GeoDataFrame:
    """The 50 districts of Lima province and Callao in high detail, with the district
    columns (attributes from the district table, matched by name)."""
    return _load("lima_callao", cache_dir)


def load_study_districts(cache_dir: str | os.PathLike | None = None) -> gpd.GeoDataFrame:
    """Every district of Peru with the best geometry at hand: the 50 Lima/Callao
    high-detail districts replace their simplified counterparts.

    Where the two sources disagree along the Lima/Callao edge, a sliver may lie in a
    high-detail district and its simplified neighbour at once; rows are sorted by
    ubigeo so :func:`geo.locate.assign_districts` (first row wins) gives it to Lima or
    Callao, whose codes sort first among their neighbours.
    """
    return _load("study_districts", cache_dir)


# --- user files ------------------------------------------------------------------


def read_boundary_file(
    path: str | os.PathLike,
    *,
    id_field: str | Sequence[str],
    name_field: str | Sequence[str] | None = None,
    province_field: str | None = None,
    department_field: str | None = None,
    province_code_field: str | None = None,
    layer: str | int | None = None,
    crs: str | None = None,
) -> gpd.GeoDataFrame:
    """Districts from a user's own GeoJSON, GeoPackage or Shapefile (any city).

    ``id_field`` becomes ``ubigeo`` (as text), ``name_field`` becomes ``name`` (the id
    when not given). Either may be several fields (a sequence, or names separated by
    commas: ``"borough,name"``) when one alone does not identify an area, e.g.
    neighbourhood names that repeat across boroughs: their values are joined with
    :data:`ID_JOINER` (``"Brooklyn / Chelsea"``). The other ``*_field`` arguments fill their columns, else they are
    empty. ``crs`` is assumed only when the file declares none. The result has the
    district columns, EPSG:4326, valid MultiPolygons, in file order.

    Raises :class:`BoundaryError` when the file cannot be read, a field is missing, or
    ids are empty or repeated, or a feature has no polygon.
    """
    path = Path(path)
    if not path.exists():
        raise BoundaryError(f"boundary file {path} does not exist")
    try:
        gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as exc:  # pyogrio's DataSourceError and friends
        raise BoundaryError(f"cannot read {path} as GeoJSON, GeoPackage or Shapefile: "
                            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    id_fields = _fields(id_field, gdf.columns)
    name_fields = _fields(name_field, gdf.columns) if name_field else id_fields
    mapping = {"province": province_field, "department": department_field, "province_code": province_code_field}
    available = [c for c in gdf.columns if c != gdf.geometry.name]
    missing = [f for f in [*id_fields, *name_fields, *mapping.values()] if f is not None and f not in gdf.columns]
    if missing:
        raise BoundaryError(f"{path.name} has no field {missing[0]!r}; its fields are: {', '.join(available)}")
    if gdf.crs is None:
        if crs is None:
            raise BoundaryError(f"{path.name} does not say its coordinate system; pass crs='EPSG:...' (e.g. EPSG:4326)")
        gdf = gdf.set_crs(crs)
    gdf = gdf.to_crs(CRS)
    parts = [gdf[f].astype("str").str.strip() for f in id_fields]
    empty = np.logical_or.reduce([(p.isna() | (p == "") | (p.str.lower() == "nan")).to_numpy() for p in parts])
    label = " + ".join(repr(f) for f in id_fields)
    if empty.any():
        raise BoundaryError(f"{path.name}: {int(empty.sum())} features have no {label}; fill them in or drop them")
    ids = _join(parts)
    if ids.duplicated().any():
        hint = "" if len(id_fields) > 1 else "; or give several fields that together identify each area " \
            "(--boundary-id-field borough,name)"
        raise BoundaryError(f"{path.name}: {label} repeats {sorted(set(ids[ids.duplicated()]))[:5]}; "
                            f"ids must be unique (merge the parts of each area first{hint})")
    geometry = valid_multipolygons(gdf.geometry.to_numpy())
    if shapely.is_missing(geometry).any():
        bad = ids[shapely.is_missing(geometry)].tolist()
        raise BoundaryError(f"{path.name}: features {bad[:5]} have no polygon geometry; fix or remove them")
    out = pd.DataFrame({"ubigeo": ids.to_numpy(),
                        "name": _join([gdf[f].astype("str").str.strip() for f in name_fields]).to_numpy()})
    for col, field in mapping.items():
        out[col] = gdf[field].astype("str").to_numpy() if field else pd.array([None] * len(gdf), dtype="str")
    result = gpd.GeoDataFrame(out, geometry=geometry, crs=CRS)
    result.attrs["boundary_set"] = f"file:{path.name}"
    return result


#: What joins the values of several id (or name) fields into one id.
ID_JOINER = " / "


def _fields(spec: str | Sequence[str], columns) -> list[str]:
    """Field names from one name, a comma-separated list or a sequence (a name that is
    itself a column is taken whole, commas and all)."""
    if not isinstance(spec, str):
        return [str(f).strip() for f in spec]
    if spec in columns or "," not in spec:
        return [spec]
    return [f.strip() for f in spec.split(",") if f.strip()]


def _join(parts: list[pd.Series]) -> pd.Series:
    out = parts[0]
    for p in parts[1:]:
        out = out + ID_JOINER + p
    return out


# --- derived facts ---------------------------------------------------------------


_ADJACENCY_LOCK = threading.Lock()


def adjacency(districts: gpd.GeoDataFrame, *, tolerance_m: float = 10.0) -> dict[str, set[str]]:
    """Neighbours of each district: ``{ubigeo: {ubigeos within tolerance_m}}``.

    Two districts are neighbours when their geometries come within ``tolerance_m``
    metres (converted at 111,320 m per degree), so slivers and hairline gaps between
    sources do not break a shared border; touching at a single corner counts. The
    relation is symmetric and no district is its own neighbour.
    """
    gdf = districts.to_crs(CRS) if districts.crs is not None and districts.crs != CRS else districts
    geoms = gdf.geometry.to_numpy()
    ids = gdf["ubigeo"].astype("str").to_numpy(dtype=object)
    # The tree query prepares the (often shared, cached) polygons in place; two threads
    # doing so at once crashed a dashboard worker, so one query runs at a time.
    with _ADJACENCY_LOCK:
        left, right = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=tolerance_m / _METRES_PER_DEGREE)
    pairs = pd.DataFrame({"a": ids[left], "b": ids[right]})
    pairs = pairs[pairs["a"] != pairs["b"]]
    neighbours = pairs.groupby("a")["b"].agg(set).to_dict()
    return {u: neighbours.get(u, set()) for u in ids}


def area_km2(districts: gpd.GeoDataFrame) -> pd.Series:
    """Area of each district in km², computed in an equal-area projection (EPSG:6933);
    indexed like ``districts``.

    >>> import geopandas as gpd, shapely
    >>> deg = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:4326")
    >>> round(float(area_km2(deg).iloc[0]))  # one degree square at the equator
    12308
    """
    return (districts.geometry.to_crs(AREA_CRS).area / 1e6).rename("area_km2")
