"""Issue 14, item 9: the library never changes the process it runs in. An ingest (what
the dashboard, a notebook or a Dask worker may call) must not switch off the garbage
collector, transparent huge pages (prctl) or glibc's allocator thresholds (mallopt);
only the ``hexwatch ingest`` command does, for its own short-lived process."""

from __future__ import annotations

import ctypes
import gc
import subprocess
import sys

from geo.ingest import ingest_file


def test_ingest_file_leaves_the_collector_and_the_c_library_alone(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(gc, "disable", lambda: calls.append("gc.disable"))
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("gc.freeze"))
    real_cdll = ctypes.CDLL

    def recording_cdll(name, *a, **k):
        calls.append(f"CDLL({name})")
        return real_cdll(name, *a, **k)

    monkeypatch.setattr(ctypes, "CDLL", recording_cdll)
    src = tmp_path / "p.csv"
    src.write_text("t,lat,lon,cat\n" + "".join(f"2023-09-{1 + i % 28:02d} 10:00,-12.05,{-77.04 + i * 1e-4:.5f},robo\n"
                                               for i in range(500)))
    report = ingest_file(src, tmp_path / "store", kind="points", boundaries=False, progress=False,
                         columns={"time": "t", "lat": "lat", "lon": "lon", "category": "cat"})
    assert report.n_accepted == 500
    assert calls == [] and gc.isenabled()


def test_the_command_tunes_its_own_process_while_it_ingests_and_can_be_told_not_to(tmp_path):
    src = tmp_path / "p.csv"
    src.write_text("t,lat,lon,cat\n2023-09-01 10:00,-12.05,-77.04,robo\n")
    # What the process is like while the library ingests (seen from inside ingest_file).
    probe = ("import gc, ctypes, sys; import geo.ingest as gi; real = gi.ingest_file\n"
             "def seen(*a, **k):\n"
             "    print('GC', gc.isenabled(), 'THP_DISABLED', ctypes.CDLL(None).prctl(42, 0, 0, 0, 0))\n"
             "    return real(*a, **k)\n"
             "gi.ingest_file = seen\n"
             "from geo import cli; cli.main(sys.argv[1:])\n"
             "print('AFTER GC', gc.isenabled(), 'THP_DISABLED', ctypes.CDLL(None).prctl(42, 0, 0, 0, 0))")
    outs = {}
    for flag in ("--tune-process", "--no-tune-process"):
        r = subprocess.run([sys.executable, "-c", probe, "ingest", str(src), "--store", str(tmp_path / flag),
                            "--format", "points", "--time", "t", "--lat", "lat", "--lon", "lon", "--category", "cat",
                            "--no-boundaries", flag], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        outs[flag] = [ln for ln in r.stdout.splitlines() if "THP_DISABLED" in ln]
    assert outs["--tune-process"] == ["GC False THP_DISABLED 1", "AFTER GC True THP_DISABLED 0"]
    assert outs["--no-tune-process"] == ["GC True THP_DISABLED 0", "AFTER GC True THP_DISABLED 0"]
