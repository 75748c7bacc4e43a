"""Crash safety: an ingest killed with SIGKILL at any moment leaves a readable store that
holds exactly the old data or exactly the new data, never a mix; the next ingest works.

The test ingests file A into a store, then, in each round, copies that store and starts
a fresh process that ingests file B into the copy, and kills the process (its whole
process group, SIGKILL) after a random delay. Half the rounds draw the delay over the
whole ingest (parse, H3, locate, cubes, write); the other half wait for the new
version's ``.partial`` folder to appear and kill during the write itself, where a
non-atomic store would tear. After each kill the store must open and be consistent:
incident ids equal A's or A ∪ B's (B's accepted rows, counted here from how the test
built B), and every table and the report of the live version agree with each other.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from geo.ingest import ingest_file
from geo.store import Store

ROUNDS = int(os.environ.get("HEXWATCH_CRASH_ROUNDS", "22"))
N_A, N_B, N_OVERLAP, N_BAD = 40_000, 100_000, 5_000, 1_000

# The child imports first and says so, so that kill delays are measured from the start
# of the ingest itself, not from interpreter start-up.
CHILD = """
import sys
from geo.ingest import ingest_file
print("ready", flush=True)
ingest_file(sys.argv[1], sys.argv[2], kind="mininter", progress=False)
print("done", flush=True)
"""


def mininter_file(path: Path, ids: np.ndarray, seed: int, n_bad: int = 0) -> None:
    """A MININTER CSV with these ids, points around Lima, the first ``n_bad`` rows without a longitude."""
    rng = np.random.default_rng(seed)
    n = len(ids)
    seconds = rng.integers(0, 365 * 86_400, n)
    times = (np.datetime64("2023-01-01T00:00:00") + seconds.astype("timedelta64[s]")).astype(str)
    lon = rng.uniform(-77.15, -76.85, n).round(6).astype(str).astype(object)
    lon[:n_bad] = ""
    table = pa.table({
        "id_denuncia": ids, "fecha_hora_hecho": np.char.replace(times, "T", " "),
        "lat_hecho": rng.uniform(-12.2, -11.8, n).round(6), "long_hecho": pa.array(lon, pa.string()),
        "tipo_hecho": rng.choice(["ROBO", "HURTO", "EXTORSIÓN"], n), "subtipo_hecho": np.full(n, "x"), "ubigeo_hecho": np.full(n, "150132"),
    })
    pacsv.write_csv(table, path)


@pytest.fixture(scope="module")
def files(tmp_path_factory, boundary_cache):
    """File A, file B (overlapping A, with bad rows), the store after A, and the id sets expected."""
    root = tmp_path_factory.mktemp("crash")
    ids_a = np.array([f"A{i}" for i in range(N_A)], dtype=object)
    ids_b = np.array([f"B{i}" for i in range(N_B)], dtype=object)
    ids_b[N_BAD:N_BAD + N_OVERLAP] = ids_a[:N_OVERLAP]  # rows A already holds
    mininter_file(root / "a.csv", ids_a, seed=1)
    mininter_file(root / "b.csv", ids_b, seed=2, n_bad=N_BAD)
    base = root / "base"
    report = ingest_file(root / "a.csv", base, kind="mininter", progress=False)
    assert report.n_accepted == N_A
    old = set(ids_a)
    new = old | set(ids_b[N_BAD:])
    assert len(new) == N_A + N_B - N_BAD - N_OVERLAP
    return root, base, old, new


def store_state(store: Path, old: set, new: set) -> str:
    """``"old"`` or ``"new"`` for a consistent store; fails on anything else."""
    s = Store.open(store)
    inc = s.read_arrow("incidents", columns=["incident_id", "ubigeo"])
    ids = set(inc.column("incident_id").to_pylist())
    assert len(ids) == inc.num_rows, "duplicate incident ids"
    state = "old" if ids == old else "new" if ids == new else None
    assert state, f"store holds {len(ids)} incidents: neither the old {len(old)} nor the new {len(new)}"
    # Every table of the live version describes the same incidents.
    cc = s.read_arrow("cube_cell", columns=["resolution", "n"]).group_by("resolution").aggregate([("n", "sum")])
    assert set(cc.column("n_sum").to_pylist()) == {inc.num_rows}, "cell cube from another version"
    located = inc.num_rows - inc.column("ubigeo").null_count
    assert pc.sum(s.read_arrow("cube_district", columns=["n"]).column("n")).as_py() == located
    report = s.read_json("ingest_report.json")
    assert report["store_incidents"] == inc.num_rows
    assert report["source_file"] == ("a.csv" if state == "old" else "b.csv")
    rejects = s.read_arrow("rejects", columns=["reason"]).num_rows if s.has("rejects") else 0
    assert rejects == (0 if state == "old" else N_BAD)
    return state


def partial_exists(store: Path) -> bool:
    try:
        return any(e.name.endswith(".partial") for e in os.scandir(store / "versions"))
    except FileNotFoundError:
        return False


def start_ingest(src: Path, store: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(src), str(store)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, text=True)
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def kill(proc: subprocess.Popen) -> bool:
    """SIGKILL the ingest's process group; True if it was still running."""
    running = proc.poll() is None
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(30)
    proc.stdout.close()
    proc.stderr.close()
    return running and proc.returncode == -signal.SIGKILL


def clean_ingest(src: Path, base: Path, store: Path, old: set, new: set) -> tuple[float, float]:
    """Seconds of an unkilled ingest into a copy of ``base``: in all, and from the new version's first write."""
    shutil.copytree(base, store)
    proc = start_ingest(src, store)
    t0 = time.perf_counter()
    while not partial_exists(store) and proc.poll() is None:
        time.sleep(0.002)
    t_write = time.perf_counter()
    assert proc.wait(120) == 0, proc.stderr.read()
    t_end = time.perf_counter()
    proc.stdout.close()
    proc.stderr.close()
    assert store_state(store, old, new) == "new"
    shutil.rmtree(store)
    return t_end - t0, t_end - t_write


def test_sigkill_during_ingest_leaves_old_or_new_never_a_mix(files):
    root, base, old, new = files
    src = root / "b.csv"
    # Clean runs give the timings the kill delays are drawn from (the fastest: the first
    # may also warm the district lookup cache).
    timings = [clean_ingest(src, base, root / f"clean{k}", old, new) for k in range(2)]
    ingest_s, write_s = min(t[0] for t in timings), min(t[1] for t in timings)

    rng = random.Random(os.environ.get("HEXWATCH_CRASH_SEED"))
    outcomes, killed, torn_write = [], 0, 0
    for i in range(ROUNDS):
        store = root / f"round{i}"
        shutil.copytree(base, store)
        proc = start_ingest(src, store)
        if i % 2 == 0:  # anywhere in the ingest
            time.sleep(rng.uniform(0, ingest_s * 1.1))
        else:  # inside the write of the new version
            while not partial_exists(store) and proc.poll() is None:
                time.sleep(0.001)
            time.sleep(rng.uniform(0, write_s * 1.1))
        killed += kill(proc)
        mid_write = partial_exists(store)  # a half-written version left behind
        state = store_state(store, old, new)
        torn_write += mid_write and state == "old"
        outcomes.append(state)
        if i < ROUNDS - 1:
            shutil.rmtree(store)
    print(f"kills: {killed} of {ROUNDS} landed in a running ingest, {torn_write} mid-write; "
          f"outcomes {outcomes.count('old')} old / {outcomes.count('new')} new; "
          f"clean ingest {ingest_s:.2f} s, write {write_s:.2f} s")
    assert ROUNDS >= 20 and killed >= ROUNDS // 2, "too few kills landed while the ingest ran"

    # The last killed store takes a clean ingest: leftovers of the killed writer are cleared.
    last = root / f"round{ROUNDS - 1}"
    report = ingest_file(src, last, kind="mininter", progress=False)
    assert report.n_accepted + report.n_rejected == report.n_input == N_B
    assert store_state(last, old, new) == "new"
    assert not partial_exists(last)
