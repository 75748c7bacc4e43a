"""A store on object storage (s3://), against moto's real S3 server on loopback.

Ingest into s3:// gives the same tables as into a folder; a writer killed between its
upload and its commit leaves the old version live; readers pin versions; of two writers
that read the same live version only one commits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest

from geo.ingest import ingest_file
from geo.objectstore import RemoteStore, StoreConflict
from geo.store import TABLES, Store, write_version
from objectstore_server import MotoServer
from test_crash_safety import mininter_file

N_A, N_B = 20_000, 30_000


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    server = MotoServer()
    saved = {k: os.environ.get(k) for k in [*server.env(), "HEXWATCH_STORE_CACHE_DIR"]}
    os.environ.update(server.env())
    os.environ["HEXWATCH_STORE_CACHE_DIR"] = str(tmp_path_factory.mktemp("s3cache"))
    server.make_bucket("hexwatch-test")
    try:
        yield server
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def files(tmp_path_factory, boundary_cache):
    root = tmp_path_factory.mktemp("s3files")
    ids_a = np.array([f"A{i}" for i in range(N_A)], dtype=object)
    ids_b = np.array([f"B{i}" for i in range(N_B)], dtype=object)
    ids_b[:2_000] = ids_a[:2_000]  # rows the store already holds after A
    mininter_file(root / "a.csv", ids_a, seed=11, n_bad=300)
    mininter_file(root / "b.csv", ids_b, seed=12, n_bad=100)
    return root


def _sorted(table):
    return table.sort_by([(c, "ascending") for c in table.column_names
                          if not str(table.schema.field(c).type).startswith(("list", "struct"))])


def test_ingest_into_s3_reads_back_as_a_local_ingest(s3, files, tmp_path):
    url = "s3://hexwatch-test/same"
    local = tmp_path / "local"
    for name in ("a.csv", "b.csv"):
        r_local = ingest_file(files / name, local, kind="mininter", progress=False)
        r_s3 = ingest_file(files / name, url, kind="mininter", progress=False)
        assert (r_s3.n_input, r_s3.n_accepted, r_s3.n_rejected) == (r_local.n_input, r_local.n_accepted, r_local.n_rejected)
    a, b = Store.open(local), Store.open(url)
    assert b.location == url and b.version == r_s3.version
    compared = 0
    for name in TABLES:
        assert a.has(name) == b.has(name), name
        if a.has(name) and name != "boundaries":
            left, right = _sorted(a.read_arrow(name)), _sorted(b.read_arrow(name))
            assert left.drop_columns([c for c in left.column_names if c == "ingested_at"]).equals(
                right.drop_columns([c for c in right.column_names if c == "ingested_at"])), name
            compared += 1
    assert compared >= 3
    # B's rows 100-299 carry ids A rejected (no longitude), so they are new; 300-1999 are A's.
    assert b.read_arrow("incidents").num_rows == (N_A - 300) + (N_B - 100 - 1_700)
    # The same file again adds nothing and makes no new version (idempotent, as locally).
    again = ingest_file(files / "b.csv", url, kind="mininter", progress=False)
    assert again.n_accepted == 0 and Store.open(url).version == r_s3.version


CHILD = """
import sys, time
import geo.objectstore as o
real = o.RemoteStore.commit
def stalled(self, seq, version):
    print("uploaded", version, flush=True)
    time.sleep(600)  # killed here: every object of the version is uploaded, the commit is not made
    real(self, seq, version)
o.RemoteStore.commit = stalled
from geo.ingest import ingest_file
ingest_file(sys.argv[1], sys.argv[2], kind="mininter", progress=False)
"""


def test_writer_killed_between_upload_and_commit_leaves_old_version_live(s3, files):
    url = "s3://hexwatch-test/killed"
    first = ingest_file(files / "a.csv", url, kind="mininter", progress=False)
    before = Store.open(url)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(files / "b.csv"), url], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        line = proc.stdout.readline().split()
        assert line[:1] == ["uploaded"], proc.stderr.read()
        orphan = line[1]
        remote = RemoteStore(url)
        assert remote.fs.exists(f"{remote.version_key(orphan)}/incidents.parquet")  # the upload is there
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        proc.stdout.close()
        proc.stderr.close()
    after = Store.open(url)
    assert after.version == first.version == before.version
    assert after.read_arrow("incidents").num_rows == first.n_accepted
    # The next writer works and the orphan is never made live.
    nxt = ingest_file(files / "b.csv", url, kind="mininter", progress=False)
    assert Store.open(url).version == nxt.version != orphan


def test_readers_pin_versions(s3, files):
    url = "s3://hexwatch-test/pinned"
    ingest_file(files / "a.csv", url, kind="mininter", progress=False)
    old = Store.open(url)
    ingest_file(files / "b.csv", url, kind="mininter", progress=False)
    new = Store.open(url)
    assert old.version != new.version
    # The first reader still reads its own version, whole, while the second reads the new one.
    ids_old = set(old.read_arrow("incidents", columns=["incident_id"]).column(0).to_pylist())
    ids_new = set(new.read_arrow("incidents", columns=["incident_id"]).column(0).to_pylist())
    assert all(i.startswith("A") for i in ids_old) and len(ids_old) == N_A - 300
    assert ids_old < ids_new and any(i.startswith("B") for i in ids_new)
    assert old.meta != new.meta


def test_two_writers_from_one_live_version_only_one_commits(s3):
    url = "s3://hexwatch-test/race"
    import pandas as pd

    write_version(url, tables={"incidents": pd.DataFrame({"incident_id": ["x"]})}, meta={"n": 0})
    base = Store.open(url).version
    one = write_version(url, tables={"incidents": pd.DataFrame({"incident_id": ["x", "y"]})}, meta={"n": 1}, base=base)
    with pytest.raises(StoreConflict, match="not"):
        write_version(url, tables={"incidents": pd.DataFrame({"incident_id": ["x", "z"]})}, meta={"n": 2}, base=base)
    assert Store.open(url).version == one and Store.open(url).meta == {"n": 1}
    # Two writers that both read commit N race for N+1 on the server's conditional create.
    remote = RemoteStore(url)
    live = remote.live()
    with pytest.raises(StoreConflict):
        remote.commit(live.seq, "someone-else")
    assert Store.open(url).version == one


def test_missing_s3_store_is_one_line(s3):
    from geo.store import StoreError

    with pytest.raises(StoreError, match="no hexwatch store at s3://hexwatch-test/nothing"):
        Store.open("s3://hexwatch-test/nothing")

