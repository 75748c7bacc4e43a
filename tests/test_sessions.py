"""Issue 14, item 4, as attacks: a copied session cookie after sign-out, a stolen cookie
kept alive by use, a cookie from before a password change, another worker. Each must
get 403 where it used to get official data."""

from __future__ import annotations

import json

import pytest

from dashboard import auth, create_app
from dashboard.access import AccessConfig
from dashboard.auth import hash_password, parse_users_env
from dashboard.state import UIState
from dashboard.testing import update_request
from sharing_data import sharing_districts

KEY = "session-test-key-" + "z" * 32
Q = "from=2023-09-01&to=2023-10-31"


def make_app(path, users, db=None):
    return create_app(path, districts=sharing_districts(), access=AccessConfig(
        users=users, secret_key=KEY, session_db=None if db is None else str(db),
        rate_limits={"login": "1000 per minute"}))


@pytest.fixture
def db(tmp_path):
    return tmp_path / "sessions.sqlite3"


@pytest.fixture
def app(sharing_path, official_users, db):
    return make_app(sharing_path, official_users, db)


def table_status(app, client) -> int:
    """What an official-only callback (the district table) answers this client."""
    with app.server.test_request_context():
        state = UIState.from_query(Q, app.hexwatch.catalog()).to_store()
    body = update_request(app, "district-table.rowData", {"state.data": state}, "state.data")
    return client.post("/_dash-update-component", json=body).status_code


def csrf(client) -> str:
    """The sign-out form's token, read from the page as a browser has it."""
    def dicts(tree):
        if isinstance(tree, dict):
            yield tree
            tree = list(tree.values())
        if isinstance(tree, list):
            for v in tree:
                yield from dicts(v)

    layout = json.loads(client.get("/_dash-layout").get_data(as_text=True))
    return next(d["value"] for d in dicts(layout) if d.get("name") == "csrf")


def copy_cookie(src, dst) -> None:
    dst.set_cookie("hexwatch_session", src.get_cookie("hexwatch_session").value)


def test_a_cookie_copied_before_sign_out_is_refused_after_it(app, log_in):
    victim, thief = app.server.test_client(), app.server.test_client()
    assert log_in(victim).status_code == 303
    copy_cookie(victim, thief)
    assert table_status(app, thief) == 200  # the stolen cookie works while the session lives
    assert victim.post("/logout", data={"csrf": csrf(victim)}).status_code == 303
    assert table_status(app, victim) == 403
    assert table_status(app, thief) == 403  # signed out on the server, not just in one browser
    assert "logout-btn" not in thief.get("/_dash-layout").get_data(as_text=True)
    assert log_in(victim).status_code == 303 and table_status(app, thief) == 403  # a new login is a new session


def test_a_session_ends_eight_hours_after_sign_in_however_busy_and_the_cookie_is_not_renewed(app, log_in, monkeypatch):
    client = app.server.test_client()
    assert log_in(client).status_code == 303
    start = auth._now()  # just after sign-in: the session began at most this late
    for hours in (1, 4, 7.9):  # used all along
        monkeypatch.setattr(auth, "_now", lambda h=hours: start + h * 3600)
        r = client.get("/_dash-layout")
        assert "logout-btn" in r.get_data(as_text=True)
        assert "Set-Cookie" not in r.headers  # no request pushes the cookie's end further out
        assert table_status(app, client) == 200
    monkeypatch.setattr(auth, "_now", lambda: start + 8 * 3600 + 1)
    assert table_status(app, client) == 403
    assert "login-link" in client.get("/_dash-layout").get_data(as_text=True)


def test_a_password_change_ends_the_sessions_opened_with_the_old_one(sharing_path, official_login, db, log_in):
    name, password = official_login
    before = make_app(sharing_path, parse_users_env(f"{name}:{hash_password(password)}"), db)
    client = before.server.test_client()
    assert log_in(client).status_code == 303 and table_status(before, client) == 200
    # The users file now holds a new hash for the same name (the server restarted or reloaded it).
    after = make_app(sharing_path, parse_users_env(f"{name}:{hash_password('a brand new passphrase')}"), db)
    other = after.server.test_client()
    copy_cookie(client, other)
    assert table_status(after, other) == 403
    assert log_in(other, password="a brand new passphrase").status_code == 303 and table_status(after, other) == 200


def test_workers_share_sign_outs(sharing_path, official_users, db, log_in):
    a, b = make_app(sharing_path, official_users, db), make_app(sharing_path, official_users, db)
    on_a, on_b = a.server.test_client(), b.server.test_client()
    assert log_in(on_a).status_code == 303
    copy_cookie(on_a, on_b)
    assert table_status(b, on_b) == 200  # the other worker knows the session
    assert on_a.post("/logout", data={"csrf": csrf(on_a)}).status_code == 303
    assert table_status(b, on_b) == 403  # and that it ended


def test_the_session_store_is_kept_beside_the_key_by_default_and_private(sharing_path, official_users, log_in,
                                                                         tmp_path, monkeypatch):
    import os
    import stat

    monkeypatch.setenv("HEXWATCH_CONFIG_DIR", str(tmp_path / "cfg"))
    app = make_app(sharing_path, official_users)
    assert log_in(app.server.test_client()).status_code == 303
    path = tmp_path / "cfg" / "sessions.sqlite3"
    assert path.is_file() and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    store = auth.SessionStore(path)
    assert store.close_user("ana") == 1 and store.close_user("ana") == 0
