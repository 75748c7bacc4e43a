"""The app factory: ``create_app(store_dir)`` -> a Dash app (its Flask server is ``app.server``).

Map library: dash-leaflet (see ``docs/dashboard.md`` for why). Every JS and CSS file is
served by the app itself (Dash's ``serve_locally``; dash-leaflet bundles Leaflet), so
the page works with no internet; without a tile URL the map has a plain background
and the district outlines give the context.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import json
import os
import threading
from pathlib import Path

import dash
import flask
from dash import ALL, Input, Output, State, ctx as dash_ctx, html
from plotly.io.json import to_json_plotly

from dashboard import access as access_rules, auth, sharing
from dashboard import layout as shell_layout
from dashboard.context import AppContext
from dashboard.i18n import DATE_PICKER_FORMAT, dropdown_labels, fmt_date, norm_lang, t
from dashboard import tabs
from dashboard.pages import PAGES
from dashboard.state import Catalog, UIState, apply, monday
from geo.errors import HexwatchError
from geo.objectstore import is_remote
from geo.store import Store

_ASSETS = Path(__file__).parent / "assets"

# Controller inputs: component id/prop -> the name :func:`dashboard.state.apply` knows.
_INPUTS = [
    ("url", "search", "url"), ("lang", "value", "lang"), ("dates", "start_date", "start"),
    ("dates", "end_date", "end"), ("week", "value", "week"), ("tick", "n_intervals", "tick"),
    ("play", "n_clicks", "play"), ("cats", "value", "cats"), ("spell", "value", "spell"), ("area", "value", "area"),
    ("metric", "value", "metric"), ("res", "value", "res"), ("mode", "value", "mode"),
    ("baseline", "start_date", "baseline_start"), ("baseline", "end_date", "baseline_end"),
    ("district-fill", "clickData", "click"), ("hexes", "clickData", "click"), ("panel-close", "n_clicks", "close"),
]
# Which action a firing input means (both date props are one "dates" action, etc.).
_ACTION = {"url": "url", "lang": "lang", "dates": "dates", "week": "week", "tick": "tick", "play": "play",
           "cats": "cats", "spell": "spell", "area": "area", "metric": "metric", "res": "res", "mode": "mode",
           "baseline": "baseline", "district-fill": "click", "hexes": "click", "panel-close": "close"}


def controls_for(state: UIState) -> list:
    """Control values (and week-slider range) that show ``state``, in :func:`register_controller`'s order."""
    v = state.view
    marks = {}
    n = state.n_weeks()
    step = max(1, -(-n // 3))  # at most three labelled weeks: more overlap in the side panel
    for i in range(0, n, step):
        marks[i] = fmt_date(monday(state.view.start) + dt.timedelta(days=7 * i), state.lang)
    return [
        state.lang, v.start.isoformat(), v.end.isoformat(), state.week_index(), max(n - 1, 0), marks,
        list(v.categories), v.spell, v.area, v.metric, "auto" if state.zoomres else str(v.resolution), state.mode,
        v.baseline_start.isoformat() if v.baseline_start else None,
        v.baseline_end.isoformat() if v.baseline_end else None,
        not state.playing, t("filters.pause" if state.playing else "filters.play", state.lang),
        shell_layout.week_label(state), state.notice,
    ]


def unchanged(shown: object, value: object) -> bool:
    """Whether the page already shows ``value`` (``shown`` is what the browser sent, as JSON).

    >>> unchanged({"0": "ene"}, {0: "ene"}), unchanged(["ROBO"], ["ROBO", "HURTO"])
    (True, False)
    """
    return shown == json.loads(to_json_plotly(value))


def register_controller(app: dash.Dash, ctx: AppContext) -> None:
    """The one callback that turns URL and control changes into the state (and back)."""
    outputs = [Output("lang", "value"), Output("dates", "start_date"), Output("dates", "end_date"),
               Output("week", "value"), Output("week", "max"), Output("week", "marks"), Output("cats", "value"),
               Output("spell", "value"), Output("area", "value"), Output("metric", "value"), Output("res", "value"),
               Output("mode", "value"), Output("baseline", "start_date"), Output("baseline", "end_date"),
               Output("tick", "disabled"), Output("play", "children"), Output("week-label", "children"),
               Output("notice", "children"), Output("url", "search"), Output("state", "data"), Output("day", "data")]

    # What the page shows now, per output: an input's value, else the output's own State.
    inputs = {f"{i}.{p}": n for n, (i, p, _) in enumerate(_INPUTS)}
    shown = [o.component_id + "." + o.component_property for o in outputs]
    extra = [State(*k.split(".")) for k in shown if k not in inputs]

    @app.callback(*outputs, *[Input(i, p) for i, p, _ in _INPUTS], *extra)
    def controller(*args):
        values, held = args[:len(_INPUTS)], dict(zip((f"{s.component_id}.{s.component_property}" for s in extra),
                                                     args[len(_INPUTS):]))
        prev = held["state.data"]
        catalog = ctx.catalog()
        c = {name: val for (_, _, name), val in zip(_INPUTS, values)}
        trigger = dash_ctx.triggered_id
        action = _ACTION.get(trigger) if isinstance(trigger, str) else None
        if action == "click":
            c["click"] = dash_ctx.triggered[0]["value"]
        state = UIState.from_store(prev, catalog) if prev else None
        if state is None or action in (None, "url"):
            state = apply(state or UIState.from_query("", catalog), "url", c, catalog)
        else:
            state = apply(state, action, c, catalog)
        new = [*controls_for(state), state.to_query(), state.to_store(), state.day.isoformat()]
        # Every prop a callback sets re-fires the callbacks reading it (Dash does not compare
        # values), so a prop already showing the value is left alone: a category change then
        # no longer re-runs the option labels and district outlines.
        now = [values[inputs[k]] if k in inputs else held[k] for k in shown]
        return [dash.no_update if unchanged(old, value) else value for old, value in zip(now, new)]


def register_labels(app: dash.Dash, ctx: AppContext) -> None:
    """Translate every :func:`dashboard.layout.label` and the controls' option texts on a language change."""

    @app.callback(Output({"type": "t", "key": ALL}, "children"), Input("lang", "value"))
    def labels(lang):
        lang = norm_lang(lang)
        return [t(o["id"]["key"], lang) for o in dash_ctx.outputs_list]

    @app.callback(Output("spell", "options"), Output("spell", "placeholder"), Output("area", "options"),
                  Output("metric", "options"), Output("res", "options"), Output("mode", "options"),
                  Output("cats", "options"),
                  Output("cats", "placeholder"), Output("dates", "display_format"), Output("baseline", "display_format"),
                  Output("cats", "labels"), Output("spell", "labels"), Output("res", "labels"), Input("lang", "value"))
    def options(lang):
        lang = norm_lang(lang)
        o = shell_layout.control_options(ctx.spells, lang, ctx.catalog().categories, ctx.area_choices)
        return (o["spell"], t("filters.spell_none", lang), o["area"], o["metric"], o["res"], o["mode"], o["cats"],
                t("filters.category_all", lang), DATE_PICKER_FORMAT[lang], DATE_PICKER_FORMAT[lang],
                *[dropdown_labels(lang)] * 3)


def _import_before_threads() -> None:
    """Import what request threads would otherwise import concurrently.

    Plotly's JSON encoder looks ``PIL.Image`` up in ``sys.modules``; when one thread is
    halfway through importing Pillow (a chart's first use of it) another thread's
    encoder finds the partial module and the callback answers 500 ("partially
    initialized module 'PIL.Image'", seen once under the load test).
    """
    try:
        import PIL.Image  # noqa: F401
    except ImportError:  # no Pillow: plotly does not look for it either
        pass


#: The street basemap used when none is configured; each browser probes it and falls back
#: to the plain offline background when it cannot reach it (see docs/dashboard.md).
DEFAULT_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
DEFAULT_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'


def basemap_settings(url: str | None = None, attribution: str = "", env=None) -> tuple[str | None, str]:
    """The tile URL and attribution: arguments, else ``HEXWATCH_TILES`` (or the older
    ``HEXWATCH_TILES_URL``) and ``HEXWATCH_TILES_ATTRIBUTION``, else OpenStreetMap's.
    ``off`` (or ``none``) means no basemap at all: nothing is fetched from anywhere.

    >>> basemap_settings(env={"HEXWATCH_TILES": "off"})
    (None, '')
    >>> basemap_settings(env={"HEXWATCH_TILES": "http://127.0.0.1:8080/{z}/{x}/{y}.png"})[0]
    'http://127.0.0.1:8080/{z}/{x}/{y}.png'
    """
    env = os.environ if env is None else env
    url = url or env.get("HEXWATCH_TILES") or env.get("HEXWATCH_TILES_URL") or DEFAULT_TILES
    if url.strip().lower() in ("off", "none", "0", "no"):
        return None, ""
    if url == DEFAULT_TILES:
        return url, attribution or DEFAULT_ATTRIBUTION
    return url, attribution or env.get("HEXWATCH_TILES_ATTRIBUTION", "")


#: The catalogue of the validation layout: no dates, categories or spells of any store.
_NO_DATA = Catalog(start=dt.date(2000, 1, 1), end=dt.date(2000, 1, 1), categories=(), spells={})


class _Dash(dash.Dash):
    """A Dash app whose validation layout is made for each page request's role (see
    ``validation_layout`` in :func:`create_app`) rather than once at start-up, where no
    role is known and it listed everything (the officials' categories and sections) in
    the public page's config."""

    role_validation_layout = None

    @property
    def validation_layout(self):
        make = self.__dict__.get("role_validation_layout")
        if make is None:
            return self.__dict__.get("_validation_layout")
        try:
            return make()
        except AttributeError as exc:
            # Dash's ``__getattr__`` would turn this into "'dict' object has no attribute
            # 'validation_layout'", hiding the real fault.
            raise RuntimeError(f"building the validation layout failed: {exc!r}") from exc

    @validation_layout.setter
    def validation_layout(self, value) -> None:
        self.__dict__["_validation_layout"] = value


def create_app(store: str | os.PathLike, *, public: bool = False, districts=None, registry=None,
               pages: list[str] | None = None, tiles_url: str | None = None,
               tiles_attribution: str = "", requests_pathname_prefix: str | None = None,
               access: access_rules.AccessConfig | None = None,
               declarations: str | os.PathLike | None = None, helper_process: bool = False) -> dash.Dash:
    """Build the dashboard for the store folder ``store``.

    ``public`` limits what the page shows (see :mod:`dashboard.access`); ``districts``
    (GeoDataFrame) and ``registry`` default to the study boundaries and the bundled
    declarations; ``pages`` to :data:`dashboard.pages.PAGES`; ``tiles_url`` and
    ``tiles_attribution`` name the street basemap (see :func:`basemap_settings`); each
    browser probes it and keeps the plain offline background when it is unreachable.
    ``access`` decides who sees what (default: :meth:`dashboard.access.AccessConfig.from_env`;
    ``public=True`` makes it a public-only site); see ``docs/access.md``.
    ``declarations``: a policy-event CSV for this store (default: Peru's registry for a
    store of Peru's districts, else none: the declaration controls are hidden).
    ``helper_process``: run the ¿Funcionó? analyses in a low-priority helper process
    (:mod:`dashboard.helper`; ``hexwatch serve`` does).
    Raises :class:`geo.errors.HexwatchError` if the store or the declarations cannot be read.
    """
    Store.open(store)  # fail now, with the store's own message, rather than on the first request
    access = access or access_rules.AccessConfig.from_env(public=public)
    if public and not access.public:
        access = dataclasses.replace(access, public=True)
    tiles_url, tiles_attribution = basemap_settings(tiles_url, tiles_attribution)
    ctx = AppContext(store if is_remote(store) else Path(store), public=access.public, districts_override=districts, registry_override=registry,
                     tiles_url=tiles_url, tiles_attribution=tiles_attribution,
                     events_path=Path(declarations) if declarations else None, helper_process=helper_process)
    ctx.spells  # a bad policy-event file is one error now, not one per request
    _import_before_threads()
    app = _Dash(__name__, assets_folder=str(_ASSETS), title="hexwatch", update_title=None,
                serve_locally=True, suppress_callback_exceptions=False,
                requests_pathname_prefix=requests_pathname_prefix)
    limiter = access_rules.install(app.server, access)
    app.server.config["HEXWATCH_STORE"] = str(store)
    names = list(pages or PAGES)
    modules = [(importlib.import_module(f"dashboard.pages.{p}.layout"), importlib.import_module(f"dashboard.pages.{p}.callbacks"))
               for p in names]

    def serve_layout():
        catalog = ctx.catalog()
        banner = shell_layout.banner_key(ctx.store())
        # Each visitor gets the sections their role may fill (the callbacks check again).
        shown = set(access_rules.visible_pages(names))
        sections = [(name, lay.layout(ctx)) for name, (lay, _) in zip(names, modules) if name in shown]
        return shell_layout.shell(catalog, sections, synthetic=banner is not None, spells=ctx.spells,
                                  banner=banner or "banner.synthetic", account=auth.account_bar(),
                                  side_extra=(sharing.controls(),) if "map" in shown else (), areas=ctx.area_choices,
                                  # No policy events, no "did it work?" tab: there is no declaration to ask about.
                                  hidden_pages=() if ctx.spells else ("impact",))

    built: dict[tuple, list] = {}  # (sections shown, store version) -> components; no data in them

    def validation_layout():
        # What Dash's renderer checks callbacks against, sent in every page's config: the
        # components of the sections this visitor is shown (every section outside a
        # request) with no data at all, so the public page names no category, date or
        # officials-only section (issue 14). Sections may mount a ``body(ctx)`` later.
        visible = set(access_rules.visible_pages(names))
        key = (tuple(n for n in names if n in visible), ctx.store().version)
        parts = built.get(key)
        if parts is None:
            shown = [(name, lay) for name, (lay, _) in zip(names, modules) if name in visible]
            parts = [shell_layout.shell(_NO_DATA, [(name, lay.layout(ctx)) for name, lay in shown], synthetic=False,
                                        side_extra=(sharing.controls(),) if "map" in visible else ()),
                     *[part for _, lay in shown if hasattr(lay, "body") for part in lay.body(ctx)]]
            if len(built) >= 8:
                built.clear()
            built[key] = parts
        # The account bar depends on who asks; the rest is the same for a role and version.
        return html.Div([auth.account_bar(), *parts])

    app.role_validation_layout = validation_layout  # before ``layout``: Dash would render one from it
    app.layout = serve_layout
    register_controller(app, ctx)
    register_labels(app, ctx)
    for _, cb in modules:
        cb.register(app, ctx)
    tabs.register(app)
    sharing.register_routes(app, ctx, limiter)
    access_rules.check_requests(app, access)

    @app.server.route("/healthz")
    def healthz():
        try:
            version = Store.open(ctx.store_dir).version
        except HexwatchError as exc:
            return flask.jsonify({"ok": False, "error": str(exc)}), 503
        return flask.jsonify({"ok": True, "store_version": version})

    @app.server.after_request
    def tag_worker(response):
        # Which process answered: lets ops (and the gunicorn test) tell workers apart.
        response.headers["X-Hexwatch-Worker"] = str(os.getpid())
        return response

    app.hexwatch = ctx  # for tests and for pages added later
    prime(app)
    return app


def prime(app: dash.Dash) -> None:
    """Run Dash's once-per-process server setup now, before the server accepts requests.

    Dash registers the component-suite script paths in a ``before_request`` hook that
    marks itself done *before* doing the work, so while a worker's first request is
    still registering them, its other threads already serve ``/_dash-component-suites/``
    requests and answer 500 ("dash" is not a registered library): the first visit after
    a start stayed on "Loading..." (issue 16). Doing it here, in the process that will
    serve, leaves nothing for the hook to do. The layout is rendered once for an
    anonymous visitor to validate it, as Dash's hook does.
    """
    with app.server.test_request_context("/"):
        app._setup_server()  # Dash's own setup (idempotent); no public entry point exists


def warm(app: dash.Dash) -> threading.Thread:
    """Fill this process's caches of the live store version in the background: the
    official views and the public published grid (on a 10M-incident store the grid
    alone takes ~2 s, which the first public visitor would otherwise wait for).
    ``hexwatch serve`` calls it in each worker; returns the (daemon) thread."""
    from geo.export import published_grid

    ctx = app.hexwatch

    def run() -> None:
        with app.server.app_context():  # the app's own grid (k, groups) from its access rules
            try:
                ctx.views()
                published_grid(ctx.store(), access_rules.public_grid())
                # The first view's fixed legend classes (both roles, the zoom levels it opens at).
                from dashboard.pages.map.callbacks import cached_legend
                from dashboard.state import DEFAULT_DAYS

                for res in (7, 8):
                    for public in (False, True):
                        cached_legend(ctx, public, res, DEFAULT_DAYS, (), "count")
            except Exception:  # a warm-up is only a head start: a request will say what is wrong
                app.server.logger.exception("warming the caches failed")

    thread = threading.Thread(target=run, name="hexwatch-warm", daemon=True)
    thread.start()
    return thread

