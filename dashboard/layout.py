"""The page shell: header, banner, filters, the sections of :data:`dashboard.pages.PAGES`.

Every visible label is a :func:`label` (an element whose text one callback swaps when
the language changes), so adding a label never needs a new callback.
"""

from __future__ import annotations

from dash import dcc, html

from dashboard.i18n import DATE_PICKER_FORMAT, DEFAULT_LANG, dropdown_labels, fmt_date, t
from dashboard.state import MAP_RESOLUTIONS, MODES, Catalog, UIState


def label(key: str, tag=html.Span, **kwargs) -> html.Component:
    """A translatable text element; its id ``{"type": "t", "key": key}`` is filled per language."""
    return tag(t(key, DEFAULT_LANG), id={"type": "t", "key": key}, **kwargs)


def control(key: str, component, **kwargs) -> html.Div:
    """A labelled control."""
    return html.Div([label(key, html.Label, className="hw-label"), component], className="hw-control", **kwargs)


def control_options(spells, lang: str) -> dict[str, list[dict]]:
    """Option lists of the choice controls in ``lang`` (``spells``: :class:`dashboard.context.SpellInfo`)."""
    return {
        "spell": [{"label": f"{s.spell_id} ({fmt_date(s.start, lang)} – {fmt_date(s.end, lang)})", "value": s.spell_id}
                  for s in spells],
        "area": [{"label": t(f"area.{a}", lang), "value": a} for a in ("lima_callao", "sullana", "all")],
        "metric": [{"label": t(f"metric.{m}", lang), "value": m} for m in ("count", "rate", "change")],
        "res": [{"label": t("res.auto", lang), "value": "auto"}] + [{"label": str(r), "value": str(r)} for r in MAP_RESOLUTIONS],
        "mode": [{"label": t(f"mode.{m}", lang), "value": m} for m in MODES],
    }


def filters(catalog: Catalog, state: UIState, spells) -> html.Div:
    """The filter bar: period, week slider with play/pause, category, spell, area, colour, resolution."""
    v = state.view
    lang = DEFAULT_LANG
    # Options are in the first render: a dropdown drops a value that is not among its options.
    opts = control_options(spells, lang)
    return html.Div(className="hw-filters", children=[
        control("filters.dates", dcc.DatePickerRange(
            id="dates", start_date=v.start.isoformat(), end_date=v.end.isoformat(),
            min_date_allowed=catalog.start.isoformat(), max_date_allowed=catalog.end.isoformat(),
            display_format=DATE_PICKER_FORMAT[lang], first_day_of_week=1, minimum_nights=0)),
        html.Div(className="hw-control hw-week", children=[
            html.Div([label("filters.week", html.Label, className="hw-label"),
                      html.Span(fmt_date(state.day, lang), id="week-label", className="hw-week-label"),
                      html.Button(t("filters.play", lang), id="play", n_clicks=0, className="hw-play")]),
            dcc.Slider(id="week", min=0, max=max(state.n_weeks() - 1, 0), step=1, value=state.week_index(),
                       marks=None, updatemode="mouseup", allow_direct_input=False),
        ]),
        control("filters.category", dcc.Dropdown(
            id="cats", options=[{"label": c, "value": c} for c in catalog.categories], value=list(v.categories),
            multi=True, placeholder=t("filters.category_all", lang), labels=dropdown_labels(lang))),
        control("filters.spell", dcc.Dropdown(id="spell", options=opts["spell"], value=v.spell, clearable=True,
                                              placeholder=t("filters.spell_none", lang), labels=dropdown_labels(lang))),
        control("filters.area", dcc.RadioItems(id="area", options=opts["area"], value=v.area, inline=True)),
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


def shell(catalog: Catalog, sections: list[html.Component], *, synthetic: bool, spells=(),
          banner: str = "banner.synthetic") -> html.Div:
    """The whole page around the sections; ``banner`` is the key of the data banner
    (:func:`banner_key`), shown when ``synthetic``."""
    state = UIState.from_query("", catalog)
    return html.Div(id="hw-root", className="hw-root", children=[
        dcc.Location(id="url", refresh=False),
        dcc.Store(id="state"),
        dcc.Store(id="day"),  # the selected day alone: the emergency overlay reads it, not the whole state
        dcc.Interval(id="tick", interval=1500, disabled=True),
        html.Header(className="hw-header", children=[
            html.Div([label("app.title", html.H1), label("app.subtitle", html.P, className="hw-subtitle")]),
            html.Div(className="hw-lang", children=[
                label("lang.label", html.Label, className="hw-label"),
                dcc.RadioItems(id="lang", options=[{"label": "Español", "value": "es"}, {"label": "English", "value": "en"}],
                               value=DEFAULT_LANG, inline=True),
            ]),
        ]),
        html.Div(label(banner), id="synthetic-banner", className="hw-banner",
                 style={} if synthetic else {"display": "none"}, role="alert"),
        html.Div(id="notice", className="hw-notice"),
        filters(catalog, state, spells),
        html.Main(sections, className="hw-main"),
    ])
