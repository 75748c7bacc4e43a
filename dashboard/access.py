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

import functools
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import flask

from geo.errors import HexwatchError
from geo.privacy import DEFAULT_K, PERIODS, PublicGrid, is_sensitive

#: role -> the kinds of data it may receive.
ALLOWED: dict[str, frozenset[str]] = {
    "official": frozenset({"map", "about", "hexes", "points", "series", "table", "district", "download", "export",
                           "sensitive"}),
    "public": frozenset({"map", "about"}),
}
ROLES = tuple(ALLOWED)
#: page section (``dashboard.pages.<name>``) -> the kind a role must see to be shown it.
#: A section not listed here is shown to officials only.
PAGE_ACCESS: dict[str, str] = {"map": "map", "about": "about", "trends": "series", "impact": "series",
                               "hotspots": "map"}  # public: the published grid only (docs/hotspots.md)
#: Rate limits (flask-limiter syntax) unless configured: per client address and worker.
DEFAULT_RATE_LIMITS: Mapping[str, str] = MappingProxyType(
    {"embed": "60 per minute", "export": "20 per minute", "login": "10 per minute"})


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
    believed (rate limits key on the client address).
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

    def __post_init__(self) -> None:
        if self.anonymous_role not in ALLOWED:
            raise HexwatchError(f"role {self.anonymous_role!r} is unknown; use one of {', '.join(ROLES)}")
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
        except ValueError:
            raise HexwatchError("HEXWATCH_PUBLIC_K and HEXWATCH_TRUSTED_PROXIES must be whole numbers") from None
        limits = {name: env[f"HEXWATCH_RATE_LIMIT_{name.upper()}"] for name in DEFAULT_RATE_LIMITS
                  if env.get(f"HEXWATCH_RATE_LIMIT_{name.upper()}")}
        values: dict[str, Any] = dict(
            public=public, grid=PublicGrid(k=k, period=period), rate_limits=limits,
            rate_limit_storage=env.get("HEXWATCH_RATE_LIMIT_STORAGE", "memory://"),
            secure_cookies=_truthy(env.get("HEXWATCH_SECURE_COOKIES")), trusted_proxies=proxies)
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


def install(server: flask.Flask, config: AccessConfig):
    """Set up access on a Flask server: roles, 403 answers, security headers, rate
    limiter and (unless public) the login routes. Returns the
    :class:`flask_limiter.Limiter` the sharing routes use."""
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    server.config["HEXWATCH_ACCESS"] = config
    server.config["HEXWATCH_PUBLIC"] = config.public
    server.config["HEXWATCH_ANONYMOUS_ROLE"] = config.anonymous_role
    if config.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = config.trusted_proxies
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=n, x_proto=n, x_host=n, x_prefix=n)
    limiter = Limiter(get_remote_address, app=server, storage_uri=config.rate_limit_storage, headers_enabled=True)

    @server.errorhandler(AccessDenied)
    def denied(exc):
        return flask.jsonify({"error": str(exc)}), 403

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
