"""Roles on the server: what an anonymous visitor and a logged-in official get from the
dashboard's callbacks, the login itself, the users file, the session key and the CLI."""

from __future__ import annotations

import base64
import json
import multiprocessing
import os
import stat
import subprocess
import sys
import tomllib

import h3
import numpy as np
import pytest

from dashboard import create_app
from dashboard.access import AccessConfig, current_role
from dashboard.auth import (hash_password, load_users, parse_users_env, read_users_file, secret_key, verify)
from dashboard.state import UIState
from dashboard.testing import response_values, update_request
from geo.errors import HexwatchError
from geo.h3index import latlng_to_cells
from geo.privacy import is_sensitive
from sharing_data import in_window, sharing_districts
from served import hexwatch_serve

K = 5
#: Session key of the test apps (so that no test writes a key file into a home folder).
TEST_SECRET_KEY = "test-secret-key-" + "x" * 32
Q = "from=2023-09-01&to=2023-10-31&day=2023-10-15"
ALL_BOUNDS = [[-12.2, -77.3], [-11.8, -76.8]]  # the two Lima squares, padded


@pytest.fixture(scope="module")
def app(sharing_path, official_users):
    # Many tests here sign in from the same address: a login limit that they never reach.
    return create_app(sharing_path, districts=sharing_districts(),
                      access=AccessConfig(users=official_users, secret_key=TEST_SECRET_KEY,
                                          rate_limits={"login": "1000 per minute"}))


@pytest.fixture
def official(app, log_in):
    client = app.server.test_client()
    assert log_in(client).status_code == 303
    return client


def state(app, query=Q):
    with app.server.test_request_context():  # what an anonymous visitor's controls offer
        return UIState.from_query(query, app.hexwatch.catalog()).to_store()


def call(app, client, output, values, changed="state.data"):
    return client.post("/_dash-update-component", json=update_request(app, output, values, changed))


def decode(payload):
    """Cells, counts and centres (micro-degrees) of a hex payload (layout: dashboard/mapdata.py)."""
    raw = base64.urlsafe_b64decode(payload["buf"])
    n = payload["count"]
    cells = np.frombuffer(raw, "<u8", n)
    lat, lon = np.frombuffer(raw, "<i4", n, 8 * n), np.frombuffer(raw, "<i4", n, 12 * n)
    counts, base = np.frombuffer(raw, "<u4", n, 16 * n), np.frombuffer(raw, "<u4", n, 20 * n)
    return cells, counts, base, set(zip(lat.tolist(), lon.tolist()))


# -- the must-show: an official callback refuses anonymous requests --------------------------


def test_anonymous_post_for_the_district_table_gets_403_and_no_data_an_official_gets_the_rows(app, official, sharing_rows):
    body = {"state.data": state(app)}
    r = call(app, app.server.test_client(), "district-table.rowData", body)
    assert r.status_code == 403 and b"rowData" not in r.data and b"150132" not in r.data
    r = call(app, official, "district-table.rowData", body)
    assert r.status_code == 200
    rows = {row["ubigeo"]: row["n"] for row in response_values(r.get_json())["district-table.rowData"]}
    assert rows == in_window(sharing_rows)["ubigeo"].value_counts().to_dict()


def test_the_map_at_resolution_10_is_exact_for_an_official_and_public_for_everyone_else(app, official, sharing_rows):
    values = {"state.data": state(app, Q + "&zoomres=0&res=10"), "map.zoom": 16, "map.bounds": ALL_BOUNDS}
    anon = call(app, app.server.test_client(), "hex-payload.data", values)
    assert anon.status_code == 200
    public = response_values(anon.get_json())
    cells, counts, _, _ = decode(public["hex-payload.data"])
    assert public["hex-payload.data"]["res"] == 8 and {h3.get_resolution(h3.int_to_str(int(c))) for c in cells} == {8}
    assert "Vista pública" in public["map-summary.children"]
    r = call(app, official, "hex-payload.data", values)
    payload = response_values(r.get_json())["hex-payload.data"]
    cells, counts, _, _ = decode(payload)
    lima = in_window(sharing_rows)
    lima = lima[lima["ubigeo"] != "200601"]
    assert payload["res"] == 10 and counts.sum() == len(lima) and "clab" not in payload
    fine = latlng_to_cells(lima["lat"].to_numpy(), lima["lon"].to_numpy(), 10)
    cell, n = np.unique(fine, return_counts=True)
    assert {c: x for c, x in zip(cells.tolist(), counts.tolist()) if x} == dict(zip(cell.tolist(), n.tolist()))


def test_points_are_for_officials_only(app, official, sharing_rows):
    box = [[-12.02, -77.0], [-12.0, -76.97]]  # a corner of the SJL square
    values = {"state.data": state(app, Q), "map.zoom": 17, "map.bounds": box}
    r = call(app, app.server.test_client(), "points.data", values)
    assert r.status_code == 403 and b"Point" not in r.data
    r = call(app, official, "points.data", values)
    out = response_values(r.get_json())
    got = {tuple(f["geometry"]["coordinates"]) for f in out["points.data"]["features"]}
    (s, w), (n, e) = box
    dy, dx = (n - s) * 0.25, (e - w) * 0.25  # the map asks for a padded viewport
    inc = in_window(sharing_rows)
    inside = inc[inc["lat"].between(s - dy, n + dy) & inc["lon"].between(w - dx, e + dx)]
    assert 0 < len(got) == len(inside)
    assert got == set(zip(inside["lon"].round(6), inside["lat"].round(6)))
    far = call(app, official, "points.data", {**values, "map.zoom": 12})  # zoomed out: hexes only
    assert response_values(far.get_json())["points.data"]["features"] == []


def test_a_district_panel_shows_counts_to_officials_only(app, official):
    values = {"state.data": state(app, Q + "&district=150132")}
    anon = json.dumps(response_values(call(app, app.server.test_client(), "panel-body.children", values).get_json()))
    full = json.dumps(response_values(call(app, official, "panel-body.children", values).get_json()))
    assert "150132" in anon and "150132" in full
    assert "incidentes en el periodo" not in anon and "incidentes en el periodo" in full


# -- the must-show: public responses leak nothing ---------------------------------------------

PUBLIC_QUERIES = [
    Q + "&zoomres=0&res=10",
    "from=2023-07-01&to=2023-12-31&metric=change",
    "from=2023-10-01&to=2023-10-31&metric=rate&zoomres=0&res=9",
    "from=2023-06-01&to=2023-12-31&day=2023-08-02&mode=week",
    Q + "&category=robo&category=violencia familiar",
    "from=2023-11-01&to=2023-11-30&category=<script>window.__pwned=1</script>",
]


@pytest.mark.parametrize("query", PUBLIC_QUERIES)
def test_public_map_responses_hold_no_count_below_k_no_fine_cell_no_point_no_sensitive_category(app, sharing_rows, query):
    values = {"state.data": state(app, query), "map.zoom": 16, "map.bounds": ALL_BOUNDS}
    r = call(app, app.server.test_client(), "hex-payload.data", values)
    assert r.status_code == 200
    payload = response_values(r.get_json())["hex-payload.data"]
    cells, counts, base, centres = decode(payload)
    assert len(cells) > 0 and max(h3.get_resolution(h3.int_to_str(int(c))) for c in cells) <= 8
    exact = counts > 0
    assert (counts[exact] >= K).all() and ((base == 0) | (base >= K)).all()
    labels = np.array(payload["clab"], dtype=object)
    assert all(lab in ("0", f"< {K}") or "–" in lab for lab in labels[~exact])  # 0 is exact: nothing there
    micro = set(zip(np.round(sharing_rows["lat"] * 1e6).astype(int), np.round(sharing_rows["lon"] * 1e6).astype(int)))
    assert not centres & micro and b'"Point"' not in r.data
    text = r.data.decode()
    assert not any(is_sensitive([c])[0] and c in text for c in sharing_rows["category"].unique())


def test_the_public_grid_hides_cells_the_official_map_shows_below_k(app, official):
    values = {"state.data": state(app, "from=2023-11-01&to=2023-11-30&category=hurto"), "map.zoom": 13,
              "map.bounds": ALL_BOUNDS}
    official_counts = decode(response_values(call(app, official, "hex-payload.data", values).get_json())
                             ["hex-payload.data"])[1]
    public = response_values(call(app, app.server.test_client(), "hex-payload.data", values).get_json())
    assert (official_counts[official_counts > 0] < K).any()  # the store does hold small cells
    assert f"< {K}" in public["hex-payload.data"]["clab"]


def test_the_public_is_never_offered_a_sensitive_category_nor_official_sections(app, official):
    anon = app.server.test_client()
    out = response_values(call(app, anon, "state.data", {"url.search": "?" + Q + "&category=violencia familiar"},
                               "url.search").get_json())
    assert out["cats.value"] == [] and "violencia" not in out["state.data"]["q"]
    layout = anon.get("/_dash-layout").get_data(as_text=True)
    assert "violencia familiar" not in layout and '"id":"points"' not in layout  # no raw-points layer
    # The public gets the Trends tab (published-grid totals, issue 16.5), never the exact chart or table.
    assert '"series"' not in layout and '"district-table"' not in layout and "login-link" in layout
    full = official.get("/_dash-layout").get_data(as_text=True)
    assert "violencia familiar" in full and '"id":"points"' in full and "section-trends" in full and "logout-btn" in full


def test_a_public_only_site_has_no_login(sharing_path, official_users, official_login):
    app = create_app(sharing_path, districts=sharing_districts(), public=True,
                     access=AccessConfig(users=official_users, secret_key=TEST_SECRET_KEY))
    client = app.server.test_client()
    assert "password" not in client.get("/login").get_data(as_text=True)  # Dash's own page, not a form
    name, password = official_login
    assert client.post("/login", data={"username": name, "password": password}).status_code == 405
    assert call(app, client, "district-table.rowData", {"state.data": state(app)}).status_code == 403
    with app.server.test_request_context():
        assert current_role() == "public"


# -- the login ----------------------------------------------------------------------------------


def test_a_wrong_password_or_a_missing_csrf_token_signs_nobody_in(app, log_in, official_login):
    client = app.server.test_client()
    r = log_in(client, password="wrong password")
    assert r.status_code == 401 and "Usuario o contraseña incorrectos" in r.get_data(as_text=True)
    assert log_in(client, name="nobody").status_code == 401
    name, password = official_login
    r = client.post("/login", data={"username": name, "password": password})
    assert r.status_code == 400
    assert call(app, client, "district-table.rowData", {"state.data": state(app)}).status_code == 403
    r = log_in(client, lang="en", password="nope")
    assert "Wrong user name or password" in r.get_data(as_text=True)


def test_login_redirects_only_inside_the_site(app, log_in):
    for target, expected in (("https://evil.example/x", "/"), ("//evil.example", "/"), ("/?lang=en", "/?lang=en")):
        r = log_in(app.server.test_client(), next=target)
        assert r.status_code == 303 and r.headers["Location"] == expected


def test_session_cookie_flags_and_logout(app, official):
    cookie = official.get_cookie("hexwatch_session")
    assert cookie.http_only and cookie.same_site == "Lax"
    assert official.post("/logout", data={}).status_code == 303  # no CSRF token: still signed in
    assert call(app, official, "district-table.rowData", {"state.data": state(app)}).status_code == 200
    layout = official.get("/_dash-layout").get_json()
    csrf = next(d["value"] for d in _dicts(layout) if d.get("name") == "csrf")  # the sign-out form's token
    assert official.post("/logout", data={"csrf": csrf}).status_code == 303
    assert call(app, official, "district-table.rowData", {"state.data": state(app)}).status_code == 403


def _dicts(tree):
    """Every dict in a JSON tree."""
    if isinstance(tree, dict):
        yield tree
        tree = list(tree.values())
    if isinstance(tree, list):
        for v in tree:
            yield from _dicts(v)


def test_login_attempts_are_rate_limited(sharing_path, official_users, log_in):
    app = create_app(sharing_path, districts=sharing_districts(),
                     access=AccessConfig(users=official_users, secret_key=TEST_SECRET_KEY,
                                         rate_limits={"login": "3 per minute"}))
    client = app.server.test_client()
    codes = [log_in(client, password=f"guess {i}").status_code for i in range(3)] + [log_in(client).status_code]
    assert codes == [401, 401, 401, 429]  # the right password too, once over the limit
    assert client.get("/login").status_code == 200  # only POSTs count
    elsewhere = app.server.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.0.0.2"  # limits are per client address
    assert log_in(elsewhere).status_code == 303


def test_workers_sharing_the_key_file_accept_each_others_sessions(sharing_path, official_users, tmp_path, monkeypatch, log_in):
    monkeypatch.setenv("HEXWATCH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("HEXWATCH_SECRET_KEY", raising=False)
    a, b = (create_app(sharing_path, districts=sharing_districts(), access=AccessConfig(users=official_users))
            for _ in range(2))
    client = a.server.test_client()
    assert log_in(client).status_code == 303
    other = b.server.test_client()
    other.set_cookie("hexwatch_session", client.get_cookie("hexwatch_session").value)
    assert call(b, other, "district-table.rowData", {"state.data": state(b)}).status_code == 200


def test_both_gunicorn_workers_of_hexwatch_serve_accept_a_login_without_a_configured_key(
        sharing_path, tmp_path, official_login, boundary_cache):  # served apps draw the fetched study districts
    import re
    import urllib.parse
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    name, password = official_login
    env = {**os.environ, "HEXWATCH_USERS": f"{name}:{hash_password(password)}",
           "HEXWATCH_CONFIG_DIR": str(tmp_path / "config")}
    env.pop("HEXWATCH_SECRET_KEY", None)
    with hexwatch_serve(sharing_path, env=env) as url:
        with urllib.request.urlopen(url + "/login", timeout=60) as r:
            cookie = r.headers["Set-Cookie"].split(";")[0]
            token = re.search(r"name='csrf' value='([^']+)'", r.read().decode()).group(1)
        form = urllib.parse.urlencode({"csrf": token, "username": name, "password": password}).encode()
        opener = urllib.request.build_opener(type("NoRedirect", (urllib.request.HTTPRedirectHandler,),
                                                  {"redirect_request": lambda *a, **k: None}))
        try:
            opener.open(urllib.request.Request(url + "/login", data=form, headers={"Cookie": cookie}), timeout=60)
        except urllib.error.HTTPError as exc:  # the 303 after a successful login
            assert exc.code == 303
            cookie = exc.headers["Set-Cookie"].split(";")[0]

        def layout(_):
            req = urllib.request.Request(url + "/_dash-layout", headers={"Cookie": cookie})
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.headers["X-Hexwatch-Worker"], b"logout-btn" in r.read()

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(layout, range(200)))
        assert len({w for w, _ in answers}) == 2 and all(signed_in for _, signed_in in answers)
        assert (tmp_path / "config" / "secret_key").is_file()  # made once by serve, read by both workers


# -- users, hashes and the session key ---------------------------------------------------------


def test_users_come_from_toml_json_and_the_environment_with_hashes_only(tmp_path):
    hashed = hash_password("a long passphrase")
    toml = tmp_path / "users.toml"
    toml.write_text(f'[users.ana]\npassword_hash = "{hashed}"\n[users.bea]\npassword_hash = "{hashed}"\nrole = "official"\n')
    js = tmp_path / "users.json"
    js.write_text(json.dumps({"users": {"carla": hashed}}))
    users = load_users({"HEXWATCH_USERS_FILE": str(toml), "HEXWATCH_USERS": f"dan:{hashed}"})
    assert sorted(users) == ["ana", "bea", "dan"] and verify(users, "dan", "a long passphrase")
    assert list(read_users_file(js)) == ["carla"]
    assert "password_hash" not in repr(users["ana"]) and hashed not in repr(users)
    for bad, message in (('[users.eve]\npassword_hash = "plain text"\n', "hash-password"),
                         (f'[users."a b"]\npassword_hash = "{hashed}"\n', "not allowed"),
                         (f'[users.eve]\npassword_hash = "{hashed}"\nrole = "admin"\n', "role"),
                         ("[users\n", "not valid TOML"), ("x = 1\n", r"no \[users\] table")):
        toml.write_text(bad)
        with pytest.raises(HexwatchError, match=message) as exc:
            read_users_file(toml)
        assert "\n" not in str(exc.value)
    with pytest.raises(HexwatchError, match="HEXWATCH_USERS_FILE"):
        load_users({"HEXWATCH_USERS_FILE": str(tmp_path / "missing.toml")})
    with pytest.raises(HexwatchError, match="name:hash"):
        parse_users_env("ana")
    with pytest.raises(HexwatchError, match="at least 8"):
        hash_password("short")


def _key_in(config_dir: str) -> str:
    return secret_key(env={"HEXWATCH_CONFIG_DIR": config_dir})


def test_the_session_key_is_made_once_shared_by_processes_and_private(tmp_path):
    folder = str(tmp_path / "config")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        keys = pool.map(_key_in, [folder] * 8)
    assert len(set(keys)) == 1 and len(keys[0]) >= 32
    path = tmp_path / "config" / "secret_key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and list((tmp_path / "config").iterdir()) == [path]
    assert secret_key(env={"HEXWATCH_CONFIG_DIR": folder, "HEXWATCH_SECRET_KEY": "k" * 40}) == "k" * 40
    with pytest.raises(HexwatchError, match="too short"):
        secret_key(env={"HEXWATCH_SECRET_KEY": "short"})
    assert secret_key(shared=False, env={}) != secret_key(shared=False, env={})  # nobody logs in: per process


def hexwatch(*args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    """The real command line (with its plugins), as a user runs it."""
    return subprocess.run([sys.executable, "-m", "geo.cli", *args], input=stdin, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_hexwatch_users_hash_password_makes_an_entry_the_users_file_accepts(tmp_path):
    r = hexwatch("users", "hash-password", "--stdin", "--name", "ana", stdin="a long passphrase\n")
    assert r.returncode == 0, r.stderr
    path = tmp_path / "u.toml"
    path.write_text(r.stdout)
    assert tomllib.loads(r.stdout)["users"]["ana"]["password_hash"].startswith("scrypt:")
    users = read_users_file(path)
    assert verify(users, "ana", "a long passphrase") and not verify(users, "ana", "a long passphrase!")
    r = hexwatch("users", "list", env={"HEXWATCH_USERS_FILE": str(path)})
    assert r.stdout.split() == ["ana", "official"] and "scrypt" not in r.stdout
    r = hexwatch("users", "hash-password", "--stdin", stdin="short\n")
    assert r.returncode == 2 and "at least 8" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_serve_stops_at_a_bad_users_file_before_starting_a_server(sharing_path, tmp_path):
    bad = tmp_path / "users.toml"
    bad.write_text('[users.ana]\npassword_hash = "hunter2"\n')
    r = hexwatch("serve", "--store", str(sharing_path), "--port", "0", "--users", str(bad))
    assert r.returncode == 2 and "hash-password" in r.stderr and "Listening" not in r.stderr


def test_access_settings_come_from_the_environment():
    c = AccessConfig.from_env(env={"HEXWATCH_PUBLIC_K": "7", "HEXWATCH_PUBLIC_PERIOD": "week",
                                   "HEXWATCH_RATE_LIMIT_EMBED": "5 per second", "HEXWATCH_SECURE_COOKIES": "1",
                                   "HEXWATCH_TRUSTED_PROXIES": "1"})
    assert (c.grid.k, c.grid.period, c.rate_limits["embed"], c.rate_limits["login"]) == (7, "week", "5 per second",
                                                                                          "10 per minute")
    assert c.secure_cookies and c.trusted_proxies == 1 and c.anonymous_role == "public"
    with pytest.raises(HexwatchError, match="k >= 3"):
        AccessConfig.from_env(env={"HEXWATCH_PUBLIC_K": "2"})
    with pytest.raises(HexwatchError, match="unknown"):
        AccessConfig(anonymous_role="admin")
