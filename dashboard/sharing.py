"""Sharing a view: the ``/embed`` and ``/export`` routes, the share dialog and the export links.

- ``/embed?declaration=…&from=…&to=…&category=…&lang=es`` answers
  :func:`geo.embed.embed_html`: always public (``docs/privacy.md``), no login, drawn
  offline (Leaflet inlined). Its Content-Security-Policy lets the page run only its own
  inline scripts (by SHA-256 hash), load nothing from elsewhere, and sit in any site's
  ``<iframe>`` (``frame-ancestors *``).
- ``/export?fmt=geojson|csv|geoparquet&<view query>`` answers :mod:`geo.export` for
  the view: exact for officials, public rules for everyone else; ``&part=provenance``
  gives the provenance record (the sidecar file of the CLI export) as JSON.
- Both are rate limited per client address (:data:`dashboard.access.DEFAULT_RATE_LIMITS`,
  configurable; the default in-memory counters are per worker process, so N gunicorn
  workers let through up to N times the limit: point ``HEXWATCH_RATE_LIMIT_STORAGE`` at
  a shared store such as Redis where that matters). Over the limit: HTTP 429.
- The map's share dialog holds the iframe snippet of the current view (and a copy
  button); the export links download the current view (filters, dates, resolution).

A user error (bad date, unknown format, category or declaration) is HTTP 400 with a
one-line message that says what to fix.

>>> from geo.viewspec import View
>>> v = View.from_query("from=2023-09-20&to=2023-11-18&category=robo")
>>> embed_url(v, "en", "https://mapa.example.pe/")
'https://mapa.example.pe/embed?from=2023-09-20&to=2023-11-18&category=robo&lang=en'
>>> print(iframe_snippet("https://mapa.example.pe/embed?from=2023-09-20&lang=es"))
<iframe src="https://mapa.example.pe/embed?from=2023-09-20&amp;lang=es" width="100%" height="480" style="border:0" loading="lazy" title="hexwatch"></iframe>
"""

from __future__ import annotations

import base64
import hashlib
import html as _html
import re
from functools import lru_cache

import flask
import orjson
from dash import ClientsideFunction, Input, Output, dcc, html

from dashboard.access import guarded, may, public_grid
from dashboard.layout import label
from dashboard.state import UIState, resolution_for_zoom
from geo.errors import HexwatchError
from geo.viewspec import View

#: Export formats and their media types.
MEDIA_TYPES = {"geojson": "application/geo+json", "csv": "text/csv",  # Flask adds "; charset=utf-8"
               "geoparquet": "application/vnd.apache.parquet"}
_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script>", re.S | re.I)


def view_of(state: UIState, zoom: float | None) -> View:
    """The view the map shows: the state's filters over its window (the selected week in
    week mode) at the resolution drawn (the zoom's when automatic)."""
    start, end = state.window
    res = resolution_for_zoom(zoom) if state.zoomres else state.view.resolution
    return state.view.replace(start=start, end=end, resolution=res)


def embed_url(view: View, lang: str, base: str) -> str:
    """Absolute address of the embed of ``view`` (``base`` = the site's root URL)."""
    query = "&".join(p for p in (view.to_query(), f"lang={lang}") if p)
    return f"{base.rstrip('/')}/embed?{query}"


def iframe_snippet(url: str, *, height: int = 480) -> str:
    """The HTML to paste into a page to embed ``url``."""
    return (f'<iframe src="{_html.escape(url, quote=True)}" width="100%" height="{int(height)}" '
            f'style="border:0" loading="lazy" title="hexwatch"></iframe>')


def export_url(view: View, fmt: str, prefix: str = "/") -> str:
    """Site-relative address that downloads ``view`` as ``fmt``."""
    query = view.to_query()
    return f"{prefix}export?fmt={fmt}" + (f"&{query}" if query else "")


def embed_csp(page: str) -> str:
    """Content-Security-Policy of an embed page: its own inline scripts only (by hash),
    inline styles, data: images, nothing fetched from elsewhere, framable anywhere."""
    hashes = sorted({"'sha256-" + base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode() + "'"
                     for body in _SCRIPT.findall(page)})
    return ("default-src 'none'; script-src 'self' " + " ".join(hashes) + "; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors *")


# --- routes --------------------------------------------------------------------------


def _bad_request(exc: Exception):
    message = str(exc).splitlines()[0] if str(exc) else "bad request"
    return flask.Response(message + "\n", 400, mimetype="text/plain")


def _query() -> str:
    return flask.request.query_string.decode("utf-8", "replace")


def _view(ctx) -> View:
    """The request's view; a declaration must be one of the registry's (an embed would
    otherwise print any made-up decree id in its panel as if it were real)."""
    view = View.from_query(_query())
    if view.spell:
        try:
            spell = ctx.registry.spell(view.spell)
        except HexwatchError:
            raise HexwatchError("declaration= names no decree or spell of the registry; "
                                "use an id from `hexwatch declarations list`") from None
        view = view.replace(spell=spell.spell_id)
    return view


def register_routes(app, ctx, limiter) -> None:
    """Add ``/embed`` and ``/export`` (rate limited) to the Dash ``app``'s server."""
    server = app.server
    config = server.config["HEXWATCH_ACCESS"]
    server.config["HEXWATCH_PATH_PREFIX"] = app.config.requests_pathname_prefix or "/"

    @lru_cache(maxsize=16)
    def embed_page(version: str, view: View, lang: str) -> str:
        # Keyed by store version: a new ingest is served from the next request on.
        from geo.embed import embed_html

        return embed_html(ctx.store(), view, lang=lang, grid=config.grid, registry=ctx.registry,
                          districts=ctx.districts)

    def embed():
        try:
            view = _view(ctx)
            page = embed_page(ctx.store().version, view, flask.request.args.get("lang", "es"))
        except HexwatchError as exc:
            return _bad_request(exc)
        response = flask.Response(page, mimetype="text/html")
        response.headers["Content-Security-Policy"] = embed_csp(page)
        response.headers["Cache-Control"] = "public, max-age=300"
        return response

    def export():
        from geo.export import export_filename, to_csv, to_geojson, to_geoparquet, view_data

        fmt = flask.request.args.get("fmt", "geojson")
        official = may("export")
        try:
            if fmt not in MEDIA_TYPES:
                raise HexwatchError(f"fmt={fmt!r} is unknown; use one of {', '.join(MEDIA_TYPES)}")
            view = _view(ctx)
            data = view_data(ctx.store(), view, public=not official, grid=public_grid(), registry=ctx.registry,
                             districts=ctx.districts)
        except HexwatchError as exc:
            return _bad_request(exc)
        except OverflowError:  # an official view's baseline before year 1
            return _bad_request(HexwatchError("those dates are outside the calendar; give dates after 0001-12-31"))
        name = export_filename(data.view, fmt, public=not official)
        if flask.request.args.get("part") == "provenance":
            body, media, name = orjson.dumps(data.provenance, option=orjson.OPT_INDENT_2), "application/json", \
                name + ".provenance.json"
        else:
            body = {"geojson": to_geojson, "csv": to_csv, "geoparquet": to_geoparquet}[fmt](data)
            media = MEDIA_TYPES[fmt]
        response = flask.Response(body, mimetype=media)
        response.headers.set("Content-Disposition", "attachment", filename=name)
        # Official exports hold exact counts: no shared cache may keep them.
        response.headers["Cache-Control"] = "private, no-store" if official else "public, max-age=300"
        response.headers["Vary"] = "Cookie"
        return response

    server.add_url_rule("/embed", "hexwatch_embed", limiter.limit(config.rate_limits["embed"])(embed))
    server.add_url_rule("/export", "hexwatch_export", limiter.limit(config.rate_limits["export"])(export))


# --- the map page's share dialog and export links ---------------------------------------

_FORMATS = (("geojson", "GeoJSON"), ("csv", "CSV"), ("geoparquet", "GeoParquet"))


def controls() -> html.Div:
    """Export links and the share button with its dialog (for the map section)."""
    return html.Div(className="hw-share", children=[
        label("export.title", html.Span, className="hw-label"),
        *[html.A(text, id=f"export-{fmt}", href="#", className="hw-export", download="") for fmt, text in _FORMATS],
        html.Button(label("share.button"), id="share-open", n_clicks=0, className="hw-share-open"),
        html.Div(id="share-dialog", className="hw-dialog", role="dialog", **{"aria-modal": "true"}, children=[
            html.Div(className="hw-dialog-box", children=[
                label("share.title", html.H3, className="hw-dialog-title"),
                label("share.hint", html.P, className="hw-hint"),
                dcc.Textarea(id="share-snippet", readOnly=True, className="hw-snippet", value=""),
                html.Div(className="hw-dialog-actions", children=[
                    dcc.Clipboard(target_id="share-snippet", id="share-copy", className="hw-copy"),
                    label("share.copy", html.Span),
                    html.A(label("share.open"), id="share-link", href="#", target="_blank", rel="noopener"),
                    html.Button(label("share.close"), id="share-close", n_clicks=0),
                ]),
            ]),
        ]),
    ])


def register_callbacks(app, ctx) -> None:
    """Keep the export links and the embed snippet on the current view; open/close the dialog."""

    @app.callback(Output("share-snippet", "value"), Output("share-link", "href"),
                  *[Output(f"export-{fmt}", "href") for fmt, _ in _FORMATS],
                  Input("state", "data"), Input("map", "zoom"))
    @guarded("map")
    def update_links(state_data, zoom):
        if not state_data:
            return ("", "#", *["#"] * len(_FORMATS))
        state = UIState.from_store(state_data, ctx.catalog())
        view = view_of(state, zoom)
        prefix = flask.current_app.config.get("HEXWATCH_PATH_PREFIX", "/")
        url = embed_url(view, state.lang, flask.request.host_url.rstrip("/") + prefix)
        return (iframe_snippet(url), url, *[export_url(view, fmt, prefix) for fmt, _ in _FORMATS])

    app.clientside_callback(
        ClientsideFunction(namespace="hexwatchShare", function_name="toggleDialog"),
        Output("share-dialog", "className"), Input("share-open", "n_clicks"), Input("share-close", "n_clicks"))
