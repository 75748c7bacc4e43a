"""The store: a folder of immutable, versioned Parquet snapshots with an atomic pointer.

Layout::

    STORE/
      CURRENT                 # one line: the id of the live version
      versions/<id>/          # written in full, fsynced, then CURRENT is swapped
        meta.json             # dataset metadata (synthetic?, sources, coverage, ...)
        incidents.parquet     # one row per accepted point incident
        cube_cell.parquet     # counts by (resolution, cell, day, category)
        cube_district.parquet # counts by (ubigeo, day, category)
        district_month.parquet# SIDPOL-style counts by (ubigeo, year, month, category)
        district_year.parquet # yearly counts by (ubigeo, year, category): a table without months
        rejects.parquet       # every rejected input row with its reason
        ingest_report.json    # counts that add up to the input

Why versions and a pointer: a writer killed at any moment leaves ``CURRENT`` pointing at
a complete version, so readers always see either the old or the new data, never a mix.
Readers are lock-free; one writer at a time is enforced with an exclusive lock file.

Example
-------
>>> import tempfile, pandas as pd
>>> d = tempfile.mkdtemp()
>>> v = write_version(d, tables={"incidents": pd.DataFrame({"incident_id": ["a"]})},
...                   meta={"synthetic": True})
>>> Store.open(d).meta["synthetic"]
True
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from geo.errors import HexwatchError

#: Table names a store may hold; each is ``<name>.parquet`` in a version folder.
#: ``boundaries`` holds the polygons ingest located points in (GeoParquet; see geo.areas).
TABLES = ("incidents", "cube_cell", "cube_district", "district_month", "district_year", "rejects", "boundaries")
#: How many old versions to keep after a successful write (for rollback and readers in flight).
KEEP_VERSIONS = 2


class StoreError(HexwatchError):
    """A store is missing, empty or damaged; the message says what to do."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):  # e.g. a full disk: no half-written temporary file stays
            tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON (dates and numpy scalars allowed)."""
    atomic_write_bytes(path, orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY, default=str))


#: Text columns with (nearly) one value per row: a dictionary page would only be thrown away.
_UNIQUE_TEXT = frozenset({"incident_id", "raw", "detail"})


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t) or pa.types.is_dictionary(t)


#: What :func:`write_version` takes as a table.
TableLike = pa.Table | pa.RecordBatchReader | pd.DataFrame

#: Bytes buffered before each write to a store table's file.
_WRITE_BUFFER = 1 << 20


def parquet_options(table: pa.Table | pa.RecordBatchReader) -> dict[str, Any]:
    """How a store table is written (keyword arguments of ``pyarrow.parquet.write_table``
    and ``ParquetWriter``).

    Why each choice (measured on the 1M-row ingest benchmark, where the cube and the
    incidents are ~5 and 1 M rows): dictionary pages only for repetitive text, since
    trying one on ids, cells or coordinates costs a hash per value and is then dropped;
    byte-stream-split for floats, cells and times, which the compressor then packs smaller and
    faster than plain values; min/max statistics only on non-text columns (the ones
    scans filter on: day, resolution, cell); LZ4 rather than zstd; and no Arrow schema
    in the footer, so text built as Arrow dictionaries reads back as plain strings in
    every reader. A field declared not nullable becomes a required column, which carries
    no definition levels, so the callers' schemas declare it. On the tables of the 10M-row
    ingest benchmark (CPU seconds to encode): incidents 1.12 with every column optional,
    0.83-0.96 with the never-null ones required, 1.25 with zstd (files 250 MB with LZ4,
    197 MB with zstd); the 29M-row cell cube 0.84, 0.50-0.53 and 0.74 (69 and 50 MB).
    """
    text = [f.name for f in table.schema if _is_text(f.type)]
    split = [f.name for f in table.schema if pa.types.is_floating(f.type) or pa.types.is_timestamp(f.type)
             or pa.types.is_uint64(f.type)]
    stats = [f.name for f in table.schema if not _is_text(f.type)]
    return {"compression": "lz4", "use_dictionary": [n for n in text if n not in _UNIQUE_TEXT],
            "column_encoding": {n: "BYTE_STREAM_SPLIT" for n in split} or None,
            "write_statistics": stats or False, "store_schema": False}


def _to_arrow(table: TableLike) -> pa.Table | pa.RecordBatchReader:
    if isinstance(table, (pa.Table, pa.RecordBatchReader)):
        return table
    return pa.Table.from_pandas(table, preserve_index=False)


@contextmanager
def file_lock(path: str | os.PathLike):
    """Hold an exclusive advisory lock on ``path`` (created if absent); blocks until free.

    The kernel drops the lock when the holder dies, so a killed process never leaves it held.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def writer_lock(store: str | os.PathLike):
    """Hold the store's single-writer lock (blocks until a concurrent writer finishes)."""
    return file_lock(Path(store) / ".lock")


def write_version(
    store: str | os.PathLike,
    tables: Mapping[str, TableLike | Callable[[], TableLike]],
    meta: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
    files: Mapping[str, bytes] | Callable[[], Mapping[str, bytes]] | None = None,
    *,
    carry_over: bool = True,
    base: str | None = None,
) -> str:
    """Write a new complete version of ``store`` and make it live atomically.

    Tables not given are hard-linked from the current version when ``carry_over`` is
    true, so adding one layer does not rewrite the others. A table may be given as a
    function that builds it: builders run in the writer threads, so one table is
    encoded while the next is still being built. A ``pyarrow.RecordBatchReader`` is
    written batch by batch (one row group each), so a large table need never be whole
    in memory. ``meta`` and ``files`` may be functions too: they run in the calling
    thread while the tables encode (``meta`` first), and an exception from either leaves
    the live version untouched. Returns the new version id.
    Caller must not hold :func:`writer_lock` (this function takes it).

    ``store`` may be ``s3://bucket/prefix`` or ``gs://...`` (see :mod:`geo.objectstore`):
    the version is staged in a local folder by this same writer, uploaded, then made live
    by a conditional commit. ``base`` is the version the tables were derived from; on
    object storage, if another is live by then nothing is made live
    (:class:`geo.objectstore.StoreConflict`). A folder store is serialised by its lock.
    """
    if _is_remote(store):
        from geo.objectstore import write_remote_version

        return write_remote_version(str(store), tables, meta, files, carry_over=carry_over, base=base,
                                    keep=KEEP_VERSIONS, local_writer=write_version)
    root = Path(store)
    with writer_lock(root), ExitStack() as cleanup:
        versions = root / "versions"
        versions.mkdir(parents=True, exist_ok=True)
        # Under the writer lock, a partial folder is a dead writer's (killed, or out of disk):
        # its space is needed now. And this write, should it fail (a full disk, a bad
        # table), leaves none behind, nor a complete folder CURRENT was not swapped to.
        _remove_partials(versions)
        vid = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
        tmp = versions / f".{vid}.partial"
        tmp.mkdir()
        cleanup.callback(_drop_unless_current, root, versions / vid, tmp)
        current = _current_dir(root)
        unknown = [name for name in tables if name not in TABLES]
        if unknown:
            raise ValueError(f"unknown store table {unknown[0]!r}; expected one of {', '.join(TABLES)}")

        def write(item) -> None:
            name, table = item
            arrow = _to_arrow(table() if callable(table) else table)
            path = tmp / f"{name}.parquet"
            # Buffered: Parquet writes each page on its own (a 10M-row ingest made 52,000
            # write and 28,000 seek calls straight to the file; the time saved is small).
            with pa.output_stream(str(path), buffer_size=_WRITE_BUFFER) as sink:
                if isinstance(arrow, pa.RecordBatchReader):  # one row group per batch, as it comes
                    with pq.ParquetWriter(sink, arrow.schema, **parquet_options(arrow)) as writer:
                        for batch in arrow:
                            writer.write_batch(batch)
                else:
                    pq.write_table(arrow, sink, **parquet_options(arrow))
            with open(path, "rb") as fh:  # flushed to disk here, while other tables still encode
                os.fsync(fh.fileno())

        # Parquet encoding and compression release the GIL: the tables are written side by
        # side, while this thread makes the metadata.
        with ThreadPoolExecutor(max_workers=max(1, min(len(tables), os.cpu_count() or 1))) as pool:
            written = [pool.submit(write, item) for item in tables.items()]
            try:
                meta = meta() if callable(meta) else meta
                files = files() if callable(files) else files
            finally:
                wait(written)  # a failure above is raised once every writer has stopped
            for job in written:
                job.result()
        if carry_over and current is not None:
            for name in TABLES:
                src = current / f"{name}.parquet"
                if name not in tables and src.exists():
                    os.link(src, tmp / f"{name}.parquet")
        for name, data in (files or {}).items():
            (tmp / name).write_bytes(data)
        (tmp / "meta.json").write_bytes(orjson.dumps(dict(meta), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY, default=str))
        for f in tmp.iterdir():
            if f.stem not in tables:  # the written tables are flushed already; links are old files
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
        _fsync_dir(tmp)
        final = versions / vid
        os.rename(tmp, final)
        _fsync_dir(versions)
        atomic_write_bytes(root / "CURRENT", (vid + "\n").encode())
        _prune(versions, keep={vid, current.name if current else ""})
        return vid


def _is_remote(store: Any) -> bool:
    from geo.objectstore import is_remote

    return is_remote(store)


def _prune(versions: Path, keep: set[str]) -> None:
    done = sorted((p for p in versions.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
    for p in done[:-KEEP_VERSIONS]:
        if p.name not in keep:
            shutil.rmtree(p, ignore_errors=True)
    _remove_partials(versions)


def _remove_partials(versions: Path) -> None:
    for p in versions.iterdir():
        if p.name.endswith(".partial"):
            shutil.rmtree(p, ignore_errors=True)


def _drop_unless_current(root: Path, final: Path, tmp: Path) -> None:
    """After a write: remove its partial folder, and its finished folder unless ``CURRENT``
    names it (a write that failed on the pointer itself)."""
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        live = (root / "CURRENT").read_text().strip()
    except OSError:
        live = None
    if final.exists() and live != final.name:
        shutil.rmtree(final, ignore_errors=True)


def _current_dir(root: Path) -> Path | None:
    pointer = root / "CURRENT"
    if not pointer.exists():
        return None
    vid = pointer.read_text().strip()
    path = root / "versions" / vid
    if not path.is_dir():
        raise StoreError(f"store {root} points at missing version {vid!r}; restore the folder or rebuild the store")
    return path


@dataclass(frozen=True)
class Store:
    """A read-only handle on one version of a store.

    Opening pins a version: a concurrent writer cannot change what this handle reads.
    """

    root: Path
    version: str
    path: Path
    #: The store as given when it is not a local folder (``s3://...``); ``root`` is then the
    #: local cache the pinned version was downloaded into.
    location: str | None = None

    @classmethod
    def open(cls, store: str | os.PathLike) -> "Store":
        """Open the live version of ``store``; raise :class:`StoreError` if there is none.

        An ``s3://`` or ``gs://`` store's version is downloaded once into a local cache
        (versions never change), so reading it is reading local files."""
        if _is_remote(store):
            from geo.objectstore import open_remote

            return open_remote(str(store))
        root = Path(store)
        current = _current_dir(root)
        if current is None:
            raise StoreError(
                f"no hexwatch store at {root}: build one with `hexwatch demo --store {root}` "
                f"or `hexwatch ingest FILE --store {root}`"
            )
        return cls(root=root, version=current.name, path=current)

    @property
    def meta(self) -> dict[str, Any]:
        """The version's metadata (``synthetic``, ``sources``, ``coverage``, ``demo`` ...)."""
        return orjson.loads((self.path / "meta.json").read_bytes())

    def has(self, table: str) -> bool:
        """Whether this version holds ``table``."""
        return (self.path / f"{table}.parquet").exists()

    def table_path(self, table: str) -> Path:
        """Path of ``table``'s Parquet file (for DuckDB/Polars scans); raises if absent."""
        p = self.path / f"{table}.parquet"
        if not p.exists():
            raise StoreError(f"store {self.root} has no {table!r} table; ingest data that provides it")
        return p

    def read(self, table: str, columns: list[str] | None = None, filters=None) -> pd.DataFrame:
        """Read ``table`` (optionally a column subset and pyarrow ``filters``) as pandas."""
        return pq.read_table(self.table_path(table), columns=columns, filters=filters).to_pandas()

    def read_arrow(self, table: str, columns: list[str] | None = None, filters=None) -> pa.Table:
        """Read ``table`` as an Arrow table."""
        return pq.read_table(self.table_path(table), columns=columns, filters=filters)

    def read_json(self, name: str) -> Any:
        """Read an auxiliary JSON file of this version (e.g. ``ingest_report.json``)."""
        p = self.path / name
        if not p.exists():
            raise StoreError(f"store {self.root} has no {name}")
        return orjson.loads(p.read_bytes())
