"""The ingest pipeline (geo.ingest) and its commands: counts add up, cells are h3-py's,
cubes equal the rows, re-ingest adds nothing, a failed write leaves the store as it was."""

from __future__ import annotations

import json

import subprocess
import sys
import threading
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import shapely

from geo import ingest as ingest_mod
from geo.errors import HexwatchError
from geo.h3index import cells_to_parent, latlng_to_cells
from geo.ingest import ingest_file
from geo.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
MININTER = FIXTURES / "mininter.csv"
SIDPOL = FIXTURES / "sidpol_utf8_bom.csv"
TABLES = ("incidents", "cube_cell", "cube_district", "district_month", "rejects")


@pytest.fixture(scope="module")
def squares() -> gpd.GeoDataFrame:
    """Two tiny made-up districts: 150132 west of -77.0, 150135 east of -76.95 (lat -12.05..-12.0)."""
    return gpd.GeoDataFrame({"ubigeo": ["150132", "150135"]}, crs="EPSG:4326",
                            geometry=[shapely.box(-77.05, -12.05, -77.0, -12.0), shapely.box(-76.95, -12.05, -76.9, -12.0)])


def _tables(store: Path) -> dict[str, pd.DataFrame]:
    s = Store.open(store)
    return {t: s.read(t) for t in TABLES if s.has(t)}


def _random_points(path: Path, n: int, seed: int, *, start_id: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "id_denuncia": [f"R{i:07d}" for i in range(start_id, start_id + n)],
        "fecha_hora_hecho": (np.datetime64("2023-01-01T00:00") + rng.integers(0, 365 * 24 * 60, n).astype("timedelta64[m]"))
        .astype("datetime64[s]").astype(str),
        "lat_hecho": rng.uniform(-12.06, -11.99, n), "long_hecho": rng.uniform(-77.06, -76.89, n),
        "tipo_hecho": rng.choice(["ROBO", "HURTO", "EXTORSIÓN"], n), "subtipo_hecho": "X", "ubigeo_hecho": 150132,
    })
    frame["fecha_hora_hecho"] = frame["fecha_hora_hecho"].str.replace("T", " ")
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    return frame


def test_mininter_ingest_end_to_end(tmp_path, squares):
    store = tmp_path / "store"
    report = ingest_file(MININTER, store, kind="mininter", boundaries=squares, progress=False)
    assert report.n_input == 12 and report.n_accepted == 6 and report.n_rejected == 6
    assert report.n_accepted + report.n_rejected == report.n_input
    assert report.rejects_by_reason == {"bad_coordinate": 2, "duplicate_id": 1, "missing_category": 1,
                                        "missing_coordinate": 1, "unparseable_time": 1}
    # D-0005 lies in neither square: kept, with its cell and no district.
    assert report.n_located == 5 and report.n_outside_districts == 1
    # D-0011 says 150135 but lies in 150132; D-0005's reported 150199 has no located district to compare.
    assert report.n_reported_ubigeo_mismatch == 1
    t = _tables(store)
    inc = t["incidents"].set_index("incident_id")
    assert inc.loc["D-0001", "ubigeo"] == "150132" and inc.loc["D-0003", "ubigeo"] == "150135"
    assert pd.isna(inc.loc["D-0005", "ubigeo"])
    assert inc.loc["D-0011", "reported_ubigeo"] == "150135"
    # The stored cell is h3-py's cell of the point at the store's resolution.
    assert [h3.int_to_str(int(c)) for c in inc["cell"]] == [h3.latlng_to_cell(a, b, 9) for a, b in zip(inc["lat"], inc["lon"])]
    schema = Store.open(store).read_arrow("incidents").schema
    assert schema.field("cell").type == pa.uint64() and schema.field("time").type == pa.timestamp("ms")
    assert schema.field("day").type == pa.date32() and schema.field("incident_id").type == pa.string()
    # Readers may rely on the contract's non-null columns: they are required in the files.
    for name in ("incident_id", "time", "day", "category", "lat", "lon", "cell", "source"):
        assert not schema.field(name).nullable, name
    assert all(schema.field(name).nullable for name in ("subcategory", "ubigeo", "reported_ubigeo"))
    for table in ("cube_cell", "cube_district"):
        assert not any(f.nullable for f in Store.open(store).read_arrow(table).schema), table
    # Cubes: every resolution counts every accepted row; the district cube the located ones.
    cube = t["cube_cell"]
    assert cube.groupby("resolution")["n"].sum().to_dict() == {7: 6, 8: 6, 9: 6, 10: 6}
    assert cube[cube["resolution"] == 10].groupby("category")["n"].sum().to_dict() == inc["category"].value_counts().to_dict()
    assert t["cube_district"]["n"].sum() == 5
    assert sorted(t["rejects"]["row_number"]) == [6, 7, 8, 9, 10, 11]
    meta = Store.open(store).meta
    assert meta["h3_resolution"] == 9 and meta["cube_resolutions"] == [7, 8, 9, 10]
    assert meta["coverage"] == {"start": "2023-09-21", "end": "2023-09-24"}
    assert meta["sources"][0]["sha256"] == report.sha256 and meta["sources"][0]["kind"] == "mininter"
    assert Store.open(store).read_json("ingest_report.json")["n_input"] == 12


@pytest.mark.parametrize("proofs", [False, True], ids=["reindexed", "proven-parents"])
def test_cells_and_cubes_match_h3_on_many_points(tmp_path, squares, monkeypatch, proofs):
    if proofs:  # 5,000 points are too few for proofs to pay: force them, as on large files
        monkeypatch.setattr("geo.h3index._MIN_POINTS_PER_PARENT", 0)
    pts = _random_points(tmp_path / "p.parquet", 5_000, seed=1)
    ingest_file(tmp_path / "p.parquet", tmp_path / "store", kind="mininter", boundaries=squares, progress=False, resolution=8)
    t = _tables(tmp_path / "store")
    inc = t["incidents"].set_index("incident_id").loc[pts["id_denuncia"]]
    assert inc["cell"].tolist() == [int(h3.str_to_int(h3.latlng_to_cell(a, b, 8))) for a, b in zip(pts["lat_hecho"], pts["long_hecho"])]
    c10 = latlng_to_cells(pts["lat_hecho"].to_numpy(), pts["long_hecho"].to_numpy(), 10)
    day = pd.to_datetime(pts["fecha_hora_hecho"]).dt.date
    for r in (7, 8, 9, 10):
        ref = pd.DataFrame({"cell": cells_to_parent(c10, r), "day": day, "category": pts["tipo_hecho"].str.lower()}) \
            .groupby(["cell", "day", "category"]).size().sort_index()
        got = t["cube_cell"][t["cube_cell"]["resolution"] == r].set_index(["cell", "day", "category"])["n"].sort_index()
        pd.testing.assert_series_equal(got, ref, check_dtype=False, check_names=False)
    located = inc["ubigeo"].notna()
    assert t["cube_district"]["n"].sum() == located.sum() > 0
    inside = shapely.contains_xy(squares.geometry.iloc[0], pts["long_hecho"], pts["lat_hecho"])
    assert (inc["ubigeo"] == "150132").to_numpy().tolist() == inside.tolist()


def test_a_store_filled_by_another_ingest_meanwhile_still_gets_cubes_of_all_its_points(tmp_path, squares, monkeypatch):
    # The first ingest into an empty store builds its cell cube while locating; if
    # another ingest fills the store before this one takes the lock, that cube is
    # incomplete and must be rebuilt from all the store's points.
    store = tmp_path / "store"
    _random_points(tmp_path / "a.parquet", 300, seed=2)
    _random_points(tmp_path / "b.parquet", 200, seed=3, start_id=1_000)
    ingest_file(tmp_path / "a.parquet", store, kind="mininter", boundaries=squares, progress=False)
    monkeypatch.setattr(ingest_mod, "_holds_incidents", lambda root: False)  # "empty when we looked"
    ingest_file(tmp_path / "b.parquet", store, kind="mininter", boundaries=squares, progress=False)
    t = _tables(store)
    assert len(t["incidents"]) == 500
    assert t["cube_cell"].groupby("resolution")["n"].sum().tolist() == [500, 500, 500, 500]
    assert t["cube_district"]["n"].sum() == t["incidents"]["ubigeo"].notna().sum()


def test_a_parser_that_reports_no_coordinates_still_gets_its_accepted_rows_indexed(tmp_path, squares, monkeypatch):
    real = ingest_mod.incidents.parse_mininter
    monkeypatch.setattr(ingest_mod.incidents, "parse_mininter",
                        lambda path, **kw: real(path, **{**kw, "on_coordinates": None}))
    report = ingest_file(MININTER, tmp_path / "store", kind="mininter", boundaries=squares, progress=False)
    assert report.n_rejected > 0  # the fixture's bad rows: accepted rows are not the file's rows
    inc = _tables(tmp_path / "store")["incidents"]
    assert inc["cell"].tolist() == [h3.str_to_int(h3.latlng_to_cell(a, b, 9)) for a, b in zip(inc["lat"], inc["lon"])]


def test_reingest_adds_nothing_and_leaves_the_store_as_it_was(tmp_path, squares):
    store = tmp_path / "store"
    first = ingest_file(MININTER, store, kind="mininter", boundaries=squares, progress=False)
    before, version, meta = _tables(store), Store.open(store).version, Store.open(store).meta
    again = ingest_file(MININTER, store, kind="auto", boundaries=squares, progress=False)
    assert again.n_accepted == 0 and again.n_already_present == first.n_accepted
    assert again.n_accepted + again.n_rejected == again.n_input == 12
    assert again.version is None and Store.open(store).version == version and Store.open(store).meta == meta
    after = _tables(store)
    for name in before:
        pd.testing.assert_frame_equal(after[name], before[name])


def test_a_partly_new_file_adds_only_its_new_rows(tmp_path, squares):
    store = tmp_path / "store"
    old = _random_points(tmp_path / "a.parquet", 3_000, seed=2)
    ingest_file(tmp_path / "a.parquet", store, kind="mininter", boundaries=squares, progress=False)
    new = _random_points(tmp_path / "new.parquet", 1_000, seed=3, start_id=3_000)
    both = pd.concat([old.iloc[1_000:], new, old.iloc[:1_000]])
    pq.write_table(pa.Table.from_pandas(both, preserve_index=False), tmp_path / "b.parquet")
    report = ingest_file(tmp_path / "b.parquet", store, kind="mininter", boundaries=squares, progress=False)
    assert report.n_accepted == 1_000 and report.n_already_present == 3_000 and report.n_input == 4_000
    t = _tables(store)
    assert len(t["incidents"]) == 4_000 and t["incidents"]["incident_id"].is_unique
    # The cubes of the merged store equal cubes of a store built from all rows at once.
    pq.write_table(pa.Table.from_pandas(pd.concat([old, new]), preserve_index=False), tmp_path / "all.parquet")
    ingest_file(tmp_path / "all.parquet", tmp_path / "fresh", kind="mininter", boundaries=squares, progress=False)
    fresh = _tables(tmp_path / "fresh")
    for name, key in (("cube_cell", ["resolution", "cell", "day", "category"]), ("cube_district", ["ubigeo", "day", "category"])):
        pd.testing.assert_frame_equal(t[name].sort_values(key).reset_index(drop=True),
                                      fresh[name].sort_values(key).reset_index(drop=True))


def test_clip_rejects_points_outside_every_district(tmp_path, squares):
    report = ingest_file(MININTER, tmp_path / "store", kind="mininter", boundaries=squares, clip=True, progress=False)
    assert report.rejects_by_reason["outside_area"] == 1 and report.n_accepted == 5
    rej = Store.open(tmp_path / "store").read("rejects")
    assert rej.loc[rej["reason"] == "outside_area", "row_number"].tolist() == [5]
    with pytest.raises(HexwatchError, match="--clip needs boundaries"):
        ingest_file(MININTER, tmp_path / "other", kind="mininter", boundaries=False, clip=True, progress=False)


def test_later_rejects_of_a_parquet_file_keep_whole_original_rows(tmp_path, squares):
    # Columns hexwatch never reads (here "comisaria") still appear in the raw row of a
    # reject made after parsing: outside every district, then already in the store.
    frame = _random_points(tmp_path / "p.parquet", 50, seed=4)
    frame["comisaria"] = [f"CPNP {i}" for i in range(50)]
    frame["lat_hecho"], frame["long_hecho"] = np.linspace(-12.04, -12.01, 50), -77.02  # in district 150132
    frame.loc[7, ["lat_hecho", "long_hecho"]] = (-13.5, -72.0)  # far outside both
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "p.parquet")
    report = ingest_file(tmp_path / "p.parquet", tmp_path / "store", kind="mininter", boundaries=squares, clip=True,
                         progress=False, rejects_path=tmp_path / "r1.csv")
    assert report.rejects_by_reason == {"outside_area": 1}
    outside = pd.read_csv(tmp_path / "r1.csv")
    assert outside["row_number"].tolist() == [8]
    assert json.loads(outside["raw"].iloc[0])["comisaria"] == "CPNP 7"
    again = ingest_file(tmp_path / "p.parquet", tmp_path / "store", kind="mininter", boundaries=squares, clip=True,
                        progress=False, rejects_path=tmp_path / "r2.csv")
    assert again.n_already_present == 49
    present = pd.read_csv(tmp_path / "r2.csv").query("reason == 'already_in_store'")
    assert [json.loads(r)["comisaria"] for r in present["raw"]] == [f"CPNP {i}" for i in range(50) if i != 7]


def test_without_boundaries_points_keep_cells_and_no_district(tmp_path):
    report = ingest_file(MININTER, tmp_path / "store", kind="mininter", boundaries=False, progress=False)
    assert report.n_accepted == 6 and report.boundaries.startswith("none")
    inc = Store.open(tmp_path / "store").read("incidents")
    assert inc["ubigeo"].isna().all() and (inc["cell"] > 0).all()
    assert Store.open(tmp_path / "store").read("cube_district").empty


def test_a_failed_write_leaves_the_previous_version_readable_and_unchanged(tmp_path, squares, monkeypatch):
    store = tmp_path / "store"
    ingest_file(MININTER, store, kind="mininter", boundaries=squares, progress=False)
    before, version = _tables(store), Store.open(store).version
    _random_points(tmp_path / "more.parquet", 500, seed=4)
    import geo.store

    real, calls = geo.store.pq.write_table, []

    def failing(table, where, **kw):
        calls.append(where)
        if len(calls) == 2:
            raise OSError("disk full (injected)")
        return real(table, where, **kw)

    monkeypatch.setattr(geo.store.pq, "write_table", failing)
    with pytest.raises(OSError, match="injected"):
        ingest_file(tmp_path / "more.parquet", store, kind="mininter", boundaries=squares, progress=False)
    monkeypatch.undo()
    assert Store.open(store).version == version
    after = _tables(store)
    for name in before:
        pd.testing.assert_frame_equal(after[name], before[name])
    # The next ingest succeeds and holds both files' rows.
    report = ingest_file(tmp_path / "more.parquet", store, kind="mininter", boundaries=squares, progress=False)
    assert report.n_accepted == 500 and len(Store.open(store).read("incidents")) == 506


def test_concurrent_ingests_lose_no_rows(tmp_path, squares):
    for i in range(2):
        _random_points(tmp_path / f"{i}.parquet", 2_000, seed=10 + i, start_id=i * 2_000)
    errors = []

    def run(i):
        try:
            ingest_file(tmp_path / f"{i}.parquet", tmp_path / "store", kind="mininter", boundaries=squares, progress=False)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    inc = Store.open(tmp_path / "store").read("incidents")
    assert len(inc) == 4_000 and inc["incident_id"].is_unique
    assert Store.open(tmp_path / "store").read("cube_cell").groupby("resolution")["n"].sum().eq(4_000).all()


def test_sidpol_ingest_and_reingest(tmp_path, squares):
    store = tmp_path / "store"
    report = ingest_file(SIDPOL, store, kind="auto", boundaries=False, progress=False)
    assert report.kind == "sidpol" and report.n_accepted == 6 and report.n_rejected == 7
    dm = Store.open(store).read("district_month")
    assert list(dm.columns) == ["ubigeo", "year", "month", "category", "n"]
    # Two Sullana rows of one district-month-category with different counts: both rejected, not summed.
    assert report.rejects_by_reason["conflicting_count"] == 2 and "200601" not in set(dm["ubigeo"])
    assert dm["n"].sum() == 250 == report.n_events_accepted
    assert report.n_events_accepted + report.n_events_rejected == report.n_events_input == 250 + 12 + 3 + 5 + 1 + 2
    assert Store.open(store).meta["coverage"] == {"start": "2023-09-01", "end": "2023-10-31"}
    again = ingest_file(FIXTURES / "sidpol_latin1.csv", store, kind="sidpol", boundaries=False, progress=False)
    assert again.n_accepted == 0 and again.n_already_present == 6
    assert Store.open(store).read("district_month")["n"].sum() == 250
    # With boundaries, codes of districts they do not hold are rejected.
    other = ingest_file(SIDPOL, tmp_path / "s2", kind="sidpol", boundaries=squares, progress=False)
    assert other.rejects_by_reason["unknown_ubigeo"] == 10


def test_points_and_store_resolution_rules(tmp_path):
    p = tmp_path / "p.csv"
    p.write_text("when,y,x,what\n2023-09-21 10:00,-12.05,-77.04,Robo\n")
    cols = {"time": "when", "lat": "y", "lon": "x", "category": "what"}
    ingest_file(p, tmp_path / "store", kind="points", columns=cols, boundaries=False, progress=False)
    q = tmp_path / "q.csv"
    q.write_text("when,y,x,what\n2023-09-22 10:00,-12.06,-77.04,Robo\n")
    with pytest.raises(HexwatchError, match="resolution 9"):
        ingest_file(q, tmp_path / "store", kind="points", columns=cols, boundaries=False, progress=False, resolution=8)
    with pytest.raises(HexwatchError, match="name the columns"):
        ingest_file(q, tmp_path / "store", kind="points", boundaries=False, progress=False)
    with pytest.raises(HexwatchError, match="unknown kind"):
        ingest_file(q, tmp_path / "store", kind="csv", columns=cols, boundaries=False, progress=False)


def test_real_boundaries_locate_a_point_in_san_juan_de_lurigancho(tmp_path, study_districts):
    p = tmp_path / "m.csv"
    # A point in central San Juan de Lurigancho, one in Ventanilla (Callao), one in the Pacific.
    p.write_text("id_denuncia,fecha_hora_hecho,lat_hecho,long_hecho,tipo_hecho,subtipo_hecho,ubigeo_hecho\n"
                 "a,2023-10-01 10:00:00,-11.9800,-76.9900,ROBO,ROBO,150132\n"
                 "b,2023-10-01 11:00:00,-11.8750,-77.1300,ROBO,ROBO,70106\n"
                 "c,2023-10-01 12:00:00,-12.3000,-77.6000,ROBO,ROBO,\n")
    report = ingest_file(p, tmp_path / "store", kind="mininter", boundaries=study_districts, progress=False)
    inc = Store.open(tmp_path / "store").read("incidents").set_index("incident_id")
    assert inc["ubigeo"].fillna("none").to_dict() == {"a": "150132", "b": "070106", "c": "none"}
    assert report.n_outside_districts == 1 and report.n_reported_ubigeo_mismatch == 0


def test_cli_ingest_and_summary(tmp_path):
    store = str(tmp_path / "store")
    ok = subprocess.run([sys.executable, "-m", "geo.cli", "ingest", str(MININTER), "--store", store, "--no-boundaries",
                         "--rejects", str(tmp_path / "rej.csv"), "--json"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "12 rows read: 6 added, 6 rejected" in ok.stdout and '"n_input": 12' in ok.stdout
    rej = pd.read_csv(tmp_path / "rej.csv")
    assert list(rej.columns) == ["source_file", "row_number", "reason", "detail", "raw"] and len(rej) == 6
    summary = subprocess.run([sys.executable, "-m", "geo.cli", "summary", "--store", store], capture_output=True,
                             text=True, timeout=120)
    assert summary.returncode == 0 and "incidents 6" in summary.stdout and "mininter.csv" in summary.stdout


@pytest.mark.parametrize("args, needle", [
    (("ingest", str(MININTER), "--format", "points", "--lat", "nope", "--lon", "long_hecho", "--time", "fecha_hora_hecho",
      "--category", "tipo_hecho"), "no column 'nope'"),
    (("ingest", str(MININTER), "--format", "points"), "name the columns"),
    (("ingest", "missing.csv"), "does not exist"),
    (("ingest", str(MININTER), "--boundaries", str(MININTER)), "--boundary-id-field"),
    (("ingest", str(MININTER), "--no-boundaries", "--time-format", "%Y"), "reads none of the times"),
    (("summary",), "no hexwatch store"),
])
def test_cli_errors_are_one_line_and_exit_2(tmp_path, capsys, args, needle):
    from geo.cli import main

    with pytest.raises(SystemExit) as stop:
        main([*args, "--store", str(tmp_path / "store")])
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert needle in err and len(err.strip().splitlines()) == 1, err


def test_chunked_ingest_equals_one_chunk_and_is_silent_off_a_terminal(tmp_path, squares, capsys, monkeypatch):
    _random_points(tmp_path / "p.parquet", 5_000, seed=5)
    ingest_file(tmp_path / "p.parquet", tmp_path / "one", kind="mininter", boundaries=squares, progress=False)
    monkeypatch.setattr(ingest_mod, "CHUNK_ROWS", 1_000)  # five chunks
    monkeypatch.setattr(ingest_mod, "PROGRESS_MIN_BYTES", 0)  # a "long" file: a bar if stderr were a terminal
    report = ingest_file(tmp_path / "p.parquet", tmp_path / "store", kind="mininter", boundaries=squares, progress=True)
    captured = capsys.readouterr()
    assert report.n_accepted == 5_000 and captured.err == "" and captured.out == ""
    chunked, one = _tables(tmp_path / "store"), _tables(tmp_path / "one")
    for name in one:
        pd.testing.assert_frame_equal(chunked[name], one[name])
    assert set(report.seconds) >= {"parse", "h3", "locate", "cubes", "write"}


def test_progress_bar_shows_on_a_terminal_for_long_files(tmp_path, squares, capsys, monkeypatch):
    _random_points(tmp_path / "p.parquet", 2_000, seed=6)
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich treats stderr as a terminal
    monkeypatch.setattr(ingest_mod, "PROGRESS_MIN_BYTES", 0)
    ingest_file(tmp_path / "p.parquet", tmp_path / "store", kind="mininter", boundaries=squares, progress=True)
    assert "ingest p.parquet" in capsys.readouterr().err
    ingest_file(tmp_path / "p.parquet", tmp_path / "s2", kind="mininter", boundaries=squares, progress=False)
    assert capsys.readouterr().err == ""


def test_ingest_into_a_store_whose_incidents_lack_newer_columns(tmp_path, squares):
    from geo.store import write_version

    store = tmp_path / "store"
    ingest_file(MININTER, store, kind="mininter", boundaries=squares, progress=False)
    s = Store.open(store)
    write_version(store, tables={"incidents": s.read_arrow("incidents").drop_columns(["reported_ubigeo"])}, meta=s.meta)
    _random_points(tmp_path / "p.parquet", 100, seed=7)
    report = ingest_file(tmp_path / "p.parquet", store, kind="mininter", boundaries=squares, progress=False)
    inc = Store.open(store).read("incidents")
    assert report.n_accepted == 100 and len(inc) == 106
    assert inc["reported_ubigeo"].isna().sum() == 6 and (inc["reported_ubigeo"] == "150132").sum() == 100


@pytest.mark.parametrize("module", ["geo.readers", "geo.readers.periods", "geo.readers.times", "geo.readers.ubigeo",
                                    "geo.readers.ids", "geo.cubes", "geo.ingest"])
def test_docstring_examples_hold(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the page and heap settings are Linux's")
def test_an_ingest_leaves_the_process_settings_as_it_found_them(tmp_path, squares):
    import ctypes
    import gc

    libc = ctypes.CDLL(None)

    def settings():
        return gc.isenabled(), libc.prctl(42, 0, 0, 0, 0)  # PR_GET_THP_DISABLE

    before = settings()
    assert before == (True, 0)
    # The library changes nothing (issue 14); the command's own settings are undone after it.
    from geo.cli import _tuned_for_bulk_work

    with _tuned_for_bulk_work():
        seen = settings()
    assert seen == (False, 1) and settings() == before
    ingest_file(MININTER, tmp_path / "store", kind="mininter", boundaries=squares, progress=False)
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"PAR1 not really parquet PAR1")
    with pytest.raises(HexwatchError):
        ingest_file(bad, tmp_path / "store", kind="mininter", boundaries=squares, progress=False)
    assert settings() == before


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([None, "150101", "150132", "150135", "999999"]),
                          st.sampled_from([None, "150101", "150132", "150135"])), max_size=60),
       st.integers(1, 7))
def test_reported_and_located_ubigeos_compare_alike_as_codes_and_as_text(pairs, chunk):
    # Ingest's Enum columns (the located one listing districts with no point, the reported one
    # a ubigeo no district has) give the same counts as the plain text, in chunks of any size.
    import polars as pl

    reported = pl.Series("r", [r for r, _ in pairs], dtype=pl.String)
    located = pl.Series("u", [u for _, u in pairs], dtype=pl.String)
    as_text = ingest_mod.reported_vs_located(reported, located)
    expected = (sum(r is not None for r, _ in pairs), sum(r is not None and u is not None and r != u for r, u in pairs))
    assert as_text == expected
    saved = ingest_mod.CHUNK_ROWS
    try:
        ingest_mod.CHUNK_ROWS = chunk
        as_codes = ingest_mod.reported_vs_located(
            reported.cast(pl.Enum(sorted({r for r, _ in pairs if r}))),
            located.cast(pl.Enum(["070101", "150101", "150132", "150135", "200601"])))
    finally:
        ingest_mod.CHUNK_ROWS = saved
    assert as_codes == expected
