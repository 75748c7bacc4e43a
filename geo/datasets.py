"""Real data sets: fetch, verify and cache them; say where each layer of a store comes from.

The data sets hexwatch knows are listed in ``data/sources/manifest.toml`` (the wheel
bundles a copy): for each, the upstream file's pinned URL, sha256, size, licence and
attribution, which store layer it fills and how ``hexwatch ingest`` reads it. The
first is ``sidpol``, MININTER's district-month counts of police reports for all of Peru
(ODC-By). :func:`fetch` takes the file from a mirror folder or downloads it
(:func:`geo.pinned.obtain`, the path the boundaries take), refuses a wrong sha256 or
size, and keeps the verified file in a git-ignored cache; the file itself is never
committed.

A store holds two layers that may come from different places: ``points`` (the
``incidents`` table and the cubes made from it) and ``district_month`` (district-month
counts). ``meta["layers"]`` records, per layer, whether it is synthetic and, for a real
one, its data set, licence and attribution; :func:`store_layers` reads it (and gives
older stores, which only had ``meta["synthetic"]``, the same answer for both layers).

>>> store_layers({"synthetic": True, "dataset": "demo"})["district_month"]["synthetic"]
True
>>> lay = store_layers({"synthetic": True, "layers": {"district_month": layer_entry(dataset("sidpol"))}})
>>> lay["points"]["synthetic"], lay["district_month"]["synthetic"], lay["district_month"]["licence"][:6]
(True, False, 'ODC-By')
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from geo import pinned
from geo.errors import HexwatchError
from geo.store import atomic_write_bytes

_MANIFEST = "data/sources/manifest.toml"
#: Store layers and the tables that make each one.
LAYERS: dict[str, tuple[str, ...]] = {"points": ("incidents", "cube_cell", "cube_district"),
                                      "district_month": ("district_month",)}
#: Environment variable naming the mirror folder (holding the files, or a ``<mirror_folder>/`` for each).
MIRROR_ENV = "HEXWATCH_DATA_MIRROR"
#: Environment variable naming the cache folder.
CACHE_ENV = "HEXWATCH_DATA_CACHE"


class DatasetError(HexwatchError):
    """A data set is unknown, missing, damaged or unreachable; the message says what to do."""


@dataclass(frozen=True)
class Dataset:
    """One manifest entry (see ``data/sources/manifest.toml`` for each field's meaning)."""

    name: str
    title: str
    file: str
    url: str
    sha256: str
    bytes: int
    licence: str
    attribution: str
    layer: str
    title_en: str = ""
    publisher: str = ""
    release: str = ""
    prepared_by: str = ""
    licence_url: str = ""
    mirror_folder: str = ""
    unit: str = ""
    ingest: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_entry(cls, name: str, entry: Mapping[str, Any]) -> "Dataset":
        missing = [k for k in ("title", "file", "url", "sha256", "bytes", "licence", "attribution", "layer") if k not in entry]
        if missing:
            raise DatasetError(f"data set {name!r} in {_MANIFEST} lacks {', '.join(missing)}; add them")
        if entry["layer"] not in LAYERS:
            raise DatasetError(f"data set {name!r}: layer {entry['layer']!r} is not one of {', '.join(LAYERS)}")
        known = {f for f in cls.__dataclass_fields__}
        return cls(name=name, **{k: v for k, v in entry.items() if k in known})

    @property
    def source(self) -> dict[str, Any]:
        """The entry as :func:`geo.pinned.obtain` reads it."""
        return {"file": self.file, "url": self.url, "sha256": self.sha256}


# --- the manifest ------------------------------------------------------------------


def load_manifest() -> dict[str, Any]:
    """``data/sources/manifest.toml`` in a checkout, else the copy bundled in the wheel."""
    root = pinned.checkout_root(_MANIFEST)
    if root is not None:
        text = (root / _MANIFEST).read_text(encoding="utf-8")
    else:
        text = resources.files("geo").joinpath("_data/sources_manifest.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def datasets(manifest: Mapping[str, Any] | None = None) -> dict[str, Dataset]:
    """Every data set of the manifest, by name."""
    manifest = load_manifest() if manifest is None else manifest
    return {name: Dataset.from_entry(name, entry) for name, entry in manifest.get("datasets", {}).items()}


def dataset(name: str, manifest: Mapping[str, Any] | None = None) -> Dataset:
    """The data set called ``name``; :class:`DatasetError` listing the known ones otherwise."""
    known = datasets(manifest)
    key = name.strip().lower()
    if key not in known:
        raise DatasetError(f"no data set called {name!r}; known: {', '.join(sorted(known)) or 'none'} (see {_MANIFEST})")
    return known[key]


# --- where things are ----------------------------------------------------------------


def default_cache_dir() -> Path:
    """``$HEXWATCH_DATA_CACHE``, else ``data/sources/cache`` in a checkout (git-ignored),
    else ``~/.cache/hexwatch/sources``."""
    env = pinned.env_path(CACHE_ENV)
    if env is not None:
        return env
    root = pinned.checkout_root(_MANIFEST)
    return root / "data" / "sources" / "cache" if root else Path.home() / ".cache" / "hexwatch" / "sources"


def default_mirror(ds: Dataset) -> tuple[Path | None, bool]:
    """The mirror folder to look in and whether the user named it: ``$HEXWATCH_DATA_MIRROR``
    (named), else ``<project root>/../shared/<mirror_folder>`` when it exists, else none."""
    env = pinned.env_path(MIRROR_ENV)
    if env is not None:
        return env, True
    root = pinned.checkout_root(_MANIFEST)
    if root is not None and ds.mirror_folder and (root.parent / "shared" / ds.mirror_folder).is_dir():
        return root.parent / "shared" / ds.mirror_folder, False
    return None, False


def cache_path(ds: Dataset, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the verified file of ``ds`` is kept (it may not be there yet). The folder
    is named by the sha256, so a new pin never serves the old bytes."""
    base = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return base / f"{ds.name}-{ds.sha256[:16]}" / ds.file


# --- fetch ---------------------------------------------------------------------------


def _intact(path: Path, ds: Dataset) -> bool:
    return path.is_file() and path.stat().st_size == ds.bytes and pinned.sha256_hex(path.read_bytes()) == ds.sha256


def fetch(name: str, *, mirror: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
          force: bool = False, manifest: Mapping[str, Any] | None = None) -> Path:
    """The path of the verified file of data set ``name``, fetching it first if needed.

    A cached copy is used when its size and sha256 are still right (it is checked on
    every call: hashing 1.4 MB takes milliseconds) and ``force`` is false. Otherwise the
    file comes from ``mirror`` (argument, else ``$HEXWATCH_DATA_MIRROR``; either may hold
    the file or a ``<mirror_folder>/`` with it), else ``../shared/<mirror_folder>`` beside
    the checkout when it exists, else the pinned URL. A mirror the user named must hold
    the file. A wrong sha256 or size, or no mirror and no network, raises
    :class:`DatasetError` (one line) and leaves the cache as it was; the file is written
    to the cache atomically.
    """
    ds = dataset(name, manifest)
    target = cache_path(ds, cache_dir)
    if not force and _intact(target, ds):
        return target
    if mirror is not None:
        mirror_dir, strict = Path(mirror), True
    else:
        mirror_dir, strict = default_mirror(ds)
    hint = f"--mirror DIR (or ${MIRROR_ENV})"
    data = pinned.obtain(ds.source, mirror_dir, strict=strict, error=DatasetError, manifest=_MANIFEST,
                         mirror_hint=hint, subfolders=(ds.mirror_folder,) if ds.mirror_folder else ())
    if len(data) != ds.bytes:  # the sha256 matched, so the manifest's size is what is wrong
        raise DatasetError(f"{ds.file} has {len(data):,} bytes but {_MANIFEST} says {ds.bytes:,}; fix `bytes` there")
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, data)
    return target


# --- store layers -------------------------------------------------------------------


def layer_entry(ds: Dataset, *, sha256: str | None = None) -> dict[str, Any]:
    """What ``meta["layers"][ds.layer]`` records for a store layer filled from ``ds``."""
    return {"synthetic": False, "dataset": ds.name, "title": ds.title, "title_en": ds.title_en or ds.title,
            "publisher": ds.publisher, "release": ds.release, "licence": ds.licence, "licence_url": ds.licence_url,
            "attribution": ds.attribution, "url": ds.url, "sha256": sha256 or ds.sha256, "unit": ds.unit}


def synthetic_layer(label: str) -> dict[str, Any]:
    """What ``meta["layers"][layer]`` records for a synthetic layer (``label`` says what made it)."""
    return {"synthetic": True, "dataset": "synthetic", "title": label, "title_en": label}


def store_layers(meta: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Provenance of each of :data:`LAYERS` in a store with metadata ``meta``.

    Each value has at least ``synthetic`` (bool) and ``title``; a real data set adds
    ``publisher``, ``licence``, ``attribution``, ``url`` and ``sha256``. A layer that
    ``meta["layers"]`` does not describe takes the store-wide ``meta["synthetic"]`` and
    ``meta["dataset"]`` (stores made before layers were recorded).
    """
    recorded = meta.get("layers") or {}
    fallback = {"synthetic": bool(meta.get("synthetic", False)), "dataset": "", "title": str(meta.get("dataset", "")),
                "title_en": str(meta.get("dataset", ""))}
    return {layer: {**fallback, **dict(recorded.get(layer) or {})} for layer in LAYERS}


def layer_of_table(table: str) -> str:
    """The layer a store table belongs to (``district_month`` or ``points``)."""
    for layer, tables in LAYERS.items():
        if table in tables:
            return layer
    raise DatasetError(f"table {table!r} belongs to no layer; tables: {', '.join(t for ts in LAYERS.values() for t in ts)}")


# --- into a store -------------------------------------------------------------------


def ingest_dataset(name: str, store: str | os.PathLike, *, path: str | os.PathLike | None = None,
                   mirror: str | os.PathLike | None = None, progress: bool = False,
                   manifest: Mapping[str, Any] | None = None):
    """Fetch data set ``name`` (unless ``path`` names the verified file) and ingest it into
    ``store`` as its layer, recording the layer's provenance in ``meta["layers"]``.

    The file is read as the manifest's ``[datasets.NAME.ingest]`` says (reader and column
    roles), through :func:`geo.ingest.ingest_file`, so every row is accepted or rejected
    with a reason and re-ingesting adds nothing. A store whose layer already holds
    synthetic rows is refused (real and synthetic counts must never share a table).
    Returns the :class:`geo.ingest.IngestReport`.
    """
    from geo.ingest import ingest_file
    from geo.store import Store, StoreError

    ds = dataset(name, manifest)
    try:
        meta = dict(Store.open(store).meta)
        has_layer = any(Store.open(store).has(t) for t in LAYERS[ds.layer])
    except StoreError:
        meta, has_layer = {}, False
    current = store_layers(meta)[ds.layer]
    if has_layer and current["synthetic"]:
        raise DatasetError(f"the {ds.layer} layer of {store} holds synthetic data; real {ds.name} counts must not mix "
                           f"with it: ingest into a new store (or delete this one)")
    file = Path(path) if path is not None else fetch(name, mirror=mirror, manifest=manifest)
    if path is not None and pinned.sha256_hex(file.read_bytes()) != ds.sha256:
        raise DatasetError(f"{file} is not the pinned {ds.file} (sha256 differs); run `hexwatch data fetch {ds.name}`")
    spec = dict(ds.ingest)
    kind = spec.pop("format", "auto")
    updates: dict[str, Any] = {"layers": {**(meta.get("layers") or {}), ds.layer: layer_entry(ds)}}
    if not meta.get("dataset"):  # a new store is named after its first data set
        updates["dataset"] = ds.title
    return ingest_file(file, store, kind=kind, columns=spec or None, progress=progress, source_label=ds.name,
                       meta_updates=updates)
