"""Coverage-guided fuzzing (atheris/libFuzzer) of the incident readers.

The first input byte picks a reader and a file suffix, the rest is the file. A reader
may refuse the file with a one-line :class:`geo.errors.HexwatchError`; anything else
it raises is a crash, and when it reads the file, ``accepted + rejected == n_input``
must hold. The hypothesis tests (``tests/test_fuzz_ingest.py``) build structured bad
files; this harness mutates raw bytes, starting from the seed corpus it writes.

Run (Linux x86-64; ``pip install -e '.[fuzz]'``)::

    python fuzz/fuzz_readers.py -atheris_runs=100000         # or -max_total_time=600
    python fuzz/fuzz_readers.py fuzz/corpus -max_total_time=3600  # keep and grow a corpus
    python fuzz/fuzz_readers.py crash-<hash>                  # replay a crash libFuzzer wrote

Only hexwatch's own modules are instrumented (Polars, Arrow, NumPy and pandas are
imported first): atheris's bytecode tracing of Polars' Python layer broke it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import atheris
import numpy  # noqa: F401  (imported before instrumentation: only hexwatch's own code is traced)
import pandas  # noqa: F401
import polars  # noqa: F401
import pyarrow.parquet  # noqa: F401

with atheris.instrument_imports(include=["geo"]):
    from geo.errors import HexwatchError
    from geo.incidents import read_counts, read_mininter, read_points, read_sidpol

TMP = Path(tempfile.mkdtemp(prefix="hexwatch-atheris-"))
READERS = [
    (".csv", lambda p: read_points(p, lat="lat", lon="lon", time="time", category="category", id="id")),
    (".geojson", lambda p: read_points(p, time="time", category="category")),
    (".parquet", lambda p: read_points(p, lat="lat", lon="lon", time="time", category="category")),
    (".csv", read_mininter),
    (".parquet", read_mininter),
    (".csv", read_sidpol),
    (".csv", lambda p: read_counts(p, ubigeo="ubigeo", date="periodo", category="tipo", count="n")),
    (".csv", lambda p: read_points(p, lat="lat", lon="lon", time="fecha", time_of_day="hora", category="category")),
]
SEEDS = {
    0: b"id,lat,lon,time,category\n1,-12.05,-77.04,2023-09-21 14:35,Robo\n2,nan,-77,21/09/2023,hurto\n",
    1: b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"time":"2023-09-21",'
       b'"category":"robo"},"geometry":{"type":"Point","coordinates":[-77.04,-12.05]}}]}',
    3: b"fecha_hora_hecho;lat_hecho;long_hecho;tipo_hecho;ubigeo_hecho\n2023-09-21 14:35;-12,05;-77,04;ROBO;150132\n",
    5: "\ufeffANIO,MES,UBIGEO_HECHO,P_MODALIDADES,cantidad\n2023,SETIEMBRE,10202,EXTORSIÓN,3\n".encode(),
    6: "ubigeo;periodo;tipo;n\n150132;sep-2023;Extorsión;1.303\n150132;2023;Robo;4\n".encode("cp1252"),
    7: b'fecha,hora,lat,lon,category\n21/09/2023,2:35 PM,-12.05,-77.04,"Robo\n2023,,-12.05,-77.04,hurto\n',
}


def test_one_input(data: bytes) -> None:
    if not data:
        return
    suffix, read = READERS[data[0] % len(READERS)]
    path = TMP / f"input{suffix}"
    path.write_bytes(data[1:])
    try:
        parsed = read(path)
    except HexwatchError as exc:
        if "\n" in str(exc):
            raise AssertionError(f"error message is not one line: {exc!r}") from None
        return
    if len(parsed.accepted) + len(parsed.rejects) != parsed.n_input:
        raise AssertionError(f"{len(parsed.accepted)} + {len(parsed.rejects)} != {parsed.n_input}")
    if parsed.n_events_input is not None and parsed.accepted["n"].sum() > parsed.n_events_input:
        raise AssertionError(f"accepted events {parsed.accepted['n'].sum()} > {parsed.n_events_input} in the file")


def _seed_corpus(folder: Path) -> None:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    pq.write_table(pa.table({"lat": [-12.05, None], "lon": [-77.04, 1e308], "time": ["2023-09-21", "x"],
                             "category": ["robo", ""]}), buf)
    seeds = {**SEEDS, 2: buf.getvalue()}
    for k, data in seeds.items():
        (folder / f"seed{k}").write_bytes(bytes([k]) + data)


if __name__ == "__main__":
    args = sys.argv[1:]
    corpus = next((Path(a) for a in args if not a.startswith("-")), None)
    if corpus is None:
        corpus = TMP / "corpus"
        args = [str(corpus)] + args
    if not corpus.is_file() and not (corpus.is_dir() and any(corpus.iterdir())):  # a file: replay one input
        _seed_corpus(corpus)
    os.environ.setdefault("POLARS_MAX_THREADS", "1")
    atheris.Setup([sys.argv[0], *args], test_one_input)
    atheris.Fuzz()
