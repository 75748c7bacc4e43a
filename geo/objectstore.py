"""Stores on object storage (``s3://bucket/prefix``, ``gs://bucket/prefix``).

Layout under the prefix::

    PREFIX/
      versions/<id>/<table>.parquet, meta.json, ...   # uploaded in full before any commit
      commits/000000000001                             # {"version": <id>}; created, never overwritten

Why a commit log instead of one ``CURRENT`` object: the live version is the one named by
the highest commit, and commit ``N+1`` is made with a create-only conditional write
(``If-None-Match: *`` on S3, ``ifGenerationMatch=0`` on GCS, ``mode="create"`` in fsspec).
Of several writers that read commit ``N`` as live, exactly one creates ``N+1``; the others
get a precondition failure and nothing of theirs becomes live (:class:`StoreConflict`). A
writer killed before its commit leaves an uploaded version nobody points at, which a later
writer removes. Commits are never deleted: a slow writer that read an old ``N`` must find
``N+1`` taken rather than re-create a pruned number below the live one. Listing is strongly
consistent on S3 and GCS, so a reader that lists the commits sees every finished one.

A reader pins a version by downloading it (immutable, so the copy never goes stale) into a
local cache, ``$HEXWATCH_STORE_CACHE_DIR``, else ``$HEXWATCH_CACHE_DIR/stores``, else
``~/.cache/hexwatch/stores`` (one folder per store URL); every reader of the
library (pyarrow, DuckDB, polars) then reads local files as with a folder store.

Endpoint and credentials come the standard way (fsspec's s3fs over botocore:
``AWS_ENDPOINT_URL``, ``AWS_PROFILE``, ``~/.aws``, instance roles; gcsfs: application
default credentials).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from geo.errors import HexwatchError

#: URL schemes a store may live under besides a local folder.
SCHEMES = ("s3", "gs")
#: Uploaded versions that no commit names are removed once this old (a writer still uploading
#: is younger than this).
ORPHAN_SECONDS = 6 * 3600
#: Pinned versions kept in the local cache per store.
CACHE_VERSIONS = 3
_SEQ_DIGITS = 12


class StoreConflict(HexwatchError):
    """Another writer made a version live after this writer read the live one."""


def is_remote(store: Any) -> bool:
    """Whether ``store`` names an object-storage store (``s3://`` or ``gs://``)."""
    return isinstance(store, str) and store.split("://", 1)[0].lower() in SCHEMES and "://" in store


def store_location(value: str | os.PathLike) -> Path | str:
    """A ``--store`` value: a folder as a Path, ``s3://bucket/prefix`` / ``gs://...`` kept as the URL."""
    return str(value) if is_remote(str(value)) else Path(value)


@dataclass(frozen=True)
class Commit:
    seq: int
    version: str


class RemoteStore:
    """The object-storage side of one store: its filesystem, commit log and versions."""

    def __init__(self, url: str) -> None:
        import fsspec

        self.url = url.rstrip("/")
        scheme, rest = self.url.split("://", 1)
        if not rest or rest.startswith("/"):
            raise HexwatchError(f"--store {url}: give a bucket, as in {scheme}://bucket/prefix")
        try:
            # No listing cache: the live version is whatever the commit log says now.
            self.fs = fsspec.filesystem(scheme, use_listings_cache=False)  # one client per process (fsspec caches it)
        except ImportError as exc:
            raise HexwatchError(f"--store {url} needs {'s3fs' if scheme == 's3' else 'gcsfs'}: "
                                f"pip install 'hexwatch[cloud]'") from exc
        self.base = rest

    # --- the commit log -------------------------------------------------------------
    def _commits(self) -> list[str]:
        try:
            names = self.fs.ls(f"{self.base}/commits", detail=False, refresh=True)
        except FileNotFoundError:
            return []
        return sorted(n.rsplit("/", 1)[-1] for n in names if n.rsplit("/", 1)[-1].isdigit())

    def live(self) -> Commit | None:
        """The highest commit, or None for an empty store."""
        names = self._commits()
        if not names:
            return None
        body = orjson.loads(self.fs.cat_file(f"{self.base}/commits/{names[-1]}"))
        return Commit(int(names[-1]), body["version"])

    def commit(self, seq: int, version: str) -> None:
        """Make ``version`` live as commit ``seq``, if no other writer took that number."""
        key = f"{self.base}/commits/{seq:0{_SEQ_DIGITS}d}"
        try:
            self.fs.pipe_file(key, orjson.dumps({"version": version, "at": time.time()}), mode="create")
        except FileExistsError as exc:
            won = self.live()
            raise StoreConflict(
                f"store {self.url}: another writer made version {won.version if won else '?'} live "
                f"meanwhile, so {version} was not; run again (ingest is idempotent)") from exc

    # --- versions -------------------------------------------------------------------
    def version_key(self, version: str) -> str:
        return f"{self.base}/versions/{version}"

    def upload(self, local: Path, version: str) -> None:
        dest = self.version_key(version)
        files = sorted(p for p in local.iterdir() if p.is_file())
        self.fs.put([str(p) for p in files], [f"{dest}/{p.name}" for p in files])

    def copy_table(self, name: str, src_version: str, dst_version: str) -> bool:
        src = f"{self.version_key(src_version)}/{name}"
        if not self.fs.exists(src):
            return False
        self.fs.copy(src, f"{self.version_key(dst_version)}/{name}")  # server-side copy
        return True

    def prune(self, keep: int, live: str) -> None:
        """Remove committed versions older than the newest ``keep``, and uploads no commit
        names once older than :data:`ORPHAN_SECONDS` (younger ones may be a writer's upload
        in flight; that writer's commit will fail if it read an older live version)."""
        names = self._commits()
        named = [orjson.loads(self.fs.cat_file(f"{self.base}/commits/{n}"))["version"] for n in names]
        keep_set = set(named[-keep:]) | {live}
        superseded = set(named) - keep_set
        try:
            entries = self.fs.ls(f"{self.base}/versions", detail=False, refresh=True)
        except FileNotFoundError:
            return
        now = time.time()
        for path in entries:
            vid = path.rstrip("/").rsplit("/", 1)[-1]
            if vid in keep_set:
                continue
            if vid in superseded or self._age(path, now) >= ORPHAN_SECONDS:
                self.fs.rm(path, recursive=True)

    def _age(self, path: str, now: float) -> float:
        try:
            infos = self.fs.ls(path, detail=True, refresh=True)
        except FileNotFoundError:
            return float("inf")
        stamps = [_mtime(i) for i in infos]
        stamps = [s for s in stamps if s is not None]
        return now - max(stamps) if stamps else float("inf")

    # --- readers --------------------------------------------------------------------
    def cache_root(self) -> Path:
        env = os.environ.get("HEXWATCH_STORE_CACHE_DIR")
        cache = os.environ.get("HEXWATCH_CACHE_DIR")
        base = Path(env) if env else Path(cache) / "stores" if cache else Path.home() / ".cache" / "hexwatch" / "stores"
        return base / hashlib.sha256(self.url.encode()).hexdigest()[:16]

    def pin(self, commit: Commit) -> Path:
        """A local copy of ``commit``'s version (downloaded once; versions never change)."""
        root = self.cache_root() / "versions"
        final = root / commit.version
        if final.is_dir():
            return final
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f".{commit.version}.{uuid.uuid4().hex[:8]}.download"
        try:
            src = self.version_key(commit.version)
            names = self.fs.ls(src, detail=False, refresh=True)
            if not names:
                raise FileNotFoundError(src)
            tmp.mkdir()
            self.fs.get(list(names), [str(tmp / n.rsplit("/", 1)[-1]) for n in names])
            try:
                os.rename(tmp, final)
            except OSError:  # another reader of this cache finished first: theirs is the same
                if not final.is_dir():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self._trim_cache(root, final.name)
        return final

    @staticmethod
    def _trim_cache(root: Path, newest: str) -> None:
        done = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
        for p in done[:-CACHE_VERSIONS]:
            if p.name != newest:
                shutil.rmtree(p, ignore_errors=True)


def _mtime(info: Mapping[str, Any]) -> float | None:
    for key in ("LastModified", "mtime", "updated", "last_modified"):
        v = info.get(key)
        if v is None:
            continue
        if hasattr(v, "timestamp"):
            return v.timestamp()
        if isinstance(v, (int, float)):
            return float(v)
    return None


def open_remote(url: str, attempts: int = 3):
    """Pin the live version of the store at ``url`` (see :meth:`geo.store.Store.open`)."""
    from geo.store import Store, StoreError

    remote = RemoteStore(url)
    for attempt in range(attempts):  # a version pruned while we download it: the next live one
        commit = remote.live()
        if commit is None:
            raise StoreError(f"no hexwatch store at {url}: build one with `hexwatch ingest FILE --store {url}`")
        try:
            path = remote.pin(commit)
        except FileNotFoundError:
            if attempt == attempts - 1:
                raise StoreError(f"store {url} points at missing version {commit.version!r}; "
                                 f"restore it or ingest again") from None
            continue
        return Store(root=remote.cache_root(), version=commit.version, path=path, location=remote.url)
    raise AssertionError("unreachable")


def write_remote_version(url: str, tables: Mapping[str, Any], meta: Any, files: Any, *, carry_over: bool,
                         base: str | None, keep: int,
                         local_writer: Callable[..., str]) -> str:
    """Stage the version in a local folder (``local_writer``: the folder store's writer),
    upload it, copy the tables carried over on the server, then commit.

    ``base``: the version the caller derived its tables from; when another is live by
    the commit, nothing is made live (:class:`StoreConflict`)."""
    remote = RemoteStore(url)
    live = remote.live()
    if base is not None and (live is None or live.version != base):
        raise StoreConflict(f"store {url}: version {live.version if live else None} is live, not {base} "
                            f"this write was made from; run again")
    seq = (live.seq if live else 0) + 1
    with tempfile.TemporaryDirectory(prefix="hexwatch-stage-") as stage:
        vid = local_writer(stage, tables=tables, meta=meta, files=files, carry_over=False)
        remote.upload(Path(stage) / "versions" / vid, vid)
    if carry_over and live is not None:
        from geo.store import TABLES

        for name in TABLES:
            if name not in tables:
                remote.copy_table(f"{name}.parquet", live.version, vid)
    remote.commit(seq, vid)
    remote.prune(keep, vid)
    return vid
