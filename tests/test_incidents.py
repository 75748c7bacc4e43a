"""Parsing and validation of incident files (geo.incidents): every row accepted or rejected with a reason."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.errors import HexwatchError
from geo.incidents import (REJECT_REASONS, content_ids, detect_kind, normalise_ubigeo, parse_times,
                           read_mininter, read_points, read_sidpol)

FIXTURES = Path(__file__).parent / "fixtures"


def _adds_up(parsed) -> None:
    assert len(parsed.accepted) + len(parsed.rejects) == parsed.n_input
    assert set(parsed.rejects["reason"]) <= set(REJECT_REASONS)
    assert parsed.rejects["row_number"].is_unique


# --------------------------------------------------------------------------- ubigeo


def test_normalise_ubigeo_restores_leading_zero_and_rejects_non_codes():
    got = normalise_ubigeo([10202, "010202", " 70106 ", "70106.0", 150132.0, np.int64(200601), "15013 2", "abc", "",
                            None, 990101, "1502", "1501320", float("nan"), -150132])
    assert got.tolist() == ["010202", "010202", "070106", "070106", "150132", "200601", None, None, None,
                            None, None, None, None, None, None]


@given(st.integers(min_value=1, max_value=25), st.integers(min_value=0, max_value=9999))
def test_normalise_ubigeo_of_an_integer_is_its_six_digit_text(department, rest):
    code = department * 10_000 + rest
    out = normalise_ubigeo([code, str(code), float(code)]).tolist()
    assert out == [f"{code:06d}"] * 3


@given(st.lists(st.one_of(st.text(max_size=8), st.integers(-10**7, 10**7), st.none(), st.floats()), max_size=30))
def test_normalise_ubigeo_gives_six_digits_or_none(values):
    for v in normalise_ubigeo(values):
        assert v is None or (len(v) == 6 and v.isdigit() and "01" <= v[:2] <= "25")


# --------------------------------------------------------------------------- SIDPOL


@pytest.mark.parametrize("name", ["sidpol_utf8_bom.csv", "sidpol_latin1.csv"])
def test_sidpol_fixture_in_the_open_data_format(name):
    parsed = read_sidpol(FIXTURES / name)
    _adds_up(parsed)
    acc = parsed.accepted
    assert parsed.n_input == 13
    assert list(acc.columns) == ["ubigeo", "year", "month", "category", "n"]
    # Integers as the police writes them get their leading zero back; accents survive either encoding.
    assert set(acc["ubigeo"]) == {"150132", "150135", "150801", "070106", "010101"}
    assert acc.loc[acc["ubigeo"] == "150132", "category"].tolist() == ["extorsión", "extorsión"]
    assert acc["n"].sum() == 41 + 120 + 37 + 15 + 33 + 4
    assert acc["month"].tolist().count(10) == 1
    reasons = dict(zip(parsed.rejects["row_number"], parsed.rejects["reason"]))
    # Sullana's extortions of 2023-09 appear twice with different counts: neither can be trusted.
    assert reasons == {7: "conflicting_count", 8: "conflicting_count", 9: "bad_period", 10: "bad_count",
                       11: "bad_count", 12: "unknown_ubigeo", 13: "missing_category"}
    assert "has different counts (12, 3) on rows 7, 8" in parsed.rejects.loc[parsed.rejects["row_number"] == 7, "detail"].iloc[0]
    # Events: every readable count, accepted or not ('x' and -2 carry none).
    assert parsed.n_events_input == 41 + 120 + 37 + 15 + 33 + 4 + 12 + 3 + 5 + 1 + 2
    raw = json.loads(parsed.rejects.loc[parsed.rejects["row_number"] == 12, "raw"].iloc[0])
    assert raw["DPTO_HECHO_NEW"] == "DESCONOCIDO" and raw["UBIGEO_HECHO"] == "999999"


def test_sidpol_known_ubigeos_reject_codes_of_no_district():
    parsed = read_sidpol(FIXTURES / "sidpol_utf8_bom.csv", known_ubigeos={"150132", "150135", "070106", "200601",
                                                                              "200602", "200605", "200607"})
    _adds_up(parsed)
    unknown = parsed.rejects[parsed.rejects["reason"] == "unknown_ubigeo"]
    assert sorted(unknown["row_number"]) == [4, 6, 12]  # Huacho and Chachapoyas are not in the given set
    assert "150801 is not a district" in " ".join(unknown["detail"])


def test_sidpol_month_names_and_semicolons(tmp_path):
    p = tmp_path / "s.csv"
    p.write_bytes("ANIO;MES;DPTO_HECHO_NEW;PROV_HECHO;DIST_HECHO;UBIGEO_HECHO;P_MODALIDADES;cantidad\n"
                  "2024;Setiembre;PIURA;SULLANA;SULLANA;200601;Robo;3\n2024;ENERO;PIURA;SULLANA;SULLANA;200601;Robo;2.0\n"
                  .encode("latin-1"))
    parsed = read_sidpol(p)
    assert parsed.accepted["month"].tolist() == [9, 1] and parsed.accepted["n"].tolist() == [3, 2]


# --------------------------------------------------------------------------- MININTER


def test_mininter_fixture():
    parsed = read_mininter(FIXTURES / "mininter.csv")
    _adds_up(parsed)
    acc = parsed.accepted.set_index("incident_id")
    assert list(acc.index) == ["D-0001", "D-0002", "D-0003", "D-0004", "D-0005", "D-0011"]
    # Both time layouts of the police exports.
    assert acc.loc["D-0001", "time"] == pd.Timestamp("2023-09-21 14:35:00")
    assert acc.loc["D-0002", "time"] == pd.Timestamp("2023-09-21 14:35:00")
    assert acc.loc["D-0004", "time"] == pd.Timestamp("2023-09-22 23:59:59")
    assert acc.loc["D-0004", "day"] == dt.date(2023, 9, 22)
    # Category: trimmed, lower case, accents kept; subcategory as written.
    assert acc.loc["D-0002", "category"] == "extorsión"
    assert acc.loc["D-0004", "category"] == "violencia familiar"
    assert acc.loc["D-0001", "subcategory"] == "ROBO AGRAVADO"
    assert acc.loc["D-0005", "reported_ubigeo"] == "150199"
    assert (acc["source"] == "mininter.csv").all()
    rej = parsed.rejects.set_index("row_number")
    assert rej["reason"].to_dict() == {6: "duplicate_id", 7: "missing_coordinate", 8: "bad_coordinate",
                                       9: "unparseable_time", 10: "missing_category", 11: "bad_coordinate"}
    assert rej.loc[6, "detail"] == "id 'D-0002' already on row 2"
    assert json.loads(rej.loc[8, "raw"])["lat_hecho"] == "-12.01.5"


def test_mininter_id_column_variants_and_missing_ids(tmp_path):
    text = (FIXTURES / "mininter.csv").read_text()
    (tmp_path / "nro.csv").write_text(text.replace("id_denuncia", "nro_denuncia"))
    assert read_mininter(tmp_path / "nro.csv").accepted["incident_id"].iloc[0] == "D-0001"
    # Without an id column the ids are content hashes: the same on every read.
    lines = text.splitlines()
    (tmp_path / "noid.csv").write_text("\n".join(l.split(",", 1)[1] for l in lines) + "\n")
    a, b = read_mininter(tmp_path / "noid.csv"), read_mininter(tmp_path / "noid.csv")
    assert a.accepted["incident_id"].tolist() == b.accepted["incident_id"].tolist()
    assert a.accepted["incident_id"].is_unique and len(a.accepted) == 7  # the repeated id no longer repeats
    assert not (a.rejects["reason"] == "duplicate_id").any()


@pytest.mark.parametrize("chunked", [False, True])
def test_ids_lose_surrounding_whitespace_however_stored_and_then_repeat(tmp_path, chunked):
    # A copy-pasted id with a space, a tab or a no-break space is the same incident.
    ids = ["A1", " A1", "A2\t", "\u00a0A3", "A3\u3000", "A4", "B5"]
    n = len(ids)
    table = pa.table({"id_denuncia": pa.array(ids, pa.large_string()),
                      "fecha_hora_hecho": ["2023-09-21 10:00:00"] * n, "lat_hecho": [-12.05] * n,
                      "long_hecho": [-77.04] * n, "tipo_hecho": ["ROBO"] * n})
    path = tmp_path / "ids.parquet"
    # Small row groups give several Arrow chunks, each with its own offsets.
    pq.write_table(table, path, row_group_size=2 if chunked else None)
    parsed = read_mininter(path)
    _adds_up(parsed)
    assert parsed.accepted["incident_id"].tolist() == ["A1", "A2", "\u00a0A3".strip(), "A4", "B5"]
    dup = parsed.rejects[parsed.rejects["reason"] == "duplicate_id"]
    assert dup["row_number"].tolist() == [2, 5]
    clean = tmp_path / "clean.parquet"
    pq.write_table(table.set_column(0, "id_denuncia", pa.array([f"X{i}" for i in range(n)], pa.large_string())), clean)
    assert read_mininter(clean).accepted["incident_id"].tolist() == [f"X{i}" for i in range(n)]


def test_missing_required_column_is_one_line_naming_it(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("fecha_hora_hecho,lat_hecho,tipo_hecho\n2023-01-01 10:00,-12,robo\n")
    with pytest.raises(HexwatchError) as err:
        read_mininter(p)
    msg = str(err.value)
    assert "\n" not in msg and "'long_hecho'" in msg and "fecha_hora_hecho, lat_hecho, tipo_hecho" in msg


def test_detect_kind(tmp_path):
    assert detect_kind(FIXTURES / "mininter.csv") == "mininter"
    assert detect_kind(FIXTURES / "sidpol_latin1.csv") == "sidpol"
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n")
    assert detect_kind(p) == "points"


# --------------------------------------------------------------------------- generic points


def test_points_csv_semicolon_latin1_decimal_comma_named_columns(tmp_path):
    p = tmp_path / "barrio.csv"
    p.write_bytes("Fecha;Latitud;Longitud;Delito;Código\n21/09/2023 14:35;-12,0464;-77,0428;Robo en vía pública;7\n"
                  "21/09/2023 15:00:30;-12,05;-77,04;Hurto;8\n".encode("latin-1"))
    parsed = read_points(p, lat="latitud", lon="LONGITUD", time="fecha", category="delito", id="Código")
    _adds_up(parsed)
    acc = parsed.accepted
    assert acc["lat"].tolist() == [-12.0464, -12.05] and acc["lon"].tolist() == [-77.0428, -77.04]
    assert acc["category"].tolist() == ["robo en vía pública", "hurto"]
    assert acc["incident_id"].tolist() == ["7", "8"]
    assert acc["time"].tolist() == [pd.Timestamp("2023-09-21 14:35"), pd.Timestamp("2023-09-21 15:00:30")]


def test_points_tab_separated_with_bom(tmp_path):
    p = tmp_path / "x.tsv"
    p.write_bytes(b"\xef\xbb\xbfwhen\ty\tx\twhat\n2023-09-21T14:35:00\t-12.1\t-77.1\tRobo\n")
    acc = read_points(p, lat="y", lon="x", time="when", category="what").accepted
    assert acc["time"].tolist() == [pd.Timestamp("2023-09-21 14:35")] and acc["category"].tolist() == ["robo"]


def test_time_formats_detected_and_given():
    got = parse_times(["2023-09-21 14:35:00", "2023-09-21T14:35", "2023-09-21", "21/09/2023 14:35:07",
                       "21/09/2023", " 2023-09-21 14:35:00.250 ", "1695325200", "1695325200000",
                       "2023-09-21T19:35:00Z", "2023-09-21T14:35:00-05:00", "31/02/2023", "yesterday", None,
                       "1800-01-01"]).to_list()
    assert got == [dt.datetime(2023, 9, 21, 14, 35), dt.datetime(2023, 9, 21, 14, 35), dt.datetime(2023, 9, 21),
                   dt.datetime(2023, 9, 21, 14, 35, 7), dt.datetime(2023, 9, 21), dt.datetime(2023, 9, 21, 14, 35, 0, 250000),
                   # Epoch numbers are UTC; Lima is UTC-5.
                   dt.datetime(2023, 9, 21, 14, 40), dt.datetime(2023, 9, 21, 14, 40),
                   dt.datetime(2023, 9, 21, 14, 35), dt.datetime(2023, 9, 21, 14, 35), None, None, None, None]
    assert parse_times(["09/21/2023 02:35 PM"], "%m/%d/%Y %I:%M %p").to_list() == [dt.datetime(2023, 9, 21, 14, 35)]
    assert parse_times([1_695_325_200], "epoch_s").to_list() == [dt.datetime(2023, 9, 21, 14, 40)]
    with pytest.raises(HexwatchError, match="time format"):
        parse_times(["x"], "%Q")


def test_points_parquet_with_typed_and_epoch_times(tmp_path):
    p = tmp_path / "p.parquet"
    pq.write_table(pa.table({"la": [-12.0, -12.1, None], "lo": [-77.0, -77.1, -77.2],
                             "t": pa.array([1_695_325_200_000, 1_695_325_260_000, 1_695_325_320_000]),
                             "c": ["ROBO", "robo ", "hurto"]}), p)
    parsed = read_points(p, lat="la", lon="lo", time="t", category="c")
    _adds_up(parsed)
    assert parsed.accepted["time"].tolist() == [pd.Timestamp("2023-09-21 14:40"), pd.Timestamp("2023-09-21 14:41")]
    assert parsed.accepted["category"].tolist() == ["robo", "robo"]
    assert parsed.rejects["reason"].tolist() == ["missing_coordinate"]
    assert json.loads(parsed.rejects["raw"].iloc[0]) == {"la": None, "lo": -77.2, "t": 1_695_325_320_000, "c": "hurto"}


def test_points_geojson_lon_lat_order_and_geometry_problems(tmp_path):
    feats = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-77.04, -12.05]}, "properties": {"t": "2023-09-21 10:00", "c": "Robo"}},
        {"type": "Feature", "geometry": None, "properties": {"t": "2023-09-21 10:00", "c": "Robo"}},
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[-77.0, -12.0], [-77.1, -12.1]]},
         "properties": {"t": "2023-09-21 10:00", "c": "Robo"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-77.04, 95.0]}, "properties": {"t": "2023-09-21 10:00", "c": "Robo"}},
        # A property of mixed JSON types (GDAL hands it over as JSON text).
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-77.0, -12.0]}, "properties": {"t": 12345, "c": "Robo"}},
    ]
    p = tmp_path / "x.geojson"
    p.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": feats}))
    parsed = read_points(p, time="t", category="c")
    _adds_up(parsed)
    assert parsed.accepted[["lat", "lon"]].values.tolist() == [[-12.05, -77.04]]
    assert parsed.rejects["reason"].tolist() == ["missing_coordinate", "bad_coordinate", "bad_coordinate",
                                                 "unparseable_time"]
    assert "LineString" in parsed.rejects["detail"].iloc[1] and "'12345'" in parsed.rejects["detail"].iloc[3]


def test_every_reason_with_its_row(tmp_path):
    rows = [
        ("1", "2023-01-01 10:00", "-12.1", "-77.1", "robo"),     # ok
        ("2", "2023-01-01 10:00", "", "-77.1", "robo"),          # missing_coordinate
        ("3", "2023-01-01 10:00", "NA", "-77.1", "robo"),        # missing_coordinate (a null token)
        ("4", "2023-01-01 10:00", "lat", "-77.1", "robo"),       # bad_coordinate
        ("5", "2023-01-01 10:00", "nan", "-77.1", "robo"),       # missing (nan is a null token)
        ("6", "2023-01-01 10:00", "inf", "-77.1", "robo"),       # bad_coordinate
        ("7", "2023-01-01 10:00", "-91", "-77.1", "robo"),       # bad_coordinate (out of range)
        ("8", "2023-01-01 10:00", "0", "0", "robo"),             # bad_coordinate (0,0)
        ("9", "2023-02-30 10:00", "-12.1", "-77.1", "robo"),     # unparseable_time
        ("10", "", "-12.1", "-77.1", "robo"),                    # unparseable_time (empty)
        ("11", "2023-01-01 10:00", "-12.1", "-77.1", "  "),      # missing_category
        ("1", "2023-01-01 11:00", "-12.2", "-77.2", "hurto"),    # duplicate_id
    ]
    p = tmp_path / "r.csv"
    p.write_text("id,t,lat,lon,c\n" + "\n".join(",".join(r) for r in rows) + "\n")
    parsed = read_points(p, lat="lat", lon="lon", time="t", category="c", id="id")
    _adds_up(parsed)
    assert parsed.rejects["reason"].tolist() == [
        "missing_coordinate", "missing_coordinate", "bad_coordinate", "missing_coordinate", "bad_coordinate",
        "bad_coordinate", "bad_coordinate", "unparseable_time", "unparseable_time", "missing_category", "duplicate_id"]
    assert parsed.rejects["row_number"].tolist() == list(range(2, 13))
    assert "time is empty" in parsed.rejects["detail"].iloc[8]


def test_coordinates_reach_the_caller_before_validation_with_every_row_in_file_order(tmp_path):
    from geo.incidents import parse_points

    p = tmp_path / "r.csv"
    p.write_text("t,lat,lon,c\n2023-01-01 10:00,-12.1,-77.1,robo\nbad time,-12.2,-77.2,robo\n"
                 "2023-01-01 10:00,x,-77.3,robo\n2023-01-02 10:00,-12.4,-77.4,hurto\n")
    seen = []
    parsed = parse_points(p, {"lat": "lat", "lon": "lon", "time": "t", "category": "c"},
                          on_coordinates=lambda lat, lon: seen.append((lat.copy(), lon.copy())))
    assert len(seen) == 1
    lat, lon = seen[0]
    np.testing.assert_array_equal(lat, [-12.1, -12.2, np.nan, -12.4])
    np.testing.assert_array_equal(lon, [-77.1, -77.2, -77.3, -77.4])
    # What the caller computed from them is kept for the accepted rows by position.
    assert parsed.accepted_pos.tolist() == [0, 3]
    assert lat[parsed.accepted_pos].tolist() == parsed.accepted["lat"].to_list()


def test_float_coordinates_in_parquet_reach_the_caller_once_with_every_row(tmp_path):
    from geo.incidents import parse_points

    pq.write_table(pa.table({"t": ["2023-01-01 10:00", "bad", "2023-01-02 10:00", "2023-01-03 10:00"],
                             "lat": pa.array([-12.1, -12.2, None, float("nan")]), "lon": [-77.1, -77.2, -77.3, -77.4],
                             "c": ["robo", "robo", "robo", "hurto"]}), tmp_path / "p.parquet")
    seen = []
    parsed = parse_points(tmp_path / "p.parquet", {"lat": "lat", "lon": "lon", "time": "t", "category": "c"},
                          on_coordinates=lambda lat, lon: seen.append((lat.copy(), lon.copy())))
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0][0], [-12.1, -12.2, np.nan, np.nan])
    np.testing.assert_array_equal(seen[0][1], [-77.1, -77.2, -77.3, -77.4])
    assert parsed.accepted_pos.tolist() == [0]
    assert parsed.rejects.sort("row_number")["reason"].to_list() == [
        "unparseable_time", "missing_coordinate", "bad_coordinate"]


def test_integer_ubigeos_in_parquet_keep_their_leading_zero_and_drop_non_codes(tmp_path):
    from geo.incidents import parse_mininter

    codes = [150132, 10202, None, 999999, 70106] * 4  # few distinct values: the lookup-table path
    n = len(codes)
    pq.write_table(pa.table({
        "id_denuncia": [f"D{i}" for i in range(n)], "fecha_hora_hecho": ["2023-09-21 10:00:00"] * n,
        "lat_hecho": [-12.0] * n, "long_hecho": [-77.0] * n, "tipo_hecho": ["ROBO"] * n, "subtipo_hecho": ["X"] * n,
        "ubigeo_hecho": pa.array(codes, pa.int64()),
    }), tmp_path / "m.parquet")
    got = parse_mininter(tmp_path / "m.parquet").accepted["reported_ubigeo"].cast(pl.String).to_list()
    assert got == ["150132", "010202", None, None, "070106"] * 4


def test_malformed_and_truncated_csv_rows_are_rejected_not_lost(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text('t,lat,lon,c\n2023-01-01 10:00,-12.1,-77.1,robo\n2023-01-01 10:00,-12.1\n'
                 '2023-01-01 10:00,-12.1,-77.1,robo,extra\n"2023-01-01 10:00",-12.2,-77.2,"hurto, agravado"\n'
                 '2023-01-01 11:00,-12.3,-77.3,"ro')
    parsed = read_points(p, lat="lat", lon="lon", time="t", category="c")
    _adds_up(parsed)
    assert parsed.n_input == 5
    assert parsed.accepted["category"].tolist() == ["robo", "hurto, agravado"]
    assert parsed.rejects.set_index("row_number")["reason"].to_dict() == {2: "malformed_row", 3: "malformed_row",
                                                                          5: "malformed_row"}
    assert json.loads(parsed.rejects["raw"].iloc[0]) == {"_line": "2023-01-01 10:00,-12.1"}


def test_empty_and_unreadable_files_are_clear_errors(tmp_path):
    (tmp_path / "e.csv").write_bytes(b"")
    (tmp_path / "h.csv").write_text("t,lat,lon,c\n")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    (tmp_path / "bad.geojson").write_text('{"type": "FeatureCollection", "features": [{"type": "Fea')
    kw = dict(lat="lat", lon="lon", time="t", category="c")
    with pytest.raises(HexwatchError, match="empty"):
        read_points(tmp_path / "e.csv", **kw)
    assert read_points(tmp_path / "h.csv", **kw).n_input == 0
    for name in ("bad.parquet", "bad.geojson"):
        with pytest.raises(HexwatchError) as err:
            read_points(tmp_path / name, **kw)
        assert "\n" not in str(err.value)


def test_content_ids_are_the_same_from_csv_and_parquet(tmp_path):
    frame = pd.DataFrame({"t": ["2023-09-21 10:00:00", "2023-09-21 10:00:00", "2023-09-21 10:00:00"],
                          "lat": [-12.05, -12.05, -12.06], "lon": [-77.04, -77.04, -77.04], "c": ["robo"] * 3})
    frame.to_csv(tmp_path / "a.csv", index=False)
    typed = frame.assign(t=pd.to_datetime(frame["t"]))
    pq.write_table(pa.Table.from_pandas(typed, preserve_index=False), tmp_path / "a.parquet")
    kw = dict(lat="lat", lon="lon", time="t", category="c")
    ids_csv = read_points(tmp_path / "a.csv", **kw).accepted["incident_id"].tolist()
    ids_pq = read_points(tmp_path / "a.parquet", **kw).accepted["incident_id"].tolist()
    assert ids_csv == ids_pq
    assert ids_csv[1] == ids_csv[0] + "-1" and ids_csv[2] != ids_csv[0]  # a repeated report is kept, numbered


def test_content_ids_change_with_any_field():
    t = pl.Series([1_695_300_900_000] * 5).cast(pl.Datetime("ms"))
    ids = content_ids(t, pl.Series([-12.05, -12.0500001, -12.05, -12.05, -12.05]), pl.Series([-77.04] * 5),
                      pl.Series(["robo", "robo", "hurto", "robo", "robo"]), pl.Series([None, None, None, "agravado", None]))
    assert ids.n_unique() == 5 and ids[4] == ids[0] + "-1"


# --------------------------------------------------------------------------- fuzzing

_cells = st.one_of(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12),
                   st.sampled_from(["", "NaN", "inf", "-1e308", "1e309", "0", "-12.05", "-77.04", "2023-09-21 10:00",
                                    "31/12/2023 23:59", "\"", ",", ";", "\n", "1695325200"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(_cells, min_size=0, max_size=6), max_size=12), cut=st.integers(0, 400),
       encoding=st.sampled_from(["utf-8", "latin-1", "utf-8-sig"]))
def test_fuzzed_csv_never_loses_a_row(tmp_path, rows, cut, encoding):
    text = "t,lat,lon,c\n" + "\n".join(",".join(r) for r in rows)
    data = text.encode(encoding, errors="replace")
    data = data[: max(len("t,lat,lon,c\n"), len(data) - cut)]
    p = tmp_path / "f.csv"
    p.write_bytes(data)
    try:
        parsed = read_points(p, lat="lat", lon="lon", time="t", category="c")
    except HexwatchError as exc:
        assert "\n" not in str(exc)
        return
    _adds_up(parsed)
    acc = parsed.accepted
    assert acc["lat"].between(-90, 90).all() and acc["lon"].between(-180, 180).all()
    assert acc["time"].notna().all() and acc["category"].str.len().gt(0).all()
    assert acc["incident_id"].is_unique


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lat=st.lists(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)), min_size=1, max_size=20),
       data=st.data())
def test_fuzzed_parquet_values_never_lose_a_row(tmp_path, lat, data):
    n = len(lat)
    lon = data.draw(st.lists(st.one_of(st.none(), st.floats(-200, 200)), min_size=n, max_size=n))
    t = data.draw(st.lists(st.one_of(st.none(), st.integers(-2**62, 2**62)), min_size=n, max_size=n))
    c = data.draw(st.lists(st.one_of(st.none(), st.text(max_size=5)), min_size=n, max_size=n))
    p = tmp_path / "f.parquet"
    pq.write_table(pa.table({"lat": pa.array(lat, pa.float64()), "lon": pa.array(lon, pa.float64()),
                             "t": pa.array(t, pa.int64()), "c": pa.array(c, pa.string())}), p)
    parsed = read_points(p, lat="lat", lon="lon", time="t", category="c")
    _adds_up(parsed)
    assert parsed.n_input == n


def test_parquet_columns_of_the_wrong_type_are_rejected_not_crashed(tmp_path):
    p = tmp_path / "w.parquet"
    pq.write_table(pa.table({
        "lat": pa.array([{"a": 1.0}, None, {"a": 2.0}], pa.struct([("a", pa.float64())])),
        "lon": pa.array([-77.0, -77.0, -77.0]),
        "t": pa.array([b"2023-09-21 10:00", b"\xff", None], pa.binary()),
        "c": pa.array([["robo"], [], None], pa.list_(pa.string())),
    }), p)
    parsed = read_points(p, lat="lat", lon="lon", time="t", category="c")
    _adds_up(parsed)
    assert parsed.accepted.empty
    assert parsed.rejects["reason"].tolist() == ["bad_coordinate", "missing_coordinate", "bad_coordinate"]


def test_undecodable_bytes_in_parquet_and_geojson_text_are_replaced_not_crashed(tmp_path):
    bad = pa.array([b"Robo \xf1", b"Hurto"], pa.binary()).view(pa.string())  # a Latin-1 byte in UTF-8 text
    when = pa.array([b"2023-09-21 10:00\xff", b"2023-09-21 11:00"], pa.binary()).view(pa.string())
    pq.write_table(pa.table({"la": [-12.0, -12.1], "lo": [-77.0, -77.1], "t": when, "c": bad}), tmp_path / "b.parquet")
    parsed = read_points(tmp_path / "b.parquet", lat="la", lon="lo", time="t", category="c")
    _adds_up(parsed)
    assert parsed.accepted["category"].tolist() == ["hurto"]
    assert parsed.rejects["reason"].tolist() == ["unparseable_time"] and "\ufffd" in parsed.rejects["raw"].iloc[0]
    feature = '{"type":"Feature","geometry":{"type":"Point","coordinates":[-77.0,-12.0]},"properties":{"t":"2023-09-21 10:00","c":"Extorsión"}}'
    (tmp_path / "l.geojson").write_bytes(('{"type":"FeatureCollection","features":[' + feature + "]}").encode("latin-1"))
    assert read_points(tmp_path / "l.geojson", time="t", category="c").accepted["category"].tolist() == ["extorsión"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(0, 30), min_size=1, max_size=40), st.booleans())
def test_repeated_ids_are_rejected_whether_the_file_is_in_id_order_or_not(tmp_path, numbers, in_order):
    # Ids in increasing order take a one-pass check; a repeat must still be caught there.
    if in_order:
        numbers = sorted(numbers)
    ids = [f"D-{k:04d}" for k in numbers]
    lines = ["id_denuncia,fecha_hora_hecho,lat_hecho,long_hecho,tipo_hecho"]
    lines += [f"{i},2023-09-21 10:00:00,-12.05,-77.04,ROBO" for i in ids]
    path = tmp_path / f"ids_{in_order}.csv"
    path.write_text("\n".join(lines) + "\n")
    parsed = read_mininter(path)
    _adds_up(parsed)
    seen: set[str] = set()
    repeats = []
    for row, i in enumerate(ids, start=1):
        if i in seen:
            repeats.append(row)
        seen.add(i)
    got = parsed.rejects[parsed.rejects["reason"] == "duplicate_id"]["row_number"].tolist()
    assert got == repeats
    assert parsed.accepted["incident_id"].tolist() == list(dict.fromkeys(ids))
