"""The page shell: header, banner, filters, the sections of :data:`dashboard.pages.PAGES`.

Every visible label is a :func:`label` (an element whose text one callback swaps when
the language changes), so adding a label never needs a new callback.
"""

from __future__ import annotations

import datetime as dt

from dash import dcc, html

from dashboard.i18n import DATE_PICKER_FORMAT, DEFAULT_LANG, category_label, dropdown_labels, fmt_date, t
from dashboard.tabs import TAB_ID
from dashboard.state import MAP_RESOLUTIONS, MODES, Catalog, UIState, monday


def label(key: str, tag=html.Span, **kwargs) -> html.Component:
    """A translatable text element; its id ``{"type": "t", "key": key}`` is filled per language."""
    return tag(t(key, DEFAULT_LANG), id={"type": "t", "key": key}, **kwargs)


def control(key: str, component, **kwargs) -> html.Div:
    """A labelled control."""
    return html.Div([label(key, html.Label, className="hw-label"), component], className="hw-control", **kwargs)


def control_options(spells, lang: str, categories=(), areas=None) -> dict[str, list[dict]]:
    """Option lists of the choice controls in ``lang``: ``spells`` (:class:`dashboard.context.SpellInfo`),
    ``categories`` (codes: named from the label table, the code on hover), ``areas``
    (``(id, name_es, name_en)`` of the store's areas; default Peru's metro areas)."""
    if areas is None:
        areas = [(a, t(f"area.{a}", "es"), t(f"area.{a}", "en")) for a in ("lima_callao", "sullana", "all")]
    return {
        "spell": [{"label": f"{s.spell_id} ({fmt_date(s.start, lang)} – {fmt_date(s.end, lang)})", "value": s.spell_id}
                  for s in spells],
        "area": [{"label": t("area.all", lang) if a == "all" else (en if lang == "en" else es), "value": a}
                 for a, es, en in areas],
        "cats": [{"label": category_label(c, lang), "value": c, "title": c} for c in categories],
        "metric": [{"label": t(f"metric.{m}", lang), "value": m} for m in ("count", "rate", "change")],
        "res": [{"label": t("res.auto", lang), "value": "auto"}] + [{"label": str(r), "value": str(r)} for r in MAP_RESOLUTIONS],
        "mode": [{"label": t(f"mode.{m}", lang), "value": m} for m in MODES],
    }


def week_label(state: UIState) -> str:
    """The selected week as the dates it spans inside the period ("9 oct. 2023 – 15 oct. 2023")."""
    a = max(monday(state.day), state.view.start)
    b = min(monday(state.day) + dt.timedelta(days=6), state.view.end)
    return f"{fmt_date(a, state.lang)} – {fmt_date(b, state.lang)}" if a != b else fmt_date(a, state.lang)


def filters(catalog: Catalog, state: UIState, spells, areas=None) -> html.Div:
    """The filter bar: period, week slider with play/pause, category, spell, area, colour, resolution."""
    v = state.view
    lang = DEFAULT_LANG
    # Options are in the first render: a dropdown drops a value that is not among its options.
    opts = control_options(spells, lang, catalog.categories, areas)
    return html.Div(className="hw-filters", children=[
        control("filters.dates", dcc.DatePickerRange(
            id="dates", start_date=v.start.isoformat(), end_date=v.end.isoformat(),
            min_date_allowed=catalog.start.isoformat(), max_date_allowed=catalog.end.isoformat(),
            display_format=DATE_PICKER_FORMAT[lang], first_day_of_week=1, minimum_nights=0)),
        html.Div(className="hw-control hw-week", children=[
            html.Div([label("filters.week", html.Label, className="hw-label"),
                      html.Span(week_label(state), id="week-label", className="hw-week-label"),
                      html.Button(t("filters.play", lang), id="play", n_clicks=0, className="hw-play")]),
            dcc.Slider(id="week", min=0, max=max(state.n_weeks() - 1, 0), step=1, value=state.week_index(),
                       marks=None, updatemode="mouseup", allow_direct_input=False),
        ]),
        control("filters.category", dcc.Dropdown(
            id="cats", options=opts["cats"], value=list(v.categories),
            multi=True, placeholder=t("filters.category_all", lang), labels=dropdown_labels(lang))),
        # A store with no policy events has no declaration to choose: the control is hidden
        # (it stays in the page, empty, because the controller writes its value).
        control("filters.spell", dcc.Dropdown(id="spell", options=opts["spell"], value=v.spell, clearable=True,
                                              placeholder=t("filters.spell_none", lang), labels=dropdown_labels(lang)),
                hidden=not spells, id="spell-control"),
        # A searchable list: a city's own boundary file may hold hundreds of neighbourhoods.
        control("filters.area", dcc.Dropdown(id="area", options=opts["area"], value=v.area, clearable=False,
                                             searchable=True, labels=dropdown_labels(lang))),
        control("filters.metric", dcc.RadioItems(id="metric", options=opts["metric"], value=v.metric, inline=True)),
        control("filters.resolution", dcc.Dropdown(id="res", options=opts["res"], value="auto" if state.zoomres else str(v.resolution),
                                                   clearable=False)),
        control("filters.mode", dcc.RadioItems(id="mode", options=opts["mode"], value=state.mode, inline=True)),
        html.Details(className="hw-control", children=[
            label("filters.baseline", html.Summary),
            dcc.DatePickerRange(id="baseline", start_date=None, end_date=None, clearable=True,
                                min_date_allowed=catalog.start.isoformat(), max_date_allowed=catalog.end.isoformat(),
                                display_format=DATE_PICKER_FORMAT[lang], first_day_of_week=1, minimum_nights=0),
            label("filters.baseline_hint", html.P, className="hw-hint"),
        ]),
    ])


def banner_key(store) -> str | None:
    """Which banner a store needs: ``banner.synthetic`` when all it holds is synthetic,
    ``banner.mixed`` when real district-month counts sit beside synthetic points (it says
    which layer is which), ``banner.points_synthetic`` for synthetic points beside real
    ones of another kind, ``None`` when nothing is synthetic."""
    from geo.datasets import LAYERS, store_layers

    layers = store_layers(store.meta)
    present = [name for name, tables in LAYERS.items() if any(store.has(t) for t in tables)]
    synthetic = [name for name in present if layers[name]["synthetic"]]
    if not synthetic:
        return None
    if synthetic == ["points"] and "district_month" in present:
        return "banner.mixed"
    return "banner.synthetic"


def source_line(info: dict, lang: str) -> str:
    """The attribution and licence a real layer carries wherever it is shown (``info``: one
    value of :func:`geo.datasets.store_layers`); a synthetic layer's own label."""
    if info["synthetic"]:
        return info.get("title", "")
    parts = [info.get("attribution") or info.get("publisher", "")]
    if info.get("licence"):
        parts.append(t("counts.licence", lang, licence=info["licence"]))
    return " · ".join(p for p in parts if p)


def tab_bar(names: list[str]) -> html.Nav:
    """One tab per page section; the map is the page, the others open over it.

    Plain links to ``#tab=<name>``: they work from the keyboard and without a callback,
    and ``assets/hexwatch.js`` keeps the hash (tab, filters panel, zoom, centre) current.
    """
    return html.Nav(className="hw-tabs", role="tablist", **{"aria-label": t("tab.nav", DEFAULT_LANG)}, children=[
        html.A(label(f"tab.{name}"), href=f"#tab={name}", id=f"tab-{name}", className="hw-tab", role="tab",
               **{"data-tab": name, "aria-controls": f"page-{name}"})
        for name in names])


def shell(catalog: Catalog, sections: list[tuple[str, html.Component]], *, synthetic: bool, spells=(),
          account: html.Component | None = None, side_extra: tuple = (), areas=None,
          hidden_pages: tuple = (), banner: str = "banner.synthetic") -> html.Div:
    """The whole page: a top bar (title, tabs, language, account), the filters in a
    collapsible side panel, and the map filling the rest; every other section is a tab
    page laid over the map (the map stays mounted, so switching back costs nothing).
    ``banner`` is the key of the data banner (:func:`banner_key`), shown when ``synthetic``."""
    state = UIState.from_query("", catalog)
    names = [name for name, _ in sections if name not in hidden_pages]
    pages = []
    for name, section in sections:
        cls = "hw-page hw-page-map" if name == "map" else "hw-page hw-page-over"
        if name in hidden_pages:  # kept for its callbacks' outputs, never shown
            pages.append(html.Div(section, id=f"page-{name}", hidden=True))
            continue
        pages.append(html.Div(section, id=f"page-{name}", className=cls, role="tabpanel",
                              **{"aria-labelledby": f"tab-{name}", "data-page": name}))
    return html.Div(id="hw-root", className="hw-root", children=[
        dcc.Location(id="url", refresh=False),
        dcc.Store(id="state"),
        dcc.Store(id="day"),  # the selected day alone: the emergency overlay reads it, not the whole state
        dcc.Store(id=TAB_ID, data="map"),  # the shown tab, written by assets/hexwatch.js (dashboard/tabs.py)
        dcc.Interval(id="tick", interval=1500, disabled=True),
        html.A(label("a11y.skip"), href="#map", className="hw-skip"),
        html.Header(className="hw-topbar", children=[
            html.Button("☰", id="filters-toggle", className="hw-filters-toggle", n_clicks=0,
                        **{"aria-controls": "filters-panel", "aria-expanded": "true", "aria-label": t("filters.toggle", DEFAULT_LANG)}),
            html.Div(className="hw-brand", children=[label("app.title", html.H1),
                                                     label("app.subtitle", html.P, className="hw-subtitle")]),
            tab_bar(names),
            html.Div(className="hw-lang", children=[
                html.Span(label("lang.label"), id="lang-label", className="hw-label"),
                html.Div(dcc.RadioItems(id="lang", options=[{"label": "Español", "value": "es"},
                                                            {"label": "English", "value": "en"}],
                                        value=DEFAULT_LANG, inline=True),
                         role="radiogroup", **{"aria-labelledby": "lang-label"}),
            ]),
            account if account is not None else html.Div(),
        ]),
        html.Div(label(banner), id="synthetic-banner", className="hw-banner",
                 style={} if synthetic else {"display": "none"}, role="alert"),
        html.Div(id="notice", className="hw-notice"),
        html.Div(className="hw-body", children=[
            html.Aside(id="filters-panel", className="hw-side", **{"aria-label": t("filters.title", DEFAULT_LANG)},
                       children=[label("filters.title", html.H2, className="hw-side-title"),
                                 filters(catalog, state, spells, areas), *side_extra]),
            html.Main(pages, className="hw-main", id="hw-main"),
        ]),
    ])
