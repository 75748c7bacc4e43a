"""Who may see what: the one place every data callback and route passes through.

Two roles. **public** (nobody logged in, or a site started with ``--public``): only
what ``docs/privacy.md`` allows, every number from the fixed published grid
(:func:`public_grid`): hexes at resolution ≤ 8, counts below k shown as ``< k``, no
sensitive categories, no points, no district counts. **official** (logged in, see
:mod:`dashboard.auth`): everything, including points at high zoom and exact exports.

Each data callback is wrapped with :func:`guarded` and names the kind of data it
returns; :data:`ALLOWED` maps a role to the kinds it may receive. The check runs on the
server for every request, so hiding a control in the page is never what protects data:
a denied request gets HTTP 403 and no data. :data:`PAGE_ACCESS` says which page
sections a role is shown (a section whose callbacks it may not call is left out of its
layout, so its browser never asks).

Kinds: ``map`` (public hexes, outlines, emergency status), ``about``; official only:
``hexes`` (exact hex counts), ``points`` (raw incidents), ``series`` (weekly district
counts), ``table``, ``district`` (a district's counts), ``download``, ``export``
(exact exports), ``sensitive`` (sensitive categories).

>>> sorted(ALLOWED["public"])
['about', 'map']
>>> "points" in ALLOWED["official"]
True
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import flask

from geo.errors import HexwatchError
from geo.privacy import DEFAULT_K, PERIODS, PublicGrid, Vocabulary, is_sensitive

#: role -> the kinds of data it may receive.
ALLOWED: dict[str, frozenset[str]] = {
    "official": frozenset({"map", "about", "hexes", "points", "series", "table", "district", "download", "export",
                           "sensitive"}),
    "public": frozenset({"map", "about"}),
}
ROLES = tuple(ALLOWED)
#: page section (``dashboard.pages.<name>``) -> the kind a role must see to be shown it.
#: A section not listed here is shown to officials only.
#: Trends is shown to the public too: its public body draws only published-grid totals
#: (kind ``map``); the officials' chart and table stay ``series``/``table`` (issue 16.5).
#: Hot spots too: the public's patterns come from the published grid only (docs/hotspots.md).
PAGE_ACCESS: dict[str, str] = {"map": "map", "about": "about", "trends": "map", "impact": "map", "hotspots": "map"}
#: Rate limits (flask-limiter syntax) unless configured: per client address and worker.
DEFAULT_RATE_LIMITS: Mapping[str, str] = MappingProxyType(
    {"embed": "60 per minute", "export": "20 per minute", "login": "10 per minute"})
#: The largest request body accepted unless configured: from the public (a callback's
#: body is a few KB) and from a signed-in official (whose page posts the map's drawn
#: hexes as a callback input: up to a few MB at resolution 10).
DEFAULT_MAX_REQUEST_BYTES = 1_000_000
DEFAULT_MAX_OFFICIAL_REQUEST_BYTES = 16_000_000


class AccessDenied(HexwatchError):
    """The current role may not see this kind of data (answered as HTTP 403)."""


@dataclass(frozen=True)
class AccessConfig:
    """How a server decides who sees what (pass to ``create_app(..., access=...)``).

    ``public``: a public-only site (no login at all). ``users``: name -> :class:`dashboard.auth.User`
    (``None``: read ``HEXWATCH_USERS_FILE`` / ``HEXWATCH_USERS``). ``secret_key`` signs
    session cookies (``None``: ``HEXWATCH_SECRET_KEY`` or the key file, see
    :func:`dashboard.auth.secret_key`). ``grid``: the published public grid (k, period,
    groups). ``rate_limits``: ``{"embed", "export", "login"}`` -> limit string; counted
    in ``rate_limit_storage`` (``memory://`` = per worker process; a shared store such
    as ``redis://host`` counts across workers). ``anonymous_role``: the role of a
    visitor who is not logged in; anything but ``public`` is for tests and single-user
    machines only. ``secure_cookies``: send the session cookie over HTTPS only.
    ``trusted_proxies``: reverse proxies in front whose ``X-Forwarded-*`` headers are
    believed (rate limits key on the client address). ``max_request_bytes``: the
    largest request body accepted from anyone not signed in (a public callback's is a
    few KB; larger: HTTP 413); ``max_official_request_bytes``: from an official (the
    officials' page posts the map's drawn hexes, a few MB at resolution 10).
    ``session_db``: the SQLite file of live sessions, shared by every worker (``None``:
    ``<config dir>/sessions.sqlite3``, see :mod:`dashboard.auth`).
    """

    public: bool = False
    users: Mapping[str, Any] | None = None
    secret_key: str | None = None
    grid: PublicGrid = field(default_factory=PublicGrid)
    rate_limits: Mapping[str, str] = field(default_factory=dict)
    rate_limit_storage: str = "memory://"
    anonymous_role: str = "public"
    secure_cookies: bool = False
    trusted_proxies: int = 0
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_official_request_bytes: int = DEFAULT_MAX_OFFICIAL_REQUEST_BYTES
    session_db: str | None = None

    def __post_init__(self) -> None:
        if self.anonymous_role not in ALLOWED:
            raise HexwatchError(f"role {self.anonymous_role!r} is unknown; use one of {', '.join(ROLES)}")
        if int(self.max_request_bytes) < 1024:
            raise HexwatchError(f"max_request_bytes={self.max_request_bytes} is too small; a callback needs a few KB")
        object.__setattr__(self, "rate_limits", MappingProxyType({**DEFAULT_RATE_LIMITS, **self.rate_limits}))

    @classmethod
    def from_env(cls, *, public: bool = False, env: Mapping[str, str] | None = None, **overrides: Any) -> "AccessConfig":
        """The configuration in the environment (see ``docs/access.md`` for every variable).

        >>> c = AccessConfig.from_env(env={"HEXWATCH_PUBLIC_K": "7", "HEXWATCH_RATE_LIMIT_EXPORT": "2 per minute"})
        >>> c.grid.k, c.rate_limits["export"], c.rate_limits["embed"]
        (7, '2 per minute', '60 per minute')
        """
        env = os.environ if env is None else env
        period = env.get("HEXWATCH_PUBLIC_PERIOD", "month")
        if period not in PERIODS:
            raise HexwatchError(f"HEXWATCH_PUBLIC_PERIOD={period!r} is unknown; use one of {', '.join(PERIODS)}")
        try:
            k = int(env.get("HEXWATCH_PUBLIC_K", DEFAULT_K))
            proxies = int(env.get("HEXWATCH_TRUSTED_PROXIES", "0"))
            max_bytes = int(env.get("HEXWATCH_MAX_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BYTES))
            max_official = int(env.get("HEXWATCH_MAX_OFFICIAL_REQUEST_BYTES", DEFAULT_MAX_OFFICIAL_REQUEST_BYTES))
        except ValueError:
            raise HexwatchError("HEXWATCH_PUBLIC_K, HEXWATCH_TRUSTED_PROXIES and HEXWATCH_MAX_*_REQUEST_BYTES "
                                "must be whole numbers") from None
        vocabulary = Vocabulary.load(env.get("HEXWATCH_PUBLIC_VOCABULARY") or None)
        limits = {name: env[f"HEXWATCH_RATE_LIMIT_{name.upper()}"] for name in DEFAULT_RATE_LIMITS
                  if env.get(f"HEXWATCH_RATE_LIMIT_{name.upper()}")}
        values: dict[str, Any] = dict(
            public=public, grid=PublicGrid(k=k, period=period, vocabulary=vocabulary), rate_limits=limits,
            rate_limit_storage=env.get("HEXWATCH_RATE_LIMIT_STORAGE", "memory://"),
            secure_cookies=_truthy(env.get("HEXWATCH_SECURE_COOKIES")), trusted_proxies=proxies,
            max_request_bytes=max_bytes, max_official_request_bytes=max_official,
            session_db=env.get("HEXWATCH_SESSION_DB") or None)
        values.update(overrides)
        return cls(**values)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() not in ("", "0", "false", "no", "off")


def current_role() -> str:
    """The role of the request being served: ``public`` on a public site, the logged-in
    user's role, else the configured anonymous role (``public``). ``public`` outside a
    request."""
    if not flask.has_app_context():
        return "public"
    app = flask.current_app
    if app.config.get("HEXWATCH_PUBLIC"):
        return "public"
    if flask.has_request_context() and getattr(app, "login_manager", None) is not None:
        from flask_login import current_user

        if current_user.is_authenticated:
            return current_user.role
    return app.config.get("HEXWATCH_ANONYMOUS_ROLE", "public")


def may(kind: str) -> bool:
    """Whether the current role may see ``kind`` data."""
    return kind in ALLOWED.get(current_role(), frozenset())


def check(kind: str) -> str:
    """Raise :class:`AccessDenied` unless the current role may see ``kind``; return the role."""
    role = current_role()
    if kind not in ALLOWED.get(role, frozenset()):
        raise AccessDenied(f"the {role!r} role may not see {kind!r} data; sign in as an official")
    return role


def visible(kind: str) -> bool:
    """Whether to put a component showing ``kind`` data in the page: :func:`may` during a
    request; True when Dash builds its validation layout (no request), which lists every
    component. Only decides what is drawn: the data itself is checked by :func:`guarded`."""
    return may(kind) if flask.has_request_context() else True


def visible_pages(pages: Iterable[str]) -> list[str]:
    """The page sections of ``pages`` the current role is shown (see :data:`PAGE_ACCESS`)."""
    return [p for p in pages if visible(PAGE_ACCESS.get(p, "hexes"))]


def visible_categories(categories: Iterable[str]) -> list[str]:
    """``categories`` without the sensitive ones unless the current role may see them."""
    categories = list(categories)
    if visible("sensitive") or not categories:
        return categories
    keep = ~is_sensitive(categories, public_grid().sensitive)
    return [c for c, k in zip(categories, keep) if k]


def visible_day_range(store, exact: tuple[dt.date, dt.date]) -> tuple[dt.date, dt.date]:
    """The first and last day the current role is offered: ``exact`` (the store's) for
    roles that see sensitive data, else the first and last day of the months the
    published grid covers (``docs/privacy.md``, rule 6: the store's own first and last
    day count sensitive incidents, and the last one may be a suppressed incident's)."""
    if visible("sensitive"):
        return exact
    from geo.export import public_coverage

    cov = public_coverage(store, public_grid())
    if cov["start"] is None:  # nothing public at all: an empty current month says nothing
        today = dt.date.today()
        first = today.replace(day=1)
        return first, (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    return dt.date.fromisoformat(cov["start"]), dt.date.fromisoformat(cov["end"])


def guarded(kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator for data callbacks: check the role before the callback runs."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            check(kind)
            return fn(*args, **kwargs)

        inner.access_kind = kind  # lets tests assert every data callback is guarded
        return inner

    return wrap


def public_grid() -> PublicGrid:
    """The published grid of the serving app (the default grid outside an app)."""
    if flask.has_app_context():
        cfg = flask.current_app.config.get("HEXWATCH_ACCESS")
        if cfg is not None:
            return cfg.grid
    return PublicGrid()


_FRAMEABLE = ("/embed",)


class _BodyLimit:
    """WSGI middleware: a request body sent without a length (chunked) is read up to the
    limit and refused with 413 past it, instead of being silently truncated."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    def __call__(self, environ, start_response):
        if not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated"):
            import io

            raw = environ["wsgi.input"].read(self.limit + 1)
            if len(raw) > self.limit:
                from werkzeug.wrappers import Response

                body = f"request body over {self.limit:,} bytes\n"
                return Response(body, 413, mimetype="text/plain", headers={"Connection": "close"})(
                    environ, start_response)
            # Now a body of known length: werkzeug (which ignores a chunked request's length)
            # checks it against the request's own limit like any other.
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(raw), str(len(raw))
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)


def install(server: flask.Flask, config: AccessConfig):
    """Set up access on a Flask server: roles, 403 answers, security headers, rate
    limiter and (unless public) the login routes. Returns the
    :class:`flask_limiter.Limiter` the sharing routes use."""
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    server.config["HEXWATCH_ACCESS"] = config
    server.config["HEXWATCH_PUBLIC"] = config.public
    # Werkzeug refuses a longer declared body (413) before anything reads it; a chunked one
    # (no length) is measured by _BodyLimit, since werkzeug would only cut it short. The
    # bound is the officials'; anyone else's is lowered per request (see ``body_limit``).
    upper = max(int(config.max_request_bytes), int(config.max_official_request_bytes))
    server.config["MAX_CONTENT_LENGTH"] = upper
    server.wsgi_app = _BodyLimit(server.wsgi_app, upper)
    server.config["HEXWATCH_ANONYMOUS_ROLE"] = config.anonymous_role
    if config.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = config.trusted_proxies
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=n, x_proto=n, x_host=n, x_prefix=n)
    limiter = Limiter(get_remote_address, app=server, storage_uri=config.rate_limit_storage, headers_enabled=True)

    @server.errorhandler(AccessDenied)
    def denied(exc):
        return flask.jsonify({"error": str(exc)}), 403

    @server.errorhandler(HexwatchError)
    def user_error(exc):  # e.g. a callback's view with dates no calendar holds
        return _bad_request(str(exc))

    @server.before_request
    def body_limit():
        # From the cookie alone, before any body is read: the public's limit is the small one.
        if not may("sensitive"):
            flask.request.max_content_length = int(config.max_request_bytes)

    @server.errorhandler(413)
    def too_large(exc):
        limit = flask.request.max_content_length or config.max_request_bytes
        return flask.Response(f"request body over {limit:,} bytes\n", 413, mimetype="text/plain")

    @server.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if flask.request.path not in _FRAMEABLE:
            # Only embeds go in other sites' frames; the dashboard and login page never do.
            response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
            response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'self'")
        return response

    if not config.public:
        from dashboard import auth

        auth.install(server, config, limiter)
    return limiter


# --- malformed requests ---------------------------------------------------------------

_UPDATE = "_dash-update-component"
_SUITES = "_dash-component-suites/"


def _bad_request(message: str):
    line = (message or "bad request").splitlines()[0]
    return flask.Response(line + "\n", 400, mimetype="text/plain")


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _date_text(v: Any) -> bool:
    if not isinstance(v, str):
        return False
    try:
        dt.date.fromisoformat(v[:10])
    except ValueError:
        return False
    return True


#: What a browser may send for the props our callbacks read (``None`` is always allowed:
#: a prop not set yet). Values are checked before a callback runs, so a forged one is a
#: 400 that says which prop is wrong, not an exception inside the callback.
PROP_CHECKS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "zoom": ("a number", _number),
    "bounds": ("[[south, west], [north, east]]", lambda v: isinstance(v, list) and len(v) == 2 and all(
        isinstance(p, list) and len(p) == 2 and all(_number(x) for x in p) for p in v)),
    "n_clicks": ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "n_intervals": ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "start_date": ("a date YYYY-MM-DD", _date_text),
    "end_date": ("a date YYYY-MM-DD", _date_text),
    "search": ("text", lambda v: isinstance(v, str)),
    "clickData": ("an object", lambda v: isinstance(v, dict)),
}
#: Checks of one component's prop (``"id.prop"``), where the prop name alone says too little.
ID_PROP_CHECKS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "week.value": ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "res.value": ("auto or a resolution 7-10", lambda v: v in ("auto", "7", "8", "9", "10", 7, 8, 9, 10)),
    "lang.value": ("es or en", lambda v: isinstance(v, str) and len(v) <= 10),
    "cats.value": ("a list of categories", lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v)),
    "state.data": ("the page's state", lambda v: isinstance(v, dict) and isinstance(v.get("q", ""), str)),
    "day.data": ("a date YYYY-MM-DD", _date_text),
    "tab.data": ("a tab name", lambda v: isinstance(v, str) and len(v) <= 20),
}


def _same_id(sent: Any, spec: Any) -> bool:
    if isinstance(spec, str):
        return sent == spec
    # A pattern-matching dependency: the browser sends the matched ids (a dict, or a list
    # of them for ALL); the callback checks their values itself.
    return isinstance(sent, (dict, list))


def callback_problem(app, body: Any) -> str | None:
    """Why ``body`` is not a well-formed ``/_dash-update-component`` request of ``app``
    (one line), or ``None``: an object naming a known output, with exactly the inputs and
    states that callback declares, each of an acceptable type (:data:`PROP_CHECKS`)."""
    if not isinstance(body, dict):
        return "the body must be a JSON object with output, outputs, inputs"
    output = body.get("output")
    if not isinstance(output, str):
        return "the request names no output"
    spec = app.callback_map.get(output)
    if spec is None:
        return "no callback has that output"
    if not isinstance(body.get("outputs"), (dict, list)):
        return "outputs must be an object or a list"
    if not isinstance(body.get("changedPropIds", []), list):
        return "changedPropIds must be a list"
    for part in ("inputs", "state"):
        sent, want = body.get(part, []), spec.get(part, [])
        if not isinstance(sent, list) or len(sent) != len(want):
            return f"{part}: this callback takes {len(want)}, got {len(sent) if isinstance(sent, list) else 'none'}"
        for item, dep in zip(sent, want):
            if isinstance(item, list) and not isinstance(dep["id"], str):  # ALL: one entry per match
                items = item
            else:
                items = [item]
            for one in items:
                if not isinstance(one, dict) or one.get("property") != dep["property"] or not _same_id(one.get("id"), dep["id"]):
                    return f"{part}: expected {dep['id']}.{dep['property']} in that position"
                value = one.get("value")
                if value is None or not isinstance(dep["id"], str):
                    continue
                what, ok = ID_PROP_CHECKS.get(f"{dep['id']}.{dep['property']}") or PROP_CHECKS.get(dep["property"], ("", None))
                if ok is not None and not ok(value):
                    return f"{dep['id']}.{dep['property']} must be {what}"
    return None


def check_requests(app, config: AccessConfig) -> None:
    """Answer malformed requests with 400 (never 500): callback bodies that are not what
    the callback declares (:func:`callback_problem`), component-suite paths that try to
    leave their package. Bodies over ``config.max_request_bytes`` are 413 (see
    :func:`install`). Call once every callback is registered."""
    server = app.server
    prefix = app.config.requests_pathname_prefix or "/"
    update, suites = prefix + _UPDATE, prefix + _SUITES

    @server.before_request
    def well_formed():
        path = flask.request.path
        if path == update and flask.request.method == "POST":
            flask.request.get_data(cache=True)  # over the size limit, chunked or not: 413 from werkzeug
            body = flask.request.get_json(silent=True)
            problem = callback_problem(app, body)
            if problem:
                return _bad_request("bad callback request: " + problem)
        elif path.startswith(suites):
            # Dash looks a suite's file up inside its package; a path that walks out of it
            # is refused before that (it was a 500).
            parts = path[len(suites):].split("/")
            if any(p in ("", ".", "..") or "\\" in p or "\x00" in p for p in parts):
                return _bad_request("bad component path")
        return None

    @server.errorhandler(ValueError)
    @server.errorhandler(TypeError)
    @server.errorhandler(OverflowError)
    @server.errorhandler(KeyError)
    def callback_value_error(exc):
        # Inside a callback, these come from values the browser sent that passed the type
        # checks above but not the callback's own (an impossible date, say): the request's
        # fault. Anywhere else they are ours. Logged either way, so a bug still shows.
        if flask.request.path != update:
            raise exc  # not a callback: an error of ours, answered (and logged) as a 500
        server.logger.warning("rejected callback request: %r", exc, exc_info=exc)
        return _bad_request(f"bad callback request: {exc}")

    _filter_dependencies(app, prefix + "_dash-dependencies")

    from dash.exceptions import DependencyException

    @server.errorhandler(DependencyException)
    def unknown_suite(exc):
        return flask.Response("not found\n", 404, mimetype="text/plain")


def _ids(component) -> set[str]:
    out = set()
    for c in [component, *(c for _, c in component._traverse_with_paths())]:
        cid = getattr(c, "id", None)
        if isinstance(cid, str):
            out.add(cid)
    return out


def _outputs(key: str) -> list[str]:
    return key.strip(".").split("...") if key.startswith("..") else [key]


def _filter_dependencies(app, path: str) -> None:
    """``/_dash-dependencies`` lists only the callbacks the current role's page can use:
    a callback whose role check refuses this role, or whose outputs are not in the
    role's page (an officials-only section), is left out, so the public page's
    callbacks name no officials' component. Callbacks are still checked when called."""
    endpoint = next((r.endpoint for r in app.server.url_map.iter_rules() if r.rule == path), None)
    if endpoint is None:
        return
    serve = app.server.view_functions[endpoint]

    filtered: dict[tuple, str] = {}  # (role, store version) -> the role's list as JSON

    def dependencies():
        response = serve()
        if may("sensitive"):  # officials get every callback
            return response
        from dash._utils import to_json

        key = (current_role(), app.hexwatch.store().version)
        if key not in filtered:
            if len(filtered) >= 8:
                filtered.clear()
            filtered[key] = to_json(_role_callbacks(app))
        response.set_data(filtered[key])
        return response

    app.server.view_functions[endpoint] = functools.wraps(serve)(dependencies)


def _role_callbacks(app) -> list:
    """The callbacks of ``app`` the current role's page can use (see :func:`_filter_dependencies`)."""
    present = _ids(app.validation_layout)
    keep = []
    for cb in app._callback_list:  # what Dash itself serves here
        spec = app.callback_map.get(cb["output"], {})
        kind = getattr(spec.get("callback"), "access_kind", None)
        if kind is not None and not may(kind):
            continue
        outs = [o.rsplit(".", 1)[0] for o in _outputs(cb["output"])]
        if any(not o.startswith("{") and o not in present for o in outs):
            continue
        keep.append(cb)
    return keep
