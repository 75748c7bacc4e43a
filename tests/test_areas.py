"""Areas come from the store: a made-up city with its own boundary file (tests/anycity_data.py)
offers its own areas, names, outlines and extent, and no Peruvian one; its own policy events load."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import numpy as np
import pytest

from anycity_data import AREAS, area_id, build_anycity_store, write_anycity_files
from geo import views
from geo.areas import in_area
from geo.declarations import policy_events
from geo.errors import HexwatchError
from geo.export import view_data
from geo.store import Store
from geo.viewspec import View


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    root = tmp_path_factory.mktemp("anycity")
    files = write_anycity_files(root / "input")
    build_anycity_store(root / "store", files)
    return Store.open(root / "store"), files


def test_store_records_the_boundaries_it_was_built_with(city):
    st, _ = city
    rec = st.meta["boundary_set"]
    assert rec["kind"] == "file" and rec["label"] == "file:nordvik_neighbourhoods.geojson" and rec["n_areas"] == len(AREAS)
    assert st.has("boundaries")
    # A copy of the store needs neither the file nor a cache: the polygons travel with it.
    b = st.read_arrow("boundaries")
    assert sorted(b["ubigeo"].to_pylist()) == sorted(area_id(a[0], a[2]) for a in AREAS)


def test_areas_are_the_citys_own_with_no_peruvian_area(city):
    st, _ = city
    t = views.areas(st)
    assert t["area"].iloc[0] == "all"
    assert not {"lima_callao", "sullana"} & set(t["area"])
    assert set(t.loc[t["kind"] == "province", "name"]) == {"Northfield", "Southport", "Eastwood"}
    districts = t.loc[t["kind"] == "district"]
    assert len(districts) == len(AREAS)  # the user's file is offered whole, an area without data too
    # Names repeat across boroughs: labels tell them apart, ids are unique.
    central = districts.loc[districts["name"] == "Central"]
    assert len(central) == 3 and central["label"].is_unique and "Central (Southport)" in set(central["label"])
    assert districts["area"].is_unique
    # Counts of every area add up to what the store located.
    located = st.read_arrow("incidents", columns=["ubigeo"])["ubigeo"].drop_null()
    assert districts["n"].sum() == len(located) == t.loc[0, "n"]
    south = t.set_index("area").loc["province:S"]
    assert south["n"] == districts.loc[districts["area"].str.startswith("district:S-"), "n"].sum()


def test_extent_is_the_citys_and_opens_on_all(city):
    st, _ = city
    s, w, n, e = views.extent(st)
    assert 60.0 < s < 60.15 and 60.3 <= n < 60.4 and 24.8 < w <= 24.9 and 25.1 <= e < 25.2
    assert views.home_area(st) == "all"
    s, w, n, e = views.extent(st, "district:S-05")  # the island
    assert (s, w, n, e) == pytest.approx((60.12, 24.96, 60.13, 24.98))
    with pytest.raises(HexwatchError, match="not one of this store's areas"):
        views.extent(st, "lima_callao")


def test_outlines_are_simplified_and_keep_multipolygons(city):
    st, _ = city
    full = views.outlines(st, "province:S")
    assert sorted(full["ubigeo"]) == ["S-01", "S-02", "S-03", "S-04", "S-05"]
    assert full.set_index("ubigeo").loc["S-05"].geometry.geom_type == "MultiPolygon"
    simple = views.outlines(st, "province:S", simplify_m=30)
    import shapely

    # Degrees squared are fine for a ratio: simplifying 30 m moves no boundary of these areas.
    assert shapely.area(simple.geometry.values) == pytest.approx(shapely.area(full.geometry.values), rel=1e-3)
    assert views.outlines(st).shape[0] == len(AREAS)


def test_hexes_and_views_filter_by_the_citys_areas(city):
    st, _ = city
    sv = views.open_views(st)
    window = (dt.date(2024, 1, 1), dt.date(2024, 3, 31))
    everything = sv.hex_counts(8, window, max_cells=10**9)
    north = sv.hex_counts(8, window, area="province:N", max_cells=10**9)
    assert len(north) and len(north) < len(everything)
    assert set(north["ubigeo"]) <= {"N-01", "N-02", "N-03", "N-04"}
    assert in_area(north["ubigeo"].tolist(), sv.area_members("province:N")).all()
    table = sv.district_table(window, area="province:E")
    assert set(table["ubigeo"]) == {"E-01", "E-02", "E-03", "E-04"}


def test_export_of_a_city_area_has_its_districts_and_no_peruvian_declarations(city):
    st, _ = city
    data = view_data(st, View(start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 31), area="province:S"),
                     registry=policy_events(st, city[1].events))
    assert set(data.districts["ubigeo"]) <= {"S-01", "S-02", "S-03", "S-04", "S-05"}
    assert data.districts.set_index("ubigeo").loc["S-01", "spell"] == "NV-CURFEW-2023"  # the extension runs in January
    assert not data.districts.set_index("ubigeo").loc["S-04", "emergency"]
    assert data.provenance["boundaries"].startswith("file:nordvik")


def test_policy_events_of_a_city(city, tmp_path):
    st, files = city
    assert policy_events(st) is None  # no declarations on file for this place: the dashboard hides them
    reg = policy_events(st, files.events)
    assert reg.kind == "events"
    assert [s.spell_id for s in reg.spells] == ["NV-CURFEW-2023"]  # the patrol row is unconfirmed
    spell = reg.spell("nv curfew 2023")
    assert spell.end == dt.date(2024, 1, 31) and spell.ubigeos == {"S-01", "S-02", "S-03"}
    assert reg.title("NV-CURFEW-2023") == "Night curfew Southport"
    assert reg.spell_on("S-03", "2023-10-01") is None and reg.spell_on("S-03", "2023-12-15").spell_id == "NV-CURFEW-2023"
    every = policy_events(st, files.events, include_unconfirmed=True)
    assert [s.spell_id for s in every.spells] == ["NV-CURFEW-2023", "NV-PATROL-2024"]
    bad = tmp_path / "bad.csv"
    bad.write_text("event_id,start,end,areas,confirmed\nX-1,2024-01-01,2024-01-31,S-01;s-02;Nowhere,yes\n")
    with pytest.raises(HexwatchError, match=r"bad.csv: 2 error\(s\).*unknown area id 's-02'.*did you mean 'S-02'"):
        policy_events(st, bad)
    peru_style = tmp_path / "peru.csv"
    peru_style.write_text("decree_id,start,end,areas,confirmed\nDS 1-2024-PCM,2024-01-01,2024-01-31,S-01,yes\n")
    with pytest.raises(HexwatchError, match="names its first column event_id"):
        policy_events(st, peru_style)


def test_store_without_boundaries_offers_all_on_the_extent_of_its_hexes(city, tmp_path):
    from geo.ingest import ingest_file

    _, files = city
    ingest_file(files.incidents, tmp_path / "s", kind="points", boundaries=False, progress=False,
                columns={"lat": "y", "lon": "x", "time": "datetime", "category": "offence", "id": "incident_no"},
                time_format="%d/%m/%Y %H:%M")
    st = Store.open(tmp_path / "s")
    t = views.areas(st)
    assert t["area"].tolist() == ["all"] and t.loc[0, "n"] == 39_996
    s, w, n, e = views.extent(st)
    # The 25 points in the sea (60.05-60.10 N) are too few to pull the first view off the city.
    assert 60.09 < s < 60.14 and 60.3 < n < 60.36 and np.isfinite([w, e]).all()
    assert policy_events(st) is None and views.outlines(st).empty


def test_cli_lists_the_stores_areas_and_rejects_an_unknown_one(city, tmp_path):
    st, files = city
    run = lambda *a: subprocess.run([sys.executable, "-m", "geo.cli", *a], capture_output=True, text=True)  # noqa: E731
    listed = run("areas", "--store", str(st.root))
    assert listed.returncode == 0 and "province:S" in listed.stdout and "lima_callao" not in listed.stdout
    bad = run("export", "--store", str(st.root), "--out", str(tmp_path / "x.geojson"), "--area", "sullana")
    assert bad.returncode == 2 and "not one of this store's areas" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    good = run("export", "--store", str(st.root), "--out", str(tmp_path / "s.geojson"), "--area", "province:S",
               "--from", "2024-01-01", "--to", "2024-01-31", "--declarations", str(files.events))
    assert good.returncode == 0, good.stderr


def test_cli_analyze_and_embed_use_the_citys_own_events_only(city, tmp_path):
    st, files = city
    run = lambda *a: subprocess.run([sys.executable, "-m", "geo.cli", *a], capture_output=True, text=True)  # noqa: E731
    ok = run("analyze", "--store", str(st.root), "--declaration", "nv curfew 2023", "--declarations", str(files.events),
             "--json", str(tmp_path / "a.json"))
    assert ok.returncode == 0, ok.stderr
    import orjson

    result = orjson.loads((tmp_path / "a.json").read_bytes())
    assert result["spell_id"] == "NV-CURFEW-2023"
    assert set(result["estimates"]["did"]["districts"]["treated"]) == {"S-01", "S-02", "S-03"}
    none = run("analyze", "--store", str(st.root), "--declaration", "NV-CURFEW-2023")
    assert none.returncode == 2 and "has no declarations" in none.stderr and "--declarations" in none.stderr
    peru = run("embed", "--store", str(st.root), "--declaration", "DS-105-2023-PCM", "--out", str(tmp_path / "x.html"))
    assert peru.returncode == 2 and "no spell DS-105-2023-PCM" in peru.stderr
    page = run("embed", "--store", str(st.root), "--declaration", "NV-CURFEW-2023", "--declarations", str(files.events),
               "--lang", "en", "--out", str(tmp_path / "curfew.html"))
    assert page.returncode == 0, page.stderr
    html = (tmp_path / "curfew.html").read_text()
    assert "NV-CURFEW-2023" in html and "Period: 2023-09-01" in html
