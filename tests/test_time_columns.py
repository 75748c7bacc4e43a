"""Real-world time and id columns (issue 16, item 3): date and time in two columns, year- or
month-only times kept with their precision (never silently on 1 January), and boundary
ids made of several fields.

The point files here are SYNTHETIC, in the shape of city police releases outside Peru:
``fecha`` and ``hora`` apart, some rows with only a year, neighbourhood names repeated
across boroughs.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.boundaries import BoundaryError, read_boundary_file
from geo.incidents import read_points
from geo.ingest import ingest_file
from geo.readers.periods import incident_times, parse_time_of_day
from geo.store import Store


def test_date_and_time_of_day_in_two_columns(tmp_path):
    p = tmp_path / "city.csv"
    p.write_text("fecha;hora;lat;lon;delito\n"
                 "21/09/2023;14:35;-33.45;-70.66;Robo\n"       # 1
                 "21/09/2023;2:35 PM;-33.45;-70.66;Robo\n"     # 2 (12-hour clock)
                 "22/09/2023;;-33.45;-70.66;Hurto\n"           # 3 no time of day: the date alone
                 "22/09/2023;25:99;-33.45;-70.66;Hurto\n"      # 4 unreadable time of day
                 "23/09/2023;23:59:59;-33.45;-70.66;Robo\n", encoding="utf-8")
    parsed = read_points(p, lat="lat", lon="lon", time="fecha", time_of_day="hora", category="delito")
    acc = parsed.accepted
    assert acc["time"].dt.strftime("%Y-%m-%d %H:%M:%S").tolist() == [
        "2023-09-21 14:35:00", "2023-09-21 14:35:00", "2023-09-22 00:00:00", "2023-09-23 23:59:59"]
    assert acc["time_precision"].tolist() == ["time", "time", "day", "time"]
    (reason, row, detail), = parsed.rejects[["reason", "row_number", "detail"]].itertuples(index=False)
    assert (reason, row) == ("unparseable_time", 4) and "time of day '25:99'" in detail
    # The two readings of 14:35 are the same incident time, so their content ids repeat.
    assert acc["incident_id"].iloc[1] == acc["incident_id"].iloc[0] + "-1"


def test_time_of_day_forms():
    assert parse_time_of_day(["14:35", "14:35:10", "2:35 pm", "2:35 p.m.", "1435", "0.5", "", None, "24:01"]).to_list() \
        == [52_500_000, 52_510_000, 52_500_000, 52_500_000, 52_500_000, 43_200_000, None, None, None]


def test_year_and_month_only_times_keep_their_precision(tmp_path):
    rng = np.random.default_rng(3)
    n = 300
    rows = pd.DataFrame({"fecha": [f"2023-{m:02d}-{d:02d} {h:02d}:15" for m, d, h in
                                   zip(rng.integers(1, 13, n), rng.integers(1, 29, n), rng.integers(0, 24, n))],
                         "lat": -33.45 + rng.normal(0, 0.02, n), "lon": -70.66 + rng.normal(0, 0.02, n),
                         "delito": rng.choice(["Robo", "Hurto", "Lesiones"], n)})
    rows.loc[:19, "fecha"] = "2022"          # known only to the year (common in police point releases)
    rows.loc[20:29, "fecha"] = "2022-07"     # known only to the month
    p = tmp_path / "pts.csv"
    rows.to_csv(p, index=False)
    cols = {"lat": "lat", "lon": "lon", "time": "fecha", "category": "delito"}
    report = ingest_file(p, tmp_path / "s", kind="points", columns=cols, boundaries=False, progress=False)
    assert report.n_accepted == n and report.n_rejected == 0
    assert report.rows_by_precision == {"time": n - 30, "month": 10, "year": 20}
    assert "10 rows known only to the month and 20 only to the year" in report.summary()
    s = Store.open(tmp_path / "s")
    inc = s.read("incidents")
    assert (inc["time_precision"] == "year").sum() == 20 and (inc["time_precision"] == "month").sum() == 10
    year_only = inc[inc["time_precision"] == "year"]
    assert (year_only["day"].astype(str) == "2022-01-01").all()  # the period's start, marked as such
    # The daily cubes hold only incidents with a day: no spurious 1 January 2022 spike.
    cube = s.read("cube_cell")
    assert (cube.groupby("resolution")["n"].sum() == n - 30).all()
    assert cube["day"].min().isoformat() >= "2023-01-01"
    assert s.meta["coverage"]["start"] >= "2023-01-01"
    # A second file into the same store: the cubes still leave the coarse rows out.
    q = tmp_path / "more.csv"
    rows.iloc[:5].assign(fecha="2021", delito="Estafa").to_csv(q, index=False)
    report = ingest_file(q, tmp_path / "s", kind="points", columns=cols, boundaries=False, progress=False)
    assert report.rows_by_precision == {"year": 5}
    assert (Store.open(tmp_path / "s").read("cube_cell").groupby("resolution")["n"].sum() == n - 30).all()


def test_a_year_format_says_year_precision():
    import pyarrow as pa

    times, precision, _ = incident_times(pa.chunked_array([pa.array(["2023", "2024"])]), "%Y")
    assert precision.to_list() == ["year", "year"] and times.dt.year().to_list() == [2023, 2024]
    _, precision, _ = incident_times(pa.chunked_array([pa.array(["21/09/2023"])]), "%d/%m/%Y")
    assert precision.to_list() == ["day"]


def _neighbourhoods(path, *, repeat: bool = True):
    names = ["Chelsea", "Chelsea", "Midtown"] if repeat else ["Chelsea", "Soho", "Midtown"]
    gdf = gpd.GeoDataFrame({"borough": ["Manhattan", "Brooklyn", "Manhattan"], "name": names, "pop": [1, 2, 3]},
                           geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(0, 1, 1, 2)],
                           crs="EPSG:4326")
    gdf.to_file(path, driver="GeoJSON")
    return path


def test_boundary_ids_made_of_several_fields(tmp_path):
    path = _neighbourhoods(tmp_path / "hoods.geojson")
    with pytest.raises(BoundaryError, match="repeats .*borough,name"):
        read_boundary_file(path, id_field="name")
    areas = read_boundary_file(path, id_field="borough,name")
    assert areas["ubigeo"].tolist() == ["Manhattan / Chelsea", "Brooklyn / Chelsea", "Manhattan / Midtown"]
    assert areas["name"].tolist() == areas["ubigeo"].tolist()
    named = read_boundary_file(path, id_field=["borough", "name"], name_field="name")
    assert named["name"].tolist() == ["Chelsea", "Chelsea", "Midtown"]
    with pytest.raises(BoundaryError, match="no field 'district'"):
        read_boundary_file(path, id_field="borough,district")


def test_cli_ingest_with_two_time_columns_and_a_two_field_boundary_id(tmp_path, capsys):
    from geo.cli import main

    hoods = _neighbourhoods(tmp_path / "hoods.geojson")
    p = tmp_path / "c.csv"
    p.write_text("fecha,hora,lat,lon,delito\n2023-09-21,10:00,0.5,1.5,Robo\n2023-09-21,11:30,1.5,0.5,Robo\n"
                 "2022,,0.5,0.5,Hurto\n")
    main(["ingest", str(p), "--store", str(tmp_path / "s"), "--format", "points", "--lat", "lat", "--lon", "lon",
          "--time", "fecha", "--time-of-day", "hora", "--category", "delito", "--boundaries", str(hoods),
          "--boundary-id-field", "borough,name", "--json"])
    out = capsys.readouterr().out
    report = json.loads(out[out.index("{"):])
    assert report["n_accepted"] == 3 and report["rows_by_precision"] == {"time": 2, "year": 1}
    inc = Store.open(tmp_path / "s").read("incidents").sort_values("time")
    assert inc["ubigeo"].tolist() == ["Manhattan / Chelsea", "Brooklyn / Chelsea", "Manhattan / Midtown"]
    assert inc["time"].dt.strftime("%H:%M").tolist()[1:] == ["10:00", "11:30"]
    district = Store.open(tmp_path / "s").read("cube_district")
    assert district["n"].sum() == 2  # the year-only report is in no daily count
