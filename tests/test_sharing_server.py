"""The server's sharing routes: /embed (always public), /export (exact for officials only),
their headers, errors, file names and rate limits, and the share dialog's links."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from urllib.parse import parse_qs, urlsplit

import geopandas as gpd
import pandas as pd
import pytest

from dashboard import create_app
from dashboard.access import AccessConfig
from dashboard.state import UIState
from dashboard.testing import response_values, update_request
from geo.viewspec import View
from sharing_data import in_window, planted_grid, sharing_districts

K = 5
TEST_SECRET_KEY = "test-secret-key-" + "y" * 32
VIEW = "from=2023-09-01&to=2023-10-31"
PLANTED = "<script>window.__pwned=1</script>"


@pytest.fixture(scope="module")
def app(sharing_path, official_users):
    # The planted-markup category is admitted publicly (a deployment's allow file) so
    # that its escaping is tested; by default it is never published (test_privacy_leaks).
    return create_app(sharing_path, districts=sharing_districts(), access=AccessConfig(
        users=official_users, secret_key=TEST_SECRET_KEY, grid=planted_grid(),
        rate_limits={"embed": "1000 per minute", "export": "1000 per minute", "login": "1000 per minute"}))


@pytest.fixture(scope="module")
def anon(app):
    return app.server.test_client()


@pytest.fixture
def official(app, log_in):
    client = app.server.test_client()
    assert log_in(client).status_code == 303
    return client


def filename(response) -> str:
    return re.search(r'filename="?([^";]+)', response.headers["Content-Disposition"]).group(1)


# -- /embed ---------------------------------------------------------------------------------


def test_embed_is_public_framable_and_runs_only_its_own_scripts(anon, official):
    r = anon.get(f"/embed?{VIEW}&lang=es&category=robo&category={PLANTED}")
    assert r.status_code == 200 and r.mimetype == "text/html"
    page = r.get_data(as_text=True)
    csp = dict(part.strip().split(" ", 1) for part in r.headers["Content-Security-Policy"].split(";"))
    assert csp["frame-ancestors"] == "*" and csp["default-src"] == "'none'" and "'unsafe-inline'" not in csp["script-src"]
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", page, re.S)
    assert len(scripts) >= 2  # Leaflet inlined, the map
    for body in scripts:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp["script-src"]
    assert r.headers["X-Content-Type-Options"] == "nosniff" and "X-Frame-Options" not in r.headers
    assert PLANTED not in page and "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert "violencia familiar" not in page
    from geo.embed import read_payload

    tips = read_payload(page)["labels"]  # the hexes' count labels, escaped
    assert tips and all(t in ("&lt; 5", "0") or "–" in t or int(t) >= K for t in tips)
    # An official sees the same public page: embeds are always public.
    assert official.get(f"/embed?{VIEW}&lang=es&category=robo&category={PLANTED}").get_data(as_text=True).split(
        "<body>")[1][:200] == page.split("<body>")[1][:200]


@pytest.mark.parametrize("query, message", [
    ("from=2023-13-01", "not a date"),
    (f"{VIEW}&lang=xx", "language"),
    (f"{VIEW}&category=violencia familiar", "sensitive"),
    (f"{VIEW}&res=99", "resolution"),
])
def test_embed_errors_are_400_with_one_line_saying_what_to_do(anon, query, message):
    r = anon.get(f"/embed?{query}")
    text = r.get_data(as_text=True)
    assert r.status_code == 400 and message in text and text.count("\n") == 1 and r.mimetype == "text/plain"


# -- /export --------------------------------------------------------------------------------


def test_anonymous_exports_follow_the_public_rules_officials_get_exact_counts(anon, official, sharing_rows):
    r = anon.get(f"/export?fmt=geojson&{VIEW}&res=10")
    assert r.status_code == 200 and r.mimetype == "application/geo+json"
    doc = r.get_json()
    hexes = [f["properties"] for f in doc["features"] if f["properties"]["layer"] == "hex"]
    districts = [f["properties"] for f in doc["features"] if f["properties"]["layer"] == "district"]
    assert hexes and {h["resolution"] for h in hexes} == {8} and doc["hexwatch"]["public"] is True
    assert all(h["count"] is None or h["count"] == 0 or h["count"] >= K for h in hexes)
    assert any(h["count_label"] == f"< {K}" for h in hexes) and all("count" not in d for d in districts)
    assert "violencia familiar" not in r.get_data(as_text=True)
    assert filename(r).startswith("hexwatch_public_") and r.headers["Cache-Control"].startswith("public")

    r = official.get(f"/export?fmt=geojson&{VIEW}&res=10")
    doc = r.get_json()
    hexes = [f["properties"] for f in doc["features"] if f["properties"]["layer"] == "hex"]
    assert {h["resolution"] for h in hexes} == {10} and doc["hexwatch"]["public"] is False
    assert sum(h["count"] for h in hexes) == len(in_window(sharing_rows))
    assert "public" not in filename(r) and r.headers["Cache-Control"] == "private, no-store"


def test_csv_geoparquet_and_provenance_hold_the_same_view(official):
    geo = official.get(f"/export?fmt=geojson&{VIEW}&res=9").get_json()
    want = {f["properties"]["h3"]: f["properties"]["count"] for f in geo["features"] if f["properties"]["layer"] == "hex"}
    r = official.get(f"/export?fmt=csv&{VIEW}&res=9")
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8" and filename(r).endswith(".csv")
    csv = pd.read_csv(io.BytesIO(r.data))
    assert dict(zip(csv.loc[csv["layer"] == "hex", "h3"], csv.loc[csv["layer"] == "hex", "count"])) == want
    r = official.get(f"/export?fmt=geoparquet&{VIEW}&res=9")
    gdf = gpd.read_parquet(io.BytesIO(r.data))
    assert gdf.crs.to_epsg() == 4326 and dict(zip(gdf.loc[gdf["layer"] == "hex", "h3"],
                                                  gdf.loc[gdf["layer"] == "hex", "count"])) == want
    r = official.get(f"/export?fmt=csv&{VIEW}&res=9&part=provenance")
    prov = json.loads(r.data)
    assert filename(r).endswith(".csv.provenance.json") and prov["store_version"] == geo["hexwatch"]["store_version"]
    assert prov["filters"]["resolution"] == 9 and prov["public"] is False


@pytest.mark.parametrize("query", [f"fmt=../../etc/passwd&{VIEW}", f"fmt=geojson&{VIEW}&baseline_from=2023-01-01"])
def test_export_user_errors_are_400(anon, query):
    r = anon.get(f"/export?{query}")
    assert r.status_code == 400 and r.get_data(as_text=True).count("\n") == 1


def test_export_file_names_are_sanitised(official):
    r = official.get(f"/export?fmt=csv&{VIEW}&category=../../etc/passwd&category=a%0d%0aSet-Cookie:x=1")
    assert r.status_code == 200
    name, header = filename(r), r.headers["Content-Disposition"]
    assert "/" not in name and "\\" not in name and not name.startswith(".") and name.endswith(".csv")
    assert "etc_passwd" in name and "\r" not in header and "\n" not in header
    assert "x=1" not in r.headers.get("Set-Cookie", "")


# -- limits and headers ----------------------------------------------------------------------


def test_embed_and_export_are_rate_limited_per_client(sharing_path):
    app = create_app(sharing_path, districts=sharing_districts(), public=True,
                     access=AccessConfig(rate_limits={"embed": "2 per minute", "export": "1 per minute"}))
    client = app.server.test_client()
    assert [client.get(f"/embed?{VIEW}").status_code for _ in range(3)] == [200, 200, 429]
    assert [client.get(f"/export?fmt=csv&{VIEW}").status_code for _ in range(2)] == [200, 429]
    other = app.server.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    assert other.get(f"/embed?{VIEW}").status_code == 200


def test_the_dashboard_itself_cannot_be_framed_by_other_sites(anon):
    for path in ("/", "/login", "/healthz"):
        r = anon.get(path)
        assert r.headers["X-Frame-Options"] == "SAMEORIGIN" and r.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'self'" in r.headers["Content-Security-Policy"]


# -- the share dialog ------------------------------------------------------------------------


def test_share_and_export_links_follow_the_current_view(app, anon):
    with app.server.test_request_context():
        st = UIState.from_query(f"{VIEW}&category=robo&area=lima_callao&metric=change&lang=en&mode=week&day=2023-10-11",
                                app.hexwatch.catalog())
    body = update_request(app, "share-snippet.value", {"state.data": st.to_store(), "map.zoom": 13}, "state.data")
    out = response_values(anon.post("/_dash-update-component", json=body).get_json())
    snippet = out["share-snippet.value"]
    src = re.search(r'<iframe src="([^"]+)"', snippet).group(1).replace("&amp;", "&")
    assert src.startswith("http://localhost/embed?") and src == out["share-link.href"] and "&amp;" in snippet
    query = urlsplit(src).query
    assert parse_qs(query)["lang"] == ["en"]
    # The week shown (mode=week), at the zoom's resolution (13 -> 9), with the filters.
    assert View.from_query(query) == View(start=pd.Timestamp("2023-10-09").date(), end=pd.Timestamp("2023-10-15").date(),
                                          categories=("robo",), area="lima_callao", metric="change", resolution=9)
    for fmt in ("geojson", "csv", "geoparquet"):
        href = out[f"export-{fmt}.href"]
        assert href.startswith(f"/export?fmt={fmt}&") and View.from_query(urlsplit(href).query) == View.from_query(query)
    r = anon.get(out["export-geojson.href"])
    assert r.status_code == 200 and {f["properties"]["resolution"] for f in r.get_json()["features"]
                                     if f["properties"]["layer"] == "hex"} == {8}  # public: at most 8
