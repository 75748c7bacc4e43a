"""The dashboard over stores that are not Peru's: a city's own boundaries, or none."""

from __future__ import annotations

import pytest

from anycity_data import AREAS, CENTRE, build_anycity_store, write_anycity_files
from dashboard.testing import response_values, update_request


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    root = tmp_path_factory.mktemp("anycity-dash")
    files = write_anycity_files(root / "input", n=8_000)
    build_anycity_store(root / "store", files)
    return root, files


def test_a_store_without_boundaries_opens_on_its_hexes_with_only_all(city):
    from dashboard import create_app
    from geo.ingest import ingest_file

    root, files = city
    ingest_file(files.incidents, root / "bare", kind="points", boundaries=False, progress=False,
                columns={"lat": "y", "lon": "x", "time": "datetime", "category": "offence", "id": "incident_no"},
                time_format="%d/%m/%Y %H:%M")
    app = create_app(root / "bare", tiles_url="off")
    ctx = app.hexwatch
    assert ctx.area_ids == ("all",) and ctx.spells == [] and ctx.districts is None
    (s, w), (n, e) = ctx.first_extent
    assert s < CENTRE[0] < n and w < CENTRE[1] < e and n - s < 0.5  # the city, not the world
    # The page still draws: outlines are empty, hexes are there.
    with app.server.test_request_context("/"):
        page = app.layout()
    assert "spell-control" in str(page)
    body = update_request(app, "district-geo.data", {"area.value": "all"}, "area.value")
    r = app.server.test_client().post("/_dash-update-component", json=body)
    assert r.status_code == 200
    out = response_values(r.get_json())
    assert out["district-geo.data"]["features"] == [] and out["area-bounds.data"]["area"] == "all"


def test_a_citys_own_areas_are_the_zone_choices(city):
    from dashboard import create_app

    root, _ = city
    ctx = create_app(root / "store", tiles_url="off").hexwatch
    ids = set(ctx.area_ids)
    assert {f"district:{b}-{nb}" for b, _, nb, *_ in AREAS} <= ids
    assert not ids & {"lima_callao", "sullana"}
    labels = [es for _, es, _ in ctx.area_choices]
    assert "Central (Southport)" in labels and "Central (Northfield)" in labels
