"""Benchmark: the object-storage store (``--store s3://...``) against moto's S3 server on loopback.

Why fsspec (s3fs) and not ``pyarrow.fs.S3FileSystem`` for ``geo.objectstore``: the live
pointer needs a create-only conditional write (``If-None-Match: *``), which fsspec offers
for S3 and GCS (``pipe_file(mode="create")``) and pyarrow's filesystems do not; this
measures what that choice costs on the bulk transfers, uploading and downloading one
store table through each (reference: a local file copy of the same bytes). Then a whole
ingest into ``s3://`` against the same ingest into a folder (the overhead named: staging,
upload, the commit, the reader's download of the pinned version).

moto is an in-process Python server, slower than S3 or MinIO: the transfer figures are a
floor on the client's cost, not a forecast of a real bucket. Machine shared: figures noisy.

Run: ``python -m benchmarks.bench_objectstore [--quick]``
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks._common import Figure, median_time, print_figures

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from objectstore_server import MotoServer  # noqa: E402
from test_crash_safety import mininter_file  # noqa: E402


def _table(n: int) -> pa.Table:
    rng = np.random.default_rng(0)
    return pa.table({"cell": rng.integers(0, 1 << 62, n, dtype=np.uint64), "day": rng.integers(19000, 20000, n).astype("int32"),
                     "count": rng.integers(1, 50, n).astype("int32"), "lat": rng.uniform(-12.2, -11.8, n)})


def run(quick: bool = False) -> list[Figure]:
    import pyarrow.fs as pafs
    import s3fs

    from geo.ingest import ingest_file
    from geo.store import Store

    runs = 3 if quick else 5
    server = MotoServer()
    saved = dict(os.environ)
    work = Path(tempfile.mkdtemp(prefix="bench-objectstore-"))
    figures: list[Figure] = []
    try:
        os.environ.update(server.env())
        os.environ["HEXWATCH_STORE_CACHE_DIR"] = str(work / "cache")
        server.make_bucket("bench")
        src = work / "t.parquet"
        pq.write_table(_table(500_000 if quick else 3_000_000), src)
        size_mb = src.stat().st_size / 1e6
        t_copy, _ = median_time(lambda: shutil.copyfile(src, work / "copy.parquet"), runs=runs)
        fs = s3fs.S3FileSystem(use_listings_cache=False, skip_instance_cache=True)
        pa_fs = pafs.S3FileSystem(endpoint_override=server.url.removeprefix("http://"), scheme="http",
                                  access_key="testing", secret_key="testing", region="us-east-1")
        t_up_fsspec, _ = median_time(lambda: fs.put_file(str(src), "bench/fsspec/t.parquet"), runs=runs)
        t_up_pa, _ = median_time(lambda: pafs.copy_files(str(src), "bench/pyarrow/t.parquet",
                                                          source_filesystem=pafs.LocalFileSystem(),
                                                          destination_filesystem=pa_fs), runs=runs)
        t_down_fsspec, _ = median_time(lambda: fs.get_file("bench/fsspec/t.parquet", str(work / "d1.parquet")), runs=runs)
        t_down_pa, _ = median_time(lambda: pafs.copy_files("bench/pyarrow/t.parquet", str(work / "d2.parquet"),
                                                            source_filesystem=pa_fs,
                                                            destination_filesystem=pafs.LocalFileSystem()), runs=runs)
        for name, t in [("upload, fsspec (s3fs)", t_up_fsspec), ("upload, pyarrow.fs", t_up_pa),
                        ("download, fsspec (s3fs)", t_down_fsspec), ("download, pyarrow.fs", t_down_pa)]:
            figures.append(Figure(name=f"{name}, {size_mb:.0f} MB table to moto on loopback", value=t, unit="s",
                                  reference_name="local file copy", reference_value=t_copy, ratio=t / t_copy,
                                  ratio_kind="fraction", runs=runs, extra={"MB": round(size_mb, 1)}))
        n = 50_000 if quick else 300_000
        points = work / "points.csv"
        mininter_file(points, np.array([f"P{i}" for i in range(n)], dtype=object), seed=5)
        k = [0]

        def ingest(target: str) -> None:
            k[0] += 1
            where = f"{target}{k[0]}"
            ingest_file(points, where if target.startswith("s3") else Path(where), kind="mininter", progress=False)
            Store.open(where if target.startswith("s3") else Path(where)).read_arrow("incidents")

        t_local, _ = median_time(lambda: ingest(str(work / "local")), runs=runs)
        t_s3, _ = median_time(lambda: ingest("s3://bench/store"), runs=runs)
        figures.append(Figure(name=f"ingest {n:,} MININTER rows + open and read, into s3:// (moto)", value=t_s3, unit="s",
                              reference_name="the same into a folder", reference_value=t_local, ratio=t_s3 / t_local,
                              ratio_kind="fraction", runs=runs,
                              extra={"overheads": "local staging, upload, create-only commit, download of the pinned version"}))
    finally:
        server.stop()
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(work, ignore_errors=True)
    return figures


if __name__ == "__main__":
    print_figures("objectstore: s3:// stores on moto (loopback)", run(quick="--quick" in sys.argv))
