"""The store's Parquet files: what ingest writes reads back the same in every reader."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from geo.store import Store, write_version


def _table() -> pa.Table:
    rng = np.random.default_rng(3)
    n = 5_000
    cats = pa.array(["robo", "hurto", "extorsión"])
    return pa.table({
        "incident_id": pa.array([f"id-{i}" for i in range(n)]),
        "time": pa.array(rng.integers(1_600_000_000_000, 1_700_000_000_000, n), pa.timestamp("ms")),
        "day": pa.array(rng.integers(19_000, 19_500, n).astype(np.int32), pa.int32()).cast(pa.date32()),
        "category": pa.DictionaryArray.from_arrays(pa.array(rng.integers(0, 3, n).astype(np.int32)), cats),
        "lat": pa.array(rng.uniform(-12.3, -11.7, n)),
        "cell": pa.array(rng.integers(0, 2**63, n, dtype=np.uint64) | np.uint64(0x0890000000000000)),
        "resolution": pa.array(np.full(n, 9, np.int8)),
        "n": pa.array(rng.integers(1, 9, n).astype(np.int32)),
    })


def test_dictionary_text_and_split_numbers_read_back_plain_and_equal_everywhere(tmp_path):
    # Ingest hands text over as Polars left it: string views and dictionaries.
    expected = _table().set_column(3, "category", _table().column("category").cast(pa.string()))
    built = _table().set_column(0, "incident_id", _table().column("incident_id").cast(pa.string_view()))
    write_version(tmp_path, tables={"cube_cell": built}, meta={})
    path = Store.open(tmp_path).table_path("cube_cell")

    back = pq.read_table(path)
    assert back.schema == expected.schema  # dictionaries come back as plain text
    assert back.equals(expected)
    assert pl.read_parquet(path).equals(pl.from_arrow(expected))
    con = duckdb.connect()
    cells, lat, cats, last, first = con.execute(
        f"SELECT sum(cell::HUGEINT), sum(lat), count(DISTINCT category), max(time), min(day) FROM '{path}'").fetchone()
    assert cells == sum(int(c) for c in expected["cell"].to_pylist())
    assert lat == pytest.approx(float(np.sum(expected["lat"].to_numpy())), rel=1e-12)
    assert (cats, last, first) == (3, max(expected["time"].to_pylist()), min(expected["day"].to_pylist()))
    assert con.execute(f"SELECT count(*) FROM '{path}' WHERE category = 'extorsión'").fetchone()[0] == \
        expected["category"].to_pylist().count("extorsión")
    assert con.execute(f"SELECT count(DISTINCT incident_id), max(incident_id) FROM '{path}'").fetchone() == \
        (built.num_rows, max(expected["incident_id"].to_pylist()))
    ids = pq.ParquetFile(path).metadata.row_group(0).column(0)  # text, views included: no min/max kept
    assert ids.path_in_schema == "incident_id" and (ids.statistics is None or not ids.statistics.has_min_max)


def test_day_statistics_let_scans_skip_row_groups(tmp_path):
    built = _table().sort_by("day")
    write_version(tmp_path, tables={"cube_cell": built}, meta={})
    meta = pq.ParquetFile(Store.open(tmp_path).table_path("cube_cell")).metadata
    day = meta.schema.names.index("day")
    stats = meta.row_group(0).column(day).statistics
    assert stats is not None and stats.has_min_max
    assert (stats.min, stats.max) == (min(built["day"].to_pylist()), max(built["day"].to_pylist()))
    assert isinstance(stats.min, dt.date)


def test_a_table_builder_that_fails_leaves_the_live_version_and_no_partial_folder(tmp_path):
    write_version(tmp_path, tables={"cube_cell": _table()}, meta={"v": 1})
    before = Store.open(tmp_path)

    def broken() -> pa.Table:
        raise RuntimeError("disk full while building")

    with pytest.raises(RuntimeError, match="disk full"):
        write_version(tmp_path, tables={"incidents": lambda: _table().select(["incident_id"]), "cube_cell": broken},
                      meta={"v": 2})
    after = Store.open(tmp_path)
    assert (after.version, after.meta) == (before.version, {"v": 1})
    assert pq.read_table(after.table_path("cube_cell")).num_rows == _table().num_rows
    write_version(tmp_path, tables={"incidents": lambda: _table().select(["incident_id"])}, meta={"v": 3})
    assert not [p for p in (tmp_path / "versions").iterdir() if p.name.endswith(".partial")]
    assert Store.open(tmp_path).has("cube_cell")  # carried over from the live version


def test_metadata_made_while_tables_encode_is_written_and_its_failure_changes_nothing(tmp_path):
    import threading

    write_version(tmp_path, tables={"cube_cell": _table()}, meta={"v": 1})
    before = Store.open(tmp_path)
    caller = threading.get_ident()
    ran_in: list[int] = []

    def meta() -> dict:
        ran_in.append(threading.get_ident())
        return {"v": 2}

    write_version(tmp_path, tables={"cube_cell": _table()}, meta=meta, files=lambda: {"note.json": b'{"ok": 1}'})
    after = Store.open(tmp_path)
    assert after.meta == {"v": 2} and ran_in == [caller]  # the metadata was made in the calling thread
    assert (after.root / "versions" / after.version / "note.json").read_bytes() == b'{"ok": 1}'

    def broken() -> dict:
        raise AssertionError("ingest counts do not add up")

    with pytest.raises(AssertionError, match="do not add up"):
        write_version(tmp_path, tables={"cube_cell": _table()}, meta=broken)
    assert (Store.open(tmp_path).version, Store.open(tmp_path).meta) == (after.version, {"v": 2})
    assert before.version != after.version


def test_a_batch_stream_is_written_one_row_group_per_batch_and_reads_back_whole(tmp_path):
    table = _table()
    batches = table.to_batches(max_chunksize=1_200)  # 5 batches, the last one short
    write_version(tmp_path, tables={"cube_cell": pa.RecordBatchReader.from_batches(table.schema, batches)}, meta={})
    path = Store.open(tmp_path).table_path("cube_cell")
    meta = pq.ParquetFile(path).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [b.num_rows for b in batches]
    expected = table.set_column(3, "category", table.column("category").cast(pa.string()))
    assert pq.read_table(path).equals(expected)

    # A stream that fails half-way leaves the live version as it was.
    def failing():
        yield batches[0]
        raise RuntimeError("cube builder failed")

    with pytest.raises(RuntimeError, match="cube builder failed"):
        write_version(tmp_path, tables={"cube_cell": pa.RecordBatchReader.from_batches(table.schema, failing())},
                      meta={"v": 2})
    assert Store.open(tmp_path).meta == {} and pq.read_table(Store.open(tmp_path).table_path("cube_cell")).equals(expected)

    # No batch at all: an empty table with the schema.
    write_version(tmp_path, tables={"cube_cell": pa.RecordBatchReader.from_batches(table.schema, [])}, meta={})
    empty = pq.read_table(Store.open(tmp_path).table_path("cube_cell"))
    assert empty.num_rows == 0 and empty.schema == expected.schema


def test_a_null_in_a_non_null_column_is_refused_and_the_live_version_stays(tmp_path):
    write_version(tmp_path, tables={"cube_cell": _table()}, meta={"v": 1})
    before = Store.open(tmp_path)
    table = _table()
    cells = table.column("cell").to_pylist()
    cells[7] = None
    schema = table.schema.set(table.schema.get_field_index("cell"), pa.field("cell", pa.uint64(), nullable=False))
    bad = pa.Table.from_arrays([pa.array(cells, pa.uint64()) if n == "cell" else table.column(n) for n in table.column_names],
                               schema=schema)
    with pytest.raises(pa.ArrowInvalid, match="non-nullable"):
        write_version(tmp_path, tables={"cube_cell": bad}, meta={"v": 2})
    after = Store.open(tmp_path)
    assert (after.version, after.meta) == (before.version, {"v": 1})
    assert pq.read_table(after.table_path("cube_cell")).column("cell").null_count == 0
