"""Officials' accounts: the users file, password hashes, session key, login and logout.

Accounts come from a TOML or JSON file named by ``HEXWATCH_USERS_FILE``::

    # hexwatch officials; hash each password with `hexwatch users hash-password`
    [users.ana]
    password_hash = "scrypt:32768:8:1$..."
    role = "official"          # optional (the only role that logs in today)

(JSON: ``{"users": {"ana": {"password_hash": "..."}}}``), and/or from
``HEXWATCH_USERS="ana:scrypt:32768:8:1$...,bob:pbkdf2:sha256:..."``. Only werkzeug
hashes (scrypt or pbkdf2) are accepted, never a plain password.

Sessions are flask-login's signed cookies (HttpOnly, SameSite=Lax; Secure with
``HEXWATCH_SECURE_COOKIES=1``) that carry a random session id, and the server keeps
the live ones in :class:`SessionStore` (a SQLite file every worker on the machine
shares: ``HEXWATCH_SESSION_DB``, else ``<config dir>/sessions.sqlite3``). A session
ends for good at sign-out (its id is deleted, so a copied cookie is worth nothing), 8
hours after sign-in whatever the activity (an absolute lifetime: requests never extend
it, and the cookie is not re-sent on each request), and when the user's password
changes (each session records a fingerprint of the hash it was opened with). Cookies
must be signed with the same key by every worker: :func:`secret_key` takes ``HEXWATCH_SECRET_KEY``, else a random key created
once in the hexwatch config folder (``HEXWATCH_CONFIG_DIR``, else
``~/.config/hexwatch``) and shared by every worker on the machine; production sets
``HEXWATCH_SECRET_KEY`` (one key for all machines, kept across redeploys).

The login form (``/login``, Spanish or English) carries a CSRF token, is rate
limited, and compares passwords in constant time, hashing a dummy password for
unknown names so that a reply's timing does not tell which names exist.

>>> users = parse_users_env("ana:" + hash_password("correct horse"))
>>> verify(users, "ana", "correct horse").role, verify(users, "ana", "wrong"), verify(users, "bob", "x")
('official', None, None)
"""

from __future__ import annotations

import functools
import hashlib
import html as _html
import json
import os
import re
import secrets
import sqlite3
import threading
import time
import tomllib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

import flask
from dash import dcc, html
from werkzeug.security import check_password_hash, generate_password_hash

from dashboard.i18n import norm_lang, t
from dashboard.layout import label
from geo.errors import HexwatchError

if TYPE_CHECKING:
    from flask_limiter import Limiter

    from dashboard.access import AccessConfig

_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
_HASH_METHODS = ("scrypt:", "pbkdf2:")
#: Roles a user may have (``public`` needs no account).
LOGIN_ROLES = ("official",)
#: How long a login lasts, counted from sign-in (activity does not extend it).
SESSION_HOURS = 8


def _now() -> float:  # the sessions' clock (tests move it)
    return time.time()


def hash_fingerprint(password_hash: str) -> str:
    """A short digest of a password hash: a session opened with one hash dies with it."""
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:32]


class SessionStore:
    """The live sessions, in a SQLite file shared by every worker process (WAL mode, one
    connection per thread and process).

    >>> import tempfile, os
    >>> s = SessionStore(os.path.join(tempfile.mkdtemp(), "sessions.sqlite3"))
    >>> sid = s.open("ana", "fp1", hours=8)
    >>> s.alive(sid, "ana", "fp1"), s.alive(sid, "ana", "fp2"), s.alive(sid, "bea", "fp1")
    (True, False, False)
    >>> s.close(sid); s.alive(sid, "ana", "fp1")
    False
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with self._db() as db:
                db.execute("CREATE TABLE IF NOT EXISTS sessions (sid TEXT PRIMARY KEY, user TEXT NOT NULL, "
                           "fingerprint TEXT NOT NULL, created REAL NOT NULL, expires REAL NOT NULL)")
            os.chmod(self.path, 0o600)
        except (OSError, sqlite3.Error) as exc:
            raise HexwatchError(f"cannot keep sessions in {self.path} ({exc}); set HEXWATCH_SESSION_DB "
                                "to a writable file") from None

    def _db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():  # never reuse a connection across fork
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=True)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def open(self, user: str, fingerprint: str, *, hours: float = SESSION_HOURS) -> str:
        """A new session of ``user``; returns its id (put it in the signed cookie)."""
        sid = secrets.token_urlsafe(32)
        now = _now()
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE expires <= ?", (now,))
            db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)", (sid, user, fingerprint, now, now + hours * 3600))
        return sid

    def alive(self, sid: str, user: str, fingerprint: str) -> bool:
        """Whether session ``sid`` is ``user``'s, open, unexpired and of this password hash."""
        row = self._db().execute("SELECT user, fingerprint, expires FROM sessions WHERE sid = ?", (sid,)).fetchone()
        return (row is not None and row[0] == user and secrets.compare_digest(row[1], fingerprint)
                and _now() < row[2])

    def close(self, sid: str) -> None:
        """End one session (sign-out)."""
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE sid = ?", (sid,))

    def close_user(self, user: str) -> int:
        """End every session of ``user`` (e.g. a lost laptop); returns how many."""
        with self._db() as db:
            return db.execute("DELETE FROM sessions WHERE user = ?", (user,)).rowcount


def session_db_path(config: "AccessConfig | None" = None, env: Mapping[str, str] | None = None) -> Path:
    """Where the live sessions are kept: ``config.session_db``, ``HEXWATCH_SESSION_DB``,
    else ``<config dir>/sessions.sqlite3`` (beside the session key)."""
    env = os.environ if env is None else env
    if config is not None and config.session_db:
        return Path(config.session_db)
    if env.get("HEXWATCH_SESSION_DB"):
        return Path(env["HEXWATCH_SESSION_DB"])
    return config_dir(env) / "sessions.sqlite3"


@dataclass(frozen=True)
class User:
    """An account: ``name``, ``role`` and its werkzeug ``password_hash`` (flask-login user)."""

    name: str
    password_hash: str
    role: str = "official"

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return self.name

    def __repr__(self) -> str:  # never print a hash into a log
        return f"User(name={self.name!r}, role={self.role!r})"


def hash_password(password: str) -> str:
    """A werkzeug scrypt hash of ``password`` for the users file."""
    if len(password) < 8:
        raise HexwatchError("the password is too short: use at least 8 characters (a passphrase is best)")
    return generate_password_hash(password, method="scrypt")


def _user(name: str, password_hash: str, role: str, where: str) -> User:
    if not _NAME.match(name):
        raise HexwatchError(f"{where}: user name {name!r} is not allowed; use letters, digits and . _ @ - (up to 64)")
    if not isinstance(password_hash, str) or not password_hash.startswith(_HASH_METHODS):
        raise HexwatchError(f"{where}: user {name!r} has no scrypt/pbkdf2 password hash; "
                            "make one with `hexwatch users hash-password`")
    if role not in LOGIN_ROLES:
        raise HexwatchError(f"{where}: user {name!r} has role {role!r}; use one of {', '.join(LOGIN_ROLES)}")
    return User(name, password_hash, role)


def parse_users(doc: Mapping, where: str = "users file") -> dict[str, User]:
    """Users from a parsed TOML/JSON document ``{"users": {name: hash | {password_hash, role}}}``."""
    table = doc.get("users") if isinstance(doc, Mapping) else None
    if not isinstance(table, Mapping):
        raise HexwatchError(f"{where} has no [users] table; see docs/access.md for the format")
    out = {}
    for name, entry in table.items():
        if isinstance(entry, str):
            entry = {"password_hash": entry}
        if not isinstance(entry, Mapping):
            raise HexwatchError(f"{where}: user {name!r} must be a table with password_hash")
        out[name] = _user(str(name), entry.get("password_hash"), entry.get("role", "official"), where)
    return out


def parse_users_env(spec: str, where: str = "HEXWATCH_USERS") -> dict[str, User]:
    """Users from ``name:hash,name:hash`` (hashes hold ``:`` and ``$`` but never ``,``)."""
    out = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, sep, hashed = item.partition(":")
        if not sep:
            raise HexwatchError(f"{where}: {name!r} has no ':<hash>'; write name:hash,name:hash")
        out[name] = _user(name, hashed, "official", where)
    return out


def read_users_file(path: str | os.PathLike) -> dict[str, User]:
    """Users of a ``.toml`` or ``.json`` file (one-line :class:`HexwatchError` when unreadable)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HexwatchError(f"cannot read the users file {path}: {exc.strerror}; check HEXWATCH_USERS_FILE") from None
    try:
        doc = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise HexwatchError(f"users file {path} is not valid {'JSON' if path.suffix.lower() == '.json' else 'TOML'}: "
                            f"{str(exc).splitlines()[0]}") from None
    return parse_users(doc, str(path))


def load_users(env: Mapping[str, str] | None = None) -> dict[str, User]:
    """Users of ``HEXWATCH_USERS_FILE`` and ``HEXWATCH_USERS`` (the latter wins on a name clash)."""
    env = os.environ if env is None else env
    users: dict[str, User] = {}
    if env.get("HEXWATCH_USERS_FILE"):
        users.update(read_users_file(env["HEXWATCH_USERS_FILE"]))
    if env.get("HEXWATCH_USERS"):
        users.update(parse_users_env(env["HEXWATCH_USERS"]))
    return users


@functools.cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(8), method="scrypt")


def verify(users: Mapping[str, User], name: str, password: str) -> User | None:
    """The user when ``password`` is theirs, else None (same work for unknown names)."""
    user = users.get(name)
    ok = check_password_hash(user.password_hash if user else _dummy_hash(), password or "")
    return user if (user is not None and ok) else None


# --- the session key -----------------------------------------------------------------


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """hexwatch's own config folder: ``HEXWATCH_CONFIG_DIR``, ``$XDG_CONFIG_HOME/hexwatch`` or ``~/.config/hexwatch``."""
    env = os.environ if env is None else env
    if env.get("HEXWATCH_CONFIG_DIR"):
        return Path(env["HEXWATCH_CONFIG_DIR"])
    base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "hexwatch"


def secret_key(*, shared: bool = True, env: Mapping[str, str] | None = None) -> str:
    """The key that signs session cookies.

    ``HEXWATCH_SECRET_KEY`` when set (at least 32 characters). Otherwise, with
    ``shared``, the key in ``<config dir>/secret_key``, created once (atomically, mode
    0600) so every worker and restart on this machine signs alike; without ``shared``
    (nobody can log in, so no session matters) a fresh random key for this process.
    """
    env = os.environ if env is None else env
    key = env.get("HEXWATCH_SECRET_KEY", "")
    if key:
        if len(key) < 32:
            raise HexwatchError("HEXWATCH_SECRET_KEY is too short: use 32 or more random characters, e.g. "
                                "python -c 'import secrets; print(secrets.token_urlsafe(48))'")
        return key
    if not shared:
        return secrets.token_urlsafe(48)
    path = config_dir(env) / "secret_key"
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = path.with_name(f".secret_key.{uuid.uuid4().hex}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)  # fails if another worker won the race: then use its key
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        key = path.read_text(encoding="ascii").strip()
    except OSError as exc:
        raise HexwatchError(f"cannot keep a session key in {path} ({exc.strerror}); set HEXWATCH_SECRET_KEY") from None
    if len(key) < 32:
        raise HexwatchError(f"the session key in {path} is damaged; delete the file or set HEXWATCH_SECRET_KEY")
    return key


# --- routes --------------------------------------------------------------------------


def _safe_next(target: str | None, default: str) -> str:
    """``target`` if it is a path on this site, else ``default`` (no open redirects)."""
    if not target or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or target.startswith("//"):
        return default
    return target


def csrf_token() -> str:
    """This session's CSRF token for forms (created on first use)."""
    if "csrf" not in flask.session:
        flask.session["csrf"] = secrets.token_urlsafe(32)
    return flask.session["csrf"]


def _csrf_ok() -> bool:
    sent = flask.request.form.get("csrf", "")
    return bool(sent) and secrets.compare_digest(sent, flask.session.get("csrf", ""))


def login_page(lang: str, *, action: str, next_url: str, home: str, error: str = "", has_users: bool = True) -> str:
    """The login form as a standalone page (every inserted string escaped)."""
    e = lambda s: _html.escape(str(s), quote=True)  # noqa: E731
    other = "en" if lang == "es" else "es"
    switch = f"{action}?{urlencode({'lang': other, 'next': next_url})}"
    form = (f"<form method='post' action='{e(action)}'>"
            f"<input type='hidden' name='csrf' value='{e(csrf_token())}'>"
            f"<input type='hidden' name='next' value='{e(next_url)}'><input type='hidden' name='lang' value='{e(lang)}'>"
            f"<label>{e(t('auth.username', lang))}<input name='username' autocomplete='username' required autofocus></label>"
            f"<label>{e(t('auth.password', lang))}<input name='password' type='password' "
            f"autocomplete='current-password' required></label>"
            f"<button type='submit'>{e(t('auth.submit', lang))}</button></form>") if has_users else \
        f"<p class='err'>{e(t('auth.no_users', lang))}</p>"
    err = f"<p class='err' role='alert'>{e(error)}</p>" if error else ""
    return (f"<!doctype html><html lang='{e(lang)}'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{e(t('auth.title', lang))}"
            f" · hexwatch</title><style>{_STYLE}</style></head><body><main>"
            f"<h1>hexwatch</h1><h2>{e(t('auth.title', lang))}</h2><p>{e(t('auth.hint', lang))}</p>{err}{form}"
            f"<p><a href='{e(switch)}'>{'English' if other == 'en' else 'Español'}</a> · "
            f"<a href='{e(home)}'>{e(t('auth.back', lang))}</a></p></main></body></html>")


_STYLE = ("body{font-family:system-ui,sans-serif;background:#fafafa;color:#222}main{max-width:380px;margin:8vh auto;"
          "background:#fff;border:1px solid #ddd;border-radius:6px;padding:16px 24px}label{display:block;margin:10px 0;"
          "font-weight:600}input{display:block;width:100%;box-sizing:border-box;padding:6px;margin-top:4px}"
          "button{margin-top:8px;padding:6px 16px}.err{color:#b2182b;font-weight:600}")


def install(server: flask.Flask, config: AccessConfig, limiter: Limiter) -> None:
    """Add flask-login, ``/login`` and ``/logout`` to ``server`` (see the module docstring).

    ``config`` is the :class:`dashboard.access.AccessConfig`; ``limiter`` rate-limits
    login attempts (``config.rate_limits["login"]``, POSTs only).
    """
    from flask_login import LoginManager, login_user, logout_user

    users = dict(load_users() if config.users is None else config.users)
    server.secret_key = config.secret_key or secret_key(shared=bool(users))
    # The cookie is not re-sent (with a later expiry) on each request: a session's end is
    # fixed at sign-in, here and in the session store.
    server.config.update(SESSION_COOKIE_NAME="hexwatch_session", SESSION_COOKIE_HTTPONLY=True,
                         SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=config.secure_cookies,
                         PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS), SESSION_REFRESH_EACH_REQUEST=False,
                         REMEMBER_COOKIE_DURATION=timedelta(0))
    server.config["HEXWATCH_USERS"] = users
    sessions = SessionStore(session_db_path(config)) if users else None
    server.config["HEXWATCH_SESSIONS"] = sessions
    manager = LoginManager()
    manager.init_app(server)

    @manager.user_loader
    def load(name: str):
        user = users.get(name)
        sid = flask.session.get("sid")
        if user is None or sessions is None or not isinstance(sid, str):
            return None
        if not sessions.alive(sid, user.name, hash_fingerprint(user.password_hash)):
            return None  # signed out, expired or the password changed: anonymous from now on
        return user

    prefix = lambda: flask.current_app.config.get("HEXWATCH_PATH_PREFIX", "/")  # noqa: E731

    def login():
        lang = norm_lang(flask.request.values.get("lang"))
        next_url = _safe_next(flask.request.values.get("next"), prefix())
        page = lambda error="", status=200: (login_page(  # noqa: E731
            lang, action=prefix() + "login", next_url=next_url, home=prefix(), error=error, has_users=bool(users)),
            status, {"Cache-Control": "no-store"})
        if flask.request.method == "GET":
            return page()
        if not _csrf_ok():
            return page(t("auth.expired", lang), 400)
        user = verify(users, flask.request.form.get("username", ""), flask.request.form.get("password", ""))
        if user is None:
            return page(t("auth.failed", lang), 401)
        old = flask.session.get("sid")
        if isinstance(old, str):
            sessions.close(old)
        flask.session.clear()  # a fresh session: nothing chosen before login carries over
        flask.session.permanent = True
        flask.session["sid"] = sessions.open(user.name, hash_fingerprint(user.password_hash))
        login_user(user)
        flask.session["csrf"] = secrets.token_urlsafe(32)
        return flask.redirect(next_url, 303)

    def logout():
        if _csrf_ok():
            sid = flask.session.get("sid")
            if isinstance(sid, str) and sessions is not None:
                sessions.close(sid)  # server-side: a copy of the cookie is signed out too
            logout_user()
            flask.session.clear()
        return flask.redirect(prefix(), 303)

    login_limit = limiter.limit(config.rate_limits["login"], methods=["POST"])
    server.add_url_rule("/login", "hexwatch_login", login_limit(login), methods=["GET", "POST"])
    server.add_url_rule("/logout", "hexwatch_logout", logout, methods=["POST"])


def account_bar() -> html.Div:
    """The page's account line: a sign-in link, or who is signed in and a sign-out button.
    Nothing on a public-only site."""
    app = flask.current_app if flask.has_app_context() else None
    if app is None or app.config.get("HEXWATCH_PUBLIC") or not flask.has_request_context():
        return html.Div(id="hw-account", className="hw-account")
    from flask_login import current_user

    prefix = app.config.get("HEXWATCH_PATH_PREFIX", "/")
    if current_user.is_authenticated:
        return html.Div(id="hw-account", className="hw-account", **{"data-role": current_user.role}, children=[
            html.Span(current_user.name, className="hw-account-name"), " · ", label("auth.role_official"),
            html.Form(action=prefix + "logout", method="POST", className="hw-logout", children=[
                dcc.Input(type="hidden", name="csrf", value=csrf_token()),
                html.Button(label("auth.logout"), type="submit", id="logout-btn")]),
        ])
    return html.Div(id="hw-account", className="hw-account", **{"data-role": "public"}, children=[
        label("auth.public_mode", html.Span, className="hw-hint"), " ",
        html.A(label("auth.login_link"), href=prefix + "login", id="login-link")])
