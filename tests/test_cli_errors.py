"""Issue 14, item 7, as attacks on the command line: every user error is one line on
stderr and exit code 2 (never a traceback), ``--help`` shows flags as flags, and a full
or read-only disk loses nothing and leaves no ``versions/.<id>.partial`` folder behind.

Full and read-only disks are real tmpfs mounts when this process may mount one (root
with CAP_SYS_ADMIN, as in CI's container); elsewhere the same write fails with the
same errno through a monkeypatched file open (named in each test)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from geo.cli import main
from geo.store import Store


def hexwatch(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "geo.cli", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd)


def one_line(r: subprocess.CompletedProcess) -> bool:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    return r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.stderr


@pytest.mark.parametrize("args, says", [
    (["export", "--bogus"], "No such option: --bogus"),
    (["export", "--out", "x.geojson"], "Missing option '--store'"),
    (["nosuchverb"], "No such command 'nosuchverb'"),
    (["ingest", "x.csv", "--store", "s", "--resolution", "abc"], "'--resolution'"),
    (["export", "--store", "s", "--out", "x", "--k"], "requires an argument"),
    (["declarations", "status"], "Missing argument"),
])
def test_usage_errors_are_one_line_and_exit_2(tmp_path, args, says):
    r = hexwatch(*args, cwd=tmp_path)
    assert one_line(r), r.stderr
    assert says in r.stderr


def test_help_shows_flags_without_a_type():
    for verb in ("export", "ingest", "embed"):
        r = hexwatch(verb, "--help")
        assert r.returncode == 0 and "<bool>" not in r.stdout and "--help" in r.stdout
    assert "--public" in hexwatch("export", "--help").stdout
    assert "<int>" in hexwatch("export", "--help").stdout  # options that take a value still say what


def test_a_geojson_that_is_a_bare_geometry_is_a_one_line_error(tmp_path):
    path = tmp_path / "point.geojson"
    path.write_text('{"type": "Point", "coordinates": [-77.03, -12.05]}')
    r = hexwatch("ingest", str(path), "--store", str(tmp_path / "s"), "--format", "points", "--time", "t",
                 "--category", "c", "--no-boundaries")
    assert one_line(r) and "no column 't'" in r.stderr, r.stderr
    collection = tmp_path / "one.geojson"
    collection.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
                          '{"t": "2023-09-21 10:00", "c": "robo"}, "geometry": {"type": "Point", '
                          '"coordinates": [-77.03, -12.05]}}]}')
    r = hexwatch("ingest", str(collection), "--store", str(tmp_path / "s"), "--format", "points", "--time", "t",
                 "--category", "c", "--no-boundaries")
    assert r.returncode == 0, r.stderr  # the same point as a Feature is read


# -- full and read-only disks ---------------------------------------------------------------


@contextmanager
def tmpfs(path: Path, size: str, *, read_only: bool = False):
    """A tmpfs of ``size`` at ``path`` (yields True), or yields False when this process
    may not mount one."""
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if read_only else "")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True)
    if r.returncode != 0:
        yield False
        return
    try:
        yield True
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def points_csv(path: Path, n: int) -> Path:
    import numpy as np

    rng = np.random.default_rng(5)
    lines = ["t,lat,lon,cat"] + [f"2023-09-{1 + i % 28:02d} 10:00,{-12.1 + rng.random() * 0.2:.6f},"
                                 f"{-77.1 + rng.random() * 0.2:.6f},robo" for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


# In-process runs of main() must leave the test process as it is (no --tune-process).
INGEST = ["--format", "points", "--time", "t", "--lat", "lat", "--lon", "lon", "--category", "cat", "--no-boundaries",
          "--no-tune-process"]


def run_main(args, capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    return exc.value.code, capsys.readouterr().err


def enospc_on_store_writes(monkeypatch, store: Path) -> None:
    """The fallback full disk: any file opened for writing under ``store``'s versions
    fails with ENOSPC, as Arrow's and Python's writes do on a full file system."""
    import builtins

    import pyarrow as pa

    real_open, real_stream = builtins.open, pa.output_stream

    def full(path) -> bool:
        return str(store / "versions") in str(path)

    def fake_open(file, mode="r", *a, **k):
        if full(file) and any(c in mode for c in "wax"):
            raise OSError(errno.ENOSPC, "No space left on device", str(file))
        return real_open(file, mode, *a, **k)

    def fake_stream(path, *a, **k):
        if full(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_stream(path, *a, **k)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(pa, "output_stream", fake_stream)


def test_a_full_disk_is_one_line_loses_nothing_and_leaves_no_partial_version(tmp_path, capsys, monkeypatch):
    small, big = points_csv(tmp_path / "small.csv", 50), points_csv(tmp_path / "big.csv", 60_000)
    store = tmp_path / "disk" / "store"
    with tmpfs(tmp_path / "disk", "1m") as mounted:
        assert main(["ingest", str(small), "--store", str(store), *INGEST]) is None  # fits
        before = Store.open(store)
        n_before = before.read("incidents").shape[0]
        if not mounted:
            enospc_on_store_writes(monkeypatch, store)
        for _ in range(3):  # each try used to leave a partial version behind
            code, err = run_main(["ingest", str(big), "--store", str(store), *INGEST], capsys)
            lines = [ln for ln in err.splitlines() if ln.strip()]
            assert code == 2 and len(lines) == 1 and "No space left on device" in lines[0] and "free some space" in lines[0]
        monkeypatch.undo()
        assert not [p.name for p in (store / "versions").iterdir() if p.name.endswith(".partial")]
        assert not [p.name for p in store.iterdir() if p.name.endswith(".tmp")]
        after = Store.open(store)
        assert after.version == before.version and after.read("incidents").shape[0] == n_before


def test_a_partial_version_left_by_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    import pandas as pd

    from geo.store import write_version

    write_version(tmp_path, tables={"incidents": pd.DataFrame({"incident_id": ["a"]})}, meta={})
    dead = tmp_path / "versions" / ".20230101T000000-deadbeef.partial"
    dead.mkdir()
    (dead / "incidents.parquet").write_bytes(b"x" * 1000)
    with pytest.raises(ValueError):  # a failed write removes it too
        write_version(tmp_path, tables={"bogus": pd.DataFrame({"x": [1]})}, meta={})
    assert not dead.exists()
    assert not [p for p in (tmp_path / "versions").iterdir() if p.name.endswith(".partial")]


def test_a_read_only_store_or_export_folder_is_one_line(tmp_path, sharing_path, capsys, monkeypatch):
    csv = points_csv(tmp_path / "p.csv", 20)
    with tmpfs(tmp_path / "ro", "1m", read_only=True) as mounted:
        if not mounted:
            import builtins

            real_open = builtins.open
            ro = str(tmp_path / "ro")

            def fake_open(file, mode="r", *a, **k):
                if str(file).startswith(ro) and any(c in mode for c in "wax+"):
                    raise OSError(errno.EROFS, "Read-only file system", str(file))
                return real_open(file, mode, *a, **k)

            monkeypatch.setattr(builtins, "open", fake_open)
            monkeypatch.setattr(os, "mkdir", lambda p, *a, **k: (_ for _ in ()).throw(
                OSError(errno.EROFS, "Read-only file system", str(p))) if str(p).startswith(ro) else None)
        code, err = run_main(["ingest", str(csv), "--store", str(tmp_path / "ro" / "store"), *INGEST], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and "Read-only file system" in err, err
        code, err = run_main(["export", "--store", str(sharing_path), "--out", str(tmp_path / "ro" / "v.geojson"),
                              "--from", "2023-09-01", "--to", "2023-09-30", "--public"], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and "Read-only file system" in err, err
        assert "read-only" in err
