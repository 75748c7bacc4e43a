"""Who may see what: the one place every data callback passes through.

Each data callback is wrapped with :func:`guarded` and names the kind of data it
returns (``"map"``, ``"series"``, ``"table"``, ``"district"``, ``"about"``). Today there
are two roles: ``"official"`` (a private deployment: everything) and ``"public"``
(``create_app(..., public=True)``: coarse hexes only, see :func:`map_limits`). A login
layer adds roles by changing :func:`current_role` (e.g. reading
``flask_login.current_user``) and :data:`ALLOWED`; no callback needs editing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import flask

from geo.errors import HexwatchError
from geo.privacy import DEFAULT_K, MAX_PUBLIC_RESOLUTION

#: role -> the kinds of data it may receive.
ALLOWED: dict[str, frozenset[str]] = {
    "official": frozenset({"map", "series", "table", "district", "about", "download"}),
    "public": frozenset({"map", "series", "about"}),
}


class AccessDenied(HexwatchError):
    """The current role may not see this kind of data."""


def current_role() -> str:
    """The role of the request being served (``public`` when the app was built public)."""
    cfg = flask.current_app.config if flask.has_app_context() else {}
    return "public" if cfg.get("HEXWATCH_PUBLIC") else "official"


def check(kind: str) -> str:
    """Raise :class:`AccessDenied` unless the current role may see ``kind``; return the role."""
    role = current_role()
    if kind not in ALLOWED.get(role, frozenset()):
        raise AccessDenied(f"the {role!r} role may not see {kind!r} data; sign in as an official")
    return role


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


def map_limits(role: str) -> dict[str, int]:
    """Limits the map applies for a role: the finest resolution and the smallest count shown."""
    if role == "public":
        return {"max_resolution": MAX_PUBLIC_RESOLUTION, "min_count": DEFAULT_K}
    return {"max_resolution": 15, "min_count": 1}
